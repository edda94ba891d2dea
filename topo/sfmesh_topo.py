"""sfmesh Mininet topologies and the test bed that runs them.

A topology is declared once, as a Mininet Topo that also records what the
controller needs to know (switches and their datapath ids, services and
their instances with port and MAC, the chain's ends); the controller's YAML
configuration is generated from it (config_yaml()).

Testbed brings a topology up on a private Open vSwitch (an ovsdb-server and
an ovs-vswitchd of its own, with OVS_RUNDIR and friends in a temp directory)
with sfmesh-controller and one sfmesh-agent per instance host, and takes
everything down again.  Scripts call enter_namespace() first: it re-runs
them in new network, PID and mount namespaces (unshare), so the userspace
datapath's "ovs-netdev" tap, every veth and every process live and die
there: even a SIGKILL of the script leaves nothing behind, because the
kernel kills every process of a PID namespace when its first process dies.

Everything runs under Debian's /usr/bin/python3, which has Mininet.
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from mininet.node import Switch
from mininet.topo import Topo

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = '/usr/bin/python3'
NS_ENV = 'SFMESH_TOPO_NS'
OF_PROTOCOLS = 'OpenFlow13,OpenFlow14,OpenFlow15'
INSTANCE_MTU = 1600           # NSH adds 38 bytes to each frame
REP_NET = '10.9.0'            # the agents' network (channel, replication)
REP_BRIDGE = 'sfmrep'
REP_PORT = 7000
# The multi-host topology's underlay (tests/lib/hosts.sh): host n is
# 172.31.0.n, the controller 172.31.0.254 on a Linux bridge here, the k-th
# instance's management port 172.31.0.(10 + k).
UNDERLAY_NET = '172.31.0'
UNDERLAY_CTL = UNDERLAY_NET + '.254'
UNDERLAY_BRIDGE = 'sfmul'
UNDERLAY_AGENT_BASE = 10
MAX_HOSTS = 9
TUNNEL_BFD_MS = 100
CLIENT_MTU_MULTIHOST = 1400   # VXLAN's 50 bytes and NSH's 38 on 1500


def log(msg):
    sys.stderr.write(msg + '\n')
    sys.stderr.flush()


def enter_namespace():
    """Re-executes the running script in new network, PID and mount
    namespaces (unless it already runs in them) and installs signal
    handlers that turn SIGTERM and SIGHUP into SystemExit, so that cleanup
    code in 'finally' blocks runs.  The script becomes PID 1 of its PID
    namespace: when it exits, the kernel kills whatever is left in it."""
    if os.environ.get(NS_ENV) != '1':
        if os.geteuid() != 0:
            sys.exit('%s: must run as root' % sys.argv[0])
        env = dict(os.environ)
        env[NS_ENV] = '1'
        args = ['unshare', '--net', '--pid', '--mount-proc', '--fork',
                '--kill-child', '--', PY, os.path.abspath(sys.argv[0])]
        os.execvpe('unshare', args + sys.argv[1:], env)

    sys.stdout.reconfigure(line_buffering=True)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)


def namespace_ids():
    """The PID and network namespaces this process runs in, as their
    inode numbers (the same seen from anywhere): a check from outside can
    tell that no process is left in them."""
    return {ns: int(re.sub(r'\D', '', os.readlink('/proc/self/ns/' + ns)))
            for ns in ('pid', 'net')}


def run(args, check=True, **kwargs):
    """Runs a command; returns its stdout (text)."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kwargs)
    if check and r.returncode != 0:
        raise RuntimeError('%s failed (%d): %s'
                           % (' '.join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def pid_alive(pid):
    """True if 'pid' runs (a zombie is reaped if it is ours and counts as
    dead)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == 'Z':
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def stop_pids(pids, timeout=5.0):
    """SIGCONT and SIGTERM to each pid, SIGKILL to those still alive after
    'timeout' seconds."""
    for pid in pids:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid in pids:
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.02)


def wait_until(pred, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------
# Topologies

class ServiceChainTopo(Topo):
    """Base of the sfmesh topologies: besides Mininet's nodes and links it
    records what the controller's configuration needs.

    Attributes filled by build():
      sfm_switches  {name: dpid} of the steering switches (on the controller)
      sfm_services  [(service, [instance, ...])] in chain order; an instance
                    is a dict: name, service, switch, port (the OVS port on
                    the switch), intf (the host's data interface), mac
      sfm_chain     dict: name, spi, reverse_spi, ingress (switch, port),
                    egress (switch, port), services
      sfm_clients   [(host, ip)]; sfm_server (host, ip)
      sfm_access    the client access bridge (several clients), or None
      sfm_links     [((switch, port), (switch, port))] of the links
                    between switches
    """

    SERVICE_NAMES = ('fw', 'dlp')
    ACCESS_BRIDGE = True        # several clients: on an access bridge

    def build(self, fw=2, dlp=3, clients=1, spines=1, hosts=None, **_opts):
        self.spines = spines
        self.n_hosts = hosts
        self.sfm_switches = {}
        self.sfm_services = []
        self.sfm_clients = []
        self.sfm_server = None
        self.sfm_access = None
        self.sfm_links = []
        counts = dict(zip(self.SERVICE_NAMES, (fw, dlp)))
        for name in self.SERVICE_NAMES:
            if counts[name] < 1:
                raise ValueError('service %s needs at least one instance'
                                 % name)
        if clients < 1 or clients > 200:
            raise ValueError('clients must be 1 to 200')
        self.build_switches()
        for svc in self.SERVICE_NAMES:
            instances = []
            for ii in range(1, counts[svc] + 1):
                inst = self.make_instance(svc, ii)
                name, sw = inst['name'], inst['switch']
                self.addHost(name, ip=None, mac=inst['mac'])
                self.addLink(name, self.node_of(sw), intfName1=inst['intf'],
                             intfName2=name)
                instances.append(inst)
            self.sfm_services.append((svc, instances))
        ingress_sw, egress_sw = self.chain_ends()
        # The client side: one client on the ingress port, or several on
        # an access bridge (a plain learning switch) that is.
        if clients == 1:
            self.addHost('client', ip='10.0.0.1/24')
            self.addLink('client', self.node_of(ingress_sw),
                         intfName1='client-eth0',
                         intfName2='client')
            self.sfm_clients.append(('client', '10.0.0.1'))
        else:
            if not self.ACCESS_BRIDGE:
                raise ValueError('this topology takes one client')
            self.sfm_access = 'acc1'
            self.addSwitch('acc1', cls=_access_bridge(), datapath='user',
                           dpid='%016x' % 0xacc1)
            self.addLink('acc1', ingress_sw, intfName1='acc1-up',
                         intfName2='client')
            for i in range(1, clients + 1):
                name, ip = 'c%d' % i, '10.0.0.%d' % (10 + i)
                self.addHost(name, ip=ip + '/24')
                self.addLink(name, 'acc1', intfName1=name + '-eth0',
                             intfName2='acc1-c%d' % i)
                self.sfm_clients.append((name, ip))
        self.addHost('server', ip='10.0.0.2/24')
        self.addLink('server', self.node_of(egress_sw),
                     intfName1='server-eth0',
                     intfName2='server')
        self.sfm_server = ('server', '10.0.0.2')
        self.sfm_chain = {'name': 'web', 'spi': 100, 'reverse_spi': 101,
                          'ingress': (ingress_sw, 'client'),
                          'egress': (egress_sw, 'server'),
                          'services': list(self.SERVICE_NAMES)}

    def add_steering_switch(self, name, dpid):
        self.addSwitch(name, dpid='%016x' % dpid)
        self.sfm_switches[name] = dpid

    def add_fabric_link(self, a, b):
        pa, pb = '%s-%s' % (a, b), '%s-%s' % (b, a)
        self.addLink(a, b, intfName1=pa, intfName2=pb)
        self.sfm_links.append(((a, pa), (b, pb)))

    def make_instance(self, svc, ii):
        """The definition of instance number 'ii' of service 'svc' (its
        name, switch, port, data interface and MAC), the same whether it is
        built with the topology or added at run time."""
        si = self.SERVICE_NAMES.index(svc) + 1
        name = '%s-%d' % (svc, ii)
        return {'name': name, 'service': svc,
                'switch': self.placement()(svc, ii),
                'port': name, 'intf': name + '-eth0',
                'mac': '02:00:00:00:%02x:%02x' % (si, ii)}

    def spare_instance(self, svc):
        """The definition of the next instance of 'svc' to add at run
        time: the lowest number not in use."""
        used = {i['name'] for i in self.instances()}
        ii = 1
        while '%s-%d' % (svc, ii) in used:
            ii += 1
        if ii > 255:
            raise ValueError('service %s is full' % svc)
        return self.make_instance(svc, ii)

    def service_instances(self, svc):
        for name, insts in self.sfm_services:
            if name == svc:
                return insts
        raise KeyError(svc)

    def node_of(self, switch):
        """The Mininet node that holds steering switch 'switch' (the
        switch itself, but in the multi-host topology its host)."""
        return switch

    # Subclasses define:
    def build_switches(self):
        raise NotImplementedError

    def placement(self):
        """Returns f(service, instance number) -> switch name."""
        raise NotImplementedError

    def chain_ends(self):
        """Returns (ingress switch, egress switch)."""
        raise NotImplementedError

    # Derived views.
    def instances(self):
        return [i for _, insts in self.sfm_services for i in insts]

    def instance(self, name):
        for inst in self.instances():
            if inst['name'] == name:
                return inst
        raise KeyError(name)

    def service_names(self):
        return [s for s, _ in self.sfm_services]


def _access_bridge():
    from mininet.node import OVSBridge
    return OVSBridge


class ChainTopo(ServiceChainTopo):
    """One switch s1 holding a client (or an access bridge with several), a
    server and every instance: service fw (default 2 instances) then
    service dlp (default 3), chain web: client -> fw -> dlp -> server.
    With the defaults this is exactly docs/examples/two-service-chain.yaml.
    """

    def build_switches(self):
        if self.spines != 1:
            raise ValueError('the chain topology has no spines')
        if self.n_hosts is not None:
            raise ValueError('the chain topology has one host')
        self.add_steering_switch('s1', 1)

    def placement(self):
        return lambda svc, i: 's1'

    def chain_ends(self):
        return 's1', 's1'


class FabricTopo(ServiceChainTopo):
    """A leaf-spine fabric: spine sp1 (or spines sp1 to spN, each linked to
    every leaf) and leaves lf1, lf2.  The client is
    on lf1, the server on lf2, and the instances of each service alternate
    between the leaves (fw-1 on lf1, fw-2 on lf2, dlp-1 on lf1, ...), so
    steering a stream through the chain crosses the spine, and a failover
    can send it back across."""

    LEAVES = ('lf1', 'lf2')

    def build_switches(self):
        if not 1 <= self.spines <= 4:
            raise ValueError('spines must be 1 to 4')
        if self.n_hosts is not None:
            raise ValueError('the fabric topology has one host')
        spines = ['sp%d' % i for i in range(1, self.spines + 1)]
        for i, spine in enumerate(spines):
            self.add_steering_switch(spine, 1 + i)
        for i, leaf in enumerate(self.LEAVES):
            self.add_steering_switch(leaf, len(spines) + 1 + i)
        for spine in spines:
            for leaf in self.LEAVES:
                self.add_fabric_link(leaf, spine)

    def placement(self):
        return lambda svc, i: self.LEAVES[(i - 1) % len(self.LEAVES)]

    def chain_ends(self):
        return self.LEAVES[0], self.LEAVES[-1]


def underlay_addr(n):
    """Host n's address on the underlay (tests/lib/hosts.sh's plan)."""
    return '%s.%d' % (UNDERLAY_NET, n)


class HostOVS(Switch):
    """A host of the multi-host topology: a Mininet node in a network
    namespace of its own that runs an ovsdb-server and an ovs-vswitchd of
    its own (netdev datapath), set up as OVS userspace tunneling wants it
    (Documentation/howto/userspace-tunneling.rst; the shell version is
    tests/lib/hosts.sh): bridge br-phy holds the host's underlay port ul0
    (a veth whose other end, ul-HOST, is a port of the underlay bridge in
    the script's namespace) and the host's underlay address, which its
    database listens on (port 6640); the host's steering switch holds its
    Mininet links (client, server, instances) and a VXLAN tunnel port to
    every other host.  The instances' management ports (m-NAME) are
    ports of br-phy too (added by the test bed).

    The test bed calls use_dirs() before Mininet starts the switches; stop()
    stops the daemons by pid, kill() SIGKILLs them (a host's death)."""

    def __init__(self, name, index=None, bridge=None, bridge_dpid=None,
                 addr=None, peers=(), **params):
        params['inNamespace'] = True
        Switch.__init__(self, name, **params)
        self.controlIntf = None
        self.index, self.bridge, self.addr = index, bridge, addr
        self.bridge_dpid = bridge_dpid if bridge_dpid is not None else index
        self.peers = list(peers)        # [(tunnel port, remote address)]
        self.ovs_dir = self.log_dir = self.env = None
        self.track = None
        self.daemon_pids = []
        self.underlay_port = 'ul-' + name
        self.dead = False

    def use_dirs(self, ovs_dir, log_dir, track):
        """Where the host's OVS keeps its files ('log_dir': the test
        bed's, the logs prefixed with the host's name), and the test bed's
        function that records a daemon's pid from its pidfile."""
        self.ovs_dir, self.log_dir, self.track = ovs_dir, log_dir, track
        for sub in ('run', 'db', 'etc'):
            os.makedirs(os.path.join(ovs_dir, sub), exist_ok=True)
        self.env = dict(os.environ, OVS_RUNDIR=os.path.join(ovs_dir, 'run'),
                        OVS_DBDIR=os.path.join(ovs_dir, 'db'),
                        OVS_LOGDIR=log_dir,
                        OVS_SYSCONFDIR=os.path.join(ovs_dir, 'etc'))
        # The node's shell too, so that "h1 ovs-vsctl show" works in the
        # CLI.
        self.cmd('export ' + ' '.join(
            '%s=%s' % (k, self.env[k]) for k in (
                'OVS_RUNDIR', 'OVS_DBDIR', 'OVS_LOGDIR', 'OVS_SYSCONFDIR')))

    def rundir(self, *parts):
        return os.path.join(self.ovs_dir, 'run', *parts)

    def logfile(self, daemon):
        return os.path.join(self.log_dir, '%s-%s.log' % (self.name, daemon))

    def in_ns(self, args):
        """'args' to run in the host's network namespace."""
        return ['nsenter', '--net=/proc/%d/ns/net' % self.pid] + list(args)

    def run(self, args, check=True, ns=False):
        """Runs 'args' against the host's OVS (its OVS_RUNDIR and the
        rest), in its network namespace if 'ns'; returns stdout."""
        return run(self.in_ns(args) if ns else list(args), check=check,
                   env=self.env)

    def vsctl(self, *args, check=True):
        return self.run(['ovs-vsctl', '--timeout=20'] + list(args),
                        check=check)

    def start(self, controllers):
        if self.ovs_dir is None:
            raise RuntimeError('host %s: use_dirs() was not called' % self.name)
        ctl = controllers[0]
        self.run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                  'net.ipv6.conf.default.disable_ipv6=1'], ns=True)
        db = os.path.join(self.ovs_dir, 'db', 'conf.db')
        self.run(['ovsdb-tool', 'create', db,
                  '/usr/share/openvswitch/vswitch.ovsschema'])
        self.run(['ovsdb-server', '--detach', '--no-chdir',
                  '--pidfile=' + self.rundir('ovsdb-server.pid'),
                  '-vconsole:off', '--log-file=' + self.logfile('ovsdb-server'),
                  '--remote=punix:' + self.rundir('db.sock'), db], ns=True)
        self.daemon_pids.append(self.track(self.rundir('ovsdb-server.pid')))
        self.vsctl('--no-wait', 'init')
        self.run(['ovs-vswitchd', '--detach', '--no-chdir',
                  '--pidfile=' + self.rundir('ovs-vswitchd.pid'),
                  '-vconsole:off', '--log-file=' + self.logfile('ovs-vswitchd'),
                  '--disable-system', '-vvconn:info', '-vofproto_dpif:info'],
                 ns=True)
        self.daemon_pids.append(self.track(self.rundir('ovs-vswitchd.pid')))

        # The underlay: br-phy holds the underlay port and the address.
        self.vsctl('add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy',
                   'datapath_type=netdev',
                   'other-config:hwaddr=02:5f:6d:01:00:%02x' % self.index)
        run(['ip', 'link', 'add', self.underlay_port, 'type', 'veth', 'peer',
             'name', 'ul0', 'netns', str(self.pid)])
        run(['ip', 'link', 'set', self.underlay_port, 'master',
             UNDERLAY_BRIDGE, 'up'])
        # The userspace datapath does not complete offloaded checksums.
        run(['ethtool', '-K', self.underlay_port, 'tx', 'off'], check=False)
        self.run(['ip', 'link', 'set', 'ul0', 'up'], ns=True)
        self.vsctl('add-port', 'br-phy', 'ul0')
        self.run(['ip', 'addr', 'add', self.addr + '/24', 'dev', 'br-phy'],
                 ns=True)
        self.run(['ip', 'link', 'set', 'br-phy', 'up'], ns=True)
        self.run(['ethtool', '-K', 'br-phy', 'tx', 'off'], ns=True,
                 check=False)
        # The controller reaches the host's database over the underlay.
        self.run(['ovs-appctl', '-t', self.rundir('ovsdb-server.%d.ctl'
                                                  % self.daemon_pids[0]),
                  'ovsdb-server/add-remote', 'ptcp:6640:' + self.addr])

        # The host's steering switch, its ports and its tunnels.
        br = self.bridge
        self.vsctl('add-br', br, '--', 'set', 'bridge', br,
                   'datapath_type=netdev', 'fail-mode=secure',
                   'protocols=' + OF_PROTOCOLS,
                   'other-config:datapath-id=%016x' % self.bridge_dpid,
                   'other-config:disable-in-band=true')
        self.vsctl('set-controller', br, 'tcp:%s:%d' % (ctl.IP(), ctl.port),
                   '--', 'set', 'controller', br, 'max_backoff=1000',
                   'inactivity_probe=5000')
        for intf in self.intfList():
            if intf.name != 'lo':
                self.attach(intf.name)
        for port, remote in self.peers:
            self.vsctl('add-port', br, port, '--', 'set', 'interface', port,
                       'type=vxlan', 'options:remote_ip=' + remote)

    def attach(self, port, bridge=None):
        """Adds link end 'port' (in the host's namespace) to 'bridge'
        (the steering switch), with the instances' MTU."""
        self.run(['ip', 'link', 'set', port, 'mtu', str(INSTANCE_MTU)],
                 ns=True)
        self.vsctl('add-port', bridge or self.bridge, port)

    def detach(self, port, bridge=None):
        self.vsctl('--if-exists', 'del-port', bridge or self.bridge, port,
                   check=False)

    def kill(self):
        """SIGKILL to the host's OVS daemons (the host dies)."""
        for pid in self.daemon_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.dead = True
        return list(self.daemon_pids)

    def connected(self):
        if self.env is None or self.dead:
            return False
        out = self.vsctl('--columns=is_connected', '--bare', 'list',
                         'controller', check=False)
        return out.strip() == 'true'

    def stop(self, deleteIntfs=True):
        stop_pids(self.daemon_pids)
        subprocess.run(['ip', 'link', 'del', self.underlay_port],
                       stderr=subprocess.DEVNULL)
        Switch.stop(self, deleteIntfs)


class MultihostTopo(ServiceChainTopo):
    """A chain across hosts h1 to hN (--hosts, default 3; 2 to 9), each
    its own OVS (HostOVS) with one steering switch sK (dpid K) on host hK,
    the switches joined by a full mesh of VXLAN tunnels over the underlay
    (t-hM on sK toward host M: the configuration's links).  The client is
    on h1, the server on h2, and the instances of each service go round
    the hosts, each service from another host on (fw-1 on h1, fw-2 on h2;
    dlp-1 on h2, dlp-2 on h3, dlp-3 on h1, ...), so that a service with
    two or more instances has them on two or more hosts.  The switches
    name their hosts, so the controller gives every bucket a secondary on
    another host than its primary (anti-affinity)."""

    ACCESS_BRIDGE = False

    def build_switches(self):
        n = 3 if self.n_hosts is None else self.n_hosts
        if not 2 <= n <= MAX_HOSTS:
            raise ValueError('hosts must be 2 to %d' % MAX_HOSTS)
        if self.spines != 1:
            raise ValueError('the multihost topology has no spines')
        self.n_hosts = n
        self.sfm_hosts = {}             # host -> underlay address
        self.sfm_switch_host = {}       # switch -> host
        for k in range(1, n + 1):
            host, sw = 'h%d' % k, 's%d' % k
            peers = [('t-h%d' % m, underlay_addr(m))
                     for m in range(1, n + 1) if m != k]
            self.addSwitch(host, cls=HostOVS, dpid='%016x' % k, index=k,
                           bridge=sw, bridge_dpid=k, addr=underlay_addr(k),
                           peers=peers)
            self.sfm_switches[sw] = k
            self.sfm_switch_host[sw] = host
            self.sfm_hosts[host] = underlay_addr(k)
        for a in range(1, n + 1):
            for b in range(a + 1, n + 1):
                self.sfm_links.append((('s%d' % a, 't-h%d' % b),
                                       ('s%d' % b, 't-h%d' % a)))

    def node_of(self, switch):
        return self.sfm_switch_host[switch]

    def placement(self):
        n = len(self.sfm_hosts)
        return lambda svc, i: 's%d' % (
            (self.SERVICE_NAMES.index(svc) + i - 1) % n + 1)

    def chain_ends(self):
        return 's1', 's2'

    def host_of(self, name):
        """The host of an instance, the client or the server."""
        ends = {'client': self.sfm_chain['ingress'][0],
                'server': self.sfm_chain['egress'][0]}
        sw = ends.get(name) or self.instance(name)['switch']
        return self.sfm_switch_host[sw]

    def host_instances(self, host):
        return [i['name'] for i in self.instances()
                if self.sfm_switch_host[i['switch']] == host]


TOPOS = {'chain': ChainTopo, 'fabric': FabricTopo,
         'multihost': MultihostTopo}


def config_yaml(topo, buckets=256, extra=()):
    """The sfmesh-controller configuration of 'topo', as YAML text.
    'extra': more top-level lines (e.g. "handoff: {rate: 50}"), after
    "buckets"."""
    out = ['# sfmesh-controller configuration generated from the Mininet',
           '# topology %s (topo/sfmesh_topo.py); do not edit.'
           % type(topo).__name__,
           'version: 1',
           'buckets: %d' % buckets] + list(extra)
    hosts = getattr(topo, 'sfm_hosts', None)
    if hosts:
        # Each host's switch database (the controller writes the BFD of
        # its tunnels and instance interfaces there) and underlay address.
        out.append('hosts:')
        for h, addr in hosts.items():
            out.append('  %s: {ovsdb: "tcp:%s:6640", underlay: %s}'
                       % (h, addr, addr))
        out += ['bfd:',
                '  tunnel_min_tx_ms: %d' % TUNNEL_BFD_MS,
                '  tunnel_min_rx_ms: %d' % TUNNEL_BFD_MS]
    out.append('switches:')
    for name, dpid in topo.sfm_switches.items():
        if hosts:
            out.append('  %s: {dpid: %d, host: %s}'
                       % (name, dpid, topo.sfm_switch_host[name]))
        else:
            out.append('  %s: {dpid: %d}' % (name, dpid))
    if topo.sfm_links:
        out.append('links:')
        for a, b in topo.sfm_links:
            out.append('  - [{switch: %s, port: %s}, {switch: %s, port: %s}]'
                       % (a + b))
    out.append('services:')
    for svc, insts in topo.sfm_services:
        out.append('  %s:' % svc)
        out.append('    instances:')
        for i in insts:
            out.append('      %s: {switch: %s, port: %s, mac: "%s"}'
                       % (i['name'], i['switch'], i['port'], i['mac']))
    c = topo.sfm_chain
    out += ['chains:',
            '  %s:' % c['name'],
            '    spi: %d' % c['spi'],
            '    reverse_spi: %d' % c['reverse_spi'],
            '    ingress: {switch: %s, port: %s}' % c['ingress'],
            '    egress: {switch: %s, port: %s}' % c['egress'],
            '    match: ip',
            '    services: [%s]' % ', '.join(c['services'])]
    return '\n'.join(out) + '\n'


def make_topo(kind, fw=2, dlp=3, clients=1, spines=1, hosts=None):
    return TOPOS[kind](fw=fw, dlp=dlp, clients=clients, spines=spines,
                       hosts=hosts)


def make_testbed(topo, **kwargs):
    """The test bed for 'topo' (Testbed's arguments)."""
    cls = MultihostTestbed if isinstance(topo, MultihostTopo) else Testbed
    return cls(topo, **kwargs)


# --------------------------------------------------------------------------
# The test bed

class Testbed:
    """A topology up and running on a private OVS, with the controller and
    the agents.  Use as a context manager, or call start() and stop()."""

    # Where the controller listens (OpenFlow and agents) and the agents'
    # network: the n-th instance is AGENT_NET.(AGENT_BASE + n), on bridge
    # AGENT_BRIDGE.
    CTL_IP = '127.0.0.1'
    AGENT_NET = REP_NET
    AGENT_BASE = 0
    AGENT_BRIDGE = REP_BRIDGE
    AGENT_BRIDGE_MAC = '02:5f:6d:00:00:fe'
    SYNC_TIMEOUT = 20

    def __init__(self, topo, name='topo', bin_dir=None, replication='async',
                 function='stateful-fw', keep=False,
                 verbose=False, heartbeat_timeout=None, config_extra=()):
        self.topo = topo
        self.config_extra = list(config_extra)
        self.name = name
        self.bin = os.path.abspath(bin_dir or os.path.join(TOP, 'build',
                                                           'bin'))
        self.replication = replication
        self.function = function
        self.keep = keep
        self.verbose = verbose
        self.heartbeat_timeout = heartbeat_timeout
        self.tmp = None
        self.net = None
        self.pids = []              # daemons we started, stopped by pid
        self.agent_pids = {}        # instance -> agent pid
        self.procs = []             # Popen objects of traffic and the like
        self.started_pids = []      # every pid we ever started (for tests)
        self.ctl_path = None
        self.of_port = None
        self.agent_port = None
        self.config_path = None
        self.rep_ip = {}            # instance -> its agent network address
        self._rep_bridge = False
        self.controller_pid = None

    # Paths.
    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    @property
    def controller_log(self):
        return self.path('log', 'sfmesh-controller.log')

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def say(self, msg):
        log('== ' + msg)

    # ----------------------------------------------------------------
    def start(self):
        self.tmp = tempfile.mkdtemp(prefix='sfmesh-%s.' % self.name)
        for d in ('run', 'db', 'log', 'etc'):
            os.makedirs(self.path(d))
        os.environ.update(OVS_RUNDIR=self.path('run'),
                          OVS_DBDIR=self.path('db'),
                          OVS_LOGDIR=self.path('log'),
                          OVS_SYSCONFDIR=self.path('etc'),
                          OVS_PKGDATADIR='/usr/share/openvswitch')
        self.config_path = self.path('sfmesh.yaml')
        self.write_config()
        self.say('private OVS in %s' % self.tmp)
        self._start_ovs()
        self._start_rep_network()
        self._start_controller()
        self._start_mininet()
        # The agents start on programmed switches (the first bundle is the
        # controller's busiest moment).
        if not wait_until(self.switches_in_sync, self.SYNC_TIMEOUT):
            raise RuntimeError('the switches were not programmed: %s'
                               % self.ctl('switches', check=False))
        self._start_agents()
        self.wait_ready()

    def write_config(self):
        """(Re)writes the controller's configuration from the topology (as
        it is now: run-time changes to its instances included), checked by
        the controller first; the file is replaced in one rename."""
        tmp = self.config_path + '.new'
        with open(tmp, 'w') as f:
            f.write(config_yaml(self.topo, extra=self.config_extra))
        r = subprocess.run([os.path.join(self.bin, 'sfmesh-controller'),
                            '--check-config=' + tmp],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError('sfmesh-controller refuses the generated '
                               'configuration: ' + r.stdout.strip())
        os.rename(tmp, self.config_path)

    def reload(self):
        """SIGHUP to the controller: it reloads the configuration file."""
        os.kill(self.controller_pid, signal.SIGHUP)

    def _track(self, pidfile):
        if not wait_until(lambda: os.path.exists(pidfile)
                          and open(pidfile).read().strip(), 10):
            raise RuntimeError('no pidfile %s' % pidfile)
        pid = int(open(pidfile).read())
        self.pids.append(pid)
        self.started_pids.append(pid)
        return pid

    def _start_ovs(self):
        run(['ovsdb-tool', 'create', self.path('db', 'conf.db'),
             '/usr/share/openvswitch/vswitch.ovsschema'])
        run(['ovsdb-server', '--detach', '--no-chdir',
             '--pidfile=' + self.path('run', 'ovsdb-server.pid'),
             '-vconsole:off', '--log-file=' + self.path('log',
                                                        'ovsdb-server.log'),
             '--remote=punix:' + self.path('run', 'db.sock'),
             self.path('db', 'conf.db')])
        self._track(self.path('run', 'ovsdb-server.pid'))
        run(['ovs-vsctl', '--no-wait', 'init'])
        run(['ovs-vswitchd', '--detach', '--no-chdir',
             '--pidfile=' + self.path('run', 'ovs-vswitchd.pid'),
             '-vconsole:off', '--log-file=' + self.path('log',
                                                        'ovs-vswitchd.log'),
             '--disable-system', '-vvconn:info', '-vofproto_dpif:info'])
        self._track(self.path('run', 'ovs-vswitchd.pid'))

    def _start_rep_network(self):
        """The agents' network: a Linux bridge in this namespace with the
        controller's agent listener on .254; each instance host gets a veth
        into it (added after Mininet has made the hosts)."""
        # A fixed MAC: a Linux bridge otherwise takes the lowest MAC of its
        # ports, so adding an instance would change the address the agents
        # already resolved for the controller, and their channel would
        # stall until their ARP entry expired.
        run(['ip', 'link', 'add', self.AGENT_BRIDGE, 'address',
             self.AGENT_BRIDGE_MAC, 'type', 'bridge'])
        self._rep_bridge = True
        run(['ip', 'addr', 'add', self.AGENT_NET + '.254/24', 'dev',
             self.AGENT_BRIDGE])
        run(['ip', 'link', 'set', self.AGENT_BRIDGE, 'up'])

    def _start_controller(self):
        self.ctl_path = self.path('run', 'sfmesh-controller.ctl')
        args = [os.path.join(self.bin, 'sfmesh-controller'), '--detach',
                '--no-chdir',
                '--pidfile=' + self.path('run', 'sfmesh-controller.pid'),
                '-vconsole:off', '--log-file=' + self.controller_log,
                '--unixctl=' + self.ctl_path,
                '--config=' + self.config_path,
                '--agent-listen=ptcp:0:%s.254' % self.AGENT_NET]
        args += self.controller_ovsdb_args()
        if self.heartbeat_timeout:
            args.append('--heartbeat-timeout=%d' % self.heartbeat_timeout)
        run(args + ['ptcp:0:' + self.CTL_IP])
        self.controller_pid = self._track(self.path('run',
                                                    'sfmesh-controller.pid'))
        text = open(self.controller_log).read()
        m1 = re.search(r'listening on ptcp:(\d+):%s'
                       % re.escape(self.CTL_IP), text)
        m2 = re.search(r'listening for agents on ptcp:[\d.]+:(\d+)', text)
        if not m1 or not m2:
            raise RuntimeError('controller ports not in its log')
        self.of_port, self.agent_port = int(m1.group(1)), int(m2.group(1))
        os.environ['SFM_CTL'] = self.ctl_path
        self.say('sfmesh-controller: OpenFlow on %s:%d, agents on '
                 '%s.254:%d' % (self.CTL_IP, self.of_port, self.AGENT_NET,
                                self.agent_port))

    def controller_ovsdb_args(self):
        # BFD on the instance ports, answered by the agents.
        return ['--ovsdb=unix:' + self.path('run', 'db.sock')]

    def _start_mininet(self):
        from functools import partial
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.node import OVSSwitch, RemoteController

        setLogLevel('info' if self.verbose else 'warning')
        # Mininet.init() would raise host-wide sysctls (fs.file-max,
        # kernel.pty.max, ...); raise our own limits only.
        Mininet.inited = True
        for res, want in ((resource.RLIMIT_NOFILE, 16384),):
            soft, hard = resource.getrlimit(res)
            if soft < want:
                resource.setrlimit(res, (min(want, hard), hard))
        switch = partial(OVSSwitch, datapath='user', failMode='secure',
                         protocols=OF_PROTOCOLS)
        self.net = Mininet(topo=self.topo, switch=switch, controller=None,
                           build=False, autoSetMacs=False,
                           waitConnected=False)
        self.net.addController('c0', controller=RemoteController,
                               ip=self.CTL_IP, port=self.of_port)
        self.net.build()
        for node in self.net.hosts + self.net.switches + self.net.controllers:
            if node.shell:
                self.started_pids.append(node.pid)
        self._before_net_start()
        self.net.start()
        self.say('Mininet: ' + self.describe())
        for h in self.net.hosts:
            h.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1')
        for h, _ in self.topo.sfm_clients + [self.topo.sfm_server]:
            host = self.net.get(h)
            host.cmd('ethtool -K %s tx off >/dev/null' % host.defaultIntf())
        for inst in self.topo.instances():
            host = self.net.get(inst['name'])
            host.cmd('ip addr flush dev %s' % inst['intf'])
            host.cmd('ip link set %s mtu %d' % (inst['intf'], INSTANCE_MTU))
            self.set_port(inst['switch'], inst['port'], 'mtu',
                          str(INSTANCE_MTU))
        self._set_link_mtus()

    def _before_net_start(self):
        """Called once Mininet has built the nodes and links, before it
        starts the switches."""

    def _set_link_mtus(self):
        for link in self.topo.sfm_links:
            for _sw, port in link:
                run(['ip', 'link', 'set', port, 'mtu', str(INSTANCE_MTU)])

    def describe(self):
        """What Mininet runs, in a line."""
        return 'switches %s; hosts %s; instances %s' % (
            ', '.join(s.name for s in self.net.switches),
            ', '.join(h for h, _ in self.topo.sfm_clients
                      + [self.topo.sfm_server]),
            ', '.join(i['name'] for i in self.topo.instances()))

    # Switch ports, wherever their switch runs.
    def port_cmd(self, switch, args):
        """'args' (a command) to run where 'switch''s ports are (its
        network namespace)."""
        return list(args)

    def set_port(self, switch, port, *what):
        """ip link set PORT WHAT... on the port of 'switch'."""
        run(self.port_cmd(switch, ['ip', 'link', 'set', port] + list(what)))

    def ovs_env(self, switch):
        """The environment of ovs-vsctl and friends for 'switch'."""
        return None

    def ovs(self, switch, args, check=True):
        """Runs an OVS tool ('args') against the OVS of 'switch'."""
        return run(list(args), check=check, env=self.ovs_env(switch))

    def _start_agents(self):
        # The agents' network first, whole: an agent connects to the
        # others' replication addresses as soon as it has the map.
        for inst in self.topo.instances():
            self._add_rep_link(inst)
        for inst in self.topo.instances():
            self.start_agent(inst['name'])
        self.say('%d agents (%s, replication %s)'
                 % (len(self.agent_pids), self.function, self.replication))

    def _add_rep_link(self, inst):
        """The instance host's interface NAME-rep on the agents' network,
        with the next free address."""
        name = inst['name']
        host = self.net.get(name)
        ip = self._next_agent_ip(name)
        # veth: r-NAME on the bridge here, NAME-rep in the host.
        outer, inner = 'r-' + name, name + '-rep'
        run(['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name',
             inner])
        run(['ip', 'link', 'set', inner, 'netns', str(host.pid)])
        run(['ip', 'link', 'set', outer, 'master', self.AGENT_BRIDGE, 'up'])
        host.cmd('ip addr add %s/24 dev %s && ip link set %s up'
                 % (ip, inner, inner))

    def _next_agent_ip(self, name):
        """Gives instance 'name' the next free address of the agents'
        network."""
        used = {int(ip.rsplit('.', 1)[1]) for ip in self.rep_ip.values()}
        n = self.AGENT_BASE + 1
        while n in used:
            n += 1
        if n >= 254:
            raise RuntimeError('the agents\' network is full')
        self.rep_ip[name] = '%s.%d' % (self.AGENT_NET, n)
        return self.rep_ip[name]

    def start_agent(self, name):
        """Starts (or starts again, after a kill) the agent of instance
        'name' in its host; returns its pid."""
        inst = self.topo.instance(name)
        host = self.net.get(name)
        ip = self.rep_ip[name]
        old = self.agent_pids.pop(name, None)
        if old is not None:
            stop_pids([old])
            if old in self.pids:
                self.pids.remove(old)
        pidfile = self.path('run', 'agent-%s.pid' % name)
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        args = [os.path.join(self.bin, 'sfmesh-agent'), '--detach',
                '--no-chdir', '-vconsole:off',
                '--pidfile=' + pidfile,
                '--log-file=' + self.path('log', 'agent-%s.log' % name),
                '--unixctl=' + self.agent_ctl(name),
                '--instance=' + name, '--service=' + self.function,
                '--iface=' + inst['intf'],
                '--controller=tcp:%s.254:%d' % (self.AGENT_NET,
                                                 self.agent_port),
                '--repl-listen=ptcp:%d:%s' % (REP_PORT, ip),
                '--replication=' + self.replication]
        out = host.cmd(' '.join(args) + '; echo "rc=$?"')
        if 'rc=0' not in out:
            raise RuntimeError('agent %s did not start: %s'
                               % (name, out.strip()))
        self.agent_pids[name] = self._track(pidfile)
        return self.agent_pids[name]

    def add_instance(self, inst, start_agent=True):
        """Adds instance 'inst' (from topo.spare_instance()) at run time: a
        Mininet host linked to its switch by a port named after it, with
        its MAC, on the agents' network, with its agent running.  The
        topology lists it from now on (so write_config() puts it in the
        configuration); the controller hears of it only by a reload.
        With 'start_agent' false, the agent is left to start_agent()."""
        name, swname = inst['name'], inst['switch']
        host = self.net.addHost(name, ip=None, mac=inst['mac'])
        self.started_pids.append(host.pid)
        sw = self.net.get(self.topo.node_of(swname))
        self.net.addLink(host, sw, intfName1=inst['intf'],
                         intfName2=inst['port'], addr1=inst['mac'])
        host.setMAC(inst['mac'], intf=inst['intf'])
        host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1')
        host.cmd('ip addr flush dev %s' % inst['intf'])
        host.cmd('ip link set %s mtu %d' % (inst['intf'], INSTANCE_MTU))
        self.set_port(swname, inst['port'], 'mtu', str(INSTANCE_MTU))
        sw.attach(inst['port'])
        self.topo.service_instances(inst['service']).append(inst)
        self._add_rep_link(inst)
        return self.start_agent(name) if start_agent else None

    def forget_instance(self, name):
        """Takes instance 'name' out of the topology (and so out of the
        next write_config()); its host and agent keep running."""
        inst = self.topo.instance(name)
        self.topo.service_instances(inst['service']).remove(inst)
        return inst

    def remove_instance(self, inst):
        """Stops the agent of 'inst' (already forgotten by the topology)
        and takes its host, its port and its links away."""
        name = inst['name']
        pid = self.agent_pids.pop(name, None)
        if pid is not None:
            stop_pids([pid])
            if pid in self.pids:
                self.pids.remove(pid)
        host = self.net.get(name)
        sw = self.net.get(self.topo.node_of(inst['switch']))
        sw.detach(inst['port'])
        self.net.delLinkBetween(host, sw, allLinks=True)
        self._del_rep_link(inst)
        self.net.delHost(host)
        self.rep_ip.pop(name, None)

    def _del_rep_link(self, inst):
        subprocess.run(['ip', 'link', 'del', 'r-' + inst['name']],
                       stderr=subprocess.DEVNULL)

    def agent_ctl(self, name):
        return self.path('run', 'agent-%s.ctl' % name)

    # ----------------------------------------------------------------
    def ctl(self, *args, check=True):
        return run([os.path.join(self.bin, 'sfmesh-ctl'), '-t', self.ctl_path]
                   + list(args), check=check)

    def agents_ready(self):
        """True when every agent is up and warm, its instance up (its BFD
        session too), and every switch is in sync."""
        out = self.ctl('agents', check=False)
        ready = [l for l in out.splitlines()
                 if len(l.split()) >= 6 and l.split()[1] == 'up'
                 and l.split()[5] == 'yes']
        if len(ready) != len(self.agent_pids):
            return False
        out = self.ctl('instances', check=False)
        up = [l.split()[0] for l in out.splitlines()[1:]
              if len(l.split()) >= 6 and l.split()[5] == 'up']
        if any(name not in up for name in self.agent_pids):
            return False
        return self.switches_in_sync()

    def switches_in_sync(self):
        out = self.ctl('switches', check=False)
        return out.count('IDLE, in sync') == len(self.topo.sfm_switches)

    def epochs(self):
        return {svc: self.map_epoch(svc) for svc in self.topo.service_names()}

    def wait_ready(self, timeout=30, settle=1.0):
        """Waits until every agent is up and warm and every switch in sync,
        and stays so, with the same service maps, for 'settle' seconds."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not wait_until(self.agents_ready, left):
                log(self.ctl('agents', check=False))
                log(self.ctl('switches', check=False))
                raise RuntimeError('agents not all up and warm, or switches '
                                   'not in sync, after %d s' % timeout)
            before = self.epochs()
            time.sleep(settle)
            if self.agents_ready() and self.epochs() == before:
                break
        self.say('ready: every agent up and warm, every switch in sync '
                 '(%.1f s)' % (time.monotonic() - t0))

    def map_epoch(self, service):
        m = re.search(r'epoch (\d+)', self.ctl('map', service))
        return int(m.group(1)) if m else None

    def map_table(self, service):
        """{bucket: (primary, secondary)} of 'service'."""
        table = {}
        for line in self.ctl('map', service).splitlines():
            f = line.split()
            if len(f) == 3 and f[0].isdigit():
                table[int(f[0])] = (f[1], f[2])
        return table

    def port_of(self, switch, port):
        return int(self.ovs(switch, ['ovs-vsctl', 'get', 'interface', port,
                                     'ofport']).strip())

    def trace_code(self, switch, in_port, flow):
        """The affinity code (NSH C1) the switch gives 'flow' entering on
        OVS port 'in_port' (a name).  A code of 0 sets nothing that the
        trace reports ("is now" lines show changes only): it is read from
        the push_nsh of the datapath actions then."""
        out = self.ovs(switch, ['ovs-appctl', 'ofproto/trace', switch,
                                'in_port=%d,%s' % (
                                    self.port_of(switch, in_port), flow)])
        m = (re.search(r'NXOXM_NSH_C1\[\] is now (0x[0-9a-f]+)', out)
             or re.search(r'^Datapath actions: push_nsh\([^)]*c1=(0x[0-9a-f]+)',
                          out, re.M))
        if not m:
            raise RuntimeError('no affinity code in the trace of %s' % flow)
        return int(m.group(1), 16)

    def popen(self, host, args, **kwargs):
        """Starts 'args' in Mininet host 'host'; the process is stopped by
        stop()."""
        p = self.net.get(host).popen(args, **kwargs)
        self.procs.append(p)
        self.started_pids.append(p.pid)
        return p

    def cli(self):
        from mininet.cli import CLI
        log('')
        log('Mininet CLI, everything running.  Try:')
        for line in self.cli_hints():
            log('  ' + line)
        if self.ctl_path:
            log('  sh %s/sfmesh-ctl -t $SFM_CTL map fw | head'
                % os.path.relpath(self.bin))
            log('  sh %s/sfmesh-ctl -t $SFM_CTL agents'
                % os.path.relpath(self.bin))
            log('  sh %s/sfmesh-ctl -t $SFM_CTL switches'
                % os.path.relpath(self.bin))
            log('  (SFM_CTL=%s)' % self.ctl_path)
        log('  client ping -c 3 server')
        log('Logs in %s/log.  "exit" or Ctrl-D tears everything down.'
            % self.tmp)
        # The CLI prints the nodes' output at Mininet's level "output",
        # which the test bed's "warning" hides.
        from mininet.log import setLogLevel
        setLogLevel('info' if self.verbose else 'output')
        try:
            CLI(self.net)
        finally:
            setLogLevel('info' if self.verbose else 'warning')

    def cli_hints(self):
        sw = self.topo.sfm_chain['ingress'][0]
        return ['sh ovs-ofctl -O OpenFlow15 dump-flows %s | head' % sw,
                'sh ovs-ofctl -O OpenFlow15 dump-groups %s | head' % sw]

    # ----------------------------------------------------------------
    def stop(self):
        """Stops everything this test bed started, in reverse order, each
        by its pid; removes the temp directory unless 'keep'."""
        procs, self.procs = self.procs, []
        for p in procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except OSError:
                    pass
        for p in procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        agents = list(self.agent_pids.values())
        if agents:
            stop_pids(agents)
        if self.net is not None:
            from mininet.log import setLogLevel
            setLogLevel('warning' if not self.verbose else 'info')
            try:
                self.net.stop()
            except Exception as e:          # keep cleaning up
                log('warning: stopping Mininet: %s' % e)
            self.net = None
        pids, self.pids = self.pids, []
        stop_pids([p for p in reversed(pids) if p not in agents])
        if self._rep_bridge:
            subprocess.run(['ip', 'link', 'del', self.AGENT_BRIDGE],
                           stderr=subprocess.DEVNULL)
            self._rep_bridge = False
        if self.tmp and os.path.isdir(self.tmp):
            if self.keep:
                log('logs kept in %s' % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def save_logs(self, dest):
        """Copies the logs and the generated configuration to 'dest', and
        writes each live agent's `status` there (AGENT.status)."""
        os.makedirs(dest, exist_ok=True)
        shutil.copy(self.config_path, os.path.join(dest, 'sfmesh.yaml'))
        for f in os.listdir(self.path('log')):
            shutil.copy(self.path('log', f), os.path.join(dest, f))
        for name in sorted(self.agent_pids):
            try:
                r = subprocess.run([os.path.join(self.bin, 'sfmesh-ctl'),
                                    '-t', self.agent_ctl(name), 'status'],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True,
                                   timeout=5)
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0:
                with open(os.path.join(dest, name + '.status'), 'w') as f:
                    f.write(r.stdout)


class MultihostTestbed(Testbed):
    """The test bed of the multi-host topology.  No OVS of its own: each
    host runs its own (HostOVS, started by Mininet).  Instead of the
    agents' network, the underlay: a Linux bridge "sfmul" in the script's
    namespace holds the controller's address 172.31.0.254, where it
    listens for the switches and for the agents, and each host's
    underlay port.  Each instance's management port (NAME-mgmt, address
    172.31.0.(10 + k)) is bridged onto its host's br-phy by a veth m-NAME,
    as sfm_host_mgmt_port in tests/lib/hosts.sh does, so that the agents'
    channel and their replication cross the underlay, and a dead host
    takes its instances' channels with it.  The controller writes BFD into
    each host's database (the configuration's hosts:).  kill_host() kills
    a host whole."""

    CTL_IP = UNDERLAY_CTL
    AGENT_NET = UNDERLAY_NET
    AGENT_BASE = UNDERLAY_AGENT_BASE
    AGENT_BRIDGE = UNDERLAY_BRIDGE
    AGENT_BRIDGE_MAC = '02:5f:6d:00:01:fe'
    SYNC_TIMEOUT = 40

    def _start_ovs(self):
        pass                    # each host's, when Mininet starts it

    def _start_rep_network(self):
        super()._start_rep_network()
        # Packets of this namespace's stack (the controller's) reach the
        # hosts' userspace datapaths, which do not complete offloaded
        # checksums.
        run(['ethtool', '-K', self.AGENT_BRIDGE, 'tx', 'off'], check=False)

    def controller_ovsdb_args(self):
        return []               # the hosts' databases, from the configuration

    def host_node(self, host):
        return self.net.get(host)

    def switch_node(self, switch):
        return self.net.get(self.topo.node_of(switch))

    def _before_net_start(self):
        for host in self.topo.sfm_hosts:
            self.host_node(host).use_dirs(self.path('hosts', host),
                                       self.path('log'), self._track)

    def _start_mininet(self):
        super()._start_mininet()
        # The tunnels' 50 bytes and NSH's 38 on the underlay's 1500: the
        # ends' segments stay small enough.
        for h, _ in self.topo.sfm_clients + [self.topo.sfm_server]:
            host = self.net.get(h)
            host.cmd('ip link set %s mtu %d'
                     % (host.defaultIntf(), CLIENT_MTU_MULTIHOST))

    def _set_link_mtus(self):
        pass                    # the links are tunnels

    def describe(self):
        parts = []
        for host in self.topo.sfm_hosts:
            sw = [s for s, h in self.topo.sfm_switch_host.items()
                  if h == host][0]
            who = [n for n in ('client', 'server')
                   if self.topo.host_of(n) == host]
            who += self.topo.host_instances(host)
            parts.append('%s %s (%s: %s)' % (
                host, self.topo.sfm_hosts[host], sw, ', '.join(who)))
        return 'hosts %s; tunnels %s' % (
            ', '.join(parts), ', '.join('%s-%s' % (a[0], b[0])
                                        for a, b in self.topo.sfm_links))

    def port_cmd(self, switch, args):
        return self.switch_node(switch).in_ns(args)

    def ovs_env(self, switch):
        return self.switch_node(switch).env

    def _add_rep_link(self, inst):
        """The instance's management port NAME-mgmt, with the next
        address of the underlay, bridged onto its host's br-phy (veth
        m-NAME there)."""
        name = inst['name']
        host = self.net.get(name)
        hnode = self.switch_node(inst['switch'])
        ip = self._next_agent_ip(name)
        outer, inner = 'm-' + name, name + '-mgmt'
        run(['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name',
             inner, 'netns', str(host.pid)])
        run(['ip', 'link', 'set', outer, 'netns', str(hnode.pid)])
        hnode.run(['ip', 'link', 'set', outer, 'up'], ns=True)
        # The userspace datapath does not complete offloaded checksums.
        hnode.run(['ethtool', '-K', outer, 'tx', 'off'], ns=True,
                  check=False)
        hnode.vsctl('add-port', 'br-phy', outer)
        host.cmd('ethtool -K %s tx off >/dev/null 2>&1; '
                 'ip addr add %s/24 dev %s && ip link set %s up'
                 % (inner, ip, inner, inner))

    def _del_rep_link(self, inst):
        hnode = self.switch_node(inst['switch'])
        hnode.detach('m-' + inst['name'], 'br-phy')
        hnode.run(['ip', 'link', 'del', 'm-' + inst['name']], ns=True,
                  check=False)

    def live_switches(self):
        return [sw for sw in self.topo.sfm_switches
                if self.net is None or not self.switch_node(sw).dead]

    def switches_in_sync(self):
        """Every switch of a live host in sync, and every tunnel between
        live hosts up (its BFD too)."""
        out = self.ctl('switches', check=False)
        live = self.live_switches()
        if out.count('IDLE, in sync') < len(live):
            return False
        for (a, pa), (b, pb) in self.topo.sfm_links:
            if (a in live and b in live and 'link %s:%s - %s:%s: up'
                    % (a, pa, b, pb) not in out):
                return False
        return True

    def kill_host(self, host):
        """Host 'host' dies: SIGKILL, at once, to its ovs-vswitchd and
        ovsdb-server and to the agents of its instances (each by its pid).
        Returns the instances whose agents were killed."""
        node = self.host_node(host)
        names = [n for n in self.topo.host_instances(host)
                 if n in self.agent_pids]
        node.kill()
        for n in names:
            try:
                os.kill(self.agent_pids[n], signal.SIGKILL)
            except ProcessLookupError:
                pass
        return names

    def stop(self):
        # The hosts' OVS first, so that their daemons do not see Mininet
        # take their ports away.
        if self.net is not None:
            for host in self.topo.sfm_hosts:
                node = self.host_node(host)
                if node is not None:
                    stop_pids(node.daemon_pids)
        super().stop()

    def cli_hints(self):
        sw = self.topo.sfm_chain['ingress'][0]
        h = self.topo.node_of(sw)
        return ['%s ovs-vsctl show' % h,
                '%s ovs-ofctl -O OpenFlow15 dump-flows %s | head' % (h, sw),
                '%s ovs-appctl ovs/route/show' % h,
                'sh %s/sfmesh-ctl -t $SFM_CTL hosts'
                % os.path.relpath(self.bin),
                'sh %s/sfmesh-ctl -t $SFM_CTL bfd'
                % os.path.relpath(self.bin)]
