#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection, with the offline get-pip stand-in in ansible-test's cache.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YBA_VENV:-$REPO/.venv}"
export PATH="$VENV/bin:$PATH"

# The pip version ansible-test bootstraps into its venvs, read from ansible-test itself so an upgrade keeps working.
reqs="$("$VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py"
pip_version="$(sed -n "s/^ *pip='\([0-9.]*\)',.*/\1/p" "$reqs" | head -n 1)"
[ -n "$pip_version" ] || { echo "sanity: cannot read ansible-test's pip version from $reqs" >&2; exit 1; }
# ansible-test keeps its sanity venvs under ~/.ansible/test, shared by every run on the machine: concurrent runs
# from other checkouts reinstall them under our feet. A HOME of our own isolates them (and the pip stand-in).
export HOME="$REPO/.build/sanity/home"
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$REPO/tests/sanity/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"

if compgen -G "$REPO/tests/sanity/ignore-*.txt" >/dev/null; then
    echo "sanity: ignore files are not allowed: $(ls "$REPO"/tests/sanity/ignore-*.txt)" >&2
    exit 1
fi

# ansible-test resolves symlinks when it delegates to its venv, so it needs a real ansible_collections/yba/remediation
# path: a copy of the files its git provider would test (tracked + untracked, not ignored, not deleted). The copy's
# tests/output (ansible-test's venvs) survives between runs, which keeps a warm run fast.
COPY="$REPO/.build/sanity/ansible_collections/yba/remediation"
mkdir -p "$COPY"
exec 9>"$REPO/.build/sanity/.lock"
flock 9  # one sanity run per checkout at a time: the copy is shared
find "$COPY" -mindepth 1 -maxdepth 1 ! -name tests ! -name .git -exec rm -rf {} +
[ -d "$COPY/tests" ] && find "$COPY/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
# YBA_SANITY_SOURCE=head tests the last commit only (useful in a working tree shared with unfinished work).
if [ "${YBA_SANITY_SOURCE:-worktree}" = "head" ]; then
    git -C "$REPO" archive HEAD | tar -C "$COPY" -xf -
else
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard --deduplicate) \
        | (cd "$REPO" && python3 -c 'import os, sys; sys.stdout.buffer.write(b"".join(p + b"\0" for p in sys.stdin.buffer.read().split(b"\0") if p and os.path.lexists(p)))') \
        | tar -C "$REPO" --null -T - -cf - | tar -C "$COPY" -xf -
fi
# the copy lives inside this checkout's (ignored) .build: give it its own git index so ansible-test lists its files
cd "$COPY"
rm -rf .git && git init -q && git add -A
exec ansible-test sanity --venv --python "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --color no "$@"
