#!/usr/bin/python3
"""The fabric topology: a leaf-spine fabric (spine sp1, leaves lf1 and
lf2; with --spines N, spines sp1 to spN, each linked to both leaves, and
the leaves' dpids N + 1 and N + 2) with the client on lf1, the server on
lf2, and the instances of
services fw and dlp spread over both leaves, so that steering a stream
through the chain crosses the spine (and back).  The controller's
configuration, links included, is generated from the topology.

    topo/fabric.py                  bring it up, check a ping and a TCP
                                    transfer through the chain, show the
                                    controller's view, tear it all down
    topo/fabric.py --config-only    print the generated configuration
    topo/fabric.py --fw 4 --dlp 4 --cli
    topo/fabric.py --spines 2 --cli
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chain  # noqa: E402

if __name__ == '__main__':
    sys.exit(chain.main('fabric', __doc__))
