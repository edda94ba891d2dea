"""sfmesh benchmarks: turns raw measurements into JSON.

  analyze.py trial REC.bin "sent N seconds S" T_FAIL VARIANT ROUND VICTIM \
      [KEY=NUMBER...]
  analyze.py failover TRIALS.jsonl RATE REACTIVE_LOG
  analyze.py fabric TRIALS.jsonl RATE LINK
  analyze.py handoff-trial REC.bin "sent N seconds S" TCP.json MOVED_PORTS \
      POLLS F0 REPLICATION MODE TRIAL T_HUP T_UP T_CONV MOVED UBUCKET \
      UDP_BEFORE UDP_AFTER
  analyze.py handoff TRIALS.jsonl RATE
  analyze.py multihost-trial REC.bin "sent N seconds S" T_FAIL VARIANT ROUND \
      WINDOW_S TCP.json TRIAL_DIR LOG_FROM [KEY=VALUE...]
  analyze.py multihost TRIALS.jsonl RATE WINDOW_S CUT_S
  analyze.py ha-trial REC.bin "sent N seconds S" T_FAIL VARIANT ROUND \
      WINDOW_S TCP.json [KEY=VALUE...]
  analyze.py ha TRIALS.jsonl RATE WINDOW_S
"""
import re
import json
import os
import statistics
import struct
import sys


def pct(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def trial(rec, sent_line, t_fail, variant, rnd, victim, *extra):
    print(json.dumps(trial_row(rec, sent_line, t_fail, variant, rnd, victim,
                               *extra)))


def trial_row(rec, sent_line, t_fail, variant, rnd, victim, *extra,
              window_s=2.0):
    """The row of one failover trial (see trial); the gap is looked for in
    the intervals that start less than window_s after the failure."""
    parts = sent_line.split()
    sent, secs = int(parts[1]), float(parts[3])
    data = open(rec, 'rb').read()
    recs = sorted(set(struct.iter_unpack('=QQQ', data)))
    t_fail_ns = int(float(t_fail) * 1e9)
    seqs = set(r[0] for r in recs)
    # The gap: the longest interval, in send time, between consecutive
    # received sequence numbers (what the receiver misses), around the
    # failure: intervals that end after it and start less than window_s
    # (2 s) after it.  Also the longest gap in arrival time (delays
    # included), and the longest send-time gap before the failure (the
    # noise floor).
    gap = arr_gap = noise = 0
    gap_start = None
    for i in range(1, len(recs)):
        d = recs[i][1] - recs[i - 1][1]
        if recs[i][1] >= t_fail_ns and \
                recs[i - 1][1] < t_fail_ns + window_s * 1e9:
            if d > gap:
                gap, gap_start = d, recs[i - 1][1]
        elif recs[i][1] < t_fail_ns:
            noise = max(noise, d)
    arr = sorted(r[2] for r in recs)
    for i in range(1, len(arr)):
        if arr[i] >= t_fail_ns and arr[i - 1] < t_fail_ns + window_s * 1e9:
            arr_gap = max(arr_gap, arr[i] - arr[i - 1])
    row = {
        'variant': variant, 'round': int(rnd), 'victim': victim,
        'sent': sent, 'send_seconds': secs,
        'rate_pps': round(sent / secs) if secs else 0,
        'received': len(seqs), 'lost': sent - len(seqs),
        'gap_ms': round(gap / 1e6, 3),
        'arrival_gap_ms': round(arr_gap / 1e6, 3),
        'gap_start_after_fail_ms': (round((gap_start - t_fail_ns) / 1e6, 3)
                                    if gap_start is not None else None),
        'pre_failure_max_gap_ms': round(noise / 1e6, 3),
    }
    # Extra KEY=NUMBER fields, as the part recorded them.
    for kv in extra:
        k, val = kv.split('=', 1)
        row[k] = int(val)
    return row


NAMES = {
    'a': 'static FF groups, no controller, link down (datapath floor)',
    'b': 'sfmesh, link down',
    'c': 'sfmesh, agent SIGKILL',
    'd': 'sfmesh, agent SIGSTOP',
    'e': 'BASELINE reactive controller, no groups, link down',
    'f': 'sfmesh, agent SIGKILL, controller stopped',
    'g': 'sfmesh, agent SIGSTOP, controller stopped',
    'h': 'sfmesh, agent and its sentinel SIGKILL',
}


def failover(path, rate, reactive_log):
    trials = [json.loads(l) for l in open(path) if l.strip()]
    out = {'rate_target_pps': int(rate), 'variants': {}, 'trials': trials}
    for v in sorted(set(t['variant'] for t in trials)):
        ts = [t for t in trials if t['variant'] == v]
        gaps = [t['gap_ms'] for t in ts]
        lost = [t['lost'] for t in ts]
        out['variants'][v] = {
            'name': NAMES.get(v, v), 'trials': len(ts),
            'gap_ms_p50': statistics.median(gaps), 'gap_ms_p95': pct(gaps, 95),
            'lost_p50': statistics.median(lost), 'lost_p95': pct(lost, 95),
            'arrival_gap_ms_p50': statistics.median(
                t['arrival_gap_ms'] for t in ts),
            'rate_pps_p50': statistics.median(t['rate_pps'] for t in ts),
            'rate_pps_min': min(t['rate_pps'] for t in ts),
            'pre_failure_max_gap_ms_p50': statistics.median(
                t['pre_failure_max_gap_ms'] for t in ts),
        }
    v = out['variants']
    ratios = {}
    for num, den in (('b', 'a'), ('c', 'a'), ('c', 'e'), ('b', 'e'),
                     ('d', 'a'), ('f', 'a'), ('g', 'a'), ('h', 'a'),
                     ('c', 'h')):
        if num in v and den in v and v[den]['gap_ms_p50'] > 0:
            ratios['%s/%s' % (num, den)] = {
                'gap_p50': round(v[num]['gap_ms_p50'] / v[den]['gap_ms_p50'], 2),
                'lost_p50': (round(v[num]['lost_p50'] / v[den]['lost_p50'], 2)
                             if v[den]['lost_p50'] else None),
            }
    out['ratios'] = ratios
    flow_mods = []
    try:
        for line in open(reactive_log):
            if ' down: ' in line:
                flow_mods.append(int(line.split(': ')[1].split()[0]))
    except OSError:
        pass
    out['baseline_flow_mods_per_failover'] = (statistics.median(flow_mods)
                                              if flow_mods else None)
    print(json.dumps(out, indent=1))


FABRIC_NAMES = {
    'x': 'primary on the ingress switch fails: its group fails over there',
    'y': 'primary on the remote switch fails: sent back over the link',
}


def fabric(path, rate, link):
    trials = [json.loads(l) for l in open(path) if l.strip()]
    out = {'rate_target_pps': int(rate), 'link': link, 'variants': {},
           'trials': trials}
    for v in sorted(set(t['variant'] for t in trials)):
        ts = [t for t in trials if t['variant'] == v]
        gaps = [t['gap_ms'] for t in ts]
        lost = [t['lost'] for t in ts]
        back = [t['link_back_pkts'] for t in ts]
        out['variants'][v] = {
            'name': FABRIC_NAMES.get(v, v), 'trials': len(ts),
            'victim': ts[0]['victim'],
            'gap_ms_p50': statistics.median(gaps), 'gap_ms_p90': pct(gaps, 90),
            'lost_p50': statistics.median(lost), 'lost_p90': pct(lost, 90),
            'arrival_gap_ms_p50': statistics.median(
                t['arrival_gap_ms'] for t in ts),
            'link_back_pkts_p50': statistics.median(back),
            'rate_pps_p50': statistics.median(t['rate_pps'] for t in ts),
            'rate_pps_min': min(t['rate_pps'] for t in ts),
            'pre_failure_max_gap_ms_p50': statistics.median(
                t['pre_failure_max_gap_ms'] for t in ts),
        }
    v = out['variants']
    if 'x' in v and 'y' in v:
        x, y = v['x'], v['y']
        out['ratio_y_x'] = {
            'gap_p50': (round(y['gap_ms_p50'] / x['gap_ms_p50'], 2)
                        if x['gap_ms_p50'] else None),
            'lost_p50': (round(y['lost_p50'] / x['lost_p50'], 2)
                         if x['lost_p50'] else None),
        }
    print(json.dumps(out, indent=1))


def program(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    out = {'services': 4, 'instances_per_service': 3, 'runs': rows,
           'sizes': []}
    for b in sorted({r['buckets'] for r in rows}):
        rs = [r for r in rows if r['buckets'] == b]
        size = {'buckets': b}
        for r in rs:
            if r['method'] == 'display':
                size.update(flows=r['flows'], groups=r['groups'],
                            ctl_flows_s=r['ctl_flows_s'],
                            diff_flows_clean=r['diff_flows_clean'])
            elif r['method'] == 'memory':
                size['controller_peak_rss_kb'] = r['controller_peak_rss_kb']
        # 'repair' is one victim, 'repair2' two at once.
        for r in rs:
            if r['method'] == 'repair' and r.get('victims', 1) == 2:
                r['method'] = 'repair2'
        for m in ('sfmesh', 'ovs-ofctl', 'repair', 'repair2'):
            secs = [r['seconds'] for r in rs if r['method'] == m]
            if secs:
                size[m + '_s_p50'] = statistics.median(secs)
                size[m + '_trials'] = len(secs)
        for m, key in (('sfmesh', 'connect_to_bundle_sent_s'),
                       ('repair', 'down_to_bundle_sent_s'),
                       ('repair', 'down_to_barrier_s'),
                       ('repair', 'changes'),
                       ('repair2', 'down_to_barrier_s'),
                       ('repair2', 'changes')):
            vals = [r[key] for r in rs if r['method'] == m and key in r]
            if vals:
                size['%s_%s_p50' % (m, key)] = statistics.median(vals)
        for m in ('repair', 'repair2'):
            per = [r['down_to_barrier_s'] / r['changes'] * 1e6 for r in rs
                   if r['method'] == m and r.get('changes')]
            if per:
                size[m + '_us_per_change_p50'] = round(
                    statistics.median(per), 1)
        if size.get('ovs-ofctl_s_p50'):
            size['ratio_sfmesh_to_ofctl'] = round(
                size['sfmesh_s_p50'] / size['ovs-ofctl_s_p50'], 2)
        out['sizes'].append(size)
    print(json.dumps(out, indent=1))


def state(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    out = {'runs': rows, 'modes': {}}
    for m in ('async', 'sync', 'off'):
        rs = [r for r in rows if r['replication'] == m]
        if not rs:
            continue
        frac = [r['survived'] / r['n'] for r in rs]
        aff = [(r['survived'] - (r['n'] - r['affected'])) / r['affected']
               for r in rs if r['affected']]
        out['modes'][m] = {
            'trials': len(rs), 'connections': rs[0]['n'],
            'survived_fraction_p50': statistics.median(frac),
            'survived_fraction_min': min(frac),
            'affected_p50': statistics.median(r['affected'] for r in rs),
            'affected_survived_fraction_p50': (statistics.median(aff)
                                               if aff else None),
            'max_gap_ms_p50': statistics.median(r['max_gap_ms'] for r in rs),
        }
    print(json.dumps(out, indent=1))


REPL_MODES = ('off', 'async', 'sync', 'async-tls', 'sync-tls')


def repl(path):
    """Per mode medians over the trials, ratios to off, and each TLS mode
    (async-tls, sync-tls: agent channel and replication over TLS) against
    its plaintext mode of the same run; the lines with "check" say what
    each set-up's channels ran."""
    lines = [json.loads(l) for l in open(path) if l.strip()]
    rows = [r for r in lines if 'check' not in r]
    out = {'runs': rows, 'modes': {},
           'checks': [dict(r['check'], replication=r['replication'],
                           round=r['round']) for r in lines if 'check' in r]}
    for m in REPL_MODES:
        rs = [r for r in rows if r['replication'] == m]
        if rs:
            out['modes'][m] = {
                'trials': len(rs),
                'tcp_mbit_s_p50': statistics.median(r['tcp_mbit_s'] for r in rs),
                'tcp_mbit_s_min': min(r['tcp_mbit_s'] for r in rs),
                'tcp_mbit_s_max': max(r['tcp_mbit_s'] for r in rs),
                'rtt_us_p50': statistics.median(r['rtt_us_p50'] for r in rs),
                'rtt_us_p50_min': min(r['rtt_us_p50'] for r in rs),
                'rtt_us_p50_max': max(r['rtt_us_p50'] for r in rs),
                'rtt_us_p99': statistics.median(r['rtt_us_p99'] for r in rs),
                'rtt_us_p99_min': min(r['rtt_us_p99'] for r in rs),
                'rtt_us_p99_max': max(r['rtt_us_p99'] for r in rs),
            }

    def ratios(v, base):
        return {'tcp': round(v['tcp_mbit_s_p50'] / base['tcp_mbit_s_p50'], 2),
                'rtt_p50': round(v['rtt_us_p50'] / base['rtt_us_p50'], 2),
                'rtt_p99': round(v['rtt_us_p99'] / base['rtt_us_p99'], 2)}
    base = out['modes'].get('off')
    if base:
        for m, v in out['modes'].items():
            r = ratios(v, base)
            v['tcp_ratio_to_off'] = r['tcp']
            v['rtt_p50_ratio_to_off'] = r['rtt_p50']
            v['rtt_p99_ratio_to_off'] = r['rtt_p99']
    # TLS against plaintext: the ratio of the medians, and whether the TLS
    # median lies outside the plaintext mode's min-max over its trials (if
    # not, the difference is within the spread between trials).
    out['tls_vs_plain'] = {}
    for m in ('async', 'sync'):
        v, p = out['modes'].get(m + '-tls'), out['modes'].get(m)
        if not (v and p):
            continue
        r = ratios(v, p)
        r['outside_spread'] = {
            k: not (p[k + '_min'] <= v[med] <= p[k + '_max'])
            for k, med in (('tcp_mbit_s', 'tcp_mbit_s_p50'),
                           ('rtt_us_p50', 'rtt_us_p50'),
                           ('rtt_us_p99', 'rtt_us_p99'))}
        r['tls_verified'] = all(
            c['agent_channels_ssl'] == 5 and c['agent_channels_tcp'] == 0
            and c['repl_up'] > 0 and c['repl_down'] == 0
            and c['repl_listener_tls_cn']
            for c in out['checks'] if c['replication'] == m + '-tls') \
            and any(c['replication'] == m + '-tls' for c in out['checks'])
        r['plain_verified'] = all(
            c['agent_channels_ssl'] == 0 and c['agent_channels_tcp'] == 5
            and c['repl_up'] > 0 and c['repl_down'] == 0
            and not c['repl_listener_tls_cn']
            for c in out['checks'] if c['replication'] == m) \
            and any(c['replication'] == m for c in out['checks'])
        # Per round: each TLS set-up runs right after its plaintext one, so
        # the ratio within a round is the paired comparison; its range over
        # the rounds is the noise on the ratio itself.
        per = []
        for rnd in sorted(set(x['round'] for x in rows)):
            a = [x for x in rows if x['replication'] == m + '-tls'
                 and x['round'] == rnd]
            b = [x for x in rows if x['replication'] == m
                 and x['round'] == rnd]
            if not (a and b):
                continue
            med = statistics.median
            per.append({'round': rnd, **{
                k: round(med(x[f] for x in a) / med(x[f] for x in b), 2)
                for k, f in (('tcp', 'tcp_mbit_s'), ('rtt_p50', 'rtt_us_p50'),
                             ('rtt_p99', 'rtt_us_p99'))}})
        r['per_round'] = per
        out['tls_vs_plain'][m] = r
    print(json.dumps(out, indent=1))


HANDOFF_LINE = re.compile(
    r'^\s+(\d+)\s+(\S+) -> (\S+) (warming|done|abandoned)\s+(\S+)(?: \S+)? '
    r'(primary \(immediate\)|primary|secondary): (.*)$')
HANDOFF_HEAD = re.compile(
    r'done (\d+), abandoned (\d+), pending \d+, secondaries moved (\d+), '
    r'immediate (\d+)')


def handoff_moves(polls, f0):
    """The moves that finished during the polls, from successive outputs of
    "sfmesh-ctl handoffs SERVICE" (each after a "== TIME" line).  The
    history shows the latest moves only, newest first, and the counters
    say how many finished in all: the first (counters - previous counters)
    finished lines of each poll are new.  Returns (moves, missed)."""
    blocks, cur = [], None
    for line in open(polls):
        if line.startswith('== '):
            cur = []
            blocks.append(cur)
        elif cur is not None:
            cur.append(line.rstrip('\n'))
    prev, moves, missed = int(f0), [], 0
    for b in blocks:
        m = HANDOFF_HEAD.search(b[0]) if b else None
        if not m:
            continue
        total = sum(int(x) for x in m.groups())
        fin = []
        for line in b[1:]:
            mm = HANDOFF_LINE.match(line)
            if mm and mm.group(4) != 'warming':
                fin.append({'bucket': int(mm.group(1)), 'from': mm.group(2),
                            'to': mm.group(3), 'phase': mm.group(4),
                            'ms': int(mm.group(5)), 'kind': mm.group(6),
                            'why': mm.group(7)})
        new = total - prev
        moves.extend(fin[:new])
        missed += max(0, new - len(fin))
        prev = total
    return moves, missed


LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\|\d+\|(\w+)\|(\w+)\|(.*)$')
DONE_LINE = re.compile(r'service dlp: bucket (\d+): primary handoff (\S+) -> '
                       r'(\S+) done in (\d+) ms')


def log_events(path, first_line):
    """(time, module, level, text) of the lines of the log 'path' after its
    first 'first_line' lines; time in seconds since the epoch."""
    import datetime
    out = []
    for i, line in enumerate(open(path, errors='replace')):
        if i < int(first_line):
            continue
        m = LOG_LINE.match(line.rstrip('\n'))
        if m:
            t = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%f')
            t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
            out.append((t, m.group(2), m.group(3), m.group(4)))
    return out


def counters(line):
    m = HANDOFF_HEAD.search(line)
    return [int(x) for x in m.groups()] if m else None


def handoff_trial(rec, sent_line, tcp_json, moved_ports, polls, h0, ctl_log,
                  log_from, repl, mode, rnd, t_hup, t_conv, moved, ubucket,
                  u_before, u_after):
    parts = sent_line.split()
    sent, secs = int(parts[1]), float(parts[3])
    recs = sorted(set(struct.iter_unpack('=QQQ', open(rec, 'rb').read())))
    hup = float(t_hup)
    # Convergence as the controller logged it: the last "every bucket at
    # its target" for dlp before the poll saw it (the poll is later by up
    # to its period and the time a sfmesh-ctl takes on a busy machine).
    ev = [e for e in log_events(ctl_log, log_from) if e[0] >= hup - 0.05]
    conv_log = [e[0] for e in ev if e[1] == 'handoff'
                and e[3].startswith('service dlp: every bucket at its target')
                and e[0] <= float(t_conv) + 0.01]
    t_done = conv_log[-1] if conv_log else float(t_conv)
    reload_t = [e[0] for e in ev if e[1] == 'controller'
                and e[3].startswith('configuration reloaded')]
    connect_t = [e[0] for e in ev if e[1] == 'agentsrv'
                 and 'agent of instance dlp-3 ' in e[3]
                 and e[3].endswith('connected') and e[0] <= t_done]
    hup_ns, end_ns = int(hup * 1e9), int((t_done + 0.5) * 1e9)
    # The gap: the longest interval, in send time, between consecutive
    # received packets, among those that end after the SIGHUP and start
    # before convergence + 0.5 s; the noise: the longest before the SIGHUP.
    gap = noise = arr_gap = 0
    for i in range(1, len(recs)):
        d = recs[i][1] - recs[i - 1][1]
        if recs[i][1] >= hup_ns and recs[i - 1][1] < end_ns:
            gap = max(gap, d)
        elif recs[i][1] < hup_ns:
            noise = max(noise, d)
    arr = sorted(r[2] for r in recs)
    for i in range(1, len(arr)):
        if arr[i] >= hup_ns and arr[i - 1] < end_ns:
            arr_gap = max(arr_gap, arr[i] - arr[i - 1])
    # Loss, before the SIGHUP, from it until convergence + 0.5 s, and after:
    # a missing sequence number is placed by the send times of the received
    # packets around it.
    by_seq = sorted((r[0], r[1]) for r in recs)
    lost_win = [0, 0, 0]

    def win(t_ns):
        return 0 if t_ns < hup_ns else 1 if t_ns < end_ns else 2
    if by_seq:
        lost_win[win(by_seq[0][1])] += by_seq[0][0]
        for (sa, ta), (sb, tb) in zip(by_seq, by_seq[1:]):
            for k in range(sa + 1, sb):
                lost_win[win(ta + (tb - ta) * (k - sa) / (sb - sa))] += 1
        lost_win[win(by_seq[-1][1])] += sent - 1 - by_seq[-1][0]
    received = len(set(r[0] for r in recs))
    conns = json.load(open(tcp_json))['conns']
    mv = set(int(l) for l in open(moved_ports) if l.strip())
    # Durations of the primary handoffs, from the log (every one of them);
    # the moves of every kind, counted by the counters of the first and
    # last "handoffs" output.
    dur = [int(DONE_LINE.search(e[3]).group(4)) for e in ev
           if e[1] == 'handoff' and DONE_LINE.search(e[3])
           and e[0] <= t_done + 0.01]
    heads = [l for l in open(polls) if l.startswith('service dlp:')]
    c0 = counters(open(h0).readline())
    c1 = counters(heads[-1]) if heads else c0
    delta = dict(zip(('done', 'abandoned', 'secondaries', 'immediate'),
                     (b - a for a, b in zip(c0, c1))))
    moves, missed = handoff_moves(polls, sum(c0))
    polled = [m['ms'] for m in moves
              if m['kind'] == 'primary' and m['phase'] == 'done']
    abandoned = [e[3] for e in ev if e[1] == 'handoff'
                 and re.search(r'handoff \S+ -> \S+ (abandoned|ended)', e[3])
                 and e[0] <= t_done + 0.01]
    row = {
        'replication': repl, 'mode': mode, 'trial': int(rnd),
        'sent': sent, 'send_seconds': secs,
        'rate_pps': round(sent / secs) if secs else 0,
        'received': received, 'lost': sent - received,
        'lost_before': lost_win[0], 'lost_during': lost_win[1],
        'lost_after': lost_win[2],
        'gap_ms': round(gap / 1e6, 3),
        'arrival_gap_ms': round(arr_gap / 1e6, 3),
        'pre_event_max_gap_ms': round(noise / 1e6, 3),
        'stream_covers_convergence': bool(recs) and recs[-1][1] >= end_ns,
        'udp_bucket': int(ubucket), 'udp_primary_before': u_before,
        'udp_primary_after': u_after,
        'udp_bucket_moved': u_after == 'dlp-3' and u_before != 'dlp-3',
        'tcp_n': len(conns),
        'tcp_survived': sum(c['survived'] for c in conns),
        'tcp_moved': sum(c['sport'] in mv for c in conns),
        'tcp_moved_survived': sum(c['survived'] for c in conns
                                  if c['sport'] in mv),
        'tcp_stayed_survived': sum(c['survived'] for c in conns
                                   if c['sport'] not in mv),
        'tcp_failed_ports': sorted(c['sport'] for c in conns
                                   if not c['survived']),
        'tcp_max_gap_ms': max(c['max_gap_ms'] for c in conns),
        'buckets_moved': int(moved),
        'reload_ms': (round((reload_t[0] - hup) * 1e3, 1)
                      if reload_t else None),
        'agent_connect_ms': (round((connect_t[0] - hup) * 1e3, 1)
                             if connect_t else None),
        'convergence_ms': round((t_done - hup) * 1e3, 1),
        'convergence_polled_ms': round((float(t_conv) - hup) * 1e3, 1),
        'moves': delta, 'primary_handoffs_logged': len(dur),
        'abandoned': abandoned,
        'polls': len(heads), 'polled_moves': len(moves),
        'polled_moves_missed': missed,
        'polled_handoff_ms_p50': (statistics.median(polled) if polled
                                  else None),
        'handoff_ms_p50': statistics.median(dur) if dur else None,
        'handoff_ms_p95': pct(dur, 95) if dur else None,
        'handoff_ms_max': max(dur) if dur else None,
        'handoff_ms': dur,
    }
    print(json.dumps(row))


HANDOFF_MODES = ('make-before-break', 'immediate')


def handoff(path, rate):
    trials = [json.loads(l) for l in open(path) if l.strip()]
    out = {'rate_target_pps': int(rate), 'replication': {}, 'trials': trials}
    for repl in sorted(set(t['replication'] for t in trials)):
        modes = {}
        for mode in HANDOFF_MODES:
            all_ts = [t for t in trials
                      if t['replication'] == repl and t['mode'] == mode]
            # A trial whose UDP stream's bucket did not move to dlp-3, or
            # whose stream ended before convergence, does not measure a
            # move: left out, and counted.
            ts = [t for t in all_ts if t['udp_bucket_moved']
                  and t['stream_covers_convergence']]
            if not ts:
                continue
            durs = [d for t in ts for d in t['handoff_ms']]

            def col(k):
                return [t[k] for t in ts]
            modes[mode] = {
                'trials': len(ts), 'trials_left_out': len(all_ts) - len(ts),
                'gap_ms_p50': statistics.median(col('gap_ms')),
                'gap_ms_max': max(col('gap_ms')),
                'lost_p50': statistics.median(col('lost')),
                'lost_max': max(col('lost')),
                'lost_during_p50': statistics.median(col('lost_during')),
                'lost_during_max': max(col('lost_during')),
                'lost_after_p50': statistics.median(col('lost_after')),
                'lost_before_p50': statistics.median(col('lost_before')),
                'pre_event_max_gap_ms_p50': statistics.median(
                    col('pre_event_max_gap_ms')),
                'rate_pps_p50': statistics.median(col('rate_pps')),
                'rate_pps_min': min(col('rate_pps')),
                'tcp_n': ts[0]['tcp_n'],
                'tcp_survived_p50': statistics.median(col('tcp_survived')),
                'tcp_survived_min': min(col('tcp_survived')),
                'tcp_moved_total': sum(col('tcp_moved')),
                'tcp_moved_survived_total': sum(col('tcp_moved_survived')),
                'tcp_stayed_total': sum(t['tcp_n'] - t['tcp_moved']
                                        for t in ts),
                'tcp_stayed_survived_total': sum(col('tcp_stayed_survived')),
                'buckets_moved_p50': statistics.median(col('buckets_moved')),
                'secondaries_moved_p50': statistics.median(
                    t['moves']['secondaries'] for t in ts),
                'convergence_ms_p50': statistics.median(col('convergence_ms')),
                'convergence_ms_max': max(col('convergence_ms')),
                'handoff_ms_p50': statistics.median(durs) if durs else None,
                'handoff_ms_p95': pct(durs, 95) if durs else None,
                'handoff_ms_max': max(durs) if durs else None,
                'handoffs_timed': len(durs),
                'abandoned': sum(t['moves']['abandoned'] for t in ts),
            }
        ratio = None
        a, b = modes.get('make-before-break'), modes.get('immediate')
        if a and b:
            def r(k):
                return round(a[k] / b[k], 2) if b[k] else None
            ratio = {'gap_p50': r('gap_ms_p50'), 'lost_p50': r('lost_p50'),
                     'lost_during_p50': r('lost_during_p50'),
                     'convergence_p50': r('convergence_ms_p50'),
                     'tcp_survived_p50': r('tcp_survived_p50')}
        out['replication'][repl] = {'modes': modes,
                                    'ratio_mbb_to_immediate': ratio}
    print(json.dumps(out, indent=1))

def megaflow(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    modes = {}
    for r in rows:
        modes.setdefault(r['classifier'], []).append(r)
    out = {'rows': rows, 'classifiers': sorted(modes)}
    for mode, rs in modes.items():
        rs.sort(key=lambda r: r['streams'])
        one = rs[0]['dp_flows']
        for r in rs:
            r['flows_per_stream'] = round(r['dp_flows'] / r['streams'], 3)
            r['flows_over_first'] = r['dp_flows'] - one
    json.dump(out, sys.stdout, indent=1)
    print()



MULTIHOST_NAMES = {
    'a': 'single-host link failure: the dlp primary\'s link down (baseline)',
    'b': 'host loss: its OVS and agents SIGKILL',
    'c': 'underlay cut: the host\'s underlay down, then back',
}


def ctl_hosts(path):
    """instance -> host, from "sfmesh-ctl hosts"."""
    host, h = {}, None
    for line in open(path):
        if line.startswith('host '):
            h = line.split()[1]
        elif line.startswith('  instance '):
            host[line.split()[1]] = h
    return host


def ctl_map(path):
    """bucket -> (primary, secondary), from "sfmesh-ctl map SERVICE"."""
    return {int(f[0]): (f[1], f[2]) for f in
            (l.split() for l in open(path))
            if len(f) == 3 and f[0].isdigit()}


def multihost_trial(rec, sent_line, t_fail, variant, rnd, window_s, tcp_json,
                    d, log_from, *extra):
    """One trial of part-multihost: the UDP stream's row (trial_row, the
    gap within window_s of the failure), the TCP connections by where
    their instances were (the maps and hosts saved in d before the
    failure), and when the controller's log saw what."""
    facts = dict(kv.split('=', 1) for kv in extra)
    row = trial_row(rec, sent_line, t_fail, variant, rnd,
                    facts['victim'], window_s=float(window_s))
    row['name'] = MULTIHOST_NAMES.get(variant, variant)
    # Loss before the failure, within window_s after it, and later: each
    # missing sequence number placed by the send times of the received
    # packets around it (as handoff_trial does).
    by_seq = sorted((r[0], r[1]) for r in
                    set(struct.iter_unpack('=QQQ', open(rec, 'rb').read())))
    f_ns = float(t_fail) * 1e9
    e_ns = f_ns + float(window_s) * 1e9
    lw = [0, 0, 0]

    def win(t):
        return 0 if t < f_ns else 1 if t < e_ns else 2
    if by_seq:
        lw[win(by_seq[0][1])] += by_seq[0][0]
        for (sa, ta), (sb, tb) in zip(by_seq, by_seq[1:]):
            for k in range(sa + 1, sb):
                lw[win(ta + (tb - ta) * (k - sa) / (sb - sa))] += 1
        lw[win(by_seq[-1][1])] += row['sent'] - 1 - by_seq[-1][0]
    row['lost_before'], row['lost_window'], row['lost_after'] = lw
    for k, val in facts.items():
        row[k] = (int(val) if re.fullmatch(r'-?\d+', val)
                  else float(val) if re.fullmatch(r'-?\d+\.\d+', val)
                  else val)
    vh = facts['victim_host']
    host = ctl_hosts(d + '/hosts.txt')
    maps = {}
    for name in os.listdir(d):
        m = re.fullmatch(r'map-(.+)\.txt', name)
        if m:
            maps[m.group(1)] = ctl_map(os.path.join(d, name))
    aa = open(d + '/anti-affinity.txt').read().strip()
    row['anti_affinity_before'] = aa
    row['anti_affinity_ok'] = 'anti-affinity: 0 buckets' in aa
    code = {int(a): int(b, 16) for a, b in
            (l.split() for l in open(d + '/codes-tcp.txt') if l.strip())}
    conns = json.load(open(tcp_json))['conns']
    cat = {'primary': [], 'secondary': [], 'both': [], 'neither': []}
    for c in conns:
        on_p = on_s = both = False
        for m in maps.values():
            p, s = m[code[c['sport']] & (len(m) - 1)]
            on_p |= host.get(p) == vh
            on_s |= host.get(s) == vh
            both |= host.get(p) == vh and host.get(s) == vh
        c['_cats'] = ([k for k, on in (('primary', on_p), ('secondary', on_s),
                                       ('both', both)) if on]
                      or ['neither'])
        for k in c['_cats']:
            cat[k].append(c)
    row['tcp_n'] = len(conns)
    row['tcp_survived'] = sum(c['survived'] for c in conns)
    for k, cs in cat.items():
        row['tcp_%s_on_victim' % k if k != 'neither'
            else 'tcp_off_victim'] = len(cs)
        row['tcp_%s_on_victim_survived' % k if k != 'neither'
            else 'tcp_off_victim_survived'] = sum(c['survived'] for c in cs)
    row['tcp_failed_ports'] = sorted(c['sport'] for c in conns
                                     if not c['survived'])
    # Each failed connection: where its instances were, and its longest
    # silence (no echo in a 100 ms bin), in ms after the failure.
    t0 = json.load(open(tcp_json))['start']
    failed = []
    for c in conns:
        if c['survived']:
            continue
        best = (0, 0)
        start = None
        for i, n in enumerate(c['bins'] + [1]):
            if n == 0 and start is None:
                start = i
            elif n and start is not None:
                if i - start > best[1] - best[0]:
                    best = (start, i)
                start = None
        failed.append({
            'sport': c['sport'], 'where': c['_cats'],
            'instances': {svc: m[code[c['sport']] & (len(m) - 1)]
                          for svc, m in sorted(maps.items())},
            'max_gap_ms': c['max_gap_ms'], 'closed': c.get('closed'),
            'silent_from_ms': round((t0 + best[0] * 0.1 - float(t_fail))
                                    * 1e3),
            'silent_to_ms': round((t0 + best[1] * 0.1 - float(t_fail))
                                  * 1e3)})
    row['tcp_failed'] = failed
    row['tcp_max_gap_ms'] = max(c['max_gap_ms'] for c in conns)
    # The controller's log: the first of each event after the failure, in
    # ms after it (OVS log times, UTC; the same clock as the sender's).
    tf = float(t_fail)
    ev = [e for e in log_events(d + '/controller.log', log_from)
          if e[0] >= tf - 0.01]
    victims = set(facts.get('victim_instances', '').split(',')) - {''}

    def first(pred):
        t = [e[0] for e in ev if pred(e)]
        return round((t[0] - tf) * 1e3, 1) if t else None
    row['log_ms'] = {
        'link_down': first(lambda e: e[1] == 'fabric'
                           and re.search(r'^link .* down', e[3])),
        'victim_port_down': first(
            lambda e: e[1] == 'ofconn'
            and re.search(r'\((%s)\) modified: .*(down|not live)'
                          % '|'.join(victims), e[3])),
        'instance_down': first(lambda e: e[1] == 'steer'
                               and re.search(r'instance (%s) \S+ -> down'
                                             % '|'.join(victims), e[3])),
        'fenced': first(lambda e: re.search(r'instance (%s) fenced'
                                            % '|'.join(victims), e[3])),
        'link_up': first(lambda e: e[1] == 'fabric'
                         and re.search(r'^link .* up', e[3])),
        'at_target': first(lambda e: e[1] == 'handoff'
                           and e[3].startswith('service dlp: every bucket '
                                               'at its target')),
    }
    # Each agent's frame counters ("sfmesh-ctl status" of the agent) from
    # just before the UDP stream to the end of the traffic: what it
    # received and what it dropped (its service: no state; or a bucket not
    # its own).  None where the agent was gone (killed with its host).
    def frames(path):
        try:
            m = re.search(r'frames: received (\d+), returned (\d+), .*'
                          r'dropped by service (\d+), .*dropped of buckets '
                          r'not ours (\d+)', open(path).read())
        except OSError:
            return None
        return [int(x) for x in m.groups()] if m else None
    row['agent_frames'] = {}
    for name in sorted(os.listdir(d)):
        m = re.fullmatch(r'status-before-(.+)\.txt', name)
        if not m:
            continue
        a = frames(os.path.join(d, name))
        b = frames(os.path.join(d, 'status-after-%s.txt' % m.group(1)))
        row['agent_frames'][m.group(1)] = (
            dict(zip(('received', 'returned', 'dropped_by_service',
                      'dropped_not_ours'), (y - x for x, y in zip(a, b))))
            if a and b else None)
    fence = [e[3] for e in ev if re.search(r'instance (%s) fenced: '
                                            % '|'.join(victims), e[3])]
    row['fence_reason'] = fence[0].split('fenced: ', 1)[1] if fence else None
    print(json.dumps(row))


def multihost(path, rate, window_s, cut_s):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    trials = [t for t in lines if 'retry' not in t]
    out = {'rate_target_pps': int(rate), 'window_s': float(window_s),
           'cut_s': float(cut_s), 'variants': {}, 'trials': trials,
           'retries': [t['retry'] for t in lines if 'retry' in t]}
    med = statistics.median
    for v in sorted(set(t['variant'] for t in trials)):
        ts = [t for t in trials if t['variant'] == v]

        def col(k):
            return [t[k] for t in ts]

        def logged(k):
            x = [t['log_ms'][k] for t in ts if t['log_ms'].get(k) is not None]
            return med(x) if x else None
        out['variants'][v] = {
            'name': MULTIHOST_NAMES.get(v, v), 'trials': len(ts),
            'victim': ts[0]['victim'], 'victim_host': ts[0]['victim_host'],
            'gap_ms_p50': med(col('gap_ms')), 'gap_ms_min': min(col('gap_ms')),
            'gap_ms_max': max(col('gap_ms')),
            'lost_p50': med(col('lost')), 'lost_min': min(col('lost')),
            'lost_max': max(col('lost')),
            'lost_window_p50': med(col('lost_window')),
            'lost_window_min': min(col('lost_window')),
            'lost_window_max': max(col('lost_window')),
            'lost_before_p50': med(col('lost_before')),
            'lost_after_p50': med(col('lost_after')),
            'pre_failure_max_gap_ms_p50': med(col('pre_failure_max_gap_ms')),
            'rate_pps_p50': med(col('rate_pps')),
            'rate_pps_min': min(col('rate_pps')),
            'tcp_n': ts[0]['tcp_n'],
            'tcp_survived_p50': med(col('tcp_survived')),
            'tcp_survived_min': min(col('tcp_survived')),
            'tcp_survived_total': sum(col('tcp_survived')),
            'tcp_total': sum(col('tcp_n')),
            **{'tcp_%s_total' % k: sum(col('tcp_%s' % k)) for k in (
                'primary_on_victim', 'primary_on_victim_survived',
                'secondary_on_victim', 'secondary_on_victim_survived',
                'both_on_victim', 'both_on_victim_survived',
                'off_victim', 'off_victim_survived')},
            'tcp_max_gap_ms_p50': med(col('tcp_max_gap_ms')),
            'anti_affinity_ok_all': all(col('anti_affinity_ok')),
            'back_all': (all(t['back'] == 'yes' for t in ts)
                         if v == 'c' else None),
            'log_ms_p50': {k: logged(k) for k in ts[0]['log_ms']},
        }
    v = out['variants']
    ratios = {}
    for num in ('b', 'c'):
        if num not in v or 'a' not in v:
            continue
        r = {'gap_p50': (round(v[num]['gap_ms_p50'] / v['a']['gap_ms_p50'], 2)
                         if v['a']['gap_ms_p50'] else None),
             'lost_p50': (round(v[num]['lost_p50'] / v['a']['lost_p50'], 2)
                          if v['a']['lost_p50'] else None),
             'lost_window_p50': (round(v[num]['lost_window_p50']
                                       / v['a']['lost_window_p50'], 2)
                                 if v['a']['lost_window_p50'] else None)}
        # Within each round, the trials ran one after the other: the range
        # of the ratio over the rounds is the noise on the ratio itself.
        per = []
        for rnd in sorted(set(t['round'] for t in trials)):
            a = [t for t in trials if t['variant'] == 'a'
                 and t['round'] == rnd]
            b = [t for t in trials if t['variant'] == num
                 and t['round'] == rnd]
            if a and b:
                per.append({'round': rnd,
                            'gap': (round(b[0]['gap_ms'] / a[0]['gap_ms'], 2)
                                    if a[0]['gap_ms'] else None),
                            'lost': (round(b[0]['lost'] / a[0]['lost'], 2)
                                     if a[0]['lost'] else None),
                            'lost_window': (
                                round(b[0]['lost_window']
                                      / a[0]['lost_window'], 2)
                                if a[0]['lost_window'] else None)})
        r['per_round'] = per
        ratios['%s/a' % num] = r
    out['ratios'] = ratios
    print(json.dumps(out, indent=1))

HA_NAMES = {
    'r': 'plain restart: one controller, SIGKILL, started again at once',
    'k': 'takeover: the active controller SIGKILL, a standby takes over',
    's': 'takeover: the active controller SIGSTOP, a standby takes over',
}


def ha_trial(rec, sent_line, t_fail, variant, rnd, window_s, tcp_json,
             *extra):
    """One trial of part-ha: the UDP stream's row (trial_row), the TCP
    connections surviving, and what the part recorded (KEY=VALUE)."""
    row = trial_row(rec, sent_line, t_fail, variant, rnd, 'controller',
                    window_s=float(window_s))
    row['name'] = HA_NAMES.get(variant, variant)
    conns = json.load(open(tcp_json))['conns']
    row['tcp_n'] = len(conns)
    row['tcp_survived'] = sum(1 for c in conns if c['survived'])
    row['tcp_max_gap_ms'] = max(c['max_gap_ms'] for c in conns)
    for kv in extra:
        k, val = kv.split('=', 1)
        row[k] = (None if val == 'null'
                  else int(val) if re.fullmatch(r'-?\d+', val)
                  else val == 'yes' if val in ('yes', 'no') else val)
    print(json.dumps(row))


def ha(path, rate, window_s):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    trials = [t for t in lines if 'retry' not in t]
    out = {'rate_target_pps': int(rate), 'window_s': float(window_s),
           'variants': {}, 'trials': trials,
           'retries': [t['retry'] for t in lines if 'retry' in t]}
    med = statistics.median
    for v in [x for x in 'rks' if any(t['variant'] == x for t in trials)]:
        ts = [t for t in trials if t['variant'] == v]

        def col(k):
            return [t[k] for t in ts if t.get(k) is not None]

        def stat(k):
            c = col(k)
            return ({'p50': med(c), 'min': min(c), 'max': max(c)} if c
                    else {'p50': None, 'min': None, 'max': None})
        out['variants'][v] = {
            'name': HA_NAMES[v], 'trials': len(ts),
            'gap_ms': stat('gap_ms'), 'lost': stat('lost'),
            'writable_ms': stat('writable_ms'), 'agents_ms': stat('agents_ms'),
            'rate_pps_p50': med(col('rate_pps')),
            'pre_failure_max_gap_ms_p50': med(col('pre_failure_max_gap_ms')),
            'tcp_survived_total': sum(col('tcp_survived')),
            'tcp_total': sum(col('tcp_n')),
            'tcp_max_gap_ms_p50': med(col('tcp_max_gap_ms')),
            'tables_same': sum(1 for t in ts if t['tables_same']),
            'durations_grew': sum(1 for t in ts if t['durations_grew']),
            'changes': sorted(set(t['changes'] for t in ts)),
        }
    v = out['variants']
    ratios = {}
    for num in ('k', 's'):
        if num not in v or 'r' not in v:
            continue
        r = {}
        for k in ('writable_ms', 'agents_ms'):
            a, b = v['r'][k]['p50'], v[num][k]['p50']
            r[k] = round(b / a, 2) if a and b is not None else None
        # The ratio within each round, whose trials ran one after the
        # other: its range is the noise on the ratio itself.
        per = []
        for rnd in sorted(set(t['round'] for t in trials)):
            a = [t for t in trials if t['variant'] == 'r'
                 and t['round'] == rnd]
            b = [t for t in trials if t['variant'] == num
                 and t['round'] == rnd]
            if a and b and a[0]['agents_ms'] and b[0]['agents_ms'] is not None:
                per.append(round(b[0]['agents_ms'] / a[0]['agents_ms'], 2))
        r['agents_per_round'] = per
        ratios['%s/r' % num] = r
    out['ratios'] = ratios
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    if sys.argv[1] == 'trial':
        trial(*sys.argv[2:])
    elif sys.argv[1] == 'failover':
        failover(*sys.argv[2:5])
    elif sys.argv[1] == 'fabric':
        fabric(*sys.argv[2:5])
    elif sys.argv[1] == 'handoff-trial':
        handoff_trial(*sys.argv[2:19])
    elif sys.argv[1] == 'handoff':
        handoff(*sys.argv[2:4])
    elif sys.argv[1] == 'state':
        state(sys.argv[2])
    elif sys.argv[1] == 'repl':
        repl(sys.argv[2])
    elif sys.argv[1] == 'program':
        program(sys.argv[2])
    elif sys.argv[1] == 'multihost-trial':
        multihost_trial(*sys.argv[2:])
    elif sys.argv[1] == 'multihost':
        multihost(*sys.argv[2:6])
    elif sys.argv[1] == 'megaflow':
        megaflow(sys.argv[2])
    elif sys.argv[1] == 'ha-trial':
        ha_trial(*sys.argv[2:])
    elif sys.argv[1] == 'ha':
        ha(*sys.argv[2:5])
    else:
        sys.exit('unknown mode')
