#!/usr/bin/env bash
# Every file of tests/data/config/bad/ must make `cutover validate` fail with
# exit status 1 and print each error its header announces:
#
#   # expect: LINE: SUBSTRING
#
# one header line per expected error (several for a file with several errors),
# as "FILE:LINE: ...SUBSTRING..." on stderr, and no other error line. The
# example config must validate.
#
# usage: bad_config.sh CUTOVER [EXAMPLE_CONFIG]
set -euo pipefail

cutover=${1:?usage: bad_config.sh CUTOVER [EXAMPLE_CONFIG]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
example=${2:-$here/../../examples/cutover.yaml}
bad_dir=$(cd "$here/../data/config/bad" && pwd)

# unset_env_var.yaml relies on this one being unset.
unset CUTOVER_TEST_UNSET_VAR

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0

fail() {
    echo "FAIL: $*" >&2
    failed=$((failed + 1))
}

# Run `cutover validate` with the given arguments; sets rc, out and err.
validate() {
    rc=0
    "$cutover" validate "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    out=$(<"$tmp/out")
    err=$(<"$tmp/err")
}

show() {
    sed 's/^/    /' "$tmp/err" >&2
}

# Whether a line of stderr starts with "$1" and contains "$2" (both literal).
has_line() {
    local line
    while IFS= read -r line; do
        if [[ $line == "$1"* && $line == *"$2"* ]]; then
            return 0
        fi
    done <"$tmp/err"
    return 1
}

check_bad() {
    local file=$1 name ok=1 expected=0 lines=0 line sub header
    name=$(basename "$file")
    validate -c "$file"
    if ((rc != 1)); then
        fail "$name: exit status $rc, want 1"
        show
        return
    fi
    while IFS= read -r header; do
        [[ $header == "# expect: "* ]] || break
        header=${header#"# expect: "}
        line=${header%%: *}
        sub=${header#*: }
        expected=$((expected + 1))
        if ! has_line "$file:$line: " "$sub"; then
            fail "$name: no error \"$file:$line: ...$sub\""
            ok=0
        fi
    done <"$file"
    if ((expected == 0)); then
        fail "$name: no \"# expect: LINE: SUBSTRING\" header"
        return
    fi
    # Exactly the announced errors: a cascade of follow-up errors is a bug too.
    lines=$(grep -c -E "^$(printf '%s' "$file" | sed 's/[][\.*^$/]/\\&/g'):[0-9]+: " "$tmp/err" || true)
    if ((lines != expected)); then
        fail "$name: $lines error lines, want $expected"
        ok=0
    fi
    if ((ok)); then
        passed=$((passed + 1))
    else
        show
    fi
}

shopt -s nullglob
files=("$bad_dir"/*.yaml)
if ((${#files[@]} == 0)); then
    fail "no test files in $bad_dir"
fi
for file in "${files[@]}"; do
    check_bad "$file"
done

# The example must pass.
validate -c "$example"
if ((rc == 0)) && [[ $out == "$example: ok ("* ]]; then
    passed=$((passed + 1))
else
    fail "$example: exit status $rc, want 0 and \"$example: ok (...)\", got \"$out\""
    show
fi

# The long option works as well.
validate --config "$example"
if ((rc == 0)); then
    passed=$((passed + 1))
else
    fail "--config $example: exit status $rc, want 0"
fi

# A missing file is an error naming the file and the cause.
validate -c "$tmp/nonexistent.yaml"
if ((rc == 1)) && has_line "$tmp/nonexistent.yaml: cannot open: " "No such file"; then
    passed=$((passed + 1))
else
    fail "missing file: exit status $rc, want 1 and \"cannot open\""
    show
fi

# Usage errors exit with 2.
for args in "" "-c" "-c $example extra" "--bogus"; do
    # shellcheck disable=SC2086 # split on purpose
    validate $args
    if ((rc == 2)); then
        passed=$((passed + 1))
    else
        fail "validate $args: exit status $rc, want 2"
    fi
done

echo "$passed passed, $failed failed"
((failed == 0))
