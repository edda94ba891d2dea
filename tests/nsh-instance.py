#!/usr/bin/python3
"""Minimal NSH service instance for sfmesh tests.

Run it inside a service instance's network namespace:

    nsh-instance.py [--iface eth0] [--log] [--stats FILE]

It opens an AF_PACKET raw socket on the interface, bound to the NSH
ethertype (0x894F), and "serves" every Ethernet+NSH frame the switch sends
it: it validates the NSH base header, decrements the Service Index (SI) and
the TTL, and sends the frame back out the same interface.  The payload (the
original frame inside the NSH) and all context headers (C1 = stream affinity
code) are returned unchanged.

NSH base header (RFC 8300, section 2.2), first 32 bits:

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    |Ver|O|U|    TTL    |   Length  |U|U|U|U|MD Type| Next Protocol |
    |          Service Path Identifier (SPI)        | Service Index |

Ver is 2 bits, TTL 6 bits (bits 4..9, so it spans the first two bytes),
Length 6 bits in 4-byte words (whole NSH: base + service path + context),
MD Type 4 bits.  MD type 1 has a fixed length of 6 words; MD type 2 has at
least 2.

A frame is dropped (and counted as dropped_malformed) unless: it is long
enough for an Ethernet header plus the NSH length it claims, Ver is 0, MD
type is 1 (length exactly 6) or 2 (length >= 2), TTL > 1 and SI > 0 (so
both stay non-zero after the decrement).  RFC 8300 gives the TTL decrement
to the SFF; this test instance does it too so that a loop in the switch's
flows dies out.

MAC addresses on the way back: the returned frame has source = this
interface's MAC and destination = the received frame's source (for frames
from OVS after encap(ethernet) that source is 00:00:00:00:00:00 unless the
flows set eth_src).  The switch matches returned frames on in_port and the
NSH fields only, so it does not depend on these addresses.

--log prints one line per frame to stdout.  --stats FILE writes the
counters {"received", "returned", "dropped_malformed", "send_errors",
"link_down_events"} as JSON when the program exits (SIGTERM, SIGINT or an
error).  A send error (typically EMSGSIZE: the interface MTU does not fit
the frame plus the NSH and outer Ethernet headers; ENOBUFS or ENETDOWN
when the link dies with a frame in hand) drops that frame and is only
counted.  The instance survives its link going down and
up again (as in a failover test); it exits with status 1 (stats written)
within a second of the interface disappearing.  It also gets SIGTERM when
its parent process ends (PR_SET_PDEATHSIG), so it cannot outlive the test
that started it.
"""

import argparse
import ctypes
import errno
import json
import os
import signal
import socket
import struct
import sys

ETH_P_NSH = 0x894F
ETH_HLEN = 14
PACKET_OUTGOING = 4
NSH_BASE_LEN = 8


class Stop(Exception):
    """Raised by the signal handler to leave the receive loop."""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("iface_pos", nargs="?", metavar="IFACE",
                   help="interface (same as --iface)")
    p.add_argument("--iface", default=None,
                   help="interface to serve (default eth0)")
    p.add_argument("--log", action="store_true",
                   help="print one line per frame")
    p.add_argument("--stats", metavar="FILE",
                   help="write counters as JSON to FILE on exit")
    args = p.parse_args(argv)
    args.iface = args.iface or args.iface_pos or "eth0"
    return args


def ifindex(name):
    """Returns the index of interface 'name', or 0 if there is none."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


def die_with_parent():
    """Asks for SIGTERM when the parent process ends (PR_SET_PDEATHSIG).

    A test that starts this program in the background through a shell
    function gets the pid of a subshell; killing that subshell then still
    ends the instance (cleanly, with its stats)."""
    ppid = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != ppid:                            # already gone
        os.kill(os.getpid(), signal.SIGTERM)


def serve(frame, mac):
    """Returns (reply, info) for a valid frame, or (None, reason)."""
    if len(frame) < ETH_HLEN + NSH_BASE_LEN:
        return None, "short frame (%d bytes)" % len(frame)
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype != ETH_P_NSH:
        return None, "ethertype 0x%04x" % ethertype
    o = ETH_HLEN
    w0, mdtype_byte, np, spi_si = struct.unpack_from("!HBBI", frame, o)
    ver = w0 >> 14
    ttl = (w0 >> 6) & 0x3F
    length = w0 & 0x3F
    mdtype = mdtype_byte & 0x0F
    spi = spi_si >> 8
    si = spi_si & 0xFF
    if ver != 0:
        return None, "version %d" % ver
    if mdtype == 1:
        if length != 6:
            return None, "md type 1 with length %d" % length
    elif mdtype == 2:
        if length < 2:
            return None, "md type 2 with length %d" % length
    else:
        return None, "md type %d" % mdtype
    if len(frame) < o + 4 * length:
        return None, "truncated NSH (length %d, frame %d)" % (length,
                                                              len(frame))
    if ttl <= 1:
        return None, "ttl %d" % ttl
    if si == 0:
        return None, "si 0"

    w0 = (w0 & ~(0x3F << 6)) | ((ttl - 1) << 6)
    reply = bytearray(frame)
    reply[0:6] = frame[6:12]            # back to the sender
    reply[6:12] = mac
    struct.pack_into("!H", reply, o, w0)
    struct.pack_into("!I", reply, o + 4, (spi << 8) | (si - 1))
    c1 = ""
    if mdtype == 1:
        (c1v,) = struct.unpack_from("!I", frame, o + 8)
        c1 = " c1=0x%08x" % c1v
    info = "spi=%d si=%d->%d ttl=%d->%d md=%d np=%d%s len=%d" % (
        spi, si, si - 1, ttl, ttl - 1, mdtype, np, c1, len(frame))
    return bytes(reply), info


def main(argv):
    args = parse_args(argv)
    stats = {"received": 0, "returned": 0, "dropped_malformed": 0,
             "send_errors": 0, "link_down_events": 0}

    def on_signal(signum, _frame):
        raise Stop(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    die_with_parent()

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                         socket.htons(ETH_P_NSH))
    status = 0
    try:
        sock.bind((args.iface, ETH_P_NSH))
        index = ifindex(args.iface)
        # Wake up every second to notice a deleted interface: after a link
        # down (ENETDOWN, reported once) the socket says nothing more if the
        # interface is then deleted.
        sock.settimeout(1.0)
        mac = sock.getsockname()[4][:6]
        if args.log:
            print("nsh-instance: serving %s (%s)" % (
                args.iface, ":".join("%02x" % b for b in mac)), flush=True)
        while True:
            try:
                frame, addr = sock.recvfrom(65535)
            except socket.timeout:
                if ifindex(args.iface) != index:
                    raise OSError(errno.ENODEV, "interface is gone")
                continue
            except OSError as e:
                # The link went down (ENETDOWN) or the interface went
                # away: go on in the first case only.
                if e.errno != errno.ENETDOWN or ifindex(args.iface) != index:
                    raise
                stats["link_down_events"] += 1
                if args.log:
                    print("link down on %s" % args.iface, flush=True)
                continue
            if addr[2] == PACKET_OUTGOING:
                continue
            stats["received"] += 1
            reply, info = serve(frame, mac)
            if reply is None:
                stats["dropped_malformed"] += 1
                if args.log:
                    print("drop: %s" % info, flush=True)
                continue
            try:
                sock.send(reply)
            except OSError as e:        # e.g. EMSGSIZE: MTU too small
                stats["send_errors"] += 1
                if args.log:
                    print("send error: %s: %s" % (e, info), flush=True)
                continue
            stats["returned"] += 1
            if args.log:
                print("ok: %s" % info, flush=True)
    except Stop:
        pass
    except OSError as e:
        print("nsh-instance: %s: %s" % (args.iface, e), file=sys.stderr)
        status = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sock.close()
        if args.stats:
            with open(args.stats, "w") as f:
                json.dump(stats, f)
                f.write("\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
