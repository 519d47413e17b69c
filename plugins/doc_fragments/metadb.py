# -*- coding: utf-8 -*-
# Documentation fragment of yba.remediation: how metadb_info and metadb_repair reach YBA's metadata DB (yugaware).
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host (or Unix socket directory) of the PostgreSQL server holding the C(yugaware) database.
      - YBA's bundled PostgreSQL listens on localhost only, so the module runs on the YBA host.
    type: str
    default: localhost
  login_port:
    description:
      - Port of the PostgreSQL server.
      - If not set, the port from the install's C(yba-ctl.yml) (C(postgres.install.port)), else V(5432).
    type: int
  login_user:
    description:
      - Database user. YBA's own user is the superuser V(postgres).
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Never logged.
      - If not set, the install's C(.pgpass) file in the yba-ctl home is used when it exists (YBA's bundled
        PostgreSQL trusts local connections and needs none).
    type: str
  login_db:
    description:
      - Name of YBA's metadata database.
    type: str
    default: yugaware
  psql_path:
    description:
      - Path of the C(psql) client (or of the directory holding C(psql), C(pg_dump) and C(pg_restore)),
        as seen on the host (O(host_root) is not applied).
      - If not set, the install's own client in C(software/active/pgsql/bin) is used, else C(psql) from E(PATH).
        The host's own client always matches the server's major version.
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection to the database.
    type: int
    default: 10
notes:
  - Talks to the database through the host's C(psql) client, one invocation per query set returning JSON;
    no Python database driver is needed on the YBA host.
"""
