#!/usr/bin/env bash
# The sfmesh main job (make demo): what state replication buys.
#
# The chain topology of topo/chain.py (Mininet, one OVS userspace switch on
# a private OVS, sfmesh-controller, service fw with 2 instances and service
# dlp with 3, every instance running sfmesh-agent with the stateful
# firewall) carries 24 TCP connections and a 2000 pps UDP stream.  After
# 3 s, the agent of the dlp instance that is primary for the most
# connections is killed (SIGKILL).  The scenario runs twice: with state
# replication (async), then without; the two results end up side by side.
#
# Usage: demo.sh [BIN_DIR]        (make demo builds and runs it)
# Results go to build/demo/ (SFMESH_DEMO_OUT overrides).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$top/build/bin}" && pwd)
OUT=${SFMESH_DEMO_OUT:-$top/build/demo}
PY=/usr/bin/python3
DURATION=${SFMESH_DEMO_DURATION:-8}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rm -rf "$OUT/async" "$OUT/off"
mkdir -p "$OUT"
start=$SECONDS

for repl in async off; do
    say "run $([ $repl = async ] && echo 1 || echo 2) of 2: kill the dlp" \
        "primary under traffic, replication $repl"
    "$PY" "$top/topo/scenario.py" --bin "$BIN" --topo chain --failure kill \
        --replication "$repl" --at 3 --duration "$DURATION" \
        --out "$OUT/$repl"
done

say "side by side: the same failure with and without state replication"
"$PY" "$top/topo/compare.py" "$OUT/async/result.json" "$OUT/off/result.json" \
    --png "$OUT/compare.png" --json "$OUT/compare.json"
cat <<EOF

With replication, the instances that take over already hold the state of
the killed instance's connections, and every connection survives; without
it, their firewall has never seen those connections and drops them.

results:  $OUT/async/result.json
          $OUT/off/result.json
          $OUT/compare.json
plots:    $OUT/compare.png
          $OUT/async/throughput.png
          $OUT/off/throughput.png
logs:     $OUT/async/logs/  $OUT/off/logs/
(demo: $((SECONDS - start)) s; see docs/mininet.md for the other scenarios)
EOF
