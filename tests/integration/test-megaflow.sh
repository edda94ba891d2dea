#!/usr/bin/env bash
# The dp-hash classifier (docs/pipeline.md, "The classifier"): the
# two-service chain of the example configuration with "classifier: dp-hash"
# and 16 buckets, every instance an sfmesh-agent running the counter service
# (per-stream packet counts in each direction) without replication.
#
#   - the switch is in sync with the classifier's select group (selection
#     method dp_hash) among its groups;
#   - after 1 TCP connection and after 2000 (each from a source port of its
#     own, a byte each way), from an empty datapath each time, the datapath
#     flows stay within 8 per bucket and 16 more (about 3 per bucket and
#     direction are expected: the classification after the hash, and the
#     two hops back from the services), where multipath needs at least one
#     per stream and direction, over 4000 here;
#   - both directions of every connection meet the same instances: each of
#     the 2000 streams is held by exactly one fw and one dlp instance, in the
#     same bucket, having seen packets both ways, and the streams spread
#     over the buckets and the fw instances.
#
# Usage: test-megaflow.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
REPL=off AGENT_SERVICE=counter
BUCKETS=16 N_CONNS=2000
PY=/usr/bin/python3

sfm_setup megaflow
. "$top/tests/lib/agent-chain.sh"
step() { printf '  [megaflow] %s\n' "$*" >&2; }

SFM_CHAIN_CONFIG=$SFM_TMP/megaflow.yaml
sed -e "s/^buckets: 256$/buckets: $BUCKETS/" \
    -e "s/^classifier: multipath$/classifier: dp-hash/" \
    "$top/docs/examples/two-service-chain.yaml" > "$SFM_CHAIN_CONFIG"
grep -q '^classifier: dp-hash$' "$SFM_CHAIN_CONFIG" \
    || sfm_die "no classifier line in $SFM_CHAIN_CONFIG"
sfm_chain_setup
# No flow may expire while it is counted.
ovs-vsctl set open_vswitch . other_config:max-idle=60000
for h in client server; do
    peer=$([ "$h" = client ] && echo 10.0.0.2 || echo 10.0.0.1)
    other=$([ "$h" = client ] && echo server || echo client)
    nsx "$h" ip neigh replace "$peer" dev eth0 nud permanent lladdr \
        "$(nsx "$other" cat /sys/class/net/eth0/address)"
done

step "the classifier group is programmed, the switch in sync"
ovs-ofctl -O OpenFlow15 dump-groups br0 > "$SFM_TMP/groups"
grep -q 'group_id=1,type=select,selection_method=dp_hash,selection_method_param=4294967296,bucket=bucket_id:0,actions=move:NXM_NX_DP_HASH\[0..3\]->NXM_NX_REG0\[0..3\],resubmit(,3)' \
    "$SFM_TMP/groups" || { cat "$SFM_TMP/groups" >&2; sfm_die "no classifier group"; }
ctl switches | grep -q "IDLE, in sync" || sfm_die "switch not in sync"
ctl flows > "$SFM_TMP/desired"
ovs-ofctl -O OpenFlow15 diff-flows br0 "$SFM_TMP/desired" \
    || sfm_die "the switch's flows differ from the desired ones"

# An echo server: each connection gets its byte back.  Started with ip
# netns exec itself, not through nsx (a function: in the background it is
# a subshell, whose pid the cleanup would kill, leaving the server, and
# with it the suite's output pipe, open).
ip netns exec "$(sfm_netns server)" "$PY" -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.0.2", 5001))
s.listen(512)
open(sys.argv[1], "w").close()
def serve(c):
    with c:
        c.settimeout(10)
        b = c.recv(1)
        if b:
            c.sendall(b)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$SFM_TMP/server.ready" & SFM_PIDS+=($!)
sfm_wait_until test -e "$SFM_TMP/server.ready" || sfm_die "no server"

# conns N FIRST: N connections from source ports FIRST on, 16 at a time,
# each sending a byte and reading it back; fails unless all complete.
conns() {
    nsx client "$PY" -c '
import socket, sys
from concurrent.futures import ThreadPoolExecutor
n, first = int(sys.argv[1]), int(sys.argv[2])
def one(port):
    for _ in range(3):
        try:
            with socket.socket() as c:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                c.bind(("10.0.0.1", port))
                c.settimeout(5)
                c.connect(("10.0.0.2", 5001))
                c.sendall(b"x")
                if c.recv(1) == b"x":
                    return True
        except OSError:
            pass
    return False
with ThreadPoolExecutor(16) as ex:
    ok = sum(ex.map(one, range(first, first + n)))
print(ok)
sys.exit(ok != n)
' "$1" "$2"
}

# Deletes every datapath flow with its revalidator state (dpctl/del-flows
# would leave the state, and a flow made again would not be installed),
# then waits for two whole revalidation rounds: a round that began before
# the purge would sweep the flows made during it.
purge() {
    ovs-appctl revalidator/purge > /dev/null || sfm_die "revalidator/purge"
    ovs-appctl revalidator/wait > /dev/null
    ovs-appctl revalidator/wait > /dev/null
}

# The number of datapath flows, once it has not changed for 1 s.
dp_flows() {
    local prev=-1 cur
    for _ in $(seq 20); do
        cur=$(ovs-appctl dpctl/dump-flows | wc -l)
        [ "$cur" = "$prev" ] && break
        prev=$cur
        sleep 1
    done
    echo "$cur"
}

step "1 connection"
purge
conns 1 30000 > /dev/null || sfm_die "the connection failed"
one=$(dp_flows)
step "  $one datapath flows"
ovs-appctl dpctl/dump-flows > "$SFM_TMP/flows-1"

step "$N_CONNS connections"
purge
conns "$N_CONNS" 31000 > /dev/null || sfm_die "connections failed"
many=$(dp_flows)
ovs-appctl dpctl/dump-flows > "$SFM_TMP/flows-$N_CONNS"
bound=$((8 * BUCKETS + 16))
step "  $many datapath flows (bound $bound)"
[ "$one" -le "$bound" ] || sfm_die "$one datapath flows for 1 connection"
[ "$many" -le "$bound" ] \
    || sfm_die "$many datapath flows for $N_CONNS connections, over $bound"
# dp_hash is what the classification after the recirculation matches.
grep -q 'dp_hash(.*/0xf)' "$SFM_TMP/flows-$N_CONNS" \
    || sfm_die "no datapath flow matches dp_hash"

step "both directions of every connection met the same instances"
for h in $SFM_INSTANCES; do
    actl "$h" streams | sed "s/^/$h /"
done > "$SFM_TMP/streams"
"$PY" - "$SFM_TMP/streams" "$N_CONNS" "$BUCKETS" <<'PY' || sfm_die "streams"
import collections, re, sys
path, n, buckets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = collections.defaultdict(list)   # (service, stream) -> [(inst, ...)]
for line in open(path):
    m = re.match(r'(\S+) proto 6 (\S+) (\S+) bucket (\d+): '
                 r'packets_lo_hi=(\d+) packets_hi_lo=(\d+)', line)
    if not m or not m.group(2).startswith('10.0.0.1:'):
        continue
    inst, lo, hi, bucket, a, b = m.groups()
    if not 31000 <= int(lo.split(':')[1]) < 31000 + n:
        continue
    held[(inst.rsplit('-', 1)[0], lo + ' ' + hi)].append(
        (inst, int(bucket), int(a), int(b)))
bad = 0
buckets_seen, fw_seen = set(), collections.Counter()
streams = set(k[1] for k in held)
for s in streams:
    fw, dlp = held.get(('fw', s), []), held.get(('dlp', s), [])
    if len(fw) != 1 or len(dlp) != 1:
        print('stream %s held by fw %s, dlp %s' % (s, fw, dlp))
        bad += 1
        continue
    if fw[0][1] != dlp[0][1] or not all(x[2] and x[3] for x in fw + dlp):
        print('stream %s: fw %s, dlp %s' % (s, fw, dlp))
        bad += 1
        continue
    buckets_seen.add(fw[0][1])
    fw_seen[fw[0][0]] += 1
print('%d streams, %d bad, %d buckets, fw %s' % (
    len(streams), bad, len(buckets_seen), dict(fw_seen)), file=sys.stderr)
sys.exit(bad or len(streams) != n or len(buckets_seen) < buckets * 3 // 4
         or len(fw_seen) != 2)
PY

sfm_check_ovs_logs || sfm_die "OVS logged warnings"
echo "PASS: megaflow"
