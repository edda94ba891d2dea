/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "vswdb.h"

#include <errno.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "util.h"
#include "vswitch-idl.h"

VLOG_DEFINE_THIS_MODULE(vswdb);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

struct vswdb {
    struct ovsdb_idl *idl;      /* The IDL, on 'remote'. */
    char *remote;               /* As given, e.g. "unix:/run/db.sock". */
    struct shash desired;       /* Interface name -> struct smap *: the
                                 * "bfd" keys sfmesh owns. */
    struct ovsdb_idl_txn *txn;  /* The transaction in flight, or NULL. */
    unsigned int seqno;         /* IDL seqno when last compared. */
    bool dirty;                 /* 'desired' changed, or a transaction
                                 * failed, since the last comparison. */
    bool was_connected;         /* As of the previous run, for logging. */
    uint64_t n_commits;         /* Transactions that changed something. */
    uint64_t n_failures;        /* Transactions that failed. */
};

/* Creates a client of the database at 'remote' (an OVS remote such as
 * "unix:PATH" or "tcp:IP:PORT"), which connects, and reconnects whenever
 * the connection drops, from vswdb_run(). */
struct vswdb *
vswdb_create(const char *remote)
{
    struct vswdb *db = xzalloc(sizeof *db);

    db->remote = xstrdup(remote);
    db->idl = ovsdb_idl_create(remote, &ovsrec_idl_class, false, true);
    ovsdb_idl_add_table(db->idl, &ovsrec_table_interface);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_name);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_bfd);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_bfd_status);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_type);
    ovsdb_idl_add_column(db->idl, &ovsrec_interface_col_options);
    ovsdb_idl_omit_alert(db->idl, &ovsrec_interface_col_type);
    ovsdb_idl_omit_alert(db->idl, &ovsrec_interface_col_options);
    shash_init(&db->desired);
    return db;
}

/* Frees 'db' and closes its connection.  What it wrote stays in the
 * database.  Accepts NULL. */
void
vswdb_destroy(struct vswdb *db)
{
    struct shash_node *node;

    if (!db) {
        return;
    }
    SHASH_FOR_EACH (node, &db->desired) {
        smap_destroy(node->data);
        free(node->data);
    }
    shash_destroy(&db->desired);
    if (db->txn) {
        ovsdb_idl_txn_destroy(db->txn);
    }
    ovsdb_idl_destroy(db->idl);
    free(db->remote);
    free(db);
}

/* States that interface 'iface' should carry the keys of 'bfd' (copied) in
 * its "bfd" column, replacing what was desired for it before. */
void
vswdb_set_bfd(struct vswdb *db, const char *iface, const struct smap *bfd)
{
    struct smap *cur = shash_find_data(&db->desired, iface);

    if (cur && smap_equal(cur, bfd)) {
        return;
    }
    if (!cur) {
        cur = xmalloc(sizeof *cur);
        smap_init(cur);
        shash_add(&db->desired, iface, cur);
    }
    smap_destroy(cur);
    smap_clone(cur, bfd);
    db->dirty = true;
}

/* Stops keeping the keys of interface 'iface' (what was written stays). */
/* Returns true if 'db' holds BFD settings for interface 'iface'. */
bool
vswdb_wants(const struct vswdb *db, const char *iface)
{
    return shash_find(&db->desired, iface) != NULL;
}

void
vswdb_forget(struct vswdb *db, const char *iface)
{
    struct smap *cur = shash_find_and_delete(&db->desired, iface);

    if (cur) {
        smap_destroy(cur);
        free(cur);
    }
}

/* Returns the row of interface 'iface', or NULL. */
static const struct ovsrec_interface *
find_iface__(const struct vswdb *db, const char *iface)
{
    const struct ovsrec_interface *row;

    OVSREC_INTERFACE_FOR_EACH (row, db->idl) {
        if (!strcmp(row->name, iface)) {
            return row;
        }
    }
    return NULL;
}

/* Adds to 'txn' (created on first need) every key of 'db->desired' that
 * the database does not hold.  Returns the number of keys written. */
static size_t
write_differences__(struct vswdb *db, struct ovsdb_idl_txn **txn)
{
    const struct ovsrec_interface *row;
    size_t n = 0;

    OVSREC_INTERFACE_FOR_EACH (row, db->idl) {
        const struct smap *want = shash_find_data(&db->desired, row->name);
        struct smap_node *node;

        if (!want) {
            continue;
        }
        SMAP_FOR_EACH (node, want) {
            const char *have = smap_get(&row->bfd, node->key);

            if (have && !strcmp(have, node->value)) {
                continue;
            }
            if (!*txn) {
                *txn = ovsdb_idl_txn_create(db->idl);
                ovsdb_idl_txn_add_comment(*txn, "sfmesh-controller: "
                                          "BFD settings");
            }
            ovsrec_interface_update_bfd_setkey(row, node->key, node->value);
            n++;
        }
    }
    return n;
}

/* Takes the outcome of the transaction in flight, if it has one. */
static void
finish_txn__(struct vswdb *db)
{
    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(db->txn);

    if (status == TXN_INCOMPLETE) {
        return;
    }
    if (status == TXN_SUCCESS || status == TXN_UNCHANGED) {
        db->n_commits++;
    } else {
        /* Try again at the next run: the rows may have changed or gone. */
        VLOG_WARN_RL(&rl, "%s: setting BFD on interfaces failed: "
                     "%s (%s)", db->remote,
                     ovsdb_idl_txn_status_to_string(status),
                     ovsdb_idl_txn_get_error(db->txn));
        db->n_failures++;
        db->dirty = true;
    }
    ovsdb_idl_txn_destroy(db->txn);
    db->txn = NULL;
}

/* Runs 'db': reads what the database sent, follows up the transaction in
 * flight, and, with none in flight, writes any key that differs from what
 * is desired.  Returns true if the database changed since the last call
 * (vswdb_bfd_ready() may say otherwise than before). */
bool
vswdb_run(struct vswdb *db)
{
    unsigned int seqno = ovsdb_idl_get_seqno(db->idl);
    bool connected;

    ovsdb_idl_run(db->idl);
    connected = ovsdb_idl_is_connected(db->idl);
    if (connected != db->was_connected) {
        if (connected) {
            VLOG_INFO("%s: connected to the switch database", db->remote);
        } else {
            VLOG_WARN("%s: switch database connection lost (%s); "
                      "retrying", db->remote,
                      ovs_retval_to_string(
                          ovsdb_idl_get_last_error(db->idl)));
        }
        db->was_connected = connected;
    }
    if (db->txn) {
        finish_txn__(db);
    }
    if (!db->txn && connected
        && (db->dirty || db->seqno != ovsdb_idl_get_seqno(db->idl))) {
        struct ovsdb_idl_txn *txn = NULL;
        size_t n;

        db->dirty = false;
        db->seqno = ovsdb_idl_get_seqno(db->idl);
        n = write_differences__(db, &txn);
        if (txn) {
            VLOG_INFO("%s: writing %"PRIuSIZE" BFD key%s of "
                      "interfaces", db->remote, n, n == 1 ? "" : "s");
            db->txn = txn;
            finish_txn__(db);
        }
    }
    return seqno != ovsdb_idl_get_seqno(db->idl);
}

/* Returns false if interface 'iface' should run BFD, as sfmesh wants, but
 * the switch does not show it running and Up yet: until then the port is
 * live by its carrier alone, and its instance or link must not count as
 * live.  That includes the time between connecting and the database's
 * first contents, and an interface the database does not show (yet): a
 * port counted live then and down once the contents arrive would be
 * counted a flap.  Returns true for an interface sfmesh keeps no BFD keys
 * for or wants BFD off on, and while 'db' is not connected (OpenFlow's
 * liveness is then all there is). */
bool
vswdb_bfd_ready(const struct vswdb *db, const char *iface)
{
    const struct smap *want = shash_find_data(&db->desired, iface);
    const struct ovsrec_interface *row;

    if (!want || !smap_get_bool(want, "enable", false)
        || !ovsdb_idl_is_connected(db->idl)) {
        return true;
    }
    row = (ovsdb_idl_has_ever_connected(db->idl)
           ? find_iface__(db, iface) : NULL);
    if (!row) {
        return false;
    }
    return (smap_get_bool(&row->bfd, "enable", false)
            && !strcmp(smap_get_def(&row->bfd_status, "state", ""), "up")
            && smap_get_bool(&row->bfd_status, "forwarding", false));
}

/* Returns true if 'db' is connected to its database. */
bool
vswdb_is_connected(const struct vswdb *db)
{
    return ovsdb_idl_is_connected(db->idl);
}

/* Returns the remote 'db' connects to. */
const char *
vswdb_remote(const struct vswdb *db)
{
    return db->remote;
}

/* Returns the "bfd_status" column of interface 'iface', or NULL if 'db'
 * does not know that interface. */
const struct smap *
vswdb_bfd_status(const struct vswdb *db, const char *iface)
{
    const struct ovsrec_interface *row = find_iface__(db, iface);

    return row ? &row->bfd_status : NULL;
}

/* Returns the BFD state of interface 'iface' in a word: OVS's state name
 * ("up", "down", "init", "admin_down"), with "/nofwd" when the session is
 * up but does not forward; "off" if BFD is not enabled on it, "?" if 'db'
 * does not know the interface. */
const char *
vswdb_bfd_state(const struct vswdb *db, const char *iface)
{
    const struct ovsrec_interface *row = find_iface__(db, iface);
    const char *state;

    if (!row) {
        return "?";
    }
    if (!smap_get_bool(&row->bfd, "enable", false)) {
        return "off";
    }
    state = smap_get(&row->bfd_status, "state");
    if (!state) {
        return "?";
    }
    if (!strcmp(state, "up")
        && !smap_get_bool(&row->bfd_status, "forwarding", false)) {
        return "up/nofwd";
    }
    return state;
}

/* Appends to 's' the connection of 'db' and the BFD status of every
 * interface whose keys it keeps. */
void
vswdb_format(const struct vswdb *db, struct ds *s)
{
    const struct shash_node **nodes = shash_sort(&db->desired);

    ds_put_format(s, "database %s: %s, %"PRIu64" writes, %"PRIu64
                  " failed\n", db->remote,
                  vswdb_is_connected(db) ? "connected" : "not connected",
                  db->n_commits, db->n_failures);
    ds_put_format(s, "%-16s %-10s %-10s %-6s %-24s %s\n", "INTERFACE",
                  "STATE", "REMOTE", "FWD", "DIAGNOSTIC", "FLAPS");
    for (size_t i = 0; i < shash_count(&db->desired); i++) {
        const char *name = nodes[i]->name;
        const struct smap *st = vswdb_bfd_status(db, name);

        if (!st) {
            ds_put_format(s, "%-16s (not in the database)\n", name);
            continue;
        }
        ds_put_format(s, "%-16s %-10s %-10s %-6s %-24s %s\n", name,
                      vswdb_bfd_state(db, name),
                      smap_get_def(st, "remote_state", "-"),
                      smap_get_def(st, "forwarding", "-"),
                      smap_get_def(st, "diagnostic", "-"),
                      smap_get_def(st, "flap_count", "-"));
    }
    free(nodes);
}

/* Stores in '*type' and '*remote' the type of interface 'iface' and its
 * "remote_ip" option (NULL if it has none) as the database holds them, and
 * returns true; or returns false if the database, as far as 'db' knows it,
 * has no such interface. */
bool
vswdb_iface_tunnel(const struct vswdb *db, const char *iface,
                   const char **type, const char **remote)
{
    const struct ovsrec_interface *row = find_iface__(db, iface);

    if (!row) {
        return false;
    }
    *type = row->type;
    *remote = smap_get(&row->options, "remote_ip");
    return true;
}
