#!/usr/bin/env bash
# Steering across switches against a private OVS: a leaf-spine fabric of
# three netdev bridges (leaves lf1 and lf2, spine sp1, linked by patch
# ports) with the client, fw-1 and dlp-1 on lf1 and the server, fw-2 and
# dlp-2 on lf2.  With ofproto/trace (which follows patch ports from bridge
# to bridge), checks that:
#   - each switch holds exactly the desired flows;
#   - a frame returned by the firewall on one leaf, in a dlp bucket whose
#     primary is on the other leaf, gets that primary's MAC and crosses
#     the spine to it (traced from each of the three switches);
#   - with the primary's link down and the controller frozen, the primary's
#     own leaf sends the frame back out the link it came in on (the
#     set_field:0->in_port of the transit flows) to the secondary; once the
#     controller runs again, the repaired map sends it to the secondary
#     straight from the first leaf, and a frame still addressed to the dead
#     primary goes to the secondary too;
#   - a frame past the last service arriving on lf2's link is decapsulated
#     and leaves by the server port (the trace is followed across the
#     recirculation that decap() takes);
#   - the client's ARP is carried in NSH over the fabric and leaves by the
#     server port.
#
# Usage: test-fabric.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)

sfm_setup fabric
step() { printf '  %s\n' "$*" >&2; }
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
ofctl() { ovs-ofctl -O OpenFlow15 "$@"; }
nsx() { local ns; ns=$(sfm_netns "$1"); shift; ip netns exec "$ns" "$@"; }
# In sync, with every map at its target (no handoff in progress or due).
in_sync() {
    [ "$(ctl switches | grep -c "IDLE, in sync")" = 3 ] \
        && ! ctl handoffs | grep "^service" | grep -vq "in progress 0,.* pending 0,"
}

CONFIG=$SFM_TMP/sfmesh.yaml
cat > "$CONFIG" <<'EOF'
buckets: 4
switches:
  sp1: {dpid: 1}
  lf1: {dpid: 2}
  lf2: {dpid: 3}
links:
  - [{switch: lf1, port: lf1-sp1}, {switch: sp1, port: sp1-lf1}]
  - [{switch: lf2, port: lf2-sp1}, {switch: sp1, port: sp1-lf2}]
services:
  fw:
    instances:
      fw-1: {switch: lf1, port: fw-1, mac: "02:00:00:00:01:01"}
      fw-2: {switch: lf2, port: fw-2, mac: "02:00:00:00:01:02"}
  dlp:
    instances:
      dlp-1: {switch: lf1, port: dlp-1, mac: "02:00:00:00:02:01"}
      dlp-2: {switch: lf2, port: dlp-2, mac: "02:00:00:00:02:02"}
chains:
  web:
    spi: 100
    ingress: {switch: lf1, port: client}
    egress: {switch: lf2, port: server}
    services: [fw, dlp]
EOF
declare -A MAC=([fw-1]=02:00:00:00:01:01 [fw-2]=02:00:00:00:01:02
                [dlp-1]=02:00:00:00:02:01 [dlp-2]=02:00:00:00:02:02)
declare -A LEAF=([client]=lf1 [fw-1]=lf1 [dlp-1]=lf1
                 [server]=lf2 [fw-2]=lf2 [dlp-2]=lf2)
declare -A FW=([lf1]=fw-1 [lf2]=fw-2)     # the firewall on each leaf
HOSTS="client fw-1 dlp-1 server fw-2 dlp-2"
# dlp is the second service: its groups are 2 << 16 | bucket.
DLP_GROUPS=$((2 << 16))

"$BIN/sfmesh-controller" --check-config="$CONFIG" | grep -q "valid: 3 \
switches, 2 services, 1 chain, 4 buckets" || sfm_die "config not accepted"

step "private OVS, controller, three bridges linked by patch ports"
sfm_ovs_start
sfm_controller_start "$BIN/sfmesh-controller" --config="$CONFIG" \
    ptcp:0:127.0.0.1
sfm_add_bridge sp1 1
sfm_add_bridge lf1 2
sfm_add_bridge lf2 3
add_patch() {  # bridge, port, peer port
    ovs-vsctl add-port "$1" "$2" -- set interface "$2" type=patch \
        options:peer="$3" || sfm_die "cannot add patch port $2"
}
add_patch lf1 lf1-sp1 sp1-lf1
add_patch sp1 sp1-lf1 lf1-sp1
add_patch sp1 sp1-lf2 lf2-sp1
add_patch lf2 lf2-sp1 sp1-lf2
for h in $HOSTS; do
    sfm_add_veth_port "${LEAF[$h]}" "$h" "$h"
    nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
declare -A OFP DP
for p in $HOSTS lf1-sp1 sp1-lf1 sp1-lf2 lf2-sp1; do
    sfm_wait_until sfm_output_gt 0 ovs-vsctl get interface "$p" ofport \
        || sfm_die "no OpenFlow port for $p"
    OFP[$p]=$(ovs-vsctl get interface "$p" ofport)
done
# Datapath port numbers, from "    dlp-2 4/9: (system)".
ovs-appctl dpif/show > "$SFM_TMP/dpif"
for h in $HOSTS; do
    DP[$h]=$(awk -v p="$h" '$1 == p { split($2, a, "/"); sub(":", "", a[2]);
                                      print a[2] }' "$SFM_TMP/dpif")
    [ -n "${DP[$h]}" ] || sfm_die "no datapath port for $h"
done
sfm_wait_until in_sync || sfm_die "switches not in sync: $(ctl switches)"

step "each switch holds exactly the desired flows"
for br in lf1 sp1 lf2; do
    ctl flows "$br" > "$SFM_TMP/desired-$br.txt"
    ofctl diff-flows "$br" "$SFM_TMP/desired-$br.txt" > "$SFM_TMP/diff" \
        || { head "$SFM_TMP/diff" >&2; sfm_die "flows of $br differ"; }
done

# Traces: trace NAME BRIDGE FLOW writes "ovs-appctl ofproto/trace" output
# to $SFM_TMP/NAME; expect NAME BRIDGE ACTION... checks that the part of
# the trace on BRIDGE has each ACTION (a whole line, e.g. "output:2");
# dp_expect NAME ACTIONS checks the trace's "Datapath actions:".
trace_die() { sed 's/^/    | /' "$SFM_TMP/$1" >&2; sfm_die "$1: $2"; }
trace() {
    ovs-appctl ofproto/trace "$2" "$3" > "$SFM_TMP/$1" 2>&1 \
        || trace_die "$1" "ofproto/trace failed"
}
part() {
    awk -v h="bridge(\"$2\")" '$1 == h { on = 1; next }
        $1 ~ /^bridge\(/ || /^Final flow:/ { on = 0 }
        on { sub(/^ */, ""); print }' "$SFM_TMP/$1"
}
expect() {
    local name=$1 br=$2 action; shift 2
    part "$name" "$br" > "$SFM_TMP/$name.$br"
    [ -s "$SFM_TMP/$name.$br" ] || trace_die "$name" "$br not crossed"
    for action; do
        grep -qxF -- "$action" "$SFM_TMP/$name.$br" \
            || trace_die "$name" "no \"$action\" on $br"
    done
}
dp_expect() {
    local got
    got=$(sed -n 's/^Datapath actions: //p' "$SFM_TMP/$1")
    [ "$got" = "$2" ] \
        || trace_die "$1" "datapath actions \"$got\", expected \"$2\""
}
# trace_thaw NAME BRIDGE FLOW BRIDGE2 FLOW2 traces as trace does, then
# follows the recirculation that decap() takes (ofproto/trace stops there)
# on BRIDGE2, the bridge that did the decap(), with FLOW2 into NAME-thaw.
# A trace's recirculation context lives on for only 250 to 500 ms: retry
# if it is gone.
trace_thaw() {
    local name=$1 br=$2 flow=$3 br2=$4 flow2=$5 rid
    for _ in $(seq 20); do
        trace "$name" "$br" "$flow"
        rid=$(sed -n 's/^Datapath actions: .*recirc(\(0x[0-9a-f]*\))$/\1/p' \
              "$SFM_TMP/$name")
        [ -n "$rid" ] || trace_die "$name" "no recirculation"
        trace "$name-thaw" "$br2" "recirc_id=$rid,$flow2"
        grep -q "Recirculation context not found" "$SFM_TMP/$name-thaw" \
            || return 0
    done
    trace_die "$name-thaw" "recirculation context lost 20 times"
}

# A dlp bucket with its primary on one leaf and its secondary on the other:
# primary dlp-2 (on lf2) and secondary dlp-1 if there is one, else the
# other way round.  Frames come from the firewall on the secondary's leaf
# (SL), so that they cross the spine to the primary's leaf (PL).
read -r bucket P S < <(ctl map dlp | awk '
    $1 ~ /^[0-9]+$/ && $2 == "dlp-2" && $3 == "dlp-1" && !a { a = $0 }
    $1 ~ /^[0-9]+$/ && $2 == "dlp-1" && $3 == "dlp-2" && !b { b = $0 }
    END { print (a ? a : b) }')
[ -n "${S:-}" ] || sfm_die "no dlp bucket across the leaves: $(ctl map dlp)"
PL=${LEAF[$P]} SL=${LEAF[$S]}
F=${FW[$SL]} G=$((DLP_GROUPS | bucket))
PUP=$PL-sp1 SUP=$SL-sp1             # the leaves' links to the spine
nsh="dl_type=0x894f,nsh_mdtype=1,nsh_np=3,nsh_ttl=63,nsh_spi=0x64"
from_fw="in_port=${OFP[$F]},$nsh,nsh_si=254,nsh_c1=$bucket,\
dl_src=${MAC[$F]},dl_dst=02:00:00:00:00:fe"
to_p="$nsh,nsh_si=254,nsh_c1=$bucket,dl_src=${MAC[$F]},dl_dst=${MAC[$P]}"
echo "    dlp bucket $bucket: primary $P on $PL, secondary $S on $SL," \
     "from $F" >&2

step "$SL: a frame from $F goes to $P's MAC out the link to sp1"
trace a "$SL" "$from_fw"
expect a "$SL" "group:$G" "set_field:${MAC[$P]}->eth_dst" \
    "output:${OFP[$SUP]}"
expect a sp1 "output:${OFP[sp1-$PL]}"
expect a "$PL" "output:${OFP[$P]}"
# The primary's leaf takes the frame through the group: one off its TTL,
# and the outer source marks it as redirected once.
MARK=02:5f:6d:00:00:01
ttl="set(nsh(ttl=62,spi=0x64,si=254,c1=$(printf 0x%x "$bucket")/0x00000003))"
dp_expect a "set(eth(src=$MARK,dst=${MAC[$P]})),$ttl,${DP[$P]}"

step "sp1: the frame for $P goes on toward $PL"
trace b sp1 "in_port=${OFP[sp1-$SL]},$to_p"
expect b sp1 "output:${OFP[sp1-$PL]}"
dp_expect b "set(eth(src=$MARK)),$ttl,${DP[$P]}"

step "$PL: the frame from the link goes out $P's port"
trace c "$PL" "in_port=${OFP[$PUP]},$to_p"
expect c "$PL" "dec_nsh_ttl" "set_field:0->in_port" "group:$G" \
    "output:${OFP[$P]}"
dp_expect c "set(eth(src=$MARK)),$ttl,${DP[$P]}"

step "$P down, controller frozen: $PL sends the frame back up to $S"
cpid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -STOP "$cpid"
ip link set "$P" down
sfm_wait_until sh -c "ovs-ofctl -O OpenFlow15 dump-ports-desc $PL $P \
    | grep -q LINK_DOWN" || sfm_die "link of $P not down"
groups_before=$(ofctl dump-groups "$PL" | grep "group_id=$G,")
trace d "$PL" "in_port=${OFP[$PUP]},$to_p"
grep -q "bucket 0: not live due to port ${OFP[$P]}" "$SFM_TMP/d" \
    || trace_die d "the group did not see $P dead"
# Out the port the frame came in on: OpenFlow drops that unless in_port
# was changed first.
expect d "$PL" "dec_nsh_ttl" "set_field:0->in_port" "group:$G" \
    "set_field:${MAC[$S]}->eth_dst" "output:${OFP[$PUP]}"
expect d sp1 "output:${OFP[sp1-$SL]}"
expect d "$SL" "output:${OFP[$S]}"
dp_expect d "set(eth(src=$MARK,dst=${MAC[$S]})),$ttl,${DP[$S]}"
[ "$(ofctl dump-groups "$PL" | grep "group_id=$G,")" = "$groups_before" ] \
    || sfm_die "group $G changed while the controller was frozen"

step "controller back: the repaired map sends to $S from $SL"
kill -CONT "$cpid"
sfm_wait_until sh -c "'$BIN/sfmesh-ctl' -t '$SFM_CTL' map dlp \
    | awk -v b=$bucket '\$1 == b && NF == 3 {print \$2}' | grep -qx $S" \
    || sfm_die "bucket $bucket not moved to $S: $(ctl map dlp)"
sfm_wait_until in_sync || sfm_die "not in sync after repair"
trace a2 "$SL" "$from_fw"
expect a2 "$SL" "group:$G" "set_field:${MAC[$S]}->eth_dst" \
    "output:${OFP[$S]}"
dp_expect a2 "set(eth(dst=${MAC[$S]})),${DP[$S]}"
# A frame that left before the repair, still for the dead primary: its leaf
# sends it into the repaired group (its port is not live), not into the
# dead port.
trace d2 "$PL" "in_port=${OFP[$PUP]},$to_p"
expect d2 "$PL" "group:$G" "set_field:${MAC[$S]}->eth_dst" \
    "output:${OFP[$PUP]}"
expect d2 "$SL" "output:${OFP[$S]}"
# A frame already redirected once is never redirected again: for the dead
# primary, it goes to the dead port (and is lost) rather than back and
# forth between switches whose groups disagree.
trace d3 "$PL" "in_port=${OFP[$PUP]},${to_p/dl_src=${MAC[$F]}/dl_src=$MARK}"
expect d3 "$PL" "output:${OFP[$P]}"
if grep -q "group:" "$SFM_TMP/d3"; then
    trace_die d3 "a redirected frame took a group again"
fi

step "lf2: a frame past the last service from the link is decapsulated \
and leaves by the server port"
trace_thaw e lf2 "in_port=${OFP[lf2-sp1]},$nsh,nsh_si=253,nsh_c1=$bucket,\
dl_src=${MAC[$S]},dl_dst=${MAC[$P]}" lf2 "in_port=${OFP[lf2-sp1]},ip"
expect e lf2 "decap()"
[ "$(grep -cx " *decap()" "$SFM_TMP/e")" = 2 ] || trace_die e "not 2 decaps"
expect e-thaw lf2 "output:${OFP[server]}"
dp_expect e-thaw "${DP[server]}"

step "the client's ARP crosses the fabric in NSH to the server port"
trace_thaw f lf1 "in_port=${OFP[client]},arp,dl_src=02:00:00:00:00:0a,\
dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.2" \
    lf2 "in_port=${OFP[lf2-sp1]},arp"
expect f lf1 "encap(nsh(md_type=1))" "set_field:0x64->nsh_spi" \
    "set_field:253->nsh_si" "encap(ethernet)" "output:${OFP[lf1-sp1]}"
expect f sp1 "output:${OFP[sp1-lf2]}"
expect f lf2 "decap()"
expect f-thaw lf2 "output:${OFP[server]}"
dp_expect f-thaw "${DP[server]}"

# ovsdb-server may see an ovs-vsctl client hang up on it mid-update.
sfm_check_ovs_logs "on $P: Network is down|error receiving data from $P:|\
rconn.*(connection dropped|Connection refused|Broken pipe)|\
\|(jsonrpc|reconnect)\|WARN\|unix#[0-9]+: (receive error|send error|\
connection dropped)" \
    || sfm_die "unexpected OVS warnings"
echo "PASS: fabric"
