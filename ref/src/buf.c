/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* buf.c - capped byte buffer. */
#include "buf.h"

#include <string.h>

void sc_buf_init(sc_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void sc_buf_free(sc_buf *b)
{
    sc_free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

char *sc_buf_reserve(sc_buf *b, size_t n, sc_err *err)
{
    size_t used = b->len - b->off;
    if (b->max && n > b->max - (used < b->max ? used : b->max))
        return sc_err_set(err, SC_ELIMIT, "buffer limit of %zu bytes reached", b->max), NULL;
    if (b->cap - b->len >= n)
        return b->data + b->len;
    /* Reclaim the consumed prefix before growing: output buffers are mostly
     * drained from the front. */
    if (b->off) {
        memmove(b->data, b->data + b->off, used);
        b->len = used;
        b->off = 0;
        if (b->cap - b->len >= n)
            return b->data + b->len;
    }
    if (n > SIZE_MAX / 4 - b->len)
        return sc_err_set(err, SC_ENOMEM, "a buffer cannot grow by %zu bytes", n), NULL;
    size_t want = b->cap ? b->cap : 256;
    while (want - b->len < n)
        want *= 2;
    char *d = sc_realloc(b->data, want);
    if (!d)
        return sc_err_set(err, SC_ENOMEM, "out of memory growing a buffer to %zu bytes", want), NULL;
    b->data = d;
    b->cap = want;
    return b->data + b->len;
}

int sc_buf_append(sc_buf *b, const void *p, size_t n, sc_err *err)
{
    if (n == 0)
        return SC_OK;
    /* The code travels in the error object, so there must be one. */
    sc_err local;
    if (!err)
        err = &local;
    char *dst = sc_buf_reserve(b, n, err);
    if (!dst)
        return err->code;
    memcpy(dst, p, n);
    b->len += n;
    return SC_OK;
}

void sc_buf_consume(sc_buf *b, size_t n)
{
    size_t used = b->len - b->off;
    b->off += n < used ? n : used;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void sc_buf_truncate(sc_buf *b, size_t size)
{
    if (size < b->len - b->off)
        b->len = b->off + size;
}

int sc_buf_msgpack_write(void *data, const char *p, size_t n)
{
    sc_buf *b = data;
    sc_err err;
    int rc = sc_buf_append(b, p, n, &err);
    if (rc != SC_OK) {
        b->write_rc = rc;
        return -1;
    }
    return 0;
}
