# shellcheck shell=bash
# Helpers of the migration-mode tests (modes_flip.sh, modes_secondary_down.sh,
# modes_primary_down.sh), on top of lib.sh and lib_fidelity.sh: queue depths,
# the ids on a RabbitMQ queue or a Kafka topic, the repair ledger of a state
# store. Source lib.sh and lib_fidelity.sh first; the test sets CUTOVER, GEN
# (cut-gen) and CHECK (cut-amqp091-check).

# md_declare QUEUE...: declare durable queues (what the flows' declare does).
md_declare() {
    local q
    for q in "$@"; do
        "$CHECK" declare --url "$RABBITMQ_URL" --queue "$q" || it_fail "cannot declare $q"
    done
}

# md_depth QUEUE: ready messages on QUEUE (unacked ones are not counted).
md_depth() { "$GEN" --url "$RABBITMQ_URL" --queue "$1" --depth; }

# md_total QUEUE: ready + unacked messages of QUEUE from the management API
# (its figures are refreshed every few seconds), or "?" when unknown.
md_total() {
    curl -s -m 10 "${RABBITMQ_MGMT_URL}api/queues/%2F/$1" |
        python3 -c 'import json,sys
d = json.load(sys.stdin)
r, u = d.get("messages_ready"), d.get("messages_unacknowledged")
print("?" if r is None or u is None else "%d %d %d" % (r + u, r, u))' 2>/dev/null || echo "?"
}

# md_rabbit_ids QUEUE FILE: drain QUEUE into FILE, one message id a line, in
# queue order.
md_rabbit_ids() {
    "$CHECK" ids --url "$RABBITMQ_URL" --queue "$1" | awk '{ print $1 }' >"$2"
}

# md_kafka_ids TOPIC FILE: every record of TOPIC, "TIMESTAMP_MS MESSAGE_ID" a
# line (empty when the topic does not exist).
md_kafka_ids() {
    kcat -b "$KAFKA_BOOTSTRAP" -C -t "$1" -e -q -f '%T %h\n' 2>/dev/null |
        sed -nE 's/^(-?[0-9]+) (.*,)?message_id=([^,]*).*$/\1 \3/p' >"$2" || true
}

# md_ledger DB FLOW FILE: the flow's open repair-ledger entries, "SIDE
# MESSAGE_ID ENVELOPE_BYTES" a line, read with python's sqlite3 (read only).
md_ledger() {
    python3 - "$1" "$2" >"$3" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for side, mid, n in db.execute(
        "SELECT side, message_id, length(headers) FROM ledger"
        " WHERE flow = ? AND repaired_at IS NULL ORDER BY id", (sys.argv[2],)):
    print(side, mid, n or 0)
PY
}

# md_ids PREFIX COUNT FILE: the ids cut-gen gives, PREFIX-0 .. PREFIX-(COUNT-1).
md_ids() { seq 0 $(($2 - 1)) | sed "s/^/$1-/" >"$3"; }

# md_same_set EXPECTED GOT: the same ids, each once in GOT; says what differs.
md_same_set() {
    local missing extra dups
    missing=$(sort "$1" | comm -23 - <(sort -u "$2") | wc -l)
    extra=$(sort -u "$2" | comm -13 <(sort "$1") - | wc -l)
    dups=$(sort "$2" | uniq -d | wc -l)
    it_log "$(basename "$2"): $(wc -l <"$2") ids, missing $missing, foreign $extra, duplicated $dups"
    ((missing == 0 && extra == 0 && dups == 0))
}

# md_flow_stats LOG: the flow's last "received=... confirmed=..." line.
md_flow_stats() { grep -E " received=[0-9]+ confirmed=" "$1" | tail -n 1 | sed -E 's/^[^ ]+ +info +//'; }
