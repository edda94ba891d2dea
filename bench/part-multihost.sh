#!/usr/bin/env bash
# Benchmark part: a host's loss across hosts, against a single-host link
# failure in the same run.
#
# The chain of docs/examples/three-hosts.yaml on three hosts
# (tests/lib/hosts.sh: each host a namespace with its own ovsdb-server and
# ovs-vswitchd, the switches joined by VXLAN tunnels over an underlay, BFD
# on the tunnels), every instance an sfmesh-agent running the stateful
# firewall with async replication, the agents' channel and replication
# over the underlay (each instance's management port on its host's
# br-phy), as tests/integration/test-multihost.sh sets it up.  Per trial,
# on a set-up of its own (a killed host is not brought back: the next
# trial starts afresh):
#   - the victim: the host of the dlp primary of a UDP stream's bucket,
#     chosen so that it carries neither the client nor the server, and so
#     that every bucket whose primary it carries has its secondary on
#     another host ("sfmesh-ctl map", "sfmesh-ctl hosts"); "sfmesh-ctl map
#     dlp" must say "anti-affinity: 0 buckets";
#   - 100 TCP connections (topo/traffic.py tcp-client, 512 bytes every
#     50 ms each, echoed) through the chain, and a sequence-numbered UDP
#     stream (bench/udpseq.c, BENCH_MULTIHOST_RATE packets/s, 2000) whose
#     dlp primary is
#     on the victim host; FAIL_AT s into the stream, one of:
#       a  baseline, a single-host link failure: the link (veth, switch
#          side) of that dlp primary goes down on its host;
#       b  host loss: the victim host is killed whole, its ovs-vswitchd,
#          ovsdb-server and agents (and their sentinels), SIGKILL by pid;
#       c  underlay cut: the host's underlay veth (ul-HOST) goes down for
#          CUT_S s and comes back;
#   - recorded: the UDP stream's longest gap (within WINDOW_S of the
#     failure) and packets lost, the TCP connections surviving, by where
#     their instances were (primary on the victim host, secondary on it,
#     both), the frames each agent dropped meanwhile, and from the
#     controller's log when it saw what.
# Rounds (BENCH_MULTIHOST_ROUNDS, 3) of a, b, c in turn; a trial whose
# set-up fails is run once more, and counted.
# Usage: part-multihost.sh BIN_DIR HELPER_DIR OUT_JSON [VARIANT ROUND]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
# 2000 packets/s, not the 10000 of the one-host parts: three userspace
# datapaths, five agents and 100 connections already load the 2 cores,
# and at 10000 the stream's own load made it lose thousands of datagrams
# in bursts before and after the failure in every variant.
RATE=${BENCH_MULTIHOST_RATE:-2000}
STREAM_S=7 FAIL_AT=1.5 WINDOW_S=5 CUT_S=1.5 CLIENT_S=10 N_CONNS=100
if [ $# -lt 5 ]; then
    : > "$3.jsonl"
    for round in $(seq "${BENCH_MULTIHOST_ROUNDS:-3}"); do
        for v in a b c; do
            timeout --kill-after=10 180 bash "$0" "$1" "$2" "$3" "$v" \
                "$round" >> "$3.jsonl" && continue
            printf '  [multihost] (%s) round %s failed: once more, afresh\n' \
                "$v" "$round" >&2
            echo "{\"retry\": {\"variant\": \"$v\", \"round\": $round}}" \
                >> "$3.jsonl"
            timeout --kill-after=10 180 bash "$0" "$1" "$2" "$3" "$v" \
                "$round" >> "$3.jsonl" || exit 1
        done
    done
    "$PY" "$top/bench/analyze.py" multihost "$3.jsonl" "$RATE" "$WINDOW_S" \
        "$CUT_S" > "$3" && rm -f "$3.jsonl"
    exit
fi
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) V=$4 ROUND=$5
# The trial's row goes to fd 3 (the JSON lines); everything else to stderr.
exec 3>&1 1>&2
. "$top/bench/lib.sh"
BENCH_PART="multihost ($V) $ROUND"
REPL=async
bench_init "multihost-$V"
. "$top/tests/lib/agent-chain.sh"
. "$top/tests/lib/hosts.sh"
CONFIG=$top/docs/examples/three-hosts.yaml
T=$SFM_TMP/trial
mkdir -p "$T"

# The layout, from the configuration: each host's number (its underlay
# address) and switch, each switch's tunnels, and where the client, the
# server and each instance are.
"$PY" - "$CONFIG" > "$T/layout.txt" <<'EOF' || sfm_die "no layout"
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
hosts, sw = c['hosts'], c['switches']
for h, v in hosts.items():
    print('host', h, str(v['underlay']).rsplit('.', 1)[1])
for s, v in sw.items():
    print('switch', s, v['host'], v['dpid'])
for a, b in c['links']:
    for x, y in ((a, b), (b, a)):
        print('tunnel', x['switch'], sw[x['switch']]['host'], x['port'],
              hosts[sw[y['switch']]['host']]['underlay'])
ch = next(iter(c['chains'].values()))
for name, end in (('client', ch['ingress']), ('server', ch['egress'])):
    print('port', name, end['switch'], sw[end['switch']]['host'], end['port'])
for svc in c['services'].values():
    for i, v in svc['instances'].items():
        print('port', i, v['switch'], sw[v['switch']]['host'], v['port'])
EOF
declare -A HOST_OF SWITCH_OF PORT_OF
while read -r kind a b c d; do
    [ "$kind" = port ] || continue
    SWITCH_OF[$a]=$b HOST_OF[$a]=$c PORT_OF[$a]=$d
done < "$T/layout.txt"
for h in $SFM_INSTANCES; do
    [ -n "${HOST_OF[$h]:-}" ] || sfm_die "instance $h is not in $CONFIG"
done

# The underlay, the controller on it for the switches and the agents, the
# hosts, their switches and tunnels.
sfm_hosts_controller_start "$BIN/sfmesh-controller" "$CONFIG"
HOSTS=$(awk '$1 == "host" {print $2}' "$T/layout.txt")
N_TUNNELS=$(grep -c '^tunnel ' "$T/layout.txt")
N_LINKS=$((N_TUNNELS / 2))
while read -r kind a b c d; do
    case $kind in
    host) sfm_host_add "$a" "$b" ;;
    switch) sfm_host_bridge "$b" "$a" "$c" "$SFM_OF_PORT" ;;
    tunnel) sfm_host_tunnel "$b" "$a" "$c" "$d" ;;
    esac
done < "$T/layout.txt"
for h in client server $SFM_INSTANCES; do
    sfm_host_port "${HOST_OF[$h]}" "${SWITCH_OF[$h]}" "${PORT_OF[$h]}" "$h"
    nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
bench_hosts_ip
# The tunnels' 50 bytes and NSH's 38 on the underlay's 1500: the client's
# and server's segments stay small enough (as in test-multihost.sh).
for h in client server; do
    nsx "$h" ip link set eth0 mtu 1400
done
n=1
for h in $SFM_INSTANCES; do
    sfm_host_mgmt_port "${HOST_OF[$h]}" "$h" $((SFM_AGENT_BASE + n))
    n=$((n + 1))
done
for h in $HOSTS; do
    SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_host_connected "$h" \
        || sfm_die "the switch of $h did not connect over the underlay"
done
sfm_chain_agents_start

# Ready: every agent up and warm, every instance up, every switch in sync,
# no handoff due (bench/lib.sh), every link and tunnel end up, every
# host's database connected, and no bucket's primary and secondary on one
# host.
anti_affine() { ctl map dlp | grep -q "anti-affinity: 0 buckets"; }
mh_ready() {
    agents_ready 5 \
        && [ "$(ctl switches | grep -Ec '^ *link .*: up( \(|$)')" = "$N_LINKS" ] \
        && [ "$(ctl hosts | grep -c '^  tunnel .*: up$')" = "$N_TUNNELS" ] \
        && [ "$(ctl bfd | grep -c '^host .*: connected')" \
             = "$(echo "$HOSTS" | wc -w)" ] \
        && anti_affine
}
SFM_WAIT_TIMEOUT=40 sfm_wait_until mh_ready \
    || { ctl switches; ctl agents; ctl instances; ctl hosts; ctl bfd
         ctl map dlp | tail -n 3; sfm_die "the hosts' chain did not come up"; }
say "set up: $(echo "$HOSTS" | wc -w) hosts, $N_LINKS links, 5 agents warm"

# The affinity codes the ingress switch gives the candidate UDP streams
# and the TCP connections.
DPORT=5000
ING=${HOST_OF[client]}
CLIENT_OFP=$(hx "$ING" ovs-vsctl get interface "${PORT_OF[client]}" ofport)
code_of() {
    OVS_RUNDIR=$SFM_TMP/hosts/$ING/run affinity_code "$CLIENT_OFP" "$1" \
        "${SWITCH_OF[client]}"
}
for sport in $(seq 40000 40031); do
    echo "$sport $(code_of "udp,nw_src=10.0.0.1,nw_dst=10.0.0.2,\
udp_src=$sport,udp_dst=$DPORT")"
done > "$T/codes-udp.txt"
for sport in $(seq 41000 $((41000 + N_CONNS - 1))); do
    echo "$sport $(code_of "tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,\
tp_src=$sport,tp_dst=5001")"
done > "$T/codes-tcp.txt"
awk 'NF != 2 {exit 1}' "$T/codes-udp.txt" "$T/codes-tcp.txt" \
    || sfm_die "no affinity code for some stream"

# The maps and hosts as the controller has them before the failure, and
# the victim.
ctl hosts > "$T/hosts.txt"
for s in fw dlp; do ctl map "$s" > "$T/map-$s.txt"; done
grep "anti-affinity:" "$T/map-dlp.txt" > "$T/anti-affinity.txt"
grep -q "anti-affinity: 0 buckets" "$T/anti-affinity.txt" \
    || { cat "$T/map-dlp.txt"; sfm_die "anti-affinity not met"; }
read -r SPORT UBUCKET UPRIMARY USECONDARY VH < <("$PY" - "$T" \
    "${HOST_OF[client]}" "${HOST_OF[server]}" <<'EOF'
import sys
d, ends = sys.argv[1], set(sys.argv[2:])
host, h = {}, None
for line in open(d + '/hosts.txt'):
    if line.startswith('host '):
        h = line.split()[1]
    elif line.startswith('  instance '):
        host[line.split()[1]] = h
maps = {}
for s in ('fw', 'dlp'):
    maps[s] = {int(f[0]): (f[1], f[2]) for f in
               (l.split() for l in open('%s/map-%s.txt' % (d, s)))
               if len(f) == 3 and f[0].isdigit()}
def safe(vh):
    # Every bucket whose primary is on vh has its secondary elsewhere.
    return all(host.get(s) not in (None, vh) for m in maps.values()
               for p, s in m.values() if host.get(p) == vh)
dlp = maps['dlp']
for line in open(d + '/codes-udp.txt'):
    sport, code = line.split()
    b = int(code, 16) & (len(dlp) - 1)
    p, s = dlp[b]
    vh = host.get(p)
    if vh and vh not in ends and safe(vh):
        print(sport, b, p, s, vh)
        break
EOF
)
[ -n "${VH:-}" ] || { cat "$T/hosts.txt" "$T/codes-udp.txt"
    sfm_die "no candidate stream has a dlp primary on a host that may die"; }
VNS=$(sfm_host_ns "$VH")
VINSTANCES=$(awk -v h="$VH" '/^host / {in_h = ($2 == h)}
    in_h && /^  instance / {print $2}' "$T/hosts.txt")
say "UDP source port $SPORT: dlp bucket $UBUCKET, primary $UPRIMARY" \
    "(host $VH), secondary $USECONDARY; victim host $VH ($VINSTANCES)"

# Traffic, then the failure.
sfm_chain_server_start
sfm_chain_client_start tcp "$N_CONNS" 41000 "$CLIENT_S"
sleep 1
REC=$T/udp
LOG_FROM=$(wc -l < "$OVS_LOGDIR/sfmesh-controller.log")
agent_status() {            # the agents' counters, into $T/status-$1-*
    local h
    for h in $SFM_INSTANCES; do
        actl "$h" status > "$T/status-$1-$h.txt" 2>/dev/null || :
    done
}
agent_status before
udp_stream_start "$REC" "$SPORT" $((STREAM_S + 10)) 3000
sleep "$FAIL_AT"
case $V in
a) ;;
b) vpids=("$(cat "$SFM_TMP/hosts/$VH/run/ovs-vswitchd.pid")"
          "$(cat "$SFM_TMP/hosts/$VH/run/ovsdb-server.pid")")
   for h in $VINSTANCES; do
       p=$(cat "$OVS_RUNDIR/agent-$h.pid")
       # The agent and its sentinel (docs/agent.md).
       vpids+=("$p" $(pgrep -P "$p"))
   done ;;
c) ;;
*) sfm_die "variant: a, b or c" ;;
esac
T_FAIL=$(now) T_BACK=0
case $V in
a) ip -n "$VNS" link set "${PORT_OF[$UPRIMARY]}" down ;;
b) kill -KILL "${vpids[@]}" ;;
c) ip link set "ul-$VH" down
   sleep "$CUT_S"
   T_BACK=$(now)
   ip link set "ul-$VH" up ;;
esac
wait "$UDP_SEND"
wait "$UDP_RECV"
sfm_chain_traffic_wait
read -r survived failed tcpgap < <(sfm_chain_traffic_result tcp)
agent_status after
say "UDP $(cat "$REC.send"); TCP $survived of $N_CONNS survived (failed:" \
    "$failed), longest wait $tcpgap ms"

# After the cut, the host must come back whole.
BACK=-
if [ "$V" = c ]; then
    BACK=no
    SFM_WAIT_TIMEOUT=30 sfm_wait_until mh_ready && BACK=yes
    say "host $VH back after the cut: $BACK"
fi
cp "$OVS_LOGDIR/sfmesh-controller.log" "$T/controller.log"
"$PY" "$top/bench/analyze.py" multihost-trial "$REC.bin" "$(cat "$REC.send")" \
    "$T_FAIL" "$V" "$ROUND" "$WINDOW_S" "$SFM_TMP/tcp.json" "$T" \
    "$LOG_FROM" "victim_host=$VH" "victim=$UPRIMARY" "secondary=$USECONDARY" \
    "sport=$SPORT" "bucket=$UBUCKET" "t_back=$T_BACK" "back=$BACK" \
    "victim_instances=$(echo $VINSTANCES | tr ' ' ,)" > "$T/row.json" \
    || sfm_die "analysis failed"
cat "$T/row.json" >&3
"$PY" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("    gap %(gap_ms)s ms, lost %(lost)s, TCP %(tcp_survived)s of %(tcp_n)s"
      " (on the victim host %(tcp_primary_on_victim_survived)s of "
      "%(tcp_primary_on_victim)s)" % r)' "$T/row.json"
