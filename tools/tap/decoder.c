/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* decoder.c - decoding one direction for the trace (see decoder.h). */
#include "decoder.h"

#include <string.h>

static int stop(tap_decoder *d)
{
    sc_err_set(&d->why, sc_reader_err(d->rd), "%s", sc_reader_errstr(d->rd));
    sc_reader_free(d->rd);
    d->rd = NULL;
    return trace_decode_error(d->tr, d->conn, d->dir, d->why.msg, d->head, d->head_len);
}

int decoder_init(tap_decoder *d, sc_codec codec, const sc_limits *lim, trace *tr,
                 unsigned long conn, tap_dir dir)
{
    memset(d, 0, sizeof(*d));
    d->tr = tr;
    d->conn = conn;
    d->dir = dir;
    /* Nothing to decode for when there is no trace. */
    if (!trace_on(tr))
        return SC_OK;
    /* Without a reader the bytes still go through; the trace says why none
     * of them is shown. */
    if (sc_reader_new(codec, lim, &d->rd, &d->why) != SC_OK)
        return trace_decode_error(tr, conn, dir, d->why.msg, "", 0);
    return SC_OK;
}

/* Keeps head[] equal to the first bytes the reader holds undecoded, since
 * the reader does not show them.  Frames are taken out after every feed, so
 * the undecoded rest is either the old rest plus data (no frame ended) or
 * lies wholly inside data (a frame ended in it). */
static void track_head(tap_decoder *d, size_t before, const char *data, size_t n)
{
    size_t gone = before + n - sc_reader_pending(d->rd);   /* taken out as frames */
    size_t k;

    if (gone == 0) {
        k = TAP_HEAD_MAX - d->head_len < n ? TAP_HEAD_MAX - d->head_len : n;
        memcpy(d->head + d->head_len, data, k);
        d->head_len += k;
    } else if (gone >= before) {
        k = n - (gone - before) < TAP_HEAD_MAX ? n - (gone - before) : TAP_HEAD_MAX;
        memcpy(d->head, data + (gone - before), k);
        d->head_len = k;
    } else {
        /* A frame ended inside the old rest, which the above rules out;
         * keep what is still known rather than show wrong bytes. */
        k = gone < d->head_len ? gone : d->head_len;
        memmove(d->head, d->head + k, d->head_len - k);
        d->head_len -= k;
    }
}

int decoder_feed(tap_decoder *d, const char *data, size_t n)
{
    size_t before;
    sc_frame f;
    int rc, trc = SC_OK;

    if (!d->rd)
        return SC_OK;
    before = sc_reader_pending(d->rd);
    /* Only allocation can fail here: every frame was taken out before. */
    if (sc_reader_feed(d->rd, data, n) != SC_OK)
        return stop(d);
    while (trc == SC_OK && (rc = sc_reader_next(d->rd, &f)) == SC_OK)
        trc = trace_msg(d->tr, d->conn, d->dir, &f);
    if (trc != SC_OK)
        return trc;
    track_head(d, before, data, n);
    return rc == SC_AGAIN ? SC_OK : stop(d);
}

int decoder_end(tap_decoder *d)
{
    if (d->rd && sc_reader_finish(d->rd) != SC_OK)
        return stop(d);
    return SC_OK;
}

void decoder_free(tap_decoder *d)
{
    sc_reader_free(d->rd);
    d->rd = NULL;
}
