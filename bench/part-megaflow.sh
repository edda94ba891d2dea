#!/usr/bin/env bash
# Benchmark part 8: datapath flows against the number of streams, for the
# two classifiers (docs/pipeline.md, "The classifier"): multipath (the
# 5-tuple hashed in ovs-vswitchd) and dp-hash (the datapath's symmetric L4
# hash).  Each mode is a set-up of its own: the two-service chain of the
# example configuration with "classifier:" set, every instance an
# sfmesh-agent --service=counter without replication.  For each count N of
# STREAMS (default "1 1000 10000 100000") the datapath's flows are deleted,
# N UDP streams of one datagram each, every one from a source address and
# port of its own (bench/udpfan.c), are sent into the chain's ingress at
# RATE a second (default 5000), and the datapath flows are counted
# (ovs-appctl dpctl/dump-flows) once they have passed.  The flow limit is
# raised to 1000000, the idle time to 120 s and the revalidators' longest
# wait to 10 s (while a dump takes more than half of that wait, a
# revalidation deletes the flows that had less than a packet a second
# instead of revalidating them: every flow here), so that neither the
# revalidators' limit nor their expiry hides flows.
# Knobs: BENCH_MEGAFLOW_STREAMS, BENCH_MEGAFLOW_RATE, BENCH_MEGAFLOW_BUCKETS
# (256).
# Usage: part-megaflow.sh BIN_DIR HELPER_DIR OUT_JSON [MODE]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 4 ]; then
    : > "$3.jsonl"
    for mode in multipath dp-hash; do
        timeout --kill-after=10 600 bash "$0" "$@" "$mode" >> "$3.jsonl" \
            || exit 1
    done
    /usr/bin/python3 "$top/bench/analyze.py" megaflow "$3.jsonl" > "$3" \
        && rm -f "$3.jsonl"
    exit
fi
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) MODE=$4
STREAMS=${BENCH_MEGAFLOW_STREAMS:-1 1000 10000 100000}
RATE=${BENCH_MEGAFLOW_RATE:-5000}
BUCKETS=${BENCH_MEGAFLOW_BUCKETS:-256}
. "$top/bench/lib.sh"
BENCH_PART="megaflow/$MODE"
bench_init "megaflow-$MODE"

CHAIN_INSTANCES="fw-1 fw-2 dlp-1 dlp-2 dlp-3"
config=$SFM_TMP/megaflow.yaml
sed -e "s/^buckets: 256$/buckets: $BUCKETS/" \
    -e "s/^classifier: multipath$/classifier: $MODE/" \
    "$top/docs/examples/two-service-chain.yaml" > "$config"
grep -q "^classifier: $MODE$" "$config" || sfm_die "no classifier in $config"
bench_repnet
sfm_ovs_start
ovs-vsctl set open_vswitch . other_config:flow-limit=1000000 \
    other_config:max-idle=120000 other_config:max-revalidator=10000
bench_controller "$config"
sfm_add_bridge br0 1
bench_hosts
bench_instances br0 $CHAIN_INSTANCES
n=1
for h in $CHAIN_INSTANCES; do
    bench_agent "$h" "$n" counter off
    n=$((n + 1))
done
SFM_WAIT_TIMEOUT=30 sfm_wait_until agents_ready 5 \
    || { ctl agents >&2; sfm_die "agents not all up and warm"; }
server_mac=$(nsx server cat /sys/class/net/eth0/address)

# Streams the fw instances hold (every stream crosses one of them).
fw_streams() {
    local h total=0 s
    for h in fw-1 fw-2; do
        s=$("$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$h.ctl" status \
            | sed -n 's/^streams: //p')
        total=$((total + ${s:-0}))
    done
    echo "$total"
}

# The number of datapath flows, once it has not changed for 1 s.
dp_flows() {
    local prev=-1 cur
    for _ in $(seq 30); do
        cur=$(ovs-appctl dpctl/dump-flows | wc -l)
        [ "$cur" = "$prev" ] && break
        prev=$cur
        sleep 1
    done
    echo "$cur"
}

first=0
# The revalidators start at a flow limit of 10000 and raise it by 1000 a
# round at most; start at the configured limit instead (they lower it only
# if dumping the flows takes over 1.3 s).
limit_hits() { ovs-appctl coverage/read-counter upcall_flow_limit_hit; }
for count in $STREAMS; do
    # Flows and their revalidator state, then two whole revalidation rounds:
    # flows made during a round that began before the purge would be swept
    # at its end.
    ovs-appctl revalidator/purge > /dev/null || sfm_die "revalidator/purge"
    ovs-appctl revalidator/wait > /dev/null
    ovs-appctl revalidator/wait > /dev/null
    ovs-appctl upcall/set-flow-limit 1000000 > /dev/null
    sleep 0.5
    before=$(fw_streams) hits0=$(limit_hits)
    nsx client "$HELPERS/udpfan" eth0 "$server_mac" 10.0.0.2 9 "$first" \
        "$count" "$RATE" > "$SFM_TMP/udpfan.out" || sfm_die "udpfan failed"
    first=$((first + count))
    flows=$(dp_flows)
    dump=$(ovs-appctl dpctl/dump-flows --names)
    ingress=$(printf '%s\n' "$dump" | grep -c 'in_port(client)' || true)
    after=$(fw_streams) hits=$(($(limit_hits) - hits0))
    limit=$(ovs-appctl upcall/show | sed -n 's/.*(limit \([0-9]*\)).*/\1/p' \
            | head -n 1)
    codes=$(printf '%s\n' "$dump" | sed -n 's/.*push_nsh([^)]*c1=\(0x[0-9a-f]*\).*/\1/p' \
            | sort -u | wc -l)
    # How long one revalidation round takes over these flows: what a port
    # toggle costs before the datapath forwards by the new liveness (the
    # round after a full one, so that it is a round of its own).
    ovs-appctl revalidator/wait > /dev/null
    dump_ms=$(ovs-appctl upcall/show \
              | sed -n 's/.*dump duration : \([0-9]*\)ms.*/\1/p' | head -n 1)
    say "$count streams: $flows datapath flows ($ingress from the client" \
        "port), $((after - before)) streams reached fw, $codes codes," \
        "flow limit ${limit:-?} (hit $hits times), revalidation" \
        "${dump_ms:-?} ms"
    echo "{\"classifier\": \"$MODE\", \"streams\": $count, \"dp_flows\": $flows, \"dp_flows_ingress\": $ingress, \"streams_at_fw\": $((after - before)), \"codes_pushed\": $codes, \"flow_limit\": ${limit:-null}, \"flow_limit_hits\": $hits, \"dump_ms\": ${dump_ms:-null}, \"rate\": $RATE, \"buckets\": $BUCKETS}"
done
# Dumping 10^5 flows takes ovs-vswitchd over a second at times.
sfm_check_ovs_logs "\|timeval\|" || sfm_die "OVS logged warnings"
