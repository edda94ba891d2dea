# The two-service chain of the example configuration with sfmesh-agent in
# every instance, on the private OVS of ovs-harness.sh: a client, a server,
# instances fw-1 fw-2 dlp-1 dlp-2 dlp-3, each in a network namespace of its
# own, and a replication network (a Linux bridge the instances and the
# controller share; the OVS bridge only carries steered traffic).
#
# Source after ovs-harness.sh, inside sfm_enter_netns and sfm_setup.  Uses
# BIN (the directory of the binaries), REPL (the replication mode),
# AGENT_SERVICE and AGENT_SERVICE_ARGS (the service and its options, if
# set); sets AGENT_PORT.  The agents' network (their channel to the
# controller and replication) is SFM_AGENT_NET (default 10.9.0): the
# controller at .254 and the n-th instance at .(SFM_AGENT_BASE + n), the
# base 0 unless set.  SFM_AGENT_CONTROLLERS, if set, is the agents'
# --controller list (several controllers).  With SFM_CHAIN_TLS=1 every channel runs TLS, with
# certificates from ovs-pki (sfm_chain_pki): OpenFlow, the agent channel
# and replication.

SFM_INSTANCES="fw-1 fw-2 dlp-1 dlp-2 dlp-3"
SFM_AGENT_NET=${SFM_AGENT_NET:-10.9.0}
SFM_AGENT_BASE=${SFM_AGENT_BASE:-0}
SFM_PY=/usr/bin/python3
SFM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
actl() { local h=$1; shift; "$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$h.ctl" "$@"; }
nsx() { local ns; ns=$(sfm_netns "$1"); shift; ip netns exec "$ns" "$@"; }

# Makes the PKI of a TLS chain (sfm_pki_init): the controller's and the
# switch's certificates, and one per instance (its name is the
# certificate's), signed by the switch CA.  Agents trust the controller CA
# for their channel and the switch CA for replication.
sfm_chain_pki() {
    local h
    sfm_pki_init
    for h in $SFM_INSTANCES; do
        sfm_pki req+sign "$h" switch || sfm_die "no certificate for $h"
    done
}

# Starts the controller with the configuration SFM_CHAIN_CONFIG (default:
# the example) and the extra arguments "$@" (default: any free ports), and
# sets AGENT_PORT.
sfm_chain_controller_start() {
    if [ "${SFM_CHAIN_TLS:-0}" = 1 ]; then
        [ $# -gt 0 ] || set -- --agent-listen=pssl:0:10.9.0.254 \
                               pssl:0:127.0.0.1
        set -- "${SFM_TLS_OPTS[@]}" "$@"
    fi
    [ $# -gt 0 ] || set -- --agent-listen=ptcp:0:10.9.0.254 ptcp:0:127.0.0.1
    sfm_controller_start "$BIN/sfmesh-controller" \
        --config="${SFM_CHAIN_CONFIG:-$SFM_TOP/docs/examples/two-service-chain.yaml}" \
        --ovsdb="unix:$OVS_RUNDIR/db.sock" "$@"
    AGENT_PORT=$(sed -n 's/.*listening for agents on p[a-z]*:10.9.0.254:\([0-9]*\).*/\1/p' \
                 "$OVS_LOGDIR/sfmesh-controller.log" | tail -n 1)
    [ -n "$AGENT_PORT" ] || sfm_die "no agent listener"
}

# Starts the agent of instance $1, the $2-th of SFM_INSTANCES.
sfm_chain_agent_start() {
    local h=$1 n=$2 net=$SFM_AGENT_NET
    local ctl_target=${SFM_AGENT_CONTROLLERS:-tcp:$net.254:$AGENT_PORT}
    local repl_target="ptcp:7000:$net.$((SFM_AGENT_BASE + n))" tls=()
    if [ "${SFM_CHAIN_TLS:-0}" = 1 ]; then
        ctl_target="ssl:$net.254:$AGENT_PORT"
        repl_target="pssl:7000:$net.$((SFM_AGENT_BASE + n))"
        tls=(--private-key="$SFM_PKI/$h-privkey.pem"
             --certificate="$SFM_PKI/$h-cert.pem"
             --ca-cert="$SFM_PKI/ca/controllerca/cacert.pem"
             --repl-ca-cert="$SFM_PKI/ca/switchca/cacert.pem")
    fi
    nsx "$h" "$BIN/sfmesh-agent" --detach --no-chdir -vconsole:off \
        --pidfile="$OVS_RUNDIR/agent-$h.pid" \
        --log-file="$OVS_LOGDIR/agent-$h.log" \
        --unixctl="$OVS_RUNDIR/agent-$h.ctl" --instance="$h" \
        --service="${AGENT_SERVICE:-stateful-fw}" --iface=eth0 \
        ${AGENT_SERVICE_ARGS:+--service-args="$AGENT_SERVICE_ARGS"} \
        --controller="$ctl_target" "${tls[@]}" \
        --repl-listen="$repl_target" --replication="$REPL" \
        ${AGENT_EXTRA_ARGS:-} \
        || sfm_die "agent $h did not start"
    sfm_track_pidfile "$OVS_RUNDIR/agent-$h.pid"
}

# Starts the agent of every instance of SFM_INSTANCES.
sfm_chain_agents_start() {
    local h n=1
    for h in $SFM_INSTANCES; do
        sfm_chain_agent_start "$h" "$n"
        n=$((n + 1))
    done
}

# Succeeds if every agent (SFM_CHAIN_AGENTS of them, default 5) is
# connected and warm, as many instances up (their BFD sessions too), the
# switch in sync and every map at its target (no handoff in progress or
# due).
sfm_chain_ready() {
    [ "$(ctl agents | awk '$2 == "up" && $6 == "yes"' | wc -l)" \
      = "${SFM_CHAIN_AGENTS:-5}" ] \
        && [ "$(ctl instances | awk 'NR > 1 && $6 == "up"' | wc -l)" \
             = "${SFM_CHAIN_AGENTS:-5}" ] \
        && ctl switches | grep -q "IDLE, in sync" \
        && ! ctl handoffs | grep "^service" \
             | grep -vq "in progress 0,.* pending 0,"
}

# Creates the replication network: a Linux bridge with the controller's
# agent listener address, 10.9.0.254.  A fixed MAC: a Linux bridge
# otherwise takes the lowest MAC of its ports, and adding a port would
# change the controller's address under the agents.
sfm_chain_repnet() {
    ip link add sfmrep address 02:5f:6d:00:00:fe type bridge
    ip addr add 10.9.0.254/24 dev sfmrep
    ip link set sfmrep up
}

# Joins instance $1's namespace to the replication network as 10.9.0.$2
# (interface rep0).
sfm_chain_rep_port() {
    ip link add "r-$1" type veth peer name rep0
    ip link set rep0 netns "$(sfm_netns "$1")"
    ip link set "r-$1" master sfmrep up
    nsx "$1" ip addr add "10.9.0.$2/24" dev rep0
    nsx "$1" ip link set rep0 up
}

# Builds the whole chain: OVS, the controller, the hosts, the agents; waits
# until it is ready.
sfm_chain_setup() {
    local h n
    sfm_chain_repnet

    sfm_ovs_start
    if [ "${SFM_CHAIN_TLS:-0}" = 1 ]; then
        sfm_chain_pki
        sfm_ovs_set_ssl
    fi
    sfm_chain_controller_start
    sfm_add_bridge br0 1
    if [ "${SFM_CHAIN_TLS:-0}" = 1 ]; then
        sfm_set_controller br0 "ssl:127.0.0.1:$SFM_OF_PORT"
    fi
    for h in client server $SFM_INSTANCES; do
        sfm_add_veth_port br0 "$h" "$h"
        nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    done
    nsx client ip addr add 10.0.0.1/24 dev eth0
    nsx server ip addr add 10.0.0.2/24 dev eth0
    for h in client server; do
        nsx "$h" ethtool -K eth0 tx off >/dev/null
    done
    n=1
    for h in $SFM_INSTANCES; do
        ip link set "$h" mtu 1600
        nsx "$h" ip link set eth0 mtu 1600
        sfm_chain_rep_port "$h" "$n"
        n=$((n + 1))
    done
    sfm_chain_agents_start
    SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_chain_ready \
        || { ctl agents >&2; sfm_die "agents not all up and warm"; }
}

# Prints the source ports, of $2 connections from port 41000 on, whose
# streams have instance $1 as primary of service dlp.
sfm_chain_streams_of() {
    local victim=$1 n=$2 i sport code bucket primary client_port
    client_port=$(ovs-vsctl get interface client ofport)
    for i in $(seq 0 $((n - 1))); do
        sport=$((41000 + i))
        code=$(ovs-appctl ofproto/trace br0 "in_port=$client_port,tcp,\
nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=$sport,tp_dst=5001" \
               | sed -n 's/.*NXOXM_NSH_C1\[\] is now \(0x[0-9a-f]*\).*/\1/p')
        bucket=$((code & 255))
        primary=$(ctl map dlp | awk -v b="$bucket" '$1 == b && NF == 3 {print $2}')
        [ "$primary" = "$victim" ] && echo "$sport"
    done
}

# Starts the echo server.
sfm_chain_server_start() {
    ip netns exec "$(sfm_netns server)" "$SFM_PY" "$SFM_TOP/topo/traffic.py" \
        tcp-server 10.0.0.2 5001 "$SFM_TMP/server.ready" & SFM_PIDS+=($!)
    sfm_wait_until test -e "$SFM_TMP/server.ready" || sfm_die "no server"
}

# Starts client $1: $2 connections from source port $3 on, carrying data
# for $4 seconds, and waits until they are connected; sets SFM_CLIENT to
# its pid.
sfm_chain_client_start() {
    ip netns exec "$(sfm_netns client)" "$SFM_PY" "$SFM_TOP/topo/traffic.py" \
        tcp-client 10.0.0.2 5001 "$2" "$3" "$4" 512 0.05 \
        "$SFM_TMP/$1.json" &
    SFM_CLIENT=$!
    sfm_wait_until test -e "$SFM_TMP/$1.json.started" \
        || sfm_die "client $1 did not connect"
}

# Starts the echo server and $1 client connections from port 41000 on,
# carrying data for $2 seconds (client "result"); sets SFM_CLIENT to the
# client's pid.
sfm_chain_traffic_start() {
    sfm_chain_server_start
    sfm_chain_client_start result "$1" 41000 "$2"
}

# Waits for the client to finish.
sfm_chain_traffic_wait() {
    wait "$SFM_CLIENT" || sfm_die "client failed"
}

# Prints, once client $1 (default "result") finished, "SURVIVED FAILED
# LONGEST_GAP_MS", FAILED being the failed connections' source ports joined
# by commas, or "-".
sfm_chain_traffic_result() {
    "$SFM_PY" -c '
import json, sys
conns = json.load(open(sys.argv[1]))["conns"]
failed = sorted(c["sport"] for c in conns if not c["survived"])
print(len(conns) - len(failed), ",".join(map(str, failed)) or "-",
      max(c["max_gap_ms"] for c in conns))' "$SFM_TMP/${1:-result}.json"
}
