#!/usr/bin/env bash
# The sfmesh main job, as far as sfmesh goes today: a private OVS with a
# userspace bridge, two hosts in network namespaces, the bridge connected to
# sfmesh-controller, and the controller following a link failure of one
# host's port.  Everything runs in a network namespace of its own and is
# removed at the end.
#
# Usage: demo.sh BIN_DIR        (make demo builds and runs it)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "${1:-$top/build/bin}" && pwd)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
connected() { ctl status | grep -q "connected: true"; }
port_state() {
    ctl status | awk -v p="$1" '$2 == p { print $4 "/" $5 "/" $6 }'
}

sfm_setup demo
say "starting a private OVS (ovsdb-server, ovs-vswitchd) in $SFM_TMP"
sfm_ovs_start
ovs-vswitchd --version | head -n 1

say "starting sfmesh-controller"
sfm_controller_start "$BIN/sfmesh-controller" ptcp:0:127.0.0.1
echo "listening on tcp:127.0.0.1:$SFM_OF_PORT, control socket $SFM_CTL"

say "bridge br0 (netdev datapath, fail-mode=secure) with hosts client and server"
sfm_add_bridge br0 1
sfm_add_veth_port br0 client client
sfm_add_veth_port br0 server server
sfm_wait_until connected || sfm_die "br0 did not connect to sfmesh"
SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_bridge_connected \
    || sfm_die "ovs-vsctl does not show the controller connected"
ovs-vsctl show | sed -n '/Bridge br0/,/fail_mode/p'

say "sfmesh-ctl status"
ctl status

say "link failure: setting the server's port down"
ip link set server down
sfm_wait_until sh -c "[ \"\$('$BIN/sfmesh-ctl' -t '$SFM_CTL' status \
    | awk '\$2 == \"server\" {print \$5}')\" = down ]" \
    || sfm_die "the controller did not see the link go down"
echo "server port (admin/link/live): $(port_state server)"
ip link set server up
sfm_wait_until sh -c "[ \"\$('$BIN/sfmesh-ctl' -t '$SFM_CTL' status \
    | awk '\$2 == \"server\" {print \$6}')\" = yes ]" \
    || sfm_die "the controller did not see the link come back"
echo "server port back (admin/link/live): $(port_state server)"

say "controller log"
grep -E "connected:|port .* (added|modified)" \
    "$OVS_LOGDIR/sfmesh-controller.log" | cut -d'|' -f1,4- | tail -n 8

say "done: the bridge is held by sfmesh-controller; cleaning up"
echo "(service steering and failover arrive with the service map; see README.md)"
