# Hosts for multi-host tests: each host is a network namespace with an
# ovsdb-server and ovs-vswitchd of its own (the netdev datapath, one per
# namespace), joined to the others by an underlay network with OVS's
# userspace tunneling set-up (Documentation/howto/userspace-tunneling.rst):
# the underlay interface is a port of the host's bridge "br-phy", which
# holds the host's underlay address (and the host's database listens on it,
# port 6640), so that the tunnel ports of its other
# bridges reach the remote hosts through it (ovs/route learns the route
# from the address).  The underlay is a Linux bridge, "sfmul", in the
# test's own namespace, where the controller listens at 172.31.0.254.
#
# Source after ovs-harness.sh, inside sfm_enter_netns and sfm_setup.

SFM_UNDERLAY_NET=172.31.0
SFM_UNDERLAY_CTL=$SFM_UNDERLAY_NET.254

# Creates the underlay, with the controller's address on it.
sfm_hosts_init() {
    ip link add sfmul address 02:5f:6d:00:01:fe type bridge \
        || sfm_die "cannot create the underlay"
    ip addr add "$SFM_UNDERLAY_CTL/24" dev sfmul
    ip link set sfmul up
    # Packets of this namespace's stack reach the hosts' userspace
    # datapaths, which do not complete offloaded checksums.
    ethtool -K sfmul tx off >/dev/null 2>&1
}

# Creates the underlay and starts controller $1 on it with configuration
# $2, listening there for the switches and for the agents, whose n-th
# instance has the underlay address 172.31.0.(10 + n); sets AGENT_PORT.
sfm_hosts_controller_start() {
    sfm_hosts_init
    SFM_AGENT_NET=$SFM_UNDERLAY_NET SFM_AGENT_BASE=10
    sfm_controller_start "$1" --config="$2" \
        --agent-listen="ptcp:0:$SFM_UNDERLAY_CTL" "ptcp:0:$SFM_UNDERLAY_CTL"
    AGENT_PORT=$(sed -n "s/.*listening for agents on ptcp:$SFM_UNDERLAY_CTL:\([0-9]*\).*/\1/p" \
                 "$OVS_LOGDIR/sfmesh-controller.log" | tail -n 1)
    [ -n "$SFM_OF_PORT" ] && [ -n "$AGENT_PORT" ] || sfm_die "no listeners"
}

# Prints host $1's namespace.
sfm_host_ns() { printf '%s-h-%s\n' "$SFM_PREFIX" "$1"; }

# Runs "$@" in host $1's namespace, against its OVS.
hx() {
    local h=$1 d=$SFM_TMP/hosts/$1; shift
    ip netns exec "$(sfm_host_ns "$h")" env OVS_RUNDIR="$d/run" \
        OVS_DBDIR="$d/db" OVS_LOGDIR="$d/log" OVS_SYSCONFDIR="$d/etc" "$@"
}

# Starts host $1's ovsdb-server and ovs-vswitchd on its database.
sfm_host_daemons() {
    local h=$1 d=$SFM_TMP/hosts/$1
    hx "$h" ovsdb-server --detach --no-chdir --pidfile -vconsole:off \
        --log-file --remote="punix:$d/run/db.sock" "$d/db/conf.db" \
        || sfm_die "ovsdb-server of $h did not start"
    sfm_track_pidfile "$d/run/ovsdb-server.pid"
    hx "$h" ovs-vsctl --no-wait init || sfm_die "ovs-vsctl init ($h)"
    hx "$h" ovs-vswitchd --detach --no-chdir --pidfile -vconsole:off \
        --log-file --disable-system -vvconn:info \
        || sfm_die "ovs-vswitchd of $h did not start"
    sfm_track_pidfile "$d/run/ovs-vswitchd.pid"
}

# Gives host $1's br-phy (the ovs-vswitchd's own device) the host's
# underlay address 172.31.0.$2, and makes its database listen there.
sfm_host_underlay_up() {
    local h=$1 n=$2 ns
    ns=$(sfm_host_ns "$h")
    ip -n "$ns" addr replace "$SFM_UNDERLAY_NET.$n/24" dev br-phy
    ip -n "$ns" link set br-phy up
    # So do the host's own (its OpenFlow connection).
    ip netns exec "$ns" ethtool -K br-phy tx off >/dev/null 2>&1
    # The controller reaches the host's database over the underlay.
    hx "$h" ovs-appctl -t ovsdb-server ovsdb-server/add-remote \
        "ptcp:6640:$SFM_UNDERLAY_NET.$n" || sfm_die "no database remote ($h)"
}

# Adds host $1, the $2-th: its namespace, its OVS, and br-phy on the
# underlay with address 172.31.0.$2.
sfm_host_add() {
    local h=$1 n=$2 ns d=$SFM_TMP/hosts/$1
    ns=$(sfm_host_ns "$h")
    mkdir -p "$d/run" "$d/db" "$d/log" "$d/etc"
    ip netns add "$ns" || sfm_die "cannot create netns $ns"
    SFM_NETNS+=("$ns")
    ip -n "$ns" link set lo up
    hx "$h" ovsdb-tool create "$d/db/conf.db" \
        "$OVS_PKGDATADIR/vswitch.ovsschema" || sfm_die "ovsdb-tool ($h)"
    sfm_host_daemons "$h"

    hx "$h" ovs-vsctl add-br br-phy -- set bridge br-phy \
        datapath_type=netdev other-config:hwaddr=02:5f:6d:01:00:$(printf '%02x' "$n") \
        || sfm_die "no br-phy on $h"
    ip link add "ul-$h" type veth peer name ul0
    ip link set ul0 netns "$ns"
    ip link set "ul-$h" master sfmul up
    ethtool -K "ul-$h" tx off >/dev/null 2>&1
    ip -n "$ns" link set ul0 up
    hx "$h" ovs-vsctl add-port br-phy ul0 || sfm_die "no underlay port on $h"
    sfm_host_underlay_up "$h" "$n"
}

# Brings host $1, the $2-th, back after its daemons died: they start again
# on the database they had, so its bridges, ports and tunnels are as they
# were (the veths stayed in its namespace); br-phy, the ovs-vswitchd's
# tap device, gets its address again should it have gone with the daemon.
sfm_host_restart() {
    local h=$1 n=$2
    sfm_host_daemons "$h"
    sfm_wait_until sh -c "ip -n '$(sfm_host_ns "$h")' link show br-phy \
                          >/dev/null 2>&1" \
        || sfm_die "no br-phy on $h after its restart"
    sfm_host_underlay_up "$h" "$n"
}

# Adds bridge $2 to host $1 with datapath id $3 (a number), fail-mode
# secure, pointed at the controller's OpenFlow port $4 on the underlay.
sfm_host_bridge() {
    local h=$1 br=$2 dpid
    dpid=$(printf '%016x' "$3")
    hx "$h" ovs-vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev \
        fail-mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 \
        other-config:datapath-id="$dpid" other-config:disable-in-band=true \
        || sfm_die "cannot add bridge $br to $h"
    hx "$h" ovs-vsctl set-controller "$br" "tcp:$SFM_UNDERLAY_CTL:$4" -- \
        set controller "$br" max_backoff=1000 inactivity_probe=5000 \
        || sfm_die "cannot set the controller of $br on $h"
}

# Adds to bridge $2 of host $1 a VXLAN port $3 toward underlay address $4.
# (The controller enables BFD on it, through the host's database.)
sfm_host_tunnel() {
    hx "$1" ovs-vsctl add-port "$2" "$3" -- set interface "$3" type=vxlan \
        options:remote_ip="$4" || sfm_die "no tunnel $3 on $1"
}

# Creates namespace $SFM_PREFIX-$4 (unless it exists) and a veth pair: $3
# a port of bridge $2 on host $1, its peer "eth0" in the namespace.
sfm_host_port() {
    local h=$1 br=$2 port=$3 ns="$SFM_PREFIX-$4"
    sfm_netns_ensure "$ns"
    ip link add "$port" type veth peer name "$port-peer" \
        || sfm_die "cannot create veth $port"
    ip link set "$port" netns "$(sfm_host_ns "$h")"
    ip link set "$port-peer" netns "$ns" name eth0
    ip -n "$(sfm_host_ns "$h")" link set "$port" up
    ip -n "$ns" link set eth0 up
    hx "$h" ovs-vsctl add-port "$br" "$port" \
        || sfm_die "cannot add $port to $br on $h"
}

# Joins instance $2's namespace to the underlay, as a machine bridged to
# the hosts' physical network would be: a veth "m-$2" is a port of host
# $1's br-phy (a normal bridge), its peer "mgmt0" in the namespace has
# address 172.31.0.$3.  The agent's channel to the controller and its
# replication to the instances of other hosts then cross the underlay,
# and a host's cut underlay cuts them too.
sfm_host_mgmt_port() {
    local h=$1 inst=$2 hns ns
    hns=$(sfm_host_ns "$h") ns=$(sfm_netns "$inst")
    ip link add "m-$inst" type veth peer name mgmt0 \
        || sfm_die "cannot create the management port of $inst"
    ip link set "m-$inst" netns "$hns"
    ip link set mgmt0 netns "$ns"
    ip -n "$hns" link set "m-$inst" up
    # The userspace datapath does not complete offloaded checksums.
    ip netns exec "$hns" ethtool -K "m-$inst" tx off >/dev/null 2>&1
    ip netns exec "$ns" ethtool -K mgmt0 tx off >/dev/null 2>&1
    ip -n "$ns" addr add "$SFM_UNDERLAY_NET.$3/24" dev mgmt0
    ip -n "$ns" link set mgmt0 up
    hx "$h" ovs-vsctl add-port br-phy "m-$inst" \
        || sfm_die "cannot add the management port of $inst to $h"
}

# Succeeds if bridge $2 of host $1 reports a connected controller.
sfm_host_connected() {
    hx "$1" ovs-vsctl --columns=is_connected --bare list controller \
        2>/dev/null | grep -qx true
}
