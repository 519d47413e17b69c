# The host Python floor: modules and module_utils run on the YBA host's Python, whose floor is 3.8 (ansible-core
# 2.18+ supports target Python 3.8 and later; RHEL 8's platform-python 3.6 is below it). This test parses every
# file under plugins/modules and plugins/module_utils as Python 3.8 and scans the AST for what 3.8 lacks at run
# time: syntax (match, except*, type aliases), builtin generics subscripted outside annotations (dict[str, int]),
# `X | Y` of types or of dicts, stdlib names and methods added after 3.8. It names file:line of each finding.
#
# Practical, not complete: a method is flagged by its name (removeprefix), a name by its import; a dict union is
# flagged when one operand is a dict display, a dict comprehension or a dict() call.
from __future__ import annotations

import ast
import os
import typing as t

import pytest

FLOOR = (3, 8)
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST_DIRS = ("plugins/modules", "plugins/module_utils")

BUILTIN_GENERICS = {"dict", "list", "tuple", "set", "frozenset", "type"}
# stdlib classes subscriptable at run time only from 3.9 (PEP 585); collections.abc.* are all of them
STDLIB_GENERICS = {"collections.OrderedDict", "collections.defaultdict", "collections.deque", "collections.Counter",
                   "collections.ChainMap", "contextlib.AbstractContextManager", "contextlib.AbstractAsyncContextManager",
                   "re.Pattern", "re.Match", "os.PathLike", "os.DirEntry", "queue.Queue", "queue.SimpleQueue",
                   "subprocess.Popen", "subprocess.CompletedProcess", "functools.partial"}
TYPE_NAMES = BUILTIN_GENERICS | {"int", "float", "str", "bytes", "bool", "complex", "object", "None"}
# module -> names added after 3.8 (the version that added them)
NEW_NAMES: t.Dict[str, t.Dict[str, str]] = {
    "math": {"lcm": "3.9", "nextafter": "3.9", "ulp": "3.9", "cbrt": "3.11", "exp2": "3.11", "sumprod": "3.12"},
    "functools": {"cache": "3.9"},
    "itertools": {"pairwise": "3.10", "batched": "3.12"},
    "os": {"waitstatus_to_exitcode": "3.9", "pidfd_open": "3.9", "eventfd": "3.10", "splice": "3.10",
           "process_cpu_count": "3.13"},
    "random": {"randbytes": "3.9"},
    "asyncio": {"to_thread": "3.9", "timeout": "3.11", "TaskGroup": "3.11", "Runner": "3.11"},
    "ast": {"unparse": "3.9"},
    "sys": {"orig_argv": "3.10", "stdlib_module_names": "3.10", "exception": "3.11"},
    "inspect": {"get_annotations": "3.10"},
    "contextlib": {"chdir": "3.11", "aclosing": "3.10"},
    "datetime": {"UTC": "3.11"},
    "enum": {"StrEnum": "3.11", "verify": "3.11", "ReprEnum": "3.11"},
    "hashlib": {"file_digest": "3.11"},
    "operator": {"call": "3.11"},
    "string": {},
    "typing": {"Annotated": "3.9", "TypeAlias": "3.10", "ParamSpec": "3.10", "Concatenate": "3.10",
               "TypeGuard": "3.10", "is_typeddict": "3.10", "Self": "3.11", "LiteralString": "3.11",
               "Never": "3.11", "assert_never": "3.11", "assert_type": "3.11", "reveal_type": "3.11",
               "Required": "3.11", "NotRequired": "3.11", "Unpack": "3.11", "TypeVarTuple": "3.11",
               "dataclass_transform": "3.11", "override": "3.12", "TypeAliasType": "3.12", "TypeIs": "3.13",
               "ReadOnly": "3.13"},
}
NEW_MODULES = {"zoneinfo": "3.9", "graphlib": "3.9", "tomllib": "3.11"}
NEW_BUILTINS = {"aiter": "3.10", "anext": "3.10", "ExceptionGroup": "3.11", "BaseExceptionGroup": "3.11",
                "EncodingWarning": "3.10"}
# methods of builtin / stdlib types added after 3.8, flagged by attribute name
NEW_METHODS = {"removeprefix": "3.9 (str/bytes)", "removesuffix": "3.9 (str/bytes)", "bit_count": "3.10 (int)",
               "is_relative_to": "3.9 (pathlib)", "with_stem": "3.9 (pathlib)", "hardlink_to": "3.10 (pathlib)",
               "is_integer_ratio": "3.8"}
# keyword arguments added after 3.8: call name -> {keyword: version}
NEW_KEYWORDS = {"zip": {"strict": "3.10"}, "dataclass": {"slots": "3.10", "kw_only": "3.10", "weakref_slot": "3.11"},
                "realpath": {"strict": "3.10"}}
NEW_NODES = {"Match": "match statement (3.10)", "TryStar": "except* (3.11)", "TypeAlias": "type statement (3.12)"}


class FloorScanner(ast.NodeVisitor):
    """Collects (line, message) for every feature newer than FLOOR used at run time."""

    def __init__(self, future_annotations: bool) -> None:
        self.findings: t.List[t.Tuple[int, str]] = []
        self.future_annotations = future_annotations
        self.in_annotation = 0
        self.aliases: t.Dict[str, str] = {}  # local name -> module or module.name

    # ---- helpers
    def add(self, node: ast.AST, msg: str) -> None:
        self.findings.append((getattr(node, "lineno", 0), msg))

    def qualname(self, node: ast.AST) -> t.Optional[str]:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return None if base is None else base + "." + node.attr
        return None

    def annotation(self, node: t.Optional[ast.AST]) -> None:
        """Visit an annotation: not evaluated under `from __future__ import annotations`."""
        if node is None:
            return
        if self.future_annotations:
            self.in_annotation += 1
            self.visit(node)
            self.in_annotation -= 1
        else:
            self.visit(node)

    # ---- syntax
    def generic_visit(self, node: ast.AST) -> None:
        name = type(node).__name__
        if name in NEW_NODES:
            self.add(node, NEW_NODES[name])
        super().generic_visit(node)

    # ---- imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in NEW_MODULES:
                self.add(node, "module %s is new in Python %s" % (alias.name, NEW_MODULES[top]))
            if alias.asname:  # import os.path as osp -> osp is os.path
                self.aliases[alias.asname] = alias.name
            else:  # import collections.abc -> binds collections
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0 and module.split(".")[0] in NEW_MODULES:
            self.add(node, "module %s is new in Python %s" % (module, NEW_MODULES[module.split(".")[0]]))
        for alias in node.names:
            added = NEW_NAMES.get(module, {}).get(alias.name)
            if node.level == 0 and added:
                self.add(node, "%s.%s is new in Python %s" % (module, alias.name, added))
            if node.level == 0:
                self.aliases[alias.asname or alias.name] = "%s.%s" % (module, alias.name)

    # ---- annotations
    def visit_FunctionDef(self, node: t.Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        args = node.args
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]:
            self.annotation(arg.annotation)
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        self.annotation(node.returns)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.annotation(node.annotation)
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    # ---- expressions
    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not self.in_annotation:
            qual = self.qualname(node.value)
            if isinstance(node.value, ast.Name) and node.value.id in BUILTIN_GENERICS and qual == node.value.id:
                self.add(node, "%s[...] outside an annotation needs Python 3.9 (use typing.%s)"
                         % (node.value.id, node.value.id.capitalize() if node.value.id != "frozenset" else "FrozenSet"))
            elif qual and (qual in STDLIB_GENERICS or qual.startswith("collections.abc.")):
                self.add(node, "%s[...] outside an annotation needs Python 3.9 (use the typing alias)" % qual)
        self.generic_visit(node)

    def _is_type(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and node.value is None:
            return True
        if isinstance(node, ast.Name):
            return node.id in TYPE_NAMES
        if isinstance(node, ast.Subscript):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._is_type(node.left) or self._is_type(node.right)
        return False

    @staticmethod
    def _is_dict(node: ast.AST) -> bool:
        return isinstance(node, (ast.Dict, ast.DictComp)) or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.BitOr) and not self.in_annotation:
            if self._is_dict(node.left) or self._is_dict(node.right):
                self.add(node, "dict | dict needs Python 3.9 (use dict(a, **b) or {**a, **b})")
            elif self._is_type(node.left) and self._is_type(node.right):
                self.add(node, "X | Y of types outside an annotation needs Python 3.10 (use typing.Union)")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.BitOr) and self._is_dict(node.value):
            self.add(node, "dict |= dict needs Python 3.9 (use dict.update)")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self.in_annotation:
            if node.attr in NEW_METHODS and NEW_METHODS[node.attr] != "3.8":
                self.add(node, ".%s() is new in Python %s" % (node.attr, NEW_METHODS[node.attr]))
            qual = self.qualname(node)
            if qual and "." in qual:
                module, name = qual.rsplit(".", 1)
                added = NEW_NAMES.get(module, {}).get(name)
                if added:
                    self.add(node, "%s is new in Python %s" % (qual, added))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in NEW_BUILTINS and node.id not in self.aliases and not self.in_annotation:
            self.add(node, "builtin %s is new in Python %s" % (node.id, NEW_BUILTINS[node.id]))

    def visit_Call(self, node: ast.Call) -> None:
        qual = self.qualname(node.func) or ""
        short = qual.rsplit(".", 1)[-1]
        for kw in node.keywords:
            added = NEW_KEYWORDS.get(short, {}).get(kw.arg or "")
            if added:
                self.add(node, "%s(%s=...) is new in Python %s" % (short, kw.arg, added))
        self.generic_visit(node)


def has_future_annotations(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
               for n in tree.body)


def scan_source(source: str, filename: str = "<src>") -> t.List[str]:
    """Findings of one source as 'file:line: message' (a syntax error of Python 3.8 is one finding)."""
    try:
        tree = ast.parse(source, filename=filename, feature_version=FLOOR)
    except SyntaxError as exc:
        return ["%s:%s: not Python %d.%d syntax: %s" % (filename, exc.lineno, FLOOR[0], FLOOR[1], exc.msg)]
    scanner = FloorScanner(has_future_annotations(tree))
    scanner.visit(tree)
    return ["%s:%d: %s" % (filename, line, msg) for line, msg in sorted(scanner.findings)]


def host_files() -> t.List[str]:
    found = []
    for sub in HOST_DIRS:
        for dirpath, _dirs, files in os.walk(os.path.join(REPO, sub)):
            found += [os.path.join(dirpath, f) for f in files if f.endswith(".py")]
    return sorted(found)


def test_host_code_runs_on_the_python_floor():
    files = host_files()
    assert len(files) > 10, "no host code found under %s" % ", ".join(HOST_DIRS)
    findings = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            findings += scan_source(handle.read(), os.path.relpath(path, REPO))
    assert findings == [], "host code needs more than Python %d.%d:\n%s" % (FLOOR[0], FLOOR[1], "\n".join(findings))


# ---- the scanner finds what it claims to find (each snippet fails on 3.8 at run time)

FLAGGED = [
    ("x = dict[str, int]\n", "dict[...] outside an annotation"),
    ("import typing as t\nX = t.Optional[list[str]]\n", "list[...] outside an annotation"),
    ("import typing as t\ny = t.cast(tuple[int, ...], z)\n", "tuple[...] outside an annotation"),
    ("def f(a: dict[str, int]) -> None:\n    pass\n", "dict[...] outside an annotation"),  # no __future__
    ("import collections.abc\nM = collections.abc.Mapping[str, int]\n", "collections.abc.Mapping[...]"),
    ("import os\ndef f(p=os.PathLike[str]):\n    pass\n", "os.PathLike[...]"),
    ("from collections import OrderedDict\nD = OrderedDict[str, int]\n", "collections.OrderedDict[...]"),
    ("s = 'ab'.removeprefix('a')\n", ".removeprefix() is new in Python 3.9"),
    ("s = name.removesuffix('.gz')\n", ".removesuffix() is new in Python 3.9"),
    ("import math\nm = math.lcm(2, 3)\n", "math.lcm is new in Python 3.9"),
    ("from math import lcm\n", "math.lcm is new in Python 3.9"),
    ("import functools\n@functools.cache\ndef f():\n    pass\n", "functools.cache is new in Python 3.9"),
    ("from functools import cache\n", "functools.cache is new in Python 3.9"),
    ("import zoneinfo\n", "module zoneinfo is new in Python 3.9"),
    ("from zoneinfo import ZoneInfo\n", "module zoneinfo is new in Python 3.9"),
    ("import tomllib\n", "module tomllib is new in Python 3.11"),
    ("a = {'x': 1} | b\n", "dict | dict needs Python 3.9"),
    ("a = b | dict(x=1)\n", "dict | dict needs Python 3.9"),
    ("a |= {'x': 1}\n", "dict |= dict needs Python 3.9"),
    ("ok = isinstance(x, int | str)\n", "X | Y of types outside an annotation needs Python 3.10"),
    ("def f(a: int | None):\n    pass\n", "X | Y of types outside an annotation"),  # no __future__
    ("match x:\n    case 1:\n        pass\n", "not Python 3.8 syntax"),
    ("import typing as t\nA = t.TypeAlias\n", "typing.TypeAlias is new in Python 3.10"),
    ("from typing import ParamSpec\n", "typing.ParamSpec is new in Python 3.10"),
    ("pairs = zip(a, b, strict=True)\n", "zip(strict=...) is new in Python 3.10"),
    ("from dataclasses import dataclass\n@dataclass(slots=True)\nclass A:\n    pass\n", "dataclass(slots=...)"),
    ("import itertools\np = itertools.pairwise(a)\n", "itertools.pairwise is new in Python 3.10"),
    ("n = (5).bit_count()\n", ".bit_count() is new in Python 3.10"),
    ("x = anext(it)\n", "builtin anext is new in Python 3.10"),
]

CLEAN = [
    "from __future__ import annotations\nimport typing as t\ndef f(a: dict[str, int] | None) -> list[str]:\n    return []\n",
    "from __future__ import annotations\nx: dict[str, int] = {}\n",
    "import typing as t\nX = t.Dict[str, t.List[int]]\ny = t.cast('dict[str, int]', z)\n",
    "flags = a | b\nmode = os.O_RDONLY | os.O_NOFOLLOW\n",
    "import os\nhome = os.environ['HOME']\nfirst = sys.argv[1]\n",
    "merged = dict(a, **b)\nmerged = {**a, **b}\n",
    "if (n := len(a)) > 1:\n    pass\n",
    "import math\nr = math.isqrt(9)\n",
    "import functools\n@functools.lru_cache(maxsize=None)\ndef f():\n    pass\n",
    "def f(a, /, b):\n    pass\n",
    "s = text.strip().split(':')\n",
    "from typing import Literal, Final, Protocol, TypedDict\n",
]


@pytest.mark.parametrize("source, message", FLAGGED)
def test_scanner_flags_features_newer_than_the_floor(source, message):
    findings = scan_source(source, "x.py")
    assert findings, "not flagged: %r" % source
    assert any(message in f for f in findings), findings
    assert all(f.startswith("x.py:") for f in findings)


@pytest.mark.parametrize("source", CLEAN)
def test_scanner_passes_what_the_floor_has(source):
    assert scan_source(source, "x.py") == []
