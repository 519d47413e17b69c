"""The evidence report rendered by a real browser (headless Chromium, from Debian's packages; scripts/bootstrap.sh
installs it): the page loads nothing from outside (a Content-Security-Policy that allows no fetch reports any
attempt), the freshness chart is laid out with a real size and one bar per universe, every table fits the page
(a compliance reader prints it), and the hostile strings of the run stay text. The report itself has no script:
the test measures a copy with a small script of its own added."""

import json
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
import test_report  # the run summary the other report tests render
from yba_remediation_cli.report import render_html

# What a browser that honours the page would fetch is refused and reported: nothing may be fetched at all.
CSP = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; img-src data:\">")
MEASURE = """<script>
var violations = [];
document.addEventListener('securitypolicyviolation', function (e) { violations.push(e.blockedURI || e.violatedDirective); });
window.addEventListener('load', function () {
  var svg = document.querySelector('.chart svg'), box = svg ? svg.getBoundingClientRect() : null;
  var page = document.documentElement.clientWidth;
  var tables = Array.prototype.map.call(document.querySelectorAll('table'), function (t) {
    return Math.round(t.getBoundingClientRect().right); });
  var out = {violations: violations, page_width: page, tables_right: tables,
             svg: box ? {width: box.width, height: box.height, rects: svg.querySelectorAll('rect').length,
                         texts: Array.prototype.map.call(svg.querySelectorAll('text'), function (t) { return t.textContent; })} : null,
             scripts: document.scripts.length, alerts: window.__alerts || 0};
  var pre = document.createElement('pre'); pre.id = 'measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
window.alert = function () { window.__alerts = (window.__alerts || 0) + 1; };
</script>"""


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no headless Chromium: scripts/bootstrap.sh installs Debian's chromium package", pytrace=False)


def _measure(page: str, tmp_path: Path) -> dict:
    instrumented = page.replace("<head>", "<head>" + CSP + MEASURE, 1)
    assert instrumented != page, "the report has no <head>"
    path = tmp_path / "report.html"
    path.write_text(instrumented, encoding="utf-8")
    proc = subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--window-size=1280,2000", "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'p'}",
                           "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    start = proc.stdout.index('<pre id="measure">') + len('<pre id="measure">')
    return json.loads(unescape(proc.stdout[start:proc.stdout.index("</pre>", start)]))


def test_chromium_renders_the_evidence_report_self_contained(tmp_path: Path) -> None:
    summary = test_report._summary()
    page = render_html(summary, "yba-1")
    seen = _measure(page, tmp_path)
    assert seen["violations"] == [], seen  # nothing fetched from anywhere
    assert seen["scripts"] == 1 and seen["alerts"] == 0, seen  # only the test's own script ran: the hostile one is text
    svg = seen["svg"]
    assert svg and svg["width"] >= 300 and svg["height"] >= 60, svg
    universes = [u["universe"] for u in summary["run_record"]["yba-1"]["backup_sla"]["universes"]]
    assert all(any(u in text for text in svg["texts"]) for u in universes), svg["texts"]
    assert svg["rects"] >= len(universes), svg
    assert seen["tables_right"] and max(seen["tables_right"]) <= seen["page_width"], seen  # no table overflows
