/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_regress.c - one test per crash input of fuzz/regressions/: each
 * replays the scenario of the input (named in the comment, with the README
 * of its directory saying what went wrong) through the public API and
 * asserts the fixed behaviour, so that a bug the fuzzers found stays fixed
 * even where the fuzzers are not built.  The comment above each test names
 * the requirement ids of spec/ it checks. */
#include <string.h>

#include <CUnit/CUnit.h>

#include "codec.h"
#include "scan.h"
#include "simpeer.h"
#include "suites.h"

/* The peer of the fuzz_actor inputs: its uid is pool entry 0 of the
 * harness, whose uuid happens to be the actor's own. */
#define FZ_NAME "client"
#define FZ_UUID SP_ACTOR_UUID

/* fuzz_actor's limit profile 2, where the actor's own error replies do
 * not fit the message limit of 160 bytes. */
static sc_actor_config profile2(void)
{
    sc_actor_config c;
    sc_actor_config_default(&c);
    c.limits.max_conns = 2;
    c.limits.msg_buffer_size = 4;
    c.limits.park_max_msgs = 8;
    c.limits.max_frame = 160;
    c.limits.max_depth = 6;
    c.limits.max_str = 100;
    c.limits.max_entries = 8;
    c.limits.max_contexts = 3;
    c.limits.handshake_timeout = 1.0;
    c.limits.park_max_bytes = 200;
    c.limits.max_outbuf = 160;
    return c;
}

static int fuzz_peer(simpeer *p)
{
    int h = sp_handshake(p, FZ_NAME, FZ_UUID);
    CU_ASSERT_FATAL(h >= 0);
    return h;
}

/* After the offending connection was closed, nothing of it is left and the
 * actor serves a new one. */
static void only_that_connection(simpeer *p, int h)
{
    CU_ASSERT(sp_closed(p, h));
    sc_actor_stats st = sp_stats(p);
    CU_ASSERT(st.contexts == 0);
    CU_ASSERT(st.conns == 0);
    int h2 = fuzz_peer(p);
    sp_cmd(p, h2, "e1", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_expect(p, h2, "{'functype': 'asyncfunc', 'cid': 'e1'}"));
    CU_ASSERT(sp_expect(p, h2, "{'return': 1, 'cid': 'e1'}"));
    CU_ASSERT(!p->exited);
    CU_ASSERT(sp_free(p) == 0);
}

/* uaf-dispatch-cmd-bad-kwargs-error-too-big.  LIM-1: `sleep` without its
 * kwarg is refused with a TypeError that is over the message limit; the
 * actor closes that connection (the task it had just made is freed once,
 * not twice) and goes on serving others. */
static void test_sleep_refusal_over_limit_closes_once(void)
{
    simpeer p;
    sc_actor_config cfg = profile2();
    CU_ASSERT_FATAL(sp_init(&p, &cfg) == SC_OK);
    int h = fuzz_peer(&p);
    sp_cmd(&p, h, "c0", "scwire_service", "sleep", "{}");
    only_that_connection(&p, h);
}

/* uaf-cancel-task-error-too-big.  LIM-1: `self._cancel_task` of a running
 * context whose ContextCancelled error is over the message limit: the
 * connection closes and the cancelled task is not used after it was freed. */
static void test_cancel_task_error_over_limit_closes_once(void)
{
    simpeer p;
    sc_actor_config cfg = profile2();
    CU_ASSERT_FATAL(sp_init(&p, &cfg) == SC_OK);
    int h = fuzz_peer(&p);
    sp_cmd(&p, h, "c0", "scwire_service", "ctx_no_stream", "{'value': nil}");
    CU_ASSERT(sp_expect(&p, h, "{'functype': 'context', 'cid': 'c0'}"));
    CU_ASSERT(sp_expect(&p, h, "{'started': nil, 'cid': 'c0'}"));
    sp_cmd(&p, h, "k0", "self", "_cancel_task", "{'cid': 'c0'}");
    only_that_connection(&p, h);
}

/* uaf-step-ctx-error-send-fails.  LIM-1, SVC-15: `ctx_error_after_started`
 * sends `started`, then its error is over the message limit: the connection
 * closes and the finished task is not used after it was freed. */
static void test_ctx_error_over_limit_closes_once(void)
{
    simpeer p;
    sc_actor_config cfg = profile2();
    CU_ASSERT_FATAL(sp_init(&p, &cfg) == SC_OK);
    int h = fuzz_peer(&p);
    sp_cmd(&p, h, "c0", "scwire_service", "ctx_error_after_started", "{'type_str': 'ValueError'}");
    CU_ASSERT(sp_expect(&p, h, "{'functype': 'context', 'cid': 'c0'}"));
    CU_ASSERT(sp_expect(&p, h, "{'started': nil, 'cid': 'c0'}"));
    only_that_connection(&p, h);
}

/* type-str-with-nul-sent-empty.  ERR-1: a `raise_error` whose type_str
 * holds a NUL byte is refused with a TypeError; no error goes out with an
 * empty (cut) type_str, and the channel stays usable. */
static void test_raise_error_type_str_with_nul_refused(void)
{
    simpeer p;
    CU_ASSERT_FATAL(sp_init(&p, NULL) == SC_OK);
    int h = fuzz_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "raise_error", "{'type_str': '\\0\\x04lueError', 'text': 'kaboom'}");
    CU_ASSERT(sp_expect_error(&p, h, "c1", "TypeError", "type_str") != NULL);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_cmd(&p, h, "e1", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_expect(&p, h, "{'functype': 'asyncfunc', 'cid': 'e1'}"));
    CU_ASSERT(sp_expect(&p, h, "{'return': 1, 'cid': 'e1'}"));
    CU_ASSERT(!sp_closed(&p, h));
    CU_ASSERT(sp_free(&p) == 0);
}

/* The error code of a reader fed the stream in pieces of `piece` bytes. */
static int reader_error(const sc_limits *lim, const char *data, size_t len, size_t piece)
{
    sc_reader *r;
    sc_err err;
    CU_ASSERT_FATAL(sc_reader_new(SC_CODEC_MSGPACK, lim, &r, &err) == SC_OK);
    int rc = SC_AGAIN;
    for (size_t off = 0; off < len && rc == SC_AGAIN; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        if (sc_reader_feed(r, data + off, n) != SC_OK)
            break;
        sc_frame fr;
        rc = sc_reader_next(r, &fr);
    }
    rc = sc_reader_err(r);
    sc_reader_free(r);
    return rc;
}

/* scan-error-code-depends-on-chunking.  FRAME-12, LIM-2: a 3-array whose
 * third item would begin exactly at the message limit, with the invalid
 * byte 0xc1 there.  Whole or byte by byte, the stream is refused for the
 * limit (the byte past it is never read), so a connection closes for the
 * same reason however TCP splits it. */
static void test_scan_error_at_limit_independent_of_chunking(void)
{
    static const char payload[] = "\x93\xa7" "aaaaaaa" "\xa6" "bbbbbb" "\xc1";
    size_t len = sizeof(payload) - 1;
    sc_limits lim;
    sc_limits_default(&lim);
    lim.max_frame = 16;
    lim.max_depth = 1;

    sc_scanner s;
    sc_scan_reset(&s);
    size_t obj_len = 0;
    sc_err err;
    CU_ASSERT(sc_scan(&s, (const uint8_t *)payload, len, &lim, &obj_len, &err) == SC_ELIMIT);
    sc_scan_reset(&s);
    int rc = SC_AGAIN;
    for (size_t n = 1; n <= len && rc == SC_AGAIN; n++)
        rc = sc_scan(&s, (const uint8_t *)payload, n, &lim, &obj_len, &err);
    CU_ASSERT(rc == SC_ELIMIT);

    CU_ASSERT(reader_error(&lim, payload, len, len) == SC_ELIMIT);
    CU_ASSERT(reader_error(&lim, payload, len, 1) == SC_ELIMIT);
}

static CU_TestInfo tests[] = {
    { "sleep_refusal_over_limit_closes_once", test_sleep_refusal_over_limit_closes_once },
    { "cancel_task_error_over_limit_closes_once", test_cancel_task_error_over_limit_closes_once },
    { "ctx_error_over_limit_closes_once", test_ctx_error_over_limit_closes_once },
    { "raise_error_type_str_with_nul_refused", test_raise_error_type_str_with_nul_refused },
    { "scan_error_at_limit_independent_of_chunking", test_scan_error_at_limit_independent_of_chunking },
    CU_TEST_INFO_NULL,
};

int register_regress_tests(void)
{
    return sc_add_suite("regress", tests);
}
