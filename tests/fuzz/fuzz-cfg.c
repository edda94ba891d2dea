/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the configuration file: the input is the text of a file
 * given to cfg_parse().  Besides crashes, leaks and undefined behavior, it
 * catches a parser that accepts what it should refuse: a configuration that
 * parses must hold together (every name it refers to is defined, every
 * value is in range, nothing that must be unique is used twice), and an
 * error must name the file and leave no configuration. */

#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "fabric.h"
#include "route.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts, printing the condition, unless 'COND' is true. */
#define CHECK(COND)                                                     \
    do {                                                                \
        if (!(COND)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,      \
                    __LINE__, #COND);                                   \
            abort();                                                    \
        }                                                               \
    } while (0)

/* Checks that the endpoint 'ep' of a chain in 'cfg' is on a defined switch
 * and has a port name. */
static void
check_endpoint(const struct sfm_config *cfg, const struct cfg_endpoint *ep)
{
    CHECK(ep->sw < cfg->n_switches);
    CHECK(ep->port && ep->port[0] && strlen(ep->port) <= 15);
}

/* Checks that following the next hops of fabric 'f' of 'cfg' from switch
 * 'from' reaches switch 'to', one link closer each time, by the port that
 * fabric_next_port() gives, if and only if the fabric says it is
 * reachable. */
static void
check_route(const struct sfm_config *cfg, const struct fabric *f,
            size_t from, size_t to)
{
    size_t cur = from, steps = 0;

    if (!fabric_reachable(f, from, to)) {
        CHECK(!fabric_next_port(f, from, to));
        return;
    }
    while (cur != to) {
        size_t link = route_next(fabric_routes(f), cur, to);
        const struct cfg_link *l;
        int end;

        CHECK(link < cfg->n_links);
        l = &cfg->links[link];
        end = l->ends[0].sw == cur ? 0 : 1;
        CHECK(l->ends[end].sw == cur);
        CHECK(fabric_next_port(f, cur, to) == l->ends[end].port);
        cur = l->ends[!end].sw;
        CHECK(++steps < cfg->n_switches);
    }
}

/* Checks that 'cfg', which cfg_parse() accepted, holds together. */
static void
check_config(const struct sfm_config *cfg)
{
    struct fabric *f = fabric_create(cfg);

    CHECK(!strcmp(cfg->file, "fuzz.yaml"));
    CHECK(cfg_n_buckets(cfg) >= CFG_MIN_BUCKETS);
    CHECK(cfg_n_buckets(cfg) <= CFG_MAX_BUCKETS);
    CHECK(cfg->timers.inactivity_probe_ms >= 100);
    CHECK(cfg->timers.inactivity_probe_ms <= 3600000);
    CHECK(cfg->timers.handshake_timeout_ms >= 100);
    CHECK(cfg->timers.handshake_timeout_ms <= 3600000);

    CHECK(cfg->n_switches > 0);
    for (size_t i = 0; i < cfg->n_switches; i++) {
        const struct cfg_switch *sw = &cfg->switches[i];

        CHECK(sw->dpid && sw->line > 0);
        CHECK(cfg_find_switch(cfg, sw->name) == sw);
        for (size_t j = 0; j < i; j++) {
            CHECK(cfg->switches[j].dpid != sw->dpid);
        }
    }

    for (size_t i = 0; i < cfg->n_links; i++) {
        const struct cfg_link *l = &cfg->links[i];

        check_endpoint(cfg, &l->ends[0]);
        check_endpoint(cfg, &l->ends[1]);
        CHECK(l->ends[0].sw != l->ends[1].sw);
        CHECK(fabric_has_links(f, l->ends[0].sw));
        CHECK(!fabric_link_is_down(f, i));
    }
    CHECK(fabric_routes(f)->n_switches == cfg->n_switches);
    for (size_t i = 0; i < cfg->n_switches; i++) {
        for (size_t j = 0; j < cfg->n_switches; j++) {
            check_route(cfg, f, i, j);
        }
    }

    CHECK(cfg->n_services > 0);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        CHECK(cfg_find_service(cfg, svc->name) == svc);
        CHECK(svc->n_instances > 0);
        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];

            CHECK(cfg_find_instance(cfg, inst->name) == inst);
            CHECK(inst->service == i);
            CHECK(inst->sw < cfg->n_switches);
            CHECK(inst->port && inst->port[0]);
            CHECK(inst->weight >= 1 && inst->weight <= CFG_MAX_WEIGHT);
            CHECK(!(inst->mac.ea[0] & 1));
        }
    }

    CHECK(cfg->n_chains > 0);
    for (size_t i = 0; i < cfg->n_chains; i++) {
        const struct cfg_chain *chain = &cfg->chains[i];

        CHECK(chain->spi >= 1 && chain->spi <= 0xffffff);
        CHECK(chain->reverse_spi >= 1 && chain->reverse_spi <= 0xffffff);
        CHECK(chain->spi != chain->reverse_spi);
        for (size_t j = 0; j < i; j++) {
            const struct cfg_chain *other = &cfg->chains[j];

            CHECK(strcmp(other->name, chain->name));
            CHECK(other->spi != chain->spi);
            CHECK(other->spi != chain->reverse_spi);
            CHECK(other->reverse_spi != chain->spi);
            CHECK(other->reverse_spi != chain->reverse_spi);
        }
        check_endpoint(cfg, &chain->ingress);
        check_endpoint(cfg, &chain->egress);
        CHECK(fabric_reachable(f, chain->ingress.sw, chain->egress.sw));
        CHECK(chain->ingress.sw != chain->egress.sw
              || strcmp(chain->ingress.port, chain->egress.port));
        CHECK(chain->match);
        CHECK(chain->n_services > 0);
        for (size_t j = 0; j < chain->n_services; j++) {
            const struct cfg_service *svc;

            CHECK(chain->services[j] < cfg->n_services);
            CHECK(cfg_chain_has_service(chain, chain->services[j]));
            svc = &cfg->services[chain->services[j]];
            for (size_t k = 0; k < j; k++) {
                CHECK(chain->services[k] != chain->services[j]);
            }
            for (size_t k = 0; k < svc->n_instances; k++) {
                CHECK(fabric_reachable(f, chain->ingress.sw,
                                       svc->instances[k].sw));
                CHECK(!fabric_cut_off(f, &svc->instances[k]));
            }
        }
    }
    fabric_destroy(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sfm_config *cfg;
    char *error;

    error = cfg_parse("fuzz.yaml", (const char *) data, size, &cfg);
    if (error) {
        CHECK(!cfg);
        CHECK(!strncmp(error, "fuzz.yaml:", 10));
        free(error);
    } else {
        check_config(cfg);
        cfg_destroy(cfg);
    }
    return 0;
}
