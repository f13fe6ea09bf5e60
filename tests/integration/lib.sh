# Shared helpers for the integration tests. Each test is a bash script run by
# `meson test --suite integration`; they need the broker lab to be running
# (deploy/lab/lab start) and fail loudly when it is not: a missing broker is
# a failure, never a skip.

set -euo pipefail

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IT_LAB=$IT_ROOT/deploy/lab/lab

it_fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
it_log() { printf '== %s\n' "$*" >&2; }

# it_lab COMPONENT...: load the lab's addresses; fail when a component is down.
it_lab() {
    "$IT_LAB" status "$@" >&2 || it_fail "the broker lab is not running ($*); start it with: deploy/lab/lab start"
    eval "$("$IT_LAB" env)"
}

# it_wait_exit PID SECONDS: wait for PID (a child of this shell) to exit and
# leave its exit status in IT_RC. Not usable in $(...): a subshell cannot wait
# for its parent's children.
it_wait_exit() {
    local pid=$1 secs=$2 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || it_fail "process $pid did not exit within ${secs}s"
        sleep 0.2
    done
    IT_RC=0
    wait "$pid" || IT_RC=$?
}

# it_unique NAME: a name unique to this run, so reruns never see old data.
it_unique() { printf '%s-%s-%s\n' "$1" "$(date +%s)" "$$"; }

# Counting for the plain closing line the CI reads.
IT_PASSED=0
IT_FAILED=0
it_check() {
    local what=$1; shift
    if "$@"; then
        IT_PASSED=$((IT_PASSED + 1)); printf 'ok: %s\n' "$what" >&2
    else
        IT_FAILED=$((IT_FAILED + 1)); printf 'not ok: %s\n' "$what" >&2
    fi
}
it_summary() {
    printf '%d passed, %d failed\n' "$IT_PASSED" "$IT_FAILED"
    ((IT_FAILED == 0))
}
