/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_ctx.c - unit tests of contexts (ctx.h): the table keyed by (peer
 * name, peer uuid, cid) of spec section 4, its growth, and each context's
 * bounded receive queue with the overrun rule (OVR-2: 64 buffered, every
 * further message an overrun) and the parking of backpressured contexts
 * (OVR-6/OVR-7: parked costs come back exactly when items are popped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <msgpack.h>

#include "ctx.h"
#include "suites.h"
#include "testutil.h"

static sc_uid uid_of(const char *name, const char *uuid)
{
    return (sc_uid){ { name, strlen(name) }, { uuid, strlen(uuid) } };
}

static sc_str str_of(const char *s)
{
    return (sc_str){ s, strlen(s) };
}

static int str_is(sc_str s, const char *c)
{
    return sc_str_eq_c(s, c);
}

/* ---- the table ---------------------------------------------------------- */

static void test_table_init_is_empty(void)
{
    sc_ctx_table t;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_table_init(&t, &err), SC_OK);
    CU_ASSERT_EQUAL(t.count, 0);
    CU_ASSERT(t.nbuckets > 0);
    CU_ASSERT_EQUAL(t.nbuckets & (t.nbuckets - 1), 0);
    sc_uid p = uid_of("root", "0f0e");
    CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &p, SC_STR("c1")));
    sc_ctx_table_destroy(&t);
    CU_ASSERT_PTR_NULL(t.buckets);
}

static void test_init_copies_the_key(void)
{
    char name[] = "root", uuid[] = "0f0e", cid[] = "c1";
    sc_uid p = uid_of(name, uuid);
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, str_of(cid), 64, &err), SC_OK);
    /* The caller's bytes go away (they live in a frame that is reused). */
    memset(name, 'X', 4);
    memset(uuid, 'Y', 4);
    memset(cid, 'Z', 2);
    CU_ASSERT(str_is(c.peer_name, "root"));
    CU_ASSERT(str_is(c.peer_uuid, "0f0e"));
    CU_ASSERT(str_is(c.cid, "c1"));
    CU_ASSERT_EQUAL(c.buffer_size, 64);
    CU_ASSERT_EQUAL(c.count, 0);
    CU_ASSERT_EQUAL(c.stream_open, 0);
    CU_ASSERT_EQUAL(c.backpressure, 0);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 0);
    sc_ctx_destroy(&c);
}

static void test_insert_find_remove_one(void)
{
    sc_ctx_table t;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_table_init(&t, &err), SC_OK);
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c, &err), SC_OK);
    CU_ASSERT_EQUAL(t.count, 1);
    /* Found through other memory holding the same bytes. */
    char name[] = "root", uuid[] = "0f0e", cid[] = "c1";
    sc_uid q = uid_of(name, uuid);
    CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &q, str_of(cid)), &c);
    CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &q, SC_STR("c2")));
    sc_ctx_remove(&t, &c);
    CU_ASSERT_EQUAL(t.count, 0);
    CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &q, str_of(cid)));
    /* Removing what is not in the table changes nothing. */
    sc_ctx_remove(&t, &c);
    CU_ASSERT_EQUAL(t.count, 0);
    sc_ctx_destroy(&c);
    sc_ctx_table_destroy(&t);
}

/* Insert every key, check that each finds itself and nothing else does, then
 * remove them one by one checking the rest. */
static void check_distinct_keys(const char *const keys[][3], size_t n)
{
    sc_ctx_table t;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_table_init(&t, &err), SC_OK);
    sc_ctx *c = calloc(n, sizeof(*c));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (size_t i = 0; i < n; i++) {
        sc_uid p = uid_of(keys[i][0], keys[i][1]);
        CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c[i], &p, str_of(keys[i][2]), 64, &err), SC_OK);
        CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &p, str_of(keys[i][2])));
        CU_ASSERT_EQUAL_FATAL(sc_ctx_insert(&t, &c[i], &err), SC_OK);
    }
    CU_ASSERT_EQUAL(t.count, n);
    for (size_t i = 0; i < n; i++) {
        sc_uid p = uid_of(keys[i][0], keys[i][1]);
        CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &p, str_of(keys[i][2])), &c[i]);
    }
    for (size_t r = 0; r < n; r++) {
        sc_ctx_remove(&t, &c[r]);
        CU_ASSERT_EQUAL(t.count, n - r - 1);
        for (size_t i = 0; i < n; i++) {
            sc_uid p = uid_of(keys[i][0], keys[i][1]);
            sc_ctx *f = sc_ctx_find(&t, &p, str_of(keys[i][2]));
            if (i <= r) {
                CU_ASSERT_PTR_NULL(f);
            } else {
                CU_ASSERT_PTR_EQUAL(f, &c[i]);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        sc_ctx_destroy(&c[i]);
    free(c);
    sc_ctx_table_destroy(&t);
}

static void test_keys_that_differ_only_in_name_uuid_or_cid(void)
{
    static const char *const keys[][3] = {
        { "root", "0f0e", "c1" },
        { "rooT", "0f0e", "c1" },   /* name */
        { "root", "0f0f", "c1" },   /* uuid */
        { "root", "0f0e", "c2" },   /* cid */
        { "roo", "0f0e", "c1" },    /* shorter name */
        { "root", "0f0e", "c1 " },  /* longer cid */
        { "0f0e", "root", "c1" },   /* name and uuid swapped */
        { "c1", "0f0e", "root" },   /* name and cid swapped */
    };
    check_distinct_keys(keys, sizeof(keys) / sizeof(keys[0]));
}

static void test_keys_that_differ_only_at_the_part_boundaries(void)
{
    /* The same concatenation "abcd" split in every way. */
    static const char *const keys[][3] = {
        { "ab", "c", "d" }, { "a", "bc", "d" }, { "a", "b", "cd" }, { "abc", "", "d" },
        { "", "abc", "d" }, { "", "ab", "cd" }, { "a", "", "bcd" }, { "", "", "abcd" },
        { "abcd", "", "" }, { "", "abcd", "" }, { "abc", "d", "" }, { "ab", "cd", "" },
        { "a", "bcd", "" },
    };
    check_distinct_keys(keys, sizeof(keys) / sizeof(keys[0]));
}

static void test_keys_with_nul_bytes_are_compared_by_length(void)
{
    sc_ctx_table t;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_table_init(&t, &err), SC_OK);
    sc_uid p1 = { { "a\0b", 3 }, { "u", 1 } };
    sc_uid p2 = { { "a", 1 }, { "\0bu", 3 } };
    sc_uid p3 = { { "a", 1 }, { "u", 1 } };
    sc_ctx c1, c2, c3;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c1, &p1, SC_STR("c"), 4, &err), SC_OK);
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c2, &p2, SC_STR("c"), 4, &err), SC_OK);
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c3, &p3, (sc_str){ "c\0", 2 }, 4, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c1, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c2, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c3, &err), SC_OK);
    CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &p1, SC_STR("c")), &c1);
    CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &p2, SC_STR("c")), &c2);
    CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &p3, ((sc_str){ "c\0", 2 })), &c3);
    CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &p3, SC_STR("c")));
    CU_ASSERT_EQUAL(c1.peer_name.len, 3);
    CU_ASSERT_EQUAL(memcmp(c1.peer_name.ptr, "a\0b", 3), 0);
    sc_ctx_remove(&t, &c1);
    sc_ctx_remove(&t, &c2);
    sc_ctx_remove(&t, &c3);
    CU_ASSERT_EQUAL(t.count, 0);
    sc_ctx_destroy(&c1);
    sc_ctx_destroy(&c2);
    sc_ctx_destroy(&c3);
    sc_ctx_table_destroy(&t);
}

static void test_many_contexts_grow_the_table_then_all_are_removed(void)
{
    enum { N = 20000, PEERS = 7 };
    static const char *const names[PEERS] = { "root", "worker", "w", "arbiter", "", "x", "svc" };
    char uuids[PEERS][40];
    for (int i = 0; i < PEERS; i++)
        snprintf(uuids[i], sizeof(uuids[i]), "%08x-0000-4000-8000-%012d", (unsigned)i * 2654435761u,
                 i);
    sc_ctx_table t;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_table_init(&t, &err), SC_OK);
    sc_ctx *c = calloc(N, sizeof(*c));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char cid[48];
    for (int i = 0; i < N; i++) {
        sc_uid p = uid_of(names[i % PEERS], uuids[i % PEERS]);
        snprintf(cid, sizeof(cid), "cid-%d", i / PEERS);
        CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c[i], &p, str_of(cid), 64, &err), SC_OK);
        CU_ASSERT_EQUAL_FATAL(sc_ctx_insert(&t, &c[i], &err), SC_OK);
    }
    CU_ASSERT_EQUAL(t.count, N);
    CU_ASSERT(t.nbuckets >= N / 2);
    CU_ASSERT_EQUAL(t.nbuckets & (t.nbuckets - 1), 0);
    int misses = 0;
    for (int i = 0; i < N; i++) {
        sc_uid p = uid_of(names[i % PEERS], uuids[i % PEERS]);
        snprintf(cid, sizeof(cid), "cid-%d", i / PEERS);
        misses += sc_ctx_find(&t, &p, str_of(cid)) != &c[i];
    }
    CU_ASSERT_EQUAL(misses, 0);
    /* A cid that exists for one peer is not found for another. */
    sc_uid other = uid_of("root", uuids[1]);
    CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &other, SC_STR("cid-0")));

    /* Remove the odd ones, check the even ones, then remove the rest. */
    for (int i = 1; i < N; i += 2)
        sc_ctx_remove(&t, &c[i]);
    CU_ASSERT_EQUAL(t.count, N / 2);
    misses = 0;
    for (int i = 0; i < N; i++) {
        sc_uid p = uid_of(names[i % PEERS], uuids[i % PEERS]);
        snprintf(cid, sizeof(cid), "cid-%d", i / PEERS);
        misses += sc_ctx_find(&t, &p, str_of(cid)) != (i % 2 ? NULL : &c[i]);
    }
    CU_ASSERT_EQUAL(misses, 0);
    for (int i = N - 2; i >= 0; i -= 2)
        sc_ctx_remove(&t, &c[i]);
    CU_ASSERT_EQUAL(t.count, 0);
    for (size_t b = 0; b < t.nbuckets; b++)
        CU_ASSERT_PTR_NULL(t.buckets[b]);
    for (int i = 0; i < N; i++)
        sc_ctx_destroy(&c[i]);
    free(c);
    sc_ctx_table_destroy(&t);
}

/* ---- the queue ------------------------------------------------------------ */

/* Values with their exact msgpack bytes. */
static const struct {
    sc_msg_kind kind;
    const char *hex;
} fifo_values[] = {
    { SC_MSG_STARTED, "c0" },                              /* nil */
    { SC_MSG_YIELD, "00" },                                /* 0 */
    { SC_MSG_YIELD, "01" },                                /* 1 */
    { SC_MSG_YIELD, "ff" },                                /* -1 */
    { SC_MSG_YIELD, "cd44d0" },                            /* 17616 */
    { SC_MSG_YIELD, "d3fffffffefffffffe" },                /* -4294967298 */
    { SC_MSG_YIELD, "cfffffffffffffffff" },                /* 2**64-1 */
    { SC_MSG_YIELD, "a26869" },                            /* "hi" */
    { SC_MSG_YIELD, "a0" },                                /* "" */
    { SC_MSG_YIELD, "c3" },                                /* true */
    { SC_MSG_YIELD, "c403000102" },                        /* bin */
    { SC_MSG_YIELD, "cb3ff8000000000000" },                /* 1.5 */
    /* {'a': [1, 2.5, 'x', None, True]} of rpc_return.jsonl */
    { SC_MSG_YIELD, "81a1619501cb4004000000000000a178c0c3" },
    /* {"k": {"n": [[], {}], "m": {"z": -5}}} */
    { SC_MSG_YIELD, "81a16b82a16e929080a16d81a17afb" },
    { SC_MSG_RETURN, "92a761726269746572cd44d0" },       /* ["arbiter", 17616] */
};
#define NFIFO (sizeof(fifo_values) / sizeof(fifo_values[0]))

static void test_push_peek_pop_keeps_fifo_order_and_exact_bytes(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    size_t total = 0;
    for (size_t i = 0; i < NFIFO; i++) {
        msgpack_object o;
        CU_ASSERT_EQUAL_FATAL(tu_unpack_hex(fifo_values[i].hex, &z, &o), 0);
        sc_push_outcome out = 0;
        size_t bytes = 99;
        CU_ASSERT_EQUAL(sc_ctx_push(&c, fifo_values[i].kind, &o, &out, &bytes, &err), SC_OK);
        CU_ASSERT_EQUAL(out, SC_PUSH_QUEUED);
        CU_ASSERT_EQUAL(bytes, 0);
        total += 5 + strlen(fifo_values[i].hex) / 2;
        CU_ASSERT_EQUAL(c.count, i + 1);
        CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), total);
    }
    for (size_t i = 0; i < NFIFO; i++) {
        sc_ctx_item it;
        CU_ASSERT_EQUAL_FATAL(sc_ctx_peek(&c, &it), 1);
        CU_ASSERT_EQUAL(it.kind, fifo_values[i].kind);
        char what[32];
        snprintf(what, sizeof(what), "item %zu", i);
        CU_ASSERT(tu_bytes_eq_hex(what, it.value, it.len, fifo_values[i].hex));
        /* peek twice: the same */
        sc_ctx_item again;
        CU_ASSERT_EQUAL(sc_ctx_peek(&c, &again), 1);
        CU_ASSERT_PTR_EQUAL(again.value, it.value);
        size_t unparked_bytes = 99;
        int unparked = 99;
        sc_ctx_pop(&c, &unparked_bytes, &unparked);
        CU_ASSERT_EQUAL(unparked, 0);
        CU_ASSERT_EQUAL(unparked_bytes, 0);
        total -= 5 + strlen(fifo_values[i].hex) / 2;
        CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), total);
    }
    CU_ASSERT_EQUAL(c.count, 0);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 0);
    msgpack_zone_destroy(&z);
    sc_ctx_destroy(&c);
}

static void test_peek_and_pop_of_an_empty_queue(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    sc_ctx_item it;
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 0);
    size_t ub = 99;
    int u = 99;
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(ub, 0);
    CU_ASSERT_EQUAL(u, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    sc_ctx_destroy(&c);
}

static void test_stop_is_queued_with_no_value(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    msgpack_zone z;
    msgpack_zone_init(&z, 256);
    msgpack_object one;
    CU_ASSERT_EQUAL_FATAL(tu_unpack_hex("01", &z, &one), 0);
    sc_push_outcome out;
    size_t bytes;
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_YIELD, &one, &out, &bytes, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_STOP, NULL, &out, &bytes, &err), SC_OK);
    CU_ASSERT_EQUAL(out, SC_PUSH_QUEUED);
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_RETURN, &one, &out, &bytes, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 6 + 5 + 6);
    sc_ctx_item it;
    size_t ub;
    int u;
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT_EQUAL(it.kind, SC_MSG_YIELD);
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT_EQUAL(it.kind, SC_MSG_STOP);
    CU_ASSERT_EQUAL(it.len, 0);
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT_EQUAL(it.kind, SC_MSG_RETURN);
    CU_ASSERT(tu_bytes_eq_hex("return after stop", it.value, it.len, "01"));
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 0);
    msgpack_zone_destroy(&z);
    sc_ctx_destroy(&c);
}

/* Push `n` yields of the int i (i = first, first+1, ...) and count outcomes. */
static void push_ints(sc_ctx *c, int first, int n, int *queued, int *parked, int *overrun,
                      size_t *parked_cost)
{
    for (int i = first; i < first + n; i++) {
        msgpack_object o = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = (uint64_t)i };
        sc_push_outcome out = 0;
        size_t bytes = 0;
        sc_err err;
        CU_ASSERT_EQUAL_FATAL(sc_ctx_push(c, SC_MSG_YIELD, &o, &out, &bytes, &err), SC_OK);
        switch (out) {
        case SC_PUSH_QUEUED: (*queued)++; CU_ASSERT_EQUAL(bytes, 0); break;
        case SC_PUSH_PARKED: (*parked)++; *parked_cost += bytes; break;
        case SC_PUSH_OVERRUN: (*overrun)++; CU_ASSERT_EQUAL(bytes, 0); break;
        default: CU_FAIL("unknown push outcome");
        }
    }
}

static void test_no_stream_64_queued_then_every_push_overruns(void)
{
    /* context_overrun.jsonl: 100 sent into a context with no stream, 64
     * buffered, 36 StreamOverrun errors. */
    sc_uid p = uid_of("client", "f564d782-789f-431f-b066-cd81a11d7fda");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    int q = 0, pk = 0, ov = 0;
    size_t cost = 0;
    push_ints(&c, 0, 64, &q, &pk, &ov, &cost);
    CU_ASSERT_EQUAL(q, 64);
    CU_ASSERT_EQUAL(ov, 0);
    size_t full = sc_ctx_queued_bytes(&c);
    push_ints(&c, 64, 36, &q, &pk, &ov, &cost);
    CU_ASSERT_EQUAL(q, 64);
    CU_ASSERT_EQUAL(pk, 0);
    CU_ASSERT_EQUAL(ov, 36);
    CU_ASSERT_EQUAL(cost, 0);
    CU_ASSERT_EQUAL(c.count, 64);
    CU_ASSERT_EQUAL(c.parked_bytes, 0);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), full);
    /* A STOP overruns like any other kind. */
    sc_push_outcome out;
    size_t bytes;
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_STOP, NULL, &out, &bytes, &err), SC_OK);
    CU_ASSERT_EQUAL(out, SC_PUSH_OVERRUN);
    /* Nothing of the overruns was stored: the 64 are 0..63 in order, and once
     * one is popped the next push fits again (OVR-4). */
    sc_ctx_item it;
    size_t ub;
    int u;
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT(tu_bytes_eq_hex("head", it.value, it.len, "00"));
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(u, 0);
    q = pk = ov = 0;
    push_ints(&c, 1000, 2, &q, &pk, &ov, &cost);
    CU_ASSERT_EQUAL(q, 1);
    CU_ASSERT_EQUAL(ov, 1);
    for (int i = 1; i < 64; i++) {
        CU_ASSERT_EQUAL_FATAL(sc_ctx_peek(&c, &it), 1);
        msgpack_zone z;
        msgpack_zone_init(&z, 64);
        msgpack_object o;
        CU_ASSERT_EQUAL_FATAL(tu_unpack(it.value, it.len, &z, &o), 0);
        CU_ASSERT_EQUAL(o.via.u64, (uint64_t)i);
        msgpack_zone_destroy(&z);
        sc_ctx_pop(&c, &ub, &u);
    }
    CU_ASSERT_EQUAL_FATAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT(tu_bytes_eq_hex("late push", it.value, it.len, "cd03e8"));
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(c.count, 0);
    sc_ctx_destroy(&c);
}

static void test_stream_without_backpressure_overruns(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 0;
    int q = 0, pk = 0, ov = 0;
    size_t cost = 0;
    push_ints(&c, 0, 70, &q, &pk, &ov, &cost);
    CU_ASSERT_EQUAL(q, 64);
    CU_ASSERT_EQUAL(pk, 0);
    CU_ASSERT_EQUAL(ov, 6);
    CU_ASSERT_EQUAL(c.count, 64);
    /* Backpressure without an open stream does not park either. */
    c.stream_open = 0;
    c.backpressure = 1;
    push_ints(&c, 0, 3, &q, &pk, &ov, &cost);
    CU_ASSERT_EQUAL(pk, 0);
    CU_ASSERT_EQUAL(ov, 9);
    CU_ASSERT_EQUAL(c.count, 64);
    sc_ctx_destroy(&c);
}

static void test_backpressure_parks_and_pop_unparks_exact_bytes(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 1;
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    /* 100 values of growing size: str of i bytes. */
    enum { N = 100 };
    size_t costs[N];
    char text[N];
    memset(text, 'v', sizeof(text));
    size_t parked_sum = 0;
    for (int i = 0; i < N; i++) {
        msgpack_object o = { .type = MSGPACK_OBJECT_STR };
        o.via.str.ptr = text;
        o.via.str.size = (uint32_t)i;
        sc_push_outcome out = 0;
        size_t bytes = 12345;
        CU_ASSERT_EQUAL_FATAL(sc_ctx_push(&c, SC_MSG_YIELD, &o, &out, &bytes, &err), SC_OK);
        size_t enc = (size_t)i + (i < 32 ? 1 : 2);   /* fixstr or str8 header */
        costs[i] = 5 + enc;
        if (i < 64) {
            CU_ASSERT_EQUAL(out, SC_PUSH_QUEUED);
            CU_ASSERT_EQUAL(bytes, 0);
        } else {
            CU_ASSERT_EQUAL(out, SC_PUSH_PARKED);
            CU_ASSERT_EQUAL(bytes, costs[i]);
            parked_sum += bytes;
        }
    }
    CU_ASSERT_EQUAL(c.count, N);
    CU_ASSERT_EQUAL(c.parked_bytes, parked_sum);
    size_t all = 0;
    for (int i = 0; i < N; i++)
        all += costs[i];
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), all);

    size_t unparked_sum = 0;
    for (int i = 0; i < N; i++) {
        sc_ctx_item it;
        CU_ASSERT_EQUAL_FATAL(sc_ctx_peek(&c, &it), 1);
        CU_ASSERT_EQUAL(it.kind, SC_MSG_YIELD);
        CU_ASSERT_EQUAL(it.len, costs[i] - 5);
        size_t ub = 0;
        int u = 0;
        sc_ctx_pop(&c, &ub, &u);
        if (i < N - 64) {
            /* item 64 + i moves into the buffer */
            CU_ASSERT_EQUAL(u, 1);
            CU_ASSERT_EQUAL(ub, costs[64 + i]);
        } else {
            CU_ASSERT_EQUAL(u, 0);
            CU_ASSERT_EQUAL(ub, 0);
        }
        unparked_sum += ub;
    }
    CU_ASSERT_EQUAL(unparked_sum, parked_sum);
    CU_ASSERT_EQUAL(c.parked_bytes, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 0);
    msgpack_zone_destroy(&z);
    sc_ctx_destroy(&c);
}

/* A model of the queue: costs in FIFO order; the first buffer_size are
 * buffered, the rest parked. */
static void test_interleaved_pushes_and_pops_match_a_model(void)
{
    enum { BS = 5, STEPS = 20000, MAXQ = 4096 };
    static size_t model[MAXQ];
    static uint32_t ids[MAXQ];
    size_t head = 0, tail = 0;   /* model[head..tail) */
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), BS, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 1;
    uint32_t rng = 12345, next_id = 0;
    size_t parked_total = 0, unparked_total = 0;
    static char text[300];
    memset(text, 'q', sizeof(text));
    int failures = 0;
    for (int step = 0; step < STEPS && failures < 5; step++) {
        rng = rng * 1103515245u + 12345u;
        unsigned r = (rng >> 16) % 100;
        if (step % 997 == 0)
            c.backpressure = !c.backpressure;   /* the stream can change mode */
        if (r < 55 && tail - head < MAXQ - 1) {
            /* push {"id": n, "pad": "q"*k} */
            size_t k = (rng >> 8) % 260;
            msgpack_object_kv kv[2];
            kv[0].key = (msgpack_object){ .type = MSGPACK_OBJECT_STR,
                                          .via.str = { 2, "id" } };
            kv[0].val = (msgpack_object){ .type = MSGPACK_OBJECT_POSITIVE_INTEGER,
                                          .via.u64 = next_id };
            kv[1].key = (msgpack_object){ .type = MSGPACK_OBJECT_STR,
                                          .via.str = { 3, "pad" } };
            kv[1].val = (msgpack_object){ .type = MSGPACK_OBJECT_STR,
                                          .via.str = { (uint32_t)k, text } };
            msgpack_object o = { .type = MSGPACK_OBJECT_MAP, .via.map = { 2, kv } };
            sc_push_outcome out;
            size_t bytes;
            CU_ASSERT_EQUAL_FATAL(sc_ctx_push(&c, SC_MSG_YIELD, &o, &out, &bytes, &err), SC_OK);
            size_t count = tail - head;
            sc_push_outcome want = count < BS ? SC_PUSH_QUEUED
                                   : c.backpressure ? SC_PUSH_PARKED : SC_PUSH_OVERRUN;
            if (out != want) {
                failures++;
                CU_FAIL("push outcome differs from the model");
                continue;
            }
            if (out == SC_PUSH_OVERRUN)
                continue;
            /* cost: header 5 + map 1 + "id" 3 + int + "pad" 4 + str */
            size_t intlen = next_id < 128 ? 1 : next_id < 256 ? 2 : next_id < 65536 ? 3 : 5;
            size_t strhdr = k < 32 ? 1 : k < 256 ? 2 : 3;
            size_t cost = 5 + 1 + 3 + intlen + 4 + strhdr + k;
            if (out == SC_PUSH_PARKED) {
                if (bytes != cost) {
                    failures++;
                    CU_FAIL("parked cost differs from the model");
                }
                parked_total += bytes;
            }
            model[tail % MAXQ] = cost;
            ids[tail % MAXQ] = next_id;
            tail++;
            next_id++;
        } else if (tail > head) {
            sc_ctx_item it;
            CU_ASSERT_EQUAL_FATAL(sc_ctx_peek(&c, &it), 1);
            msgpack_zone z;
            msgpack_zone_init(&z, 512);
            msgpack_object o;
            CU_ASSERT_EQUAL_FATAL(tu_unpack(it.value, it.len, &z, &o), 0);
            CU_ASSERT_EQUAL_FATAL(o.type, MSGPACK_OBJECT_MAP);
            if (o.via.map.ptr[0].val.via.u64 != ids[head % MAXQ]) {
                failures++;
                CU_FAIL("FIFO order differs from the model");
            }
            msgpack_zone_destroy(&z);
            size_t count = tail - head;
            size_t ub;
            int u;
            sc_ctx_pop(&c, &ub, &u);
            head++;
            size_t want_ub = count > BS ? model[(head + BS - 1) % MAXQ] : 0;
            if ((u != 0) != (count > BS) || ub != want_ub) {
                failures++;
                CU_FAIL("unparked bytes differ from the model");
            }
            unparked_total += ub;
        }
        if (c.count != tail - head) {
            failures++;
            CU_FAIL("count differs from the model");
        }
    }
    /* drain */
    while (tail > head) {
        size_t count = tail - head;
        size_t ub;
        int u;
        sc_ctx_pop(&c, &ub, &u);
        head++;
        CU_ASSERT_EQUAL(ub, count > BS ? model[(head + BS - 1) % MAXQ] : 0);
        unparked_total += ub;
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT_EQUAL(parked_total, unparked_total);
    CU_ASSERT_EQUAL(c.parked_bytes, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 0);
    sc_ctx_destroy(&c);
}

static void test_buffer_of_one_with_backpressure(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 1, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 1;
    int q = 0, pk = 0, ov = 0;
    size_t cost = 0;
    push_ints(&c, 0, 4, &q, &pk, &ov, &cost);   /* 0,1,2,3: 1 byte each */
    CU_ASSERT_EQUAL(q, 1);
    CU_ASSERT_EQUAL(pk, 3);
    CU_ASSERT_EQUAL(cost, 18);
    CU_ASSERT_EQUAL(c.parked_bytes, 18);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 24);
    size_t ub;
    int u;
    for (int i = 0; i < 3; i++) {
        sc_ctx_pop(&c, &ub, &u);
        CU_ASSERT_EQUAL(u, 1);
        CU_ASSERT_EQUAL(ub, 6);
    }
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(u, 0);
    CU_ASSERT_EQUAL(ub, 0);
    CU_ASSERT_EQUAL(c.parked_bytes, 0);
    sc_ctx_destroy(&c);
}

static void test_stop_can_be_parked_with_its_header_cost(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 2, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 1;
    int q = 0, pk = 0, ov = 0;
    size_t cost = 0;
    push_ints(&c, 0, 2, &q, &pk, &ov, &cost);
    sc_push_outcome out;
    size_t bytes;
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_STOP, NULL, &out, &bytes, &err), SC_OK);
    CU_ASSERT_EQUAL(out, SC_PUSH_PARKED);
    CU_ASSERT_EQUAL(bytes, 5);
    size_t ub;
    int u;
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(u, 1);
    CU_ASSERT_EQUAL(ub, 5);
    sc_ctx_item it;
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT_EQUAL(it.kind, SC_MSG_STOP);
    CU_ASSERT_EQUAL(it.len, 0);
    sc_ctx_destroy(&c);
}

static void test_destroy_discards_buffered_and_parked_items(void)
{
    /* OVR-9; ASan's leak check is the assertion. */
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 1;
    int q = 0, pk = 0, ov = 0;
    size_t cost = 0;
    push_ints(&c, 0, 200, &q, &pk, &ov, &cost);
    CU_ASSERT_EQUAL(pk, 136);
    sc_ctx_destroy(&c);
    CU_ASSERT_EQUAL(c.count, 0);
    CU_ASSERT_PTR_NULL(c.key);
}

/* ---- allocation failure ------------------------------------------------------ */

static void test_allocation_failure_in_table_init(void)
{
    sc_ctx_table t;
    sc_err err;
    sc_err_clear(&err);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_table_init(&t, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
    CU_ASSERT(err.msg[0] != '\0');
    CU_ASSERT_PTR_NULL(t.buckets);
}

static void test_allocation_failure_in_ctx_init(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    sc_err_clear(&err);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
    CU_ASSERT(err.msg[0] != '\0');
    CU_ASSERT_PTR_NULL(c.key);
    /* destroy after a failed init is harmless */
    sc_ctx_destroy(&c);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, NULL), SC_ENOMEM);
    sc_alloc_fail_at(0);
}

static void test_allocation_failure_while_growing_the_table(void)
{
    sc_ctx_table t;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_table_init(&t, &err), SC_OK);
    size_t nb = t.nbuckets;
    sc_ctx *c = calloc(nb + 1, sizeof(*c));
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char cid[32];
    sc_uid p = uid_of("root", "0f0e");
    for (size_t i = 0; i <= nb; i++) {
        snprintf(cid, sizeof(cid), "c%zu", i);
        CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c[i], &p, str_of(cid), 64, &err), SC_OK);
    }
    for (size_t i = 0; i < nb; i++)
        CU_ASSERT_EQUAL_FATAL(sc_ctx_insert(&t, &c[i], &err), SC_OK);
    CU_ASSERT_EQUAL(t.nbuckets, nb);
    /* The next insert must grow, and the growth fails. */
    sc_err_clear(&err);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c[nb], &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
    CU_ASSERT_EQUAL(t.count, nb);
    CU_ASSERT_EQUAL(t.nbuckets, nb);
    CU_ASSERT_PTR_NULL(sc_ctx_find(&t, &p, c[nb].cid));
    for (size_t i = 0; i < nb; i++)
        CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &p, c[i].cid), &c[i]);
    /* Without an error object the code is still right. */
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c[nb], NULL), SC_ENOMEM);
    sc_alloc_fail_at(0);
    /* And with memory it works. */
    CU_ASSERT_EQUAL(sc_ctx_insert(&t, &c[nb], &err), SC_OK);
    CU_ASSERT(t.nbuckets > nb);
    for (size_t i = 0; i <= nb; i++)
        CU_ASSERT_PTR_EQUAL(sc_ctx_find(&t, &p, c[i].cid), &c[i]);
    for (size_t i = 0; i <= nb; i++) {
        sc_ctx_remove(&t, &c[i]);
        sc_ctx_destroy(&c[i]);
    }
    CU_ASSERT_EQUAL(t.count, 0);
    free(c);
    sc_ctx_table_destroy(&t);
}

static void test_allocation_failure_in_push_stores_nothing(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 64, &err), SC_OK);
    msgpack_object one = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
    sc_push_outcome out;
    size_t bytes;

    /* The first push allocates the queue: fail it. */
    sc_err_clear(&err);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_YIELD, &one, &out, &bytes, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
    CU_ASSERT_EQUAL(c.count, 0);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 0);
    sc_ctx_item it;
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 0);

    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_YIELD, &one, &out, &bytes, &err), SC_OK);
    size_t before = sc_ctx_queued_bytes(&c);
    CU_ASSERT_EQUAL(before, 6);

    /* A value too big for the current allocation: the header fits, the
     * growth while packing the value fails. */
    static char big[5000];
    memset(big, 'b', sizeof(big));
    msgpack_object bigo = { .type = MSGPACK_OBJECT_STR, .via.str = { sizeof(big), big } };
    sc_err_clear(&err);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_YIELD, &bigo, &out, &bytes, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
    CU_ASSERT(err.msg[0] != '\0');
    CU_ASSERT_EQUAL(c.count, 1);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), before);
    CU_ASSERT_EQUAL(c.queue.write_rc, SC_OK);

    /* The queue still works, and the old item is intact. */
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_RETURN, &bigo, &out, &bytes, &err), SC_OK);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT_EQUAL(it.kind, SC_MSG_YIELD);
    CU_ASSERT(tu_bytes_eq_hex("old item", it.value, it.len, "01"));
    size_t ub;
    int u;
    sc_ctx_pop(&c, &ub, &u);
    CU_ASSERT_EQUAL(sc_ctx_peek(&c, &it), 1);
    CU_ASSERT_EQUAL(it.kind, SC_MSG_RETURN);
    CU_ASSERT_EQUAL(it.len, 3 + sizeof(big));
    sc_ctx_destroy(&c);
}

static void test_allocation_failure_while_parking(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_ctx_init(&c, &p, SC_STR("c1"), 2, &err), SC_OK);
    c.stream_open = 1;
    c.backpressure = 1;
    int q = 0, pk = 0, ov = 0;
    size_t cost = 0;
    push_ints(&c, 0, 3, &q, &pk, &ov, &cost);   /* 2 queued, 1 parked */
    CU_ASSERT_EQUAL(pk, 1);
    static char big[3000];
    memset(big, 'p', sizeof(big));
    msgpack_object bigo = { .type = MSGPACK_OBJECT_STR, .via.str = { sizeof(big), big } };
    sc_push_outcome out;
    size_t bytes = 77;
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_ctx_push(&c, SC_MSG_YIELD, &bigo, &out, &bytes, &err), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_EQUAL(bytes, 0);
    CU_ASSERT_EQUAL(c.count, 3);
    CU_ASSERT_EQUAL(c.parked_bytes, cost);
    CU_ASSERT_EQUAL(sc_ctx_queued_bytes(&c), 18);
    /* The parked one comes back with its cost; nothing else is parked. */
    size_t ub, total = 0;
    int u;
    for (int i = 0; i < 3; i++) {
        sc_ctx_pop(&c, &ub, &u);
        total += ub;
    }
    CU_ASSERT_EQUAL(total, cost);
    CU_ASSERT_EQUAL(c.parked_bytes, 0);
    sc_ctx_destroy(&c);
}

/* A buffer of zero messages would make the first parked item the head,
 * which parking cannot account for: init refuses it. */
static void test_buffer_of_zero_with_backpressure(void)
{
    sc_uid p = uid_of("root", "0f0e");
    sc_ctx c;
    sc_err err;
    CU_ASSERT_EQUAL(sc_ctx_init(&c, &p, SC_STR("c1"), 0, &err), SC_EARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "at least one message"));
}

int register_ctx_tests(void)
{
    static CU_TestInfo tests[] = {
        { "table_init_is_empty", test_table_init_is_empty },
        { "init_copies_the_key", test_init_copies_the_key },
        { "insert_find_remove_one", test_insert_find_remove_one },
        { "keys_that_differ_only_in_name_uuid_or_cid",
          test_keys_that_differ_only_in_name_uuid_or_cid },
        { "keys_that_differ_only_at_the_part_boundaries",
          test_keys_that_differ_only_at_the_part_boundaries },
        { "keys_with_nul_bytes_are_compared_by_length",
          test_keys_with_nul_bytes_are_compared_by_length },
        { "many_contexts_grow_the_table_then_all_are_removed",
          test_many_contexts_grow_the_table_then_all_are_removed },
        { "push_peek_pop_keeps_fifo_order_and_exact_bytes",
          test_push_peek_pop_keeps_fifo_order_and_exact_bytes },
        { "peek_and_pop_of_an_empty_queue", test_peek_and_pop_of_an_empty_queue },
        { "stop_is_queued_with_no_value", test_stop_is_queued_with_no_value },
        { "no_stream_64_queued_then_every_push_overruns",
          test_no_stream_64_queued_then_every_push_overruns },
        { "stream_without_backpressure_overruns", test_stream_without_backpressure_overruns },
        { "backpressure_parks_and_pop_unparks_exact_bytes",
          test_backpressure_parks_and_pop_unparks_exact_bytes },
        { "interleaved_pushes_and_pops_match_a_model",
          test_interleaved_pushes_and_pops_match_a_model },
        { "buffer_of_one_with_backpressure", test_buffer_of_one_with_backpressure },
        { "stop_can_be_parked_with_its_header_cost", test_stop_can_be_parked_with_its_header_cost },
        { "destroy_discards_buffered_and_parked_items",
          test_destroy_discards_buffered_and_parked_items },
        { "allocation_failure_in_table_init", test_allocation_failure_in_table_init },
        { "allocation_failure_in_ctx_init", test_allocation_failure_in_ctx_init },
        { "allocation_failure_while_growing_the_table",
          test_allocation_failure_while_growing_the_table },
        { "allocation_failure_in_push_stores_nothing",
          test_allocation_failure_in_push_stores_nothing },
        { "allocation_failure_while_parking", test_allocation_failure_while_parking },
        { "buffer_of_zero_with_backpressure", test_buffer_of_zero_with_backpressure },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("ctx", tests);
}
