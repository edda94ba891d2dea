#!/usr/bin/env bash
# Stateful failover with sfmesh-agent: the two-service chain of the example
# configuration, every instance running sfmesh-agent with the stateful
# firewall, and 24 TCP connections carrying data the whole time.  The
# primary of service dlp for a third of the streams fails under traffic:
#
#   kill   its agent gets SIGKILL (the link stays up): the controller sees
#          the channel close and sets the port down;
#   stop   its agent gets SIGSTOP: the controller misses its heartbeats;
#   link   its link goes down: OVS fails over by itself;
#   disable  planned maintenance: "sfmesh-ctl disable" (which first checks
#          that the secondaries taking over are warm);
#   kill-noctl, stop-noctl  the same as kill and stop with the controller
#          stopped (SIGSTOP) first and until the traffic is over: only the
#          datapath can fail them over, by the BFD that the agent answers
#          (for the kill: the AdminDown that its sentinel sends at once).
#
# With replication (async, and sync for the kill) every connection must
# survive each failure; with replication off, exactly the connections whose
# bucket the failed instance held must break (the secondary's firewall has
# no state for them), which shows the test can tell.
#
# Usage: test-agent.sh BIN_DIR [SCENARIO REPLICATION]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ $# -lt 3 ]; then
    # Each scenario runs in a network namespace and a private OVS of its own.
    bin=$1 status=0
    for run in "kill async" "kill sync" "kill off" "stop async" \
               "link async" "disable async" "kill-noctl async" \
               "stop-noctl async"; do
        timeout --kill-after=10 120 bash "$0" "$bin" $run || status=1
    done
    [ "$status" = 0 ] && echo "PASS: agent"
    exit "$status"
fi

. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
SCENARIO=$2 REPL=$3
PY=/usr/bin/python3
N_CONNS=24
VICTIM=dlp-1

sfm_setup "agent-$SCENARIO-$REPL"
. "$top/tests/lib/agent-chain.sh"
say() { printf '  [%s/%s] %s\n' "$SCENARIO" "$REPL" "$*" >&2; }
sfm_chain_setup
ready() { sfm_chain_ready; }

if [ "$SCENARIO" = throughput ]; then
    # Not a test: one TCP stream of 40 MB through the chain, as fast as it
    # goes, for comparing replication modes (see docs/agent.md).
    ip netns exec "$(sfm_netns server)" "$PY" \
        "$top/tests/integration/tcp-sink.py" 10.0.0.2 5001 "$SFM_TMP/sink" &
    SFM_PIDS+=($!)
    sfm_wait_until test -e "$SFM_TMP/sink.ready" || sfm_die "no sink"
    start=$(date +%s.%N)
    ip netns exec "$(sfm_netns client)" "$PY" \
        "$top/tests/integration/tcp-source.py" 10.0.0.2 5001 0 40000000 \
        > /dev/null || sfm_die "transfer failed"
    end=$(date +%s.%N)
    sfm_wait_until test -s "$SFM_TMP/sink" || sfm_die "no result"
    "$PY" -c "import sys; print('%s replication, %s: %.1f MB/s' % (
        sys.argv[1], sys.argv[2], 40 / (float(sys.argv[4]) - float(sys.argv[3]))))" \
        "$REPL" "${AGENT_SERVICE:-stateful-fw}" "$start" "$end"
    for h in $SFM_INSTANCES; do
        "$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$h.ctl" status \
            | grep -E "^sync|^replication to" | sed "s/^/    $h: /"
    done
    exit 0
fi

if [ "$SCENARIO/$REPL" = kill/async ]; then
    # Garbage on the agent channel and on a replication port, and batches
    # in dlp-1's name from another address: each is refused, and nothing
    # else notices.
    "$PY" - "$AGENT_PORT" <<'PY' || sfm_die "garbage sender failed"
import os, socket, struct, sys, time

def frame(msg_type, body, magic=b'SFMA', version=None):
    # HELLO and HELLO_ACK are framed with version 1, the others with 3.
    if version is None:
        version = 1 if msg_type in (1, 2) else 3
    return magic + struct.pack('!BBHII', version, msg_type, 0,
                               16 + len(body), 7) + body

def send(addr, data):
    s = socket.create_connection(addr, timeout=3)
    try:
        s.sendall(data)
        s.settimeout(2)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()

ctl = ('10.9.0.254', int(sys.argv[1]))
repl = ('10.9.0.4', 7000)                  # dlp-2
forged = frame(5, struct.pack('!H', 5) + b'dlp-1' + struct.pack('!QI', 1, 0))
for addr in (ctl, repl):
    send(addr, os.urandom(4096))
    send(addr, frame(99, b'x' * 8))                     # unknown type
    send(addr, frame(1, b'\xff' * 40))                  # undecodable
    send(addr, b'XXXX' + b'\0' * 60)                    # bad magic
send(repl, forged + forged)                             # forged sender
PY
    sleep 0.5
    ready || { ctl agents >&2; sfm_die "garbage disturbed the agents"; }
    "$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-dlp-2.ctl" status \
        | grep -q "replication refused: [1-9][0-9]* senders" \
        || sfm_die "the batch in dlp-1's name was not refused"
    for f in "$OVS_LOGDIR/sfmesh-controller.log" \
             "$OVS_LOGDIR/agent-dlp-2.log"; do
        grep -q "bad message\|protocol error" "$f" \
            || sfm_die "no log of the garbage in $f"
    done
    say "garbage and forged batches refused"

    # Malformed BFD frames into dlp-3's interface, from the switch's end of
    # its link: each dropped and counted by reason, the session unharmed.
    "$PY" - dlp-3 <<'PY' || sfm_die "BFD garbage sender failed"
import socket, struct, sys

def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff

def frame(ttl=255, vers=1, mult=3, length=24, my=0x1234):
    bfd = struct.pack('!BBBBIIIII', vers << 5, 1 << 6, mult, length, my, 0,
                      1000, 1000, 0)
    udp = struct.pack('!HHHH', 49152, 3784, 8 + len(bfd), 0)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0xc0, 20 + len(udp) + len(bfd),
                     0, 0, ttl, 17, 0, socket.inet_aton('169.254.1.1'),
                     socket.inet_aton('169.254.1.0'))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    eth = (b'\x00\x23\x20\x00\x00\x01' + b'\x02\x00\x00\x00\x00\x99'
           + b'\x08\x00')
    return eth + ip + udp + bfd

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for f in (frame(ttl=254), frame(vers=2), frame(mult=0), frame(length=20),
          frame(my=0), frame()[:40]):
    s.send(f)
PY
    sleep 0.5
    st=$("$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-dlp-3.ctl" status)
    for reason in ip-ttl bfd-version bfd-mult-zero bfd-length-short \
                  bfd-my-disc-zero; do
        printf '%s\n' "$st" | grep "^bfd frames:" | grep -q "$reason 1" \
            || { printf '%s\n' "$st" >&2; sfm_die "no BFD drop for $reason"; }
    done
    ready || { ctl instances >&2; sfm_die "BFD garbage disturbed dlp-3"; }
    say "malformed BFD frames dropped and counted"

    # Stale records: a made-up UDP stream of a bucket of dlp-1 and dlp-2,
    # sent to dlp-2 in dlp-1's name at version (7, 10), then older ones, at
    # (7, 9) and (6, 50): dlp-2 keeps the first, whose packet count its
    # "streams" shows; then a newer one, (7, 11), applies.  They come from
    # dlp-1's namespace: without TLS a receiver knows a sender by its
    # replication address.
    bucket=$(ctl map dlp | awk '$2 == "dlp-1" && $3 == "dlp-2" && NF == 3 \
                                {print $1; exit}')
    [ -n "$bucket" ] || sfm_die "no bucket of dlp-1 with secondary dlp-2"
    stale() {
        ip netns exec "$(sfm_netns dlp-1)" "$PY" - "$bucket" "$@" <<'PY' \
            || sfm_die "stale sender failed"
import socket, struct, sys

def string(s):
    return struct.pack('!H', len(s)) + s.encode()

def record(bucket, epoch, count, packets):
    # stateful-fw: version 1, UDP, no flags; last_seen, packets, bytes.
    blob = (bytes([1, 6, 0]) + bytes(5)
            + struct.pack('!q4Q', 0, packets, 0, 100 * packets, 0))
    return (struct.pack('!IIIHHB', bucket, 0x0a4d0001, 0x0a4d0002, 5000,
                        6000, 17)
            + struct.pack('!QQH', epoch, count, len(blob)) + blob)

bucket = int(sys.argv[1])
s = socket.create_connection(('10.9.0.4', 7000), timeout=3)
seq = 0
for version in [None] + sys.argv[2:]:
    recs = []
    if version:
        epoch, count = map(int, version.split(','))
        recs.append(record(bucket, epoch, count, count))
    seq += 1
    body = (string('dlp-1') + struct.pack('!QI', seq, len(recs))
            + b''.join(recs))
    s.sendall(b'SFMA' + struct.pack('!BBHII', 3, 5, 0, 16 + len(body), seq)
              + body)
    ack = b''
    while len(ack) < 24:
        chunk = s.recv(24 - len(ack))
        if not chunk:
            sys.exit('connection closed before the ack of batch %d' % seq)
        ack += chunk
    if ack[5] != 6 or struct.unpack('!Q', ack[16:24])[0] != seq:
        sys.exit('batch %d not acknowledged' % seq)
s.close()
PY
    }
    packets_held() {
        actl dlp-2 streams | grep '^proto 17 10\.77\.0\.1:5000 ' \
            | sed -n 's/.* packets_lo_hi=\([0-9]*\) .*/\1/p'
    }
    stale 7,10 7,9 6,50
    [ "$(packets_held)" = 10 ] \
        || sfm_die "stale records applied: dlp-2 holds '$(packets_held)'"
    read -r n_stale n_answered < <(actl dlp-2 status \
        | awk '/^replication versions:/ {print $3, substr($7, 2)}')
    [ "${n_stale:-0}" -ge 2 ] && [ "${n_answered:-0}" -ge 2 ] \
        || { actl dlp-2 status >&2; sfm_die "stale records not counted"; }
    stale 7,11
    [ "$(packets_held)" = 11 ] \
        || sfm_die "a newer record not applied: dlp-2 holds '$(packets_held)'"
    sleep 0.5
    ready || { ctl agents >&2; sfm_die "stale records disturbed the agents"; }
    say "stale records dropped, a newer one applied"
fi

# Which connections does the victim serve?  Their bucket's dlp primary.
mapfile -t affected < <(sfm_chain_streams_of "$VICTIM" "$N_CONNS")
[ ${#affected[@]} -gt 0 ] || sfm_die "no connection on $VICTIM"
say "${#affected[@]} of $N_CONNS connections have $VICTIM as dlp primary"

sfm_chain_traffic_start "$N_CONNS" 8
sleep 3

victim_pid=$(cat "$OVS_RUNDIR/agent-$VICTIM.pid")
ctl_pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
case $SCENARIO in
*-noctl) kill -STOP "$ctl_pid" ;;
esac
case $SCENARIO in
kill|kill-noctl) kill -KILL "$victim_pid" ;;
stop|stop-noctl) kill -STOP "$victim_pid" ;;
link) ip link set "$VICTIM" down ;;
disable) ctl disable "$VICTIM" || sfm_die "disable refused" ;;
esac
say "$SCENARIO $VICTIM at $(date +%T.%3N)"
sfm_chain_traffic_wait
read -r survived failed gap < <(sfm_chain_traffic_result)
case $SCENARIO in
*-noctl)
    # Before the controller runs again: the datapath did it all.
    ovs-appctl bfd/show "$VICTIM" | grep -q "Forwarding: false" \
        || sfm_die "the victim's port still forwards by BFD"
    if [ "$SCENARIO" = kill-noctl ]; then
        # The killed agent's sentinel said so (AdminDown: OVS then resets
        # the remote state it shows, but keeps this diagnostic), rather than
        # the switch finding out when the detection time ran out ("Control
        # Detection Time Expired").
        ovs-appctl bfd/show "$VICTIM" > "$OVS_LOGDIR/bfd-victim.txt"
        grep -q "Local Diagnostic: Neighbor Signaled Session Down" \
                "$OVS_LOGDIR/bfd-victim.txt" \
            || { cat "$OVS_LOGDIR/bfd-victim.txt" >&2;
                 sfm_die "the killed agent's sentinel did not take BFD down"; }
    fi
    kill -CONT "$ctl_pid" ;;
esac
case $SCENARIO in
stop|stop-noctl) kill -CONT "$victim_pid" ;;
esac
say "$survived of $N_CONNS survived; failed: $failed; longest gap ${gap} ms"
case $SCENARIO in
*-noctl)
    [ "$gap" -lt 1000 ] \
        || sfm_die "a gap of $gap ms: the datapath did not fail over" ;;
esac
grep -E "fenced" "$OVS_LOGDIR/sfmesh-controller.log" \
    | cut -d'|' -f1,4- | head -n 1 >&2

expected=$(printf '%s\n' "${affected[@]}" | sort -n | paste -sd, -)
if [ "$REPL" != off ]; then
    [ "$survived" = "$N_CONNS" ] \
        || sfm_die "connections lost with replication: $failed"
    # The instances that took over hold the streams' state.
    held=0
    for h in dlp-2 dlp-3; do
        c=$("$BIN/sfmesh-ctl" -t "$OVS_RUNDIR/agent-$h.ctl" status \
            | sed -n 's/^streams: //p')
        held=$((held + c))
    done
    [ "$held" -ge "$N_CONNS" ] || sfm_die "only $held streams held by dlp-2/3"
else
    [ "$failed" = "$expected" ] \
        || sfm_die "without replication, lost $failed, expected $expected"
fi
echo "PASS: agent $SCENARIO $REPL"
