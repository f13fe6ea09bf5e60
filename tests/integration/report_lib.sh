# Helpers of the reconciler, rollback, repair and report tests, on top of
# lib.sh and lib_fidelity.sh: reading `cutover report --json`, counting ids
# on a topic and on a queue independently of cutover, and a webhook
# receiver. Source lib.sh and lib_fidelity.sh first; CUTOVER, DB and
# CHECK (cut-amqp091-check) are the caller's.

# it_report FIELD [FLOW] [SINCE]: one field of `cutover report --json`:
# a summary field ("summary.in_progress") or, with FLOW, a flow's field in
# Python syntax after the flow object ("['window']['seen']", "['status']").
it_report() {
    local field=$1 flow=${2:-} since=${3:-5m}
    "$CUTOVER" report --db "$DB" --json --since "$since" ${flow:+--flow "$flow"} 2>/dev/null |
        python3 -c '
import json, sys
doc = json.load(sys.stdin)
field, flow = sys.argv[1], sys.argv[2]
if flow:
    f = doc["flows"][0]
    v = eval("f" + field)
else:
    v = doc
    for k in field.split("."):
        v = v[k]
print("null" if v is None else v)
' "$field" "$flow" || echo "?"
}

# it_report_is FLOW FIELD VALUE [SINCE]: the report says so now (for it_wait_until).
it_report_is() { [[ $(it_report "$2" "$1" "${4:-5m}") == "$3" ]]; }

# it_report_at_least FLOW FIELD N [SINCE]
it_report_at_least() {
    local v
    v=$(it_report "$2" "$1" "${4:-5m}")
    [[ $v =~ ^[0-9]+$ ]] && ((v >= $3))
}

# it_kafka_ids TOPIC: every message_id header on TOPIC, one a line (with
# repeats), read with kcat to the end of each partition.
it_kafka_ids() {
    kcat -C -b "$KAFKA_BOOTSTRAP" -t "$1" -o beginning -e -q -f '%h\n' 2>/dev/null |
        tr ',' '\n' | sed -n 's/^message_id=//p'
}

# it_queue_ids QUEUE: drain QUEUE, printing each message id (with repeats).
it_queue_ids() {
    "$CHECK" ids --url "$RABBITMQ_URL" --queue "$1" | awk '{ print $1 }'
}

# it_webhook_start FILE: a receiver on an ephemeral loopback port that
# appends each POSTed body to FILE (one a line); IT_WEBHOOK_URL, IT_WEBHOOK_PID.
IT_WEBHOOK_PID=
it_webhook_start() {
    local out=$1 portfile
    portfile=$(mktemp)
    python3 - "$out" "$portfile" <<'PY' &
import http.server, sys
out, portfile = sys.argv[1], sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
with open(portfile, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
PY
    IT_WEBHOOK_PID=$!
    it_wait_until 10 test -s "$portfile" || it_fail "the webhook receiver did not start"
    IT_WEBHOOK_URL="http://127.0.0.1:$(cat "$portfile")/alerts"
    rm -f "$portfile"
}

it_webhook_stop() {
    if [[ -n $IT_WEBHOOK_PID ]]; then
        kill "$IT_WEBHOOK_PID" 2>/dev/null || true
        wait "$IT_WEBHOOK_PID" 2>/dev/null || true
        IT_WEBHOOK_PID=
    fi
}

# it_reconciler_configurable: whether this build accepts the `reconciler:`
# section of cutover.yaml (the thresholds and webhook are read from it).
it_reconciler_configurable() {
    local probe
    probe=$(mktemp --suffix=.yaml)
    printf 'reconciler:\n  interval: 2s\n' >"$probe"
    "$CUTOVER" validate -c "$probe" >/dev/null 2>&1 && rm -f "$probe" && return 0
    rm -f "$probe"
    return 1
}
