# RabbitMQ for the lab: Debian's rabbitmq-server (3.10.x) run as our own
# process (no systemd), AMQP 0-9-1 and AMQP 1.0 (the rabbitmq_amqp1_0 plugin
# shares the 0-9-1 listener in 3.10) on RABBITMQ_PORT, the management API on
# RABBITMQ_MGMT_PORT. Sourced by deploy/lab/lab after lib.sh.

lab_settings rabbitmq RABBITMQ_PORT=5672 RABBITMQ_MGMT_PORT=15672 RABBITMQ_NODE=cutover@localhost
RABBITMQ_BIN=/usr/lib/rabbitmq/bin   # the real scripts, not the su-ing wrappers in /usr/sbin
_rmq_dir=$LAB_DATA/rabbitmq

# The environment every rabbitmq script (server and CLI) needs to find our node.
_rmq_env() {
    export RABBITMQ_NODENAME=$RABBITMQ_NODE
    export RABBITMQ_CONFIG_FILE=$_rmq_dir/rabbitmq.conf
    export RABBITMQ_ENABLED_PLUGINS_FILE=$_rmq_dir/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$_rmq_dir/mnesia
    export RABBITMQ_LOG_BASE=$LAB_LOG/rabbitmq.d
    export RABBITMQ_LOGS=-                     # to stdout, i.e. $LAB_LOG/rabbitmq.log
    export RABBITMQ_NODE_IP_ADDRESS=$LAB_HOST
    export RABBITMQ_NODE_PORT=$RABBITMQ_PORT
    export RABBITMQ_DIST_PORT=$((RABBITMQ_PORT + 20000))
    export RABBITMQ_PID_FILE=$_rmq_dir/rabbitmq.pid
    export RABBITMQ_CONF_ENV_FILE=$_rmq_dir/rabbitmq-env.conf   # empty: ignore /etc/rabbitmq's
    export RABBITMQ_ADVANCED_CONFIG_FILE=$_rmq_dir/advanced.config
    export HOME=${HOME:-/root}                 # erlang cookie lives in $HOME/.erlang.cookie
    # loopback only, also for Erlang distribution and the epmd it starts
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_EPMD_ADDRESS=127.0.0.1
}

rabbitmq_install() {
    lab_apt_install rabbitmq-server curl
    [[ -x $RABBITMQ_BIN/rabbitmq-server ]] || lab_die "rabbitmq: $RABBITMQ_BIN/rabbitmq-server not found after install"
    # A Debian-started service would hold our ports and use /var/lib/rabbitmq;
    # the lab runs its own node. Stop one that an earlier install started.
    if pgrep -u rabbitmq -f 'beam.*rabbit' >/dev/null 2>&1; then
        lab_log "rabbitmq: stopping the system rabbitmq-server service (the lab runs its own node)"
        invoke-rc.d rabbitmq-server stop >/dev/null 2>&1 || service rabbitmq-server stop >/dev/null 2>&1 || true
    fi
    mkdir -p "$_rmq_dir/mnesia" "$LAB_LOG/rabbitmq.d"
}

_rmq_write_config() {
    mkdir -p "$_rmq_dir/mnesia" "$LAB_LOG/rabbitmq.d"
    cat >"$_rmq_dir/rabbitmq.conf" <<CONF
# written by deploy/lab/components/rabbitmq.sh at each start (ports from env)
listeners.tcp.default = $LAB_HOST:$RABBITMQ_PORT
management.tcp.ip = $LAB_HOST
management.tcp.port = $RABBITMQ_MGMT_PORT
loopback_users.guest = true
log.console = true
log.console.level = info
log.file = false
# a small lab machine: don't stop publishers over a disk or memory alarm
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.4
CONF
    echo '[rabbitmq_management,rabbitmq_amqp1_0].' >"$_rmq_dir/enabled_plugins"
    : >"$_rmq_dir/rabbitmq-env.conf"
    [[ -f $_rmq_dir/advanced.config ]] || echo '[].' >"$_rmq_dir/advanced.config"
}

_rmq_api() { curl -sf -m 5 -u guest:guest "http://$LAB_HOST:$RABBITMQ_MGMT_PORT/api/$1"; }

# Up and answering: the management API runs a declare/publish/get round trip
# on the default vhost, and the AMQP port accepts connections.
_rmq_answers() {
    _rmq_api 'aliveness-test/%2F' | grep -q '"status":"ok"' && lab_port_open "$RABBITMQ_PORT"
}

rabbitmq_start() {
    lab_running rabbitmq _rmq_answers && return 0
    _rmq_stop_beam                  # an Erlang VM orphaned by a killed script
    lab_port_free rabbitmq "$RABBITMQ_PORT"
    lab_port_free rabbitmq-management "$RABBITMQ_MGMT_PORT"
    lab_port_free rabbitmq-distribution "$((RABBITMQ_PORT + 20000))"
    _rmq_write_config
    _rmq_env
    lab_log "rabbitmq: starting node $RABBITMQ_NODE on $LAB_HOST:$RABBITMQ_PORT (management $RABBITMQ_MGMT_PORT)"
    lab_spawn rabbitmq "$RABBITMQ_BIN/rabbitmq-server"
    lab_wait_up rabbitmq 120 _rmq_answers
    # once, at start: the AMQP port speaks AMQP 1.0 too (plugin loaded). Not in
    # status: each probe leaves a "client unexpectedly closed" line in the log.
    lab_wait_up rabbitmq 10 lab_amqp10_probe "$RABBITMQ_PORT"
    lab_settings_save rabbitmq
    lab_log "rabbitmq: up ($(_rmq_api overview | sed -n 's/.*"rabbitmq_version":"\([^"]*\)".*/\1/p'))"
}

# Stop the Erlang VM named by RabbitMQ's own pid file, if it is ours (its
# environment names our data dir).
_rmq_stop_beam() {
    local beam
    beam=$(cat "$_rmq_dir/rabbitmq.pid" 2>/dev/null) || return 0
    [[ $beam =~ ^[0-9]+$ ]] && grep -qzxF "RABBITMQ_MNESIA_BASE=$_rmq_dir/mnesia" "/proc/$beam/environ" 2>/dev/null ||
        return 0
    kill "$beam" 2>/dev/null
    for _ in $(seq 1 120); do lab_proc_alive "$beam" || break; sleep 0.5; done
    kill -9 "$beam" 2>/dev/null || true
}

rabbitmq_stop() {
    if ! lab_pid_alive rabbitmq; then
        lab_kill rabbitmq           # clears stale pid/state files only
        _rmq_stop_beam              # an Erlang VM orphaned by a killed script
        lab_log "rabbitmq: not running"
        return 0
    fi
    lab_log "rabbitmq: stopping"
    # The Erlang VM shuts RabbitMQ down cleanly on SIGTERM (faster than
    # `rabbitmqctl stop`, whose CLI takes seconds to boot); the
    # rabbitmq-server script in our pid file then exits by itself.
    _rmq_stop_beam
    lab_kill rabbitmq
}

rabbitmq_status() {
    lab_settings_check rabbitmq
    if lab_pid_alive rabbitmq && _rmq_answers; then
        printf 'rabbitmq  up    amqp://%s:%s (0-9-1 + 1.0), management http://%s:%s, pid %s, rss %s MiB\n' \
            "$LAB_HOST" "$RABBITMQ_PORT" "$LAB_HOST" "$RABBITMQ_MGMT_PORT" "$(cat "$LAB_RUN/rabbitmq.pid")" "$(lab_rss rabbitmq)"
        return 0
    fi
    if lab_pid_alive rabbitmq; then
        printf 'rabbitmq  down  process %s alive but not answering on %s/%s; see %s\n' \
            "$(cat "$LAB_RUN/rabbitmq.pid")" "$RABBITMQ_PORT" "$RABBITMQ_MGMT_PORT" "$LAB_LOG/rabbitmq.log"
    else
        printf 'rabbitmq  down  not running\n'
    fi
    return 1
}

rabbitmq_env() {
    cat <<ENV
export RABBITMQ_HOST=$LAB_HOST
export RABBITMQ_PORT=$RABBITMQ_PORT
export RABBITMQ_URL=amqp://guest:guest@$LAB_HOST:$RABBITMQ_PORT/%2F
export RABBITMQ_MGMT_PORT=$RABBITMQ_MGMT_PORT
export RABBITMQ_MGMT_URL=http://guest:guest@$LAB_HOST:$RABBITMQ_MGMT_PORT/
ENV
}
