# Private module_util: the YBA platform's JVM heap: read use/limit (process, metrics) and render the systemd drop-in.
#
# YBA has NO official heap setting (FACTS.md 5.5): yba-ctl.yml has no heap key and the unit's ExecStart
# has no -Xmx, so the JVM default (about 25% of RAM) applies. The platform's start script (Play /
# sbt-native-packager) honours JAVA_OPTS, so a drop-in next to the unit setting Environment=JAVA_OPTS
# is the one place that survives ``yba-ctl reconfigure`` and upgrades (both rewrite the unit file itself).
from __future__ import annotations

import glob
import os
import re
import shlex
import typing as t

DEFAULT_DROPIN = "99-yba-remediation-heap.conf"
MIN_HEAP_BYTES = 256 * 1024 ** 2
HEADER = ("# Managed by yba.remediation.platform_heap: the YBA platform JVM heap.\n"
          "# YBA has no official heap setting; its start script honours JAVA_OPTS. Remove this file and restart\n"
          "# yb-platform to return to the JVM default.\n")

_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kKmMgGtT]?)[bB]?\s*$")
_HEAP_FLAG_RE = re.compile(r"^(?:-J)?(-Xmx|-Xms|-XX:MaxHeapSize=|-XX:InitialHeapSize=)(\S+)$")


def parse_size(text: t.Any) -> int:
    """JVM size text (``4g``, ``4096m``, ``512M``, ``1073741824``) to bytes; ValueError when malformed."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ValueError("%r is not a JVM heap size (use a number with an optional k, m or g suffix, e.g. 4g)"
                         % (text,))
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def format_size(size: int) -> str:
    """Bytes to the shortest exact JVM size text: 4294967296 -> ``4g``, 3221225472 -> ``3g``, 1536m."""
    for suffix in ("t", "g", "m", "k"):
        unit = _UNITS[suffix]
        if size % unit == 0:
            return "%d%s" % (size // unit, suffix)
    return str(size)


def heap_flags(args: t.Sequence[str]) -> t.Dict[str, int]:
    """The effective max/initial heap (bytes) in JVM arguments: the last flag wins, as in the JVM."""
    found: t.Dict[str, int] = {}
    for arg in args:
        match = _HEAP_FLAG_RE.match(arg)
        if not match:
            continue
        key = "max" if match.group(1) in ("-Xmx", "-XX:MaxHeapSize=") else "initial"
        try:
            found[key] = parse_size(match.group(2))
        except ValueError:
            continue
    return found


def strip_heap_flags(opts: str) -> t.List[str]:
    """JAVA_OPTS without its heap size flags (every other flag is kept in order)."""
    try:
        args = shlex.split(opts)
    except ValueError:
        args = opts.split()
    return [a for a in args if not _HEAP_FLAG_RE.match(a)]


# --------------------------------------------------------------------------- systemd unit environment

def unit_environment(text: str) -> t.Dict[str, str]:
    """Environment= assignments of the [Service] section (accumulated; an empty Environment= resets)."""
    env: t.Dict[str, str] = {}
    section = ""
    text = re.sub(r"\\\n", " ", text)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or not line.startswith("Environment"):
            continue
        key, _sep, value = line.partition("=")
        if key.strip() != "Environment":
            continue
        value = value.strip()
        if not value:
            env = {}
            continue
        try:
            tokens = shlex.split(value)
        except ValueError:
            tokens = value.split()
        for token in tokens:
            if "=" in token:
                name, val = token.split("=", 1)
                env[name] = val
    return env


# --------------------------------------------------------------------------- secrets in JVM options

MASK = "********"
# option names whose value is a secret: proxy credentials (-Dhttp(s).proxyUser/-Dhttp(s).proxyPassword), key store
# and DB passwords, tokens, secrets
_SECRET_NAME = re.compile(r"(password|passwd|pwd|secret|token|credential|api[._-]?key|proxyuser|private[._-]?key)",
                          re.IGNORECASE)
# -Dname=value / --name=value, the whole option possibly quoted ('-Dx=a b' as shlex.quote writes it), or the value
_OPTION = re.compile(r"""(?P<q>['"])?(?P<name>-{1,2}[A-Za-z][\w.\-]*)=(?P<value>(?(q)(?:(?!(?P=q)).)*|"""
                     r"""(?:"[^"]*"|'[^']*'|[^\s"']+)))""")
# user:password@ (or user@) in a URL
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/@\s\"']+)@")


def redact(text: t.Optional[str]) -> t.Optional[str]:
    """``text`` (JAVA_OPTS, a drop-in, a command line, a message) with secret option values and URL credentials
    replaced by MASK. The ONE place that makes JVM options safe to return, diff or log; what is written to disk
    keeps the real values. Pure."""
    if not text:
        return text

    def option(match: t.Any) -> str:
        if not _SECRET_NAME.search(match.group("name")):
            return match.group(0)
        quote = match.group("q") or ""
        return "%s%s=%s" % (quote, match.group("name"), MASK)

    return _USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", _OPTION.sub(option, text))


def redact_args(argv: t.Sequence[str]) -> t.List[str]:
    """A command line with ``redact`` applied to each argument. Pure."""
    return [t.cast(str, redact(arg)) for arg in argv]


def _read(path: str) -> t.Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def dropin_dir(unit_path: str) -> str:
    return unit_path + ".d"


def inherited_java_opts(unit_path: str, dropin_name: str) -> t.Tuple[str, t.List[str]]:
    """JAVA_OPTS the unit and the drop-ins that sort BEFORE ours set, and drop-ins sorting AFTER ours that
    also set JAVA_OPTS (they would override ours; systemd applies drop-ins in file-name order)."""
    opts = unit_environment(_read(unit_path) or "").get("JAVA_OPTS", "")
    later: t.List[str] = []
    for path in sorted(glob.glob(os.path.join(glob.escape(dropin_dir(unit_path)), "*.conf"))):
        name = os.path.basename(path)
        if name == dropin_name:
            continue
        env = unit_environment(_read(path) or "")
        if "JAVA_OPTS" not in env:
            continue
        if name < dropin_name:
            opts = env["JAVA_OPTS"]
        else:
            later.append(path)
    return opts, later


def _systemd_quote(value: str) -> str:
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def render_dropin(base_opts: str, max_heap: int, initial_heap: t.Optional[int] = None) -> str:
    """Content of the heap drop-in: the inherited JAVA_OPTS minus heap flags, plus ours."""
    args = strip_heap_flags(base_opts)
    if initial_heap:
        args.append("-Xms" + format_size(initial_heap))
    args.append("-Xmx" + format_size(max_heap))
    java_opts = " ".join(shlex.quote(a) for a in args)
    return HEADER + "[Service]\nEnvironment=%s\n" % _systemd_quote("JAVA_OPTS=" + java_opts)


# --------------------------------------------------------------------------- observed heap

_METRIC_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)")
_LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> t.List[t.Tuple[str, t.Dict[str, str], float]]:
    samples: t.List[t.Tuple[str, t.Dict[str, str], float]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _METRIC_RE.match(line)
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        samples.append((match.group(1), dict(_LABEL_RE.findall(match.group(2) or "")), value))
    return samples


def heap_from_metrics(text: str) -> t.Dict[str, t.Optional[int]]:
    """Heap used/committed/max bytes from the platform's /api/v1/prometheus_metrics (simpleclient_hotspot
    names ``jvm_memory_bytes_*{area="heap"}`` and Micrometer-style ``jvm_memory_*_bytes{area="heap"}``)."""
    names = {
        "used": ("jvm_memory_bytes_used", "jvm_memory_used_bytes"),
        "committed": ("jvm_memory_bytes_committed", "jvm_memory_committed_bytes"),
        "max": ("jvm_memory_bytes_max", "jvm_memory_max_bytes"),
    }
    sums: t.Dict[str, t.Optional[int]] = {"used": None, "committed": None, "max": None}
    for name, labels, value in parse_prometheus(text):
        if labels.get("area") != "heap":
            continue
        for key, candidates in names.items():
            if name in candidates and value >= 0:
                sums[key] = (sums[key] or 0) + int(value)
    return sums


def heap_report(process: t.Any = None, metrics_text: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    """What the diagnosis shows about memory: heap used/max (metrics), -Xmx (process), RSS, percent used.

    ``process`` is a ``_service.ProcessInfo`` (or None when the platform is not running).
    """
    report: t.Dict[str, t.Any] = dict(pid=None, rss_bytes=None, xmx_bytes=None, java_opts=None, heap_used_bytes=None,
                                      heap_committed_bytes=None, heap_max_bytes=None, heap_used_percent=None,
                                      source=[])
    if process is not None:
        report["pid"] = process.pid
        report["rss_bytes"] = process.rss_bytes
        report["java_opts"] = redact(process.java_opts)
        flags = heap_flags(process.cmdline)
        if "max" not in flags and process.java_opts:
            flags = heap_flags(strip_to_args(process.java_opts))
        report["xmx_bytes"] = flags.get("max")
        report["source"].append("process")
    if metrics_text:
        heap = heap_from_metrics(metrics_text)
        if heap["used"] is not None:
            report["heap_used_bytes"] = heap["used"]
            report["heap_committed_bytes"] = heap["committed"]
            report["heap_max_bytes"] = heap["max"]
            report["source"].append("metrics")
    limit = report["heap_max_bytes"] or report["xmx_bytes"]
    if report["heap_used_bytes"] is not None and limit:
        report["heap_used_percent"] = round(100.0 * report["heap_used_bytes"] / limit, 1)
    return report


def strip_to_args(opts: str) -> t.List[str]:
    try:
        return shlex.split(opts)
    except ValueError:
        return opts.split()


def mem_total_bytes(proc_root: str = "/proc") -> t.Optional[int]:
    text = _read(os.path.join(proc_root, "meminfo")) or ""
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


# --------------------------------------------------------------------------- pressure and sizing (pure)

def under_pressure(report: t.Mapping[str, t.Any], threshold_percent: float) -> t.Optional[bool]:
    """Whether heap use (``heap_report``'s ``heap_used_percent``) is at or above the threshold; None when unknown."""
    pct = report.get("heap_used_percent") if report else None
    if pct is None:
        return None
    return float(pct) >= float(threshold_percent)


def current_max_heap(*candidates: t.Optional[int]) -> t.Optional[int]:
    """The largest of the known max heaps (running -Xmx, the drop-in's -Xmx, the JVM's own reported max): sizing
    from the largest is what guarantees a change never lowers the heap."""
    known = [int(c) for c in candidates if c]
    return max(known) if known else None


def raise_heap(current: int, mem_total: t.Optional[int], factor: float = 1.5, reserve: int = 4 * 1024 ** 3,
               round_to: int = 256 * 1024 ** 2) -> t.Dict[str, t.Any]:
    """The next max heap after ``current``: ``current * factor`` rounded UP to ``round_to``, capped by the host's
    memory minus ``reserve`` (rounded DOWN), and never below ``current``.

    Returns ``{current, target, cap, raised, capped}``; ``raised`` is false when the cap leaves no room.
    ValueError for inputs that could not raise anything (factor <= 1, a non-positive size).
    """
    if current <= 0:
        raise ValueError("the current max heap must be a positive size, got %r" % (current,))
    if factor <= 1:
        raise ValueError("the raise factor must be more than 1 (1.5 = +50%%), got %r" % (factor,))
    if round_to <= 0 or reserve < 0:
        raise ValueError("round_to must be positive and the memory reserve not negative")
    want = -(-int(current * factor) // round_to) * round_to
    cap = None
    if mem_total:
        cap = max(mem_total - reserve, 0) // round_to * round_to
    target = want if cap is None else min(want, cap)
    target = max(target, current)
    return {"current": current, "target": target, "cap": cap, "raised": target > current,
            "capped": cap is not None and want > cap}
