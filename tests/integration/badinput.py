# sfmesh bad-input cases: a scripted switch misbehaves in every way the
# connection core must survive, while a real OVS bridge stays connected.
#
# Usage: badinput.py OF_PORT CTL_BIN CTL_SOCKET REAL_DPID
#
# With SFM_TLS_KEY, SFM_TLS_CERT and SFM_TLS_CA set (a switch key and
# certificate, and the CA that signed the controller's), OF_PORT is a
# "pssl:" listener: every case runs inside TLS with that certificate, as a
# switch would, and a few more cases misbehave below TLS (no handshake, a
# handshake cut off, bytes that are not TLS).
#
# After each case the daemon must still answer on its control socket, keep
# the real bridge's connection (same peer, uptime growing) and serve a new
# well-behaved switch.  Prints one line per case and a summary; exits
# nonzero if any case failed.

import json
import socket
import os
import ssl
import subprocess
import sys
import time

from fakeswitch import *

PORT = int(sys.argv[1])
CTL = [sys.argv[2], '-t', sys.argv[3]]
REAL_DPID = '%016x' % int(sys.argv[4])

# The switch's TLS context (from the SFM_TLS_* variables), or None for
# plain TCP.
TLS = tls_context()

# What a write to a connection the controller closed raises.  Over TLS a
# close may also show as an SSL error (an alert, an EOF inside a record).
CLOSE_ERRORS = (BrokenPipeError, ConnectionResetError, ssl.SSLError)


class Switch(FakeSwitch):
    """A FakeSwitch (over TLS when TLS is set) whose flood writes may stop
    halfway: the rest of such a write goes out before anything else sent.

    Over TLS a write that timed out cannot be cut short or told how far it
    got: OpenSSL holds the part of the record not yet written, and the next
    write must offer the same bytes again.  Over TCP the part not taken is
    known and kept.  Either way 'unsent' holds what must be offered next."""

    def __init__(self, port=None):
        super().__init__(PORT if port is None else port, tls=TLS)
        self.unsent = b''

    def close(self):
        """Closes as a switch does.  Over TLS that is a close_notify, then
        the TCP close (OVS's stream-ssl does the same), so that the end of
        the stream means what a TCP close means over TCP; one without the
        close_notify is case_tls_dirty_close."""
        if TLS and not self.unsent:
            self.sock.settimeout(1)
            try:
                self.sock.unwrap()      # Until the controller closes too.
            except (OSError, ValueError):
                pass
        self.sock.close()

    def send(self, data):
        if self.unsent:
            if not self.try_send(b'', self.timeout):
                raise TimeoutError('an unfinished write did not go out')
        self.sock.sendall(data)

    def try_send(self, data, timeout):
        """Sends what is unsent, then 'data', for at most 'timeout' seconds.
        Returns True if all of it went out; otherwise keeps the rest in
        'unsent' (to go before anything else) and returns False."""
        self.unsent += data
        deadline = time.monotonic() + timeout
        try:
            while self.unsent:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    n = self.sock.send(self.unsent)
                except (socket.timeout, ssl.SSLWantWriteError):
                    return False
                # An SSL socket writes all or raises: n is the whole.
                self.unsent = self.unsent[n:]
            return True
        finally:
            self.sock.settimeout(self.timeout)


def status():
    out = subprocess.run(CTL + ['status', '--json'], check=True,
                         capture_output=True, text=True, timeout=5).stdout
    return json.loads(out)['switches']


def real_bridge():
    for sw in status():
        if sw['dpid'] == REAL_DPID and sw['connected']:
            return sw
    return None


def error_of(msg):
    """Returns (type, code) of an OFPT_ERROR message."""
    return struct.unpack('!HH', msg[3][:4])


# Each case returns None on success or a string saying what went wrong.

def case_short_header():
    sw = Switch()
    sw.send(b'\x04\x00\x00')
    sw.close()


def case_length_below_8():
    sw = Switch()
    sw.expect(HELLO)
    sw.send(header(HELLO, 4, 1))
    if not sw.wait_closed(3):
        return 'connection not closed after a length of 4'


def case_length_beyond_data():
    sw = Switch()
    sw.expect(HELLO)
    sw.send(hello())
    sw.expect(FEATURES_REQUEST)
    sw.send(header(FEATURES_REPLY, 100, 9) + b'\0' * 20)
    sw.close()


def case_first_not_hello():
    sw = Switch()
    sw.expect(HELLO)
    sw.send(message(ECHO_REQUEST, b'', 5))
    if not sw.wait_closed(3):
        return 'connection not closed after a first message not hello'


def case_no_common_version():
    sw = Switch()
    sw.expect(HELLO)
    sw.send(hello((1,)))
    try:
        err = sw.expect(ERROR, 3)
    except (Closed, TimeoutError):
        return 'no HELLO_FAILED error before the close'
    if error_of(err) != (OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE):
        return 'wrong error %s' % (error_of(err),)
    if not sw.wait_closed(3):
        return 'connection not closed after failed negotiation'


def connected_switch(dpid):
    sw = Switch()
    sw.handshake(dpid)
    return sw


def case_unknown_type():
    sw = connected_switch(0xbad1)
    sw.send(message(200, b'\0' * 8, 0x77))
    err = sw.expect(ERROR)
    if error_of(err) != (OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE) \
            or err[2] != 0x77:
        return 'expected BAD_TYPE for xid 0x77, got %s' % (error_of(err),)
    if not sw.echo_ok():
        return 'connection unusable after the error'
    sw.close()


def case_wrong_version():
    sw = connected_switch(0xbad2)
    sw.send(message(ECHO_REQUEST, b'', 0x78, version=6))
    err = sw.expect(ERROR)
    if error_of(err) != (OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION) \
            or err[0] != OFP13:
        return 'expected BAD_VERSION in 1.3, got %s' % (error_of(err),)
    if not sw.echo_ok():
        return 'connection unusable after the error'
    sw.close()


def case_undecodable_body():
    sw = connected_switch(0xbad3)
    sw.send(message(PORT_STATUS, b'\0' * 8, 0x79))
    err = sw.expect(ERROR)
    if error_of(err) != (OFPET_BAD_REQUEST, OFPBRC_BAD_LEN):
        return 'expected BAD_LEN, got %s' % (error_of(err),)
    if not sw.echo_ok():
        return 'connection unusable after the error'
    sw.close()


def case_random_megabyte():
    sw = Switch()
    data = os.urandom(1 << 20)
    try:
        sw.send(data)
    except CLOSE_ERRORS:
        pass
    if not sw.wait_closed(5):
        return 'connection not closed after 1 MB of random bytes'


def case_silent_peer():
    # The controller runs with --inactivity-probe=500.
    sw = connected_switch(0xbad4)
    start = time.monotonic()
    try:
        while True:
            msg = sw.recv(5)
            if msg[1] == ECHO_REQUEST:
                break
    except (Closed, TimeoutError):
        return 'no echo request to a silent peer'
    if not sw.wait_closed(5):
        return 'silent peer not disconnected'
    elapsed = time.monotonic() - start
    if elapsed < 0.9:
        return 'disconnected too early (%.2f s)' % elapsed


def case_handshake_stall():
    # The controller runs with --handshake-timeout=1000.
    sw = Switch()
    sw.expect(HELLO)
    sw.send(hello())
    if not sw.wait_closed(5):
        return 'stalled handshake not closed'


def case_replacement():
    first = connected_switch(0xbeef)
    first.echo_ok()
    second = connected_switch(0xbeef)
    if not second.echo_ok():
        return 'second connection not served'
    if not first.wait_closed(3):
        return 'first connection with the same dpid not closed'
    same = [sw for sw in status() if sw['dpid'] == '%016x' % 0xbeef]
    if len(same) != 1:
        return '%d connections listed for dpid beef' % len(same)
    second.close()


def flood_until_blocked(sw, payload):
    """Sends echo requests with 'payload' until the controller stops
    reading (a send blocks for 0.3 s).  Returns how many were sent, the
    last one perhaps only in part: its rest is in sw.unsent, to go out
    before anything else sent on 'sw'."""
    sent = 0
    while sent < 2000:
        done = sw.try_send(message(ECHO_REQUEST, payload, sent), 0.3)
        sent += 1
        if not done:
            break
    return sent


def case_slow_reader():
    # Echo requests with large payloads, not reading the replies, until the
    # controller pauses input; then read everything back: no reply may be
    # lost, and the connection goes on.
    sw = connected_switch(0xbad5)
    payload = b'x' * 60000
    sent = flood_until_blocked(sw, payload)
    if sent >= 2000:
        return 'the controller never stopped reading'
    # The rest of the last request goes out as the controller takes it in
    # again, so every request gets its reply.
    got = 0
    try:
        progress = time.monotonic()
        while got < sent:
            if sw.unsent:
                sw.try_send(b'', 0.01)
            try:
                msg = sw.recv(0.1 if sw.unsent else 5)
            except TimeoutError:
                if sw.unsent and time.monotonic() - progress < 5:
                    continue
                raise
            progress = time.monotonic()
            if msg[1] == ECHO_REPLY and msg[3] == payload:
                got += 1
            elif msg[1] == ECHO_REQUEST:
                sw.send(message(ECHO_REPLY, msg[3], msg[2]))
    except (Closed, TimeoutError) as e:
        return 'only %d of %d echo replies (%r)' % (got, sent, e)
    if not sw.echo_ok():
        return 'connection unusable after catching up'
    sw.close()


def case_never_reads():
    # Like the slow reader, but it never reads: the controller must give up
    # on it (after two probe intervals without progress) and free it.
    sw = connected_switch(0xbad6)
    flood_until_blocked(sw, b'y' * 60000)
    time.sleep(3)
    if not sw.wait_closed(10):
        return 'a peer that never reads was not disconnected'


# Below TLS (a "pssl:" listener only): raw TCP connections that never
# get an OpenFlow connection going.  Each must be closed (the handshake
# timeout counts from the accept, TLS included) without hurting the others.

def raw_connect():
    return socket.create_connection(('127.0.0.1', PORT), timeout=5)


def raw_wait_closed(s, timeout):
    """Returns True if the controller closes raw socket 's' in time,
    discarding what it sends before (a TLS alert, say)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            s.settimeout(left)
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    finally:
        s.close()


def client_hello():
    """Returns the first flight of a switch's TLS handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = TLS.wrap_bio(incoming, outgoing)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def case_tls_no_handshake():
    # The controller runs with --handshake-timeout=1000.
    if not raw_wait_closed(raw_connect(), 5):
        return 'a connection that never starts TLS not closed'


def case_tls_hello_cut():
    s = raw_connect()
    data = client_hello()
    s.sendall(data[:len(data) // 2])
    if not raw_wait_closed(s, 5):
        return 'a TLS handshake cut off halfway not closed'


def case_tls_hello_then_close():
    s = raw_connect()
    data = client_hello()
    s.sendall(data[:len(data) // 2])
    s.close()


def case_tls_dirty_close():
    # Like case_length_beyond_data, but the TCP connection closes without a
    # TLS close_notify, as when a switch crashes.
    sw = Switch()
    sw.expect(HELLO)
    sw.send(hello())
    sw.expect(FEATURES_REQUEST)
    sw.send(header(FEATURES_REPLY, 100, 9) + b'\0' * 20)
    sw.sock.close()


def case_tls_plain_openflow():
    # A switch pointed at the "pssl:" port with a "tcp:" target.
    s = raw_connect()
    try:
        s.sendall(hello())
    except CLOSE_ERRORS:
        pass
    if not raw_wait_closed(s, 5):
        return 'a plaintext OpenFlow hello not refused'


def case_tls_random_megabyte():
    s = raw_connect()
    try:
        s.sendall(os.urandom(1 << 20))
    except CLOSE_ERRORS:
        pass
    if not raw_wait_closed(s, 5):
        return 'connection not closed after 1 MB of random bytes'


# Every case runs over TCP and over TLS alike, the TLS cases only over TLS.
CASES = [
    ('header shorter than 8 bytes', case_short_header),
    ('length below 8', case_length_below_8),
    ('length beyond the data, then close', case_length_beyond_data),
    ('first message not hello', case_first_not_hello),
    ('hello with no common version', case_no_common_version),
    ('unknown message type', case_unknown_type),
    ('wrong version after negotiation', case_wrong_version),
    ('body that fails to decode', case_undecodable_body),
    ('1 MB of random bytes', case_random_megabyte),
    ('peer that never answers echo', case_silent_peer),
    ('handshake that stalls', case_handshake_stall),
    ('same dpid replaces the connection', case_replacement),
    ('slow reader (back-pressure)', case_slow_reader),
    ('peer that never reads', case_never_reads),
]

TLS_CASES = [
    ('TCP connection that never starts TLS', case_tls_no_handshake),
    ('TLS handshake cut off halfway', case_tls_hello_cut),
    ('TLS handshake cut off by a close', case_tls_hello_then_close),
    ('TCP close inside a message, no close_notify', case_tls_dirty_close),
    ('plaintext OpenFlow on the TLS port', case_tls_plain_openflow),
    ('1 MB of random bytes instead of TLS', case_tls_random_megabyte),
]


def main():
    passed = failed = 0
    before = real_bridge()
    if not before:
        print('the real bridge is not connected at the start')
        return 1
    for name, case in CASES + (TLS_CASES if TLS else []):
        try:
            problem = case()
        except Exception as e:          # A test bug or a daemon failure.
            problem = 'exception: %r' % (e,)
        time.sleep(0.1)
        try:
            now = real_bridge()
        except Exception as e:
            now = None
            problem = problem or 'control socket failed: %r' % (e,)
        if not now:
            problem = problem or 'the real bridge lost its connection'
        elif now['peer'] != before['peer'] \
                or now['uptime_ms'] < before['uptime_ms']:
            problem = problem or 'the real bridge was reconnected'
        if not problem:
            try:
                sw = connected_switch(0x600d)
                if not sw.echo_ok():
                    problem = 'a good switch is not served'
                sw.close()
            except Exception as e:
                problem = 'a good switch is not served: %r' % (e,)
        if problem:
            failed += 1
            print('FAIL  %s: %s' % (name, problem))
        else:
            passed += 1
            print('ok    %s' % name)
        before = now or before
    print('bad-input%s: %d passed, %d failed'
          % ('-tls' if TLS else '', passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
