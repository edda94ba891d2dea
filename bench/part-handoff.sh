#!/usr/bin/env bash
# Benchmark part 7: what a scale-out costs the traffic, make-before-break
# bucket handoffs against immediate reassignment (the baseline: each
# bucket goes to its new owner at once, no state handed over), side by
# side, alternating trial by trial on one set-up.
#
# The two-service chain of the example configuration, every instance an
# sfmesh-agent running the stateful firewall, the dlp pool at dlp-1 and
# dlp-2 with dlp-3's agent already running.  A dry run of the scale-out
# first finds the buckets dlp-3 wins (and connects dlp-3's agent, whose
# channel then stays open while dlp-3 is out of the file, so that no trial
# waits for its reconnection).  Per trial:
#   - a sequence-numbered UDP stream (bench/udpseq.c, BENCH_RATE packets/s)
#     whose dlp bucket is one of those dlp-3 wins, and 20 TCP connections
#     (topo/traffic.py: 512 bytes every 50 ms each, echoed) from 20
#     consecutive source ports, the window of 100 with the most of them
#     in buckets that move to dlp-3 (at least 4);
#   - 1 s into the stream dlp-3 is added to the file and the controller
#     gets SIGHUP; "sfmesh-ctl handoffs dlp" and "instances" are polled
#     until no handoff is in progress or pending and every dlp instance
#     holds its rendezvous share (convergence);
#   - recorded: the UDP stream's longest gap and loss, the TCP connections
#     surviving (moved and staying), the buckets moved (map before and
#     after), the moves of each kind (the counters of "sfmesh-ctl
#     handoffs"), SIGHUP to convergence (the controller's "every bucket at
#     its target"), and the duration of every primary handoff (the
#     handoff module's debug log: the history "sfmesh-ctl handoffs" shows
#     is the last 64 moves only, and polls on this busy machine come too
#     seldom to see them all; what they saw is kept as a cross-check);
#   - dlp-3 is removed from the file again (scale in, its buckets handed
#     back), with the next trial's mode, and the next trial starts once the
#     pool is back at two instances and converged.
# Replication async, then sync (BENCH_HANDOFF_REPL), each a set-up of its
# own; BENCH_HANDOFF_TRIALS (5) trials per handoff mode and set-up.
# Usage: part-handoff.sh BIN_DIR HELPER_DIR OUT_JSON [REPLICATION]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 4 ]; then
    : > "$3.jsonl"
    for repl in ${BENCH_HANDOFF_REPL:-async sync}; do
        timeout --kill-after=10 400 bash "$0" "$@" "$repl" >> "$3.jsonl" \
            || exit 1
    done
    /usr/bin/python3 "$top/bench/analyze.py" handoff "$3.jsonl" \
        "${BENCH_RATE:-10000}" > "$3" && rm -f "$3.jsonl"
    exit
fi
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd) HELPERS=$(cd "$2" && pwd) REPL=$4
. "$top/bench/lib.sh"
BENCH_PART="handoff/$REPL"
TRIALS=${BENCH_HANDOFF_TRIALS:-5}
RATE=${BENCH_RATE:-10000}
N_TCP=20 MIN_MOVED=4            # TCP connections per trial
STREAM_S=5 EVENT_AT=1           # UDP stream length, SIGHUP after (s)
CLIENT_S=9                      # TCP client's length (s)
POLL_S=0.05
bench_init "handoff-$REPL"

CONFIG=$SFM_TMP/config.yaml
# write_config MODE INSTANCE...: the example configuration with only the
# dlp instances named, and handoff mode MODE.
write_config() {
    "$PY" - "$top/docs/examples/two-service-chain.yaml" "$@" <<'EOF' \
        > "$CONFIG.new"
import re, sys
text = open(sys.argv[1]).read()
mode, keep = sys.argv[2], set(sys.argv[3:])
out, key, seen = [], None, set()
for line in text.splitlines():
    m = re.match(r'\s+(dlp-\d+): \{', line)
    if m and m.group(1) not in keep:
        continue
    top = re.match(r'([a-z_]+):', line)
    if top:
        key = top.group(1)
        seen.add(key)
    if key == 'rebalance' and top:
        line = 'rebalance: on'
    elif key == 'handoff' and top:
        line = 'handoff:\n  mode: %s' % mode
    elif key == 'handoff' and re.match(r'\s+mode:', line):
        continue
    out.append(line)
if 'rebalance' not in seen:
    out.append('rebalance: on')
if 'handoff' not in seen:
    out.append('handoff: {mode: %s}' % mode)
print('\n'.join(out))
EOF
    mv "$CONFIG.new" "$CONFIG"
}
reload() { kill -HUP "$(cat "$OVS_RUNDIR/sfmesh-controller.pid")"; }
mode_of() { if [ $(($1 % 2)) = 1 ]; then echo make-before-break;
            else echo immediate; fi; }

# Set-up: dlp-1 and dlp-2 configured, every agent started (dlp-3's is
# refused until it is configured).
write_config "$(mode_of 1)" dlp-1 dlp-2
bench_repnet
sfm_ovs_start
bench_controller "$CONFIG"
sfm_add_bridge br0 1
bench_hosts
bench_instances br0 $CHAIN_INSTANCES
declare -A NUM
n=1
for h in $CHAIN_INSTANCES; do
    NUM[$h]=$n
    bench_agent "$h" "$n" stateful-fw "$REPL"
    n=$((n + 1))
done
client_port=$(ovs-vsctl get interface client ofport)
CTL_LOG=$OVS_LOGDIR/sfmesh-controller.log
# Each handoff's end, with its duration, in the log.
ctl vlog/set handoff:file:dbg >/dev/null || sfm_die "vlog/set"

dlp_primaries() { ctl map dlp | awk 'NF == 3 && $1 ~ /^[0-9]+$/ {print $2}'; }
primary_of() { ctl map dlp | awk -v b="$1" '$1 == b && NF == 3 {print $2}'; }
instance_in() { ctl instances | awk -v i="$1" '$1 == i {f = 1} END {exit !f}'; }
# No dlp handoff in progress or wanted, every live dlp instance at its
# rendezvous share, and (if $1 is given) instance $1 up and holding a share.
dlp_converged() {
    ctl handoffs dlp | grep -q "in progress 0,.* pending 0," || return 1
    ctl instances | awk -v want="${1:-}" '
        $2 == "dlp" && ($6 == "up" || $6 == "cold") && $7 != $9 {bad = 1}
        $1 == want && $6 == "up" && $7 == $9 && $9 > 0 {found = 1}
        END {exit bad || (want != "" && !found)}'
}
two_dlp_ready() {
    ! instance_in dlp-3 && dlp_converged && agents_ready 4
}
SFM_WAIT_TIMEOUT=30 sfm_wait_until two_dlp_ready \
    || { ctl agents >&2; ctl instances >&2; sfm_die "agents not ready"; }

# A dry run of the scale-out: which buckets dlp-3 wins.
dlp_primaries > "$SFM_TMP/base"
write_config "$(mode_of 1)" dlp-1 dlp-2 dlp-3
reload
SFM_WAIT_TIMEOUT=30 sfm_wait_until dlp_converged dlp-3 \
    || { ctl handoffs dlp >&2; ctl instances >&2; sfm_die "dry run"; }
dlp_primaries | awk '$1 == "dlp-3" {print NR - 1}' > "$SFM_TMP/moving"
say "dry run: dlp-3 wins $(wc -l < "$SFM_TMP/moving") of $(wc -l < "$SFM_TMP/base") buckets"
[ -s "$SFM_TMP/moving" ] || sfm_die "dlp-3 wins no bucket"
write_config "$(mode_of 1)" dlp-1 dlp-2
reload
SFM_WAIT_TIMEOUT=30 sfm_wait_until two_dlp_ready \
    || { ctl instances >&2; sfm_die "dry run: no scale in"; }
dlp_primaries | diff -q - "$SFM_TMP/base" >/dev/null \
    || say "note: the map after the dry run differs from the first one"

# bucket_of PROTO SPORT DPORT: the stream's dlp bucket.
bucket_of() {
    local code
    code=$(affinity_code "$client_port" "$1,nw_src=10.0.0.1,\
nw_dst=10.0.0.2,$1_src=$2,$1_dst=$3")
    [ -n "$code" ] || sfm_die "no affinity code for $1 $2"
    echo $((code & 255))
}
moves() { grep -qx "$1" "$SFM_TMP/moving"; }

# The UDP stream: the first source port from 40000 whose bucket moves.
DPORT=5000
for SPORT in $(seq 40000 40100); do
    UBUCKET=$(bucket_of udp "$SPORT" "$DPORT") || exit 1
    moves "$UBUCKET" && break
done
moves "$UBUCKET" || sfm_die "no UDP source port in a moving bucket"
say "UDP stream from port $SPORT, dlp bucket $UBUCKET, primary $(primary_of "$UBUCKET")"

ip netns exec "$(sfm_netns server)" "$PY" "$top/topo/traffic.py" \
    tcp-server 10.0.0.2 5001 "$SFM_TMP/server.ready" & SFM_PIDS+=($!)
sfm_wait_until test -e "$SFM_TMP/server.ready" || sfm_die "no server"

trial() {
    local t=$1 mode rec first base p b sent_line t_hup t_conv log_from \
        pid_recv pid_send pid_client deadline moved_map
    mode=$(mode_of "$t")
    rec=$SFM_TMP/t$t
    # The TCP connections: N_TCP consecutive source ports (traffic.py's
    # way), from 100 of the trial's own (no port still in TIME_WAIT): the
    # window of them with the most in moving buckets (at least MIN_MOVED).
    base=$((41000 + t * 100))
    : > "$rec.buckets"
    for p in $(seq "$base" $((base + 99))); do
        b=$(bucket_of tcp "$p" 5001) || exit 1
        if moves "$b"; then echo "$p 1"; else echo "$p 0"; fi >> "$rec.buckets"
    done
    first=$(awk -v n=$N_TCP -v m=$MIN_MOVED '{p[NR] = $1; mv[NR] = $2}
        END {best = -1
             for (s = 1; s + n - 1 <= NR; s++) {c = 0
                 for (i = s; i < s + n; i++) c += mv[i]
                 if (c > best) {best = c; first = p[s]}}
             if (best >= m) print first}' "$rec.buckets")
    [ -n "$first" ] || sfm_die "no window of TCP ports with $MIN_MOVED moving"
    awk -v f="$first" -v n=$N_TCP '$1 >= f && $1 < f + n && $2 == 1 {print $1}' \
        "$rec.buckets" > "$rec.moved-ports"

    dlp_primaries > "$rec.before"
    ctl handoffs dlp > "$rec.h0"
    ip netns exec "$(sfm_netns client)" "$PY" "$top/topo/traffic.py" \
        tcp-client 10.0.0.2 5001 $N_TCP "$first" "$CLIENT_S" 512 0.05 \
        "$rec.tcp.json" &
    pid_client=$!
    SFM_PIDS+=($pid_client)
    sfm_wait_until test -e "$rec.tcp.json.started" \
        || sfm_die "TCP client did not connect"
    sleep 1                     # state replicated to the secondaries
    udp_stream_start "$rec" "$SPORT" 30
    pid_recv=$UDP_RECV pid_send=$UDP_SEND
    sleep "$EVENT_AT"

    write_config "$mode" dlp-1 dlp-2 dlp-3
    log_from=$(wc -l < "$CTL_LOG")
    t_hup=$(now)
    reload
    t_conv=''
    deadline=$((SECONDS + 30))
    : > "$rec.polls"
    while [ $SECONDS -lt $deadline ]; do
        sleep "$POLL_S"
        ctl handoffs dlp > "$rec.poll" 2>/dev/null
        { echo "== $(now)"; cat "$rec.poll"; } >> "$rec.polls"
        if grep -q "in progress 0,.* pending 0," "$rec.poll" \
            && dlp_converged dlp-3; then
            t_conv=$(now)
            break
        fi
    done
    [ -n "$t_conv" ] || { ctl handoffs dlp >&2; ctl instances >&2;
                          sfm_die "trial $t ($mode): no convergence"; }
    dlp_primaries > "$rec.after"
    wait "$pid_send"
    wait "$pid_recv"
    wait "$pid_client" || sfm_die "TCP client failed"
    sent_line=$(cat "$rec.send")
    moved_map=$(paste "$rec.before" "$rec.after" | awk '$1 != $2' | wc -l)
    "$PY" "$top/bench/analyze.py" handoff-trial "$rec.bin" "$sent_line" \
        "$rec.tcp.json" "$rec.moved-ports" "$rec.polls" "$rec.h0" "$CTL_LOG" \
        "$log_from" "$REPL" "$mode" "$t" "$t_hup" "$t_conv" "$moved_map" \
        "$UBUCKET" \
        "$(awk -v b="$UBUCKET" 'NR == b + 1' "$rec.before")" \
        "$(awk -v b="$UBUCKET" 'NR == b + 1' "$rec.after")" \
        || sfm_die "analysis failed"
    [ "${SFM_KEEP:-}" = 1 ] || rm -f "$rec.bin"

    # Scale in, with the next trial's mode.
    write_config "$(mode_of $((t + 1)))" dlp-1 dlp-2
    reload
    SFM_WAIT_TIMEOUT=30 sfm_wait_until two_dlp_ready \
        || { ctl instances >&2; ctl handoffs dlp >&2;
             sfm_die "trial $t: no scale in"; }
}

for t in $(seq 1 $((2 * TRIALS))); do
    trial "$t" > "$SFM_TMP/row"
    cat "$SFM_TMP/row"
    say "$("$PY" -c 'import json, sys
r = json.loads(sys.stdin.read())
print("trial %(trial)d %(mode)s: gap %(gap_ms).1f ms, lost %(lost)d, TCP %(tcp_survived)d/%(tcp_n)d"
      " (moved %(tcp_moved_survived)d/%(tcp_moved)d), buckets %(buckets_moved)d,"
      " converged %(convergence_ms).0f ms, moves %(moves)s"
      " handoff p50 %(handoff_ms_p50)s ms p95 %(handoff_ms_p95)s, lost before/during/after"
      " %(lost_before)d/%(lost_during)d/%(lost_after)d, abandoned %(n_ab)d,"
      " UDP bucket moved %(udp_bucket_moved)s" % dict(r, n_ab=len(r["abandoned"])))' \
        < "$SFM_TMP/row")"
done
say "$(ctl handoffs dlp | head -n 1)"
grep -i 'abandon\|WARN\|ERR' "$OVS_LOGDIR/sfmesh-controller.log" \
    | grep -v 'reconnect' | tail -n 10 | sed 's/^/    controller: /' >&2
