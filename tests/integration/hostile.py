#!/usr/bin/python3
# Copyright (c) 2026 The sfmesh authors.
# SPDX-License-Identifier: Apache-2.0
"""A hostile client of sfmesh's channels, written from docs/agent-protocol.md
and the OpenFlow handshake: it says hello in other instances' names, sends
forged state to replication ports and claims switches' datapath ids.  Each
command prints one line saying how the attack was answered:

  accepted            the peer took it (the caller decides if that is wrong)
  refused: REASON     the peer answered with a refusal and closed
  closed              the peer closed without an answer (TLS refused it)
  acked N             replication: N batches acknowledged

Usage:
  hostile.py hello HOST PORT INSTANCE [--count N] [--hold SECONDS]
             [--forge-epoch] [TLS]
  hostile.py repl HOST PORT SENDER [--bucket B] [--n-buckets N]
             [--records N] [--seq S] [--streams-from P] [TLS]
  hostile.py switch PORT DPID [--source ADDR] [TLS]

TLS: --key FILE --cert FILE --ca FILE (no --key/--cert: TLS without a
certificate)."""

import argparse
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakeswitch  # noqa: E402

HELLO, HELLO_ACK, MAP, HEARTBEAT, STATE_UPDATE, STATE_ACK = 1, 2, 3, 4, 5, 6


def string(s):
    return struct.pack('!H', len(s)) + s.encode()


def frame(msg_type, body, xid=1):
    version = 1 if msg_type in (HELLO, HELLO_ACK) else 3
    return (b'SFMA' + struct.pack('!BBHII', version, msg_type, 0,
                                  16 + len(body), xid) + body)


class Conn:
    """An agent-protocol connection, plain or TLS."""

    def __init__(self, host, port, args):
        self.sock = socket.create_connection((host, port), timeout=3)
        if args.ca:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.load_verify_locations(args.ca)
            if args.cert:
                ctx.load_cert_chain(args.cert, args.key)
            self.sock = ctx.wrap_socket(self.sock)
        self.buf = b''

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=3):
        """Returns (type, body) of the next frame, or None once closed."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 16:
                length = struct.unpack('!I', self.buf[8:12])[0]
                if len(self.buf) >= length:
                    msg_type, body = self.buf[5], self.buf[16:length]
                    self.buf = self.buf[length:]
                    return msg_type, body
            try:
                data = self.sock.recv(65536)
            except (ConnectionError, ssl.SSLError, OSError):
                data = b''
            if not data:
                return None
            self.buf += data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connect(host, port, args):
    """Returns a Conn, or None if the TLS handshake was refused."""
    try:
        return Conn(host, port, args)
    except (ssl.SSLError, ConnectionError, OSError):
        return None


def heartbeat(epoch, n_buckets):
    warm = b'\xff' * ((n_buckets + 7) // 8) if epoch else b''
    return frame(HEARTBEAT, struct.pack('!QI', epoch, n_buckets if epoch
                                        else 0) + warm
                 + struct.pack('!QQQ', 0, 0, 0))


def cmd_hello(args):
    """Says hello as args.instance, 'count' times; with --hold, stays on the
    channel answering with heartbeats (forged: at an epoch far beyond the
    map's, every bucket warm)."""
    results = []
    for _ in range(args.count):
        c = connect(args.host, args.port, args)
        if not c:
            results.append('closed')
            continue
        try:
            c.send(frame(HELLO, struct.pack('!IIH', 1 << 3, 0x0a0900c8, 7000)
                         + string(args.instance) + string('stateful-fw')))
        except (ssl.SSLError, OSError):
            results.append('closed')
            c.close()
            continue
        msg = c.recv()
        if not msg:
            results.append('closed')
        elif msg[0] == HELLO_ACK and msg[1][0] == 0:
            n = struct.unpack('!H', msg[1][1:3])[0]
            results.append('refused: ' + msg[1][3:3 + n].decode())
        else:
            results.append('accepted')
            deadline = time.monotonic() + args.hold
            epoch, n_buckets = 0, 0
            while time.monotonic() < deadline:
                msg = c.recv(timeout=0.05)
                if msg and msg[0] == MAP:
                    epoch = struct.unpack('!Q', msg[1][:8])[0]
                    n = struct.unpack('!H', msg[1][8:10])[0]
                    n_buckets = struct.unpack('!I', msg[1][10 + n:14 + n])[0]
                forged = epoch + 1000 if args.forge_epoch and epoch else epoch
                try:
                    c.send(heartbeat(forged, n_buckets))
                except OSError:
                    results[-1] = 'closed'
                    break
        c.close()
        if args.count > 1:
            time.sleep(0.25)
    print('\n'.join(results))


def fw_established():
    """A stateful-fw state blob: an established TCP stream."""
    return (bytes([1, 3, 0]) + bytes(5)
            + struct.pack('!q4Q', 0, 10, 10, 1000, 1000))


def record(bucket, lo_port, hi_port):
    blob = fw_established()
    return (struct.pack('!IIIHHB', bucket, 0x0a000001, 0x0a000002, lo_port,
                        hi_port, 6)
            + struct.pack('!QQH', 1 << 40, 1 << 40, len(blob)) + blob)


def cmd_repl(args):
    """Sends, in args.sender's name, args.records established TCP streams
    from client port args.streams_from on to the server's port 5001, each
    of its bucket (args.bucket if given), in batches of 256, numbered from
    args.seq."""
    c = connect(args.host, args.port, args)
    if not c:
        print('closed')
        return
    acked, seq, sent = 0, args.seq, 0
    try:
        c.send(frame(STATE_UPDATE, string(args.sender)
                     + struct.pack('!QI', seq, 0)))
        while sent < args.records:
            recs = []
            for i in range(min(256, args.records - sent)):
                port = args.streams_from + sent + i
                bucket = (args.bucket if args.bucket is not None
                          else port % args.n_buckets)
                # 10.0.0.1 is the lower address: its port is the lower.
                recs.append(record(bucket, port, 5001))
            sent += len(recs)
            seq = seq + 1 if seq < 2 ** 64 - 1 else seq
            c.send(frame(STATE_UPDATE, string(args.sender)
                         + struct.pack('!QI', seq, len(recs))
                         + b''.join(recs)))
        while True:
            msg = c.recv(timeout=1)
            if not msg:
                break
            if msg[0] == STATE_ACK:
                acked += 1
    except (ssl.SSLError, OSError):
        pass
    c.close()
    print('acked %d' % acked if acked else 'closed')


def cmd_switch(args):
    """Connects as a switch with args.dpid and completes the handshake."""
    tls = None
    if args.ca:
        tls = fakeswitch.tls_context(args.key, args.cert, args.ca)
    try:
        sw = fakeswitch.FakeSwitch(args.port, tls=tls, source=args.source)
        sw.handshake(args.dpid)
        closed = sw.wait_closed(1.5)
    except (fakeswitch.Closed, ssl.SSLError, ConnectionError, OSError,
            TimeoutError):
        closed = True
    print('closed' if closed else 'accepted')


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    for name in ('hello', 'repl', 'switch'):
        s = sub.add_parser(name)
        if name != 'switch':
            s.add_argument('host')
        s.add_argument('port', type=int)
        s.add_argument('--key')
        s.add_argument('--cert')
        s.add_argument('--ca')
        if name == 'hello':
            s.add_argument('instance')
            s.add_argument('--count', type=int, default=1)
            s.add_argument('--hold', type=float, default=0)
            s.add_argument('--forge-epoch', action='store_true')
        elif name == 'repl':
            s.add_argument('sender')
            s.add_argument('--bucket', type=int)
            s.add_argument('--n-buckets', type=int, default=256)
            s.add_argument('--records', type=int, default=1)
            s.add_argument('--seq', type=int, default=1)
            s.add_argument('--streams-from', type=int, default=43000)
        else:
            s.add_argument('dpid', type=lambda v: int(v, 0))
            s.add_argument('--source')
    args = p.parse_args()
    {'hello': cmd_hello, 'repl': cmd_repl, 'switch': cmd_switch}[args.cmd](
        args)


if __name__ == '__main__':
    main()
