/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef PIPELINE_H
#define PIPELINE_H 1

/* The steering pipeline: a pure function from the configuration, the paths
 * between switches (a fabric, see fabric.h), the service maps and a
 * switch's ports to the flows and groups that switch
 * needs, as decoded OpenFlow structures (a flowset, see flowset.h); the
 * comments in pipeline.c give each one in ovs-ofctl syntax.
 *
 * Table 0 (classify): traffic of a chain's ingress (forward SPI) or egress
 * (reverse SPI) port gets its affinity code from a symmetric 5-tuple hash
 * (multipath), an NSH header (SPI, SI 255, C1 = code) and an outer Ethernet
 * header, then goes to table 1.  With "classifier: dp-hash" it goes to the
 * classifier group instead, whose one bucket takes the code from the
 * datapath's symmetric hash (dp_hash, after a recirculation) and resubmits
 * to table 3 (code), where the port's flow pushes the headers and goes on
 * to table 1.  ARP between the two ports bypasses the
 * chain (in NSH, as a frame past the chain's last service, when the ports
 * are on different switches).  A frame from an instance port passes only
 * if it is NSH with an SPI and SI that instance may return; NSH from a link
 * to another switch goes to table 2; anything else from either is dropped
 * by a per-port flow, whose counters show it.
 *
 * Table 1 (steer): (SPI, SI, C1 & mask) selects the fast-failover group of
 * (service, bucket); at the chain's end both headers are removed and the
 * frame leaves by the egress (or, returning, the ingress) port, or goes
 * toward the switch that has that port.
 *
 * Table 2 (transit, only on switches with links): a frame from another
 * switch that has crossed its chain leaves or goes on; one for a local
 * instance that is the primary of its bucket re-enters that bucket's group
 * here, where the instance's port is watched; one for any other instance
 * goes to it, or on toward its switch.
 *
 * Groups: with "classifier: dp-hash", the classifier group (a select group
 * of one bucket, selection method dp_hash, algorithm OVS_HASH_ALG_SYM_L4);
 * and one fast-failover group per (service, bucket): bucket 1 watches
 * and outputs to the primary, bucket 2 to the secondary, each rewriting the
 * Ethernet destination to the instance's MAC.  An instance on another
 * switch is reached by the link toward it (a shortest path), which is what
 * the bucket watches.  A bucket with no live instance has a group with no
 * buckets: its traffic is dropped and counted in the group's statistics. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flowset;
struct pl_state;
struct sfm_config;
struct shash;
struct svcmap;

#define PL_TABLE_CLASSIFY 0
#define PL_TABLE_STEER 1
#define PL_TABLE_TRANSIT 2
#define PL_TABLE_CODE 3

/* The classifier group (only with "classifier: dp-hash").  Below every
 * service group: pl_group_id() returns 65536 and more. */
#define PL_CLASSIFY_GROUP_ID 1

struct fabric;
void pl_generate(const struct sfm_config *, const struct fabric *,
                 size_t sw, struct svcmap *const *maps,
                 const struct shash *ports, struct flowset *);

uint32_t pl_group_id(size_t service_idx, uint32_t bucket);

/* Incremental updates: see pl_update(). */
struct pl_state *pl_state_create(void);
void pl_state_destroy(struct pl_state *);
bool pl_update(struct pl_state *, const struct sfm_config *,
               const struct fabric *, size_t sw,
               struct svcmap *const *maps, const struct shash *ports,
               struct flowset *full, struct flowset *put,
               struct flowset *del);

#endif /* pipeline.h */
