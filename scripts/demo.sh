#!/usr/bin/env bash
# A service chain on a private OVS, steered by sfmesh-controller, with a
# failover under traffic.
#
# A userspace bridge holds a client, a server and five service instances:
# fw-1, fw-2 (service fw) and dlp-1..3 (service dlp), each a namespace
# running tests/nsh-instance.py (a stand-in instance that returns NSH frames
# with SI decremented, standing in for sfmesh-agent).  The controller runs
# the example configuration docs/examples/two-service-chain.yaml.  A TCP
# stream crosses the chain; the link of the fw instance that is its primary
# is cut in the middle; the fast-failover group moves the stream to the
# secondary at once and the controller repairs the map.  Everything runs in
# a network namespace of its own and is removed at the end.
#
# Usage: demo.sh BIN_DIR        (make demo builds and runs it)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "${1:-$top/build/bin}" && pwd)
PY=/usr/bin/python3

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
nsx() { local ns; ns=$(sfm_netns "$1"); shift; ip netns exec "$ns" "$@"; }
in_sync() { ctl switches | grep -q "IDLE, in sync"; }
INSTANCES="fw-1 fw-2 dlp-1 dlp-2 dlp-3"

sfm_setup demo
say "private OVS (ovsdb-server, ovs-vswitchd) in $SFM_TMP"
sfm_ovs_start
ovs-vswitchd --version | head -n 1

say "sfmesh-controller --config docs/examples/two-service-chain.yaml"
sfm_controller_start "$BIN/sfmesh-controller" \
    --config="$top/docs/examples/two-service-chain.yaml" ptcp:0:127.0.0.1

say "bridge br0 with client, server and instances ${INSTANCES// /, }"
sfm_add_bridge br0 1
for h in client server $INSTANCES; do
    sfm_add_veth_port br0 "$h" "$h"
    nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
nsx client ip addr add 10.0.0.1/24 dev eth0
nsx server ip addr add 10.0.0.2/24 dev eth0
for h in client server; do
    nsx "$h" ethtool -K eth0 tx off >/dev/null
done
for h in $INSTANCES; do
    ip link set "$h" mtu 1600
    nsx "$h" ip link set eth0 mtu 1600
    # Not through nsx(): "$!" must be the instance's own pid.
    ip netns exec "$(sfm_netns "$h")" "$PY" "$top/tests/nsh-instance.py" \
        --iface eth0 --log \
        > "$SFM_TMP/$h.log" 2>&1 &
    SFM_PIDS+=($!)
done
for h in $INSTANCES; do
    sfm_wait_until grep -q "serving eth0" "$SFM_TMP/$h.log" \
        || sfm_die "instance $h did not start"
done
sfm_wait_until in_sync || sfm_die "the bridge was not programmed"
ctl switches
ctl instances

say "the stream client:40000 -> server:5001 and its instances"
ofport() { ovs-vsctl get interface "$1" ofport; }
flow="in_port=$(ofport client),tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,\
tp_src=40000,tp_dst=5001"
code=$(ovs-appctl ofproto/trace br0 "$flow" \
       | sed -n 's/.*NXOXM_NSH_C1\[\] is now \(0x[0-9a-f]*\).*/\1/p')
bucket=$((code & 255))
read -r primary secondary < <(ctl map fw | awk -v b="$bucket" \
    '$1 == b && NF == 3 { print $2, $3 }')
echo "affinity code $code: bucket $bucket; fw primary $primary," \
     "secondary $secondary"

say "4 s of TCP traffic; at 1.5 s, $primary's link goes down"
ip netns exec "$(sfm_netns server)" \
    "$PY" "$top/tests/integration/tcp-sink.py" 10.0.0.2 5001 \
    "$SFM_TMP/sink" & SFM_PIDS+=($!)
sfm_wait_until test -e "$SFM_TMP/sink.ready" || sfm_die "no TCP sink"
ip netns exec "$(sfm_netns client)" \
    "$PY" "$top/tests/integration/tcp-source.py" 10.0.0.2 5001 \
    40000 0 4 > "$SFM_TMP/sent" &
src=$!
sleep 1.5
before=$(grep -c "^ok" "$SFM_TMP/$secondary.log")
ip link set "$primary" down
echo "$(date +%T.%3N) link of $primary down"
wait "$src" || sfm_die "the TCP stream broke"
sfm_wait_until test -s "$SFM_TMP/sink" || sfm_die "no result from the sink"
read -r got gap < "$SFM_TMP/sink"
sent=$(cat "$SFM_TMP/sent")
after=$(grep -c "^ok" "$SFM_TMP/$secondary.log")
printf '%-34s %s\n' "bytes sent / received:" "$sent / $got" \
    "longest pause in the stream:" "$gap ms" \
    "frames $secondary took over:" "$((after - before))"
[ "$sent" = "$got" ] || sfm_die "bytes were lost"

say "after the failover"
sfm_wait_until in_sync || sfm_die "the repair was not installed"
ctl instances
ctl map fw | head -n 4
grep -E "instance .* (up|cold) -> down|bundle" \
    "$OVS_LOGDIR/sfmesh-controller.log" | cut -d'|' -f1,4- | tail -n 3

say "done; cleaning up"
echo "The instances here are a stateless stand-in; with sfmesh-agent and"
echo "a stateful firewall, see docs/agent.md and tests/integration/test-agent.sh."
