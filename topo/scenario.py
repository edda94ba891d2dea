#!/usr/bin/python3
"""sfmesh failure scenarios: a topology under traffic, one failure, and a
report of what the failure cost.

Traffic: N TCP connections that each send a chunk every few milliseconds
and read it back (an echo server on the server host), and one UDP stream
of sequence-numbered packets at a fixed rate, whose source port is chosen
so that it crosses the failing instance.  At --at seconds, the failure:

  link     the instance's link goes down (OVS fails over by itself)
  kill     its agent gets SIGKILL (the controller sees the channel close)
  hang     its agent gets SIGSTOP (the controller misses its heartbeats);
           it gets SIGCONT once the traffic is over
  flap     its link (the switch's end) goes down and up again,
           --flap-count times, --flap-down seconds down and --flap-up up
           (tests/linkflap.c keeps millisecond downs to the millisecond;
           the report gives the downs it measured and what the
           controller's log shows of each)
  disable  sfmesh-ctl disable (planned maintenance)
  fabric-link
           a link between two switches of the fabric goes down (--link;
           with --spines 2 the controller moves the paths to the other
           spine)
  host     (--topo multihost) the instance's whole host dies: its
           ovs-vswitchd, its ovsdb-server and the agents of all its
           instances get SIGKILL at once (the other hosts' BFD takes the
           tunnels to it down; the controller sees the channels close)
  none     no failure (a baseline)

Elastic pools (topo/elastic.py): the pool of one service (--service, the
chain's last by default) changes under traffic, and the controller moves
buckets by make-before-break handoffs:

  scale-out  --add N new instances (hosts, ports and agents made at run
             time), added to the configuration, SIGHUP
  scale-in   --instance removed from the configuration, SIGHUP; its agent
             and host stop once it has left the map
  drain      sfmesh-ctl drain, then (once it holds nothing) enable
  rebalance  the instance fails (--fail-by kill or link) and comes back
             after --down-for seconds; it must get its share back
  --sizes 3,4,5,3
             the pool through these sizes, one step at a time (the newest
             instances are the first removed); the first size is the
             service's size at the start

After each step the runner waits until every instance of the pool holds
within 10 % of its rendezvous share of primaries (converged) and then
exactly its share with no handoff in progress (settled).  The report adds
per step: buckets moved against the ideal (for added instances the
buckets they win, for removed ones the primaries they held), handoffs,
the time to converge, UDP packets lost (the UDP stream is put on a bucket
that moves in as many steps as possible), and DIR/shares.png, the share
of primaries of each instance over time.  The traffic runs until the
last step has settled, plus --tail seconds (unless --duration is given).

The default instance is the primary, in the chain's last service, of the
most TCP connections.  The report: TCP connections surviving out of N,
bytes per connection before and after the event, the UDP stream's longest
gap and packets lost, the detection path the controller's log shows, and
the service maps' epochs before and after.  It is printed as a table and
written to DIR/result.json, with a plot of throughput over time in
DIR/throughput.png and the logs in DIR/logs/.

With --function counter (every agent counts each stream's packets per
direction, every packet a replicated state change), --udp-streams UDP
streams with an echo (25 by default; each end counts them) run beside the
rest, and once the traffic has stopped and the controller and replication
are at rest, every agent's per-stream counters are read and checked (see
topo/counters.py): per stream and service, the bucket's primary and
secondary must hold the same counts, and along the chain a packet counted
by a later service (or received by an end) must have been counted by the
earlier one; a count below that is a lost increment.  The report gives
the streams checked, those with lost increments, the worst loss and the
streams whose primary and secondary disagree, each such stream by name.

    topo/scenario.py --function counter --failure flap --flap-count 10 \
        --flap-down 0.005 --flap-up 0.2

    topo/scenario.py                          chain, kill, async
    topo/scenario.py --failure hang --replication sync
    topo/scenario.py --failure link --instance fw-2 --at 2 --duration 6
    topo/scenario.py --topo fabric --instance dlp-2   across a leaf-spine
    topo/scenario.py --topo fabric --spines 2 --failure fabric-link
    topo/scenario.py --topo multihost --failure kill   across hosts
    topo/scenario.py --topo multihost --failure host   host h3 dies
    topo/scenario.py --cli                    the Mininet CLI afterwards
    topo/scenario.py --failure scale-out      a dlp instance more
    topo/scenario.py --sizes 3,4,5,3 --connections 100
    topo/scenario.py --failure rebalance --fail-by link

Exit status: 0 when the scenario ran (with --check: and every TCP
connection survived, the UDP stream resumed, for the elastic scenarios
every step converged, and with --function counter no stream lost an
increment and every primary and secondary agree), 1 when not.
"""

import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sfmesh_topo as st  # noqa: E402
import elastic  # noqa: E402
import counters  # noqa: E402

TRAFFIC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'traffic.py')
TCP_PORT, UDP_PORT, ECHO_PORT = 5001, 5002, 5003
FIRST_SPORT, FIRST_UDP_SPORT, FIRST_ECHO_SPORT = 41000, 50000, 52000
# The share of the counted UDP streams put on buckets whose primary, in
# the failing instance's service, is that instance.
ECHO_VIA_VICTIM = 0.4
LINKFLAP_SRC = os.path.join(st.TOP, 'tests', 'linkflap.c')
LINKFLAP = os.path.join(st.TOP, 'build', 'tests', 'linkflap')
FAILURES = ('link', 'kill', 'hang', 'flap', 'disable', 'fabric-link',
            'host', 'none', 'scale-out', 'scale-in', 'drain', 'rebalance')
# The elastic-pool scenarios ('scale' is --sizes).
ELASTIC = ('scale-out', 'scale-in', 'drain', 'rebalance', 'scale')


def options():
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a('--topo', choices=sorted(st.TOPOS), default='chain')
    a('--failure', choices=FAILURES,
      help='what happens (default kill; see above)')
    a('--instance', metavar='NAME',
      help='the instance that fails (default: the primary of the most TCP '
      'connections in the last service of the chain)')
    a('--link', metavar='PORT',
      help='the link that fails with --failure fabric-link, named by its '
      'port on a switch (default lf2-sp1, the server leaf\'s link to the '
      'first spine)')
    a('--spines', type=int, default=1, metavar='N', choices=range(1, 5),
      help='spines of the fabric topology, each linked to both leaves '
      '(1 to 4, default 1)')
    a('--hosts', type=int, metavar='N',
      help='hosts of the multihost topology, each its own OVS (2 to %d, '
      'default 3)' % st.MAX_HOSTS)
    a('--at', type=float, default=3.0, metavar='SECONDS',
      help='when the failure happens, from the start of the traffic '
      '(default 3)')
    a('--duration', type=float, metavar='SECONDS',
      help='how long the traffic runs (default 10; elastic scenarios: '
      'until the last step has settled, plus --tail)')
    a('--replication', choices=('async', 'sync', 'off'), default='async')
    a('--function', choices=('stateful-fw', 'counter'),
      default='stateful-fw', help='service function of the agents')
    a('--connections', type=int, default=24, metavar='N',
      help='TCP connections (default 24)')
    a('--tcp-chunk', type=int, default=1024, metavar='BYTES',
      help='bytes each connection sends per interval (default 1024)')
    a('--tcp-interval', type=float, default=0.02, metavar='SECONDS',
      help='interval between sends (default 0.02)')
    a('--udp-rate', type=float, default=2000, metavar='PPS',
      help='packets per second of the UDP stream (default 2000; 0: none)')
    a('--udp-streams', type=int, metavar='N',
      help='counted UDP streams with an echo, each counted by its sender, '
      'the echo server and the sender again (default 25 with --function '
      'counter, else 0); %d%%%% of them on buckets of the failing '
      'instance' % int(ECHO_VIA_VICTIM * 100))
    a('--udp-stream-rate', type=float, default=100, metavar='PPS',
      help='packets per second of each counted UDP stream (default 100)')
    a('--flap-count', type=int, default=3,
      help='link downs of a flap (default 3)')
    a('--flap-down', type=float, default=0.3, metavar='SECONDS',
      help='how long each flap keeps the link down (default 0.3; '
      'millisecond downs are kept to within a fraction of a millisecond '
      'by tests/linkflap.c)')
    a('--flap-up', type=float, default=0.7, metavar='SECONDS',
      help='how long it stays up between downs (default 0.7)')
    a('--fw', type=int, default=2, metavar='N',
      help='instances of service fw (default 2)')
    a('--dlp', type=int, default=3, metavar='N',
      help='instances of service dlp (default 3)')
    a('--clients', type=int, default=1, metavar='N',
      help='client hosts sharing the connections (default 1)')
    g = p.add_argument_group('elastic pools')
    e = g.add_argument
    e('--sizes', metavar='N,N,...',
      help='scale the pool of --service through these sizes, one step at '
      'a time (e.g. 3,4,5,3); implies the scenario "scale"')
    e('--service', metavar='NAME',
      help='the service whose pool changes (default the chain\'s last)')
    e('--add', type=int, default=1, metavar='N',
      help='instances a scale-out adds (default 1)')
    e('--fail-by', choices=('kill', 'link'), default='kill',
      help='rebalance: how the instance fails (agent SIGKILL, restarted; '
      'or link down, up again; default kill)')
    e('--down-for', type=float, default=2.0, metavar='SECONDS',
      help='rebalance: how long the instance stays failed (default 2)')
    e('--port-settle', type=float, default=0.5, metavar='SECONDS',
      help='scale-out: time between adding the new ports and starting '
      'their agents and reloading (default 0.5)')
    e('--converge-timeout', type=float, default=30.0, metavar='SECONDS',
      help='how long a step may take to settle (default 30)')
    e('--step-gap', type=float, default=1.0, metavar='SECONDS',
      help='pause between a step settling and the next (default 1)')
    e('--tail', type=float, default=2.0, metavar='SECONDS',
      help='traffic after the last step (default 2)')
    e('--poll', type=float, default=0.15, metavar='SECONDS',
      help='interval of the sfmesh-ctl instances/handoffs poll (0.15)')
    e('--handoff-rate', type=int, metavar='BUCKETS_PER_S',
      help='the configuration\'s handoff rate (default: the controller\'s)')
    e('--handoff-max', type=int, metavar='N',
      help='handoff max_in_progress (default: the controller\'s)')
    e('--handoff-timeout', type=int, metavar='MS',
      help='handoff timeout_ms (default: the controller\'s)')
    e('--handoff-mode', choices=('make-before-break', 'immediate'),
      help='handoff mode (default: the controller\'s)')
    e('--rebalance', choices=('on', 'off'),
      help='the configuration\'s rebalance (default: the controller\'s)')
    a('--out', metavar='DIR',
      help='where to write result.json, throughput.png and logs/ (default '
      'build/scenarios/TOPO-FAILURE-REPLICATION)')
    a('--bin', default=os.path.join(st.TOP, 'build', 'bin'),
      help='where the sfmesh binaries are (default build/bin)')
    a('--check', action='store_true',
      help='exit 1 unless every TCP connection survived and UDP resumed '
      '(and, with --function counter, no stream lost an increment and '
      'every primary and secondary agree)')
    a('--cli', action='store_true',
      help='the Mininet CLI after the scenario, everything still running')
    a('--no-plot', action='store_true', help='no PNG')
    a('--keep', action='store_true', help='keep the temp directory')
    a('-v', '--verbose', action='store_true', help="Mininet's messages")
    args = p.parse_args()
    if args.sizes:
        if args.failure not in (None, 'scale-out', 'scale-in'):
            p.error('--sizes goes with no --failure')
        args.failure = 'scale'
        try:
            args.sizes = [int(x) for x in args.sizes.split(',')]
        except ValueError:
            p.error('--sizes: a comma-separated list of sizes')
        if len(args.sizes) < 2 or min(args.sizes) < 1 or any(
                a == b for a, b in zip(args.sizes, args.sizes[1:])):
            p.error('--sizes: at least two sizes, each at least 1, no '
                    'size twice in a row')
    args.failure = args.failure or 'kill'
    args.elastic = args.failure in ELASTIC
    args.traffic_until_done = args.elastic and args.duration is None
    if args.duration is None:
        # Elastic: an upper bound; the traffic is stopped once done.
        args.duration = 600.0 if args.elastic else 10.0
    if not args.elastic and (args.service or args.add != 1):
        p.error('--service and --add go with the elastic scenarios')
    if args.add < 1:
        p.error('--add must be at least 1')
    if args.failure == 'scale' and args.instance:
        p.error('--sizes picks the instances itself')
    if args.at < 0 or args.duration <= args.at:
        p.error('--at must be within --duration')
    if args.connections < 1:
        p.error('--connections must be at least 1')
    if args.udp_streams is None:
        args.udp_streams = 25 if args.function == 'counter' else 0
    if args.udp_streams < 0 or args.udp_streams > 1000:
        p.error('--udp-streams: 0 to 1000')
    if args.udp_stream_rate <= 0:
        p.error('--udp-stream-rate must be positive')
    if args.flap_count < 1 or args.flap_down < 0 or args.flap_up < 0:
        p.error('--flap-count at least 1, --flap-down and --flap-up not '
                'negative')
    if args.failure == 'fabric-link' and args.topo != 'fabric':
        p.error('--failure fabric-link needs --topo fabric')
    if args.failure == 'fabric-link' and args.instance:
        p.error('--failure fabric-link takes --link, not --instance')
    if args.failure != 'fabric-link' and args.link:
        p.error('--link goes with --failure fabric-link')
    if args.spines != 1 and args.topo != 'fabric':
        p.error('--spines needs --topo fabric')
    if args.hosts is not None and args.topo != 'multihost':
        p.error('--hosts needs --topo multihost')
    if args.hosts is not None and not 2 <= args.hosts <= st.MAX_HOSTS:
        p.error('--hosts: 2 to %d' % st.MAX_HOSTS)
    if args.failure == 'host' and args.topo != 'multihost':
        p.error('--failure host needs --topo multihost')
    if args.topo == 'multihost' and args.clients != 1:
        p.error('the multihost topology takes one client')
    svc = args.service
    if not svc and args.instance and args.elastic:
        # The instance's own service (instances are named SERVICE-N).
        svc = args.instance.rsplit('-', 1)[0]
    svc = svc or st.ServiceChainTopo.SERVICE_NAMES[-1]
    if svc not in st.ServiceChainTopo.SERVICE_NAMES:
        p.error('--service: one of %s'
                % ', '.join(st.ServiceChainTopo.SERVICE_NAMES))
    args.service = svc
    if args.failure == 'scale':
        setattr(args, svc, args.sizes[0])
    if not args.out:
        args.out = os.path.join(st.TOP, 'build', 'scenarios', '%s-%s-%s' % (
            args.topo, args.failure, args.replication))
    args.out = os.path.abspath(args.out)
    return args


def say(msg):
    st.log('== ' + msg)


# --------------------------------------------------------------------------
# Streams and the instances they cross

def stream_paths(tb, flows):
    """For each (client host, flow) the instances it crosses: a dict
    service -> primary, plus 'bucket'."""
    topo = tb.topo
    sw, port = topo.sfm_chain['ingress']
    maps = {svc: tb.map_table(svc) for svc in topo.service_names()}
    out = []
    for _client, flow in flows:
        code = tb.trace_code(sw, port, flow)
        bucket = code & 255
        path = {'bucket': bucket}
        for svc, table in maps.items():
            path[svc] = table[bucket][0]
        out.append(path)
    return out


def counted_streams(args, topo, flows, paths, echo_sports, echo_paths,
                    usport, udp_rec, streams_out, echo_out, udp_recv_out,
                    usend_out):
    """The streams the counter check looks at, with what their ends
    counted: the counted UDP streams (sent, received and echoed by the
    server, echoes received), the one-way UDP stream (sent, received), and
    the TCP connections (no end counts its segments: checked along the
    chain only)."""
    sip = topo.sfm_server[1]
    uip = topo.sfm_clients[0][1]
    out = []

    def add(kind, label, proto, cip, sport, dport, path, **ends):
        key, fwd = counters.stream_key(proto, cip, sport, sip, dport)
        rec = {'kind': kind, 'label': label, 'key': key, 'fwd_lo_hi': fwd,
               'bucket': path['bucket'], 'paths': path}
        rec.update(ends)
        out.append(rec)

    if echo_sports:
        sent = json.load(open(streams_out))['streams']
        srv = json.load(open(echo_out))['streams']
        for sp in echo_sports:
            c, e = sent.get(str(sp), {}), srv.get(str(sp), {})
            add('UDP echo', 'udp %d' % sp, 17, uip, sp, ECHO_PORT,
                echo_paths[sp], sent=c.get('sent', 0),
                server_received=e.get('received', 0),
                server_echoed=e.get('echoed', 0),
                client_received=c.get('echoed_back', 0))
    if args.udp_rate > 0:
        recv = json.load(open(udp_recv_out))
        sender = json.load(open(usend_out))
        ends = {'sent': sender['sent'], 'server_received': len(set(
            recv['seq'])), 'server_echoed': 0, 'client_received': 0}
        add('UDP one-way', 'udp %d one-way' % usport, 17, uip, usport,
            UDP_PORT, udp_rec, **ends)
    for (_c, cip, sport), path in zip(flows, paths):
        add('TCP', 'tcp %d' % sport, 6, cip, sport, TCP_PORT, path)
    return out


def tcp_flows(topo, n):
    """[(client host, client ip, sport)] of the N connections, shared out
    among the clients."""
    clients = topo.sfm_clients
    return [(clients[i % len(clients)][0], clients[i % len(clients)][1],
             FIRST_SPORT + i) for i in range(n)]


# --------------------------------------------------------------------------
# Reading the controller's log

def log_lines(path):
    """[(wall time, text)] of the controller's log."""
    out = []
    for line in open(path, errors='replace'):
        m = re.match(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\|\d+\|'
                     r'([^|]*)\|([^|]*)\|(.*)', line.rstrip('\n'))
        if m:
            t = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%f')
            t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
            out.append((t, '%s|%s|%s' % (m.group(2), m.group(3),
                                         m.group(4))))
    return out


def detection(lines, victim, since):
    """Which path told the controller about the failure of 'victim' after
    wall time 'since': (kind, description, latency in ms, log line)."""
    v = re.escape(victim)
    rules = [
        ('link-reroute', 'a link between switches went down: the '
         'controller recomputed the paths over the other links',
         r'link (\S+:%s - \S+|\S+ - \S+:%s) down' % (v, v)),
        ('agent-channel-lost', 'agent channel lost: the controller fenced '
         'the port (port_mod down)', r'instance %s fenced: agent channel '
         'lost' % v),
        ('heartbeat-timeout', 'no heartbeat: the controller fenced the port '
         '(port_mod down)', r'instance %s fenced: no heartbeat' % v),
        ('operator-disable', 'operator disable (sfmesh-ctl)',
         r'instance %s disabled by the operator' % v),
        ('port-down', 'port status: link down (OVS fast-failover groups '
         'moved the traffic by themselves)',
         r'port \d+ \(%s\) modified: .*not live|instance %s (up|cold) -> '
         'down' % (v, v)),
    ]
    recent = [(t, l) for t, l in lines if t >= since - 0.05]
    for kind, desc, pattern in rules:
        for t, l in recent:
            if re.search(pattern, l):
                return kind, desc, round((t - since) * 1000, 1), l
    return 'none', 'nothing in the controller log', None, None


def links_down(lines, switch, since):
    """The controller's log lines, after wall time 'since', of links of
    'switch' going down (a dead host's tunnels, which the other hosts'
    BFD takes down): [(ms after 'since', line)]."""
    sw = re.escape(switch)
    pattern = re.compile(r'link (%s:\S+ - \S+|\S+ - %s:\S+) down'
                         % (sw, sw))
    return [(round((t - since) * 1000, 1), l) for t, l in lines
            if t >= since - 0.05 and pattern.search(l)]


# --------------------------------------------------------------------------
# The failure

def inject(tb, args, victim, events):
    """Makes 'victim' (an instance, or for fabric-link the port of a link
    between switches) fail as args.failure says, noting what it did and
    when in 'events'."""
    if args.failure == 'fabric-link':
        port = victim
        switch = [sw for link in tb.topo.sfm_links for sw, p in link
                  if p == victim][0]
    else:
        port = tb.topo.instance(victim)['port']
        switch = tb.topo.instance(victim)['switch']
    now = time.time

    def link(state):
        tb.set_port(switch, port, state)

    if args.failure == 'host':
        host = tb.topo.host_of(victim)
        events.append((now(), 'host %s killed' % host))
        killed = tb.kill_host(host)
        say('killed host %s: its OVS and the agents of %s'
            % (host, ', '.join(killed)))
    elif args.failure in ('link', 'fabric-link'):
        events.append((now(), 'link down'))
        link('down')
    elif args.failure == 'kill':
        events.append((now(), 'SIGKILL'))
        os.kill(tb.agent_pids[victim], signal.SIGKILL)
    elif args.failure == 'hang':
        events.append((now(), 'SIGSTOP'))
        os.kill(tb.agent_pids[victim], signal.SIGSTOP)
    elif args.failure == 'flap':
        # One process does every flap: "ip link set" twice around a Python
        # sleep kept a "5 ms" down 8 to 12 ms on an idle machine.
        r = subprocess.run(tb.port_cmd(switch, [
            linkflap(tb), port, str(args.flap_count), repr(args.flap_down),
            repr(args.flap_up)]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=args.flap_count * (
                               args.flap_down + args.flap_up) + 30)
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) == 12 and f[0] == 'flap':
                v = {f[k]: int(f[k + 1]) for k in range(2, 12, 2)}
                events.append((v['down_done'] / 1e9, 'link down'))
                events.append((v['up_done'] / 1e9, 'link up'))
                tb.flaps.append({
                    'down_call': v['down_call'] / 1e9,
                    'down_done': v['down_done'] / 1e9,
                    'up_call': v['up_call'] / 1e9,
                    'up_done': v['up_done'] / 1e9,
                    'down_ms': round(v['down_ns'] / 1e6, 3)})
        if r.returncode != 0:
            raise RuntimeError('linkflap %s failed (%d): %s' % (
                port, r.returncode, r.stderr.strip()))
    elif args.failure == 'disable':
        events.append((now(), 'disable'))
        r = subprocess.run([os.path.join(tb.bin, 'sfmesh-ctl'), '-t',
                            tb.ctl_path, 'disable', victim],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if r.returncode != 0:
            # Refused (the secondaries do not hold the state, e.g. with
            # replication off): say so, and force it.
            events.append((now(), 'disable --force'))
            say('disable refused: %s; forcing' % r.stdout.strip())
            tb.ctl('disable', victim, '--force')


def linkflap(tb):
    """The link flapper (make builds build/tests/linkflap; if it is not
    there or older than its source, it is compiled into the run's temp
    directory)."""
    if (os.path.exists(LINKFLAP) and os.path.getmtime(LINKFLAP)
            >= os.path.getmtime(LINKFLAP_SRC)):
        return LINKFLAP
    out = tb.path('linkflap')
    if not os.path.exists(out):
        st.run(['gcc', '-std=gnu11', '-O2', '-D_GNU_SOURCE', '-Wall',
                '-Wextra', '-o', out, LINKFLAP_SRC])
    return out


def flap_report(flaps, lines, victim):
    """What the flaps were (tests/linkflap.c's times: how long each kept
    the link down) and what the controller's log shows of them: each
    report of the switch that the port is not live, then live again (a
    flap OVS notices gives one such report; one it does not, none), how
    long the controller saw it not live, the first bundle it sent that
    switch after hearing (the groups rewritten without the instance), and
    whether the port was live again before that bundle left (OVS's
    fast-failover groups are revertive: until the rewrite arrives, the
    instance's buckets go straight back to it).  The times are when the
    controller read the reports; on a busy machine OVS and the controller
    lag the link by tens, at times hundreds, of milliseconds, so a report
    is not matched to a flap, but 'lag_ms' gives its distance from the
    latest flap before it, and 'link_up_before_rewrite' whether that
    flap's link was up again when the rewrite left (then the switch may
    have sent the buckets back to the instance before the rewrite came;
    'live_before_rewrite': it certainly did, having said so first)."""
    v = re.escape(victim)
    down_re = re.compile(r'^ofconn\|[^|]*\|(\S+): port \d+ \(%s\) '
                         r'modified: .*not live' % v)
    up_re = re.compile(r'^ofconn\|[^|]*\|(\S+): port \d+ \(%s\) '
                       r'modified: up, live' % v)
    out = {'downs': [{k: f[k] for k in ('down_done', 'up_done', 'down_ms')}
                     for f in flaps], 'reports': []}
    if not flaps:
        return out
    t0 = flaps[0]['down_call'] - 0.001     # the log has 1 ms resolution
    t1 = flaps[-1]['up_done'] + 3.0
    mine = [(t, l) for t, l in lines if t0 <= t < t1]
    cur = None
    for k, (t, l) in enumerate(mine):
        m = down_re.match(l)
        if m and cur is None:
            before = [f for f in flaps if f['down_done'] <= t + 0.001]
            cur = {'at': t, 'conn': m.group(1), 'i_down': k, 'i_up': None,
                   'flap': before[-1] if before else None,
                   'lag_ms': round((t - before[-1]['down_done']) * 1000, 1)
                   if before else None,
                   'not_live_ms': None, 'rewrite_ms': None,
                   'link_up_before_rewrite': None,
                   'live_before_rewrite': None}
            out['reports'].append(cur)
        elif cur is not None and up_re.match(l):
            cur['i_up'] = k
            cur['not_live_ms'] = round((t - cur['at']) * 1000, 1)
            cur = None
    for r in out['reports']:
        i_down, i_up, flap = r.pop('i_down'), r.pop('i_up'), r.pop('flap')
        i_bundle = None
        for k in range(i_down + 1, len(mine)):
            t, l = mine[k]
            if (l.startswith('reconcile|')
                    and ('|%s: bundle ' % r['conn']) in l):
                i_bundle = k
                r['rewrite_ms'] = round((t - r['at']) * 1000, 1)
                if flap:
                    # The latest flap before the report: if the report
                    # belongs to an earlier one, its link was up earlier.
                    r['link_up_before_rewrite'] = t > flap['up_done']
                break
        if i_up is not None:
            # In the log's order (its times have 1 ms resolution).
            r['live_before_rewrite'] = i_bundle is None or i_up < i_bundle
        r['at'] = round(r['at'] - flaps[0]['down_done'], 3)
    return out


def flap_rows(fr):
    """The report's lines about the flaps."""
    def span(xs):
        xs = sorted(x for x in xs if x is not None)
        if not xs:
            return '-'
        med = xs[len(xs) // 2]
        return ('%.1f ms' % med if len(xs) == 1 else
                '%.1f ms (%.1f to %.1f)' % (med, xs[0], xs[-1]))
    downs, reps = fr['downs'], fr['reports']
    return [
        ('flaps', '%d, link down %s' % (
            len(downs), span([d['down_ms'] for d in downs]))),
        ('  reported by the switch', '%d, not live for %s, %s after a '
         'flap' % (len(reps), span([r['not_live_ms'] for r in reps]),
                   span([r['lag_ms'] for r in reps]))),
        ('  groups rewritten after', '%s; by then the link up again: %d of '
         '%d, the port reported live: %d' % (
             span([r['rewrite_ms'] for r in reps]),
             sum(1 for r in reps if r['link_up_before_rewrite']), len(reps),
             sum(1 for r in reps if r['live_before_rewrite']))),
    ]


# --------------------------------------------------------------------------
# Analysis

def analyse_tcp(results, t_event, t_ref):
    conns = []
    for r in results:
        for c in r['conns']:
            c = dict(c)
            c['start'] = r['start']
            conns.append(c)
    before, after = [], []
    for c in conns:
        b = a = 0
        for i, n in enumerate(c['bins']):
            if c['start'] + i * c_bin(results) < t_event:
                b += n
            else:
                a += n
        before.append(b)
        after.append(a)
        c['bytes_before'], c['bytes_after'] = b, a
    survived = [c for c in conns if c['survived']]
    return {
        'n': len(conns), 'survived': len(survived),
        'failed': sorted(c['sport'] for c in conns if not c['survived']),
        'max_gap_ms_survivors': max((c['max_gap_ms'] for c in survived),
                                    default=None),
        'bytes_before': before, 'bytes_after': after,
        'conns': [{k: c[k] for k in ('sport', 'sent', 'got', 'max_gap_ms',
                                     'survived', 'closed', 'bytes_before',
                                     'bytes_after')} for c in conns],
    }


def longest_stalls(results, t_ref):
    """{sport: (start in seconds from t_ref, length in seconds)} of each
    connection's longest run of 100 ms bins without an echo, while it
    sent."""
    out = {}
    for r in results:
        last = int(r['seconds'] / r['bin'])
        for c in r['conns']:
            best, run_, start = (None, 0), 0, None
            for i, n in enumerate(c['bins'][:last]):
                if n == 0:
                    if run_ == 0:
                        start = i
                    run_ += 1
                    if run_ > best[1]:
                        best = (start, run_)
                else:
                    run_ = 0
            if best[0] is not None:
                out[c['sport']] = (round(r['start'] - t_ref
                                         + best[0] * r['bin'], 1),
                                   round(best[1] * r['bin'], 1))
    return out


def c_bin(results):
    return results[0]['bin'] if results else 0.1


def throughput_series(results, t_ref):
    """[(seconds from t_ref, bytes per second)] summed over connections, in
    the clients' 100 ms bins."""
    b = c_bin(results)
    total = {}
    for r in results:
        off = int(round((r['start'] - t_ref) / b))
        for c in r['conns']:
            for i, n in enumerate(c['bins']):
                total[i + off] = total.get(i + off, 0) + n
    if not total:
        return []
    return [(i * b, total.get(i, 0) / b) for i in range(max(total) + 1)]


def analyse_udp(recv, sender, t_event):
    if not sender:
        return None
    seqs, times = recv['seq'], recv['recv']
    order = sorted(range(len(times)), key=times.__getitem__)
    arr = [times[i] for i in order]
    unique = len(set(seqs))
    res = {'sent': sender['sent'], 'received': unique,
           'lost': max(0, sender['sent'] - unique),
           'rate': sender['rate']}
    gap, gap_at, base = 0.0, None, 0.0
    for i in range(1, len(arr)):
        d = arr[i] - arr[i - 1]
        if arr[i] >= t_event - 0.2:
            if d > gap:
                gap, gap_at = d, arr[i - 1]
        elif d > base:
            base = d
    res['gap_ms'] = round(gap * 1000, 1)
    res['gap_starts_s_after_event'] = (round(gap_at - t_event, 3)
                                       if gap_at else None)
    res['max_gap_before_ms'] = round(base * 1000, 1)
    res['received_after_event'] = sum(1 for t in arr if t > t_event)
    last_sent = max(recv['sent']) if recv['sent'] else 0
    res['resumed'] = bool(arr) and last_sent >= sender['end'] - 0.5
    return res


def udp_series(recv, t_ref, b=0.1):
    total = {}
    for t in recv['recv']:
        i = int((t - t_ref) / b)
        total[i] = total.get(i, 0) + 1
    if not total:
        return []
    return [(i * b, total.get(i, 0) / b) for i in range(max(total) + 1)]


def fmt_bytes(n):
    if n is None:
        return '-'
    for unit in ('B', 'kB', 'MB', 'GB'):
        if abs(n) < 1000 or unit == 'GB':
            return ('%.0f %s' if unit == 'B' else '%.1f %s') % (n, unit)
        n /= 1000.0


def table_rows(r):
    """[(label, value)] of a result, for the tables."""
    t, u, d = r['tcp'], r.get('udp'), r['detection']
    ev = r['event']
    rows = [
        ('failure', '%s %s at %.1f s' % (
            ev['failure'], '%s (%s)' % (r['host']['host'], ', '.join(
                r['host']['instances'])) if r.get('host') else ev['instance'],
            ev['at'])),
        ('replication', '%s (%s)' % (r['replication'], r['function'])),
        ('TCP connections surviving', '%d / %d' % (t['survived'], t['n'])),
        (r.get('affected_label') or (
            '  with its instances as primary' if r.get('host')
            else '  with the instance as primary' if ev.get('service')
            else '  from leaf to leaf'), '%d' % r['affected']),
        ('  longest pause (survivors)', '%s ms' % t['max_gap_ms_survivors']
         if t['max_gap_ms_survivors'] is not None else '-'),
        ('TCP bytes/conn before event', '%s (mean)' % fmt_bytes(
            sum(t['bytes_before']) / t['n'])),
        ('TCP bytes/conn after event', '%s (mean), %s (min)' % (
            fmt_bytes(sum(t['bytes_after']) / t['n']),
            fmt_bytes(min(t['bytes_after'])))),
    ]
    if u:
        rows += [
            ('UDP stream', '%d pps via %s' % (u['rate'], r['udp_path'])),
            ('UDP longest gap', '%.1f ms (%.1f ms before the event)'
             % (u['gap_ms'], u['max_gap_before_ms'])),
            ('UDP packets lost', '%d of %d' % (u['lost'], u['sent'])),
            ('UDP resumed', 'yes' if u['resumed'] else 'NO'),
        ]
    if r.get('flaps'):
        rows += flap_rows(r['flaps'])
    if r.get('counters'):
        rows += counters.table_rows(r['counters'])
    el = r.get('elastic')
    if el:
        for k, step in enumerate(el['steps'], 1):
            rows.append(('step %d: %s' % (k, step['label']),
                         'moved %d (ideal %d), %s' % (
                             step['moved'], step['ideal'],
                             'converged in %.2f s' % step['converge_s']
                             if step['converged'] else 'NOT converged')))
    h = r.get('host')
    if h:
        downs = [ms for ms, _ in h['links_down']]
        rows.append(('tunnels to %s down' % h['host'], '%d of %d%s' % (
            len(set(l for _, l in h['links_down'])), h['links'],
            ', %.0f to %.0f ms after the event (BFD)'
            % (min(downs), max(downs)) if downs else '')))
    if d['latency_ms'] is not None:
        # The log's clock has millisecond resolution.
        rows.append(('detection', '%s, %s after the event' % (
            d['kind'], '< 1 ms' if d['latency_ms'] < 1
            else '%.0f ms' % d['latency_ms'])))
    else:
        rows.append(('detection', d['kind']))
    for svc, (a, b) in r['epochs'].items():
        rows.append(('map epoch %s' % svc, '%s -> %s' % (a, b)))
    rows.append(('verdict', r['verdict']))
    return rows


def print_table(r, out=sys.stdout):
    rows = table_rows(r)
    w = max(len(k) for k, _ in rows)
    title = 'sfmesh scenario: %s' % r['name']
    out.write('\n%s\n%s\n' % (title, '-' * len(title)))
    for k, v in rows:
        out.write('%-*s  %s\n' % (w, k, v))


def plot(r, tcp_series, udp_ser, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    if tcp_series:
        xs, ys = zip(*tcp_series)
        ax[0].step(xs, [y / 1000 for y in ys], where='post', color='C0')
    ax[0].set_ylabel('TCP echoed, kB/s\n(sum of %d conns)' % r['tcp']['n'])
    ax[0].set_ylim(bottom=0)
    if udp_ser:
        xs, ys = zip(*udp_ser)
        ax[1].step(xs, ys, where='post', color='C2')
    ax[1].set_ylabel('UDP received, pps')
    ax[1].set_ylim(bottom=0)
    ax[1].set_xlabel('seconds (100 ms bins)')
    marks = [(t, l) for t, l in r['event']['timeline'] if l != 'converged']
    for i, (t, label) in enumerate(marks):
        for a in ax:
            a.axvline(t, color='C3', linestyle='--', linewidth=1)
        if i < 4 or r.get('elastic'):
            ax[0].annotate(label, (t, 0), xytext=(3, 4),
                           textcoords='offset points', color='C3',
                           fontsize=8)
    t = r['tcp']
    ax[0].set_title('%s: %d/%d TCP connections survived' % (
        r['name'], t['survived'], t['n']), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------

def run(args):
    topo = st.make_topo(args.topo, args.fw, args.dlp, args.clients,
                        args.spines, args.hosts)
    name = '%s, %s, replication %s' % (args.topo, args.failure,
                                       args.replication)
    if args.elastic:
        name = '%s, %s %s, replication %s' % (
            args.topo, args.failure, ','.join(map(str, args.sizes))
            if args.failure == 'scale' else args.service, args.replication)
    tb = st.make_testbed(topo, name='scenario-%s' % args.topo,
                         bin_dir=args.bin, replication=args.replication,
                         function=args.function, keep=args.keep,
                         verbose=args.verbose,
                         config_extra=config_extra(args))
    try:
        tb.start()
        return scenario(tb, args, name)
    finally:
        try:
            if tb.tmp and os.path.isdir(tb.tmp):
                tb.save_logs(os.path.join(args.out, 'logs'))
        finally:
            tb.stop()


def config_extra(args):
    """The handoff and rebalance lines of the configuration, when options
    ask for them (else the configuration is the topology's, unchanged)."""
    ho = []
    for key, val in (('rate', args.handoff_rate),
                     ('max_in_progress', args.handoff_max),
                     ('timeout_ms', args.handoff_timeout),
                     ('mode', args.handoff_mode)):
        if val is not None:
            ho.append('%s: %s' % (key, val))
    out = ['handoff: {%s}' % ', '.join(ho)] if ho else []
    if args.rebalance:
        out.append('rebalance: %s' % args.rebalance)
    return out


def scenario(tb, args, name):
    topo = tb.topo
    tb.flaps = []               # what tests/linkflap.c measured
    server, sip = topo.sfm_server
    work = tb.tmp
    last_service = topo.service_names()[-1]

    # Which instances each connection crosses.
    flows = tcp_flows(topo, args.connections)
    paths = stream_paths(tb, [(c, 'tcp,nw_src=%s,nw_dst=%s,tp_src=%d,'
                               'tp_dst=%d' % (ip, sip, sport, TCP_PORT))
                              for c, ip, sport in flows])
    victim = args.instance
    if args.failure == 'fabric-link':
        # Every stream crosses from the client's leaf to the server's.
        victim = args.link or 'lf2-sp1'
        ports = [port for link in topo.sfm_links for _, port in link]
        if victim not in ports:
            raise SystemExit('no link port %s (there are %s)'
                             % (victim, ', '.join(ports)))
        vsvc = None
        affected = [f[2] for f in flows]
        say('the %d TCP connections cross from leaf to leaf; link %s fails'
            % (len(flows), victim))
        if topo.spines < 2:
            say('with one spine, a leaf that loses its link is cut off: '
                'expect the connections to break (--spines 2 gives the '
                'paths another way)')
    elif args.failure in ('scale-out', 'scale'):
        # The pool grows (or changes through sizes): no one instance.
        vsvc = args.service
        victim = None
        affected = []
    else:
        pick = args.service if args.elastic else last_service
        if victim is None:
            counts = {}
            for p in paths:
                counts[p[pick]] = counts.get(p[pick], 0) + 1
            if args.failure == 'host':
                # A host that holds neither end of the chain.
                ends = {topo.host_of('client'), topo.host_of('server')}
                for i in topo.service_instances(pick):
                    if topo.host_of(i['name']) not in ends:
                        counts.setdefault(i['name'], 0)
                counts = {n: c for n, c in counts.items()
                          if topo.host_of(n) not in ends}
                if not counts:
                    raise SystemExit('every host with an instance of %s '
                                     'holds the client or the server: '
                                     'use --hosts 3 or more' % pick)
            victim = sorted(counts.items(),
                            key=lambda kv: (-kv[1], kv[0]))[0][0]
        try:
            vsvc = topo.instance(victim)['service']
        except KeyError:
            raise SystemExit('no instance %s (there are %s)' % (
                victim, ', '.join(i['name'] for i in topo.instances())))
        if args.failure == 'host':
            host = topo.host_of(victim)
            for end in ('client', 'server'):
                if topo.host_of(end) == host:
                    raise SystemExit('host %s of %s holds the %s: its '
                                     'death ends every connection'
                                     % (host, victim, end))
            on_host = set(topo.host_instances(host))
            affected = [f[2] for f, p in zip(flows, paths)
                        if any(p[s_] in on_host
                               for s_ in topo.service_names())]
            say('%d of %d TCP connections have an instance of host %s '
                '(%s) as primary' % (len(affected), len(flows), host,
                                     ', '.join(sorted(on_host))))
        else:
            affected = [f[2] for f, p in zip(flows, paths)
                        if p[vsvc] == victim]
            say('%d of %d TCP connections have %s as %s primary'
                % (len(affected), len(flows), victim, vsvc))

    steps = None
    if args.elastic:
        if victim and victim not in [
                i['name'] for i in topo.service_instances(args.service)]:
            raise SystemExit('%s is not an instance of %s'
                             % (victim, args.service))
        steps = elastic.plan(topo, args.service, args, victim)
        pools = elastic.predicted_pools(topo, args.service, steps)
        say('steps: %s' % '; '.join(s.label() for s in steps))

    # A UDP source port whose stream crosses the victim (elastic: whose
    # bucket moves in as many steps as can be).
    uclient, uip = topo.sfm_clients[0]
    usport = FIRST_UDP_SPORT
    if args.udp_rate > 0 and steps:
        table = tb.map_table(args.service)
        best = (-1, None)
        for sport in range(FIRST_UDP_SPORT, FIRST_UDP_SPORT + 200):
            b = stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                   'udp_src=%d,udp_dst=%d' % (
                                       uip, sip, sport, UDP_PORT))])[0][
                                           'bucket']
            n = elastic.udp_moves(args.service, len(table), b, pools,
                                  table[b][0])
            if n > best[0]:
                best = (n, sport)
            if n == len(steps):
                break
        usport = best[1]
        udp_path = stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                      'udp_src=%d,udp_dst=%d' % (
                                          uip, sip, usport, UDP_PORT))])[0]
        udp_path = ' -> '.join(udp_path[s] for s in topo.service_names())
        say('UDP stream from port %d: its bucket is predicted to move in '
            '%d of %d steps' % (usport, best[0], len(steps)))
    elif args.udp_rate > 0:
        for sport in range(FIRST_UDP_SPORT, FIRST_UDP_SPORT + 200):
            if not vsvc:
                break
            p = stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                   'udp_src=%d,udp_dst=%d' % (uip, sip, sport,
                                                            UDP_PORT))])[0]
            if p[vsvc] == victim:
                usport = sport
                break
        udp_path = stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                      'udp_src=%d,udp_dst=%d' % (
                                          uip, sip, usport, UDP_PORT))])[0]
        udp_path = ' -> '.join(udp_path[s] for s in topo.service_names())
    else:
        udp_path = None

    udp_rec = (stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                  'udp_src=%d,udp_dst=%d' % (
                                      uip, sip, usport, UDP_PORT))])[0]
               if args.udp_rate > 0 else None)

    # The counted UDP streams with an echo: ECHO_VIA_VICTIM of them on
    # buckets whose primary is the failing instance, the rest elsewhere
    # (source ports in order, as they come).
    echo_sports, echo_paths = [], {}
    if args.udp_streams:
        want_v = (int(round(args.udp_streams * ECHO_VIA_VICTIM))
                  if victim and vsvc else 0)
        want_o = args.udp_streams - want_v
        for sport in range(FIRST_ECHO_SPORT, FIRST_ECHO_SPORT + 4000):
            if len(echo_sports) == args.udp_streams:
                break
            if sport - FIRST_ECHO_SPORT >= 40 * args.udp_streams:
                # One kind is missing (a map that gives the failing
                # instance every bucket, or none): take what there is.
                break
            p = stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                   'udp_src=%d,udp_dst=%d' % (
                                       uip, sip, sport, ECHO_PORT))])[0]
            mine = bool(victim and vsvc and p[vsvc] == victim)
            if mine and want_v:
                want_v -= 1
            elif not mine and want_o:
                want_o -= 1
            else:
                continue
            echo_sports.append(sport)
            echo_paths[sport] = p
        say('%d counted UDP streams with an echo (%g pps each)%s' % (
            len(echo_sports), args.udp_stream_rate,
            ', %d of them with %s as %s primary' % (
                sum(1 for p in echo_paths.values() if p[vsvc] == victim),
                victim, vsvc) if victim and vsvc else ''))

    epochs_before = {s: tb.map_epoch(s) for s in topo.service_names()}

    # Traffic.
    ready = os.path.join(work, 'tcp.ready')
    tb.popen(server, [st.PY, TRAFFIC, 'tcp-server', sip, str(TCP_PORT),
                      ready])
    udp_recv_out = os.path.join(work, 'udp-recv.json')
    if args.udp_rate > 0:
        uready = os.path.join(work, 'udp.ready')
        urecv = tb.popen(server, [st.PY, TRAFFIC, 'udp-recv', sip,
                                  str(UDP_PORT), str(args.duration + 15),
                                  uready, udp_recv_out])
        if not st.wait_until(lambda: os.path.exists(uready), 10):
            raise RuntimeError('no UDP receiver')
    if not st.wait_until(lambda: os.path.exists(ready), 10):
        raise RuntimeError('no TCP server')
    echo_out = os.path.join(work, 'udp-echo.json')
    streams_out = os.path.join(work, 'udp-streams.json')
    if echo_sports:
        eready = os.path.join(work, 'echo.ready')
        echo = tb.popen(server, [st.PY, TRAFFIC, 'udp-echo', sip,
                                 str(ECHO_PORT), eready, echo_out])
        if not st.wait_until(lambda: os.path.exists(eready), 10):
            raise RuntimeError('no UDP echo server')
    clients = []
    for i, (host, _ip) in enumerate(topo.sfm_clients):
        mine = [f for f in flows if f[0] == host]
        if not mine:
            continue
        out = os.path.join(work, 'tcp-%s.json' % host)
        # The connections of one client have consecutive source ports.
        p = tb.popen(host, [st.PY, TRAFFIC, 'tcp-client', sip, str(TCP_PORT),
                            str(len(mine)), str(mine[0][2]),
                            str(args.duration), str(args.tcp_chunk),
                            str(args.tcp_interval), out])
        clients.append((p, out))
    usend_out = os.path.join(work, 'udp-send.json')
    if args.udp_rate > 0:
        usend = tb.popen(uclient, [st.PY, TRAFFIC, 'udp-send', sip,
                                   str(UDP_PORT), str(usport),
                                   str(args.udp_rate), str(args.duration),
                                   usend_out])
    if echo_sports:
        ustreams = tb.popen(uclient, [st.PY, TRAFFIC, 'udp-streams', sip,
                                      str(ECHO_PORT),
                                      ','.join(map(str, echo_sports)),
                                      str(args.udp_stream_rate),
                                      str(args.duration), streams_out])
    started = [out + '.started' for _, out in clients]
    if not st.wait_until(lambda: all(os.path.exists(f) and open(f).read()
                                     for f in started), 15):
        raise RuntimeError('the TCP clients did not connect')
    t0 = min(float(open(f).read()) for f in started)
    say('traffic: %d TCP connections (%d B every %g ms each), UDP %s pps '
        'for %g s' % (len(flows), args.tcp_chunk, args.tcp_interval * 1000,
                      '%g' % args.udp_rate if args.udp_rate else 'no',
                      args.duration))

    events = []
    step_recs = poller = runner = None
    if args.elastic:
        poller = elastic.Poller(tb, args.service, args.poll)
        poller.start()
        udp_bucket = stream_paths(tb, [(uclient, 'udp,nw_src=%s,nw_dst=%s,'
                                        'udp_src=%d,udp_dst=%d' % (
                                            uip, sip, usport, UDP_PORT))])[0][
                                                'bucket']
        runner = elastic.Runner(
            tb, args, args.service, steps,
            [(f[2], p['bucket']) for f, p in zip(flows, paths)],
            udp_bucket if args.udp_rate > 0 else None, poller, say)
        try:
            step_recs = runner.run(t0)
            time.sleep(args.tail)
            runner.retrans_end = runner.retrans()
            runner.finish()
        finally:
            if args.traffic_until_done:
                for p, _ in clients:
                    p.send_signal(signal.SIGUSR1)
                if args.udp_rate > 0:
                    usend.send_signal(signal.SIGUSR1)
                if echo_sports:
                    ustreams.send_signal(signal.SIGUSR1)
                args.duration = round(time.time() - t0, 1)
        events = runner.events
        t_event = events[0][0]
    elif args.failure != 'none':
        time.sleep(max(0.0, t0 + args.at - time.time()))
        inject(tb, args, victim, events)
        say('%s of %s at %s' % (args.failure, victim, time.strftime(
            '%H:%M:%S', time.localtime(events[0][0]))))
        t_event = events[0][0]
    else:
        t_event = t0 + args.at
    for p, _ in clients:
        try:
            p.wait(timeout=args.duration + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError('a TCP client did not finish')
    if args.udp_rate > 0:
        usend.wait(timeout=args.duration + 30)
        time.sleep(0.3)
        urecv.send_signal(signal.SIGTERM)
        urecv.wait(timeout=10)
    if echo_sports:
        ustreams.wait(timeout=args.duration + 30)
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=10)
        if ustreams.returncode != 0 or not os.path.exists(echo_out):
            raise RuntimeError('the counted UDP streams failed')
    if args.failure == 'hang':
        os.kill(tb.agent_pids[victim], signal.SIGCONT)
        events.append((time.time(), 'SIGCONT (after the traffic)'))
    # Let the controller finish what the failure started.
    st.wait_until(tb.switches_in_sync, 5)
    if poller:
        poller.stop()
    cnt = None
    if args.function == 'counter':
        # At rest: the controller first (handoffs back to an instance that
        # came back included), then replication.
        say('waiting for the controller and replication to come to rest')
        at_rest, rest_s = counters.controller_rest(tb)
        cstreams = counted_streams(
            args, topo, flows, paths, echo_sports, echo_paths, usport,
            udp_rec, streams_out, echo_out, udp_recv_out, usend_out)
        maps, snap, settled, settle_s = counters.settle(tb, cstreams)
        cnt = counters.check(cstreams, topo.service_names(), maps, snap,
                             args.replication, victim, vsvc, settled)
        cnt.update(controller_rest=at_rest, controller_rest_s=rest_s,
                   settle_s=settle_s)
    epochs_after = {s: tb.map_epoch(s) for s in topo.service_names()}

    results = []
    for p, out in clients:
        if p.returncode != 0 or not os.path.exists(out):
            raise RuntimeError('a TCP client failed (exit %s)'
                               % p.returncode)
        results.append(json.load(open(out)))
    t_ref = min(r['start'] for r in results)
    tcp = analyse_tcp(results, t_event, t_ref)
    # Which bucket, and which instances, each connection crossed (before
    # the event).
    where = {f[2]: p for f, p in zip(flows, paths)}
    stalls = longest_stalls(results, t_ref)
    for c in tcp['conns']:
        c['path'] = where.get(c['sport'])
        c['longest_stall'] = stalls.get(c['sport'])
    udp = None
    recv = None
    if args.udp_rate > 0:
        recv = json.load(open(udp_recv_out))
        udp = analyse_udp(recv, json.load(open(usend_out)), t_event)
    lines = st_log_lines(tb)
    if args.elastic and args.failure != 'rebalance':
        kind, desc, latency, line = planned_change(lines, args, t_event)
    else:
        kind, desc, latency, line = detection(lines, victim, t_event)
    # Fences the scenario did not cause (an agent the controller did not
    # hear from in time on a busy machine) are worth knowing about.
    spurious = [l for t, l in lines if 'fenced' in l
                and (t < t_event - 0.05 or victim not in l)]
    host_rec = None
    if args.failure == 'host':
        # Every instance of the dead host is fenced; its switch's tunnels
        # go down at the other hosts (BFD).
        hname = topo.host_of(victim)
        on_host = set(topo.host_instances(hname))
        fenced_re = re.compile(r'instance (\S+) fenced')

        def caused(t, l):
            m = fenced_re.search(l)
            return t >= t_event - 0.05 and m and m.group(1) in on_host
        spurious = [l for t, l in lines if 'fenced' in l
                    and not caused(t, l)]
        sw = [i['switch'] for i in topo.instances()
              if i['name'] == victim][0]
        host_rec = {'host': hname, 'instances': sorted(on_host),
                    'links_down': links_down(lines, sw, t_event),
                    'links': sum(1 for a, b in topo.sfm_links
                                 if sw in (a[0], b[0]))}

    ok = tcp['survived'] == tcp['n'] and (udp is None or udp['resumed'])
    if ok:
        verdict = 'every TCP connection survived' + (
            ', UDP resumed' if udp else '')
    else:
        verdict = '%d TCP connection(s) lost%s' % (
            tcp['n'] - tcp['survived'],
            '' if udp is None or udp['resumed'] else ', UDP did not resume')
    el = None
    if args.elastic:
        results_t_ref = min(r['start'] for r in results)
        elastic.step_losses(step_recs, recv,
                            json.load(open(usend_out)) if udp else None,
                            results, results_t_ref)
        converged = all(s['converged'] for s in step_recs)
        moved_sports = sorted({sp for s in step_recs
                               for sp in s['tcp_moved_sports']})
        affected = moved_sports
        el = {'service': args.service, 'buckets': runner.n_buckets,
              'sizes': args.sizes if args.failure == 'scale' else None,
              'initial_pool': pools[0],
              'initial_targets': elastic.ideal_counts(
                  args.service, runner.n_buckets, pools[0]),
              'steps': step_recs, 'converged': converged,
              'settled': all(s['settled'] for s in step_recs),
              'warnings': runner.warnings,
              'agents': runner.agent_totals(),
              'agent_runs': runner.agents,
              'have_handoffs': poller.have_handoffs,
              'poll_errors': poller.errors,
              'handoffs': sorted(poller.handoffs.values(),
                                 key=lambda h: h['seen']),
              'shares': [(round(t - results_t_ref, 3),
                          {n: [r.get('state'), r.get('primary'),
                               r.get('secondary'), r.get('ideal')]
                           for n, r in rows.items()})
                         for t, rows in poller.samples],
              'udp_lost_at': elastic.udp_lost_times(
                  recv, json.load(open(usend_out)) if udp else None,
                  results_t_ref)[:5000],
              'handoff_samples': [(round(t - results_t_ref, 3), h)
                                  for t, h in poller.handoff_samples]}
        for sp in tcp['failed']:
            b = where.get(sp, {}).get('bucket')
            steps_moved = [k for k, s_ in enumerate(step_recs, 1)
                           if sp in s_['tcp_moved_sports']]
            st_ = stalls.get(sp) or (None, None)
            el['warnings'].append(
                'TCP connection from port %d (bucket %s) lost; its bucket '
                'moved in %s; no echo for %s s from %s s' % (
                    sp, b, 'steps ' + ', '.join(map(str, steps_moved))
                    if steps_moved else 'no step', st_[1], st_[0]))
        if not converged:
            ok = False
            verdict += ('; ' if verdict else '') + 'the pool did not converge'
            verdict = verdict.replace('survived, UDP resumed;',
                                      'survived, UDP resumed, but')
        elif ok:
            verdict += ', every step converged'
        for s_ in step_recs:
            for k in ('t_begin', 't_action', 't_end', 't_ports_removed'):
                if k in s_:
                    s_[k] = round(s_[k] - results_t_ref, 3)
            if s_.get('udp_handoff'):
                s_['udp_handoff']['seen'] = round(
                    s_['udp_handoff']['seen'] - results_t_ref, 3)
    flaps = (flap_report(tb.flaps, lines, victim)
             if args.failure == 'flap' else None)
    if cnt is not None:
        if cnt['ok']:
            verdict += ', no stream lost an increment%s' % (
                '' if args.replication == 'off'
                else ', primaries and secondaries agree')
        else:
            ok = False
            bad = []
            if cnt['with_lost_increments']:
                bad.append('%d stream(s) lost increments (worst %d)' % (
                    cnt['with_lost_increments'], cnt['worst_loss']))
            if cnt['disagree'] and args.replication != 'off':
                bad.append('%d stream(s) whose primary and secondary '
                           'disagree' % cnt['disagree'])
            verdict += '; ' + ', '.join(bad)
    result = {
        'name': name, 'status': 'ran', 'topo': args.topo,
        'replication': args.replication, 'function': args.function,
        'size': {'fw': args.fw, 'dlp': args.dlp, 'clients': args.clients},
        'event': {'failure': args.failure,
                  'instance': victim or (
                      '%s %s' % (args.service, ','.join(map(str, args.sizes)))
                      if args.failure == 'scale' else
                      '%s (+%s)' % (args.service, ', '.join(steps[0].names))
                      if args.failure == 'scale-out' else None),
                  'service': vsvc, 'at': round(t_event - t_ref, 3),
                  'wall': t_event,
                  'timeline': [(round(t - t_ref, 3), label)
                               for t, label in events]},
        'affected': len(affected), 'affected_sports': affected,
        'affected_label': ('  on buckets that moved' if args.elastic
                           else None),
        'elastic': el,
        'tcp': tcp, 'udp': udp, 'udp_sport': usport if udp else None,
        'udp_path': udp_path,
        'detection': {'kind': kind, 'description': desc,
                      'latency_ms': latency, 'log': line},
        'host': host_rec,
        'epochs': {s: (epochs_before[s], epochs_after[s])
                   for s in topo.service_names()},
        'other_fences': spurious,
        'flaps': flaps, 'counters': cnt,
        'duration': args.duration, 'ok': ok, 'verdict': verdict,
        'json': os.path.join(args.out, 'result.json'),
        'png': None if args.no_plot else os.path.join(args.out,
                                                      'throughput.png'),
        'pids': tb.started_pids, 'workdir': tb.tmp,
        'namespaces': st.namespace_ids(),
    }
    # The last bins are partial (the clients stop sending at --duration).
    series = [(x, y) for x, y in throughput_series(results, t_ref)
              if x + c_bin(results) <= args.duration + 1e-6]
    result['throughput'] = [(round(x, 2), round(y)) for x, y in series]
    useries = [(x, y) for x, y in (udp_series(recv, t_ref) if recv else [])
               if x + 0.1 <= args.duration + 1e-6]
    if el is not None and not args.no_plot:
        result['shares_png'] = os.path.join(args.out, 'shares.png')
    with open(result['json'], 'w') as f:
        json.dump(result, f, indent=1)
    if not args.no_plot:
        plot(result, series, useries, result['png'])
        if el is not None:
            elastic.plot_shares(result, poller, t_ref, result['shares_png'])
    print_table(result)
    if el is not None:
        elastic.step_table(el, sys.stdout)
        ag = el['agents']
        if ag:
            print('agents of %s over the run: %s frames received, %s dropped '
                  'by the service (no state), bulks %s complete, %s failed%s'
                  % (el['service'], ag.get('received', '-'),
                     ag.get('dropped_by_service', '-'),
                     ag.get('bulks_complete', '-'),
                     ag.get('bulks_failed', '-'),
                     '; sync: %s held, %s released unacknowledged, %s not '
                     'held' % (ag.get('sync_held', '-'),
                               ag.get('sync_released_unacked', '-'),
                               ag.get('sync_not_held', '-'))
                     if 'sync_held' in ag else ''))
        for w in el['warnings']:
            print('warning: %s' % w)
    if cnt is not None:
        for line_ in counters.stream_lines(cnt):
            print(line_)
    for l in spurious:
        print('warning: a fence the scenario did not cause: %s' % l)
    print('detection: %s' % desc)
    if line:
        print('  controller log: %s' % line)
    print('result: %s' % result['json'])
    if result['png']:
        print('plot:   %s' % result['png'])
    if result.get('shares_png'):
        print('shares: %s' % result['shares_png'])
    if args.cli:
        tb.cli()
    return 0 if ok or not args.check else 1


def planned_change(lines, args, since):
    """The controller's first log line about a planned change of the pool
    after wall time 'since' (a reload, a drain): (kind, description,
    latency in ms, log line)."""
    patterns = ([r'drain', r'disabled'] if args.failure == 'drain'
                else [r'configuration reloaded', r'reload'])
    for pattern in patterns:
        for t, l in lines:
            if t >= since - 0.05 and re.search(pattern, l, re.I):
                return ('planned', 'a planned change of the pool (%s)'
                        % ('sfmesh-ctl drain' if args.failure == 'drain'
                           else 'configuration reload'),
                        round((t - since) * 1000, 1), l)
    return 'none', 'nothing in the controller log', None, None


def st_log_lines(tb):
    return log_lines(tb.controller_log)


def main():
    args = options()
    st.enter_namespace()
    os.makedirs(args.out, exist_ok=True)
    for f in ('result.json', 'throughput.png'):
        if os.path.exists(os.path.join(args.out, f)):
            os.unlink(os.path.join(args.out, f))
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
