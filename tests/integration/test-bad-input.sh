#!/usr/bin/env bash
# The bad-input list of the connection core, against a controller built
# with AddressSanitizer, while a real OVS bridge stays connected to it:
# once over TCP (ptcp:) and once over TLS (pssl:, the bridge and the
# scripted switches with the harness PKI's switch certificate), each run
# against a controller of its own.  Fails on a failed case, a crash, a
# sanitizer report (leaks included, at exit), or a missing log line.
#
# Usage: test-bad-input.sh ASAN_BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)

sfm_setup bad-input
sfm_pki_init
sfm_ovs_start
sfm_ovs_set_ssl
SFM_OF_PORT='' sfm_add_bridge br0 1
cd "$top/tests/integration"
status=0

# Log lines that every run must show, whatever the transport.
LOG_LINES=("framing error" "first message is not a hello"
           "version negotiation failed" "OFPBRC_BAD_TYPE"
           "wrong OpenFlow version" "OFPBRC_BAD_LEN"
           "inactivity timeout" "handshake timed out"
           "replaced by a new connection" "pausing input"
           "caught up, resuming input" "peer stopped reading"
           "inside a message")

# One run of the suite against a fresh controller.  MODE "tcp" listens on
# ptcp:, "tls" on pssl: with the harness PKI.  br0 is pointed at the
# controller for the run and taken off it before the controller stops; the
# controller's log is then kept as sfmesh-controller-MODE.log.  Sets
# 'status' to 1 on any failure.
run_suite() {
    local mode=$1 listen=ptcp:0:127.0.0.1 scheme=tcp pid i log line
    local opts=() tls_env=() lines=("${LOG_LINES[@]}")
    if [ "$mode" = tls ]; then
        listen=pssl:0:127.0.0.1 scheme=ssl
        opts=("${SFM_TLS_OPTS[@]}")
        tls_env=(SFM_TLS_KEY="$SFM_PKI/sc-privkey.pem"
                 SFM_TLS_CERT="$SFM_PKI/sc-cert.pem"
                 SFM_TLS_CA="$SFM_PKI/ca/controllerca/cacert.pem")
        lines+=("TLS error")
    fi
    sfm_log "bad-input over $mode ($listen):"
    export ASAN_OPTIONS="log_path=$SFM_TMP/$mode-asan:detect_leaks=1"
    export UBSAN_OPTIONS="log_path=$SFM_TMP/$mode-ubsan:print_stacktrace=1"
    sfm_controller_start "$BIN/sfmesh-controller" "${opts[@]}" \
        --inactivity-probe=500 --handshake-timeout=1000 "$listen"
    [ -n "$SFM_OF_PORT" ] || sfm_die "no $listen listener"
    sfm_set_controller br0 "$scheme:127.0.0.1:$SFM_OF_PORT"
    SFM_WAIT_TIMEOUT=10 sfm_wait_until sh -c \
        "'$BIN/sfmesh-ctl' -t '$SFM_CTL' status | grep -q 'connected: true'" \
        || sfm_die "br0 not connected over $mode"

    env "${tls_env[@]}" /usr/bin/python3 badinput.py "$SFM_OF_PORT" \
        "$BIN/sfmesh-ctl" "$SFM_CTL" 1 || status=1

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
        || { echo "$mode: control socket broken by garbage"; status=1; }
    "$BIN/sfmesh-ctl" -t "$SFM_CTL" no-such-command 2>/dev/null \
        && { echo "$mode: unknown command accepted"; status=1; }

    # Stop the controller so that LeakSanitizer runs, then look for reports.
    ovs-vsctl del-controller br0 || status=1
    pid=$(cat "$OVS_RUNDIR/sfmesh-controller.pid")
    kill -TERM "$pid"
    sfm_wait_until sh -c "! kill -0 $pid 2>/dev/null" \
        || sfm_die "$mode: controller did not exit"
    # Gone: no longer one for the cleanup to signal.
    for i in "${!SFM_PIDS[@]}"; do
        [ "${SFM_PIDS[i]}" != "$pid" ] || unset 'SFM_PIDS[i]'
    done
    SFM_PIDS=("${SFM_PIDS[@]}")
    rm -f "$OVS_RUNDIR/sfmesh-controller.pid"
    log=$OVS_LOGDIR/sfmesh-controller-$mode.log
    mv "$OVS_LOGDIR/sfmesh-controller.log" "$log"
    for line in "${lines[@]}"; do
        grep -q "$line" "$log" \
            || { echo "$mode: no log line: $line"; status=1; }
    done
    if ls "$SFM_TMP/$mode"-asan.* "$SFM_TMP/$mode"-ubsan.* \
           >/dev/null 2>&1; then
        echo "$mode: sanitizer reports:"
        cat "$SFM_TMP/$mode"-asan.* "$SFM_TMP/$mode"-ubsan.* 2>/dev/null \
            | head -60
        status=1
    fi
}

run_suite tcp
run_suite tls
sfm_check_ovs_logs || status=1
[ "$status" = 0 ] && echo "PASS: bad-input"
exit "$status"
