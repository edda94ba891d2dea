/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CFG_H
#define CFG_H 1

/* The controller's configuration file (YAML, read with libyaml).
 *
 * It names the switches, the links between them, the services with their
 * instances, the chains
 * (per subscriber: ingress, ordered services, egress), the bucket count and
 * timers.  See docs/examples/two-service-chain.yaml.  Every error names the
 * file, the line and the field.  Parsing does no I/O beyond reading the
 * file, so that cfg_parse() can be fuzzed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "damp.h"
#include "openvswitch/match.h"
#include "openvswitch/types.h"

struct route_link;

/* Limits.  The bucket count, and the groups and steering flows it makes
 * with the chains (CFG_MAX_ENTRIES), are bounded by what the controller
 * computes in one loop turn well within the OpenFlow connection's dead-peer
 * time: the whole desired state and its difference with the switch (see
 * "Programming limits" in docs/pipeline.md, which gives the measurements
 * at these limits). */
#define CFG_MAX_FILE_SIZE (1024 * 1024)
#define CFG_MIN_BUCKETS 2
#define CFG_MAX_BUCKETS 16384
#define CFG_MAX_ENTRIES 262144
#define CFG_MAX_WEIGHT 1000
#define CFG_MAX_SWITCHES 1024
#define CFG_MAX_LINKS 8192

/* The outer Ethernet source with which a switch marks a frame that it has
 * redirected from a dead instance to another (see pipeline.h).  No
 * instance may have it. */
#define CFG_REDIRECT_MAC "02:5f:6d:00:00:01"

/* A host: a machine with its own OVS, named by the switches on it
 * ("switches: NAME: {host: ...}") and optionally described in "hosts". */
struct cfg_host {
    char *name;                 /* As the switches name it. */
    char *ovsdb;                /* Its switch database ("hosts: NAME: {ovsdb:
                                 * ...}"), or NULL. */
    char *underlay;             /* Its tunnels' address ("underlay:"), an
                                 * IPv4 address as inet_ntop() writes it,
                                 * or NULL. */
};

struct cfg_switch {
    char *name;                 /* Key in "switches". */
    uint64_t dpid;              /* Datapath id. */
    int host;                   /* Index in 'hosts' of the host it runs on
                                 * ("host:"), or -1 if not given. */
    int line;                   /* Where it is defined. */
};

/* Names in the file are resolved once, when it is read: an instance, an
 * endpoint and a chain refer to switches and services by their index in
 * 'switches' and 'services', where each one's name lives. */
struct cfg_instance {
    char *name;                 /* Unique in the whole file. */
    size_t service;             /* Index in 'services' of its service. */
    size_t sw;                  /* Index in 'switches' of its switch. */
    char *port;                 /* OVS port name on that switch. */
    struct eth_addr mac;        /* The instance's MAC address. */
    uint32_t weight;            /* 1 to CFG_MAX_WEIGHT, default 1. */
    int line;
};

struct cfg_service {
    char *name;                 /* Key in "services". */
    struct cfg_instance *instances; /* At least one. */
    size_t n_instances;
    int line;
};

/* A port of a switch: where a chain's traffic enters or leaves, or one end
 * of a link between switches. */
struct cfg_endpoint {
    size_t sw;                  /* Index in 'switches'. */
    char *port;                 /* OVS port name. */
};

/* A link between two switches, which steering may cross. */
struct cfg_link {
    struct cfg_endpoint ends[2]; /* On different switches. */
    int line;
};

struct cfg_chain {
    char *name;                 /* Key in "chains". */
    uint32_t spi;               /* Forward SPI, 1 to 0xffffff. */
    uint32_t reverse_spi;       /* Return SPI, default spi + 1. */
    struct cfg_endpoint ingress; /* Client side. */
    struct cfg_endpoint egress;  /* Server side. */
    char *match;                /* Extra ovs-ofctl match, default "ip". */
    struct match extra;         /* 'match', parsed. */
    size_t *services;           /* Indexes in 'services', in forward
                                 * order. */
    size_t n_services;          /* At least one. */
    int line;
};

struct cfg_timers {
    int inactivity_probe_ms;    /* Default 5000. */
    int handshake_timeout_ms;   /* Default 10000. */
};

/* How buckets move between instances (see ofctl-app/handoff.h). */
struct cfg_handoff {
    bool immediate;             /* "mode: immediate": no state handed over
                                 * first (default: make-before-break). */
    bool rebalance;             /* "rebalance: on" (the default). */
    unsigned int rate;          /* Moves started per second. */
    unsigned int max_in_progress; /* Handoffs at once. */
    int timeout_ms;             /* Warming for longer is abandoned. */
    int retry_ms;               /* An abandoned bucket waits this long. */
};

/* BFD on the instance interfaces, answered by each instance's agent, so
 * that a hung or dead agent makes its port not live and the fast-failover
 * groups move its streams with no controller in the loop.  The controller
 * writes these settings into the switch database (--ovsdb). */
struct cfg_bfd {
    bool enable;                /* "enable: on" (the default). */
    unsigned int min_tx_ms;     /* OVS's bfd:min_tx. */
    unsigned int min_rx_ms;     /* OVS's bfd:min_rx. */
    unsigned int tunnel_min_tx_ms; /* The same, on the tunnels between */
    unsigned int tunnel_min_rx_ms; /* hosts. */
};

#define CFG_DEFAULT_BFD_MS 20
#define CFG_DEFAULT_TUNNEL_BFD_MS 100
#define CFG_MAX_BFD_MS 60000

/* The damping of links between switches (fabric.h; the rule is damp.h's):
 * a link that goes down stays down 1 s at least, twice as long at each
 * further flap up to 30 s, and a link quiet for 15 s halves its penalty. */
#define CFG_DEFAULT_LINK_DAMP_BASE_MS 1000
#define CFG_DEFAULT_LINK_DAMP_MAX_MS 30000
#define CFG_DEFAULT_LINK_DAMP_DECAY_MS 15000
#define CFG_MAX_DAMP_MS 3600000

/* How a chain's edge computes a stream's affinity code (docs/pipeline.md,
 * "The classifier"). */
enum cfg_classifier {
    CFG_CLASSIFIER_MULTIPATH,   /* "multipath" (the default): a hash of the
                                 * 5-tuple in ovs-vswitchd, one datapath
                                 * flow per stream. */
    CFG_CLASSIFIER_DP_HASH,     /* "dp-hash": the datapath's symmetric L4
                                 * hash, datapath flows per code. */
};

#define CFG_MAX_HANDOFF_RATE 100000
#define CFG_MAX_HANDOFFS_AT_ONCE 65536

struct sfm_config {
    char *file;                 /* Name used in error messages. */
    unsigned int bucket_bits;   /* Buckets per service: 1 << bucket_bits. */
    enum cfg_classifier classifier;
    struct cfg_switch *switches;
    size_t n_switches;
    struct cfg_host *hosts;     /* The switches' hosts, by first mention: a
                                 * host is a failure domain (svcmap.h). */
    size_t n_hosts;
    struct cfg_link *links;     /* Paths over them: see fabric.h. */
    size_t n_links;
    struct cfg_service *services;
    size_t n_services;
    struct cfg_chain *chains;
    size_t n_chains;
    struct cfg_timers timers;
    struct cfg_handoff handoff;
    struct cfg_bfd bfd;
    struct damp_params link_damping; /* "link_damping:", for every link. */
};

char *cfg_read(const char *file, struct sfm_config **) OVS_WARN_UNUSED_RESULT;
char *cfg_parse(const char *file, const char *text, size_t len,
                struct sfm_config **) OVS_WARN_UNUSED_RESULT;
void cfg_destroy(struct sfm_config *);

const struct cfg_switch *cfg_find_switch(const struct sfm_config *,
                                         const char *name);
const struct cfg_service *cfg_find_service(const struct sfm_config *,
                                           const char *name);
const struct cfg_instance *cfg_find_instance(const struct sfm_config *,
                                             const char *name);
size_t cfg_n_buckets(const struct sfm_config *);
char *cfg_check_match(const char *) OVS_WARN_UNUSED_RESULT;
char *cfg_parse_match(const char *, struct match *) OVS_WARN_UNUSED_RESULT;
char *cfg_keep_instance(struct sfm_config *, size_t service,
                        const struct sfm_config *old,
                        const struct cfg_instance *) OVS_WARN_UNUSED_RESULT;
void cfg_remove_instance(struct sfm_config *, size_t service,
                         size_t instance);
void cfg_route_links(const struct sfm_config *, struct route_link *);
const char *cfg_instance_switch(const struct sfm_config *,
                                const struct cfg_instance *);
bool cfg_chain_has_service(const struct cfg_chain *, size_t service);

#endif /* cfg.h */
