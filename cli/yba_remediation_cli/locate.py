"""Find the collection (checkout or installed), its playbooks and inventories."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from yba_remediation_cli.errors import UsageError

NAMESPACE, NAME = "yba", "remediation"
FQCN_PREFIX = f"{NAMESPACE}.{NAME}."
DEFAULT_INVENTORY = "inventory/lab"


def _is_collection_root(path: Path) -> bool:
    galaxy = path / "galaxy.yml"
    if not galaxy.is_file():
        return (path / "MANIFEST.json").is_file() and path.parts[-2:] == (NAMESPACE, NAME)
    try:
        meta = yaml.safe_load(galaxy.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return False
    return meta.get("namespace") == NAMESPACE and meta.get("name") == NAME


def _collection_search_paths() -> list[Path]:
    paths = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    search = [Path(p).expanduser() for p in paths.split(os.pathsep) if p]
    search += [Path("~/.ansible/collections").expanduser(), Path("/usr/share/ansible/collections")]
    return [p / "ansible_collections" / NAMESPACE / NAME for p in search]


def find_collection_root(start: Path | None = None) -> Path:
    """Return the collection root: $YBA_REMEDIATION_ROOT, the checkout this package lives in, or an installed copy."""
    explicit = os.environ.get("YBA_REMEDIATION_ROOT")
    if explicit:
        root = Path(explicit).resolve()
        if not _is_collection_root(root):
            raise UsageError(f"YBA_REMEDIATION_ROOT={explicit} is not the yba.remediation collection")
        return root
    candidates: list[Path] = []
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        candidates += [origin, *origin.parents]
    candidates += _collection_search_paths()
    for candidate in candidates:
        if _is_collection_root(candidate):
            return candidate.resolve()
    raise UsageError("cannot find the yba.remediation collection: set YBA_REMEDIATION_ROOT to its directory")


def resolve_playbook(root: Path, spec: str) -> Path:
    """A playbook given as a name (`diagnose`), an FQCN (`yba.remediation.diagnose`) or a path."""
    path = Path(spec).expanduser()
    if path.suffix in (".yml", ".yaml") or os.sep in spec:
        if path.is_file():
            return path.resolve()
        raise UsageError(f"playbook file not found: {spec}")
    name = spec[len(FQCN_PREFIX):] if spec.startswith(FQCN_PREFIX) else spec
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise UsageError(f"not a playbook name: {spec}")
    for suffix in (".yml", ".yaml"):
        candidate = root / "playbooks" / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    known = ", ".join(book for book, _desc in list_playbooks(root)) or "none"
    raise UsageError(f"unknown playbook {spec!r} (known: {known})")


def resolve_inventories(root: Path, specs: list[str] | None) -> list[str]:
    """Absolute inventory paths (ansible-runner treats a relative string as inline inventory text)."""
    if not specs:
        specs = [str(root / DEFAULT_INVENTORY)]
    resolved = []
    for spec in specs:
        if "," in spec and not os.path.exists(spec):
            resolved.append(spec)  # an inline host list such as "localhost,"
            continue
        path = Path(spec).expanduser()
        if not path.exists():
            raise UsageError(f"inventory not found: {spec}")
        resolved.append(str(path.resolve()))
    return resolved


def describe_playbook(path: Path) -> str:
    """The playbook's header comment, else the name of its first play."""
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("", "---") or stripped.startswith("#!"):
            continue
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()
        break
    try:
        plays = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    if isinstance(plays, list) and plays and isinstance(plays[0], dict):
        return str(plays[0].get("name", ""))
    return ""


def list_playbooks(root: Path) -> list[tuple[str, str]]:
    """(name, description) of every playbook of the collection, sorted by name."""
    directory = root / "playbooks"
    if not directory.is_dir():
        return []
    books = sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    return [(p.stem, describe_playbook(p)) for p in books]
