/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_nursery.c - supervision, sans-IO: the actor as a parent (nursery.c)
 * and as a child (child.c), driven by the simulated glue and peers of
 * simpeer.h with a fake clock.  The test plays the children too: it answers
 * SC_EV_SPAWN with sp_child_spawned, opens the child's connection back,
 * speaks for the child, and reports its exit with sp_child_exited.  Every
 * message is compared byte for byte.  The comment above each test names the
 * requirement ids of spec/ it checks. */
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
#define AUID "['" ANAME "', '" AU "']"
#define U1 AT_PEER_UUID
#define RU "99999999-9999-4999-8999-999999999999"
#define PU "88888888-8888-4888-8888-888888888888"
#define SVC "scwire_service"
#define INIT_MAP                                                                                   \
    "{'_parent_main_data': {}, 'enable_modules': {'scwire_service': 'scwire-ref'}, "               \
    "'_arb_addr': nil, 'bind_host': '127.0.0.1', 'bind_port': 0, '_runtime_vars': "               \
    "{'_debug_mode': false, '_is_root': false, '_root_mailbox': ['127.0.0.1', 4000]}}"
#define TERM 15
#define KILL 9

/* ---- helpers ------------------------------------------------------------------- */

static sc_actor_config parent_config(void)
{
    sc_actor_config c;
    sc_actor_config_default(&c);
    c.max_children = 8;
    c.listen_port = 4000;
    return c;
}

static int ft(simpeer *p, int h, const char *cid)
{
    return at_functype(p, h, cid, "asyncfunc");
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

/* The n-th SC_EV_SPAWN (0-based), copied. */
static int spawned(const simpeer *p, size_t n, sc_event *out)
{
    for (size_t i = 0; i < p->nevents; i++) {
        if (p->events[i].kind != SC_EV_SPAWN)
            continue;
        if (n-- == 0) {
            *out = p->events[i];
            return 1;
        }
    }
    return 0;
}

/* The next message of h is a cmd from the actor with this ns, func and
 * kwargs; its cid (a fresh uuid4) goes to cid. */
static int expect_cmd(simpeer *p, int h, const char *ns, const char *func, const char *kwargs,
                      char *cid, size_t n)
{
    const sp_msg *m = sp_next(p, h);
    const msgpack_object *cmd = m ? sc_map_get(&m->obj, "cmd") : NULL;
    if (!cmd || cmd->type != MSGPACK_OBJECT_ARRAY || cmd->via.array.size != 5 ||
        cmd->via.array.ptr[4].type != MSGPACK_OBJECT_STR) {
        fprintf(stderr, "expect_cmd: no cmd on handle %d\n", h);
        return 0;
    }
    snprintf(cid, n, "%.*s", (int)cmd->via.array.ptr[4].via.str.size, cmd->via.array.ptr[4].via.str.ptr);
    return canonical_uuid4(cid) &&
           sp_match(m, "{'cmd': ['%s', '%s', %s, " AUID ", '%s']}", ns, func, kwargs, cid);
}

/* A child connects back: the actor's uid comes first, then the child's
 * goes out; returns the handle. */
static int child_connects(simpeer *p, const sc_event *ev)
{
    int h = sp_accept(p);
    CU_ASSERT_FATAL(h >= 0);
    CU_ASSERT(sp_expect(p, h, AUID));
    sp_send_uid(p, h, ev->name, ev->uuid);
    return h;
}

/* Connect the child and read the init map and its command. */
static int child_up(simpeer *p, const sc_event *ev, const char *func, const char *kwargs, char *cid,
                    size_t n)
{
    int h = child_connects(p, ev);
    CU_ASSERT(sp_expect(p, h, INIT_MAP));
    if (func)
        CU_ASSERT(expect_cmd(p, h, SVC, func, kwargs, cid, n));
    CU_ASSERT(sp_unread(p, h) == 0);
    return h;
}

/* The child answers its command with value, or with an error. */
static void child_returns(simpeer *p, int h, const char *cid, const char *value)
{
    sp_send(p, h, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(p, h, "{'return': %s, 'cid': '%s'}", value, cid);
}

static void child_fails(simpeer *p, int h, const char *cid, const char *type_str, const char *text)
{
    sp_send(p, h, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(p, h, "{'error': {'tb_str': 'Traceback (most recent call last):\\n%s: %s\\n', "
                  "'type_str': '%s'}, 'cid': '%s'}", type_str, text, type_str, cid);
}

/* The actor cancels the child: one self.cancel; the child acknowledges
 * it when ack, then ends its channel (nil and EOF). */
static void child_cancelled(simpeer *p, int h, int ack)
{
    char cid[64];
    CU_ASSERT(expect_cmd(p, h, "self", "cancel", "{}", cid, sizeof(cid)));
    if (ack) {
        sp_send(p, h, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
        sp_send(p, h, "{'return': true, 'cid': '%s'}", cid);
    }
    sp_send(p, h, "nil");
    CU_ASSERT(sp_expect(p, h, "nil"));
    sp_eof(p, h, 0);
    CU_ASSERT(sp_closed(p, h));
}

/* The text of the error message m carries, NUL-terminated. */
static const char *tb_of(const sp_msg *m, char *out, size_t n)
{
    const msgpack_object *e = m ? sc_map_get(&m->obj, "error") : NULL;
    const msgpack_object *tb = e ? sc_map_get(e, "tb_str") : NULL;
    out[0] = '\0';
    if (tb && tb->type == MSGPACK_OBJECT_STR)
        snprintf(out, n, "%.*s", (int)tb->via.str.size, tb->via.str.ptr);
    return out;
}

static void run_in_child(simpeer *p, int h, const char *cid, const char *name, const char *func,
                         const char *kwargs)
{
    sp_cmd(p, h, cid, SVC, "run_in_child", "{'name': '%s', 'ns': '" SVC "', 'func': '%s', 'kwargs': %s}",
           name, func, kwargs);
}

/* ---- the parent ---------------------------------------------------------------------- */

/* SUP-1, SVC-25: run_in_child asks the glue for a process with the child's
 * uid and the parent's listening address; nothing else happens until the
 * child connects back. */
static void test_spawn_event(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    CU_ASSERT(ft(&p, h, "c1") && sp_unread(&p, h) == 0);
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    CU_ASSERT(sp_count_events(&p, SC_EV_SPAWN) == 1);
    CU_ASSERT(strcmp(ev.name, "w") == 0 && canonical_uuid4(ev.uuid));
    CU_ASSERT(strcmp(ev.host, "127.0.0.1") == 0 && ev.port == 4000 && ev.child != 0);
    CU_ASSERT(sp_stats(&p).children == 1);
    sp_cmd(&p, h, "l1", SVC, "spawn_list", "{}");
    CU_ASSERT(ft(&p, h, "l1"));
    /* No uuid while it has not connected back (SUP-14). */
    CU_ASSERT(sp_expect(&p, h, "{'return': [['w', nil, 0, 'spawning']], 'cid': 'l1'}"));
    sp_child_spawned(&p, ev.child, 4242);
    sp_cmd(&p, h, "l2", SVC, "spawn_list", "{}");
    CU_ASSERT(ft(&p, h, "l2"));
    CU_ASSERT(sp_expect(&p, h, "{'return': [['w', nil, 4242, 'spawning']], 'cid': 'l2'}"));
    at_finish(&p);
}

/* SUP-3, SUP-7, MSG-2: the child's channel carries the parent's uid, the
 * init map with tractor's keys, types and order, and exactly one command. */
static void test_init_map_and_command(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': [1, 'x']}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    char cid[64];
    int w = child_up(&p, &ev, "echo", "{'value': [1, 'x']}", cid, sizeof(cid));
    CU_ASSERT(ft(&p, h, "c1"));
    CU_ASSERT(!sp_closed(&p, w) && sp_unread(&p, h) == 0);
    /* The registry the parent knows travels in _arb_addr. */
    at_finish(&p);
    cfg.registry_host = "127.0.0.1";
    cfg.registry_port = 1616;
    at_start(&p, &cfg);
    sp_start(&p);
    sp_connect_failed(&p, p.last_connect, "refused");
    h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    w = child_connects(&p, &ev);
    CU_ASSERT(sp_expect(&p, w, "{'_parent_main_data': {}, 'enable_modules': {'scwire_service': "
                               "'scwire-ref'}, '_arb_addr': ['127.0.0.1', 1616], 'bind_host': "
                               "'127.0.0.1', 'bind_port': 0, '_runtime_vars': {'_debug_mode': false, "
                               "'_is_root': false, '_root_mailbox': ['127.0.0.1', 4000]}}"));
    at_finish(&p);
}

/* SUP-7, SUP-13, SVC-20: the result is collected, the child cancelled
 * (tractor's cancel_on_completion) and the caller answered only once the
 * child's process has been reaped. */
static void test_result_after_reap(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 5}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    char cid[64];
    int w = child_up(&p, &ev, "echo", "{'value': 5}", cid, sizeof(cid));
    child_returns(&p, w, cid, "5");
    CU_ASSERT(ft(&p, h, "c1") && sp_unread(&p, h) == 0);
    child_cancelled(&p, w, 1);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_count_events(&p, SC_EV_SIGNAL) == 0);
    sp_child_exited(&p, ev.child, SP_EXITED(0));
    CU_ASSERT(at_return(&p, h, "c1", "5"));
    CU_ASSERT(sp_stats(&p).children == 0 && sp_stats(&p).contexts == 0);
    CU_ASSERT(sc_actor_next_deadline(p.actor) < 0);
    at_finish(&p);
}

/* SVC-20, SUP-7: the child's error comes back with its type_str and its
 * tb_str inside; the child is cancelled all the same. */
static void test_error_type_kept(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "raise_error", "{'type_str': 'KeyError', 'text': 'nope'}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    char cid[64];
    int w = child_up(&p, &ev, "raise_error", "{'type_str': 'KeyError', 'text': 'nope'}", cid, sizeof(cid));
    child_fails(&p, w, cid, "KeyError", "nope");
    child_cancelled(&p, w, 1);
    CU_ASSERT(ft(&p, h, "c1") && sp_unread(&p, h) == 0);
    sp_child_exited(&p, ev.child, SP_EXITED(0));
    const sp_msg *m = sp_expect_error(&p, h, "c1", "KeyError", "KeyError: nope\n");
    CU_ASSERT_FATAL(m != NULL);
    char uid[120], tb[4000];
    snprintf(uid, sizeof(uid), "('w', '%s'): failed with KeyError; self.cancel acknowledged; exited "
                               "with status 0", ev.uuid);
    CU_ASSERT(strstr(tb_of(m, tb, sizeof(tb)), uid) != NULL);
    at_finish(&p);
}

/* A run_in_children scope with two children, both connected. */
static void two_children(simpeer *p, int h, const char *b_func, const char *b_kwargs, sc_event *ea,
                         sc_event *eb, int *wa, int *wb, char *cida, char *cidb)
{
    sp_cmd(p, h, "c1", SVC, "run_in_children",
           "{'specs': [['a', '" SVC "', 'sleep_forever', {}], ['b', '" SVC "', '%s', %s]]}", b_func,
           b_kwargs);
    CU_ASSERT(ft(p, h, "c1"));
    CU_ASSERT_FATAL(spawned(p, 0, ea) && spawned(p, 1, eb));
    CU_ASSERT(strcmp(ea->name, "a") == 0 && strcmp(eb->name, "b") == 0 && strcmp(ea->uuid, eb->uuid) != 0);
    sp_child_spawned(p, ea->child, 101);
    sp_child_spawned(p, eb->child, 102);
    *wa = child_up(p, ea, "sleep_forever", "{}", cida, 64);
    *wb = child_up(p, eb, b_func, b_kwargs, cidb, 64);
}

/* SUP-8, SUP-11, SVC-21: one child fails: every sibling gets self.cancel
 * (after the failure), the caller gets the one error once all are reaped. */
static void test_one_cancels_all(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sc_event ea, eb;
    int wa, wb;
    char cida[64], cidb[64];
    two_children(&p, h, "raise_error", "{'type_str': 'ValueError', 'text': 'kaboom'}", &ea, &eb, &wa,
                 &wb, cida, cidb);
    sp_send(&p, wa, "{'functype': 'asyncfunc', 'cid': '%s'}", cida);
    CU_ASSERT(sp_unread(&p, wa) == 0);
    child_fails(&p, wb, cidb, "ValueError", "kaboom");
    /* a is cancelled because b failed */
    child_cancelled(&p, wa, 1);
    child_cancelled(&p, wb, 1);
    sp_child_exited(&p, ea.child, SP_EXITED(0));
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_child_exited(&p, eb.child, SP_EXITED(0));
    const sp_msg *m = sp_expect_error(&p, h, "c1", "ValueError", "ValueError: kaboom\n");
    CU_ASSERT_FATAL(m != NULL);
    char want[200], tb[4000];
    tb_of(m, tb, sizeof(tb));
    snprintf(want, sizeof(want), "('a', '%s'): cancelled; self.cancel acknowledged; exited with status 0",
             ea.uuid);
    CU_ASSERT(strstr(tb, want) != NULL);
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 0 && sp_stats(&p).children == 0);
    at_finish(&p);
}

/* SUP-11, SVC-21: several failures arrive together as a MultiError naming
 * each child; results come as an array in the order of the specs. */
static void test_multi_error_and_results(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sc_event ea, eb;
    int wa, wb;
    char cida[64], cidb[64];
    two_children(&p, h, "raise_error", "{'type_str': 'KeyError', 'text': 'k'}", &ea, &eb, &wa, &wb,
                 cida, cidb);
    child_fails(&p, wa, cida, "ValueError", "v");
    child_fails(&p, wb, cidb, "KeyError", "k");
    child_cancelled(&p, wa, 1);
    child_cancelled(&p, wb, 1);
    sp_child_exited(&p, eb.child, SP_EXITED(0));
    sp_child_exited(&p, ea.child, SP_EXITED(0));
    const sp_msg *m = sp_expect_error(&p, h, "c1", "MultiError", "2 children failed: ValueError from ('a'");
    CU_ASSERT_FATAL(m != NULL);
    char want[200], tb[8000];
    tb_of(m, tb, sizeof(tb));
    snprintf(want, sizeof(want), "KeyError from ('b', '%s')", eb.uuid);
    CU_ASSERT(strstr(tb, want) != NULL && strstr(tb, "ValueError: v\n") && strstr(tb, "KeyError: k\n"));
    at_finish(&p);

    /* All return: the array in spec order, whatever order they answer in. */
    at_start(&p, &cfg);
    h = at_peer(&p);
    two_children(&p, h, "echo", "{'value': 'b'}", &ea, &eb, &wa, &wb, cida, cidb);
    child_returns(&p, wb, cidb, "'b'");
    child_returns(&p, wa, cida, "'a'");
    child_cancelled(&p, wa, 1);
    child_cancelled(&p, wb, 1);
    sp_child_exited(&p, ea.child, SP_EXITED(0));
    sp_child_exited(&p, eb.child, SP_EXITED(0));
    CU_ASSERT(at_return(&p, h, "c1", "['a', 'b']"));
    at_finish(&p);
}

/* R90, SUP-8: the acknowledgement counts even when the child's exit is
 * reported before its last bytes are read; the channel is drained for at
 * most 0.5 s. */
static void test_cancel_ack_drained(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_cmd(&p, h, "s1", SVC, "spawn_start", "{'name': 'd'}");
    CU_ASSERT(ft(&p, h, "s1"));
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    int w = child_connects(&p, &ev);
    CU_ASSERT(sp_expect(&p, w, INIT_MAP));
    char cid[64];
    CU_ASSERT(expect_cmd(&p, w, SVC, "spawn_info", "{}", cid, sizeof(cid)));
    sp_send(&p, w, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(&p, w, "{'return': {'uid': ['d', '%s'], 'sockaddr': ['127.0.0.1', 5001], 'init': nil}, "
                   "'cid': '%s'}", ev.uuid, cid);
    CU_ASSERT(at_return(&p, h, "s1", "['127.0.0.1', 5001]"));
    sp_cmd(&p, h, "k1", SVC, "spawn_cancel", "{'name': 'd'}");
    CU_ASSERT(ft(&p, h, "k1"));
    CU_ASSERT(expect_cmd(&p, w, "self", "cancel", "{}", cid, sizeof(cid)));
    /* The process is reaped before its answer is read. */
    sp_child_exited(&p, ev.child, SP_EXITED(0));
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_send(&p, w, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(&p, w, "{'return': true, 'cid': '%s'}", cid);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_eof(&p, w, 0);
    CU_ASSERT(at_return(&p, h, "k1", "true"));
    at_finish(&p);

    /* A channel that does not end is given up after 0.5 s. */
    at_start(&p, &cfg);
    h = at_peer(&p);
    sp_cmd(&p, h, "s1", SVC, "spawn_start", "{'name': 'd'}");
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    w = child_connects(&p, &ev);
    sp_cmd(&p, h, "k1", SVC, "spawn_cancel", "{'name': 'd'}");
    CU_ASSERT(ft(&p, h, "s1") && ft(&p, h, "k1"));
    sp_child_exited(&p, ev.child, SP_EXITED(0));
    sp_advance(&p, 0.49);
    CU_ASSERT(!sp_closed(&p, w) && sp_unread(&p, h) == 0);
    sp_advance(&p, 0.02);
    CU_ASSERT(sp_closed(&p, w));
    /* spawn_start learns that its child ended before it was up */
    CU_ASSERT(sp_expect_error(&p, h, "s1", "ActorDied", "ended before it was up: exited with status 0") != NULL);
    CU_ASSERT(at_return(&p, h, "k1", "false"));
    at_finish(&p);
}

/* SUP-8, SUP-9, SVC-23: a child that does not answer self.cancel is
 * terminated kill_grace after the cancel began and killed kill_grace
 * later, on the fake clock; the report says so. */
static void test_kill_grace_timers(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    char cid[64];
    int w = child_up(&p, &ev, "echo", "{'value': 1}", cid, sizeof(cid));
    CU_ASSERT(ft(&p, h, "c1"));
    child_returns(&p, w, cid, "1");
    double t0 = p.now;
    CU_ASSERT(expect_cmd(&p, w, "self", "cancel", "{}", cid, sizeof(cid)));
    sp_advance(&p, 0.49);
    CU_ASSERT(!sp_log_has(&p, "May have failed to cancel"));
    sp_advance(&p, 0.02);
    CU_ASSERT(sp_log_has(&p, "May have failed to cancel"));
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 0);
    CU_ASSERT(sc_actor_next_deadline(p.actor) == t0 + 3.0);
    sp_run_timers(&p, t0 + 2.99 - p.now);
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 0);
    sp_run_timers(&p, 0.02);
    const sc_event *s = sp_last_event(&p, SC_EV_SIGNAL, 0);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(s->child == ev.child && s->status == TERM && sp_count_events(&p, SC_EV_SIGNAL) == 1);
    CU_ASSERT(sc_actor_next_deadline(p.actor) == t0 + 6.0);
    sp_cmd(&p, h, "l1", SVC, "spawn_list", "{}");
    CU_ASSERT(ft(&p, h, "l1"));
    CU_ASSERT(sp_expect(&p, h, "{'return': [['w', '%s', 100, 'terminating']], 'cid': 'l1'}", ev.uuid));
    sp_run_timers(&p, t0 + 6.01 - p.now);
    s = sp_last_event(&p, SC_EV_SIGNAL, 0);
    CU_ASSERT(s->child == ev.child && s->status == KILL && sp_count_events(&p, SC_EV_SIGNAL) == 2);
    CU_ASSERT(sc_actor_next_deadline(p.actor) < 0 && sp_unread(&p, h) == 0);
    sp_child_exited(&p, ev.child, SP_SIGNALED(9));
    /* the channel is still open: it is drained first */
    sp_eof(&p, w, 1);
    CU_ASSERT(at_return(&p, h, "c1", "1"));
    CU_ASSERT(sp_stats(&p).children == 0);
    at_finish(&p);

    /* --kill-grace and --cancel-timeout move the deadlines. */
    cfg.kill_grace = 0.2;
    cfg.cancel_timeout = 0.1;
    at_start(&p, &cfg);
    h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    w = child_up(&p, &ev, "echo", "{'value': 1}", cid, sizeof(cid));
    child_returns(&p, w, cid, "1");
    t0 = p.now;
    sp_run_timers(&p, 0.19);
    CU_ASSERT(sp_log_has(&p, "May have failed to cancel") && sp_count_events(&p, SC_EV_SIGNAL) == 0);
    sp_run_timers(&p, 0.02);
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 1);
    sp_run_timers(&p, 0.2);
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 2 && p.now <= t0 + 0.42);
    at_finish(&p);
}

/* SVC-20, SVC-24: a child that ends before its result fails the call with
 * ActorDied saying how its process ended; the actor keeps serving. */
static void test_child_exit_reports(void)
{
    static const struct {
        int status;
        const char *how;
    } cases[] = {
        { SP_EXITED(1), "died before returning: exited with status 1" },
        { SP_SIGNALED(9), "died before returning: killed by signal 9" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_actor_config cfg = parent_config();
        simpeer p;
        at_start(&p, &cfg);
        int h = at_peer(&p);
        run_in_child(&p, h, "c1", "w", "sleep_forever", "{}");
        sc_event ev;
        CU_ASSERT_FATAL(spawned(&p, 0, &ev));
        sp_child_spawned(&p, ev.child, 100);
        char cid[64];
        int w = child_up(&p, &ev, "sleep_forever", "{}", cid, sizeof(cid));
        sp_send(&p, w, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
        sp_cmd(&p, h, "k1", SVC, "spawn_kill", "{'name': 'w', 'signal': 9}");
        CU_ASSERT(ft(&p, h, "c1") && ft(&p, h, "k1") && at_return(&p, h, "k1", "1"));
        const sc_event *s = sp_last_event(&p, SC_EV_SIGNAL, 0);
        CU_ASSERT(s && s->child == ev.child && s->status == 9);
        sp_eof(&p, w, 1);   /* the socket dies with the process */
        CU_ASSERT(sp_closed(&p, w) && sp_unread(&p, h) == 0);
        sp_child_exited(&p, ev.child, cases[i].status);
        CU_ASSERT(sp_expect_error(&p, h, "c1", "ActorDied", cases[i].how) != NULL);
        int q = at_peer(&p);
        sp_cmd(&p, q, "e1", SVC, "echo", "{'value': 1}");
        CU_ASSERT(ft(&p, q, "e1") && at_return(&p, q, "e1", "1"));
        at_finish(&p);
    }

    /* The glue cannot start a process: OSError, no exit report follows. */
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawn_failed(&p, ev.child, "Resource temporarily unavailable");
    CU_ASSERT(ft(&p, h, "c1"));
    CU_ASSERT(sp_expect_error(&p, h, "c1", "OSError", "Resource temporarily unavailable") != NULL);
    CU_ASSERT(sp_stats(&p).children == 0 && sc_actor_next_deadline(p.actor) < 0);
    at_finish(&p);
}

/* SEC-7, HS-10: only a connection with the child's whole uid becomes the
 * child's channel, and only the first one; any other is an ordinary peer. */
static void test_wrong_uid(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    const char *fakes[][2] = { { "w", U1 }, { "x", ev.uuid }, { "peer", U1 } };
    for (size_t i = 0; i < 3; i++) {
        int f = sp_accept(&p);
        CU_ASSERT(sp_expect(&p, f, AUID));
        sp_send_uid(&p, f, fakes[i][0], fakes[i][1]);
        CU_ASSERT(sp_unread(&p, f) == 0);
        sp_cmd(&p, f, "e1", SVC, "echo", "{'value': 2}");
        CU_ASSERT(ft(&p, f, "e1") && at_return(&p, f, "e1", "2") && sp_unread(&p, f) == 0);
    }
    char cid[64];
    int w = child_up(&p, &ev, "echo", "{'value': 1}", cid, sizeof(cid));
    /* a second connection with the same uid: an ordinary peer (the child's
     * own registry connection looks like this) */
    int again = child_connects(&p, &ev);
    CU_ASSERT(sp_unread(&p, again) == 0);
    sp_cmd(&p, again, "e1", SVC, "echo", "{'value': 3}");
    CU_ASSERT(ft(&p, again, "e1") && at_return(&p, again, "e1", "3"));
    CU_ASSERT(!sp_closed(&p, w));
    at_finish(&p);
}

/* SUP-10: an error without cid from a child is its failure, with its
 * type_str; its process is still reaped. */
static void test_actor_level_error(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    char cid[64];
    int w = child_up(&p, &ev, "echo", "{'value': 1}", cid, sizeof(cid));
    sp_send(&p, w, "{'error': {'tb_str': 'Traceback...\\nModuleNotFoundError: No module named x\\n', "
                   "'type_str': 'ModuleNotFoundError'}}");
    CU_ASSERT(sp_log_has(&p, "actor-level failure: ModuleNotFoundError"));
    char ccid[64];
    CU_ASSERT(expect_cmd(&p, w, "self", "cancel", "{}", ccid, sizeof(ccid)));
    sp_send(&p, w, "nil");
    sp_eof(&p, w, 0);
    sp_child_exited(&p, ev.child, SP_EXITED(1));
    CU_ASSERT(ft(&p, h, "c1"));
    const sp_msg *m = sp_expect_error(&p, h, "c1", "ModuleNotFoundError", "No module named x");
    char tb[4000];
    CU_ASSERT(m && strstr(tb_of(m, tb, sizeof(tb)), "self.cancel not acknowledged; exited with status 1"));
    at_finish(&p);
}

/* SUP-8, SUP-2: a child that fails before its sibling connected: the
 * sibling gets its init map and its command, as in tractor, then
 * self.cancel; a child that never connects fails with TimeoutError and is
 * terminated. */
static void test_cancel_before_connect(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_cmd(&p, h, "c1", SVC, "run_in_children",
           "{'specs': [['a', '" SVC "', 'sleep_forever', {}], ['b', '" SVC "', 'echo', {'value': 1}]]}");
    sc_event ea, eb;
    CU_ASSERT_FATAL(spawned(&p, 0, &ea) && spawned(&p, 1, &eb));
    char cid[64];
    int wb = child_up(&p, &eb, "echo", "{'value': 1}", cid, sizeof(cid));
    child_fails(&p, wb, cid, "ValueError", "early");
    int wa = child_connects(&p, &ea);
    CU_ASSERT(sp_expect(&p, wa, INIT_MAP));
    CU_ASSERT(expect_cmd(&p, wa, SVC, "sleep_forever", "{}", cid, sizeof(cid)));
    child_cancelled(&p, wa, 1);
    child_cancelled(&p, wb, 1);
    sp_child_exited(&p, ea.child, SP_EXITED(0));
    sp_child_exited(&p, eb.child, SP_EXITED(0));
    CU_ASSERT(ft(&p, h, "c1") && sp_expect_error(&p, h, "c1", "ValueError", "early"));
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 0);
    at_finish(&p);

    at_start(&p, &cfg);
    h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    double t0 = p.now;
    sp_run_timers(&p, 9.99);
    CU_ASSERT(sp_count_events(&p, SC_EV_SIGNAL) == 0);
    sp_run_timers(&p, 0.02);
    CU_ASSERT(sp_log_has(&p, "failed: TimeoutError"));
    sp_run_timers(&p, t0 + 13.01 - p.now);
    const sc_event *s = sp_last_event(&p, SC_EV_SIGNAL, 0);
    CU_ASSERT(s && s->status == TERM);
    sp_child_exited(&p, ev.child, SP_SIGNALED(15));
    CU_ASSERT(ft(&p, h, "c1") && sp_expect_error(&p, h, "c1", "TimeoutError", "did not connect back"));
    at_finish(&p);
}

/* SUP-13, SELF-4, CAN-5: a call cancelled by its caller (or whose channel
 * ends) cancels its children; they are still reaped, and nothing more goes
 * to the caller. */
static void test_call_cancelled(void)
{
    for (int how = 0; how < 2; how++) {
        sc_actor_config cfg = parent_config();
        simpeer p;
        at_start(&p, &cfg);
        int h = at_peer(&p);
        run_in_child(&p, h, "c1", "w", "sleep_forever", "{}");
        sc_event ev;
        CU_ASSERT_FATAL(spawned(&p, 0, &ev));
        char cid[64];
        int w = child_up(&p, &ev, "sleep_forever", "{}", cid, sizeof(cid));
        CU_ASSERT(ft(&p, h, "c1"));
        if (how == 0) {
            sp_cmd(&p, h, "x1", "self", "_cancel_task", "{'cid': 'c1'}");
            CU_ASSERT(ft(&p, h, "x1") && at_return(&p, h, "x1", "nil"));
        } else {
            sp_eof(&p, h, 0);
        }
        child_cancelled(&p, w, 1);
        CU_ASSERT(sp_stats(&p).children == 1);
        sp_child_exited(&p, ev.child, SP_EXITED(0));
        CU_ASSERT(sp_stats(&p).children == 0 && sp_stats(&p).contexts == 0);
        CU_ASSERT(how == 1 || sp_unread(&p, h) == 0);
        at_finish(&p);
    }
}

/* SUP-13, SVC-3: the actor exits only once every child has been cancelled
 * and reaped: a connected child with self.cancel, one that never
 * connects (the listener is gone) by SIGTERM and SIGKILL. */
static void test_shutdown_waits_for_children(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_cmd(&p, h, "s1", SVC, "spawn_start", "{'name': 'd'}");
    sp_cmd(&p, h, "s2", SVC, "spawn_start", "{'name': 'e'}");
    sc_event ed, ee;
    CU_ASSERT_FATAL(spawned(&p, 0, &ed) && spawned(&p, 1, &ee));
    sp_child_spawned(&p, ed.child, 100);
    sp_child_spawned(&p, ee.child, 101);
    int wd = child_connects(&p, &ed);
    CU_ASSERT(sp_expect(&p, wd, INIT_MAP));
    char cid[64];
    CU_ASSERT(expect_cmd(&p, wd, SVC, "spawn_info", "{}", cid, sizeof(cid)));
    sp_send(&p, wd, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(&p, wd, "{'return': {'uid': ['d', '%s'], 'sockaddr': ['127.0.0.1', 5001], 'init': nil}, "
                    "'cid': '%s'}", ed.uuid, cid);
    sc_actor_shutdown(p.actor, p.now);
    sp_pump(&p);
    CU_ASSERT(sp_closed(&p, h) && !p.exited && !sp_closed(&p, wd));
    child_cancelled(&p, wd, 1);
    sp_child_exited(&p, ed.child, SP_EXITED(0));
    CU_ASSERT(!p.exited);
    sp_run_timers(&p, 3.01);
    const sc_event *s = sp_last_event(&p, SC_EV_SIGNAL, 0);
    CU_ASSERT(s && s->child == ee.child && s->status == TERM);
    sp_run_timers(&p, 3.0);
    s = sp_last_event(&p, SC_EV_SIGNAL, 0);
    CU_ASSERT(s && s->child == ee.child && s->status == KILL && !p.exited);
    sp_child_exited(&p, ee.child, SP_SIGNALED(9));
    CU_ASSERT(p.exited && p.exit_status == 0);
    CU_ASSERT(sp_find_event(&p, SC_EV_EXIT, 0) == (long)p.nevents - 1);
    at_finish(&p);

    /* self.cancel: acknowledged at once, the exit still waits. */
    at_start(&p, &cfg);
    h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "sleep_forever", "{}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    int w = child_up(&p, &ev, "sleep_forever", "{}", cid, sizeof(cid));
    int q = at_peer(&p);
    sp_cmd(&p, q, "k1", "self", "cancel", "{}");
    CU_ASSERT(ft(&p, q, "k1") && at_return(&p, q, "k1", "true") && sp_closed(&p, q));
    CU_ASSERT(!p.exited);
    child_cancelled(&p, w, 0);
    sp_child_exited(&p, ev.child, SP_EXITED(0));
    CU_ASSERT(p.exited && p.exit_status == 0);
    at_finish(&p);
}

/* SVC-22, SVC-23, SVC-25: spawn_start hands the child over once it is up;
 * names are unique among them; spawn_cancel answers after the reap;
 * refusals come with the types of test-service.md. */
static void test_spawn_functions(void)
{
    sc_actor_config cfg = parent_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    sp_cmd(&p, h, "s1", SVC, "spawn_start", "{'name': 'd'}");
    sc_event ev;
    CU_ASSERT_FATAL(spawned(&p, 0, &ev));
    sp_child_spawned(&p, ev.child, 100);
    sp_cmd(&p, h, "s2", SVC, "spawn_start", "{'name': 'd'}");
    CU_ASSERT(ft(&p, h, "s1") && ft(&p, h, "s2"));
    CU_ASSERT(sp_expect_error(&p, h, "s2", "ValueError", "is running already") != NULL);
    int w = child_connects(&p, &ev);
    CU_ASSERT(sp_expect(&p, w, INIT_MAP));
    char cid[64];
    CU_ASSERT(expect_cmd(&p, w, SVC, "spawn_info", "{}", cid, sizeof(cid)));
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_send(&p, w, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
    sp_send(&p, w, "{'return': {'uid': ['d', '%s'], 'sockaddr': ['127.0.0.1', 5001], 'init': {}}, "
                   "'cid': '%s'}", ev.uuid, cid);
    CU_ASSERT(at_return(&p, h, "s1", "['127.0.0.1', 5001]"));
    sp_cmd(&p, h, "l1", SVC, "spawn_list", "{}");
    CU_ASSERT(ft(&p, h, "l1"));
    CU_ASSERT(sp_expect(&p, h, "{'return': [['d', '%s', 100, 'running']], 'cid': 'l1'}", ev.uuid));
    sp_cmd(&p, h, "x1", SVC, "spawn_cancel", "{'name': 'nobody'}");
    CU_ASSERT(ft(&p, h, "x1") && sp_expect_error(&p, h, "x1", "KeyError", "nobody"));
    sp_cmd(&p, h, "k1", SVC, "spawn_cancel", "{'name': 'd'}");
    sp_cmd(&p, h, "k2", SVC, "spawn_cancel", "{'name': 'd'}");
    CU_ASSERT(ft(&p, h, "k1") && ft(&p, h, "k2"));
    CU_ASSERT(sp_expect_error(&p, h, "k2", "RuntimeError", "being cancelled already") != NULL);
    child_cancelled(&p, w, 1);
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_child_exited(&p, ev.child, SP_EXITED(0));
    CU_ASSERT(at_return(&p, h, "k1", "true"));
    sp_cmd(&p, h, "l2", SVC, "spawn_list", "{}");
    CU_ASSERT(ft(&p, h, "l2") && at_return(&p, h, "l2", "[]"));
    /* The name is free again. */
    sp_cmd(&p, h, "s3", SVC, "spawn_start", "{'name': 'd'}");
    CU_ASSERT(ft(&p, h, "s3") && sp_count_events(&p, SC_EV_SPAWN) == 2);
    /* Refusals. */
    static const struct {
        const char *func;
        const char *kwargs;
        const char *type_str;
        int functype;
    } bad[] = {
        { "spawn_start", "{'name': 'a b'}", "ValueError", 1 },
        { "spawn_start", "{'name': ''}", "ValueError", 1 },
        { "spawn_start", "{'name': 1}", "TypeError", 0 },
        { "spawn_start", "{}", "TypeError", 0 },
        { "spawn_kill", "{'name': 'd', 'signal': 0}", "ValueError", 1 },
        { "spawn_kill", "{'name': 'd', 'signal': 'KILL'}", "TypeError", 0 },
        { "spawn_list", "{'x': 1}", "TypeError", 0 },
        { "run_in_child", "{'name': 'w', 'ns': 'x', 'func': 'y'}", "TypeError", 0 },
        { "run_in_child", "{'name': 'w', 'ns': 'x', 'func': 'y', 'kwargs': []}", "TypeError", 0 },
        { "run_in_child", "{'name': 'w', 'ns': 'x', 'func': 'y', 'kwargs': {1: 2}}", "TypeError", 0 },
        { "run_in_children", "{'specs': []}", "TypeError", 0 },
        { "run_in_children", "{'specs': [['a', 'b', 'c']]}", "TypeError", 0 },
        { "run_in_children", "{'specs': [['a', 'b', 'c', {}], ['x/y', 'b', 'c', {}]]}", "ValueError", 1 },
        { "spawn_info", "{'x': 1}", "TypeError", 0 },
        { "spawn_stubborn", "{}", "TypeError", 0 },
        { "spawn_stubborn", "{'ignore_sigterm': true}", "RuntimeError", 1 },
        { "spawn_crash", "{'type_str': 'X', 'text': 'y'}", "RuntimeError", 1 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char c[16];
        snprintf(c, sizeof(c), "b%zu", i);
        sp_cmd(&p, h, c, SVC, bad[i].func, "%s", bad[i].kwargs);
        if (bad[i].functype)
            CU_ASSERT(ft(&p, h, c));
        if (!sp_expect_error(&p, h, c, bad[i].type_str, NULL))
            fprintf(stderr, "  refusal %zu: %s %s\n", i, bad[i].func, bad[i].kwargs);
    }
    CU_ASSERT(sp_count_events(&p, SC_EV_SPAWN) == 2 && sp_unread(&p, h) == 0);
    at_finish(&p);
}

/* The limit of children: none by default in the core, and a bound. */
static void test_children_limit(void)
{
    sc_actor_config cfg = parent_config();
    cfg.max_children = 0;
    simpeer p;
    at_start(&p, &cfg);
    int h = at_peer(&p);
    run_in_child(&p, h, "c1", "w", "echo", "{'value': 1}");
    CU_ASSERT(ft(&p, h, "c1") && sp_expect_error(&p, h, "c1", "RuntimeError", "does not spawn"));
    CU_ASSERT(sp_count_events(&p, SC_EV_SPAWN) == 0);
    at_finish(&p);

    cfg.max_children = 2;
    at_start(&p, &cfg);
    h = at_peer(&p);
    sp_cmd(&p, h, "c1", SVC, "run_in_children",
           "{'specs': [['a', 'x', 'y', {}], ['b', 'x', 'y', {}], ['c', 'x', 'y', {}]]}");
    CU_ASSERT(ft(&p, h, "c1") && sp_expect_error(&p, h, "c1", "RuntimeError", "budget of 2"));
    sp_cmd(&p, h, "s1", SVC, "spawn_start", "{'name': 'd'}");
    sp_cmd(&p, h, "s2", SVC, "spawn_start", "{'name': 'e'}");
    sp_cmd(&p, h, "s3", SVC, "spawn_start", "{'name': 'f'}");
    CU_ASSERT(ft(&p, h, "s1") && ft(&p, h, "s2") && ft(&p, h, "s3"));
    CU_ASSERT(sp_expect_error(&p, h, "s3", "RuntimeError", "budget of 2") != NULL);
    CU_ASSERT(sp_count_events(&p, SC_EV_SPAWN) == 2);
    at_finish(&p);
}

/* ---- the child ------------------------------------------------------------------------ */

static sc_actor_config child_config(void)
{
    sc_actor_config c;
    sc_actor_config_default(&c);
    c.name = "w";
    c.uuid = U1;
    c.parent_host = "127.0.0.1";
    c.parent_port = 4000;
    c.listen_host = "0.0.0.0"; /* ignored: the init map decides */
    return c;
}

#define CUID "['w', '" U1 "']"
#define PUID "['parent', '" PU "']"
#define CHILD_INIT(arb)                                                                             \
    "{'_parent_main_data': {}, 'enable_modules': {'scwire_service': '/x'}, '_arb_addr': " arb ", "  \
    "'bind_host': '127.0.0.2', 'bind_port': 0, '_runtime_vars': {'_debug_mode': false, "          \
    "'_is_root': false, '_root_mailbox': ['127.0.0.1', 4000]}}"

/* The child's connection to its parent, handshaken. */
static int parent_side(simpeer *p)
{
    CU_ASSERT(sp_start(p) == SC_OK);
    CU_ASSERT_FATAL(sp_count_events(p, SC_EV_CONNECT) == 1);
    int h = p->last_connect;
    CU_ASSERT(strcmp(p->conns[h].host, "127.0.0.1") == 0 && p->conns[h].port == 4000);
    sp_connected(p, h);
    CU_ASSERT(sp_expect(p, h, CUID));
    sp_send_uid(p, h, "parent", PU);
    return h;
}

static void pcmd(simpeer *p, int h, const char *cid, const char *ns, const char *func, const char *kw)
{
    sp_send(p, h, "{'cmd': ['%s', '%s', %s, " PUID ", '%s']}", ns, func, kw, cid);
}

/* SUP-2, SUP-5, REG-11, REG-12, SVC-26: the child handshakes with its uid,
 * takes the init map, listens where it says, registers, and only then
 * serves the commands that came before; spawn_info shows the map as sent. */
static void test_child_start(void)
{
    sc_actor_config cfg = child_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = parent_side(&p);
    CU_ASSERT(sp_count_events(&p, SC_EV_LISTEN) == 0);
    /* The init map and a command in one segment, with an unknown key. */
    sp_bytes b = { 0 };
    sp_framef(&b, cfg.codec, "{'_parent_main_data': {'init_main_from_name': 'x'}, "
                             "'enable_modules': {'scwire_service': '/x'}, '_arb_addr': ['127.0.0.1', 1616], "
                             "'bind_host': '127.0.0.2', 'bind_port': 0, '_runtime_vars': {'_debug_mode': "
                             "false, '_is_root': false, '_root_mailbox': ['127.0.0.1', 4000], 'extra': 1}, "
                             "'not_a_key': [1, 2]}");
    sp_framef(&b, cfg.codec, "{'cmd': ['" SVC "', 'spawn_info', {}, " PUID ", 'i1']}");
    sp_feed(&p, h, b.data, b.len);
    sp_bytes_free(&b);
    const sc_event *l = sp_last_event(&p, SC_EV_LISTEN, 0);
    CU_ASSERT_FATAL(l != NULL);
    CU_ASSERT(strcmp(l->host, "127.0.0.2") == 0 && l->port == 0);
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_count_events(&p, SC_EV_CONNECT) == 1);
    sp_listening(&p, "127.0.0.2", 5005);
    CU_ASSERT(sp_count_events(&p, SC_EV_CONNECT) == 2 && sp_unread(&p, h) == 0);
    int reg = p.last_connect;
    CU_ASSERT(p.conns[reg].port == 1616);
    sp_connected(&p, reg);
    CU_ASSERT(sp_expect(&p, reg, CUID));
    sp_send_uid(&p, reg, "registrar", RU);
    const sp_msg *m = sp_next(&p, reg);
    const msgpack_object *cmd = m ? sc_map_get(&m->obj, "cmd") : NULL;
    CU_ASSERT_FATAL(cmd && cmd->type == MSGPACK_OBJECT_ARRAY && cmd->via.array.size == 5);
    char rcid[64];
    snprintf(rcid, sizeof(rcid), "%.*s", (int)cmd->via.array.ptr[4].via.str.size,
             cmd->via.array.ptr[4].via.str.ptr);
    CU_ASSERT(sp_match(m, "{'cmd': ['self', 'register_actor', {'uid': " CUID ", 'sockaddr': "
                          "['127.0.0.2', 5005]}, " CUID ", '%s']}", rcid));
    CU_ASSERT(sp_unread(&p, h) == 0);
    sp_send(&p, reg, "{'functype': 'asyncfunc', 'cid': '%s'}", rcid);
    sp_send(&p, reg, "{'return': nil, 'cid': '%s'}", rcid);
    /* Registered: the waiting command is served now. */
    CU_ASSERT(ft(&p, h, "i1"));
    CU_ASSERT(sp_expect(&p, h, "{'return': {'uid': " CUID ", 'sockaddr': ['127.0.0.2', 5005], 'init': "
                               "{'_parent_main_data': {'init_main_from_name': 'x'}, 'enable_modules': "
                               "{'scwire_service': '/x'}, '_arb_addr': ['127.0.0.1', 1616], 'bind_host': "
                               "'127.0.0.2', 'bind_port': 0, '_runtime_vars': {'_debug_mode': false, "
                               "'_is_root': false, '_root_mailbox': ['127.0.0.1', 4000], 'extra': 1}, "
                               "'not_a_key': [1, 2]}}, 'cid': 'i1'}"));
    /* self.cancel from the parent: acknowledged, unregister, exit 0. */
    pcmd(&p, h, "k1", "self", "cancel", "{}");
    CU_ASSERT(ft(&p, h, "k1") && at_return(&p, h, "k1", "true") && sp_expect(&p, h, "nil"));
    CU_ASSERT(sp_closed(&p, h) && !p.exited);
    int unreg = p.last_connect;
    CU_ASSERT(unreg != reg && p.conns[unreg].port == 1616);
    sp_connect_failed(&p, unreg, "refused");
    CU_ASSERT(p.exited && p.exit_status == 0);
    at_finish(&p);
}

/* SUP-6, MSG-4: an init map the child cannot apply: an actor-level error
 * (no cid) to the parent, then nil, and exit with status 1. */
static void test_child_bad_init(void)
{
    static const struct {
        const char *map;
        const char *type_str;
        const char *text;
    } cases[] = {
        { "[1, 2]", "TypeError", "must be a map, not array" },
        { "nil", "TypeError", "must be a map, not nil" },
        { "{'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', 'bind_port': 0, "
          "'_runtime_vars': {}}", "KeyError", "'_parent_main_data'" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'_runtime_vars': {}}", "KeyError", "'bind_port'" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 'x', '_runtime_vars': {}}", "TypeError", "bind_port" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 70000, '_runtime_vars': {}}", "TypeError", "bind_port" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': '', "
          "'bind_port': 0, '_runtime_vars': {}}", "TypeError", "bind_host" },
        { "{'_parent_main_data': [], 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 0, '_runtime_vars': {}}", "TypeError", "_parent_main_data" },
        { "{'_parent_main_data': {}, 'enable_modules': {'a': 1}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 0, '_runtime_vars': {}}", "TypeError", "enable_modules" },
        { "{'_parent_main_data': {}, 'enable_modules': {'os': '/x'}, '_arb_addr': nil, 'bind_host': "
          "'h', 'bind_port': 0, '_runtime_vars': {}}", "ModuleNotFoundError", "No module named 'os'" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': ['h'], 'bind_host': 'h', "
          "'bind_port': 0, '_runtime_vars': {}}", "TypeError", "_arb_addr" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 0, '_runtime_vars': []}", "TypeError", "_runtime_vars" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 0, '_runtime_vars': {'_debug_mode': 1}}", "TypeError", "_debug_mode" },
        { "{'_parent_main_data': {}, 'enable_modules': {}, '_arb_addr': nil, 'bind_host': 'h', "
          "'bind_port': 0, '_runtime_vars': {'_root_mailbox': 'x'}}", "TypeError", "_root_mailbox" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_actor_config cfg = child_config();
        simpeer p;
        at_start(&p, &cfg);
        int h = parent_side(&p);
        CU_ASSERT(sp_unread(&p, h) == 0);
        sp_send(&p, h, "%s", cases[i].map);
        const sp_msg *m = sp_next(&p, h);
        const msgpack_object *e = m ? sc_map_get(&m->obj, "error") : NULL;
        const msgpack_object *ty = e ? sc_map_get(e, "type_str") : NULL;
        int ok = m && m->obj.type == MSGPACK_OBJECT_MAP && m->obj.via.map.size == 1 && ty &&
                 ty->type == MSGPACK_OBJECT_STR && ty->via.str.size == strlen(cases[i].type_str) &&
                 memcmp(ty->via.str.ptr, cases[i].type_str, ty->via.str.size) == 0 &&
                 sp_tb_has(m, cases[i].text);
        if (!ok)
            fprintf(stderr, "  bad init %zu: %s\n", i, cases[i].map);
        CU_ASSERT(ok);
        CU_ASSERT(sp_expect(&p, h, "nil") && sp_unread(&p, h) == 0 && sp_closed(&p, h));
        CU_ASSERT(p.exited && p.exit_status == 1 && sp_count_events(&p, SC_EV_LISTEN) == 0);
        at_finish(&p);
    }
}

/* SUP-4, SEC-7: an init map is taken only on the parent channel; on any
 * other connection the same map is a malformed message (that connection
 * closes) and the child keeps serving. */
static void test_child_init_only_from_parent(void)
{
    sc_actor_config cfg = child_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = parent_side(&p);
    sp_send(&p, h, CHILD_INIT("nil"));
    sp_listening(&p, "127.0.0.2", 5005);
    int q = sp_handshake(&p, "peer", U1);
    CU_ASSERT_FATAL(q >= 0);
    sp_send(&p, q, CHILD_INIT("['10.0.0.1', 1]"));
    CU_ASSERT(sp_closed(&p, q) && sp_count_events(&p, SC_EV_LISTEN) == 1);
    /* A second map on the parent channel is no init map either. */
    pcmd(&p, h, "i1", SVC, "spawn_info", "{}");
    CU_ASSERT(ft(&p, h, "i1"));
    const sp_msg *m = sp_next(&p, h);
    CU_ASSERT(m && sp_match(m, "{'return': {'uid': " CUID ", 'sockaddr': ['127.0.0.2', 5005], 'init': "
                               CHILD_INIT("nil") "}, 'cid': 'i1'}"));
    CU_ASSERT(!p.exited && sp_count_events(&p, SC_EV_CONNECT) == 1);
    at_finish(&p);
}

/* SUP-12, CAN-3: the parent channel ends: every task is cancelled and the
 * child exits, 0 after nil, 1 after a bare EOF or reset. */
static void test_child_parent_lost(void)
{
    for (int how = 0; how < 3; how++) {
        sc_actor_config cfg = child_config();
        simpeer p;
        at_start(&p, &cfg);
        int h = parent_side(&p);
        sp_send(&p, h, CHILD_INIT("nil"));
        sp_listening(&p, "127.0.0.2", 5005);
        int q = sp_handshake(&p, "peer", U1);
        sp_cmd(&p, q, "c1", SVC, "ctx_no_stream", "{'value': 1}");
        pcmd(&p, h, "c2", SVC, "sleep_forever", "{}");
        CU_ASSERT(ft(&p, h, "c2") && sp_stats(&p).contexts == 2);
        if (how == 0)
            sp_send(&p, h, "nil");
        else
            sp_eof(&p, h, how == 2);
        CU_ASSERT(p.exited && p.exit_status == (how == 0 ? 0 : 1));
        CU_ASSERT(sp_closed(&p, q) && sp_stats(&p).contexts == 0);
        at_finish(&p);
    }
    /* No parent to connect to, or no init map in time. */
    sc_actor_config cfg = child_config();
    simpeer p;
    at_start(&p, &cfg);
    sp_start(&p);
    sp_connect_failed(&p, p.last_connect, "Connection refused");
    CU_ASSERT(p.exited && p.exit_status == 1 && sp_log_has(&p, "Failed to connect to parent"));
    at_finish(&p);
    at_start(&p, &cfg);
    int h = parent_side(&p);
    sp_advance(&p, 9.99);
    CU_ASSERT(!p.exited);
    sp_advance(&p, 0.02);
    CU_ASSERT(p.exited && p.exit_status == 1 && sp_closed(&p, h));
    at_finish(&p);
    /* No listener where the map says. */
    at_start(&p, &cfg);
    h = parent_side(&p);
    sp_send(&p, h, CHILD_INIT("nil"));
    sp_listen_failed(&p, "Address already in use");
    const sp_msg *m = sp_next(&p, h);
    CU_ASSERT(m && sp_tb_has(m, "OSError: cannot listen where the parent said: Address already in use"));
    CU_ASSERT(p.exited && p.exit_status == 1);
    at_finish(&p);
}

/* SVC-27, SVC-28, MSG-4, SUP-10: spawn_crash sends the actor-level error
 * to the parent whoever asked; spawn_stubborn makes self.cancel and (if
 * asked) SIGTERM go unanswered, but the parent channel still ends it. */
static void test_child_crash_and_stubborn(void)
{
    sc_actor_config cfg = child_config();
    simpeer p;
    at_start(&p, &cfg);
    int h = parent_side(&p);
    sp_send(&p, h, CHILD_INIT("nil"));
    sp_listening(&p, "127.0.0.2", 5005);
    int q = sp_handshake(&p, "peer", U1);
    sp_cmd(&p, q, "c1", SVC, "spawn_crash", "{'type_str': 'OSError', 'text': 'disk on fire'}");
    CU_ASSERT(ft(&p, q, "c1") && sp_expect(&p, q, "nil") && sp_closed(&p, q));
    const sp_msg *m = sp_next(&p, h);
    CU_ASSERT(m && m->obj.via.map.size == 1 && sp_tb_has(m, "OSError: disk on fire"));
    CU_ASSERT(sp_expect(&p, h, "nil") && p.exited && p.exit_status == 1);
    at_finish(&p);

    at_start(&p, &cfg);
    h = parent_side(&p);
    sp_send(&p, h, CHILD_INIT("nil"));
    sp_listening(&p, "127.0.0.2", 5005);
    pcmd(&p, h, "s1", SVC, "spawn_stubborn", "{'ignore_sigterm': true}");
    CU_ASSERT(ft(&p, h, "s1"));
    pcmd(&p, h, "k1", "self", "cancel", "{}");
    CU_ASSERT(sp_unread(&p, h) == 0 && sp_log_has(&p, "ignoring self.cancel"));
    sc_actor_shutdown(p.actor, p.now);
    sp_pump(&p);
    CU_ASSERT(!p.exited && sp_log_has(&p, "ignoring the shutdown signal"));
    sp_eof(&p, h, 0);
    CU_ASSERT(p.exited && p.exit_status == 1);
    at_finish(&p);
}

/* ---- allocation failures ------------------------------------------------------------- */

/* The test playing every child of a session: connect back, answer echo,
 * raise_error and spawn_info, and on self.cancel acknowledge, end the
 * channel and exit.  Robust to an actor that refuses things. */
typedef struct simchild {
    sc_event ev;
    int h;
    int done;
} simchild;

static int cmd_fields(const sp_msg *m, char *func, char *cid, size_t n)
{
    const msgpack_object *cmd = m ? sc_map_get(&m->obj, "cmd") : NULL;
    if (!cmd || cmd->type != MSGPACK_OBJECT_ARRAY || cmd->via.array.size != 5 ||
        cmd->via.array.ptr[1].type != MSGPACK_OBJECT_STR || cmd->via.array.ptr[4].type != MSGPACK_OBJECT_STR)
        return 0;
    snprintf(func, n, "%.*s", (int)cmd->via.array.ptr[1].via.str.size, cmd->via.array.ptr[1].via.str.ptr);
    snprintf(cid, n, "%.*s", (int)cmd->via.array.ptr[4].via.str.size, cmd->via.array.ptr[4].via.str.ptr);
    return 1;
}

static void play_children(simpeer *p, simchild *cs, size_t *ncs, size_t cap)
{
    for (int round = 0; round < 20; round++) {
        int moved = 0;
        size_t seen = 0;
        for (size_t i = 0; i < p->nevents && *ncs < cap; i++) {
            if (p->events[i].kind != SC_EV_SPAWN)
                continue;
            if (seen++ < *ncs)
                continue;
            simchild *c = &cs[(*ncs)++];
            c->ev = p->events[i];
            c->h = -1;
            c->done = 0;
            moved = 1;
        }
        for (size_t i = 0; i < *ncs; i++) {
            simchild *c = &cs[i];
            if (c->done || p->exited)
                continue;
            if (c->h < 0) {
                sp_child_spawned(p, c->ev.child, 100 + (int)i);
                c->h = sp_accept(p);
                if (c->h < 0) {
                    sp_child_exited(p, c->ev.child, SP_EXITED(1));
                    c->done = 1;
                    continue;
                }
                sp_send_uid(p, c->h, c->ev.name, c->ev.uuid);
                moved = 1;
            }
            const sp_msg *m;
            char func[64], cid[64];
            while (!c->done && (m = sp_next(p, c->h)) != NULL) {
                if (!cmd_fields(m, func, cid, sizeof(func)))
                    continue;
                moved = 1;
                sp_send(p, c->h, "{'functype': 'asyncfunc', 'cid': '%s'}", cid);
                if (strcmp(func, "cancel") == 0) {
                    sp_send(p, c->h, "{'return': true, 'cid': '%s'}", cid);
                    sp_send(p, c->h, "nil");
                    sp_eof(p, c->h, 0);
                    sp_child_exited(p, c->ev.child, SP_EXITED(0));
                    c->done = 1;
                } else if (strcmp(func, "raise_error") == 0) {
                    sp_send(p, c->h, "{'error': {'tb_str': 'E: x', 'type_str': 'E'}, 'cid': '%s'}", cid);
                } else if (strcmp(func, "spawn_info") == 0) {
                    sp_send(p, c->h, "{'return': {'uid': ['%s', '%s'], 'sockaddr': ['127.0.0.1', 5001], "
                                     "'init': nil}, 'cid': '%s'}", c->ev.name, c->ev.uuid, cid);
                } else {
                    sp_send(p, c->h, "{'return': 1, 'cid': '%s'}", cid);
                }
            }
        }
        if (!moved)
            return;
    }
}

static void parent_session(simpeer *p)
{
    simchild cs[8];
    size_t ncs = 0;
    int h = sp_accept(p);
    if (h < 0)
        return;
    sp_send_uid(p, h, "peer", U1);
    sp_cmd(p, h, "c1", SVC, "run_in_children",
           "{'specs': [['a', '" SVC "', 'echo', {'value': 1}], ['b', '" SVC "', 'raise_error', {}]]}");
    sp_cmd(p, h, "c2", SVC, "run_in_child", "{'name': 'c', 'ns': '" SVC "', 'func': 'echo', 'kwargs': {}}");
    sp_cmd(p, h, "c3", SVC, "spawn_start", "{'name': 'd'}");
    sp_cmd(p, h, "c4", SVC, "run_in_child", "{'name': 'e', 'ns': '" SVC "', 'func': 'sleep', 'kwargs': {}}");
    play_children(p, cs, &ncs, 8);
    sp_cmd(p, h, "c5", SVC, "spawn_list", "{}");
    sp_cmd(p, h, "c6", SVC, "spawn_kill", "{'name': 'e', 'signal': 9}");
    sp_cmd(p, h, "c7", SVC, "spawn_cancel", "{'name': 'd'}");
    play_children(p, cs, &ncs, 8);
    sc_actor_shutdown(p->actor, p->now);
    sp_pump(p);
    play_children(p, cs, &ncs, 8);
    sp_run_timers(p, 20.0);
    for (size_t i = 0; i < ncs; i++)
        if (!cs[i].done)
            sp_child_exited(p, cs[i].ev.child, SP_SIGNALED(9));
    sp_run_timers(p, 20.0);
}

static void child_session(simpeer *p)
{
    sp_start(p);
    int h = p->last_connect;
    if (h < 0)
        return;
    sp_connected(p, h);
    sp_send_uid(p, h, "parent", PU);
    sp_send(p, h, CHILD_INIT("['127.0.0.1', 1616]"));
    pcmd(p, h, "i1", SVC, "spawn_info", "{}");
    sp_listening(p, "127.0.0.2", 5005);
    int reg = p->last_connect;
    if (reg != h && reg >= 0)
        sp_connect_failed(p, reg, "refused");
    pcmd(p, h, "e1", SVC, "echo", "{'value': 1}");
    sp_send(p, h, "nil");
    int unreg = p->last_connect;
    if (unreg != reg && unreg >= 0)
        sp_connect_failed(p, unreg, "refused");
    sp_run_timers(p, 20.0);
}

static void failmalloc_sweep(const sc_actor_config *cfg, void (*run)(simpeer *))
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
        CU_ASSERT(sp_free(&p) == 0);
    }
    CU_ASSERT(clean && n > 20);
}

/* Every allocation of a parent's and a child's session fails in turn: the
 * actor may refuse or close, but never crash, leak or send broken output,
 * and a clean run ends with every child reaped and exit status 0. */
static void test_failmalloc(void)
{
    sc_actor_config cfg = parent_config();
    failmalloc_sweep(&cfg, parent_session);
    cfg = child_config();
    failmalloc_sweep(&cfg, child_session);
}

/* ---- registration --------------------------------------------------------------------- */

static CU_TestInfo tests[] = {
    { "spawn_event", test_spawn_event },
    { "init_map_and_command", test_init_map_and_command },
    { "result_after_reap", test_result_after_reap },
    { "error_type_kept", test_error_type_kept },
    { "one_cancels_all", test_one_cancels_all },
    { "multi_error_and_results", test_multi_error_and_results },
    { "cancel_ack_drained", test_cancel_ack_drained },
    { "kill_grace_timers", test_kill_grace_timers },
    { "child_exit_reports", test_child_exit_reports },
    { "wrong_uid", test_wrong_uid },
    { "actor_level_error", test_actor_level_error },
    { "cancel_before_connect", test_cancel_before_connect },
    { "call_cancelled", test_call_cancelled },
    { "shutdown_waits_for_children", test_shutdown_waits_for_children },
    { "spawn_functions", test_spawn_functions },
    { "children_limit", test_children_limit },
    { "child_start", test_child_start },
    { "child_bad_init", test_child_bad_init },
    { "child_init_only_from_parent", test_child_init_only_from_parent },
    { "child_parent_lost", test_child_parent_lost },
    { "child_crash_and_stubborn", test_child_crash_and_stubborn },
    { "failmalloc", test_failmalloc },
    CU_TEST_INFO_NULL,
};

int register_nursery_tests(void)
{
    return sc_add_suite("nursery", tests);
}
