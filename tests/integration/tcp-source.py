# sfmesh test helper: sends COUNT bytes to ADDR PORT over TCP and closes.
import socket
import sys

addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((addr, port), timeout=30)
chunk = b'sfmesh' * 10000
sent = 0
while sent < count:
    n = min(len(chunk), count - sent)
    s.sendall(chunk[:n])
    sent += n
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
