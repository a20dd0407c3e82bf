/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* registry.c - the registry table. */
#include "registry.h"

#include <string.h>

#include "hash.h"

#define FIRST_BUCKETS 16u

size_t sc_registry_bytes_for(size_t max_frame)
{
    /* {"return": <table>, "cid": <cid>}: 17 bytes around the table and the
     * cid's string, up to 259 bytes for 256. */
    return max_frame > 512 ? max_frame - 512 : max_frame / 2;
}

void sc_registry_init(sc_registry *r, size_t max, size_t max_bytes)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
    r->max_bytes = max_bytes;
}

static void entry_free(sc_reg_entry *e)
{
    sc_free(e->name);
    sc_free(e->uuid);
    sc_free(e->host);
    sc_free(e->by);
    sc_free(e);
}

void sc_registry_destroy(sc_registry *r)
{
    for (sc_reg_entry *e = r->first, *next; e; e = next) {
        next = e->order_next;
        entry_free(e);
    }
    sc_free(r->by_uid);
    sc_free(r->by_name);
    memset(r, 0, sizeof(*r));
}

static sc_str entry_name(const sc_reg_entry *e)
{
    return (sc_str){ e->name, e->name_len };
}

static sc_str entry_uuid(const sc_reg_entry *e)
{
    return (sc_str){ e->uuid, e->uuid_len };
}

static uint64_t uid_hash(const sc_uid *uid)
{
    sc_hasher h;
    sc_hasher_init(&h);
    sc_hasher_part(&h, uid->name.ptr, uid->name.len);
    sc_hasher_part(&h, uid->uuid.ptr, uid->uuid.len);
    return sc_hasher_end(&h);
}

static size_t entry_cost(size_t name_len, size_t uuid_len, size_t host_len)
{
    return SC_REG_ENTRY_OVERHEAD + name_len + uuid_len + host_len;
}

static sc_reg_entry *lookup(const sc_registry *r, const sc_uid *uid)
{
    if (!r->nbuckets)
        return NULL;
    uint64_t h = uid_hash(uid);
    for (sc_reg_entry *e = r->by_uid[h & (r->nbuckets - 1)]; e; e = e->uid_next)
        if (e->uid_hash == h && sc_str_eq(uid->name, entry_name(e)) &&
            sc_str_eq(uid->uuid, entry_uuid(e)))
            return e;
    return NULL;
}

static void link_name(sc_registry *r, sc_reg_entry *e)
{
    sc_reg_bucket *b = &r->by_name[e->name_hash & (r->nbuckets - 1)];
    e->name_next = NULL;
    e->name_prev = b->tail;
    if (b->tail)
        b->tail->name_next = e;
    else
        b->head = e;
    b->tail = e;
}

static void link_uid(sc_registry *r, sc_reg_entry *e)
{
    sc_reg_entry **slot = &r->by_uid[e->uid_hash & (r->nbuckets - 1)];
    e->uid_next = *slot;
    *slot = e;
}

/* Rebuilt from the order list, so every name bucket stays oldest first. */
static int rehash(sc_registry *r, size_t n, sc_err *err)
{
    sc_reg_entry **u = sc_calloc(n, sizeof(*u));
    sc_reg_bucket *b = sc_calloc(n, sizeof(*b));
    if (!u || !b) {
        sc_free(u);
        sc_free(b);
        return sc_err_set(err, SC_ENOMEM, "out of memory growing the registry");
    }
    sc_free(r->by_uid);
    sc_free(r->by_name);
    r->by_uid = u;
    r->by_name = b;
    r->nbuckets = n;
    for (sc_reg_entry *e = r->first; e; e = e->order_next) {
        link_uid(r, e);
        link_name(r, e);
    }
    return SC_OK;
}

/* The actor itself (by NULL) may change anything; a peer only what it
 * registered, or the entry of its own uid, and never the actor's own. */
static int may_change(const sc_reg_entry *e, const sc_uid *by)
{
    if (!by)
        return 1;
    if (!e->by)
        return 0;
    sc_str by_name = { e->by, e->by_name_len };
    sc_str by_uuid = { e->by + e->by_name_len + 1, e->by_uuid_len };
    if (sc_str_eq(by->name, by_name) && sc_str_eq(by->uuid, by_uuid))
        return 1;
    return sc_str_eq(by->name, entry_name(e)) && sc_str_eq(by->uuid, entry_uuid(e));
}

static int refuse(const sc_uid *uid, const char *what, sc_err *err)
{
    return sc_err_set(err, SC_ESTATE,
                      "('%.*s', '%.*s') %s: only the actor that registered it, or the actor it "
                      "names, may change it",
                      (int)(uid->name.len > 64 ? 64 : uid->name.len), uid->name.ptr,
                      (int)(uid->uuid.len > 64 ? 64 : uid->uuid.len), uid->uuid.ptr, what);
}

static int update(sc_registry *r, sc_reg_entry *e, sc_str host, uint16_t port, sc_err *err)
{
    size_t bytes = r->bytes - e->host_len + host.len;
    if (bytes > r->max_bytes)
        return sc_err_set(err, SC_ELIMIT, "the registry is full (%zu of %zu bytes)", r->bytes,
                          r->max_bytes);
    char *h = sc_strndup(host.ptr, host.len);
    if (!h)
        return sc_err_set(err, SC_ENOMEM, "out of memory registering an actor");
    sc_free(e->host);
    e->host = h;
    e->host_len = host.len;
    e->port = port;
    r->bytes = bytes;
    return SC_OK;
}

static int check_bounds(const sc_registry *r, const sc_uid *uid, sc_str host, sc_err *err)
{
    if (uid->name.len > SC_REG_NAME_MAX || uid->uuid.len > SC_REG_UUID_MAX)
        return sc_err_set(err, SC_ELIMIT,
                          "a registered name may have at most %u bytes and a uuid %u, not %zu "
                          "and %zu",
                          SC_REG_NAME_MAX, SC_REG_UUID_MAX, uid->name.len, uid->uuid.len);
    if (r->count >= r->max)
        return sc_err_set(err, SC_ELIMIT, "the registry is full (%zu entries)", r->max);
    if (r->bytes + entry_cost(uid->name.len, uid->uuid.len, host.len) > r->max_bytes)
        return sc_err_set(err, SC_ELIMIT, "the registry is full (%zu of %zu bytes)", r->bytes,
                          r->max_bytes);
    return SC_OK;
}

static sc_reg_entry *entry_new(const sc_uid *uid, sc_str host, uint16_t port, const sc_uid *by)
{
    sc_reg_entry *e = sc_calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->name = sc_strndup(uid->name.ptr, uid->name.len);
    e->uuid = sc_strndup(uid->uuid.ptr, uid->uuid.len);
    e->host = sc_strndup(host.ptr, host.len);
    if (by && (e->by = sc_malloc(by->name.len + by->uuid.len + 2)) != NULL) {
        memcpy(e->by, by->name.ptr, by->name.len);
        e->by[by->name.len] = '\0';
        memcpy(e->by + by->name.len + 1, by->uuid.ptr, by->uuid.len);
        e->by[by->name.len + 1 + by->uuid.len] = '\0';
        e->by_name_len = by->name.len;
        e->by_uuid_len = by->uuid.len;
    }
    if (!e->name || !e->uuid || !e->host || (by && !e->by)) {
        entry_free(e);
        return NULL;
    }
    e->name_len = uid->name.len;
    e->uuid_len = uid->uuid.len;
    e->host_len = host.len;
    e->port = port;
    e->uid_hash = uid_hash(uid);
    e->name_hash = sc_hash_bytes(uid->name.ptr, uid->name.len);
    return e;
}

int sc_registry_put(sc_registry *r, const sc_uid *uid, sc_str host, uint16_t port,
                    const sc_uid *by, sc_err *err)
{
    sc_reg_entry *e = lookup(r, uid);
    if (e)
        return may_change(e, by) ? update(r, e, host, port, err)
                                 : refuse(uid, "is registered already", err);
    int rc = check_bounds(r, uid, host, err);
    if (rc != SC_OK)
        return rc;
    if (r->count >= r->nbuckets &&
        rehash(r, r->nbuckets ? r->nbuckets * 2 : FIRST_BUCKETS, err) != SC_OK)
        return SC_ENOMEM;
    if (!(e = entry_new(uid, host, port, by)))
        return sc_err_set(err, SC_ENOMEM, "out of memory registering an actor");
    e->order_prev = r->last;
    if (r->last)
        r->last->order_next = e;
    else
        r->first = e;
    r->last = e;
    link_uid(r, e);
    link_name(r, e);
    r->count++;
    r->bytes += entry_cost(e->name_len, e->uuid_len, e->host_len);
    return SC_OK;
}

static void unlink_entry(sc_registry *r, sc_reg_entry *e)
{
    sc_reg_entry **p = &r->by_uid[e->uid_hash & (r->nbuckets - 1)];
    while (*p != e)
        p = &(*p)->uid_next;
    *p = e->uid_next;
    sc_reg_bucket *b = &r->by_name[e->name_hash & (r->nbuckets - 1)];
    if (e->name_prev)
        e->name_prev->name_next = e->name_next;
    else
        b->head = e->name_next;
    if (e->name_next)
        e->name_next->name_prev = e->name_prev;
    else
        b->tail = e->name_prev;
    if (e->order_prev)
        e->order_prev->order_next = e->order_next;
    else
        r->first = e->order_next;
    if (e->order_next)
        e->order_next->order_prev = e->order_prev;
    else
        r->last = e->order_prev;
}

int sc_registry_remove(sc_registry *r, const sc_uid *uid, const sc_uid *by, sc_err *err)
{
    sc_reg_entry *e = lookup(r, uid);
    if (!e)
        return sc_err_set(err, SC_EARG, "('%.*s', '%.*s')", (int)uid->name.len, uid->name.ptr,
                          (int)uid->uuid.len, uid->uuid.ptr);
    if (!may_change(e, by))
        return refuse(uid, "may not be unregistered by this peer", err);
    unlink_entry(r, e);
    r->count--;
    r->bytes -= entry_cost(e->name_len, e->uuid_len, e->host_len);
    entry_free(e);
    return SC_OK;
}

const sc_reg_entry *sc_registry_find(const sc_registry *r, sc_str name)
{
    if (!r->nbuckets)
        return NULL;
    uint64_t h = sc_hash_bytes(name.ptr, name.len);
    for (sc_reg_entry *e = r->by_name[h & (r->nbuckets - 1)].head; e; e = e->name_next)
        if (e->name_hash == h && sc_str_eq(name, entry_name(e)))
            return e;
    return NULL;
}

size_t sc_registry_count_name(const sc_registry *r, sc_str name)
{
    size_t n = 0;
    for (const sc_reg_entry *e = sc_registry_find(r, name); e; e = e->name_next)
        n += sc_str_eq(name, entry_name(e));
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
    for (const sc_reg_entry *e = sc_registry_find(r, name); e; e = e->name_next)
        if (sc_str_eq(name, entry_name(e)) && sc_registry_pack_addr(pk, e) != 0)
            return -1;
    return 0;
}

int sc_registry_pack_table(msgpack_packer *pk, const sc_registry *r)
{
    if (msgpack_pack_map(pk, r->count) != 0)
        return -1;
    for (const sc_reg_entry *e = r->first; e; e = e->order_next) {
        if (msgpack_pack_array(pk, 2) != 0 || sc_pack_str(pk, entry_name(e)) != 0 ||
            sc_pack_str(pk, entry_uuid(e)) != 0 || sc_registry_pack_addr(pk, e) != 0)
            return -1;
    }
    return 0;
}
