/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_scan.c - unit tests of the msgpack pre-scanner (scan.h): every format,
 * resuming at every byte boundary, each limit at and just over its value,
 * hostile headers refused from their header bytes alone, strict UTF-8, and
 * linear-time resuming on huge objects fed one byte at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "scan.h"
#include "suites.h"
#include "testutil.h"

#define HEX_MAX 256

static size_t hex(const char *s, uint8_t *out)
{
    size_t n = tu_unhex(s, (char *)out, HEX_MAX);
    CU_ASSERT_FATAL(n != (size_t)-1);
    return n;
}

static sc_limits defaults(void)
{
    sc_limits l;
    sc_limits_default(&l);
    return l;
}

static int scan_once(const uint8_t *p, size_t n, const sc_limits *lim, size_t *obj_len, sc_err *err)
{
    sc_scanner s;
    sc_scan_reset(&s);
    sc_err_clear(err);
    return sc_scan(&s, p, n, lim, obj_len, err);
}

static int scan_hex(const char *h, const sc_limits *lim, size_t *obj_len, sc_err *err)
{
    uint8_t b[HEX_MAX];
    size_t n = hex(h, b);
    return scan_once(b, n, lim, obj_len, err);
}

/* The object at the start of p (n bytes, maybe more after it) must be want
 * bytes long however it arrives: whole, one byte more per call, or in two
 * pieces split anywhere.  Each piece is copied to an allocation of exactly
 * its size so that the sanitizers catch a read past len. */
static void check_len_lim(const uint8_t *p, size_t n, size_t want, const sc_limits *lim)
{
    size_t got = 0;
    sc_err err;
    sc_scanner s;
    CU_ASSERT_EQUAL_FATAL(scan_once(p, n, lim, &got, &err), SC_OK);
    CU_ASSERT_EQUAL_FATAL(got, want);

    sc_scan_reset(&s);
    for (size_t k = 0; k <= n; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
        memcpy(copy, p, k);
        int rc = sc_scan(&s, copy, k, lim, &got, &err);
        free(copy);
        CU_ASSERT_EQUAL_FATAL(rc, k < want ? SC_AGAIN : SC_OK);
        if (rc == SC_OK)
            CU_ASSERT_EQUAL_FATAL(got, want);
    }

    for (size_t i = 0; i < want; i++) {
        sc_scan_reset(&s);
        CU_ASSERT_EQUAL_FATAL(sc_scan(&s, p, i, lim, &got, &err), SC_AGAIN);
        CU_ASSERT_EQUAL_FATAL(sc_scan(&s, p, n, lim, &got, &err), SC_OK);
        CU_ASSERT_EQUAL_FATAL(got, want);
    }
}

static void check_len(const uint8_t *p, size_t n, size_t want)
{
    sc_limits lim = defaults();
    check_len_lim(p, n, want, &lim);
}

/* The hex object, followed by a trailing nil that must not be counted. */
static void check_hex(const char *h)
{
    uint8_t b[HEX_MAX];
    size_t n = hex(h, b);
    CU_ASSERT_FATAL(n < HEX_MAX);
    b[n] = 0xc0;
    check_len(b, n + 1, n);
}

static void test_fixed_size_scalars(void)
{
    static const char *const cases[] = {
        "00", "7f", "e0", "ff", "c0", "c2", "c3",
        "ca 3f 80 00 00", "cb 3f f0 00 00 00 00 00 00",
        "cc ff", "cd ff ff", "ce ff ff ff ff", "cf ff ff ff ff ff ff ff ff",
        "d0 80", "d1 80 00", "d2 80 00 00 00", "d3 80 00 00 00 00 00 00 00",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_hex(cases[i]);
}

static void test_str_formats(void)
{
    check_hex("a0");
    check_hex("a4 72 6f 6f 74");
    check_hex("bf 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74 75 76 77 78 79 7a "
              "30 31 32 33 34");
    check_hex("d9 00");
    check_hex("d9 03 61 62 63");
    check_hex("da 00 03 61 62 63");
    check_hex("db 00 00 00 03 61 62 63");
    check_hex("d9 24 30 66 30 65 30 66 30 65 2d 30 66 30 65 2d 30 66 30 65 2d 30 66 30 65 2d 30 "
              "66 30 65 30 66 30 65 30 66 30 65");
}

static void test_bin_formats(void)
{
    /* bin payloads are not UTF-8 checked. */
    check_hex("c4 00");
    check_hex("c4 03 ff c1 00");
    check_hex("c5 00 02 c0 80");
    check_hex("c6 00 00 00 02 ed a0");
}

static void test_ext_formats(void)
{
    check_hex("d4 01 aa");
    check_hex("d5 ff aa bb");
    check_hex("d6 01 aa bb cc dd");
    check_hex("d7 01 00 01 02 03 04 05 06 07");
    check_hex("d8 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");
    check_hex("c7 00 05");
    check_hex("c7 02 05 aa bb");
    check_hex("c8 00 02 05 aa bb");
    check_hex("c9 00 00 00 02 05 c1 c1");
}

static void test_array_and_map_formats(void)
{
    check_hex("90");
    check_hex("80");
    check_hex("93 01 02 03");
    check_hex("82 a1 61 01 a1 62 02");
    check_hex("dc 00 00");
    check_hex("dc 00 02 c0 c0");
    check_hex("dd 00 00 00 00");
    check_hex("dd 00 00 00 02 c0 c0");
    check_hex("de 00 00");
    check_hex("de 00 01 c0 c0");
    check_hex("df 00 00 00 00");
    check_hex("df 00 00 00 01 c0 c0");
    check_hex("9f 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e");
}

static void test_nested_containers(void)
{
    check_hex("92 91 92 01 80 a0");
    check_hex("93 90 80 91 90");
    /* Arrays as map keys (the registry's get_registry result). */
    check_hex("81 92 a1 61 a1 62 92 a3 31 32 37 cd 04 d2");
    /* Scalar, ext and map keys, mixed widths. */
    check_hex("83 a3 6b 65 79 93 01 81 01 02 c4 01 ff d4 00 00 a1 78 de 00 01 c0 dc 00 01 c3 c3");
}

static void test_tractor_messages(void)
{
    check_hex("92 a4 72 6f 6f 74 a4 30 66 30 65");
    check_hex("81 a3 63 6d 64 95 a4 73 65 6c 66 a6 63 61 6e 63 65 6c 80 92 a4 72 6f 6f 74 a2 75 "
              "31 a2 63 31");
    check_hex("82 a6 72 65 74 75 72 6e c3 a3 63 69 64 a2 63 31");
    check_hex("82 a5 65 72 72 6f 72 82 a6 74 62 5f 73 74 72 a1 54 a8 74 79 70 65 5f 73 74 72 aa "
              "56 61 6c 75 65 45 72 72 6f 72 a3 63 69 64 a2 63 31");
}

static void test_resume_keeps_position_past_complete_items(void)
{
    uint8_t b[HEX_MAX];
    size_t n = hex("93 01 02 a5 61 62 63", b);
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got;
    sc_err err;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 3, &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(s.pos, 3);
    CU_ASSERT_EQUAL(s.depth, 1);
    CU_ASSERT_EQUAL(s.remaining[0], 1);
    /* An incomplete str is re-read from its header next time. */
    CU_ASSERT_EQUAL(sc_scan(&s, b, n, &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(s.pos, 3);
}

static void test_map_pairs_count_as_two_items(void)
{
    uint8_t b[HEX_MAX];
    hex("82 01", b);
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got;
    sc_err err;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 2, &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(s.depth, 1);
    CU_ASSERT_EQUAL(s.remaining[0], 3);
}

static void test_ok_repeats_until_reset(void)
{
    uint8_t b[HEX_MAX];
    size_t n = hex("92 01 02 c0 c0", b);
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got = 0;
    sc_err err;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, n, &lim, &got, &err), SC_OK);
    CU_ASSERT_EQUAL(got, 3);
    got = 0;
    CU_ASSERT_EQUAL(sc_scan(&s, b, n, &lim, &got, &err), SC_OK);
    CU_ASSERT_EQUAL(got, 3);
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b + 3, 1, &lim, &got, &err), SC_OK);
    CU_ASSERT_EQUAL(got, 1);
}

static void test_fewer_bytes_than_already_scanned_is_an_argument_error(void)
{
    uint8_t b[HEX_MAX];
    hex("93 01 02", b);
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got;
    sc_err err;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 3, &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 2, &lim, &got, &err), SC_EARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "offset 3"));
}

static void test_empty_input_needs_more(void)
{
    sc_limits lim = defaults();
    size_t got;
    sc_err err;
    CU_ASSERT_EQUAL(scan_once(NULL, 0, &lim, &got, &err), SC_AGAIN);
}

static void check_error(const char *h, const sc_limits *lim, int code, const char *needle)
{
    size_t got;
    sc_err err;
    int rc = scan_hex(h, lim, &got, &err);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_EQUAL(err.code, code);
    if (!strstr(err.msg, needle)) {
        fprintf(stderr, "\n  input %s: message \"%s\" lacks \"%s\"\n", h, err.msg, needle);
        CU_FAIL("error message lacks the expected text");
    }
}

static void test_c1_is_refused_at_top_level(void)
{
    sc_limits lim = defaults();
    check_error("c1", &lim, SC_EPROTO, "byte 0xc1 at offset 0 is not valid msgpack");
}

static void test_c1_is_refused_when_nested(void)
{
    sc_limits lim = defaults();
    check_error("92 01 c1", &lim, SC_EPROTO, "byte 0xc1 at offset 2 is not valid msgpack");
    check_error("81 c1 01", &lim, SC_EPROTO, "offset 1");
    check_error("91 91 82 01 02 03 c1", &lim, SC_EPROTO, "offset 6");
    /* Even before the rest of the object has arrived. */
    check_error("94 01 c1", &lim, SC_EPROTO, "offset 2");
}

static void test_error_repeats_on_the_next_call(void)
{
    uint8_t b[HEX_MAX];
    size_t n = hex("92 01 c1", b);
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got;
    sc_err err;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, n, &lim, &got, &err), SC_EPROTO);
    CU_ASSERT_EQUAL(sc_scan(&s, b, n, &lim, &got, &err), SC_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "offset 2"));
}

static void test_errors_work_without_an_error_object(void)
{
    uint8_t b[] = { 0xc1 };
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 1, &lim, &got, NULL), SC_EPROTO);
}

/* levels nested one-entry arrays (or maps with a nil key) around a nil; with
 * empty_inside the innermost, levels-th container is empty instead. */
static size_t nest(uint8_t *b, unsigned levels, int maps, int empty_inside)
{
    size_t n = 0;
    for (unsigned i = 1; i < levels; i++) {
        b[n++] = maps ? 0x81 : 0x91;
        if (maps)
            b[n++] = 0xc0;
    }
    if (empty_inside) {
        b[n++] = maps ? 0x80 : 0x90;
        return n;
    }
    b[n++] = maps ? 0x81 : 0x91;
    if (maps)
        b[n++] = 0xc0;
    b[n++] = 0xc0;
    return n;
}

static void test_depth_at_the_limit_is_accepted(void)
{
    uint8_t b[200];
    sc_limits lim = defaults();
    size_t n = nest(b, 32, 0, 0);
    check_len_lim(b, n, n, &lim);
    n = nest(b, 32, 1, 0);
    check_len_lim(b, n, n, &lim);
    lim.max_depth = 4;
    n = nest(b, 4, 0, 0);
    check_len_lim(b, n, n, &lim);
    n = nest(b, 4, 0, 1);
    check_len_lim(b, n, n, &lim);
}

static void test_depth_over_the_limit_is_refused_at_its_header(void)
{
    uint8_t b[200];
    sc_limits lim = defaults();
    size_t got;
    sc_err err;
    size_t n = nest(b, 33, 0, 0);
    CU_ASSERT_EQUAL(scan_once(b, n, &lim, &got, &err), SC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "array at offset 32 opens nesting level 33"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "depth limit of 32"));
    /* The 33 headers alone are enough. */
    CU_ASSERT_EQUAL(scan_once(b, 33, &lim, &got, &err), SC_ELIMIT);
    n = nest(b, 33, 1, 0);
    CU_ASSERT_EQUAL(scan_once(b, n, &lim, &got, &err), SC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "map at offset 64"));

    lim.max_depth = 4;
    nest(b, 5, 0, 0);
    CU_ASSERT_EQUAL(scan_once(b, 5, &lim, &got, &err), SC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "level 5, over the depth limit of 4"));
    /* An empty container is nested as deep as a full one. */
    n = nest(b, 5, 0, 1);
    CU_ASSERT_EQUAL(scan_once(b, n, &lim, &got, &err), SC_ELIMIT);
    n = nest(b, 5, 1, 1);
    CU_ASSERT_EQUAL(scan_once(b, n, &lim, &got, &err), SC_ELIMIT);

    lim.max_depth = 0;
    CU_ASSERT_EQUAL(scan_hex("c0", &lim, &got, &err), SC_OK);
    CU_ASSERT_EQUAL(scan_hex("90", &lim, &got, &err), SC_ELIMIT);
}

static void test_depth_never_passes_msgpack_c_stack(void)
{
    uint8_t b[200];
    sc_limits lim = defaults();
    lim.max_depth = 1000;
    size_t got;
    sc_err err;
    size_t n = nest(b, 32, 0, 0);
    check_len_lim(b, n, n, &lim);
    n = nest(b, 33, 0, 0);
    CU_ASSERT_EQUAL(scan_once(b, n, &lim, &got, &err), SC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "msgpack-c"));
}

static void test_sibling_containers_do_not_add_depth(void)
{
    uint8_t b[HEX_MAX];
    sc_limits lim = defaults();
    lim.max_depth = 3;
    size_t n = hex("92 91 91 c0 92 91 c0 90", b);
    check_len_lim(b, n, n, &lim);
}

static void test_entries_at_the_limit_are_accepted(void)
{
    uint8_t b[HEX_MAX];
    sc_limits lim = defaults();
    lim.max_entries = 3;
    size_t n = hex("93 01 02 03", b);
    check_len_lim(b, n, n, &lim);
    n = hex("83 01 02 03 04 05 06", b);
    check_len_lim(b, n, n, &lim);
    n = hex("dd 00 00 00 03 01 02 03", b);
    check_len_lim(b, n, n, &lim);
    n = hex("de 00 03 01 02 03 04 05 06", b);
    check_len_lim(b, n, n, &lim);
}

static void test_entries_over_the_limit_are_refused_at_the_header(void)
{
    sc_limits lim = defaults();
    lim.max_entries = 3;
    check_error("94", &lim, SC_ELIMIT, "array at offset 0 declares 4 entries, over the limit of 3");
    check_error("84", &lim, SC_ELIMIT, "map at offset 0 declares 4 pairs, over the limit of 3");
    check_error("dc 00 04", &lim, SC_ELIMIT, "4 entries");
    check_error("dd 00 00 00 04", &lim, SC_ELIMIT, "4 entries");
    check_error("de 00 04", &lim, SC_ELIMIT, "4 pairs");
    check_error("df 00 00 00 04", &lim, SC_ELIMIT, "4 pairs");
    check_error("91 91 94", &lim, SC_ELIMIT, "array at offset 2");
}

static void test_str_bin_ext_at_max_str_are_accepted(void)
{
    sc_limits lim = defaults();
    lim.max_str = 4;
    static const char *const cases[] = {
        "a4 61 62 63 64", "d9 04 61 62 63 64", "da 00 04 61 62 63 64",
        "db 00 00 00 04 61 62 63 64", "c4 04 01 02 03 04", "c5 00 04 01 02 03 04",
        "c6 00 00 00 04 01 02 03 04", "c7 04 01 01 02 03 04", "c8 00 04 01 01 02 03 04",
        "c9 00 00 00 04 01 01 02 03 04", "d6 01 01 02 03 04",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[HEX_MAX];
        size_t n = hex(cases[i], b);
        check_len_lim(b, n, n, &lim);
    }
}

static void test_str_bin_ext_over_max_str_are_refused_from_the_header(void)
{
    sc_limits lim = defaults();
    lim.max_str = 4;
    /* Only the header is given: the payload is never waited for. */
    check_error("a5", &lim, SC_ELIMIT, "str at offset 0 declares 5 bytes, over the string limit of 4");
    check_error("d9 05", &lim, SC_ELIMIT, "str at offset 0 declares 5 bytes");
    check_error("da 00 05", &lim, SC_ELIMIT, "str at offset 0");
    check_error("db ff ff ff ff", &lim, SC_ELIMIT, "declares 4294967295 bytes");
    check_error("c4 05", &lim, SC_ELIMIT, "bin at offset 0 declares 5 bytes");
    check_error("c5 00 05", &lim, SC_ELIMIT, "bin at offset 0");
    check_error("c6 ff ff ff ff", &lim, SC_ELIMIT, "bin at offset 0");
    check_error("c7 05 01", &lim, SC_ELIMIT, "ext at offset 0 declares 5 bytes");
    check_error("c8 00 05 01", &lim, SC_ELIMIT, "ext at offset 0");
    check_error("c9 ff ff ff ff 01", &lim, SC_ELIMIT, "ext at offset 0");
    check_error("d7 01", &lim, SC_ELIMIT, "ext at offset 0 declares 8 bytes");
    check_error("92 c0 a5", &lim, SC_ELIMIT, "str at offset 2");
    /* Default limits: a 4 GiB bin32 header alone. */
    lim = defaults();
    check_error("c6 ff ff ff ff", &lim, SC_ELIMIT, "string limit of 1048576 bytes");
}

static void test_incomplete_header_needs_more(void)
{
    sc_limits lim = defaults();
    size_t got;
    sc_err err;
    CU_ASSERT_EQUAL(scan_hex("df 0f ff", &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(scan_hex("db 00 00 00", &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(scan_hex("c9 00 00 00 01", &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(scan_hex("cb 00 00 00 00 00 00 00", &lim, &got, &err), SC_AGAIN);
}

static void test_huge_container_headers_are_refused_from_the_header_alone(void)
{
    sc_limits lim = defaults();
    check_error("df 0f ff ff ff c0 c0 c0 c0", &lim, SC_ELIMIT, "268435455 pairs");
    check_error("df 0f ff ff ff", &lim, SC_ELIMIT, "map at offset 0");
    check_error("dd ff ff ff ff", &lim, SC_ELIMIT, "4294967295 entries");
    /* With no entries limit to speak of, they still cannot fit in a message. */
    lim.max_entries = UINT32_MAX;
    check_error("df 0f ff ff ff c0 c0 c0 c0", &lim, SC_ELIMIT,
                "need at least 536870910 more bytes: past the message limit of 1048576 bytes");
    check_error("dd ff ff ff ff", &lim, SC_ELIMIT,
                "need at least 4294967295 more bytes: past the message limit");
    check_error("91 dd ff ff ff ff", &lim, SC_ELIMIT, "array at offset 1");
    /* The fit test is plain 64-bit arithmetic: nothing wraps. */
    lim.max_frame = SIZE_MAX;
    size_t got;
    sc_err err;
    CU_ASSERT_EQUAL(scan_hex("df ff ff ff ff", &lim, &got, &err), SC_AGAIN);
}

static void test_container_fit_is_checked_exactly(void)
{
    uint8_t b[HEX_MAX];
    sc_limits lim = defaults();
    lim.max_frame = 10;
    size_t n = hex("dc 00 07 01 02 03 04 05 06 07", b);
    check_len_lim(b, n, n, &lim);
    check_error("dc 00 08", &lim, SC_ELIMIT, "8 entries, which need at least 8 more bytes");
    n = hex("de 00 03 01 02 03 04 05 06", b);
    check_len_lim(b, n, n, &lim);
    check_error("de 00 04", &lim, SC_ELIMIT, "4 pairs, which need at least 8 more bytes");
}

static void test_object_at_max_frame_is_accepted(void)
{
    uint8_t b[HEX_MAX];
    sc_limits lim = defaults();
    lim.max_frame = 5;
    size_t n = hex("a4 61 62 63 64", b);
    check_len_lim(b, n, n, &lim);
    n = hex("94 01 02 03 04", b);
    check_len_lim(b, n, n, &lim);
    n = hex("ce 01 02 03 04", b);
    check_len_lim(b, n, n, &lim);
}

static void test_object_over_max_frame_is_refused_as_soon_as_it_crosses(void)
{
    sc_limits lim = defaults();
    lim.max_frame = 5;
    check_error("a5", &lim, SC_ELIMIT,
                "str at offset 0 would end at offset 6, past the message limit of 5 bytes");
    check_error("cb", &lim, SC_ELIMIT, "value at offset 0 would end at offset 9");
    check_error("92 a2 61 62 a2", &lim, SC_ELIMIT, "str at offset 4 would end at offset 7");
    check_error("92 01 c6 00", &lim, SC_ELIMIT, "bin at offset 2 would end at offset 7");
    check_error("95 01 02 03 04 05", &lim, SC_ELIMIT, "need at least 5 more bytes");
    /* Every byte fits but containers are still open at the limit. */
    lim.max_frame = 4;
    check_error("92 92 01 01", &lim, SC_ELIMIT, "still incomplete at offset 4");
    /* A big bin is refused from its header, long before its payload. */
    lim = defaults();
    lim.max_frame = 1000;
    check_error("c6 00 10 00 00", &lim, SC_ELIMIT, "would end at offset 1048581");
}

static void test_invalid_utf8_in_str_is_refused(void)
{
    sc_limits lim = defaults();
    check_error("a2 c0 80", &lim, SC_EPROTO,
                "invalid UTF-8 in str at offset 0: bad sequence starting with byte 0xc0 at offset 1");
    check_error("a3 ed a0 80", &lim, SC_EPROTO, "byte 0xed at offset 1");
    check_error("a4 f4 90 80 80", &lim, SC_EPROTO, "byte 0xf4 at offset 1");
    check_error("a2 e2 82", &lim, SC_EPROTO, "byte 0xe2 at offset 1");
    check_error("a1 ff", &lim, SC_EPROTO, "invalid UTF-8 in str at offset 0");
    check_error("d9 03 61 62 80", &lim, SC_EPROTO, "byte 0x80 at offset 4");
    check_error("92 a1 61 a2 c0 80", &lim, SC_EPROTO, "invalid UTF-8 in str at offset 3");
    check_error("81 a2 c0 80 01", &lim, SC_EPROTO, "in str at offset 1");
    check_error("91 91 81 01 a1 c1", &lim, SC_EPROTO, "in str at offset 4");
}

static void test_valid_multibyte_utf8_is_accepted(void)
{
    check_hex("a2 c2 a9");
    check_hex("a3 e2 82 ac");
    check_hex("a4 f0 9f 98 80");
    check_hex("a4 f4 8f bf bf");
    check_hex("a3 ed 9f bf");
    check_hex("a3 ee 80 80");
    check_hex("a3 ef bf bf");
    check_hex("a1 00");
    check_hex("ae 68 c3 a9 6c 6c 6f 20 e2 82 ac f0 9f 98 80");
}

static void test_utf8_is_checked_once_the_str_is_whole(void)
{
    uint8_t b[HEX_MAX];
    size_t n = hex("a3 c0 80 61", b);
    sc_limits lim = defaults();
    sc_scanner s;
    size_t got;
    sc_err err;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 2, &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_scan(&s, b, 3, &lim, &got, &err), SC_AGAIN);
    CU_ASSERT_EQUAL(sc_scan(&s, b, n, &lim, &got, &err), SC_EPROTO);
}

static void test_utf8_validator(void)
{
    static const struct {
        const char *s;
        size_t n;
        int valid;
    } cases[] = {
        { "", 0, 1 },
        { "plain ascii", 11, 1 },
        { "\x00", 1, 1 },
        { "\x7f", 1, 1 },
        { "\xc2\x80", 2, 1 },
        { "\xdf\xbf", 2, 1 },
        { "\xe0\xa0\x80", 3, 1 },
        { "\xed\x9f\xbf", 3, 1 },
        { "\xee\x80\x80", 3, 1 },
        { "\xef\xbf\xbf", 3, 1 },
        { "\xf0\x90\x80\x80", 4, 1 },
        { "\xf4\x8f\xbf\xbf", 4, 1 },
        { "abcdefgh\xe2\x82\xac", 11, 1 },
        { "abcdefghijklmnopqrstuvwxyz0123456789", 36, 1 },
        { "\x80", 1, 0 },
        { "\xbf", 1, 0 },
        { "\xc0\x80", 2, 0 },
        { "\xc1\xbf", 2, 0 },
        { "\xc2", 1, 0 },
        { "\xc2\x41", 2, 0 },
        { "\xc2\xc0", 2, 0 },
        { "\xe0\x80\x80", 3, 0 },
        { "\xe0\x9f\xbf", 3, 0 },
        { "\xed\xa0\x80", 3, 0 },
        { "\xed\xbf\xbf", 3, 0 },
        { "\xe2\x82", 2, 0 },
        { "\xe2\x82\x41", 3, 0 },
        { "\xf0\x80\x80\x80", 4, 0 },
        { "\xf0\x8f\xbf\xbf", 4, 0 },
        { "\xf4\x90\x80\x80", 4, 0 },
        { "\xf5\x80\x80\x80", 4, 0 },
        { "\xf8\x88\x80\x80\x80", 5, 0 },
        { "\xff", 1, 0 },
        { "\xf0\x9f\x98", 3, 0 },
        { "\xf0\x9f\x98\x41", 4, 0 },
        { "abcdefghij\xff", 11, 0 },
        { "abcdefg\xffhijklmnop", 17, 0 },
        { "abcdefghijklmnopq\xe2\x82", 19, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = sc_utf8_valid((const uint8_t *)cases[i].s, cases[i].n);
        if (got != cases[i].valid)
            fprintf(stderr, "\n  utf8 case %zu: expected %d\n", i, cases[i].valid);
        CU_ASSERT_EQUAL(got, cases[i].valid);
    }
    CU_ASSERT_EQUAL(sc_utf8_valid(NULL, 0), 1);
}

/* Feeds p one more byte per call, as a slow peer would: a resume that went
 * back to the object's start would make these millions of calls quadratic. */
static void check_fed_byte_by_byte(const uint8_t *p, size_t n, const sc_limits *lim)
{
    sc_scanner s;
    sc_scan_reset(&s);
    size_t got = 0;
    sc_err err;
    size_t again = 0;
    int rc = SC_AGAIN;
    for (size_t k = 1; k <= n && rc == SC_AGAIN; k++) {
        rc = sc_scan(&s, p, k, lim, &got, &err);
        again += rc == SC_AGAIN;
    }
    CU_ASSERT_EQUAL(rc, SC_OK);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(again, n - 1);
}

static void test_one_mib_bin_fed_byte_by_byte_is_linear(void)
{
    size_t body = 1u << 20, n = body + 5;
    uint8_t *p = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[0] = 0xc6;
    p[1] = (uint8_t)(body >> 24);
    p[2] = (uint8_t)(body >> 16);
    p[3] = (uint8_t)(body >> 8);
    p[4] = (uint8_t)body;
    memset(p + 5, 0xc1, body);
    sc_limits lim = defaults();
    lim.max_frame = n;
    check_fed_byte_by_byte(p, n, &lim);
    free(p);
}

static void test_one_mib_str_fed_byte_by_byte_is_linear(void)
{
    size_t body = 1u << 20, n = body + 5;
    uint8_t *p = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[0] = 0xdb;
    p[1] = (uint8_t)(body >> 24);
    p[2] = (uint8_t)(body >> 16);
    p[3] = (uint8_t)(body >> 8);
    p[4] = (uint8_t)body;
    /* Multi-byte text so that the UTF-8 check's slow path runs too. */
    for (size_t i = 0; i < body; i += 4)
        memcpy(p + 5 + i, i % 8 ? "\xf0\x9f\x98\x80" : "abcd", 4);
    sc_limits lim = defaults();
    lim.max_frame = n;
    check_fed_byte_by_byte(p, n, &lim);
    free(p);
}

static void test_million_entry_array_fed_byte_by_byte_is_linear(void)
{
    uint32_t entries = 1000000;
    size_t n = 5 + (size_t)entries;
    uint8_t *p = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[0] = 0xdd;
    p[1] = (uint8_t)(entries >> 24);
    p[2] = (uint8_t)(entries >> 16);
    p[3] = (uint8_t)(entries >> 8);
    p[4] = (uint8_t)entries;
    memset(p + 5, 0x01, entries);
    sc_limits lim = defaults();
    lim.max_frame = n;
    lim.max_entries = entries;
    check_fed_byte_by_byte(p, n, &lim);
    free(p);
}

/* Regression (fuzz/regressions/fuzz_codec/scan-error-code-depends-on-chunking):
 * a 0xc1 just past max_frame gave SC_EPROTO when scanned whole and SC_ELIMIT
 * when fed byte by byte.  The byte past the limit is never read now, so the
 * verdict is the same however the stream was split. */
static void test_verdict_past_the_frame_limit_does_not_depend_on_splits(void)
{
    static const uint8_t in[] = { 0x93, 0xa7, 'a', 'a', 'a', 'a', 'a', 'a', 'a',
                                  0xa6, 'b', 'b', 'b', 'b', 'b', 'b', 0xc1 };
    sc_limits lim = defaults();
    lim.max_frame = 16;
    size_t obj_len;
    sc_err err;
    sc_scanner s;
    sc_scan_reset(&s);
    CU_ASSERT_EQUAL(sc_scan(&s, in, sizeof(in), &lim, &obj_len, &err), SC_ELIMIT);
    int rc = SC_AGAIN;
    sc_scan_reset(&s);
    for (size_t n = 1; n <= sizeof(in) && rc == SC_AGAIN; n++)
        rc = sc_scan(&s, in, n, &lim, &obj_len, &err);
    CU_ASSERT_EQUAL(rc, SC_ELIMIT);
}

int register_scan_tests(void)
{
    static CU_TestInfo tests[] = {
        { "verdict_past_the_frame_limit_does_not_depend_on_splits",
          test_verdict_past_the_frame_limit_does_not_depend_on_splits },
        { "fixed_size_scalars", test_fixed_size_scalars },
        { "str_formats", test_str_formats },
        { "bin_formats", test_bin_formats },
        { "ext_formats", test_ext_formats },
        { "array_and_map_formats", test_array_and_map_formats },
        { "nested_containers", test_nested_containers },
        { "tractor_messages", test_tractor_messages },
        { "resume_keeps_position_past_complete_items", test_resume_keeps_position_past_complete_items },
        { "map_pairs_count_as_two_items", test_map_pairs_count_as_two_items },
        { "ok_repeats_until_reset", test_ok_repeats_until_reset },
        { "fewer_bytes_than_already_scanned_is_an_argument_error",
          test_fewer_bytes_than_already_scanned_is_an_argument_error },
        { "empty_input_needs_more", test_empty_input_needs_more },
        { "c1_is_refused_at_top_level", test_c1_is_refused_at_top_level },
        { "c1_is_refused_when_nested", test_c1_is_refused_when_nested },
        { "error_repeats_on_the_next_call", test_error_repeats_on_the_next_call },
        { "errors_work_without_an_error_object", test_errors_work_without_an_error_object },
        { "depth_at_the_limit_is_accepted", test_depth_at_the_limit_is_accepted },
        { "depth_over_the_limit_is_refused_at_its_header",
          test_depth_over_the_limit_is_refused_at_its_header },
        { "depth_never_passes_msgpack_c_stack", test_depth_never_passes_msgpack_c_stack },
        { "sibling_containers_do_not_add_depth", test_sibling_containers_do_not_add_depth },
        { "entries_at_the_limit_are_accepted", test_entries_at_the_limit_are_accepted },
        { "entries_over_the_limit_are_refused_at_the_header",
          test_entries_over_the_limit_are_refused_at_the_header },
        { "str_bin_ext_at_max_str_are_accepted", test_str_bin_ext_at_max_str_are_accepted },
        { "str_bin_ext_over_max_str_are_refused_from_the_header",
          test_str_bin_ext_over_max_str_are_refused_from_the_header },
        { "incomplete_header_needs_more", test_incomplete_header_needs_more },
        { "huge_container_headers_are_refused_from_the_header_alone",
          test_huge_container_headers_are_refused_from_the_header_alone },
        { "container_fit_is_checked_exactly", test_container_fit_is_checked_exactly },
        { "object_at_max_frame_is_accepted", test_object_at_max_frame_is_accepted },
        { "object_over_max_frame_is_refused_as_soon_as_it_crosses",
          test_object_over_max_frame_is_refused_as_soon_as_it_crosses },
        { "invalid_utf8_in_str_is_refused", test_invalid_utf8_in_str_is_refused },
        { "valid_multibyte_utf8_is_accepted", test_valid_multibyte_utf8_is_accepted },
        { "utf8_is_checked_once_the_str_is_whole", test_utf8_is_checked_once_the_str_is_whole },
        { "utf8_validator", test_utf8_validator },
        { "one_mib_bin_fed_byte_by_byte_is_linear", test_one_mib_bin_fed_byte_by_byte_is_linear },
        { "one_mib_str_fed_byte_by_byte_is_linear", test_one_mib_str_fed_byte_by_byte_is_linear },
        { "million_entry_array_fed_byte_by_byte_is_linear",
          test_million_entry_array_fed_byte_by_byte_is_linear },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("scan", tests);
}
