#!/usr/bin/env bash
# OpenFlow over TLS ("pssl:") with the private OVS and ovs-pki
# certificates: the TLS options refuse what is missing or wrong with a
# clear error; a bridge with the switch certificate (ovs-vsctl set-ssl)
# connects and is programmed as over TCP; a plain TCP peer, a TLS peer
# without a certificate and one whose certificate another CA signed are
# refused, with the reason logged, while the bridge stays connected; a
# plaintext listener that other hosts can reach is warned about.
#
# Usage: test-tls.sh BIN_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/ovs-harness.sh"
sfm_enter_netns "$0" "$@"
BIN=$(cd "$1" && pwd)
export SFM_TOP=$top

sfm_setup tls
step() { printf '  %s\n' "$*" >&2; }
ctl() { "$BIN/sfmesh-ctl" -t "$SFM_CTL" "$@"; }
log=$OVS_LOGDIR/sfmesh-controller.log

sfm_pki_init
# A CA that nobody here trusts, and a switch certificate it signed.
ROGUE=$SFM_TMP/rogue
mkdir -p "$ROGUE"
(cd "$ROGUE" && ovs-pki --dir="$ROGUE/ca" --log="$ROGUE/log" init \
     && ovs-pki --dir="$ROGUE/ca" --log="$ROGUE/log" req+sign evil switch) \
    >>"$ROGUE/log" 2>&1 || sfm_die "rogue PKI"

step "TLS options: clear errors"
refused() {
    local want=$1; shift
    if "$BIN/sfmesh-controller" --unixctl="$SFM_TMP/x.ctl" --no-state-file \
           "$@" 2>"$SFM_TMP/err"; then
        sfm_die "accepted: $*"
    fi
    grep -qF -- "$want" "$SFM_TMP/err" \
        || { cat "$SFM_TMP/err" >&2; sfm_die "no clear error ($want)"; }
}
refused "pssl:0:127.0.0.1: TLS needs --private-key, --certificate and" \
    pssl:0:127.0.0.1
refused "(missing: --certificate --ca-cert)" \
    --private-key="$SFM_PKI/ctl-privkey.pem" pssl:0:127.0.0.1
refused "--private-key does not match --certificate" \
    --private-key="$SFM_PKI/sc-privkey.pem" \
    --certificate="$SFM_PKI/ctl-cert.pem" \
    --ca-cert="$SFM_PKI/ca/switchca/cacert.pem" pssl:0:127.0.0.1
refused "--ca-cert: $SFM_TMP/none.pem" \
    --private-key="$SFM_PKI/ctl-privkey.pem" \
    --certificate="$SFM_PKI/ctl-cert.pem" --ca-cert="$SFM_TMP/none.pem" \
    pssl:0:127.0.0.1
refused "--certificate: $SFM_PKI/ctl-req.pem" \
    --private-key="$SFM_PKI/ctl-privkey.pem" \
    --certificate="$SFM_PKI/ctl-req.pem" \
    --ca-cert="$SFM_PKI/ca/switchca/cacert.pem" pssl:0:127.0.0.1

step "a bridge connects over TLS and is programmed"
sfm_ovs_start
sfm_ovs_set_ssl
sfm_controller_start "$BIN/sfmesh-controller" "${SFM_TLS_OPTS[@]}" \
    --peer-ca-cert="$SFM_PKI/ca/controllerca/cacert.pem" \
    --config="$top/docs/examples/two-service-chain.yaml" pssl:0:127.0.0.1 \
    ptcp:0:0.0.0.0
grep -q "listening on pssl:[0-9]*:127.0.0.1" "$log" \
    || sfm_die "no pssl listener"
TLS_PORT=$(sed -n 's/.*listening on pssl:\([0-9]*\):.*/\1/p' "$log")
grep -q "ptcp:0:0.0.0.0: OpenFlow without TLS: anyone who reaches" "$log" \
    || sfm_die "no warning for a plaintext listener open to all"
grep "OpenFlow without TLS" "$log" | grep -q "|pssl:" \
    && sfm_die "a warning for the TLS listener"
SFM_OF_PORT='' sfm_add_bridge br0 1
sfm_set_controller br0 "ssl:127.0.0.1:$TLS_PORT"
in_sync() { ctl switches | grep -q "switch sw1 .*IDLE, in sync"; }
SFM_WAIT_TIMEOUT=20 sfm_wait_until in_sync \
    || { ctl switches >&2; sfm_die "br0 not in sync over TLS"; }
ctl status | grep -q "^switch dpid 0000000000000001 (ssl:127.0.0.1:" \
    || { ctl status >&2; sfm_die "status does not show an ssl: peer"; }
SFM_WAIT_TIMEOUT=15 sfm_wait_until sfm_bridge_connected \
    || sfm_die "ovs-vsctl never shows is_connected: true"
want=$(ctl groups sw1 | grep -c group_id)
have=$(ovs-ofctl -O OpenFlow15 dump-groups br0 | grep -c group_id)
[ "$want" -gt 0 ] && [ "$want" = "$have" ] \
    || sfm_die "groups: sfmesh wants $want, the switch has $have"
peer=$(ctl status | sed -n 's/^switch dpid 0*1 (\(ssl:[^)]*\))$/\1/p')

step "refused: plain TCP, no certificate, another CA's certificate"
/usr/bin/python3 - "$TLS_PORT" "$SFM_PKI" "$ROGUE" <<'PY' \
    || sfm_die "a peer was not refused"
import os, socket, ssl, sys
sys.path.insert(0, os.path.join(os.environ['SFM_TOP'], 'tests/integration'))
from fakeswitch import FakeSwitch, Closed, tls_context, HELLO

port, pki, rogue = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ca = pki + '/ca/controllerca/cacert.pem'

def refused(what, tls, raw=None):
    try:
        if raw is not None:
            s = socket.create_connection(('127.0.0.1', port), timeout=5)
            s.sendall(raw)
            got = s.recv(4096)
            ok = not got or not got.startswith(b'\x04\x00')
            s.close()
        else:
            sw = FakeSwitch(port, tls=tls)
            sw.expect(HELLO, 3)
            ok = False          # It got an OpenFlow hello: accepted.
    except (Closed, ConnectionError, ssl.SSLError, OSError,
            TimeoutError):
        ok = True
    print('%-40s %s' % (what, 'refused' if ok else 'ACCEPTED'))
    return ok

ok = refused('plain OpenFlow hello over TCP', None,
             raw=b'\x04\x00\x00\x08\x00\x00\x00\x01')
ok &= refused('TLS without a certificate', tls_context(ca=ca))
ok &= refused("another CA's certificate",
              tls_context(key=rogue + '/evil-privkey.pem',
                          cert=rogue + '/evil-cert.pem', ca=ca))
# A switch certificate of the right CA works, for contrast.
sw = FakeSwitch(port, tls=tls_context(key=pki + '/sc-privkey.pem',
                                      cert=pki + '/sc-cert.pem', ca=ca))
sw.expect(HELLO, 3)
sw.close()
sys.exit(0 if ok else 1)
PY
grep -q "TLS error" "$log" || sfm_die "no TLS error logged"
grep -q "peer did not return a certificate" "$log" \
    || sfm_die "the missing certificate is not the reason logged"
grep -Eq "certificate verify failed|unknown ca|unable to get local issuer" \
    "$log" || sfm_die "the untrusted CA is not the reason logged"
[ -n "$peer" ] && ctl status | grep -qF "($peer)" \
    || sfm_die "the real bridge lost its connection"
in_sync || sfm_die "the real bridge is no longer in sync"
sfm_check_ovs_logs || sfm_die "OVS logged warnings"
echo "PASS: tls"
