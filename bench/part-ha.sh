#!/usr/bin/env bash
# Benchmark part: what the death of the controller costs, a takeover by a
# standby controller against a plain controller restart, side by side.
#
# The two-service chain of docs/examples/two-service-chain.yaml, every
# instance an sfmesh-agent running the stateful firewall with async
# replication (tests/lib/agent-chain.sh).  Per trial, on a set-up of its
# own, one of:
#   r  baseline, a plain restart: one controller without --db (its state
#      in its state file), killed (SIGKILL) and started again at once with
#      the same command, as a supervisor would;
#   k  takeover after a kill: c1 and c2 on a 3-member Raft cluster of
#      sfmesh's database (tests/lib/ha.sh), c1 active and br0's primary,
#      the agents knowing both; c1 is killed (SIGKILL);
#   s  takeover after a hang: the same, c1 suspended (SIGSTOP) instead;
#      the members drop a silent client after 1 s (docs/ha.md).
# Traffic in each trial: 100 TCP connections (topo/traffic.py tcp-client,
# 512 bytes every 50 ms each, echoed) for CLIENT_S s, and from 1 s later a
# sequence-numbered UDP stream (bench/udpseq.c, RATE packets/s); the
# controller fails FAIL_AT s into the stream.  Recorded: the UDP stream's
# longest gap and loss, the TCP connections surviving, whether br0's flows
# and groups stayed the same (and their durations kept growing), the
# changes the controller in charge afterwards sent, and from the logs, in
# ms after the failure: when the controller in charge had read br0 and
# could write to it ("switch holds", after its role was granted), and when
# the last of the five agents was connected to it again (from then on an
# agent's crash is fenced and repaired again).
# Rounds (BENCH_HA_ROUNDS, 3) of r, k, s in turn; a trial whose set-up
# fails is run once more, and counted.
# Usage: part-ha.sh BIN_DIR HELPER_DIR OUT_JSON [VARIANT ROUND]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
RATE=${BENCH_HA_RATE:-5000}
STREAM_S=6 FAIL_AT=1.5 WINDOW_S=4 CLIENT_S=10 N_CONNS=100
if [ $# -lt 5 ]; then
    : > "$3.jsonl"
    for round in $(seq "${BENCH_HA_ROUNDS:-3}"); do
        for v in r k s; do
            timeout --kill-after=10 180 bash "$0" "$1" "$2" "$3" "$v" \
                "$round" >> "$3.jsonl" && continue
            printf '  [ha] (%s) round %s failed: once more, afresh\n' \
                "$v" "$round" >&2
            echo "{\"retry\": {\"variant\": \"$v\", \"round\": $round}}" \
                >> "$3.jsonl"
            timeout --kill-after=10 180 bash "$0" "$1" "$2" "$3" "$v" \
                "$round" >> "$3.jsonl" || exit 1
        done
    done
    "$PY" "$top/bench/analyze.py" ha "$3.jsonl" "$RATE" "$WINDOW_S" \
        > "$3" && rm -f "$3.jsonl"
    exit
fi

. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) V=$4 ROUND=$5
# The JSON row goes to the part's stdout; everything else to stderr.
exec 3>&1 1>&2
. "$top/bench/lib.sh"
BENCH_PART="ha/$V"
bench_init "ha-$V"
. "$top/tests/lib/agent-chain.sh"
. "$top/tests/lib/ovsdb-cluster.sh"
. "$top/tests/lib/ha.sh"
REPL=async
T=$SFM_TMP/trial
mkdir -p "$T"

if [ "$V" = r ]; then
    # One controller on c1's ports, without a database: its state file.
    plain_start() {
        "$BIN/sfmesh-controller" --detach --no-chdir -vconsole:off \
            --pidfile="$OVS_RUNDIR/c1.pid" --log-file="$OVS_LOGDIR/c1.log" \
            --unixctl="$OVS_RUNDIR/c1.ctl" \
            --config="$top/docs/examples/two-service-chain.yaml" \
            --ovsdb="unix:$OVS_RUNDIR/db.sock" \
            --state-file="$SFM_TMP/c1.state" \
            --agent-listen="ptcp:$((AGENT_PORT_BASE + 1)):10.9.0.254" \
            "ptcp:$((OF_PORT_BASE + 1)):127.0.0.1" \
            || sfm_die "the controller did not start"
        sfm_track_pidfile "$OVS_RUNDIR/c1.pid"
    }
    sfm_chain_controller_start() {
        plain_start
        SFM_CTL=$OVS_RUNDIR/c1.ctl
        SFM_OF_PORT=$((OF_PORT_BASE + 1))
        AGENT_PORT=$((AGENT_PORT_BASE + 1))
        SFM_AGENT_CONTROLLERS=
    }
    sfm_set_controller() {
        ovs-vsctl -- --id=@c1 create controller \
            target="tcp\:127.0.0.1\:$((OF_PORT_BASE + 1))" max_backoff=1000 \
            inactivity_probe=5000 -- set bridge "$1" controller=@c1 \
            || sfm_die "cannot set the controller of $1"
    }
    IN_CHARGE=c1
else
    ha_cluster_start
    IN_CHARGE=c2
fi
SFM_WAIT_TIMEOUT=40 sfm_chain_setup
SFM_WAIT_TIMEOUT=30 sfm_wait_until sfm_chain_ready \
    || { ctl agents; ctl switches; sfm_die "the chain did not come up"; }
if [ "$V" != r ]; then
    SFM_WAIT_TIMEOUT=10 sfm_wait_until eval 'is_master 1 && [ "$(n_masters)" = 1 ]' \
        || { switch_roles; sfm_die "c1 is not br0's only primary"; }
fi
say "set up: 5 agents warm, br0 in sync"

# A UDP stream whose buckets stay where they are (no instance fails).
DPORT=5000
SPORT=40000
sfm_chain_server_start
sfm_chain_client_start result "$N_CONNS" 41000 "$CLIENT_S"
sleep 1
REC=$T/udp
switch_tables > "$T/tables.before"
flow_durations > "$T/durations.before"
udp_stream_start "$REC" "$SPORT" $((STREAM_S + 10)) 3000
sleep "$FAIL_AT"
T_FAIL=$(now)
case $V in
r) kill -KILL "$(cat "$OVS_RUNDIR/c1.pid")"
   plain_start ;;
k) kill -KILL "$(cat "$OVS_RUNDIR/c1.pid")" ;;
s) kill -STOP "$(cat "$OVS_RUNDIR/c1.pid")" ;;
*) sfm_die "variant: r, k or s" ;;
esac
T0_MS=$("$PY" -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "$T_FAIL")
SFM_CTL=$OVS_RUNDIR/$IN_CHARGE.ctl
SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_chain_ready \
    || { ctl agents; ctl switches; sfm_die "the chain did not come back"; }
wait "$UDP_SEND"
wait "$UDP_RECV"
sfm_chain_traffic_wait
read -r survived failed tcpgap < <(sfm_chain_traffic_result)
switch_tables > "$T/tables.after"
flow_durations > "$T/durations.after"
SAME=no GREW=no
diff -q "$T/tables.before" "$T/tables.after" >/dev/null && SAME=yes
elapsed=$(( ($(now_ms) - T0_MS) / 1000 - 1 ))
durations_grew "$T/durations.before" "$T/durations.after" "$elapsed" \
    2>/dev/null && GREW=yes
CHANGES=$(hactl "${IN_CHARGE#c}" switches \
    | sed -n 's/.*bundles (flows \([^,]*\), groups \([^)]*\)).*/\1 \2/p')

# When the controller in charge could write to br0, and when the last
# agent was back on it.
t_writable=$(log_time_ms "$IN_CHARGE" "switch holds" "$T0_MS") || t_writable=
t_agents=0
for h in $SFM_INSTANCES; do
    t=$(log_time_ms "agent-$h" "connected to the controller" "$T0_MS") \
        || { t_agents=; break; }
    [ "$t" -gt "$t_agents" ] && t_agents=$t
done
ms_after() { [ -n "$1" ] && echo $(($1 - T0_MS)) || echo null; }
say "UDP $(cat "$REC.send"); TCP $survived of $N_CONNS (failed: $failed);" \
    "br0 writable after $(ms_after "$t_writable") ms, agents back after" \
    "$(ms_after "$t_agents") ms; tables same: $SAME, durations grew: $GREW," \
    "changes sent: $CHANGES"
"$PY" "$top/bench/analyze.py" ha-trial "$REC.bin" "$(cat "$REC.send")" \
    "$T_FAIL" "$V" "$ROUND" "$WINDOW_S" "$SFM_TMP/result.json" \
    "writable_ms=$(ms_after "$t_writable")" \
    "agents_ms=$(ms_after "$t_agents")" "tables_same=$SAME" \
    "durations_grew=$GREW" "changes=$CHANGES" > "$T/row.json" \
    || sfm_die "analysis failed"
cat "$T/row.json" >&3
