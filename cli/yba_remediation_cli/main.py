"""Command line: `yba-remediation run <playbook> ...`, `yba-remediation report <summary.json>` and `yba-remediation list`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from yba_remediation_cli import __version__
from yba_remediation_cli.errors import UsageError
from yba_remediation_cli.extravars import parse_extra_vars
from yba_remediation_cli import nagios
from yba_remediation_cli import report
from yba_remediation_cli.locate import find_collection_root, list_playbooks, resolve_inventories, resolve_playbook
from yba_remediation_cli.summary import EXIT_OK, EXIT_USAGE, RunTracker, build_summary, error_lines, scrub, secret_values

RUN_ID_VAR = "yba_run_id"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="yba-remediation", description="Run the yba.remediation playbooks through ansible-runner.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a playbook (a name such as diagnose, an FQCN or a path)")
    run.add_argument("playbook")
    run.add_argument("--check", action="store_true", help="check mode: change nothing, predict changes")
    run.add_argument("--diff", action="store_true", help="show before/after differences")
    run.add_argument("--limit", "-l", help="limit the run to these hosts or groups")
    run.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                     help="key=value, @file (YAML/JSON) or inline JSON; repeatable")
    run.add_argument("-i", "--inventory", action="append", metavar="INVENTORY",
                     help="inventory path (default: inventory/lab of the collection); repeatable")
    run.add_argument("--summary", metavar="FILE", help="where to write the JSON run summary "
                     "(default: run-records/<time>-<playbook>.json in the checkout)")
    run.add_argument("--quiet", "-q", action="store_true", help="no live progress: the result line and, on failure, the first line of each error")
    run.add_argument("--forks", type=int, help="parallel hosts (ansible-playbook --forks)")
    run.add_argument("--nagios", action="store_true",
                     help="monitoring check output: the verdict line(s) the run recorded (backup_sla) on stdout, "
                          "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; implies --quiet")
    sub.add_parser("list", help="list the playbooks with their description")
    rep = sub.add_parser("report", help="render the evidence report (Markdown + HTML per host) of a run summary again")
    rep.add_argument("summary_file", metavar="SUMMARY", help="the JSON run summary of `run`")
    rep.add_argument("--out", metavar="DIR", help="where to write the reports (default: beside the summary)")
    return parser


def runner_environment(root: Path) -> dict[str, str]:
    """Environment for ansible-playbook: this interpreter's bin first on PATH and the collection on the search path."""
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    collections = []
    if root.parts[-3:] == ("ansible_collections", "yba", "remediation"):
        collections.append(str(root.parents[2]))
    else:
        build = root / ".build" / "collections"
        link = build / "ansible_collections" / "yba" / "remediation"
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(root)
        collections.append(str(build))
    existing = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    collections += existing.split(os.pathsep) if existing else ["~/.ansible/collections", "/usr/share/ansible/collections"]
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(collections)
    if (root / "ansible.cfg").is_file() and "ANSIBLE_CONFIG" not in os.environ:
        env["ANSIBLE_CONFIG"] = str(root / "ansible.cfg")
    return env


def default_summary_path(root: Path, playbook: Path, started: dt.datetime) -> Path:
    base = root / "run-records" if os.access(root, os.W_OK) else Path.cwd() / "run-records"
    return base / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{playbook.stem}.json"


def new_run_id(now: dt.datetime | None = None, pid: int | None = None) -> str:
    """An id of this run, unique on the controller: what the host lock names as its owner."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"cli-{now.astimezone(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid() if pid is None else pid}"


def _tail(path: Path, lines: int = 30) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def command_run(args: argparse.Namespace) -> int:
    import ansible_runner  # imported late: `list` and usage errors stay fast

    root = find_collection_root()
    playbook = resolve_playbook(root, args.playbook)
    inventories = resolve_inventories(root, args.inventory)
    extra_vars = parse_extra_vars(args.extra_vars)
    if args.forks is not None and args.forks < 1:
        raise UsageError("--forks must be at least 1")
    started = dt.datetime.now(dt.timezone.utc)
    if extra_vars.get(RUN_ID_VAR) in (None, ""):
        extra_vars[RUN_ID_VAR] = new_run_id(started)
    run_id = str(extra_vars[RUN_ID_VAR])
    summary_path = Path(args.summary).expanduser() if args.summary else default_summary_path(root, playbook, started)
    tracker = RunTracker(None if args.quiet or args.nagios else sys.stdout, secret_values(extra_vars, dict(os.environ)), extra_vars,
                         show_diff=args.diff)
    cmdline = " ".join(flag for flag, on in (("--check", args.check), ("--diff", args.diff)) if on)
    private_dir = tempfile.mkdtemp(prefix="yba-remediation-")
    clock = time.monotonic()
    try:
        result = ansible_runner.run(
            private_data_dir=private_dir,
            project_dir=str(root),
            playbook=str(playbook),
            inventory=inventories,
            extravars=extra_vars,
            limit=args.limit,
            forks=args.forks,
            cmdline=cmdline or None,
            envvars=runner_environment(root),
            suppress_env_files=True,
            quiet=True,
            event_handler=tracker,
        )
        meta: dict[str, Any] = {
            "run_id": run_id, "playbook": str(playbook), "inventory": inventories, "check": args.check, "diff": args.diff,
            "limit": args.limit, "extra_vars": extra_vars, "started": started.isoformat(timespec="seconds"),
            "duration_s": round(time.monotonic() - clock, 3),
        }
        stdout_file = Path(private_dir) / "artifacts" / result.config.ident / "stdout"
        summary = build_summary(tracker, meta, result.status, result.rc, lambda: _tail(stdout_file))
    finally:
        shutil.rmtree(private_dir, ignore_errors=True)
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    # the reports beside the summary (<stem>-<host>.md/.html); their paths are printed unless --quiet, where the
    # verdict line is the only line on stdout (as a monitoring check's output is with --nagios)
    write_evidence(summary_path, summary, None if args.quiet or args.nagios else sys.stdout)
    verdict = "OK" if summary["ok"] else "FAILED"
    if args.nagios:
        errors = [e["lines"][0] for e in summary.get("errors", []) if e.get("lines")]
        code, lines = nagios.check_output(summary, scrub(errors[0], tracker.secrets) if errors else None)
        print("\n".join(lines))
        print(f"{verdict}: {playbook.stem} status={summary['status']} rc={summary['rc']} run_id={run_id} "
              f"summary={summary_path}", file=sys.stderr)
        return code
    # rc is what this process exits with (ansible-playbook's own rc is ansible_rc in the summary)
    print(f"{verdict}: {playbook.stem} status={summary['status']} rc={summary['rc']} run_id={run_id} "
          f"duration={summary['duration_s']}s summary={summary_path}")
    if summary["rc"] == EXIT_USAGE:
        # a malformed variable: one line naming it and what it must be, as for any other bad input
        print(scrub(f"yba-remediation: error: {'; '.join(tracker.argument_errors)}", tracker.secrets), file=sys.stderr)
    elif not summary["ok"]:
        # the cause of a failure is printed even with --quiet: there, the first line of each error only
        lines = ([e["lines"][0] for e in summary.get("errors", []) if e.get("lines")] if args.quiet else
                 error_lines(tracker)) or summary.get("stdout_tail", [])[-10:]
        for line in lines:
            print(f"  | {line}", file=sys.stderr)
    return summary["rc"]


def write_evidence(summary_path: Path, summary: dict[str, Any], out: Any) -> list[Path]:
    """The evidence report of a run, beside its summary: its paths on one line to ``out`` (None: not printed); a
    rendering error is a warning line and never changes the run's exit code."""
    try:
        paths = report.write_reports(summary_path, summary)
    except Exception as exc:  # noqa: BLE001 - the run's outcome stands whatever the report does
        print(f"yba-remediation: warning: no evidence report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []
    if paths and out is not None:
        print("evidence report: " + " ".join(str(p) for p in paths), file=out)
    return paths


def command_report(args: argparse.Namespace) -> int:
    path = Path(args.summary_file).expanduser()
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"run summary not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the run summary {path}: {exc.strerror if isinstance(exc, OSError) else exc}") from None
    except ValueError as exc:
        raise UsageError(f"the run summary {path} is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("run_record", {}), dict):
        raise UsageError(f"{path} is not a run summary of yba-remediation run (a JSON object with run_record)")
    try:
        paths = report.write_reports(path, summary, Path(args.out).expanduser() if args.out else None)
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc.strerror or exc}: {exc.filename or args.out}") from None
    if not paths:
        print(f"no host in {path}: nothing to report")
    else:
        print("evidence report: " + " ".join(str(p) for p in paths))
    return EXIT_OK


def command_list() -> int:
    root = find_collection_root()
    books = list_playbooks(root)
    width = max((len(name) for name, _desc in books), default=0)
    for name, description in books:
        print(f"{name.ljust(width)}  {description}")
    if not books:
        print(f"no playbooks in {root / 'playbooks'}")
    return EXIT_OK


def argv_has_nagios(argv: list[str] | None) -> bool:
    return "--nagios" in (sys.argv[1:] if argv is None else argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            return command_list()
        if args.command == "report":
            return command_report(args)
        return command_run(args)
    except UsageError as exc:
        print(f"yba-remediation: error: {exc}", file=sys.stderr)
        # a monitoring check that cannot run is UNKNOWN, not CRITICAL (which 2 would mean there)
        return nagios.UNKNOWN if argv_has_nagios(argv) else EXIT_USAGE
    except KeyboardInterrupt:
        print("yba-remediation: interrupted", file=sys.stderr)
        return 130
