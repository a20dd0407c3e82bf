/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* registry.c - the registry table. */
#include "registry.h"

#include <string.h>

void sc_registry_init(sc_registry *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
}

static void entry_free(sc_reg_entry *e)
{
    sc_free(e->name);
    sc_free(e->uuid);
    sc_free(e->host);
}

void sc_registry_destroy(sc_registry *r)
{
    for (size_t i = 0; i < r->count; i++)
        entry_free(&r->entries[i]);
    sc_free(r->entries);
    memset(r, 0, sizeof(*r));
}

static sc_str entry_name(const sc_reg_entry *e)
{
    return (sc_str){ e->name, e->name_len };
}

static sc_reg_entry *lookup(const sc_registry *r, const sc_uid *uid)
{
    for (size_t i = 0; i < r->count; i++) {
        sc_reg_entry *e = &r->entries[i];
        if (sc_str_eq(uid->name, entry_name(e)) && sc_str_eq(uid->uuid, (sc_str){ e->uuid, e->uuid_len }))
            return e;
    }
    return NULL;
}

int sc_registry_put(sc_registry *r, const sc_uid *uid, sc_str host, uint16_t port, sc_err *err)
{
    char *h = sc_strndup(host.ptr, host.len);
    if (!h)
        return sc_err_set(err, SC_ENOMEM, "out of memory registering an actor");
    sc_reg_entry *e = lookup(r, uid);
    if (e) {
        sc_free(e->host);
        e->host = h;
        e->host_len = host.len;
        e->port = port;
        return SC_OK;
    }
    if (r->count >= r->max) {
        sc_free(h);
        return sc_err_set(err, SC_ELIMIT, "the registry is full (%zu entries)", r->max);
    }
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        sc_reg_entry *n = sc_realloc(r->entries, cap * sizeof(*n));
        if (!n) {
            sc_free(h);
            return sc_err_set(err, SC_ENOMEM, "out of memory registering an actor");
        }
        r->entries = n;
        r->cap = cap;
    }
    sc_reg_entry ne = { sc_strndup(uid->name.ptr, uid->name.len),
                        sc_strndup(uid->uuid.ptr, uid->uuid.len),
                        h,
                        uid->name.len,
                        uid->uuid.len,
                        host.len,
                        port };
    if (!ne.name || !ne.uuid) {
        entry_free(&ne);
        return sc_err_set(err, SC_ENOMEM, "out of memory registering an actor");
    }
    r->entries[r->count++] = ne;
    return SC_OK;
}

int sc_registry_remove(sc_registry *r, const sc_uid *uid, sc_err *err)
{
    sc_reg_entry *e = lookup(r, uid);
    if (!e)
        return sc_err_set(err, SC_EARG, "('%.*s', '%.*s')", (int)uid->name.len, uid->name.ptr,
                          (int)uid->uuid.len, uid->uuid.ptr);
    entry_free(e);
    size_t i = (size_t)(e - r->entries);
    memmove(e, e + 1, (r->count - i - 1) * sizeof(*e));
    r->count--;
    return SC_OK;
}

const sc_reg_entry *sc_registry_find(const sc_registry *r, sc_str name)
{
    for (size_t i = 0; i < r->count; i++)
        if (sc_str_eq(name, entry_name(&r->entries[i])))
            return &r->entries[i];
    return NULL;
}

size_t sc_registry_count_name(const sc_registry *r, sc_str name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += sc_str_eq(name, entry_name(&r->entries[i]));
    return n;
}

int sc_registry_pack_addr(msgpack_packer *pk, const sc_reg_entry *e)
{
    if (msgpack_pack_array(pk, 2) != 0 || sc_pack_str(pk, (sc_str){ e->host, e->host_len }) != 0)
        return -1;
    return msgpack_pack_unsigned_short(pk, e->port);
}

int sc_registry_pack_addrs(msgpack_packer *pk, const sc_registry *r, sc_str name)
{
    if (msgpack_pack_array(pk, sc_registry_count_name(r, name)) != 0)
        return -1;
    for (size_t i = 0; i < r->count; i++)
        if (sc_str_eq(name, entry_name(&r->entries[i])) && sc_registry_pack_addr(pk, &r->entries[i]) != 0)
            return -1;
    return 0;
}

int sc_registry_pack_table(msgpack_packer *pk, const sc_registry *r)
{
    if (msgpack_pack_map(pk, r->count) != 0)
        return -1;
    for (size_t i = 0; i < r->count; i++) {
        const sc_reg_entry *e = &r->entries[i];
        if (msgpack_pack_array(pk, 2) != 0 || sc_pack_str(pk, entry_name(e)) != 0 ||
            sc_pack_str(pk, (sc_str){ e->uuid, e->uuid_len }) != 0 || sc_registry_pack_addr(pk, e) != 0)
            return -1;
    }
    return 0;
}
