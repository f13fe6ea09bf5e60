# Apache Kafka for the lab: one KRaft node (broker + controller) on loopback,
# run from Apache's own jars resolved from Maven Central by
# deploy/lab/kafka/pom.xml (downloads cached in ~/.m2, the classpath in
# $LAB_CACHE). Storage is formatted once, with a fixed cluster id, and reused.

lab_settings kafka KAFKA_PORT=9092 KAFKA_CONTROLLER_PORT=9093
KAFKA_CLUSTER_ID=Y3V0b3Zlci1sYWIta2ZrMQ       # base64url("cutover-lab-kfk1")
_kafka_pom=$LAB_HOME/kafka
_kafka_version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$_kafka_pom/pom.xml")
_kafka_cp=$LAB_CACHE/kafka-$_kafka_version.classpath
_kafka_dir=$LAB_DATA/kafka

kafka_install() {
    lab_need_java
    command -v kcat >/dev/null || lab_apt_install kcat
    lab_mvn_classpath "$_kafka_pom" "$_kafka_cp"
}

_kafka_write_config() {
    mkdir -p "$_kafka_dir/config" "$_kafka_dir/data"
    cat >"$_kafka_dir/config/server.properties" <<CONF
# written by deploy/lab/components/kafka.sh at each start (ports from env)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$LAB_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$LAB_HOST:$KAFKA_PORT,CONTROLLER://$LAB_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$LAB_HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$_kafka_dir/data
# single node
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
# a lab: keep a day of data, small segments
log.retention.hours=24
log.segment.bytes=67108864
CONF
    cat >"$_kafka_dir/config/log4j2.properties" <<'CONF'
# Kafka logs to stdout, which the lab appends to $LAB_LOG/kafka.log
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
CONF
}

# Format the storage once. An existing meta.properties is kept whatever its
# cluster id: the data and the id belong together.
_kafka_format() {
    [[ -f $_kafka_dir/data/meta.properties ]] && return 0
    lab_log "kafka: formatting storage in $_kafka_dir/data (cluster id $KAFKA_CLUSTER_ID)"
    java -Dlog4j2.configurationFile="$_kafka_dir/config/log4j2.properties" -cp "$(cat "$_kafka_cp")" \
        kafka.tools.StorageTool format --ignore-formatted \
        --cluster-id "$KAFKA_CLUSTER_ID" --config "$_kafka_dir/config/server.properties" \
        >>"$LAB_LOG/kafka.log" 2>&1 ||
        lab_die "kafka: formatting the storage failed; see $LAB_LOG/kafka.log"
}

# Up and answering: a metadata request returns this broker.
_kafka_answers() {
    timeout 15 kcat -b "$LAB_HOST:$KAFKA_PORT" -L -m 5 2>/dev/null |
        grep -q "broker 1 at $LAB_HOST:$KAFKA_PORT"
}

kafka_start() {
    lab_running kafka _kafka_answers && return 0
    lab_port_free kafka "$KAFKA_PORT"
    lab_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
    _kafka_write_config
    _kafka_format
    local off; off=$(lab_log_size kafka)
    lab_log "kafka: starting $_kafka_version (KRaft, broker+controller) on $LAB_HOST:$KAFKA_PORT, controller :$KAFKA_CONTROLLER_PORT"
    # shellcheck disable=SC2034  # read by lab_java_spawn
    LAB_JAVA_OPTS=(-Dlog4j2.configurationFile="$_kafka_dir/config/log4j2.properties")
    lab_java_spawn kafka 1g "$(cat "$_kafka_cp")" kafka.Kafka "$_kafka_dir/config/server.properties"
    lab_wait_up kafka 120 lab_log_has kafka "$off" 'Kafka Server started'
    lab_wait_up kafka 60 _kafka_answers
    lab_settings_save kafka
    lab_log "kafka: up"
}

kafka_stop() {
    if ! lab_pid_alive kafka; then
        lab_kill kafka                 # clears stale pid/state files only
        lab_log "kafka: not running"
        return 0
    fi
    lab_log "kafka: stopping"
    lab_kill kafka
}

kafka_status() {
    lab_settings_check kafka
    if lab_pid_alive kafka && _kafka_answers; then
        printf 'kafka     up    %s:%s (controller :%s), kafka %s, pid %s, rss %s MiB\n' \
            "$LAB_HOST" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$_kafka_version" \
            "$(cat "$LAB_RUN/kafka.pid")" "$(lab_rss kafka)"
        return 0
    fi
    if lab_pid_alive kafka; then
        printf 'kafka     down  process %s alive but not answering on %s; see %s\n' \
            "$(cat "$LAB_RUN/kafka.pid")" "$KAFKA_PORT" "$LAB_LOG/kafka.log"
    else
        printf 'kafka     down  not running\n'
    fi
    return 1
}

kafka_env() {
    cat <<ENV
export KAFKA_HOST=$LAB_HOST
export KAFKA_PORT=$KAFKA_PORT
export KAFKA_BOOTSTRAP=$LAB_HOST:$KAFKA_PORT
export KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
export KAFKA_VERSION=$_kafka_version
export KAFKA_CLASSPATH_FILE=$_kafka_cp
export KAFKA_TOOL=$LAB_HOME/kafka/kafka-tool
ENV
}
