/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_budget.c - unit tests of the hardening bounds of spec/limits.md on a
 * whole actor over the simulated peer: retained-byte budgets per connection
 * and in all (budget.c, LIM-20, LIM-21), charged to the sender so that an
 * imitator of a uid spends its own (CID-4); connections per address
 * (peeraddr.c, LIM-23); the idle and message timeouts (LIM-22, LIM-24); and
 * the rate limit on peer-caused warnings (LIM-25). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "actortest.h"
#include "suites.h"

static int echo_ok(simpeer *p, int h, const char *cid)
{
    sp_cmd(p, h, cid, "scwire_service", "echo", "{'value': 7}");
    return at_functype(p, h, cid, "asyncfunc") && at_return(p, h, cid, "7") && sp_unread(p, h) == 0;
}

/* ctx_no_stream keeping a value of n bytes: 1 when it started. */
static int keep(simpeer *p, int h, const char *cid, size_t n)
{
    char *v = at_repeat('v', n);
    sp_cmd(p, h, cid, "scwire_service", "ctx_no_stream", "{'value': '%s'}", v);
    free(v);
    const sp_msg *m = sp_next(p, h);
    if (!m || !sp_match(m, "{'functype': 'context', 'cid': '%s'}", cid))
        return 0;
    sp_next(p, h);   /* started, with the value */
    return 1;
}

/* LIM-20: a connection's kept values are bounded; the command that would
 * cross gets MemoryError without functype, others are served, and what an
 * ended context kept is given back. */
static void test_conn_budget_refuses_the_crossing_command(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_conn_bytes = 1u << 20;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p), other = at_peer(&p);
    CU_ASSERT(keep(&p, h, "k1", 300000) && keep(&p, h, "k2", 300000) && keep(&p, h, "k3", 300000));
    char *v = at_repeat('v', 300000);
    sp_cmd(&p, h, "k4", "scwire_service", "ctx_no_stream", "{'value': '%s'}", v);
    CU_ASSERT(sp_expect_error(&p, h, "k4", "MemoryError", "--max-conn-bytes") != NULL);
    CU_ASSERT(echo_ok(&p, h, "e1") && echo_ok(&p, other, "e2"));
    sp_cmd(&p, h, "x1", "self", "_cancel_task", "{'cid': 'k1'}");
    CU_ASSERT(at_functype(&p, h, "x1", "asyncfunc"));
    sp_pump(&p);
    while (sp_unread(&p, h))
        sp_next(&p, h);
    sp_cmd(&p, h, "k5", "scwire_service", "ctx_no_stream", "{'value': '%s'}", v);
    CU_ASSERT(at_functype(&p, h, "k5", "context"));
    free(v);
    at_finish(&p);
}

/* LIM-21: the total over connections is bounded too, and crossing it
 * refuses only the connection whose command would cross; a connection that
 * keeps little (within its slice, 1200000 / 32 bytes here) is still served. */
static void test_total_budget_refuses_only_the_crossing_connection(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_conn_bytes = 1u << 20;
    cfg.limits.max_total_bytes = 1200000;
    cfg.limits.max_conns = 16;
    simpeer p;
    at_start(&p, &cfg);
    int a = at_peer(&p), b = at_peer(&p), c = at_peer(&p);
    CU_ASSERT(keep(&p, a, "k1", 590000) && keep(&p, b, "k2", 590000));
    char *v = at_repeat('v', 200000);
    sp_cmd(&p, b, "k3", "scwire_service", "ctx_no_stream", "{'value': '%s'}", v);
    free(v);
    CU_ASSERT(sp_expect_error(&p, b, "k3", "MemoryError", "--max-total-bytes") != NULL);
    CU_ASSERT(echo_ok(&p, a, "e1") && echo_ok(&p, b, "e2"));
    /* Past the total now, but within c's slice. */
    CU_ASSERT(keep(&p, c, "k4", 30000));
    at_finish(&p);
}

/* LIM-20 with CID-4: a second connection presenting the uid of the first
 * fills a context of the first with yields; the bytes and the parking are
 * on the second's account, so only the second is refused and paused. */
static void test_an_imitator_spends_its_own_budget(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.msg_buffer_size = 4;
    cfg.limits.park_max_msgs = 10;
    cfg.limits.max_conn_bytes = 1u << 20;
    simpeer p;
    at_start(&p, &cfg);
    int victim = at_peer(&p), imitator = at_peer(&p);
    sp_cmd(&p, victim, "s1", "scwire_service", "ctx_slow_sink", "{'delay': 100.0, 'backpressure': true}");
    CU_ASSERT(at_functype(&p, victim, "s1", "context"));
    sp_next(&p, victim);
    sp_bytes b = { 0 };
    for (int i = 0; i < 40; i++)
        sp_framef(&b, SC_CODEC_MSGPACK, "{'yield': %d, 'cid': 's1'}", i);
    sp_feed(&p, imitator, b.data, b.len);
    sp_bytes_free(&b);
    CU_ASSERT(!sp_want_read(&p, imitator));
    CU_ASSERT(sp_want_read(&p, victim));
    CU_ASSERT(echo_ok(&p, victim, "e1"));
    /* The victim's own yields still go in: its parking budget is whole. */
    sp_send(&p, victim, "{'yield': 'mine', 'cid': 's1'}");
    CU_ASSERT(sp_want_read(&p, victim) && sp_unread(&p, victim) == 0);
    at_finish(&p);
}

/* LIM-23: one address gets its share of the connections, no more; a
 * connection that closes gives its slot back. */
static void test_connections_per_address(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_conns_per_addr = 3;
    simpeer p;
    at_start(&p, &cfg);
    int h[3];
    for (int i = 0; i < 3; i++)
        h[i] = sp_accept(&p);
    CU_ASSERT(h[0] >= 0 && h[1] >= 0 && h[2] >= 0);
    CU_ASSERT(sp_accept(&p) == SC_ELIMIT);
    CU_ASSERT(sp_log_has(&p, "127.0.0.1 already has 3 connections open"));
    sp_eof(&p, h[1], 0);
    sp_pump(&p);
    CU_ASSERT(sp_accept(&p) >= 0);
    at_finish(&p);
}

/* LIM-22: after the handshake, a connection with no message for the idle
 * timeout is closed; each message starts the wait again. */
static void test_idle_timeout(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.idle_timeout = 2.0;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_run_timers(&p, 1.5);
    CU_ASSERT(!sp_closed(&p, h) && echo_ok(&p, h, "e1"));
    sp_run_timers(&p, 1.5);
    CU_ASSERT(!sp_closed(&p, h));
    sp_run_timers(&p, 1.0);
    CU_ASSERT(sp_closed(&p, h));
    CU_ASSERT(sp_log_has(&p, "the idle timeout"));
    at_finish(&p);
}

/* LIM-24: a message begun and not finished within the message timeout
 * closes the connection, idle timeout or not; whole messages do not. */
static void test_message_timeout(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.message_timeout = 1.0;
    simpeer p;
    at_start(&p, &cfg);
    int slow = at_peer(&p), calm = at_peer(&p);
    sp_feed(&p, slow, "\x81", 1);
    sp_run_timers(&p, 0.5);
    CU_ASSERT(!sp_closed(&p, slow));
    sp_feed(&p, slow, "\xa3", 1);
    sp_run_timers(&p, 0.6);
    CU_ASSERT(sp_closed(&p, slow));
    CU_ASSERT(sp_log_has(&p, "the message timeout"));
    sp_run_timers(&p, 5.0);
    CU_ASSERT(!sp_closed(&p, calm) && echo_ok(&p, calm, "e1"));
    at_finish(&p);
}

/* LIM-25: messages for an unknown context are dropped with a warning each,
 * ten a second per connection at most, the rest summed up. */
static void test_warnings_are_rate_limited(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    unsigned before = p.warnings;
    sp_bytes b = { 0 };
    for (int i = 0; i < 500; i++)
        sp_framef(&b, SC_CODEC_MSGPACK, "{'yield': %d, 'cid': 'nobody'}", i);
    sp_feed(&p, h, b.data, b.len);
    sp_bytes_free(&b);
    CU_ASSERT(p.warnings - before == 10);
    CU_ASSERT(sp_stats(&p).dropped == 500);
    sp_advance(&p, 1.5);
    sp_send(&p, h, "{'yield': 0, 'cid': 'nobody'}");
    CU_ASSERT(sp_log_has(&p, "490 more warnings like these about connection"));
    CU_ASSERT(echo_ok(&p, h, "e1"));
    at_finish(&p);
}

int register_budget_tests(void)
{
    static CU_TestInfo tests[] = {
        { "conn_budget_refuses_the_crossing_command", test_conn_budget_refuses_the_crossing_command },
        { "total_budget_refuses_only_the_crossing_connection",
          test_total_budget_refuses_only_the_crossing_connection },
        { "an_imitator_spends_its_own_budget", test_an_imitator_spends_its_own_budget },
        { "connections_per_address", test_connections_per_address },
        { "idle_timeout", test_idle_timeout },
        { "message_timeout", test_message_timeout },
        { "warnings_are_rate_limited", test_warnings_are_rate_limited },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("budget", tests);
}
