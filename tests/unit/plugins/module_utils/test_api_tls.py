# Unit tests of the YBA REST client (_api.py): client-side TLS / CA / token problems are typed apart from an unreachable
# platform (YBATLSError kinds, client_side_cause), against real local HTTP(S) servers.
from __future__ import annotations

import socket

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils._api import YBAAuthError, YBAClient, YBAError, YBAUnreachable
from test_api import TOKEN, Server, Sleeper, client, free_port, srv  # noqa: F401  pylint: disable=unused-import


def _cert(tmp_path, name):
    import subprocess
    key, cert = tmp_path / ("%s.key" % name), tmp_path / ("%s.pem" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    return key, cert


@pytest.fixture
def tls_srv(tmp_path):
    import ssl
    key, cert = _cert(tmp_path, "server")
    s = Server()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    s.httpd.socket = ctx.wrap_socket(s.httpd.socket, server_side=True)
    s.url = s.url.replace("http://", "https://")
    s.default = (200, {"version": "x"}, {}, 0)
    s.cert = cert
    yield s
    s.close()


def test_wrong_ca_is_a_client_side_tls_verify_error_never_retried(tls_srv, tmp_path):
    _key, other_ca = _cert(tmp_path, "other")
    sleeper = Sleeper()
    with pytest.raises(_api.YBATLSError) as ei:
        YBAClient(tls_srv.url, token=TOKEN, ca_path=str(other_ca), retries=3, sleep=sleeper).app_version()
    assert ei.value.kind == "tls_verify" and _api.client_side_cause(ei.value) == "tls_verify"
    assert isinstance(ei.value, YBAUnreachable)  # callers that only know "unreachable" still catch it
    assert "does not verify against ca_path %s" % other_ca in str(ei.value)
    assert sleeper.calls == []


def test_ca_path_missing_here_is_named_before_any_connection(tls_srv, tmp_path):
    missing = str(tmp_path / "only-on-the-controller" / "ca.pem")
    c = YBAClient(tls_srv.url, token=TOKEN, ca_path=missing, retries=3, sleep=Sleeper())
    with pytest.raises(_api.YBATLSError) as ei:
        c.app_version()
    assert ei.value.kind == "ca_file"
    assert "ca_path %s does not exist on %s" % (missing, socket.gethostname()) in str(ei.value)
    assert tls_srv.seen == [] and c.requests == [("GET", "/api/v1/app_version", None)]
    # validate_certs=false does not make a missing CA file usable (the TLS context still loads it)
    with pytest.raises(_api.YBATLSError, match="does not exist"):
        YBAClient(tls_srv.url, token=TOKEN, ca_path=missing, validate_certs=False).app_version()


@pytest.mark.parametrize("content, why", [(b"not a certificate\n", "holds no PEM certificate"),
                                          (None, "is not a file")])
def test_ca_path_not_a_pem_file(tls_srv, tmp_path, content, why):
    path = tmp_path / "ca"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(_api.YBATLSError, match=why) as ei:
        YBAClient(tls_srv.url, token=TOKEN, ca_path=str(path)).app_version()
    assert ei.value.kind == "ca_file"


def test_https_to_a_plain_http_port_is_a_handshake_error(srv):
    srv.default = (200, {"version": "x"}, {}, 0)
    with pytest.raises(_api.YBATLSError) as ei:
        YBAClient(srv.url.replace("http://", "https://"), token=TOKEN, retries=2, sleep=Sleeper()).app_version()
    assert ei.value.kind == "tls_handshake"


def test_platform_side_failures_are_not_client_side(srv):
    dead = "http://127.0.0.1:%d" % free_port()
    with pytest.raises(YBAUnreachable) as ei:
        YBAClient(dead, token=TOKEN, retries=0).app_version()
    assert _api.client_side_cause(ei.value) is None and not isinstance(ei.value, _api.YBATLSError)
    srv.answer(status=401, body={"success": False, "error": "Unable to authorize user"})
    with pytest.raises(YBAAuthError) as ei2:
        client(srv).get("/api/v1/customers")
    assert _api.client_side_cause(ei2.value) == "auth"
    srv.answer(status=503, body={"success": False, "error": "down"})
    with pytest.raises(YBAError) as ei3:
        client(srv, retries=0).get("/api/v1/customers")
    assert _api.client_side_cause(ei3.value) is None
