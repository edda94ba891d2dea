#!/usr/bin/python3
"""Traffic for the sfmesh scenarios: TCP connections that carry data the
whole time, and a sequence-numbered UDP stream at a fixed rate.  Each side
records what it needs to tell, afterwards, what a failure did.

  traffic.py tcp-server ADDR PORT READY_FILE
      Accepts connections and echoes everything back, until killed.
  traffic.py tcp-client ADDR PORT N FIRST_SPORT SECONDS CHUNK INTERVAL OUT
      Opens N connections (source ports FIRST_SPORT...), sends CHUNK bytes
      on each every INTERVAL seconds for SECONDS and reads the echoes.  A
      connection survives if it stays open, never waits more than 3 s for
      an echo it is owed, and gets back every byte it sent (the rule of
      the failover tests).  Once connected, writes the start
      time to OUT.started; at the end, writes JSON to OUT: per connection
      its source port, bytes sent and echoed, longest wait, whether it
      survived, and the bytes echoed per 100 ms bin from "start" (wall
      clock, seconds).  SIGUSR1 ends the sending early (as if SECONDS
      were up).
  traffic.py udp-recv ADDR PORT SECONDS READY_FILE OUT
      Receives the UDP stream for SECONDS (or until SIGTERM) and writes the
      arrival of every packet to OUT: {"seq": [...], "recv": [...],
      "sent": [...]} (wall clock, seconds).
  traffic.py udp-send ADDR PORT SPORT RATE SECONDS OUT
      Sends RATE packets per second of 100 bytes (a sequence number and the
      send time first) from source port SPORT for SECONDS (or until
      SIGUSR1); writes {"sent": COUNT, "start": T, "end": T} to OUT.
  traffic.py udp-echo ADDR PORT READY_FILE OUT
      Sends every datagram back to where it came from, until SIGTERM, and
      then writes per source port what it received and echoed to OUT:
      {"streams": {SPORT: {"received": N, "echoed": N}}}.
  traffic.py udp-streams ADDR PORT SPORTS RATE SECONDS OUT
      Counted UDP streams with an echo: one socket per source port in
      SPORTS (comma-separated), each sending RATE packets per second of 64
      bytes (the stream's index, a sequence number and the send time) for
      SECONDS (or until SIGUSR1), the streams interleaved, and counting
      the echoes that come back (each sequence number once; duplicates
      apart).  Waits for the last echoes (until every packet is back or 1
      s after the last was sent), then writes to OUT: {"start": T, "end":
      T, "rate": R, "streams": {SPORT: {"sent": N, "send_errors": N,
      "echoed_back": N, "duplicates": N}}} ("sent" counts only the
      packets the kernel took).
"""

import json
import select
import signal
import socket
import struct
import sys
import time

BIN = 0.1               # seconds per throughput bin
STALL = 3.0             # a connection owed an echo this long has failed


def stop_on_usr1():
    """Returns a list that SIGUSR1 makes non-empty."""
    stop = []
    signal.signal(signal.SIGUSR1, lambda *_: stop.append(1))
    return stop


def tcp_server(addr, port, ready):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(256)
    open(ready, 'w').close()
    socks = [srv]
    while True:
        r, _, _ = select.select(socks, [], [], 1.0)
        for s in r:
            if s is srv:
                c, _ = srv.accept()
                socks.append(c)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b''
            if not data:
                socks.remove(s)
                s.close()
                continue
            try:
                s.sendall(data)
            except OSError:
                socks.remove(s)
                s.close()


def tcp_client(addr, port, n, first_sport, seconds, chunk_size, interval,
               out):
    stop = stop_on_usr1()
    conns = []
    for i in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('', first_sport + i))
        s.settimeout(5)
        s.connect((addr, port))
        s.setblocking(False)
        conns.append({'sock': s, 'sport': first_sport + i, 'sent': 0,
                      'got': 0, 'last': time.monotonic(), 'gap': 0.0,
                      'dead': False, 'bins': {}})
    chunk = b'x' * chunk_size
    wall0, mono0 = time.time(), time.monotonic()
    with open(out + '.started', 'w') as f:
        f.write('%r\n' % wall0)
    end = mono0 + seconds
    next_send = mono0

    def owed(c, now):
        return not c['dead'] and c['got'] < c['sent']

    while True:
        now = time.monotonic()
        if stop and end > now:
            end = now
        if now >= next_send and now < end:
            for c in conns:
                if c['dead']:
                    continue
                try:
                    c['sent'] += c['sock'].send(chunk)
                except BlockingIOError:
                    pass
                except OSError:
                    c['dead'] = True
            next_send += interval
            if next_send < now:
                next_send = now + interval
        if now >= end:
            # Done when nothing is owed any more, or what is owed is
            # overdue (the connection has failed), or after 5 s.
            if all(not owed(c, now) or now - c['last'] > STALL
                   for c in conns) or now >= end + 5:
                break
        live = [c['sock'] for c in conns if not c['dead']]
        if not live:
            break
        r, _, _ = select.select(live, [], [], 0.005)
        now = time.monotonic()
        for c in conns:
            if c['sock'] in r:
                try:
                    data = c['sock'].recv(65536)
                except OSError:
                    data = b''
                if not data:
                    c['dead'] = True
                    continue
                c['got'] += len(data)
                b = int((now - mono0) / BIN)
                c['bins'][b] = c['bins'].get(b, 0) + len(data)
                c['gap'] = max(c['gap'], now - c['last'])
                c['last'] = now
            elif owed(c, now):
                c['gap'] = max(c['gap'], now - c['last'])
            elif not c['dead']:
                c['last'] = now     # nothing owed: not waiting
    nbins = int((time.monotonic() - mono0) / BIN) + 1
    result = {'start': wall0, 'bin': BIN, 'seconds': seconds,
              'chunk': chunk_size, 'interval': interval, 'conns': []}
    for c in conns:
        survived = (not c['dead'] and c['got'] >= c['sent']
                    and c['gap'] <= STALL)
        result['conns'].append({
            'sport': c['sport'], 'sent': c['sent'], 'got': c['got'],
            'max_gap_ms': int(c['gap'] * 1000), 'survived': survived,
            'closed': c['dead'],
            'bins': [c['bins'].get(i, 0) for i in range(nbins)]})
    with open(out, 'w') as f:
        json.dump(result, f)
    for c in conns:
        c['sock'].close()


def udp_recv(addr, port, seconds, ready, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.bind((addr, port))
    seqs, recv, sent = [], [], []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    open(ready, 'w').close()
    end = time.monotonic() + seconds
    while not stop and time.monotonic() < end:
        try:
            r, _, _ = select.select([s], [], [], 0.1)
        except InterruptedError:
            continue
        if not r:
            continue
        while True:
            try:
                data = s.recv(2048, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            now = time.time()
            if len(data) >= 16:
                seq, t = struct.unpack('!Qd', data[:16])
                seqs.append(seq)
                recv.append(now)
                sent.append(t)
    with open(out, 'w') as f:
        json.dump({'seq': seqs, 'recv': recv, 'sent': sent}, f)


def udp_send(addr, port, sport, rate, seconds, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('', sport))
    stop = stop_on_usr1()
    pad = b'\0' * 84
    period = 1.0 / rate
    start = time.monotonic()
    wall0 = time.time()
    end = start + seconds
    seq = 0
    nxt = start
    while True:
        now = time.monotonic()
        if now >= end or stop:
            break
        if now < nxt:
            time.sleep(nxt - now)
            continue
        # Catch up after a late wake-up, a few packets at a time.
        burst = 0
        while nxt <= now and burst < 16:
            try:
                s.sendto(struct.pack('!Qd', seq, time.time()) + pad,
                         (addr, port))
            except OSError:
                pass
            seq += 1
            nxt += period
            burst += 1
    with open(out, 'w') as f:
        json.dump({'sent': seq, 'start': wall0, 'end': time.time(),
                   'rate': rate}, f)


def udp_echo(addr, port, ready, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.bind((addr, port))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    counts = {}
    open(ready, 'w').close()
    while not stop:
        try:
            r, _, _ = select.select([s], [], [], 0.1)
        except InterruptedError:
            continue
        if not r:
            continue
        while True:
            try:
                data, src = s.recvfrom(2048, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            c = counts.setdefault(src[1], [0, 0])
            c[0] += 1
            try:
                s.sendto(data, src)
                c[1] += 1
            except OSError:
                pass
    with open(out, 'w') as f:
        json.dump({'streams': {str(p): {'received': c[0], 'echoed': c[1]}
                               for p, c in counts.items()}}, f)


def udp_streams(addr, port, sports, rate, seconds, out):
    stop = stop_on_usr1()
    socks, streams = [], []
    for sp in sports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(('', sp))
        s.connect((addr, port))
        s.setblocking(False)
        socks.append(s)
        streams.append({'sport': sp, 'seq': 0, 'sent': 0, 'errors': 0,
                        'seen': set(), 'dup': 0})
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    pad = b'\0' * 44
    n = len(socks)
    period = 1.0 / (rate * n)       # one packet of one stream each period
    wall0, start = time.time(), time.monotonic()
    end = start + seconds
    k = 0                           # packets sent, over every stream
    nxt = start

    def receive(timeout):
        try:
            r, _, _ = select.select(socks, [], [], max(0.0, timeout))
        except InterruptedError:
            return
        for sock in r:
            st = streams[by_fd[sock.fileno()]]
            while True:
                try:
                    data = sock.recv(2048)
                except (BlockingIOError, InterruptedError,
                        ConnectionRefusedError):
                    break
                if len(data) < 12:
                    continue
                _idx, seq = struct.unpack('!IQ', data[:12])
                if seq in st['seen']:
                    st['dup'] += 1
                else:
                    st['seen'].add(seq)

    while True:
        now = time.monotonic()
        if now >= end or stop:
            break
        if now < nxt:
            receive(nxt - now)
            continue
        # Catch up after a late wake-up, a few packets at a time.
        burst = 0
        while nxt <= now and burst < 64:
            i = k % n
            st = streams[i]
            try:
                socks[i].send(struct.pack('!IQd', i, st['seq'],
                                          time.time()) + pad)
                st['sent'] += 1
            except OSError:
                st['errors'] += 1   # never left: not counted as sent
            st['seq'] += 1
            k += 1
            nxt += period
            burst += 1
    wall_end = time.time()
    last = time.monotonic()
    while (time.monotonic() < last + 1.0
           and any(len(st['seen']) < st['sent'] for st in streams)):
        receive(0.02)
    with open(out, 'w') as f:
        json.dump({'start': wall0, 'end': wall_end, 'rate': rate,
                   'streams': {str(st['sport']): {
                       'sent': st['sent'], 'send_errors': st['errors'],
                       'echoed_back': len(st['seen']),
                       'duplicates': st['dup']} for st in streams}}, f)
    for s in socks:
        s.close()


def main(argv):
    cmd = argv[1]
    if cmd == 'tcp-server':
        tcp_server(argv[2], int(argv[3]), argv[4])
    elif cmd == 'tcp-client':
        tcp_client(argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
                   float(argv[6]), int(argv[7]), float(argv[8]), argv[9])
    elif cmd == 'udp-recv':
        udp_recv(argv[2], int(argv[3]), float(argv[4]), argv[5], argv[6])
    elif cmd == 'udp-send':
        udp_send(argv[2], int(argv[3]), int(argv[4]), float(argv[5]),
                 float(argv[6]), argv[7])
    elif cmd == 'udp-echo':
        udp_echo(argv[2], int(argv[3]), argv[4], argv[5])
    elif cmd == 'udp-streams':
        udp_streams(argv[2], int(argv[3]),
                    [int(x) for x in argv[4].split(',')], float(argv[5]),
                    float(argv[6]), argv[7])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
