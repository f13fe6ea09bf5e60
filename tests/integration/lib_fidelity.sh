# Helpers of the fidelity, poison and broker-restart tests, on top of lib.sh:
# running the bridge, asking the brokers how deep a queue is, waiting for a
# condition with a deadline, and removing what a passing test created from
# the shared lab. Source lib.sh first.

# it_bridge_start CONFIG LOG: validate CONFIG, run the bridge on it in the
# background with its stderr in LOG; IT_BRIDGE is its pid.
IT_BRIDGE=
it_bridge_start() {
    local config=$1 log=$2
    if ! "$CUTOVER" validate -c "$config" >&2; then
        it_fail "the test's config does not validate (bridge lacks a feature?): $config"
    fi
    "$CUTOVER" run -c "$config" 2>"$log" &
    IT_BRIDGE=$!
    it_log "bridge running (pid $IT_BRIDGE, log $log)"
}

# it_bridge_alive LOG: the bridge still runs; show its log's end if not.
it_bridge_alive() {
    if [[ -n $IT_BRIDGE ]] && kill -0 "$IT_BRIDGE" 2>/dev/null; then
        return 0
    fi
    it_log "the bridge is not running; end of its log:"
    tail -n 30 "$1" | sed 's/^/    /' >&2
    return 1
}

# it_bridge_stop SECS: SIGTERM the bridge, wait for it; its status in IT_RC.
# shellcheck disable=SC2034 # IT_RC is read by the caller
it_bridge_stop() {
    if [[ -z $IT_BRIDGE ]]; then
        IT_RC=255
        return
    fi
    kill -TERM "$IT_BRIDGE" 2>/dev/null || true
    it_wait_exit "$IT_BRIDGE" "$1"
    IT_BRIDGE=
}

# it_show_log LOG [N]: the last N (40) lines of a log, indented, on stderr.
it_show_log() {
    it_log "end of $1:"
    tail -n "${2:-40}" "$1" | sed 's/^/    /' >&2
}

# it_wait_until SECS CMD...: run CMD every 0.2 s until it succeeds; 1 on timeout.
it_wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# it_now_ms: wall clock in milliseconds.
it_now_ms() { date +%s%3N; }

# ---- Artemis, through Jolokia --------------------------------------------

it_jolokia() {
    curl -s -m 10 -u "${ARTEMIS_USER:-admin}:${ARTEMIS_PASSWORD:-admin}" \
        -H "Origin: http://127.0.0.1" -H "Content-Type: application/json" \
        "$ARTEMIS_JOLOKIA_URL" -d "$1"
}

# it_artemis_count QUEUE: messages on an anycast queue (delivering ones
# included), or "none" when it does not exist.
it_artemis_count() {
    local q=$1 broker=${ARTEMIS_BROKER_NAME:-cutover}
    it_jolokia "{\"type\":\"read\",\"mbean\":\"org.apache.activemq.artemis:broker=\\\"$broker\\\",component=addresses,address=\\\"$q\\\",subcomponent=queues,routing-type=\\\"anycast\\\",queue=\\\"$q\\\"\",\"attribute\":\"MessageCount\"}" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["value"] if r.get("status")==200 else "none")'
}

# it_artemis_drop QUEUE...: delete queues (and their addresses).
it_artemis_drop() {
    local q broker=${ARTEMIS_BROKER_NAME:-cutover}
    for q in "$@"; do
        it_jolokia "{\"type\":\"exec\",\"mbean\":\"org.apache.activemq.artemis:broker=\\\"$broker\\\"\",\"operation\":\"destroyQueue(java.lang.String,boolean,boolean)\",\"arguments\":[\"$q\",true,true]}" >/dev/null || true
    done
}

# ---- RabbitMQ, through the management API --------------------------------

it_rabbit_drop() {
    local q
    for q in "$@"; do
        curl -s -m 10 -o /dev/null -X DELETE "${RABBITMQ_MGMT_URL}api/queues/%2F/$q" || true
    done
}

it_rabbit_drop_exchange() {
    local x
    for x in "$@"; do
        curl -s -m 10 -o /dev/null -X DELETE "${RABBITMQ_MGMT_URL}api/exchanges/%2F/$x" || true
    done
}

# ---- Kafka ---------------------------------------------------------------

# it_kafka_end TOPIC: sum of the topic's end offsets (0 when it does not exist yet).
it_kafka_end() {
    kcat -b "$KAFKA_BOOTSTRAP" -Q -t "$1:0:-1" -t "$1:1:-1" -t "$1:2:-1" 2>/dev/null |
        awk '{ for (i = 1; i <= NF; i++) if ($i == "offset") s += $(i + 1) } END { print s + 0 }'
}

it_kafka_drop() {
    local t
    for t in "$@"; do
        "$KAFKA_TOOL" topics --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$t" \
            >/dev/null 2>&1 || true
    done
}

# it_summary_field LINE NAME: the value of NAME=VALUE in a summary line.
it_summary_field() {
    local w
    for w in $1; do
        if [[ $w == "$2="* ]]; then
            printf '%s\n' "${w#*=}"
            return
        fi
    done
    printf '?\n'
}
