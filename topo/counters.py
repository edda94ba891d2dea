"""The per-stream check of the `counter` service for topo/scenario.py:
did any stream lose a state update?

With --function counter every agent counts the packets (and bytes) of
every stream, per direction, and every packet is a state change that is
replicated between the bucket's primary and secondary.  Once the traffic
has stopped and the controller and replication have come to rest, the
counts of each stream at each service can be checked against each other
and against what its ends sent and received:

  (a) the bucket's primary and secondary hold the same record;
  (b) along the chain, in each direction: a packet counted by a later
      service was counted by the earlier one first (forward, client to
      server: count(svc1) >= count(svc2); return: the other way round),
      and a service's count is at least what the receiving end got.  A
      count below such a bound is a lost increment: a packet the service
      passed whose update the stream's state no longer holds.

The bound for a service in a direction is the largest count known
downstream of it: the receiving end's (exact for the counted UDP echo
streams and the one-way UDP stream, unknown for TCP, whose segments no end
counts) and the counts of the services after it.  The primary's record is
the one checked (the switch sends the bucket's packets to it); the
secondary's must equal it.

  read_streams()   what an agent's `sfmesh-ctl -t AGENT.ctl streams` shows
  controller_rest() waits for the controller: switches in sync, no handoff
                   in progress or pending, the maps unchanged for a while
  settle()         reads every agent until the records of the checked
                   streams at their primaries and secondaries stop changing
  check()          the checks, per stream and service
  table_rows()     the report's lines
"""

import ipaddress
import os
import re
import subprocess
import time

import elastic

# One line of `streams` with the counter service:
#   proto 17 10.0.0.1:52000 10.0.0.2:5003 bucket 17: packets_lo_hi=5 ...
STREAM_LINE = re.compile(
    r'^proto (\d+) ([\d.]+):(\d+) ([\d.]+):(\d+) bucket (\d+): '
    r'packets_lo_hi=(\d+) packets_hi_lo=(\d+) bytes_lo_hi=(\d+) '
    r'bytes_hi_lo=(\d+)\s*$')


def stream_key(proto, src, sport, dst, dport):
    """The agent's normalized key of a stream ((proto, lo address, lo port,
    hi address, hi port), as streamtab_key_init() orders it) and whether
    src -> dst is its lo -> hi direction."""
    s, d = int(ipaddress.IPv4Address(src)), int(ipaddress.IPv4Address(dst))
    lo_to_hi = s < d or (s == d and sport <= dport)
    if lo_to_hi:
        return (proto, src, sport, dst, dport), True
    return (proto, dst, dport, src, sport), False


def parse_streams(text):
    """{key: {'bucket', 'packets': [lo->hi, hi->lo], 'bytes': [...]}} of
    an agent's `streams` output (counter service)."""
    out = {}
    for line in text.splitlines():
        m = STREAM_LINE.match(line)
        if not m:
            continue
        g = m.groups()
        key = (int(g[0]), g[1], int(g[2]), g[3], int(g[4]))
        out[key] = {'bucket': int(g[5]),
                    'packets': [int(g[6]), int(g[7])],
                    'bytes': [int(g[8]), int(g[9])]}
    return out


def read_streams(tb, name):
    """The streams of instance 'name''s agent, or None if it does not
    answer (killed, or gone)."""
    if name not in tb.agent_pids:
        return None
    try:
        r = subprocess.run([os.path.join(tb.bin, 'sfmesh-ctl'), '-t',
                            tb.agent_ctl(name), 'streams'],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0:
        return None
    return parse_streams(r.stdout)


def controller_rest(tb, timeout=20.0, quiet=1.0):
    """Waits until every switch is in sync, no handoff is in progress or
    pending, and the maps have stayed the same for 'quiet' seconds, at
    most 'timeout' seconds.  Returns (at rest, seconds waited)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last, since = None, None
    while time.monotonic() < deadline:
        busy = not tb.switches_in_sync()
        if not busy:
            hs = elastic.parse_handoffs(tb.ctl('handoffs', check=False))
            busy = any((h.get('in_progress') or 0) + (h.get('pending') or 0)
                       for h in hs.values())
        maps = None if busy else {s: tb.ctl('map', s, check=False)
                                  for s in tb.topo.service_names()}
        now = time.monotonic()
        if maps is None or maps != last:
            last, since = maps, now
        elif now - since >= quiet:
            return True, round(now - t0, 2)
        time.sleep(0.1)
    return False, round(time.monotonic() - t0, 2)


def maps_now(tb):
    return {s: tb.map_table(s) for s in tb.topo.service_names()}


def holders(maps, svc, bucket):
    """(primary, secondary or None) of 'bucket' of 'svc'."""
    p, s = maps[svc].get(bucket, (None, None))
    return p, (s if s not in (None, '-', p) else None)


def snapshot(tb, names):
    return {n: read_streams(tb, n) for n in names}


def view(snap, maps, streams):
    """What the check looks at in 'snap': per stream and service the
    primary's and the secondary's records."""
    out = []
    for s in streams:
        row = []
        for svc in maps:
            p, q = holders(maps, svc, s['bucket'])
            row.append(tuple(_rec(snap.get(x), s['key']) for x in (p, q)))
        out.append(tuple(row))
    return out


def _rec(table, key):
    if table is None:
        return None
    r = table.get(key)
    return None if r is None else (tuple(r['packets']) + tuple(r['bytes']))


def settle(tb, streams, timeout=10.0, interval=0.3, stable=2):
    """Reads every agent until the records of 'streams' at their buckets'
    primaries and secondaries (the maps read once the controller is at
    rest) have not changed for 'stable' reads in a row, 'interval'
    seconds apart, at most 'timeout' seconds.  Returns (maps, snapshot,
    settled, seconds)."""
    t0 = time.monotonic()
    maps = maps_now(tb)
    names = sorted(tb.agent_pids)
    snap = snapshot(tb, names)
    prev, same = view(snap, maps, streams), 0
    while time.monotonic() - t0 < timeout:
        time.sleep(interval)
        maps2 = maps_now(tb)
        snap = snapshot(tb, names)
        cur = view(snap, maps2, streams)
        if maps2 == maps and cur == prev:
            same += 1
            if same >= stable:
                return maps, snap, True, round(time.monotonic() - t0, 2)
        else:
            same = 0
        maps, prev = maps2, cur
    return maps, snap, False, round(time.monotonic() - t0, 2)


def check(streams, chain, maps, snap, replication, victim=None, vsvc=None,
          settled=True):
    """The checks of 'streams' (each a dict: kind, label, key, fwd_lo_hi,
    bucket, and the ends' counts where known: sent, server_received,
    server_echoed, client_received) at the services of 'chain' (in chain
    order) with the maps and agents' records at rest.  Returns the
    result's 'counters' section."""
    per = []
    for s in streams:
        fdir = 0 if s['fwd_lo_hi'] else 1     # index of the forward counts
        rdir = 1 - fdir
        svcs = {}
        for svc in chain:
            p, q = holders(maps, svc, s['bucket'])
            pr = snap.get(p, {}) or {}
            qr = (snap.get(q) or {}) if q else None
            prec, qrec = pr.get(s['key']), (qr.get(s['key'])
                                            if qr is not None else None)
            pk = prec['packets'] if prec else [0, 0]
            svcs[svc] = {
                'primary': p, 'secondary': q,
                'forward': pk[fdir], 'return': pk[rdir],
                'primary_record': prec, 'secondary_record': qrec,
                'primary_missing': prec is None,
                'secondary_missing': q is not None and qrec is None,
                'others': sorted(n for n, t in snap.items()
                                 if t and n not in (p, q)
                                 and s['key'] in t),
            }
        # Forward: the client sends, chain[0] first, the server receives.
        lost = {svc: [0, 0] for svc in chain}
        lb = s.get('server_received') or 0
        for svc in reversed(chain):
            c = svcs[svc]['forward']
            lost[svc][0] = max(0, lb - c)
            lb = max(lb, c)
        # Return: the server sends, chain[-1] first, the client receives.
        lb = s.get('client_received') or 0
        for svc in chain:
            c = svcs[svc]['return']
            lost[svc][1] = max(0, lb - c)
            lb = max(lb, c)
        # Counted more than was sent into the chain: impossible unless a
        # count is applied twice (a warning, not part of the check).
        over = 0
        if s.get('sent') is not None:
            over += max(0, svcs[chain[0]]['forward'] - s['sent'])
        if s.get('server_echoed') is not None:
            over += max(0, svcs[chain[-1]]['return'] - s['server_echoed'])
        disagree = []
        if replication != 'off':
            for svc in chain:
                v = svcs[svc]
                if v['secondary'] is None:
                    continue
                a, b = v['primary_record'], v['secondary_record']
                if (a or None) != (b or None):
                    disagree.append(svc)
        for svc in chain:
            svcs[svc]['lost'] = lost[svc]
        total = sum(sum(v) for v in lost.values())
        rec = {k: s.get(k) for k in ('kind', 'label', 'bucket', 'sent',
                                     'server_received', 'server_echoed',
                                     'client_received')}
        rec.update({
            'key': list(s['key']), 'services': svcs, 'lost': total,
            'overcounted': over, 'disagree': disagree,
            'via_victim': (s.get('paths', {}).get(vsvc) == victim
                           if victim and vsvc else None),
        })
        per.append(rec)
    lossy = [r for r in per if r['lost']]
    worst = max(per, key=lambda r: r['lost']) if per else None
    kinds = {}
    for r in per:
        k = kinds.setdefault(r['kind'], {'checked': 0, 'lost': 0})
        k['checked'] += 1
        k['lost'] += bool(r['lost'])
    return {
        'checked': len(per), 'kinds': kinds,
        'with_lost_increments': len(lossy),
        'lost_increments_total': sum(r['lost'] for r in per),
        'worst_loss': worst['lost'] if worst else 0,
        'worst_stream': worst['label'] if worst and worst['lost'] else None,
        'disagree': sum(1 for r in per if r['disagree']),
        'overcounted': sum(1 for r in per if r['overcounted']),
        'primary_missing': sum(1 for r in per for v in r['services'].values()
                               if v['primary_missing']),
        'via_victim': sum(1 for r in per if r['via_victim']),
        'lossy_via_victim': sum(1 for r in lossy if r['via_victim']),
        'replication': replication, 'settled': settled, 'chain': chain,
        'ok': not lossy and (replication == 'off'
                             or not any(r['disagree'] for r in per)),
        'streams': per,
    }


def lost_detail(r, chain):
    """'dlp 27 forward, 15 return' of one stream's record."""
    parts = []
    for svc in chain:
        f, b = r['services'][svc]['lost']
        if f or b:
            parts.append('%s %s' % (svc, ', '.join(
                x for x in ('%d forward' % f if f else '',
                            '%d return' % b if b else '') if x)))
    return '; '.join(parts)


def stream_lines(c):
    """One line per stream that lost increments or whose primary and
    secondary disagree (or that was counted more often than sent)."""
    out = []
    chain = c['chain']
    for r in c['streams']:
        if not (r['lost'] or r['disagree'] or r['overcounted']):
            continue
        where = ', '.join('%s %s/%s' % (svc, r['services'][svc]['primary'],
                                        r['services'][svc]['secondary']
                                        or '-') for svc in chain)
        what = []
        if r['lost']:
            what.append('lost %d: %s' % (r['lost'], lost_detail(r, chain)))
        for svc in r['disagree']:
            v = r['services'][svc]
            what.append('%s: primary %s, secondary %s' % (
                svc, _fmt_rec(v['primary_record']),
                _fmt_rec(v['secondary_record'])))
        if r['overcounted']:
            what.append('counted %d more than sent' % r['overcounted'])
        out.append('%s %s (bucket %d; %s): %s' % (
            'lost increments:' if r['lost'] else 'disagreement:',
            r['label'], r['bucket'], where, '; '.join(what)))
    return out


def _fmt_rec(rec):
    if rec is None:
        return 'none'
    return 'packets %d/%d bytes %d/%d (lo->hi/hi->lo)' % tuple(
        rec['packets'] + rec['bytes'])


def table_rows(c):
    """[(label, value)] of the counters section, for the report."""
    chain = c['chain']
    kinds = ', '.join('%d %s' % (v['checked'], k)
                      for k, v in sorted(c['kinds'].items()))
    rows = [('counted streams', '%d (%s)%s' % (
        c['checked'], kinds,
        ', %d via the instance' % c['via_victim']
        if c['via_victim'] is not None else ''))]
    worst = next((r for r in c['streams'] if r['lost'] == c['worst_loss']
                  and r['lost']), None)
    rows.append(('  with lost increments', '%d%s' % (
        c['with_lost_increments'],
        ' (%d via the instance; %d increments in all)' % (
            c['lossy_via_victim'], c['lost_increments_total'])
        if c['with_lost_increments'] else '')))
    rows.append(('  worst loss', '%d%s' % (
        c['worst_loss'], ' (%s: %s)' % (worst['label'], lost_detail(
            worst, chain)) if worst else '')))
    rows.append(('  primary/secondary disagree', 'n/a (replication off)'
                 if c['replication'] == 'off' else '%d' % c['disagree']))
    if c['overcounted']:
        rows.append(('  counted more than sent', '%d' % c['overcounted']))
    if c['primary_missing']:
        rows.append(('  missing at a primary', '%d' % c['primary_missing']))
    rows.append(('  at rest', 'controller %s, counters %s' % (
        'in %.1f s' % c['controller_rest_s'] if c.get('controller_rest')
        else 'NOT at rest after %.1f s' % c.get('controller_rest_s', 0),
        'settled in %.1f s' % c['settle_s'] if c['settled']
        else 'NOT settled after %.1f s' % c['settle_s'])))
    return rows
