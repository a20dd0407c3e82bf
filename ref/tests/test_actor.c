/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_actor.c - the sans-IO actor driven as the libev glue drives it, by
 * the simulated peers of simpeer.h, with a fake clock and fake randomness.
 * Every message the actor sends is compared byte for byte (simpeer checks
 * on top that all output decodes, starts with the actor's uid and carries
 * only maps and nil).  The comment above each test names the requirement
 * ids of spec/ it checks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "actortest.h"
#include "msg.h"
#include "simpeer.h"
#include "suites.h"

#define ANAME "scwire-ref"
#define AU SP_ACTOR_UUID
#define AREPR "('" ANAME "', '" AU "')"
#define U1 AT_PEER_UUID
#define U2 "22222222-2222-4222-8222-222222222222"
#define RU "99999999-9999-4999-8999-999999999999"
#define PREPR "('peer', '" U1 "')"

/* ---- helpers ------------------------------------------------------------------- */

static int started(simpeer *p, int h, const char *cid, const char *value)
{
    return sp_expect(p, h, "{'started': %s, 'cid': '%s'}", value, cid);
}

static int yielded(simpeer *p, int h, const char *cid, const char *value)
{
    return sp_expect(p, h, "{'yield': %s, 'cid': '%s'}", value, cid);
}

static int stopped(simpeer *p, int h, const char *cid)
{
    return sp_expect(p, h, "{'stop': true, 'cid': '%s'}", cid);
}

/* A whole echo round trip on h. */
static int echo_ok(simpeer *p, int h, const char *cid)
{
    sp_cmd(p, h, cid, "scwire_service", "echo", "{'value': [1, 'x']}");
    return at_functype(p, h, cid, "asyncfunc") && at_return(p, h, cid, "[1, 'x']") &&
           sp_unread(p, h) == 0;
}

/* n yields i0, i0+1, ... for cid, arriving in one segment. */
static void send_yields(simpeer *p, int h, const char *cid, int i0, int n)
{
    sp_bytes b = { 0 };
    for (int i = i0; i < i0 + n; i++)
        sp_framef(&b, p->conns[h].codec, "{'yield': %d, 'cid': '%s'}", i, cid);
    sp_feed(p, h, b.data, b.len);
    sp_bytes_free(&b);
}

static void send_hex(simpeer *p, int h, const char *hex)
{
    sp_bytes b = { 0 };
    char text[512];
    snprintf(text, sizeof(text), "<%s>", hex);
    CU_ASSERT_FATAL(sp_pack(&b, text) == 0);
    sp_feed(p, h, b.data, b.len);
    sp_bytes_free(&b);
}

static const char *overrun_tb(char *out, size_t n, const char *cid, int no_stream)
{
    snprintf(out, n,
             "tractor._exceptions.StreamOverrun: Task context stream was overrun\n%s"
             "local task: %s @ " AREPR "\nremote sender: " PREPR "\n",
             no_stream ? "\n*** No stream open on `" ANAME "` side! ***\n\n" : "", cid);
    return out;
}

/* ---- handshake -------------------------------------------------------------------- */

/* HS-1, HS-2, HS-3, HS-4: the actor's uid is its first message, sent before
 * the peer says anything, the same on every connection. */
static void test_hs_uid_first(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = sp_accept(&p), b = sp_accept(&p);
    CU_ASSERT(a >= 0 && b >= 0);
    CU_ASSERT(sp_unread(&p, a) == 1 && sp_unread(&p, b) == 1);
    const sp_msg *m = sp_next(&p, a);
    CU_ASSERT(sp_match(m, "['" ANAME "', '" AU "']"));
    /* 92 aa "scwire-ref" d9 24 <36 bytes> */
    CU_ASSERT(m && m->len == 1 + 11 + 2 + 36 && (unsigned char)m->raw[12] == 0xd9);
    CU_ASSERT(sp_expect(&p, b, "['" ANAME "', '" AU "']"));
    sp_send_uid(&p, a, "peer", U1);
    CU_ASSERT(sp_unread(&p, a) == 0 && !sp_closed(&p, a));
    CU_ASSERT(echo_ok(&p, a, "c1"));
    at_finish(&p);
}

/* HS-5: any array of two or more str is a uid; more items are ignored and
 * the uuid is not checked. */
static void test_hs_lenient_uid(void)
{
    static const char *const uids[] = { "['peer', 'u', 3, nil]", "['', '']", "['p', 'not-a-uuid']" };
    simpeer p;
    at_start(&p, NULL);
    for (size_t i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
        int h = sp_accept(&p);
        sp_next(&p, h);
        sp_send(&p, h, "%s", uids[i]);
        CU_ASSERT(!sp_closed(&p, h));
        sp_send(&p, h, "{'cmd': ['scwire_service', 'echo', {'value': 1}, ['x', 'y'], 'c1']}");
        CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc") && at_return(&p, h, "c1", "1"));
    }
    at_finish(&p);
}

/* HS-6, SEC-8 rows 13-15: a first message that is not a uid closes that
 * connection only, and nothing but the actor's uid went out on it. */
static void test_hs_invalid(void)
{
    static const char *const bad[] = { "42", "nil", "[]", "['x']", "{}", "'ab'", "[5, 'u']",
                                       "['a', 5]", "true", "{'cmd': 1}", "b'ab'" };
    simpeer p;
    at_start(&p, NULL);
    int good = at_peer(&p);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int h = sp_accept(&p);
        sp_next(&p, h);
        sp_send(&p, h, "%s", bad[i]);
        CU_ASSERT(sp_closed(&p, h));
        CU_ASSERT(sp_unread(&p, h) == 0);
    }
    CU_ASSERT(p.exited == 0 && sp_stats(&p).conns == 1);
    CU_ASSERT(echo_ok(&p, good, "c1"));
    at_finish(&p);
}

/* HS-8, SEC-8 row 16: connect and close (or reset) before any byte is
 * quiet and leaves nothing behind, however often it happens. */
static void test_hs_connect_drop(void)
{
    simpeer p;
    at_start(&p, NULL);
    int good = at_peer(&p);
    for (int i = 0; i < 200; i++) {
        int h = sp_accept(&p);
        CU_ASSERT_FATAL(h >= 0);
        sp_eof(&p, h, i % 2);
        CU_ASSERT(sp_closed(&p, h));
    }
    CU_ASSERT(p.warnings == 0);
    sc_actor_stats st = sp_stats(&p);
    CU_ASSERT(st.conns == 1 && st.contexts == 0);
    CU_ASSERT(echo_ok(&p, good, "c1"));
    at_finish(&p);
}

/* HS-8, FRAME-13: a connection that ends inside the uid is closed. */
static void test_hs_eof_inside_uid(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = sp_accept(&p);
    sp_next(&p, h);
    send_hex(&p, h, "92 a4 70 65");
    CU_ASSERT(!sp_closed(&p, h));
    sp_eof(&p, h, 0);
    CU_ASSERT(sp_closed(&p, h) && sp_unread(&p, h) == 0);
    CU_ASSERT(sp_stats(&p).conns == 0);
    at_finish(&p);
}

/* HS-9, LIM-9: no uid (or half of one) within the handshake timeout closes
 * the connection; a handshake that completes in time disarms the timer. */
static void test_hs_timeout(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.handshake_timeout = 10.0;
    simpeer p;
    at_start(&p, &cfg);
    double t0 = p.now;
    int silent = sp_accept(&p);
    int half = sp_accept(&p);
    int slow = sp_accept(&p);
    CU_ASSERT(sc_actor_next_deadline(p.actor) == t0 + 10.0);
    send_hex(&p, half, "92 a4 70 65");
    sp_advance(&p, 9.0);
    CU_ASSERT(!sp_closed(&p, silent) && !sp_closed(&p, half));
    sp_send_uid(&p, slow, "peer", U1);
    sp_advance(&p, 0.9);
    CU_ASSERT(!sp_closed(&p, silent) && !sp_closed(&p, half));
    sp_advance(&p, 0.2);
    CU_ASSERT(sp_closed(&p, silent) && sp_closed(&p, half) && !sp_closed(&p, slow));
    CU_ASSERT(sp_log_has(&p, "handshake timeout"));
    /* SVC-30: the record names the connection by its peer's address. */
    CU_ASSERT(sp_log_has(&p, "(127.0.0.1:40000) to (no handshake): no handshake"));
    sp_advance(&p, 100.0);
    CU_ASSERT(!sp_closed(&p, slow));
    CU_ASSERT(sc_actor_next_deadline(p.actor) < 0);
    sp_next(&p, slow);
    CU_ASSERT(echo_ok(&p, slow, "c1"));
    at_finish(&p);
}

/* HS-7, FRAME-8: the uid and the first commands in one segment. */
static void test_hs_uid_with_commands(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = sp_accept(&p);
    sp_bytes b = { 0 };
    sp_framef(&b, SC_CODEC_MSGPACK, "['peer', '%s']", U1);
    sp_framef(&b, SC_CODEC_MSGPACK,
              "{'cmd': ['scwire_service', 'echo', {'value': 7}, ['peer', '%s'], 'c1']}", U1);
    sp_framef(&b, SC_CODEC_MSGPACK,
              "{'cmd': ['scwire_service', 'count', {'n': 1}, ['peer', '%s'], 'c2']}", U1);
    sp_feed(&p, h, b.data, b.len);
    sp_bytes_free(&b);
    CU_ASSERT(sp_expect(&p, h, "['" ANAME "', '" AU "']"));
    CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc") && at_return(&p, h, "c1", "7"));
    CU_ASSERT(at_functype(&p, h, "c2", "asyncgen") && yielded(&p, h, "c2", "0") &&
              stopped(&p, h, "c2"));
    at_finish(&p);
}

/* HS-10, CID-4, CID-10: channels with the same peer uid are served
 * independently but share that uid's contexts: a cid live on one is taken
 * on the other, and messages for it reach it from either. */
static void test_hs_same_uid(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = at_peer(&p), b = at_peer(&p);
    CU_ASSERT(echo_ok(&p, a, "e1") && echo_ok(&p, b, "e2"));
    sp_cmd(&p, a, "c1", "scwire_service", "ctx_echo", "{'first': nil}");
    CU_ASSERT(at_functype(&p, a, "c1", "context") && started(&p, a, "c1", "nil"));
    sp_cmd(&p, b, "c1", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_expect_error(&p, b, "c1", "MessagingError", "already in use") != NULL);
    sp_send(&p, b, "{'yield': 'via b', 'cid': 'c1'}");
    CU_ASSERT(yielded(&p, a, "c1", "'via b'"));
    sp_send(&p, b, "{'stop': true, 'cid': 'c1'}");
    CU_ASSERT(stopped(&p, a, "c1") && at_return(&p, a, "c1", "1"));
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_unread(&p, b) == 0);
    /* A different uid does not see them. */
    int c = sp_handshake(&p, "other", U2);
    sp_cmd(&p, a, "c2", "scwire_service", "ctx_echo", "{'first': nil}");
    sp_next(&p, a);
    sp_next(&p, a);
    sp_send(&p, c, "{'yield': 1, 'cid': 'c2'}");
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_unread(&p, c) == 0);
    CU_ASSERT(echo_ok(&p, c, "c2"));
    at_finish(&p);
}

/* ---- malformed messages ---------------------------------------------------------------- */

/* MSG-1, CID-1, SEC-3, SEC-8 rows 18-22, FRAME-12: a value that is not a
 * map, a map with neither cmd nor cid, a cmd that is not a 5-array or
 * whose cid is not a non-empty str: that connection closes, nothing is
 * answered, and a conversation on another connection goes on. */
static void test_malformed_closes(void)
{
    static const char *const bad[] = {
        "42",
        "'str'",
        "[1, 2]",
        "true",
        "b'x'",
        "{'foo': 1}",
        "{}",
        "{'cmd': [1, 2, 3, 4]}",
        "{'cmd': 'x'}",
        "{'cmd': ['scwire_service', 'echo', {}, ['p', 'u'], 'c1', 6]}",
        "{'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], 5]}",
        "{'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], '']}",
        "{'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], {}]}",
        "{'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], nil]}",
        "{'error': 5}",
        "{'error': {'tb_str': 't'}}",
    };
    simpeer p;
    at_start(&p, NULL);
    int x = at_peer(&p);
    sp_cmd(&p, x, "x1", "scwire_service", "ctx_echo", "{'first': 0}");
    CU_ASSERT(at_functype(&p, x, "x1", "context") && started(&p, x, "x1", "0"));
    unsigned long dropped = sp_stats(&p).dropped;
    size_t n = sizeof(bad) / sizeof(bad[0]);
    for (size_t i = 0; i < n; i++) {
        int h = at_peer(&p);
        sp_send(&p, h, "%s", bad[i]);
        if (!sp_closed(&p, h))
            fprintf(stderr, "not closed by %s\n", bad[i]);
        CU_ASSERT(sp_closed(&p, h));
        CU_ASSERT(sp_unread(&p, h) == 0);
        sp_send(&p, x, "{'yield': %d, 'cid': 'x1'}", (int)i);
        char v[16];
        snprintf(v, sizeof(v), "%d", (int)i);
        CU_ASSERT(yielded(&p, x, "x1", v));
    }
    CU_ASSERT(sp_stats(&p).dropped == dropped + n);
    sp_send(&p, x, "{'stop': true, 'cid': 'x1'}");
    CU_ASSERT(stopped(&p, x, "x1"));
    CU_ASSERT(sp_expect(&p, x, "{'return': %d, 'cid': 'x1'}", (int)n));
    CU_ASSERT(sp_stats(&p).conns == 1 && !p.exited);
    at_finish(&p);
}

/* SEC-4, SEC-8 row 23: a cmd with a usable cid but a bad field is answered
 * with MessagingError on that cid, no functype, and the connection stays. */
static void test_cmd_bad_fields(void)
{
    static const struct {
        const char *cmd;
        const char *why;
    } bad[] = {
        { "[5, 'echo', {'value': 1}, ['p', 'u'], 'm1']", "field 0 (ns)" },
        { "[['x'], 'echo', {'value': 1}, ['p', 'u'], 'm2']", "field 0 (ns)" },
        { "['scwire_service', 7, {'value': 1}, ['p', 'u'], 'm3']", "field 1 (func)" },
        { "['scwire_service', 'echo', [1], ['p', 'u'], 'm4']", "field 2 (kwargs)" },
        { "['scwire_service', 'echo', {1: 2}, ['p', 'u'], 'm5']", "field 2 (kwargs)" },
        { "['scwire_service', 'echo', {'value': 1}, 'pu', 'm6']", "field 3 (caller uid)" },
        { "['scwire_service', 'echo', {'value': 1}, [1, 2], 'm7']", "field 3 (caller uid)" },
        { "['self', '_cancel_task', nil, ['p', 'u'], 'm8']", "field 2 (kwargs)" },
    };
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char cid[4];
        snprintf(cid, sizeof(cid), "m%d", (int)i + 1);
        sp_send(&p, h, "{'cmd': %s}", bad[i].cmd);
        CU_ASSERT(sp_expect_error(&p, h, cid, "MessagingError", bad[i].why) != NULL);
        CU_ASSERT(!sp_closed(&p, h));
    }
    CU_ASSERT(sp_stats(&p).contexts == 0);
    CU_ASSERT(echo_ok(&p, h, "c1"));
    at_finish(&p);
}

/* CID-1, CID-5, CID-6, SEC-5, SEC-8 rows 1-4: routed messages for no live
 * context, or with a cid that is not a str, are dropped without a reply;
 * a cmd next to a present cid never runs; a map whose cid is falsy and that
 * has a cmd is a command. */
static void test_unroutable_dropped(void)
{
    static const char *const drop[] = {
        "{'yield': 1, 'cid': 'nope'}",
        "{'return': 1, 'cid': 'nope'}",
        "{'stop': true, 'cid': 'nope'}",
        "{'error': {'tb_str': '', 'type_str': 'X'}, 'cid': 'nope'}",
        "{'started': 1, 'cid': 'nope'}",
        "{'functype': 'context', 'cid': 'nope'}",
        "{'yield': 1, 'cid': 5}",
        "{'yield': 1, 'cid': ''}",
        "{'stop': true, 'cid': nil}",
        "{'error': {'tb_str': '', 'type_str': 'X'}, 'cid': false}",
        "{'cid': 5, 'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], 'k1']}",
        "{'cid': 'k2', 'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], 'k2']}",
        "{'cid': 'x1', 'cmd': ['scwire_service', 'echo', {'value': 1}, ['p', 'u'], 'k3']}",
        "{'cid': 'x1', 'x': 1}",
        "{'cid': 'x1', 'error': 5}",
        "{'cid': 'x1', 'error': {'tb_str': 't'}}",
        "{'cid': 'x1', 'error': {'type_str': 5}}",
        "{'cid': 'x1', 'functype': 'bogus'}",
    };
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "x1", "scwire_service", "ctx_echo", "{'first': nil}");
    CU_ASSERT(at_functype(&p, h, "x1", "context") && started(&p, h, "x1", "nil"));
    unsigned long dropped = sp_stats(&p).dropped;
    size_t n = sizeof(drop) / sizeof(drop[0]);
    for (size_t i = 0; i < n; i++) {
        sp_send(&p, h, "%s", drop[i]);
        CU_ASSERT(!sp_closed(&p, h));
        if (sp_unread(&p, h) != 0)
            fprintf(stderr, "answered: %s\n", drop[i]);
        CU_ASSERT(sp_unread(&p, h) == 0);
    }
    CU_ASSERT(sp_stats(&p).dropped == dropped + n);
    CU_ASSERT(sp_log_has(&p, "for unknown or finished context nope on connection 1 (127.0.0.1:40000)"));
    CU_ASSERT(sp_stats(&p).contexts == 1);
    /* The live context is unharmed. */
    sp_send(&p, h, "{'yield': 7, 'cid': 'x1'}");
    CU_ASSERT(yielded(&p, h, "x1", "7"));
    /* A falsy cid beside a cmd: the cmd is a command. */
    sp_send(&p, h, "{'cid': 0, 'cmd': ['scwire_service', 'echo', {'value': 2}, ['p', 'u'], 'k4']}");
    CU_ASSERT(at_functype(&p, h, "k4", "asyncfunc") && at_return(&p, h, "k4", "2"));
    at_finish(&p);
}

/* CID-1 step 5, SEC-8 row 20: an actor-level error from a peer that is not
 * a child is rejected; the connection stays usable. */
static void test_actor_level_error(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_send(&p, h, "{'error': {'tb_str': 'boom', 'type_str': 'ValueError'}}");
    CU_ASSERT(!sp_closed(&p, h) && sp_unread(&p, h) == 0);
    CU_ASSERT(echo_ok(&p, h, "c1"));
    at_finish(&p);
}

/* ---- channel end -------------------------------------------------------------------------- */

/* CAN-1, CAN-2, CAN-5, SEC-8 row 8: nil ends the channel: its tasks go
 * quietly, the actor answers nil and closes; other channels go on. */
static void test_nil_terminates(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = at_peer(&p), b = at_peer(&p);
    sp_cmd(&p, a, "c1", "scwire_service", "sleep_forever", "{}");
    sp_cmd(&p, a, "c2", "scwire_service", "ctx_no_stream", "{'value': 1}");
    sp_cmd(&p, b, "d1", "scwire_service", "ctx_echo", "{'first': 1}");
    CU_ASSERT(at_functype(&p, a, "c1", "asyncfunc") && at_functype(&p, a, "c2", "context") &&
              started(&p, a, "c2", "1"));
    CU_ASSERT(at_functype(&p, b, "d1", "context") && started(&p, b, "d1", "1"));
    CU_ASSERT(sp_stats(&p).contexts == 3);
    sp_send(&p, a, "nil");
    CU_ASSERT(sp_expect(&p, a, "nil"));
    CU_ASSERT(sp_closed(&p, a) && sp_unread(&p, a) == 0);
    CU_ASSERT(sp_stats(&p).contexts == 1 && sp_stats(&p).conns == 1);
    sp_send(&p, b, "{'yield': 2, 'cid': 'd1'}");
    CU_ASSERT(yielded(&p, b, "d1", "2"));
    at_finish(&p);
}

/* CAN-3, CAN-5, FRAME-13, SEC-8 row 9: EOF after the handshake ends the
 * channel quietly (nil back, tasks cancelled without messages); a reset
 * gets no nil; a truncated last message is logged and closes. */
static void test_eof_after_handshake(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = at_peer(&p), b = at_peer(&p), c = at_peer(&p);
    sp_cmd(&p, a, "c1", "scwire_service", "ctx_no_stream", "{'value': 1}");
    sp_cmd(&p, b, "c1", "scwire_service", "ctx_no_stream", "{'value': 1}");
    sp_cmd(&p, c, "c9", "scwire_service", "sleep_forever", "{}");
    CU_ASSERT(at_functype(&p, a, "c1", "context") && started(&p, a, "c1", "1"));
    CU_ASSERT(at_functype(&p, c, "c9", "asyncfunc"));
    sp_eof(&p, a, 0);
    CU_ASSERT(sp_expect(&p, a, "nil") && sp_closed(&p, a) && sp_unread(&p, a) == 0);
    CU_ASSERT(p.warnings == 0);
    /* b's context was refused: the same uid and cid were live on a. */
    CU_ASSERT(sp_expect_error(&p, b, "c1", "MessagingError", NULL) != NULL);
    sp_cmd(&p, b, "c1", "scwire_service", "ctx_no_stream", "{'value': 1}");
    CU_ASSERT(at_functype(&p, b, "c1", "context") && started(&p, b, "c1", "1"));
    sp_eof(&p, b, 1);
    CU_ASSERT(sp_closed(&p, b) && sp_unread(&p, b) == 0);
    /* A message cut short by the end of the stream. */
    send_hex(&p, c, "81 a3 63 6d 64 95 a4");
    sp_eof(&p, c, 0);
    CU_ASSERT(sp_closed(&p, c) && sp_unread(&p, c) == 0);
    CU_ASSERT(p.warnings > 0 && sp_log_has(&p, "inside"));
    sc_actor_stats st = sp_stats(&p);
    CU_ASSERT(st.contexts == 0 && st.conns == 0 && st.buffered_bytes == 0);
    at_finish(&p);
}

/* ---- the scwire_service functions ------------------------------------------------------------ */

/* SVC-8, RPC-6, FRAME-6, FRAME-7, FRAME-10: echo returns any value with its
 * types, encoded as msgpack-python would (smallest forms). */
static void test_echo_values(void)
{
    static const struct {
        const char *sent;
        const char *back;
    } values[] = {
        { "{'a': [1, 2.5, 'x', nil, true]}", NULL },
        { "b'\\x00\\xff'", NULL },
        { "-1", NULL },
        { "-33", NULL },
        { "-129", NULL },
        { "127", NULL },
        { "128", NULL },
        { "65536", NULL },
        { "18446744073709551615", NULL },
        { "-9223372036854775808", NULL },
        { "1.5", NULL },
        { "''", NULL },
        { "[]", NULL },
        { "{}", NULL },
        { "'caf\\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80'", NULL },
        { "{1: 'a', [1, 2]: nil, nil: 3, 2.5: false}", NULL },
        { "[[[[[[[[[[1]]]]]]]]]]", NULL },
        { "<ca 3f c0 00 00>", NULL },                    /* float32 stays float32 */
        { "<cd 00 01>", "1" },                           /* uint16 1 */
        { "<d1 ff ff>", "-1" },                          /* int16 -1 */
        { "<d9 01 41>", "'A'" },                         /* str8 */
        { "<dc 00 01 01>", "[1]" },                      /* array16 */
        { "<de 00 01 a1 6b 02>", "{'k': 2}" },           /* map16 */
        { "<cb 3f f8 00 00 00 00 00 00>", "1.5" },       /* float64 */
    };
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char cid[8];
        snprintf(cid, sizeof(cid), "e%d", (int)i);
        sp_cmd(&p, h, cid, "scwire_service", "echo", "{'value': %s}", values[i].sent);
        CU_ASSERT(at_functype(&p, h, cid, "asyncfunc"));
        CU_ASSERT(at_return(&p, h, cid, values[i].back ? values[i].back : values[i].sent));
    }
    /* str8, str16, bin16 */
    char *s = at_repeat('s', 300);
    sp_cmd(&p, h, "big", "scwire_service", "echo", "{'value': ['%.40s', '%s', b'%s']}", s, s, s);
    CU_ASSERT(at_functype(&p, h, "big", "asyncfunc"));
    CU_ASSERT(sp_expect(&p, h, "{'return': ['%.40s', '%s', b'%s'], 'cid': 'big'}", s, s, s));
    free(s);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* FRAME-11: an ext value is either handed on unchanged or refused by
 * closing the connection. */
static void test_echo_ext(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "echo", "{'value': <d4 05 2a>}");
    if (sp_closed(&p, h)) {
        CU_ASSERT(sp_unread(&p, h) == 0);
    } else {
        CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc") && at_return(&p, h, "c1", "<d4 05 2a>"));
    }
    at_finish(&p);
}

/* SVC-9, ERR-1, ERR-2: raise_error sends functype, then the error. */
static void test_raise_error(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "raise_error", "{'type_str': 'ValueError', 'text': 'kaboom'}");
    CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc"));
    const sp_msg *m = sp_expect_error(&p, h, "c1", "ValueError", "kaboom");
    CU_ASSERT(sp_tb_has(m, "Traceback (most recent call last):\n"));
    CU_ASSERT(sp_tb_has(m, "\nValueError: kaboom\n"));
    sp_cmd(&p, h, "c2", "scwire_service", "raise_error", "{'type_str': 'MyError', 'text': ''}");
    CU_ASSERT(at_functype(&p, h, "c2", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "c2", "MyError", NULL) != NULL);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* RPC-1, RPC-2, RPC-3, RPC-4, SVC-6, SVC-7, ERR-3, SEC-6, SEC-8 rows 5-7:
 * refused commands get exactly one error and no functype. */
static void test_refused_commands(void)
{
    static const struct {
        const char *ns;
        const char *func;
        const char *kwargs;
        const char *type_str;
        const char *text;
    } cases[] = {
        { "scwire_absent", "echo", "{'value': 1}", "ModuleNotExposed", "scwire_absent" },
        { "os", "system", "{'command': 'true'}", "ModuleNotExposed", "os" },
        { "Scwire_service", "echo", "{'value': 1}", "ModuleNotExposed", NULL },
        { "scwire_service.sub", "echo", "{'value': 1}", "ModuleNotExposed", NULL },
        { "scwire_service", "no_such_function", "{}", "AttributeError", "no_such_function" },
        { "scwire_service", "Echo", "{'value': 1}", "AttributeError", NULL },
        { "scwire_service", "service_functions", "{}", "AttributeError", NULL },
        { "scwire_service", "echo", "{}", "TypeError", "missing required argument: 'value'" },
        { "scwire_service", "echo", "{'value': 1, 'x': 2}", "TypeError", "unexpected keyword argument 'x'" },
        { "scwire_service", "raise_error", "{'type_str': 'E'}", "TypeError", "'text'" },
        { "scwire_service", "raise_error", "{'type_str': '', 'text': 't'}", "TypeError", NULL },
        { "scwire_service", "raise_error", "{'type_str': 5, 'text': 't'}", "TypeError", "must be str, not int" },
        { "scwire_service", "sleep", "{'seconds': 'x'}", "TypeError", "must be a number, not str" },
        { "scwire_service", "sleep", "{'seconds': -1}", "TypeError", NULL },
        { "scwire_service", "sleep", "{'seconds': <cb 7f f0 00 00 00 00 00 00>}", "TypeError", "finite" },
        { "scwire_service", "sleep_forever", "{'x': 1}", "TypeError", NULL },
        { "scwire_service", "count", "{'n': 'x'}", "TypeError", "must be int, not str" },
        { "scwire_service", "count", "{'n': 1.0}", "TypeError", NULL },
        { "scwire_service", "count", "{'n': -1}", "TypeError", NULL },
        { "scwire_service", "ctx_echo", "{'value': 1}", "TypeError", NULL },
        { "scwire_service", "ctx_no_stream", "{}", "TypeError", NULL },
        { "scwire_service", "ctx_error_after_started", "{'type_str': nil}", "TypeError", NULL },
        { "scwire_service", "ctx_return", "{'first': 1}", "TypeError", NULL },
        { "scwire_service", "ctx_stream_out", "{'n': true}", "TypeError", NULL },
        { "scwire_service", "ctx_slow_sink", "{'delay': 0.1, 'backpressure': 1}", "TypeError", "must be bool" },
        { "scwire_service", "ctx_slow_sink", "{'delay': 0.1}", "TypeError", "'backpressure'" },
    };
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cid[8];
        snprintf(cid, sizeof(cid), "r%d", (int)i);
        sp_cmd(&p, h, cid, cases[i].ns, cases[i].func, "%s", cases[i].kwargs);
        CU_ASSERT(sp_expect_error(&p, h, cid, cases[i].type_str, cases[i].text) != NULL);
        CU_ASSERT(sp_unread(&p, h) == 0 && !sp_closed(&p, h));
    }
    CU_ASSERT(sp_stats(&p).contexts == 0);
    CU_ASSERT(echo_ok(&p, h, "c1"));
    at_finish(&p);
}

/* SVC-10: sleep returns nil no earlier than asked, and promptly then. */
static void test_sleep(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    double t0 = p.now;
    sp_cmd(&p, h, "c1", "scwire_service", "sleep", "{'seconds': 0.25}");
    CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc") && sp_unread(&p, h) == 0);
    CU_ASSERT(sc_actor_next_deadline(p.actor) == t0 + 0.25);
    sp_advance(&p, 0.2);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_advance(&p, 0.1);
    CU_ASSERT(at_return(&p, h, "c1", "nil"));
    sp_cmd(&p, h, "c2", "scwire_service", "sleep", "{'seconds': 0}");
    CU_ASSERT(at_functype(&p, h, "c2", "asyncfunc"));
    sp_advance(&p, 0);
    CU_ASSERT(at_return(&p, h, "c2", "nil"));
    CU_ASSERT(sp_stats(&p).contexts == 0 && sc_actor_next_deadline(p.actor) < 0);
    /* RPC-10: a sleeping task delays nothing; cancelled, its timer goes. */
    sp_cmd(&p, h, "c3", "scwire_service", "sleep", "{'seconds': 60}");
    CU_ASSERT(at_functype(&p, h, "c3", "asyncfunc"));
    CU_ASSERT(echo_ok(&p, h, "c4"));
    sp_cmd(&p, h, "c5", "self", "_cancel_task", "{'cid': 'c3'}");
    CU_ASSERT(at_functype(&p, h, "c5", "asyncfunc") && at_return(&p, h, "c5", "nil"));
    CU_ASSERT(sc_actor_next_deadline(p.actor) < 0);
    sp_advance(&p, 120);
    CU_ASSERT(sp_unread(&p, h) == 0);
    at_finish(&p);
}

/* SVC-10, RPC-10: many sleeps end in the order of their durations, each no
 * earlier than asked, also when some are cancelled in between (the timer
 * heap loses entries from its middle). */
static void test_many_sleeps(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    double t0 = p.now;
    for (int i = 0; i < 100; i++) {
        char cid[8];
        snprintf(cid, sizeof(cid), "s%d", i);
        sp_cmd(&p, h, cid, "scwire_service", "sleep", "{'seconds': %g}", (i * 37 % 100) / 100.0 + 0.01);
        CU_ASSERT(at_functype(&p, h, cid, "asyncfunc"));
    }
    for (int i = 0; i < 100; i += 7) {
        char cid[8];
        snprintf(cid, sizeof(cid), "k%d", i);
        sp_cmd(&p, h, cid, "self", "_cancel_task", "{'cid': 's%d'}", i);
        CU_ASSERT(at_functype(&p, h, cid, "asyncfunc") && at_return(&p, h, cid, "nil"));
    }
    int last = -1, returned = 0, ok = 1;
    while (ok && sc_actor_next_deadline(p.actor) >= 0) {
        sp_run_timers(&p, sc_actor_next_deadline(p.actor) - p.now);
        const sp_msg *m;
        while (ok && (m = sp_next(&p, h)) != NULL) {
            char cid[8];
            ok = sp_field_str(m, "cid", cid, sizeof(cid)) && cid[0] == 's';
            int i = ok ? atoi(cid + 1) : 0;
            int d = i * 37 % 100;
            ok = ok && i % 7 != 0 && d > last && p.now >= t0 + d / 100.0 + 0.01 - 1e-9 &&
                 sp_match(m, "{'return': nil, 'cid': '%s'}", cid);
            last = d;
            returned++;
        }
    }
    CU_ASSERT(ok && returned == 100 - 15);
    CU_ASSERT(sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* SVC-11, SELF-4, SELF-5, SELF-7: sleep_forever sends functype and then
 * nothing; cancelled, nothing more; cancelling it again returns nil. */
static void test_sleep_forever_cancel(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "sleep_forever", "{}");
    CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc"));
    sp_advance(&p, 3600);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 1);
    sp_cmd(&p, h, "c2", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, h, "c2", "asyncfunc") && at_return(&p, h, "c2", "nil"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    sp_cmd(&p, h, "c3", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, h, "c3", "asyncfunc") && at_return(&p, h, "c3", "nil"));
    sp_cmd(&p, h, "c4", "self", "_cancel_task", "{'cid': 'never'}");
    CU_ASSERT(at_functype(&p, h, "c4", "asyncfunc") && at_return(&p, h, "c4", "nil"));
    at_finish(&p);
}

/* SVC-12, RPC-7, CID-8: count yields 0..n-1 in order, each int in its
 * smallest encoding, then stop. */
static void test_count(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "count", "{'n': 3}");
    CU_ASSERT(at_functype(&p, h, "c1", "asyncgen"));
    CU_ASSERT(yielded(&p, h, "c1", "0") && yielded(&p, h, "c1", "1") && yielded(&p, h, "c1", "2"));
    CU_ASSERT(stopped(&p, h, "c1"));
    sp_cmd(&p, h, "c2", "scwire_service", "count", "{'n': 0}");
    CU_ASSERT(at_functype(&p, h, "c2", "asyncgen") && stopped(&p, h, "c2"));
    sp_cmd(&p, h, "c3", "scwire_service", "count", "{'n': 70000}");
    CU_ASSERT(at_functype(&p, h, "c3", "asyncgen"));
    int ok = 1;
    for (int i = 0; i < 70000 && ok; i++)
        ok = sp_expect(&p, h, "{'yield': %d, 'cid': 'c3'}", i);
    CU_ASSERT(ok && stopped(&p, h, "c3"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* SVC-13, RPC-8, CTX-1, CTX-2, CTX-3, CID-7, CID-8, RPC-9: ctx_echo echoes
 * in order, ends after the caller's stop with stop and the count; then the
 * context is gone and later messages for it are dropped. */
static void test_ctx_echo(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_echo", "{'first': 'hi'}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "'hi'"));
    CU_ASSERT(sp_stats(&p).contexts == 1);
    sp_send(&p, h, "{'yield': 0, 'cid': 'c1'}");
    CU_ASSERT(yielded(&p, h, "c1", "0"));
    send_yields(&p, h, "c1", 1, 99);
    int ok = 1;
    for (int i = 1; i < 100 && ok; i++)
        ok = sp_expect(&p, h, "{'yield': %d, 'cid': 'c1'}", i);
    CU_ASSERT(ok);
    sp_send(&p, h, "{'yield': {'deep': [nil, b'x']}, 'cid': 'c1'}");
    CU_ASSERT(yielded(&p, h, "c1", "{'deep': [nil, b'x']}"));
    CU_ASSERT(sp_stats(&p).overruns == 0);
    sp_send(&p, h, "{'stop': true, 'cid': 'c1'}");
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c1", "101"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    /* CTX-4, CID-6: a repeated stop and late yields get nothing. */
    unsigned long dropped = sp_stats(&p).dropped;
    sp_send(&p, h, "{'stop': true, 'cid': 'c1'}");
    sp_send(&p, h, "{'yield': 1, 'cid': 'c1'}");
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).dropped == dropped + 2);
    /* The cid is free again once its context ended. */
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_echo", "{'first': nil}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    sp_send(&p, h, "{'stop': true, 'cid': 'c1'}");
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c1", "0"));
    at_finish(&p);
}

/* CTX-8: kinds a callee does not expect from its caller (return, started,
 * functype) change nothing and get no reply. */
static void test_ctx_unexpected_kinds(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_echo", "{'first': 1}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "1"));
    sp_send(&p, h, "{'return': 5, 'cid': 'c1'}");
    sp_send(&p, h, "{'started': 5, 'cid': 'c1'}");
    sp_send(&p, h, "{'functype': 'asyncgen', 'cid': 'c1'}");
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 1);
    sp_send(&p, h, "{'yield': 'a', 'cid': 'c1'}");
    CU_ASSERT(yielded(&p, h, "c1", "'a'"));
    sp_send(&p, h, "{'stop': true, 'cid': 'c1'}");
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c1", "1"));
    at_finish(&p);
}

/* CTX-6, ERR-5, MSG-6, SEC-8 rows 26-27: an error from the caller ends a
 * context with RemoteActorError, tb_str or not, extra keys or not; on an
 * asyncfunc it is kept and changes nothing. */
static void test_ctx_caller_error(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_echo", "{'first': nil}");
    sp_cmd(&p, h, "c2", "scwire_service", "ctx_no_stream", "{'value': nil}");
    sp_cmd(&p, h, "c3", "scwire_service", "sleep_forever", "{}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    CU_ASSERT(at_functype(&p, h, "c2", "context") && started(&p, h, "c2", "nil"));
    CU_ASSERT(at_functype(&p, h, "c3", "asyncfunc"));
    sp_send(&p, h, "{'error': {'type_str': 'ValueError'}, 'cid': 'c1'}");
    const sp_msg *m = sp_expect_error(&p, h, "c1", "RemoteActorError", PREPR);
    CU_ASSERT(sp_tb_has(m, "RemoteActorError: "));
    sp_send(&p, h, "{'cid': 'c2', 'error': {'message': 'm', 'tb_str': 'boom here', 5: 6, "
                   "'type_str': 'KeyError', 'suberror_type': 'x'}}");
    CU_ASSERT(sp_expect_error(&p, h, "c2", "RemoteActorError", "boom here") != NULL);
    sp_send(&p, h, "{'error': {'tb_str': 'x', 'type_str': 'E'}, 'cid': 'c3'}");
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 1);
    sp_cmd(&p, h, "c4", "self", "_cancel_task", "{'cid': 'c3'}");
    CU_ASSERT(at_functype(&p, h, "c4", "asyncfunc") && at_return(&p, h, "c4", "nil"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* SVC-15, SVC-16, SVC-17, RPC-8, RPC-9. */
static void test_ctx_simple_functions(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_error_after_started", "{'type_str': 'KeyError'}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    CU_ASSERT(sp_expect_error(&p, h, "c1", "KeyError", "KeyError: ") != NULL);
    sp_cmd(&p, h, "c2", "scwire_service", "ctx_return", "{'value': [1, 2]}");
    CU_ASSERT(at_functype(&p, h, "c2", "context") && started(&p, h, "c2", "nil") &&
              at_return(&p, h, "c2", "[1, 2]"));
    sp_cmd(&p, h, "c3", "scwire_service", "ctx_stream_out", "{'n': 2}");
    CU_ASSERT(at_functype(&p, h, "c3", "context") && started(&p, h, "c3", "nil"));
    CU_ASSERT(yielded(&p, h, "c3", "0") && yielded(&p, h, "c3", "1") && stopped(&p, h, "c3"));
    CU_ASSERT(at_return(&p, h, "c3", "2"));
    sp_cmd(&p, h, "c4", "scwire_service", "ctx_stream_out", "{'n': 0}");
    CU_ASSERT(at_functype(&p, h, "c4", "context") && started(&p, h, "c4", "nil") &&
              stopped(&p, h, "c4"));
    CU_ASSERT(at_return(&p, h, "c4", "0"));
    sp_cmd(&p, h, "c5", "scwire_service", "ctx_no_stream", "{'value': {'k': 'ready'}}");
    CU_ASSERT(at_functype(&p, h, "c5", "context") && started(&p, h, "c5", "{'k': 'ready'}"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 1);
    at_finish(&p);
}

/* ---- overrun and backpressure ----------------------------------------------------------------- */

/* OVR-1, OVR-2, OVR-3, OVR-4, SVC-14, SELF-6, SEC-8 row 40: 100 yields into
 * ctx_no_stream: 64 buffered, exactly 36 StreamOverrun errors with the
 * no-stream line; the context lives on and is cancelled with
 * ContextCancelled before the _cancel_task's nil. */
static void test_overrun_no_stream(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_no_stream", "{'value': 'ready'}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "'ready'"));
    send_yields(&p, h, "c1", 0, 100);
    char tb[400];
    overrun_tb(tb, sizeof(tb), "c1", 1);
    int errors = 0;
    while (sp_unread(&p, h)) {
        const sp_msg *m = sp_expect_error(&p, h, "c1", "StreamOverrun", tb);
        if (!m)
            break;
        errors++;
    }
    CU_ASSERT(errors == 36);
    CU_ASSERT(sp_stats(&p).overruns == 36 && sp_stats(&p).contexts == 1);
    /* OVR-4: more later is overrun again, and nothing else happened. */
    send_yields(&p, h, "c1", 100, 1);
    CU_ASSERT(sp_expect_error(&p, h, "c1", "StreamOverrun", tb) != NULL);
    CU_ASSERT(echo_ok(&p, h, "e1"));
    sp_cmd(&p, h, "c2", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, h, "c2", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "c1", "ContextCancelled",
                              "ctx_no_stream was remotely cancelled by its caller " PREPR) != NULL);
    CU_ASSERT(at_return(&p, h, "c2", "nil"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    CU_ASSERT(sp_stats(&p).buffered_bytes == 0);
    at_finish(&p);
}

static int count_overruns(simpeer *p, int n, unsigned buffer)
{
    sc_actor_config cfg = at_config();
    if (buffer)
        cfg.limits.msg_buffer_size = buffer;
    at_start(p, &cfg);
    int h = at_peer(p);
    sp_cmd(p, h, "c1", "scwire_service", "ctx_no_stream", "{'value': nil}");
    sp_next(p, h);
    sp_next(p, h);
    send_yields(p, h, "c1", 0, n);
    int errors = 0;
    while (sp_unread(p, h))
        errors += sp_expect_error(p, h, "c1", "StreamOverrun", NULL) != NULL;
    at_finish(p);
    return errors;
}

/* OVR-1, OVR-2, LIM-11: N into an empty buffer of B give N - B errors;
 * the buffer size is configurable. */
static void test_overrun_counts(void)
{
    simpeer p;
    CU_ASSERT(count_overruns(&p, 64, 0) == 0);
    CU_ASSERT(count_overruns(&p, 65, 0) == 1);
    CU_ASSERT(count_overruns(&p, 100, 16) == 84);
    CU_ASSERT(count_overruns(&p, 100, 1) == 99);
    CU_ASSERT(count_overruns(&p, 300, 256) == 44);
}

/* OVR-5, CTX-6, SEC-8 row 41: an error into a full buffer is delivered,
 * never answered with StreamOverrun. */
static void test_overrun_error_delivered(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_no_stream", "{'value': nil}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    send_yields(&p, h, "c1", 0, 64);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_send(&p, h, "{'error': {'tb_str': 'caller failed', 'type_str': 'ValueError'}, 'cid': 'c1'}");
    CU_ASSERT(sp_expect_error(&p, h, "c1", "RemoteActorError", "caller failed") != NULL);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sc_actor_stats st = sp_stats(&p);
    CU_ASSERT(st.overruns == 0 && st.contexts == 0 && st.buffered_bytes == 0);
    at_finish(&p);
}

/* OVR-6, OVR-7, SVC-18, RPC-10, SEC-8 row 42: a backpressured slow sink
 * takes everything without an error, the excess parked, while other
 * commands on the same channel are answered at once. */
static void test_slow_sink_backpressure(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_slow_sink", "{'delay': 0.01, 'backpressure': true}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    send_yields(&p, h, "c1", 0, 200);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).overruns == 0);
    CU_ASSERT(sp_want_read(&p, h));
    CU_ASSERT(sp_stats(&p).buffered_bytes > 0);
    CU_ASSERT(echo_ok(&p, h, "e1"));
    sp_cmd(&p, h, "e2", "scwire_service", "ctx_echo", "{'first': 1}");
    CU_ASSERT(at_functype(&p, h, "e2", "context") && started(&p, h, "e2", "1"));
    sp_send(&p, h, "{'yield': 5, 'cid': 'e2'}");
    CU_ASSERT(yielded(&p, h, "e2", "5"));
    sp_run_timers(&p, 1.0);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_run_timers(&p, 2.0);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_send(&p, h, "{'stop': true, 'cid': 'c1'}");
    sp_run_timers(&p, 1.0);
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c1", "200"));
    CU_ASSERT(sp_stats(&p).overruns == 0 && sp_stats(&p).contexts == 1);
    at_finish(&p);
}

/* OVR-8, LIM-12, OVR-9: once the parking budget is spent the actor stops
 * reading that connection (only that one) until the sink drains, and every
 * message, also those still in the actor's own input buffer, arrives. */
static void test_park_budget(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.msg_buffer_size = 4;
    cfg.limits.park_max_msgs = 10;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p), other = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_slow_sink", "{'delay': 1.0, 'backpressure': true}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    /* 30 yields and the stop in one segment: 4 buffered, 10 parked, the
     * rest waits in the actor's input. */
    sp_bytes b = { 0 };
    for (int i = 0; i < 30; i++)
        sp_framef(&b, SC_CODEC_MSGPACK, "{'yield': %d, 'cid': 'c1'}", i);
    sp_framef(&b, SC_CODEC_MSGPACK, "{'stop': true, 'cid': 'c1'}");
    sp_feed(&p, h, b.data, b.len);
    sp_bytes_free(&b);
    CU_ASSERT(!sp_want_read(&p, h));
    CU_ASSERT(sp_stats(&p).overruns == 0 && sp_unread(&p, h) == 0);
    /* Bytes sent now stay with the peer; other connections are served. */
    sp_cmd(&p, h, "e1", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_unread(&p, h) == 0);
    CU_ASSERT(echo_ok(&p, other, "o1"));
    sp_run_timers(&p, 60.0);
    CU_ASSERT(at_functype(&p, h, "e1", "asyncfunc") && at_return(&p, h, "e1", "1"));
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c1", "30"));
    CU_ASSERT(sp_want_read(&p, h));
    sc_actor_stats st = sp_stats(&p);
    CU_ASSERT(st.overruns == 0 && st.contexts == 0 && st.buffered_bytes == 0);
    at_finish(&p);
}

/* OVR-8, CID-4, HS-10: a connection paused because it parked messages for
 * a context that another connection (same uid) started resumes when that
 * context drains. */
static void test_park_budget_other_conn(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.msg_buffer_size = 4;
    cfg.limits.park_max_msgs = 10;
    simpeer p;
    at_start(&p, &cfg);
    int a = at_peer(&p), b = at_peer(&p);
    sp_cmd(&p, a, "c1", "scwire_service", "ctx_slow_sink", "{'delay': 1.0, 'backpressure': true}");
    CU_ASSERT(at_functype(&p, a, "c1", "context") && started(&p, a, "c1", "nil"));
    send_yields(&p, b, "c1", 0, 20);
    CU_ASSERT(!sp_want_read(&p, b));
    CU_ASSERT(sp_want_read(&p, a));
    sp_send(&p, b, "{'stop': true, 'cid': 'c1'}");
    sp_run_timers(&p, 60.0);
    CU_ASSERT(sp_want_read(&p, b));
    CU_ASSERT(stopped(&p, a, "c1") && at_return(&p, a, "c1", "20"));
    CU_ASSERT(echo_ok(&p, b, "e1"));
    sc_actor_stats st = sp_stats(&p);
    CU_ASSERT(st.contexts == 0 && st.buffered_bytes == 0);
    at_finish(&p);
}

/* OVR-9: a context that ends with parked messages gives the budget back. */
static void test_park_discarded_on_cancel(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.msg_buffer_size = 4;
    cfg.limits.park_max_msgs = 10;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    for (int round = 0; round < 3; round++) {
        sp_cmd(&p, h, "c1", "scwire_service", "ctx_slow_sink", "{'delay': 1.0, 'backpressure': true}");
        CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
        send_yields(&p, h, "c1", 0, 12);
        CU_ASSERT(sp_want_read(&p, h));
        sp_cmd(&p, h, "c2", "self", "_cancel_task", "{'cid': 'c1'}");
        CU_ASSERT(at_functype(&p, h, "c2", "asyncfunc"));
        CU_ASSERT(sp_expect_error(&p, h, "c1", "ContextCancelled", "ctx_slow_sink was remotely") != NULL);
        CU_ASSERT(at_return(&p, h, "c2", "nil"));
        CU_ASSERT(sp_stats(&p).buffered_bytes == 0);
    }
    at_finish(&p);
}

/* OVR-2, OVR-3: a sink that opened its stream without backpressure gets
 * StreamOverrun for every message beyond its buffer, without the no-stream
 * line; what it took plus the errors is what was sent. */
static void test_slow_sink_no_backpressure(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_slow_sink", "{'delay': 0.01, 'backpressure': false}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    send_yields(&p, h, "c1", 0, 100);
    char tb[400];
    overrun_tb(tb, sizeof(tb), "c1", 0);
    int errors = 0;
    while (sp_unread(&p, h)) {
        const sp_msg *m = sp_expect_error(&p, h, "c1", "StreamOverrun", tb);
        if (!m)
            break;
        CU_ASSERT(!sp_tb_has(m, "No stream open"));
        errors++;
    }
    CU_ASSERT(errors == 36);
    sp_run_timers(&p, 2.0);
    sp_send(&p, h, "{'stop': true, 'cid': 'c1'}");
    sp_run_timers(&p, 1.0);
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c1", "64"));
    at_finish(&p);
}

/* LIM-13, SEC-2, SEC-8 row 46: a peer that never reads: producers wait at
 * about half of max_outbuf, reading stops past max_outbuf, memory stays
 * bounded, other peers are served; once it reads, everything arrives. */
static void test_never_reading_peer(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_outbuf = 64 * 1024;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p), s = at_peer(&p), other = at_peer(&p);
    sp_set_reading(&p, h, 0);
    sp_set_reading(&p, s, 0);
    sp_cmd(&p, h, "c1", "scwire_service", "count", "{'n': 20000}");
    size_t out = sp_outbuf(&p, h);
    CU_ASSERT(out >= 32 * 1024 && out < 33 * 1024);
    CU_ASSERT(sp_want_read(&p, h));
    sp_cmd(&p, s, "s1", "scwire_service", "ctx_stream_out", "{'n': 20000}");
    out = sp_outbuf(&p, s);
    CU_ASSERT(out >= 32 * 1024 && out < 33 * 1024);
    /* Replies to further commands fill the output up to the limit. */
    char *v = at_repeat('v', 2000);
    for (int i = 0; i < 40; i++)
        sp_cmd(&p, h, "e", "scwire_service", "echo", "{'value': '%s'}", v);
    free(v);
    out = sp_outbuf(&p, h);
    CU_ASSERT(out >= 64 * 1024 && out < 64 * 1024 + 2100);
    CU_ASSERT(!sp_want_read(&p, h));
    CU_ASSERT(sp_stats(&p).buffered_bytes < 3 * 64 * 1024 + 40 * 2100);
    CU_ASSERT(echo_ok(&p, other, "o1"));
    /* Reading again: the waiting producers and the unread commands go on. */
    sp_set_reading(&p, h, 1);
    sp_set_reading(&p, s, 1);
    int ok = at_functype(&p, h, "c1", "asyncgen"), yields = 0, echoes = 0, stops = 0;
    const sp_msg *m;
    while (ok && (m = sp_next(&p, h)) != NULL) {
        const msgpack_object *y = sc_map_get(&m->obj, "yield");
        if (y) {
            ok = y->type == MSGPACK_OBJECT_POSITIVE_INTEGER && y->via.u64 == (uint64_t)yields;
            yields++;
        } else if (sc_map_get(&m->obj, "stop")) {
            stops++;
        } else if (sc_map_get(&m->obj, "return")) {
            echoes++;
        }
    }
    CU_ASSERT(ok && yields == 20000 && stops == 1 && echoes == 40);
    CU_ASSERT(at_functype(&p, s, "s1", "context") && started(&p, s, "s1", "nil"));
    ok = 1;
    for (int i = 0; i < 20000 && ok; i++)
        ok = sp_expect(&p, s, "{'yield': %d, 'cid': 's1'}", i);
    CU_ASSERT(ok && stopped(&p, s, "s1") && at_return(&p, s, "s1", "20000"));
    CU_ASSERT(sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* LIM-13, OVR-6, OVR-8, CID-8: ctx_echo to a peer that does not read: the
 * echo waits for room, the yields queue, park and finally stop the reading;
 * once the peer reads, every value comes back in order. */
static void test_ctx_echo_slow_reader(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_outbuf = 16 * 1024;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p), other = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_echo", "{'first': nil}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    sp_set_reading(&p, h, 0);
    char *v = at_repeat('v', 100);
    sp_bytes b = { 0 };
    for (int i = 0; i < 3000; i++)
        sp_framef(&b, SC_CODEC_MSGPACK, "{'yield': [%d, '%s'], 'cid': 'c1'}", i, v);
    sp_framef(&b, SC_CODEC_MSGPACK, "{'stop': true, 'cid': 'c1'}");
    sp_feed(&p, h, b.data, b.len);
    sp_bytes_free(&b);
    CU_ASSERT(!sp_want_read(&p, h));
    CU_ASSERT(sp_outbuf(&p, h) <= 8 * 1024 + 200);
    CU_ASSERT(sp_stats(&p).overruns == 0);
    CU_ASSERT(echo_ok(&p, other, "o1"));
    sp_set_reading(&p, h, 1);
    int ok = 1;
    for (int i = 0; i < 3000 && ok; i++)
        ok = sp_expect(&p, h, "{'yield': [%d, '%s'], 'cid': 'c1'}", i, v);
    free(v);
    CU_ASSERT(ok && stopped(&p, h, "c1") && at_return(&p, h, "c1", "3000"));
    sc_actor_stats st = sp_stats(&p);
    CU_ASSERT(st.contexts == 0 && st.buffered_bytes == 0 && st.overruns == 0);
    at_finish(&p);
}

/* ---- the self namespace ----------------------------------------------------------------------- */

/* SELF-4, SELF-5, SELF-6, SELF-7, SEC-7, SEC-8 row 43: _cancel_task cancels
 * only the same connection's task; from elsewhere, even with the same uid,
 * it returns nil and cancels nothing. */
static void test_cancel_task_scope(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = at_peer(&p), b = at_peer(&p);
    int c = sp_handshake(&p, "other", U2);
    sp_cmd(&p, a, "c1", "scwire_service", "ctx_no_stream", "{'value': nil}");
    sp_cmd(&p, a, "c3", "scwire_service", "sleep_forever", "{}");
    CU_ASSERT(at_functype(&p, a, "c1", "context") && started(&p, a, "c1", "nil") &&
              at_functype(&p, a, "c3", "asyncfunc"));
    sp_cmd(&p, b, "k1", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, b, "k1", "asyncfunc") && at_return(&p, b, "k1", "nil"));
    sp_cmd(&p, c, "k2", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, c, "k2", "asyncfunc") && at_return(&p, c, "k2", "nil"));
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_stats(&p).contexts == 2);
    /* tractor overwrites a chan key; here it is an unexpected keyword. */
    sp_cmd(&p, a, "c2", "self", "_cancel_task", "{'cid': 'c1', 'chan': 'x'}");
    CU_ASSERT(sp_expect_error(&p, a, "c2", "TypeError", "'chan'") != NULL);
    sp_cmd(&p, a, "c2", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, a, "c2", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, a, "c1", "ContextCancelled", "was remotely cancelled by its caller") != NULL);
    CU_ASSERT(at_return(&p, a, "c2", "nil"));
    sp_cmd(&p, a, "c4", "self", "_cancel_task", "{'cid': 'c3'}");
    CU_ASSERT(at_functype(&p, a, "c4", "asyncfunc") && at_return(&p, a, "c4", "nil"));
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* SELF-7, LIM-13: an asyncgen waiting for output room, cancelled, ends
 * with stop. */
static void test_cancel_asyncgen(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_outbuf = 16 * 1024;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_set_reading(&p, h, 0);
    sp_cmd(&p, h, "c1", "scwire_service", "count", "{'n': 1000000}");
    CU_ASSERT(sp_stats(&p).contexts == 1);
    sp_cmd(&p, h, "c2", "self", "_cancel_task", "{'cid': 'c1'}");
    sp_set_reading(&p, h, 1);
    CU_ASSERT(at_functype(&p, h, "c1", "asyncgen"));
    const sp_msg *m;
    int yields = 0;
    while ((m = sp_next(&p, h)) != NULL && sc_map_get(&m->obj, "yield"))
        yields++;
    CU_ASSERT(yields > 100 && yields < 1000);
    CU_ASSERT(sp_match(m, "{'functype': 'asyncfunc', 'cid': 'c2'}"));
    CU_ASSERT(stopped(&p, h, "c1") && at_return(&p, h, "c2", "nil"));
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* SELF-2, SELF-3, SEC-6, SEC-8 rows 10-12: unknown self methods, registry
 * methods on a plain actor, and bad kwargs to self methods get one error,
 * no functype, and the actor keeps serving. */
static void test_self_refusals(void)
{
    static const struct {
        const char *func;
        const char *kwargs;
        const char *type_str;
    } cases[] = {
        { "no_such_method", "{}", "AttributeError" },
        { "cancel_rpc_tasks", "{}", "AttributeError" },
        { "_from_parent", "{'parent_addr': ['127.0.0.1', 1]}", "AttributeError" },
        { "__init__", "{}", "AttributeError" },
        { "register_actor", "{'uid': ['a', 'b'], 'sockaddr': ['h', 1]}", "AttributeError" },
        { "unregister_actor", "{'uid': ['a', 'b']}", "AttributeError" },
        { "find_actor", "{'name': 'a'}", "AttributeError" },
        { "wait_for_actor", "{'name': 'a'}", "AttributeError" },
        { "get_registry", "{}", "AttributeError" },
        { "cancel", "{'x': 1}", "TypeError" },
        { "_cancel_task", "{}", "TypeError" },
        { "_cancel_task", "{'cid': 5}", "TypeError" },
        { "_cancel_task", "{'cid': 'c', 'x': 1}", "TypeError" },
    };
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cid[8];
        snprintf(cid, sizeof(cid), "s%d", (int)i);
        sp_cmd(&p, h, cid, "self", cases[i].func, "%s", cases[i].kwargs);
        CU_ASSERT(sp_expect_error(&p, h, cid, cases[i].type_str, NULL) != NULL);
        CU_ASSERT(sp_unread(&p, h) == 0);
    }
    CU_ASSERT(!p.exited && sp_count_events(&p, SC_EV_STOP_LISTEN) == 0);
    CU_ASSERT(echo_ok(&p, h, "c1"));
    at_finish(&p);
}

/* SELF-8, SELF-9, SELF-10: self.cancel cancels every task of every channel
 * (contexts end with ContextCancelled, asyncfuncs quietly), answers
 * functype and true, then the listener and every connection close and the
 * actor exits with 0. */
static void test_self_cancel(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = at_peer(&p), b = at_peer(&p), c = at_peer(&p);
    sp_cmd(&p, a, "c1", "scwire_service", "ctx_no_stream", "{'value': nil}");
    sp_cmd(&p, b, "d1", "scwire_service", "ctx_echo", "{'first': nil}");
    sp_cmd(&p, b, "d2", "scwire_service", "sleep_forever", "{}");
    CU_ASSERT(at_functype(&p, a, "c1", "context") && started(&p, a, "c1", "nil"));
    CU_ASSERT(at_functype(&p, b, "d1", "context") && started(&p, b, "d1", "nil") &&
              at_functype(&p, b, "d2", "asyncfunc"));
    size_t ev0 = p.nevents;
    sp_cmd(&p, a, "k1", "self", "cancel", "{}");
    CU_ASSERT(at_functype(&p, a, "k1", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, a, "c1", "ContextCancelled", "ctx_no_stream was remotely cancelled") != NULL);
    CU_ASSERT(at_return(&p, a, "k1", "true"));
    CU_ASSERT(sp_expect_error(&p, b, "d1", "ContextCancelled", "ctx_echo was remotely cancelled") != NULL);
    /* SVC-4: open channels get nil before they close. */
    CU_ASSERT(sp_expect(&p, a, "nil") && sp_expect(&p, b, "nil") && sp_expect(&p, c, "nil"));
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_unread(&p, b) == 0 && sp_unread(&p, c) == 0);
    CU_ASSERT(sp_closed(&p, a) && sp_closed(&p, b) && sp_closed(&p, c));
    CU_ASSERT(p.exited && p.exit_status == 0);
    long stop = sp_find_event(&p, SC_EV_STOP_LISTEN, ev0);
    long exit_at = sp_find_event(&p, SC_EV_EXIT, ev0);
    CU_ASSERT(stop >= 0 && exit_at == (long)p.nevents - 1);
    CU_ASSERT(sp_count_events(&p, SC_EV_CLOSE) == 3 && sp_count_events(&p, SC_EV_EXIT) == 1);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 0);
    CU_ASSERT(sp_stats(&p).contexts == 0 && sp_stats(&p).conns == 0);
    sc_conn_id id;
    CU_ASSERT(sc_actor_accept(p.actor, p.now, NULL, &id, NULL) == SC_ESTATE);
    at_finish(&p);
}

/* SVC-3, SVC-4: shutdown ends tasks the same way and exits with 0. */
static void test_shutdown(void)
{
    simpeer p;
    at_start(&p, NULL);
    int a = at_peer(&p), b = sp_accept(&p);
    sp_cmd(&p, a, "c1", "scwire_service", "ctx_no_stream", "{'value': nil}");
    sp_cmd(&p, a, "c2", "scwire_service", "count", "{'n': 0}");
    sp_cmd(&p, a, "c3", "scwire_service", "sleep", "{'seconds': 5}");
    CU_ASSERT(at_functype(&p, a, "c1", "context") && started(&p, a, "c1", "nil"));
    CU_ASSERT(at_functype(&p, a, "c2", "asyncgen") && stopped(&p, a, "c2") &&
              at_functype(&p, a, "c3", "asyncfunc"));
    sc_actor_shutdown(p.actor, p.now);
    sp_pump(&p);
    CU_ASSERT(sp_expect_error(&p, a, "c1", "ContextCancelled", NULL) != NULL);
    CU_ASSERT(sp_expect(&p, a, "nil"));
    /* b never completed its handshake: no nil for it. */
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_unread(&p, b) == 1);
    CU_ASSERT(sp_closed(&p, a) && sp_closed(&p, b));
    CU_ASSERT(p.exited && p.exit_status == 0);
    CU_ASSERT(sp_find_event(&p, SC_EV_STOP_LISTEN, 0) >= 0);
    CU_ASSERT(sp_find_event(&p, SC_EV_EXIT, 0) == (long)p.nevents - 1);
    CU_ASSERT(sc_actor_next_deadline(p.actor) < 0);
    at_finish(&p);
}

/* ---- the registry ----------------------------------------------------------------------------- */

/* SELF-1, REG-2, REG-4, REG-5, REG-6, REG-8, REG-9, REG-10: the registry
 * functions, wait_for_actor woken by a register from another connection. */
static void test_registry_functions(void)
{
    sc_actor_config cfg = at_config();
    cfg.registry_role = 1;
    cfg.listen_port = 1616;
    simpeer p;
    at_start(&p, &cfg);
    CU_ASSERT(sp_start(&p) == SC_OK);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 0);
    int a = at_peer(&p), b = at_peer(&p);
    sp_cmd(&p, a, "g1", "self", "get_registry", "{}");
    CU_ASSERT(at_functype(&p, a, "g1", "asyncfunc"));
    CU_ASSERT(at_return(&p, a, "g1", "{['" ANAME "', '" AU "']: ['127.0.0.1', 1616]}"));
    sp_cmd(&p, a, "w1", "self", "wait_for_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, a, "w1", "asyncfunc") && sp_unread(&p, a) == 0);
    sp_cmd(&p, b, "r1", "self", "register_actor", "{'uid': ['svc', 'u1'], 'sockaddr': ['10.0.0.1', 5000]}");
    CU_ASSERT(at_functype(&p, b, "r1", "asyncfunc") && at_return(&p, b, "r1", "nil"));
    CU_ASSERT(at_return(&p, a, "w1", "[['10.0.0.1', 5000]]"));
    CU_ASSERT(sp_stats(&p).registry_entries == 2 && sp_stats(&p).contexts == 0);
    /* A second entry of that name, and an update that keeps its place. */
    sp_cmd(&p, b, "r2", "self", "register_actor", "{'uid': ['svc', 'u2'], 'sockaddr': ['10.0.0.2', 5001]}");
    sp_cmd(&p, b, "r3", "self", "register_actor", "{'uid': ['svc', 'u1'], 'sockaddr': ['10.0.0.1', 5002]}");
    CU_ASSERT(at_functype(&p, b, "r2", "asyncfunc") && at_return(&p, b, "r2", "nil"));
    CU_ASSERT(at_functype(&p, b, "r3", "asyncfunc") && at_return(&p, b, "r3", "nil"));
    sp_cmd(&p, a, "w2", "self", "wait_for_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, a, "w2", "asyncfunc"));
    CU_ASSERT(at_return(&p, a, "w2", "[['10.0.0.1', 5002], ['10.0.0.2', 5001]]"));
    sp_cmd(&p, a, "f1", "self", "find_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, a, "f1", "asyncfunc") &&
              at_return(&p, a, "f1", "['10.0.0.1', 5002]"));
    sp_cmd(&p, a, "f2", "self", "find_actor", "{'name': 'u1'}");
    CU_ASSERT(at_functype(&p, a, "f2", "asyncfunc") && at_return(&p, a, "f2", "nil"));
    sp_cmd(&p, a, "g2", "self", "get_registry", "{}");
    CU_ASSERT(at_functype(&p, a, "g2", "asyncfunc"));
    CU_ASSERT(at_return(&p, a, "g2", "{['" ANAME "', '" AU "']: ['127.0.0.1', 1616], "
                              "['svc', 'u1']: ['10.0.0.1', 5002], ['svc', 'u2']: ['10.0.0.2', 5001]}"));
    /* REG-9: the registering channel's end removes nothing. */
    sp_eof(&p, b, 0);
    CU_ASSERT(sp_stats(&p).registry_entries == 3);
    sp_cmd(&p, a, "u1", "self", "unregister_actor", "{'uid': ['svc', 'u1']}");
    CU_ASSERT(at_functype(&p, a, "u1", "asyncfunc") && at_return(&p, a, "u1", "nil"));
    sp_cmd(&p, a, "u2", "self", "unregister_actor", "{'uid': ['svc', 'u1']}");
    CU_ASSERT(at_functype(&p, a, "u2", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, a, "u2", "KeyError", "('svc', 'u1')") != NULL);
    sp_cmd(&p, a, "f3", "self", "find_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, a, "f3", "asyncfunc") &&
              at_return(&p, a, "f3", "['10.0.0.2', 5001]"));
    CU_ASSERT(sp_stats(&p).registry_entries == 2 && sp_unread(&p, a) == 0);
    at_finish(&p);
}

/* REG-2, SELF-3: badly typed registry arguments are refused like bad
 * kwargs (TypeError, no functype) and change nothing. */
static void test_registry_bad_args(void)
{
    static const struct {
        const char *func;
        const char *kwargs;
    } cases[] = {
        { "register_actor", "{'uid': 'svc', 'sockaddr': ['h', 1]}" },
        { "register_actor", "{'uid': ['svc'], 'sockaddr': ['h', 1]}" },
        { "register_actor", "{'uid': ['svc', 'u'], 'sockaddr': 'h:1'}" },
        { "register_actor", "{'uid': ['svc', 'u'], 'sockaddr': ['h', 'x']}" },
        { "register_actor", "{'uid': ['svc', 'u'], 'sockaddr': [1, 1]}" },
        { "register_actor", "{'uid': ['svc', 'u'], 'sockaddr': ['h', 70000]}" },
        { "register_actor", "{'uid': ['svc', 'u'], 'sockaddr': ['h', -1]}" },
        { "register_actor", "{'uid': ['svc', 'u']}" },
        { "register_actor", "{'uid': ['svc', 'u'], 'sockaddr': ['h', 1], 'x': 1}" },
        { "unregister_actor", "{'uid': 5}" },
        { "find_actor", "{'name': 5}" },
        { "find_actor", "{}" },
        { "wait_for_actor", "{'name': ['svc']}" },
        { "get_registry", "{'x': 1}" },
    };
    sc_actor_config cfg = at_config();
    cfg.registry_role = 1;
    simpeer p;
    at_start(&p, &cfg);
    sp_start(&p);
    int h = at_peer(&p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cid[8];
        snprintf(cid, sizeof(cid), "b%d", (int)i);
        sp_cmd(&p, h, cid, "self", cases[i].func, "%s", cases[i].kwargs);
        CU_ASSERT(sp_expect_error(&p, h, cid, "TypeError", NULL) != NULL);
        CU_ASSERT(sp_unread(&p, h) == 0);
    }
    CU_ASSERT(sp_stats(&p).registry_entries == 1 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* RPC-11 and REG-16: the registry's byte bound keeps get_registry and
 * wait_for_actor within the message limit, registrations beyond it get
 * RuntimeError; a reply that a long cid pushes over the limit is replaced by
 * an error on its cid, and the channel stays usable. */
static void test_result_over_limit(void)
{
    sc_actor_config cfg = at_config();
    cfg.registry_role = 1;
    cfg.limits.max_frame = 1024;
    simpeer p;
    at_start(&p, &cfg);
    sp_start(&p);
    int h = at_peer(&p);
    char *host = at_repeat('h', 100);
    /* 512 bytes of registry: the actor's own entry and three of about 130. */
    for (int i = 0; i < 4; i++) {
        char cid[8];
        snprintf(cid, sizeof(cid), "r%d", i);
        sp_cmd(&p, h, cid, "self", "register_actor", "{'uid': ['svc', 'u%d'], 'sockaddr': ['%s', %d]}",
               i, host, i);
        CU_ASSERT(at_functype(&p, h, cid, "asyncfunc"));
        int ok = i < 3 ? at_return(&p, h, cid, "nil")
                       : sp_expect_error(&p, h, cid, "RuntimeError", "bytes") != NULL;
        CU_ASSERT(ok);
    }
    sp_cmd(&p, h, "g1", "self", "get_registry", "{}");
    CU_ASSERT(at_functype(&p, h, "g1", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "g1", "TypeError", NULL) == NULL);
    sp_cmd(&p, h, "w1", "self", "wait_for_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, h, "w1", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "w1", "TypeError", NULL) == NULL);
    char *cid = at_repeat('c', 700);
    sp_cmd(&p, h, cid, "self", "get_registry", "{}");
    CU_ASSERT(at_functype(&p, h, cid, "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, cid, "TypeError", NULL) != NULL);
    CU_ASSERT(!sp_closed(&p, h) && sp_unread(&p, h) == 0);
    sp_cmd(&p, h, "f1", "self", "find_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, h, "f1", "asyncfunc"));
    CU_ASSERT(sp_expect(&p, h, "{'return': ['%s', 0], 'cid': 'f1'}", host));
    CU_ASSERT(sp_stats(&p).contexts == 0);
    free(cid);
    free(host);
    at_finish(&p);
}

/* REG-3: a full registry refuses a new uid with an error and changes
 * nothing; a registered uid still moves, and a freed entry takes a new one. */
static void test_registry_full(void)
{
    sc_actor_config cfg = at_config();
    cfg.registry_role = 1;
    cfg.limits.max_registry = 2;  /* the registry itself and one more */
    simpeer p;
    at_start(&p, &cfg);
    sp_start(&p);
    int h = at_peer(&p);
    sp_cmd(&p, h, "r1", "self", "register_actor", "{'uid': ['svc', 'u1'], 'sockaddr': ['h', 1]}");
    CU_ASSERT(at_functype(&p, h, "r1", "asyncfunc") && at_return(&p, h, "r1", "nil"));
    sp_cmd(&p, h, "r2", "self", "register_actor", "{'uid': ['svc', 'u2'], 'sockaddr': ['h', 2]}");
    CU_ASSERT(at_functype(&p, h, "r2", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "r2", "RuntimeError", "full") != NULL);
    sp_cmd(&p, h, "r3", "self", "register_actor", "{'uid': ['svc', 'u1'], 'sockaddr': ['h', 3]}");
    CU_ASSERT(at_functype(&p, h, "r3", "asyncfunc") && at_return(&p, h, "r3", "nil"));
    sp_cmd(&p, h, "u1", "self", "unregister_actor", "{'uid': ['svc', 'u1']}");
    CU_ASSERT(at_functype(&p, h, "u1", "asyncfunc") && at_return(&p, h, "u1", "nil"));
    sp_cmd(&p, h, "r4", "self", "register_actor", "{'uid': ['svc', 'u2'], 'sockaddr': ['h', 2]}");
    CU_ASSERT(at_functype(&p, h, "r4", "asyncfunc") && at_return(&p, h, "r4", "nil"));
    CU_ASSERT(sp_stats(&p).registry_entries == 2);
    at_finish(&p);
}

/* REG-7, SELF-7: a waiting wait_for_actor ends when cancelled (nothing more
 * on its cid) or when its channel ends, and leaves no waiter behind. */
static void test_registry_wait_cancelled(void)
{
    sc_actor_config cfg = at_config();
    cfg.registry_role = 1;
    simpeer p;
    at_start(&p, &cfg);
    sp_start(&p);
    int a = at_peer(&p), b = at_peer(&p), c = at_peer(&p);
    sp_cmd(&p, a, "w1", "self", "wait_for_actor", "{'name': 'svc'}");
    sp_cmd(&p, a, "w2", "self", "wait_for_actor", "{'name': 'svc'}");
    sp_cmd(&p, b, "w3", "self", "wait_for_actor", "{'name': 'svc'}");
    CU_ASSERT(at_functype(&p, a, "w1", "asyncfunc") && at_functype(&p, a, "w2", "asyncfunc") &&
              at_functype(&p, b, "w3", "asyncfunc"));
    CU_ASSERT(sp_stats(&p).contexts == 3);
    sp_cmd(&p, a, "k1", "self", "_cancel_task", "{'cid': 'w1'}");
    CU_ASSERT(at_functype(&p, a, "k1", "asyncfunc") && at_return(&p, a, "k1", "nil"));
    sp_eof(&p, b, 0);
    CU_ASSERT(sp_expect(&p, b, "nil") && sp_closed(&p, b));
    CU_ASSERT(sp_stats(&p).contexts == 1);
    sp_cmd(&p, c, "r1", "self", "register_actor", "{'uid': ['svc', 'u1'], 'sockaddr': ['h', 1]}");
    CU_ASSERT(at_functype(&p, c, "r1", "asyncfunc") && at_return(&p, c, "r1", "nil"));
    CU_ASSERT(at_return(&p, a, "w2", "[['h', 1]]"));
    CU_ASSERT(sp_unread(&p, a) == 0 && sp_stats(&p).contexts == 0);
    at_finish(&p);
}

/* ---- limits --------------------------------------------------------------------------------- */

/* LIM-8, LIM-15, SEC-8 row 44: at the context limit a command gets
 * TooManyContexts (no functype), cancelling still works, and room is
 * usable again. */
static void test_too_many_contexts(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_contexts = 3;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p), other = at_peer(&p);
    for (int i = 1; i <= 3; i++) {
        char cid[4];
        snprintf(cid, sizeof(cid), "c%d", i);
        sp_cmd(&p, h, cid, "scwire_service", "sleep_forever", "{}");
        CU_ASSERT(at_functype(&p, h, cid, "asyncfunc"));
    }
    sp_cmd(&p, h, "c4", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_expect_error(&p, h, "c4", "TooManyContexts", NULL) != NULL);
    CU_ASSERT(echo_ok(&p, other, "o1"));
    sp_cmd(&p, h, "k1", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, h, "k1", "asyncfunc") && at_return(&p, h, "k1", "nil"));
    CU_ASSERT(echo_ok(&p, h, "c5"));
    sp_cmd(&p, h, "c6", "scwire_service", "ctx_echo", "{'first': 1}");
    CU_ASSERT(at_functype(&p, h, "c6", "context") && started(&p, h, "c6", "1"));
    sp_cmd(&p, h, "c7", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_expect_error(&p, h, "c7", "TooManyContexts", NULL) != NULL);
    sp_cmd(&p, h, "k2", "self", "cancel", "{}");
    CU_ASSERT(at_functype(&p, h, "k2", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "c6", "ContextCancelled", NULL) != NULL);
    CU_ASSERT(at_return(&p, h, "k2", "true"));
    CU_ASSERT(p.exited);
    at_finish(&p);
}

/* LIM-10, SEC-8 row 45: past max_conns accept refuses with SC_ELIMIT, the
 * others are unaffected, and accepting works again once one ends. */
static void test_max_conns(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_conns = 4;
    simpeer p;
    at_start(&p, &cfg);
    int h[4];
    for (int i = 0; i < 4; i++)
        h[i] = at_peer(&p);
    CU_ASSERT(sp_accept(&p) == SC_ELIMIT);
    CU_ASSERT(sp_accept(&p) == SC_ELIMIT);
    CU_ASSERT(sp_log_has(&p, "limit of 4 connections"));
    CU_ASSERT(sp_log_has(&p, "refusing a connection from 127.0.0.1:400"));
    CU_ASSERT(sp_stats(&p).conns == 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(echo_ok(&p, h[i], "c1"));
    sp_send(&p, h[2], "nil");
    CU_ASSERT(sp_closed(&p, h[2]));
    int n = at_peer(&p);
    CU_ASSERT(echo_ok(&p, n, "c1"));
    CU_ASSERT(sp_accept(&p) == SC_ELIMIT);
    at_finish(&p);
}

/* CID-10, SEC-8 row 24: a command reusing a live cid gets MessagingError,
 * the live context goes on; a finished cid may be reused. */
static void test_duplicate_cid(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", "scwire_service", "ctx_no_stream", "{'value': nil}");
    CU_ASSERT(at_functype(&p, h, "c1", "context") && started(&p, h, "c1", "nil"));
    sp_cmd(&p, h, "c1", "scwire_service", "echo", "{'value': 1}");
    CU_ASSERT(sp_expect_error(&p, h, "c1", "MessagingError", NULL) != NULL);
    sp_cmd(&p, h, "c1", "self", "cancel", "{}");
    CU_ASSERT(sp_expect_error(&p, h, "c1", "MessagingError", NULL) != NULL);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_stats(&p).contexts == 1 && !p.exited);
    sp_cmd(&p, h, "k1", "self", "_cancel_task", "{'cid': 'c1'}");
    CU_ASSERT(at_functype(&p, h, "k1", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "c1", "ContextCancelled", NULL) != NULL);
    CU_ASSERT(at_return(&p, h, "k1", "nil"));
    CU_ASSERT(echo_ok(&p, h, "c1") && echo_ok(&p, h, "c1"));
    at_finish(&p);
}

/* One hostile input on a fresh connection must close it and nothing else;
 * x carries a ctx_echo conversation that must go on. */
static void hostile(simpeer *p, int x, int *round, const char *what, const void *bytes, size_t len)
{
    int h = at_peer(p);
    sp_feed(p, h, bytes, len);
    if (!sp_closed(p, h))
        fprintf(stderr, "hostile input not refused: %s\n", what);
    CU_ASSERT(sp_closed(p, h) && sp_unread(p, h) == 0);
    sp_send(p, x, "{'yield': %d, 'cid': 'x1'}", *round);
    CU_ASSERT(sp_expect(p, x, "{'yield': %d, 'cid': 'x1'}", *round));
    (*round)++;
}

static void hostile_text(simpeer *p, int x, int *round, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void hostile_text(simpeer *p, int x, int *round, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char text[70000];
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    sp_bytes b = { 0 };
    CU_ASSERT_FATAL(sp_pack(&b, text) == 0);
    hostile(p, x, round, text, b.data, b.len);
    sp_bytes_free(&b);
}

static void nest(char *out, int depth, const char *inner)
{
    out[0] = '\0';
    for (int i = 0; i < depth; i++)
        strcat(out, "[");
    strcat(out, inner);
    for (int i = 0; i < depth; i++)
        strcat(out, "]");
}

/* LIM-1, LIM-2, LIM-4, LIM-5, LIM-6, LIM-7, LIM-14, FRAME-9, FRAME-12,
 * SEC-1, SEC-2, SEC-8 rows 29-35: values over a limit, invalid msgpack and
 * invalid UTF-8 close only their own connection; values at the limits are
 * served. */
static void test_msgpack_limits(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_str = 1000;
    cfg.limits.max_frame = 4096;
    cfg.limits.max_entries = 100;
    simpeer p;
    at_start(&p, &cfg);
    int x = at_peer(&p), round = 0;
    sp_cmd(&p, x, "x1", "scwire_service", "ctx_echo", "{'first': nil}");
    CU_ASSERT(at_functype(&p, x, "x1", "context") && started(&p, x, "x1", "nil"));
    const char *cmd = "{'cmd': ['scwire_service', 'echo', {'value': %s}, ['peer', '" U1 "'], 'c1']}";
    char *s1000 = at_repeat('s', 1000), *s1001 = at_repeat('s', 1001);
    char value[6000], list[1200];

    /* At the limits: served. */
    int ok = at_peer(&p);
    snprintf(value, sizeof(value), "'%s'", s1000);
    sp_cmd(&p, ok, "c1", "scwire_service", "echo", "{'value': %s}", value);
    CU_ASSERT(at_functype(&p, ok, "c1", "asyncfunc") && at_return(&p, ok, "c1", value));
    nest(value, 29, "1");                       /* the message is 32 deep */
    sp_cmd(&p, ok, "c2", "scwire_service", "echo", "{'value': %s}", value);
    CU_ASSERT(at_functype(&p, ok, "c2", "asyncfunc") && at_return(&p, ok, "c2", value));
    strcpy(list, "[0");
    for (int i = 1; i < 100; i++)
        strcat(list, ", 0");
    strcat(list, "]");
    sp_cmd(&p, ok, "c3", "scwire_service", "echo", "{'value': %s}", list);
    CU_ASSERT(at_functype(&p, ok, "c3", "asyncfunc") && at_return(&p, ok, "c3", list));
    CU_ASSERT(!sp_closed(&p, ok));

    /* Over them, or invalid: closed. */
    snprintf(value, sizeof(value), "'%s'", s1001);
    hostile_text(&p, x, &round, cmd, value);                       /* str over max_str */
    snprintf(value, sizeof(value), "b'%s'", s1001);
    hostile_text(&p, x, &round, cmd, value);                       /* bin over max_str */
    nest(value, 30, "1");
    hostile_text(&p, x, &round, cmd, value);                       /* 33 deep */
    strcpy(list + strlen(list) - 1, ", 0]");
    hostile_text(&p, x, &round, cmd, list);                        /* 101 entries */
    snprintf(value, sizeof(value), "['%s', '%s', '%s', '%s', '%s']", s1000, s1000, s1000, s1000, s1000);
    hostile_text(&p, x, &round, cmd, value);                       /* over max_frame */
    hostile_text(&p, x, &round, cmd, "'\\xff'");                   /* invalid UTF-8 */
    hostile_text(&p, x, &round, cmd, "'\\xed\\xa0\\x80'");         /* a surrogate */
    hostile_text(&p, x, &round, cmd, "'\\xc0\\x80'");              /* overlong */
    hostile_text(&p, x, &round, cmd, "{'\\xe2\\x82': 1}");         /* in a map key */
    hostile_text(&p, x, &round, "{'cmd': ['\\xff', 'echo', {}, ['p', 'u'], 'c1']}");
    hostile_text(&p, x, &round, "<c1>");
    hostile_text(&p, x, &round, "<c1 c1 c1>");
    hostile_text(&p, x, &round, "{'cid': 'x1', 'yield': <c1>}");
    hostile_text(&p, x, &round, "<df 0f ff ff ff 01 02>");         /* map32 of 2**28 */
    hostile_text(&p, x, &round, "<dd ff ff ff ff 01>");            /* array32 of 2**32-1 */
    hostile_text(&p, x, &round, "<db ff ff ff ff 41>");            /* str32 of 2**32-1 */
    hostile_text(&p, x, &round, "<c6 7f ff ff ff 41>");            /* bin32 */
    hostile_text(&p, x, &round, "<c9 7f ff ff ff 01 41>");         /* ext32 */
    char deep[100];
    for (int i = 0; i < 33; i++)
        memcpy(deep + 3 * i, "91 ", 3);
    strcpy(deep + 99, "");
    char deep_hex[120];
    snprintf(deep_hex, sizeof(deep_hex), "<%sc0>", deep);
    hostile_text(&p, x, &round, "%s", deep_hex);                    /* 33 arrays, raw */
    /* A frame that never ends, fed past max_frame. */
    sp_bytes b = { 0 };
    sp_pack(&b, "<db 00 00 ff ff>");
    for (int i = 0; i < 5000; i++)
        sp_bytes_add(&b, "a", 1);
    hostile(&p, x, &round, "endless str32", b.data, b.len);
    sp_bytes_free(&b);
    free(s1000);
    free(s1001);

    CU_ASSERT(echo_ok(&p, ok, "c4"));
    sp_send(&p, x, "{'stop': true, 'cid': 'x1'}");
    CU_ASSERT(stopped(&p, x, "x1"));
    CU_ASSERT(sp_expect(&p, x, "{'return': %d, 'cid': 'x1'}", round));
    CU_ASSERT(sp_stats(&p).conns == 2 && !p.exited);
    at_finish(&p);
}

/* LIM-1: the limits apply to the handshake uid too. */
static void test_limits_on_uid(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_str = 100;
    simpeer p;
    at_start(&p, &cfg);
    int h = sp_accept(&p);
    sp_next(&p, h);
    char *name = at_repeat('n', 101);
    sp_send(&p, h, "['%s', 'u']", name);
    free(name);
    CU_ASSERT(sp_closed(&p, h));
    h = sp_accept(&p);
    sp_next(&p, h);
    send_hex(&p, h, "c1");
    CU_ASSERT(sp_closed(&p, h) && sp_stats(&p).conns == 0);
    at_finish(&p);
}

/* FRAME-4, FRAME-5, LIM-3, FRAME-13, SEC-8 rows 36-39: the lenprefix codec:
 * output frames (checked by simpeer's reader), a conversation, and bad
 * frames that close only their connection. */
static void test_lenprefix(void)
{
    sc_actor_config cfg = at_config();
    cfg.codec = SC_CODEC_LENPREFIX;
    cfg.limits.max_frame = 4096;
    simpeer p;
    at_start(&p, &cfg);
    int h = sp_accept(&p);
    CU_ASSERT(sp_expect(&p, h, "['" ANAME "', '" AU "']"));
    CU_ASSERT(p.conns[h].out_bytes == 4 + 50);
    sp_send_uid(&p, h, "peer", U1);
    sp_cmd(&p, h, "x1", "scwire_service", "ctx_echo", "{'first': 'hi'}");
    CU_ASSERT(at_functype(&p, h, "x1", "context") && started(&p, h, "x1", "'hi'"));
    send_yields(&p, h, "x1", 0, 3);
    CU_ASSERT(yielded(&p, h, "x1", "0") && yielded(&p, h, "x1", "1") && yielded(&p, h, "x1", "2"));
    int round = 3;
    /* header over max_frame: closed on the header alone */
    hostile(&p, h, &round, "ff ff ff ff", "\xff\xff\xff\xff", 4);
    hostile(&p, h, &round, "max_frame + 1", "\x01\x10\x00\x00", 4);
    hostile(&p, h, &round, "empty frame", "\x00\x00\x00\x00", 4);
    hostile(&p, h, &round, "trailing byte", "\x02\x00\x00\x00\xc0\xc0", 6);
    hostile(&p, h, &round, "short body", "\x02\x00\x00\x00\x92\xc0", 6);
    hostile(&p, h, &round, "0xc1", "\x01\x00\x00\x00\xc1", 5);
    hostile(&p, h, &round, "bare msgpack", "\x81\xa3\x63\x6d\x64\x90", 6);
    /* a header, then the end of the stream inside the body */
    int c = at_peer(&p);
    sp_feed(&p, c, "\x10\x00\x00\x00\x81", 5);
    CU_ASSERT(!sp_closed(&p, c));
    sp_eof(&p, c, 0);
    CU_ASSERT(sp_closed(&p, c) && sp_unread(&p, c) == 0);
    sp_send(&p, h, "{'stop': true, 'cid': 'x1'}");
    CU_ASSERT(stopped(&p, h, "x1"));
    CU_ASSERT(sp_expect(&p, h, "{'return': %d, 'cid': 'x1'}", round));
    sp_send(&p, h, "nil");
    CU_ASSERT(sp_expect(&p, h, "nil") && sp_closed(&p, h));
    at_finish(&p);
}

/* FRAME-2, HS-6, LIM-3: a peer on the other codec gets nowhere: its first
 * bytes are no uid (msgpack reads the prefix as the int 11) or announce a
 * frame over the limit (lenprefix reads a bare uid's first bytes). */
static void test_codec_mismatch(void)
{
    static const sc_codec codecs[] = { SC_CODEC_MSGPACK, SC_CODEC_LENPREFIX };
    for (size_t i = 0; i < 2; i++) {
        sc_actor_config cfg = at_config();
        cfg.codec = codecs[i];
        simpeer p;
        at_start(&p, &cfg);
        int good = at_peer(&p);
        int h = sp_accept_codec(&p, codecs[1 - i]);
        CU_ASSERT(sp_expect(&p, h, "['" ANAME "', '" AU "']"));
        sp_send_uid(&p, h, "peer", U1);
        CU_ASSERT(sp_closed(&p, h) && sp_unread(&p, h) == 0);
        CU_ASSERT(echo_ok(&p, good, "c1"));
        at_finish(&p);
    }
}

/* The bytes of one conversation; fed whole or in pieces of `chunk`. */
static void conversation(sc_codec codec, size_t chunk, sp_bytes *out)
{
    sc_actor_config cfg = at_config();
    cfg.codec = codec;
    simpeer p;
    at_start(&p, &cfg);
    p.chunk = chunk;
    int h = sp_accept_codec(&p, codec);
    sp_bytes b = { 0 };
    const char *msgs[] = {
        "['peer', '" U1 "']",
        "{'cmd': ['scwire_service', 'echo', {'value': {'a': [1, 2.5, 'x', nil, true, b'\\x00']}}, "
        "['peer', '" U1 "'], 'c1']}",
        "{'cmd': ['scwire_service', 'ctx_echo', {'first': 'hi'}, ['peer', '" U1 "'], 'c2']}",
        "{'yield': 0, 'cid': 'c2'}",
        "{'yield': 'caf\\xc3\\xa9', 'cid': 'c2'}",
        "{'yield': [1, {2: 3}], 'cid': 'c2'}",
        "{'cmd': ['scwire_service', 'count', {'n': 3}, ['peer', '" U1 "'], 'c3']}",
        "{'stop': true, 'cid': 'c2'}",
        "{'cmd': ['scwire_service', 'raise_error', {'type_str': 'E', 'text': 't'}, ['peer', '" U1
        "'], 'c4']}",
        "{'yield': 1, 'cid': 'gone'}",
        "{'cmd': ['scwire_absent', 'x', {}, ['peer', '" U1 "'], 'c5']}",
        "nil",
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
        sp_framef(&b, codec, "%s", msgs[i]);
    sp_feed(&p, h, b.data, b.len);
    sp_bytes_free(&b);
    CU_ASSERT(sp_closed(&p, h));
    const sp_msg *m;
    while ((m = sp_next(&p, h)) != NULL)
        sp_bytes_add(out, m->raw, m->len);
    CU_ASSERT(p.conns[h].nmsgs == 19);
    at_finish(&p);
}

/* FRAME-3, FRAME-4, FRAME-8, FRAME-14: a conversation fed one byte at a time
 * (or in odd pieces) gives the same output as fed at once. */
static void test_split_input(void)
{
    static const sc_codec codecs[] = { SC_CODEC_MSGPACK, SC_CODEC_LENPREFIX };
    for (size_t c = 0; c < 2; c++) {
        sp_bytes whole = { 0 };
        conversation(codecs[c], 0, &whole);
        CU_ASSERT(whole.len > 0);
        static const size_t chunks[] = { 1, 2, 3, 7, 64 };
        for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
            sp_bytes split = { 0 };
            conversation(codecs[c], chunks[i], &split);
            CU_ASSERT(split.len == whole.len && memcmp(split.data, whole.data, whole.len) == 0);
            sp_bytes_free(&split);
        }
        sp_bytes_free(&whole);
    }
}

/* ---- the registry client ---------------------------------------------------------------------- */

static sc_actor_config client_config(void)
{
    sc_actor_config cfg = at_config();
    cfg.registry_host = "127.0.0.1";
    cfg.registry_port = 1616;
    cfg.listen_port = 4000;
    return cfg;
}

static int canonical_uuid4(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* The cid of a cmd the actor sent, checked to be a fresh uuid4. */
static int cmd_cid(const sp_msg *m, char *cid, size_t n)
{
    const msgpack_object *cmd = m ? sc_map_get(&m->obj, "cmd") : NULL;
    if (!cmd || cmd->type != MSGPACK_OBJECT_ARRAY || cmd->via.array.size != 5 ||
        cmd->via.array.ptr[4].type != MSGPACK_OBJECT_STR)
        return 0;
    snprintf(cid, n, "%.*s", (int)cmd->via.array.ptr[4].via.str.size, cmd->via.array.ptr[4].via.str.ptr);
    return canonical_uuid4(cid);
}

/* Connect the outbound handle h as a registry and read the command. */
static const sp_msg *registry_side(simpeer *p, int h, char *cid, size_t n)
{
    CU_ASSERT(p->conns[h].out_bytes == 0);
    sp_connected(p, h);
    CU_ASSERT(sp_expect(p, h, "['" ANAME "', '" AU "']"));
    CU_ASSERT(sp_unread(p, h) == 0);
    sp_send_uid(p, h, "registrar", RU);
    const sp_msg *m = sp_next(p, h);
    CU_ASSERT(cmd_cid(m, cid, n));
    return m;
}

/* REG-11, REG-12, REG-13, HS-1: probe, register over a fresh connection,
 * and at shutdown unregister over another before exiting. */
static void test_registry_client(void)
{
    sc_actor_config cfg = client_config();
    simpeer p;
    at_start(&p, &cfg);
    CU_ASSERT(sp_start(&p) == SC_OK);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 1);
    int probe = p.last_connect;
    CU_ASSERT(probe >= 0 && strcmp(p.conns[probe].host, "127.0.0.1") == 0 && p.conns[probe].port == 1616);
    CU_ASSERT(!sp_want_read(&p, probe));
    sp_connected(&p, probe);
    /* The probe is closed without a byte; its release starts the register call. */
    CU_ASSERT(sp_closed(&p, probe) && p.conns[probe].out_bytes == 0);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 2);
    int reg = p.last_connect;
    CU_ASSERT(reg != probe && p.conns[reg].port == 1616);
    char cid[64];
    const sp_msg *m = registry_side(&p, reg, cid, sizeof(cid));
    CU_ASSERT(sp_match(m, "{'cmd': ['self', 'register_actor', {'uid': ['" ANAME "', '" AU "'], "
                          "'sockaddr': ['127.0.0.1', 4000]}, ['" ANAME "', '" AU "'], '%s']}", cid));
    CU_ASSERT(!sp_closed(&p, reg));
    /* Meanwhile the actor serves. */
    int h = at_peer(&p);
    CU_ASSERT(echo_ok(&p, h, "c1"));
    sp_send(&p, reg, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    CU_ASSERT(!sp_closed(&p, reg));
    sp_send(&p, reg, "{'return': nil, 'cid': '%s'}", cid);
    /* CAN-4: the side that opened the connection ends it with nil. */
    CU_ASSERT(sp_expect(&p, reg, "nil"));
    CU_ASSERT(sp_closed(&p, reg) && sp_unread(&p, reg) == 0);
    CU_ASSERT(sp_stats(&p).conns == 1 && sc_actor_next_deadline(p.actor) < 0);

    sc_actor_shutdown(p.actor, p.now);
    sp_pump(&p);
    CU_ASSERT(sp_closed(&p, h) && !p.exited);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 3 && sp_count_events(&p, SC_EV_STOP_LISTEN) == 1);
    int unreg = p.last_connect;
    char cid2[64];
    m = registry_side(&p, unreg, cid2, sizeof(cid2));
    CU_ASSERT(strcmp(cid, cid2) != 0);
    CU_ASSERT(sp_match(m, "{'cmd': ['self', 'unregister_actor', {'uid': ['" ANAME "', '" AU "']}, "
                          "['" ANAME "', '" AU "'], '%s']}", cid2));
    CU_ASSERT(!p.exited);
    sp_send(&p, unreg, "{'functype': 'asyncfunc', 'cid': '%s'}", cid2);
    sp_send(&p, unreg, "{'return': nil, 'cid': '%s'}", cid2);
    CU_ASSERT(sp_expect(&p, unreg, "nil"));
    CU_ASSERT(sp_closed(&p, unreg) && sp_unread(&p, unreg) == 0);
    CU_ASSERT(p.exited && p.exit_status == 0);
    CU_ASSERT(sp_find_event(&p, SC_EV_EXIT, 0) == (long)p.nevents - 1);
    at_finish(&p);
}

/* REG-12: the unregister wait is bounded by 0.5 s from the start of the
 * shutdown, whatever stage the registry stalls in. */
static void test_registry_client_unregister_bounded(void)
{
    for (int stage = 0; stage < 4; stage++) {
        sc_actor_config cfg = client_config();
        simpeer p;
        at_start(&p, &cfg);
        sp_start(&p);
        sp_connect_failed(&p, p.last_connect, "refused");   /* no registry: no register */
        CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 1);
        double t0 = p.now;
        sc_actor_shutdown(p.actor, p.now);
        sp_pump(&p);
        int u = p.last_connect;
        CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 2 && !p.exited);
        if (stage == 1) {
            sp_connect_failed(&p, u, "refused");
            CU_ASSERT(p.exited);                             /* at once */
        } else {
            /* Each stage starts late, so that no fresh timeout per stage
             * would fit in the bound. */
            if (stage >= 2) {
                sp_advance(&p, 0.2);
                sp_connected(&p, u);                         /* no uid from the registry */
            }
            if (stage == 3) {
                sp_advance(&p, 0.2);
                sp_send_uid(&p, u, "registrar", RU);         /* no answer to the call */
                CU_ASSERT(sp_unread(&p, u) == 2);
            }
            sp_advance(&p, t0 + 0.49 - p.now);
            CU_ASSERT(!p.exited);
            sp_run_timers(&p, 10.0);
            CU_ASSERT(p.exited && p.exit_status == 0);
            if (p.now > t0 + 0.5)
                fprintf(stderr, "stage %d: exit %.3f s after the shutdown\n", stage, p.now - t0);
            CU_ASSERT(p.now <= t0 + 0.5);
            CU_ASSERT(sp_closed(&p, u));
        }
        at_finish(&p);
    }
}

/* REG-11: a registry that refuses or garbles the register call costs only
 * that connection. */
static void test_registry_client_errors(void)
{
    sc_actor_config cfg = client_config();
    simpeer p;
    at_start(&p, &cfg);
    sp_start(&p);
    sp_connected(&p, p.last_connect);
    int reg = p.last_connect;
    char cid[64];
    registry_side(&p, reg, cid, sizeof(cid));
    sp_send(&p, reg, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(&p, reg, "{'error': {'tb_str': 'no', 'type_str': 'ValueError'}, 'cid': '%s'}", cid);
    CU_ASSERT(sp_closed(&p, reg) && sp_log_has(&p, "ValueError"));
    int h = at_peer(&p);
    CU_ASSERT(echo_ok(&p, h, "c1"));
    at_finish(&p);

    /* A registry that never answers: the call times out. */
    at_start(&p, &cfg);
    sp_start(&p);
    sp_connected(&p, p.last_connect);
    reg = p.last_connect;
    registry_side(&p, reg, cid, sizeof(cid));
    sp_run_timers(&p, 60.0);
    CU_ASSERT(sp_closed(&p, reg) && !p.exited);
    CU_ASSERT(sc_actor_next_deadline(p.actor) < 0);
    at_finish(&p);

    /* A registry that sends garbage instead of its uid. */
    at_start(&p, &cfg);
    sp_start(&p);
    sp_connected(&p, p.last_connect);
    reg = p.last_connect;
    sp_connected(&p, reg);
    sp_send(&p, reg, "42");
    CU_ASSERT(sp_closed(&p, reg) && !p.exited);
    at_finish(&p);

    /* Shut down while the register call is in flight. */
    at_start(&p, &cfg);
    sp_start(&p);
    sp_connected(&p, p.last_connect);
    reg = p.last_connect;
    registry_side(&p, reg, cid, sizeof(cid));
    sc_actor_shutdown(p.actor, p.now);
    sp_pump(&p);
    CU_ASSERT(sp_closed(&p, reg) && !p.exited);
    int unreg = p.last_connect;
    CU_ASSERT(unreg != reg);
    sp_connect_failed(&p, unreg, "refused");
    CU_ASSERT(p.exited && p.exit_status == 0);
    at_finish(&p);
}

/* ---- allocation failures ------------------------------------------------------------------------ */

/* A representative session that asserts nothing: under injected failures
 * the actor may refuse or close, but must neither crash, leak nor send
 * broken output (simpeer counts that as a fault). */
static void session(simpeer *p)
{
    int h = sp_accept(p);
    int g = sp_accept(p);
    if (h < 0 || g < 0)
        return;
    sp_send_uid(p, h, "peer", U1);
    sp_send_uid(p, g, "peer", U2);
    sp_cmd(p, h, "c1", "scwire_service", "echo", "{'value': {'a': [1, 'x', b'y']}}");
    sp_cmd(p, h, "c2", "scwire_service", "ctx_echo", "{'first': 'hi'}");
    send_yields(p, h, "c2", 0, 3);
    sp_send(p, h, "{'stop': true, 'cid': 'c2'}");
    sp_cmd(p, h, "c3", "scwire_service", "ctx_no_stream", "{'value': nil}");
    send_yields(p, h, "c3", 0, 70);
    sp_cmd(p, h, "c4", "self", "_cancel_task", "{'cid': 'c3'}");
    sp_cmd(p, h, "c5", "scwire_service", "count", "{'n': 5}");
    sp_cmd(p, g, "d1", "scwire_service", "ctx_slow_sink", "{'delay': 0.01, 'backpressure': true}");
    send_yields(p, g, "d1", 0, 80);
    sp_cmd(p, g, "d2", "scwire_service", "sleep", "{'seconds': 0.1}");
    sp_cmd(p, g, "d3", "scwire_service", "raise_error", "{'type_str': 'E', 'text': 't'}");
    sp_run_timers(p, 1.0);
    sp_send(p, g, "{'stop': true, 'cid': 'd1'}");
    sp_run_timers(p, 1.0);
    sp_cmd(p, h, "c6", "scwire_service", "sleep_forever", "{}");
    sp_cmd(p, h, "c7", "self", "cancel", "{}");
}

static const sp_msg *next_cmd(simpeer *p, int h)
{
    const sp_msg *m;
    while ((m = sp_next(p, h)) != NULL && !sc_map_get(&m->obj, "cmd"))
        ;
    return m;
}

/* The registry side of the actor and its registry client, the same way. */
static void registry_session(simpeer *p)
{
    char cid[64];
    sp_start(p);
    int probe = p->last_connect;
    if (probe >= 0)
        sp_connected(p, probe);
    int reg = p->last_connect;
    if (reg != probe && reg >= 0) {
        sp_connected(p, reg);
        sp_send_uid(p, reg, "registrar", RU);
        if (cmd_cid(next_cmd(p, reg), cid, sizeof(cid))) {
            sp_send(p, reg, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
            sp_send(p, reg, "{'return': nil, 'cid': '%s'}", cid);
        }
    }
    int h = sp_accept(p), g = sp_accept(p);
    if (h < 0 || g < 0)
        return;
    sp_send_uid(p, h, "peer", U1);
    sp_send_uid(p, g, "peer", U2);
    sp_cmd(p, h, "w1", "self", "wait_for_actor", "{'name': 'svc'}");
    sp_cmd(p, h, "w2", "self", "wait_for_actor", "{'name': 'svc'}");
    sp_cmd(p, g, "r1", "self", "register_actor", "{'uid': ['svc', 'u1'], 'sockaddr': ['h', 1]}");
    sp_cmd(p, g, "r2", "self", "register_actor", "{'uid': ['svc', 'u2'], 'sockaddr': ['h', 2]}");
    sp_cmd(p, g, "g1", "self", "get_registry", "{}");
    sp_cmd(p, g, "f1", "self", "find_actor", "{'name': 'svc'}");
    sp_cmd(p, g, "u1", "self", "unregister_actor", "{'uid': ['svc', 'u1']}");
    sp_cmd(p, g, "u2", "self", "unregister_actor", "{'uid': ['svc', 'u1']}");
    sp_cmd(p, h, "w3", "self", "wait_for_actor", "{'name': 'other'}");
    sc_actor_shutdown(p->actor, p->now);
    sp_pump(p);
    int unreg = p->last_connect;
    if (unreg >= 0 && p->conns[unreg].connecting) {
        sp_connected(p, unreg);
        sp_send_uid(p, unreg, "registrar", RU);
        if (cmd_cid(next_cmd(p, unreg), cid, sizeof(cid))) {
            sp_send(p, unreg, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
            sp_send(p, unreg, "{'return': nil, 'cid': '%s'}", cid);
        }
    }
    sp_run_timers(p, 1.0);
}

/* ---- ctx_call: the actor as the caller of a context ------------------------------------- */

#define CALLEE "33333333-3333-4333-8333-333333333333"

/* h calls ctx_call towards 127.0.0.1:7000 with cid ccid; the callee side
 * (returned) connects, checks the command, answers functype and started
 * `first`; the context's cid goes to cid. */
static int call_context(simpeer *p, int h, const char *ccid, double idle, const char *first,
                        char *cid, size_t n)
{
    sp_cmd(p, h, ccid, "scwire_service", "ctx_call",
           "{'host': '127.0.0.1', 'port': 7000, 'ns': 'svc', 'func': 'f', 'kwargs': {'a': [1]}, "
           "'idle': %g}", idle);
    CU_ASSERT(at_functype(p, h, ccid, "asyncfunc"));
    int o = p->last_connect;
    CU_ASSERT_FATAL(o >= 0 && p->conns[o].connecting);
    CU_ASSERT(strcmp(p->conns[o].host, "127.0.0.1") == 0 && p->conns[o].port == 7000);
    sp_connected(p, o);
    CU_ASSERT(sp_expect(p, o, "['" ANAME "', '" AU "']"));
    sp_send_uid(p, o, "callee", CALLEE);
    const sp_msg *m = sp_next(p, o);
    CU_ASSERT_FATAL(cmd_cid(m, cid, n));
    CU_ASSERT(sp_match(m, "{'cmd': ['svc', 'f', {'a': [1]}, ['" ANAME "', '" AU "'], '%s']}", cid));
    sp_send(p, o, "{'functype': 'context', 'cid': '%s'}", cid);
    sp_send(p, o, "{'started': %s, 'cid': '%s'}", first, cid);
    CU_ASSERT(sp_unread(p, h) == 0);
    return o;
}

/* The call is over: the channel it opened ends with nil (CAN-4), and no
 * timer of it is left. */
static int call_closed(simpeer *p, int o)
{
    return sp_expect(p, o, "nil") && sp_closed(p, o) && sp_unread(p, o) == 0 &&
           sp_stats(p).conns == 1 && sc_actor_next_deadline(p->actor) < 0;
}

/* CTX-7, SVC-29: an error on the called context fails the call as soon as
 * it arrives, though nothing reads the context and idle is far from over;
 * a ContextCancelled the caller did not ask for is such an error. */
static void test_ctx_call_error_while_idle(void)
{
    static const char *const errors[] = { "KeyError", "ContextCancelled" };
    for (size_t i = 0; i < 2; i++) {
        simpeer p;
        at_start(&p, NULL);
        int h = at_peer(&p);
        char cid[64];
        int o = call_context(&p, h, "k1", 30, "'go'", cid, sizeof(cid));
        sp_send(&p, o, "{'yield': 1, 'cid': '%s'}", cid);   /* not read, not answered */
        sp_advance(&p, 1);
        CU_ASSERT(sp_unread(&p, h) == 0 && sp_unread(&p, o) == 0);
        sp_send(&p, o, "{'error': {'tb_str': 'Traceback\\n%s: nope\\n', 'type_str': '%s'}, "
                       "'cid': '%s'}", errors[i], errors[i], cid);
        const sp_msg *m = sp_expect_error(&p, h, "k1", "RemoteActorError", "('callee', '" CALLEE "')");
        CU_ASSERT(sp_tb_has(m, errors[i]) && sp_tb_has(m, "nope"));
        CU_ASSERT(call_closed(&p, o));
        CU_ASSERT(echo_ok(&p, h, "e1"));
        at_finish(&p);
    }
}

/* SVC-29: a context that returns within idle gives [started, 'returned',
 * value]; one still running when idle ends is cancelled with _cancel_task,
 * and the ContextCancelled that answers it is no failure (CTX-7). */
static void test_ctx_call_returns_or_cancels(void)
{
    simpeer p;
    at_start(&p, NULL);
    int h = at_peer(&p);
    char cid[64], kcid[64];
    int o = call_context(&p, h, "k1", 30, "[1, 'a']", cid, sizeof(cid));
    sp_send(&p, o, "{'stop': true, 'cid': '%s'}", cid);
    sp_send(&p, o, "{'return': {'r': 2}, 'cid': '%s'}", cid);
    CU_ASSERT(at_return(&p, h, "k1", "[[1, 'a'], 'returned', {'r': 2}]"));
    CU_ASSERT(call_closed(&p, o));

    o = call_context(&p, h, "k2", 2, "nil", cid, sizeof(cid));
    sp_advance(&p, 1.9);
    CU_ASSERT(sp_unread(&p, o) == 0);
    sp_advance(&p, 0.2);
    const sp_msg *m = sp_next(&p, o);
    CU_ASSERT(cmd_cid(m, kcid, sizeof(kcid)));
    CU_ASSERT(sp_match(m, "{'cmd': ['self', '_cancel_task', {'cid': '%s'}, ['" ANAME "', '" AU "'], "
                          "'%s']}", cid, kcid));
    sp_send(&p, o, "{'functype': 'asyncfunc', 'cid': '%s'}", kcid);
    sp_send(&p, o, "{'error': {'tb_str': 'cancelled', 'type_str': 'ContextCancelled'}, 'cid': '%s'}", cid);
    sp_send(&p, o, "{'return': nil, 'cid': '%s'}", kcid);
    CU_ASSERT(at_return(&p, h, "k2", "[nil, 'cancelled', nil]"));
    CU_ASSERT(call_closed(&p, o));
    CU_ASSERT(p.warnings == 0);
    at_finish(&p);
}

/* SVC-29, RPC-12, RPC-11: what makes a call fail, none of which harms the
 * actor: bad kwargs, a refused connection, a reply out of sequence, a callee
 * that never starts or never answers the cancel, a result over the message
 * limit; and a call cancelled by its own caller ends its channel. */
static void test_ctx_call_failures(void)
{
    sc_actor_config cfg = at_config();
    cfg.limits.max_frame = 4096;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_cmd(&p, h, "b1", "scwire_service", "ctx_call",
           "{'host': 'h', 'port': 0, 'ns': 's', 'func': 'f', 'kwargs': {}, 'idle': 1}");
    CU_ASSERT(sp_expect_error(&p, h, "b1", "TypeError", "'port'") != NULL);
    sp_cmd(&p, h, "b2", "scwire_service", "ctx_call",
           "{'host': 'h', 'port': 1, 'ns': 's', 'func': 'f', 'kwargs': [], 'idle': 1}");
    CU_ASSERT(sp_expect_error(&p, h, "b2", "TypeError", "'kwargs'") != NULL);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 0);

    sp_cmd(&p, h, "c1", "scwire_service", "ctx_call",
           "{'host': 'h', 'port': 1, 'ns': 's', 'func': 'f', 'kwargs': {}, 'idle': 1}");
    CU_ASSERT(at_functype(&p, h, "c1", "asyncfunc"));
    sp_connect_failed(&p, p.last_connect, "Connection refused");
    CU_ASSERT(sp_expect_error(&p, h, "c1", "ConnectionError", "Connection refused") != NULL);

    char cid[64];
    sp_cmd(&p, h, "c2", "scwire_service", "ctx_call",
           "{'host': 'h', 'port': 1, 'ns': 's', 'func': 'f', 'kwargs': {}, 'idle': 1}");
    CU_ASSERT(at_functype(&p, h, "c2", "asyncfunc"));
    int o = p.last_connect;
    sp_connected(&p, o);
    sp_send_uid(&p, o, "callee", CALLEE);
    CU_ASSERT(sp_next(&p, o) && sp_next(&p, o) && cmd_cid(&p.conns[o].msgs[1], cid, sizeof(cid)));
    sp_send(&p, o, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    CU_ASSERT(sp_expect_error(&p, h, "c2", "MessagingError", "functype context") != NULL);
    CU_ASSERT(call_closed(&p, o));

    sp_cmd(&p, h, "c3", "scwire_service", "ctx_call",
           "{'host': 'h', 'port': 1, 'ns': 's', 'func': 'f', 'kwargs': {}, 'idle': 1}");
    sp_connected(&p, p.last_connect);
    sp_run_timers(&p, cfg.limits.handshake_timeout + 1);
    CU_ASSERT(at_functype(&p, h, "c3", "asyncfunc"));
    CU_ASSERT(sp_expect_error(&p, h, "c3", "ConnectionError", "in time") != NULL);

    o = call_context(&p, h, "c4", 1, "nil", cid, sizeof(cid));
    sp_run_timers(&p, cfg.limits.handshake_timeout + 2);
    CU_ASSERT(sp_expect_error(&p, h, "c4", "TimeoutError", "cancel") != NULL);
    CU_ASSERT(sp_next(&p, o) != NULL && call_closed(&p, o));

    /* Each message the callee sends fits in 4096 bytes, the three values
     * together do not. */
    char *big = at_repeat('s', 1500), first[1600];
    snprintf(first, sizeof(first), "'%s'", big);
    o = call_context(&p, h, "c5", 30, first, cid, sizeof(cid));
    sp_send(&p, o, "{'return': ['%s', '%s'], 'cid': '%s'}", big, big, cid);
    CU_ASSERT(sp_expect_error(&p, h, "c5", "TypeError", NULL) != NULL);
    CU_ASSERT(call_closed(&p, o));
    free(big);

    o = call_context(&p, h, "c6", 30, "nil", cid, sizeof(cid));
    sp_cmd(&p, h, "x6", "self", "_cancel_task", "{'cid': 'c6'}");
    CU_ASSERT(at_functype(&p, h, "x6", "asyncfunc") && at_return(&p, h, "x6", "nil"));
    CU_ASSERT(call_closed(&p, o));
    CU_ASSERT(echo_ok(&p, h, "e1"));
    at_finish(&p);
}

/* ctx_call the same way: one call cancelled when idle ends, one failed by
 * the callee's error. */
static void ctx_call_session(simpeer *p)
{
    int h = sp_accept(p);
    if (h < 0)
        return;
    sp_send_uid(p, h, "peer", U1);
    for (int i = 0; i < 2; i++) {
        sp_cmd(p, h, i ? "k2" : "k1", "scwire_service", "ctx_call",
               "{'host': 'h', 'port': 1, 'ns': 's', 'func': 'f', 'kwargs': {'a': 1}, 'idle': 1}");
        int o = p->last_connect;
        char cid[64], kcid[64];
        if (o < 0 || !p->conns[o].connecting)
            continue;
        sp_connected(p, o);
        sp_send_uid(p, o, "callee", CALLEE);
        if (!cmd_cid(next_cmd(p, o), cid, sizeof(cid)))
            continue;
        sp_send(p, o, "{'functype': 'context', 'cid': '%s'}", cid);
        sp_send(p, o, "{'started': [1], 'cid': '%s'}", cid);
        if (i) {
            sp_send(p, o, "{'error': {'tb_str': 't', 'type_str': 'E'}, 'cid': '%s'}", cid);
            continue;
        }
        sp_advance(p, 1.1);
        if (cmd_cid(next_cmd(p, o), kcid, sizeof(kcid)))
            sp_send(p, o, "{'error': {'tb_str': 't', 'type_str': 'ContextCancelled'}, 'cid': '%s'}",
                    cid);
    }
    sp_cmd(p, h, "k3", "scwire_service", "ctx_call",
           "{'host': 'h', 'port': 1, 'ns': 's', 'func': 'f', 'kwargs': {}, 'idle': 1}");
    sp_cmd(p, h, "c1", "self", "cancel", "{}");
}

/* Fail each allocation of one session in turn, until a run has none to
 * fail; returns the number of runs. */
static unsigned long sweep(const sc_actor_config *cfg, void (*run)(simpeer *))
{
    unsigned long n;
    int clean = 0;
    for (n = 1; n < 100000 && !clean; n++) {
        simpeer p;
        at_start(&p, cfg);
        sp_failmalloc(&p, n);
        run(&p);
        clean = !sp_failmalloc_hit(&p);
        if (clean)
            CU_ASSERT(p.exited && p.exit_status == 0);
        unsigned faults = sp_free(&p);
        if (faults)
            fprintf(stderr, "failmalloc: %u faults with allocation %lu failing\n", faults, n);
        CU_ASSERT(faults == 0);
    }
    CU_ASSERT(clean);
    if (getenv("SP_VERBOSE"))
        fprintf(stderr, "failmalloc: %lu runs\n", n);
    return n;
}

/* Every allocation of representative sessions fails in turn (failmalloc):
 * the actor may refuse or close, but never crash, leak or send broken
 * output. */
static void test_failmalloc(void)
{
    CU_ASSERT(sweep(NULL, session) > 20);
    sc_actor_config cfg = at_config();
    cfg.codec = SC_CODEC_LENPREFIX;
    cfg.limits.msg_buffer_size = 8;
    cfg.limits.park_max_msgs = 16;
    CU_ASSERT(sweep(&cfg, session) > 20);
    cfg = client_config();
    cfg.registry_role = 1;
    CU_ASSERT(sweep(&cfg, registry_session) > 20);
    CU_ASSERT(sweep(NULL, ctx_call_session) > 20);
    unsigned long n;
    int clean;
    /* Creating the actor. */
    clean = 0;
    cfg = client_config();
    for (n = 1; n < 100 && !clean; n++) {
        simpeer p;
        sc_alloc_fail_at(n);
        int rc = sp_init(&p, &cfg);
        sc_alloc_fail_at(0);
        clean = rc == SC_OK;
        CU_ASSERT(rc == SC_OK || rc == SC_ENOMEM);
        at_finish(&p);
    }
    CU_ASSERT(clean);
}

/* ---- registration --------------------------------------------------------------------------------- */

static CU_TestInfo tests[] = {
    { "hs_uid_first", test_hs_uid_first },
    { "hs_lenient_uid", test_hs_lenient_uid },
    { "hs_invalid", test_hs_invalid },
    { "hs_connect_drop", test_hs_connect_drop },
    { "hs_eof_inside_uid", test_hs_eof_inside_uid },
    { "hs_timeout", test_hs_timeout },
    { "hs_uid_with_commands", test_hs_uid_with_commands },
    { "hs_same_uid", test_hs_same_uid },
    { "malformed_closes", test_malformed_closes },
    { "cmd_bad_fields", test_cmd_bad_fields },
    { "unroutable_dropped", test_unroutable_dropped },
    { "actor_level_error", test_actor_level_error },
    { "nil_terminates", test_nil_terminates },
    { "eof_after_handshake", test_eof_after_handshake },
    { "echo_values", test_echo_values },
    { "echo_ext", test_echo_ext },
    { "raise_error", test_raise_error },
    { "refused_commands", test_refused_commands },
    { "sleep", test_sleep },
    { "many_sleeps", test_many_sleeps },
    { "sleep_forever_cancel", test_sleep_forever_cancel },
    { "count", test_count },
    { "ctx_echo", test_ctx_echo },
    { "ctx_unexpected_kinds", test_ctx_unexpected_kinds },
    { "ctx_caller_error", test_ctx_caller_error },
    { "ctx_simple_functions", test_ctx_simple_functions },
    { "overrun_no_stream", test_overrun_no_stream },
    { "overrun_counts", test_overrun_counts },
    { "overrun_error_delivered", test_overrun_error_delivered },
    { "slow_sink_backpressure", test_slow_sink_backpressure },
    { "park_budget", test_park_budget },
    { "park_budget_other_conn", test_park_budget_other_conn },
    { "park_discarded_on_cancel", test_park_discarded_on_cancel },
    { "slow_sink_no_backpressure", test_slow_sink_no_backpressure },
    { "never_reading_peer", test_never_reading_peer },
    { "ctx_echo_slow_reader", test_ctx_echo_slow_reader },
    { "cancel_task_scope", test_cancel_task_scope },
    { "cancel_asyncgen", test_cancel_asyncgen },
    { "self_refusals", test_self_refusals },
    { "self_cancel", test_self_cancel },
    { "shutdown", test_shutdown },
    { "registry_functions", test_registry_functions },
    { "registry_bad_args", test_registry_bad_args },
    { "result_over_limit", test_result_over_limit },
    { "registry_full", test_registry_full },
    { "registry_wait_cancelled", test_registry_wait_cancelled },
    { "too_many_contexts", test_too_many_contexts },
    { "max_conns", test_max_conns },
    { "duplicate_cid", test_duplicate_cid },
    { "msgpack_limits", test_msgpack_limits },
    { "limits_on_uid", test_limits_on_uid },
    { "lenprefix", test_lenprefix },
    { "codec_mismatch", test_codec_mismatch },
    { "split_input", test_split_input },
    { "registry_client", test_registry_client },
    { "registry_client_unregister_bounded", test_registry_client_unregister_bounded },
    { "registry_client_errors", test_registry_client_errors },
    { "ctx_call_error_while_idle", test_ctx_call_error_while_idle },
    { "ctx_call_returns_or_cancels", test_ctx_call_returns_or_cancels },
    { "ctx_call_failures", test_ctx_call_failures },
    { "failmalloc", test_failmalloc },
    CU_TEST_INFO_NULL,
};

int register_actor_tests(void)
{
    return sc_add_suite("actor", tests);
}
