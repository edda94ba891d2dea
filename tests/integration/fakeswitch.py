# sfmesh test helper: a scripted OpenFlow 1.3 switch that can misbehave.
#
# It speaks just enough OpenFlow to complete the controller's handshake and
# then sends whatever a test asks for, well-formed or not.  Used by the
# bad-input tests; it can also write its messages out as fuzz seeds.
#
# With SFM_TLS_KEY, SFM_TLS_CERT and SFM_TLS_CA set in the environment, it
# connects over TLS with that key and certificate, and checks the
# controller's certificate against that CA (as ovs-vswitchd does with
# ovs-vsctl set-ssl).

import os
import select
import socket
import ssl
import struct
import time

OFP13 = 4
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY = 0, 1, 2, 3
FEATURES_REQUEST, FEATURES_REPLY = 5, 6
SET_CONFIG, PORT_STATUS = 9, 12
MULTIPART_REQUEST, MULTIPART_REPLY = 18, 19
BARRIER_REQUEST, BARRIER_REPLY = 20, 21
MP_PORT_DESC = 13
OFPPR_ADD, OFPPR_DELETE, OFPPR_MODIFY = 0, 1, 2
OFPPS_LINK_DOWN, OFPPS_LIVE = 1, 4
OFPPC_PORT_DOWN = 1

# Error types and codes (OpenFlow 1.3).
OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE = 0, 0
OFPET_BAD_REQUEST = 1
OFPBRC_BAD_VERSION, OFPBRC_BAD_TYPE, OFPBRC_BAD_LEN = 0, 1, 6


def header(msg_type, length, xid, version=OFP13):
    return struct.pack('!BBHI', version, msg_type, length, xid)


def message(msg_type, body=b'', xid=0, version=OFP13):
    return header(msg_type, 8 + len(body), xid, version) + body


def hello(versions=(OFP13,)):
    bitmap = 0
    for v in versions:
        bitmap |= 1 << v
    elem = struct.pack('!HHI', 1, 8, bitmap)
    return message(HELLO, elem, xid=1, version=max(versions))


def port_body(port_no, name, up=True):
    state = OFPPS_LIVE if up else OFPPS_LINK_DOWN
    config = 0 if up else OFPPC_PORT_DOWN
    mac = bytes([2, 0, 0, 0, (port_no >> 8) & 0xff, port_no & 0xff])
    return struct.pack('!I4x6s2x16sIIIIIIII', port_no, mac,
                       name.encode()[:15], config, state,
                       0, 0, 0, 0, 10000000, 10000000)


def features_reply(xid, dpid):
    return message(FEATURES_REPLY,
                   struct.pack('!QIBB2xII', dpid, 0, 254, 0, 0x4f, 0), xid)


def port_desc_reply(xid, ports):
    body = struct.pack('!HH4x', MP_PORT_DESC, 0)
    for port_no, name in ports:
        body += port_body(port_no, name)
    return message(MULTIPART_REPLY, body, xid)


def port_status(reason, port_no, name, up=True):
    return message(PORT_STATUS,
                   struct.pack('!B7x', reason) + port_body(port_no, name, up))


class Closed(Exception):
    pass


def tls_context(key=None, cert=None, ca=None):
    """Returns an SSL context for a switch with 'key' and 'cert' (default:
    the SFM_TLS_* variables) that trusts 'ca', or None without them."""
    key = key or os.environ.get('SFM_TLS_KEY')
    cert = cert or os.environ.get('SFM_TLS_CERT')
    ca = ca or os.environ.get('SFM_TLS_CA')
    if not ca:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False      # OVS checks the CA, not a host name.
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class FakeSwitch:
    """One connection to the controller, as a switch."""

    def __init__(self, port, host='127.0.0.1', timeout=5.0, tls=None,
                 source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        tls = tls or tls_context()
        if tls:
            self.sock = tls.wrap_socket(self.sock)
        self.timeout = timeout
        self.buf = b''

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=None):
        """Returns (version, type, xid, body); raises Closed on EOF and
        TimeoutError if nothing complete arrives in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            if len(self.buf) >= 8:
                version, msg_type, length, xid = struct.unpack(
                    '!BBHI', self.buf[:8])
                if length >= 8 and len(self.buf) >= length:
                    body = self.buf[8:length]
                    self.buf = self.buf[length:]
                    return version, msg_type, xid, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no complete message')
            pending = isinstance(self.sock, ssl.SSLSocket) \
                and self.sock.pending()
            if not pending:
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    continue
            try:
                data = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (ConnectionResetError, ssl.SSLError):
                data = b''
            if not data:
                raise Closed()
            self.buf += data

    def expect(self, msg_type, timeout=None):
        """Receives messages until one of 'msg_type' (answering echo
        requests on the way) and returns it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            msg = self.recv(max(deadline - time.monotonic(), 0.01))
            if msg[1] == msg_type:
                return msg
            if msg[1] == ECHO_REQUEST:
                self.send(message(ECHO_REPLY, msg[3], msg[2]))

    def wait_closed(self, timeout=None):
        """Returns True if the controller closes the connection in time,
        discarding what it sends before."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while time.monotonic() < deadline:
                self.recv(max(deadline - time.monotonic(), 0.01))
        except Closed:
            return True
        except TimeoutError:
            return False
        return False

    def handshake(self, dpid, ports=((1, 'p1'),)):
        """Completes the controller's handshake as a switch with 'dpid'."""
        self.expect(HELLO)
        self.send(hello())
        _, _, xid, _ = self.expect(FEATURES_REQUEST)
        self.send(features_reply(xid, dpid))
        while True:
            _, msg_type, xid, body = self.recv()
            if msg_type == MULTIPART_REQUEST and \
                    struct.unpack('!H', body[:2])[0] == MP_PORT_DESC:
                break
        self.send(port_desc_reply(xid, ports))

    def echo_ok(self, timeout=None):
        """Returns True if an echo request gets its reply."""
        self.send(message(ECHO_REQUEST, b'ping', 0x5e5e))
        _, _, xid, body = self.expect(ECHO_REPLY, timeout)
        return xid == 0x5e5e and body == b'ping'


def write_seeds(directory):
    """Writes fuzz seeds for tests/fuzz/fuzz-ofconn: the first byte selects
    a fresh (0) or an already connected (1) switch."""
    os.makedirs(directory, exist_ok=True)
    seeds = {
        'handshake': b'\0' + hello() + features_reply(2, 0x42)
                     + port_desc_reply(4, [(1, 'p1'), (2, 'p2')]),
        'hello-of10': b'\0' + hello((1,)),
        'port-status': b'\1' + port_status(OFPPR_ADD, 3, 'p3')
                       + port_status(OFPPR_MODIFY, 1, 'p1', False)
                       + port_status(OFPPR_DELETE, 2, 'p2'),
        'echo-barrier': b'\1' + message(ECHO_REQUEST, b'x', 9)
                        + message(BARRIER_REPLY, b'', 5)
                        + message(ECHO_REPLY, b'', 6),
        'error': b'\1' + message(ERROR, struct.pack('!HH', 1, 6)
                                 + header(SET_CONFIG, 12, 3) + b'\0' * 4, 3),
        'port-desc-again': b'\1' + port_desc_reply(4, [(7, 'p7')]),
        'bad-type': b'\1' + message(200, b'\0' * 8, 7),
    }
    for name, data in seeds.items():
        with open(os.path.join(directory, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    import sys
    write_seeds(sys.argv[1])
