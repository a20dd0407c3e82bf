/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_registry.c - libFuzzer target for the registry table (registry.h),
 * checked against a byte-exact model of spec/protocol.md section 10.
 *
 * Input format (see fuzz/README.md):
 *   byte 0        the registry's max entries: 1 + (byte % 8)
 *   then ops      one byte op (op % 6), then its operands:
 *     0 PUT       name, uuid, host, port (u16 LE)
 *     1 REMOVE    name, uuid
 *     2 FIND      name
 *     3 COUNT     name
 *     4 PACK      kind byte (0 addr of find(name), 1 addrs(name), 2 table), name
 *     5 CHECK     (nothing) compare the whole table with the model
 *   A name/uuid/host operand is one selector byte: below 0xf0 it picks an
 *   entry of a small pool (which includes "", long strings and strings with
 *   NUL bytes); 0xf0 and above means a literal: one length byte, then that
 *   many bytes.
 *
 * The model stores names as byte strings: REG-2 (put replaces in place),
 * REG-4 (remove, KeyError for an unknown uid), REG-5 (find: earliest exact
 * name), REG-6 (addresses of every exact match in order), REG-8 (table) and
 * REG-3 (bounded, ELIMIT for a new uid when full). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "registry.h"

#define MODEL_MAX 8

typedef struct bstr {
    const char *p;
    size_t n;
} bstr;

typedef struct mentry {
    bstr name, uuid, host;
    uint16_t port;
} mentry;

typedef struct model {
    mentry e[MODEL_MAX];
    size_t count;
    size_t max;
} model;

static const char long_name[] =
    "a-very-long-actor-name-that-goes-on-and-on-0123456789-0123456789-0123456789-0123456789"
    "-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-012345678";

static const bstr pool[] = {
    { "a", 1 },
    { "b", 1 },
    { "ab", 2 },
    { "", 0 },
    { "a\0b", 3 },
    { "a\0c", 3 },
    { "\xc3\xa9", 2 },
    { "127.0.0.1", 9 },
    { "0f0e0d0c-0b0a-4908-8706-050403020100", 36 },
    { long_name, sizeof(long_name) - 1 },
    { "scwire-ref", 10 },
    { "\0", 1 },
};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))

static bstr take_str(fdp *f)
{
    uint8_t sel = fdp_u8(f);
    if (sel < 0xf0)
        return pool[sel % NPOOL];
    const uint8_t *p;
    size_t n = fdp_bytes(f, fdp_u8(f), &p);
    return (bstr){ (const char *)p, n };
}

static int beq(bstr a, bstr b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static sc_str to_sc(bstr b)
{
    return (sc_str){ b.p, b.n };
}

/* The registry's NUL-terminated copy holds exactly the bytes of b. */
static int cstr_is(const char *c, bstr b)
{
    return memcmp(c, b.p, b.n) == 0 && c[b.n] == '\0';
}

static mentry *model_lookup(model *m, bstr name, bstr uuid)
{
    for (size_t i = 0; i < m->count; i++)
        if (beq(m->e[i].name, name) && beq(m->e[i].uuid, uuid))
            return &m->e[i];
    return NULL;
}

/* The i-th entry in registration order, NULL past the end. */
static const sc_reg_entry *nth(const sc_registry *r, size_t i)
{
    const sc_reg_entry *e = r->first;
    while (e && i--)
        e = e->order_next;
    return e;
}

/* The position of e in registration order. */
static size_t index_of(const sc_registry *r, const sc_reg_entry *e)
{
    size_t i = 0;
    for (const sc_reg_entry *x = r->first; x && x != e; x = x->order_next)
        i++;
    return i;
}

static void check_table(const sc_registry *r, const model *m)
{
    FZ_CHECK(r->count == m->count, "registry has %zu entries, model %zu", r->count, m->count);
    FZ_CHECK(r->count <= r->max, "registry over its max: %zu > %zu", r->count, r->max);
    const sc_reg_entry *e = r->first;
    for (size_t i = 0; i < m->count; i++, e = e->order_next) {
        const mentry *x = &m->e[i];
        FZ_CHECK(e != NULL, "order list ends at %zu of %zu", i, m->count);
        FZ_CHECK(cstr_is(e->name, x->name) && cstr_is(e->uuid, x->uuid) && cstr_is(e->host, x->host) &&
                     e->port == x->port,
                 "entry %zu differs from the model", i);
    }
}

static void unpack(fz_out *o, msgpack_zone *z, msgpack_object *obj)
{
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack(sc_buf_head(&o->buf), sc_buf_size(&o->buf), &off, z, obj);
    FZ_CHECK(ur == MSGPACK_UNPACK_SUCCESS && off == sc_buf_size(&o->buf), "packed result does not decode");
}

static int obj_is(const msgpack_object *o, bstr b)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == b.n &&
           (b.n == 0 || memcmp(o->via.str.ptr, b.p, b.n) == 0);
}

static void check_addr(const msgpack_object *o, const mentry *x)
{
    FZ_CHECK(o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 2, "address is not [host, port]");
    FZ_CHECK(obj_is(&o->via.array.ptr[0], x->host), "address host differs");
    FZ_CHECK(o->via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                 o->via.array.ptr[1].via.u64 == x->port,
             "address port differs");
}

static void do_pack(const sc_registry *r, const model *m, uint8_t kind, bstr name)
{
    fz_out o;
    msgpack_zone z;
    msgpack_object obj;
    fz_out_init(&o);
    FZ_CHECK(msgpack_zone_init(&z, 512), "zone");
    switch (kind % 3) {
    case 0: {
        const sc_reg_entry *e = sc_registry_find(r, to_sc(name));
        if (!e)
            break;
        FZ_CHECK(sc_registry_pack_addr(&o.pk, e) == 0, "pack_addr failed");
        unpack(&o, &z, &obj);
        check_addr(&obj, &m->e[index_of(r, e)]);
        break;
    }
    case 1: {
        FZ_CHECK(sc_registry_pack_addrs(&o.pk, r, to_sc(name)) == 0, "pack_addrs failed");
        unpack(&o, &z, &obj);
        FZ_CHECK(obj.type == MSGPACK_OBJECT_ARRAY, "addrs is not an array");
        size_t k = 0;
        for (size_t i = 0; i < m->count; i++) {
            if (!beq(m->e[i].name, name))
                continue;
            FZ_CHECK(k < obj.via.array.size, "addrs too short");
            check_addr(&obj.via.array.ptr[k++], &m->e[i]);
        }
        FZ_CHECK(k == obj.via.array.size, "addrs has %u items, model %zu", obj.via.array.size, k);
        break;
    }
    case 2: {
        FZ_CHECK(sc_registry_pack_table(&o.pk, r) == 0, "pack_table failed");
        unpack(&o, &z, &obj);
        FZ_CHECK(obj.type == MSGPACK_OBJECT_MAP && obj.via.map.size == m->count,
                 "table is not a map of %zu entries", m->count);
        for (size_t i = 0; i < m->count; i++) {
            const msgpack_object *k = &obj.via.map.ptr[i].key;
            FZ_CHECK(k->type == MSGPACK_OBJECT_ARRAY && k->via.array.size == 2 &&
                         obj_is(&k->via.array.ptr[0], m->e[i].name) &&
                         obj_is(&k->via.array.ptr[1], m->e[i].uuid),
                     "table key %zu is not [name, uuid] of the model", i);
            check_addr(&obj.via.map.ptr[i].val, &m->e[i]);
        }
        break;
    }
    }
    msgpack_zone_destroy(&z);
    fz_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = { data, size };
    model m;
    memset(&m, 0, sizeof(m));
    m.max = 1 + fdp_u8(&f) % MODEL_MAX;
    sc_registry r;
    sc_registry_init(&r, m.max, SIZE_MAX);

    while (fdp_left(&f) > 0) {
        uint8_t op = fdp_u8(&f) % 6;
        sc_err err;
        sc_err_clear(&err);
        switch (op) {
        case 0: {
            bstr name = take_str(&f), uuid = take_str(&f), host = take_str(&f);
            uint16_t port = fdp_u16(&f);
            sc_uid uid = { to_sc(name), to_sc(uuid) };
            int rc = sc_registry_put(&r, &uid, to_sc(host), port, NULL, &err);
            mentry *x = model_lookup(&m, name, uuid);
            if (!x && (name.n > SC_REG_NAME_MAX || uuid.n > SC_REG_UUID_MAX)) {
                FZ_CHECK(rc == SC_ELIMIT, "put of an over-long name or uuid returned %d", rc);
            } else if (x) {
                FZ_CHECK(rc == SC_OK, "update of a registered uid failed: %d %s", rc, err.msg);
                x->host = host;
                x->port = port;
            } else if (m.count == m.max) {
                FZ_CHECK(rc == SC_ELIMIT, "put into a full registry returned %d", rc);
                FZ_CHECK(err.code == rc && err.msg[0], "error not filled");
            } else {
                FZ_CHECK(rc == SC_OK, "put of a new uid failed: %d %s", rc, err.msg);
                m.e[m.count++] = (mentry){ name, uuid, host, port };
            }
            break;
        }
        case 1: {
            bstr name = take_str(&f), uuid = take_str(&f);
            sc_uid uid = { to_sc(name), to_sc(uuid) };
            int rc = sc_registry_remove(&r, &uid, NULL, &err);
            mentry *x = model_lookup(&m, name, uuid);
            if (x) {
                FZ_CHECK(rc == SC_OK, "remove of a registered uid returned %d: %s", rc, err.msg);
                size_t i = (size_t)(x - m.e);
                memmove(&m.e[i], &m.e[i + 1], (m.count - i - 1) * sizeof(m.e[0]));
                m.count--;
            } else {
                FZ_CHECK(rc == SC_EARG, "remove of an unknown uid returned %d", rc);
                FZ_CHECK(err.code == rc && err.msg[0], "error not filled");
            }
            break;
        }
        case 2: {
            bstr name = take_str(&f);
            const sc_reg_entry *e = sc_registry_find(&r, to_sc(name));
            size_t i = 0;
            while (i < m.count && !beq(m.e[i].name, name))
                i++;
            if (i == m.count) {
                FZ_CHECK(e == NULL, "find of an unregistered name found entry %zu",
                         index_of(&r, e));
            } else {
                FZ_CHECK(e == nth(&r, i), "find returned entry %ld, the earliest match is %zu",
                         e ? (long)index_of(&r, e) : -1L, i);
            }
            break;
        }
        case 3: {
            bstr name = take_str(&f);
            size_t k = 0;
            for (size_t i = 0; i < m.count; i++)
                k += beq(m.e[i].name, name);
            size_t got = sc_registry_count_name(&r, to_sc(name));
            FZ_CHECK(got == k, "count_name %zu, model %zu", got, k);
            break;
        }
        case 4: {
            uint8_t kind = fdp_u8(&f);
            bstr name = take_str(&f);
            check_table(&r, &m);
            do_pack(&r, &m, kind, name);
            break;
        }
        case 5:
            check_table(&r, &m);
            break;
        }
        FZ_CHECK(r.count == m.count, "registry has %zu entries, model %zu", r.count, m.count);
    }
    check_table(&r, &m);
    sc_registry_destroy(&r);
    return 0;
}
