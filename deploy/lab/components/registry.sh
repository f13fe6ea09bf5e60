# Confluent-compatible Schema Registry for the lab: Apicurio Registry, its
# Confluent API (/apis/ccompat/v7), with KafkaSQL storage, i.e. every write
# goes to a journal topic in the lab's Kafka and survives restarts.
#
# It runs Apicurio's own prebuilt distribution, published on Maven Central as
# io.apicurio:apicurio-registry-app:VERSION:tar.gz:all (a Quarkus application:
# runner jar + lib/); nothing is compiled here. See deploy/lab/registry/README.md.

REGISTRY_VERSION=3.0.9          # needs Java 17+; 3.3.x needs Java 21+
_registry_coord=io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all
_registry_home=$LAB_CACHE/apicurio-registry-$REGISTRY_VERSION
_registry_jar=$_registry_home/apicurio-registry-app-$REGISTRY_VERSION-runner.jar
_registry_dir=$LAB_DATA/registry

# Default Kafka: the lab's running Kafka (its saved port), else 127.0.0.1:9092.
_registry_default_kafka() {
    local port=
    if [[ -f $LAB_RUN/kafka.conf ]] && lab_pid_alive kafka; then
        port=$(sed -n 's/^KAFKA_PORT=//p' "$LAB_RUN/kafka.conf")
    fi
    printf '%s:%s\n' "$LAB_HOST" "${KAFKA_PORT:-${port:-9092}}"
}
# REGISTRY_HEAP and REGISTRY_COMPATIBILITY (the default global compatibility
# rule, Confluent's default being BACKWARD) are read at start only.
lab_settings registry REGISTRY_PORT=8081 KAFKA_BOOTSTRAP="$(_registry_default_kafka)"

_registry_base() { printf 'http://%s:%s/apis/ccompat/v7\n' "$LAB_HOST" "$REGISTRY_PORT"; }

registry_install() {
    lab_need_java
    command -v curl >/dev/null || lab_apt_install curl
    [[ -f $_registry_jar && -f $_registry_home/.complete ]] && return 0
    lab_dirs
    local tgz tmp
    lab_log "registry: fetching Apicurio Registry $REGISTRY_VERSION distribution from Maven Central (~105 MB, cached in ~/.m2)"
    tgz=$(lab_mvn_get "$_registry_coord") || exit 1
    [[ -s $tgz ]] || lab_die "registry: $_registry_coord: no file at $tgz"
    tmp=$_registry_home.tmp.$$
    rm -rf "$tmp" && mkdir -p "$tmp"
    tar -xzf "$tgz" -C "$tmp" ||
        { rm -rf "$tmp"; lab_die "registry: could not unpack $tgz (corrupt download? delete it and retry)"; }
    [[ -f $tmp/${_registry_jar##*/} ]] ||
        { rm -rf "$tmp"; lab_die "registry: $tgz has no ${_registry_jar##*/}"; }
    touch "$tmp/.complete"
    rm -rf "$_registry_home" && mv "$tmp" "$_registry_home"
    lab_log "registry: installed in $_registry_home"
}

# Answering: the Confluent API lists subjects.
_registry_answers() {
    curl -sf -o /dev/null --max-time 5 "$(_registry_base)/subjects"
}

# Kafka reachable: every bootstrap address is tried, one that accepts TCP is
# enough; when kcat is there (the kafka component installs it), the broker
# must also answer a metadata request.
_registry_kafka_up() {
    local hp host port ok=
    for hp in ${KAFKA_BOOTSTRAP//,/ }; do
        host=${hp%:*} port=${hp##*:}
        # shellcheck disable=SC2016  # expanded by the inner bash
        if timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then ok=1; break; fi
    done
    [[ -n $ok ]] || return 1
    if command -v kcat >/dev/null; then
        timeout 15 kcat -b "$KAFKA_BOOTSTRAP" -L -m 5 2>/dev/null | grep -q '^ *[0-9]* brokers:' || return 1
    fi
    return 0
}

registry_start() {
    lab_running registry _registry_answers 180 && return 0
    lab_port_open "$REGISTRY_PORT" &&
        lab_die "registry: port $REGISTRY_PORT on $LAB_HOST is already in use by another process; set REGISTRY_PORT to move the registry"
    _registry_kafka_up ||
        lab_die "registry: Kafka is not up at $KAFKA_BOOTSTRAP (KAFKA_BOOTSTRAP); the registry keeps its data in Kafka: start it first (lab start kafka)"
    [[ -f $_registry_jar ]] || lab_die "registry: not installed ($_registry_jar missing): run lab install registry"
    mkdir -p "$_registry_dir/tmp"
    local off; off=$(lab_log_size registry)
    lab_log "registry: starting Apicurio Registry $REGISTRY_VERSION on $LAB_HOST:$REGISTRY_PORT (kafkasql on $KAFKA_BOOTSTRAP)"
    # shellcheck disable=SC2034  # read by lab_java_spawn
    LAB_JAVA_OPTS=(
        -Djava.io.tmpdir="$_registry_dir/tmp"
        -Dquarkus.http.host="$LAB_HOST"
        -Dquarkus.http.port="$REGISTRY_PORT"
        -Dapicurio.storage.kind=kafkasql
        -Dapicurio.kafkasql.bootstrap.servers="$KAFKA_BOOTSTRAP"
        -Dapicurio.kafkasql.topic=kafkasql-journal
        # like Confluent: a schema sent again with other formatting gets its
        # existing id instead of becoming a new version
        -Dapicurio.ccompat.use-canonical-hash=true
        -Dapicurio.rules.global.compatibility="${REGISTRY_COMPATIBILITY:-BACKWARD}"
        -Dapicurio.storage.snapshot.location="$_registry_dir/tmp"
        -Dapicurio.import.work-dir="$_registry_dir/tmp"
    )
    lab_java_spawn registry "${REGISTRY_HEAP:-512m}" "$_registry_jar" io.quarkus.runner.GeneratedMain
    # the journal in Kafka is replayed before the API is worth asking
    lab_wait_up registry 240 lab_log_has registry "$off" 'KafkaSQL storage bootstrapped'
    lab_wait_up registry 120 _registry_answers
    lab_settings_save registry
    lab_log "registry: up: $(_registry_base)"
}

registry_stop() {
    if ! lab_pid_alive registry; then
        rm -f "$LAB_RUN/registry.pid"
        lab_log "registry: not running"
        return 0
    fi
    lab_log "registry: stopping"
    lab_kill registry
}

registry_status() {
    lab_settings_check registry
    if lab_pid_alive registry && _registry_answers; then
        printf 'registry  up    %s, apicurio %s, kafkasql on %s, pid %s, rss %s MiB\n' \
            "$(_registry_base)" "$REGISTRY_VERSION" "$KAFKA_BOOTSTRAP" \
            "$(cat "$LAB_RUN/registry.pid")" "$(lab_rss registry)"
        return 0
    fi
    if lab_pid_alive registry; then
        printf 'registry  down  process %s alive but not answering on %s; see %s\n' \
            "$(cat "$LAB_RUN/registry.pid")" "$REGISTRY_PORT" "$LAB_LOG/registry.log"
    else
        printf 'registry  down  not running\n'
    fi
    return 1
}

registry_env() {
    cat <<ENV
export REGISTRY_PORT=$REGISTRY_PORT
export SCHEMA_REGISTRY_URL=$(_registry_base)
export REGISTRY_API_URL=http://$LAB_HOST:$REGISTRY_PORT/apis/registry/v3
export REGISTRY_VERSION=$REGISTRY_VERSION
ENV
}
