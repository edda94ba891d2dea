#!/usr/bin/python3
"""Puts the results of several scenario runs (topo/scenario.py's
result.json) side by side: a table on stdout, and optionally one plot of
their throughput over time and a JSON summary.

    topo/compare.py A/result.json B/result.json [--png FILE] [--json FILE]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402


def label(r):
    return 'replication %s' % r['replication']


def table(results, out=sys.stdout):
    cols = [dict(scenario.table_rows(r)) for r in results]
    keys = [k for k, _ in scenario.table_rows(results[0])]
    heads = [label(r) for r in results]
    w0 = max(len(k) for k in keys)
    ws = [max([len(h)] + [len(str(c.get(k, '-'))) for k in keys])
          for h, c in zip(heads, cols)]
    line = '%-*s' % (w0, '') + ''.join('  %-*s' % (w, h)
                                       for w, h in zip(ws, heads))
    out.write(line.rstrip() + '\n')
    out.write('-' * len(line.rstrip()) + '\n')
    for k in keys:
        out.write(('%-*s' % (w0, k) + ''.join(
            '  %-*s' % (w, c.get(k, '-')) for w, c in zip(ws, cols))
            ).rstrip() + '\n')


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, r in enumerate(results):
        if r['throughput']:
            xs, ys = zip(*r['throughput'])
            t = r['tcp']
            ax.step(xs, [y / 1000 for y in ys], where='post',
                    color='C%d' % i,
                    label='%s: %d/%d connections survive' % (
                        label(r), t['survived'], t['n']))
    ev = results[0]['event']
    for t, what in ev['timeline'][:1]:
        ax.axvline(t, color='C3', linestyle='--', linewidth=1)
        ax.annotate('%s %s' % (what, ev['instance']), (t, 0),
                    xytext=(4, 6), textcoords='offset points', color='C3')
    ax.set_ylim(bottom=0)
    ax.set_xlabel('seconds (100 ms bins)')
    ax.set_ylabel('TCP echoed, kB/s (sum over connections)')
    ax.set_title('sfmesh: %s of %s, %s, under traffic' % (
        ev['failure'], ev['instance'], results[0]['function']), fontsize=10)
    ax.legend(loc='center left', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('results', nargs='+')
    p.add_argument('--png')
    p.add_argument('--json')
    args = p.parse_args()
    results = [json.load(open(f)) for f in args.results]
    results = [r for r in results if r.get('status') == 'ran']
    if not results:
        sys.exit('no scenario results to compare')
    table(results)
    if args.png:
        plot(results, args.png)
    if args.json:
        summary = [{k: r[k] for k in ('name', 'replication', 'function',
                                      'event', 'affected', 'detection',
                                      'epochs', 'verdict', 'json', 'png')}
                   for r in results]
        for s, r in zip(summary, results):
            s['tcp'] = {k: r['tcp'][k] for k in
                        ('n', 'survived', 'failed', 'max_gap_ms_survivors')}
            s['udp'] = r['udp'] and {k: r['udp'][k] for k in
                                     ('gap_ms', 'lost', 'sent', 'resumed')}
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
