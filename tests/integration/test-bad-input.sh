#!/usr/bin/env bash
# The bad-input list of the connection core, against a controller built
# with AddressSanitizer, while a real OVS bridge stays connected to it.
# Fails on a failed case, a crash, a sanitizer report (leaks included, at
# exit), or a missing log line.
#
# Usage: test-bad-input.sh ASAN_BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)

sfm_setup bad-input
export ASAN_OPTIONS="log_path=$SFM_TMP/asan:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$SFM_TMP/ubsan:print_stacktrace=1"
sfm_ovs_start
sfm_controller_start "$BIN/sfmesh-controller" --inactivity-probe=500 \
    --handshake-timeout=1000 ptcp:0:127.0.0.1
sfm_add_bridge br0 1
sfm_wait_until "$BIN/sfmesh-ctl" -t "$SFM_CTL" status \
    | grep -q "connected: true" || true
SFM_WAIT_TIMEOUT=10 sfm_wait_until sh -c \
    "'$BIN/sfmesh-ctl' -t '$SFM_CTL' status | grep -q 'connected: true'" \
    || sfm_die "br0 not connected"

cd "$top/tests/integration"
/usr/bin/python3 badinput.py "$SFM_OF_PORT" "$BIN/sfmesh-ctl" "$SFM_CTL" 1
status=$?

# Garbage on the control socket must not hurt either.
/usr/bin/python3 - "$SFM_CTL" <<'PY' || status=1
import socket, sys
for junk in (b'{"method": 1}', b'not json at all', b'[' * 70000,
             b'{"method":"status","params":[1],"id":1}'):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:
        s.sendall(junk)
        s.settimeout(3)
        s.recv(4096)
    except OSError:
        pass
    s.close()
PY
"$BIN/sfmesh-ctl" -t "$SFM_CTL" status | grep -q "connected: true" \
    || { echo "control socket broken by garbage"; status=1; }
"$BIN/sfmesh-ctl" -t "$SFM_CTL" no-such-command 2>/dev/null \
    && { echo "unknown command accepted"; status=1; }

log=$OVS_LOGDIR/sfmesh-controller.log
for line in "framing error" "first message is not a hello" \
            "version negotiation failed" "OFPBRC_BAD_TYPE" \
            "wrong OpenFlow version" "OFPBRC_BAD_LEN" \
            "inactivity timeout" "handshake timed out" \
            "replaced by a new connection" "pausing input" \
            "caught up, resuming input" "peer stopped reading" \
            "inside a message"; do
    grep -q "$line" "$log" || { echo "no log line: $line"; status=1; }
done

# Stop the controller so that LeakSanitizer runs, then look for reports.
pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
kill -TERM "$pid"
sfm_wait_until sh -c "! kill -0 $pid 2>/dev/null" \
    || { echo "controller did not exit"; status=1; }
if ls "$SFM_TMP"/asan.* "$SFM_TMP"/ubsan.* >/dev/null 2>&1; then
    echo "sanitizer reports:"
    cat "$SFM_TMP"/asan.* "$SFM_TMP"/ubsan.* 2>/dev/null | head -60
    status=1
fi
sfm_check_ovs_logs || status=1
[ "$status" = 0 ] && echo "PASS: bad-input"
exit "$status"
