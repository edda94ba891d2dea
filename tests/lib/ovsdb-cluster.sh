# sfmesh test library: a Raft-clustered ovsdb-server of its own, for the
# controllers' shared state.  Sourced after tests/lib/ovs-harness.sh.
#
#   . tests/lib/ovs-harness.sh
#   . tests/lib/ovsdb-cluster.sh
#   sfm_setup NAME
#   sfm_dbcluster_start 3 "$top/ofctl-app/sfmesh.ovsschema"
#   ovsdb-client transact "$SFM_DB_REMOTES" '["sfmesh", ...]'
#   sfm_dbcluster_kill "$(sfm_dbcluster_leader)"
#   sfm_dbcluster_wait_leader 10
#   sfm_dbcluster_restart 1 && sfm_dbcluster_wait_member 1
#
# Member I (1..N) is an ovsdb-server (the system's, /usr/sbin/ovsdb-server,
# or $SFM_OVSDB_SERVER) run as a background child of the test, with its own
# database file, unixctl socket, log and pidfile, a Raft address
# tcp:127.0.0.1:SFM_DB_RAFT_PORT[I] and a client remote
# ptcp:SFM_DB_PORT[I]:127.0.0.1.  Its pid is in SFM_PIDS while it runs, so
# the harness's cleanup stops it on every exit path; sfm_dbcluster_stop
# stops the whole cluster earlier (safe to call twice, or with nothing
# started).  Nothing here touches a system ovsdb-server.
#
# Exported: SFM_DB_REMOTES ("tcp:127.0.0.1:P1,tcp:127.0.0.1:P2,..."), the
# form ovsdb-idl and ovsdb-client take for several remotes, and SFM_DB_NAME
# (the database's name, from the schema).  Also set: SFM_DB_N, SFM_DB_DIR,
# SFM_DB_PORT[I], SFM_DB_RAFT_PORT[I], SFM_DB_SOCK[I] (unixctl socket),
# SFM_DB_LOG[I], SFM_DB_PID[I] (empty once the member is killed or stopped
# for good).
#
# Environment:
#   SFM_DB_PORT_BASE        client ports BASE..BASE+N-1, Raft ports
#                           BASE+N..BASE+2N-1; default: 2N free ports from
#                           a random base in 20000-29999 (below the
#                           ephemeral range, away from the fixed ports of
#                           the other tests: 6640, 7000, 40000-49152)
#   SFM_DB_ELECTION_TIMER   ms, passed to ovsdb-tool create-cluster
#                           (default: ovsdb-server's, 1000 ms)
#   SFM_DB_INACTIVITY_PROBE ms: the client remotes are then configured
#                           through a small standalone database of each
#                           member's own (Sfm_Remote: Root.connections ->
#                           Connection, columns target and
#                           inactivity_probe), so that the
#                           server drops a silent client (and frees its
#                           locks) after this probe interval instead of
#                           ovsdb-server's 5000 ms.  Clients must then name
#                           the database (there are two on each server).

SFM_DB_N=0
SFM_DB_DIR=
SFM_DB_PID=()
SFM_DB_PORT=()
SFM_DB_RAFT_PORT=()
SFM_DB_SOCK=()
SFM_DB_LOG=()
SFM_DB_STOPPED=()     # 1 while member I is SIGSTOPped.
SFM_OVSDB_SERVER=${SFM_OVSDB_SERVER:-/usr/sbin/ovsdb-server}

if ! declare -F sfm_wait_until >/dev/null; then
    . "$(dirname "${BASH_SOURCE[0]}")/ovs-harness.sh"
fi

# Removes pid $1 from the harness's SFM_PIDS.
_sfm_dbcluster_untrack() {
    local i
    for i in "${!SFM_PIDS[@]}"; do
        [ "${SFM_PIDS[i]}" = "$1" ] && unset 'SFM_PIDS[i]'
    done
    SFM_PIDS=("${SFM_PIDS[@]}")
}

# Succeeds if TCP port $1 has no socket on this host (namespace), in any
# state.
_sfm_dbcluster_port_free() {
    [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}

# Sets SFM_DB_PORT and SFM_DB_RAFT_PORT for $1 members.
_sfm_dbcluster_pick_ports() {
    local n=$1 base p ok i
    for _ in $(seq 50); do
        if [ -n "${SFM_DB_PORT_BASE:-}" ]; then
            base=$SFM_DB_PORT_BASE
        else
            base=$((20000 + (RANDOM % 1000) * 10))
        fi
        ok=1
        for ((p = base; p < base + 2 * n; p++)); do
            _sfm_dbcluster_port_free "$p" || { ok=0; break; }
        done
        if [ "$ok" = 1 ]; then
            for ((i = 1; i <= n; i++)); do
                SFM_DB_PORT[i]=$((base + i - 1))
                SFM_DB_RAFT_PORT[i]=$((base + n + i - 1))
            done
            return 0
        fi
        [ -z "${SFM_DB_PORT_BASE:-}" ] \
            || sfm_die "ports $base..$((base + 2 * n - 1)) not all free"
    done
    sfm_die "no $((2 * n)) free ports for the database cluster"
}

# Runs ovs-appctl command $2... on member $1 (1 s timeout).
sfm_dbcluster_appctl() {
    local i=$1; shift
    ovs-appctl --timeout=1 -t "${SFM_DB_SOCK[i]}" "$@"
}

# Prints member $1's cluster/status.
sfm_dbcluster_status() {
    sfm_dbcluster_appctl "$1" cluster/status "$SFM_DB_NAME"
}

# Prints the client remote of member $1 (tcp:127.0.0.1:PORT).
sfm_dbcluster_remote() { printf 'tcp:127.0.0.1:%s\n' "${SFM_DB_PORT[$1]}"; }

# Prints the client remotes of the members that run and are not stopped,
# in SFM_DB_REMOTES's form (a client given a stopped member's remote may
# connect to it, the kernel accepting for it, and then hang).
sfm_dbcluster_live_remotes() {
    local i out=
    for ((i = 1; i <= SFM_DB_N; i++)); do
        _sfm_dbcluster_live "$i" && out+="${out:+,}$(sfm_dbcluster_remote "$i")"
    done
    echo "$out"
}

# Succeeds if member $1 runs and is not SIGSTOPped.
_sfm_dbcluster_live() {
    [ -n "${SFM_DB_PID[$1]:-}" ] && [ "${SFM_DB_STOPPED[$1]:-0}" != 1 ]
}

# Starts member $1's ovsdb-server on its database file, as a background
# child, and waits until it answers on its unixctl socket.
_sfm_dbcluster_spawn() {
    local i=$1 d=$SFM_DB_DIR remote pid
    remote="--remote=ptcp:${SFM_DB_PORT[i]}:127.0.0.1"
    local dbs=("$d/member$i.db")
    if [ -n "${SFM_DB_INACTIVITY_PROBE:-}" ]; then
        remote="--remote=db:Sfm_Remote,Root,connections"
        dbs+=("$d/remote$i.db")
    fi
    rm -f "${SFM_DB_SOCK[i]}"
    "$SFM_OVSDB_SERVER" --no-chdir -vconsole:off -vfile:info \
        --log-file="${SFM_DB_LOG[i]}" --pidfile="$d/member$i.pid" \
        --unixctl="${SFM_DB_SOCK[i]}" "$remote" "${dbs[@]}" \
        </dev/null >>"$d/member$i.stderr" 2>&1 &
    pid=$!
    # No "Killed" job report when a test kills it; bash still reaps it.
    disown "$pid"
    SFM_DB_PID[i]=$pid
    SFM_DB_STOPPED[i]=0
    SFM_PIDS+=("$pid")
    sfm_wait_until sfm_dbcluster_appctl "$i" version >/dev/null 2>&1 \
        || sfm_die "database member $i (pid $pid) did not start: $(tail -n 3 \
                    "$d/member$i.stderr" "${SFM_DB_LOG[i]}" 2>/dev/null)"
}

# Starts an N-member ($1) Raft cluster of schema $2 on 127.0.0.1 in
# directory $3 (default $SFM_TMP/dbcluster) and waits until it has a
# leader and every member has joined it (default timeout 30 s, or
# SFM_WAIT_TIMEOUT).  Exports SFM_DB_REMOTES and SFM_DB_NAME.
sfm_dbcluster_start() {
    local n=$1 schema=$2 dir=${3:-} i j peers
    [ "$SFM_DB_N" = 0 ] || sfm_die "a database cluster is already running"
    [ -x "$SFM_OVSDB_SERVER" ] || sfm_die "no $SFM_OVSDB_SERVER"
    if [ -z "$dir" ]; then
        if [ -n "${SFM_TMP:-}" ]; then
            dir=$SFM_TMP/dbcluster
        else
            dir=$(mktemp -d /tmp/sfmesh-dbcluster.XXXXXX)
        fi
    fi
    mkdir -p "$dir" || sfm_die "cannot make $dir"
    SFM_DB_DIR=$(cd "$dir" && pwd)
    SFM_DB_NAME=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["name"])' "$schema") \
        || sfm_die "cannot read the name of schema $schema"
    export SFM_DB_NAME
    _sfm_dbcluster_pick_ports "$n"
    SFM_DB_N=$n
    for ((i = 1; i <= n; i++)); do
        SFM_DB_SOCK[i]=$SFM_DB_DIR/member$i.ctl
        # In the harness's log directory, so that a failed run prints them.
        SFM_DB_LOG[i]=${OVS_LOGDIR:-$SFM_DB_DIR}/ovsdb-cluster-$i.log
        SFM_DB_PID[i]=
    done
    local timer=()
    [ -n "${SFM_DB_ELECTION_TIMER:-}" ] \
        && timer=(--election-timer="$SFM_DB_ELECTION_TIMER")
    ovsdb-tool "${timer[@]}" create-cluster "$SFM_DB_DIR/member1.db" \
        "$schema" "tcp:127.0.0.1:${SFM_DB_RAFT_PORT[1]}" \
        || sfm_die "ovsdb-tool create-cluster"
    for ((i = 2; i <= n; i++)); do
        peers=()
        for ((j = 1; j < i; j++)); do
            peers+=("tcp:127.0.0.1:${SFM_DB_RAFT_PORT[j]}")
        done
        ovsdb-tool join-cluster "$SFM_DB_DIR/member$i.db" "$SFM_DB_NAME" \
            "tcp:127.0.0.1:${SFM_DB_RAFT_PORT[i]}" "${peers[@]}" \
            || sfm_die "ovsdb-tool join-cluster (member $i)"
    done
    if [ -n "${SFM_DB_INACTIVITY_PROBE:-}" ]; then
        # ovsdb-server takes a remote's options (inactivity_probe...) only
        # from a row that a db: remote's column references, as Open_vSwitch
        # has Open_vSwitch.manager_options -> Manager.
        cat >"$SFM_DB_DIR/remote.ovsschema" <<'EOF'
{"name": "Sfm_Remote", "version": "1.0.0",
 "tables": {
   "Root": {"columns": {"connections": {"type": {
               "key": {"type": "uuid", "refTable": "Connection"},
               "min": 0, "max": "unlimited"}}},
            "isRoot": true, "maxRows": 1},
   "Connection": {"columns": {"target": {"type": "string"},
                              "inactivity_probe": {"type": "integer"}}}}}
EOF
        for ((i = 1; i <= n; i++)); do
            ovsdb-tool create "$SFM_DB_DIR/remote$i.db" \
                "$SFM_DB_DIR/remote.ovsschema" \
                && ovsdb-tool transact "$SFM_DB_DIR/remote$i.db" \
                   '["Sfm_Remote",
                     {"op": "insert", "table": "Connection", "uuid-name": "c",
                      "row": {"target": "ptcp:'"${SFM_DB_PORT[i]}"':127.0.0.1",
                              "inactivity_probe": '"$SFM_DB_INACTIVITY_PROBE"'}},
                     {"op": "insert", "table": "Root",
                      "row": {"connections": ["named-uuid", "c"]}}]' \
                   >/dev/null || sfm_die "cannot make remote$i.db"
        done
    fi
    SFM_DB_REMOTES=
    for ((i = 1; i <= n; i++)); do
        _sfm_dbcluster_spawn "$i"
        SFM_DB_REMOTES+="${SFM_DB_REMOTES:+,}$(sfm_dbcluster_remote "$i")"
    done
    export SFM_DB_REMOTES
    sfm_dbcluster_wait_ready "${SFM_WAIT_TIMEOUT:-30}" \
        || { for ((i = 1; i <= n; i++)); do
                 sfm_dbcluster_status "$i" >&2
             done
             sfm_die "the database cluster did not form"; }
}

# Prints the index of the current leader: a running, not stopped member
# that says "Role: leader" (the one with the highest term, if a deposed
# leader has not heard yet).  Fails if there is none.
sfm_dbcluster_leader() {
    local i st term best=0 best_term=-1
    for ((i = 1; i <= SFM_DB_N; i++)); do
        _sfm_dbcluster_live "$i" || continue
        st=$(sfm_dbcluster_status "$i" 2>/dev/null) || continue
        grep -qx 'Role: leader' <<<"$st" || continue
        term=$(sed -n 's/^Term: //p' <<<"$st")
        if [ "${term:-0}" -gt "$best_term" ]; then
            best=$i best_term=${term:-0}
        fi
    done
    [ "$best" != 0 ] && echo "$best"
}

# Waits up to $1 seconds (default 10) for a leader; prints its index.
sfm_dbcluster_wait_leader() {
    local deadline=$((SECONDS + ${1:-10})) l
    while :; do
        l=$(sfm_dbcluster_leader) && { echo "$l"; return 0; }
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# Succeeds if member $1 is a member of the cluster that follows leader $2
# (an index) or is that leader, and serves the database to clients.
_sfm_dbcluster_joined() {
    local i=$1 l=$2 st lid
    st=$(sfm_dbcluster_status "$i" 2>/dev/null) || return 1
    grep -qx 'Status: cluster member' <<<"$st" || return 1
    if [ "$i" = "$l" ]; then
        grep -qx 'Role: leader' <<<"$st" || return 1
    else
        lid=$(sfm_dbcluster_status "$l" 2>/dev/null \
              | sed -n 's/^Server ID: \([0-9a-f]*\) .*/\1/p')
        [ -n "$lid" ] && grep -qx "Leader: $lid" <<<"$st" || return 1
    fi
    ovsdb-client --timeout=2 list-dbs "$(sfm_dbcluster_remote "$i")" \
        2>/dev/null | grep -qx "$SFM_DB_NAME"
}

# Succeeds if there is a leader and every running, not stopped member has
# joined it.
_sfm_dbcluster_ready() {
    local l i
    l=$(sfm_dbcluster_leader) || return 1
    for ((i = 1; i <= SFM_DB_N; i++)); do
        _sfm_dbcluster_live "$i" || continue
        _sfm_dbcluster_joined "$i" "$l" || return 1
    done
}

# Waits up to $1 seconds (default 10) until there is a leader and every
# running member follows it.
sfm_dbcluster_wait_ready() {
    SFM_WAIT_TIMEOUT=${1:-10} sfm_wait_until _sfm_dbcluster_ready
}

# Waits up to $2 seconds (default 10) until member $1 has (re)joined the
# cluster: a cluster member that follows the current leader, or is it.
sfm_dbcluster_wait_member() {
    local i=$1 deadline=$((SECONDS + ${2:-10})) l
    while :; do
        l=$(sfm_dbcluster_leader) && _sfm_dbcluster_joined "$i" "$l" \
            && return 0
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Succeeds if process $1 is gone (or a zombie).
_sfm_dbcluster_gone() {
    ! kill -0 "$1" 2>/dev/null \
        || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# Waits up to 5 s for member $1's process to end (then SIGKILLs it), reaps
# it and forgets its pid.
_sfm_dbcluster_reap() {
    local i=$1 pid=${SFM_DB_PID[$1]}
    SFM_WAIT_TIMEOUT=5 sfm_wait_until _sfm_dbcluster_gone "$pid" \
        || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    _sfm_dbcluster_untrack "$pid"
    SFM_DB_PID[i]=
    SFM_DB_STOPPED[i]=0
}

# Sends signal $2 to member $1 and, for KILL, waits until it is gone.
_sfm_dbcluster_signal() {
    local i=$1 sig=$2 pid=${SFM_DB_PID[$1]:-}
    [ -n "$pid" ] || sfm_die "database member $i is not running"
    kill -"$sig" "$pid" || sfm_die "cannot send SIG$sig to member $i"
    case $sig in
    KILL) _sfm_dbcluster_reap "$i" ;;
    STOP) SFM_DB_STOPPED[i]=1 ;;
    CONT) SFM_DB_STOPPED[i]=0 ;;
    esac
}

# SIGKILLs member $1.
sfm_dbcluster_kill() { _sfm_dbcluster_signal "$1" KILL; }

# SIGSTOPs / SIGCONTs member $1.
sfm_dbcluster_stop_member() { _sfm_dbcluster_signal "$1" STOP; }
sfm_dbcluster_cont_member() { _sfm_dbcluster_signal "$1" CONT; }

# Starts member $1 again on its database file (it rejoins the cluster by
# itself; sfm_dbcluster_wait_member waits for that).
sfm_dbcluster_restart() {
    local i=$1
    [ -z "${SFM_DB_PID[i]:-}" ] || sfm_die "database member $i still runs"
    [ -f "$SFM_DB_DIR/member$i.db" ] || sfm_die "no database of member $i"
    _sfm_dbcluster_spawn "$i"
}

# Changes the cluster's election timer to $1 ms through the leader (an
# increase may at most double it; see ovsdb-server(1)).
sfm_dbcluster_election_timer() {
    local l
    l=$(sfm_dbcluster_wait_leader 10) || sfm_die "no leader"
    sfm_dbcluster_appctl "$l" cluster/change-election-timer \
        "$SFM_DB_NAME" "$1" >/dev/null || sfm_die "change-election-timer $1"
    SFM_WAIT_TIMEOUT=10 sfm_wait_until eval \
        'sfm_dbcluster_status '"$l"' | grep -qx "Election timer: '"$1"'"' \
        || sfm_die "election timer not changed to $1"
}

# Stops every member (SIGTERM, then SIGKILL after 5 s).  Safe to call twice
# and when nothing was started; the directory stays (the harness's cleanup
# removes $SFM_TMP).
sfm_dbcluster_stop() {
    local i
    for ((i = 1; i <= SFM_DB_N; i++)); do
        [ -n "${SFM_DB_PID[i]:-}" ] || continue
        kill -CONT "${SFM_DB_PID[i]}" 2>/dev/null
        kill -TERM "${SFM_DB_PID[i]}" 2>/dev/null
    done
    for ((i = 1; i <= SFM_DB_N; i++)); do
        [ -n "${SFM_DB_PID[i]:-}" ] || continue
        _sfm_dbcluster_reap "$i"
    done
    SFM_DB_N=0
}
