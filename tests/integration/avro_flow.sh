#!/usr/bin/env bash
# XML orders to Avro through the bridge: a real JMS client (Qpid JMS) sends
# COUNT order documents (tests/jms Order.java: every status code, four
# spellings of placedAt, optional delivery date and e-mail, 0-5 lines,
# decimals, tags, JMSPriority 0-9, region/channel properties, non-ASCII and
# escaped names, some BytesMessages) to an Artemis queue A, with a malformed
# one every BAD_EVERY (truncated, a DOCTYPE, not XML, a bad qty, decimal or
# date, a missing required name). One flow, mode KAFKA_ONLY, A -> Kafka topic
# T with a test copy of mappings/orders.yaml (its `topic: orders` removed so
# that T applies; the rush lane 7-9 -> T.rush and the dead letters -> T.dlq,
# unique to the run; the legacy dead-letter queue left out: a KAFKA_ONLY flow
# has no legacy target) and the lab's Schema Registry.
# Pass: jms-tool check-avro decodes every record with the writer schema it
# fetches from the registry by the id in the record, with Apache Avro's Java
# library, and finds each good order once on the topic of its priority with
# every field as the mapping documents (logical types included), the key and
# the headers; the filtered ones (priority 0-1, region TEST) nowhere; each
# malformed one on T.dlq with its original bytes and dead_letter.reason; the
# registry's schema equals orders.avsc; the bridge kept running, exits 0 on
# SIGTERM, and its counters agree (report: filtered, dead-lettered); A is
# empty afterwards.
#
# usage: avro_flow.sh CUTOVER JMS_TOOL [COUNT] [BAD_EVERY]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
CUTOVER=$1 JMS=$2 COUNT=${3:-500} BAD_EVERY=${4:-50}

it_lab artemis kafka registry
work=$(mktemp -d)
src=$(it_unique it.avro.in)
topic=$(it_unique it-avro)
flow=orders-avro
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_artemis_drop "$src"
        it_kafka_drop "$topic" "$topic.rush" "$topic.dlq"
        it_registry_drop "$topic-value" "$topic.rush-value"
    else
        it_log "kept for inspection: $work (config, mapping, logs, records), Artemis queue $src, Kafka topics $topic $topic.rush $topic.dlq"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# it_registry_drop SUBJECT...: delete subjects (soft, then for good) so that
# the runs do not pile up in the shared registry.
it_registry_drop() {
    local s
    for s in "$@"; do
        curl -s -m 10 -o /dev/null -X DELETE "$SCHEMA_REGISTRY_URL/subjects/$s" || true
        curl -s -m 10 -o /dev/null -X DELETE "$SCHEMA_REGISTRY_URL/subjects/$s?permanent=true" || true
    done
}

# The test copy of the shipped mapping: the same fields, filter, expiry and
# limits; only the destinations change. Each edit is checked, so that a
# change of mappings/orders.yaml fails here instead of testing something else.
shipped=$IT_ROOT/mappings/orders.yaml
cp "$IT_ROOT/mappings/orders.avsc" "$work/orders.avsc"
sed -e '/^topic: orders /d' \
    -e "s/{ range: \"7-9\", topic: orders.rush }/{ range: \"7-9\", topic: $topic.rush }/" \
    -e "s/^dead_letter: .*/dead_letter: { topic: $topic.dlq }/" \
    "$shipped" >"$work/orders.yaml"
grep -q '^topic:' "$work/orders.yaml" && it_fail "the test mapping still has a topic: (edit of $shipped failed)"
grep -q "topic: $topic.rush }" "$work/orders.yaml" || it_fail "the rush lane of $shipped was not found"
grep -q "^dead_letter: { topic: $topic.dlq }\$" "$work/orders.yaml" || it_fail "dead_letter: of $shipped not found"
grep -q '^filter: "(region IS NULL OR region <> '"'TEST'"') AND JMSPriority >= 2"$' "$work/orders.yaml" ||
    it_fail "the filter of $shipped changed: update Order.filtered() in tests/jms and this test"

cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-avro-flow
  shutdown_timeout: 20s
state:
  path: $work/cutover.db
schema_registry:
  url: \${SCHEMA_REGISTRY_URL}
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  artemis:
    protocol: amqp10
    url: \${ARTEMIS_AMQP_URL}
flows:
  $flow:
    mode: KAFKA_ONLY
    mapping: orders.yaml
    source:
      connection: artemis
      address: $src
    kafka:
      topic: $topic
YAML

# Where the flow sends an order, as `cutover convert` sees it: the flow's
# topic, the lane, the dead letter (nothing is sent or registered).
routed() { # PRIORITY EXPECTED_LINE
    "$CUTOVER" convert -c "$work/cutover.yaml" --flow "$flow" --header "JMSPriority=$1" \
        "$IT_ROOT/mappings/samples/orders.xml" 2>&1 | grep -qx "$2"
}
it_check "convert: priority 5 goes to the flow's topic $topic" routed 5 "topic:      $topic"
it_check "convert: priority 8 goes to the lane $topic.rush" routed 8 "topic:      $topic.rush"

it_log "sending $COUNT order documents to $src (a malformed one every $BAD_EVERY)"
"$JMS" send-xml --url "$ARTEMIS_AMQP_URL" --queue "$src" --count "$COUNT" --prefix "$src" \
    --bad-every "$BAD_EVERY" --record "$work/sent.rec" >&2 || it_fail "jms-tool send-xml failed"

it_bridge_start "$work/cutover.yaml" "$work/bridge.log"

# check-avro waits (bounded) until every expected record is there, then
# listens a little longer for duplicates and filtered orders.
rc=0
out=$("$JMS" check-avro --bootstrap "$KAFKA_BOOTSTRAP" --registry "$SCHEMA_REGISTRY_URL" \
    --topic "$topic" --lanes "7-9=$topic.rush" --dlq-topic "$topic.dlq" --flow "$flow" \
    --schema "$work/orders.avsc" --record "$work/sent.rec" --timeout 240 --show 1) || rc=$?
printf '%s\n' "$out" >&2
summary=$(tail -n 1 <<<"$out")
it_check "Kafka: every good order once on its topic, decoded with the registry's schema, fields, key and headers as mapped (rc $rc)" \
    test "$rc" = 0
it_check "Kafka: no record of another run on the run's topics (foreign=$(it_summary_field "$summary" foreign))" \
    test "$(it_summary_field "$summary" foreign)" = 0

it_check "bridge still running after the malformed orders" it_bridge_alive "$work/bridge.log"
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0

left=$(it_artemis_count "$src")
it_check "source queue empty after the run ($left left)" test "$left" = 0

# The flow's own counters agree with what was sent.
filtered=$(it_summary_field "$summary" filtered)
malformed=$(it_summary_field "$summary" malformed)
converted=$(it_summary_field "$summary" converted)
stats=$(grep -E " received=[0-9]+ confirmed=" "$work/bridge.log" | tail -n 1 || true)
it_log "bridge: ${stats:-no stats line}"
report=$("$CUTOVER" report --json --db "$work/cutover.db" --since 1h 2>&1 || true)
counter() { # NAME: the flow's tracked count NAME, summed over the window
    python3 -c 'import json,sys
doc=json.load(sys.stdin); name=sys.argv[1]
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == name and isinstance(x, int): yield x
            else: yield from walk(x)
    elif isinstance(v, list):
        for x in v: yield from walk(x)
print(max(walk(doc), default="none"))' "$1" <<<"$report" 2>/dev/null || echo none
}
dl_logged=$(grep -c " dead-lettered: " "$work/bridge.log" || true)
it_check "bridge log: one dead-letter line per malformed order ($dl_logged, want $malformed)" \
    test "$dl_logged" = "$malformed"
it_check "report: filtered $(counter filtered), want $filtered" test "$(counter filtered)" = "$filtered"
it_check "report: dead_lettered $(counter dead_lettered), want $malformed" \
    test "$(counter dead_lettered)" = "$malformed"
it_check "report: confirmed_kafka $(counter confirmed_kafka), want $converted (dead letters are counted apart)" \
    test "$(counter confirmed_kafka)" = "$converted"
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
    printf '%s\n' "$report" | head -c 4000 >&2
fi
finished=1
it_summary
