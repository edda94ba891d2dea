# sfmesh listener limits: connections that never authenticate, against the
# listeners of the agent protocol (and the OpenFlow one for the timeout).
#
# Usage: flood.py timeout TARGET...
#        flood.py flood SECONDS TARGET...
#        flood.py hold TARGET...
#        flood.py noread IP:PORT SENDER SECONDS
#
# A TARGET is NAME=IP:PORT:CAP:TIMEOUT_MS, CAP being the most connections the
# listener may leave pending and TIMEOUT_MS its handshake timeout.
#
#   timeout  opens fewer silent connections than CAP on each target and
#            checks that none is closed well before TIMEOUT_MS and all are
#            closed soon after it.
#   flood    for SECONDS, opens every 100 ms silent connections, connections
#            that send a header claiming a 1 MiB frame and 256 KiB of it,
#            and connections that send half of a 4000-byte frame; then checks
#            that at most CAP were left open, that no 1 MiB claim stayed open,
#            and that every connection is closed within TIMEOUT_MS of the
#            last burst.
#   hold     opens a few silent connections and half frames on each target,
#            and sleeps until killed (connections left open at a daemon's
#            exit).
#   noread   connects to a replication port and sends empty STATE_UPDATE
#            batches in the name of SENDER, numbered 1, 2, 3, ..., as fast
#            as it can, never reading the acknowledgements; checks that the
#            agent closes the connection within SECONDS.
#
# Prints one line per check; exits nonzero if one failed.

import errno
import os
import socket
import struct
import sys
import time

SILENT, BIG, SMALL = 'silent', 'big', 'small'


def header(length, msg_type=1):
    # HELLO and HELLO_ACK are framed with version 1, the others with 3.
    version = 1 if msg_type in (1, 2) else 3
    return b'SFMA' + struct.pack('!BBHII', version, msg_type, 0, length, 1)


BIG_DATA = header(1024 * 1024, 5) + b'\0' * (256 * 1024)
SMALL_DATA = header(4000) + b'\0' * 2000


def parse_target(spec):
    name, rest = spec.split('=')
    ip, port, cap, timeout = rest.split(':')
    return {'name': name, 'addr': (ip, int(port)), 'cap': int(cap),
            'timeout': int(timeout) / 1000.0, 'open': []}


class Conn:
    def __init__(self, target, kind):
        self.kind = kind
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.closed = None
        try:
            self.sock.connect(target['addr'])
        except BlockingIOError:
            pass
        self.pending = {BIG: BIG_DATA, SMALL: SMALL_DATA}.get(kind, b'')

    def poll(self, now):
        """Sends what is left to send; notes the time the peer closed."""
        if self.closed is not None:
            return
        try:
            if self.pending:
                n = self.sock.send(self.pending)
                self.pending = self.pending[n:]
            if self.sock.recv(4096) == b'':
                self.closed = now
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.EINPROGRESS):
                return
            self.closed = now
        if self.closed is not None:
            self.sock.close()


def poll_all(targets, now):
    for t in targets:
        for c in t['open']:
            c.poll(now)
        t['closed'] = t.get('closed', []) + [c for c in t['open']
                                             if c.closed is not None]
        t['open'] = [c for c in t['open'] if c.closed is None]


def report(ok, text):
    print('%s %s' % ('ok  ' if ok else 'FAIL', text))
    return ok


def wait_closed(targets, deadline):
    while (any(t['open'] for t in targets)
           and time.monotonic() < deadline):
        time.sleep(0.02)
        poll_all(targets, time.monotonic())


def run_timeout(targets):
    """Connections below the cap live until the handshake timeout."""
    for t in targets:
        t['open'] = [Conn(t, SILENT) for _ in range(max(t['cap'] // 2, 1))]
    start = time.monotonic()
    wait_closed(targets, start + max(t['timeout'] for t in targets) + 3)
    ok = True
    for t in targets:
        lives = [c.closed - c.opened for c in t['closed']]
        early = [x for x in lives if x < t['timeout'] - 0.5]
        ok &= report(not t['open'] and not early and len(lives) > 0,
                     '%s: %d silent connections, %d still open, closed '
                     'after %.2f to %.2f s (timeout %.1f s)'
                     % (t['name'], len(lives) + len(t['open']),
                        len(t['open']), min(lives or [0]),
                        max(lives or [0]), t['timeout']))
        ok &= report(max(lives or [99]) < t['timeout'] + 1.5,
                     '%s: closed within the timeout and 1.5 s'
                     % t['name'])
    return ok


def run_flood(targets, seconds):
    """Many connections of every kind; at most the cap stays open."""
    end = time.monotonic() + seconds
    counts = {t['name']: {SILENT: 0, BIG: 0, SMALL: 0} for t in targets}
    while time.monotonic() < end:
        for t in targets:
            for kind, n in ((SILENT, 20), (BIG, 5), (SMALL, 5)):
                for _ in range(n):
                    try:
                        t['open'].append(Conn(t, kind))
                        counts[t['name']][kind] += 1
                    except OSError:
                        pass
        for _ in range(5):
            time.sleep(0.02)
            poll_all(targets, time.monotonic())
    last = time.monotonic()
    time.sleep(1.0)
    poll_all(targets, time.monotonic())
    ok = True
    for t in targets:
        c = counts[t['name']]
        left = len(t['open'])
        big = sum(1 for x in t['open'] if x.kind == BIG)
        ok &= report(left <= t['cap'],
                     '%s: %d silent, %d 1-MiB claims, %d half frames '
                     'opened; %d open 1 s after the last (cap %d)'
                     % (t['name'], c[SILENT], c[BIG], c[SMALL], left,
                        t['cap']))
        ok &= report(big == 0, '%s: %d 1-MiB claims still open'
                     % (t['name'], big))
    wait_closed(targets, last + max(t['timeout'] for t in targets) + 1.5)
    for t in targets:
        ok &= report(not t['open'], '%s: %d open %.1f s after the last'
                     % (t['name'], len(t['open']),
                        time.monotonic() - last))
    return ok


def run_hold(targets):
    conns = []
    for t in targets:
        for kind in (SILENT, SILENT, SMALL, BIG):
            conns.append(Conn(t, kind))
    print('holding %d connections' % len(conns), flush=True)
    while True:
        for c in conns:
            c.poll(time.monotonic())
        time.sleep(0.1)


def state_update(sender, seq):
    name = sender.encode()
    body = struct.pack('!H', len(name)) + name + struct.pack('!QI', seq, 0)
    return header(16 + len(body), 5) + body


def run_noread(addr, sender, seconds):
    host, port = addr.rsplit(':', 1)
    s = socket.create_connection((host, int(port)), timeout=3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.2)
    deadline = time.monotonic() + seconds
    seq, sent, closed = 1, 0, False
    while time.monotonic() < deadline and not closed:
        chunk = b''.join(state_update(sender, n)
                         for n in range(seq, seq + 1000))
        seq += 1000
        try:
            s.sendall(chunk)
            sent += len(chunk)
        except socket.timeout:
            pass                # The agent reads no more: wait for it.
        except OSError:
            closed = True
    s.close()
    return report(closed, 'noread: closed after %d batches, %.1f MB sent'
                  % (seq - 1, sent / 1e6))


def main():
    mode = sys.argv[1]
    if mode == 'noread':
        ok = run_noread(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif mode == 'flood':
        seconds = float(sys.argv[2])
        targets = [parse_target(s) for s in sys.argv[3:]]
        ok = run_flood(targets, seconds)
    elif mode == 'timeout':
        ok = run_timeout([parse_target(s) for s in sys.argv[2:]])
    else:
        run_hold([parse_target(s) for s in sys.argv[2:]])
        ok = True
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
