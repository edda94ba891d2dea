/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "ctldb.h"

#include <string.h>
#include "ctlstate.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "sfmesh-idl.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ctldb);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

struct ctldb {
    struct ovsdb_idl *idl;      /* The IDL, on 'remotes'. */
    char *remotes;              /* As given: "tcp:IP:PORT,tcp:...". */
    char *name;                 /* This controller's name. */
    enum ctldb_role role;
    uint64_t generation;        /* Of the claim, while ACTIVE. */
    struct ovsdb_idl_txn *txn;  /* The transaction in flight, or NULL. */
    bool txn_is_claim;          /* 'txn' is the claim. */
    struct ctlstate desired;    /* What the active controller decided. */
    bool dirty;                 /* 'desired' or a transaction's outcome
                                 * changed since the last comparison. */
    unsigned int seqno;         /* IDL seqno when last compared. */
    bool connected;             /* As of the previous run. */
    long long int connected_at; /* When it last connected, or 0. */
    long long int lost_at;      /* When the active lost the database, or
                                 * 0. */
    uint64_t n_commits;         /* Transactions that changed something. */
    uint64_t n_failures;        /* Transactions that failed. */
    uint64_t n_claims;          /* Times this controller became active. */
};

/* Creates the client of the database at 'remotes' (one OVS remote or
 * several, comma-separated: the members of a cluster) for the controller
 * called 'name', a standby until it gets the lock. */
struct ctldb *
ctldb_create(const char *remotes, const char *name, long long int now)
{
    struct ctldb *db = xzalloc(sizeof *db);

    db->remotes = xstrdup(remotes);
    db->name = xstrdup(name);
    db->idl = ovsdb_idl_create(remotes, &sdb_idl_class, true, true);
    /* Only the leader of a cluster grants locks that mean anything, and
     * holds the newest state. */
    ovsdb_idl_set_leader_only(db->idl, true);
    ovsdb_idl_set_probe_interval(db->idl, CTLDB_PROBE_MS);
    ctlstate_init(&db->desired);
    db->role = CTLDB_STANDBY;
    db->connected_at = 0;
    (void) now;
    return db;
}

/* Frees 'db' and closes its connection, which releases the lock.  Accepts
 * NULL. */
void
ctldb_destroy(struct ctldb *db)
{
    if (!db) {
        return;
    }
    if (db->txn) {
        ovsdb_idl_txn_destroy(db->txn);
    }
    ovsdb_idl_destroy(db->idl);
    ctlstate_destroy(&db->desired);
    free(db->remotes);
    free(db->name);
    free(db);
}

static void
set_role__(struct ctldb *db, enum ctldb_role role, const char *why)
{
    if (db->role == role) {
        return;
    }
    if (role == CTLDB_ACTIVE) {
        VLOG_INFO("%s: active, generation %"PRIu64, db->remotes,
                  db->generation);
    } else if (role == CTLDB_STANDBY) {
        VLOG_WARN_RL(&rl, "%s: standby (%s)", db->remotes, why);
    }
    db->role = role;
    if (role != CTLDB_ACTIVE) {
        db->lost_at = 0;
    }
    if (role == CTLDB_STANDBY && db->txn) {
        ovsdb_idl_txn_destroy(db->txn);
        db->txn = NULL;
    }
    db->dirty = true;
}

/* Returns the only row of the Global table, or NULL. */
static const struct sdb_global *
global__(const struct ctldb *db)
{
    return sdb_global_first(db->idl);
}

/* Starts the claim: raises the generation, names this controller. */
static void
claim__(struct ctldb *db)
{
    const struct sdb_global *g = global__(db);
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(db->idl);
    int64_t gen;

    ovsdb_idl_txn_add_comment(txn, "sfmesh-controller %s: takes over",
                              db->name);
    if (g) {
        sdb_global_verify_generation(g);
        gen = g->generation + 1;
    } else {
        g = sdb_global_insert(txn);
        gen = 1;
    }
    sdb_global_set_generation(g, gen);
    sdb_global_set_active(g, db->name);
    db->generation = gen;
    db->txn = txn;
    db->txn_is_claim = true;
}

static void
put_map_column__(const struct ctlstate_map *m, int which, int64_t **keys,
                 char ***values, size_t *n)
{
    *keys = xmalloc(MAX(m->n_buckets, 1) * sizeof **keys);
    *values = xmalloc(MAX(m->n_buckets, 1) * sizeof **values);
    *n = 0;
    for (size_t b = 0; b < m->n_buckets; b++) {
        const struct ctlstate_bucket *bk = &m->buckets[b];
        char *name = (which == 0 ? bk->primary
                      : which == 1 ? bk->secondary : bk->next);

        if (name) {
            (*keys)[*n] = b;
            (*values)[(*n)++] = name;
        }
    }
}

/* Writes into 'row' the service 'name' of 'db->desired'. */
static void
write_service__(const struct ctldb *db, const struct sdb_service *row,
                const char *name, const struct ctlstate_map *m)
{
    int64_t *keys, *since;
    char **values;
    size_t n;

    sdb_service_set_name(row, name);
    sdb_service_set_epoch(row, ctlstate_get_epoch(&db->desired, name));
    sdb_service_set_n_buckets(row, m->n_buckets);
    for (int which = 0; which < 3; which++) {
        put_map_column__(m, which, &keys, &values, &n);
        (which == 0 ? sdb_service_set_primary
         : which == 1 ? sdb_service_set_secondary
         : sdb_service_set_next)(row, keys, (const char **) values, n);
        free(keys);
        free(values);
    }
    keys = xmalloc(MAX(m->n_buckets, 1) * sizeof *keys);
    since = xmalloc(MAX(m->n_buckets, 1) * sizeof *since);
    n = 0;
    for (size_t b = 0; b < m->n_buckets; b++) {
        if (m->buckets[b].since) {
            keys[n] = b;
            since[n++] = m->buckets[b].since;
        }
    }
    sdb_service_set_since(row, keys, since, n);
    free(keys);
    free(since);
}

static void
write_instance__(const struct sdb_instance *row, const char *name,
                 const struct ctlstate_inst *ci)
{
    static const char *const states[] = {
        [SVCMAP_UP] = "up", [SVCMAP_COLD] = "cold",
        [SVCMAP_DOWN] = "down", [SVCMAP_DISABLED] = "disabled",
    };

    sdb_instance_set_name(row, name);
    sdb_instance_set_service(row, ci->service);
    sdb_instance_set_state(row, states[ci->state]);
    sdb_instance_set_draining(row, ci->draining);
    sdb_instance_set_seen_live(row, ci->seen_live);
    sdb_instance_set_disabled(row, ci->disabled);
    sdb_instance_set_fenced(row, ci->fenced);
    sdb_instance_set_leaving(row, ci->leaving);
}

/* Adds to a transaction (created on first need) every row of 'db' that
 * differs from what is desired, and the deletion of every row that is not
 * desired.  Returns the number of rows written or deleted. */
static size_t
write_differences__(struct ctldb *db, struct ovsdb_idl_txn **txn)
{
    const struct sdb_global *g = global__(db);
    const struct sdb_service *svc, *svc_next;
    const struct sdb_instance *inst, *inst_next;
    struct sset written = SSET_INITIALIZER(&written);
    struct ctlstate have;
    struct shash_node *node;
    size_t n = 0;

    ctlstate_init(&have);
    ctldb_read(db, &have);

#define TXN__() \
    (*txn ? *txn : (*txn = ovsdb_idl_txn_create(db->idl), \
                    ovsdb_idl_txn_add_comment(*txn, "sfmesh-controller " \
                                              "%s: state", db->name), \
                    sdb_global_verify_generation(g), *txn))

    if (!g) {
        /* The claim made the row; it is gone: claim again. */
        goto out;
    }
    if (!sset_equals(&have.agents, &db->desired.agents)) {
        const char **agents = sset_array(&db->desired.agents);

        TXN__();
        sdb_global_set_agents(g, agents, sset_count(&db->desired.agents));
        free(agents);
        n++;
    }
    SDB_SERVICE_FOR_EACH_SAFE (svc, svc_next, db->idl) {
        const struct ctlstate_map *want, *cur;

        want = shash_find_data(&db->desired.maps, svc->name);
        cur = shash_find_data(&have.maps, svc->name);
        if (!want || !sset_add(&written, svc->name)) {
            TXN__();
            sdb_service_delete(svc);
            n++;
        } else if (!cur || !ctlstate_map_equal(want, cur)
                   || (ctlstate_get_epoch(&db->desired, svc->name)
                       != ctlstate_get_epoch(&have, svc->name))) {
            TXN__();
            write_service__(db, svc, svc->name, want);
            n++;
        }
    }
    SHASH_FOR_EACH (node, &db->desired.maps) {
        if (!sset_contains(&written, node->name)) {
            write_service__(db, sdb_service_insert(TXN__()), node->name,
                            node->data);
            n++;
        }
    }
    sset_clear(&written);
    SDB_INSTANCE_FOR_EACH_SAFE (inst, inst_next, db->idl) {
        const struct ctlstate_inst *want, *cur;

        want = shash_find_data(&db->desired.insts, inst->name);
        cur = shash_find_data(&have.insts, inst->name);
        if (!want || !sset_add(&written, inst->name)) {
            TXN__();
            sdb_instance_delete(inst);
            n++;
        } else if (!cur || !ctlstate_inst_equal(want, cur)) {
            TXN__();
            write_instance__(inst, inst->name, want);
            n++;
        }
    }
    SHASH_FOR_EACH (node, &db->desired.insts) {
        if (!sset_contains(&written, node->name)) {
            write_instance__(sdb_instance_insert(TXN__()), node->name,
                             node->data);
            n++;
        }
    }
#undef TXN__
out:
    sset_destroy(&written);
    ctlstate_destroy(&have);
    return n;
}

/* Takes the outcome of the transaction in flight, if it has one. */
static void
finish_txn__(struct ctldb *db)
{
    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(db->txn);
    bool claim = db->txn_is_claim;

    if (status == TXN_INCOMPLETE) {
        return;
    }
    if (status == TXN_TRY_AGAIN && claim) {
        /* The lock came from a member before it knew the leader (or the
         * connection dropped): the next run claims again. */
        VLOG_DBG("%s: the claim must be tried again", db->remotes);
    } else if (status != TXN_SUCCESS && status != TXN_UNCHANGED
               && status != TXN_NOT_LOCKED) {
        /* TRY_AGAIN (the rows changed meanwhile, or the connection
         * dropped) and the rest: the next run compares again, or claims
         * again. */
        const char *error = ovsdb_idl_txn_get_error(db->txn);

        VLOG_WARN_RL(&rl, "%s: %s failed: %s%s%s", db->remotes,
                     claim ? "the claim" : "writing the state",
                     ovsdb_idl_txn_status_to_string(status),
                     error ? ": " : "", error ? error : "");
    }
    ovsdb_idl_txn_destroy(db->txn);
    db->txn = NULL;
    db->txn_is_claim = false;
    if (status == TXN_SUCCESS || status == TXN_UNCHANGED) {
        db->n_commits++;
        if (claim) {
            db->n_claims++;
            set_role__(db, CTLDB_ACTIVE, NULL);
        }
        return;
    }
    db->n_failures++;
    db->dirty = true;
    if (status == TXN_NOT_LOCKED || claim) {
        set_role__(db, CTLDB_STANDBY, status == TXN_NOT_LOCKED
                   ? "the lock is another's"
                   : status == TXN_TRY_AGAIN ? "the claim is tried again"
                   : "the claim failed");
    }
}

/* Asks for the lock, or stops asking, as the role and the connection
 * say: the holder asks again at once after a reconnection, a standby only
 * CTLDB_STANDBY_DELAY_MS after it connected (see ctldb.h). */
static void
manage_lock__(struct ctldb *db, bool connected, long long int now)
{
    bool want;

    if (db->role != CTLDB_STANDBY) {
        want = true;
    } else {
        want = connected && now - db->connected_at >= CTLDB_STANDBY_DELAY_MS;
    }
    if (want && !ovsdb_idl_has_lock(db->idl)
        && !ovsdb_idl_is_lock_contended(db->idl)) {
        /* Setting an unchanged lock name sends nothing. */
        ovsdb_idl_set_lock(db->idl, CTLDB_LOCK);
    } else if (!want && !connected) {
        ovsdb_idl_set_lock(db->idl, NULL);
    }
}

/* Runs 'db' at 'now': reads what the database sent, follows the lock and
 * the transaction in flight, claims or writes.  Returns CTLDB_* bits. */
unsigned int
ctldb_run(struct ctldb *db, long long int now)
{
    unsigned int seqno = ovsdb_idl_get_seqno(db->idl);
    enum ctldb_role role = db->role;
    unsigned int result = 0;
    bool connected, locked;

    ovsdb_idl_run(db->idl);
    connected = ovsdb_idl_is_connected(db->idl);
    if (connected != db->connected) {
        if (connected) {
            VLOG_INFO("%s: connected to the controllers' database",
                      db->remotes);
            db->connected_at = now;
        } else {
            VLOG_WARN("%s: controllers' database connection lost (%s)",
                      db->remotes, ovs_retval_to_string(
                          ovsdb_idl_get_last_error(db->idl)));
        }
        db->connected = connected;
    }
    manage_lock__(db, connected, now);
    locked = connected && ovsdb_idl_has_lock(db->idl)
             && ovsdb_idl_has_ever_connected(db->idl);

    if (db->txn) {
        finish_txn__(db);
    }
    if (!locked && db->role != CTLDB_STANDBY) {
        if (connected && ovsdb_idl_is_lock_contended(db->idl)) {
            set_role__(db, CTLDB_STANDBY, "another controller holds the "
                       "lock");
        } else if (db->role == CTLDB_CLAIMING) {
            set_role__(db, CTLDB_STANDBY, "the claim did not complete");
        } else if (!db->lost_at) {
            db->lost_at = now;
        } else if (now - db->lost_at >= CTLDB_GRACE_MS) {
            set_role__(db, CTLDB_STANDBY, "the database is out of reach");
        }
    } else if (locked) {
        db->lost_at = 0;
        if (db->role == CTLDB_STANDBY && !db->txn) {
            set_role__(db, CTLDB_CLAIMING, NULL);
            claim__(db);
            finish_txn__(db);
        }
    }
    if (db->role == CTLDB_ACTIVE && global__(db)
        && global__(db)->generation > db->generation) {
        set_role__(db, CTLDB_STANDBY, "another controller claimed a newer "
                   "generation");
    }
    if (db->role == CTLDB_ACTIVE && locked && !db->txn
        && (db->dirty || db->seqno != ovsdb_idl_get_seqno(db->idl))) {
        struct ovsdb_idl_txn *txn = NULL;

        db->dirty = false;
        db->seqno = ovsdb_idl_get_seqno(db->idl);
        if (!global__(db)) {
            set_role__(db, CTLDB_CLAIMING, NULL);
            claim__(db);
            finish_txn__(db);
        } else if (write_differences__(db, &txn) && txn) {
            db->txn = txn;
            finish_txn__(db);
        } else if (txn) {
            ovsdb_idl_txn_destroy(txn);
        }
    }
    if (role != db->role) {
        result |= CTLDB_ROLE_CHANGED;
    }
    if (seqno != ovsdb_idl_get_seqno(db->idl)) {
        result |= CTLDB_CONTENTS_CHANGED;
    }
    return result;
}

/* Tells 'db' that a switch made another controller its primary, with
 * 'generation' ('why' says how).  If that is newer than this controller's
 * while it is active, it stands down now and returns true (the role
 * changed).  Only the holder of the lock commits a generation, so a newer
 * one at a switch proves that this controller lost the lock, even if its
 * connection to the database does not know it yet (a partition: the
 * database noticed first). */
bool
ctldb_stand_down(struct ctldb *db, uint64_t generation, const char *why)
{
    if (db->role != CTLDB_ACTIVE || generation <= db->generation) {
        return false;
    }
    set_role__(db, CTLDB_STANDBY, why);
    return true;
}

enum ctldb_role
ctldb_get_role(const struct ctldb *db)
{
    return db->role;
}

const char *
ctldb_role_name(enum ctldb_role role)
{
    return (role == CTLDB_ACTIVE ? "active"
            : role == CTLDB_CLAIMING ? "claiming" : "standby");
}

/* Returns the OpenFlow generation id of this controller's role requests:
 * its claim's while it is active, otherwise the newest the database
 * shows (a switch refuses a request older than one it saw). */
uint64_t
ctldb_get_generation(const struct ctldb *db)
{
    const struct sdb_global *g = global__(db);

    if (db->role == CTLDB_ACTIVE || !g || g->generation < db->generation) {
        return db->generation;
    }
    return g->generation;
}

/* Returns the name of the active controller as the database says, or
 * NULL. */
const char *
ctldb_get_active(const struct ctldb *db)
{
    const struct sdb_global *g = global__(db);

    return g && g->active[0] ? g->active : NULL;
}

/* Returns true if 'db' has received the database's contents. */
bool
ctldb_has_contents(const struct ctldb *db)
{
    return ovsdb_idl_has_ever_connected(db->idl);
}

static enum svcmap_state
parse_state__(const char *s)
{
    return (!strcmp(s, "up") ? SVCMAP_UP
            : !strcmp(s, "cold") ? SVCMAP_COLD
            : !strcmp(s, "disabled") ? SVCMAP_DISABLED : SVCMAP_DOWN);
}

static void
read_map_column__(struct ctlstate_map *m, const int64_t *keys,
                  char **values, size_t n, int which)
{
    for (size_t i = 0; i < n; i++) {
        struct ctlstate_bucket *bk;
        char **dst;

        if (keys[i] < 0 || keys[i] >= m->n_buckets) {
            continue;
        }
        bk = &m->buckets[keys[i]];
        dst = which == 0 ? &bk->primary : which == 1 ? &bk->secondary
              : &bk->next;
        free(*dst);
        *dst = xstrdup(values[i]);
    }
}

/* Adds to 's' (initialized) the state as the database holds it: the
 * epochs, maps and instances of every service, and the agents.  Rows the
 * schema allows but that make no sense (a second row of a name, a bucket
 * beyond the map) are left out. */
void
ctldb_read(const struct ctldb *db, struct ctlstate *s)
{
    const struct sdb_global *g = global__(db);
    const struct sdb_service *svc;
    const struct sdb_instance *inst;

    if (g) {
        for (size_t i = 0; i < g->n_agents; i++) {
            sset_add(&s->agents, g->agents[i]);
        }
    }
    SDB_SERVICE_FOR_EACH (svc, db->idl) {
        struct ctlstate_map *m;

        if (shash_find(&s->maps, svc->name)) {
            continue;
        }
        if (svc->epoch > 0) {
            ctlstate_set_epoch(s, svc->name, svc->epoch);
        }
        m = ctlstate_put_map(s, svc->name, svc->n_buckets);
        read_map_column__(m, svc->key_primary, svc->value_primary,
                          svc->n_primary, 0);
        read_map_column__(m, svc->key_secondary, svc->value_secondary,
                          svc->n_secondary, 1);
        read_map_column__(m, svc->key_next, svc->value_next,
                          svc->n_next, 2);
        for (size_t i = 0; i < svc->n_since; i++) {
            if (svc->key_since[i] >= 0 && svc->key_since[i] < m->n_buckets
                && svc->value_since[i] >= 0) {
                m->buckets[svc->key_since[i]].since = svc->value_since[i];
            }
        }
    }
    SDB_INSTANCE_FOR_EACH (inst, db->idl) {
        struct ctlstate_inst *ci;

        if (shash_find(&s->insts, inst->name)) {
            continue;
        }
        ci = ctlstate_put_inst(s, inst->name, inst->service);
        ci->state = parse_state__(inst->state);
        ci->draining = inst->draining;
        ci->seen_live = inst->seen_live;
        ci->disabled = inst->disabled;
        ci->fenced = inst->fenced;
        ci->leaving = inst->leaving;
    }
}

/* States what the active controller decided: 's', whose contents 'db'
 * takes (leaving 's' empty and initialized).  Written while 'db' is
 * active; ignored otherwise. */
void
ctldb_put(struct ctldb *db, struct ctlstate *s)
{
    if (ctlstate_equal(&db->desired, s)) {
        ctlstate_destroy(s);
        ctlstate_init(s);
        return;
    }
    ctlstate_destroy(&db->desired);
    db->desired = *s;
    /* The shash and sset heads moved: fix their self-references. */
    shash_moved(&db->desired.epochs);
    sset_moved(&db->desired.agents);
    shash_moved(&db->desired.maps);
    shash_moved(&db->desired.insts);
    ctlstate_init(s);
    db->dirty = true;
}

/* Appends to 's' the connection, the role and the counters of 'db'. */
void
ctldb_format(const struct ctldb *db, struct ds *s)
{
    const char *active = ctldb_get_active(db);

    ds_put_format(s, "database %s: %s, %s", db->remotes,
                  db->connected ? "connected" : "not connected",
                  ctldb_role_name(db->role));
    if (db->role == CTLDB_ACTIVE) {
        ds_put_format(s, " (generation %"PRIu64")", db->generation);
    } else if (active) {
        ds_put_format(s, " (active: %s)", active);
    }
    ds_put_format(s, ", %"PRIu64" takeovers, %"PRIu64" writes, %"PRIu64
                  " failed\n", db->n_claims, db->n_commits, db->n_failures);
}
