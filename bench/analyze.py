"""sfmesh benchmarks: turns raw measurements into JSON.

  analyze.py trial REC.bin "sent N seconds S" T_FAIL VARIANT ROUND VICTIM \
      [KEY=NUMBER...]
  analyze.py failover TRIALS.jsonl RATE REACTIVE_LOG
  analyze.py fabric TRIALS.jsonl RATE LINK
"""
import json
import statistics
import struct
import sys


def pct(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def trial(rec, sent_line, t_fail, variant, rnd, victim, *extra):
    parts = sent_line.split()
    sent, secs = int(parts[1]), float(parts[3])
    data = open(rec, 'rb').read()
    recs = sorted(set(struct.iter_unpack('=QQQ', data)))
    t_fail_ns = int(float(t_fail) * 1e9)
    seqs = set(r[0] for r in recs)
    # The gap: the longest interval, in send time, between consecutive
    # received sequence numbers (what the receiver misses), around the
    # failure: intervals that end after it and start less than 2 s after
    # it.  Also the longest gap in arrival time (delays included), and the
    # longest send-time gap before the failure (the noise floor).
    gap = arr_gap = noise = 0
    gap_start = None
    for i in range(1, len(recs)):
        d = recs[i][1] - recs[i - 1][1]
        if recs[i][1] >= t_fail_ns and recs[i - 1][1] < t_fail_ns + 2e9:
            if d > gap:
                gap, gap_start = d, recs[i - 1][1]
        elif recs[i][1] < t_fail_ns:
            noise = max(noise, d)
    arr = sorted(r[2] for r in recs)
    for i in range(1, len(arr)):
        if arr[i] >= t_fail_ns and arr[i - 1] < t_fail_ns + 2e9:
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
    print(json.dumps(row))


NAMES = {
    'a': 'static FF groups, no controller, link down (datapath floor)',
    'b': 'sfmesh, link down',
    'c': 'sfmesh, agent SIGKILL',
    'd': 'sfmesh, agent SIGSTOP',
    'e': 'BASELINE reactive controller, no groups, link down',
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
                     ('d', 'a')):
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


def program(path, n_flows, n_groups, buckets):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    out = {'flows': int(n_flows), 'groups': int(n_groups),
           'buckets': int(buckets), 'services': 4, 'instances_per_service': 3,
           'runs': rows}
    for m in ('sfmesh', 'ovs-ofctl', 'repair'):
        secs = [r['seconds'] for r in rows if r['method'] == m]
        if secs:
            out[m + '_s_p50'] = statistics.median(secs)
            out[m + '_trials'] = len(secs)
    extra = [r['connect_to_bundle_sent_s'] for r in rows
             if r['method'] == 'sfmesh']
    if extra:
        out['sfmesh_connect_to_bundle_sent_s_p50'] = statistics.median(extra)
    extra = [r['down_to_bundle_sent_s'] for r in rows
             if r['method'] == 'repair']
    if extra:
        out['repair_down_to_bundle_sent_s_p50'] = statistics.median(extra)
        out['repair_changes_p50'] = statistics.median(
            r['changes'] for r in rows if r['method'] == 'repair')
    if out.get('ovs-ofctl_s_p50'):
        out['ratio_sfmesh_to_ofctl'] = round(
            out['sfmesh_s_p50'] / out['ovs-ofctl_s_p50'], 2)
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


def repl(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    out = {'runs': rows, 'modes': {}}
    for m in ('off', 'async', 'sync'):
        rs = [r for r in rows if r['replication'] == m]
        if rs:
            out['modes'][m] = {
                'trials': len(rs),
                'tcp_mbit_s_p50': statistics.median(r['tcp_mbit_s'] for r in rs),
                'rtt_us_p50': statistics.median(r['rtt_us_p50'] for r in rs),
                'rtt_us_p99': statistics.median(r['rtt_us_p99'] for r in rs),
            }
    base = out['modes'].get('off')
    if base:
        for m, v in out['modes'].items():
            v['tcp_ratio_to_off'] = round(v['tcp_mbit_s_p50']
                                          / base['tcp_mbit_s_p50'], 2)
            v['rtt_p50_ratio_to_off'] = round(v['rtt_us_p50']
                                              / base['rtt_us_p50'], 2)
            v['rtt_p99_ratio_to_off'] = round(v['rtt_us_p99']
                                              / base['rtt_us_p99'], 2)
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    if sys.argv[1] == 'trial':
        trial(*sys.argv[2:])
    elif sys.argv[1] == 'failover':
        failover(*sys.argv[2:5])
    elif sys.argv[1] == 'fabric':
        fabric(*sys.argv[2:5])
    elif sys.argv[1] == 'state':
        state(sys.argv[2])
    elif sys.argv[1] == 'repl':
        repl(sys.argv[2])
    elif sys.argv[1] == 'program':
        program(*sys.argv[2:6])
    else:
        sys.exit('unknown mode')
