#!/usr/bin/env bash
# shellcheck disable=SC2317  # the stage_* functions are called indirectly ("stage_$name"), which shellcheck cannot see
# Test orchestration: run the named stages (default: all), keep going after a failure, print a summary, exit non-zero
# if any stage failed. The lab is brought up for the stages that need it and ALWAYS brought down again.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${YBA_VENV:-$REPO/.venv}"
export PATH="$VENV/bin:$PATH"
export YBA_LAB_DIR="${YBA_LAB_DIR:-/tmp/yba-lab}"
export ANSIBLE_COLLECTIONS_PATH="$REPO/.build/collections"
export PYTHONDONTWRITEBYTECODE=1
# Every stage runs as CI runs it (.ci/run -> make test -> here): a test whose prerequisite is missing fails instead
# of skipping (tests/unit/plugins/modules/test_metadb_pg.py). CI=false keeps the skips on a workstation.
export CI="${CI:-true}"
COLLECTION="$REPO/.build/collections/ansible_collections/yba/remediation"
ALL_STAGES=(sanity units lint build docs changelog lab-up lab-tests integration fleet)
LAB_STAGES=" lab-tests integration "

cd "$REPO" || exit 1

# pytest exits 5 when it collected nothing: that is a failure here, never a silent pass.
run_pytest() {
    python -m pytest -p no:cacheprovider "$@"
    local rc=$?
    [ "$rc" -eq 5 ] && echo "pytest collected no tests in: $*" >&2
    return "$rc"
}

lab() { PYTHONPATH="$REPO/tests/lab${PYTHONPATH:+:$PYTHONPATH}" python -m ybalab "$@"; }

stage_sanity() { "$REPO/scripts/sanity.sh"; }

stage_units() {
    local paths=(cli/tests)
    [ -d tests/unit ] && paths=(tests/unit "${paths[@]}")
    run_pytest -q "${paths[@]}"
}

stage_lint() {
    ansible-lint --offline --profile production --nocolor
}

stage_build() {
    mkdir -p .build/dist && ansible-galaxy collection build --force --output-path .build/dist "$COLLECTION"
}

# Every module must render with ansible-doc (catches broken DOCUMENTATION that sanity cannot see at import time).
stage_docs() {
    local module name failed=0 count=0
    for module in plugins/modules/*.py; do
        [ -e "$module" ] || continue
        name="$(basename "$module" .py)"
        [ "$name" = "__init__" ] && continue
        count=$((count + 1))
        if ! ansible-doc -t module "yba.remediation.$name" >/dev/null; then
            echo "ansible-doc failed for yba.remediation.$name" >&2
            failed=1
        fi
    done
    echo "ansible-doc rendered $count module(s)"
    ansible-doc -l yba.remediation >/dev/null || failed=1
    return "$failed"
}

stage_changelog() { antsibull-changelog lint; }

# A clean start: a lab dir left by an earlier run (up or not, maybe from another checkout) is taken down and removed.
fresh_lab_up() {
    if [ -f "$YBA_LAB_DIR/lab.json" ]; then
        echo "a lab was left in $YBA_LAB_DIR: taking it down and removing it for a clean start"
        lab down --purge >/dev/null 2>&1 || lab down --purge
    fi
    lab up
}

stage_lab-up() { fresh_lab_up; }

stage_lab-tests() { run_pytest -q tests/lab/tests; }

# Three labs, three parts at once: the role targets on the test lab; the runbook, CLI and API-fidelity tests and
# the targets in SECOND_TARGETS on a second lab; THIRD_FILES (the backup and storage repairs through the CLI) and the targets in THIRD_TARGETS on a
# third, so the parts take about as long (each part prints its slowest tests at its end; on 2 cores the parts slow
# each other down by about a third). A lab that does not start sends its part to the test lab.
# YBA_TEST_SERIAL=1: one lab, one pytest.
SECOND_TARGETS=(backup_reconcile restore_drill)
THIRD_TARGETS=(run_lock storage_config backup backup_restart backup_schedule backup_sla metadb_info disk_cleanup_safety platform_upgrade)
THIRD_FILES=(tests/integration/test_incident.py tests/integration/test_storage_config.py)
OTHER_LABS=()

integration_part() {  # integration_part <2|3>: that part's tests on the lab in $YBA_LAB_DIR
    local t ids=()
    case "$1" in
        2) for t in "${THIRD_FILES[@]}"; do ids+=(--deselect "$t"); done
           local k="not test_target"
           for t in "${SECOND_TARGETS[@]}"; do k+=" or test_target[$t]"; done
           run_pytest -v --durations=12 tests/integration -k "$k" "${ids[@]}" --ignore=tests/integration/test_fleet.py ;;
        3) for t in "${THIRD_TARGETS[@]}"; do ids+=("tests/integration/test_integration.py::test_target[$t]"); done
           run_pytest -v --durations=12 "${THIRD_FILES[@]}" "${ids[@]}" ;;
    esac
}

stage_integration() {
    if [ -n "${YBA_TEST_SERIAL:-}" ]; then
        run_pytest -v tests/integration --ignore=tests/integration/test_fleet.py
        return
    fi
    mkdir -p .build/logs
    local t n dir log rc=0 deselect=() parts=() pids=() left=()
    for t in "${SECOND_TARGETS[@]}" "${THIRD_TARGETS[@]}"; do
        deselect+=(--deselect "tests/integration/test_integration.py::test_target[$t]")
    done
    for n in 2 3; do
        dir="$YBA_LAB_DIR-$n"
        log=".build/logs/integration-$n.log"
        if YBA_LAB_DIR="$dir" fresh_lab_up > "$log" 2>&1; then
            OTHER_LABS+=("$dir")
            (YBA_LAB_DIR="$dir" integration_part "$n" >> "$log" 2>&1) &
            pids+=($!)
            parts+=("$n")
        else
            cat "$log"
            echo "lab $dir did not start: its tests run on $YBA_LAB_DIR after the role targets" >&2
            YBA_LAB_DIR="$dir" lab down >/dev/null 2>&1
            left+=("$n")
        fi
    done
    run_pytest -v --durations=12 tests/integration -k "test_target" "${deselect[@]}" \
        --ignore=tests/integration/test_fleet.py || rc=1
    for n in "${left[@]}"; do
        integration_part "$n" || rc=1
    done
    for n in "${!pids[@]}"; do
        wait "${pids[$n]}" || rc=1
        echo "-- integration part ${parts[$n]} (lab $YBA_LAB_DIR-${parts[$n]})"
        cat ".build/logs/integration-${parts[$n]}.log"
    done
    other_labs_down
    return "$rc"
}

other_labs_down() {
    local dir
    for dir in "${OTHER_LABS[@]}"; do
        YBA_LAB_DIR="$dir" lab down >/dev/null 2>&1 || echo "lab down FAILED: inspect $dir" >&2
    done
    OTHER_LABS=()
}

# Three lab YBA hosts side by side (ybalab fleet, in $YBA_LAB_DIR-fleet), after the integration parts' labs are down:
# the test starts and stops its own fleet (the test lab in $YBA_LAB_DIR stays up, idle). Not in the integration
# stage: three more hosts beside its three labs would be too much for two cores.
stage_fleet() {
    FLEET_STARTED=1
    run_pytest -v --durations=8 tests/integration/test_fleet.py
}

# Every runnable script in benchmarks/ (one with a __main__ block; helpers are skipped), at its default size.
stage_bench() {
    local bench ran=0 failed=0
    for bench in benchmarks/*.py; do
        if [ ! -e "$bench" ] || ! grep -q "__main__" "$bench"; then continue; fi
        ran=$((ran + 1))
        echo "-- $bench"
        python "$bench" || failed=1
    done
    [ "$ran" -gt 0 ] || echo "no benchmarks yet (benchmarks/*.py)"
    return "$failed"
}

LAB_STARTED=0
FLEET_STARTED=0
teardown() {
    other_labs_down
    if [ "$FLEET_STARTED" -eq 1 ] && [ -f "$YBA_LAB_DIR-fleet/fleet.json" ]; then  # an interrupted fleet stage
        YBA_FLEET_DIR="$YBA_LAB_DIR-fleet" lab fleet down --purge || echo "fleet down FAILED: inspect $YBA_LAB_DIR-fleet" >&2
    fi
    FLEET_STARTED=0
    if [ "$LAB_STARTED" -eq 1 ]; then
        echo "== lab down ($YBA_LAB_DIR)"
        lab down || echo "lab down FAILED: inspect $YBA_LAB_DIR" >&2
        LAB_STARTED=0
    fi
}
trap teardown EXIT
trap 'teardown; exit 130' INT TERM

stages=("$@")
[ "${#stages[@]}" -eq 0 ] && stages=(all)
[ "${stages[0]}" = "all" ] && stages=("${ALL_STAGES[@]}")

declare -a results=()
overall=0
lab_ok=1
total_start=$SECONDS

record() {  # stage rc seconds
    if [ "$2" -eq 0 ]; then
        results+=("$(printf '%-12s ok      %4ss' "$1" "$3")")
    else
        results+=("$(printf '%-12s FAILED  %4ss (exit %s)' "$1" "$3" "$2")")
        overall=1
    fi
}

for stage in "${stages[@]}"; do
    if ! declare -F "stage_$stage" >/dev/null; then
        echo "unknown stage: $stage (known: ${ALL_STAGES[*]} bench)" >&2
        exit 2
    fi
done

# Sanity is the longest stage and needs no lab: with other stages to run it goes in the background (output in
# .build/logs/sanity.log, printed at the end) while the lab stages wait on SSH and PostgreSQL. YBA_TEST_SERIAL=1: no.
SANITY_PID=""
if [ "${#stages[@]}" -gt 1 ] && [[ " ${stages[*]} " == *" sanity "* ]] && [ -z "${YBA_TEST_SERIAL:-}" ]; then
    mkdir -p .build/logs
    rm -f .build/logs/sanity.rc
    echo "== sanity (in the background: .build/logs/sanity.log)"
    (
        start=$SECONDS
        stage_sanity > .build/logs/sanity.log 2>&1
        echo "$? $((SECONDS - start))" > .build/logs/sanity.rc
    ) &
    SANITY_PID=$!
    remaining=()
    for stage in "${stages[@]}"; do [ "$stage" = "sanity" ] || remaining+=("$stage"); done
    stages=("${remaining[@]}")
fi

for stage in "${stages[@]}"; do
    if [[ "$LAB_STAGES" == *" $stage "* ]] && [ "$lab_ok" -eq 0 ]; then
        results+=("$(printf '%-12s NOT RUN (lab up failed)' "$stage")")
        overall=1
        continue
    fi
    echo "== $stage"
    start=$SECONDS
    [ "$stage" = "lab-up" ] && LAB_STARTED=1
    "stage_$stage"
    rc=$?
    record "$stage" "$rc" "$((SECONDS - start))"
    [ "$stage" = "lab-up" ] && [ "$rc" -ne 0 ] && lab_ok=0
done

if [ -n "$SANITY_PID" ]; then
    echo "== sanity (waiting for the background run)"
    wait "$SANITY_PID"
    cat .build/logs/sanity.log
    if [ -f .build/logs/sanity.rc ]; then
        read -r rc elapsed < .build/logs/sanity.rc
    else
        rc=1 elapsed=0
    fi
    record "sanity" "$rc" "$elapsed"
fi
teardown

echo
echo "== summary ($((SECONDS - total_start))s)"
printf '  %s\n' "${results[@]}"
if [ "$overall" -ne 0 ]; then
    echo "RESULT: FAILED"
else
    echo "RESULT: passed"
fi
exit "$overall"
