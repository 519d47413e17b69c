"""Vendor the argument specs of the awx.awx modules extensions/awx/apply.yml uses, as JSON data.

awx.awx is not installed here (no AWX server, no galaxy access), so tests/unit/extensions/test_awx_specs.py validates
apply.yml's tasks against these files. Each file records the ansible/awx commit it was read from. Refresh with:

    git clone https://github.com/ansible/awx /tmp/awx   # or any git dir holding ansible/awx
    python tests/unit/extensions/awx_specs.py --git-dir /tmp/awx/.git [--commit <sha or tag>]

The spec is read by running the module's main() with ControllerAPIModule replaced by a recorder that stops at the
constructor, so specs built from module constants (credential_type's KIND_CHOICES) come out as the module builds
them; the common connection options are ControllerModule.AUTH_ARGSPEC of module_utils/controller_api.py.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OUT = HERE / "awx_specs"
MODULES = "awx_collection/plugins/modules"
CONTROLLER_API = "awx_collection/plugins/module_utils/controller_api.py"
ENV_FALLBACK = "env_fallback"
GALAXY = "namespace: awx\nname: awx\nversion: {version}\nreadme: README.md\nauthors: [AWX Project Contributors]\n"
KWARGS = ("mutually_exclusive", "required_if", "required_one_of", "required_together", "required_by")


def used_modules(playbook: Path) -> list[str]:
    """The awx.awx modules the plays of a playbook call."""
    names = set()
    for play in yaml.safe_load(playbook.read_text(encoding="utf-8")):
        for task in play.get("tasks", []):
            names.update(key.split(".", 2)[2] for key in task if key.startswith("awx.awx."))
    return sorted(names)


def git_show(git_dir: str, commit: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def auth_argspec(source: str) -> dict:
    """ControllerModule.AUTH_ARGSPEC, evaluated with env_fallback as a marker."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "ControllerModule":
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and getattr(stmt.targets[0], "id", "") == "AUTH_ARGSPEC":
                    code = compile(ast.Expression(stmt.value), CONTROLLER_API, "eval")
                    return eval(code, {"__builtins__": {}, "dict": dict, "env_fallback": ENV_FALLBACK})  # noqa: S307
    raise SystemExit(f"{CONTROLLER_API}: no ControllerModule.AUTH_ARGSPEC")


class _Captured(Exception):
    def __init__(self, argument_spec, kwargs):
        super().__init__("captured")
        self.argument_spec = argument_spec
        self.kwargs = kwargs


class _Recorder:
    """Stands in for ControllerAPIModule: records what main() builds, then stops it."""

    def __init__(self, argument_spec=None, **kwargs):
        raise _Captured(argument_spec, kwargs)


def module_spec(name: str, source: str) -> dict:
    package = "_awx_spec_probe"
    utils = types.ModuleType(f"{package}.module_utils.controller_api")
    utils.ControllerAPIModule = utils.ControllerAWXKitModule = _Recorder
    for mod in (package, f"{package}.modules", f"{package}.module_utils"):
        sys.modules.setdefault(mod, types.ModuleType(mod)).__path__ = []
    sys.modules[utils.__name__] = utils
    namespace = {"__name__": f"{package}.modules.{name}", "__package__": f"{package}.modules"}
    exec(compile(source, f"{MODULES}/{name}.py", "exec"), namespace)  # noqa: S102 - the module's own source, by design
    try:
        namespace["main"]()
    except _Captured as captured:
        return {"argument_spec": captured.argument_spec,
                **{key: captured.kwargs[key] for key in KWARGS if key in captured.kwargs}}
    raise SystemExit(f"{name}: main() did not build a ControllerAPIModule")


def jsonable(value):
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def install_collection(git_dir: str, commit: str, names: list[str], root: Path) -> Path:
    """A minimal awx.awx collection under root/ansible_collections/awx/awx, from the ansible/awx source at commit:
    the given modules and their module_utils (awx_collection/ is GPL-3.0 code of ansible/awx: it is installed at test
    time, never committed here). Returns the collections root for ANSIBLE_COLLECTIONS_PATH."""
    files = {f"{MODULES}/{name}.py": git_show(git_dir, commit, f"{MODULES}/{name}.py") for name in names}
    files[CONTROLLER_API] = git_show(git_dir, commit, CONTROLLER_API)
    files["awx_collection/COPYING"] = git_show(git_dir, commit, "awx_collection/COPYING")
    files["awx_collection/galaxy.yml"] = GALAXY.format(version="0.0.1")
    for path, text in files.items():
        target = root / "ansible_collections" / "awx" / "awx" / path.split("/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", required=True, help="a git dir holding ansible/awx")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("modules", nargs="*", help="default: the awx.awx modules extensions/awx/apply.yml uses")
    args = parser.parse_args()
    commit = subprocess.run(["git", "--git-dir", args.git_dir, "rev-parse", f"{args.commit}^{{commit}}"], check=True,
                            capture_output=True, text=True).stdout.strip()
    describe = subprocess.run(["git", "--git-dir", args.git_dir, "describe", "--tags", commit], capture_output=True, check=False,
                              text=True).stdout.strip()
    auth = auth_argspec(git_show(args.git_dir, commit, CONTROLLER_API))
    OUT.mkdir(exist_ok=True)
    names = args.modules or used_modules(REPO / "extensions" / "awx" / "apply.yml")
    for name in names:
        path = f"{MODULES}/{name}.py"
        spec = module_spec(name, git_show(args.git_dir, commit, path))
        spec["argument_spec"] = {**auth, **spec["argument_spec"]}  # as ControllerModule.__init__ merges them
        document = {"module": f"awx.awx.{name}",
                    "source": {"repository": "https://github.com/ansible/awx", "commit": commit, "describe": describe,
                               "path": path, "auth_argspec": CONTROLLER_API},
                    **jsonable(spec)}
        (OUT / f"{name}.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{OUT.relative_to(REPO)}/{name}.json: {len(spec['argument_spec'])} options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
