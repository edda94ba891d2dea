#!/usr/bin/env bash
# How long a switch takes to be programmed with N buckets, and what it
# costs (the measurement behind "Programming limits" in docs/pipeline.md):
# the two-service example on a private OVS, reloaded by SIGHUP from 256
# buckets to N (MODE reload) or connected with N from the start (MODE
# connect).  Prints the time until "IDLE, in sync", how long the event loop
# was blocked (SIGHUP to "configuration reloaded"), the slowest answer of
# the control socket, and the peak RSS of the controller and ovs-vswitchd.
# Not part of "make bench".
# Usage: bench/reload-scale.sh BUCKETS [reload|connect]   (LIMIT=seconds)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
N=$1 MODE=${2:-reload} BIN=${BIN:-$top/build/bin}
sfm_setup "measure-$N"
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
CONFIG=$SFM_TMP/c.yaml
start=256; [ "$MODE" = connect ] && start=$N
sed "s/^buckets: .*/buckets: $start/" $top/docs/examples/two-service-chain.yaml > "$CONFIG"
sfm_ovs_start
sfm_add_bridge br0 1
for h in client server fw-1 fw-2 dlp-1 dlp-2 dlp-3; do sfm_add_veth_port br0 $h $h; done
sfm_controller_start "$BIN/sfmesh-controller" --config="$CONFIG" ptcp:0:127.0.0.1
PID=$(cat $OVS_RUNDIR/sfmesh-controller.pid)
VPID=$(cat $OVS_RUNDIR/ovs-vswitchd.pid)
t0=$(date +%s.%N)
sfm_set_controller br0 tcp:127.0.0.1:$SFM_OF_PORT
in_sync() { ctl switches 2>/dev/null | grep -q "IDLE, in sync"; }
SFM_WAIT_TIMEOUT=60 sfm_wait_until in_sync || { echo "initial not in sync"; ctl switches; }
if [ "$MODE" = reload ]; then
  sed -i "s/^buckets: .*/buckets: $N/" "$CONFIG"
  t0=$(date +%s.%N)
  kill -HUP $PID
fi
maxlat=0; ok=0
end=$((SECONDS + ${LIMIT:-180}))
while [ $SECONDS -lt $end ]; do
  a=$(date +%s%N)
  out=$(timeout 20 "$BIN/sfmesh-ctl" -t "$SFM_CTL" switches 2>&1)
  b=$(date +%s%N); lat=$(( (b - a) / 1000000 )); [ $lat -gt $maxlat ] && maxlat=$lat
  if grep -q "IDLE, in sync" <<< "$out" && [ "$(grep -c 'bundle .* with' $OVS_LOGDIR/sfmesh-controller.log)" -ge 2 -o "$MODE" = connect ]; then ok=1; break; fi
  sleep 0.2
done
t1=$(date +%s.%N)
rss=$(grep VmHWM /proc/$PID/status | awk '{print $2}')
rssnow=$(grep VmRSS /proc/$PID/status | awk '{print $2}')
vrss=$(grep VmHWM /proc/$VPID/status | awk '{print $2}')
flows=$(ovs-ofctl -O OpenFlow15 dump-flows br0 | grep -c table=)
groups=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id)
echo "N=$N mode=$MODE converged=$ok secs=$(awk -v a=$t0 -v b=$t1 'BEGIN{printf "%.1f", b-a}') ctl_max_ms=$maxlat ctl_hwm_kb=$rss ctl_rss_kb=$rssnow vswitchd_hwm_kb=$vrss flows=$flows groups=$groups"
rl=$(grep -m1 "configuration reloaded" $OVS_LOGDIR/sfmesh-controller.log | cut -d'|' -f1)
[ -n "$rl" ] && echo "HUP->reloaded(loop blocked) = $(awk -v a=$t0 -v b=$(date -u -d "$(echo $rl | tr T ' ' | tr -d Z)" +%s.%N) 'BEGIN{printf "%.2f", b-a}') s"
echo "--- switches"; ctl switches
echo "--- controller log (warn/err, bundles)"; grep -E "WARN|ERR|bundle|disconnect|closed|pipe" $OVS_LOGDIR/sfmesh-controller.log | tail -20
echo "--- vswitchd log warn/err"; grep -E "WARN|ERR" $OVS_LOGDIR/ovs-vswitchd.log | tail -10
