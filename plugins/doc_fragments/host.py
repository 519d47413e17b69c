# -*- coding: utf-8 -*-
# Documentation fragment of yba.remediation: the option shared by every module that runs on the YBA host.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - Python 3.8 or later on the YBA host (RHEL 8's platform-python 3.6 is not enough; point
    C(ansible_python_interpreter) at a python3.8 or later there).
options:
  host_root:
    description:
      - Directory under which the YBA host's filesystem is seen. Every absolute host path the module
        reads or writes (for example C(/opt/yba-ctl/yba-ctl.yml)) is taken relative to it.
      - Keep the default V(/) on a real YBA host; a lab or a mounted image of a host uses its prefix.
    type: path
    default: /
"""
