# ActiveMQ Artemis for the lab: Apache's binary distribution from Maven Central
# (org.apache.activemq:apache-artemis:VERSION:tar.gz:bin), unpacked into the
# cache, one broker instance under $LAB_DATA/artemis. Acceptors: the "artemis"
# multi-protocol one (CORE, AMQP, OPENWIRE, ...) on ARTEMIS_PORT and a
# dedicated AMQP 1.0 one on ARTEMIS_AMQP_PORT; the web console / Jolokia
# management API on ARTEMIS_HTTP_PORT. Anonymous logins are allowed (loopback
# lab); admin/admin works too. Addresses and queues are auto-created.

ARTEMIS_VERSION=${ARTEMIS_VERSION:-2.40.0}
lab_settings artemis ARTEMIS_PORT=61616 ARTEMIS_AMQP_PORT=5673 ARTEMIS_HTTP_PORT=8161
ARTEMIS_USER=${ARTEMIS_USER:-admin}
ARTEMIS_PASSWORD=${ARTEMIS_PASSWORD:-admin}
ARTEMIS_BROKER_NAME=cutover           # JMX/Jolokia: org.apache.activemq.artemis:broker="cutover"
_art_home=$LAB_CACHE/apache-artemis-$ARTEMIS_VERSION
_art_inst=$LAB_DATA/artemis

artemis_install() {
    lab_need_java
    if [[ ! -x $_art_home/bin/artemis ]]; then
        local tgz tmp
        tgz=$(lab_mvn_get "org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin") || exit 1
        [[ -s $tgz ]] || lab_die "artemis: download of apache-artemis $ARTEMIS_VERSION failed ($tgz missing)"
        lab_log "artemis: unpacking $(basename "$tgz") into $LAB_CACHE"
        tmp=$(mktemp -d "$LAB_CACHE/.artemis.XXXXXX")
        tar -xzf "$tgz" -C "$tmp" || { rm -rf "$tmp"; lab_die "artemis: could not unpack $tgz (corrupt download? delete it and retry)"; }
        rm -rf "$_art_home"
        mv "$tmp/apache-artemis-$ARTEMIS_VERSION" "$_art_home" && rm -rf "$tmp"
    fi
    [[ -f $_art_inst/.lab-created ]] && return 0
    lab_log "artemis: creating broker instance in $_art_inst"
    mkdir -p "$_art_inst"
    "$_art_home/bin/artemis" create "$_art_inst" --force --silent \
        --name "$ARTEMIS_BROKER_NAME" \
        --user "$ARTEMIS_USER" --password "$ARTEMIS_PASSWORD" --role amq --allow-anonymous \
        --host "$LAB_HOST" --http-host "$LAB_HOST" --http-port "$ARTEMIS_HTTP_PORT" \
        --default-port "$ARTEMIS_PORT" \
        --no-stomp-acceptor --no-mqtt-acceptor --no-hornetq-acceptor \
        --nio --no-autotune --java-memory 512M \
        >"$LAB_LOG/artemis-create.log" 2>&1 ||
        lab_die "artemis: 'artemis create' failed; see $LAB_LOG/artemis-create.log"
    # modest memory: start small, grow to 512 MiB; don't block producers
    # before the disk is really full
    sed -i 's/-Xms512M/-Xms64M/' "$_art_inst/etc/artemis.profile"
    sed -i 's|<max-disk-usage>90</max-disk-usage>|<max-disk-usage>98</max-disk-usage>|' "$_art_inst/etc/broker.xml"
    touch "$_art_inst/.lab-created"
}

# Ports come from the environment at each start.
_art_set_ports() {
    local bx=$_art_inst/etc/broker.xml
    sed -i -E \
        -e "s|(<acceptor name=\"artemis\">tcp://)[^:]+:[0-9]+|\1$LAB_HOST:$ARTEMIS_PORT|" \
        -e "s|(<acceptor name=\"amqp\">tcp://)[^:]+:[0-9]+|\1$LAB_HOST:$ARTEMIS_AMQP_PORT|" "$bx"
    if ! grep -q "<acceptor name=\"amqp\">tcp://$LAB_HOST:$ARTEMIS_AMQP_PORT?" "$bx" ||
        ! grep -q "<acceptor name=\"artemis\">tcp://$LAB_HOST:$ARTEMIS_PORT?" "$bx"; then
        lab_die "artemis: could not set the acceptor ports in $bx"
    fi
    sed -i -E "s|(<binding name=\"artemis\" uri=\"http://)[^:]+:[0-9]+|\1$LAB_HOST:$ARTEMIS_HTTP_PORT|" \
        "$_art_inst/etc/bootstrap.xml"
}

# Jolokia (the management API over HTTP): GET PATH below /console/jolokia/.
# Its CORS policy wants an Origin header naming the host it listens on.
_art_jolokia() {
    curl -sf -m 5 -u "$ARTEMIS_USER:$ARTEMIS_PASSWORD" -H "Origin: http://$LAB_HOST" \
        "http://$LAB_HOST:$ARTEMIS_HTTP_PORT/console/jolokia/$1"
}

# Up and answering: the broker says it is started, both acceptors accept.
_art_answers() {
    _art_jolokia "read/org.apache.activemq.artemis:broker=%22$ARTEMIS_BROKER_NAME%22/Started" |
        grep -q '"value":true' &&
        lab_port_open "$ARTEMIS_AMQP_PORT" && lab_port_open "$ARTEMIS_PORT"
}
# At start, also a protocol check: both acceptors speak AMQP 1.0. (Not used
# for status: each probe leaves a "connection reset" warning in the log.)
_art_amqp_ok() { lab_amqp10_probe "$ARTEMIS_AMQP_PORT" && lab_amqp10_probe "$ARTEMIS_PORT"; }

artemis_start() {
    lab_running artemis _art_answers && return 0
    lab_port_free artemis "$ARTEMIS_PORT"
    lab_port_free artemis-amqp "$ARTEMIS_AMQP_PORT"
    lab_port_free artemis-http "$ARTEMIS_HTTP_PORT"
    _art_set_ports
    local off; off=$(lab_log_size artemis)
    lab_log "artemis: starting $ARTEMIS_VERSION on $LAB_HOST:$ARTEMIS_PORT (core+amqp), :$ARTEMIS_AMQP_PORT (amqp), http :$ARTEMIS_HTTP_PORT"
    lab_spawn artemis "$_art_inst/bin/artemis" run
    lab_wait_up artemis 120 lab_log_has artemis "$off" 'AMQ221007|AMQ221001'
    lab_wait_up artemis 60 _art_answers
    lab_wait_up artemis 10 _art_amqp_ok
    lab_settings_save artemis
    lab_log "artemis: up"
}

artemis_stop() {
    if ! lab_pid_alive artemis; then
        lab_kill artemis                 # clears stale pid/state files only
        lab_log "artemis: not running"
        return 0
    fi
    lab_log "artemis: stopping"
    lab_kill artemis
}

artemis_status() {
    lab_settings_check artemis
    if lab_pid_alive artemis && _art_answers; then
        printf 'artemis   up    core+amqp tcp://%s:%s, amqp://%s:%s, http://%s:%s, pid %s, rss %s MiB\n' \
            "$LAB_HOST" "$ARTEMIS_PORT" "$LAB_HOST" "$ARTEMIS_AMQP_PORT" "$LAB_HOST" "$ARTEMIS_HTTP_PORT" \
            "$(cat "$LAB_RUN/artemis.pid")" "$(lab_rss artemis)"
        return 0
    fi
    if lab_pid_alive artemis; then
        printf 'artemis   down  process %s alive but not answering on %s/%s; see %s\n' \
            "$(cat "$LAB_RUN/artemis.pid")" "$ARTEMIS_PORT" "$ARTEMIS_AMQP_PORT" "$LAB_LOG/artemis.log"
    else
        printf 'artemis   down  not running\n'
    fi
    return 1
}

artemis_env() {
    cat <<ENV
export ARTEMIS_HOST=$LAB_HOST
export ARTEMIS_PORT=$ARTEMIS_PORT
export ARTEMIS_URL=tcp://$LAB_HOST:$ARTEMIS_PORT
export ARTEMIS_AMQP_PORT=$ARTEMIS_AMQP_PORT
export ARTEMIS_AMQP_URL=amqp://$LAB_HOST:$ARTEMIS_AMQP_PORT
export ARTEMIS_USER=$ARTEMIS_USER
export ARTEMIS_PASSWORD=$ARTEMIS_PASSWORD
export ARTEMIS_HTTP_URL=http://$LAB_HOST:$ARTEMIS_HTTP_PORT
export ARTEMIS_JOLOKIA_URL=http://$LAB_HOST:$ARTEMIS_HTTP_PORT/console/jolokia
export ARTEMIS_BROKER_NAME=$ARTEMIS_BROKER_NAME
export ARTEMIS_HOME=$_art_home
export ARTEMIS_INSTANCE=$_art_inst
ENV
}
