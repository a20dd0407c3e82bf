/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_buf.c - unit tests of the capped byte buffer (buf.h): growth, the cap,
 * allocation failure and the lazy reclaim of the consumed prefix. */
#include <string.h>

#include <CUnit/CUnit.h>
#include <msgpack.h>

#include "buf.h"
#include "suites.h"

static void test_init_is_empty(void)
{
    sc_buf b;
    sc_buf_init(&b, 100);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 0);
    CU_ASSERT_EQUAL(b.max, 100);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.write_rc, SC_OK);
    sc_buf_free(&b);
}

static void test_append_then_consume_in_order(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "hello ", 6, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "world", 5, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 11);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "hello world", 11), 0);
    sc_buf_consume(&b, 6);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 5);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "world", 5), 0);
    sc_buf_consume(&b, 5);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 0);
    sc_buf_free(&b);
}

static void test_append_of_nothing_is_ok_even_at_the_cap(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 4);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abcd", 4, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "", 0, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 4);
    sc_buf_free(&b);
}

static void test_consume_more_than_held_empties_the_buffer(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abc", 3, &err), SC_OK);
    sc_buf_consume(&b, 1000);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 0);
    /* Emptying rewinds to the start of the allocation. */
    CU_ASSERT_EQUAL(b.off, 0);
    CU_ASSERT_EQUAL(b.len, 0);
    sc_buf_free(&b);
}

static void test_large_append_grows_the_buffer(void)
{
    enum { N = 100000 };
    static char big[N];
    for (size_t i = 0; i < N; i++)
        big[i] = (char)(i * 7);
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "x", 1, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_append(&b, big, N, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_size(&b), N + 1);
    CU_ASSERT(b.cap >= N + 1);
    CU_ASSERT_EQUAL(sc_buf_head(&b)[0], 'x');
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b) + 1, big, N), 0);
    sc_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.cap, 0);
}

static void test_reserve_gives_room_at_the_end(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "ab", 2, &err), SC_OK);
    char *p = sc_buf_reserve(&b, 1000, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(b.cap - b.len >= 1000);
    CU_ASSERT_PTR_EQUAL(p, b.data + b.len);
    /* Reserving commits nothing. */
    CU_ASSERT_EQUAL(sc_buf_size(&b), 2);
    memcpy(p, "cd", 2);
    b.len += 2;
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "abcd", 4), 0);
    sc_buf_free(&b);
}

static void test_reserve_over_the_cap_fails_with_a_limit_error(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 10);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "0123456", 7, &err), SC_OK);
    CU_ASSERT_PTR_NOT_NULL(sc_buf_reserve(&b, 3, &err));
    sc_err_clear(&err);
    CU_ASSERT_PTR_NULL(sc_buf_reserve(&b, 4, &err));
    CU_ASSERT_EQUAL(err.code, SC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "10 bytes"));
    CU_ASSERT_EQUAL(sc_buf_size(&b), 7);
    sc_buf_free(&b);
}

static void test_cap_refuses_append_and_leaves_the_buffer_unchanged(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 8);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abcdef", 6, &err), SC_OK);
    char *before = b.data;
    CU_ASSERT_EQUAL(sc_buf_append(&b, "xyz", 3, &err), SC_ELIMIT);
    CU_ASSERT_EQUAL(err.code, SC_ELIMIT);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 6);
    CU_ASSERT_PTR_EQUAL(b.data, before);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "abcdef", 6), 0);
    /* Exactly up to the cap is allowed. */
    CU_ASSERT_EQUAL(sc_buf_append(&b, "xy", 2, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 8);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "z", 1, &err), SC_ELIMIT);
    sc_buf_free(&b);
}

static void test_append_without_an_error_object_still_reports_the_code(void)
{
    sc_buf b;
    sc_buf_init(&b, 2);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abc", 3, NULL), SC_ELIMIT);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "a", 1, NULL), SC_ENOMEM);
    sc_alloc_fail_at(0);
    sc_buf_free(&b);
}

static void test_cap_counts_only_unconsumed_bytes(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 8);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abcdefgh", 8, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "i", 1, &err), SC_ELIMIT);
    sc_buf_consume(&b, 3);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "ijk", 3, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 8);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "defghijk", 8), 0);
    sc_buf_free(&b);
}

static void test_failed_first_allocation_is_out_of_memory_and_unchanged(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abc", 3, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "out of memory"));
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.cap, 0);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 0);
    /* The buffer still works afterwards. */
    CU_ASSERT_EQUAL(sc_buf_append(&b, "abc", 3, &err), SC_OK);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "abc", 3), 0);
    sc_buf_free(&b);
}

static void test_failed_growth_keeps_the_old_contents(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "keep", 4, &err), SC_OK);
    char *before = b.data;
    size_t cap = b.cap;
    static char big[4096];
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_buf_append(&b, big, sizeof(big), &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_PTR_EQUAL(b.data, before);
    CU_ASSERT_EQUAL(b.cap, cap);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 4);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "keep", 4), 0);
    sc_buf_free(&b);
}

static void test_consumed_prefix_is_reclaimed_before_growing(void)
{
    char chunk[200];
    memset(chunk, 'a', sizeof(chunk));
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, chunk, 200, &err), SC_OK);
    size_t cap = b.cap;
    sc_buf_consume(&b, 150);
    CU_ASSERT_EQUAL(b.off, 150);
    memset(chunk, 'b', sizeof(chunk));
    /* 50 left + 100 new fit in the first allocation once the prefix goes. */
    CU_ASSERT_EQUAL(cap - 50 >= 150 && cap < 300, 1);
    sc_alloc_fail_at(1);   /* proves that no allocation is needed */
    CU_ASSERT_EQUAL(sc_buf_append(&b, chunk, 100, &err), SC_OK);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(b.cap, cap);
    CU_ASSERT_EQUAL(b.off, 0);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 150);
    for (size_t i = 0; i < 150; i++)
        CU_ASSERT_EQUAL_FATAL(sc_buf_head(&b)[i], i < 50 ? 'a' : 'b');
    sc_buf_free(&b);
}

static void test_truncate_drops_the_tail_only(void)
{
    sc_buf b;
    sc_err err;
    sc_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "0123456789", 10, &err), SC_OK);
    sc_buf_consume(&b, 2);
    sc_buf_truncate(&b, 5);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 5);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "23456", 5), 0);
    /* Truncating to a larger size than held changes nothing. */
    sc_buf_truncate(&b, 50);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 5);
    CU_ASSERT_EQUAL(sc_buf_append(&b, "x", 1, &err), SC_OK);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), "23456x", 6), 0);
    sc_buf_truncate(&b, 0);
    CU_ASSERT_EQUAL(sc_buf_size(&b), 0);
    sc_buf_free(&b);
}

static void test_msgpack_packer_writes_into_the_buffer(void)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    CU_ASSERT_EQUAL(msgpack_pack_array(&pk, 2), 0);
    CU_ASSERT_EQUAL(msgpack_pack_true(&pk), 0);
    CU_ASSERT_EQUAL(msgpack_pack_str_with_body(&pk, "c1", 2), 0);
    static const char want[] = { '\x92', '\xc3', '\xa2', 'c', '1' };
    CU_ASSERT_EQUAL(sc_buf_size(&b), sizeof(want));
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&b), want, sizeof(want)), 0);
    CU_ASSERT_EQUAL(b.write_rc, SC_OK);
    sc_buf_free(&b);
}

static void test_msgpack_write_failure_is_remembered(void)
{
    sc_buf b;
    sc_buf_init(&b, 3);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    CU_ASSERT_NOT_EQUAL(msgpack_pack_str_with_body(&pk, "abcdef", 6), 0);
    CU_ASSERT_EQUAL(b.write_rc, SC_ELIMIT);
    sc_buf_free(&b);

    sc_buf_init(&b, 0);
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    sc_alloc_fail_at(1);
    CU_ASSERT_NOT_EQUAL(msgpack_pack_nil(&pk), 0);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(b.write_rc, SC_ENOMEM);
    sc_buf_free(&b);
}

int register_buf_tests(void)
{
    static CU_TestInfo tests[] = {
        { "init_is_empty", test_init_is_empty },
        { "append_then_consume_in_order", test_append_then_consume_in_order },
        { "append_of_nothing_is_ok_even_at_the_cap", test_append_of_nothing_is_ok_even_at_the_cap },
        { "consume_more_than_held_empties_the_buffer", test_consume_more_than_held_empties_the_buffer },
        { "large_append_grows_the_buffer", test_large_append_grows_the_buffer },
        { "reserve_gives_room_at_the_end", test_reserve_gives_room_at_the_end },
        { "reserve_over_the_cap_fails_with_a_limit_error",
          test_reserve_over_the_cap_fails_with_a_limit_error },
        { "cap_refuses_append_and_leaves_the_buffer_unchanged",
          test_cap_refuses_append_and_leaves_the_buffer_unchanged },
        { "append_without_an_error_object_still_reports_the_code",
          test_append_without_an_error_object_still_reports_the_code },
        { "cap_counts_only_unconsumed_bytes", test_cap_counts_only_unconsumed_bytes },
        { "failed_first_allocation_is_out_of_memory_and_unchanged",
          test_failed_first_allocation_is_out_of_memory_and_unchanged },
        { "failed_growth_keeps_the_old_contents", test_failed_growth_keeps_the_old_contents },
        { "consumed_prefix_is_reclaimed_before_growing",
          test_consumed_prefix_is_reclaimed_before_growing },
        { "truncate_drops_the_tail_only", test_truncate_drops_the_tail_only },
        { "msgpack_packer_writes_into_the_buffer", test_msgpack_packer_writes_into_the_buffer },
        { "msgpack_write_failure_is_remembered", test_msgpack_write_failure_is_remembered },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("buf", tests);
}
