"""Writes an sfmesh configuration for the programming benchmark: one switch,
SERVICES services of INSTANCES instances each (ports sN-M), one chain
client -> s1 -> ... -> sSERVICES -> server, BUCKETS buckets.  Handoffs
are immediate and unthrottled, so that an instance that comes back gets its
buckets back at once and every repair round starts from the same map.

  gen-config.py SERVICES INSTANCES BUCKETS"""
import sys

n_svc, n_inst, buckets = (int(a) for a in sys.argv[1:4])
print('version: 1\nbuckets: %d\nhandoff: {mode: immediate, rate: 100000, max_in_progress: 65536}\n'
      'switches:\n  sw1: {dpid: 1}\nservices:' % buckets)
for s in range(1, n_svc + 1):
    print('  s%d:\n    instances:' % s)
    for i in range(1, n_inst + 1):
        print('      s%d-%d: {switch: sw1, port: s%d-%d, mac: "02:00:00:00:%02x:%02x"}'
              % (s, i, s, i, s, i))
print('chains:\n  c1:\n    spi: 100\n    ingress: {switch: sw1, port: client}\n'
      '    egress: {switch: sw1, port: server}\n    services: [%s]'
      % ', '.join('s%d' % s for s in range(1, n_svc + 1)))
