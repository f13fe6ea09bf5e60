#!/usr/bin/env bash
# Repair after an outage of the secondary.
#
# A flow in DUAL_WRITE_JMS_PRIMARY (RabbitMQ queue -> legacy queue + Kafka
# topic) runs COUNT messages while its Kafka side is out: the flow's
# producer points at a dead port, so every Kafka write times out and goes to
# the repair ledger, while the legacy queue gets every message. PRESENT of
# those messages did reach Kafka after all (produced with their id, as a
# write reported failed but persisted would). Then, with Kafka back (the
# flow's config without the dead port), `cutover repair`:
#   - --dry-run says what it would do (PRESENT already present, the rest to
#     replay) and changes nothing;
#   - replays the rest, counts PRESENT as already present, fails none;
#   - leaves the topic with every ledgered id exactly once (no duplicate);
#   - empties the ledger and brings the window's consistency to 1.0;
#   - run again, finds nothing to do.
# The legacy queue has every one of the COUNT ids.
#
# usage: repair_secondary_outage.sh CUTOVER CUT_GEN CUT_AMQP091_CHECK [COUNT] [PRESENT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/report_lib.sh"
CUTOVER=$1 GEN=$2 CHECK=$3 COUNT=${4:-1000} PRESENT=${5:-100}

it_lab rabbitmq kafka
work=$(mktemp -d)
DB=$work/state.db
qin=$(it_unique it.rp.in)
qout=$(it_unique it.rp.out)
topic=$(it_unique it-rp)
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_rabbit_drop "$qin" "$qout"
        it_kafka_drop "$topic"
        rm -rf "$work"
    else
        it_log "kept for inspection: $work (configs, logs, state), queues $qin $qout, topic $topic"
    fi
}
trap cleanup EXIT

# config FILE KAFKA_PROPERTIES: the flow, with the given producer overrides.
config() {
    local recon=
    if it_reconciler_configurable; then
        # This test is about repair: the reconciler must not roll the flow
        # back during the outage (it would, rightly, with the defaults).
        recon="    reconciler:
      kafka_error_rate: 100%
      loss_rate: 100%
      consistency_alert: 0"
    fi
    cat >"$1" <<YAML
bridge:
  name: it-repair
  shutdown_timeout: 20s
state:
  path: $DB
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
flows:
  orders:
    mode: DUAL_WRITE_JMS_PRIMARY
    secondary_timeout: 2s
$recon
    source:
      connection: rabbit
      queue: $qin
    legacy:
      connection: rabbit
      queue: $qout
      declare: true
    kafka:
      topic: $topic
      properties: $2
YAML
}
config "$work/outage.yaml" "{bootstrap.servers: '127.0.0.1:1', message.timeout.ms: 1500}"
config "$work/cutover.yaml" "{}"
# Topics are created before dual-write starts, as in production.
"$KAFKA_TOOL" topics --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" \
    --partitions 3 --replication-factor 1 >/dev/null
"$CUTOVER" flag set orders DUAL_WRITE_JMS_PRIMARY -c "$work/cutover.yaml" --db "$DB" \
    --reason "start dual-write" >&2

it_log "Kafka out: $COUNT messages"
"$GEN" --url "$RABBITMQ_URL" --queue "$qin" --count "$COUNT" --prefix "$qin" --size 256 >&2
it_bridge_start "$work/outage.yaml" "$work/bridge.log"
it_wait_until 120 it_report_is orders "['ledger_open']['kafka']" "$COUNT" ||
    it_fail "the ledger did not get every Kafka write ($(it_report "['ledger_open']['kafka']" orders) of $COUNT)"
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
it_check "during the outage: consistency 0 over $COUNT dual-write messages" \
    test "$(it_report "['consistency']" orders 20m)" = 0.0

it_log "$PRESENT of them reached Kafka after all"
for ((i = 0; i < PRESENT; i++)); do
    printf 'landed %d\n' "$i" | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -H "message_id=$qin-$i" 2>/dev/null ||
        it_fail "kcat could not produce to $topic"
done

dry=$("$CUTOVER" repair orders -c "$work/cutover.yaml" --db "$DB" --dry-run) && rc=0 || rc=$?
printf '%s\n' "$dry" | tail -n 4 >&2
it_check "dry run: would replay $((COUNT - PRESENT)), $PRESENT already present, exit 0 (rc $rc)" \
    bash -c '[[ $2 == 0 ]] && grep -qE "^  kafka +open $3: would replay $4, already present $5, failed 0$" <<<"$1"' \
    _ "$dry" "$rc" "$COUNT" "$((COUNT - PRESENT))" "$PRESENT"
it_check "dry run: nothing changed (still $COUNT open, $PRESENT on the topic)" \
    test "$(it_report "['ledger_open']['kafka']" orders)/$(it_kafka_ids "$topic" | grep -c .)" = "$COUNT/$PRESENT"

out=$("$CUTOVER" repair orders -c "$work/cutover.yaml" --db "$DB") && rc=0 || rc=$?
printf '%s\n' "$out" >&2
it_check "repair: replayed $((COUNT - PRESENT)), $PRESENT already present, none failed, exit 0 (rc $rc)" \
    bash -c '[[ $2 == 0 ]] && grep -qE "^  kafka +open $3: replayed $4, already present $5, failed 0$" <<<"$1"' \
    _ "$out" "$rc" "$COUNT" "$((COUNT - PRESENT))" "$PRESENT"
ids=$(it_kafka_ids "$topic")
it_check "topic: every one of the $COUNT ids, none twice ($(printf '%s\n' "$ids" | grep -c .) records, $(printf '%s\n' "$ids" | sort -u | grep -c .) distinct)" \
    bash -c '[[ $(grep -c . <<<"$1") == "$2" && $(sort -u <<<"$1" | grep -c "^$3-") == "$2" ]]' \
    _ "$ids" "$COUNT" "$qin"
it_check "ledger empty after the repair" test "$(it_report "['ledger_open']['total']" orders)" = 0
it_check "consistency back to 1.0 over the $COUNT dual-write messages" \
    test "$(it_report "['consistency']" orders 20m)/$(it_report "['window']['dual']" orders 20m)" = "1.0/$COUNT"

again=$("$CUTOVER" repair orders -c "$work/cutover.yaml" --db "$DB") && rc=0 || rc=$?
it_check "repair again: nothing open, nothing sent (rc $rc)" \
    bash -c '[[ $2 == 0 ]] && grep -q "^orders: 0 open entries$" <<<"$1"' _ "$again" "$rc"
it_check "topic unchanged by the second run" test "$(it_kafka_ids "$topic" | grep -c .)" = "$COUNT"
legacy=$(it_queue_ids "$qout" | sort -u | grep -c "^$qin-" || true)
it_check "legacy side: all $COUNT ids ($legacy found)" test "$legacy" = "$COUNT"

finished=1
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
fi
it_summary
