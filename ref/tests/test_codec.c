/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_codec.c - unit tests of the frame reader and encoder (codec.h) for
 * both codecs: the byte examples of spec/protocol.md, every way of splitting
 * a stream, EOF inside a frame, hostile headers and bad frames, sticky
 * errors, the feed cap, allocation failures and begin/end framing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <msgpack.h>

#include "codec.h"
#include "suites.h"
#include "testutil.h"

/* The byte examples of spec/protocol.md section 3, with their lenprefix
 * headers. */
static const struct {
    const char *hdr;
    const char *body;
} examples[] = {
    { "0b 00 00 00", "92 a4 72 6f 6f 74 a4 30 66 30 65" },
    { "01 00 00 00", "c0" },
    { "1f 00 00 00", "81 a3 63 6d 64 95 a4 73 65 6c 66 a6 63 61 6e 63 65 6c 80 92 a4 72 6f 6f 74 "
                     "a2 75 31 a2 63 31" },
    { "1b 00 00 00", "82 a8 66 75 6e 63 74 79 70 65 a9 61 73 79 6e 63 66 75 6e 63 a3 63 69 64 a2 "
                     "63 31" },
    { "10 00 00 00", "82 a6 72 65 74 75 72 6e c3 a3 63 69 64 a2 63 31" },
    { "0e 00 00 00", "82 a4 73 74 6f 70 c3 a3 63 69 64 a2 63 31" },
    { "11 00 00 00", "82 a7 73 74 61 72 74 65 64 c0 a3 63 69 64 a2 63 31" },
    { "0f 00 00 00", "82 a5 79 69 65 6c 64 01 a3 63 69 64 a2 63 31" },
    { "2c 00 00 00", "82 a5 65 72 72 6f 72 82 a6 74 62 5f 73 74 72 a1 54 a8 74 79 70 65 5f 73 74 "
                     "72 aa 56 61 6c 75 65 45 72 72 6f 72 a3 63 69 64 a2 63 31" },
};
#define N_EXAMPLES (sizeof(examples) / sizeof(examples[0]))

#define BYTES_MAX 4096

static sc_limits defaults(void)
{
    sc_limits l;
    sc_limits_default(&l);
    return l;
}

static size_t unhex(const char *h, char *out, size_t cap)
{
    size_t n = tu_unhex(h, out, cap);
    CU_ASSERT_FATAL(n != (size_t)-1);
    return n;
}

static sc_reader *new_reader(sc_codec c, const sc_limits *lim)
{
    sc_reader *r = NULL;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_reader_new(c, lim, &r, &err), SC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    return r;
}

static sc_reader *new_default_reader(sc_codec c)
{
    sc_limits lim = defaults();
    return new_reader(c, &lim);
}

static int feed_hex(sc_reader *r, const char *h)
{
    char b[BYTES_MAX];
    size_t n = unhex(h, b, sizeof(b));
    return sc_reader_feed(r, b, n);
}

static int errstr_has(const sc_reader *r, const char *needle)
{
    if (strstr(sc_reader_errstr(r), needle))
        return 1;
    fprintf(stderr, "\n  reader error \"%s\" lacks \"%s\"\n", sc_reader_errstr(r), needle);
    return 0;
}

static int err_has(const sc_err *err, const char *needle)
{
    if (strstr(err->msg, needle))
        return 1;
    fprintf(stderr, "\n  error \"%s\" lacks \"%s\"\n", err->msg, needle);
    return 0;
}

/* Expects exactly one frame whose raw bytes are body_hex and whose object
 * decodes to the same value. */
static void expect_frame(sc_reader *r, const char *body_hex)
{
    sc_frame f;
    CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT(tu_bytes_eq_hex("frame", f.raw, f.raw_len, body_hex));
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object want;
    CU_ASSERT_EQUAL_FATAL(tu_unpack_hex(body_hex, &z, &want), 0);
    CU_ASSERT(msgpack_object_equal(f.obj, want));
    msgpack_zone_destroy(&z);
}

static void test_codec_names_parse_and_print(void)
{
    sc_codec c = SC_CODEC_LENPREFIX;
    CU_ASSERT_EQUAL(sc_codec_parse("msgpack", &c), SC_OK);
    CU_ASSERT_EQUAL(c, SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(sc_codec_parse("lenprefix", &c), SC_OK);
    CU_ASSERT_EQUAL(c, SC_CODEC_LENPREFIX);
    CU_ASSERT_STRING_EQUAL(sc_codec_name(SC_CODEC_MSGPACK), "msgpack");
    CU_ASSERT_STRING_EQUAL(sc_codec_name(SC_CODEC_LENPREFIX), "lenprefix");
    CU_ASSERT_EQUAL(sc_codec_parse("MSGPACK", &c), SC_EARG);
    CU_ASSERT_EQUAL(sc_codec_parse("msgspec", &c), SC_EARG);
    CU_ASSERT_EQUAL(sc_codec_parse("", &c), SC_EARG);
    CU_ASSERT_EQUAL(sc_codec_parse(NULL, &c), SC_EARG);
    CU_ASSERT_EQUAL(c, SC_CODEC_LENPREFIX);
}

static void test_reader_new_refuses_bad_arguments(void)
{
    sc_limits lim = defaults();
    sc_reader *r = (sc_reader *)&lim;
    sc_err err;
    CU_ASSERT_EQUAL(sc_reader_new((sc_codec)7, &lim, &r, &err), SC_EARG);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT(err_has(&err, "codec 7"));
    lim.max_frame = 0;
    CU_ASSERT_EQUAL(sc_reader_new(SC_CODEC_MSGPACK, &lim, &r, &err), SC_EARG);
    CU_ASSERT(err_has(&err, "message limit of 0 bytes is out of range"));
    lim.max_frame = SIZE_MAX;
    CU_ASSERT_EQUAL(sc_reader_new(SC_CODEC_LENPREFIX, &lim, &r, &err), SC_EARG);
    CU_ASSERT_PTR_NULL(r);
}

static void test_reader_new_survives_every_allocation_failure(void)
{
    sc_limits lim = defaults();
    for (unsigned long n = 1;; n++) {
        sc_reader *r = NULL;
        sc_err err;
        sc_err_clear(&err);
        sc_alloc_fail_at(n);
        int rc = sc_reader_new(SC_CODEC_LENPREFIX, &lim, &r, &err);
        sc_alloc_fail_at(0);
        if (rc == SC_OK) {
            CU_ASSERT_PTR_NOT_NULL(r);
            CU_ASSERT_EQUAL(feed_hex(r, "01 00 00 00 c0"), SC_OK);
            expect_frame(r, "c0");
            sc_reader_free(r);
            break;
        }
        CU_ASSERT_EQUAL(rc, SC_ENOMEM);
        CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
        CU_ASSERT(err_has(&err, "out of memory"));
        CU_ASSERT_PTR_NULL(r);
        CU_ASSERT_FATAL(n < 100);
    }
}

static void test_reader_free_accepts_null(void)
{
    sc_reader_free(NULL);
}

static void test_msgpack_handshake_uid_decodes(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, examples[0].body), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_pending(r), 11);
    sc_frame f;
    CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL(f.raw_len, 11);
    CU_ASSERT_EQUAL_FATAL(f.obj.type, MSGPACK_OBJECT_ARRAY);
    CU_ASSERT_EQUAL_FATAL(f.obj.via.array.size, 2);
    msgpack_object *it = f.obj.via.array.ptr;
    CU_ASSERT_EQUAL_FATAL(it[0].type, MSGPACK_OBJECT_STR);
    CU_ASSERT(sc_str_eq_c((sc_str){ it[0].via.str.ptr, it[0].via.str.size }, "root"));
    CU_ASSERT_EQUAL_FATAL(it[1].type, MSGPACK_OBJECT_STR);
    CU_ASSERT(sc_str_eq_c((sc_str){ it[1].via.str.ptr, it[1].via.str.size }, "0f0e"));
    CU_ASSERT_EQUAL(sc_reader_pending(r), 0);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_reader_err(r), SC_OK);
    CU_ASSERT_STRING_EQUAL(sc_reader_errstr(r), "");
    sc_reader_free(r);
}

static void test_msgpack_return_message_decodes(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, examples[4].body), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL_FATAL(f.obj.type, MSGPACK_OBJECT_MAP);
    CU_ASSERT_EQUAL_FATAL(f.obj.via.map.size, 2);
    msgpack_object_kv *kv = f.obj.via.map.ptr;
    CU_ASSERT(sc_str_eq_c((sc_str){ kv[0].key.via.str.ptr, kv[0].key.via.str.size }, "return"));
    CU_ASSERT_EQUAL(kv[0].val.type, MSGPACK_OBJECT_BOOLEAN);
    CU_ASSERT_EQUAL(kv[0].val.via.boolean, true);
    CU_ASSERT(sc_str_eq_c((sc_str){ kv[1].key.via.str.ptr, kv[1].key.via.str.size }, "cid"));
    CU_ASSERT(sc_str_eq_c((sc_str){ kv[1].val.via.str.ptr, kv[1].val.via.str.size }, "c1"));
    CU_ASSERT_EQUAL(f.raw_len, 16);
    sc_reader_free(r);
}

static void test_lenprefix_examples_decode_with_their_headers(void)
{
    for (size_t i = 0; i < N_EXAMPLES; i++) {
        char hdr[4], body[BYTES_MAX];
        CU_ASSERT_EQUAL_FATAL(unhex(examples[i].hdr, hdr, sizeof(hdr)), 4);
        size_t n = unhex(examples[i].body, body, sizeof(body));
        CU_ASSERT_EQUAL((size_t)(unsigned char)hdr[0], n);
        sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
        CU_ASSERT_EQUAL(sc_reader_feed(r, hdr, 4), SC_OK);
        CU_ASSERT_EQUAL(sc_reader_feed(r, body, n), SC_OK);
        expect_frame(r, examples[i].body);
        sc_frame f;
        CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
        CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
        sc_reader_free(r);
    }
}

/* All the examples back to back, as one codec writes them. */
static size_t example_stream(sc_codec c, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < N_EXAMPLES; i++) {
        if (c == SC_CODEC_LENPREFIX)
            n += unhex(examples[i].hdr, out + n, cap - n);
        n += unhex(examples[i].body, out + n, cap - n);
    }
    return n;
}

static void test_several_messages_in_one_feed(void)
{
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        char s[BYTES_MAX];
        size_t n = example_stream((sc_codec)c, s, sizeof(s));
        sc_reader *r = new_default_reader((sc_codec)c);
        CU_ASSERT_EQUAL(sc_reader_feed(r, s, n), SC_OK);
        for (size_t i = 0; i < N_EXAMPLES; i++)
            expect_frame(r, examples[i].body);
        sc_frame f;
        CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
        CU_ASSERT_EQUAL(sc_reader_pending(r), 0);
        CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
        sc_reader_free(r);
    }
}

/* What one reading of a split stream produced. */
struct expected {
    char raw[N_EXAMPLES][BYTES_MAX];
    size_t len[N_EXAMPLES];
    msgpack_object obj[N_EXAMPLES];
    msgpack_zone zone;
};

static void expected_init(struct expected *e)
{
    msgpack_zone_init(&e->zone, 4096);
    for (size_t i = 0; i < N_EXAMPLES; i++) {
        e->len[i] = unhex(examples[i].body, e->raw[i], BYTES_MAX);
        CU_ASSERT_EQUAL_FATAL(tu_unpack(e->raw[i], e->len[i], &e->zone, &e->obj[i]), 0);
    }
}

/* Takes every frame out and checks it against the next expected one. */
static void drain(sc_reader *r, const struct expected *e, size_t *seen)
{
    sc_frame f;
    int rc;
    while ((rc = sc_reader_next(r, &f)) == SC_OK) {
        CU_ASSERT_FATAL(*seen < N_EXAMPLES);
        CU_ASSERT_EQUAL_FATAL(f.raw_len, e->len[*seen]);
        CU_ASSERT_FATAL(memcmp(f.raw, e->raw[*seen], f.raw_len) == 0);
        CU_ASSERT_FATAL(msgpack_object_equal(f.obj, e->obj[*seen]));
        (*seen)++;
    }
    CU_ASSERT_EQUAL_FATAL(rc, SC_AGAIN);
}

static void read_in_pieces(sc_codec c, const char *s, size_t n, size_t split, size_t chunk,
                           const struct expected *e)
{
    sc_reader *r = new_default_reader(c);
    size_t seen = 0;
    size_t at = 0;
    /* The first piece is split bytes long, then chunk bytes at a time. */
    size_t piece = split;
    while (at < n) {
        if (piece > n - at)
            piece = n - at;
        CU_ASSERT_EQUAL_FATAL(sc_reader_feed(r, s + at, piece), SC_OK);
        at += piece;
        drain(r, e, &seen);
        piece = chunk;
    }
    CU_ASSERT_EQUAL(seen, N_EXAMPLES);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
    sc_reader_free(r);
}

static void test_every_split_yields_identical_frames(void)
{
    static struct expected e;
    expected_init(&e);
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        char s[BYTES_MAX];
        size_t n = example_stream((sc_codec)c, s, sizeof(s));
        for (size_t chunk = 1; chunk <= n; chunk++)
            read_in_pieces((sc_codec)c, s, n, chunk, chunk, &e);
        for (size_t split = 0; split <= n; split++)
            read_in_pieces((sc_codec)c, s, n, split, n, &e);
    }
    msgpack_zone_destroy(&e.zone);
}

static void test_frame_stays_until_the_next_call(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "01 00 00 00 c0 02 00 00 00 91 01 01 00"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_pending(r), 13);
    sc_frame f;
    CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
    /* The frame handed out no longer counts as pending. */
    CU_ASSERT_EQUAL(sc_reader_pending(r), 8);
    CU_ASSERT(tu_bytes_eq_hex("first frame", f.raw, f.raw_len, "c0"));
    CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_pending(r), 2);
    CU_ASSERT(tu_bytes_eq_hex("second frame", f.raw, f.raw_len, "91 01"));
    CU_ASSERT_EQUAL(f.obj.type, MSGPACK_OBJECT_ARRAY);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_reader_pending(r), 2);
    sc_reader_free(r);
}

static void test_msgpack_truncated_message_at_eof_is_an_error(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, "c0 92 a4 72 6f"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "connection closed inside a frame: 4 bytes of an unfinished message"));
    CU_ASSERT_EQUAL(sc_reader_err(r), SC_EPROTO);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_EPROTO);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    sc_reader_free(r);
}

static void test_lenprefix_truncated_header_at_eof_is_an_error(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "10 00"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "connection closed inside a frame: 2 bytes of the 4-byte header"));
    sc_reader_free(r);
}

static void test_lenprefix_truncated_body_at_eof_is_an_error(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "10 00 00 00 82 a6"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "connection closed inside a frame: 2 of the 16 body bytes"));
    sc_reader_free(r);
}

static void test_clean_eof_is_ok(void)
{
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        sc_reader *r = new_default_reader((sc_codec)c);
        CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
        CU_ASSERT_EQUAL(feed_hex(r, c == SC_CODEC_LENPREFIX ? "01 00 00 00 c0" : "c0"), SC_OK);
        sc_frame f;
        CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_OK);
        /* The frame just handed out is not a partial one. */
        CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
        CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
        CU_ASSERT_EQUAL(sc_reader_err(r), SC_OK);
        sc_reader_free(r);
    }
}

static void test_finish_with_a_whole_frame_still_buffered_is_a_state_error(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, "c0 c0"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_ESTATE);
    CU_ASSERT(errstr_has(r, "whole frame still buffered"));
    sc_reader_free(r);
}

static void test_finish_reports_a_protocol_error_in_buffered_bytes(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, "92 c1"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "byte 0xc1 at offset 1"));
    sc_reader_free(r);
}

static void test_lenprefix_oversized_header_is_refused_before_the_body(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    sc_frame f;
    CU_ASSERT_EQUAL(feed_hex(r, "ff"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(feed_hex(r, "ff ff"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(feed_hex(r, "ff"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
    CU_ASSERT(errstr_has(r, "frame of 4294967295 bytes exceeds the limit of 1048576 bytes"));
    sc_reader_free(r);

    sc_limits lim = defaults();
    lim.max_frame = 16;
    r = new_reader(SC_CODEC_LENPREFIX, &lim);
    CU_ASSERT_EQUAL(feed_hex(r, "11 00 00 00"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
    CU_ASSERT(errstr_has(r, "frame of 17 bytes exceeds the limit of 16 bytes"));
    sc_reader_free(r);

    /* Exactly the limit waits for its body. */
    r = new_reader(SC_CODEC_LENPREFIX, &lim);
    CU_ASSERT_EQUAL(feed_hex(r, examples[4].hdr), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(feed_hex(r, examples[4].body), SC_OK);
    expect_frame(r, examples[4].body);
    sc_reader_free(r);
}

static void test_lenprefix_trailing_bytes_are_refused(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "03 00 00 00 c0 c0 c0"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "2 trailing bytes after the object in a frame"));
    sc_reader_free(r);
}

static void test_lenprefix_empty_frame_is_refused(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "00 00 00 00"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "empty frame"));
    sc_reader_free(r);
}

static void test_lenprefix_body_ending_inside_an_object_is_refused(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "02 00 00 00 92 01"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "frame body ends inside an object"));
    sc_reader_free(r);
    /* A str running past the body. */
    r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "02 00 00 00 a5 61 c0"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "2-byte body"));
    sc_reader_free(r);
}

static void test_hostile_container_headers_are_refused(void)
{
    static const struct {
        sc_codec c;
        const char *bytes;
    } cases[] = {
        { SC_CODEC_MSGPACK, "df 0f ff ff ff" },
        { SC_CODEC_MSGPACK, "dd ff ff ff ff" },
        { SC_CODEC_LENPREFIX, "09 00 00 00 df 0f ff ff ff c0 c0 c0 c0" },
        { SC_CODEC_LENPREFIX, "05 00 00 00 dd ff ff ff ff" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_reader *r = new_default_reader(cases[i].c);
        CU_ASSERT_EQUAL(feed_hex(r, cases[i].bytes), SC_OK);
        sc_frame f;
        CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
        CU_ASSERT(errstr_has(r, "at offset 0 declares"));
        sc_reader_free(r);
    }
}

static void test_invalid_byte_error_is_sticky(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, examples[0].body), SC_OK);
    CU_ASSERT_EQUAL(feed_hex(r, "c1"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT_STRING_EQUAL(sc_reader_errstr(r), "byte 0xc1 at offset 0 is not valid msgpack");
    CU_ASSERT_EQUAL(sc_reader_err(r), SC_EPROTO);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT_EQUAL(feed_hex(r, "c0"), SC_EPROTO);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT_EQUAL(sc_reader_finish(r), SC_EPROTO);
    CU_ASSERT_STRING_EQUAL(sc_reader_errstr(r), "byte 0xc1 at offset 0 is not valid msgpack");
    sc_reader_free(r);
}

static void test_invalid_utf8_is_refused_by_both_codecs(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, "82 a6 72 65 74 75 72 6e a2 c0 80 a3 63 69 64 a2 63 31"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "invalid UTF-8 in str at offset 8"));
    sc_reader_free(r);
    r = new_default_reader(SC_CODEC_LENPREFIX);
    CU_ASSERT_EQUAL(feed_hex(r, "04 00 00 00 91 a2 ed a0"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_EPROTO);
    CU_ASSERT(errstr_has(r, "invalid UTF-8 in str at offset 1"));
    sc_reader_free(r);
}

static void test_msgpack_message_over_max_frame_is_refused(void)
{
    sc_limits lim = defaults();
    lim.max_frame = 8;
    sc_reader *r = new_reader(SC_CODEC_MSGPACK, &lim);
    sc_frame f;
    /* Every byte is valid, but the message never ends within the limit. */
    CU_ASSERT_EQUAL(feed_hex(r, "91 91 91 91"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_AGAIN);
    CU_ASSERT_EQUAL(feed_hex(r, "91 91 91 91"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
    CU_ASSERT(errstr_has(r, "message limit of 8 bytes"));
    sc_reader_free(r);

    r = new_reader(SC_CODEC_MSGPACK, &lim);
    CU_ASSERT_EQUAL(feed_hex(r, "d9 08"), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
    sc_reader_free(r);
}

static void test_depth_of_msgpack_c_stack_decodes_and_one_more_is_refused(void)
{
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        char b[64];
        size_t n = 0;
        if (c == SC_CODEC_LENPREFIX) {
            memcpy(b, "\x21\0\0\0", 4);
            n = 4;
        }
        memset(b + n, 0x91, SC_DEPTH_CAP);
        n += SC_DEPTH_CAP;
        b[n++] = 0x2a;
        sc_reader *r = new_default_reader((sc_codec)c);
        CU_ASSERT_EQUAL(sc_reader_feed(r, b, n), SC_OK);
        sc_frame f;
        CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
        msgpack_object o = f.obj;
        for (int level = 0; level < SC_DEPTH_CAP; level++) {
            CU_ASSERT_EQUAL_FATAL(o.type, MSGPACK_OBJECT_ARRAY);
            CU_ASSERT_EQUAL_FATAL(o.via.array.size, 1);
            o = o.via.array.ptr[0];
        }
        CU_ASSERT_EQUAL(o.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        CU_ASSERT_EQUAL(o.via.u64, 42);
        sc_reader_free(r);

        /* One level more. */
        r = new_default_reader((sc_codec)c);
        if (c == SC_CODEC_LENPREFIX)
            b[0] = 0x22;
        b[n - 1] = (char)0x91;
        b[n++] = 0x2a;
        CU_ASSERT_EQUAL(sc_reader_feed(r, b, n), SC_OK);
        CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
        CU_ASSERT(errstr_has(r, "nesting level 33"));
        sc_reader_free(r);
    }
}

static void test_every_msgpack_format_decodes(void)
{
    static const char *const values[] = {
        "00", "7f", "e0", "ff", "c0", "c2", "c3",
        "cc ff", "cd 01 00", "ce 00 01 00 00", "cf 00 00 00 01 00 00 00 00",
        "d0 80", "d1 80 00", "d2 80 00 00 00", "d3 80 00 00 00 00 00 00 00",
        "ca 3f c0 00 00", "cb 3f f8 00 00 00 00 00 00",
        "a2 68 69", "d9 02 68 69", "da 00 02 68 69", "db 00 00 00 02 68 69",
        "c4 02 00 ff", "c5 00 02 00 ff", "c6 00 00 00 02 00 ff",
        "d4 05 aa", "d5 05 aa bb", "d6 05 aa bb cc dd", "d7 05 00 01 02 03 04 05 06 07",
        "d8 05 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        "c7 00 05", "c7 01 05 aa", "c8 00 01 05 aa", "c9 00 00 00 01 05 aa",
        "90", "92 01 02", "dc 00 02 01 02", "dd 00 00 00 02 01 02",
        "80", "81 01 02", "de 00 01 01 02", "df 00 00 00 01 01 02",
        "81 92 01 02 a1 78",
    };
    size_t count = sizeof(values) / sizeof(values[0]);
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        sc_reader *r = new_default_reader((sc_codec)c);
        for (size_t i = 0; i < count; i++) {
            char b[64];
            size_t n = unhex(values[i], b, sizeof(b));
            if (c == SC_CODEC_LENPREFIX) {
                char hdr[4] = { (char)n, 0, 0, 0 };
                CU_ASSERT_EQUAL(sc_reader_feed(r, hdr, 4), SC_OK);
            }
            CU_ASSERT_EQUAL(sc_reader_feed(r, b, n), SC_OK);
        }
        for (size_t i = 0; i < count; i++)
            expect_frame(r, values[i]);
        sc_reader_free(r);
    }
}

static void test_ext_is_handed_on_unchanged(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(r, "c7 03 fb 01 02 03"), SC_OK);
    sc_frame f;
    CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
    CU_ASSERT_EQUAL_FATAL(f.obj.type, MSGPACK_OBJECT_EXT);
    CU_ASSERT_EQUAL(f.obj.via.ext.type, -5);
    CU_ASSERT_EQUAL(f.obj.via.ext.size, 3);
    CU_ASSERT(tu_bytes_eq_hex("ext data", f.obj.via.ext.ptr, f.obj.via.ext.size, "01 02 03"));
    sc_reader_free(r);
}

static void test_feed_cap_is_enforced(void)
{
    sc_limits lim = defaults();
    lim.max_frame = 16;
    size_t cap = 16 + 4 + SC_READ_CHUNK;
    char *junk = malloc(cap + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(junk);
    memset(junk, 0xc0, cap + 1);
    sc_reader *r = new_reader(SC_CODEC_MSGPACK, &lim);
    CU_ASSERT_EQUAL(sc_reader_feed(r, junk, cap), SC_OK);
    CU_ASSERT_EQUAL(sc_reader_feed(r, junk, 1), SC_ELIMIT);
    CU_ASSERT(errstr_has(r, "input buffer limit of 65556 bytes reached"));
    CU_ASSERT(errstr_has(r, "take frames out"));
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ELIMIT);
    sc_reader_free(r);

    /* A caller that takes every frame out between feeds never hits it. */
    r = new_reader(SC_CODEC_MSGPACK, &lim);
    for (int round = 0; round < 4; round++) {
        CU_ASSERT_EQUAL_FATAL(sc_reader_feed(r, junk, SC_READ_CHUNK), SC_OK);
        size_t frames = 0;
        while (sc_reader_next(r, &f) == SC_OK)
            frames++;
        CU_ASSERT_EQUAL(frames, SC_READ_CHUNK);
    }
    CU_ASSERT_EQUAL(sc_reader_err(r), SC_OK);
    sc_reader_free(r);
    free(junk);
}

static void test_feed_allocation_failure_is_sticky(void)
{
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(feed_hex(r, "c0"), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT(errstr_has(r, "out of memory buffering 1 more input bytes"));
    CU_ASSERT_EQUAL(feed_hex(r, "c0"), SC_ENOMEM);
    sc_frame f;
    CU_ASSERT_EQUAL(sc_reader_next(r, &f), SC_ENOMEM);
    sc_reader_free(r);
}

static void test_big_frames_fed_byte_by_byte_are_linear(void)
{
    size_t body = 1u << 20;
    size_t n = 4 + 5 + body;
    unsigned char *s = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    size_t framed = 5 + body;
    s[0] = (unsigned char)framed;
    s[1] = (unsigned char)(framed >> 8);
    s[2] = (unsigned char)(framed >> 16);
    s[3] = (unsigned char)(framed >> 24);
    s[4] = 0xc6;
    s[5] = (unsigned char)(body >> 24);
    s[6] = (unsigned char)(body >> 16);
    s[7] = (unsigned char)(body >> 8);
    s[8] = (unsigned char)body;
    memset(s + 9, 0x5a, body);
    sc_limits lim = defaults();
    lim.max_frame = framed;
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        size_t skip = c == SC_CODEC_LENPREFIX ? 0 : 4;
        sc_reader *r = new_reader((sc_codec)c, &lim);
        sc_frame f;
        size_t frames = 0;
        for (size_t i = skip; i < n; i++) {
            CU_ASSERT_EQUAL_FATAL(sc_reader_feed(r, (const char *)s + i, 1), SC_OK);
            int rc = sc_reader_next(r, &f);
            CU_ASSERT_EQUAL_FATAL(rc, i + 1 < n ? SC_AGAIN : SC_OK);
            frames += rc == SC_OK;
        }
        CU_ASSERT_EQUAL(frames, 1);
        CU_ASSERT_EQUAL(f.raw_len, framed);
        CU_ASSERT_EQUAL_FATAL(f.obj.type, MSGPACK_OBJECT_BIN);
        CU_ASSERT_EQUAL(f.obj.via.bin.size, body);
        CU_ASSERT_EQUAL(f.obj.via.bin.ptr[body - 1], 0x5a);
        sc_reader_free(r);
    }
    free(s);
}

static void test_many_frames_reuse_one_zone(void)
{
    /* [[1, 2], {"k": [nil]}, "some text"]: containers that use the zone. */
    const char *msg = "93 92 01 02 81 a1 6b 91 c0 a9 73 6f 6d 65 20 74 65 78 74";
    char b[64];
    size_t n = unhex(msg, b, sizeof(b));
    sc_reader *r = new_default_reader(SC_CODEC_MSGPACK);
    for (int i = 0; i < 20000; i++) {
        CU_ASSERT_EQUAL_FATAL(sc_reader_feed(r, b, n), SC_OK);
        sc_frame f;
        CU_ASSERT_EQUAL_FATAL(sc_reader_next(r, &f), SC_OK);
        CU_ASSERT_EQUAL_FATAL(f.obj.via.array.size, 3);
    }
    sc_reader_free(r);
}

/* Packs the uid example (["root", "0f0e"]) as one framed message. */
static int pack_uid(msgpack_packer *pk)
{
    return msgpack_pack_array(pk, 2) || msgpack_pack_str_with_body(pk, "root", 4) ||
           msgpack_pack_str_with_body(pk, "0f0e", 4);
}

static void test_frame_begin_end_round_trip(void)
{
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        sc_buf out;
        msgpack_packer pk;
        tu_packer_init(&pk, &out);
        sc_err err;
        size_t mark = 99;
        CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)c, &out, &mark, &err), SC_OK);
        CU_ASSERT_EQUAL(mark, 0);
        CU_ASSERT_EQUAL(pack_uid(&pk), 0);
        CU_ASSERT_EQUAL(sc_frame_end((sc_codec)c, &out, mark, 1048576, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)c, &out, &mark, &err), SC_OK);
        CU_ASSERT_EQUAL(mark, c == SC_CODEC_LENPREFIX ? 15u : 11u);
        CU_ASSERT_EQUAL(msgpack_pack_nil(&pk), 0);
        CU_ASSERT_EQUAL(sc_frame_end((sc_codec)c, &out, mark, 1048576, &err), SC_OK);
        CU_ASSERT(tu_buf_eq_hex("framed output", &out,
                                c == SC_CODEC_LENPREFIX
                                    ? "0b 00 00 00 92 a4 72 6f 6f 74 a4 30 66 30 65 01 00 00 00 c0"
                                    : "92 a4 72 6f 6f 74 a4 30 66 30 65 c0"));

        sc_reader *r = new_default_reader((sc_codec)c);
        CU_ASSERT_EQUAL(sc_reader_feed(r, sc_buf_head(&out), sc_buf_size(&out)), SC_OK);
        expect_frame(r, examples[0].body);
        expect_frame(r, "c0");
        CU_ASSERT_EQUAL(sc_reader_finish(r), SC_OK);
        sc_reader_free(r);
        sc_buf_free(&out);
    }
}

static void test_frame_header_lands_right_when_the_buffer_moves(void)
{
    sc_buf out;
    msgpack_packer pk;
    tu_packer_init(&pk, &out);
    sc_err err;
    /* Leave a consumed prefix so that the head is not the allocation. */
    CU_ASSERT_EQUAL(sc_buf_append(&out, "abcdef", 6, &err), SC_OK);
    sc_buf_consume(&out, 4);
    size_t mark;
    CU_ASSERT_EQUAL(sc_frame_begin(SC_CODEC_LENPREFIX, &out, &mark, &err), SC_OK);
    CU_ASSERT_EQUAL(mark, 2);
    /* Big enough to reallocate the buffer while packing. */
    static char big[70000];
    memset(big, 'x', sizeof(big));
    CU_ASSERT_EQUAL(msgpack_pack_bin_with_body(&pk, big, sizeof(big)), 0);
    CU_ASSERT_EQUAL(sc_frame_end(SC_CODEC_LENPREFIX, &out, mark, 1048576, &err), SC_OK);
    const unsigned char *h = (const unsigned char *)sc_buf_head(&out);
    CU_ASSERT_EQUAL(memcmp(h, "ef", 2), 0);
    size_t body = sizeof(big) + 5;
    CU_ASSERT_EQUAL(h[2], body & 0xff);
    CU_ASSERT_EQUAL(h[3], (body >> 8) & 0xff);
    CU_ASSERT_EQUAL(h[4], (body >> 16) & 0xff);
    CU_ASSERT_EQUAL(h[5], 0);
    CU_ASSERT_EQUAL(h[6], 0xc6);
    sc_buf_free(&out);
}

static void test_frame_end_over_max_frame_truncates_to_the_mark(void)
{
    char text[100];
    memset(text, 't', sizeof(text));
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        sc_buf out;
        msgpack_packer pk;
        tu_packer_init(&pk, &out);
        sc_err err;
        size_t mark;
        CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)c, &out, &mark, &err), SC_OK);
        CU_ASSERT_EQUAL(msgpack_pack_nil(&pk), 0);
        CU_ASSERT_EQUAL(sc_frame_end((sc_codec)c, &out, mark, 50, &err), SC_OK);
        size_t before = sc_buf_size(&out);

        CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)c, &out, &mark, &err), SC_OK);
        CU_ASSERT_EQUAL(msgpack_pack_str_with_body(&pk, text, sizeof(text)), 0);
        CU_ASSERT_EQUAL(sc_frame_end((sc_codec)c, &out, mark, 50, &err), SC_ELIMIT);
        CU_ASSERT(err_has(&err, "message of 102 bytes exceeds the message limit of 50 bytes"));
        CU_ASSERT_EQUAL(sc_buf_size(&out), before);
        CU_ASSERT(tu_buf_eq_hex("after truncation", &out,
                                c == SC_CODEC_LENPREFIX ? "01 00 00 00 c0" : "c0"));

        /* Exactly the limit goes out. */
        CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)c, &out, &mark, &err), SC_OK);
        CU_ASSERT_EQUAL(msgpack_pack_str_with_body(&pk, text, 48), 0);
        CU_ASSERT_EQUAL(sc_frame_end((sc_codec)c, &out, mark, 50, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_buf_size(&out), before + (c == SC_CODEC_LENPREFIX ? 4 : 0) + 50);
        sc_buf_free(&out);
    }
}

static void test_frame_end_with_nothing_packed_is_refused(void)
{
    for (int c = SC_CODEC_MSGPACK; c <= SC_CODEC_LENPREFIX; c++) {
        sc_buf out;
        sc_buf_init(&out, 0);
        sc_err err;
        size_t mark;
        CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)c, &out, &mark, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_frame_end((sc_codec)c, &out, mark, 50, &err), SC_EARG);
        CU_ASSERT(err_has(&err, "nothing was packed"));
        CU_ASSERT_EQUAL(sc_buf_size(&out), 0);
        sc_buf_free(&out);
    }
}

static void test_frame_end_with_a_stale_mark_is_refused(void)
{
    sc_buf out;
    sc_buf_init(&out, 0);
    sc_err err;
    CU_ASSERT_EQUAL(sc_buf_append(&out, "\xc0\xc0", 2, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_frame_end(SC_CODEC_MSGPACK, &out, 5, 50, &err), SC_EARG);
    CU_ASSERT(err_has(&err, "frame mark 5"));
    CU_ASSERT_EQUAL(sc_frame_end(SC_CODEC_LENPREFIX, &out, 0, 50, &err), SC_EARG);
    CU_ASSERT_EQUAL(sc_buf_size(&out), 2);
    size_t mark;
    CU_ASSERT_EQUAL(sc_frame_begin((sc_codec)9, &out, &mark, &err), SC_EARG);
    CU_ASSERT_EQUAL(sc_frame_end((sc_codec)9, &out, 0, 50, &err), SC_EARG);
    sc_buf_free(&out);
}

static void test_frame_begin_on_a_full_buffer_is_efull_and_unchanged(void)
{
    sc_buf out;
    sc_buf_init(&out, 5);
    sc_err err;
    CU_ASSERT_EQUAL(sc_buf_append(&out, "\xc0\xc0", 2, &err), SC_OK);
    size_t mark;
    CU_ASSERT_EQUAL(sc_frame_begin(SC_CODEC_LENPREFIX, &out, &mark, &err), SC_EFULL);
    CU_ASSERT(err_has(&err, "output buffer limit of 5 bytes reached"));
    CU_ASSERT_EQUAL(sc_buf_size(&out), 2);
    sc_buf_free(&out);

    sc_buf_init(&out, 0);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_frame_begin(SC_CODEC_LENPREFIX, &out, &mark, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(sc_buf_size(&out), 0);
    sc_buf_free(&out);
}

int register_codec_tests(void)
{
    static CU_TestInfo tests[] = {
        { "codec_names_parse_and_print", test_codec_names_parse_and_print },
        { "reader_new_refuses_bad_arguments", test_reader_new_refuses_bad_arguments },
        { "reader_new_survives_every_allocation_failure",
          test_reader_new_survives_every_allocation_failure },
        { "reader_free_accepts_null", test_reader_free_accepts_null },
        { "msgpack_handshake_uid_decodes", test_msgpack_handshake_uid_decodes },
        { "msgpack_return_message_decodes", test_msgpack_return_message_decodes },
        { "lenprefix_examples_decode_with_their_headers",
          test_lenprefix_examples_decode_with_their_headers },
        { "several_messages_in_one_feed", test_several_messages_in_one_feed },
        { "every_split_yields_identical_frames", test_every_split_yields_identical_frames },
        { "frame_stays_until_the_next_call", test_frame_stays_until_the_next_call },
        { "msgpack_truncated_message_at_eof_is_an_error",
          test_msgpack_truncated_message_at_eof_is_an_error },
        { "lenprefix_truncated_header_at_eof_is_an_error",
          test_lenprefix_truncated_header_at_eof_is_an_error },
        { "lenprefix_truncated_body_at_eof_is_an_error",
          test_lenprefix_truncated_body_at_eof_is_an_error },
        { "clean_eof_is_ok", test_clean_eof_is_ok },
        { "finish_with_a_whole_frame_still_buffered_is_a_state_error",
          test_finish_with_a_whole_frame_still_buffered_is_a_state_error },
        { "finish_reports_a_protocol_error_in_buffered_bytes",
          test_finish_reports_a_protocol_error_in_buffered_bytes },
        { "lenprefix_oversized_header_is_refused_before_the_body",
          test_lenprefix_oversized_header_is_refused_before_the_body },
        { "lenprefix_trailing_bytes_are_refused", test_lenprefix_trailing_bytes_are_refused },
        { "lenprefix_empty_frame_is_refused", test_lenprefix_empty_frame_is_refused },
        { "lenprefix_body_ending_inside_an_object_is_refused",
          test_lenprefix_body_ending_inside_an_object_is_refused },
        { "hostile_container_headers_are_refused", test_hostile_container_headers_are_refused },
        { "invalid_byte_error_is_sticky", test_invalid_byte_error_is_sticky },
        { "invalid_utf8_is_refused_by_both_codecs", test_invalid_utf8_is_refused_by_both_codecs },
        { "msgpack_message_over_max_frame_is_refused",
          test_msgpack_message_over_max_frame_is_refused },
        { "depth_of_msgpack_c_stack_decodes_and_one_more_is_refused",
          test_depth_of_msgpack_c_stack_decodes_and_one_more_is_refused },
        { "every_msgpack_format_decodes", test_every_msgpack_format_decodes },
        { "ext_is_handed_on_unchanged", test_ext_is_handed_on_unchanged },
        { "feed_cap_is_enforced", test_feed_cap_is_enforced },
        { "feed_allocation_failure_is_sticky", test_feed_allocation_failure_is_sticky },
        { "big_frames_fed_byte_by_byte_are_linear", test_big_frames_fed_byte_by_byte_are_linear },
        { "many_frames_reuse_one_zone", test_many_frames_reuse_one_zone },
        { "frame_begin_end_round_trip", test_frame_begin_end_round_trip },
        { "frame_header_lands_right_when_the_buffer_moves",
          test_frame_header_lands_right_when_the_buffer_moves },
        { "frame_end_over_max_frame_truncates_to_the_mark",
          test_frame_end_over_max_frame_truncates_to_the_mark },
        { "frame_end_with_nothing_packed_is_refused", test_frame_end_with_nothing_packed_is_refused },
        { "frame_end_with_a_stale_mark_is_refused", test_frame_end_with_a_stale_mark_is_refused },
        { "frame_begin_on_a_full_buffer_is_efull_and_unchanged",
          test_frame_begin_on_a_full_buffer_is_efull_and_unchanged },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("codec", tests);
}
