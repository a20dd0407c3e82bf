/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* codec.c - the frame reader and the frame encoder of codec.h for the
 * `msgpack` and `lenprefix` codecs.
 *
 * Input bytes stay in one capped buffer.  The scanner of scan.h finds where
 * a message ends and checks it against the limits; only then does msgpack-c
 * decode it, into a zone reused for every frame.  str and bin objects point
 * into the buffer, so a frame is dropped from it only at the next call. */
#include "codec.h"

#include <string.h>

#include "scan.h"

/* Big enough for a typical message's objects in one chunk. */
#define SC_ZONE_CHUNK 2048

#define SC_LENPREFIX_HDR 4

struct sc_reader {
    sc_codec codec;
    sc_limits lim;
    sc_buf in;
    sc_scanner scan;
    msgpack_zone zone;
    size_t handed;   /* bytes of the frame handed out by the last sc_reader_next */
    sc_err err;      /* sticky once err.code != SC_OK */
};

int sc_codec_parse(const char *name, sc_codec *out)
{
    if (name && strcmp(name, "msgpack") == 0)
        *out = SC_CODEC_MSGPACK;
    else if (name && strcmp(name, "lenprefix") == 0)
        *out = SC_CODEC_LENPREFIX;
    else
        return SC_EARG;
    return SC_OK;
}

const char *sc_codec_name(sc_codec c)
{
    switch (c) {
    case SC_CODEC_MSGPACK: return "msgpack";
    case SC_CODEC_LENPREFIX: return "lenprefix";
    }
    return "unknown codec";
}

static int valid_codec(sc_codec c)
{
    return c == SC_CODEC_MSGPACK || c == SC_CODEC_LENPREFIX;
}

int sc_reader_new(sc_codec codec, const sc_limits *lim, sc_reader **out, sc_err *err)
{
    *out = NULL;
    if (!valid_codec(codec))
        return sc_err_set(err, SC_EARG, "codec %d is neither msgpack (0) nor lenprefix (1)",
                          (int)codec);
    if (lim->max_frame == 0 || lim->max_frame > SIZE_MAX - SC_LENPREFIX_HDR - SC_READ_CHUNK)
        return sc_err_set(err, SC_EARG, "message limit of %zu bytes is out of range: use 1 to %zu",
                          lim->max_frame, (size_t)(SIZE_MAX - SC_LENPREFIX_HDR - SC_READ_CHUNK));
    sc_reader *r = sc_malloc(sizeof(*r));
    if (!r)
        return sc_err_set(err, SC_ENOMEM, "out of memory allocating a frame reader");
    memset(r, 0, sizeof(*r));
    if (!msgpack_zone_init(&r->zone, SC_ZONE_CHUNK)) {
        sc_free(r);
        return sc_err_set(err, SC_ENOMEM, "out of memory allocating a frame reader's decoding zone");
    }
    r->codec = codec;
    r->lim = *lim;
    sc_buf_init(&r->in, lim->max_frame + SC_LENPREFIX_HDR + SC_READ_CHUNK);
    *out = r;
    return SC_OK;
}

void sc_reader_free(sc_reader *r)
{
    if (!r)
        return;
    msgpack_zone_destroy(&r->zone);
    sc_buf_free(&r->in);
    sc_free(r);
}

static void drop_handed(sc_reader *r)
{
    sc_buf_consume(&r->in, r->handed);
    r->handed = 0;
}

int sc_reader_feed(sc_reader *r, const char *data, size_t len)
{
    if (r->err.code != SC_OK)
        return r->err.code;
    if (len == 0)
        return SC_OK;
    sc_err why;
    int rc = sc_buf_append(&r->in, data, len, &why);
    if (rc == SC_ELIMIT)
        return sc_err_set(&r->err, SC_ELIMIT,
                          "input buffer limit of %zu bytes reached: %zu bytes were buffered and "
                          "%zu more fed; take frames out with sc_reader_next before feeding more",
                          r->in.max, sc_buf_size(&r->in), len);
    if (rc != SC_OK)
        return sc_err_set(&r->err, rc, "out of memory buffering %zu more input bytes after %zu",
                          len, sc_buf_size(&r->in));
    return SC_OK;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Finds the next whole frame in the buffer: *skip bytes of header, then the
 * object of *obj_len bytes.  SC_AGAIN if it is not all there yet; errors are
 * made sticky here. */
static int locate(sc_reader *r, size_t *skip, size_t *obj_len)
{
    const uint8_t *p = (const uint8_t *)sc_buf_head(&r->in);
    size_t n = sc_buf_size(&r->in);

    if (r->codec == SC_CODEC_MSGPACK) {
        *skip = 0;
        return sc_scan(&r->scan, p, n, &r->lim, obj_len, &r->err);
    }

    if (n < SC_LENPREFIX_HDR)
        return SC_AGAIN;
    uint32_t size = le32(p);
    if (size == 0)
        return sc_err_set(&r->err, SC_EPROTO,
                          "empty frame: a lenprefix header announced a body of 0 bytes");
    /* Refused from the header alone, so the body is never buffered. */
    if (size > r->lim.max_frame)
        return sc_err_set(&r->err, SC_ELIMIT, "frame of %lu bytes exceeds the limit of %zu bytes",
                          (unsigned long)size, r->lim.max_frame);
    if (n - SC_LENPREFIX_HDR < size)
        return SC_AGAIN;
    /* The body is whole, so one pass of a fresh scanner decides. */
    sc_scan_reset(&r->scan);
    int rc = sc_scan(&r->scan, p + SC_LENPREFIX_HDR, size, &r->lim, obj_len, &r->err);
    if (rc == SC_AGAIN)
        return sc_err_set(&r->err, SC_EPROTO,
                          "frame body ends inside an object: the %lu-byte body holds an "
                          "incomplete msgpack object",
                          (unsigned long)size);
    if (rc != SC_OK)
        return rc;
    if (*obj_len < size)
        return sc_err_set(&r->err, SC_EPROTO,
                          "%lu trailing bytes after the object in a frame: the object takes "
                          "%zu of the body's %lu bytes",
                          (unsigned long)(size - *obj_len), *obj_len, (unsigned long)size);
    *skip = SC_LENPREFIX_HDR;
    return SC_OK;
}

int sc_reader_next(sc_reader *r, sc_frame *out)
{
    if (r->err.code != SC_OK)
        return r->err.code;
    drop_handed(r);

    size_t skip, obj_len;
    int rc = locate(r, &skip, &obj_len);
    if (rc != SC_OK)
        return rc;
    sc_scan_reset(&r->scan);

    const char *data = sc_buf_head(&r->in) + skip;
    size_t off = 0;
    msgpack_zone_clear(&r->zone);
    msgpack_unpack_return ur = msgpack_unpack(data, obj_len, &off, &r->zone, &out->obj);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        return sc_err_set(&r->err, SC_ENOMEM, "out of memory decoding a %zu-byte message", obj_len);
    /* The scanner has already accepted these bytes, so this is a scwire bug,
     * reported rather than trusted. */
    if (ur != MSGPACK_UNPACK_SUCCESS || off != obj_len)
        return sc_err_set(&r->err, SC_EPROTO,
                          "msgpack-c refused a %zu-byte message that the pre-scan accepted "
                          "(result %d after %zu bytes); this is a bug in scwire",
                          obj_len, (int)ur, off);
    out->raw = data;
    out->raw_len = obj_len;
    r->handed = skip + obj_len;
    return SC_OK;
}

int sc_reader_finish(sc_reader *r)
{
    if (r->err.code != SC_OK)
        return r->err.code;
    drop_handed(r);
    size_t n = sc_buf_size(&r->in);
    if (n == 0)
        return SC_OK;

    size_t skip, obj_len;
    int rc = locate(r, &skip, &obj_len);
    if (rc == SC_OK)
        return sc_err_set(&r->err, SC_ESTATE,
                          "sc_reader_finish called with a whole frame still buffered: take "
                          "frames out with sc_reader_next until it returns SC_AGAIN first");
    if (rc != SC_AGAIN)
        return rc;
    if (r->codec == SC_CODEC_LENPREFIX && n < SC_LENPREFIX_HDR)
        return sc_err_set(&r->err, SC_EPROTO,
                          "connection closed inside a frame: %zu bytes of the 4-byte header", n);
    if (r->codec == SC_CODEC_LENPREFIX)
        return sc_err_set(&r->err, SC_EPROTO,
                          "connection closed inside a frame: %zu of the %lu body bytes its "
                          "header announced",
                          n - SC_LENPREFIX_HDR,
                          (unsigned long)le32((const uint8_t *)sc_buf_head(&r->in)));
    return sc_err_set(&r->err, SC_EPROTO,
                      "connection closed inside a frame: %zu bytes of an unfinished message", n);
}

const char *sc_reader_errstr(const sc_reader *r)
{
    return r->err.msg;
}

int sc_reader_err(const sc_reader *r)
{
    return r->err.code;
}

size_t sc_reader_pending(const sc_reader *r)
{
    return sc_buf_size(&r->in) - r->handed;
}

int sc_frame_begin(sc_codec c, sc_buf *out, size_t *mark, sc_err *err)
{
    if (!valid_codec(c))
        return sc_err_set(err, SC_EARG, "codec %d is neither msgpack (0) nor lenprefix (1)", (int)c);
    *mark = sc_buf_size(out);
    if (c == SC_CODEC_LENPREFIX) {
        static const char zero[SC_LENPREFIX_HDR];
        int rc = sc_buf_append(out, zero, sizeof(zero), err);
        /* SC_ELIMIT from sc_frame_end means "this message is too big"; a
         * full output buffer is the peer not reading, which is SC_EFULL. */
        if (rc == SC_ELIMIT)
            return sc_err_set(err, SC_EFULL,
                              "output buffer limit of %zu bytes reached: the peer is not reading",
                              out->max);
        return rc;
    }
    return SC_OK;
}

int sc_frame_end(sc_codec c, sc_buf *out, size_t mark, size_t max_frame, sc_err *err)
{
    if (!valid_codec(c))
        return sc_err_set(err, SC_EARG, "codec %d is neither msgpack (0) nor lenprefix (1)", (int)c);
    size_t hdr = c == SC_CODEC_LENPREFIX ? SC_LENPREFIX_HDR : 0;
    size_t size = sc_buf_size(out);
    if (mark > size || size - mark < hdr)
        return sc_err_set(err, SC_EARG,
                          "frame mark %zu does not match the output buffer of %zu bytes: was "
                          "sc_frame_begin called on it?",
                          mark, size);
    size_t body = size - mark - hdr;
    if (body == 0) {
        sc_buf_truncate(out, mark);
        return sc_err_set(err, SC_EARG, "nothing was packed between sc_frame_begin and sc_frame_end");
    }
    if (body > max_frame) {
        sc_buf_truncate(out, mark);
        return sc_err_set(err, SC_ELIMIT,
                          "message of %zu bytes exceeds the message limit of %zu bytes and was "
                          "not sent",
                          body, max_frame);
    }
    if (hdr) {
        /* The peer reads a uint32; a body over 4 GiB cannot be framed. */
        if (body > UINT32_MAX) {
            sc_buf_truncate(out, mark);
            return sc_err_set(err, SC_ELIMIT,
                              "message of %zu bytes does not fit a lenprefix header and was "
                              "not sent",
                              body);
        }
        uint8_t *h = (uint8_t *)out->data + out->off + mark;
        h[0] = (uint8_t)body;
        h[1] = (uint8_t)(body >> 8);
        h[2] = (uint8_t)(body >> 16);
        h[3] = (uint8_t)(body >> 24);
    }
    return SC_OK;
}
