#!/usr/bin/env bash
# Listener limits: the controller's agent listener and the agents'
# replication ports under connections that never authenticate, with the
# example configuration's five agents running (dlp-2 built with
# AddressSanitizer).
#
#   - the control sockets of the controller and of an agent started under
#     umask 000 have mode 700;
#   - silent connections below the cap are closed at the handshake timeout
#     (the OpenFlow listener's too);
#   - a flood of silent connections, of headers claiming 1 MiB frames with
#     256 KiB of them, and of half frames leaves at most the cap open and
#     the controller's and an agent's RSS within 40 MB of where they were;
#   - meanwhile an agent killed with SIGKILL is fenced within 1.5 s (agents
#     and instances show it down, its port is down) and the other agents
#     stay up;
#   - the ASan agent, which had incoming replication connections and some
#     of the flood, exits with no LeakSanitizer report.
#
# Usage: test-limits.sh BIN_DIR ASAN_BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
ASAN_BIN=$(cd "$2" && pwd)
PY=/usr/bin/python3
INSTANCES="fw-1 fw-2 dlp-1 dlp-2 dlp-3"
VICTIM=dlp-1 ASAN_AGENT=dlp-2 RSS_AGENT=dlp-3
HANDSHAKE_MS=5000 AGENT_CAP=64 REPL_CAP=16 OF_TIMEOUT_MS=2000

sfm_setup limits
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
nsx() { local ns; ns=$(sfm_netns "$1"); shift; ip netns exec "$ns" "$@"; }
say() { printf '  [limits] %s\n' "$*" >&2; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
ulimit -n "$(ulimit -Hn)"

# The replication network, as in test-agent.sh.
ip link add sfmrep address 02:5f:6d:00:00:fe type bridge
ip addr add 10.9.0.254/24 dev sfmrep
ip link set sfmrep up

sfm_ovs_start
umask 000
# The configuration's timers win over the command line's.
sed "s/handshake_timeout_ms: .*/handshake_timeout_ms: $OF_TIMEOUT_MS/" \
    "$top/docs/examples/two-service-chain.yaml" > "$SFM_TMP/config.yaml"
sfm_controller_start "$BIN/sfmesh-controller" \
    --config="$SFM_TMP/config.yaml" --agent-listen=ptcp:0:10.9.0.254 ptcp:0:127.0.0.1
AGENT_PORT=$(sed -n 's/.*listening for agents on ptcp:10.9.0.254:\([0-9]*\).*/\1/p' \
             "$OVS_LOGDIR/sfmesh-controller.log")
[ -n "$AGENT_PORT" ] || sfm_die "no agent listener"
mode=$(stat -c %a "$SFM_CTL")
[ "$mode" = 700 ] || sfm_die "controller's control socket has mode $mode"

sfm_add_bridge br0 1
n=1
for h in client server $INSTANCES; do
    sfm_add_veth_port br0 "$h" "$h"
    nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
for h in $INSTANCES; do
    ip link add "r-$h" type veth peer name rep0
    ip link set rep0 netns "$(sfm_netns "$h")"
    ip link set "r-$h" master sfmrep up
    nsx "$h" ip addr add "10.9.0.$n/24" dev rep0
    nsx "$h" ip link set rep0 up
    n=$((n + 1))
done
n=1
for h in $INSTANCES; do
    args=(--no-chdir -vconsole:off --pidfile="$OVS_RUNDIR/agent-$h.pid"
          --log-file="$OVS_LOGDIR/agent-$h.log"
          --unixctl="$OVS_RUNDIR/agent-$h.ctl" --instance="$h"
          --service=stateful-fw --iface=eth0
          --controller="tcp:10.9.0.254:$AGENT_PORT"
          --repl-listen="ptcp:7000:10.9.0.$n")
    if [ "$h" = "$ASAN_AGENT" ]; then
        # In the foreground, so that its stderr (LeakSanitizer's reports)
        # is ours.
        ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 nsx "$h" "$ASAN_BIN/sfmesh-agent" \
            "${args[@]}" 2> "$SFM_TMP/asan-agent.err" &
    else
        nsx "$h" "$BIN/sfmesh-agent" --detach "${args[@]}" \
            || sfm_die "agent $h did not start"
    fi
    sfm_track_pidfile "$OVS_RUNDIR/agent-$h.pid"
    n=$((n + 1))
done
sfm_wait_until test -S "$OVS_RUNDIR/agent-$RSS_AGENT.ctl" \
    || sfm_die "no control socket for $RSS_AGENT"
mode=$(stat -c %a "$OVS_RUNDIR/agent-$RSS_AGENT.ctl")
[ "$mode" = 700 ] || sfm_die "agent's control socket has mode $mode"
umask 022
say "control sockets have mode 700 under umask 000"

ready() {
    [ "$(ctl agents | awk '$2 == "up" && $6 == "yes"' | wc -l)" = 5 ] \
        && ctl switches | grep -q "IDLE, in sync"
}
SFM_WAIT_TIMEOUT=30 sfm_wait_until ready \
    || { ctl agents >&2; sfm_die "agents not all up and warm"; }

ctl_target=agents=10.9.0.254:$AGENT_PORT:$AGENT_CAP:$HANDSHAKE_MS
rss_target=repl-$RSS_AGENT=10.9.0.5:7000:$REPL_CAP:$HANDSHAKE_MS
asan_target=repl-$ASAN_AGENT=10.9.0.4:7000:$REPL_CAP:$HANDSHAKE_MS
of_target=openflow=127.0.0.1:$SFM_OF_PORT:64:$OF_TIMEOUT_MS

# Below the cap: closed at the handshake timeout, not before.
"$PY" "$top/tests/integration/flood.py" timeout "$ctl_target" \
    "$rss_target" "$of_target" >&2 || sfm_die "handshake timeouts"

# The flood, and a failover during it.
ctl_pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
agent_pid=$(cat "$OVS_RUNDIR/agent-$RSS_AGENT.pid")
ctl_rss0=$(rss_kb "$ctl_pid") agent_rss0=$(rss_kb "$agent_pid")
( while :; do
      echo "$(rss_kb "$ctl_pid") $(rss_kb "$agent_pid")"
      sleep 0.2
  done ) > "$SFM_TMP/rss" &
sampler=$!
SFM_PIDS+=("$sampler")
"$PY" "$top/tests/integration/flood.py" flood 8 "$ctl_target" \
    "$rss_target" "$asan_target" > "$SFM_TMP/flood.out" 2>&1 &
flood=$!
SFM_PIDS+=("$flood")
sleep 3

victim_port=$(ovs-vsctl get interface "$VICTIM" ofport)
kill -KILL "$(cat "$OVS_RUNDIR/agent-$VICTIM.pid")"
killed=$(date +%s%N)
fenced() {
    ctl agents | grep -q "^$VICTIM  *down " \
        && ctl instances | grep -q "^$VICTIM .* down" \
        && ovs-ofctl -O OpenFlow13 show br0 \
            | grep -A2 "^ $victim_port(" | grep -q "config:.*PORT_DOWN"
}
SFM_WAIT_TIMEOUT=5 sfm_wait_until fenced \
    || { ctl agents >&2; ctl instances >&2; sfm_die "$VICTIM not fenced"; }
fence_ms=$((($(date +%s%N) - killed) / 1000000))
say "$VICTIM killed during the flood: fenced after $fence_ms ms"
[ "$fence_ms" -le 1500 ] || sfm_die "fencing took $fence_ms ms"

wait "$flood"
flood_status=$?
kill "$sampler"
sed 's/^/  [limits] /' "$SFM_TMP/flood.out" >&2
[ "$flood_status" = 0 ] || sfm_die "the flood left connections open"
read -r ctl_peak agent_peak < <(awk '
    $1 > c { c = $1 } $2 > a { a = $2 } END { print c, a }' "$SFM_TMP/rss")
ctl_rss1=$(rss_kb "$ctl_pid") agent_rss1=$(rss_kb "$agent_pid")
say "controller RSS ${ctl_rss0} kB before, peak ${ctl_peak} kB, ${ctl_rss1} kB after"
say "$RSS_AGENT RSS ${agent_rss0} kB before, peak ${agent_peak} kB, ${agent_rss1} kB after"
[ "$ctl_peak" -le $((ctl_rss0 + 40000)) ] \
    || sfm_die "controller RSS grew from $ctl_rss0 to $ctl_peak kB"
[ "$agent_peak" -le $((agent_rss0 + 40000)) ] \
    || sfm_die "$RSS_AGENT RSS grew from $agent_rss0 to $agent_peak kB"

# The other agents never noticed.
others=$(ctl agents | awk -v v="$VICTIM" \
    'NR > 1 && $1 != v && $2 == "up" && $NF == 0' | wc -l)
[ "$others" = 4 ] || { ctl agents >&2; sfm_die "the flood hurt other agents"; }
for f in "$OVS_LOGDIR/sfmesh-controller.log" \
         "$OVS_LOGDIR/agent-$RSS_AGENT.log"; do
    for line in "handshake timed out" "bytes before authentication" \
                "too many connections waiting" "closing the oldest"; do
        grep -q "$line" "$f" || sfm_die "no \"$line\" in $f"
    done
done

# A peer that sends batches and never reads their acknowledgements is
# closed once 4 MiB wait to be sent to it, and the agent goes on.  It is
# an instance of the service, from its own address (the killed victim's),
# since a stranger is refused at its first batch.
rss_before=$(rss_kb "$(cat "$OVS_RUNDIR/agent-$RSS_AGENT.pid")")
nsx "$VICTIM" "$PY" "$top/tests/integration/flood.py" noread 10.9.0.5:7000 \
    "$VICTIM" 20 || sfm_die "a peer that does not read was not closed"
grep -q "the peer does not read" "$OVS_LOGDIR/agent-$RSS_AGENT.log" \
    || sfm_die "no log of the peer that does not read"
rss_after=$(rss_kb "$(cat "$OVS_RUNDIR/agent-$RSS_AGENT.pid")")
[ $((rss_after - rss_before)) -lt 40000 ] \
    || sfm_die "$RSS_AGENT grew from $rss_before to $rss_after kB"
others=$(ctl agents | awk -v v="$VICTIM" \
    'NR > 1 && $1 != v && $2 == "up" && $NF == 0' | wc -l)
[ "$others" = 4 ] || { ctl agents >&2; sfm_die "agents disturbed by the peer"; }
say "a peer that does not read: closed, $RSS_AGENT RSS $rss_before -> $rss_after kB"

# The ASan agent exits with connections open, incoming replication among
# them: nothing may leak.
"$PY" "$top/tests/integration/flood.py" hold "$asan_target" \
    > "$SFM_TMP/hold.out" &
hold=$!
SFM_PIDS+=("$hold")
sfm_wait_until grep -qs holding "$SFM_TMP/hold.out" || sfm_die "no hold"
sleep 0.5
"$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$ASAN_AGENT.ctl" status \
    | grep -q "^replication in" || sfm_die "no status from $ASAN_AGENT"
nsx "$ASAN_AGENT" ss -Htn state established '( sport = :7000 )' \
    | grep -q " 10.9.0.[1-5]:" \
    || sfm_die "$ASAN_AGENT has no incoming replication connection"
asan_pid=$(cat "$OVS_RUNDIR/agent-$ASAN_AGENT.pid")
# The reply to "exit" gets out before the agent stops.
"$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$ASAN_AGENT.ctl" exit \
    || sfm_die "$ASAN_AGENT did not answer exit"
sfm_wait_until sh -c "! kill -0 $asan_pid 2>/dev/null" \
    || sfm_die "$ASAN_AGENT did not exit"
kill "$hold"
if grep -q "LeakSanitizer\|AddressSanitizer\|runtime error" \
        "$SFM_TMP/asan-agent.err"; then
    head -n 40 "$SFM_TMP/asan-agent.err" >&2
    sfm_die "sanitizer report at $ASAN_AGENT's exit"
fi
say "$ASAN_AGENT exited with no sanitizer report"
echo "PASS: limits"
