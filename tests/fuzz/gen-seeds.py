#!/usr/bin/env python3
# Copyright (c) 2026 The sfmesh authors.
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of fuzz-service, fuzz-ctlsock and fuzz-reconcile
into tests/fuzz/corpus/ (the input layouts are described at the top of each
target).

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


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here,
                                                                'corpus')
    service_seeds(corpus)
    ctlsock_seeds(corpus)


if __name__ == '__main__':
    main()
