/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* codec.h - framing of messages on the byte stream, for both codecs of
 * spec/protocol.md section 1: `msgpack` (objects back to back) and
 * `lenprefix` (a 4-byte little-endian length before each object).
 *
 * The reader is modelled on hiredis's redisReader: bytes are fed in whatever
 * pieces the socket gives, frames are taken out one at a time, an error is
 * sticky and carries a sentence.  Nothing here touches a socket. */
#ifndef SC_CODEC_H
#define SC_CODEC_H

#include <msgpack.h>

#include "buf.h"
#include "common.h"
#include "limit.h"

typedef enum sc_codec {
    SC_CODEC_MSGPACK = 0,
    SC_CODEC_LENPREFIX = 1
} sc_codec;

/* "msgpack" or "lenprefix"; SC_EARG otherwise. */
int sc_codec_parse(const char *name, sc_codec *out);
const char *sc_codec_name(sc_codec c);

/* Largest chunk the glue feeds at once; the reader's buffer is capped at
 * max_frame + 4 + SC_READ_CHUNK, which is never crossed if the caller takes
 * every available frame out before feeding more. */
#define SC_READ_CHUNK 65536

typedef struct sc_reader sc_reader;

/* One decoded message.  obj and raw stay valid until the next call on the
 * reader (the zone and the buffer are reused). */
typedef struct sc_frame {
    msgpack_object obj;
    const char *raw;      /* the encoded object, without a length prefix */
    size_t raw_len;
} sc_frame;

int sc_reader_new(sc_codec codec, const sc_limits *lim, sc_reader **out, sc_err *err);
void sc_reader_free(sc_reader *r);
/* Copy bytes in.  Fails (and stays failed) with SC_ELIMIT if the buffer cap
 * would be crossed, SC_ENOMEM on allocation failure. */
int sc_reader_feed(sc_reader *r, const char *data, size_t len);
/* SC_OK with *out filled, SC_AGAIN when no whole frame is buffered, or the
 * sticky error code (see sc_reader_errstr). */
int sc_reader_next(sc_reader *r, sc_frame *out);
/* Call at EOF: SC_OK if nothing partial is buffered, else SC_EPROTO
 * "truncated ..." (the error becomes sticky). */
int sc_reader_finish(sc_reader *r);
const char *sc_reader_errstr(const sc_reader *r);
int sc_reader_err(const sc_reader *r);
size_t sc_reader_pending(const sc_reader *r);

/* Encoding: sc_frame_begin() before packing one message into out and
 * sc_frame_end() after it.  For lenprefix begin reserves the 4-byte header
 * and end writes the body length into it.  end fails with SC_ELIMIT (and
 * removes the partial message from out) if the body is larger than
 * max_frame, so that nothing we send breaks a peer's limits. */
int sc_frame_begin(sc_codec c, sc_buf *out, size_t *mark, sc_err *err);
int sc_frame_end(sc_codec c, sc_buf *out, size_t mark, size_t max_frame, sc_err *err);

#endif
