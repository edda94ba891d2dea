#!/usr/bin/env bash
# Benchmark part 4: replication cost.  Through the two-service chain of the
# example configuration, every instance an sfmesh-agent running the
# counter service (every packet changes its stream's state: the worst case
# for replication), with replication off, async and sync, and async and
# sync again with the agent channel and replication over TLS (async-tls,
# sync-tls: BENCH_TLS=1 of bench/lib.sh; OpenFlow stays plaintext):
#   - TCP throughput of one stream (iperf3, 3 s);
#   - UDP request/response round trips of 64-byte messages (bench/udpecho,
#     2000 per trial), p50 and p99.
# ROUNDS rounds; each round sets up each mode afresh, in turn, each TLS
# mode right after its plaintext one.  After the trials each set-up records
# what its channels ran: the controller's agent channels (tcp or ssl, from
# its log), the replication connections up (the agents' status) and
# whether a replication listener answers a TLS handshake.
# Usage: part-repl.sh BIN_DIR HELPER_DIR OUT_JSON [MODE ROUND]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 5 ]; then
    : > "$3.jsonl"
    for round in $(seq "${BENCH_REPL_ROUNDS:-3}"); do
        for mode in off async async-tls sync sync-tls; do
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
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) MODE=$4 ROUND=$5
REPL=${MODE%-tls} BENCH_TLS=0 TLS=false
[ "$REPL" = "$MODE" ] || BENCH_TLS=1 TLS=true
. "$top/bench/lib.sh"
BENCH_PART="repl/$MODE"
bench_init "repl-$MODE"
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
    echo "{\"replication\": \"$MODE\", \"tls\": $TLS, \"round\": $ROUND, \"trial\": $t, \"tcp_mbit_s\": $(awk -v b="$bps" 'BEGIN{printf "%.1f", b / 1e6}'), \"rtt_us_p50\": $p50, \"rtt_us_p99\": $p99, \"rtt_n\": $n, \"rtt_lost\": $lost}"
    say "$(awk -v b="$bps" 'BEGIN{printf "%.1f", b / 1e6}') Mbit/s, rtt p50 $p50 us p99 $p99 us"
done
repl_up=0 repl_down=0
for h in $CHAIN_INSTANCES; do
    st=$("$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$h.ctl" status)
    printf '%s\n' "$st" | grep -E "^sync" | sed "s/^/    $h: /" >&2
    repl_up=$((repl_up + $(printf '%s\n' "$st" \
        | grep -c "^replication to .*: up,")))
    repl_down=$((repl_down + $(printf '%s\n' "$st" \
        | grep -c "^replication to .*: down,")))
done
# What the channels ran: the controller names each agent channel it
# accepted "agent ssl:ADDR" or "agent tcp:ADDR"; a TLS replication
# listener presents the instance's certificate to a handshake (from the
# replication network's own address, after the trials).
log=$OVS_LOGDIR/sfmesh-controller.log
ag_ssl=$(grep -o "agent ssl:10\.9\.0\.[0-9]*" "$log" | sort -u | wc -l)
ag_tcp=$(grep -o "agent tcp:10\.9\.0\.[0-9]*" "$log" | sort -u | wc -l)
cn=$(timeout 5 openssl s_client -connect 10.9.0.1:7000 </dev/null 2>/dev/null \
     | sed -n 's/^subject=.*CN *= *\([^,]*\).*/\1/p' | head -n 1)
echo "{\"replication\": \"$MODE\", \"tls\": $TLS, \"round\": $ROUND, \"check\": {\"agent_channels_ssl\": $ag_ssl, \"agent_channels_tcp\": $ag_tcp, \"repl_up\": $repl_up, \"repl_down\": $repl_down, \"repl_listener_tls_cn\": \"${cn:-}\"}}"
say "channels: agents ssl $ag_ssl tcp $ag_tcp; replication up $repl_up down $repl_down; TLS on 10.9.0.1:7000: ${cn:-no}"
