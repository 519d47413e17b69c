# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: the YBA REST client (token auth, TLS, jittered backoff, task waiter, typed errors).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import random
import socket
import ssl
import time
import typing as t
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

TOKEN_HEADER = "X-AUTH-YW-API-TOKEN"
API_PREFIX = "/api/v1"
MASK = "********"

# Request methods that may be repeated without a second effect (POST is not, unless the caller says so).
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
# Answers that mean "the server did not process the request": safe to retry for every method.
RETRY_ANY_METHOD = frozenset((502, 503, 504))

# Task states of YBA's TaskInfo (FACTS 3.4).
TASK_SUCCESS = frozenset(("Success",))
TASK_FAILED = frozenset(("Failure", "Aborted"))

# Keys of storage-config data that hold secrets (YBA masks them itself; masked again here to be sure).
SECRET_KEYS = frozenset((
    "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "GCS_CREDENTIALS_JSON",
    "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY", "PROXY_PASSWORD", "password", "apiToken", "token",
))


def api_argument_spec() -> dict[str, dict[str, t.Any]]:
    """Argument spec of the connection options (doc fragment yba.remediation.api)."""
    return dict(
        yba_url=dict(type="str", fallback=(env_fallback, ["YBA_URL"])),
        yba_api_token=dict(type="str", no_log=True, fallback=(env_fallback, ["YBA_API_TOKEN"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["YBA_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["YBA_CA_PATH"])),
        ca_content=dict(type="str"),
        customer_uuid=dict(type="str", fallback=(env_fallback, ["YBA_CUSTOMER_UUID"])),
        request_timeout=dict(type="float", default=30),
        backoff_retries=dict(type="int", default=4),
        backoff_max_delay=dict(type="float", default=15),
    )


# ---------------------------------------------------------------------------------------------- errors

class YBAError(Exception):
    """Any failure talking to YBA. ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None, method: str | None = None,
                 path: str | None = None, body: t.Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.body = body

    def __str__(self) -> str:
        where = "%s %s" % (self.method, self.path) if self.method and self.path else ""
        status = "HTTP %s" % self.status if self.status else ""
        prefix = " ".join(x for x in (where, status) if x)
        return "%s: %s" % (prefix, self.message) if prefix else self.message


class YBAAuthError(YBAError):
    """401/403: the token is missing, wrong, expired or lacks permission."""


class YBANotFound(YBAError):
    """404."""


class YBAValidationError(YBAError):
    """400: YBA refused the request; ``field_errors`` maps a field to its messages."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None, **kw: t.Any) -> None:
        super().__init__(message, **kw)
        self.field_errors = field_errors or {}


class YBAConflict(YBAError):
    """409: for example a universe locked by another task."""


class YBAUnreachable(YBAError):
    """No HTTP answer: connection refused, DNS, TLS handshake or certificate failure."""


class YBATLSError(YBAUnreachable):
    """TLS could not be set up from where the request runs: a client-side configuration problem.

    ``kind`` is ``ca_file`` (the CA file is missing, unreadable or not PEM here), ``tls_verify`` (the platform's
    certificate does not verify against that CA or the system trust store, or names another host) or
    ``tls_handshake`` (the handshake failed: protocol or scheme mismatch). Neither waiting nor restarting the
    platform fixes it, so it is never retried.
    """

    tls = True

    def __init__(self, message: str, kind: str = "tls_handshake", **kw: t.Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind


# Client-side causes: the request's own configuration (CA, TLS, token), not the platform, is at fault.
CLIENT_SIDE_KINDS = ("ca_file", "tls_verify", "tls_handshake", "auth")


def client_side_cause(err: BaseException) -> str | None:
    """``auth`` (401/403), ``ca_file``, ``tls_verify``, ``tls_handshake``, or None when the error says nothing
    against the client's configuration (refused, timeout, 5xx: the platform side)."""
    if isinstance(err, YBAAuthError):
        return "auth"
    if isinstance(err, YBATLSError):
        return err.kind
    return None


def error_kind(err: BaseException) -> str:
    """What kind of failure ``err`` is, for a caller that reports it: a client-side cause (``auth``, ``ca_file``,
    ``tls_verify``, ``tls_handshake``) or ``timeout``, ``unreachable``, ``server`` (HTTP 5xx), ``other``."""
    cause = client_side_cause(err)
    if cause:
        return cause
    if isinstance(err, YBATimeout):
        return "timeout"
    if isinstance(err, YBAUnreachable):
        return "unreachable"
    if isinstance(err, YBAError) and (err.status or 0) >= 500:
        return "server"
    return "other"


def this_host() -> str:
    """The name of the machine this code runs on: what a result names as where a probe ran."""
    return socket.gethostname()


def ca_file_from_content(content: str, directory: str) -> str:
    """Write a CA's PEM text (sent from the controller) to a file only this user reads, in ``directory`` (a
    module's temporary directory, removed when the module exits); its path. The way a request that runs on the
    YBA host gets a CA file that exists only on the controller."""
    path = os.path.join(directory, "yba-ca.pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content if content.endswith("\n") else content + "\n")
    return path


def ca_file_problem(path: str | None) -> str | None:
    """Why ``path`` cannot serve as the CA file on THIS machine, or None. Checked before connecting so a CA path
    that exists only on the controller reads as what it is, not as an unreachable platform."""
    if not path:
        return None
    if not os.path.exists(path):
        return "does not exist"
    if not os.path.isfile(path):
        return "is not a file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError as err:
        return "cannot be read (%s)" % (err.strerror or err)
    if b"CERTIFICATE-----" not in head:
        return "holds no PEM certificate"
    return None


def _tls_kind(reason: t.Any) -> str | None:
    """The client-side TLS cause of a connection failure, or None when it is not one (an EOF or a reset during
    the handshake is the server going away: platform side)."""
    if isinstance(reason, SSLValidationError) or isinstance(reason, ssl.SSLCertVerificationError):
        return "tls_verify"
    if isinstance(reason, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return None
    if isinstance(reason, ssl.SSLError):
        return "ca_file" if getattr(reason, "library", None) in ("PEM", "X509") else "tls_handshake"
    if "CERTIFICATE_VERIFY_FAILED" in str(reason):
        return "tls_verify"
    return None


class YBATimeout(YBAError):
    """A request or a wait (task, restart) did not finish in time."""


class YBATaskFailed(YBAError):
    """A YBA task ended in Failure or Aborted; ``task`` holds the last task status."""

    def __init__(self, message: str, task: dict[str, t.Any] | None = None, **kw: t.Any) -> None:
        super().__init__(message, **kw)
        self.task = task or {}


# --------------------------------------------------------------------------------------------- helpers

def one_line(text: t.Any, limit: int | None = None) -> str:
    """Any text (an error, a YBA answer) as one line of single spaces, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if limit is None else line[:limit]


def redact(value: t.Any, secret_keys: t.Iterable[str] = SECRET_KEYS) -> t.Any:
    """Copy of ``value`` with the leaf values of secret keys replaced by a mask (structure kept)."""
    keys = {k.lower() for k in secret_keys}
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and k.lower() in keys and v not in (None, "")
                    else redact(v, keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, keys) for v in value]
    return value


def backoff_delay(attempt: int, max_delay: float, base: float = 1.0, rng: t.Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max_delay, base * 2**attempt)]."""
    cap = min(float(max_delay), base * (2 ** min(attempt, 30)))
    return max(0.0, cap * rng())


def none_if_not_found(func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
    """Call ``func``; a 404 becomes None, so "absent" is idempotent for free."""
    try:
        return func(*args, **kwargs)
    except YBANotFound:
        return None


def _parse_error_body(raw: bytes) -> tuple[str, dict[str, list[str]], t.Any]:
    """YBA answers errors as YBPError {success: false, httpMethod, requestUri, error: str} or, for bean validation,
    YBPStructuredError {success: false, error: {field: [msgs]}} (forms/PlatformResults.java); older releases
    sent the field errors as a JSON string in ``error`` plus an ``errorJson`` object. All are read."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        return (text[:500] or "no error detail in the answer"), {}, text[:500]
    fields: dict[str, list[str]] = {}
    message = ""
    if isinstance(body, dict):
        err = body.get("error")
        for candidate in (err, body.get("errorJson")):
            if isinstance(candidate, dict):
                for k, v in candidate.items():
                    fields[str(k)] = [str(x) for x in v] if isinstance(v, list) else [str(v)]
        if isinstance(err, str):
            message = err
        elif fields:
            # YBPStructuredError; a global bean error has the empty field name.
            message = "; ".join(("%s: %s" % (k, ", ".join(v))) if k else ", ".join(v) for k, v in sorted(fields.items()))
        elif body.get("message"):
            message = str(body["message"])
    if not message:
        message = text[:500] or "no error detail in the answer"
    return message, fields, body


# ---------------------------------------------------------------------------------------------- client

class YBAClient:
    """Small, dependency-free YBA REST client over ansible's open_url."""

    def __init__(self, base_url: str, token: str | None = None, validate_certs: bool = True,
                 ca_path: str | None = None, timeout: float = 30, retries: int = 4, max_delay: float = 15,
                 customer_uuid: str | None = None, sleep: t.Callable[[float], None] = time.sleep,
                 clock: t.Callable[[], float] = time.monotonic, rng: t.Callable[[], float] = random.random,
                 opener: t.Callable[..., t.Any] = open_url, ca_label: str | None = None) -> None:
        if not base_url:
            raise YBAError("yba_url is required (or set the environment variable YBA_URL)")
        base_url = base_url.strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise YBAError("yba_url must start with http:// or https://, got %r" % base_url)
        self.base_url = base_url
        self.token = token or None
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        # how messages name the CA: "ca_path <file>", or "ca_content" for a temporary copy of content sent here
        self.ca_label = ca_label or ("ca_path %s" % ca_path if ca_path else "the system trust store")
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.max_delay = max(0.0, float(max_delay))
        self._customer_uuid = customer_uuid or None
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._open = opener
        self._secrets: set[str] = {self.token} if self.token else set()
        # (method, path, status) of every request sent: modules may return it for the run record.
        self.requests: list[tuple[str, str, int | None]] = []
        self.request_count = 0  # every attempt, retries included

    @classmethod
    def from_module(cls, module: t.Any, **overrides: t.Any) -> YBAClient:
        """Build a client from the options of api_argument_spec(); fails the module on a bad option."""
        p = module.params
        ca_path, ca_label = p.get("ca_path"), None
        if p.get("ca_content") is not None:
            if ca_path:
                module.fail_json(msg="parameters are mutually exclusive: ca_path|ca_content")
            if "CERTIFICATE-----" not in p["ca_content"]:
                module.fail_json(msg="ca_content holds no PEM certificate (pass the CA file's text, not its path)")
            ca_path, ca_label = ca_file_from_content(p["ca_content"], module.tmpdir), "ca_content"
        kw: dict[str, t.Any] = dict(
            base_url=p.get("yba_url"), token=p.get("yba_api_token"),
            validate_certs=p.get("validate_certs", True), ca_path=ca_path, ca_label=ca_label,
            timeout=p.get("request_timeout") or 30, retries=p.get("backoff_retries", 4),
            max_delay=p.get("backoff_max_delay", 15), customer_uuid=p.get("customer_uuid"),
        )
        kw.update(overrides)
        try:
            return cls(**kw)
        except YBAError as e:
            fail_json_from_error(module, e)
            raise  # unreachable: fail_json exits

    # -------------------------------------------------------------------------------------- secrets

    def add_secret(self, value: str | None) -> None:
        """Register a value that must never appear in an error message (for example an S3 secret key)."""
        if value and len(value) >= 4:
            self._secrets.add(value)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def scrub_obj(self, value: t.Any) -> t.Any:
        """``redact`` plus removal of every registered secret from the strings of ``value``."""
        value = redact(value)
        if isinstance(value, dict):
            return {k: self.scrub_obj(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_obj(v) for v in value]
        if isinstance(value, str):
            return self.scrub(value)
        return value

    # ------------------------------------------------------------------------------------- requests

    def url(self, path: str, params: dict[str, t.Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            raise YBAError("pass an API path, not a URL: %r" % path)
        if not path.startswith("/"):
            path = "/" + path
        if not path.startswith("/api/"):
            path = API_PREFIX + path
        url = self.base_url + path
        if params:
            clean = {k: ("true" if v is True else "false" if v is False else v)
                     for k, v in params.items() if v is not None}
            if clean:
                url += "?" + urlencode(clean, doseq=True)
        return url

    def request(self, method: str, path: str, body: t.Any = None, params: dict[str, t.Any] | None = None,
                *, auth: bool = True, raw: bool = False, timeout: float | None = None,
                retries: int | None = None, idempotent: bool | None = None,
                deadline: float | None = None) -> t.Any:
        """Send one API request with retries; return parsed JSON (or text when ``raw``).

        ``deadline`` (a value of the client's clock) bounds the whole call including retries.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        retries = self.retries if retries is None else max(0, int(retries))
        timeout = self.timeout if timeout is None else float(timeout)
        url = self.url(path, params)
        shown_path = url[len(self.base_url):].split("?", 1)[0]
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            if not self.token:
                raise YBAAuthError("yba_api_token is required for this request (or set YBA_API_TOKEN)",
                                   method=method, path=shown_path)
            headers[TOKEN_HEADER] = self.token

        attempt = 0
        while True:
            this_timeout = timeout
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise YBATimeout("no time left before the deadline", method=method, path=shown_path)
                this_timeout = max(0.5, min(timeout, remaining))
            self.request_count += 1
            try:
                return self._send_once(method, url, shown_path, data, headers, this_timeout, raw)
            except (YBAUnreachable, YBATimeout, YBAError) as err:
                if not self._retryable(err, idempotent) or attempt >= retries:
                    raise
                delay = backoff_delay(attempt, self.max_delay, rng=self._rng)
                retry_after = getattr(err, "retry_after", None)
                if retry_after is not None:
                    delay = min(self.max_delay, max(delay, retry_after))
                if deadline is not None:
                    remaining = deadline - self._clock()
                    if remaining <= delay:
                        raise
                self._sleep(delay)
                attempt += 1

    @staticmethod
    def _retryable(err: YBAError, idempotent: bool) -> bool:
        if isinstance(err, (YBAAuthError, YBANotFound, YBAValidationError, YBAConflict, YBATaskFailed)):
            return False
        if getattr(err, "tls", False):
            return False  # a certificate problem does not heal by waiting
        if isinstance(err, YBAUnreachable):
            return True  # the request never reached the server
        if isinstance(err, YBATimeout):
            return idempotent
        if err.status is not None and err.status >= 500:
            return idempotent or err.status in RETRY_ANY_METHOD
        return False

    def _send_once(self, method: str, url: str, path: str, data: bytes | None, headers: dict[str, str],
                   timeout: float, raw: bool) -> t.Any:
        status: int | None = None
        problem = ca_file_problem(self.ca_path)
        if problem:
            self.requests.append((method, path, None))
            raise YBATLSError("%s %s on %s, where this request runs: set ca_path (yba_ca_path) to a CA file "
                              "readable there, or pass the CA's content" % (self.ca_label, problem, this_host()),
                              kind="ca_file", method=method, path=path)
        try:
            resp = self._open(url, data=data, headers=headers, method=method, validate_certs=self.validate_certs,
                              ca_path=self.ca_path, timeout=timeout, follow_redirects="safe", use_proxy=True,
                              http_agent="yba.remediation")
            status = getattr(resp, "status", None) or (resp.getcode() if hasattr(resp, "getcode") else 200)
            payload = resp.read()
        except HTTPError as e:
            status = e.code
            try:
                payload = e.read() or b""
            except Exception:  # the body of an error answer is optional
                payload = b""
            self.requests.append((method, path, status))
            raise self._http_error(method, path, e.code, payload, e.headers) from None
        except (socket.timeout, TimeoutError) as e:
            self.requests.append((method, path, None))
            raise YBATimeout("no answer within %.1f s (%s)" % (timeout, self.scrub(str(e) or "timed out")),
                             method=method, path=path) from None
        except URLError as e:
            self.requests.append((method, path, None))
            raise self._unreachable(method, path, e.reason, timeout) from None
        except (ssl.SSLError, SSLValidationError) as e:
            self.requests.append((method, path, None))
            raise self._unreachable(method, path, e, timeout, tls=True) from None
        except UrlsConnectionError as e:
            self.requests.append((method, path, None))
            raise self._unreachable(method, path, e, timeout) from None
        except (ConnectionError, OSError) as e:
            self.requests.append((method, path, None))
            raise self._unreachable(method, path, e, timeout) from None
        self.requests.append((method, path, status))
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")
        if raw:
            return text
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise YBAError("the answer is not JSON: %s" % self.scrub(text[:200]), status=status,
                           method=method, path=path) from None

    def _unreachable(self, method: str, path: str, reason: t.Any, timeout: float, tls: bool = False) -> YBAError:
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return YBATimeout("no answer within %.1f s" % timeout, method=method, path=path)
        text = self.scrub(str(reason))
        kind = _tls_kind(reason) or ("tls_handshake" if tls and not isinstance(reason, ssl.SSLEOFError) else None)
        if kind is None:
            return YBAUnreachable("cannot reach %s: %s" % (self.base_url, text), method=method, path=path)
        hint = {
            "tls_verify": "the platform's certificate does not verify against %s: set ca_path to the CA that signed "
                          "the YBA certificate (readable where this request runs), or validate_certs=false"
                          % self.ca_label,
            "ca_file": "%s is not a usable CA file: set ca_path to the PEM of the CA that signed the YBA "
                       "certificate" % self.ca_label,
            "tls_handshake": "check that yba_url's scheme and port serve HTTPS, and ca_path / validate_certs",
        }[kind]
        return YBATLSError("TLS with %s failed on the client side: %s (%s)" % (self.base_url, text, hint),
                           kind=kind, method=method, path=path)

    def _http_error(self, method: str, path: str, status: int, payload: bytes, headers: t.Any) -> YBAError:
        message, fields, body = _parse_error_body(payload)
        message = self.scrub(message)
        fields = {k: [self.scrub(m) for m in v] for k, v in fields.items()}
        kw: dict[str, t.Any] = dict(status=status, method=method, path=path, body=self.scrub_obj(body))
        if status in (401, 403):
            hint = " (check yba_api_token)" if status == 401 else " (the token lacks permission)"
            return YBAAuthError(message + hint, **kw)
        if status == 404:
            return YBANotFound(message, **kw)
        if status == 400:
            return YBAValidationError(message, field_errors=fields, **kw)
        if status == 409:
            return YBAConflict(message, **kw)
        err = YBAError(message, **kw)
        retry_after = headers.get("Retry-After") if headers is not None else None
        if retry_after:
            try:
                err.retry_after = float(retry_after)  # type: ignore[attr-defined]
            except ValueError:
                pass
        return err

    def get(self, path: str, params: dict[str, t.Any] | None = None, **kw: t.Any) -> t.Any:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, body: t.Any = None, params: dict[str, t.Any] | None = None, **kw: t.Any) -> t.Any:
        return self.request("POST", path, body=body, params=params, **kw)

    def put(self, path: str, body: t.Any = None, params: dict[str, t.Any] | None = None, **kw: t.Any) -> t.Any:
        return self.request("PUT", path, body=body, params=params, **kw)

    def delete(self, path: str, body: t.Any = None, params: dict[str, t.Any] | None = None, **kw: t.Any) -> t.Any:
        return self.request("DELETE", path, body=body, params=params, **kw)

    def get_or_none(self, path: str, params: dict[str, t.Any] | None = None, **kw: t.Any) -> t.Any:
        return none_if_not_found(self.get, path, params=params, **kw)

    # ------------------------------------------------------------------------------ YBA specifics

    def customer_uuid(self) -> str:
        """The customer option, else the only customer ``GET /api/v1/customers`` shows."""
        if self._customer_uuid:
            return self._customer_uuid
        customers = self.get("/api/v1/customers")
        uuids: list[str] = []
        for item in customers or []:
            if isinstance(item, str):
                uuids.append(item)
            elif isinstance(item, dict) and item.get("uuid"):
                uuids.append(str(item["uuid"]))
        if not uuids:
            raise YBAError("GET /api/v1/customers returned no customer; set customer_uuid")
        if len(uuids) > 1:
            raise YBAError("the token sees %d customers (%s); set customer_uuid to choose one"
                           % (len(uuids), ", ".join(uuids[:5])))
        self._customer_uuid = uuids[0]
        return self._customer_uuid

    def cpath(self, suffix: str) -> str:
        """``/api/v1/customers/<customer>/<suffix>``."""
        return "%s/customers/%s/%s" % (API_PREFIX, quote(self.customer_uuid(), safe=""), suffix.lstrip("/"))

    def app_version(self, timeout: float | None = None, retries: int = 0) -> dict[str, t.Any]:
        """Unauthenticated liveness probe: ``{version, latency_ms}``."""
        start = self._clock()
        answer = self.get("/api/v1/app_version", auth=False, timeout=timeout, retries=retries)
        latency_ms = round((self._clock() - start) * 1000.0, 1)
        version = answer.get("version") if isinstance(answer, dict) else None
        return {"version": version, "latency_ms": latency_ms}

    def paged(self, path: str, query: dict[str, t.Any] | None = None, limit: int = 200,
              max_items: int | None = None) -> t.Iterator[dict[str, t.Any]]:
        """Iterate the entities of a YBA paged query (``.../backups/page``, ``.../schedules/page``)."""
        body = dict(query or {})
        body.setdefault("filter", {})
        body.setdefault("direction", "DESC")
        body["limit"] = int(limit)
        body.setdefault("needTotalCount", False)
        offset = int(body.get("offset") or 0)
        seen = 0
        while True:
            body["offset"] = offset
            page = self.post(path, body, idempotent=True) or {}
            entities = page.get("entities") or []
            for entity in entities:
                yield entity
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            if not page.get("hasNext") or not entities:
                return
            offset += len(entities)

    def wait_for_task(self, task_uuid: str, wait_timeout: float, poll_interval: float = 2.0,
                      max_poll_interval: float = 15.0) -> dict[str, t.Any]:
        """Poll ``GET /customers/{c}/tasks/{t}`` until Success; Failure/Aborted raise YBATaskFailed.

        The total wait, including request retries, never exceeds ``wait_timeout`` seconds (plus at most
        one request's connect time).
        """
        deadline = self._clock() + float(wait_timeout)
        path = self.cpath("tasks/%s" % quote(str(task_uuid), safe=""))
        delay = max(0.1, float(poll_interval))
        last: dict[str, t.Any] = {}
        while True:
            try:
                last = self.get(path, deadline=deadline) or {}
            except YBATimeout:
                last = last or {}
                if self._clock() >= deadline:
                    break
                raise
            status = str(last.get("status") or "")
            if status in TASK_SUCCESS:
                return last
            if status in TASK_FAILED:
                what = last.get("title") or last.get("type") or "?"
                raise YBATaskFailed("task %s (%s) ended %s%s" % (task_uuid, what, status, _task_error_text(last)),
                                    task=last, method="GET", path=path)
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._sleep(min(delay, remaining))
            delay = min(max_poll_interval, delay * 1.5)
        raise YBATimeout("task %s still %s (%s%% done) after %.0f s" % (
            task_uuid, last.get("status") or "unknown", last.get("percent", "?"), float(wait_timeout)),
            method="GET", path=path)


def _task_error_text(task: dict[str, t.Any]) -> str:
    details = task.get("details") if isinstance(task.get("details"), dict) else {}
    errors = []
    for d in (details or {}).get("taskDetails") or []:
        if isinstance(d, dict) and d.get("state") in TASK_FAILED and d.get("extraDetails"):
            errors.append(str(d.get("extraDetails")))
    for key in ("errorString", "error"):
        if task.get(key):
            errors.append(str(task[key]))
    return (": " + "; ".join(errors)[:500]) if errors else ""


def fail_json_from_error(module: t.Any, err: YBAError, context: str | None = None, **extra: t.Any) -> t.NoReturn:
    """The one way an API module reports a YBAError: one clear msg, no secret, a status when there is one."""
    token = (getattr(module, "params", None) or {}).get("yba_api_token")
    text = str(err)
    if token:
        text = text.replace(token, MASK)
    msg = "%s: %s" % (context, text) if context else text
    result: dict[str, t.Any] = dict(msg=msg, error_type=type(err).__name__)
    if err.status is not None:
        result["status"] = err.status
    if isinstance(err, YBAValidationError) and err.field_errors:
        result["field_errors"] = err.field_errors
    result.update(extra)
    module.fail_json(**result)
    raise AssertionError("fail_json returned")  # pragma: no cover
