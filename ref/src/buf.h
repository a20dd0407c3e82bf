/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* buf.h - a growable byte buffer with a hard cap, used for socket input
 * waiting to be parsed and for encoded output waiting to be written.
 *
 * Bytes are appended at the end and consumed from the front; the consumed
 * prefix is reclaimed lazily so that consuming is O(1). */
#ifndef SC_BUF_H
#define SC_BUF_H

#include "common.h"

typedef struct sc_buf {
    char *data;
    size_t off;   /* first unconsumed byte */
    size_t len;   /* end of valid bytes; unconsumed = len - off */
    size_t cap;   /* allocated size */
    size_t max;   /* most unconsumed bytes allowed; 0 = no cap */
    int write_rc; /* code of the last failed sc_buf_msgpack_write, else SC_OK */
} sc_buf;

void sc_buf_init(sc_buf *b, size_t max);
void sc_buf_free(sc_buf *b);
/* SC_ELIMIT if the unconsumed size would pass b->max, SC_ENOMEM on allocation
 * failure; the buffer is unchanged on failure. */
int sc_buf_append(sc_buf *b, const void *p, size_t n, sc_err *err);
/* Make room for n more bytes and return where they go (NULL on failure). */
char *sc_buf_reserve(sc_buf *b, size_t n, sc_err *err);
/* NULL while nothing was ever stored: no arithmetic on a null pointer. */
static inline const char *sc_buf_head(const sc_buf *b) { return b->data ? b->data + b->off : NULL; }
static inline size_t sc_buf_size(const sc_buf *b) { return b->len - b->off; }
void sc_buf_consume(sc_buf *b, size_t n);
/* Drop everything after the first `size` unconsumed bytes (undo a partial
 * append). */
void sc_buf_truncate(sc_buf *b, size_t size);
/* msgpack_packer write callback: data is an sc_buf *.  A failure is
 * remembered in write_rc, since the packer only reports -1. */
int sc_buf_msgpack_write(void *data, const char *p, size_t n);

#endif
