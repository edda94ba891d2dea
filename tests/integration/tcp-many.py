# sfmesh test helper: many TCP connections carrying data the whole time.
#
#   tcp-many.py server ADDR PORT READY_FILE
#       Accepts connections and echoes everything back, until killed.
#   tcp-many.py client ADDR PORT N SECONDS FIRST_SPORT RESULT_FILE
#       Opens N connections (source ports FIRST_SPORT...), sends 512 bytes
#       on each every 50 ms for SECONDS and reads the echoes.  A connection
#       survives if it stays open, never waits more than 3 s for its echo,
#       and gets back every byte it sent.  Writes JSON to RESULT_FILE:
#       {"n": N, "survived": K, "failed": [sport, ...],
#        "max_gap_ms": ..., "bytes": [...]} and exits 0.
import json
import select
import socket
import sys
import time


def server(addr, port, ready):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(128)
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


def client(addr, port, n, seconds, first_sport, out):
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
                      'dead': False})
    chunk = b'x' * 512
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
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
            next_send = now + 0.05
        if now >= end and all(c['dead'] or c['got'] >= c['sent']
                              for c in conns):
            break
        if now >= end + 5:
            break
        r, _, _ = select.select([c['sock'] for c in conns if not c['dead']],
                                [], [], 0.01)
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
                c['gap'] = max(c['gap'], now - c['last'])
                c['last'] = now
            elif not c['dead'] and c['got'] < c['sent']:
                c['gap'] = max(c['gap'], now - c['last'])
    failed = [c['sport'] for c in conns
              if c['dead'] or c['got'] < c['sent'] or c['gap'] > 3.0]
    result = {'n': n, 'survived': n - len(failed), 'failed': failed,
              'max_gap_ms': int(max(c['gap'] for c in conns) * 1000),
              'bytes': [c['got'] for c in conns]}
    with open(out, 'w') as f:
        json.dump(result, f)
    for c in conns:
        c['sock'].close()


if __name__ == '__main__':
    if sys.argv[1] == 'server':
        server(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
               float(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
