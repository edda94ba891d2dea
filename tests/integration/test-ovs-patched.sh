#!/usr/bin/env bash
# The patched ovs-vswitchd (ovs-patches/, "make ovs-patched"): what each
# patch promises, checked on the two-service chain with sfmesh-agent in
# every instance, the stateful firewall, async replication and 24 TCP
# connections carrying data the whole time.
#
# 0001 (a carrier reset takes the port's BFD session Down): the dlp
# instance dlp-1 is frozen (SIGSTOP), and so is the controller, and then
# its link flaps for 10 ms.  BFD runs with 250 ms intervals here, so the
# switch would need 750 ms to find the frozen agent silent.  Patched, the
# switch takes the session Down at the carrier loss and keeps it Down
# (only the agent could bring it Up again): within that time the port is
# not live, the fast-failover groups send dlp-1's streams to their
# secondaries, and no data frame reaches the frozen instance.  Stock OVS
# keeps the session Up across the flap and sends the streams back into the
# frozen instance as soon as the carrier is back (the test fails there:
# run it with SFMESH_OVS=stock to see).  Once both run again, every
# connection must have survived.
#
# Usage: test-ovs-patched.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export SFMESH_OVS=${SFMESH_OVS:-patched}
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
REPL=async
PY=/usr/bin/python3
N_CONNS=24
VICTIM=dlp-1
LINKFLAP=$top/build/tests/linkflap
[ -x "$LINKFLAP" ] || sfm_die "no $LINKFLAP (run make)"

sfm_setup "ovs-patched"
SFM_CHAIN_CONFIG=$SFM_TMP/sfmesh.yaml
sed -e 's/^  min_tx_ms: .*/  min_tx_ms: 250/' \
    -e 's/^  min_rx_ms: .*/  min_rx_ms: 250/' \
    "$top/docs/examples/two-service-chain.yaml" > "$SFM_CHAIN_CONFIG"
grep -q "min_rx_ms: 250" "$SFM_CHAIN_CONFIG" || sfm_die "config not rewritten"
. "$top/tests/lib/agent-chain.sh"
say() { printf '  [%s] %s\n' "$SFMESH_OVS" "$*" >&2; }
sfm_chain_setup

mapfile -t affected < <(sfm_chain_streams_of "$VICTIM" "$N_CONNS")
[ ${#affected[@]} -gt 0 ] || sfm_die "no connection on $VICTIM"
say "${#affected[@]} of $N_CONNS connections have $VICTIM as dlp primary"
sfm_chain_traffic_start "$N_CONNS" 8
sleep 2

live() {
    ovs-ofctl -O OpenFlow15 dump-ports-desc br0 "$VICTIM" | grep -q "LIVE"
}
rx() { nsx "$VICTIM" cat /sys/class/net/eth0/statistics/rx_packets; }
live || sfm_die "$VICTIM not live before the flap"
victim_pid=$(cat "$OVS_RUNDIR/agent-$VICTIM.pid")
ctl_pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -STOP "$ctl_pid"
kill -STOP "$victim_pid"
"$LINKFLAP" "$VICTIM" 1 0.01 0 > "$SFM_TMP/flap" \
    || { kill -CONT "$victim_pid" "$ctl_pid"; sfm_die "linkflap failed"; }
sleep 0.1
rx0=$(rx)
sleep 0.3
rx1=$(rx)
if live; then is_live=yes; else is_live=no; fi
ovs-appctl bfd/show "$VICTIM" > "$OVS_LOGDIR/bfd-victim.txt"
kill -CONT "$victim_pid"
kill -CONT "$ctl_pid"
say "10 ms flap of a frozen $VICTIM: port live $is_live," \
    "$((rx1 - rx0)) frames reached it in 300 ms"
grep -E "^	?(State|Local Diagnostic)" "$OVS_LOGDIR/bfd-victim.txt" >&2
[ "$is_live" = no ] \
    || sfm_die "the port is live again after the flap: the switch kept BFD Up"
grep -q "Local Diagnostic: Path Down" "$OVS_LOGDIR/bfd-victim.txt" \
    || sfm_die "the switch did not take BFD down for the carrier loss"
# The switch's BFD packets (one a second while the session is not Up) may
# reach it; no data frame may.
[ $((rx1 - rx0)) -le 2 ] \
    || sfm_die "$((rx1 - rx0)) frames reached the frozen instance"

sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result)
say "$survived of $N_CONNS survived; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost: $failed"
SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_chain_ready \
    || { ctl instances >&2; sfm_die "the chain did not come back to rest"; }
echo "PASS: ovs-patched"
