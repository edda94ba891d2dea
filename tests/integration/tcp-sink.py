# sfmesh test helper: accepts one TCP connection on ADDR PORT, counts the
# bytes until EOF and writes the count to FILE (FILE.ready once listening).
import socket
import sys

addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(1)
srv.settimeout(30)
open(out + '.ready', 'w').close()
conn, _ = srv.accept()
conn.settimeout(30)
total = 0
while True:
    data = conn.recv(65536)
    if not data:
        break
    total += len(data)
with open(out, 'w') as f:
    f.write('%d\n' % total)
