#!/usr/bin/env bash
# End-to-end Mininet scenarios (topo/scenario.py): the chain topology with
# sfmesh-agent (stateful firewall, async replication) in every instance,
# 12 TCP connections and a 1000 pps UDP stream, and one failure of the dlp
# instance that is primary for the most connections: link down, agent
# SIGKILL, agent SIGSTOP, link flapping, operator disable.  Each must keep
# every TCP connection alive, let the UDP stream resume, and be noticed by
# the detection path that belongs to it.  Then the leaf-spine fabric: the
# agent of dlp-2, the only dlp instance on the server's leaf, is killed
# and, in a second run, its link goes down; its secondaries are all on the
# other leaf, so the failover sends the streams back across the spine.
# With two spines, the server leaf loses its link to the first: the
# paths move to the second.  Across three hosts (the multihost topology,
# each host its own OVS, VXLAN tunnels with BFD): the host of a dlp
# instance dies whole, its OVS and its agents at once; its agents' channel
# crossed its own br-phy, so the controller learns of it by the missing
# heartbeats, and the other hosts' BFD takes the tunnels to it down.
# Last, elastic pools on the chain (topo/elastic.py), 24 TCP connections
# and UDP at 1000 pps, async replication: the dlp pool scaled 3 -> 4 -> 3
# (a dlp instance added at run time, then removed); one of the first three
# removed from the configuration; one drained and enabled again; one whose
# agent is killed and started again.  Each must keep every TCP connection,
# let the UDP stream resume, and converge after every step (each instance
# within 10 % of its rendezvous share of primaries, the removed ones out
# of the map), the buckets moved by each step no more than rendezvous
# hashing requires.
# Then short link flaps under traffic through the counter service (every
# packet a replicated state change), async replication: 10 flaps of 5 ms,
# 10 of 10 ms and 10 of 50 ms down (200 ms up), one run each, with 25
# counted UDP echo streams besides the TCP connections and the UDP stream.
# At rest, no stream may have lost an increment (a count at a service below
# what a later service counted, or the receiving end got) and each
# bucket's primary and secondary must hold the same counts
# (topo/counters.py).  The switch must have reported at least one of the
# 30 flaps (a flap OVS does not notice is only packets dropped, no
# failover: runs in which it noticed none test nothing).  These runs have
# rebalance off: they test the failover path (the flapping instance holds
# itself out, stale state never wins).  They run only with
# SFM_FLAP_COUNTER=1 for now (see the end of this file).  With rebalance
# on, each flap is followed by handoffs that give the instance its buckets
# back: topo/flap-counter.sh measures that, docs/mininet.md has the
# numbers.
# After every run, nothing may be left behind: processes, namespaces,
# links, OVS bridges, temp directories.
#
# Usage: test-scenarios.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$1" && pwd)
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/sfmesh-test-scenarios.XXXXXX)
status=0
trap 'rm -rf "$OUT"' EXIT

say() { printf '  %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; status=1; }

# What the host looks like, for the leak checks.  Named namespaces of the
# shell harness (sfmPID-*) belong to other tests that may run meanwhile;
# the scenarios create none (Mininet's hosts have unnamed namespaces).
host_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
host_netns() { ip netns list | awk '{print $1}' | grep -v '^sfm[0-9]*-' | sort; }
system_bridges() {
    if [ -S /var/run/openvswitch/db.sock ]; then
        env -u OVS_RUNDIR ovs-vsctl --timeout=3 list-br 2>/dev/null | sort
    fi
}
links0=$(host_links) netns0=$(host_netns) brs0=$(system_bridges)

# Nothing of run $1 (its result.json) may remain.
check_clean() {
    local json=$1 name=$2 left
    left=$("$PY" - "$json" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
# Every process the run started lived in its PID namespace, every link
# and Mininet host in its network namespaces: none of them may remain,
# nor any process naming its temp directory.
ns = r.get('namespaces', {})
w = r.get('workdir') or '/nonexistent'
left = []
for p in os.listdir('/proc'):
    if not p.isdigit():
        continue
    try:
        cmd = open('/proc/%s/cmdline' % p, 'rb').read()
        ids = {k: os.readlink('/proc/%s/ns/%s' % (p, k)) for k in ns}
    except OSError:
        continue
    if w.encode() in cmd or any(
            ids[k] == '%s:[%d]' % (k, v) for k, v in ns.items()):
        left.append(int(p))
print(' '.join(map(str, sorted(left))),
      'workdir' if os.path.exists(w) else '')
PY
)
    [ -z "${left// /}" ] || fail "$name left behind: pids/dirs: $left"
    [ "$(host_links)" = "$links0" ] || fail "$name changed the host's links"
    [ "$(host_netns)" = "$netns0" ] || fail "$name left namespaces"
    [ "$(system_bridges)" = "$brs0" ] || fail "$name changed the system OVS"
}

expect_detection() {
    case $1 in
    link|flap) echo port-down ;;
    kill) echo agent-channel-lost ;;
    hang|host) echo heartbeat-timeout ;;
    disable) echo operator-disable ;;
    fabric-link) echo link-reroute ;;
    scale|scale-in|scale-out|drain) echo planned ;;
    rebalance) echo agent-channel-lost ;;
    esac
}

# Runs scenario $2 (a failure kind) on topology $1, with the instance $3
# failing (empty: the scenario's default) and more options after it, and
# checks its result.
run_case() {
    local topo=$1 failure=$2 instance=$3 name start out rc summary detected
    shift 3
    name=$topo-$failure start=$SECONDS out=$OUT/$topo-$failure
    timeout --kill-after=10 60 "$PY" "$top/topo/scenario.py" --bin "$BIN" \
        --topo "$topo" --failure "$failure" ${instance:+--instance "$instance"} \
        "$@" --replication async --connections 12 --udp-rate 1000 --at 2 \
        --duration 5 --flap-count 2 --no-plot --check --out "$out" \
        > "$out.log" 2>&1
    rc=$?
    if [ ! -s "$out/result.json" ]; then
        fail "$name: no result (exit $rc)"; tail -n 20 "$out.log" >&2
        return
    fi
    read -r summary detected < <("$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
t, u = r["tcp"], r["udp"]
print("%d/%d_TCP_survived,_UDP_gap_%s_ms,_lost_%d,_resumed_%s,_%s" % (
    t["survived"], t["n"], u["gap_ms"], u["lost"], u["resumed"],
    r["event"]["instance"]), r["detection"]["kind"])' "$out/result.json")
    say "$name: ${summary//_/ }; detected by $detected ($((SECONDS - start)) s)"
    [ "$rc" = 0 ] || { fail "$name: $(grep verdict "$out.log")"; tail -n 30 "$out.log" >&2; }
    want=$(expect_detection "$failure")
    [ "$detected" = "$want" ] \
        || fail "$name: detected by $detected, expected $want"
    check_clean "$out/result.json" "$name"
}

for failure in link kill hang flap disable; do
    run_case chain "$failure" ""
done
for failure in kill link; do
    run_case fabric "$failure" dlp-2
done
# Two spines: the server leaf's link to the first one goes down, and the
# controller moves every path to the second.
run_case fabric fabric-link "" --spines 2
run_case multihost host ""

# Runs elastic scenario $1 (a --failure, or "scale" for --sizes $2) and
# checks its result: every connection kept, every step converged, no step
# moving more buckets than rendezvous hashing requires.
run_elastic() {
    local failure=$1 sizes=$2 name start out rc detected bad summary what
    shift 2
    if [ -n "$sizes" ]; then what=(--sizes "$sizes"); else what=(--failure "$failure"); fi
    name=chain-$failure${sizes:+-$sizes} start=$SECONDS
    out=$OUT/$name
    timeout --kill-after=10 120 "$PY" "$top/topo/scenario.py" --bin "$BIN" \
        --topo chain "${what[@]}" "$@" --replication async \
        --connections 24 --udp-rate 1000 --at 1.5 --tail 1.5 \
        --step-gap 0.5 --down-for 1 --converge-timeout 25 --no-plot \
        --check --out "$out" > "$out.log" 2>&1
    rc=$?
    if [ ! -s "$out/result.json" ]; then
        fail "$name: no result (exit $rc)"; tail -n 20 "$out.log" >&2
        return
    fi
    read -r detected bad summary < <("$PY" - "$out/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t, u, el = r["tcp"], r["udp"], r["elastic"]
steps = ["%s: moved %d (ideal %d), %s%s" % (
    s["label"], s["moved"], s["ideal"],
    "converged in %.2f s" % s["converge_s"] if s["converged"]
    else "NOT converged",
    ", %d handoffs abandoned" % s["handoffs_abandoned"]
    if s.get("handoffs_abandoned") else "") for s in el["steps"]]
# A step may move what rendezvous hashing requires (from the map it found)
# and no more.
over = [s["label"] for s in el["steps"] if s["moved"] > s["required"]]
print(r["detection"]["kind"], ",".join(over).replace(" ", "_") or "-",
      "%d/%d TCP survived, UDP lost %d, resumed %s; %s" % (
          t["survived"], t["n"], u["lost"], u["resumed"], "; ".join(steps)))
PY
)
    say "$name: $summary ($((SECONDS - start)) s)"
    [ "$rc" = 0 ] || { fail "$name: $(grep verdict "$out.log")"; tail -n 30 "$out.log" >&2; }
    [ "$bad" = - ] || fail "$name: moved more buckets than required: $bad"
    want=$(expect_detection "$failure")
    [ "$detected" = "$want" ] \
        || fail "$name: detected by $detected, expected $want"
    check_clean "$out/result.json" "$name"
}

run_elastic scale 3,4,3
run_elastic scale-in ""
run_elastic drain ""
run_elastic rebalance ""

# Runs 10 flaps of $1 seconds down through the counter service and checks
# that no stream lost an increment and every primary and secondary agree.
flaps_seen=0
run_counter_flap() {
    local down=$1 name start out rc summary seen
    name=chain-flap-counter-${down}s start=$SECONDS out=$OUT/$name
    timeout --kill-after=10 90 "$PY" "$top/topo/scenario.py" --bin "$BIN" \
        --topo chain --failure flap --function counter --replication async \
        --flap-count 10 --flap-down "$down" --flap-up 0.2 \
        --connections 12 --udp-rate 1000 --udp-streams 25 --at 2 \
        --duration 5 --rebalance off --no-plot --check --out "$out" \
        > "$out.log" 2>&1
    rc=$?
    if [ ! -s "$out/result.json" ]; then
        fail "$name: no result (exit $rc)"; tail -n 20 "$out.log" >&2
        return
    fi
    read -r seen summary < <("$PY" - "$out/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t, c = r["tcp"], r["counters"]
downs = sorted(x["down_ms"] for x in r["flaps"]["downs"])
seen = r["flaps"]["reports"]
echo = c["kinds"].get("UDP echo", {"checked": 0, "lost": 0})
print(len(seen), "%d/%d TCP survived; flaps %d x %.2f-%.2f ms, %d reported "
      "by the switch (rewritten after the link was up again: %d); %d "
      "streams checked, %d with lost increments (%d of %d UDP echo; worst "
      "%d, %d in all), %d disagree" % (
          t["survived"], t["n"], len(downs), downs[0], downs[-1], len(seen),
          sum(1 for x in seen if x["link_up_before_rewrite"]), c["checked"],
          c["with_lost_increments"], echo["lost"], echo["checked"],
          c["worst_loss"], c["lost_increments_total"], c["disagree"]))
PY
)
    say "$name: $summary ($((SECONDS - start)) s)"
    flaps_seen=$((flaps_seen + seen))
    [ "$seen" -gt 0 ] || say "warning: $name: the switch reported no flap"
    if [ "$rc" != 0 ]; then
        fail "$name: $(grep verdict "$out.log")"
        grep -E '^(lost increments|disagreement):' "$out.log" | head -n 30 >&2
    fi
    check_clean "$out/result.json" "$name"
}

# Not part of the suite yet (SFM_FLAP_COUNTER=1 runs them): the check is
# met in most runs, not in every one: on a loaded machine OVS's 60 ms BFD
# detection can take a whole pool down at once, which comes back with a
# map rebuilt from nothing (docs/mininet.md, "With claims", has the
# numbers).
if [ "${SFM_FLAP_COUNTER:-0}" = 1 ]; then
    for down in 0.005 0.01 0.05; do
        run_counter_flap "$down"
    done
    [ "$flaps_seen" -gt 0 ] \
        || fail "flap-counter: the switch reported none of the 30 flaps"
fi

[ "$status" = 0 ] && echo "PASS: scenarios"
exit "$status"
