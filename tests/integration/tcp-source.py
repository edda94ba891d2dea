# sfmesh test helper: sends to ADDR PORT over TCP, from source port SPORT
# (0: any), either COUNT bytes as fast as it can, or, with SECONDS, 64 kB
# every 10 ms for that long; then closes and prints the bytes sent.
#
# Usage: tcp-source.py ADDR PORT SPORT COUNT [SECONDS]
import socket
import sys
import time

addr, port, sport, count = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                            int(sys.argv[4]))
seconds = float(sys.argv[5]) if len(sys.argv) > 5 else None
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', sport))
s.settimeout(30)
s.connect((addr, port))
chunk = b'sfmesh' * 10923
sent = 0
if seconds is None:
    while sent < count:
        n = min(len(chunk), count - sent)
        s.sendall(chunk[:n])
        sent += n
else:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(chunk)
        sent += len(chunk)
        time.sleep(0.01)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
print(sent)
