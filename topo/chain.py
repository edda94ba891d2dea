#!/usr/bin/python3
"""The chain topology, up and running: one switch s1 with a client, a
server, service fw (2 instances by default) and service dlp (3), chain
client -> fw -> dlp -> server, steered by sfmesh-controller with a
sfmesh-agent in every instance host, on a private OVS.

    topo/chain.py            bring it up, check a ping and a TCP
                             transfer through the chain, show the
                             controller's view, tear it all down
    topo/chain.py --cli      the same, then the Mininet CLI
    topo/chain.py --fw 3 --dlp 4 --clients 4 --replication sync --cli

Everything runs in namespaces of its own and is removed on exit.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sfmesh_topo as st  # noqa: E402


def options(kind, doc):
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--fw', type=int, default=2, metavar='N',
                   help='instances of service fw (default 2)')
    p.add_argument('--dlp', type=int, default=3, metavar='N',
                   help='instances of service dlp (default 3)')
    if kind != 'multihost':
        p.add_argument('--clients', type=int, default=1, metavar='N',
                       help='client hosts (default 1; more than one sit on '
                       'an access bridge in front of the ingress port)')
    if kind == 'fabric':
        p.add_argument('--spines', type=int, default=1, metavar='N',
                       choices=range(1, 5),
                       help='spines, each linked to both leaves (1 to 4, '
                       'default 1)')
    if kind == 'multihost':
        p.add_argument('--hosts', type=int, default=3, metavar='N',
                       help='hosts, each its own OVS (2 to %d, default 3)'
                       % st.MAX_HOSTS)
    p.add_argument('--replication', choices=('async', 'sync', 'off'),
                   default='async', help='agent state replication')
    p.add_argument('--function', choices=('stateful-fw', 'counter'),
                   default='stateful-fw', help='service function of the '
                   'agents (default stateful-fw)')
    p.add_argument('--bin', default=os.path.join(st.TOP, 'build', 'bin'),
                   help='where the sfmesh binaries are (default build/bin)')
    p.add_argument('--cli', action='store_true',
                   help='drop into the Mininet CLI with everything running')
    p.add_argument('--config-only', action='store_true',
                   help='print the generated controller configuration and '
                   'exit')
    p.add_argument('--keep', action='store_true',
                   help='keep the logs (temp directory) after exit')
    p.add_argument('-v', '--verbose', action='store_true',
                   help="Mininet's own messages")
    return p


def smoke(tb):
    """A ping and a TCP transfer from the (first) client to the server,
    through the chain."""
    client, _ = tb.topo.sfm_clients[0]
    server, sip = tb.topo.sfm_server
    c = tb.net.get(client)
    out = c.cmd('ping -c 3 -i 0.2 -W 2 %s' % sip)
    ok_ping = ' 0% packet loss' in out
    st.log('%s ping %s: %s' % (client, server, 'ok' if ok_ping else
                               'FAILED\n' + out))
    sink = tb.path('sink')
    p = tb.popen(server, [st.PY, os.path.join(st.TOP, 'tests', 'integration',
                                              'tcp-sink.py'),
                          sip, '5001', sink])
    st.wait_until(lambda: os.path.exists(sink + '.ready'), 5)
    out = c.cmd('%s %s %s 5001 40000 2000000'
                % (st.PY, os.path.join(st.TOP, 'tests', 'integration',
                                       'tcp-source.py'), sip))
    st.wait_until(lambda: os.path.exists(sink) and os.path.getsize(sink), 5)
    got = open(sink).read().split()[0] if os.path.exists(sink) else '0'
    ok_tcp = got == '2000000'
    st.log('%s -> %s TCP, 2 MB: %s' % (client, server, 'ok' if ok_tcp
                                       else 'FAILED (%s bytes)' % got))
    p.terminate()
    return ok_ping and ok_tcp


def map_summary(text):
    """The lines of `sfmesh-ctl map` before its bucket table."""
    out = []
    for line in text.splitlines(True):
        f = line.split()
        if f and (f[0].isdigit() or f[0] == 'BUCKET'):
            break
        out.append(line)
    return ''.join(out)


def main(kind, doc):
    p = options(kind, doc)
    args = p.parse_args()
    try:
        topo = st.make_topo(kind, args.fw, args.dlp,
                            getattr(args, 'clients', 1),
                            getattr(args, 'spines', 1),
                            getattr(args, 'hosts', None))
    except ValueError as e:
        p.error(str(e))
    if args.config_only:
        sys.stdout.write(st.config_yaml(topo))
        return 0
    st.enter_namespace()
    tb = st.make_testbed(topo, name=kind, bin_dir=args.bin,
                         replication=args.replication,
                         function=args.function, keep=args.keep,
                         verbose=args.verbose)
    try:
        tb.start()
        sys.stdout.write(tb.ctl('switches'))
        if kind == 'multihost':
            sys.stdout.write(tb.ctl('hosts'))
        sys.stdout.write(tb.ctl('agents'))
        for svc, insts in tb.topo.sfm_services:
            sys.stdout.write(map_summary(tb.ctl('map', svc)))
        ok = smoke(tb)
        if args.cli:
            tb.cli()
        return 0 if ok else 1
    finally:
        tb.stop()


if __name__ == '__main__':
    sys.exit(main('chain', __doc__))
