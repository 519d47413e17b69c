#!/usr/bin/env bash
# Bootstrap a checkout: OS packages, the pinned venv, the CLI and the collection symlink. Idempotent and fast when done.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YBA_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
# openjdk-17-jre-headless: ansible-rulebook's rule engine (scripts/bootstrap-eda.sh)
APT_PACKAGES=(postgresql-15 postgresql-contrib openssh-server sudo openssl git make python3-venv shellcheck chromium
              openjdk-17-jre-headless)

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
    cat "$REPO/requirements/test.txt" "$REPO/requirements/constraints.txt" "$REPO/cli/pyproject.toml" \
        | sha256sum | cut -d' ' -f1
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

# awx.awx for tests/unit/extensions/test_awx_live.py (extensions/awx/apply.yml run against a fake AWX). Galaxy may be
# unreachable, so it comes from PyPI: the pinned `ansible` community package wheel bundles awx.awx (ansible 11.13.0 ->
# awx.awx 24.6.1). Only ansible_collections/awx/awx is extracted, the wheel (57 MB) is deleted; both stay out of git.
AWX_WHEEL_VERSION=11.13.0
AWX_WHEEL_SHA256=7f1c9c6a6026ff214d9240647e4d2b019b2a9d4c7a2bc733932bcf92af80ab04
AWX_COLLECTION_VERSION=24.6.1

install_awx_collection() {
    local root="$REPO/.build/awx-collections" stamp stamped
    stamp="$root/.yba-bootstrap"
    stamped="ansible==$AWX_WHEEL_VERSION sha256:$AWX_WHEEL_SHA256 awx.awx==$AWX_COLLECTION_VERSION"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamped" ] \
        && [ -f "$root/ansible_collections/awx/awx/MANIFEST.json" ]; then
        return 0
    fi
    local tmp="$REPO/.build/awx-wheel"
    rm -rf "$tmp" && mkdir -p "$tmp"
    log "fetching awx.awx $AWX_COLLECTION_VERSION from PyPI (ansible==$AWX_WHEEL_VERSION wheel, sha256 pinned)"
    printf 'ansible==%s --hash=sha256:%s\n' "$AWX_WHEEL_VERSION" "$AWX_WHEEL_SHA256" > "$tmp/requirements.txt"
    # --require-hashes: pip refuses a wheel whose sha256 differs from the pin
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --require-hashes -r "$tmp/requirements.txt" -d "$tmp"
    rm -rf "$root.new"
    "$VENV/bin/python" - "$tmp/ansible-$AWX_WHEEL_VERSION-py3-none-any.whl" "$root.new" "$AWX_COLLECTION_VERSION" <<'PY'
import json, sys, zipfile
wheel, dest, version = sys.argv[1:]
prefix = "ansible_collections/awx/awx/"
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith(prefix)]
    if not members:
        sys.exit(f"{wheel}: no {prefix}")
    archive.extractall(dest, members)
manifest = json.load(open(f"{dest}/{prefix}MANIFEST.json", encoding="utf-8"))["collection_info"]
if manifest["version"] != version:
    sys.exit(f"{wheel}: awx.awx {manifest['version']}, expected {version}")
PY
    rm -rf "$root" "$tmp"
    mv "$root.new" "$root"
    printf '%s\n' "$stamped" > "$stamp"
}

install_os_packages
install_venv
link_collection
install_awx_collection
"$REPO/scripts/bootstrap-eda.sh"
log "ready (venv: $VENV, collections: $REPO/.build/collections, $REPO/.build/awx-collections)"
