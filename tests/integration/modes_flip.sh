#!/usr/bin/env bash
# Mode flips under load. One flow reads RabbitMQ (0-9-1) queue A and has both
# targets: legacy queue B (RabbitMQ 0-9-1) and Kafka topic T. The config sets
# no `mode:`, so the state store decides (state.path in the test's directory).
# COUNT messages (50,000) go to A with cut-gen while the bridge runs, in
# chunks of 500 (ids "<prefix>.cNNNN-<seq>", chunk NNNN), paced at ~2,500/s;
# after every COUNT/7 published, `cutover flag set` moves the flow one step
# along
#     JMS_ONLY -> DUAL_WRITE_JMS_PRIMARY -> DUAL_WRITE_KAFKA_PRIMARY ->
#     KAFKA_ONLY -> DUAL_WRITE_KAFKA_PRIMARY -> DUAL_WRITE_JMS_PRIMARY -> JMS_ONLY
# (phases 0..6; a refused promotion is repeated with --force and a --reason).
#
# Which mode a message was routed under is not recorded anywhere, so the
# check derives it from facts that bound it, without trusting the bridge:
#  - The router resolves a message's mode once, when it admits the message,
#    and admits in queue order (one flow thread, one consumer, chunks
#    published one after the other with confirms, no redelivery: checked).
#    So the phase of a message can only grow with its sequence number.
#  - Upper bound: a message cannot have been admitted after it reached a
#    target. On Kafka the record's CreateTime (librdkafka stamps it at
#    produce time, which follows admission); on B its arrival time: nobody
#    reads B during the run and B is FIFO, so the k-th message of B (drained
#    in order at the end) was there at the first sampled instant (queue depth
#    polled every ~60 ms) where B held k messages. Admitted at or before X
#    and X earlier than the audit time of flip i (a change is committed with
#    its audit record, stamped before the commit) => routed before flip i.
#  - Lower bound: a message cannot be admitted before its chunk's publish
#    started; published at least 1 s after `flag set` returned (the
#    documented pick-up time of a change) => routed after flip i.
#  - Each phase requires: JMS_ONLY: in B, not in T. DUAL_WRITE_JMS_PRIMARY:
#    in B, and in T or in the repair ledger (kafka side).
#    DUAL_WRITE_KAFKA_PRIMARY: in T, and in B or in the ledger (legacy side).
#    KAFKA_ONLY: in T, not in B.
# Pass when there is a phase for every message, within its bounds, allowed
# by where it is, never decreasing along the sequence (a greedy walk finds
# one when any exists). A message in neither B nor T is missing. What this
# cannot see: a message admitted between a change's commit and its pick-up
# (under 1 s) at the edge of a single-write phase, that lost its dual write's
# other side, is indistinguishable from the neighbouring single-write
# phase's last/first message; anywhere else a lost side breaks the order or
# the time bounds and fails. Each phase
# must have been seen by messages whose bounds pin them to it (a share of the
# stream in every mode). Also: no duplicates (nothing failed, nothing was
# redelivered), the watcher logged each change within 1 s of its audit time,
# the audit log holds the six changes in order (forced ones marked forced),
# the bridge exits 0 on SIGTERM and A is empty.
#
# usage: modes_flip.sh CUTOVER CUT_GEN CUT_AMQP091_CHECK [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/modes_lib.sh"
CUTOVER=$1 GEN=$2 CHECK=$3 COUNT=${4:-50000}
CHUNK=500
PACE=0.15 # seconds between chunks
FLOW=flip
MODES=(JMS_ONLY DUAL_WRITE_JMS_PRIMARY DUAL_WRITE_KAFKA_PRIMARY KAFKA_ONLY
    DUAL_WRITE_KAFKA_PRIMARY DUAL_WRITE_JMS_PRIMARY JMS_ONLY)
((COUNT % CHUNK == 0)) || it_fail "COUNT must be a multiple of $CHUNK"

it_lab rabbitmq kafka
work=$(mktemp -d)
qa=$(it_unique it.flip.in)
qb=$(it_unique it.flip.out)
topic=$(it_unique it-flip)
cfg=$work/cutover.yaml
db=$work/state.db
sampler=
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $sampler ]]; then kill "$sampler" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_rabbit_drop "$qa" "$qb"
        it_kafka_drop "$topic"
    else
        it_log "kept for inspection: $work (config, log, ids, samples), RabbitMQ queues $qa $qb, Kafka topic $topic"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

md_declare "$qa" "$qb"
cat >"$cfg" <<YAML
bridge:
  name: it-modes-flip
  shutdown_timeout: 30s
state:
  path: $db
# This test drives the modes by hand; the reconciler's automatic rollback
# (tested on its own in rollback_kafka_failing.sh) must not move them too:
# no check can reach this many messages.
reconciler:
  min_messages: 1000000000
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
flows:
  $FLOW:
    source:
      connection: rabbit
      queue: $qa
    legacy:
      connection: rabbit
      queue: $qb
    kafka:
      topic: $topic
YAML
it_bridge_start "$cfg" "$work/bridge.log"
# shellcheck disable=SC2317 # called through it_wait_until
source_up() { grep -q "flow $FLOW source: connected to" "$work/bridge.log"; }
it_wait_until 30 source_up || { it_show_log "$work/bridge.log"; it_fail "the bridge did not connect"; }

# B's depth, sampled until the bridge has stopped: "TIME_MS DEPTH", the time
# taken after the answer.
(
    while [[ ! -e $work/stop-sampler ]]; do
        if d=$("$GEN" --url "$RABBITMQ_URL" --queue "$qb" --depth 2>/dev/null); then
            printf '%s %s\n' "$(it_now_ms)" "$d"
        fi
        sleep 0.05
    done >"$work/bdepth.txt"
) &
sampler=$!

# flip K MODE: one `flag set`; "K MODE BEFORE_MS AFTER_MS RC FORCED" in flips.txt.
flip() {
    local k=$1 mode=$2 t0 t1 rc=0 forced=0
    t0=$(it_now_ms)
    "$CUTOVER" flag set "$FLOW" "$mode" --reason "modes_flip step $k" -c "$cfg" --db "$db" \
        >>"$work/flag.out" 2>"$work/flag.err" || rc=$?
    if ((rc == 1)) && grep -q "refused" "$work/flag.err"; then
        sed 's/^/    /' "$work/flag.err" >&2
        forced=1 rc=0
        "$CUTOVER" flag set "$FLOW" "$mode" --force --reason "modes_flip step $k" -c "$cfg" \
            --db "$db" >>"$work/flag.out" 2>"$work/flag.err" || rc=$?
    fi
    t1=$(it_now_ms)
    printf '%s %s %s %s %s %s\n' "$k" "$mode" "$t0" "$t1" "$rc" "$forced" >>"$work/flips.txt"
    it_log "flip $k -> $mode (rc $rc$( ((forced)) && echo ', forced')) in $((t1 - t0)) ms"
}

it_log "publishing $COUNT messages to $qa in chunks of $CHUNK, flipping every $((COUNT / 7))"
: >"$work/flips.txt"
: >"$work/chunks.txt"
chunks=$((COUNT / CHUNK)) next=1 pub_rc=0 t_start=$(it_now_ms)
for ((c = 0; c < chunks; c++)); do
    t0=$(it_now_ms)
    "$GEN" --url "$RABBITMQ_URL" --queue "$qa" --count "$CHUNK" --size 256 \
        --prefix "$(printf '%s.c%04d' "$qa" "$c")" >/dev/null || pub_rc=$?
    printf '%d %s %s\n' "$c" "$t0" "$(it_now_ms)" >>"$work/chunks.txt"
    if ((next <= 6 && (c + 1) * CHUNK >= next * COUNT / 7)); then
        flip "$next" "${MODES[$next]}"
        next=$((next + 1))
    fi
    sleep "$PACE"
done
it_log "published in $(($(it_now_ms) - t_start)) ms"
it_check "all $COUNT messages published (rc $pub_rc)" test "$pub_rc" = 0
# shellcheck disable=SC2016 # awk's own $5
it_check "every flip applied (rc 0 each)" awk '$5 != 0 { bad = 1 } END { exit bad || NR != 6 }' \
    "$work/flips.txt"

# Let the bridge finish what it holds: A empty and B no longer growing.
# shellcheck disable=SC2317 # called through it_wait_until
settled() {
    local b1 b2
    [[ $(md_depth "$qa") == 0 ]] || return 1
    b1=$(md_depth "$qb")
    sleep 1
    b2=$(md_depth "$qb")
    [[ $b1 == "$b2" ]]
}
it_wait_until 120 settled || it_log "A or B still moving after 120 s"
sleep 2
it_check "bridge still running after the stream" it_bridge_alive "$work/bridge.log"
it_bridge_stop 90
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
sleep 0.5
touch "$work/stop-sampler"
wait "$sampler" || true
sampler=
left=$(md_depth "$qa")
it_check "source queue A empty after the run ($left left)" test "$left" = 0
stats=$(md_flow_stats "$work/bridge.log")
it_check "flow stats: received=confirmed=$COUNT, nothing retried or rejected ($stats)" \
    grep -qE "received=$COUNT confirmed=$COUNT retried=0 rejected=0 " <<<"$stats"

"$CUTOVER" audit "$FLOW" -c "$cfg" --db "$db" >"$work/audit.txt" 2>&1 || true
sed 's/^/    /' "$work/audit.txt" >&2
grep -E "modes: mode table changed" "$work/bridge.log" >"$work/watcher.txt" || true

it_log "reading T and draining B"
md_kafka_ids "$topic" "$work/t.txt"
md_rabbit_ids "$qb" "$work/b.txt"
md_ledger "$db" "$FLOW" "$work/ledger.txt"
it_log "T: $(wc -l <"$work/t.txt") records, B: $(wc -l <"$work/b.txt") messages, ledger: $(wc -l <"$work/ledger.txt") open entries"

# The analysis prints "ok|fail DESCRIPTION" lines, and its figures on stderr.
python3 - "$work" "$qa" "$COUNT" "$CHUNK" "${MODES[@]}" >"$work/results.txt" <<'PY' ||
import datetime, re, sys

work, prefix, count, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
modes = sys.argv[5:]
nphase = len(modes)
PICKUP_MS = 1000  # a change reaches a running bridge within a second


def log(msg):
    print(msg, file=sys.stderr)


def result(ok, what):
    print("%s %s" % ("ok" if ok else "fail", what))


def iso_ms(s):
    d = datetime.datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


def seq_of(mid):
    m = re.fullmatch(re.escape(prefix) + r"\.c(\d+)-(\d+)", mid)
    if not m or int(m.group(2)) >= chunk:
        return None
    s = int(m.group(1)) * chunk + int(m.group(2))
    return s if s < count else None


# Flips: BEFORE_MS <= commit <= AFTER_MS; the audit time is <= commit too.
flips = [l.split() for l in open(work + "/flips.txt")]
before = [int(f[2]) for f in flips]
after = [int(f[3]) for f in flips]
names = {"JMS_ONLY", "DUAL_WRITE_JMS_PRIMARY", "DUAL_WRITE_KAFKA_PRIMARY", "KAFKA_ONLY"}
audit = []
for line in open(work + "/audit.txt"):
    t = line.split()
    if len(t) >= 8 and t[3] == "mode" and t[6] == "->":
        audit.append((iso_ms(t[1]), t[5], t[7], line))
want = [("-" if i == 1 else modes[i - 1], modes[i]) for i in range(1, nphase)]
got = [(a[1], a[2]) for a in audit]
forced_ok = all(("[forced" in a[3]) == (f[5] == "1") for a, f in zip(audit, flips))
result(got == want and forced_ok,
       "audit log: the %d mode changes in order, forced ones marked forced (%s)"
       % (len(want), "; ".join("%s->%s" % g for g in got)))
commit_lo = [max(before[i], audit[i][0]) if got == want else before[i] for i in range(len(flips))]
commit_hi = after

# The store watcher's pick-up of each change.
watch = [iso_ms(l.split()[0]) for l in open(work + "/watcher.txt")]
lat = []
for i in range(len(flips)):
    later = [w for w in watch if w >= commit_lo[i] - 1]
    lat.append(later[0] - commit_lo[i] if later else None)
result(all(x is not None and x <= PICKUP_MS for x in lat),
       "each change picked up by the running bridge within %d ms (%s ms)"
       % (PICKUP_MS, ", ".join(str(x) for x in lat)))

# Where each message is.
in_t, t_time, foreign = [0] * count, [None] * count, 0
for line in open(work + "/t.txt"):
    ts, mid = line.split()
    s = seq_of(mid)
    if s is None:
        foreign += 1
        continue
    in_t[s] += 1
    ts = int(ts) + 1  # CreateTime is truncated to the ms
    t_time[s] = ts if t_time[s] is None else min(t_time[s], ts)
b_ids = [l.strip() for l in open(work + "/b.txt") if l.strip()]
samples = [tuple(map(int, l.split())) for l in open(work + "/bdepth.txt") if len(l.split()) == 2]
in_b, b_time = [0] * count, [None] * count
j = 0
for k, mid in enumerate(b_ids, start=1):
    while j < len(samples) and samples[j][1] < k:
        j += 1
    s = seq_of(mid)
    if s is None:
        foreign += 1
        continue
    in_b[s] += 1
    if j < len(samples) and b_time[s] is None:
        b_time[s] = samples[j][0] + 1
ledger = set()
for line in open(work + "/ledger.txt"):
    side, mid, _ = line.split()
    s = seq_of(mid)
    if s is not None:
        ledger.add((s, side))
pub = {}
for line in open(work + "/chunks.txt"):
    c, t0, _ = map(int, line.split())
    pub[c] = t0

missing = [s for s in range(count) if not in_b[s] and not in_t[s]]
dups = sum(1 for s in range(count) if in_b[s] > 1 or in_t[s] > 1)
result(not missing, "every message in B or in T: %d missing%s" % (
    len(missing), (" (first: %s)" % missing[:10]) if missing else ""))
result(dups == 0 and foreign == 0,
       "no message twice in B or in T, nothing foreign (%d twice, %d foreign)" % (dups, foreign))


def allowed(s, mode):
    b, t = in_b[s] > 0, in_t[s] > 0
    if mode == "JMS_ONLY":
        return b and not t
    if mode == "KAFKA_ONLY":
        return t and not b
    if mode == "DUAL_WRITE_JMS_PRIMARY":
        return b and (t or (s, "kafka") in ledger)
    return t and (b or (s, "legacy") in ledger)


bad_timing, bad_place, forced = [], [], [0] * nphase
assigned, cur = [0] * nphase, 0
for s in range(count):
    if not in_b[s] and not in_t[s]:
        continue  # counted as missing above
    lo = sum(1 for i in range(len(flips)) if pub[s // chunk] >= commit_hi[i] + 1 + PICKUP_MS)
    xs = [x for x in (t_time[s], b_time[s]) if x is not None]
    hi = sum(1 for i in range(len(flips)) if commit_lo[i] <= min(xs)) if xs else nphase - 1
    if lo > hi:
        bad_timing.append((s, lo, hi))
        continue
    if lo == hi:
        forced[lo] += 1
    ok = [p for p in range(max(lo, cur), hi + 1) if allowed(s, modes[p])]
    if not ok:
        where = "B" * (in_b[s] > 0) + "T" * (in_t[s] > 0) + "".join(
            "+ledger:" + side for side in ("kafka", "legacy") if (s, side) in ledger)
        bad_place.append("seq %d in %s, phases %d..%d, after phase %d" % (s, where, lo, hi, cur))
        continue
    cur = ok[0]
    assigned[cur] += 1
log("phase  mode                      pinned  assigned")
for p in range(nphase):
    log("%5d  %-24s  %6d  %8d" % (p, modes[p], forced[p], assigned[p]))
log("ledger entries: %d; in B: %d; in T: %d" % (len(ledger), sum(1 for x in in_b if x),
                                             sum(1 for x in in_t if x)))
result(not bad_timing,
       "no message routed before a flip it must have seen (published > 1 s after it) "
       "but present before that flip was committed: %d%s" % (
           len(bad_timing), (" (first: seq/lo/hi %s)" % bad_timing[:5]) if bad_timing else ""))
result(not bad_place,
       "every message is where the mode it was routed under requires: %d not%s" % (
           len(bad_place), (" (first: %s)" % "; ".join(bad_place[:5])) if bad_place else ""))
share = count // (nphase * 20)
result(all(f >= share for f in forced),
       "every phase had at least %d messages pinned to it by their times (%s)" % (
           share, ", ".join(str(f) for f in forced)))
PY
    it_log "the analysis failed"
while read -r verdict what; do
    it_check "$what" test "$verdict" = ok
done <"$work/results.txt"
it_check "analysis ran ($(wc -l <"$work/results.txt") results)" test "$(wc -l <"$work/results.txt")" = 7

if ((IT_FAILED > 0)); then
    grep -E " (warn|error) " "$work/bridge.log" | head -n 20 | sed 's/^/    /' >&2 || true
    it_show_log "$work/bridge.log"
fi
finished=1
it_summary
