#!/usr/bin/env bash
# Benchmark part 4: replication cost.  Through the two-service chain of the
# example configuration, every instance an sfmesh-agent running the
# counter service (every packet changes its stream's state: the worst case
# for replication), with replication off, async and sync:
#   - TCP throughput of one stream (iperf3, 3 s);
#   - UDP request/response round trips of 64-byte messages (bench/udpecho,
#     2000 per trial), p50 and p99.
# ROUNDS rounds; each round sets up each mode afresh, in turn.
# Usage: part-repl.sh BIN_DIR HELPER_DIR OUT_JSON [MODE ROUND]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 5 ]; then
    : > "$3.jsonl"
    for round in $(seq "${BENCH_REPL_ROUNDS:-3}"); do
        for mode in off async sync; do
            timeout --kill-after=10 300 bash "$0" "$@" "$mode" "$round" \
                >> "$3.jsonl" || exit 1
        done
    done
    /usr/bin/python3 "$top/bench/analyze.py" repl "$3.jsonl" > "$3" \
        && rm -f "$3.jsonl"
    exit
fi
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) REPL=$4 ROUND=$5
. "$top/bench/lib.sh"
BENCH_PART="repl/$REPL"
bench_init "repl-$REPL"
bench_chain counter "$REPL"

ip netns exec "$(sfm_netns server)" iperf3 -s -B 10.0.0.2 -p 5201 \
    > /dev/null 2>&1 & SFM_PIDS+=($!)
ip netns exec "$(sfm_netns server)" "$HELPERS/udpecho" server 10.0.0.2 7 \
    & SFM_PIDS+=($!)
sleep 0.5
for t in 1 2; do
    bps=$(ip netns exec "$(sfm_netns client)" iperf3 -c 10.0.0.2 -p 5201 \
          -t 3 -J 2>/dev/null | "$PY" -c '
import json, sys
print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])') \
        || sfm_die "iperf3 failed"
    lat=$(ip netns exec "$(sfm_netns client)" "$HELPERS/udpecho" client \
          10.0.0.2 7 $((42000 + t)) 2000) || sfm_die "udpecho failed"
    read -r _ _ p50 _ p99 _ n _ lost <<< "$lat"
    echo "{\"replication\": \"$REPL\", \"round\": $ROUND, \"trial\": $t, \"tcp_mbit_s\": $(awk -v b="$bps" 'BEGIN{printf "%.1f", b / 1e6}'), \"rtt_us_p50\": $p50, \"rtt_us_p99\": $p99, \"rtt_n\": $n, \"rtt_lost\": $lost}"
    say "$(awk -v b="$bps" 'BEGIN{printf "%.1f", b / 1e6}') Mbit/s, rtt p50 $p50 us p99 $p99 us"
done
for h in $CHAIN_INSTANCES; do
    "$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$h.ctl" status \
        | grep -E "^sync" | sed "s/^/    $h: /" >&2
done
