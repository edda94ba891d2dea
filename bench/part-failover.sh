#!/usr/bin/env bash
# Benchmark part 1: failover gap and loss of a 10 kpps sequence-numbered
# UDP stream through one service with two instances (sfmesh-agent, counter
# service, async replication).  Variants, interleaved round by round so
# that the machine's noise hits them alike:
#   a  static: the sfmesh pipeline installed with ovs-ofctl, no controller;
#      link down (the datapath floor: OVS fast-failover alone)
#   b  sfmesh, link down
#   c  sfmesh, agent SIGKILL (link stays up)
#   d  sfmesh, agent SIGSTOP
#   e  BASELINE reactive controller (bench/reactive-ctl.c): same pipeline
#      without groups, flows rewritten on port-status; link down
#   f  sfmesh, agent SIGKILL with the controller stopped (SIGSTOP) first
#   g  sfmesh, agent SIGSTOP with the controller stopped first
#   h  sfmesh, agent and its sentinel SIGKILLed together (as a kill of the
#      whole process group would): the switch finds out by BFD expiry, the
#      A/B baseline of (c)
# The instances' ports run BFD (BENCH_BFD_MS, default 5 ms each way),
# answered by the agents, so c, d, f and g fail over in the datapath.
# Usage: part-failover.sh BIN_DIR HELPER_DIR OUT_JSON
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) OUT=$3
. "$top/bench/lib.sh"
BENCH_PART=failover
TRIALS=${BENCH_TRIALS:-10}
RATE=${BENCH_RATE:-10000}
VARIANTS=${BENCH_VARIANTS:-a b c d e f g h}
BFD_MS=${BENCH_BFD_MS:-5}
bench_init failover

CONFIG=$SFM_TMP/failover.yaml
cat > "$CONFIG" <<YAML
version: 1
buckets: 256
bfd: {min_tx_ms: $BFD_MS, min_rx_ms: $BFD_MS}
switches:
  sw1: {dpid: 1}
services:
  svc:
    instances:
      inst-a: {switch: sw1, port: inst-a, mac: "02:00:00:00:01:01"}
      inst-b: {switch: sw1, port: inst-b, mac: "02:00:00:00:01:02"}
chains:
  c1:
    spi: 100
    ingress: {switch: sw1, port: client}
    egress: {switch: sw1, port: server}
    services: [svc]
YAML

bench_repnet
sfm_ovs_start
bench_controller "$CONFIG" --ovsdb="unix:$OVS_RUNDIR/db.sock"
SFMESH_TARGET=tcp:127.0.0.1:$SFM_OF_PORT
sfm_add_bridge br0 1
bench_hosts
bench_instances br0 inst-a inst-b
declare -A NUM=([inst-a]=1 [inst-b]=2) OFP
for h in client server inst-a inst-b; do
    sfm_wait_until test "$(ovs-vsctl get interface "$h" ofport)" -gt 0 \
        || sfm_die "no port $h"
    OFP[$h]=$(ovs-vsctl get interface "$h" ofport)
done
for h in inst-a inst-b; do
    bench_agent "$h" "${NUM[$h]}" counter async
done
SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 2 \
    || { ctl agents >&2; ctl instances >&2; sfm_die "agents not ready"; }

# The stream and its bucket.
SPORT=40000 DPORT=5000
code=$(affinity_code "${OFP[client]}" "udp,nw_src=10.0.0.1,nw_dst=10.0.0.2,\
udp_src=$SPORT,udp_dst=$DPORT")
[ -n "$code" ] || sfm_die "no affinity code"
BUCKET=$((code & 255))
current_primary() {
    ctl map svc | awk -v b="$BUCKET" '$1 == b && NF == 3 {print $2}'
}
X0=$(current_primary)
say "stream in bucket $BUCKET, primary $X0"

# The static pipeline (variant a) and the baseline's flows (variant e),
# from what sfmesh installed.
ctl flows > "$SFM_TMP/flows.txt"
ctl groups > "$SFM_TMP/groups.txt"
"$PY" - "$SFM_TMP/flows.txt" "$SFM_TMP/groups.txt" > "$SFM_TMP/reactive.txt" <<'PY'
import re, sys
groups = {}
for line in open(sys.argv[2]):
    m = re.match(r'group_id=(\d+),type=ff,(.*)', line.strip())
    if not m:
        continue
    buckets = re.findall(r'bucket=watch_port:(\d+),actions=(.*?)(?=,bucket=|$)',
                         m.group(2))
    groups[m.group(1)] = buckets
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    m = re.search(r'actions=group:(\d+)$', line)
    if not m:
        print('0\t%s\t%s' % (line, line))
        continue
    b = groups[m.group(1)]
    head = line[:m.start()] + 'actions='
    alt = b[1][1] if len(b) > 1 else 'drop'
    print('%s\t%s%s\t%s%s' % (b[0][0], head, b[0][1], head, alt))
PY
grep -c . "$SFM_TMP/reactive.txt" >/dev/null || sfm_die "no baseline flows"
"$HELPERS/reactive-ctl" ptcp:0:127.0.0.1 "$SFM_TMP/reactive.txt" \
    "$SFM_TMP/reactive.ready" > "$SFM_TMP/reactive.log" 2>&1 &
SFM_PIDS+=($!)
# pvconn ptcp:0 picks a port; find it from the socket table.
RPID=$!
sfm_wait_until sh -c "ss -ltnp | grep -q 'pid=$RPID,'" || sfm_die "baseline"
RPORT=$(ss -ltnp | grep "pid=$RPID," | awk '{print $4}' | sed 's/.*://')

MODE=sfmesh
set_mode() {
    [ "$MODE" = "$1" ] && return 0
    case $1 in
    static)
        ovs-vsctl del-controller br0
        ofctl del-flows br0 && ofctl del-groups br0
        ofctl --bundle add-groups br0 "$SFM_TMP/groups.txt" \
            && ofctl --bundle add-flows br0 "$SFM_TMP/flows.txt" \
            || sfm_die "static pipeline not installed"
        ;;
    reactive)
        local n0
        n0=$(cat "$SFM_TMP/reactive.ready" 2>/dev/null | wc -l)
        ovs-vsctl del-controller br0
        ofctl del-flows br0 && ofctl del-groups br0
        sfm_set_controller br0 "tcp:127.0.0.1:$RPORT"
        SFM_WAIT_TIMEOUT=20 sfm_wait_until sh -c \
            "[ \$(cat '$SFM_TMP/reactive.ready' 2>/dev/null | wc -l) -gt $n0 ]" \
            || sfm_die "baseline controller did not program the switch"
        ;;
    sfmesh)
        ovs-vsctl del-controller br0
        sfm_set_controller br0 "$SFMESH_TARGET"
        sfm_wait_until sfm_bridge_connected || sfm_die "not connected"
        sleep 0.3
        SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 2 \
            || sfm_die "sfmesh did not take the switch back"
        ;;
    esac
    MODE=$1
}

STREAM_S=2.0 FAIL_AT=0.8
trial() {
    local v=$1 round=$2 victim rec t_fail sent pid_recv pid_send vpid
    case $v in
    a) set_mode static; victim=$X0 ;;
    e) set_mode reactive; victim=$X0 ;;
    *) set_mode sfmesh; victim=$(current_primary) ;;
    esac
    rec=$SFM_TMP/rec-$v-$round
    udp_stream_start "$rec" "$SPORT" 20
    pid_recv=$UDP_RECV pid_send=$UDP_SEND
    sleep "$FAIL_AT"
    vpid=$(cat "$OVS_RUNDIR/agent-$victim.pid")
    cpid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
    case $v in
    f|g) kill -STOP "$cpid" ;;
    esac
    t_fail=$(now)
    case $v in
    a|b|e) ip link set "$victim" down ;;
    c|f) kill -KILL "$vpid" ;;
    d|g) kill -STOP "$vpid" ;;
    h) kill -KILL $(pgrep -P "$vpid") "$vpid" ;;
    esac
    wait "$pid_send"
    wait "$pid_recv"
    case $v in
    f|g) kill -CONT "$cpid" ;;
    esac
    # Put the victim back.
    case $v in
    a) ip link set "$victim" up
       sfm_wait_until link_is br0 "$victim" up || sfm_die "link not back" ;;
    e) ip link set "$victim" up
       sfm_wait_until sh -c "tail -n 1 $SFM_TMP/reactive.log | grep -q 'port ${OFP[$victim]} up'" \
           || sfm_die "baseline: no up" ;;
    b) ip link set "$victim" up ;;
    c|f|h) bench_agent "$victim" "${NUM[$victim]}" counter async ;;
    d|g) kill -CONT "$vpid" ;;
    esac
    if [ "$MODE" = sfmesh ]; then
        SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 2 \
            || { ctl instances >&2; sfm_die "not back after $v"; }
    fi
    "$PY" "$top/bench/analyze.py" trial "$rec.bin" "$(cat "$rec.send")" \
        "$t_fail" "$v" "$round" "$victim" >> "$SFM_TMP/trials.jsonl" \
        || sfm_die "analysis failed"
    tail -n 1 "$SFM_TMP/trials.jsonl" | sed 's/^/    /' >&2
    rm -f "$rec.bin"
}

for round in $(seq 1 "$TRIALS"); do
    for v in $VARIANTS; do
        trial "$v" "$round"
    done
done
set_mode sfmesh
"$PY" "$top/bench/analyze.py" failover "$SFM_TMP/trials.jsonl" "$RATE" \
    "$SFM_TMP/reactive.log" > "$OUT" || sfm_die "summary failed"
say "wrote $OUT"
