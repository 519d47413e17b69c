# -*- coding: utf-8 -*-
# Documentation fragment of yba.remediation: the YBA REST API connection options shared by every API module.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  yba_url:
    description:
      - Base URL of the YugabyteDB Anywhere (YBA) platform, for example V(https://yba.example.com).
      - If not set, the environment variable E(YBA_URL) is used.
      - Required by every module that talks to the YBA API.
    type: str
  yba_api_token:
    description:
      - YBA API token, sent in the C(X-AUTH-YW-API-TOKEN) header.
      - If not set, the environment variable E(YBA_API_TOKEN) is used.
      - Required by every module that calls an authenticated YBA API route. Never logged.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the YBA platform.
      - If not set, the environment variable E(YBA_VALIDATE_CERTS) is used, then V(true).
      - YBA installs a self-signed certificate by default; prefer O(ca_path) over V(false).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) that signed the YBA platform certificate.
      - If not set, the environment variable E(YBA_CA_PATH) is used.
      - The file must exist where the module runs (the YBA host for a module run there); a CA file that is only on
        the controller is passed as O(ca_content) instead.
    type: path
  ca_content:
    description:
      - PEM text of the CA certificate(s) that signed the YBA platform certificate, for example read on the controller
        with C(lookup('ansible.builtin.file', yba_ca_path)). The module writes it to a private temporary file where it
        runs and verifies with it; messages name it C(ca_content).
      - Mutually exclusive with O(ca_path).
    type: str
  customer_uuid:
    description:
      - UUID of the YBA customer to work on.
      - If not set, the environment variable E(YBA_CUSTOMER_UUID) is used; if that is not set either,
        the customer is discovered with C(GET /api/v1/customers) (the token must then see exactly one customer).
    type: str
  request_timeout:
    description:
      - Timeout in seconds of one HTTP request to the YBA API.
    type: float
    default: 30
  backoff_retries:
    description:
      - How many times a request is retried after a connection error, a timeout of an idempotent request,
        or an HTTP 5xx answer. Client errors (4xx) are never retried.
      - Retries wait a random (jittered) delay that doubles on every attempt, capped by O(backoff_max_delay).
    type: int
    default: 4
  backoff_max_delay:
    description:
      - Upper bound in seconds of a single wait between two retries.
    type: float
    default: 15
notes:
  - The API options can be set once for every API module of the collection with
    C(module_defaults) and the action group C(group/yba.remediation.api).
"""
