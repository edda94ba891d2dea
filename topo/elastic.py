"""Elastic-pool scenarios for topo/scenario.py: a service's pool of
instances grows, shrinks, is drained or loses an instance and gets it back,
under traffic, and the controller moves buckets between instances by
make-before-break handoffs.

A run is a list of steps (Step), each one change to the pool:

  scale-out  instances added at run time (a Mininet host linked to the
             switch by a port named after it, with its MAC, on the agents'
             network, its agent running), the configuration rewritten with
             them, SIGHUP to the controller
  scale-in   instances removed from the configuration, SIGHUP; once the
             controller has drained them and they have left the map
             ('sfmesh-ctl instances' no longer lists them), their agents
             and hosts are stopped
  drain      sfmesh-ctl drain INSTANCE (it ends "disabled", holding nothing)
  enable     sfmesh-ctl enable INSTANCE
  fail       the instance's agent killed (or its link down)
  recover    the agent started again (or the link up)

While the traffic runs, a Poller reads 'sfmesh-ctl instances' (and
'sfmesh-ctl handoffs') every --poll seconds.  After each step the runner
waits until the pool has converged: every instance of the pool holds as
primary within 10 % of the buckets rendezvous hashing gives it over the
pool (computed here, the controller's own formula, and compared with the
IDEAL column the controller shows), the removed instances have left the
map (scale-in) or hold nothing (drain, fail); then until it has settled
(exactly the rendezvous share, no handoff in progress).  The buckets moved
by a step are those whose primary differs between the map before the step
and the map once settled; the ideal is what rendezvous hashing requires:
for instances added, the buckets they win; for instances removed, drained
or failed, the primaries they held.
"""

import math
import os
import re
import signal
import struct
import subprocess
import threading
import time

import sfmesh_topo as st

MASK64 = (1 << 64) - 1
FNV_BASIS = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
TOLERANCE = 0.10        # "converged": within 10 % of the ideal share


# --------------------------------------------------------------------------
# Rendezvous hashing, exactly as lib/svcmap.c computes it (svcmap_score()).

def _fnv(h, data):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def score(service, bucket, instance, weight=1):
    h = _fnv(FNV_BASIS, service.encode() + b'\0')
    h = _fnv(h, struct.pack('>I', bucket))
    h = _fnv(h, instance.encode())
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & MASK64
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & MASK64
    h ^= h >> 31
    u = (float(h >> 11) + 0.5) * 2.0 ** -53
    if u >= 1.0:
        u = 1.0 - 2.0 ** -53
    return weight / -math.log(u)


def winner(service, bucket, names):
    """The instance of 'names' that wins 'bucket' (equal scores: the
    smaller name)."""
    best, best_s = None, None
    for n in sorted(names):
        s = score(service, bucket, n)
        if best is None or s > best_s:
            best, best_s = n, s
    return best


def ideal_map(service, n_buckets, names):
    """{bucket: primary} by rendezvous hashing over 'names'."""
    return {b: winner(service, b, names) for b in range(n_buckets)}


def ideal_counts(service, n_buckets, names):
    counts = {n: 0 for n in names}
    for p in ideal_map(service, n_buckets, names).values():
        counts[p] += 1
    return counts


def within(primary, target):
    """Within 10 % of 'target' buckets (at least one bucket of slack)."""
    return abs(primary - target) <= max(1.0, TOLERANCE * target)


# --------------------------------------------------------------------------
# What sfmesh-ctl shows, read defensively (columns by their header's names)

def parse_instances(text):
    """{instance: {column (lower case): value}} from 'sfmesh-ctl
    instances'; numeric columns as ints."""
    out, cols = {}, None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == 'INSTANCE':
            cols = [c.lower() for c in f]
            continue
        if cols is None:
            continue
        row = {}
        for c, v in zip(cols, f):
            row[c] = int(v) if re.fullmatch(r'-?\d+', v) else v
        out[f[0]] = row
    return out


HANDOFF_LINE = re.compile(r'^\s+(\d+)\s+(\S+)\s*->\s*(\S+)\s+(\S+)'
                          r'(?:\s+(\S+))?\s*(.*)$')


def parse_handoffs(text):
    """{service: {'epoch', 'in_progress', 'done', 'abandoned', 'pending',
    'secondaries_moved', 'immediate' (ints or None), 'recent': [{'bucket', 'from', 'to', 'state', 'duration_ms',
    'reason'}]}} from 'sfmesh-ctl handoffs'."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r'^service (\S+?):\s*(.*)$', line)
        if m:
            cur = {'recent': []}
            for key in ('epoch', 'in progress', 'done', 'abandoned',
                        'pending', 'secondaries moved', 'immediate'):
                k = re.search(r'\b%s\s+(\d+)' % key, m.group(2))
                cur[key.replace(' ', '_')] = int(k.group(1)) if k else None
            out[m.group(1)] = cur
            continue
        m = HANDOFF_LINE.match(line)
        if m and cur is not None:
            d = m.group(5)
            cur['recent'].append({
                'bucket': int(m.group(1)), 'from': m.group(2),
                'to': m.group(3), 'state': m.group(4),
                'duration_ms': (float(d) if d and re.fullmatch(
                    r'\d+(\.\d+)?', d) else None),
                'reason': m.group(6).strip()})
    return out


def snmp_retrans(host):
    """TCP RetransSegs of the network namespace of Mininet host 'host'."""
    lines = [l.split() for l in host.cmd('cat /proc/net/snmp').splitlines()
             if l.startswith('Tcp:')]
    if len(lines) >= 2 and 'RetransSegs' in lines[0]:
        try:
            return int(lines[1][lines[0].index('RetransSegs')])
        except (ValueError, IndexError):
            return None
    return None


AGENT_COUNTERS = (
    ('received', r'frames: received (\d+)'),
    ('dropped_by_service', r'dropped by service (\d+)'),
    ('table_full', r'table full (\d+), send'),
    ('sync_held', r'sync: (\d+) frames held'),
    ('sync_released_unacked', r'(\d+) released unacknowledged'),
    ('sync_not_held', r'(\d+) not held'),
    ('bulks_complete', r'bulks (\d+) complete'),
    ('bulks_failed', r'(\d+) failed;'),
)


def agent_counters(tb, name):
    """The counters of instance 'name''s agent ('sfmesh-ctl status' on
    its control socket), or None if it does not answer."""
    r = subprocess.run([os.path.join(tb.bin, 'sfmesh-ctl'), '-t',
                        tb.agent_ctl(name), 'status'],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=5)
    if r.returncode != 0:
        return None
    out = {}
    for key, pat in AGENT_COUNTERS:
        m = re.search(pat, r.stdout)
        if m:
            out[key] = int(m.group(1))
    return out


# --------------------------------------------------------------------------
# The poller

class Poller(threading.Thread):
    """Reads 'sfmesh-ctl instances' and 'sfmesh-ctl handoffs' every
    'interval' seconds.  samples: [(wall time, {instance: row})] of the
    service's instances; handoff_samples: [(wall time, summary)]; handoffs:
    every handoff seen, by (bucket, from, to, first seen), with the last
    state shown."""

    def __init__(self, tb, service, interval=0.15):
        super().__init__(daemon=True)
        self.tb, self.service, self.interval = tb, service, interval
        self.samples, self.handoff_samples = [], []
        self.handoffs = {}
        self.have_handoffs = None       # unknown until first asked
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.errors = 0

    def poll_once(self):
        now = time.time()
        out = self.tb.ctl('instances', check=False)
        rows = {n: r for n, r in parse_instances(out).items()
                if r.get('service', self.service) == self.service}
        ho = None
        if self.have_handoffs is not False:
            r = st.run([os.path.join(self.tb.bin, 'sfmesh-ctl'), '-t',
                        self.tb.ctl_path, 'handoffs'], check=False)
            parsed = parse_handoffs(r)
            if self.have_handoffs is None:
                self.have_handoffs = bool(parsed)
            ho = parsed.get(self.service)
        with self.lock:
            if rows:
                self.samples.append((now, rows))
            else:
                self.errors += 1
            if ho is not None:
                self.handoff_samples.append((now, {
                    k: ho.get(k) for k in (
                        'epoch', 'in_progress', 'done', 'abandoned',
                        'pending', 'secondaries_moved', 'immediate')}))
                for h in ho['recent']:
                    key = (h['bucket'], h['from'], h['to'])
                    prev = self.handoffs.get(key)
                    if prev is None or (prev['state'] in ('done', 'abandoned')
                                        and h['state'] == 'warming'):
                        # New, or the same move again after it ended.
                        if prev is not None:
                            self.handoffs[key + (prev['seen'],)] = prev
                        h = dict(h, seen=now, last=now)
                        self.handoffs[key] = h
                    else:
                        prev.update(state=h['state'],
                                    duration_ms=h['duration_ms'],
                                    reason=h['reason'], last=now)
        return rows, ho

    def run(self):
        while not self.stop_ev.is_set():
            t = time.monotonic()
            try:
                self.poll_once()
            except Exception:           # keep polling; count it
                with self.lock:
                    self.errors += 1
            self.stop_ev.wait(max(0.0, self.interval
                                  - (time.monotonic() - t)))

    def latest(self, after=0.0):
        """(wall time, instances, handoff summary) of the newest sample
        taken after wall time 'after', or (None, None, None).  The summary
        is None without 'sfmesh-ctl handoffs'."""
        with self.lock:
            if self.samples and self.samples[-1][0] > after:
                hs = (self.handoff_samples[-1][1] if self.handoff_samples
                      and self.handoff_samples[-1][0] > after else None)
                return self.samples[-1][0], self.samples[-1][1], hs
        return None, None, None

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=5)


# --------------------------------------------------------------------------
# Steps

class Step:
    """One change to the pool: kind (see the module's doc), instance
    names, and the pool (instance names) the service should end with, the
    ones that hold buckets by rendezvous hashing."""

    def __init__(self, kind, names, pool_after, how=None):
        self.kind, self.names, self.pool_after = kind, list(names), \
            list(pool_after)
        self.how = how          # fail/recover: 'kill' or 'link'
        self.rec = {}

    def label(self):
        sign = {'scale-out': '+', 'scale-in': '-'}.get(self.kind, '')
        return '%s %s' % (self.kind, ','.join(sign + n for n in self.names))


def plan(topo, service, args, victim):
    """The steps of the scenario, with the instance names they will use
    (new instances: the lowest numbers free, as topo.spare_instance()
    picks them)."""
    pool = [i['name'] for i in topo.service_instances(service)]
    numbers = {int(n.rsplit('-', 1)[1]) for n in pool}
    steps = []

    def new_names(k):
        out, i = [], 1
        while len(out) < k:
            if i not in numbers:
                out.append('%s-%d' % (service, i))
                numbers.add(i)
            i += 1
        return out

    if args.failure == 'scale':
        sizes = args.sizes
        order = list(pool)              # the newest last
        for size in sizes[1:]:
            if size > len(order):
                names = new_names(size - len(order))
                order += names
                steps.append(Step('scale-out', names, order))
            elif size < len(order):
                names = order[size:]
                order = order[:size]
                for n in names:
                    numbers.discard(int(n.rsplit('-', 1)[1]))
                steps.append(Step('scale-in', names, order))
            else:
                raise ValueError('--sizes: %d twice in a row' % size)
    elif args.failure == 'scale-out':
        names = new_names(args.add)
        steps.append(Step('scale-out', names, pool + names))
    elif args.failure == 'scale-in':
        steps.append(Step('scale-in', [victim],
                          [n for n in pool if n != victim]))
    elif args.failure == 'drain':
        rest = [n for n in pool if n != victim]
        steps += [Step('drain', [victim], rest),
                  Step('enable', [victim], pool)]
    elif args.failure == 'rebalance':
        rest = [n for n in pool if n != victim]
        steps += [Step('fail', [victim], rest, how=args.fail_by),
                  Step('recover', [victim], pool, how=args.fail_by)]
    return steps


def predicted_pools(topo, service, steps):
    pools = [[i['name'] for i in topo.service_instances(service)]]
    for s in steps:
        pools.append(s.pool_after)
    return pools


def udp_moves(service, n_buckets, bucket, pools, current):
    """How many steps move 'bucket' (predicted: rendezvous over each
    step's pool; before the first, the map as it is)."""
    prims = [current] + [winner(service, bucket, p) for p in pools[1:]]
    return sum(1 for a, b in zip(prims, prims[1:]) if a != b)


class Runner:
    """Runs the steps under traffic and measures each."""

    def __init__(self, tb, args, service, steps, flows_buckets, udp_bucket,
                 poller, say):
        self.tb, self.args, self.service = tb, args, service
        self.steps, self.poller, self.say = steps, poller, say
        self.flows_buckets = flows_buckets      # [(sport, bucket)]
        self.udp_bucket = udp_bucket
        self.n_buckets = len(tb.map_table(service))
        self.events = []                        # (wall time, label)
        self.client_hosts = [tb.net.get(h) for h, _ in tb.topo.sfm_clients]
        self.server_host = tb.net.get(tb.topo.sfm_server[0])
        self.warnings = []
        self.retrans_end = None
        # instance -> {'first': counters, 'last': counters} of its agent
        # while it served the service (a restarted agent starts again).
        self.agents = {}

    def sample_agents(self, names=None, first=False):
        names = names or [i['name'] for i in
                          self.tb.topo.service_instances(self.service)]
        for n in names:
            if n not in self.tb.agent_pids:
                continue
            try:
                c = agent_counters(self.tb, n)
            except subprocess.TimeoutExpired:
                c = None
            if c is None:
                continue
            runs = self.agents.setdefault(n, [])
            if first or not runs:
                runs.append({'first': c, 'last': c})
            else:
                runs[-1]['last'] = c

    def agent_totals(self):
        """The sum over the service's agents of what each counted between
        its first and last sample."""
        tot = {}
        for runs in self.agents.values():
            for r in runs:
                for k, v in r['last'].items():
                    tot[k] = tot.get(k, 0) + v - r['first'].get(k, 0)
        return tot

    def retrans(self):
        vals = [snmp_retrans(h) for h in self.client_hosts
                + [self.server_host]]
        return None if None in vals else sum(vals)

    # ----------------------------------------------------------------
    def act(self, step):
        """Does what 'step' says; returns the wall time of the change
        (the SIGHUP, the command, the kill...)."""
        tb, svc = self.tb, self.service
        if step.kind == 'scale-out':
            t_ports = time.time()
            for name in step.names:
                inst = tb.topo.spare_instance(svc)
                if inst['name'] != name:
                    raise RuntimeError('expected to add %s, not %s'
                                       % (name, inst['name']))
                tb.add_instance(inst, start_agent=False)
            step.rec['ports_added_s'] = round(time.time() - t_ports, 3)
            # Adding a port makes ovs-vswitchd reconfigure its userspace
            # datapath, a short dip in the traffic of its own: let it pass
            # before the handoffs start.
            time.sleep(self.args.port_settle)
            t_agents = time.time()
            for name in step.names:
                tb.start_agent(name)
            step.rec['agents_started_s'] = round(time.time() - t_agents, 3)
            tb.write_config()
            t = time.time()
            step.rec['ports_added_s_before'] = round(t - t_ports, 3)
            tb.reload()
            return t
        if step.kind == 'scale-in':
            step.removed = [tb.forget_instance(n) for n in step.names]
            tb.write_config()
            t = time.time()
            tb.reload()
            return t
        if step.kind in ('drain', 'enable'):
            t = time.time()
            r = st.run([os.path.join(tb.bin, 'sfmesh-ctl'), '-t', tb.ctl_path,
                        step.kind, step.names[0]], check=False)
            step.rec['reply'] = r.strip()
            return t
        if step.kind == 'fail':
            name = step.names[0]
            t = time.time()
            if step.how == 'link':
                inst = tb.topo.instance(name)
                tb.set_port(inst['switch'], inst['port'], 'down')
            else:
                os.kill(tb.agent_pids[name], signal.SIGKILL)
            return t
        if step.kind == 'recover':
            name = step.names[0]
            t = time.time()
            if step.how == 'link':
                inst = tb.topo.instance(name)
                tb.set_port(inst['switch'], inst['port'], 'up')
            else:
                tb.start_agent(name)
            return t
        raise ValueError(step.kind)

    def state(self, step, rows, hs, targets):
        """(converged within 10 %, settled exactly) for 'step' given a
        sample of the instances."""
        gone = [n for n in step.names if n in rows]
        if step.kind == 'scale-in' and gone:
            return False, False
        for n in step.names:
            if step.kind in ('drain', 'fail') and n in rows:
                if rows[n].get('primary', 1) != 0:
                    return False, False
        ok = settled = True
        for n in step.pool_after:
            r = rows.get(n)
            if r is None or not isinstance(r.get('primary'), int):
                return False, False
            if not within(r['primary'], targets[n]):
                ok = False
            if r['primary'] != targets[n]:
                settled = False
        if step.kind == 'drain':
            settled = settled and all(
                rows.get(n, {}).get('state') == 'disabled' for n in step.names)
        if hs is not None and (hs.get('in_progress') or hs.get('pending')):
            settled = False
        return ok, ok and settled

    def run_step(self, i, step):
        tb, svc, rec = self.tb, self.service, self.step_rec(step)
        before = tb.map_table(svc)
        rec['epoch_before'] = tb.map_epoch(svc)
        rec['retrans_before'] = self.retrans()
        targets = ideal_counts(svc, self.n_buckets, step.pool_after)
        rec['targets'] = targets
        ideal_after = ideal_map(svc, self.n_buckets, step.pool_after)
        rec['required'] = sum(1 for b, (p, _s) in before.items()
                              if ideal_after[b] != p)
        if step.kind in ('scale-out', 'enable', 'recover'):
            rec['ideal'] = sum(targets[n] for n in step.names)
        else:
            rec['ideal'] = sum(1 for p, _s in before.values()
                               if p in step.names)
        rec['ideal_definition'] = (
            'buckets the added instance(s) win by rendezvous hashing'
            if step.kind in ('scale-out', 'enable', 'recover') else
            'primaries the instance(s) held before')
        hs0 = self.poller.latest()[2]
        if step.kind == 'fail':
            self.sample_agents(step.names)
        rec['t_begin'] = time.time()
        t = self.act(step)
        rec['t_action'] = t
        self.events.append((t, step.label()))
        self.say('step %d: %s (pool %s)' % (i, step.label(),
                                             ', '.join(step.pool_after)))
        deadline = t + self.args.converge_timeout
        t_conv = t_settled = t_gone = None
        seen = t
        while time.time() < deadline:
            now, rows, hs = self.poller.latest(after=seen)
            if rows is None:
                time.sleep(0.02)
                continue
            seen = now
            if step.kind == 'scale-in' and t_gone is None and not any(
                    n in rows for n in step.names):
                t_gone = now
            ok, settled = self.state(step, rows, hs, targets)
            if ok and t_conv is None:
                t_conv = now
            if settled:
                t_settled = now
                break
            time.sleep(0.02)
        if step.kind == 'scale-in':
            for inst in getattr(step, 'removed', []):
                if t_gone is None:
                    self.warnings.append(
                        'step %d: %s never left the map; stopped anyway'
                        % (i, inst['name']))
                self.sample_agents([inst['name']])
                tb.remove_instance(inst)
            rec['t_ports_removed'] = time.time()
        if step.kind == 'scale-out' or (step.kind == 'recover'
                                        and step.how == 'kill'):
            # A new agent (or a restarted one) counts from 0.
            for n in step.names:
                self.agents.setdefault(n, []).append(
                    {'first': {}, 'last': {}})
        if step.kind == 'fail' and t_conv is not None:
            # Give the failed instance its time down.
            time.sleep(max(0.0, t + self.args.down_for - time.time()))
        after = tb.map_table(svc)
        _t, rows, hs = self.poller.latest()
        rec.update({
            'converged': t_conv is not None,
            'converge_s': None if t_conv is None else round(t_conv - t, 3),
            'settled': t_settled is not None,
            'settle_s': (None if t_settled is None
                         else round(t_settled - t, 3)),
            'left_map_s': None if t_gone is None else round(t_gone - t, 3),
            't_end': t_settled or t_conv or time.time(),
            'epoch_after': tb.map_epoch(svc),
            'moved': sum(1 for b, (p, _s) in before.items()
                         if b in after and after[b][0] != p),
            'moved_secondary': sum(1 for b, (_p, s) in before.items()
                                   if b in after and after[b][1] != s),
            'off_ideal_after': sum(1 for b, (p, _s) in after.items()
                                   if ideal_after.get(b) != p),
            'primaries_after': {n: r.get('primary') for n, r in
                                (rows or {}).items()},
            'controller_ideal_after': {n: r.get('ideal') for n, r in
                                       (rows or {}).items()
                                       if 'ideal' in r},
        })
        moved_b = {b for b, (p, _s) in before.items()
                   if b in after and after[b][0] != p}
        rec['moved_buckets'] = sorted(moved_b)
        rec['tcp_moved_sports'] = [sp for sp, b in self.flows_buckets
                                   if b in moved_b]
        rec['udp_moved'] = self.udp_bucket in moved_b
        if hs0 is not None and hs is not None:
            for k in ('done', 'abandoned', 'secondaries_moved',
                      'immediate'):
                if hs0.get(k) is not None and hs.get(k) is not None:
                    rec['handoffs_' + k] = hs[k] - hs0[k]
        with self.poller.lock:
            durs = sorted(h['duration_ms'] for h in self.poller.handoffs.values()
                          if t <= h['seen'] <= rec['t_end'] + 0.5
                          and h['state'] == 'done'
                          and h['reason'].startswith('primary')
                          and h['duration_ms'] is not None)
            mine = [h for h in self.poller.handoffs.values()
                    if h['bucket'] == self.udp_bucket
                    and t <= h['seen'] <= rec['t_end'] + 0.5
                    and h['reason'].startswith('primary')]
        if mine:
            h = mine[-1]
            rec['udp_handoff'] = {k: h[k] for k in (
                'from', 'to', 'state', 'duration_ms', 'seen')}
        if durs:
            # What the poll saw (the controller shows the last 64 moves).
            rec['handoff_ms'] = {'seen': len(durs),
                                 'median': durs[len(durs) // 2],
                                 'max': durs[-1]}
        mism = {n: (v, targets.get(n)) for n, v in
                rec['controller_ideal_after'].items()
                if n in targets and v != targets[n]}
        if mism:
            rec['ideal_mismatch'] = mism
            self.warnings.append(
                'step %d: the controller\'s IDEAL differs from rendezvous '
                'hashing over %s: %s' % (i, ', '.join(step.pool_after),
                                         mism))
        if t_conv is not None:
            self.events.append((t_conv, 'converged'))
        self.say('step %d: %s; moved %d buckets (ideal %d, required %d)%s'
                 % (i, 'converged in %.2f s' % (t_conv - t) if t_conv
                    else 'NOT converged in %g s' % self.args.converge_timeout,
                    rec['moved'], rec['ideal'], rec['required'],
                    ', settled in %.2f s' % (t_settled - t) if t_settled
                    else ', not settled'))
        return rec

    def step_rec(self, step):
        step.rec.update(kind=step.kind, instances=step.names,
                        pool_after=step.pool_after, label=step.label())
        if step.how:
            step.rec['how'] = step.how
        return step.rec

    def run(self, t0):
        self.sample_agents(first=True)
        time.sleep(max(0.0, t0 + self.args.at - time.time()))
        for i, step in enumerate(self.steps, 1):
            self.run_step(i, step)
            if i < len(self.steps):
                time.sleep(self.args.step_gap)
        recs = [s.rec for s in self.steps]
        return recs

    def finish(self):
        """Per step, the TCP segments retransmitted from its start to the
        next step's (the last: to the end of the traffic)."""
        self.sample_agents()
        recs = [s.rec for s in self.steps]
        for a, b in zip(recs, recs[1:] + [None]):
            end = b['retrans_before'] if b else self.retrans_end
            if a.get('retrans_before') is not None and end is not None:
                a['tcp_retrans'] = end - a['retrans_before']


# --------------------------------------------------------------------------
# Analysis

def udp_lost_seqs(recv, sender):
    """The sequence numbers sent but never received, with an estimate of
    their send time (the sender keeps a fixed rate)."""
    got = set(recv['seq'])
    rate, start = sender['rate'], sender['start']
    return [(s, start + s / rate) for s in range(sender['sent'])
            if s not in got]


def udp_lost_times(recv, sender, t_ref):
    """The estimated send times (seconds from t_ref) of the UDP packets
    lost."""
    if not recv or not sender:
        return []
    return [round(t - t_ref, 3) for _s, t in udp_lost_seqs(recv, sender)]


def step_losses(steps, recv, sender, results, t_ref, margin=0.5):
    """Adds to each step record the UDP packets lost while it ran (from
    its start, before a scale-out's new port, to its end or to the removal
    of a scale-in's ports, plus 'margin' s) and while its handoffs ran
    (from the reload or the command until it settled), the longest UDP
    gap while it ran, and the longest stall (100 ms bins with no echo) of
    the TCP connections whose bucket it moved."""
    lost = udp_lost_seqs(recv, sender) if recv and sender else []
    arr = sorted(recv['recv']) if recv else []
    conns = {}
    for r in results:
        for c in r['conns']:
            conns[c['sport']] = (r['start'], r['bin'], c['bins'])
    for s in steps:
        # From the step's start (a scale-out's port and agent come before
        # the reload) to its end.
        a = s.get('t_begin', s['t_action'])
        b = max(s['t_end'], s.get('t_ports_removed', 0)) + margin
        if recv:
            s['udp_lost'] = sum(1 for _q, t in lost if a <= t <= b)
            s['udp_lost_handoffs'] = sum(1 for _q, t in lost
                                         if s['t_action'] <= t <= s['t_end'])
            gap = 0.0
            inside = [t for t in arr if a - 0.05 <= t <= b]
            for x, y in zip(inside, inside[1:]):
                gap = max(gap, y - x)
            s['udp_gap_ms'] = round(gap * 1000, 1)
        stall = 0
        for sp in s.get('tcp_moved_sports', []):
            if sp not in conns:
                continue
            start, binw, bins = conns[sp]
            run_ = 0
            for k, n in enumerate(bins):
                t = start + k * binw
                if t < a or t > b:
                    run_ = 0
                    continue
                run_ = run_ + 1 if n == 0 else 0
                stall = max(stall, run_)
        s['tcp_moved_longest_stall_ms'] = stall * 100
        s['at_s'] = round(a - t_ref, 3)


def shares_series(poller, t_ref, n_buckets):
    """{instance: [(seconds, % of buckets as primary)]}, and the same of
    the controller's IDEAL column when it has one."""
    prim, ideal = {}, {}
    for t, rows in poller.samples:
        for n, r in rows.items():
            if isinstance(r.get('primary'), int):
                prim.setdefault(n, []).append(
                    (round(t - t_ref, 3), 100.0 * r['primary'] / n_buckets))
            if isinstance(r.get('ideal'), int):
                ideal.setdefault(n, []).append(
                    (round(t - t_ref, 3), 100.0 * r['ideal'] / n_buckets))
    return prim, ideal


def plot_shares(result, poller, t_ref, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    el = result['elastic']
    prim, ideal = shares_series(poller, t_ref, el['buckets'])
    fig, ax = plt.subplots(2, 1, figsize=(9, 6), sharex=True,
                           gridspec_kw={'height_ratios': [3, 1.3]})
    for k, name in enumerate(sorted(prim, key=lambda n: (len(n), n))):
        color = 'C%d' % (k % 10)
        xs, ys = zip(*prim[name])
        ax[0].step(xs, ys, where='post', color=color, label=name)
        if name in ideal:
            xs, ys = zip(*ideal[name])
            ax[0].step(xs, ys, where='post', color=color, linestyle=':',
                       linewidth=1)
    if not ideal:
        # No IDEAL column: the rendezvous shares computed here, per step.
        names = sorted(prim, key=lambda n: (len(n), n))
        end = max((x for v in prim.values() for x, _ in v), default=0)
        phases = [(0.0, el['initial_targets'])] + [
            (s['t_action'], s['targets']) for s in el['steps']]
        for k, name in enumerate(names):
            xs, ys = [], []
            for (t, tg), nxt in zip(phases, phases[1:] + [(end, None)]):
                if name in tg:
                    xs += [t, nxt[0]]
                    ys += [100.0 * tg[name] / el['buckets']] * 2
                else:
                    xs += [t, nxt[0]]
                    ys += [float('nan')] * 2
            ax[0].plot(xs, ys, color='C%d' % (k % 10), linestyle=':',
                       linewidth=1)
    ax[0].set_ylabel('primaries, %% of %d buckets\n(dotted: %s)'
                     % (el['buckets'], 'IDEAL' if ideal
                        else 'rendezvous share'))
    ax[0].set_ylim(bottom=0)
    ax[0].legend(fontsize=8, loc='upper right', ncol=2)
    hs = poller.handoff_samples
    if hs and any(h.get('in_progress') is not None for _, h in hs):
        xs = [round(t - t_ref, 3) for t, _ in hs]
        ax[1].step(xs, [h.get('in_progress') or 0 for _, h in hs],
                   where='post', color='C1')
        ax[1].set_ylabel('handoffs\nin progress')
    else:
        series = result.get('throughput') or []
        if series:
            xs, ys = zip(*series)
            ax[1].step(xs, [y / 1000 for y in ys], where='post', color='C0')
        ax[1].set_ylabel('TCP echoed\nkB/s')
    ax[1].set_ylim(bottom=0)
    ax[1].set_xlabel('seconds')
    for t, label in result['event']['timeline']:
        conv = label == 'converged'
        for a in ax:
            a.axvline(t, color='C2' if conv else 'C3',
                      linestyle=':' if conv else '--', linewidth=1)
        if not conv:
            ax[0].annotate(label, (t, 0), xytext=(3, 4),
                           textcoords='offset points', color='C3',
                           fontsize=8, rotation=90)
    t = result['tcp']
    ax[0].set_title('%s: %d/%d TCP connections survived, %s' % (
        result['name'], t['survived'], t['n'],
        'converged' if el['converged'] else 'NOT converged'), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def step_table(el, out):
    """Prints one line per step."""
    cols = ('step', 'moved', 'ideal', 'required', 'handoffs', 'converged',
            'settled', 'UDP lost', 'UDP gap', 'TCP moved', 'stall',
            'retrans')
    rows = []
    for s in el['steps']:
        ho = ('%s/%s' % (s.get('handoffs_done', '-'),
                         s.get('handoffs_abandoned', '-'))
              if 'handoffs_done' in s else '-')
        rows.append((
            s['label'], str(s['moved']), str(s['ideal']), str(s['required']),
            ho, '%.2f s' % s['converge_s'] if s['converged'] else 'NO',
            '%.2f s' % s['settle_s'] if s['settled'] else 'no',
            '%s (%s)%s' % (s.get('udp_lost_handoffs', '-'),
                           s.get('udp_lost', '-'),
                           '*' if s.get('udp_moved') else ''),
            '%s ms' % s['udp_gap_ms'] if 'udp_gap_ms' in s else '-',
            str(len(s.get('tcp_moved_sports', []))),
            '%d ms' % s['tcp_moved_longest_stall_ms'],
            str(s.get('tcp_retrans', '-'))))
    w = [max(len(c), *(len(r[k]) for r in rows)) for k, c in enumerate(cols)]
    out.write('\n' + '  '.join('%-*s' % (w[k], c) for k, c in enumerate(cols))
              + '\n')
    for r in rows:
        out.write('  '.join('%-*s' % (w[k], v) for k, v in enumerate(r))
                  + '\n')
    out.write(
        '(moved: buckets whose primary changed; ideal: for added instances '
        'the buckets\n'
        ' they win, for removed ones the primaries they held; required: '
        'buckets whose\n'
        ' primary differs from rendezvous hashing over the new pool; '
        'handoffs: done/\n'
        ' abandoned; converged: every instance within 10 % of its share; '
        'settled:\n'
        ' exactly, none in progress; UDP lost: while the handoffs ran (in '
        'the whole\n'
        ' step, ports added and removed included), * the stream\'s bucket '
        'moved; TCP\n'
        ' moved: connections whose bucket moved, stall: their longest run '
        'of empty\n'
        ' 100 ms bins; retrans: TCP segments retransmitted by client and '
        'server)\n')
