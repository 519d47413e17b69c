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

# Three labs, three parts at once: the role targets on the test lab (in the foreground); the
# runbook, CLI and API-fidelity tests and the targets in SECOND_TARGETS on a second lab; THIRD_FILES (the incident
# story and the storage repairs through the CLI) and the targets in THIRD_TARGETS on a third. The second and third
# parts run in background lanes (below) with a lab of their own, so the parts take about as long; each prints its
# slowest tests at its end. YBA_TEST_SERIAL=1: one lab, one pytest, nothing in the background.
SECOND_TARGETS=(backup_reconcile restore_drill)
THIRD_TARGETS=(run_lock storage_config backup backup_restart backup_schedule backup_sla metadb_info disk_cleanup_safety platform_upgrade)
THIRD_FILES=(tests/integration/test_incident.py tests/integration/test_storage_config.py)

integration_part() {  # integration_part <1|2|3>: that part's tests on the lab in $YBA_LAB_DIR
    local t ids=() k="not test_target"
    case "$1" in
        1) for t in "${SECOND_TARGETS[@]}" "${THIRD_TARGETS[@]}"; do
               ids+=(--deselect "tests/integration/test_integration.py::test_target[$t]")
           done
           run_pytest -v --durations=12 tests/integration -k "test_target" "${ids[@]}" \
               --ignore=tests/integration/test_fleet.py ;;
        2) for t in "${THIRD_FILES[@]}"; do ids+=(--deselect "$t"); done
           for t in "${SECOND_TARGETS[@]}"; do k+=" or test_target[$t]"; done
           run_pytest -v --durations=12 tests/integration -k "$k" "${ids[@]}" --ignore=tests/integration/test_fleet.py ;;
        3) for t in "${THIRD_TARGETS[@]}"; do ids+=("tests/integration/test_integration.py::test_target[$t]"); done
           run_pytest -v --durations=12 "${THIRD_FILES[@]}" "${ids[@]}" ;;
    esac
}

on_its_own_lab() {  # on_its_own_lab N COMMAND...: a lab in $YBA_LAB_DIR-N up, COMMAND on it, the lab down again
    local dir="$YBA_LAB_DIR-$1" rc
    shift
    if YBA_LAB_DIR="$dir" fresh_lab_up; then
        YBA_LAB_DIR="$dir" "$@"
        rc=$?
    else
        echo "lab $dir did not start" >&2
        rc=1
    fi
    YBA_LAB_DIR="$dir" lab down >/dev/null 2>&1 || { echo "lab down FAILED: inspect $dir" >&2; rc=1; }
    return "$rc"
}

stage_integration() {
    if [ -n "${YBA_TEST_SERIAL:-}" ]; then
        run_pytest -v tests/integration --ignore=tests/integration/test_fleet.py
        return
    fi
    [ -n "${LANE_OF[integration-2]:-}" ] || lane_start integration-2
    [ -n "${LANE_OF[integration-3]:-}" ] || lane_start integration-3
    integration_part 1
}

# Three lab YBA hosts side by side (ybalab fleet): the test starts and stops its own fleet in $YBA_LAB_DIR-fleet.
# In a whole run it follows the lab tests in their lane, with YBA_LAB_DIR set to their lab (down by then): its fleet
# dir is then $YBA_LAB_DIR-4-fleet, whose hosts (in the group yba) no other lane's inventory lists.
stage_fleet() {
    run_pytest -v --durations=8 tests/integration/test_fleet.py
}

# Background lanes. A lane runs its steps one after the other: step S's output goes to .build/logs/S.log, its exit
# code and seconds to .build/logs/S.rc; lane_collect S waits for it, prints its log and records it. A whole run
# (`make test`) starts three lanes at once, before the foreground stages: the third integration part, the second,
# and sanity, the units, the lab tests and the fleet. On 2 cores a run spends much of its time waiting (SSH,
# PostgreSQL, the platform's polls, timeouts the tests provoke): side by side, the lanes fill those waits.
declare -A LANE_OF=()  # step -> pid of the lane that runs it
step_sanity() { stage_sanity; }
step_units() { stage_units; }
step_lab-tests() { on_its_own_lab 4 stage_lab-tests; }  # the lab tests that reuse a lab up at $YBA_LAB_DIR take this one
step_integration-2() { on_its_own_lab 2 integration_part 2; }
step_integration-3() { on_its_own_lab 3 integration_part 3; }
step_fleet() { YBA_LAB_DIR="$YBA_LAB_DIR-4" stage_fleet; }

lane() {
    local step start
    for step in "$@"; do
        start=$SECONDS
        "step_$step" > ".build/logs/$step.log" 2>&1
        echo "$? $((SECONDS - start))" > ".build/logs/$step.rc"
    done
}

lane_start() {  # lane_start STEP...: one lane running these steps, in the background
    local step
    mkdir -p .build/logs
    for step in "$@"; do rm -f ".build/logs/$step.rc"; done
    echo "== ${*} (in the background: .build/logs/<step>.log)"
    lane "$@" &
    for step in "$@"; do LANE_OF[$step]=$!; done
}

lane_collect() {  # lane_collect STEP
    local step="$1" rc=1 elapsed=0
    while [ ! -f ".build/logs/$step.rc" ] && kill -0 "${LANE_OF[$step]}" 2>/dev/null; do sleep 2; done
    echo "== $step (from its background lane: .build/logs/$step.log)"
    cat ".build/logs/$step.log"
    [ -f ".build/logs/$step.rc" ] && read -r rc elapsed < ".build/logs/$step.rc"
    record "$step" "$rc" "$elapsed"
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
teardown() {
    local pid dir
    for pid in "${LANE_OF[@]}"; do  # an interrupted run: its lanes stop, their labs go down below
        kill "$pid" 2>/dev/null
    done
    for dir in "$YBA_LAB_DIR-fleet" "$YBA_LAB_DIR-4-fleet"; do
        if [ -f "$dir/fleet.json" ]; then  # an interrupted fleet test
            YBA_FLEET_DIR="$dir" lab fleet down --purge >/dev/null 2>&1 || echo "fleet down FAILED: inspect $dir" >&2
        fi
    done
    for dir in "$YBA_LAB_DIR-2" "$YBA_LAB_DIR-3" "$YBA_LAB_DIR-4"; do
        if [ -f "$dir/lab.json" ] && pgrep -f "$dir/" >/dev/null; then  # an interrupted part's lab
            YBA_LAB_DIR="$dir" lab down >/dev/null 2>&1 || echo "lab down FAILED: inspect $dir" >&2
        fi
    done
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

# A whole run (several stages, not YBA_TEST_SERIAL): the integration stage's second and third parts start in lanes of
# their own, and sanity, the units, the lab tests and the fleet one after the other in a third, before the first
# foreground stage.
if [ "${#stages[@]}" -gt 1 ] && [ -z "${YBA_TEST_SERIAL:-}" ]; then
    remaining=() side=()
    for stage in "${stages[@]}"; do
        case "$stage" in
            sanity | units | lab-tests | fleet) side+=("$stage") ;;
            integration) lane_start integration-3
                         lane_start integration-2
                         remaining+=("$stage") ;;
            *) remaining+=("$stage") ;;
        esac
    done
    [ "${#side[@]}" -gt 0 ] && lane_start "${side[@]}"
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

for step in sanity units lab-tests integration-2 integration-3 fleet; do
    [ -n "${LANE_OF[$step]:-}" ] && lane_collect "$step"
done
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
