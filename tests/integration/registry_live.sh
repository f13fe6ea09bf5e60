#!/usr/bin/env bash
# The schema registry client (converters/registry.h) against the lab's real
# registry (Apicurio 3.0.9, Confluent API): an id, the same id again (from
# the cache and from the server), the schema fetched back by id, an
# incompatible change refused with a reason, a compatible one accepted; then
# the registry is STOPPED: cached answers still come, an uncached call fails
# with ERETRY within its budget, a call with a long budget rides out the
# outage, and after the restart the same client works again.
#
# Stopping the shared registry disturbs whoever else uses it: the stop and
# restart happen only here, and the registry is always started again at exit
# (trap), with the heap and global compatibility it was running with.
# REGISTRY_LIVE_NO_RESTART=1 skips the outage part.
#
# usage: registry_live.sh CUT_REGISTRY_TOOL
source "$(dirname "$0")/lib.sh"
TOOL=$1

it_lab kafka registry
work=$(mktemp -d)
stopped=
reg_heap=
reg_compat=
cleanup() {
    local rc=$?
    if [[ -n ${REG_PID:-} ]]; then
        kill "$REG_PID" 2>/dev/null || true
    fi
    if [[ -n ${bg:-} ]]; then
        kill "$bg" 2>/dev/null || true
    fi
    if [[ -n $stopped ]]; then
        it_log "restarting the registry"
        REGISTRY_HEAP=$reg_heap REGISTRY_COMPATIBILITY=$reg_compat "$IT_LAB" start registry >&2 ||
            printf 'FAIL: could not restart the registry: deploy/lab/lab start registry\n' >&2
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT

subject=$(it_unique it-registry)-value
ct='Content-Type: application/vnd.schemaregistry.v1+json'
# v1 pretty-printed on purpose: the registry gets it as it is
cat >"$work/v1.avsc" <<'AVRO'
{
  "type": "record", "name": "Order", "namespace": "cutover.it",
  "doc": "an order",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}
AVRO
# v2: a new field with a default, compatible (BACKWARD)
cat >"$work/v2.avsc" <<'AVRO'
{"type":"record","name":"Order","namespace":"cutover.it","doc":"an order","fields":[{"name":"id","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"note","type":["null","string"],"default":null}]}
AVRO
# bad: id changes type, incompatible
cat >"$work/bad.avsc" <<'AVRO'
{"type":"record","name":"Order","namespace":"cutover.it","fields":[{"name":"id","type":"int"}]}
AVRO

# word N of a one-line answer "OK value ms" / "ERR STATUS ms message"
word() { awk -v n="$2" '{print $n}' <<<"$1"; }
ok() { [[ $(word "$1" 1) == OK ]]; }
status_is() { [[ $(word "$1" 1) == ERR && $(word "$1" 2) == "$2" ]]; }
has() { [[ $1 == *"$2"* ]]; }
between() { (($1 >= $2 && $1 <= $3)); }
same_json() { [[ "$(jq -S . "$1")" == "$(jq -S . "$2")" ]]; }

# One client kept open for the whole test (a coprocess), so its caches and
# its connection live across the outage. ask COMMAND...: answer in $answer.
coproc REG { exec "$TOOL" --budget 4000 --timeout 2000; }
ask() {
    printf '%s\n' "$*" >&"${REG[1]}"
    IFS= read -r -t 120 answer <&"${REG[0]}" || it_fail "the client did not answer: $*"
    it_log "$* -> $answer"
}
# one_shot COMMAND...: a new client (a new process: no cache) for one command
one_shot() {
    answer=$("$TOOL" "$@") || true
    it_log "(new client) $* -> $answer"
}

it_log "registry $SCHEMA_REGISTRY_URL, subject $subject"
ask register "$subject" "$work/v1.avsc"
it_check "register returns an id" ok "$answer"
id1=$(word "$answer" 2)
ms_first=$(word "$answer" 3)
# the compatibility rule of this subject, whatever the global one is
curl -sf -o /dev/null -X PUT -H "$ct" -d '{"compatibility":"BACKWARD"}' \
    "$SCHEMA_REGISTRY_URL/config/$subject" || it_fail "could not set BACKWARD on $subject"

ask register "$subject" "$work/v1.avsc"
it_check "the same id again from the cache ($answer, first took ${ms_first} ms)" \
    test "$(word "$answer" 2)" = "$id1"
one_shot register "$subject" "$work/v1.avsc"
it_check "the same id again from the registry (a new client)" test "$(word "$answer" 2)" = "$id1"

ask get "$id1" "$work/fetched.avsc"
it_check "fetch by id" ok "$answer"
it_check "the fetched schema is the registered one (as JSON)" same_json "$work/fetched.avsc" "$work/v1.avsc"
it_check "logicalType and doc kept" grep -q 'timestamp-millis' "$work/fetched.avsc"

ask check "$subject" "$work/bad.avsc"
it_check "an incompatible change is EINVAL" status_is "$answer" EINVAL
it_check "with a reason" has "$answer" "not compatible with the latest version of subject $subject"
ask register "$subject" "$work/bad.avsc"
it_check "registering it is refused with EINVAL" status_is "$answer" EINVAL
it_check "with the registry's reason (409)" has "$answer" "409"

ask check "$subject" "$work/v2.avsc"
it_check "a compatible change is OK" ok "$answer"
ask register "$subject" "$work/v2.avsc"
it_check "and registers with a new id" ok "$answer"
id2=$(word "$answer" 2)
it_check "new id $id2 differs from $id1" test "$id2" != "$id1"
ask check "$(it_unique it-registry-none)-value" "$work/bad.avsc"
it_check "anything is compatible with a subject that has no version" ok "$answer"

if [[ ${REGISTRY_LIVE_NO_RESTART:-} == 1 ]]; then
    it_log "REGISTRY_LIVE_NO_RESTART=1: outage part skipped"
    it_summary
    exit
fi

# ---- the outage ----
pid=$(cat "$CUTOVER_LAB_DIR/run/registry.pid")
cmdline=$(tr '\0' '\n' <"/proc/$pid/cmdline")
reg_heap=$(sed -n 's/^-Xmx//p' <<<"$cmdline")
reg_compat=$(sed -n 's/^-Dapicurio.rules.global.compatibility=//p' <<<"$cmdline")
it_log "stopping the registry (heap ${reg_heap:-default}, compatibility ${reg_compat:-default})"
stopped=1
"$IT_LAB" stop registry >&2
"$IT_LAB" status registry >/dev/null 2>&1 && it_fail "the registry still answers after stop"

ask register "$subject" "$work/v1.avsc"
it_check "registry down: a cached registration still answers" test "$(word "$answer" 2)" = "$id1"
ask get "$id1" "$work/fetched2.avsc"
it_check "registry down: a cached schema still answers" ok "$answer"
ask check "$subject" "$work/v2.avsc"
it_check "registry down: an uncached call is ERETRY" status_is "$answer" ERETRY
it_check "within its budget of 4 s (took $(word "$answer" 3) ms)" between "$(word "$answer" 3)" 3000 5500
it_check "saying the registry is unavailable" has "$answer" "unavailable"

# a client with a long budget started during the outage rides it out
"$TOOL" --budget 120000 check "$subject" "$work/v2.avsc" >"$work/bg.out" &
bg=$!
it_log "starting the registry again"
REGISTRY_HEAP=$reg_heap REGISTRY_COMPATIBILITY=$reg_compat "$IT_LAB" start registry >&2
stopped=
it_wait_exit "$bg" 150
bg=
answer=$(cat "$work/bg.out")
it_log "(long budget, started during the outage) check -> $answer"
it_check "a call made during the outage succeeds once the registry is back" ok "$answer"
it_check "after waiting for it ($(word "$answer" 3) ms)" between "$(word "$answer" 3)" 2000 120000

ask check "$subject" "$work/v2.avsc"
it_check "the same client works again after the restart" ok "$answer"
printf '{"type":"record","name":"Order","namespace":"cutover.it","fields":[{"name":"id","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"note","type":["null","string"],"default":null},{"name":"n","type":"int","default":0}]}' >"$work/v3.avsc"
ask register "$subject" "$work/v3.avsc"
it_check "and registers a new version" ok "$answer"
one_shot register "$subject" "$work/v1.avsc"
it_check "the schemas outlived the restart (same id $id1)" test "$(word "$answer" 2)" = "$id1"

printf 'quit\n' >&"${REG[1]}"
it_summary
