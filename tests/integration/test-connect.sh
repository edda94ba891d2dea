#!/usr/bin/env bash
# A private OVS bridge connects to sfmesh-controller; port additions, link
# changes, admin changes and deletions reach 'sfmesh-ctl status' within a
# second; debug logging shows messages in ofp-print form; ovs-appctl reads
# the control socket; a second bridge connects over a Unix socket; SIGTERM
# stops the controller cleanly and a restarted controller gets both
# bridges back; SIGHUP changes nothing.
#
# Usage: test-connect.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)

sfm_setup connect
step() { printf '  %s\n' "$*" >&2; }

step "command line"
"$BIN/sfmesh-controller" --version | grep -q "^sfmesh-controller (sfmesh)" \
    || sfm_die "--version"
"$BIN/sfmesh-controller" --help | grep -q "ptcp:PORT\[:IP\]" \
    || sfm_die "--help"
if "$BIN/sfmesh-controller" --unixctl="$SFM_TMP/x.ctl" tcp:1.2.3.4:5 \
       2>"$SFM_TMP/err"; then
    sfm_die "a bad listener was accepted"
fi
grep -q "unknown listener type" "$SFM_TMP/err" || sfm_die "no clear error"

sfm_ovs_start
sfm_controller_start "$BIN/sfmesh-controller" ptcp:0:127.0.0.1 \
    "punix:$OVS_RUNDIR/sfmesh-of.sock"
[ -n "$SFM_OF_PORT" ] || sfm_die "controller did not log its port"
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }

# Prints the JSON value of field $2 of port $1 of dpid $DPID ("" if none).
port_field() {
    ctl status --json | /usr/bin/python3 -c '
import json, sys
dpid, port, field = sys.argv[1:]
for sw in json.load(sys.stdin)["switches"]:
    if sw["dpid"] == dpid and sw["connected"]:
        for p in sw["ports"]:
            if p["name"] == port:
                print(json.dumps(p[field]))
' "$DPID" "$1" "$2"
}
port_is() { [ "$(port_field "$1" "$2")" = "$3" ]; }
no_port() { [ -z "$(port_field "$1" name)" ] && switch_connected; }
switch_connected() {
    ctl status --json | grep -q "\"dpid\": \"$DPID\"" \
        && ctl status | grep -A1 "dpid $DPID" | grep -q "connected: true"
}
within_a_second() { SFM_WAIT_TIMEOUT=1 sfm_wait_until "$@"; }

DPID=0000000000000001
sfm_add_bridge br0 1
step "bridge connects"
sfm_wait_until switch_connected || sfm_die "br0 not connected to sfmesh"
# OVS refreshes is_connected every few seconds.
SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_bridge_connected \
    || sfm_die "ovs-vsctl never shows is_connected: true"
ctl status | grep -q "version: OpenFlow15" || sfm_die "version not 1.5"

step "port added"
sfm_add_veth_port br0 p1 h1
within_a_second port_is p1 live true || sfm_die "p1 not live in a second"

step "link down"
ip link set p1 down
within_a_second port_is p1 link_up false || sfm_die "p1 still up"
port_is p1 live false || sfm_die "p1 still live with link down"

step "link up"
ip link set p1 up
within_a_second port_is p1 live true || sfm_die "p1 not back"

step "admin down and up"
ovs-ofctl mod-port br0 p1 down
within_a_second port_is p1 admin_up false || sfm_die "p1 not admin down"
ovs-ofctl mod-port br0 p1 up
within_a_second port_is p1 admin_up true || sfm_die "p1 not admin up"

step "port deleted"
ovs-vsctl del-port br0 p1
within_a_second no_port p1 || sfm_die "p1 still listed"

step "messages in ofp-print form at debug level"
ctl vlog/set ofconn:file:dbg
ovs-ofctl mod-port br0 br0 up
sfm_wait_until grep -q "received: OFPT_PORT_STATUS" \
    "$OVS_LOGDIR/sfmesh-controller.log" || sfm_die "no debug message log"
ctl vlog/set ofconn:file:info
ovs-appctl -t "$SFM_CTL" status | grep -q "dpid $DPID" \
    || sfm_die "ovs-appctl cannot read the control socket"

step "second bridge, over a Unix socket"
sfm_add_bridge br1 2
sfm_set_controller br1 "unix:$OVS_RUNDIR/sfmesh-of.sock"
DPID=0000000000000002 sfm_wait_until switch_connected \
    || sfm_die "br1 not connected"
[ "$(ctl status --json | grep -c '"connected": true')" = 2 ] \
    || sfm_die "not two connected switches"

step "SIGTERM, restart, reconnect"
pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -TERM "$pid"
sfm_wait_until sh -c "! kill -0 $pid 2>/dev/null" \
    || sfm_die "controller did not exit on SIGTERM"
[ ! -e "$OVS_RUNDIR/sfmesh-controller.pid" ] || sfm_die "pidfile left"
grep -q "SIGTERM received, exiting" "$OVS_LOGDIR/sfmesh-controller.log" \
    || sfm_die "no clean-shutdown log line"
sfm_controller_start "$BIN/sfmesh-controller" "ptcp:$SFM_OF_PORT:127.0.0.1" \
    "punix:$OVS_RUNDIR/sfmesh-of.sock"
sfm_wait_until switch_connected || sfm_die "br0 not back after restart"
DPID=0000000000000002 sfm_wait_until switch_connected \
    || sfm_die "br1 not back after restart"

step "SIGHUP is reserved and harmless"
kill -HUP "$(cat "$OVS_RUNDIR/sfmesh-controller.pid")"
sleep 0.2
switch_connected || sfm_die "controller unhappy after SIGHUP"

step "exit answers, then stops the daemon"
pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
ctl exit || sfm_die "exit got no answer"
sfm_wait_until sh -c "! kill -0 $pid 2>/dev/null" \
    || sfm_die "controller did not exit"

# Link-down makes OVS log receive errors on p1; the restart makes it log
# the lost controller connection, and br1 finds no Unix socket until the
# new controller listens.
sfm_check_ovs_logs 'on p1: Network is down|error receiving data from p1|'\
'rconn.*(connection dropped|Connection refused|Broken pipe)|'\
'rconn.*sfmesh-of\.sock: connection failed \(No such file or directory\)' \
    || sfm_die "unexpected OVS warnings"
echo "PASS: connect"
