#!/usr/bin/env bash
# Benchmark part 3: programming rate.  The full pipeline of 4 services x
# 3 instances, one chain through all four, 4096 buckets (32,768 steering
# flows, 16,384 fast-failover groups), installed on an empty bridge
#   - by sfmesh-controller: from set-controller until "sfmesh-ctl
#     switches" says "IDLE, in sync" (polled every 20 ms); the controller
#     log also gives connect -> bundle sent;
#   - by ovs-ofctl --bundle add-groups + add-flows of the same set, from
#     files captured with sfmesh-ctl groups / flows (the baseline);
# alternately, TRIALS times each, deleting everything between runs.  Then
# the repair time at that size: an instance's link goes down, until the
# switch is in sync again.
# Usage: part-program.sh BIN_DIR HELPER_DIR OUT_JSON
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) OUT=$3
. "$top/bench/lib.sh"
BENCH_PART=program
TRIALS=${BENCH_PROGRAM_TRIALS:-5}
SERVICES=4 PER=3 BUCKETS=${BENCH_BUCKETS:-4096}
bench_init program
CONFIG=$SFM_TMP/program.yaml
"$PY" "$top/bench/gen-config.py" $SERVICES $PER "$BUCKETS" > "$CONFIG"
"$BIN/sfmesh-controller" --check-config="$CONFIG" >&2 || sfm_die "config"

sfm_ovs_start
sfm_add_bridge br0 1          # no controller yet
for h in client server; do sfm_add_veth_port br0 "$h" "$h"; done
INSTANCES=$(for s in $(seq $SERVICES); do for i in $(seq $PER); do
    echo "s$s-$i"; done; done)
for h in $INSTANCES; do sfm_add_veth_port br0 "$h" "$h"; done
for h in client server $INSTANCES; do
    sfm_wait_until test "$(ovs-vsctl get interface "$h" ofport)" -gt 0 \
        || sfm_die "no port $h"
done
sfm_controller_start "$BIN/sfmesh-controller" --config="$CONFIG" \
    ptcp:0:127.0.0.1
TARGET=tcp:127.0.0.1:$SFM_OF_PORT
LOG=$OVS_LOGDIR/sfmesh-controller.log
SFM_WAIT_TIMEOUT=600
not_connected() { ! ctl switches 2>/dev/null | grep -q "in sync\|ACTIVE\|IDLE"; }
# Log timestamp (UTC, ms) -> seconds since the epoch.
logtime() { date -u -d "$(cut -d'|' -f1 <<< "$1" | tr T ' ' | tr -d Z)" +%s.%N; }
poll_sync() {  # in sync, polled every 20 ms, for at most 600 s
    local end=$((SECONDS + 600))
    until in_sync; do
        [ $SECONDS -lt $end ] || sfm_die "not in sync: $(ctl switches)"
        sleep 0.02
    done
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a - b }'; }
count() { ofctl dump-flows br0 | grep -c "table=" ; }

# First programming, to capture the desired state for ovs-ofctl.
sfm_set_controller br0 "$TARGET"
sfm_wait_until in_sync || sfm_die "first programming did not finish"
ctl flows > "$SFM_TMP/flows.txt"
ctl groups > "$SFM_TMP/groups.txt"
NF=$(grep -c . "$SFM_TMP/flows.txt") NG=$(grep -c . "$SFM_TMP/groups.txt")
say "$NF flows, $NG groups"

clear_switch() {
    ovs-vsctl del-controller br0
    sfm_wait_until not_connected || sfm_die "controller still holds the switch"
    ofctl del-flows br0 && ofctl del-groups br0 || sfm_die "cannot clear"
}

: > "$SFM_TMP/program.jsonl"
for round in $(seq "$TRIALS"); do
    clear_switch
    lines=$(wc -l < "$LOG")
    t0=$(now)
    sfm_set_controller br0 "$TARGET"
    poll_sync
    t1=$(now)
    bl=$(tail -n +"$((lines + 1))" "$LOG" | grep -m1 "bundle .* with [0-9]* changes")
    cl=$(tail -n +"$((lines + 1))" "$LOG" | grep -m1 "is switch sw1")
    changes=$(sed -n 's/.* with \([0-9]*\) changes.*/\1/p' <<< "$bl")
    tb=$(logtime "$bl") tc=$(logtime "$cl")
    n=$(count)
    echo "{\"method\": \"sfmesh\", \"round\": $round, \"seconds\": $(sub "$t1" "$t0"), \"connect_to_bundle_sent_s\": $(sub "$tb" "$tc"), \"changes\": $changes, \"flows_on_switch\": $n}" \
        | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2

    clear_switch
    t0=$(now)
    ofctl --bundle add-groups br0 "$SFM_TMP/groups.txt" \
        || sfm_die "ovs-ofctl add-groups"
    ofctl --bundle add-flows br0 "$SFM_TMP/flows.txt" \
        || sfm_die "ovs-ofctl add-flows"
    t1=$(now)
    n=$(count)
    echo "{\"method\": \"ovs-ofctl\", \"round\": $round, \"seconds\": $(sub "$t1" "$t0"), \"flows_on_switch\": $n}" \
        | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2
done

# Repair at this size: sfmesh holds the switch; one instance fails.
clear_switch
sfm_set_controller br0 "$TARGET"
poll_sync
for round in $(seq "$TRIALS"); do
    victim=s$(( (round - 1) % SERVICES + 1 ))-$(( (round - 1) / SERVICES + 1 ))
    lines=$(wc -l < "$LOG")
    t0=$(now)
    ip link set "$victim" down
    end=$((SECONDS + 60))
    until tail -n +"$((lines + 1))" "$LOG" | grep -q "instance $victim up -> down"
    do
        [ $SECONDS -lt $end ] || sfm_die "$victim not seen down"
        sleep 0.01
    done
    poll_sync
    t1=$(now)
    dl=$(tail -n +"$((lines + 1))" "$LOG" | grep -m1 "instance $victim up -> down")
    bl=$(tail -n +"$((lines + 1))" "$LOG" | grep -m1 "bundle .* with [0-9]* changes")
    changes=$(sed -n 's/.* with \([0-9]*\) changes.*/\1/p' <<< "$bl")
    moved=$(sed -n 's/.*down: \([0-9]*\) buckets changed.*/\1/p' <<< "$dl")
    td=$(logtime "$dl") tb=$(logtime "$bl")
    echo "{\"method\": \"repair\", \"round\": $round, \"victim\": \"$victim\", \"seconds\": $(sub "$t1" "$t0"), \"down_to_bundle_sent_s\": $(sub "$tb" "$td"), \"buckets_changed\": ${moved:-0}, \"changes\": ${changes:-0}}" \
        | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2
done
"$PY" "$top/bench/analyze.py" program "$SFM_TMP/program.jsonl" "$NF" "$NG" \
    "$BUCKETS" > "$OUT" || sfm_die "summary failed"
say "wrote $OUT"
