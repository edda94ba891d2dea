# sfmesh benchmarks: helpers shared by the parts (sourced after the
# harness, inside the part's own network namespace).
#
#   bench_init NAME          harness setup; sets BIN, HELPERS, OUT
#   bench_hosts [CBR [SBR]]  client 10.0.0.1 on bridge CBR and server
#                            10.0.0.2 on SBR (both default br0)
#   bench_hosts_ip           (its second half) their addresses, static
#                            neighbours, no IPv6, no tx offload
#   bench_instances BR I...  instance ports on BR (MTU 1600), one netns each
#   link_is BR PORT up|down  whether OVS sees PORT of BR so
#   bench_repnet             the replication network (Linux bridge)
#   bench_agent I N SVC REPL start sfmesh-agent in instance I (10.9.0.N)
#   bench_pki I...           the certificates of BENCH_TLS=1 (below)
#
# With BENCH_TLS=1 the agent channel (controller to every agent) and
# replication (between agents) run TLS, with ovs-pki certificates as in
# tests/lib/agent-chain.sh (SFM_CHAIN_TLS=1): one per instance, naming it,
# signed by the switch CA; agents trust the controller CA for their channel
# and the switch CA for replication.  OpenFlow stays plaintext on loopback
# (the same ovs-vswitchd set-up in every mode).  Unset or 0: plaintext.
# part-repl.sh sets it per mode (async-tls, sync-tls); it is not a knob of
# run.sh, and the parts that start their own agents do not make the PKI.
PY=/usr/bin/python3

bench_init() {
    sfm_setup "bench-$1"
    ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
    nsx() { local ns; ns=$(sfm_netns "$1"); shift; ip netns exec "$ns" "$@"; }
    ofctl() { ovs-ofctl -O OpenFlow15 "$@"; }
}

say() { printf '  [%s] %s\n' "$BENCH_PART" "$*" >&2; }
now() { date +%s.%N; }

bench_hosts() {
    local cbr=${1:-br0}
    local sbr=${2:-$cbr}
    sfm_add_veth_port "$cbr" client client
    sfm_add_veth_port "$sbr" server server
    bench_hosts_ip
}

# The client's and server's addresses and static neighbours, once their
# namespaces have eth0 (bench_hosts, or a part's own ports).
bench_hosts_ip() {
    local h
    for h in client server; do
        nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        nsx "$h" ethtool -K eth0 tx off >/dev/null
    done
    nsx client ip addr add 10.0.0.1/24 dev eth0
    nsx server ip addr add 10.0.0.2/24 dev eth0
    # Static neighbours: no ARP in the measurements.
    nsx client ip neigh replace 10.0.0.2 dev eth0 nud permanent lladdr \
        "$(nsx server cat /sys/class/net/eth0/address)"
    nsx server ip neigh replace 10.0.0.1 dev eth0 nud permanent lladdr \
        "$(nsx client cat /sys/class/net/eth0/address)"
}

bench_instances() {
    local h br=$1
    shift
    for h in "$@"; do
        sfm_add_veth_port "$br" "$h" "$h"
        nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip link set "$h" mtu 1600
        nsx "$h" ip link set eth0 mtu 1600
    done
}

link_is() {
    if ovs-ofctl -O OpenFlow15 dump-ports-desc "$1" "$2" | grep -q LINK_DOWN
    then [ "$3" = down ]; else [ "$3" = up ]; fi
}

bench_repnet() {
    # A fixed MAC: a Linux bridge otherwise takes the lowest MAC of its ports,
    # and adding a port would change the controller's address under the agents.
    ip link add sfmrep address 02:5f:6d:00:00:fe type bridge
    ip addr add 10.9.0.254/24 dev sfmrep
    ip link set sfmrep up
}

# bench_pki INSTANCE...: the PKI of sfm_pki_init (the controller's
# certificate, SFM_TLS_OPTS) and a certificate per instance.
bench_pki() {
    local h
    sfm_pki_init
    for h in "$@"; do
        sfm_pki req+sign "$h" switch || sfm_die "no certificate for $h"
    done
}

# bench_agent INSTANCE N SERVICE REPLICATION [MAC]
bench_agent() {
    local h=$1 n=$2 ctl_target="tcp:10.9.0.254:$AGENT_PORT"
    local repl_target="ptcp:7000:10.9.0.$n" tls=()
    if [ "${BENCH_TLS:-0}" = 1 ]; then
        ctl_target="ssl:10.9.0.254:$AGENT_PORT"
        repl_target="pssl:7000:10.9.0.$n"
        tls=(--private-key="$SFM_PKI/$h-privkey.pem"
             --certificate="$SFM_PKI/$h-cert.pem"
             --ca-cert="$SFM_PKI/ca/controllerca/cacert.pem"
             --repl-ca-cert="$SFM_PKI/ca/switchca/cacert.pem")
    fi
    if ! ip link show "r-$h" >/dev/null 2>&1; then
        ip link add "r-$h" type veth peer name rep0
        ip link set rep0 netns "$(sfm_netns "$h")"
        ip link set "r-$h" master sfmrep up
        nsx "$h" ip addr add "10.9.0.$n/24" dev rep0
        nsx "$h" ip link set rep0 up
    fi
    rm -f "$OVS_RUNDIR/agent-$h.pid"
    nsx "$h" "$BIN/sfmesh-agent" --detach --no-chdir -vconsole:off \
        --pidfile="$OVS_RUNDIR/agent-$h.pid" \
        --log-file="$OVS_LOGDIR/agent-$h.log" \
        --unixctl="$OVS_RUNDIR/agent-$h.ctl" --instance="$h" \
        --service="$3" --iface=eth0 \
        --controller="$ctl_target" "${tls[@]}" \
        --repl-listen="$repl_target" --replication="$4" \
        || sfm_die "agent $h did not start"
    sfm_track_pidfile "$OVS_RUNDIR/agent-$h.pid"
}

# bench_controller CONFIG [OPTION...]
# (BENCH_TLS=1: after bench_pki, the agent listener is pssl:)
bench_controller() {
    local config=$1 agent_listen=ptcp:0:10.9.0.254 tls=(); shift
    if [ "${BENCH_TLS:-0}" = 1 ]; then
        agent_listen=pssl:0:10.9.0.254
        tls=("${SFM_TLS_OPTS[@]}")
    fi
    sfm_controller_start "$BIN/sfmesh-controller" --config="$config" \
        "${tls[@]}" --agent-listen="$agent_listen" "$@" ptcp:0:127.0.0.1
    AGENT_PORT=$(sed -n 's/.*listening for agents on p[a-z]*:10.9.0.254:\([0-9]*\).*/\1/p' \
                 "$OVS_LOGDIR/sfmesh-controller.log")
    [ -n "$AGENT_PORT" ] || sfm_die "no agent listener"
}

# Every configured switch connected, idle and in sync.
in_sync() {
    ctl switches 2>/dev/null | awk '/^switch / { n++; if (/IDLE, in sync/) ok++ }
        END { exit !(n && n == ok) }'
}

# All N agents up and warm, every instance up, every switch in sync, every
# map at its target (no handoff in progress or due).
agents_ready() {
    local n=$1
    [ "$(ctl agents 2>/dev/null | awk '$2 == "up" && $6 == "yes"' | wc -l)" = "$n" ] \
        && ! ctl instances | awk 'NR > 1' | grep -Eq ' (cold|down|disabled) ' \
        && in_sync \
        && ! ctl handoffs | grep "^service" \
             | grep -vq "in progress 0,.* pending 0,"
}

# The NSH C1 code OVS gives a flow entering on port $1 ($2: the match) of
# bridge $3 (default br0).  A code of 0 sets nothing the trace would
# report ("is now" lines show changes only): then it is read from the
# push_nsh of the datapath actions.
affinity_code() {
    local out code
    out=$(ovs-appctl ofproto/trace "${3:-br0}" "in_port=$1,$2")
    code=$(printf '%s\n' "$out" \
        | sed -n 's/.*NXOXM_NSH_C1\[\] is now \(0x[0-9a-f]*\).*/\1/p' | head -n 1)
    [ -n "$code" ] || code=$(printf '%s\n' "$out" \
        | sed -n 's/^Datapath actions: push_nsh([^)]*c1=\(0x[0-9a-f]*\).*/\1/p' \
        | head -n 1)
    echo "$code"
}

# Starts a sequence-numbered UDP stream from the client (source port $2)
# to the server's port DPORT, RATE packets a second for STREAM_S seconds,
# recorded under $1 (.bin, .recv, .send); the receiver stops $3 s after
# it started, or once $4 ms (default 700) pass without a packet.  Waits for
# the receiver and sets UDP_RECV and UDP_SEND to the two pids.
udp_stream_start() {
    local rec=$1 sport=$2 idle=$3 quiet_ms=${4:-700}
    rm -f "$rec.ready"
    ip netns exec "$(sfm_netns server)" "$HELPERS/udpseq" recv 10.0.0.2 \
        "$DPORT" "$rec.bin" "$rec.ready" "$quiet_ms" "$idle" > "$rec.recv" &
    UDP_RECV=$!
    SFM_PIDS+=("$UDP_RECV")
    sfm_wait_until test -e "$rec.ready" || sfm_die "no receiver"
    ip netns exec "$(sfm_netns client)" "$HELPERS/udpseq" send 10.0.0.2 \
        "$DPORT" "$sport" "$RATE" "$STREAM_S" > "$rec.send" &
    UDP_SEND=$!
    SFM_PIDS+=("$UDP_SEND")
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2];
    else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# The two-service chain of docs/examples/two-service-chain.yaml with every
# instance running sfmesh-agent (service $1, replication $2; BENCH_TLS=1:
# the agent channel and replication over TLS).
CHAIN_INSTANCES="fw-1 fw-2 dlp-1 dlp-2 dlp-3"
bench_chain() {
    local h n=1
    bench_repnet
    sfm_ovs_start
    [ "${BENCH_TLS:-0}" = 1 ] && bench_pki $CHAIN_INSTANCES
    bench_controller "$top/docs/examples/two-service-chain.yaml"
    sfm_add_bridge br0 1
    bench_hosts
    bench_instances br0 $CHAIN_INSTANCES
    declare -gA NUM
    for h in $CHAIN_INSTANCES; do
        NUM[$h]=$n
        bench_agent "$h" "$n" "$1" "$2"
        n=$((n + 1))
    done
    SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 5 \
        || { ctl agents >&2; sfm_die "agents not all up and warm"; }
}
