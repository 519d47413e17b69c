# Unit tests of preflight: the verdicts (become, API, metadata DB) fed real answers of a local HTTP server and of a
# throw-away PostgreSQL with a password-checked user, and the module's own bad input.
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.yba.remediation.plugins.module_utils import _api
from ansible_collections.yba.remediation.plugins.module_utils import _metadb
from ansible_collections.yba.remediation.plugins.module_utils import _preflight
from ansible_collections.yba.remediation.plugins.modules import preflight

NAMES = _preflight.names_with({"ca_path": "yba_host_ca_path", "ca_content": "yba_ca_path /ctl/ca.pem",
                               "validate_certs": "yba_validate_certs",
                               "login_password": "metadb_repair_login_password", "login_db": "preflight_login_db",
                               "login_user": "preflight_login_user"})
TOKEN = "good-token-1234"


# ------------------------------------------------------------------------------------------------ become

def test_become_root_is_ok():
    assert _preflight.become_verdict(0, "root", {"/opt/yugabyte": False})["status"] == "ok"


def test_become_owner_of_the_install_is_ok():
    v = _preflight.become_verdict(1000, "yugabyte", {"/opt/yugabyte": True, "/run/lock": True})
    assert v["status"] == "ok" and "yugabyte (uid 1000)" in v["message"]


def test_become_missing_is_one_line_naming_what_cannot_be_written():
    v = _preflight.become_verdict(1000, "ybaops", {"/opt/yugabyte": False, "/run/lock": True})
    assert v == {"status": "problem", "message": "the modules run as ybaops (uid 1000), not root, and cannot write "
                 "/opt/yugabyte: run with become (become: true / ansible_become) or as the owner of the YBA install"}


# --------------------------------------------------------------------------------------------------- API

class FakeYBA(BaseHTTPRequestHandler):
    """Answers GET /api/v1/customers as YBA does for the token it is given (TokenAuthenticator: 401 without a
    valid X-AUTH-YW-API-TOKEN), or with the status the test sets."""

    status = None  # force an answer
    body = None

    def do_GET(self):  # noqa: N802 (http.server's name)
        status, body = type(self).status, type(self).body
        if status is None:
            good = self.headers.get(_api.TOKEN_HEADER) == TOKEN
            status = 200 if good else 401
            body = '[{"uuid": "c1"}]' if good else '{"success": false, "error": "Unable To Authenticate User"}'
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def yba():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeYBA)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeYBA.status = FakeYBA.body = None
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def probe(url, token=TOKEN, timeout=2.0, ca_path=None):
    client = _api.YBAClient(url, token=token, ca_path=ca_path, timeout=timeout, retries=0)
    try:
        client.get("/api/v1/customers", timeout=timeout, retries=0)
    except _api.YBAError as err:
        return err
    return None


def api_verdict(err, url, ca_shown=None, timeout=2.0):
    return _preflight.api_verdict(err, url, NAMES, "yba_ca_path", ca_shown, timeout)


def test_api_good_token_is_ok(yba):
    assert api_verdict(probe(yba), yba)["status"] == "ok"


def test_api_wrong_token_is_the_one_expected_line(yba):
    v = api_verdict(probe(yba, token="wrong"), yba)
    assert v == {"status": "problem", "message": "the YBA API at %s rejected yba_api_token (HTTP 401)" % yba}


def test_api_forbidden_is_a_problem(yba):
    FakeYBA.status, FakeYBA.body = 403, '{"success": false, "error": "forbidden"}'
    assert api_verdict(probe(yba), yba)["message"] == "the YBA API at %s rejected yba_api_token (HTTP 403)" % yba


@pytest.mark.parametrize("status", [500, 502, 503])
def test_api_5xx_is_unverified_not_a_problem(yba, status):
    FakeYBA.status, FakeYBA.body = status, '{"success": false, "error": "down"}'
    v = api_verdict(probe(yba), yba)
    assert v["status"] == "unverified" and "HTTP %d" % status in v["message"]


def test_api_404_names_yba_url(yba):
    FakeYBA.status, FakeYBA.body = 404, "not here"
    v = api_verdict(probe(yba), yba)
    assert v["status"] == "problem" and v["message"].endswith("check yba_url")


def test_api_answer_not_json_names_yba_url(yba):
    FakeYBA.status, FakeYBA.body = 200, "<html>a proxy</html>"
    v = api_verdict(probe(yba), yba)
    assert v["status"] == "problem" and "not the YBA API" in v["message"]


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_refused_is_unverified():
    url = "http://127.0.0.1:%d" % closed_port()
    v = api_verdict(probe(url), url)
    assert v["status"] == "unverified" and "not answering" in v["message"]


def test_api_silent_is_unverified():
    with socket.socket() as listener:  # accepts connections, never answers: a hung JVM
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = "http://127.0.0.1:%d" % listener.getsockname()[1]
        v = api_verdict(probe(url, timeout=0.5), url, timeout=0.5)
    assert v["status"] == "unverified" and "did not answer within 0.5 s" in v["message"]


def test_api_ca_file_missing_names_the_setting(tmp_path, yba):
    missing = str(tmp_path / "ca.pem")
    err = probe(yba, ca_path=missing)
    assert isinstance(err, _api.YBATLSError) and err.kind == "ca_file"
    v = api_verdict(err, yba, ca_shown="yba_host_ca_path %s" % missing)
    assert v == {"status": "problem", "message": "yba_host_ca_path %s is not a usable CA file where the modules run: "
                 "it does not exist" % missing}


def test_api_ca_file_not_pem_names_the_setting(tmp_path, yba):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    v = api_verdict(probe(yba, ca_path=str(bad)), yba, ca_shown="yba_host_ca_path %s" % bad)
    assert v["status"] == "problem" and v["message"].endswith("it holds no PEM certificate")


def test_api_tls_verify_names_ca_and_validate_certs():
    err = _api.YBATLSError("certificate verify failed", kind="tls_verify")
    v = api_verdict(err, "https://yba:443", ca_shown="yba_ca_path /ctl/ca.pem")
    assert v["status"] == "problem"
    assert v["message"] == ("the certificate of the YBA API at https://yba:443 does not verify against yba_ca_path "
                            "/ctl/ca.pem: set yba_ca_path to the CA that signed it (or yba_validate_certs=false)")


def test_api_unresolvable_host_names_yba_url():
    err = _api.YBAUnreachable("cannot reach https://nosuch: [Errno -2] Name or service not known")
    v = api_verdict(err, "https://nosuch")
    assert v["status"] == "problem" and v["message"].endswith("check yba_url")


# ------------------------------------------------------------------------------------------- metadata DB

TARGET = "localhost:5432/yugaware"


@pytest.mark.parametrize("stderr,status,needle", [
    # PostgreSQL 15 libpq wordings
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  password '
     'authentication failed for user "postgres"\n', "problem", "check metadb_repair_login_password"),
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: fe_sendauth: no password '
     'supplied\n', "problem", "set metadb_repair_login_password"),
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  role "nobody" does '
     'not exist\n', "problem", "check preflight_login_user"),
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  database "yw" does '
     'not exist\n', "problem", "check preflight_login_db"),
    ('psql: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: No such file or '
     'directory\n\tIs the server running locally and accepting connections on that socket?\n', "unverified", "start"),
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: Connection refused\n\tIs the '
     'server running on that host and accepting TCP/IP connections?\n', "unverified", "start"),
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  the database system '
     'is starting up\n', "unverified", "start"),
    ('psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  could not write init '
     'file: No space left on device\n', "unverified", "disk is full"),
    ("psql: error: could not translate host name \"nosuch\" to address: Name or service not known\n", "problem",
     "check login_host"),
])
def test_metadb_verdicts(stderr, status, needle):
    v = _preflight.metadb_verdict(2, stderr, TARGET, "postgres", NAMES)
    assert v["status"] == status and needle in v["message"], v
    assert "\n" not in v["message"]


def test_metadb_ok():
    assert _preflight.metadb_verdict(0, "", TARGET, "postgres", NAMES)["status"] == "ok"


@pytest.fixture(scope="module")
def pg():
    """A real PostgreSQL 15 with a password-checked user (scram), as a YBA host whose DB login needs a password."""
    sys.path.insert(0, os.path.join(os.path.dirname(_metadb.__file__), "..", "..", "benchmarks"))
    import metadb_repair_pg as pgtemp  # pylint: disable=import-outside-toplevel,import-error
    if os.geteuid() != 0 or not os.path.exists(os.path.join(pgtemp.PG_BIN, "initdb")):
        pytest.fail("needs root and the PostgreSQL 15 server binaries in %s (scripts/bootstrap.sh)" % pgtemp.PG_BIN)
    server = pgtemp.TempPostgres().start()
    server.add_password_login("pwuser", "right")
    server.sql("CREATE DATABASE yugaware", db="postgres")
    yield server
    server.destroy()


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            preflight.main()
    return json.loads(capsys.readouterr().out)


def db_args(tmp_path, server, **kw):
    args = dict(host_root=str(tmp_path), checks=["metadb"], login_host="127.0.0.1", login_port=server.port,
                psql_path=server.psql, names={"login_password": "metadb_repair_login_password"})
    args.update(kw)
    return args


def test_module_metadb_right_password(tmp_path, capsys, pg):
    out = run_module(capsys, db_args(tmp_path, pg, login_user="pwuser", login_password="right"))
    assert out["checks"]["metadb"]["status"] == "ok" and out["problems"] == [] and out["changed"] is False


def test_module_metadb_wrong_password_names_the_variable(tmp_path, capsys, pg):
    out = run_module(capsys, db_args(tmp_path, pg, login_user="pwuser", login_password="wrong-secret"))
    assert out["checks"]["metadb"]["status"] == "problem"
    assert out["problems"] == ["the metadata DB at 127.0.0.1:%d/yugaware rejected the password of user pwuser "
                               "(password authentication failed for user \"pwuser\"): check "
                               "metadb_repair_login_password" % pg.port]
    assert "wrong-secret" not in json.dumps(out)


def test_module_metadb_no_such_database(tmp_path, capsys, pg):
    out = run_module(capsys, db_args(tmp_path, pg, login_db="nodb"))
    assert out["checks"]["metadb"]["status"] == "problem" and out["problems"][0].endswith("check login_db")


def test_module_metadb_server_down_is_unverified(tmp_path, capsys, pg):
    out = run_module(capsys, db_args(tmp_path, pg, login_port=closed_port()))
    assert out["checks"]["metadb"]["status"] == "unverified" and out["problems"] == []


# ------------------------------------------------------------------------------------------------ module

def test_module_wrong_token_end_to_end(tmp_path, capsys, yba):
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["api"], yba_url=yba, yba_api_token="wrong"))
    assert out["problems"] == ["the YBA API at %s rejected yba_api_token (HTTP 401)" % yba]
    assert out["checks"]["become"] == {"status": "skipped", "message": "not asked"}


def test_module_no_token_skips_the_api_check(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("YBA_API_TOKEN", raising=False)
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["api"], yba_url="http://127.0.0.1:9"))
    assert out["checks"]["api"]["status"] == "skipped" and out["problems"] == []


def test_module_ca_content_not_pem_is_a_problem(tmp_path, capsys, yba):
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["api"], yba_url=yba, yba_api_token=TOKEN,
                                  ca_content="/ctl/ca.pem", names={"ca_content": "yba_ca_path (/ctl/ca.pem on the controller)"}))
    assert out["problems"] == ["yba_ca_path (/ctl/ca.pem on the controller) is not a usable CA file: it holds no PEM "
                               "certificate"]


def test_module_become_as_root(tmp_path, capsys):
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["become"]))
    expected = "ok" if os.geteuid() == 0 or os.access(str(tmp_path / "opt/yugabyte"), os.W_OK) else "problem"
    assert out["checks"]["become"]["status"] == expected, out


def test_module_unknown_name_key_is_bad_input(tmp_path, capsys):
    out = run_module(capsys, dict(host_root=str(tmp_path), names={"token": "x"}))
    assert out["failed"] is True and out["msg"].startswith("names has unknown key(s) token;")


def test_module_bad_probe_timeout(tmp_path, capsys):
    out = run_module(capsys, dict(host_root=str(tmp_path), probe_timeout=0))
    assert out["msg"] == "probe_timeout must be more than 0 seconds, got 0.0"


def self_signed(directory, name):
    key, cert = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return key, cert


@pytest.fixture()
def yba_tls(tmp_path):
    """The fake YBA over HTTPS with a self-signed certificate (as YBA installs by default)."""
    key, cert = self_signed(str(tmp_path), "yba")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeYBA)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeYBA.status = FakeYBA.body = None
    with open(cert, encoding="utf-8") as handle:
        pem = handle.read()
    yield "https://127.0.0.1:%d" % server.server_address[1], pem
    server.shutdown()
    server.server_close()


def test_module_ca_content_that_signed_the_certificate_is_ok(tmp_path, capsys, yba_tls):
    url, pem = yba_tls
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["api"], yba_url=url, yba_api_token=TOKEN,
                                  ca_content=pem))
    assert out["checks"]["api"]["status"] == "ok", out


def test_module_ca_content_that_did_not_sign_it_names_yba_ca_path(tmp_path, capsys, yba_tls):
    url, _pem = yba_tls
    _key, other = self_signed(str(tmp_path), "not-the-yba-ca")
    with open(other, encoding="utf-8") as handle:
        wrong = handle.read()
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["api"], yba_url=url, yba_api_token=TOKEN,
                                  ca_content=wrong, names={"ca_content": "yba_ca_path (/ctl/ca.pem on the controller)",
                                                           "validate_certs": "yba_validate_certs"}))
    assert out["problems"] == ["the certificate of the YBA API at %s does not verify against yba_ca_path (/ctl/ca.pem "
                               "on the controller): set yba_ca_path to the CA that signed it (or "
                               "yba_validate_certs=false)" % url]


def test_module_no_ca_checks_the_system_trust_store(tmp_path, capsys, yba_tls):
    url, _pem = yba_tls
    out = run_module(capsys, dict(host_root=str(tmp_path), checks=["api"], yba_url=url, yba_api_token=TOKEN))
    assert out["problems"] == ["the certificate of the YBA API at %s does not verify against the system trust store: "
                               "set ca_content (or ca_path) to the CA that signed it (or validate_certs=false)" % url]
