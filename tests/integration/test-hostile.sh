#!/usr/bin/env bash
# Hostile clients (tests/integration/hostile.py) against the two-service
# chain with sfmesh-agent in every instance and 24 TCP connections through
# it, from a namespace of their own on the agent network ("mallory",
# 10.9.0.200) and from the controller's host.  Each attack of
# docs/security.md is repeated, must be refused and counted, and leave the
# chain as it was; then, with the attacks done, the primary of service dlp
# for a third of the streams is killed, and every connection must survive.
#
#   tls    every channel runs TLS with ovs-pki certificates (OpenFlow, the
#          agent channel, replication).  Mallory holds no certificate, one
#          of another CA, a switch certificate of the real CA, and the
#          stolen certificate of instance dlp-3: a name other than its own
#          is refused everywhere, and even as dlp-3 it may send only the
#          state of buckets dlp-3 holds a role for, up to a quota.
#   plain  no TLS: what the map and the addresses still refuse (forged
#          senders, windows, warm reports of maps never sent, a live
#          channel or switch taken over from elsewhere).
#
# Usage: test-hostile.sh BIN_DIR [tls|plain]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ $# -lt 2 ]; then
    bin=$1 status=0
    for mode in tls plain; do
        timeout --kill-after=10 150 bash "$0" "$bin" "$mode" || status=1
    done
    [ "$status" = 0 ] && echo "PASS: hostile"
    exit "$status"
fi

. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
MODE=$2 REPL=async
PY=/usr/bin/python3
N_CONNS=24
VICTIM=dlp-1
sfm_setup "hostile-$MODE"
[ "$MODE" = tls ] && export SFM_CHAIN_TLS=1
. "$top/tests/lib/agent-chain.sh"
say() { printf '  [%s] %s\n' "$MODE" "$*" >&2; }
AGENT_EXTRA_ARGS=--repl-quota=2000
sfm_chain_setup

# Mallory's namespace, on the agent network.
mal_ns="$SFM_PREFIX-mallory"
ip netns add "$mal_ns" && SFM_NETNS+=("$mal_ns")
ip -n "$mal_ns" link set lo up
ip link add r-mallory type veth peer name rep0
ip link set rep0 netns "$mal_ns"
ip link set r-mallory master sfmrep up
ip -n "$mal_ns" addr add 10.9.0.200/24 dev rep0
ip -n "$mal_ns" link set rep0 up
mal() { ip netns exec "$mal_ns" "$PY" "$top/tests/integration/hostile.py" "$@"; }
hostile() { "$PY" "$top/tests/integration/hostile.py" "$@"; }

# What Mallory holds.
nocert=() stranger=() stolen=() other_switch=()
if [ "$MODE" = tls ]; then
    # Mallory trusts every CA of the deployment: that is no secret.
    cat "$SFM_PKI/ca/controllerca/cacert.pem" \
        "$SFM_PKI/ca/switchca/cacert.pem" > "$SFM_TMP/all-ca.pem"
    nocert=(--ca "$SFM_TMP/all-ca.pem")
    mkdir -p "$SFM_TMP/mallory"
    (cd "$SFM_TMP/mallory" && ovs-pki --dir="$SFM_TMP/mallory/ca" \
         --log="$SFM_TMP/mallory/log" init >/dev/null 2>&1 \
     && ovs-pki --dir="$SFM_TMP/mallory/ca" --log="$SFM_TMP/mallory/log" \
         req+sign dlp-1 switch >/dev/null 2>&1) || sfm_die "mallory's pki"
    stranger=(--key "$SFM_TMP/mallory/dlp-1-privkey.pem"
              --cert "$SFM_TMP/mallory/dlp-1-cert.pem"
              --ca "$SFM_TMP/all-ca.pem")
    stolen=(--key "$SFM_PKI/dlp-3-privkey.pem"
            --cert "$SFM_PKI/dlp-3-cert.pem" --ca "$SFM_TMP/all-ca.pem")
    sfm_pki req+sign sc2 switch || sfm_die "no second switch certificate"
    other_switch=(--key "$SFM_PKI/sc2-privkey.pem"
                  --cert "$SFM_PKI/sc2-cert.pem"
                  --ca "$SFM_PKI/ca/controllerca/cacert.pem")
fi

# expect WHAT PATTERN OUTPUT: every line of OUTPUT matches PATTERN.
expect() {
    local what=$1 pattern=$2 out=$3
    if [ -z "$out" ] || printf '%s\n' "$out" | grep -vqE "$pattern"; then
        printf '%s\n' "$out" >&2
        sfm_die "$what: not refused"
    fi
    say "$what: $(printf '%s\n' "$out" | sort | uniq -c \
                  | sed 's/^ *//' | paste -sd';' -)"
}

# Counters: the controller's refused hellos and reports, an agent's
# replication refusals.
refused_hellos() { ctl agents | sed -n 's/^refused: \([0-9]*\) hellos.*/\1/p'; }
refused_reports() {
    ctl agents | sed -n 's/.* \([0-9]*\) warm reports.*/\1/p'
}
repl_refused() {                        # AGENT FIELD (1 senders, 2 roles,
    actl "$1" status \
        | sed -n 's/^replication refused: \([0-9]*\) senders.*, \([0-9]*\) states of buckets.*, \([0-9]*\) states over.*/\1 \2 \3/p' \
        | cut -d' ' -f"$2"              # 3 quota)
}
streams_of_mallory() {                  # Streams from client port 43000 on.
    actl "$1" streams | grep -c ' 10\.0\.0\.1:4[3-9][0-9][0-9][0-9] ' || true
}

bucket_where() {                        # AWK condition on $2 (primary), $3.
    ctl map dlp | awk "NF == 3 && \$1 ~ /^[0-9]+\$/ && $1 {print \$1; exit}"
}
no_role=$(bucket_where '$2 != "dlp-3" && $3 != "dlp-3"')
dlp3_role=$(bucket_where '$2 == "dlp-3" && $3 == "dlp-2"')
[ -n "$no_role" ] && [ -n "$dlp3_role" ] || sfm_die "no buckets to attack"

mapfile -t affected < <(sfm_chain_streams_of "$VICTIM" "$N_CONNS")
[ ${#affected[@]} -gt 0 ] || sfm_die "no connection on $VICTIM"
sfm_chain_traffic_start "$N_CONNS" 25
sleep 1

# 1. Hellos in the name of a live instance (8 in 2 s): its channel stays.
if [ "$MODE" = tls ]; then
    expect "hello as dlp-1 with dlp-3's certificate" \
        "^refused: the agent's certificate does not name instance dlp-1$" \
        "$(mal hello 10.9.0.254 "$AGENT_PORT" dlp-1 --count 8 "${stolen[@]}")"
    expect "hello as fw-2 without a certificate" '^closed$' \
        "$(mal hello 10.9.0.254 "$AGENT_PORT" fw-2 "${nocert[@]}")"
    expect "hello as dlp-1 with another CA's certificate" '^closed$' \
        "$(mal hello 10.9.0.254 "$AGENT_PORT" dlp-1 "${stranger[@]}")"
else
    expect "hello as dlp-1 from elsewhere" \
        "^refused: instance dlp-1 is connected from 10.9.0.3; a channel from 10.9.0.200 does not replace it$" \
        "$(mal hello 10.9.0.254 "$AGENT_PORT" dlp-1 --count 8)"
fi
[ "$(refused_hellos)" -ge 8 ] || sfm_die "refused hellos not counted"
if [ "$MODE" = tls ]; then
    # Handshakes refused: OpenSSL's reason in the controller's log.
    grep -q "agent ssl:10.9.0.200:.*connection error (.*certificate" \
        "$OVS_LOGDIR/sfmesh-controller.log" \
        || sfm_die "no log of the refused handshakes"
fi
sfm_chain_ready || { ctl instances >&2; sfm_die "the hellos disturbed the chain"; }

# 2. Replication in a primary's name, numbered to poison its window (the
# batch after 2**64-2 is 2**64-1), with forged established streams.
if [ "$MODE" = tls ]; then
    expect "replication as dlp-1 with dlp-3's certificate" '^closed$' \
        "$(mal repl 10.9.0.4 7000 dlp-1 --seq 18446744073709551614 \
               --records 5 --bucket "$no_role" "${stolen[@]}")"
    expect "replication without a certificate" '^closed$' \
        "$(mal repl 10.9.0.4 7000 dlp-1 "${nocert[@]}")"
    expect "replication with another CA's certificate" '^closed$' \
        "$(mal repl 10.9.0.4 7000 dlp-1 "${stranger[@]}")"
else
    expect "replication as dlp-1 from elsewhere" '^closed$' \
        "$(mal repl 10.9.0.4 7000 dlp-1 --seq 18446744073709551614 \
               --records 5 --bucket "$no_role")"
    expect "replication as dlp-3 from elsewhere" '^closed$' \
        "$(mal repl 10.9.0.4 7000 dlp-3 --records 5 --bucket "$dlp3_role")"
fi
[ "$(repl_refused dlp-2 1)" -ge 1 ] || sfm_die "forged senders not counted"
if [ "$MODE" = tls ]; then
    grep -q "replication from ssl:10.9.0.200:.*connection error (.*certificate" \
        "$OVS_LOGDIR/agent-dlp-2.log" \
        || sfm_die "no log of the refused replication handshakes"
fi
[ "$(streams_of_mallory dlp-2)" = 0 ] || sfm_die "forged streams applied"

# 3. As dlp-3 itself (its stolen certificate): state of a bucket it holds
# no role for is refused; of its own bucket, no more than its quota.
if [ "$MODE" = tls ]; then
    expect "dlp-3's state of a bucket it has no role in" '^acked [0-9]+$' \
        "$(mal repl 10.9.0.4 7000 dlp-3 --records 5 --bucket "$no_role" \
               "${stolen[@]}")"
    [ "$(repl_refused dlp-2 2)" -ge 5 ] || sfm_die "no-role states not counted"
    [ "$(streams_of_mallory dlp-2)" = 0 ] || sfm_die "no-role states applied"
    mal repl 10.9.0.4 7000 dlp-3 --records 5000 --bucket "$dlp3_role" \
        "${stolen[@]}" > /dev/null
    # (The real dlp-3's connection may supersede Mallory's before the end.)
    held=$(streams_of_mallory dlp-2)
    [ "$held" -ge 1 ] && [ "$held" -le 2000 ] \
        && [ "$(repl_refused dlp-2 3)" -ge 1 ] \
        || { actl dlp-2 status >&2; sfm_die "the quota did not hold: $held"; }
    say "dlp-3's states: $(repl_refused dlp-2 2) of buckets it has no role in, $(repl_refused dlp-2 3) over its quota, refused; $held held"
fi

# 4. Warm reports of maps never sent (without TLS, Mallory can say hello
# for an instance whose agent is down): counted for nothing.
if [ "$MODE" = plain ]; then
    kill -KILL "$(cat "$OVS_RUNDIR/agent-dlp-3.pid")"
    sfm_wait_until sh -c "'$BIN/sfmesh-ctl' -t '$SFM_CTL' agents \
        | grep -q '^dlp-3 *down'" || sfm_die "dlp-3 not down"
    mal hello 10.9.0.254 "$AGENT_PORT" dlp-3 --hold 2 --forge-epoch \
        > "$SFM_TMP/forged-hello" &
    sleep 1
    [ "$(ctl instances | awk '$1 == "dlp-3" {print $6}')" = up ] \
        && sfm_die "forged warm reports made dlp-3 up"
    wait $! || true
    [ "$(refused_reports)" -ge 5 ] || sfm_die "forged warm reports not counted"
    say "forged warm reports: $(refused_reports) refused; dlp-3 stayed cold"
    sfm_chain_agent_start dlp-3 5
    SFM_WAIT_TIMEOUT=20 sfm_wait_until sfm_chain_ready \
        || { ctl agents >&2; sfm_die "dlp-3 did not come back"; }
fi

# 5. A switch's datapath id, claimed from another peer.
if [ "$MODE" = tls ]; then
    expect "datapath 1 with another switch's certificate" '^closed$' \
        "$(hostile switch "$SFM_OF_PORT" 1 "${other_switch[@]}")"
    expect "datapath 1 without a certificate" '^closed$' \
        "$(hostile switch "$SFM_OF_PORT" 1 \
               --ca "$SFM_PKI/ca/controllerca/cacert.pem")"
else
    expect "datapath 1 from another address" '^closed$' \
        "$(hostile switch "$SFM_OF_PORT" 1 --source 127.0.0.2)"
fi
grep -q "datapath 0000000000000001 is connected as .* from another peer: refused" \
    "$OVS_LOGDIR/sfmesh-controller.log" \
    || sfm_die "the claim of datapath 1 not logged"
sfm_bridge_connected br0 || sfm_die "br0 lost its controller"
sfm_chain_ready || { ctl switches >&2; sfm_die "the switch was disturbed"; }

# 6. A failover while the connections run and Mallory goes on (hellos in
# the names of the victim, with TLS, or of fw-1 without, and of the
# instance taking over): every connection survives.  (Without TLS the
# victim's name is anyone's once its channel is down: security.md.)
kill -0 "$SFM_CLIENT" 2>/dev/null || sfm_die "the attacks outlasted the traffic"
target=$VICTIM
[ "$MODE" = tls ] || target=fw-1
mal hello 10.9.0.254 "$AGENT_PORT" "$target" --count 6 "${stolen[@]}" \
    > "$SFM_TMP/during-1" &
attack1=$!
mal hello 10.9.0.254 "$AGENT_PORT" dlp-2 --count 6 "${stolen[@]}" \
    > "$SFM_TMP/during-2" &
attack2=$!
sleep 0.3
kill -KILL "$(cat "$OVS_RUNDIR/agent-$VICTIM.pid")"
say "killed $VICTIM at $(date +%T.%3N), under attack"
wait "$attack1" "$attack2"
if [ "$MODE" = tls ]; then
    expect "hellos during the failover" "^refused: the agent's certificate" \
        "$(cat "$SFM_TMP/during-1" "$SFM_TMP/during-2")"
else
    expect "hellos during the failover" "^refused: instance .* is connected from" \
        "$(cat "$SFM_TMP/during-1" "$SFM_TMP/during-2")"
fi
sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result)
say "$survived of $N_CONNS survived; failed: $failed; longest gap ${gap} ms"
[ "$survived" = "$N_CONNS" ] || sfm_die "connections lost: $failed"
echo "PASS: hostile $MODE"
