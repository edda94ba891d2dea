#!/usr/bin/env bash
# Benchmark part 2: state survival.  100 TCP connections (topo/traffic.py:
# 512 bytes every 50 ms each, echoed) through the two-service chain of the
# example configuration, every instance an sfmesh-agent running the
# stateful firewall; after 3 s the agent of a dlp instance gets SIGKILL.
# Fraction of connections surviving, with replication async, sync and
# off; ROUNDS trials per mode (a different victim each).
# Usage: part-state.sh BIN_DIR HELPER_DIR OUT_JSON [MODE]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 4 ]; then
    : > "$3.jsonl"
    for mode in async sync off; do
        timeout --kill-after=10 300 bash "$0" "$@" "$mode" >> "$3.jsonl" \
            || exit 1
    done
    /usr/bin/python3 "$top/bench/analyze.py" state "$3.jsonl" > "$3" \
        && rm -f "$3.jsonl"
    exit
fi
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) REPL=$4
. "$top/bench/lib.sh"
BENCH_PART="state/$REPL"
N_CONNS=100
ROUNDS=${BENCH_STATE_ROUNDS:-2}
bench_init "state-$REPL"
bench_chain stateful-fw "$REPL"
client_port=$(ovs-vsctl get interface client ofport)

ip netns exec "$(sfm_netns server)" "$PY" "$top/topo/traffic.py" \
    tcp-server 10.0.0.2 5001 "$SFM_TMP/server.ready" & SFM_PIDS+=($!)
sfm_wait_until test -e "$SFM_TMP/server.ready" || sfm_die "no server"

VICTIMS=(dlp-1 dlp-2 dlp-3 dlp-1 dlp-2 dlp-3)
for round in $(seq "$ROUNDS"); do
    victim=${VICTIMS[round - 1]}
    first=$((40000 + round * 1000))
    affected=0
    for i in $(seq 0 $((N_CONNS - 1))); do
        code=$(affinity_code "$client_port" "tcp,nw_src=10.0.0.1,\
nw_dst=10.0.0.2,tp_src=$((first + i)),tp_dst=5001")
        primary=$(ctl map dlp | awk -v b=$((code & 255)) \
                  '$1 == b && NF == 3 {print $2}')
        [ "$primary" = "$victim" ] && affected=$((affected + 1))
    done
    ip netns exec "$(sfm_netns client)" "$PY" \
        "$top/topo/traffic.py" tcp-client 10.0.0.2 5001 \
        "$N_CONNS" "$first" 7 512 0.05 "$SFM_TMP/result-$round.json" &
    client=$!
    SFM_PIDS+=($client)
    sleep 3
    kill -KILL "$(cat "$OVS_RUNDIR/agent-$victim.pid")"
    wait "$client" || sfm_die "client failed"
    line=$("$PY" -c '
import json, sys
conns = json.load(open(sys.argv[1]))["conns"]
print(json.dumps({"replication": sys.argv[2], "round": int(sys.argv[3]),
                  "victim": sys.argv[4], "n": len(conns),
                  "survived": sum(c["survived"] for c in conns),
                  "affected": int(sys.argv[5]),
                  "max_gap_ms": max(c["max_gap_ms"] for c in conns)}))' \
        "$SFM_TMP/result-$round.json" "$REPL" "$round" "$victim" "$affected")
    echo "$line"
    say "$(echo "$line" | grep -o '"survived": [0-9]*') of \
$N_CONNS, $affected on $victim"
    if [ "$round" -lt "$ROUNDS" ]; then
        bench_agent "$victim" "${NUM[$victim]}" stateful-fw "$REPL"
        SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 5 \
            || sfm_die "$victim not back"
    fi
done
