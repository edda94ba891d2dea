#!/usr/bin/python3
"""The fabric topology: a leaf-spine fabric (spine sp1, leaves lf1 and
lf2) with the client on lf1, the server on lf2, and the instances of
services fw and dlp spread over both leaves, so that steering a stream
through the chain would cross the spine.

sfmesh-controller does not steer across switches yet: it refuses chains
whose ingress, egress and instances are not on one switch.  This script
builds the topology on a private OVS, generates the configuration and
shows the controller's refusal; --cli lets you look around.

    topo/fabric.py                  build it, report, tear it down
    topo/fabric.py --config-only    print the generated configuration
    topo/fabric.py --fw 4 --dlp 4 --cli
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chain  # noqa: E402

if __name__ == '__main__':
    sys.exit(chain.main('fabric', __doc__))
