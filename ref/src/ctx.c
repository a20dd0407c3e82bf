/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ctx.c - context table and bounded receive queues. */
#include "ctx.h"

#include "hash.h"

#include <string.h>

#define ITEM_HDR 5u

static uint32_t key_hash(sc_str name, sc_str uuid, sc_str cid)
{
    sc_hasher h;
    sc_hasher_init(&h);
    sc_hasher_part(&h, name.ptr, name.len);
    sc_hasher_part(&h, uuid.ptr, uuid.len);
    sc_hasher_part(&h, cid.ptr, cid.len);
    return (uint32_t)sc_hasher_end(&h);
}

int sc_ctx_table_init(sc_ctx_table *t, sc_err *err)
{
    t->nbuckets = 64;
    t->count = 0;
    t->buckets = sc_calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets)
        return sc_err_set(err, SC_ENOMEM, "out of memory creating the context table");
    return SC_OK;
}

void sc_ctx_table_destroy(sc_ctx_table *t)
{
    sc_free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = t->count = 0;
}

sc_ctx *sc_ctx_find(const sc_ctx_table *t, const sc_uid *peer, sc_str cid)
{
    uint32_t h = key_hash(peer->name, peer->uuid, cid);
    for (sc_ctx *c = t->buckets[h & (t->nbuckets - 1)]; c; c = c->bucket_next)
        if (c->hash == h && sc_str_eq(c->cid, cid) && sc_str_eq(c->peer_uuid, peer->uuid) &&
            sc_str_eq(c->peer_name, peer->name))
            return c;
    return NULL;
}

static int table_grow(sc_ctx_table *t, sc_err *err)
{
    size_t n = t->nbuckets * 2;
    sc_ctx **b = sc_calloc(n, sizeof(*b));
    if (!b)
        return sc_err_set(err, SC_ENOMEM, "out of memory growing the context table");
    for (size_t i = 0; i < t->nbuckets; i++) {
        sc_ctx *c = t->buckets[i];
        while (c) {
            sc_ctx *next = c->bucket_next;
            c->bucket_next = b[c->hash & (n - 1)];
            b[c->hash & (n - 1)] = c;
            c = next;
        }
    }
    sc_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return SC_OK;
}

int sc_ctx_insert(sc_ctx_table *t, sc_ctx *c, sc_err *err)
{
    if (t->count >= t->nbuckets && table_grow(t, err) != SC_OK)
        return err ? err->code : SC_ENOMEM;
    sc_ctx **slot = &t->buckets[c->hash & (t->nbuckets - 1)];
    c->bucket_next = *slot;
    *slot = c;
    t->count++;
    return SC_OK;
}

void sc_ctx_remove(sc_ctx_table *t, sc_ctx *c)
{
    for (sc_ctx **p = &t->buckets[c->hash & (t->nbuckets - 1)]; *p; p = &(*p)->bucket_next) {
        if (*p == c) {
            *p = c->bucket_next;
            c->bucket_next = NULL;
            t->count--;
            return;
        }
    }
}

int sc_ctx_init(sc_ctx *c, const sc_uid *peer, sc_str cid, unsigned buffer_size, sc_err *err)
{
    memset(c, 0, sizeof(*c));
    /* Parking is defined relative to a non-empty buffer. */
    if (buffer_size == 0)
        return sc_err_set(err, SC_EARG, "a context buffer must hold at least one message");
    size_t n = peer->name.len + peer->uuid.len + cid.len + 3;
    c->key = sc_malloc(n);
    if (!c->key)
        return sc_err_set(err, SC_ENOMEM, "out of memory creating a context");
    char *p = c->key;
    const sc_str parts[3] = { peer->name, peer->uuid, cid };
    sc_str *views[3] = { &c->peer_name, &c->peer_uuid, &c->cid };
    for (int i = 0; i < 3; i++) {
        if (parts[i].len)
            memcpy(p, parts[i].ptr, parts[i].len);
        p[parts[i].len] = '\0';
        *views[i] = (sc_str){ p, parts[i].len };
        p += parts[i].len + 1;
    }
    c->hash = key_hash(peer->name, peer->uuid, cid);
    c->buffer_size = buffer_size;
    sc_buf_init(&c->queue, 0);
    return SC_OK;
}

void sc_ctx_destroy(sc_ctx *c)
{
    sc_free(c->key);
    sc_buf_free(&c->queue);
    memset(c, 0, sizeof(*c));
}

static size_t item_len_at(const sc_ctx *c, size_t off)
{
    const uint8_t *p = (const uint8_t *)sc_buf_head(&c->queue) + off + 1;
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

int sc_ctx_push(sc_ctx *c, sc_msg_kind kind, const msgpack_object *value,
                sc_push_outcome *outcome, size_t *bytes, sc_err *err)
{
    *bytes = 0;
    if (c->count >= c->buffer_size && !(c->stream_open && c->backpressure)) {
        *outcome = SC_PUSH_OVERRUN;
        return SC_OK;
    }
    size_t start = sc_buf_size(&c->queue);
    uint8_t hdr[ITEM_HDR] = { (uint8_t)kind, 0, 0, 0, 0 };
    if (sc_buf_append(&c->queue, hdr, sizeof(hdr), err) != SC_OK)
        return err ? err->code : SC_ENOMEM;
    if (value) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &c->queue, sc_buf_msgpack_write);
        if (msgpack_pack_object(&pk, *value) != 0) {
            c->queue.write_rc = SC_OK;
            sc_buf_truncate(&c->queue, start);
            return sc_err_set(err, SC_ENOMEM, "out of memory queueing a message");
        }
    }
    size_t len = sc_buf_size(&c->queue) - start - ITEM_HDR;
    char *h = c->queue.data + c->queue.off + start;
    h[1] = (char)(len & 0xff);
    h[2] = (char)(len >> 8 & 0xff);
    h[3] = (char)(len >> 16 & 0xff);
    h[4] = (char)(len >> 24 & 0xff);
    if (c->count == c->buffer_size)
        c->park_off = start;
    if (c->count >= c->buffer_size) {
        *outcome = SC_PUSH_PARKED;
        *bytes = len + ITEM_HDR;
        c->parked_bytes += *bytes;
    } else {
        *outcome = SC_PUSH_QUEUED;
    }
    c->count++;
    return SC_OK;
}

void sc_ctx_drop_last(sc_ctx *c, size_t size_before)
{
    if (c->count > c->buffer_size)
        c->parked_bytes -= sc_buf_size(&c->queue) - size_before;
    c->count--;
    sc_buf_truncate(&c->queue, size_before);
}

int sc_ctx_peek(const sc_ctx *c, sc_ctx_item *item)
{
    if (c->count == 0)
        return 0;
    item->kind = (sc_msg_kind)(uint8_t)sc_buf_head(&c->queue)[0];
    item->len = item_len_at(c, 0);
    item->value = sc_buf_head(&c->queue) + ITEM_HDR;
    return 1;
}

void sc_ctx_pop(sc_ctx *c, size_t *unparked_bytes, int *unparked)
{
    *unparked_bytes = 0;
    *unparked = 0;
    if (c->count == 0)
        return;
    size_t head = item_len_at(c, 0) + ITEM_HDR;
    sc_buf_consume(&c->queue, head);
    int had_parked = c->count > c->buffer_size;
    c->count--;
    if (had_parked) {
        /* The first parked item now belongs to the buffer. */
        c->park_off -= head;
        size_t moved = item_len_at(c, c->park_off) + ITEM_HDR;
        c->park_off += moved;
        c->parked_bytes -= moved;
        *unparked_bytes = moved;
        *unparked = 1;
    }
}

size_t sc_ctx_queued_bytes(const sc_ctx *c)
{
    return sc_buf_size(&c->queue);
}
