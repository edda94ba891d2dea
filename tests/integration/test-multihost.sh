#!/usr/bin/env bash
# A chain across three hosts (tests/lib/hosts.sh): each host its own OVS
# in a namespace of its own, the hosts' switches joined by VXLAN tunnels
# over an underlay (OVS userspace tunneling), the tunnels declared as the
# configuration's links.  The controller, in the test's namespace,
# programs the three switches over the underlay, and through each host's
# database enables BFD on its tunnels and instance interfaces;
# sfmesh-agent runs in every instance with async replication; the agents'
# channel and their replication cross the underlay too (each instance's
# management port is bridged onto its host's br-phy).
#
#   h1 (s1): client, fw-1, dlp-1, dlp-3     h2 (s2): server, fw-2
#   h3 (s3): dlp-2                          tunnels: s1-s2, s1-s3, s2-s3
#
# The switches name their hosts, so the map gives every bucket a
# secondary on another host than its primary: each bucket of dlp-1 or
# dlp-3 has dlp-2 as secondary, never the other instance on h1.
# 24 TCP connections run through the chain; frames cross the tunnels
# with their NSH header (checked at the tunnels' counters and by the
# connections working at all, since only NSH is taken from a link); then
# the agent of dlp-1 is killed, whose buckets fail over to dlp-2 on
# another host, and every connection must survive.  Then, under new
# connections, h3's underlay is cut and comes back, then flaps (the
# controller damps the links to h3), and then host h3 dies
# whole (its OVS and dlp-2's agent at once): BFD on the tunnels takes them
# down at the other hosts, and every connection survives each time.  At
# last h3 comes back, and the chain with it.
#
# Usage: test-multihost.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
REPL=async
N_CONNS=24
sfm_setup multihost
. "$top/tests/lib/agent-chain.sh"
. "$top/tests/lib/hosts.sh"
say() { printf '  [multihost] %s\n' "$*" >&2; }

cp "$top/docs/examples/three-hosts.yaml" "$SFM_TMP/config.yaml"

# The underlay, and the controller on it for the switches and the agents.
sfm_hosts_controller_start "$BIN/sfmesh-controller" "$SFM_TMP/config.yaml"

# The hosts, their switches and the tunnels between them.
for n in 1 2 3; do
    sfm_host_add "h$n" "$n"
    sfm_host_bridge "h$n" "s$n" "$n" "$SFM_OF_PORT"
done
for pair in 1:2 1:3 2:3; do
    a=${pair%:*} b=${pair#*:}
    sfm_host_tunnel "h$a" "s$a" "t-h$b" "$SFM_UNDERLAY_NET.$b"
    sfm_host_tunnel "h$b" "s$b" "t-h$a" "$SFM_UNDERLAY_NET.$a"
done

# Client, server and instances on their hosts; the instances also on the
# underlay, by their management ports.
place() { case $1 in client|fw-1|dlp-1|dlp-3) echo 1 ;; dlp-2) echo 3 ;; *) echo 2 ;; esac; }
for h in client server $SFM_INSTANCES; do
    n=$(place "$h")
    sfm_host_port "h$n" "s$n" "$h" "$h"
    nsx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
# The tunnels' 50 bytes and NSH's 38 on the underlay's 1500: the client's
# and server's segments stay small enough.
for h in client server; do
    nsx "$h" ip link set eth0 mtu 1400
    nsx "$h" ethtool -K eth0 tx off >/dev/null
done
nsx client ip addr add 10.0.0.1/24 dev eth0
nsx server ip addr add 10.0.0.2/24 dev eth0
n=1
for h in $SFM_INSTANCES; do
    sfm_host_mgmt_port "h$(place "$h")" "$h" $((SFM_AGENT_BASE + n))
    n=$((n + 1))
done
for n in 1 2 3; do
    SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_host_connected "h$n" \
        || sfm_die "s$n did not connect over the underlay"
done
sfm_chain_agents_start

in_sync() {
    [ "$(ctl switches | grep -c 'IDLE, in sync')" = 3 ] \
        && [ "$(ctl agents | awk '$2 == "up" && $6 == "yes"' | wc -l)" = 5 ] \
        && [ "$(ctl instances | awk 'NR > 1 && $6 == "up"' | wc -l)" = 5 ] \
        && ctl switches | grep -q "link s1:t-h2 - s2:t-h1: up" \
        && ! ctl handoffs | grep "^service" \
             | grep -vq "in progress 0,.* pending 0,"
}
anti_affine() { ctl map dlp | grep -q "anti-affinity: 0 buckets"; }
SFM_WAIT_TIMEOUT=30 sfm_wait_until in_sync \
    || { ctl switches >&2; ctl agents >&2; sfm_die "the hosts' chain did not come up"; }
tunnel_up() { hx "$1" ovs-vsctl get interface "$2" bfd_status:state 2>/dev/null \
              | grep -q up; }
tunnel_down() { ! tunnel_up "$@"; }
say "3 hosts, 3 switches in sync over the underlay, 5 agents up and warm"
# The start of BFD on a tunnel is not a flap: a tunnel counts down until
# its BFD is Up, not up by its carrier and then down when BFD starts.
ctl switches | grep '^link' | grep -q flaps \
    && { ctl switches >&2; sfm_die "a tunnel counted a flap at the start"; }
# The controller wrote the tunnels' BFD into each host's database, with
# the configuration's intervals.
for t in "h1 t-h2" "h2 t-h3" "h3 t-h1"; do
    [ "$(hx ${t% *} ovs-vsctl get interface ${t#* } bfd:min_rx)" = '"100"' ] \
        || sfm_die "no BFD from the configuration on $t"
done
[ "$(ctl bfd | grep -c '^host h[123]: database tcp:172.31.0.[123]:6640: connected')" = 3 ] \
    || { ctl bfd >&2; sfm_die "the hosts' databases are not all connected"; }
[ "$(ctl hosts | grep -c '^  switch s[123]: connected$')" = 3 ] \
    && [ "$(ctl hosts | grep -c '^  tunnel .*: up$')" = 6 ] \
    || { ctl hosts >&2; sfm_die "sfmesh-ctl hosts: not every switch and tunnel"; }

# The tunnels as the hosts' databases hold them: each to its peer's
# underlay address.  One pointed elsewhere is reported, and never comes up.
[ "$(ctl hosts | grep -c '^  s[123]:t-h[123] (host h[123]): vxlan to 172.31.0.[123]: ok$')" = 6 ] \
    || { ctl hosts >&2; sfm_die "the tunnels are not all as configured"; }
hx h1 ovs-vsctl set interface t-h2 options:remote_ip=172.31.0.99
sfm_wait_until tunnel_down h1 t-h2 || sfm_die "a tunnel to nowhere is up"
ctl hosts | grep -qF "s1:t-h2 (host h1): vxlan to 172.31.0.99: wrong remote (host h2 is 172.31.0.2)" \
    || { ctl hosts >&2; sfm_die "the wrong remote is not reported"; }
sfm_wait_until sh -c "'$BIN/sfmesh-ctl' -t '$SFM_CTL' switches \
    | grep -q 'link s1:t-h2 - s2:t-h1: down'" \
    || sfm_die "the link with a wrong remote counts as up"
hx h1 ovs-vsctl set interface t-h2 options:remote_ip=172.31.0.2
SFM_WAIT_TIMEOUT=20 sfm_wait_until in_sync \
    || { ctl switches >&2; sfm_die "the tunnel did not come back"; }
say "a tunnel to a wrong remote: reported, its link down; fixed, back up"

# Anti-affinity: no bucket pairs dlp-1 with dlp-3, both on h1.
ctl map dlp | grep -q "anti-affinity: 0 buckets" \
    || { ctl map dlp >&2; sfm_die "anti-affinity not met"; }
pairs=$(ctl map dlp | awk 'NF == 3 && $1 ~ /^[0-9]+$/ {print $2 "/" $3}' \
        | sort | uniq -c | sed 's/^ *//' | paste -sd' ' -)
printf '%s\n' "$pairs" | grep -Eq "dlp-1/dlp-3|dlp-3/dlp-1|/-" \
    && sfm_die "buckets pair the two instances of h1, or have no secondary: $pairs"
say "dlp buckets by primary/secondary: $pairs"

# The tunnels carry the chain: frames that left s1 toward s2 arrive there.
# (OpenFlow's port counters: the database's are updated every 5 s.)
port_pkts() {                           # HOST SWITCH PORT rx|tx
    hx "$1" ovs-ofctl -O OpenFlow15 dump-ports "$2" "$3" \
        | sed -n "s/.*$4 pkts=\([0-9]*\).*/\1/p"
}
tx_before=$(port_pkts h1 s1 t-h2 tx) rx_before=$(port_pkts h2 s2 t-h1 rx)
sfm_chain_traffic_start "$N_CONNS" 8
sleep 2
tx=$(( $(port_pkts h1 s1 t-h2 tx) - tx_before ))
rx=$(( $(port_pkts h2 s2 t-h1 rx) - rx_before ))
[ "$tx" -gt 100 ] && [ "$rx" -gt 100 ] \
    || sfm_die "the tunnel s1-s2 carried $tx/$rx packets"
say "tunnel s1-s2 in 2 s: $tx packets out of h1, $rx into h2"

kill -KILL "$(cat "$OVS_RUNDIR/agent-dlp-1.pid")"
say "killed the agent of dlp-1 (host h1; its secondary on h3) at $(date +%T.%3N)"
sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result)
say "$survived of $N_CONNS survived; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost across hosts: $failed"

# A whole host dies: h3, with dlp-2, the secondary of every bucket of h1's
# instances and the primary of others.  First dlp-1 comes back (cold, then
# warm).
sfm_chain_agent_start dlp-1 3
SFM_WAIT_TIMEOUT=30 sfm_wait_until in_sync \
    || { ctl agents >&2; sfm_die "dlp-2 did not come back"; }
for t in "h1 t-h3" "h2 t-h3"; do
    sfm_wait_until tunnel_up $t || sfm_die "BFD not up on $t"
done
# (Handoffs bring the buckets back to their targets, which pair no two
# instances of h1; on the way, a bucket may for a moment.)
SFM_WAIT_TIMEOUT=20 sfm_wait_until anti_affine \
    || { ctl map dlp >&2; ctl handoffs >&2;
         sfm_die "anti-affinity not met after the repair"; }

# h3's underlay is cut under traffic, then comes back: BFD takes the
# tunnels down and up, the controller takes dlp-2 out of the maps (no path
# reaches it, and its agent's channel, over the same underlay, times out),
# and every connection survives.
sfm_chain_client_start cut "$N_CONNS" 43000 8
sleep 2
ip link set ul-h3 down
say "cut the underlay of h3 at $(date +%T.%3N)"
for t in "h1 t-h3" "h2 t-h3"; do
    sfm_wait_until tunnel_down $t || sfm_die "BFD still up on $t"
done
sfm_wait_until sh -c "'$BIN/sfmesh-ctl' -t '$SFM_CTL' switches \
    | grep -q 'link s1:t-h3 - s3:t-h1: down'" \
    || { ctl switches >&2; sfm_die "the link to h3 not down"; }
ctl hosts > "$SFM_TMP/hosts-cut.txt"
for t in "tunnel s1:t-h3 -> host h3 (s3:t-h1): down" \
         "tunnel s2:t-h3 -> host h3 (s3:t-h2): down" \
         "tunnel s1:t-h2 -> host h2 (s2:t-h1): up"; do
    grep -qF "$t" "$SFM_TMP/hosts-cut.txt" \
        || { cat "$SFM_TMP/hosts-cut.txt" >&2; sfm_die "hosts: no \"$t\""; }
done
say "hosts: $(grep -c '^  tunnel .*: down$' "$SFM_TMP/hosts-cut.txt") tunnel ends down; dlp-2 $(sed -n 's/.*instance dlp-2 (dlp): //p' "$SFM_TMP/hosts-cut.txt")"
sleep 1
ip link set ul-h3 up
say "underlay of h3 back at $(date +%T.%3N)"
sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result cut)
say "$survived of $N_CONNS survived the cut; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost with the cut: $failed"
for t in "h1 t-h3" "h2 t-h3"; do
    SFM_WAIT_TIMEOUT=20 sfm_wait_until tunnel_up $t \
        || sfm_die "BFD not back up on $t"
done
SFM_WAIT_TIMEOUT=30 sfm_wait_until in_sync \
    || { ctl agents >&2; ctl switches >&2; sfm_die "h3 did not come back"; }
say "h3 back: tunnels up, maps at their targets"

# h3's underlay flaps under traffic: four cuts of 0.6 s, 1.5 s apart.  The
# controller damps the links to h3 (link_damping: the hold doubles at each
# flap): it takes them back at most once while they flap, not at each
# return, and holds them down after the last one although BFD is up again,
# so dlp-2 stays out of the maps instead of bouncing; every connection
# survives.
log=$OVS_LOGDIR/sfmesh-controller.log
mark=$(wc -l < "$log")
sfm_chain_client_start flap "$N_CONNS" 45000 10
for i in 1 2 3 4; do
    ip link set ul-h3 down
    sleep 0.6
    ip link set ul-h3 up
    sleep 0.9
done
say "flapped the underlay of h3 four times"
sfm_wait_until tunnel_up h1 t-h3 || sfm_die "BFD not back up on h1 t-h3"
ctl switches | grep -q "link s1:t-h3 - s3:t-h1: down, damped for" \
    || { ctl switches >&2; sfm_die "the flapping link is not damped"; }
ctl hosts | grep -qF "tunnel s1:t-h3 -> host h3 (s3:t-h1): down (damped)" \
    || { ctl hosts >&2; sfm_die "hosts: the flapping tunnel not damped"; }
ups=$(tail -n +"$((mark + 1))" "$log" \
      | grep -c "link s1:t-h3 - s3:t-h1 up: paths")
[ "$ups" -le 1 ] || sfm_die "the flapping link came back $ups times"
say "damped: $(ctl switches | sed -n 's/^link s1:t-h3 - s3:t-h1: //p'); back $ups times while flapping"
sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result flap)
say "$survived of $N_CONNS survived the flapping; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost with the flapping: $failed"
SFM_WAIT_TIMEOUT=40 sfm_wait_until in_sync \
    || { ctl agents >&2; ctl switches >&2; sfm_die "h3 not back after damping"; }
say "h3 back once the damping ended"

sfm_chain_client_start host "$N_CONNS" 44000 8
sleep 2
h3=$SFM_TMP/hosts/h3/run
kill -KILL "$(cat "$h3/ovs-vswitchd.pid")" "$(cat "$h3/ovsdb-server.pid")" \
    "$(cat "$OVS_RUNDIR/agent-dlp-2.pid")"
say "killed host h3 (its OVS and dlp-2's agent) at $(date +%T.%3N)"
for t in "h1 t-h3" "h2 t-h3"; do
    sfm_wait_until tunnel_down $t || sfm_die "BFD still up on $t"
done
say "BFD down on the tunnels to h3 at h1 and h2"
sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result host)
say "$survived of $N_CONNS survived the host; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost with host h3: $failed"

# h3 comes back: its OVS on the database it had, then dlp-2's agent.  The
# tunnels come up again (once their damping ends), s3 is programmed, and
# dlp-2 takes its buckets back by handoffs.
sfm_host_restart h3 3
sfm_chain_agent_start dlp-2 4
SFM_WAIT_TIMEOUT=40 sfm_wait_until in_sync \
    || { ctl agents >&2; ctl switches >&2; ctl hosts >&2;
         sfm_die "h3 did not come back after its death"; }
SFM_WAIT_TIMEOUT=20 sfm_wait_until anti_affine \
    || { ctl map dlp >&2; sfm_die "anti-affinity not met after h3's return"; }
[ "$(ctl hosts | grep -c '^  tunnel .*: up$')" = 6 ] \
    || { ctl hosts >&2; sfm_die "not every tunnel up after h3's return"; }
say "h3 back after its death: its tunnels up, dlp-2 in the maps again"
echo "PASS: multihost"
