# sfmesh bad-input cases: a scripted switch misbehaves in every way the
# connection core must survive, while a real OVS bridge stays connected.
#
# Usage: badinput.py OF_PORT CTL_BIN CTL_SOCKET REAL_DPID
#
# After each case the daemon must still answer on its control socket, keep
# the real bridge's connection (same peer, uptime growing) and serve a new
# well-behaved switch.  Prints one line per case and a summary; exits
# nonzero if any case failed.

import json
import socket
import os
import subprocess
import sys
import time

from fakeswitch import *

PORT = int(sys.argv[1])
CTL = [sys.argv[2], '-t', sys.argv[3]]
REAL_DPID = '%016x' % int(sys.argv[4])


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
    sw = FakeSwitch(PORT)
    sw.send(b'\x04\x00\x00')
    sw.close()


def case_length_below_8():
    sw = FakeSwitch(PORT)
    sw.expect(HELLO)
    sw.send(header(HELLO, 4, 1))
    if not sw.wait_closed(3):
        return 'connection not closed after a length of 4'


def case_length_beyond_data():
    sw = FakeSwitch(PORT)
    sw.expect(HELLO)
    sw.send(hello())
    sw.expect(FEATURES_REQUEST)
    sw.send(header(FEATURES_REPLY, 100, 9) + b'\0' * 20)
    sw.close()


def case_first_not_hello():
    sw = FakeSwitch(PORT)
    sw.expect(HELLO)
    sw.send(message(ECHO_REQUEST, b'', 5))
    if not sw.wait_closed(3):
        return 'connection not closed after a first message not hello'


def case_no_common_version():
    sw = FakeSwitch(PORT)
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
    sw = FakeSwitch(PORT)
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
    sw = FakeSwitch(PORT)
    data = os.urandom(1 << 20)
    try:
        sw.send(data)
    except (BrokenPipeError, ConnectionResetError):
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
    sw = FakeSwitch(PORT)
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
    reading (a send blocks for 0.3 s).  Returns how many were sent."""
    sent = 0
    sw.sock.settimeout(0.3)
    try:
        while sent < 2000:
            sw.sock.sendall(message(ECHO_REQUEST, payload, sent))
            sent += 1
    except socket.timeout:
        sent += 1   # Part of the last one may be out; count it as sent.
    sw.sock.settimeout(sw.timeout)
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
    got = 0
    try:
        while got < sent - 1:
            msg = sw.recv(5)
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


def main():
    passed = failed = 0
    before = real_bridge()
    if not before:
        print('the real bridge is not connected at the start')
        return 1
    for name, case in CASES:
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
    print('bad-input: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
