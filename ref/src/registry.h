/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* registry.h - the registry ("arbiter") table of spec/protocol.md section
 * 10: which actor uid listens where, in registration order.
 *
 * Only data lives here; the `self` functions that read and write it, and the
 * wait_for_actor waiters, are the actor's. */
#ifndef SC_REGISTRY_H
#define SC_REGISTRY_H

#include <msgpack.h>

#include "common.h"
#include "msg.h"

/* The strings are NUL-terminated copies, but a name may itself hold a NUL
 * byte (any str is valid on the wire): compare and encode by length. */
typedef struct sc_reg_entry {
    char *name;
    char *uuid;
    char *host;
    size_t name_len;
    size_t uuid_len;
    size_t host_len;
    uint16_t port;
} sc_reg_entry;

typedef struct sc_registry {
    sc_reg_entry *entries;   /* insertion order; an update keeps its place */
    size_t count;
    size_t cap;
    size_t max;              /* most entries, so a peer cannot grow it without bound */
} sc_registry;

void sc_registry_init(sc_registry *r, size_t max);
void sc_registry_destroy(sc_registry *r);
/* Add or update uid -> (host, port).  SC_ELIMIT when full. */
int sc_registry_put(sc_registry *r, const sc_uid *uid, sc_str host, uint16_t port, sc_err *err);
/* SC_EARG (KeyError on the wire) when uid is not registered. */
int sc_registry_remove(sc_registry *r, const sc_uid *uid, sc_err *err);
/* First entry whose name equals name, or NULL. */
const sc_reg_entry *sc_registry_find(const sc_registry *r, sc_str name);
size_t sc_registry_count_name(const sc_registry *r, sc_str name);

/* Encoders of the results: [host, port]; an array of [host, port] for every
 * entry named name; the whole table as {[name, uuid]: [host, port]}. */
int sc_registry_pack_addr(msgpack_packer *pk, const sc_reg_entry *e);
int sc_registry_pack_addrs(msgpack_packer *pk, const sc_registry *r, sc_str name);
int sc_registry_pack_table(msgpack_packer *pk, const sc_registry *r);

#endif
