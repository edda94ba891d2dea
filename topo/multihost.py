#!/usr/bin/python3
"""The multi-host topology: hosts h1 to hN (--hosts, default 3), each its
own ovsdb-server and ovs-vswitchd (netdev datapath) in a network
namespace of its own, joined by an underlay with OVS userspace tunneling
(each host's br-phy holds its underlay port and its address 172.31.0.N;
the controller is 172.31.0.254 on a Linux bridge).  Host hK's switch sK
has a VXLAN tunnel t-hM to every other host M, and the configuration
declares the tunnels as links (docs/multihost.md).  The client is on h1,
the server on h2, and the instances of fw and dlp go round the hosts
(fw-1 h1, fw-2 h2; dlp-1 h2, dlp-2 h3, dlp-3 h1), so every bucket gets a
secondary on another host than its primary (anti-affinity).  The agents'
channel and replication cross the underlay too: each instance's
management port is bridged onto its host's br-phy (172.31.0.(10 + k)).

    topo/multihost.py                 bring it up, check a ping and a TCP
                                      transfer through the chain, show the
                                      controller's view, tear it all down
    topo/multihost.py --config-only   print the generated configuration
    topo/multihost.py --hosts 4 --dlp 4 --cli
    topo/scenario.py --topo multihost --failure host   a host dies
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chain  # noqa: E402

if __name__ == '__main__':
    sys.exit(chain.main('multihost', __doc__))
