/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* decoder.h - what scwire-tap knows about one direction of a connection:
 * the bytes are fed in as they are read, each whole message becomes a trace
 * line, and the first bytes that cannot be decoded become a decode_error
 * line, after which the direction is no longer decoded (its bytes are still
 * forwarded; that is the relay's business, not this one's). */
#ifndef TAP_DECODER_H
#define TAP_DECODER_H

#include "codec.h"
#include "trace.h"

/* Bytes of an undecodable rest shown in the trace. */
#define TAP_HEAD_MAX 4096

typedef struct tap_decoder {
    sc_reader *rd;               /* NULL once decoding has stopped */
    trace *tr;
    unsigned long conn;
    tap_dir dir;
    sc_err why;                  /* why decoding stopped */
    char head[TAP_HEAD_MAX];     /* the first bytes rd holds undecoded */
    size_t head_len;
} tap_decoder;

/* The functions return SC_OK or the trace's error; a decoding failure is
 * not one of theirs: it is written to the trace and left in d->why. */
int decoder_init(tap_decoder *d, sc_codec codec, const sc_limits *lim, trace *tr,
                 unsigned long conn, tap_dir dir);
int decoder_feed(tap_decoder *d, const char *data, size_t n);
/* The direction's bytes have ended: a message cut short is a decode error. */
int decoder_end(tap_decoder *d);
static inline int decoder_live(const tap_decoder *d) { return d->rd != NULL; }
void decoder_free(tap_decoder *d);

#endif
