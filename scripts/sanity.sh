#!/usr/bin/env bash
# ansible-test sanity from the collection path, with the offline get-pip stand-in in ansible-test's cache.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YBA_VENV:-$REPO/.venv}"
export PATH="$VENV/bin:$PATH"

# The pip version ansible-test bootstraps into its venvs, read from ansible-test itself so an upgrade keeps working.
reqs="$("$VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py"
pip_version="$(sed -n "s/^ *pip='\([0-9.]*\)',.*/\1/p" "$reqs" | head -n 1)"
[ -n "$pip_version" ] || { echo "sanity: cannot read ansible-test's pip version from $reqs" >&2; exit 1; }
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$REPO/tests/sanity/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"

if compgen -G "$REPO/tests/sanity/ignore-*.txt" >/dev/null; then
    echo "sanity: ignore files are not allowed: $(ls "$REPO"/tests/sanity/ignore-*.txt)" >&2
    exit 1
fi

cd "$REPO/.build/collections/ansible_collections/yba/remediation"
exec ansible-test sanity --venv --python "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --color no "$@"
