#!/usr/bin/env bash
# Benchmark part: failover across switches.  Two netdev bridges, leaves lf1
# and lf2, joined by one link (a veth pair, MTU 1600; BENCH_FABRIC_LINK=patch
# for a patch-port pair), the client on lf1, the server on lf2, one service
# with two instances (sfmesh-agent, counter service, async replication):
# inst-a on lf1, inst-b on lf2.  The same 10 kpps sequence-numbered UDP
# stream as part-failover; the primary of its bucket loses its link 0.8 s
# into a 2 s stream.  Variants, interleaved round by round:
#   x  the primary is inst-a, on the ingress switch lf1: lf1's
#      fast-failover group sends the stream over the link to inst-b
#      (failover decided where the stream enters)
#   y  the primary is inst-b, on the remote switch lf2: lf1 still sends the
#      stream over the link, lf2 re-enters the bucket's group on arrival
#      (table 2) and sends it back over the link to inst-a, until the
#      controller has rewritten lf1's group
# A primary is never moved away from a healthy instance, so after a
# failover the survivor is the primary of every bucket: failing inst-a then
# inst-b in each round alternates the primary by itself.  Each trial picks,
# from the current map, a source port whose bucket's primary is its victim.
# Usage: part-fabric.sh BIN_DIR HELPER_DIR OUT_JSON
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) OUT=$3
. "$top/bench/lib.sh"
BENCH_PART=fabric
TRIALS=${BENCH_TRIALS:-10}
RATE=${BENCH_RATE:-10000}
VARIANTS="x y"
LINK=${BENCH_FABRIC_LINK:-veth}
case $LINK in veth|patch) ;; *) sfm_die "BENCH_FABRIC_LINK: veth or patch" ;;
esac
bench_init fabric

CONFIG=$SFM_TMP/fabric.yaml
cat > "$CONFIG" <<'YAML'
version: 1
buckets: 256
switches:
  lf1: {dpid: 1}
  lf2: {dpid: 2}
links:
  - [{switch: lf1, port: lf1-lf2}, {switch: lf2, port: lf2-lf1}]
services:
  svc:
    instances:
      inst-a: {switch: lf1, port: inst-a, mac: "02:00:00:00:01:01"}
      inst-b: {switch: lf2, port: inst-b, mac: "02:00:00:00:01:02"}
chains:
  c1:
    spi: 100
    ingress: {switch: lf1, port: client}
    egress: {switch: lf2, port: server}
    services: [svc]
YAML
"$BIN/sfmesh-controller" --check-config="$CONFIG" | grep -q "valid: 2 \
switches" || sfm_die "config not accepted"

declare -A LEAF=([inst-a]=lf1 [inst-b]=lf2)
declare -A NUM=([inst-a]=1 [inst-b]=2) OFP
declare -A VICTIM=([x]=inst-a [y]=inst-b)

bench_repnet
sfm_ovs_start
bench_controller "$CONFIG"
sfm_add_bridge lf1 1
sfm_add_bridge lf2 2
[ "$LINK" = patch ] || { ip link add lf1-lf2 mtu 1600 type veth peer name \
    lf2-lf1 mtu 1600 || sfm_die "cannot create the link"; }
add_link_port() {  # bridge, port, peer port
    if [ "$LINK" = patch ]; then
        ovs-vsctl add-port "$1" "$2" -- set interface "$2" type=patch \
            options:peer="$3" || sfm_die "cannot add patch port $2"
    else
        # No IPv6 of this namespace's own (router solicitations) in the
        # link's counters.
        sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
        ip link set "$2" up
        ovs-vsctl add-port "$1" "$2" || sfm_die "cannot add $2 to $1"
    fi
}
add_link_port lf1 lf1-lf2 lf2-lf1
add_link_port lf2 lf2-lf1 lf1-lf2
bench_hosts lf1 lf2
bench_instances lf1 inst-a
bench_instances lf2 inst-b
for h in client server inst-a inst-b lf1-lf2 lf2-lf1; do
    sfm_wait_until test "$(ovs-vsctl get interface "$h" ofport)" -gt 0 \
        || sfm_die "no port $h"
    OFP[$h]=$(ovs-vsctl get interface "$h" ofport)
done
for h in inst-a inst-b; do
    bench_agent "$h" "${NUM[$h]}" counter async
done
SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 2 \
    || { ctl agents >&2; ctl instances >&2; ctl switches >&2
         sfm_die "agents not ready"; }

# Candidate streams: source ports and their buckets (the code lf1 gives
# them where they enter).
DPORT=5000
for sport in $(seq 40000 40031); do
    code=$(affinity_code "${OFP[client]}" "udp,nw_src=10.0.0.1,\
nw_dst=10.0.0.2,udp_src=$sport,udp_dst=$DPORT" lf1)
    [ -n "$code" ] || sfm_die "no affinity code for source port $sport"
    echo "$sport $((code & 255))"
done > "$SFM_TMP/streams.txt"
# pick_stream VICTIM: "SPORT BUCKET" of the first candidate whose bucket
# has VICTIM as primary (and a secondary) in the current map.
pick_stream() {
    ctl map svc > "$SFM_TMP/map.txt" || return 1
    awk -v v="$1" '
        FILENAME ~ /map.txt$/ { if ($1 ~ /^[0-9]+$/ && NF == 3) p[$1] = $2
                                next }
        p[$2] == v { print; exit }' "$SFM_TMP/map.txt" "$SFM_TMP/streams.txt"
}
for v in $VARIANTS; do
    read -r sport bucket < <(pick_stream "${VICTIM[$v]}")
    say "at start: ($v) would use source port ${sport:-none}," \
        "bucket ${bucket:-none}, primary ${VICTIM[$v]}"
done

# Packets lf2 has sent into the link toward lf1: with this one-way stream,
# only frames redirected back by lf2's table 2.
link_back_tx() {
    ofctl dump-ports lf2 lf2-lf1 | sed -n 's/.*tx pkts=\([0-9]*\).*/\1/p'
}

STREAM_S=2.0 FAIL_AT=0.8
trial() {
    local v=$1 round=$2 victim=${VICTIM[$1]} sport bucket rec t_fail tx0 tx1
    local pid_recv pid_send
    read -r sport bucket < <(pick_stream "$victim")
    [ -n "${bucket:-}" ] || { cat "$SFM_TMP/map.txt" >&2
        sfm_die "($v): no candidate stream has $victim as primary"; }
    rec=$SFM_TMP/rec-$v-$round
    tx0=$(link_back_tx)
    udp_stream_start "$rec" "$sport" 20
    pid_recv=$UDP_RECV pid_send=$UDP_SEND
    sleep "$FAIL_AT"
    t_fail=$(now)
    ip link set "$victim" down
    wait "$pid_send"
    wait "$pid_recv"
    tx1=$(link_back_tx)
    # Put the victim back: it returns cold, a secondary only, and is warm
    # once it has the state of the buckets it is secondary for.
    ip link set "$victim" up
    sfm_wait_until link_is "${LEAF[$victim]}" "$victim" up || sfm_die "link of $victim not back"
    SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 2 \
        || { ctl instances >&2; sfm_die "not back after $v"; }
    "$PY" "$top/bench/analyze.py" trial "$rec.bin" "$(cat "$rec.send")" \
        "$t_fail" "$v" "$round" "$victim" "sport=$sport" "bucket=$bucket" \
        "link_back_pkts=$((tx1 - tx0))" >> "$SFM_TMP/trials.jsonl" \
        || sfm_die "analysis failed"
    tail -n 1 "$SFM_TMP/trials.jsonl" | sed 's/^/    /' >&2
    rm -f "$rec.bin"
}

for round in $(seq 1 "$TRIALS"); do
    for v in $VARIANTS; do
        trial "$v" "$round"
    done
done
"$PY" "$top/bench/analyze.py" fabric "$SFM_TMP/trials.jsonl" "$RATE" \
    "$LINK" > "$OUT" || sfm_die "summary failed"
say "wrote $OUT"
