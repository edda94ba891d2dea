#!/usr/bin/env bash
# Steering against a private OVS: sfmesh-controller with the two-service
# example configuration programs a bridge with client, server and five
# instance ports.  Checks that:
#   - the switch holds exactly the desired flows and groups
#     (ovs-ofctl diff-flows, dump-groups);
#   - a controller restart against the programmed bridge changes nothing
#     (no bundle, flow durations keep growing);
#   - ofproto/trace shows the NSH push with the code and the bucket's
#     primary; with the primary's link down and the controller frozen, the
#     fast-failover group picks the secondary; once the controller runs
#     again, the rewritten group names the old secondary as primary and
#     only the failed instance's groups changed;
#   - real traffic (ping, a TCP transfer) crosses the chain through test
#     instances (tests/nsh-instance.py) both ways, and non-NSH frames from
#     an instance port are dropped and counted;
#   - disable/enable by hand, SIGHUP reload of a valid and of an invalid
#     configuration, and of chain matches that are not matches (refused,
#     with the file:line:field error, the switch's flows unchanged, a
#     later failure still programmed).
#
# Usage: test-steer.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
PY=/usr/bin/python3

sfm_setup steer
step() { printf '  %s\n' "$*" >&2; }
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
ofctl() { ovs-ofctl -O OpenFlow15 "$@"; }
nsx() { local ns; ns=$(sfm_netns "$1"); shift; ip netns exec "$ns" "$@"; }
# In sync, with every map at its target (no handoff in progress or due).
in_sync() {
    ctl switches | grep -q "IDLE, in sync" \
        && ! ctl handoffs | grep "^service" | grep -vq "in progress 0,.* pending 0,"
}
INSTANCES="fw-1 fw-2 dlp-1 dlp-2 dlp-3"
CONFIG=$SFM_TMP/sfmesh.yaml
cp "$top/docs/examples/two-service-chain.yaml" "$CONFIG"

step "--check-config"
"$BIN/sfmesh-controller" --check-config="$CONFIG" | grep -q "valid: 1 switch, \
2 services, 1 chain, 256 buckets" || sfm_die "valid config not accepted"
sed 's/^buckets: 256/buckets: 300/' "$CONFIG" > "$SFM_TMP/bad.yaml"
if "$BIN/sfmesh-controller" --check-config="$SFM_TMP/bad.yaml" \
       2> "$SFM_TMP/err"; then
    sfm_die "bucket count 300 accepted"
fi
grep -q "bad.yaml:[0-9]*: buckets" "$SFM_TMP/err" \
    || sfm_die "unclear error: $(cat "$SFM_TMP/err")"
sed 's/^buckets: 256/buckets: 65536/' "$CONFIG" > "$SFM_TMP/bad.yaml"
if "$BIN/sfmesh-controller" --check-config="$SFM_TMP/bad.yaml" \
       2> "$SFM_TMP/err"; then
    sfm_die "bucket count 65536 accepted"
fi
grep -q "bad.yaml:[0-9]*: buckets: 65536 is out of range (2 to 16384)" \
    "$SFM_TMP/err" || sfm_die "unclear error: $(cat "$SFM_TMP/err")"
sed 's/^    match: ip$/    match: "ip,priority=65535"/' "$CONFIG" \
    > "$SFM_TMP/bad.yaml"
if "$BIN/sfmesh-controller" --check-config="$SFM_TMP/bad.yaml" \
       2> "$SFM_TMP/err"; then
    sfm_die "a match with a priority accepted"
fi
grep -q "bad.yaml:[0-9]*: chains.web.match: priority: not a match field" \
    "$SFM_TMP/err" || sfm_die "unclear error: $(cat "$SFM_TMP/err")"

step "private OVS, controller, bridge, hosts and instances"
sfm_ovs_start
sfm_controller_start "$BIN/sfmesh-controller" --config="$CONFIG" \
    ptcp:0:127.0.0.1
sfm_add_bridge br0 1
for h in client server $INSTANCES; do
    sfm_add_veth_port br0 "$h" "$h"
    nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
nsx client ip addr add 10.0.0.1/24 dev eth0
nsx server ip addr add 10.0.0.2/24 dev eth0
# veth leaves TCP checksums to the receiver's hardware, but on the way
# through NSH instances nobody fills them in: compute them in software.
for h in client server; do
    nsx "$h" ethtool -K eth0 tx off >/dev/null
done
# Instance links carry the frame plus NSH (24 bytes) and an outer Ethernet
# header (14).
for h in $INSTANCES; do
    ip link set "$h" mtu 1600
    nsx "$h" ip link set eth0 mtu 1600
done
declare -A OFP
for h in client server $INSTANCES; do
    sfm_wait_until sfm_output_gt 0 ovs-vsctl get interface "$h" ofport \
        || sfm_die "no OpenFlow port for $h"
    OFP[$h]=$(ovs-vsctl get interface "$h" ofport)
done
sfm_wait_until in_sync || sfm_die "switch not in sync: $(ctl switches)"

step "the switch holds exactly the desired flows and groups"
ctl flows > "$SFM_TMP/desired-flows.txt"
[ "$(wc -l < "$SFM_TMP/desired-flows.txt")" -gt 1000 ] \
    || sfm_die "too few desired flows"
ofctl diff-flows br0 "$SFM_TMP/desired-flows.txt" > "$SFM_TMP/diff" \
    || { head "$SFM_TMP/diff" >&2; sfm_die "flows differ"; }
normalize_groups() { sed 's/^ //; s/bucket_id:[0-9]*,//g' | grep group_id \
                         | sort; }
ofctl dump-groups br0 | normalize_groups > "$SFM_TMP/switch-groups.txt"
ctl groups | normalize_groups > "$SFM_TMP/desired-groups.txt"
diff -u "$SFM_TMP/desired-groups.txt" "$SFM_TMP/switch-groups.txt" \
    > "$SFM_TMP/gdiff" || { head "$SFM_TMP/gdiff" >&2; sfm_die "groups differ"; }
[ "$(wc -l < "$SFM_TMP/switch-groups.txt")" = 512 ] || sfm_die "not 512 groups"

step "a restarted controller changes nothing"
age() {  # duration in seconds of the table-0 miss flow
    ofctl dump-flows br0 table=0 | grep " priority=0 actions" \
        | sed -n 's/.*duration=\([0-9.]*\)s.*/\1/p'
}
before=$(age)
pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -TERM "$pid"
sfm_wait_until sh -c "! kill -0 $pid 2>/dev/null" || sfm_die "no exit"
sleep 1
sfm_controller_start "$BIN/sfmesh-controller" --config="$CONFIG" \
    "ptcp:$SFM_OF_PORT:127.0.0.1"
sfm_wait_until in_sync || sfm_die "not in sync after restart"
ctl switches | grep -q " 0 bundles" || sfm_die "restart sent changes: \
$(ctl switches)"
after=$(age)
/usr/bin/python3 -c "import sys; sys.exit(not ($after > $before + 0.9))" \
    || sfm_die "flows were replaced (duration $before -> $after)"
ofctl diff-flows br0 "$SFM_TMP/desired-flows.txt" >/dev/null \
    || sfm_die "flows differ after restart"

step "ofproto/trace: NSH push, code and primary"
flow="in_port=${OFP[client]},tcp,dl_src=02:00:00:00:00:0a,\
dl_dst=02:00:00:00:00:0b,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=40000,tp_dst=80"
ovs-appctl ofproto/trace br0 "$flow" > "$SFM_TMP/trace1"
grep -q "encap(nsh(md_type=1))" "$SFM_TMP/trace1" || sfm_die "no NSH push"
code=$(sed -n 's/.*nsh_c1=\(0x[0-9a-f]*\).*/\1/p' "$SFM_TMP/trace1" | head -1)
[ -n "$code" ] || sfm_die "no affinity code in the trace"
bucket=$((code & 255))
group=$(( (1 << 16) | bucket ))
read -r primary secondary < <(ctl map fw | awk -v b="$bucket" \
    '$1 == b && NF == 3 { print $2, $3 }')
[ -n "$primary" ] && [ "$secondary" != - ] \
    || sfm_die "bucket $bucket has no primary and secondary"
grep -q "group:$group" "$SFM_TMP/trace1" || sfm_die "group $group not used"
grep -q "output:${OFP[$primary]}" "$SFM_TMP/trace1" \
    || sfm_die "bucket $bucket not sent to its primary $primary"
echo "    bucket $bucket: primary $primary, secondary $secondary" >&2

step "primary down, controller frozen: the group fails over by itself"
cpid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -STOP "$cpid"
ctl_groups_before=$(ofctl dump-groups br0 | normalize_groups)
ip link set "$primary" down
sfm_wait_until sh -c "ovs-ofctl -O OpenFlow15 dump-ports-desc br0 \
    $primary | grep -q LINK_DOWN" || sfm_die "link not down"
ovs-appctl ofproto/trace br0 "$flow" > "$SFM_TMP/trace2"
grep -q "output:${OFP[$secondary]}" "$SFM_TMP/trace2" \
    || sfm_die "the FF group did not pick the secondary $secondary"
[ "$(ofctl dump-groups br0 | normalize_groups)" = "$ctl_groups_before" ] \
    || sfm_die "groups changed while the controller was frozen"

step "controller back: map repaired, only the affected groups rewritten"
kill -CONT "$cpid"
sfm_wait_until sh -c "'$BIN/sfmesh-ctl' -t '$SFM_CTL' map fw \
    | awk -v b=$bucket '\$1 == b && NF == 3 {print \$2}' | grep -qx $secondary" \
    || sfm_die "bucket $bucket not moved to $secondary"
sfm_wait_until in_sync || sfm_die "not in sync after failover"
ofctl dump-groups br0 | normalize_groups > "$SFM_TMP/groups-after.txt"
changed=$(diff <(echo "$ctl_groups_before") "$SFM_TMP/groups-after.txt" \
          | grep -c '^>')
held=$(echo "$ctl_groups_before" | grep -c "watch_port:${OFP[$primary]},")
[ "$changed" = "$held" ] \
    || sfm_die "$changed groups changed, $held held $primary"
! grep -q "watch_port:${OFP[$primary]}," "$SFM_TMP/groups-after.txt" \
    || sfm_die "$primary still in a group"
ovs-appctl ofproto/trace br0 "$flow" > "$SFM_TMP/trace3"
grep -q "output:${OFP[$secondary]}" "$SFM_TMP/trace3" \
    || sfm_die "the rewritten group does not send to $secondary"
ctl instances | grep -q "^$primary .* down *down" \
    || sfm_die "$primary not marked down"

step "the instance comes back cold, then takes its share back by handoffs"
# No agents here: no instance holds replicated state, so the handoffs
# need not wait for any, and the rebalance gives it back exactly its
# rendezvous share of primaries.
ip link set "$primary" up
sfm_wait_until grep -q "instance $primary down -> cold" \
    "$OVS_LOGDIR/sfmesh-controller.log" || sfm_die "$primary not back cold"
sfm_wait_until in_sync || sfm_die "not in sync after rejoin"
ctl instances | awk -v p="$primary" '$1 == p && ($7 == 0 || $7 != $9) \
                                     { exit 1 }' \
    || { ctl instances >&2; sfm_die "$primary not at its rendezvous share"; }
ctl handoffs | grep -q "abandoned 0," || sfm_die "a handoff was abandoned"

step "real traffic through the chain"
for h in $INSTANCES; do
    # Not through nsx(): "$!" must be the instance's own pid.
    ip netns exec "$(sfm_netns "$h")" "$PY" "$top/tests/nsh-instance.py" \
        --iface eth0 --log \
        --stats "$SFM_TMP/$h.stats" > "$SFM_TMP/$h.log" 2>&1 &
    SFM_PIDS+=($!)
done
for h in $INSTANCES; do
    sfm_wait_until grep -qs "serving eth0" "$SFM_TMP/$h.log" \
        || sfm_die "instance $h did not start"
done
nsx client ping -c 3 -i 0.2 -W 2 10.0.0.2 > "$SFM_TMP/ping" \
    || { cat "$SFM_TMP/ping" >&2; sfm_die "ping through the chain failed"; }
ip netns exec "$(sfm_netns server)" \
    "$PY" "$top/tests/integration/tcp-sink.py" 10.0.0.2 5001 \
    "$SFM_TMP/sink" & SFM_PIDS+=($!)
sfm_wait_until test -e "$SFM_TMP/sink.ready" || sfm_die "no TCP sink"
nsx client "$PY" "$top/tests/integration/tcp-source.py" 10.0.0.2 5001 0 \
    2000000 > /dev/null || sfm_die "TCP transfer failed"
sfm_wait_until grep -q "^2000000 " "$SFM_TMP/sink" \
    || sfm_die "TCP bytes lost: $(cat "$SFM_TMP/sink" 2>/dev/null)"

step "non-NSH frames from an instance port are dropped and counted"
drops() { ofctl dump-flows br0 "table=0,in_port=${OFP[fw-2]}" \
              | grep "priority=10,in_port=${OFP[fw-2]} actions=drop" \
              | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p'; }
d0=$(drops)
nsx fw-2 ip addr add 10.9.9.9/24 dev eth0
nsx fw-2 ping -c 2 -i 0.2 -W 1 10.9.9.10 >/dev/null 2>&1
d1=$(drops)
[ "$d1" -gt "$d0" ] || sfm_die "no drop counted ($d0 -> $d1)"

step "disable and enable by hand"
ctl disable fw-2
ctl instances | grep -q "^fw-2 .* disabled *0 *0" || sfm_die "fw-2 in use"
sfm_wait_until in_sync || sfm_die "not in sync after disable"
! ofctl dump-groups br0 | grep -q "watch_port:${OFP[fw-2]}," \
    || sfm_die "fw-2 still in a group"
ctl enable fw-2
sfm_wait_until in_sync || sfm_die "not in sync after enable"
ctl instances | awk '$1 == "fw-2" && ($7 == 0 || $7 != $9) { exit 1 }' \
    || sfm_die "fw-2 not back at its rendezvous share"
ctl disable no-such 2>/dev/null && sfm_die "unknown instance accepted"

step "SIGHUP: a valid change applies, an invalid file is refused"
sed -i '/dlp-3:/d' "$CONFIG"
kill -HUP "$(cat "$OVS_RUNDIR/sfmesh-controller.pid")"
sfm_wait_until sh -c "! '$BIN/sfmesh-ctl' -t '$SFM_CTL' instances \
    | grep -q '^dlp-3 '" || sfm_die "dlp-3 still configured after reload"
sfm_wait_until in_sync || sfm_die "not in sync after reload"
echo "buckets: 3" >> "$CONFIG"
kill -HUP "$(cat "$OVS_RUNDIR/sfmesh-controller.pid")"
sfm_wait_until grep -q "configuration not reloaded" \
    "$OVS_LOGDIR/sfmesh-controller.log" || sfm_die "bad config not refused"
ctl instances | grep -q "^dlp-2 " || sfm_die "running state lost"
in_sync || sfm_die "out of sync after a refused reload"
sed -i '$d' "$CONFIG"

step "SIGHUP with a bad match: refused, the switch's flows unchanged"
flows_now() { ofctl --no-stats dump-flows br0 | sort; }
flows_now > "$SFM_TMP/flows-before"
[ -s "$SFM_TMP/flows-before" ] || sfm_die "no flows"
for bad in 'bogus=1' 'ip actions=drop' 'in_port=1,ip'; do
    cp "$CONFIG" "$SFM_TMP/good.yaml"
    sed -i "s/^    match: ip\$/    match: \"$bad\"/" "$CONFIG"
    grep -q "match: \"$bad\"" "$CONFIG" || sfm_die "config not rewritten"
    n=$(grep -c "configuration not reloaded" \
        "$OVS_LOGDIR/sfmesh-controller.log")
    pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
    kill -HUP "$pid" || sfm_die "no controller to signal (pid '$pid')"
    sfm_wait_until sfm_output_gt "$n" grep -c "configuration not reloaded" \
        "$OVS_LOGDIR/sfmesh-controller.log" \
        || sfm_die "bad match \"$bad\" not refused; controller $pid is" \
            "'$(ps -o stat= -p "$pid")', its last lines:" \
            "$(tail -n 4 "$OVS_LOGDIR/sfmesh-controller.log")"
    field=${bad%%=*}; field=${field##* }; field=${field%%,*}
    [ "$bad" = 'ip actions=drop' ] && field=actions
    grep "configuration not reloaded" "$OVS_LOGDIR/sfmesh-controller.log" \
        | tail -n 1 | grep -q "sfmesh.yaml:[0-9]*: chains.web.match: $field: " \
        || sfm_die "no file:line:field error for \"$bad\": $(tail -n 3 \
            "$OVS_LOGDIR/sfmesh-controller.log")"
    flows_now | diff "$SFM_TMP/flows-before" - >&2 \
        || sfm_die "flows changed after refusing \"$bad\""
    in_sync || sfm_die "not in sync after refusing \"$bad\""
    cp "$SFM_TMP/good.yaml" "$CONFIG"
done
# Still serving: a link failure is repaired and programmed.
ip link set dlp-1 down
sfm_wait_until sh -c "'$BIN/sfmesh-ctl' -t '$SFM_CTL' instances \
    | grep -q '^dlp-1 .* down *0 *0'" || sfm_die "dlp-1 not repaired"
sfm_wait_until in_sync || sfm_die "repair not programmed"
! ofctl dump-groups br0 | grep -q "watch_port:${OFP[dlp-1]}," \
    || sfm_die "a group still watches dlp-1"
ip link set dlp-1 up

sfm_check_ovs_logs 'on (fw|dlp)-[0-9]: Network is down|error receiving data from (fw|dlp)-[0-9]|'\
'rconn.*(connection dropped|Connection refused|Broken pipe)' \
    || sfm_die "unexpected OVS warnings"
echo "PASS: steer"
