# -*- coding: utf-8 -*-
# Documentation fragment of yba.remediation: the storage secrets option of the modules that speak S3 as YBA does.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  storage_credentials:
    description:
      - >-
        The secrets of the storage configs (YBA answers them masked), such as
        C({s3-prod: {AWS_ACCESS_KEY_ID: ..., AWS_SECRET_ACCESS_KEY: ...}}), by config name, else by config UUID; the
        entry V(*) serves every config without an entry of its own (for example the S3 keys of an AWX credential).
        Never logged nor returned.
      - Without them, boto3 uses the host's own credentials (an IAM role), as YBA does with C(IAM_INSTANCE_PROFILE).
    type: dict
    default: {}
"""
