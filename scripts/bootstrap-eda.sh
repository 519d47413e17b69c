#!/usr/bin/env bash
# Bootstrap the ansible-rulebook venv of the live EDA test (tests/unit/extensions/test_eda_live.py): pinned, idempotent.
# A venv of its own: ansible-rulebook's JVM bridge (jpy, drools_jpy) stays out of the main venv's pin set.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YBA_EDA_VENV:-$REPO/.build/eda-venv}"
PYTHON="${PYTHON:-python3}"
REQUIREMENTS="$REPO/requirements/eda.txt"

log() { printf 'bootstrap-eda: %s\n' "$*"; }

java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    else
        command -v java || true
    fi
}

# ansible-rulebook runs its rules in Drools, on Java 17 or later (bootstrap.sh installs openjdk-17-jre-headless)
check_java() {
    local java major
    java="$(java_bin)"
    [ -n "$java" ] || { log "no java on PATH nor in JAVA_HOME: install Java 17+ (scripts/bootstrap.sh does)"; exit 1; }
    major="$("$java" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1)"
    if [ -z "$major" ] || [ "$major" -lt 17 ]; then
        log "$java is Java ${major:-of an unknown version}: ansible-rulebook needs 17 or later"
        exit 1
    fi
}

# The stamp is a digest of the venv's inputs (the pins and the Python): when neither changed, pip is not run at all.
venv_digest() {
    { cat "$REQUIREMENTS"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1
}

install_venv() {
    local stamp="$VENV/.yba-bootstrap-eda" digest
    digest="$(venv_digest)"
    if [ -x "$VENV/bin/ansible-rulebook" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    rm -f "$stamp"
    # a venv of another Python (an upgrade of $PYTHON) is rebuilt, not patched
    if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print(sys.version)')" != \
            "$("$PYTHON" -c 'import sys; print(sys.version)')" ]; then
        log "rebuilding $VENV for $("$PYTHON" --version)"
        rm -rf "$VENV"
    fi
    [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
    log "installing pinned ansible-rulebook into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
    # the check ansible-rulebook itself makes of its JVM: fails here, not in the test, when Java is unusable
    "$VENV/bin/ansible-rulebook" --version >/dev/null
    printf '%s\n' "$digest" > "$stamp"
}

check_java
install_venv
log "ready (ansible-rulebook: $VENV/bin/ansible-rulebook)"
