/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_codec.c - libFuzzer target for the frame reader (codec.h) and the
 * pre-scanner (scan.h).
 *
 * Input format (see fuzz/README.md):
 *   byte 0      bit 0: codec (0 msgpack, 1 lenprefix); bits 1-3: limit
 *               variation (0 = reference defaults, see limits_for)
 *   byte 1      bits 0-2: k, the number of chunk-size bytes that follow
 *   k bytes     chunk sizes, used in turn: each feeds (byte + 1) bytes;
 *               k == 0 feeds SC_READ_CHUNK (64 KiB) at a time
 *   the rest    the payload: bytes as a peer would send them
 *
 * The payload goes through an sc_reader in those chunks, with every frame
 * taken out after each feed.  A reference framing computed from one whole
 * sc_scan per object (and the lenprefix rules) must give exactly the same
 * frames, the same error code and the same end state, whatever the chunking
 * (FRAME-8).  Other invariants: every frame is a slice of the payload at the
 * right place, raw_len <= max_frame, errors are sticky, feeding never fails
 * while frames are taken out, msgpack-c never refuses what the scanner
 * accepted, and every decoded object re-packed by msgpack-c scans to SC_OK
 * with the repacked length and decodes to an equal object, and is framed
 * exactly by sc_frame_begin/sc_frame_end (refused one byte over the limit). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "fuzz_common.h"
#include "scan.h"

static void limits_for(unsigned v, sc_limits *l)
{
    sc_limits_default(l);
    switch (v & 7) {
    case 0: break;
    case 1: l->max_frame = 64; break;
    case 2: l->max_depth = 3; break;
    case 3: l->max_str = 8; break;
    case 4: l->max_entries = 4; break;
    case 5: l->max_frame = 1; break;
    case 6:
        l->max_frame = 300;
        l->max_depth = 6;
        l->max_str = 40;
        l->max_entries = 10;
        break;
    case 7:
        l->max_frame = 16;
        l->max_depth = 1;
        break;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define MAX_FRAMES 4096

/* The frames a correct reader must produce, computed without the reader. */
typedef struct ref_framing {
    size_t start[MAX_FRAMES];   /* offset of the object (after any header) */
    size_t len[MAX_FRAMES];
    size_t n;
    size_t end;                 /* payload offset after the last whole frame */
    int rc;                     /* SC_AGAIN (clean or partial tail) or the error */
    int overflow;               /* more than MAX_FRAMES: only the first are compared */
} ref_framing;

static void reference(sc_codec codec, const sc_limits *lim, const uint8_t *p, size_t n,
                      ref_framing *ref)
{
    size_t off = 0;
    ref->n = 0;
    ref->overflow = 0;
    for (;;) {
        ref->end = off;
        if (off == n) {
            ref->rc = SC_AGAIN;
            return;
        }
        sc_scanner s;
        sc_err err;
        size_t skip = 0, obj_len = 0;
        int rc;
        sc_scan_reset(&s);
        if (codec == SC_CODEC_MSGPACK) {
            rc = sc_scan(&s, p + off, n - off, lim, &obj_len, &err);
        } else {
            if (n - off < 4) {
                ref->rc = SC_AGAIN;
                return;
            }
            uint32_t size = le32(p + off);
            if (size == 0) {
                rc = SC_EPROTO;
            } else if (size > lim->max_frame) {
                rc = SC_ELIMIT;
            } else if (n - off - 4 < size) {
                rc = SC_AGAIN;
            } else {
                rc = sc_scan(&s, p + off + 4, size, lim, &obj_len, &err);
                if (rc == SC_AGAIN || (rc == SC_OK && obj_len != size))
                    rc = SC_EPROTO;
            }
            skip = 4;
        }
        if (rc != SC_OK) {
            ref->rc = rc;
            return;
        }
        FZ_CHECK(obj_len >= 1 && obj_len <= lim->max_frame, "scan gave obj_len %zu", obj_len);
        if (ref->n < MAX_FRAMES) {
            ref->start[ref->n] = off + skip;
            ref->len[ref->n] = obj_len;
            ref->n++;
        } else {
            ref->overflow = 1;
        }
        off += skip + obj_len;
    }
}

/* Scanning the payload at once and in growing prefixes must agree. */
static void check_scan_resume(const sc_limits *lim, const uint8_t *p, size_t n, const uint8_t *sizes,
                              size_t nsizes)
{
    sc_scanner whole, part;
    sc_err err;
    size_t len_whole = 0, len_part = 0;
    sc_scan_reset(&whole);
    int rc_whole = sc_scan(&whole, p, n, lim, &len_whole, &err);
    FZ_CHECK(rc_whole == SC_OK || rc_whole == SC_AGAIN || rc_whole == SC_EPROTO ||
                 rc_whole == SC_ELIMIT,
             "sc_scan returned %d", rc_whole);
    if (rc_whole == SC_OK)
        FZ_CHECK(len_whole >= 1 && len_whole <= n && len_whole <= lim->max_frame,
                 "obj_len %zu of %zu bytes (max_frame %zu)", len_whole, n, lim->max_frame);
    if (rc_whole != SC_OK && rc_whole != SC_AGAIN)
        FZ_CHECK(err.code == rc_whole && err.msg[0], "error object not filled");

    sc_scan_reset(&part);
    size_t prefix = 0, i = 0;
    int rc_part = SC_AGAIN;
    while (rc_part == SC_AGAIN && prefix < n) {
        size_t step = nsizes ? (size_t)sizes[i++ % nsizes] + 1 : 1;
        prefix = step > n - prefix ? n : prefix + step;
        rc_part = sc_scan(&part, p, prefix, lim, &len_part, &err);
    }
    if (n == 0)
        rc_part = sc_scan(&part, p, 0, lim, &len_part, &err);
    FZ_CHECK(rc_part == rc_whole, "resumed scan gave %d, whole scan %d", rc_part, rc_whole);
    if (rc_whole == SC_OK)
        FZ_CHECK(len_part == len_whole, "resumed scan length %zu, whole %zu", len_part, len_whole);
}

/* Frame the object with the encoder side of codec.h: the bytes must be the
 * header (lenprefix) and the plain repacked object; a max_frame one byte too
 * small must refuse it and leave the buffer as it was. */
static void check_frame_encoder(sc_codec codec, const msgpack_object *obj, const char *plain,
                                size_t size)
{
    size_t hdr = codec == SC_CODEC_LENPREFIX ? 4 : 0;
    for (int small = 0; small < 2; small++) {
        fz_out o;
        fz_out_init(&o);
        sc_err err;
        size_t mark;
        FZ_CHECK(sc_buf_append(&o.buf, "ab", 2, &err) == SC_OK, "append");
        FZ_CHECK(sc_frame_begin(codec, &o.buf, &mark, &err) == SC_OK && mark == 2, "frame_begin");
        FZ_CHECK(msgpack_pack_object(&o.pk, *obj) == 0, "pack");
        int rc = sc_frame_end(codec, &o.buf, mark, small ? size - 1 : size, &err);
        if (small) {
            FZ_CHECK(rc == SC_ELIMIT && sc_buf_size(&o.buf) == 2,
                     "a %zu-byte message over a %zu-byte limit gave %d, buffer %zu", size, size - 1,
                     rc, sc_buf_size(&o.buf));
        } else {
            const uint8_t *h = (const uint8_t *)sc_buf_head(&o.buf) + 2;
            FZ_CHECK(rc == SC_OK && sc_buf_size(&o.buf) == 2 + hdr + size, "frame_end gave %d", rc);
            FZ_CHECK(!hdr || le32(h) == size, "lenprefix header %u for %zu bytes", (unsigned)le32(h),
                     size);
            FZ_CHECK(memcmp(h + hdr, plain, size) == 0, "framed bytes differ from the object");
        }
        fz_out_free(&o);
    }
}

/* Repack the decoded object: it must scan whole under the same limits and
 * decode to the same object. */
static void check_repack(sc_codec codec, const sc_limits *lim, const msgpack_object *obj,
                         size_t raw_len)
{
    fz_out o;
    fz_out_init(&o);
    FZ_CHECK(msgpack_pack_object(&o.pk, *obj) == 0, "msgpack_pack_object failed");
    size_t size = sc_buf_size(&o.buf);
    /* msgpack-c packs every header in its shortest form, so the repacked
     * object is never longer than the bytes it came from. */
    FZ_CHECK(size >= 1 && size <= raw_len, "repacked %zu bytes from %zu", size, raw_len);

    sc_scanner s;
    sc_err err;
    size_t obj_len = 0;
    sc_scan_reset(&s);
    int rc = sc_scan(&s, (const uint8_t *)sc_buf_head(&o.buf), size, lim, &obj_len, &err);
    FZ_CHECK(rc == SC_OK && obj_len == size, "repacked object scans to %d (%s), %zu of %zu bytes", rc,
             rc == SC_OK ? "" : err.msg, obj_len, size);

    msgpack_zone zone;
    msgpack_object back;
    size_t off = 0;
    FZ_CHECK(msgpack_zone_init(&zone, 1024), "zone");
    msgpack_unpack_return ur = msgpack_unpack(sc_buf_head(&o.buf), size, &off, &zone, &back);
    FZ_CHECK(ur == MSGPACK_UNPACK_SUCCESS && off == size, "repacked object does not decode: %d",
             (int)ur);
    FZ_CHECK(fz_obj_equal(obj, &back), "repacked object decodes to a different value");
    msgpack_zone_destroy(&zone);
    check_frame_encoder(codec, obj, sc_buf_head(&o.buf), size);
    fz_out_free(&o);
}

static int valid_error(int rc)
{
    return rc == SC_EPROTO || rc == SC_ELIMIT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = { data, size };
    uint8_t cfg = fdp_u8(&f);
    size_t nsizes = fdp_u8(&f) & 7;
    const uint8_t *sizes;
    nsizes = fdp_bytes(&f, nsizes, &sizes);
    const uint8_t *p = f.p;
    size_t n = f.n;

    sc_codec codec = (cfg & 1) ? SC_CODEC_LENPREFIX : SC_CODEC_MSGPACK;
    sc_codec parsed;
    FZ_CHECK(sc_codec_parse(sc_codec_name(codec), &parsed) == SC_OK && parsed == codec, "codec name");
    sc_limits lim;
    limits_for(cfg >> 1, &lim);

    check_scan_resume(&lim, p, n, sizes, nsizes);

    static ref_framing ref;
    reference(codec, &lim, p, n, &ref);

    sc_reader *r;
    sc_err err;
    FZ_CHECK(sc_reader_new(codec, &lim, &r, &err) == SC_OK, "sc_reader_new: %s", err.msg);

    size_t frames = 0;    /* frames taken */
    size_t cursor = 0;    /* payload offset after the last frame taken */
    int sticky = SC_OK;
    size_t fed = 0, i = 0;
    while (fed < n || (n == 0 && i == 0)) {
        /* k == 0: as much as the glue ever feeds at once (codec.h). */
        size_t step = nsizes ? (size_t)sizes[i % nsizes] + 1 : SC_READ_CHUNK;
        i++;
        if (step > n - fed)
            step = n - fed;
        int rc = sc_reader_feed(r, (const char *)p + fed, step);
        if (sticky != SC_OK)
            FZ_CHECK(rc == sticky, "feed after error %d returned %d", sticky, rc);
        else
            FZ_CHECK(rc == SC_OK, "feed of %zu bytes failed with %d while frames were taken out: %s",
                     step, rc, sc_reader_errstr(r));
        fed += step;

        for (;;) {
            sc_frame fr;
            rc = sc_reader_next(r, &fr);
            if (sticky != SC_OK) {
                FZ_CHECK(rc == sticky, "error %d not sticky: next returned %d", sticky, rc);
                break;
            }
            if (rc == SC_AGAIN)
                break;
            if (rc != SC_OK) {
                FZ_CHECK(valid_error(rc), "sc_reader_next returned %d", rc);
                FZ_CHECK(sc_reader_err(r) == rc, "sc_reader_err %d != %d", sc_reader_err(r), rc);
                FZ_CHECK(!strstr(sc_reader_errstr(r), "bug in scwire"), "%s", sc_reader_errstr(r));
                FZ_CHECK(sc_reader_errstr(r)[0] != '\0', "error without a sentence");
                sticky = rc;
                break;
            }
            FZ_CHECK(fr.raw_len >= 1 && fr.raw_len <= lim.max_frame, "frame of %zu bytes, max_frame %zu",
                     fr.raw_len, lim.max_frame);
            size_t hdr = codec == SC_CODEC_LENPREFIX ? 4 : 0;
            FZ_CHECK(cursor + hdr + fr.raw_len <= fed, "frame past the fed bytes");
            if (hdr)
                FZ_CHECK(le32(p + cursor) == fr.raw_len, "header %u, frame %zu",
                         (unsigned)le32(p + cursor), fr.raw_len);
            FZ_CHECK(memcmp(fr.raw, p + cursor + hdr, fr.raw_len) == 0,
                     "frame %zu is not the payload bytes at offset %zu", frames, cursor + hdr);
            if (frames < ref.n)
                FZ_CHECK(ref.start[frames] == cursor + hdr && ref.len[frames] == fr.raw_len,
                         "frame %zu at %zu (%zu bytes), reference at %zu (%zu bytes)", frames,
                         cursor + hdr, fr.raw_len, ref.start[frames], ref.len[frames]);
            else
                FZ_CHECK(ref.overflow, "reader gives more frames (%zu) than the reference (%zu)",
                         frames + 1, ref.n);
            check_repack(codec, &lim, &fr.obj, fr.raw_len);
            cursor += hdr + fr.raw_len;
            frames++;
        }
        if (sticky == SC_OK)
            FZ_CHECK(sc_reader_pending(r) == fed - cursor, "pending %zu, expected %zu",
                     sc_reader_pending(r), fed - cursor);
        if (n == 0)
            break;
    }

    if (!ref.overflow)
        FZ_CHECK(frames == ref.n, "reader gave %zu frames, reference %zu", frames, ref.n);
    if (ref.rc == SC_AGAIN)
        FZ_CHECK(sticky == SC_OK, "reader failed with %d (%s) where the reference did not", sticky,
                 sc_reader_errstr(r));
    else
        FZ_CHECK(sticky == ref.rc, "reader ended with %d, reference with %d", sticky, ref.rc);

    int rc = sc_reader_finish(r);
    if (sticky != SC_OK) {
        FZ_CHECK(rc == sticky, "finish after error %d returned %d", sticky, rc);
    } else if (cursor == n) {
        FZ_CHECK(rc == SC_OK, "finish with nothing buffered returned %d: %s", rc, sc_reader_errstr(r));
    } else {
        FZ_CHECK(rc == SC_EPROTO, "finish with %zu partial bytes returned %d", n - cursor, rc);
        FZ_CHECK(sc_reader_next(r, &(sc_frame){ 0 }) == SC_EPROTO, "finish error not sticky");
    }
    sc_reader_free(r);
    return 0;
}
