# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the preflight's verdicts (become, API token, metadata DB login), pure.
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import re
import typing as t

from ansible_collections.yba.remediation.plugins.module_utils import _api

CHECKS = ("become", "api", "metadb")
# ok: proven; problem: an input of the run is wrong (the run must not start); unverified: could not be proven
# because of a state the runbook may be about to heal (platform or database down, disk full); skipped: not asked
# or nothing to check (no token given).
STATUSES = ("ok", "problem", "unverified", "skipped")

# The names a problem line uses for each module option: the role passes the names of ITS variables.
DEFAULT_NAMES = {
    "yba_url": "yba_url", "yba_api_token": "yba_api_token", "ca_path": "ca_path", "ca_content": "ca_content",
    "validate_certs": "validate_certs",
    "login_host": "login_host", "login_port": "login_port", "login_user": "login_user",
    "login_password": "login_password", "login_db": "login_db", "psql_path": "psql_path",
}


def verdict(status: str, message: str) -> t.Dict[str, str]:
    if status not in STATUSES:
        raise ValueError("unknown preflight status %r" % status)
    return {"status": status, "message": " ".join(str(message).split())}


def names_with(overrides: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, str]:
    names = dict(DEFAULT_NAMES)
    for key, value in (overrides or {}).items():
        if value:
            names[str(key)] = str(value)
    return names


def problems(checks: t.Mapping[str, t.Mapping[str, str]]) -> t.List[str]:
    """One line per check that found a wrong input, in the order of CHECKS."""
    order = [c for c in CHECKS if c in checks] + [c for c in checks if c not in CHECKS]
    return [checks[name]["message"] for name in order if checks[name]["status"] == "problem"]


# ---------------------------------------------------------------------------------------------- become

def become_verdict(euid: int, user: str, writable: t.Mapping[str, bool]) -> t.Dict[str, str]:
    """Root can do every change of the runbook; another user only if it can write the install and the lock's
    directory (a non-root yba-installer install belongs to its user). ``writable`` maps host paths to os.access."""
    if euid == 0:
        return verdict("ok", "the modules run as root")
    missing = [path for path, ok in writable.items() if not ok]
    if not missing:
        return verdict("ok", "the modules run as %s (uid %d), who can write %s" % (user, euid, ", ".join(writable)))
    return verdict("problem", "the modules run as %s (uid %d), not root, and cannot write %s: run with become "
                              "(become: true / ansible_become) or as the owner of the YBA install"
                   % (user, euid, ", ".join(missing)))


# ------------------------------------------------------------------------------------------------- API

_DNS_FAILURE = ("name or service not known", "nodename nor servname", "no address associated with hostname",
                "getaddrinfo failed")


def api_verdict(err: t.Optional[BaseException], url: str, names: t.Mapping[str, str], ca_setting: str,
                ca_shown: t.Optional[str], timeout: float) -> t.Dict[str, str]:
    """The verdict of one authenticated GET to the YBA API (``err`` None: it answered 200 with JSON).

    Only what the run's inputs get wrong is a problem: a rejected token, a CA or TLS setting, a URL that is not
    YBA's API. A platform that is down, refuses, does not answer in time or answers 5xx is ``unverified``: the run
    may be about to heal it, and a preflight must not block the repair of what it cannot reach.
    ``ca_setting`` names the variable to set for the CA, ``ca_shown`` the CA in use (None: the system trust store)."""
    tok, url_name, vc_name = names["yba_api_token"], names["yba_url"], names["validate_certs"]
    if err is None:
        return verdict("ok", "the YBA API at %s accepted %s" % (url, tok))
    if isinstance(err, _api.YBAAuthError):
        return verdict("problem", "the YBA API at %s rejected %s (HTTP %s)" % (url, tok, err.status or 401))
    if isinstance(err, _api.YBATLSError):
        if err.kind == "ca_file":
            return verdict("problem", "%s is not a usable CA file where the modules run: it %s"
                           % (ca_shown or ca_setting, _ca_reason(err.message)))
        if err.kind == "tls_verify":
            return verdict("problem", "the certificate of the YBA API at %s does not verify against %s: set %s to the "
                                      "CA that signed it (or %s=false)"
                           % (url, ca_shown or "the system trust store", ca_setting, vc_name))
        return verdict("problem", "TLS with the YBA API at %s failed on the client side (%s): check that %s serves "
                                  "HTTPS, and %s / %s" % (url, _short(err.message), url_name, ca_setting, vc_name))
    if isinstance(err, _api.YBATimeout):
        return verdict("unverified", "the YBA API at %s did not answer within %g s, so %s could not be checked "
                                     "(the platform may be hung; the run may heal it)" % (url, timeout, tok))
    if isinstance(err, _api.YBAUnreachable):
        low = err.message.lower()
        if any(s in low for s in _DNS_FAILURE):
            return verdict("problem", "the host name of %s %s does not resolve where the modules run: check %s"
                           % (url_name, url, url_name))
        reason = err.message.split(": ", 1)[1] if err.message.startswith("cannot reach ") else err.message
        return verdict("unverified", "the YBA API at %s is not answering (%s), so %s could not be checked (the run "
                                     "may start the platform)" % (url, _short(reason), tok))
    if isinstance(err, _api.YBAError):
        status = err.status
        if status is not None and status >= 500:
            return verdict("unverified", "the YBA API at %s answered HTTP %d, so %s could not be checked (the run "
                                         "may heal the platform)" % (url, status, tok))
        if status == 404:
            return verdict("problem", "%s %s is not a YBA API (GET /api/v1/customers answered HTTP 404): check %s"
                           % (url_name, url, url_name))
        if status is not None and status < 300:
            return verdict("problem", "%s %s answered something that is not the YBA API (%s): check %s"
                           % (url_name, url, _short(err.message), url_name))
        return verdict("problem", "the YBA API at %s refused the check (HTTP %s: %s): check %s and %s"
                       % (url, status if status is not None else "?", _short(err.message), url_name, tok))
    raise TypeError("not a YBA API error: %r" % (err,))


def _ca_reason(message: str) -> str:
    """``ca_path /x does not exist on host, where ...``: the reason alone (the path shown is the user's)."""
    m = re.search(r"\b(does not exist|is not a file|cannot be read \([^)]*\)|holds no PEM certificate)", message)
    return m.group(1) if m else _short(message)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------------------- metadata DB

# libpq/server messages (PostgreSQL's own wording, src/backend/libpq/auth.c, postmaster.c, fe-connect.c).
_AUTH_FAILED = ("password authentication failed", "authentication failed for user")
_NO_PASSWORD = ("no password supplied",)
_NO_ROLE = re.compile(r'role "[^"]*" does not exist')
_NO_DB = re.compile(r'database "[^"]*" does not exist')
_HBA = ("pg_hba.conf rejects", "no pg_hba.conf entry")
# states the runbook heals: the server is down or starting, the disk is full
_DOWN = ("connection refused", "no such file or directory", "is the server running", "could not connect",
         "server closed the connection", "terminating connection", "the database system is starting up",
         "the database system is shutting down", "the database system is in recovery mode",
         "the database system is not yet accepting connections", "timeout expired", "too many clients",
         "too many connections", "sorry, too many", "remaining connection slots")
_DISK = ("no space left on device", "could not write", "could not extend", "disk full")
_BAD_HOST = ("could not translate host name",)


def metadb_verdict(rc: int, stderr: str, target: str, user: str, names: t.Mapping[str, str]) -> t.Dict[str, str]:
    """The verdict of ``psql -c 'SELECT 1'`` with the run's login. A login the server refuses, a database that does
    not exist or a host that does not resolve is a problem naming the variable; a server that is down, starting,
    out of connections or on a full disk is ``unverified``: the runbook starts it or frees the disk."""
    if rc == 0:
        return verdict("ok", "the metadata DB at %s accepted the login of %s" % (target, user))
    text = " ".join((stderr or "").split())
    low = text.lower()
    first = _first_line(stderr)
    if any(s in low for s in _AUTH_FAILED):
        return verdict("problem", "the metadata DB at %s rejected the password of user %s (%s): check %s"
                       % (target, user, first, names["login_password"]))
    if any(s in low for s in _NO_PASSWORD):
        return verdict("problem", "the metadata DB at %s wants a password for user %s and none was given: set %s"
                       % (target, user, names["login_password"]))
    if _NO_ROLE.search(low):
        return verdict("problem", "the metadata DB at %s has no user %s: check %s" % (target, user, names["login_user"]))
    if any(s in low for s in _HBA):
        return verdict("problem", "the metadata DB at %s does not let user %s log in from here (%s): check %s and %s"
                       % (target, user, first, names["login_user"], names["login_host"]))
    if _NO_DB.search(low):
        return verdict("problem", "the metadata DB server at %s has no such database (%s): check %s"
                       % (target, first, names["login_db"]))
    if any(s in low for s in _BAD_HOST):
        return verdict("problem", "the metadata DB host of %s does not resolve (%s): check %s"
                       % (target, first, names["login_host"]))
    if any(s in low for s in _DISK):
        return verdict("unverified", "the metadata DB at %s could not be logged into because its disk is full (%s); "
                                     "the run may free it" % (target, first))
    if any(s in low for s in _DOWN):
        return verdict("unverified", "the metadata DB at %s is not accepting connections (%s), so the login could not "
                                     "be checked (the run may start it)" % (target, first))
    return verdict("unverified", "the login to the metadata DB at %s could not be checked: %s"
                   % (target, _short(first or text or "psql exited with %d" % rc)))


def _first_line(stderr: str) -> str:
    lines = [ln.strip() for ln in (stderr or "").strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(psql|pg_dump|pg_restore): (error: )?", "", lines[0])
    # libpq 14+: 'connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  password ...'
    line = re.sub(r"^connection to server (at|on) .*? failed: ", "", line)
    if line.upper().startswith("FATAL:") or line.upper().startswith("ERROR:"):
        line = line.split(":", 1)[1]
    if len(lines) > 1 and not line.strip():
        line = lines[1]
    return _short(line.strip())
