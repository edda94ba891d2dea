#!/usr/bin/env bash
# Failovers after the controller or an agent restarted: the two-service
# chain with sfmesh-agent (stateful firewall, async replication) in every
# instance and 48 TCP connections carrying data the whole time.
#
#   restart      the controller restarts; then the agents of dlp-1 and,
#                6 s later, dlp-2 are killed: every connection survives
#                (the restarted controller's map epochs continue from the
#                ones the agents hold, so they take its maps and warm their
#                new secondaries);
#   sighup       the same after a SIGHUP with the file unchanged;
#   agent        after 8 s of traffic (every packet a state change), dlp-1's agent is killed and started
#                again; once it is warm, dlp-2's agent is killed (dlp-1
#                takes over some of its buckets and replicates them to
#                dlp-3, numbering its batches from 1 again), 48 new
#                connections start, and 2 s later dlp-1's agent is killed:
#                every connection, old and new, survives;
#   dead-agent   the controller stops, dlp-1's agent is killed while it is
#                down, the controller starts again: dlp-1 is fenced within
#                the heartbeat timeout of the controller being ready for
#                agents (switches programmed, and the listener open for
#                the agents' longest reconnection interval), and every
#                connection survives.
#
# Usage: test-restart.sh BIN_DIR [SCENARIO]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ $# -lt 2 ]; then
    bin=$1 status=0
    for run in restart sighup agent dead-agent; do
        timeout --kill-after=10 150 bash "$0" "$bin" $run || status=1
    done
    [ "$status" = 0 ] && echo "PASS: restart"
    exit "$status"
fi

. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
SCENARIO=$2
REPL=async
N_CONNS=48
HB_TIMEOUT=300

sfm_setup "restart-$SCENARIO"
# In the agent scenario every packet changes a stream's state, as a scan
# position or a byte count does, so that replication is busy.
[ "$SCENARIO" = agent ] && AGENT_SERVICE_ARGS=sync_interval=0
. "$top/tests/lib/agent-chain.sh"
say() { printf '  [%s] %s\n' "$SCENARIO" "$*" >&2; }
sfm_chain_setup
CTL_LOG=$OVS_LOGDIR/sfmesh-controller.log

# Stops the controller (by its pid) and waits until it is gone.
controller_stop() {
    local pid
    pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
    kill -TERM "$pid"
    sfm_wait_until eval '! kill -0 '"$pid"' 2>/dev/null' \
        || sfm_die "controller did not stop"
}

# Starts it again on the same ports.
controller_start() {
    sfm_chain_controller_start --agent-listen="ptcp:$AGENT_PORT:10.9.0.254" \
        "ptcp:$SFM_OF_PORT:127.0.0.1"
}

kill_agent() {
    kill -KILL "$(cat "$OVS_RUNDIR/agent-$1.pid")"
    say "killed the agent of $1 at $(date +%T.%3N)"
}

# Succeeds if instance $1 is in state $2 in the controller's map.
instance_is() {
    ctl instances | awk -v i="$1" -v s="$2" '$1 == i && $6 == s {f = 1}
                                             END {exit !f}'
}

# Prints the time of the first log line of the controller matching $1, in
# milliseconds since the epoch.
log_time_ms() {
    local line
    line=$(grep -m1 "$1" "$CTL_LOG" | cut -d'|' -f1)
    [ -n "$line" ] || return 1
    date -d "${line%Z}" +%s%3N
}

sfm_chain_traffic_start "$N_CONNS" 24
sleep 2

case $SCENARIO in
restart)
    controller_stop
    controller_start
    say "controller restarted"
    SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_chain_ready \
        || { ctl agents >&2; sfm_die "agents not back and warm"; }
    grep -q "continuing from epoch" "$CTL_LOG" \
        || sfm_die "the restarted controller did not continue the epochs"
    kill_agent dlp-1
    sleep 6
    kill_agent dlp-2
    ;;
sighup)
    kill -HUP "$(cat "$OVS_RUNDIR/sfmesh-controller.pid")"
    sfm_wait_until grep -q "configuration reloaded" "$CTL_LOG" \
        || sfm_die "no reload"
    sleep 1
    sfm_chain_ready || { ctl agents >&2; sfm_die "not ready after reload"; }
    kill_agent dlp-1
    sleep 6
    kill_agent dlp-2
    ;;
agent)
    # Long enough for dlp-1's batches to dlp-3 to be numbered far beyond
    # what its next process sends before it fails in turn.
    sleep 6
    kill_agent dlp-1
    sleep 1
    sfm_chain_agent_start dlp-1 3
    SFM_WAIT_TIMEOUT=15 sfm_wait_until instance_is dlp-1 up \
        || { ctl instances >&2; sfm_die "dlp-1 did not come back up"; }
    say "dlp-1's agent restarted and warm"
    kill_agent dlp-2
    # New connections: some have the restarted dlp-1 as primary, and their
    # state exists only in what it replicates to its secondaries.
    main_client=$SFM_CLIENT
    sfm_chain_client_start new "$N_CONNS" 42000 6
    new_client=$SFM_CLIENT
    sleep 2
    actl dlp-3 status | grep "^replication in" >&2
    kill_agent dlp-1
    SFM_CLIENT=$new_client sfm_chain_traffic_wait
    read -r survived failed gap < <(sfm_chain_traffic_result new)
    say "new connections: $survived of $N_CONNS survived; failed: $failed"
    [ "$survived" = "$N_CONNS" ] \
        || sfm_die "new connections lost after the restarted agent failed"
    SFM_CLIENT=$main_client
    ;;
dead-agent)
    controller_stop
    kill_agent dlp-1
    controller_start
    SFM_WAIT_TIMEOUT=10 sfm_wait_until grep -q "instance dlp-1 fenced" \
        "$CTL_LOG" || sfm_die "dlp-1 was never fenced"
    # The controller is ready for agents once the switches are programmed
    # and its listener has been open for the agents' longest reconnection
    # interval (1 s).
    listen=$(grep "listening for agents" "$CTL_LOG" | tail -n 1 | cut -d'|' -f1)
    programmed=$(grep "switches connected: programming them" "$CTL_LOG" \
                 | tail -n 1 | cut -d'|' -f1)
    listen=$(( $(date -d "${listen%Z}" +%s%3N) + 1000 ))
    programmed=$(date -d "${programmed%Z}" +%s%3N)
    ready=$(( listen > programmed ? listen : programmed ))
    fenced=$(grep "instance dlp-1 fenced" "$CTL_LOG" | tail -n 1 \
             | cut -d'|' -f1)
    delay=$(( $(date -d "${fenced%Z}" +%s%3N) - ready ))
    say "fenced $delay ms after the controller was ready for agents"
    # The heartbeat timeout, and some slack for a busy machine.
    [ "$delay" -ge "$HB_TIMEOUT" ] && [ "$delay" -le $((HB_TIMEOUT + 100)) ] \
        || sfm_die "fenced $delay ms after ready (timeout $HB_TIMEOUT ms)"
    instance_is dlp-1 down || sfm_die "dlp-1 is not down"
    [ "$(ovs-vsctl get interface dlp-1 admin_state)" = down ] \
        || sfm_die "dlp-1's port is not down"
    ;;
esac

sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result)
say "$survived of $N_CONNS survived; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || {
    for h in dlp-1 dlp-2 dlp-3; do
        [ -S "$OVS_RUNDIR/agent-$h.ctl" ] && actl "$h" status >&2
    done
    sfm_die "connections lost: $failed"
}
echo "PASS: restart $SCENARIO"
