# sfmesh private OVS harness, sourced by tests, the demo and benchmarks.
#
#   . tests/lib/ovs-harness.sh
#   sfm_enter_netns "$0" "$@"     # re-run the script in a network namespace
#   sfm_setup NAME                # temp dir, OVS_* variables, cleanup trap
#   sfm_ovs_start                 # private ovsdb-server and ovs-vswitchd
#   sfm_controller_start BIN ARGS # sfmesh-controller on a free port
#   sfm_add_bridge br0 1          # netdev bridge, fail-mode=secure, dpid 1
#   sfm_add_veth_port br0 p1 h1   # veth p1 on br0, its peer in netns h1
#
# Everything runs inside a network namespace of its own (unshare -n): the
# netdev datapath's "ovs-netdev" tap exists once per namespace, so this lets
# tests run beside a system OVS and leaves the host's network untouched.
# Cleanup runs on every exit path and kills only the pids this harness
# started.

SFM_PIDS=()          # Daemons started, killed on cleanup.
SFM_NETNS=()         # Named network namespaces created, deleted on cleanup.
SFM_KEEP=${SFM_KEEP:-0}

sfm_log() { printf '%s\n' "$*" >&2; }
sfm_die() { sfm_log "FAIL: $*"; exit 1; }

# Re-executes the calling script inside a new network namespace, unless it
# already runs in one.  Call as: sfm_enter_netns "$0" "$@".
sfm_enter_netns() {
    if [ "${SFMESH_IN_NETNS:-}" != 1 ]; then
        export SFMESH_IN_NETNS=1
        exec unshare --net --fork --kill-child -- bash "$@"
    fi
    ip link set lo up
}

# Creates the temp directory and OVS_* variables and installs the cleanup
# trap.  $1 names the run (used in the temp directory's name).
sfm_setup() {
    SFM_NAME=${1:-sfmesh}
    SFM_TMP=$(mktemp -d "/tmp/sfmesh-$SFM_NAME.XXXXXX")
    export OVS_RUNDIR=$SFM_TMP/run OVS_DBDIR=$SFM_TMP/db \
           OVS_LOGDIR=$SFM_TMP/log OVS_SYSCONFDIR=$SFM_TMP/etc \
           OVS_PKGDATADIR=/usr/share/openvswitch
    mkdir -p "$OVS_RUNDIR" "$OVS_DBDIR" "$OVS_LOGDIR" "$OVS_SYSCONFDIR"
    # A short prefix for netns names, unique per run.
    SFM_PREFIX="sfm$$"
    trap sfm_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Kills the daemons this harness started (by pid), deletes its namespaces
# and, unless SFM_KEEP=1 or the run failed, its temp directory.
sfm_cleanup() {
    local status=$? pid ns i
    trap - EXIT
    for ((i = ${#SFM_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${SFM_PIDS[i]}
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${SFM_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    done
    for ns in "${SFM_NETNS[@]}"; do
        ip netns delete "$ns" 2>/dev/null
    done
    if [ -n "${SFM_TMP:-}" ]; then
        if [ "$status" != 0 ] || [ "$SFM_KEEP" = 1 ]; then
            sfm_log "logs kept in $SFM_TMP"
            if [ "$status" != 0 ]; then
                for f in "$OVS_LOGDIR"/*.log; do
                    [ -f "$f" ] || continue
                    sfm_log "--- last lines of $f"
                    tail -n 15 "$f" >&2
                done
            fi
        else
            rm -rf "$SFM_TMP"
        fi
    fi
    exit "$status"
}

# Runs "$@" until it succeeds or $SFM_WAIT_TIMEOUT (default 10) seconds pass.
sfm_wait_until() {
    local deadline=$((SECONDS + ${SFM_WAIT_TIMEOUT:-10}))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# True if the command $2... prints a number greater than $1.  For
# sfm_wait_until, which runs it anew each time (whereas a "$(...)" among
# its arguments is expanded once, before the wait).
sfm_output_gt() {
    local n=$1 out
    shift
    out=$("$@" 2>/dev/null) || return 1
    [ "$out" -gt "$n" ] 2>/dev/null
}

# Records the pid in pidfile $1 as one of ours.
sfm_track_pidfile() {
    sfm_wait_until test -s "$1" || sfm_die "no pidfile $1"
    SFM_PIDS+=("$(cat "$1")")
}

# Starts a private ovsdb-server and ovs-vswitchd (userspace datapath only).
sfm_ovs_start() {
    ovsdb-tool create "$OVS_DBDIR/conf.db" \
        "$OVS_PKGDATADIR/vswitch.ovsschema" || sfm_die "ovsdb-tool create"
    ovsdb-server --detach --no-chdir --pidfile -vconsole:off --log-file \
        --remote="punix:$OVS_RUNDIR/db.sock" "$OVS_DBDIR/conf.db" \
        || sfm_die "ovsdb-server did not start"
    sfm_track_pidfile "$OVS_RUNDIR/ovsdb-server.pid"
    ovs-vsctl --no-wait init || sfm_die "ovs-vsctl init"
    ovs-vswitchd --detach --no-chdir --pidfile -vconsole:off --log-file \
        --disable-system \
        -vvconn:info -vofproto_dpif:info \
        || sfm_die "ovs-vswitchd did not start"
    sfm_track_pidfile "$OVS_RUNDIR/ovs-vswitchd.pid"
}

# Starts sfmesh-controller ($1) with the remaining arguments (default:
# ptcp:0:127.0.0.1) and sets SFM_CTL (its control socket) and SFM_OF_PORT
# (the TCP port its last ptcp: or pssl: listener took, if any).
sfm_controller_start() {
    local bin=$1; shift
    [ $# -gt 0 ] || set -- ptcp:0:127.0.0.1
    SFM_CTL=$OVS_RUNDIR/sfmesh-controller.ctl
    "$bin" --detach --no-chdir --pidfile -vconsole:off --log-file \
        --unixctl="$SFM_CTL" "$@" || sfm_die "sfmesh-controller did not start"
    sfm_track_pidfile "$OVS_RUNDIR/sfmesh-controller.pid"
    SFM_OF_PORT=$(sed -n 's/.*listening on p\(tcp\|ssl\):\([0-9]*\):.*/\2/p' \
                  "$OVS_LOGDIR/sfmesh-controller.log" | tail -n 1)
}

# Makes a PKI with ovs-pki in $SFM_TMP/pki (SFM_PKI): its two CAs in ca/
# (switchca signs the switches, controllerca the controllers), a controller
# certificate ctl-cert.pem with ctl-privkey.pem and a switch certificate
# sc-cert.pem with sc-privkey.pem.  Sets SFM_TLS_OPTS to the controller's
# options for them.
sfm_pki_init() {
    SFM_PKI=$SFM_TMP/pki
    mkdir -p "$SFM_PKI"
    sfm_pki init && sfm_pki req+sign ctl controller \
        && sfm_pki req+sign sc switch || sfm_die "ovs-pki failed"
    SFM_TLS_OPTS=(--private-key="$SFM_PKI/ctl-privkey.pem"
                  --certificate="$SFM_PKI/ctl-cert.pem"
                  --ca-cert="$SFM_PKI/ca/switchca/cacert.pem")
}

# Runs ovs-pki "$@" on the PKI of sfm_pki_init(), in its directory.
sfm_pki() {
    (cd "$SFM_PKI" && ovs-pki --dir="$SFM_PKI/ca" --log="$SFM_PKI/log" \
         "$@" >>"$SFM_PKI/log" 2>&1)
}

# Gives the private ovs-vswitchd the switch certificate of sfm_pki_init(),
# trusting the controllers' CA (as an operator would, with set-ssl).
sfm_ovs_set_ssl() {
    ovs-vsctl set-ssl "$SFM_PKI/sc-privkey.pem" "$SFM_PKI/sc-cert.pem" \
        "$SFM_PKI/ca/controllerca/cacert.pem" || sfm_die "set-ssl"
}

# Adds netdev bridge $1 with datapath id $2 (a number), fail-mode=secure,
# OpenFlow 1.3 to 1.5 (and 1.0, so that plain ovs-ofctl works), pointed at
# the controller on SFM_OF_PORT.
sfm_add_bridge() {
    local br=$1 dpid
    dpid=$(printf '%016x' "$2")
    ovs-vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev \
        fail-mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15 \
        other-config:datapath-id="$dpid" other-config:disable-in-band=true \
        || sfm_die "cannot add bridge $br"
    if [ -n "${SFM_OF_PORT:-}" ]; then
        sfm_set_controller "$br" "tcp:127.0.0.1:$SFM_OF_PORT"
    fi
}

# Points bridge $1 at controller target $2 with a fast reconnect.
sfm_set_controller() {
    ovs-vsctl set-controller "$1" "$2" -- \
        set controller "$1" max_backoff=1000 inactivity_probe=5000 \
        || sfm_die "cannot set controller of $1"
}

# Succeeds if bridge $1 reports a connected controller.
sfm_bridge_connected() {
    ovs-vsctl --columns=is_connected --bare list controller 2>/dev/null \
        | grep -qx true
}

# Creates network namespace $1, with its loopback up, unless it exists;
# it is deleted at cleanup.
sfm_netns_ensure() {
    if ! ip netns list | grep -qw "$1"; then
        ip netns add "$1" || sfm_die "cannot create netns $1"
        SFM_NETNS+=("$1")
        ip -n "$1" link set lo up
    fi
}

# Creates network namespace $SFM_PREFIX-$3 (unless it exists) and a veth
# pair: $2 on bridge $1, its peer "eth0" in the namespace, both up.
sfm_add_veth_port() {
    local br=$1 port=$2 ns="$SFM_PREFIX-$3"
    sfm_netns_ensure "$ns"
    ip link add "$port" type veth peer name "$port-peer" \
        || sfm_die "cannot create veth $port"
    ip link set "$port-peer" netns "$ns" name eth0
    ip link set "$port" up
    ip -n "$ns" link set eth0 up
    ovs-vsctl add-port "$br" "$port" || sfm_die "cannot add $port to $br"
}

# Prints the namespace name of host $1.
sfm_netns() { printf '%s-%s\n' "$SFM_PREFIX" "$1"; }

# Fails if the OVS logs have WARN, ERR or EMER lines other than those that
# match the extended regex $1 (optional).  Like OVS's own testsuite, a test
# lists the warnings it expects.
sfm_check_ovs_logs() {
    local allow=${1:-'^$'} bad
    # Known noise of a userspace-only OVS in a fresh namespace.
    local base='(ovs_numa|dpdk|could not open network device ovs-netdev|'\
'Dropped [0-9]+ log messages|connection dropped \(Connection refused\)|'\
'connection failed \(Connection refused\)|tc: )'
    bad=$(cat "$OVS_LOGDIR"/ovs-vswitchd.log "$OVS_LOGDIR"/ovsdb-server.log \
          2>/dev/null | grep -E '\|(WARN|ERR|EMER)\|' \
          | grep -Ev "$base" | grep -Ev "$allow" || true)
    if [ -n "$bad" ]; then
        sfm_log "unexpected warnings in OVS logs:"
        sfm_log "$bad"
        return 1
    fi
}
