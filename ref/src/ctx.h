/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ctx.h - contexts of spec/protocol.md sections 4, 6 and 7: the table that
 * routes messages by (peer uid, cid), and each context's bounded receive
 * queue with the overrun and backpressure rules.
 *
 * A context's queue holds at most buffer_size messages.  When it is full the
 * next message is an overrun, unless the owner opened a stream with
 * backpressure: then the message is parked beyond the buffer, and the actor
 * charges it to the channel's parking budget (and stops reading that
 * channel when the budget is spent) instead of stalling every context. */
#ifndef SC_CTX_H
#define SC_CTX_H

#include <msgpack.h>

#include "buf.h"
#include "msg.h"

typedef struct sc_ctx {
    struct sc_ctx *bucket_next;
    uint32_t hash;
    char *key;                 /* name NUL uuid NUL cid NUL, owned */
    sc_str peer_name;          /* views into key */
    sc_str peer_uuid;
    sc_str cid;
    /* receive queue: items back to back, [kind u8][len u32][value bytes] */
    sc_buf queue;
    unsigned count;            /* items queued, parked ones included */
    unsigned buffer_size;      /* items that fit before overrun/parking */
    size_t park_off;           /* offset of the first parked item from the head */
    size_t parked_bytes;       /* bytes of parked items */
    int stream_open;
    int backpressure;
} sc_ctx;

typedef struct sc_ctx_table {
    sc_ctx **buckets;
    size_t nbuckets;
    size_t count;
} sc_ctx_table;

int sc_ctx_table_init(sc_ctx_table *t, sc_err *err);
/* Frees the bucket array only; contexts belong to whoever created them. */
void sc_ctx_table_destroy(sc_ctx_table *t);
sc_ctx *sc_ctx_find(const sc_ctx_table *t, const sc_uid *peer, sc_str cid);
int sc_ctx_insert(sc_ctx_table *t, sc_ctx *c, sc_err *err);
void sc_ctx_remove(sc_ctx_table *t, sc_ctx *c);

int sc_ctx_init(sc_ctx *c, const sc_uid *peer, sc_str cid, unsigned buffer_size, sc_err *err);
void sc_ctx_destroy(sc_ctx *c);

typedef enum sc_push_outcome {
    SC_PUSH_QUEUED = 1,   /* in the buffer */
    SC_PUSH_PARKED,       /* beyond the buffer, backpressure: charge the channel */
    SC_PUSH_OVERRUN       /* not stored: answer StreamOverrun */
} sc_push_outcome;

/* Store a copy of value (NULL for none) under kind.  *outcome says where it
 * went; *bytes is what a parked item costs. */
int sc_ctx_push(sc_ctx *c, sc_msg_kind kind, const msgpack_object *value,
                sc_push_outcome *outcome, size_t *bytes, sc_err *err);

typedef struct sc_ctx_item {
    sc_msg_kind kind;
    const char *value;    /* encoded value; valid until the next push or pop */
    size_t len;
} sc_ctx_item;

/* Take back the item the last push stored; size_before is what
 * sc_ctx_queued_bytes said before that push. */
void sc_ctx_drop_last(sc_ctx *c, size_t size_before);
/* Peek at the oldest item; 0 if the queue is empty. */
int sc_ctx_peek(const sc_ctx *c, sc_ctx_item *item);
/* Drop the oldest item.  *unparked_bytes > 0 when a parked item moved into
 * the buffer (the channel gets that much budget back). */
void sc_ctx_pop(sc_ctx *c, size_t *unparked_bytes, int *unparked);
/* Bytes held by the queue. */
size_t sc_ctx_queued_bytes(const sc_ctx *c);

#endif
