#!/usr/bin/env python3
# Copyright (c) 2026 The sfmesh authors.
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of fuzz-service, fuzz-ctlsock, fuzz-reconcile,
fuzz-agentproto, fuzz-replrx and fuzz-bfd into tests/fuzz/corpus/ (the
input layouts are described at the top of each target; the agent
protocol's in docs/agent-protocol.md).

Usage: gen-seeds.py [CORPUS_DIR]"""

import os
import struct
import sys

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
TCP, UDP, ICMP = 0, 1, 2


def write(corpus, target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# fuzz-service.

def svc_input(service, options, blob, packets, now=100000, length=0):
    head = bytes([service, options, length]) + struct.pack('>I', now)
    body = b''.join(struct.pack('>BBBHB', *p) for p in packets)
    return head + blob + body


def fw_blob(state, flags=0, last_seen=5, counts=(1, 2, 60, 120), version=1):
    return (bytes([version, state, flags]) + bytes(5)
            + struct.pack('>q', last_seen) + struct.pack('>4Q', *counts))


def counter_blob(counts=(3, 4, 300, 400), reserved=0):
    return bytes([1, reserved]) + bytes(6) + struct.pack('>4Q', *counts)


def service_seeds(corpus):
    t = 'fuzz-service'
    # Service 0 is stateful-fw, 1 is counter (service_names() order).
    write(corpus, t, 'fw-established-fins', svc_input(
        0, 0, fw_blob(3), [(TCP, ACK, 1, 60, 10), (TCP, FIN | ACK, 1, 60, 10),
                           (TCP, FIN | ACK, 0, 60, 200)]))
    write(corpus, t, 'fw-closing-rst', svc_input(
        0, 0, fw_blob(4, 0x02), [(TCP, ACK, 0, 40, 1), (TCP, RST, 1, 40, 1)]))
    write(corpus, t, 'fw-udp-timeout', svc_input(
        0, 2, fw_blob(6, 0x01), [(UDP, 0, 1, 200, 1), (UDP, 0, 0, 200, 140),
                                 (ICMP, 0, 0, 84, 1)]))
    write(corpus, t, 'fw-closed-reuse', svc_input(
        0, 1, fw_blob(5, 0x06), [(TCP, SYN, 0, 60, 1), (TCP, SYN | ACK, 1,
                                                        60, 1)]))
    write(corpus, t, 'fw-bad-version-new-stream', svc_input(
        0, 0, fw_blob(3, version=2),
        [(TCP, SYN, 1, 60, 1), (TCP, SYN | ACK, 0, 60, 1),
         (TCP, ACK, 1, 52, 1), (TCP, SYN | FIN, 1, 52, 1)]))
    write(corpus, t, 'fw-no-state-drop', svc_input(
        0, 0, b'', [(TCP, ACK, 1, 52, 1), (UDP, 0, 1, 52, 1)], length=1))
    write(corpus, t, 'counter-packets', svc_input(
        1, 3, counter_blob(), [(UDP, 0, 1, 1500, 1), (TCP, SYN, 0, 60, 200)]))
    write(corpus, t, 'counter-bad-reserved', svc_input(
        1, 0, counter_blob(reserved=1), [(TCP, 0, 1, 100, 1)]))


# fuzz-ctlsock.

def ctlsock_seeds(corpus):
    t = 'fuzz-ctlsock'
    seeds = {
        'one-request': b'{"method":"status","params":[],"id":1}',
        'args': b'{"method":"fail","params":["dlp-1","down"],"id":"x"}',
        'pipelined': (b'{"method":"version","params":[],"id":0}'
                      b'{"method":"list-commands","params":[],"id":1}\n'
                      b'{"method":"flows","params":["leaf1"],"id":2}'),
        'not-string-arg': b'{"method":"fail","params":[1,null],"id":3}',
        'notification': b'{"method":"status","params":[],"id":null}',
        'reply-not-request': b'{"result":"ok","error":null,"id":1}',
        'bad-json': b'{"method":"status",,}',
        'not-object': b'["method","status"]',
        'unicode': b'{"method":"st\\u00e4tus","params":["\\ud83d\\ude00"],'
                   b'"id":[1,{"a":2}]}',
        'truncated': b'{"method":"status","params":["a',
    }
    for name, body in seeds.items():
        # The size limit (0: the daemon's) and the seed of the pieces.
        write(corpus, t, name, bytes([0, len(name)]) + body)
    # A limit of 80 bytes: the second request is over it.
    write(corpus, t, 'over-limit', bytes([40, 7]) + b' ' * 30
          + seeds['pipelined'])


# fuzz-reconcile.  Raw messages are OpenFlow 1.3.

OF13 = 4
ANSWER_DUMPS, ANSWER_BARRIER, SET, TIME, RECEIVE = 1, 2, 3, 4, 0


def op(code, k=0):
    return bytes([code | k << 3])


def of13(msg_type, body, xid=0):
    return struct.pack('>BBHI', OF13, msg_type, 8 + len(body), xid) + body


def receive(msg, k=0):
    """Receives 'msg' with the xid of the flow dump (1), the group dump (2),
    the barrier (3) or its own (0)."""
    return op(RECEIVE, k) + msg


def oxm_match(fields):
    body = b''.join(fields)
    length = 4 + len(body)
    return (struct.pack('>HH', 1, length) + body
            + bytes((8 - length % 8) % 8))


def oxm_in_port(port):
    return struct.pack('>II', 0x80000004, port)


def oxm_eth_type(eth_type):
    return struct.pack('>IH', 0x80000a02, eth_type)


def act_output(port):
    return struct.pack('>HHIH6x', 0, 16, port, 0xffff)


def act_group(group_id):
    return struct.pack('>HHI', 22, 8, group_id)


def apply_actions(actions):
    body = b''.join(actions)
    return struct.pack('>HH4x', 4, 8 + len(body)) + body


def goto_table(table):
    return struct.pack('>HHB3x', 1, 8, table)


def flow_stats(table, priority, match, instructions=b''):
    body = match + instructions
    return struct.pack('>HBxIIHHHH4xQQQ', 48 + len(body), table, 1, 0,
                       priority, 0, 0, 0, 0, 10, 600) + body


def bucket(actions, watch_port=0xffffffff, weight=0):
    body = b''.join(actions)
    return struct.pack('>HHII4x', 16 + len(body), weight, watch_port,
                       0xffffffff) + body


def group_desc(group_type, group_id, buckets):
    body = b''.join(buckets)
    return struct.pack('>HBxI', 8 + len(body), group_type, group_id) + body


def multipart_reply(mp_type, entries, more=False):
    return of13(19, struct.pack('>HH4x', mp_type, 1 if more else 0)
                + b''.join(entries))


def reconcile_seeds(corpus):
    t = 'fuzz-reconcile'
    # Desired state 1: group 1 (fast failover, ports 1 and 2), then
    # "table=0,priority=100,in_port=1 actions=group:1" and
    # "table=0,priority=0 actions=drop".
    set1_flows = [flow_stats(0, 100, oxm_match([oxm_in_port(1)]),
                             apply_actions([act_group(1)])),
                  flow_stats(0, 0, oxm_match([]))]
    set1_groups = [group_desc(3, 1, [bucket([act_output(1)], 1),
                                     bucket([act_output(2)], 2)])]
    foreign_flow = flow_stats(0, 50, oxm_match([oxm_in_port(9),
                                                oxm_eth_type(0x0800)]),
                              goto_table(1))
    foreign_group = group_desc(0, 7, [bucket([act_output(3)])])
    barrier_reply = of13(21, b'')
    bad_request_error = of13(1, struct.pack('>HH', 1, 1)
                             + struct.pack('>BBHI', OF13, 33, 16, 0))
    echo_request = of13(2, b'ping')
    setup = lambda version, first: bytes([version | first << 2])

    write(corpus, t, 'of13-dump-equal', setup(0, 1)
          + receive(multipart_reply(1, set1_flows), 1)
          + receive(multipart_reply(7, set1_groups), 2)
          + op(SET, 3) + op(ANSWER_BARRIER))
    write(corpus, t, 'of13-dump-foreign', setup(0, 1)
          + receive(multipart_reply(1, [foreign_flow], more=True), 1)
          + receive(multipart_reply(1, set1_flows[:1]), 1)
          + receive(multipart_reply(7, [foreign_group] + set1_groups), 2)
          + receive(barrier_reply, 3) + op(SET, 0) + op(ANSWER_BARRIER))
    write(corpus, t, 'of13-bundle-error', setup(0, 2)
          + op(ANSWER_DUMPS, 0) + receive(bad_request_error, 3)
          + receive(barrier_reply, 3) + op(ANSWER_DUMPS, 2))
    write(corpus, t, 'of13-bad-flow-stats', setup(0, 1)
          + receive(multipart_reply(1, [set1_flows[0][:40]]), 1)
          + op(ANSWER_DUMPS, 1) + op(ANSWER_DUMPS, 1))
    write(corpus, t, 'of13-echo-time', setup(0, 3)
          + receive(echo_request) + op(TIME, 2) + op(ANSWER_DUMPS, 3)
          + op(TIME, 31) + op(TIME, 31))
    for version in range(3):
        for first in range(4):
            write(corpus, t, 'ops-%d-%d-same' % (version, first),
                  setup(version, first) + op(ANSWER_DUMPS, first)
                  + op(SET, (first + 1) % 4) + op(ANSWER_BARRIER)
                  + op(SET, (first + 2) % 4) + op(SET, (first + 3) % 4)
                  + op(ANSWER_BARRIER) + op(ANSWER_BARRIER))
            write(corpus, t, 'ops-%d-%d-other' % (version, first),
                  setup(version, first) + op(ANSWER_DUMPS, (first + 1) % 4)
                  + op(ANSWER_BARRIER) + op(ANSWER_DUMPS)
                  + op(ANSWER_BARRIER))


# fuzz-agentproto: frames of the agent protocol, version 3 (HELLO and
# HELLO_ACK framed with version 1).

AGP_HELLO, AGP_HELLO_ACK, AGP_MAP, AGP_HEARTBEAT = 1, 2, 3, 4
AGP_STATE_UPDATE, AGP_STATE_ACK, AGP_BULK_BEGIN, AGP_BULK_END = 5, 6, 7, 8
AGP_NONE = 0xffff


def agp_frame(msg_type, body, xid, version=None):
    if version is None:
        version = 1 if msg_type in (AGP_HELLO, AGP_HELLO_ACK) else 3
    return (b'SFMA' + struct.pack('>BBHII', version, msg_type, 0,
                                  16 + len(body), xid) + body)


def agp_string(s):
    return struct.pack('>H', len(s)) + s.encode()


def agp_hello(instance, service, addr, port, versions=1 << 3, xid=1):
    return agp_frame(AGP_HELLO, struct.pack('>IIH', versions, addr, port)
                     + agp_string(instance) + agp_string(service), xid)


def agp_hello_ack(version, reason='', xid=1):
    return agp_frame(AGP_HELLO_ACK, bytes([version]) + agp_string(reason),
                     xid)


def agp_map(epoch, service, instances, buckets, xid=2):
    """'instances': (name, address, port); 'buckets': (primary,
    secondary[, next]) indexes."""
    body = (struct.pack('>Q', epoch) + agp_string(service)
            + struct.pack('>IH', len(buckets), len(instances)))
    for name, addr, port in instances:
        body += agp_string(name) + struct.pack('>IH', addr, port)
    for bucket in buckets:
        primary, secondary, nxt = (tuple(bucket) + (AGP_NONE,))[:3]
        body += struct.pack('>HHH', primary, secondary, nxt)
    return agp_frame(AGP_MAP, body, xid)


def agp_heartbeat(epoch, n_buckets, warm, counts, xid=5):
    return agp_frame(AGP_HEARTBEAT, struct.pack('>QI', epoch, n_buckets)
                     + warm + struct.pack('>3Q', *counts), xid)


def agp_record(bucket, lo, lo_port, hi, hi_port, proto, epoch, count,
               state):
    return (struct.pack('>IIIHHB', bucket, lo, hi, lo_port, hi_port, proto)
            + struct.pack('>QQH', epoch, count, len(state)) + state)


def agp_state_update(sender, seq, records, xid=7, version=None):
    return agp_frame(AGP_STATE_UPDATE, agp_string(sender)
                     + struct.pack('>QI', seq, len(records))
                     + b''.join(records), xid, version)


def agp_state_ack(seq, xid=7):
    return agp_frame(AGP_STATE_ACK, struct.pack('>Q', seq), xid)


def agp_bulk_begin(bucket, watermark, xid=9):
    return agp_frame(AGP_BULK_BEGIN, struct.pack('>IQ', bucket, watermark),
                     xid)


def agp_bulk_end(bucket, count, xid=10):
    return agp_frame(AGP_BULK_END, struct.pack('>II', bucket, count), xid)


def agentproto_seeds(corpus):
    t = 'fuzz-agentproto'
    hello = agp_hello('fw-1', 'fw', 0x0a000103, 7400)
    hello_ack = agp_hello_ack(3)
    instances = [('fw-%d' % i, 0x0a000100 + i, 7400) for i in range(1, 5)]
    instances.append(('fw-5', 0, 0))
    pairs = [(0, 1), (1, 2, 0), (3, 4), (3, 4), (4, 0, 2), (0, 1), (1, 2),
             (3, AGP_NONE), (3, 4), (AGP_NONE, AGP_NONE), (0, 1), (1, 2),
             (3, 4, 1), (3, 4), (4, 0), (0, 1)]
    mapmsg = agp_map(3, 'fw', instances, pairs)
    heartbeat = agp_heartbeat(3, 16, b'\xf5\x3c', (1000, 990, 10))
    # Versions with and without an epoch, the largest count, a tie.
    versions = [(0, 1), (3, 17), (3, 17), (2 ** 64 - 1, 2 ** 64 - 1)]
    records = [agp_record(5 * i, 0x0a000002, 40000 + i, 0xc0a80001 + i, 443,
                          17 if i % 2 == 0 else 6, versions[i][0],
                          versions[i][1], bytes(3 * j % 256
                                                for j in range(16 * i)))
               for i in range(4)]
    update = agp_state_update('fw-1', 12, records)
    begin, end = agp_bulk_begin(5, 11), agp_bulk_end(5, 4)
    seeds = {
        'hello': hello,
        'hello-ack': hello_ack,
        'hello-refused': agp_hello_ack(0, 'unknown service'),
        'map': mapmsg,
        'heartbeat': heartbeat,
        'heartbeat-4-buckets': agp_heartbeat(8, 4, b'\x05', (0, 0, 0), 6),
        'heartbeat-no-map': agp_heartbeat(0, 0, b'', (0, 0, 0)),
        'state-update': update,
        'state-update-empty': agp_state_update('fw-2', 1, [], 8),
        'state-ack': agp_state_ack(12),
        'bulk-begin': begin,
        'bulk-end': end,
        # An older peer's batch: framed with version 1, records without a
        # version.  It must not decode.
        'state-update-version-1': agp_frame(
            AGP_STATE_UPDATE, agp_string('fw-1')
            + struct.pack('>QI', 3, 1)
            + struct.pack('>IIIHHBH', 5, 0x0a000002, 0xc0a80001, 40000,
                          443, 6, 2) + b'\x01\x02', 7, 1),
        'stream-agent-channel': (hello + hello_ack + mapmsg + heartbeat
                                 + agp_heartbeat(3, 16, b'\xff\xff',
                                                 (2000, 1990, 10), 6)),
        'stream-replication': (begin + update
                               + agp_state_update('fw-1', 15, records)
                               + agp_state_update('fw-1', 13, records)
                               + end + agp_state_ack(12)),
    }
    for name, data in seeds.items():
        write(corpus, t, name, data)


# fuzz-replrx: a program of steps on up to 8 connections (see the target).

RX_SENDERS = {'dlp-1': 0, 'dlp-2': 1, 'dlp-3': 2, 'x': 3}


def rx_open(conn):
    return bytes([conn << 2])


def rx_close(conn):
    return bytes([conn << 2 | 1])


def rx_update(conn, sender, seq, bucket, records):
    """Records: (stream, epoch, count, packets), or (stream, epoch, count,
    blob) with a blob of arbitrary bytes."""
    out = bytes([conn << 2 | 2, 0, RX_SENDERS[sender], seq, bucket,
                 len(records)])
    for stream, epoch, count, state in records:
        version = epoch << 4 | (count - 1)
        if isinstance(state, bytes):
            out += bytes([1, stream, version, len(state)]) + state
        else:
            out += bytes([0, stream, version, state])
    return out


def rx_bulk_begin(conn, sender, watermark, bucket):
    return bytes([conn << 2 | 2, 2, RX_SENDERS[sender], watermark, bucket])


def rx_bulk_end(conn, sender, bucket, count):
    return bytes([conn << 2 | 2, 3, RX_SENDERS[sender], 0, bucket, count])


def replrx_seeds(corpus):
    t = 'fuzz-replrx'
    write(corpus, t, 'bulk', rx_open(0)
          + rx_update(0, 'dlp-1', 1, 0, [])
          + rx_bulk_begin(0, 'dlp-1', 1, 3)
          + rx_update(0, 'dlp-1', 2, 3, [(1, 1, 1, 10), (2, 1, 1, 20),
                                         (3, 1, 2, 30)])
          + rx_bulk_end(0, 'dlp-1', 3, 3)
          + rx_bulk_begin(0, 'dlp-1', 2, 5)
          + rx_bulk_end(0, 'dlp-1', 5, 1))
    # Older, equal and newer versions of one stream, across epochs, and a
    # newer state that the service refuses.
    write(corpus, t, 'versions', rx_open(0)
          + rx_update(0, 'dlp-1', 1, 3, [(1, 1, 5, 5)])
          + rx_update(0, 'dlp-1', 2, 3, [(1, 1, 5, 6)])
          + rx_update(0, 'dlp-1', 3, 3, [(1, 1, 4, 4), (1, 0, 16, 16)])
          + rx_update(0, 'dlp-1', 4, 3, [(1, 2, 1, 1)])
          + rx_update(0, 'dlp-1', 5, 3, [(1, 3, 1, b'\x01\x02')]))
    # A flap: the secondary's newer state, then the stale primary's.
    write(corpus, t, 'flap', rx_open(0) + rx_open(1)
          + rx_update(0, 'dlp-1', 1, 3, [(7, 1, 10, 10), (8, 1, 10, 10)])
          + rx_update(1, 'dlp-2', 1, 3, [(7, 1, 13, 13)])
          + rx_update(0, 'dlp-1', 2, 3, [(7, 1, 11, 11), (8, 1, 11, 11)])
          + rx_update(0, 'dlp-1', 3, 3, [(7, 1, 14, 14)])
          + rx_close(1))
    # A restarted sender's bulk into a table that holds its streams at
    # older, equal and newer versions.
    write(corpus, t, 'bulk-populated', rx_open(0)
          + rx_update(0, 'dlp-1', 1, 3, [(1, 1, 3, 3), (2, 1, 5, 5),
                                         (3, 2, 1, 1)])
          + rx_open(1) + rx_update(1, 'dlp-1', 1, 0, [])
          + rx_bulk_begin(1, 'dlp-1', 1, 3)
          + rx_update(1, 'dlp-1', 2, 3, [(1, 1, 5, 9), (2, 1, 5, 9),
                                         (3, 1, 5, 9), (4, 1, 5, 9)])
          + rx_bulk_end(1, 'dlp-1', 3, 4))
    # More streams than the table holds.
    full = rx_open(0)
    for seq in range(1, 10):
        full += rx_update(0, 'dlp-2', seq, seq % 16,
                          [(4 * seq + i, 1, 1, seq) for i in range(4)])
    write(corpus, t, 'table-full', full)


# fuzz-bfd.

BFD_DOWN, BFD_INIT, BFD_UP, BFD_ADMIN_DOWN = 1, 2, 3, 0
BFD_P, BFD_F, BFD_D = 0x20, 0x10, 0x02
# Discriminator choices of a made-up frame: My Discriminator (the peer's,
# 0, another, all ones) and Your Discriminator (0, ours, not ours).
MY_PEER, MY_ZERO, MY_OTHER = 0, 1, 2
YOUR_ZERO, YOUR_MINE, YOUR_NOT_MINE = 0, 1, 2
# Interval choices: indexes in fuzz-bfd's table.
IV_0, IV_1US, IV_1MS, IV_5MS, IV_20MS, IV_1S, IV_MAX = 0, 1, 2, 3, 5, 6, 7


def inet_csum(data):
    total = sum(struct.unpack('>%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def bfd_frame(state=BFD_DOWN, flags=0, diag=0, mult=3, my_disc=0x4b999ba6,
              your_disc=0, min_tx=1000000, min_rx=5000, ttl=255,
              frag=0, udp_dst=3784, length=24, vlan=False, bad_csum=False):
    """A BFD frame as OVS sends it, with the fields given."""
    msg = struct.pack('>BBBBIIIII', 1 << 5 | diag, state << 6 | flags, mult,
                      length, my_disc, your_disc, min_tx, min_rx, 0)
    udp = struct.pack('>HHHH', 49152, udp_dst, 8 + len(msg), 0) + msg
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0xc0, 20 + len(udp), 0, frag,
                     ttl, 17, 0, bytes([169, 254, 1, 1]),
                     bytes([169, 254, 1, 0]))
    csum = inet_csum(ip) ^ (1 if bad_csum else 0)
    ip = ip[:10] + struct.pack('>H', csum) + ip[12:]
    eth = bytes([0, 0x23, 0x20, 0, 0, 1, 0x16, 0xd8, 0x20, 0x6c, 0xd6, 0x74])
    if vlan:
        eth += b'\x81\x00\x00\x0a'
    return eth + b'\x08\x00' + ip + udp


def bfd_head(tx=5, rx=5, mult=3, damp_base=10, damp_max=100, damp_decay=100,
             seed=1, clock=3, flags=0):
    """The header: intervals in ms, damping in 10 and 100 ms units."""
    return (bytes([tx, rx, mult, damp_base, damp_max, damp_decay])
            + struct.pack('>I', seed) + bytes([clock, flags]))


def bfd_op(code, arg=0):
    return bytes([code + 6 * arg])


def bfd_raw(frame):
    return bfd_op(0) + bytes([len(frame)]) + frame


def bfd_synth(state, flags=0, your=YOUR_MINE, my=MY_PEER, tx=IV_5MS,
              rx=IV_5MS, mult=3, diag=0, pos=0x7f, flip=0):
    """A made-up frame from the peer (no byte flipped unless 'flip')."""
    return bfd_op(1) + bytes([state << 6 | flags, diag, mult,
                              your << 2 | my, tx, rx, pos, flip])


def bfd_advance(ms):
    if ms < 16:
        return bfd_op(2, ms)
    if ms < 1700:
        return bfd_op(2, 15 + ms // 100)
    return bfd_op(2, 31 + min(ms // 10000, 11))


BFD_RUN = bfd_op(3)
BFD_FORMAT = bfd_op(5)


def bfd_hold(on):
    return bfd_op(4, 1 if on else 0)


def bfd_handshake(tx=IV_5MS):
    """The peer's Down, our Init, its Up with Final, then 10 exchanges."""
    steps = (bfd_synth(BFD_DOWN, your=YOUR_ZERO, tx=IV_1S) + BFD_RUN
             + bfd_synth(BFD_UP, BFD_F, tx=tx) + BFD_RUN)
    for _ in range(10):
        steps += bfd_advance(5) + bfd_synth(BFD_UP, tx=tx) + BFD_RUN
    return steps


def bfd_seeds(corpus):
    t = 'fuzz-bfd'
    write(corpus, t, 'ovs-frame', bfd_head() + bfd_raw(bfd_frame())
          + BFD_RUN + BFD_FORMAT)
    write(corpus, t, 'handshake', bfd_head() + bfd_handshake() + BFD_FORMAT)
    write(corpus, t, 'hold-release', bfd_head(flags=1) + bfd_handshake()
          + bfd_hold(True) + BFD_RUN
          + bfd_synth(BFD_DOWN, BFD_F, tx=IV_1S) + bfd_advance(1000)
          + bfd_synth(BFD_DOWN, tx=IV_1S) + BFD_RUN + bfd_hold(False)
          + BFD_RUN + bfd_synth(BFD_INIT, BFD_F, tx=IV_1S) + BFD_RUN
          + bfd_synth(BFD_UP, BFD_F) + BFD_RUN + BFD_FORMAT)
    write(corpus, t, 'expiry', bfd_head() + bfd_handshake()
          + bfd_advance(14) + BFD_RUN + bfd_advance(1) + BFD_RUN
          + BFD_FORMAT)
    write(corpus, t, 'stale-queue', bfd_head() + bfd_handshake()
          + bfd_advance(10000) + bfd_synth(BFD_UP) * 5
          + bfd_synth(BFD_DOWN, your=YOUR_ZERO) * 2 + BFD_RUN + BFD_FORMAT)
    write(corpus, t, 'poll-final', bfd_head() + bfd_handshake()
          + bfd_synth(BFD_UP, BFD_P, tx=IV_20MS, rx=IV_20MS) + BFD_RUN
          + bfd_advance(15) + BFD_RUN
          + bfd_synth(BFD_UP, BFD_F, tx=IV_20MS, rx=IV_20MS) + BFD_RUN)
    flaps = b''
    for i in range(5):
        flaps += (bfd_synth(BFD_DOWN) + BFD_RUN + bfd_advance(10)
                  + bfd_synth(BFD_DOWN) + bfd_synth(BFD_INIT) + BFD_RUN
                  + bfd_advance(100 << i) + BFD_RUN
                  + bfd_synth(BFD_DOWN) + bfd_synth(BFD_UP) + BFD_RUN)
    write(corpus, t, 'flaps', bfd_head(damp_decay=20) + bfd_handshake()
          + flaps + BFD_FORMAT)
    bad = [bfd_frame(ttl=64), bfd_frame(vlan=True), bfd_frame(bad_csum=True),
           bfd_frame(udp_dst=3785), bfd_frame(length=23),
           bfd_frame(length=40), bfd_frame(mult=0), bfd_frame(flags=0x04),
           bfd_frame(flags=0x01), bfd_frame(my_disc=0),
           bfd_frame(state=BFD_UP), bfd_frame(frag=0x2000),
           bfd_frame()[:50], bfd_frame(diag=31, flags=0x3a, your_disc=7)]
    write(corpus, t, 'malformed', bfd_head()
          + b''.join(bfd_raw(f) for f in bad) + BFD_RUN)
    write(corpus, t, 'huge', bfd_head(mult=255, clock=1, flags=2)
          + bfd_handshake(tx=IV_MAX)
          + bfd_synth(BFD_UP, tx=IV_MAX, rx=IV_MAX, mult=255) + BFD_RUN
          + bfd_advance(200000) * 3 + BFD_RUN + BFD_FORMAT)
    write(corpus, t, 'low-clock-mult-1', bfd_head(tx=0, rx=0, mult=1,
                                                  clock=2)
          + bfd_handshake(tx=IV_1MS) + bfd_advance(3) + BFD_RUN
          + BFD_FORMAT)
    write(corpus, t, 'rx-zero-demand', bfd_head() + bfd_handshake()
          + bfd_synth(BFD_UP, rx=IV_0) + BFD_RUN + bfd_advance(5)
          + bfd_synth(BFD_UP, BFD_D) + BFD_RUN
          + bfd_synth(BFD_UP, BFD_D | BFD_P) + BFD_RUN
          + bfd_synth(BFD_ADMIN_DOWN, your=YOUR_ZERO) + BFD_RUN)
    write(corpus, t, 'wrong-your-disc', bfd_head() + bfd_handshake()
          + bfd_synth(BFD_DOWN, your=YOUR_NOT_MINE) * 3
          + bfd_synth(BFD_UP, my=MY_OTHER) + bfd_advance(15) + BFD_RUN)
    write(corpus, t, 'flipped', bfd_head() + bfd_handshake()
          + bfd_synth(BFD_UP, pos=0x80 | 22, flip=0x01)
          + bfd_synth(BFD_UP, pos=42, flip=0x20)
          + bfd_synth(BFD_UP, pos=45, flip=0x10) + BFD_RUN)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here,
                                                                'corpus')
    service_seeds(corpus)
    ctlsock_seeds(corpus)
    reconcile_seeds(corpus)
    agentproto_seeds(corpus)
    replrx_seeds(corpus)
    bfd_seeds(corpus)


if __name__ == '__main__':
    main()
