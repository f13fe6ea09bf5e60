# The broker-restart tests (restart_amqp091_flow.sh for RabbitMQ and Kafka,
# restart_artemis.sh): COUNT messages stream through one flow into Kafka; the
# first half is on the source before the bridge starts, the broker is
# restarted (deploy/lab/lab stop X && start X: persisted messages survive)
# once the bridge has forwarded some, and the second half is sent after.
#
# Pass:
#  - the bridge reconnects by itself within 10 s of the broker answering
#    again (lab start returns only then): for a source broker, its first
#    "connected to" log line after the restart; for Kafka, the topic's end
#    offsets growing again;
#  - every id in Kafka (cut-verify / jms-tool check-kafka --allow-duplicates);
#  - duplicates at most the in-flight window (credit/prefetch +
#    max_in_flight, both set in the config), each identifiable by its id;
#  - the bridge exits 0 on SIGTERM and the source queue is empty.
# The figures go to stderr as one "restart figures:" line.
#
# They stop and start a broker of the shared lab: run them alone
# (meson test --suite restart), never next to other tests.
#
# A test script sets CUTOVER, BROKER, COUNT and defines:
#   rt_setup         names, config in $work/cutover.yaml
#   rt_send FIRST N  put messages FIRST..FIRST+N-1 on the source
#   rt_depth         messages left on the source queue
#   rt_verify        check Kafka; print the summary line; return its status
#   rt_cleanup       drop queues/topics (only called when everything passed)
# then calls rt_main.

RT_WINDOW=2000 # source window 1000 + Kafka max_in_flight 1000
RT_BROKER_DOWN=

rt_restore_broker() {
    if [[ -n $RT_BROKER_DOWN ]]; then
        it_log "restarting $BROKER, which the test left stopped"
        "$IT_LAB" start "$BROKER" >&2 || true
        RT_BROKER_DOWN=
    fi
}

rt_exit() {
    rt_restore_broker
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n ${RT_FINISHED:-} ]] && ((IT_FAILED == 0)); then
        rt_cleanup
    else
        it_log "kept for inspection: $work (config, log, records), ${RT_KEPT:-}"
        return
    fi
    rm -rf "$work"
}

# Milliseconds since the epoch of a bridge log line's leading UTC timestamp.
rt_line_ms() {
    local ts=${1%% *}
    date -u -d "${ts%Z}" +%s%3N 2>/dev/null || echo 0
}

rt_dups_ok() { [[ $1 =~ ^[0-9]+$ ]] && (($1 <= RT_WINDOW)); }

rt_connected_lines() { grep -c ": connected to " "$work/bridge.log" || true; }

rt_main() {
    local half=$((COUNT / 2)) rc before up_ms end0=0 conn_ms='' prog_ms='' line depth depth_at_stop
    local kafka_at_stop
    work=$(mktemp -d)
    trap rt_exit EXIT
    rt_setup

    it_log "putting messages 0..$((half - 1)) on the source"
    rt_send 0 "$half"
    it_bridge_start "$work/cutover.yaml" "$work/bridge.log"

    local some=$((half / 10 < 2000 ? half / 10 : 2000))
    # shellcheck disable=SC2317 # called through it_wait_until
    kafka_has_some() { (($(it_kafka_end "$RT_TOPIC") >= some)); }
    it_wait_until 120 kafka_has_some || it_fail "the bridge forwarded nothing in 120 s"
    depth_at_stop=$(rt_depth)
    kafka_at_stop=$(it_kafka_end "$RT_TOPIC")
    before=$(rt_connected_lines)

    it_log "restarting $BROKER mid-stream ($kafka_at_stop in Kafka, $depth_at_stop still on the source)"
    local t0
    t0=$(it_now_ms)
    RT_BROKER_DOWN=1
    "$IT_LAB" stop "$BROKER" >&2 || it_fail "lab stop $BROKER failed"
    "$IT_LAB" start "$BROKER" >&2 || it_fail "lab start $BROKER failed"
    RT_BROKER_DOWN=
    up_ms=$(it_now_ms)
    eval "$("$IT_LAB" env)"

    # The second half goes out at once, so that the stream resumes whether or
    # not the first half was all forwarded before the stop.
    rt_send "$half" "$((COUNT - half))" &
    local sender=$!
    # Reconnection: a new "connected to" line (source brokers), and the topic
    # growing again (every broker: the stream resumed end to end), both
    # watched for 30 s. (A first answer below the count before the stop is
    # Kafka not serving yet.)
    # shellcheck disable=SC2317 # called through it_wait_until
    end0_known() { end0=$(it_kafka_end "$RT_TOPIC"); ((end0 >= kafka_at_stop)); }
    it_wait_until 20 end0_known || it_fail "cannot read the topic's end offsets after the restart"
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)) && { [[ -z $prog_ms ]] || [[ $BROKER != kafka && -z $conn_ms ]]; }; do
        if [[ $BROKER != kafka && -z $conn_ms ]] && (($(rt_connected_lines) > before)); then
            line=$(grep ": connected to " "$work/bridge.log" | sed -n "$((before + 1))p")
            conn_ms=$(($(rt_line_ms "$line") - up_ms))
            it_log "reconnected: $line"
        fi
        if [[ -z $prog_ms ]] && (($(it_kafka_end "$RT_TOPIC") > end0)); then
            prog_ms=$(($(it_now_ms) - up_ms))
        fi
        sleep 0.2
    done
    if [[ $BROKER != kafka ]]; then
        it_check "the bridge reconnects to $BROKER within 10 s of it answering (${conn_ms:-never} ms)" \
            test -n "$conn_ms" -a "${conn_ms:-99999}" -le 10000
    fi
    it_check "messages flow into Kafka again within 10 s of $BROKER answering (${prog_ms:-never} ms)" \
        test -n "$prog_ms" -a "${prog_ms:-99999}" -le 10000
    it_wait_exit "$sender" 300
    it_check "second half sent (rc $IT_RC)" test "$IT_RC" = 0

    local out dups
    rc=0
    out=$(rt_verify) || rc=$?
    printf '%s\n' "$out" >&2
    dups=$(it_summary_field "$(tail -n 1 <<<"$out")" duplicates)
    it_check "all $COUNT ids in Kafka (rc $rc)" test "$rc" = 0
    it_check "duplicates ($dups) within the in-flight window ($RT_WINDOW)" rt_dups_ok "$dups"
    it_check "bridge still running" it_bridge_alive "$work/bridge.log"
    it_bridge_stop 90
    it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
    depth=$(rt_depth)
    it_check "source queue empty after the run ($depth left)" test "$depth" = 0
    printf 'restart figures: broker=%s count=%d in_kafka_at_stop=%s on_source_at_stop=%s down_ms=%d reconnect_after_up_ms=%s flowing_after_up_ms=%s duplicates=%s window=%d\n' \
        "$BROKER" "$COUNT" "$kafka_at_stop" "$depth_at_stop" "$((up_ms - t0))" "${conn_ms:-n/a}" \
        "${prog_ms:-never}" "$dups" "$RT_WINDOW" >&2
    if ((IT_FAILED > 0)); then
        grep -E " (warn|error) " "$work/bridge.log" | head -n 20 | sed 's/^/    /' >&2 || true
        it_show_log "$work/bridge.log"
    fi
    RT_FINISHED=1
    it_summary
}
