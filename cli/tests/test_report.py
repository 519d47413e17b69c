"""Evidence report: the HTML is self-contained and parses, the SVG is well-formed, hostile strings are escaped, secrets
stay redacted; the `report` subcommand and the report written after a run."""

import json
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from yba_remediation_cli import main as cli_main
from yba_remediation_cli.main import main, write_evidence
from yba_remediation_cli.report import NO_SLA, render_html, render_markdown, write_reports
from yba_remediation_cli.summary import REDACTED

HOSTILE = "<script>alert(1)</script>"


def _summary():
    return {
        "run_id": "cli-20261202T010000Z-42", "playbook": "/c/playbooks/remediate.yml", "check": False,
        "started": "2026-12-02T01:00:00+00:00", "duration_s": 93.5, "status": "successful", "rc": 0, "ok": True,
        "extra_vars": {"yba_api_token": REDACTED},
        "hosts": {"yba-1": {"ok": 40, "changed": 5, "failed": 0, "unreachable": 0, "skipped": 3, "rescued": 0,
                            "ignored": 0}},
        "failed_hosts": [],
        "run_record": {"yba-1": {
            "diagnosis": {"findings": [
                {"id": "disk_full", "severity": "critical", "title": HOSTILE, "evidence": "/opt/yugabyte at 97%",
                 "fix_playbook": "disk_cleanup.yml", "manual_fix": None, "subject": "/opt/yugabyte"},
                {"id": "schedule_paused", "severity": "warning", "title": "Schedule daily paused",
                 "evidence": "failureCount 12", "fix_playbook": "backup_schedules.yml", "subject": "daily"}],
                "ids": ["disk_full", "schedule_paused"], "incomplete": None},
            "disk_cleanup": {"changed": True, "freed_bytes": 123456789, "duration_seconds": 4.2,
                             "summary": "freed 117 MiB"},
            "metadb_repair": {"changed": False, "timings": {"dump_seconds": 1.5}, "changes": [], "check_mode": False},
            "remediation": {"before": ["disk_full", "schedule_paused", "metadb_stale"], "fixed": ["metadb_stale"],
                            "remaining": [{"id": "disk_full"}], "not_automated": [{"id": "schedule_paused"}],
                            "failed_step": None, "check_mode": False},
            "storage_config": {"changed": True, "secret_access_key": REDACTED, "summary": "S3 fixed"},
            "backup_sla": {"status": "OK", "summary": "YBA BACKUP OK - 2 of 2 universes within RPO",
                           "counts": {"universes": {"ok": 2, "total": 2}},
                           "universes": [
                               {"universe": "orders", "backup_type": "YQL", "status": "ok", "age_seconds": 1800,
                                "rpo_seconds": 86400, "last_success": "2026-12-02T00:30:00Z", "copies": 1,
                                "min_copies": 1, "rpo_source": "schedule daily", "reason": "fresh"},
                               {"universe": "billing & <co>", "backup_type": "YQL", "status": "critical",
                                "age_seconds": 200000, "rpo_seconds": 86400, "last_success": None, "copies": 0,
                                "min_copies": 1, "reason": "too old"}],
                           "schedules": [{"schedule": "daily", "universe": "orders", "backup_type": "YQL",
                                          "state": "Active", "status": "ok", "age_seconds": 1800,
                                          "expected_interval_seconds": 86400, "failure_count": 0}]},
        }},
    }


class Collector(HTMLParser):
    """Every start tag with its attributes, the text, and the raw <svg> element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "img", "input", "link", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page):
    parser = Collector()
    parser.feed(page)
    parser.close()
    assert parser.stack == []  # every element closed, in order
    return parser


def test_html_is_self_contained_and_parses():
    page = render_html(_summary(), "yba-1")
    parser = _parse(page)
    names = [t for t, _a in parser.tags]
    assert "link" not in names and "img" not in names and "iframe" not in names
    for tag, attrs in parser.tags:
        assert tag != "script", "no script at all"
        for key in ("src", "href", "xlink:href", "action", "data"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (tag, key, value)
    assert not re.search(r"url\s*\(|@import", page)  # no external asset through CSS either
    assert "<style>" in page


def test_svg_is_well_formed_with_a_row_per_universe():
    page = render_html(_summary(), "yba-1")
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg"
    circles = root.findall(f".//{ns}circle")
    assert len(circles) == 2
    texts = "".join(t.text or "" for t in root.iter(ns + "text"))
    assert "orders YQL" in texts and "billing & <co> YQL" in texts


def test_findings_sla_rows_and_escaping():
    page = render_html(_summary(), "yba-1")
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = "".join(_parse(page).text)
    assert HOSTILE in text  # shown as text, never as markup
    for expected in ("disk_full", "schedule_paused", "playbooks/disk_cleanup.yml", "/opt/yugabyte at 97%", "orders",
                     "billing & <co>", "too old", "YBA BACKUP OK", "cli-20261202T010000Z-42", "daily",
                     "disk_cleanup", "freed_bytes=123456789", "duration_seconds=4.2", "1.6 min"):
        assert expected in text, expected
    assert NO_SLA not in text
    assert "found at the start: disk_full, schedule_paused, metadb_stale; fixed: metadb_stale" in text
    assert "remaining (the runbook fixes it)" in text and "not automated" in text
    assert "dump_seconds=1.5" in text and "changes=0" in text


def test_secrets_stay_redacted():
    summary = _summary()
    page, md = render_html(summary, "yba-1"), render_markdown(summary, "yba-1")
    assert f'"secret_access_key": "{REDACTED}"' in md
    assert "secret_access_key" in page and REDACTED in page


def test_markdown_has_the_same_findings():
    md = render_markdown(_summary(), "yba-1")
    assert "| disk_full | CRITICAL | &lt;script&gt;alert(1)&lt;/script&gt; |" in md
    assert "schedule_paused" in md and "playbooks/backup_schedules.yml" in md
    assert "| orders | YQL | OK |" in md and "billing & &lt;co&gt;" in md
    # raw markup only inside the fenced JSON of the run record (a code block, never rendered as HTML)
    assert "<script>" not in md.split("```json", maxsplit=1)[0]


def test_missing_or_partial_records():
    summary = {"playbook": "diagnose.yml", "hosts": {"h": {"ok": 1}},
               "run_record": {"h": {"backup_sla": {"status": "UNKNOWN"}, "diagnosis": "garbage",
                                    "metadb_repair": None}}}
    page = render_html(summary, "h")
    parser = _parse(page)
    assert NO_SLA in "".join(parser.text) and "<svg" not in page
    assert NO_SLA in render_markdown(summary, "h")
    assert "No diagnosis" in render_markdown({"run_record": {}}, "h")


def test_sla_from_the_controller_file(tmp_path):
    doc = tmp_path / "yba-1-backup_sla.json"
    doc.write_text(json.dumps({"universes": [{"universe": "u1", "backup_type": "YQL", "status": "warning",
                                              "age_seconds": 50, "rpo_seconds": 100}]}))
    summary = {"run_record": {"yba-1": {"backup_sla": {"status": "WARNING", "controller_files": [str(doc)]}}}}
    page = render_html(summary, "yba-1")
    assert "<svg" in page and ">u1<" in page


def test_write_reports_beside_the_summary(tmp_path):
    path = tmp_path / "20261202T010000Z-remediate.json"
    summary = _summary()
    summary["run_record"]["../evil host"] = {}
    path.write_text(json.dumps(summary))
    written = write_reports(path)
    assert sorted(p.name for p in written) == [
        "20261202T010000Z-remediate-.._evil_host.html", "20261202T010000Z-remediate-.._evil_host.md",
        "20261202T010000Z-remediate-yba-1.html", "20261202T010000Z-remediate-yba-1.md"]
    assert all(p.parent == tmp_path for p in written)


def test_report_subcommand(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_summary()))
    out = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and str(out / "run-yba-1.html") in line
    assert (out / "run-yba-1.md").read_text().startswith("# Evidence report: yba-1")
    assert main(["report", str(path)]) == 0 and (tmp_path / "run-yba-1.html").is_file()


def test_report_subcommand_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    array = tmp_path / "array.json"
    array.write_text("[1]")
    for argv, message in ((["report", str(tmp_path / "missing.json")], "run summary not found"),
                          (["report", str(bad)], "is not valid JSON"),
                          (["report", str(array)], "is not a run summary"),
                          (["report"], "required")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_write_evidence_after_a_run(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.json"
    paths = write_evidence(path, _summary(), sys.stdout)
    out = capsys.readouterr().out
    assert [p.name for p in paths] == ["s-yba-1.md", "s-yba-1.html"]
    assert out == "evidence report: " + " ".join(str(p) for p in paths) + "\n"

    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_main.report, "write_reports", broken)
    assert write_evidence(path, _summary(), sys.stdout) == []
    err = capsys.readouterr().err
    assert err == "yba-remediation: warning: no evidence report: RuntimeError: boom\n"
