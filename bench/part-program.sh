#!/usr/bin/env bash
# Benchmark part 3: programming rate and repair cost, at several sizes.
# The full pipeline of 4 services x 3 instances, one chain through all
# four, at each of BENCH_PROGRAM_SIZES buckets (default 256 1024 4096
# 16384; at 4096: 32,812 flows and 16,384 fast-failover groups), installed
# on an empty bridge
#   - by sfmesh-controller: from set-controller until "sfmesh-ctl
#     switches" says "IDLE, in sync" (polled every 20 ms); the controller
#     log also gives connect -> bundle sent;
#   - by ovs-ofctl --bundle add-groups + add-flows of the same set, from
#     files captured with sfmesh-ctl groups / flows (the baseline);
# alternately, TRIALS times each, deleting everything between runs.  Then
# the repair at that size: one instance's link goes down, then two of
# different services at once (the same table, about twice the changes),
# until the switch is in sync again, and in the controller's log from the
# first "up -> down" to the last repair bundle's barrier reply
# ("committed").  Each size
# also records the controller's peak RSS, how long "sfmesh-ctl flows"
# takes, and whether "ovs-ofctl diff-flows" finds it equal to the switch.
# Usage: part-program.sh BIN_DIR HELPER_DIR OUT_JSON
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) OUT=$3
. "$top/bench/lib.sh"
BENCH_PART=program
TRIALS=${BENCH_PROGRAM_TRIALS:-5}
SERVICES=4 PER=3
SIZES=${BENCH_PROGRAM_SIZES:-256 1024 4096 16384}
bench_init program

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
LOG=$OVS_LOGDIR/sfmesh-controller.log
PIDFILE=$OVS_RUNDIR/sfmesh-controller.pid
SFM_WAIT_TIMEOUT=600
not_connected() { ! ctl switches 2>/dev/null | grep -q "in sync\|ACTIVE\|IDLE"; }
# Log timestamp (UTC, ms) -> seconds since the epoch.
logtime() { date -u -d "$(cut -d'|' -f1 <<< "$1" | tr T ' ' | tr -d Z)" +%s.%N; }
# In sync, and every map at its target (no handoff in progress or due).
settled() {
    in_sync && ! ctl handoffs | grep "^service" \
        | grep -vq "in progress 0,.* pending 0,"
}
poll_sync() {  # in sync, polled every 20 ms, for at most 600 s
    local end=$((SECONDS + 600))
    until in_sync; do
        [ $SECONDS -lt $end ] || sfm_die "not in sync: $(ctl switches)"
        sleep 0.02
    done
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a - b }'; }
count() { ofctl dump-flows br0 | grep -c "table=" ; }
# The first log line after line $1 that matches $2.
log_after() { tail -n +"$(($1 + 1))" "$LOG" | grep -m1 "$2"; }
# Waits until the log has a line after line $1 that matches $2 (at most
# 120 s), or dies saying $3.
wait_log() {
    local end=$((SECONDS + 120))
    until log_after "$1" "$2" >/dev/null; do
        [ $SECONDS -lt $end ] || sfm_die "$3"
        sleep 0.01
    done
}

clear_switch() {
    ovs-vsctl del-controller br0
    sfm_wait_until not_connected || sfm_die "controller still holds the switch"
    ofctl del-flows br0 && ofctl del-groups br0 || sfm_die "cannot clear"
}

stop_controller() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 0
    ovs-vsctl del-controller br0
    kill "$pid" 2>/dev/null
    sfm_wait_until test ! -e "/proc/$pid" || sfm_die "controller did not stop"
}

: > "$SFM_TMP/program.jsonl"
for BUCKETS in $SIZES; do
    CONFIG=$SFM_TMP/program-$BUCKETS.yaml
    "$PY" "$top/bench/gen-config.py" $SERVICES $PER "$BUCKETS" > "$CONFIG"
    "$BIN/sfmesh-controller" --check-config="$CONFIG" >&2 \
        || sfm_die "config"
    stop_controller
    ofctl del-flows br0 && ofctl del-groups br0 || sfm_die "cannot clear"
    sfm_controller_start "$BIN/sfmesh-controller" --config="$CONFIG" \
        ptcp:0:127.0.0.1
    TARGET=tcp:127.0.0.1:$SFM_OF_PORT

    # First programming, to capture the desired state for ovs-ofctl.
    sfm_set_controller br0 "$TARGET"
    sfm_wait_until in_sync || sfm_die "first programming did not finish"
    t0=$(now)
    ctl flows > "$SFM_TMP/flows.txt" || sfm_die "sfmesh-ctl flows failed"
    t1=$(now)
    ctl groups > "$SFM_TMP/groups.txt" || sfm_die "sfmesh-ctl groups failed"
    NF=$(grep -c . "$SFM_TMP/flows.txt") NG=$(grep -c . "$SFM_TMP/groups.txt")
    if ofctl diff-flows br0 "$SFM_TMP/flows.txt" > "$SFM_TMP/diff"; then
        clean=true
    else
        clean=false
        say "diff-flows differs: $(head -c 300 "$SFM_TMP/diff")"
    fi
    say "$BUCKETS buckets: $NF flows, $NG groups"
    echo "{\"method\": \"display\", \"buckets\": $BUCKETS, \"flows\": $NF, \"groups\": $NG, \"ctl_flows_s\": $(sub "$t1" "$t0"), \"diff_flows_clean\": $clean}" \
        | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2

    for round in $(seq "$TRIALS"); do
        clear_switch
        lines=$(wc -l < "$LOG")
        t0=$(now)
        sfm_set_controller br0 "$TARGET"
        poll_sync
        t1=$(now)
        bl=$(log_after "$lines" "bundle .* with [0-9]* changes")
        cl=$(log_after "$lines" "is switch sw1")
        changes=$(sed -n 's/.* with \([0-9]*\) changes.*/\1/p' <<< "$bl")
        tb=$(logtime "$bl") tc=$(logtime "$cl")
        n=$(count)
        echo "{\"method\": \"sfmesh\", \"buckets\": $BUCKETS, \"round\": $round, \"seconds\": $(sub "$t1" "$t0"), \"connect_to_bundle_sent_s\": $(sub "$tb" "$tc"), \"changes\": $changes, \"flows_on_switch\": $n}" \
            | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2

        clear_switch
        t0=$(now)
        ofctl --bundle add-groups br0 "$SFM_TMP/groups.txt" \
            || sfm_die "ovs-ofctl add-groups"
        ofctl --bundle add-flows br0 "$SFM_TMP/flows.txt" \
            || sfm_die "ovs-ofctl add-flows"
        t1=$(now)
        n=$(count)
        echo "{\"method\": \"ovs-ofctl\", \"buckets\": $BUCKETS, \"round\": $round, \"seconds\": $(sub "$t1" "$t0"), \"flows_on_switch\": $n}" \
            | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2
    done

    # Repair at this size: sfmesh holds the switch; one instance fails,
    # then (same table, about twice the changes) two instances of
    # different services at once.  Timed in the controller's log from the
    # first "up -> down" to the last bundle's barrier reply before the
    # switch is in sync again.
    clear_switch
    sfm_set_controller br0 "$TARGET"
    sfm_wait_until settled || sfm_die "not settled"
    for round in $(seq "$TRIALS"); do
        for n_victims in 1 2; do
            victims=
            for v in $(seq "$n_victims"); do
                k=$(( (round - 1) * 2 + v - 1 ))
                victims="$victims s$(( k % SERVICES + 1 ))-$(( (k / SERVICES) % PER + 1 ))"
            done
            lines=$(wc -l < "$LOG")
            t0=$(now)
            for v in $victims; do ip link set "$v" down; done
            for v in $victims; do
                wait_log "$lines" "instance $v up -> down" "$v not seen down"
            done
            poll_sync
            t1=$(now)
            dl=$(tail -n +"$((lines + 1))" "$LOG" | grep -m1 "up -> down")
            bl=$(tail -n +"$((lines + 1))" "$LOG" \
                 | grep -m1 "bundle .* with [0-9]* changes")
            cm=$(tail -n +"$((lines + 1))" "$LOG" | grep "bundle .* committed" \
                 | tail -1)
            changes=$(tail -n +"$((lines + 1))" "$LOG" \
                      | sed -n 's/.* with \([0-9]*\) changes.*/\1/p' \
                      | awk '{ s += $1 } END { print s + 0 }')
            td=$(logtime "$dl") tb=$(logtime "$bl") tm=$(logtime "$cm")
            echo "{\"method\": \"repair\", \"buckets\": $BUCKETS, \"round\": $round, \"victims\": $n_victims, \"names\": \"${victims# }\", \"seconds\": $(sub "$t1" "$t0"), \"down_to_bundle_sent_s\": $(sub "$tb" "$td"), \"down_to_barrier_s\": $(sub "$tm" "$td"), \"changes\": $changes}" \
                | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2
            lines=$(wc -l < "$LOG")
            for v in $victims; do ip link set "$v" up; done
            for v in $victims; do
                wait_log "$lines" "instance $v .*-> up" "$v not seen up"
            done
            sfm_wait_until settled || sfm_die "maps not back at their targets"
        done
    done
    hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' \
          "/proc/$(cat "$PIDFILE")/status")
    echo "{\"method\": \"memory\", \"buckets\": $BUCKETS, \"controller_peak_rss_kb\": $hwm}" \
        | tee -a "$SFM_TMP/program.jsonl" | sed 's/^/    /' >&2
    stop_controller
done
"$PY" "$top/bench/analyze.py" program "$SFM_TMP/program.jsonl" > "$OUT" \
    || sfm_die "summary failed"
say "wrote $OUT"
