#!/usr/bin/env bash
# Self-test of tests/lib/ovsdb-cluster.sh and measurements of a 3-member
# Raft cluster's failover, for the controllers' HA.  Not part of make check
# (run.sh names its tests); run by hand, as root:
#
#   dbcluster-probe.sh selftest      the library: transactions through
#                                    SFM_DB_REMOTES, the leader killed,
#                                    another elected, data kept, the killed
#                                    member back in the cluster, a member
#                                    stopped and continued, stop twice
#   dbcluster-probe.sh election [N]  SIGKILL of the leader to a new leader
#   dbcluster-probe.sh lock-split    two clients of lock sfmesh_controller
#                                    on two members: both hold it (OVSDB
#                                    locks are per server, not replicated)
#   dbcluster-probe.sh lock-kill [N] SIGKILL of the client holding the lock
#                                    to the waiting client (same member)
#                                    getting it
#   dbcluster-probe.sh lock-stop [N] the same with SIGSTOP of the holder
#   dbcluster-probe.sh lock-member [N]
#                                    SIGKILL of the member (the leader)
#                                    through which a client holds the lock;
#                                    two clients that reconnect to the
#                                    leader as ovsdb-idl does: time until
#                                    one of them holds the lock again
#   dbcluster-probe.sh all [N]       every one of them
#
# N repeats (default 5).  SFM_DB_ELECTION_TIMER and SFM_DB_INACTIVITY_PROBE
# (see tests/lib/ovsdb-cluster.sh) apply; SFM_KEEP=1 keeps the logs.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" = all ]; then
    status=0
    for m in selftest election lock-split lock-kill lock-stop lock-member; do
        timeout --kill-after=10 300 bash "$0" "$m" "${2:-5}" || status=1
    done
    exit "$status"
fi

. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
. "$top/tests/lib/ovsdb-cluster.sh"
MODE=${1:-selftest}
REPEATS=${2:-5}
SCHEMA=$top/ofctl-app/sfmesh.ovsschema
LOCK=sfmesh_controller

sfm_setup "dbcluster-$MODE"
say() { printf '  [%s] %s\n' "$MODE" "$*" >&2; }

# The time now, in microseconds since the epoch.
now_us() { echo "${EPOCHREALTIME/./}"; }

# Prints the time of the last line of log $1 matching $2, in microseconds
# since the epoch.
log_time_us() {
    local t
    t=$(grep "$2" "$1" | tail -n 1 | cut -d'|' -f1)
    [ -n "$t" ] || return 1
    echo $(( $(date -d "${t%Z}Z" +%s%3N) * 1000 ))
}

# Prints min, median and max of the numbers in "$@".
stats() {
    printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1}
        END {printf "min %d, median %d, max %d (n=%d)\n",
                    a[1], a[int((NR + 1) / 2)], a[NR], NR}'
}

# Transacts $1 (a JSON operation on sfmesh) through the remotes of every
# member that runs and is not stopped.
txn() {
    ovsdb-client --timeout=10 -vreconnect:warn transact \
        "$(sfm_dbcluster_live_remotes)" \
        "[\"$SFM_DB_NAME\", $1]"
}

# Prints the Service names that member $1 serves, sorted, on one line.
services_on() {
    ovsdb-client --timeout=5 query "$(sfm_dbcluster_remote "$1")" \
        "[\"$SFM_DB_NAME\", {\"op\": \"select\", \"table\": \"Service\",
          \"where\": [], \"columns\": [\"name\"]}]" \
        | grep -o '"name":"[^"]*"' | sed 's/"name":"\(.*\)"/\1/' \
        | sort | tr '\n' ' '
}

insert_service() {
    txn "{\"op\": \"insert\", \"table\": \"Service\",
          \"row\": {\"name\": \"$1\", \"epoch\": 1, \"n_buckets\": 8}}" \
        >/dev/null || sfm_die "insert of $1 failed"
}

# --- Lock clients --------------------------------------------------------
# Each client's output lines go to $SFM_TMP/NAME.out, each stamped with the
# time it was read (microseconds since the epoch).
declare -A LOCKER

stamp() { while IFS= read -r l; do echo "$(now_us) $l"; done; }

# Starts "ovsdb-client lock REMOTE sfmesh_controller" as client $1.
locker_start() {
    ovsdb-client lock "$2" "$LOCK" > >(stamp >"$SFM_TMP/$1.out") \
        2>"$SFM_TMP/$1.err" &
    LOCKER[$1]=$!
    SFM_PIDS+=("$!")
    disown "$!"
}

# Prints the remote of a member that says it is its cluster's leader (in
# the _Server database, as ovsdb-idl asks), trying them in random order.
leader_remote() {
    local r
    for r in $(tr ',' '\n' <<<"$SFM_DB_REMOTES" | shuf); do
        ovsdb-client --timeout=1 query "$r" \
            "[\"_Server\", {\"op\": \"select\", \"table\": \"Database\",
              \"where\": [[\"name\", \"==\", \"$SFM_DB_NAME\"]],
              \"columns\": [\"leader\"]}]" 2>/dev/null \
            | grep -q '"leader":true' && { echo "$r"; return 0; }
    done
    return 1
}

# Starts client $1 that, like ovsdb-idl (leader only), connects to the
# leader, takes the lock and, when its connection is lost, connects again
# to the leader, every 100 ms until there is one.
locker_loop_start() {
    (
        c=
        trap 'kill $c 2>/dev/null; exit 0' TERM
        while :; do
            if r=$(leader_remote); then
                echo "connect $r"
                ovsdb-client lock "$r" "$LOCK" 2>>"$SFM_TMP/$1.err" &
                c=$!
                wait "$c"
                echo "disconnected"
            fi
            sleep 0.1
        done
    ) > >(stamp >"$SFM_TMP/$1.out") 2>/dev/null &
    LOCKER[$1]=$!
    SFM_PIDS+=("$!")
    disown "$!"
}

locker_kill() {
    local pid=${LOCKER[$1]} sig=${2:-TERM}
    kill -CONT "$pid" 2>/dev/null
    kill -"$sig" "$pid" 2>/dev/null
    sfm_wait_until _sfm_dbcluster_gone "$pid"
    _sfm_dbcluster_untrack "$pid"
}

# Prints the time (us) at which client $1 got the lock after time $2 (us):
# a reply {"locked":true} or a "locked" notification.
lock_time() {
    awk -v t="$2" '$1 >= t && ($2 == "locked" || $2 == "{\"locked\":true}") {
                       print $1; found = 1; exit}
                   END {exit !found}' "$SFM_TMP/$1.out" 2>/dev/null
}
holds_since() { lock_time "$1" "$2" >/dev/null; }
# Succeeds if client $1 was told it waits for the lock.
waits() { grep -q '{"locked":false}' "$SFM_TMP/$1.out" 2>/dev/null; }

# --- Modes ---------------------------------------------------------------
start_cluster() {
    sfm_dbcluster_start 3 "$SCHEMA"
    say "cluster: remotes $SFM_DB_REMOTES, Raft ports" \
        "${SFM_DB_RAFT_PORT[*]}, leader $(sfm_dbcluster_leader)," \
        "$(sfm_dbcluster_status 1 | grep '^Election timer')"
}

selftest() {
    local l l2 i want
    start_cluster
    insert_service fw
    insert_service dlp
    want="dlp fw "
    for i in 1 2 3; do
        SFM_WAIT_TIMEOUT=5 sfm_wait_until eval '[ "$(services_on '$i')" = "$want" ]' \
            || sfm_die "member $i serves '$(services_on $i)', not '$want'"
    done
    say "two rows inserted through SFM_DB_REMOTES; every member serves them"

    l=$(sfm_dbcluster_leader) || sfm_die "no leader"
    sfm_dbcluster_kill "$l"
    l2=$(sfm_dbcluster_wait_leader 10) || sfm_die "no new leader"
    [ "$l2" != "$l" ] || sfm_die "member $l still leader"
    say "leader $l killed; member $l2 is leader"
    for i in 1 2 3; do
        [ "$i" = "$l" ] && continue
        [ "$(services_on "$i")" = "$want" ] \
            || sfm_die "member $i lost data: '$(services_on "$i")'"
    done
    insert_service nat
    want="dlp fw nat "
    say "data kept on both members; a third row inserted with $l down"

    sfm_dbcluster_restart "$l"
    sfm_dbcluster_wait_member "$l" 15 || {
        sfm_dbcluster_status "$l" >&2; sfm_die "member $l did not rejoin"; }
    SFM_WAIT_TIMEOUT=5 sfm_wait_until eval '[ "$(services_on '$l')" = "$want" ]' \
        || sfm_die "member $l serves '$(services_on "$l")' after rejoining"
    sfm_dbcluster_wait_ready 10 || sfm_die "cluster not ready after rejoin"
    say "member $l restarted, rejoined, serves all three rows"

    # A stopped follower: the cluster goes on, and it catches up.
    i=$(( $(sfm_dbcluster_leader) % 3 + 1 ))
    sfm_dbcluster_stop_member "$i"
    insert_service lb
    want="dlp fw lb nat "
    sfm_dbcluster_cont_member "$i"
    SFM_WAIT_TIMEOUT=5 sfm_wait_until eval '[ "$(services_on '$i')" = "$want" ]' \
        || sfm_die "member $i did not catch up after SIGCONT"
    say "follower $i stopped, a row inserted, continued: it caught up"

    local pids=("${SFM_DB_PID[@]}")
    sfm_dbcluster_stop
    sfm_dbcluster_stop
    for i in "${pids[@]}"; do
        [ -n "$i" ] || continue
        _sfm_dbcluster_gone "$i" || sfm_die "member pid $i still runs"
    done
    [ "$(sfm_dbcluster_leader)" = "" ] || sfm_die "a leader after stop"
    say "stopped (twice): no member left"
    echo "PASS: dbcluster selftest"
}

election() {
    local r l l2 t0 t1 tl ds=() dl=()
    start_cluster
    for ((r = 1; r <= REPEATS; r++)); do
        sfm_dbcluster_wait_ready 15 || sfm_die "cluster not ready"
        l=$(sfm_dbcluster_leader)
        t0=$(now_us)
        sfm_dbcluster_kill "$l"
        l2=$(sfm_dbcluster_wait_leader 15) || sfm_die "no new leader"
        t1=$(now_us)
        tl=$(log_time_us "${SFM_DB_LOG[l2]}" "elected leader") \
            || sfm_die "no election in member $l2's log"
        ds+=($(( (t1 - t0) / 1000 )))
        dl+=($(( (tl - t0) / 1000 )))
        say "run $r: killed leader $l; member $l2 elected $(( (tl - t0) / 1000 )) ms" \
            "later (its log), seen by polling after $(( (t1 - t0) / 1000 )) ms"
        sfm_dbcluster_restart "$l"
        sfm_dbcluster_wait_member "$l" 15 || sfm_die "member $l did not rejoin"
    done
    say "election after SIGKILL of the leader, from the new leader's log:" \
        "$(stats "${dl[@]}")"
    say "as seen by polling cluster/status: $(stats "${ds[@]}")"
}

lock_split() {
    start_cluster
    locker_start a "$(sfm_dbcluster_remote 1)"
    locker_start b "$(sfm_dbcluster_remote 2)"
    locker_start c "$(sfm_dbcluster_remote 1)"
    sleep 1
    local x
    for x in a b c; do
        say "client $x ($([ $x = b ] && echo member 2 || echo member 1)):" \
            "$(cut -d' ' -f2- "$SFM_TMP/$x.out" | tr '\n' ' ')"
    done
    holds_since a 0 && holds_since b 0 \
        && say "both clients on members 1 and 2 hold $LOCK at once;" \
               "the second client on member 1 waits"
    locker_kill a; locker_kill b; locker_kill c
    # With every remote, ovsdb-client picks one at random: count how often
    # two such clients hold the lock together.
    local both=0 r
    for r in $(seq 10); do
        locker_start a "$SFM_DB_REMOTES"
        locker_start b "$SFM_DB_REMOTES"
        sfm_wait_until eval '{ holds_since a 0 || waits a; } && { holds_since b 0 || waits b; }' \
            || sfm_die "lock clients did not answer"
        holds_since a 0 && holds_since b 0 && both=$((both + 1))
        locker_kill a; locker_kill b
    done
    say "two clients given all three remotes: both held the lock in $both of 10 tries"
}

# Handover of the lock from a client on the leader to another client on
# the leader when the first gets signal $1 (KILL or STOP).
lock_handover() {
    local sig=$1 r l remote t0 t1 d=() pre
    start_cluster
    l=$(sfm_dbcluster_leader)
    remote=$(sfm_dbcluster_remote "$l")
    for ((r = 1; r <= REPEATS; r++)); do
        : >"$SFM_TMP/a.out"; : >"$SFM_TMP/b.out"
        locker_start a "$remote"
        sfm_wait_until holds_since a 0 || sfm_die "client a did not get the lock"
        locker_start b "$remote"
        sfm_wait_until waits b || sfm_die "client b is not waiting"
        # A random phase of the server's 5 s probe cycle.
        pre=$((RANDOM % 50))
        [ "$sig" = STOP ] && sleep "$((pre / 10)).$((pre % 10))"
        t0=$(now_us)
        kill -"$sig" "${LOCKER[a]}"
        SFM_WAIT_TIMEOUT=30 sfm_wait_until holds_since b "$t0" \
            || sfm_die "client b never got the lock"
        t1=$(lock_time b "$t0")
        d+=($(( (t1 - t0) / 1000 )))
        say "run $r: SIG$sig of the holder$([ "$sig" = STOP ] \
            && echo " ($((pre * 100)) ms after it got the lock)"); the other" \
            "client got the lock $(( (t1 - t0) / 1000 )) ms later"
        locker_kill a KILL; locker_kill b
    done
    say "lock handover after SIG$sig of the holder (probe" \
        "${SFM_DB_INACTIVITY_PROBE:-5000 (default)} ms): $(stats "${d[@]}")"
}

lock_member() {
    local r l t0 t1 tl d=() who x l2
    start_cluster
    for ((r = 1; r <= REPEATS; r++)); do
        sfm_dbcluster_wait_ready 15 || sfm_die "cluster not ready"
        : >"$SFM_TMP/a.out"; : >"$SFM_TMP/b.out"
        locker_loop_start a
        sfm_wait_until holds_since a 0 || sfm_die "client a did not get the lock"
        locker_loop_start b
        sfm_wait_until waits b || sfm_die "client b is not waiting"
        l=$(sfm_dbcluster_leader)
        t0=$(now_us)
        sfm_dbcluster_kill "$l"
        SFM_WAIT_TIMEOUT=30 sfm_wait_until eval 'holds_since a '"$t0"' || holds_since b '"$t0" \
            || sfm_die "nobody got the lock back"
        t1='' who=''
        for x in a b; do
            if holds_since "$x" "$t0"; then
                local tx; tx=$(lock_time "$x" "$t0")
                if [ -z "$t1" ] || [ "$tx" -lt "$t1" ]; then t1=$tx who=$x; fi
            fi
        done
        l2=$(sfm_dbcluster_leader)
        tl=$(log_time_us "${SFM_DB_LOG[l2]}" "elected leader")
        d+=($(( (t1 - t0) / 1000 )))
        say "run $r: killed member $l (leader) under client a's lock; new leader" \
            "$l2 after $(( (tl - t0) / 1000 )) ms; client $who holds the lock" \
            "$(( (t1 - t0) / 1000 )) ms after the kill"
        sleep 0.5
        holds_since a "$t0" && holds_since b "$t0" \
            && say "  both clients hold it!"
        locker_kill a; locker_kill b
        sfm_dbcluster_restart "$l"
        sfm_dbcluster_wait_member "$l" 15 || sfm_die "member $l did not rejoin"
    done
    say "lock back after SIGKILL of the member it was held through:" \
        "$(stats "${d[@]}")"
}

case $MODE in
selftest) selftest ;;
election) election ;;
lock-split) lock_split ;;
lock-kill) lock_handover KILL ;;
lock-stop) lock_handover STOP ;;
lock-member) lock_member ;;
*) sfm_die "unknown mode $MODE" ;;
esac
