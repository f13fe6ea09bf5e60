# Shared helpers for the broker lab. Sourced by deploy/lab/lab and by every
# component file in deploy/lab/components/. Plain bash, no dependencies.

# Everything the lab writes lives under LAB_DIR: downloads (cache/), server
# data (data/<component>/), logs (log/<component>.log) and pid files (run/).
LAB_DIR=${CUTOVER_LAB_DIR:-/var/tmp/cutover-lab}
LAB_CACHE=$LAB_DIR/cache
LAB_DATA=$LAB_DIR/data
LAB_LOG=$LAB_DIR/log
LAB_RUN=$LAB_DIR/run
LAB_HOST=127.0.0.1

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

lab_dirs() { mkdir -p "$LAB_CACHE" "$LAB_DATA" "$LAB_LOG" "$LAB_RUN"; }

# lab_port_open PORT: true when something accepts TCP connections on it.
lab_port_open() { (exec 3<>"/dev/tcp/$LAB_HOST/$1") 2>/dev/null; }

# lab_port_free NAME PORT: die with a clear message when the port is taken
# by a process that is not ours.
lab_port_free() {
    if lab_port_open "$2"; then
        lab_die "$1: port $2 on $LAB_HOST is already in use by another process (set the port variable to move it)"
    fi
}

# lab_wait NAME SECONDS CMD...: run CMD until it succeeds or the deadline passes.
lab_wait() {
    local name=$1 secs=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            lab_die "$name did not answer within ${secs}s; see $LAB_LOG/$name.log"
        fi
        sleep 0.5
    done
}

# lab_pid_alive NAME: true when the pid file of NAME names a live process.
# When lab_spawn also recorded the process's start time (NAME.start), the
# process must have that start time too: after a reboot or a container
# restart the pid may belong to someone else.
lab_pid_alive() {
    local f=$LAB_RUN/$1.pid pid
    [[ -f $f ]] || return 1
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] && lab_proc_alive "$pid" || return 1
    [[ -f $LAB_RUN/$1.start ]] || return 0
    [[ $(lab_starttime "$pid") == "$(cat "$LAB_RUN/$1.start")" ]]
}

# lab_proc_alive PID: the process exists and is not a zombie (an exited
# child that its new parent, often a container's init, has not reaped yet).
lab_proc_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]
}

# lab_starttime PID: the process's start time (clock ticks since boot).
lab_starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }

# lab_kill NAME: stop the process in NAME's pid file, politely then firmly.
lab_kill() {
    local f=$LAB_RUN/$1.pid pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    if lab_pid_alive "$1"; then
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 60); do lab_proc_alive "$pid" || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f" "$LAB_RUN/$1.conf" "$LAB_RUN/$1.start"
}

# lab_mvn_get G:A:V[:packaging[:classifier]]: fetch one artifact into the local
# Maven repository (~/.m2, which is the download cache) and print its path.
lab_mvn_get() {
    local coord=$1 g a v p c path
    IFS=: read -r g a v p c <<<"$coord"
    p=${p:-jar}
    path=$HOME/.m2/repository/${g//.//}/$a/$v/$a-$v${c:+-$c}.$p
    if [[ ! -f $path ]]; then
        mvn -q -B -Dstyle.color=never dependency:get -Dtransitive=false -Dartifact="$coord" >&2 ||
            lab_die "download of $coord from Maven Central failed"
    fi
    printf '%s\n' "$path"
}

# ---------------------------------------------------------------------------
# Added helpers (the names above are a contract with components/*.sh; these
# are additions and may be used by any component).

# lab_have_pkg PKG: true when the Debian package is installed.
lab_have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# lab_apt_install PKG...: install the missing ones among the Debian packages.
# apt-get update runs at most once per `lab` invocation (LAB_APT_STAMP is set
# by the dispatcher). Services that packages try to start are suppressed by a
# temporary policy-rc.d: the lab starts its servers itself.
lab_apt_install() {
    local missing=() p created_policy=
    for p in "$@"; do lab_have_pkg "$p" || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || lab_die "need Debian packages ${missing[*]} but apt-get is not available"
    ((EUID == 0)) || lab_die "need Debian packages ${missing[*]}: run as root, or install them first"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# written by cutover deploy/lab: do not start services during install\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local stamp=${LAB_APT_STAMP:-}
    if [[ -z $stamp || ! -e $stamp ]]; then
        lab_log "apt-get update"
        if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; then
            [[ -n $created_policy ]] && rm -f /usr/sbin/policy-rc.d
            lab_die "apt-get update failed (is the Debian mirror reachable?)"
        fi
        [[ -n $stamp ]] && : >"$stamp"
    fi
    lab_log "apt-get install ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        [[ -n $created_policy ]] && rm -f /usr/sbin/policy-rc.d
        lab_die "apt-get install ${missing[*]} failed"
    fi
    [[ -n $created_policy ]] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# lab_need_java: make sure a Java 17+ runtime and Maven are there.
lab_need_java() {
    local v
    v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    if [[ -z $v || $v -lt 17 ]]; then
        lab_apt_install openjdk-17-jre-headless
        v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
        [[ -n $v && $v -ge 17 ]] || lab_die "need Java 17 or newer as 'java' on PATH (found '${v:-none}'); see update-alternatives --config java"
    fi
    command -v mvn >/dev/null || lab_apt_install maven
}

# lab_mvn_classpath POMDIR OUTFILE: resolve POMDIR/pom.xml's dependencies
# (downloads go to ~/.m2) and write the classpath to OUTFILE. Cached: redone
# only when the pom is newer than OUTFILE or a listed jar has gone.
lab_mvn_classpath() {
    local pomdir=$1 out=$2 jar fresh=1
    if [[ -s $out && ! $pomdir/pom.xml -nt $out ]]; then
        local IFS=:
        for jar in $(cat "$out"); do [[ -f $jar ]] || { fresh=; break; }; done
        [[ -n $fresh ]] && return 0
    fi
    mkdir -p "$(dirname "$out")"
    lab_log "resolving $pomdir/pom.xml from Maven Central (cached in ~/.m2)"
    mvn -q -B -Dstyle.color=never -f "$pomdir/pom.xml" dependency:build-classpath -Dmdep.outputFile="$out.tmp" >&2 ||
        { rm -f "$out.tmp"; lab_die "mvn could not resolve $pomdir/pom.xml (Maven Central reachable? see output above)"; }
    mv "$out.tmp" "$out"
}

# lab_spawn NAME CMD...: start CMD detached (own session, stdin closed, output
# appended to $LAB_LOG/NAME.log) so that it outlives the calling shell; the
# pid file $LAB_RUN/NAME.pid holds the pid of CMD itself.
lab_spawn() {
    local name=$1; shift
    local pidf=$LAB_RUN/$name.pid log=$LAB_LOG/$name.log
    lab_dirs
    rm -f "$pidf" "$LAB_RUN/$name.start"
    printf '\n==== %s lab: starting %s: %s\n' "$(date '+%F %T')" "$name" "$*" >>"$log"
    # shellcheck disable=SC2016
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" >>"$log" 2>&1 </dev/null &
    for _ in $(seq 1 50); do
        if [[ -s $pidf ]]; then
            lab_starttime "$(cat "$pidf")" >"$LAB_RUN/$name.start"
            return 0
        fi
        sleep 0.1
    done
    lab_die "$name: could not start $1; see $log"
}

# lab_log_size NAME: current size of NAME's log, to look only at what a start
# appends (lab_log_has NAME OFFSET REGEX).
lab_log_size() { stat -c %s "$LAB_LOG/$1.log" 2>/dev/null || echo 0; }
lab_log_has() { tail -c +"$(($2 + 1))" "$LAB_LOG/$1.log" 2>/dev/null | grep -Eq "$3"; }

# lab_wait_up NAME SECONDS CMD...: like lab_wait, but fails at once, showing
# the end of the log, when NAME's process dies while we wait.
lab_wait_up() {
    local name=$1 secs=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ! lab_pid_alive "$name"; then
            tail -n 25 "$LAB_LOG/$name.log" >&2
            rm -f "$LAB_RUN/$name.pid"
            lab_die "$name exited during startup; see $LAB_LOG/$name.log (last lines above)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 15 "$LAB_LOG/$name.log" >&2
            lab_die "$name did not answer within ${secs}s; see $LAB_LOG/$name.log (it is left running: pid $(cat "$LAB_RUN/$name.pid" 2>/dev/null))"
        fi
        sleep 0.5
    done
}

# lab_running NAME STATUSFN: the common head of a component's start.
# Returns 0 (and says so) when NAME is already up and answering; waits for it
# when our process is alive but still starting; clears a stale pid file.
# Returns 1 when the caller should start it.
lab_running() {
    local name=$1 statusfn=$2
    lab_settings_check "$name"
    if lab_pid_alive "$name"; then
        if "$statusfn" >/dev/null 2>&1; then
            lab_log "$name: already running (pid $(cat "$LAB_RUN/$name.pid")), nothing to do"
            return 0
        fi
        lab_log "$name: process $(cat "$LAB_RUN/$name.pid") is up but not answering yet; waiting"
        lab_wait_up "$name" "${3:-120}" "$statusfn"
        lab_log "$name: up"
        return 0
    fi
    rm -f "$LAB_RUN/$name.pid"
    return 1
}

# lab_rss NAME: resident memory of NAME's process tree in MiB (for status).
lab_rss() {
    local pid kb=0 p
    pid=$(cat "$LAB_RUN/$1.pid" 2>/dev/null) || { echo 0; return; }
    local todo=("$pid")
    while ((${#todo[@]})); do
        p=${todo[0]}; todo=("${todo[@]:1}")
        kb=$((kb + $(awk '/^VmRSS:/ {v = $2} END {print v + 0}' "/proc/$p/status" 2>/dev/null)))
        mapfile -t -O "${#todo[@]}" todo < <(pgrep -P "$p" 2>/dev/null)
    done
    echo $((kb / 1024))
}

# lab_amqp10_probe PORT: true when PORT speaks AMQP 1.0, i.e. answers an
# AMQP 1.0 SASL protocol header with an AMQP 1.0 header of its own (a server
# without AMQP 1.0 answers with the header of the protocol it does speak).
lab_amqp10_probe() {
    local got
    got=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "AMQP\003\001\000\000" >&3
        head -c 8 <&3 | od -An -tx1 | tr -d " \n"' "$LAB_HOST" "$1" 2>/dev/null)
    [[ $got == 414d515003010000 ]]
}

# lab_java_spawn NAME HEAP CLASSPATH MAIN ARGS...: the generic way to run a
# Java server of the lab (used by kafka.sh; usable by other components).
# Extra JVM options may come in LAB_JAVA_OPTS (an array set by the caller).
lab_java_spawn() {
    local name=$1 heap=$2 cp=$3 main=$4; shift 4
    lab_spawn "$name" java -Xms64m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError \
        ${LAB_JAVA_OPTS[@]+"${LAB_JAVA_OPTS[@]}"} -cp "$cp" "$main" "$@"
}

# Settings (ports, node names) of a running component are remembered in
# $LAB_RUN/NAME.conf, so that `lab env` and `lab status` in a fresh shell
# describe the servers that really run, not the defaults.
#
# lab_settings NAME VAR=DEFAULT...: set each VAR, in this order of precedence:
# the environment, the value the running NAME was started with, DEFAULT.
lab_settings() {
    local name=$1 kv var def saved=$LAB_RUN/$1.conf; shift
    for kv in "$@"; do
        var=${kv%%=*} def=${kv#*=}
        if [[ -z ${!var:-} && -f $saved ]] && lab_pid_alive "$name"; then
            printf -v "$var" '%s' "$(sed -n "s/^$var=//p" "$saved")"
        fi
        [[ -n ${!var:-} ]] || printf -v "$var" '%s' "$def"
        _lab_settings[$name]+="$var "
    done
}
declare -gA _lab_settings 2>/dev/null || true

# lab_settings_save NAME: remember NAME's settings (call once it is started).
lab_settings_save() {
    local var
    for var in ${_lab_settings[$1]:-}; do printf '%s=%s\n' "$var" "${!var}"; done >"$LAB_RUN/$1.conf"
}

# lab_settings_check NAME: die when NAME runs with other settings than the
# ones asked for now (a port variable changed while it was up).
lab_settings_check() {
    local name=$1 var was saved=$LAB_RUN/$1.conf
    [[ -f $saved ]] && lab_pid_alive "$name" || return 0
    for var in ${_lab_settings[$name]:-}; do
        was=$(sed -n "s/^$var=//p" "$saved")
        [[ -z $was || $was == "${!var}" ]] ||
            lab_die "$name is running with $var=$was, not ${!var}: run '${0##*/} stop $name' first to change it"
    done
}
