#!/usr/bin/env bash
# Controller high availability: the two-service chain with sfmesh-agent in
# every instance (stateful firewall, async replication), 48 TCP
# connections carrying data the whole time, two controllers c1 and c2 on a
# 3-member Raft cluster of sfmesh's database (sfmesh.ovsschema), the
# switch configured with both, the agents with both.
#
#   takeover   c1 (active, primary of br0) is killed: c2 takes the lock and
#              is primary within the time stated below, finds the switch
#              as it should be and sends it nothing (no flow or group
#              change counted by c2; every flow and group of br0 is the
#              same, its duration still growing); the agents move to c2;
#              an agent killed after the takeover is fenced by c2 and its
#              buckets repaired; the database's leader is killed, and c2
#              stays the active controller; c1 comes back as a standby;
#   during     c1 and the agent of dlp-2 are killed at once: the datapath
#              fails dlp-2 over (BFD) while no controller is active, and
#              c2, once active, fences dlp-2 and repairs the map;
#   handoff    dlp-1 is drained, and c1 killed with its handoffs in
#              progress: c2 carries them on from where the database says
#              they were, until dlp-1 holds no bucket;
#   split      c1 is suspended (SIGSTOP) past the database's lock timeout:
#              c2 takes over, the agents leave the silent c1 for it, and
#              no agent is fenced; c1 is resumed and stands down;
#   partition  c1 is cut off from the database (its packets to the
#              members dropped) but not from the switch or the agents:
#              c2 takes over, c1 stands down (the time is stated), the
#              agents follow, no agent is fenced; once the cut heals, c1
#              is a standby of c2.
#
# In split and partition, br0's roles are sampled every 100 ms
# throughout, and the switch never shows two primaries; its flows and
# groups are the same at the end.
#
# In every scenario every connection survives.
#
# Usage: test-ha.sh BIN_DIR [SCENARIO...]   (default: all, in that order)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${3:-}" != --one ]; then
    bin=$1 status=0
    shift
    for run in "${@:-takeover during handoff split partition}"; do
        for r in $run; do
            timeout --kill-after=10 150 bash "$0" "$bin" "$r" --one \
                || status=1
        done
    done
    [ "$status" = 0 ] && echo "PASS: ha"
    exit "$status"
fi

. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
SCENARIO=$2
REPL=async
N_CONNS=48
TRAFFIC_S=30

sfm_setup "ha-$SCENARIO"
. "$top/tests/lib/agent-chain.sh"
. "$top/tests/lib/ovsdb-cluster.sh"
. "$top/tests/lib/ha.sh"
say() { printf '  [%s] %s\n' "$SCENARIO" "$*" >&2; }

ha_cluster_start

sfm_chain_setup
SFM_WAIT_TIMEOUT=10 sfm_wait_until is_master 1 \
    || { switch_roles >&2; sfm_die "c1 is not br0's primary"; }
[ "$(switch_roles | awk '$2 == "slave"' | wc -l)" = 1 ] \
    || { switch_roles >&2; sfm_die "c2 is not br0's secondary"; }
hactl 2 ha | grep -q "standby (active: c1)" \
    || { hactl 2 ha >&2; sfm_die "c2 is not a standby of c1"; }

sfm_chain_traffic_start "$N_CONNS" "$TRAFFIC_S"
sleep 2

case $SCENARIO in
takeover)
    switch_tables > "$SFM_TMP/tables.before"
    flow_durations > "$SFM_TMP/durations.before"
    t0=$(now_ms)
    kill_controller 1
    say "killed c1 (active)"
    SFM_WAIT_TIMEOUT=10 sfm_wait_until is_master 2 \
        || { switch_roles >&2; hactl 2 ha >&2; sfm_die "c2 not primary"; }
    t_active=$(log_time_ms c2 "active controller (generation")
    say "c2 active $((t_active - t0)) ms after c1's death, br0's primary" \
        "$(( $(now_ms) - t0 )) ms after (as polled)"
    SFM_CTL=$OVS_RUNDIR/c2.ctl
    SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_chain_ready \
        || { ctl agents >&2; ctl switches >&2; sfm_die "agents not on c2"; }
    sleep 1
    switch_tables > "$SFM_TMP/tables.after"
    flow_durations > "$SFM_TMP/durations.after"
    diff "$SFM_TMP/tables.before" "$SFM_TMP/tables.after" >&2 \
        || sfm_die "br0's flows or groups changed in the takeover"
    elapsed=$(( ($(now_ms) - t0) / 1000 - 1 ))
    durations_grew "$SFM_TMP/durations.before" "$SFM_TMP/durations.after" \
        "$elapsed" || sfm_die "flows were replaced in the takeover"
    [ "$(changes_of 2)" = "+0 ~0 -0 +0 ~0 -0" ] \
        || { ctl switches >&2; sfm_die "c2 changed br0: $(changes_of 2)"; }
    say "br0 unchanged: $(wc -l < "$SFM_TMP/tables.after") flows and" \
        "groups, durations growing, c2 sent no change"

    # An agent killed after the takeover: c2 fences and repairs.
    kill_agent dlp-1
    SFM_WAIT_TIMEOUT=5 sfm_wait_until grep -q "instance dlp-1 fenced" \
        "$OVS_LOGDIR/c2.log" || sfm_die "c2 did not fence dlp-1"
    SFM_WAIT_TIMEOUT=5 sfm_wait_until eval \
        '[ "$(ctl map dlp | awk '"'"'NF == 3 && $2 == "dlp-1"'"'"' | wc -l)" = 0 ]' \
        || { ctl map dlp >&2; sfm_die "dlp-1 still primary of buckets"; }
    say "dlp-1's agent killed: fenced by c2, its buckets repaired"

    # The database's leader dies: c2 stays the active controller.
    gen=$(hactl 2 ha | sed -n 's/.*generation \([0-9]*\).*/\1/p')
    leader=$(sfm_dbcluster_leader)
    sfm_dbcluster_kill "$leader"
    say "killed database member $leader (the leader)"
    sfm_dbcluster_wait_leader 10 || sfm_die "no new database leader"
    # c2 keeps its role through the grace, or stands down and claims again
    # on the new leader (a newer generation): either way it is the primary.
    sleep 1
    SFM_WAIT_TIMEOUT=20 sfm_wait_until eval 'is_active 2 && is_master 2' \
        || { hactl 2 ha >&2; switch_roles >&2; sfm_die "c2 lost its role"; }
    say "c2 active after the leader's death (generation $gen ->" \
        "$(hactl 2 ha | sed -n 's/.*generation \([0-9]*\).*/\1/p'))"
    sfm_dbcluster_restart "$leader"

    # c1 comes back as a standby.
    ha_controller_start 1
    SFM_WAIT_TIMEOUT=10 sfm_wait_until eval 'hactl 1 ha | grep -q "standby (active: c2)"' \
        || { hactl 1 ha >&2; sfm_die "c1 is not a standby of c2"; }
    SFM_WAIT_TIMEOUT=10 sfm_wait_until eval \
        '[ "$(switch_roles | awk '"'"'$2 == "slave"'"'"' | wc -l)" = 1 ]' \
        || { switch_roles >&2; sfm_die "c1 is not br0's secondary"; }
    say "c1 back as a standby and br0's secondary"
    ;;
during)
    kill_controller 1
    kill_agent dlp-2
    say "killed c1 (active) and dlp-2's agent at once"
    SFM_WAIT_TIMEOUT=10 sfm_wait_until is_master 2 || sfm_die "c2 not primary"
    SFM_CTL=$OVS_RUNDIR/c2.ctl
    SFM_WAIT_TIMEOUT=10 sfm_wait_until grep -q "instance dlp-2 fenced" \
        "$OVS_LOGDIR/c2.log" || sfm_die "c2 did not fence dlp-2"
    SFM_WAIT_TIMEOUT=5 sfm_wait_until eval \
        '[ "$(ctl map dlp | awk '"'"'NF == 3 && $2 == "dlp-2"'"'"' | wc -l)" = 0 ]' \
        || { ctl map dlp >&2; sfm_die "dlp-2 still primary of buckets"; }
    say "c2 active, dlp-2 fenced and repaired"
    ;;
handoff)
    hactl 1 drain dlp-1 || sfm_die "drain refused"
    SFM_WAIT_TIMEOUT=5 sfm_wait_until eval \
        'hactl 1 handoffs dlp | grep -q "in progress [1-9]"' \
        || { hactl 1 handoffs dlp >&2; sfm_die "no handoff in progress"; }
    # The standby follows the database: the drain is there.
    SFM_WAIT_TIMEOUT=5 sfm_wait_until eval \
        'hactl 2 instances | grep -q "dlp-1 .*draining"' \
        || { hactl 2 instances >&2; sfm_die "c2 does not see the drain"; }
    kill_controller 1
    say "killed c1 with dlp-1's handoffs in progress"
    SFM_WAIT_TIMEOUT=10 sfm_wait_until is_master 2 || sfm_die "c2 not primary"
    SFM_CTL=$OVS_RUNDIR/c2.ctl
    SFM_WAIT_TIMEOUT=20 sfm_wait_until eval \
        '[ "$(ctl map dlp | awk '"'"'NF >= 3 && ($2 == "dlp-1" || $3 == "dlp-1")'"'"' | wc -l)" = 0 ]' \
        || { ctl map dlp >&2; ctl handoffs dlp >&2; sfm_die "dlp-1 not drained by c2"; }
    say "c2 finished dlp-1's drain: it holds no bucket"
    ;;
split)
    roles_sample
    kill -STOP "$(cat "$OVS_RUNDIR/c1.pid")"
    t0=$(now_ms)
    say "suspended c1 (active)"
    SFM_WAIT_TIMEOUT=30 sfm_wait_until is_master 2 \
        || { switch_roles >&2; hactl 2 ha >&2; sfm_die "c2 never primary"; }
    t_active=$(log_time_ms c2 "active controller (generation")
    say "c2 active $((t_active - t0)) ms after c1 stopped, br0's primary" \
        "$(( $(now_ms) - t0 )) ms after (as polled)"
    SFM_CTL=$OVS_RUNDIR/c2.ctl
    SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_chain_ready \
        || { ctl agents >&2; sfm_die "the agents did not leave c1 for c2"; }
    kill -CONT "$(cat "$OVS_RUNDIR/c1.pid")"
    say "the agents on c2; resumed c1"
    SFM_WAIT_TIMEOUT=10 sfm_wait_until eval 'hactl 1 ha | grep -q standby' \
        || { hactl 1 ha >&2; sfm_die "c1 did not stand down"; }
    sleep 3
    roles_check
    ;;
partition)
    roles_sample
    ports=$(IFS=,; echo "${SFM_DB_PORT[*]:1}")
    nft -f - <<EOF || sfm_die "cannot cut c1 off"
table inet sfm_ha {
    chain out {
        type filter hook output priority 0;
        meta skgid 4241 tcp dport { $ports } drop
    }
}
EOF
    t0=$(now_ms)
    say "cut c1 (active) off from the database (ports $ports)"
    SFM_WAIT_TIMEOUT=30 sfm_wait_until is_master 2 \
        || { switch_roles >&2; hactl 2 ha >&2; sfm_die "c2 never primary"; }
    SFM_WAIT_TIMEOUT=10 sfm_wait_until eval 'hactl 1 ha | grep -q standby' \
        || { hactl 1 ha >&2; sfm_die "c1 did not stand down"; }
    t_active=$(log_time_ms c2 "active controller (generation")
    t_down=$(log_time_ms c1 "controller role is now slave" "$t0")
    say "c2 active $((t_active - t0)) ms after the cut; c1 secondary" \
        "$((t_down - t0)) ms after, and a standby by:" \
        "$(log_line_after c1 "standby (" "$t0" | sed 's/.*standby (//; s/)$//')"
    SFM_CTL=$OVS_RUNDIR/c2.ctl
    SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_chain_ready \
        || { ctl agents >&2; sfm_die "the agents did not leave c1 for c2"; }
    say "the agents on c2"
    nft delete table inet sfm_ha
    SFM_WAIT_TIMEOUT=15 sfm_wait_until eval \
        'hactl 1 ha | grep -q "connected, standby (active: c2)"' \
        || { hactl 1 ha >&2; sfm_die "c1 is not a standby of c2"; }
    say "the cut healed: c1 a standby of c2"
    sleep 1
    roles_check
    ;;
esac

sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result)
say "$survived of $N_CONNS survived; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost: $failed"
echo "PASS: ha $SCENARIO"
