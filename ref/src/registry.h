/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* registry.h - the registry ("arbiter") table of spec/protocol.md section
 * 10: which actor uid listens where, in registration order.
 *
 * Every operation a peer can ask for costs O(1) expected: entries hang in
 * two keyed hash tables (by uid, and by name in registration order) besides
 * the list that keeps the order for get_registry.  The table is bounded in
 * entries and in bytes; the byte bound is what lets get_registry always fit
 * in one message (REG-16).  Each entry remembers who registered it, so that
 * only its registrant or the actor it names may change or remove it, and the
 * registry's own entry not at all (REG-15).
 *
 * Only data lives here; the `self` functions that read and write it, and the
 * wait_for_actor waiters, are the actor's. */
#ifndef SC_REGISTRY_H
#define SC_REGISTRY_H

#include <msgpack.h>

#include "common.h"
#include "msg.h"

/* Longest name and uuid a registration may carry (REG-16). */
#define SC_REG_NAME_MAX 255u
#define SC_REG_UUID_MAX 64u
/* What one entry adds to get_registry's encoding beyond its three strings:
 * the headers of two arrays, three strings and a port. */
#define SC_REG_ENTRY_OVERHEAD 24u

/* The strings are NUL-terminated copies, but a name may itself hold a NUL
 * byte (any str is valid on the wire): compare and encode by length. */
typedef struct sc_reg_entry {
    struct sc_reg_entry *order_prev, *order_next;
    struct sc_reg_entry *uid_next;               /* in its uid bucket */
    struct sc_reg_entry *name_prev, *name_next;  /* in its name bucket, oldest first */
    uint64_t uid_hash;
    uint64_t name_hash;
    char *name;
    char *uuid;
    char *host;
    char *by;            /* registrant: name NUL uuid, or NULL for the actor itself */
    size_t name_len;
    size_t uuid_len;
    size_t host_len;
    size_t by_name_len;
    size_t by_uuid_len;
    uint16_t port;
} sc_reg_entry;

typedef struct sc_reg_bucket {
    sc_reg_entry *head;
    sc_reg_entry *tail;
} sc_reg_bucket;

typedef struct sc_registry {
    sc_reg_entry *first, *last;   /* registration order; an update keeps its place */
    sc_reg_entry **by_uid;
    sc_reg_bucket *by_name;
    size_t nbuckets;
    size_t count;
    size_t bytes;                 /* sum of entry costs (SC_REG_ENTRY_OVERHEAD + strings) */
    size_t max;                   /* most entries */
    size_t max_bytes;             /* most bytes */
} sc_registry;

/* The byte bound that keeps get_registry's reply, with a cid of up to 256
 * bytes, within a message limit of max_frame. */
size_t sc_registry_bytes_for(size_t max_frame);
void sc_registry_init(sc_registry *r, size_t max, size_t max_bytes);
void sc_registry_destroy(sc_registry *r);
/* Add or update uid -> (host, port) on behalf of `by` (NULL: the actor
 * itself, whose entry no peer may change).  SC_ELIMIT when full or over the
 * name, uuid or byte bounds; SC_ESTATE when `by` may not change the entry. */
int sc_registry_put(sc_registry *r, const sc_uid *uid, sc_str host, uint16_t port,
                    const sc_uid *by, sc_err *err);
/* SC_EARG (KeyError on the wire) when uid is not registered; SC_ESTATE when
 * `by` may not remove it. */
int sc_registry_remove(sc_registry *r, const sc_uid *uid, const sc_uid *by, sc_err *err);
/* First entry whose name equals name, or NULL. */
const sc_reg_entry *sc_registry_find(const sc_registry *r, sc_str name);
size_t sc_registry_count_name(const sc_registry *r, sc_str name);

/* Encoders of the results: [host, port]; an array of [host, port] for every
 * entry named name; the whole table as {[name, uuid]: [host, port]}. */
int sc_registry_pack_addr(msgpack_packer *pk, const sc_reg_entry *e);
int sc_registry_pack_addrs(msgpack_packer *pk, const sc_registry *r, sc_str name);
int sc_registry_pack_table(msgpack_packer *pk, const sc_registry *r);

#endif
