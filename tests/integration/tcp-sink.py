# sfmesh test helper: accepts one TCP connection on ADDR PORT, counts the
# bytes until EOF and writes to FILE the count and the longest pause between
# two arrivals, in ms ("BYTES MAX_GAP_MS"); FILE.ready appears once it
# listens.
import socket
import sys
import time

addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(1)
srv.settimeout(60)
open(out + '.ready', 'w').close()
conn, _ = srv.accept()
conn.settimeout(60)
total = 0
gap = 0.0
last = None
while True:
    data = conn.recv(65536)
    now = time.monotonic()
    if not data:
        break
    if last is not None:
        gap = max(gap, now - last)
    last = now
    total += len(data)
with open(out, 'w') as f:
    f.write('%d %d\n' % (total, gap * 1000))
