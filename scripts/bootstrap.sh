#!/usr/bin/env bash
# Bootstrap a checkout: OS packages, the pinned venv, the CLI and the collection symlink. Idempotent and fast when done.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YBA_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
APT_PACKAGES=(postgresql-15 postgresql-contrib openssh-server sudo openssl git make python3-venv shellcheck chromium)

log() { printf 'bootstrap: %s\n' "$*"; }

apt_missing() {
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
    done
}

install_os_packages() {
    command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: install ${APT_PACKAGES[*]} yourself"; return 0; }
    local missing
    mapfile -t missing < <(apt_missing)
    [ "${#missing[@]}" -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    log "installing OS packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The stamp is a digest of every input of the venv: when none changed, pip is not run at all.
venv_digest() {
    cat "$REPO"/requirements/*.txt "$REPO/cli/pyproject.toml" | sha256sum | cut -d' ' -f1
}

install_venv() {
    local stamp="$VENV/.yba-bootstrap" digest
    digest="$(venv_digest)"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
    log "installing pinned Python packages into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$REPO/requirements/test.txt" -c "$REPO/requirements/constraints.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$REPO/cli"
    printf '%s\n' "$digest" > "$stamp"
}

link_collection() {
    local parent="$REPO/.build/collections/ansible_collections/yba" link
    link="$parent/remediation"
    mkdir -p "$parent"
    if [ "$(readlink "$link" 2>/dev/null)" != "$REPO" ]; then
        rm -rf "$link"
        ln -s "$REPO" "$link"
    fi
}

install_os_packages
install_venv
link_collection
log "ready (venv: $VENV, collection: $REPO/.build/collections)"
