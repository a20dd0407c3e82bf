/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* nursery.c - the parent side of supervision (spec/protocol.md section 12,
 * spec/test-service.md section 5): children as processes, their channels,
 * the init map, run_in_child, cancellation with self.cancel and hard kill,
 * one-cancels-all, and reaping before replying or exiting.
 *
 * The life of a child, as tractor's trio backend has it (_spawn.py,
 * _supervise.py):
 *
 *   SC_EV_SPAWN -> it connects back and handshakes with its uid -> init map,
 *   then its command (sent at once: it waits unread until the child serves)
 *   -> its result or error -> self.cancel (tractor's cancel_on_completion)
 *   -> acknowledged within cancel_timeout, or not -> it exits and the glue
 *   reaps it; if it has not exited kill_grace after the cancel began:
 *   SIGTERM, and kill_grace later SIGKILL.
 *
 * One child failing (an error for its command, an actor-level error, dying
 * before its result, not connecting in time) cancels every sibling of its
 * scope.  A run scope answers its caller only once every child it started
 * has been reaped, with the results, the one error, or a MultiError. */
#include "nursery.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define SIG_TERM 15
#define SIG_KILL 9

struct sc_spec {
    char *name;
    char *ns;
    char *func;
    char *kwargs;
    size_t kwargs_len;
};

struct sc_scope {
    sc_scope_kind kind;
    sc_task *task;          /* RUN: the call it answers; NULL for the actor's own */
    int single;             /* run_in_child: the reply is the value itself */
    int started;            /* the children were spawned */
    int failed;             /* one-cancels-all began */
    unsigned nspecs;
    struct sc_spec specs[SC_SCOPE_MAX_SPECS];
};

static const sc_function fn_run_in_child;
static const sc_function fn_run_in_children;
static const sc_function fn_spawn_start;
static const sc_function fn_spawn_cancel;

/* ---- small helpers -------------------------------------------------------- */

static void child_uid(const sc_child *ch, sc_uid *uid)
{
    uid->name = (sc_str){ ch->name, strlen(ch->name) };
    uid->uuid = (sc_str){ ch->uuid, strlen(ch->uuid) };
}

static void child_repr(const sc_child *ch, char *out, size_t n)
{
    snprintf(out, n, "('%s', '%s')", ch->name, ch->uuid);
}

static const char *state_name(const sc_child *ch)
{
    switch (ch->state) {
    case SC_CHILD_SPAWNING: return "spawning";
    case SC_CHILD_RUNNING: return "running";
    case SC_CHILD_CANCELLING: return "cancelling";
    case SC_CHILD_TERMINATING: return "terminating";
    case SC_CHILD_KILLING: return "killing";
    }
    return "unknown";
}

static void describe_exit(const sc_child *ch, char *out, size_t n)
{
    if (!ch->spawned)
        snprintf(out, n, "never started");
    else if (WIFEXITED(ch->wait_status))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(ch->wait_status));
    else if (WIFSIGNALED(ch->wait_status))
        snprintf(out, n, "killed by signal %d", WTERMSIG(ch->wait_status));
    else
        snprintf(out, n, "ended with wait status %#x", (unsigned)ch->wait_status);
}

/* Names go on a command line inside a Python repr: keep them plain. */
static int valid_name(sc_str s)
{
    if (s.len == 0 || s.len > SC_CHILD_NAME_MAX)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static char *encode_obj(const msgpack_object *o, size_t *len)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    if (msgpack_pack_object(&pk, *o) != 0) {
        sc_buf_free(&b);
        return NULL;
    }
    *len = sc_buf_size(&b);
    return b.data;
}

static char *dup_str(sc_str s)
{
    return sc_strndup(s.ptr ? s.ptr : "", s.len);
}

/* A child's error text goes into reports as a C string: one with a NUL
 * byte is refused in so many words rather than cut short (LIM-26). */
static char *dup_text(sc_str s, const char *what)
{
    if (!sc_str_has_nul(s))
        return dup_str(s);
    char text[96];
    snprintf(text, sizeof(text), "(the child's %s held a NUL byte and was refused)", what);
    return sc_strndup(text, strlen(text));
}

static void buf_printf(sc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(sc_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *dst = n > 0 ? sc_buf_reserve(b, (size_t)n + 1, NULL) : NULL;
    if (dst) {
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
    }
    va_end(ap);
}

static sc_child *child_by_id(sc_actor *a, uint32_t id)
{
    for (sc_child *ch = a->children; ch; ch = ch->next)
        if (ch->id == id)
            return ch;
    return NULL;
}

/* The whole tree below this actor is bounded by its max_children: each
 * child takes one unit for itself and the share it may hand further down
 * (SUP-15). */
static unsigned budget_used(const sc_actor *a)
{
    unsigned n = 0;
    for (const sc_child *ch = a->children; ch; ch = ch->next)
        n += ch->done ? 0 : 1 + ch->share;
    return n;
}

unsigned sc_nursery_live(const sc_actor *a)
{
    unsigned n = 0;
    for (const sc_child *ch = a->children; ch; ch = ch->next)
        n += !ch->done;
    return n;
}

static unsigned scope_live(const sc_actor *a, const sc_scope *s)
{
    unsigned n = 0;
    for (const sc_child *ch = a->children; ch; ch = ch->next)
        n += ch->scope == s && !ch->done;
    return n;
}

static void child_timer(sc_actor *a, sc_child *ch, double deadline)
{
    if (ch->timer >= 0)
        sc_timer_remove(a, ch->timer);
    if (deadline >= 0 && sc_timer_add_child(a, deadline, ch) != SC_OK)
        sc_log(a, SC_LOG_CRITICAL, "out of memory arming a child's timer");
}

static void send_signal(sc_actor *a, sc_child *ch, int signo)
{
    if (ch->exited)
        return;
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    sc_log(a, signo == SIG_KILL ? SC_LOG_WARNING : SC_LOG_CANCEL, "sending signal %d to child %s (pid %d)",
           signo, uid, ch->pid);
    sc_event *ev = sc_actor_push_event(a, SC_EV_SIGNAL, NULL);
    if (ev) {
        ev->child = ch->id;
        ev->status = signo;
    }
}

/* ---- packing what goes to a child ------------------------------------------- */

static int pack_addr(msgpack_packer *pk, const char *host, uint16_t port)
{
    if (msgpack_pack_array(pk, 2) != 0 || sc_pack_cstr(pk, host) != 0)
        return -1;
    return msgpack_pack_unsigned_short(pk, port);
}

/* The init map, with the keys and types of tractor's (_spawn.py: new_proc),
 * in its order. */
static int pack_init(msgpack_packer *pk, const void *arg)
{
    const sc_actor *a = arg;
    int rc = msgpack_pack_map(pk, 6);
    rc = rc ? rc : sc_pack_cstr(pk, "_parent_main_data");
    rc = rc ? rc : msgpack_pack_map(pk, 0);
    rc = rc ? rc : sc_pack_cstr(pk, "enable_modules");
    rc = rc ? rc : msgpack_pack_map(pk, 1);
    rc = rc ? rc : sc_pack_cstr(pk, "scwire_service");
    rc = rc ? rc : sc_pack_cstr(pk, a->exe_path);
    rc = rc ? rc : sc_pack_cstr(pk, "_arb_addr");
    if (a->registry_host && a->cfg.registry_port)
        rc = rc ? rc : pack_addr(pk, a->registry_host, a->cfg.registry_port);
    else if (a->cfg.registry_role)
        rc = rc ? rc : pack_addr(pk, a->listen_host, a->cfg.listen_port);
    else
        rc = rc ? rc : msgpack_pack_nil(pk);
    rc = rc ? rc : sc_pack_cstr(pk, "bind_host");
    rc = rc ? rc : sc_pack_cstr(pk, a->listen_host);
    rc = rc ? rc : sc_pack_cstr(pk, "bind_port");
    rc = rc ? rc : msgpack_pack_unsigned_short(pk, 0);
    rc = rc ? rc : sc_pack_cstr(pk, "_runtime_vars");
    rc = rc ? rc : msgpack_pack_map(pk, 3);
    rc = rc ? rc : sc_pack_cstr(pk, "_debug_mode");
    rc = rc ? rc : msgpack_pack_false(pk);
    rc = rc ? rc : sc_pack_cstr(pk, "_is_root");
    rc = rc ? rc : msgpack_pack_false(pk);
    rc = rc ? rc : sc_pack_cstr(pk, "_root_mailbox");
    /* The root's address travels down the whole tree. */
    if (!a->cfg.parent_host)
        rc = rc ? rc : pack_addr(pk, a->listen_host, a->cfg.listen_port);
    else if (a->root_host)
        rc = rc ? rc : pack_addr(pk, a->root_host, a->root_port);
    else
        rc = rc ? rc : (msgpack_pack_array(pk, 2) || msgpack_pack_nil(pk) || msgpack_pack_nil(pk));
    return rc ? -1 : 0;
}

typedef struct cmd_arg {
    const sc_actor *a;
    const char *ns;
    const char *func;
    const char *kwargs;     /* encoded map, NULL for {} */
    size_t kwargs_len;
    const char *cid;
} cmd_arg;

static int pack_cmd(msgpack_packer *pk, const void *arg)
{
    const cmd_arg *x = arg;
    int rc = sc_pack_cmd_begin(pk, (sc_str){ x->ns, strlen(x->ns) }, (sc_str){ x->func, strlen(x->func) });
    if (rc == 0)
        rc = x->kwargs ? sc_buf_msgpack_write(pk->data, x->kwargs, x->kwargs_len) : msgpack_pack_map(pk, 0);
    if (rc == 0)
        rc = sc_pack_cmd_end(pk, &x->a->uid, (sc_str){ x->cid, strlen(x->cid) });
    return rc;
}

static int send_call(sc_actor *a, sc_child *ch, sc_call *call, const char *ns, const char *func,
                     const char *kwargs, size_t kwargs_len)
{
    sc_uuid4(a, call->cid);
    cmd_arg x = { a, ns, func, kwargs, kwargs_len, call->cid };
    int rc = sc_conn_send_packed(a, ch->conn, pack_cmd, &x);
    if (rc == SC_OK)
        call->state = 1;
    return rc;
}

/* ---- outcomes ---------------------------------------------------------------- */

static void begin_cancel(sc_actor *a, sc_child *ch);

static int send_error_tb(sc_actor *a, sc_task *t, const char *type_str, const char *tb, size_t tb_len)
{
    sc_conn *c = t->conn;
    if (t->dead || c->closing)
        return SC_ESTATE;
    sc_err err;
    int rc = sc_chan_send_error(&c->chan, t->ctx.cid, (sc_str){ type_str, strlen(type_str) },
                                (sc_str){ tb, tb_len }, &err);
    if (rc == SC_ELIMIT)
        return sc_task_send_error(a, t, type_str, type_str, "the report of the children is larger "
                                                              "than the message limit");
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    sc_conn_sent(a, c);
    return SC_OK;
}

/* spawn_start is waiting: the child will not be up, tell it why. */
static void starter_fails(sc_actor *a, sc_child *ch, const char *type_str, const char *tb)
{
    sc_task *t = ch->starter;
    if (!t)
        return;
    ch->starter = NULL;
    t->sup = NULL;
    sc_task_hold(t);
    send_error_tb(a, t, type_str, tb, strlen(tb));
    sc_task_finish(a, t);
    sc_task_release(t);
}

static void one_cancels_all(sc_actor *a, sc_scope *s)
{
    if (s->failed)
        return;
    s->failed = 1;
    sc_log(a, SC_LOG_CANCEL, "a child failed: cancelling every child of its scope");
    for (sc_child *ch = a->children; ch; ch = ch->next)
        if (ch->scope == s)
            begin_cancel(a, ch);
}

/* The child failed; the first outcome of a child stands. */
static void fail(sc_actor *a, sc_child *ch, const char *type_str, const char *tb)
{
    if (ch->outcome != SC_OUT_NONE)
        return;
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    sc_log(a, SC_LOG_ERROR, "child %s failed: %s", uid, type_str);
    ch->outcome = SC_OUT_FAILED;
    size_t n = strlen(tb);
    ch->err_type = sc_strndup(type_str, strlen(type_str));
    ch->err_tb = sc_strndup(tb, n > SC_CHILD_TB_MAX ? SC_CHILD_TB_MAX : n);
    sc_scope *s = ch->scope;
    if (s && s->kind == SC_SCOPE_RUN) {
        one_cancels_all(a, s);
    } else {
        starter_fails(a, ch, type_str, tb);
        begin_cancel(a, ch);
    }
}

static void fail_text(sc_actor *a, sc_child *ch, const char *type_str, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_text(sc_actor *a, sc_child *ch, const char *type_str, const char *fmt, ...)
{
    char msg[600], tb[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(tb, sizeof(tb), "Traceback (most recent call last):\n  File \"scwire-ref\", in nursery\n%s: %s\n",
             type_str, msg);
    fail(a, ch, type_str, tb);
}

/* ---- cancellation and hard kill ---------------------------------------------- */

static double term_deadline(const sc_actor *a, const sc_child *ch)
{
    double grace = a->cfg.kill_grace > a->cfg.cancel_timeout ? a->cfg.kill_grace : a->cfg.cancel_timeout;
    return ch->cancel_t0 + grace;
}

/* While cancelling: wake for the end of the acknowledgement wait, then for
 * the end of the whole cancellation (SUP-8, SUP-9). */
static void arm_cancelling(sc_actor *a, sc_child *ch)
{
    double at = term_deadline(a, ch);
    if (ch->cancel.state && !ch->acked && !ch->ack_late && ch->cancel_sent + a->cfg.cancel_timeout < at)
        at = ch->cancel_sent + a->cfg.cancel_timeout;
    child_timer(a, ch, at);
}

static void send_cancel(sc_actor *a, sc_child *ch)
{
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    sc_log(a, SC_LOG_CANCEL, "cancelling child %s with self.cancel", uid);
    ch->cancel_sent = a->now;
    send_call(a, ch, &ch->cancel, "self", "cancel", NULL, 0);
}

static void begin_cancel(sc_actor *a, sc_child *ch)
{
    if (ch->exited || ch->cancelled)
        return;
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    ch->cancelled = 1;
    ch->cancel_t0 = a->now;
    sc_child_state was = ch->state;
    ch->state = SC_CHILD_CANCELLING;
    if (ch->conn && !ch->conn->closing && was == SC_CHILD_RUNNING) {
        send_cancel(a, ch);
    } else if (was == SC_CHILD_SPAWNING) {
        /* As tractor's ActorNursery.cancel: wait for it to connect, then
         * cancel it (sc_nursery_claim), bounded like any cancellation. */
        sc_log(a, SC_LOG_CANCEL, "child %s is not connected yet: cancelling it once it is", uid);
    } else {
        /* Its channel is gone: it is most likely on its way out. */
        sc_log(a, SC_LOG_CANCEL, "child %s has no channel any more: waiting for it to exit", uid);
        ch->ack_late = 1;
    }
    arm_cancelling(a, ch);
}

static void child_reaped(sc_actor *a, sc_child *ch);

void sc_nursery_timeout(sc_actor *a, sc_child *ch)
{
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    if (ch->draining) {
        /* Its process is gone and its channel still has not ended. */
        if (ch->conn)
            sc_conn_close(a, ch->conn, SC_LOG_WARNING, "the child exited; its channel did not end "
                                                       "within the drain time");
        if (!ch->done) {
            ch->draining = 0;
            child_reaped(a, ch);
        }
        return;
    }
    switch (ch->state) {
    case SC_CHILD_SPAWNING:
        fail_text(a, ch, "TimeoutError", "%s did not connect back within %g s", uid,
                  a->cfg.limits.handshake_timeout);
        begin_cancel(a, ch);
        return;
    case SC_CHILD_RUNNING:
        return;
    case SC_CHILD_CANCELLING:
        if (ch->cancel.state && !ch->acked && !ch->ack_late &&
            a->now >= ch->cancel_sent + a->cfg.cancel_timeout) {
            ch->ack_late = 1;
            sc_log(a, SC_LOG_WARNING, "May have failed to cancel %s: no acknowledgement within %g s",
                   uid, a->cfg.cancel_timeout);
        }
        if (a->now < term_deadline(a, ch)) {
            arm_cancelling(a, ch);
            return;
        }
        sc_log(a, SC_LOG_WARNING, "Failed to cancel %s within %g s: terminating it", uid,
               term_deadline(a, ch) - ch->cancel_t0);
        ch->sigterm = 1;
        ch->state = SC_CHILD_TERMINATING;
        send_signal(a, ch, SIG_TERM);
        child_timer(a, ch, a->now + a->cfg.kill_grace);
        return;
    case SC_CHILD_TERMINATING:
        sc_log(a, SC_LOG_WARNING, "#ZOMBIE_LORD_IS_HERE: %s outlived SIGTERM by %g s: killing it", uid,
               a->cfg.kill_grace);
        ch->sigkill = 1;
        ch->state = SC_CHILD_KILLING;
        send_signal(a, ch, SIG_KILL);
        return;
    case SC_CHILD_KILLING:
        return;
    }
}

/* ---- the child's channel -------------------------------------------------------- */

static void take_claim(sc_actor *a, sc_conn *c, sc_child *ch);

/* A uid is the only credential of the protocol, and a spawning child's uid
 * shows on its command line to anyone on the host: so one claim per child,
 * and, where the glue can check it, only from the child's own process. */
void sc_nursery_claim(sc_actor *a, sc_conn *c)
{
    sc_child *ch = a->children;
    for (; ch; ch = ch->next) {
        if (ch->exited || ch->connected || ch->claiming ||
            (ch->state != SC_CHILD_SPAWNING && ch->state != SC_CHILD_CANCELLING))
            continue;
        sc_uid uid;
        child_uid(ch, &uid);
        if (sc_str_eq(uid.name, c->chan.peer.name) && sc_str_eq(uid.uuid, c->chan.peer.uuid))
            break;
    }
    if (!ch)
        return;
    if (!a->cfg.verify_children || ch->pid <= 0) {
        take_claim(a, c, ch);
        return;
    }
    sc_event *ev = sc_actor_push_event(a, SC_EV_VERIFY_CHILD, c);
    if (!ev) {
        take_claim(a, c, ch);
        return;
    }
    ev->status = ch->pid;
    ev->child = ch->id;
    ch->claiming = c;
    c->held = 1;
}

void sc_actor_child_verified(sc_actor *a, sc_conn_id id, int verdict, double now)
{
    a->now = now;
    sc_conn *c = id < a->nconns_slots ? a->conns[id] : NULL;
    sc_child *ch = a->children;
    while (ch && (!c || ch->claiming != c))
        ch = ch->next;
    if (ch) {
        ch->claiming = NULL;
        c->held = 0;
        if (verdict != 0 && !ch->exited) {
            take_claim(a, c, ch);
        } else {
            char uid[160];
            child_repr(ch, uid, sizeof(uid));
            sc_log(a, SC_LOG_WARNING,
                   "connection %u (%s) claims the uid of child %s but is not its process %d: "
                   "served as an ordinary peer",
                   c->id, c->peer, uid, ch->pid);
        }
        sc_conn_resume(a, c);
    }
    sc_actor_settle(a);
}

void sc_nursery_claim_lost(sc_actor *a, sc_conn *c)
{
    for (sc_child *ch = a->children; ch; ch = ch->next)
        if (ch->claiming == c)
            ch->claiming = NULL;
}

/* The channel becomes the child's: the init map and its commands go out. */
static void take_claim(sc_actor *a, sc_conn *c, sc_child *ch)
{
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    sc_log(a, SC_LOG_RUNTIME, "child %s connected back on connection %u", uid, c->id);
    c->role = SC_ROLE_CHILD;
    c->child = ch;
    ch->conn = c;
    ch->connected = 1;
    /* The init map is the second message, and the commands follow at once:
     * they wait unread until the child serves (SUP-5). */
    if (sc_conn_send_packed(a, c, pack_init, a) != SC_OK)
        return;
    if (!ch->cancelled) {
        ch->state = SC_CHILD_RUNNING;
        child_timer(a, ch, -1);
    }
    if (ch->starter && send_call(a, ch, &ch->info, "scwire_service", "spawn_info", NULL, 0) != SC_OK)
        return;
    if (ch->ns && send_call(a, ch, &ch->run, ch->ns, ch->func, ch->kwargs, ch->kwargs_len) != SC_OK)
        return;
    if (ch->cancelled) {
        /* Cancelled while it was starting: as in tractor, its command went
         * out with the init map, and self.cancel follows. */
        send_cancel(a, ch);
        arm_cancelling(a, ch);
    }
}

/* spawn_info answered: hand the child over to its caller with its address. */
static void take_info(sc_actor *a, sc_child *ch, const msgpack_object *v)
{
    const msgpack_object *sa = v ? sc_map_get(v, "sockaddr") : NULL;
    sc_str host;
    if (!sa || sa->type != MSGPACK_OBJECT_ARRAY || sa->via.array.size != 2 ||
        !sc_obj_str(&sa->via.array.ptr[0], &host) || host.len == 0 ||
        sa->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        sa->via.array.ptr[1].via.u64 > 65535) {
        fail_text(a, ch, "TypeError", "spawn_info() of the child gave no [host, port] sockaddr");
        return;
    }
    sc_task *t = ch->starter;
    if (!t)
        return;
    size_t len;
    char *enc = encode_obj(sa, &len);
    ch->starter = NULL;
    t->sup = NULL;
    sc_task_hold(t);
    if (enc)
        sc_task_send_raw(a, t, SC_MSG_RETURN, enc, len);
    else
        sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory");
    sc_free(enc);
    sc_task_finish(a, t);
    sc_task_release(t);
}

int sc_nursery_child_msg(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    sc_child *ch = c->child;
    if (!ch)
        return 0;
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    if (m->kind == SC_MSG_ACTOR_ERROR) {
        /* Its internal failure (SUP-10). */
        char *tb = dup_text(m->tb_str, "tb_str");
        char *type = sc_str_has_nul(m->type_str) ? NULL : dup_str(m->type_str);
        sc_log(a, SC_LOG_ERROR, "child %s reports an actor-level failure: %s", uid, type ? type : "?");
        fail(a, ch, type && *type ? type : "RemoteActorError", tb ? tb : "");
        sc_free(tb);
        sc_free(type);
        return 1;
    }
    sc_call *call = NULL;
    sc_call *calls[] = { &ch->run, &ch->info, &ch->cancel };
    for (size_t i = 0; i < 3 && !call; i++)
        if ((calls[i]->state == 1 || calls[i]->state == 2) && sc_str_eq_c(m->cid, calls[i]->cid))
            call = calls[i];
    if (!call)
        return 0;
    switch (m->kind) {
    case SC_MSG_FUNCTYPE:
        if (call->state == 1)
            call->state = 2;
        if (call == &ch->run && m->functype != SC_FT_ASYNCFUNC) {
            call->state = 3;
            fail_text(a, ch, "TypeError", "run_in_child() runs async functions, and %s.%s is an %s",
                      ch->ns, ch->func, sc_functype_name(m->functype));
            begin_cancel(a, ch);
        }
        return 1;
    case SC_MSG_RETURN:
        call->state = 3;
        if (call == &ch->run) {
            if (ch->outcome == SC_OUT_NONE) {
                ch->value = encode_obj(m->value, &ch->value_len);
                if (ch->value) {
                    ch->outcome = SC_OUT_RETURNED;
                    sc_log(a, SC_LOG_RUNTIME, "child %s returned", uid);
                } else {
                    fail_text(a, ch, "MemoryError", "out of memory keeping the result of %s", uid);
                }
            }
            /* As tractor's cancel_on_completion: the result is in, the child goes. */
            begin_cancel(a, ch);
        } else if (call == &ch->info) {
            take_info(a, ch, m->value);
        } else {
            ch->acked = 1;
            sc_log(a, SC_LOG_CANCEL, "child %s acknowledged self.cancel", uid);
        }
        return 1;
    case SC_MSG_ERROR: {
        call->state = 3;
        if (call == &ch->cancel) {
            sc_log(a, SC_LOG_WARNING, "child %s answered self.cancel with %.*s", uid,
                   (int)m->type_str.len, m->type_str.ptr);
            return 1;
        }
        char *tb = dup_text(m->tb_str, "tb_str");
        char *type = sc_str_has_nul(m->type_str) ? NULL : dup_str(m->type_str);
        fail(a, ch, type && *type ? type : "RemoteActorError", tb ? tb : "");
        sc_free(tb);
        sc_free(type);
        begin_cancel(a, ch);
        return 1;
    }
    default:
        sc_log(a, SC_LOG_WARNING, "dropping %s from child %s for our request %s",
               sc_msg_kind_name(m->kind), uid, call->cid);
        return 1;
    }
}

void sc_nursery_conn_lost(sc_actor *a, sc_conn *c)
{
    sc_child *ch = c->child;
    c->child = NULL;
    if (!ch)
        return;
    ch->conn = NULL;
    if (ch->exited) {
        /* Drained: now it is final. */
        if (ch->draining) {
            ch->draining = 0;
            child_reaped(a, ch);
        }
        return;
    }
    if (!ch->cancelled) {
        /* Gone before we cancelled it: it failed, and how we learn when it
         * has been reaped (sc_actor_child_exited). */
        if (ch->outcome == SC_OUT_NONE)
            ch->channel_lost = 1;
        begin_cancel(a, ch);
    }
}

/* ---- the glue's reports ------------------------------------------------------------ */

/* The child is gone for good: answer whoever waits for that. */
static void child_reaped(sc_actor *a, sc_child *ch)
{
    ch->done = 1;
    child_timer(a, ch, -1);
    char uid[160], how[96];
    child_repr(ch, uid, sizeof(uid));
    describe_exit(ch, how, sizeof(how));
    if (ch->outcome == SC_OUT_NONE && (ch->channel_lost || !ch->cancelled))
        fail_text(a, ch, "ActorDied", "%s died%s: %s", uid, ch->ns ? " before returning" : "", how);
    else
        sc_log(a, SC_LOG_RUNTIME, "child %s %s", uid, how);
    if (ch->starter) {
        char tb[400];
        snprintf(tb, sizeof(tb), "Traceback (most recent call last):\n  File \"scwire-ref\", in "
                                 "nursery\nActorDied: %s ended before it was up: %s\n", uid, how);
        starter_fails(a, ch, "ActorDied", tb);
    }
    if (ch->canceller) {
        sc_task *t = ch->canceller;
        ch->canceller = NULL;
        t->sup = NULL;
        static const char yes = (char)0xc3, no = (char)0xc2;
        sc_task_hold(t);
        sc_task_send_raw(a, t, SC_MSG_RETURN, ch->acked ? &yes : &no, 1);
        sc_task_finish(a, t);
        sc_task_release(t);
    }
    /* Last: the scope's answer may end its task, which detaches ch. */
    sc_scope *s = ch->scope;
    if (s && s->kind == SC_SCOPE_RUN && s->task && scope_live(a, s) == 0)
        sc_task_step(a, s->task);
}

void sc_actor_child_spawned(sc_actor *a, uint32_t id, int pid, double now)
{
    a->now = now;
    sc_child *ch = child_by_id(a, id);
    if (ch && !ch->exited) {
        ch->pid = pid;
        ch->spawned = 1;
        sc_log(a, SC_LOG_RUNTIME, "child %s runs as pid %d", ch->name, pid);
    }
    sc_actor_settle(a);
}

void sc_actor_child_spawn_failed(sc_actor *a, uint32_t id, const char *why, double now)
{
    a->now = now;
    sc_child *ch = child_by_id(a, id);
    if (ch && !ch->exited) {
        char uid[160];
        child_repr(ch, uid, sizeof(uid));
        ch->exited = 1;
        fail_text(a, ch, "OSError", "cannot start a process for %s: %s", uid, why);
        child_reaped(a, ch);
    }
    sc_actor_settle(a);
}

void sc_actor_child_exited(sc_actor *a, uint32_t id, int wait_status, double now)
{
    a->now = now;
    sc_child *ch = child_by_id(a, id);
    if (ch && !ch->exited) {
        ch->exited = 1;
        ch->spawned = 1;
        ch->wait_status = wait_status;
        if (ch->conn && !ch->conn->closing) {
            /* Replies still in transit (the acknowledgement of self.cancel
             * often is) come before the end of the channel: wait for it. */
            ch->draining = 1;
            child_timer(a, ch, now + SC_CHILD_DRAIN);
        } else {
            child_reaped(a, ch);
        }
    }
    sc_actor_settle(a);
}

/* ---- children: creation and end ---------------------------------------------------- */

static void child_free(sc_actor *a, sc_child *ch)
{
    if (ch->timer >= 0)
        sc_timer_remove(a, ch->timer);
    if (ch->conn)
        ch->conn->child = NULL;
    sc_free(ch->ns);
    sc_free(ch->func);
    sc_free(ch->kwargs);
    sc_free(ch->value);
    sc_free(ch->err_type);
    sc_free(ch->err_tb);
    sc_free(ch);
}

static int room_for(sc_actor *a, unsigned n, sc_err *err)
{
    if (a->cfg.max_children == 0)
        return sc_err_set(err, SC_ESTATE, "this actor does not spawn children (its process "
                                          "budget, --max-children, is 0)");
    if (a->shutting_down)
        return sc_err_set(err, SC_ESTATE, "the actor is shutting down");
    unsigned used = budget_used(a);
    if (used + n > a->cfg.max_children)
        return sc_err_set(err, SC_ELIMIT,
                          "%u more children would pass the process budget of %u (%u taken by the "
                          "children running and their own shares)",
                          n, a->cfg.max_children, used);
    return SC_OK;
}

/* What a new child may start below it: --child-budget, but never so much
 * that `siblings` children still to come in the same call find no room. */
static unsigned share_for(const sc_actor *a, unsigned siblings)
{
    unsigned used = budget_used(a);
    unsigned left = a->cfg.max_children > used + 1 + siblings
                        ? a->cfg.max_children - used - 1 - siblings : 0;
    return a->cfg.child_budget < left ? a->cfg.child_budget : left;
}

/* Start a child in scope s; it takes ns, func and kwargs (may be NULL).
 * NULL when out of memory (the strings are freed then). */
static sc_child *spawn(sc_actor *a, sc_scope *s, unsigned index, unsigned siblings, sc_str name,
                       char *ns, char *func, char *kwargs, size_t kwargs_len)
{
    unsigned share = share_for(a, siblings);
    sc_child *ch = sc_calloc(1, sizeof(*ch));
    if (!ch) {
        sc_free(ns);
        sc_free(func);
        sc_free(kwargs);
        return NULL;
    }
    ch->id = ++a->next_child_id;
    ch->share = share;
    ch->scope = s;
    ch->index = index;
    ch->timer = -1;
    memcpy(ch->name, name.ptr, name.len);
    ch->name[name.len] = '\0';
    sc_uuid4(a, ch->uuid);
    ch->ns = ns;
    ch->func = func;
    ch->kwargs = kwargs;
    ch->kwargs_len = kwargs_len;
    sc_child **tail = &a->children;
    while (*tail)
        tail = &(*tail)->next;
    *tail = ch;
    char uid[160];
    child_repr(ch, uid, sizeof(uid));
    sc_log(a, SC_LOG_RUNTIME, "spawning child %s", uid);
    sc_event *ev = sc_actor_push_event(a, SC_EV_SPAWN, NULL);
    if (!ev) {
        ch->exited = 1;
        ch->done = 1;
        fail_text(a, ch, "MemoryError", "out of memory asking for a process for %s", uid);
        return ch;
    }
    ev->child = ch->id;
    ev->status = (int)ch->share;
    snprintf(ev->name, sizeof(ev->name), "%s", ch->name);
    snprintf(ev->uuid, sizeof(ev->uuid), "%s", ch->uuid);
    snprintf(ev->host, sizeof(ev->host), "%s", a->listen_host);
    ev->port = a->cfg.listen_port;
    /* tractor waits for the child forever; a bound is kinder. */
    child_timer(a, ch, a->now + a->cfg.limits.handshake_timeout);
    return ch;
}

void sc_nursery_sweep(sc_actor *a)
{
    sc_child **p = &a->children;
    while (*p) {
        sc_child *ch = *p;
        int owned = ch->scope && ch->scope->kind == SC_SCOPE_RUN;
        if (ch->done && !owned && !ch->starter && !ch->canceller) {
            *p = ch->next;
            child_free(a, ch);
        } else {
            p = &ch->next;
        }
    }
}

static void scope_free(sc_scope *s)
{
    for (unsigned i = 0; i < s->nspecs; i++) {
        sc_free(s->specs[i].name);
        sc_free(s->specs[i].ns);
        sc_free(s->specs[i].func);
        sc_free(s->specs[i].kwargs);
    }
    sc_free(s);
}

void sc_nursery_task_gone(sc_actor *a, sc_task *t)
{
    void *sup = t->sup;
    t->sup = NULL;
    if (t->fn == &fn_run_in_child || t->fn == &fn_run_in_children) {
        /* The call ended (answered, cancelled, or its channel went): its
         * children go too, and are reaped on their own. */
        sc_scope *s = sup;
        s->task = NULL;
        for (sc_child *ch = a->children; ch; ch = ch->next) {
            if (ch->scope != s)
                continue;
            ch->scope = NULL;
            begin_cancel(a, ch);
        }
        scope_free(s);
    } else if (t->fn == &fn_spawn_start) {
        sc_child *ch = sup;
        ch->starter = NULL;
        begin_cancel(a, ch); /* never handed over */
    } else if (t->fn == &fn_spawn_cancel) {
        sc_child *ch = sup;
        ch->canceller = NULL;
    }
}

void sc_nursery_shutdown(sc_actor *a)
{
    for (sc_child *ch = a->children; ch; ch = ch->next)
        begin_cancel(a, ch);
}

void sc_nursery_free_all(sc_actor *a)
{
    /* Tasks outlive this (the connections go after it): cut their links. */
    for (size_t i = 0; i < a->nconns_slots; i++) {
        sc_conn *c = a->conns[i];
        if (!c)
            continue;
        c->child = NULL;
        for (sc_task *t = c->tasks; t; t = t->conn_next) {
            if (t->sup && (t->fn == &fn_run_in_child || t->fn == &fn_run_in_children)) {
                sc_scope *s = t->sup;
                for (sc_child *ch = a->children; ch; ch = ch->next)
                    if (ch->scope == s)
                        ch->scope = NULL;
                scope_free(s);
            }
            t->sup = NULL;
        }
    }
    while (a->children) {
        sc_child *ch = a->children;
        a->children = ch->next;
        ch->conn = NULL;
        child_free(a, ch);
    }
    if (a->daemons)
        scope_free(a->daemons);
    a->daemons = NULL;
}

/* ---- the report of a run scope ------------------------------------------------------- */

static void summary_line(sc_buf *b, const sc_child *ch)
{
    char uid[160], how[96];
    child_repr(ch, uid, sizeof(uid));
    describe_exit(ch, how, sizeof(how));
    buf_printf(b, "  %s: ", uid);
    if (ch->outcome == SC_OUT_RETURNED)
        buf_printf(b, "returned");
    else if (ch->outcome == SC_OUT_FAILED)
        buf_printf(b, "failed with %s", ch->err_type ? ch->err_type : "?");
    else
        buf_printf(b, "cancelled");
    if (ch->acked)
        buf_printf(b, "; self.cancel acknowledged");
    else if (ch->cancel.state)
        buf_printf(b, "; self.cancel not acknowledged");
    if (ch->sigterm)
        buf_printf(b, "; terminated (SIGTERM)");
    if (ch->sigkill)
        buf_printf(b, "; killed (SIGKILL)");
    buf_printf(b, "; %s\n", how);
}

static void reply_failure(sc_actor *a, sc_task *t, sc_scope *s)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    buf_printf(&b, "Traceback (most recent call last):\n  File \"scwire-ref\", in scwire_service.%s\n",
               t->fn->name);
    buf_printf(&b, "supervision:\n");
    unsigned nfailed = 0;
    const sc_child *first = NULL;
    for (const sc_child *ch = a->children; ch; ch = ch->next) {
        if (ch->scope != s)
            continue;
        summary_line(&b, ch);
        if (ch->outcome == SC_OUT_FAILED) {
            nfailed++;
            if (!first)
                first = ch;
        }
    }
    for (const sc_child *ch = a->children; ch; ch = ch->next) {
        if (ch->scope != s || ch->outcome != SC_OUT_FAILED)
            continue;
        char uid[160];
        child_repr(ch, uid, sizeof(uid));
        const char *tb = ch->err_tb ? ch->err_tb : "";
        size_t n = strlen(tb);
        buf_printf(&b, "%s reported:\n%s%s", uid, tb, n && tb[n - 1] == '\n' ? "" : "\n");
    }
    const char *type = "MultiError";
    if (nfailed == 0) {
        /* Cannot happen while the scope lives: a child is only cancelled
         * without a result when a sibling failed. */
        type = "RuntimeError";
        buf_printf(&b, "RuntimeError: the children ended without their results\n");
    } else if (nfailed == 1) {
        type = first->err_type ? first->err_type : "RemoteActorError";
    } else {
        buf_printf(&b, "trio.MultiError: %u children failed:", nfailed);
        const char *sep = " ";
        for (const sc_child *ch = a->children; ch; ch = ch->next) {
            if (ch->scope != s || ch->outcome != SC_OUT_FAILED)
                continue;
            char uid[160];
            child_repr(ch, uid, sizeof(uid));
            buf_printf(&b, "%s%s from %s", sep, ch->err_type ? ch->err_type : "?", uid);
            sep = ", ";
        }
        buf_printf(&b, "\n");
    }
    if (b.data)
        send_error_tb(a, t, type, sc_buf_head(&b), sc_buf_size(&b));
    else
        sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory building the report");
    sc_buf_free(&b);
}

typedef struct results_arg {
    const sc_actor *a;
    const sc_scope *s;
} results_arg;

static int pack_results(msgpack_packer *pk, const void *arg)
{
    const results_arg *x = arg;
    if (sc_pack_value_begin(pk, SC_MSG_RETURN) != 0 || msgpack_pack_array(pk, x->s->nspecs) != 0)
        return -1;
    for (unsigned i = 0; i < x->s->nspecs; i++) {
        const sc_child *ch = x->a->children;
        while (ch && !(ch->scope == x->s && ch->index == i))
            ch = ch->next;
        if (!ch || sc_buf_msgpack_write(pk->data, ch->value, ch->value_len) != 0)
            return -1;
    }
    return 0;
}

typedef struct results_msg {
    results_arg r;
    sc_str cid;
} results_msg;

static int pack_results_msg(msgpack_packer *pk, const void *arg)
{
    const results_msg *x = arg;
    if (pack_results(pk, &x->r) != 0)
        return -1;
    return sc_pack_value_end(pk, x->cid);
}

static void reply_results(sc_actor *a, sc_task *t, sc_scope *s)
{
    if (s->single) {
        const sc_child *ch = a->children;
        while (ch && ch->scope != s)
            ch = ch->next;
        if (ch)
            sc_task_send_raw(a, t, SC_MSG_RETURN, ch->value, ch->value_len);
        return;
    }
    if (t->dead || t->conn->closing)
        return;
    results_msg x = { { a, s }, t->ctx.cid };
    sc_err err;
    msgpack_packer *pk = sc_chan_begin(&t->conn->chan, &err);
    if (!pk) {
        sc_conn_send_failed(a, t->conn, err.code, &err);
        return;
    }
    int rc = sc_chan_end(&t->conn->chan, pack_results_msg(pk, &x), &err);
    if (rc == SC_ELIMIT) {
        sc_task_send_error(a, t, "TypeError", "TypeError", "%s", err.msg);
        return;
    }
    if (rc != SC_OK) {
        sc_conn_send_failed(a, t->conn, rc, &err);
        return;
    }
    sc_conn_sent(a, t->conn);
}

/* ---- the scwire_service functions ------------------------------------------------------- */

static int spec_from(const sc_function *fn, struct sc_spec *sp, const msgpack_object *name,
                     const msgpack_object *ns, const msgpack_object *func, const msgpack_object *kw,
                     sc_err *err)
{
    sc_str n, s, f;
    if (!sc_obj_str(name, &n) || !sc_obj_str(ns, &s) || !sc_obj_str(func, &f))
        return sc_err_set(err, SC_EARG, "%s() takes name, ns and func as str", fn->name);
    if (sc_str_has_nul(s) || sc_str_has_nul(f))
        return sc_err_set(err, SC_EARG, "%s() arguments 'ns' and 'func' may not hold a NUL byte",
                          fn->name);
    if (kw->type != MSGPACK_OBJECT_MAP)
        return sc_err_set(err, SC_EARG, "%s() argument 'kwargs' must be a map, not %s", fn->name,
                          sc_obj_type_name(kw));
    for (uint32_t i = 0; i < kw->via.map.size; i++)
        if (kw->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return sc_err_set(err, SC_EARG, "%s() argument 'kwargs' must have str keys", fn->name);
    sp->name = dup_str(n);
    sp->ns = dup_str(s);
    sp->func = dup_str(f);
    sp->kwargs = encode_obj(kw, &sp->kwargs_len);
    if (!sp->name || !sp->ns || !sp->func || !sp->kwargs)
        return sc_err_set(err, SC_ENOMEM, "out of memory");
    return SC_OK;
}

static int new_scope(sc_task *t, int single, sc_err *err)
{
    sc_scope *s = sc_calloc(1, sizeof(*s));
    if (!s)
        return sc_err_set(err, SC_ENOMEM, "out of memory");
    s->kind = SC_SCOPE_RUN;
    s->task = t;
    s->single = single;
    t->sup = s;
    return SC_OK;
}

static int start_run_in_child(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "name", "ns", "func", "kwargs", NULL };
    const msgpack_object *name, *ns, *func, *kwargs;
    (void)a;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg(t->fn, kw, "name", &name, err) ||
        sc_kwarg(t->fn, kw, "ns", &ns, err) || sc_kwarg(t->fn, kw, "func", &func, err) ||
        sc_kwarg(t->fn, kw, "kwargs", &kwargs, err))
        return SC_EARG;
    if (new_scope(t, 1, err) != SC_OK)
        return SC_ENOMEM;
    sc_scope *s = t->sup;
    s->nspecs = 1;
    return spec_from(t->fn, &s->specs[0], name, ns, func, kwargs, err);
}

static int start_run_in_children(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "specs", NULL };
    const msgpack_object *specs;
    (void)a;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg(t->fn, kw, "specs", &specs, err))
        return SC_EARG;
    if (specs->type != MSGPACK_OBJECT_ARRAY || specs->via.array.size == 0 ||
        specs->via.array.size > SC_SCOPE_MAX_SPECS)
        return sc_err_set(err, SC_EARG, "run_in_children() argument 'specs' must be an array of 1 to "
                                        "%d [name, ns, func, kwargs]", SC_SCOPE_MAX_SPECS);
    if (new_scope(t, 0, err) != SC_OK)
        return SC_ENOMEM;
    sc_scope *s = t->sup;
    for (uint32_t i = 0; i < specs->via.array.size; i++) {
        const msgpack_object *sp = &specs->via.array.ptr[i];
        if (sp->type != MSGPACK_OBJECT_ARRAY || sp->via.array.size != 4)
            return sc_err_set(err, SC_EARG, "run_in_children() argument 'specs' item %u must be "
                                            "[name, ns, func, kwargs]", (unsigned)i);
        s->nspecs = i + 1;
        const msgpack_object *f = sp->via.array.ptr;
        if (spec_from(t->fn, &s->specs[i], &f[0], &f[1], &f[2], &f[3], err) != SC_OK)
            return err->code;
    }
    return SC_OK;
}

static void step_run(sc_actor *a, sc_task *t)
{
    sc_scope *s = t->sup;
    if (!s)
        return;
    if (!s->started) {
        s->started = 1;
        sc_err err;
        for (unsigned i = 0; i < s->nspecs; i++) {
            sc_str name = { s->specs[i].name, strlen(s->specs[i].name) };
            if (!valid_name(name)) {
                sc_task_send_error(a, t, "ValueError", "ValueError",
                                   "a child's name must be 1 to %d characters of A-Z a-z 0-9 _ . -",
                                   SC_CHILD_NAME_MAX);
                sc_task_finish(a, t);
                return;
            }
        }
        if (room_for(a, s->nspecs, &err) != SC_OK) {
            sc_task_send_error(a, t, "RuntimeError", "RuntimeError", "%s", err.msg);
            sc_task_finish(a, t);
            return;
        }
        for (unsigned i = 0; i < s->nspecs && !s->failed; i++) {
            struct sc_spec *sp = &s->specs[i];
            sc_str name = { sp->name, strlen(sp->name) };
            sc_child *ch = spawn(a, s, i, s->nspecs - 1 - i, name, sp->ns, sp->func, sp->kwargs,
                                 sp->kwargs_len);
            sp->ns = sp->func = sp->kwargs = NULL;
            if (!ch) {
                /* No child to report it: the whole call fails. */
                one_cancels_all(a, s);
                sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory spawning");
                sc_task_finish(a, t);
                return;
            }
        }
    }
    if (scope_live(a, s) > 0)
        return;
    unsigned returned = 0;
    for (const sc_child *ch = a->children; ch; ch = ch->next)
        returned += ch->scope == s && ch->outcome == SC_OUT_RETURNED;
    if (returned < s->nspecs)
        reply_failure(a, t, s);
    else
        reply_results(a, t, s);
    sc_task_finish(a, t);
}

static int start_name(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "name", NULL };
    sc_str name;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_str(t->fn, kw, "name", &name, err))
        return SC_EARG;
    return sc_task_keep_text(a, t, name, err);
}

static sc_child *live_daemon(sc_actor *a, sc_str name)
{
    for (sc_child *ch = a->children; ch; ch = ch->next)
        if (!ch->exited && ch->scope && ch->scope == a->daemons && sc_str_eq_c(name, ch->name))
            return ch;
    return NULL;
}

static void step_spawn_start(sc_actor *a, sc_task *t)
{
    if (t->i)
        return;
    t->i = 1;
    sc_str name = { t->text, t->text_len };
    sc_err err;
    if (!valid_name(name)) {
        sc_task_send_error(a, t, "ValueError", "ValueError",
                           "a child's name must be 1 to %d characters of A-Z a-z 0-9 _ . -",
                           SC_CHILD_NAME_MAX);
    } else if (live_daemon(a, name)) {
        sc_task_send_error(a, t, "ValueError", "ValueError", "a child named '%s' is running already",
                           t->text);
    } else if (room_for(a, 1, &err) != SC_OK) {
        sc_task_send_error(a, t, "RuntimeError", "RuntimeError", "%s", err.msg);
    } else {
        if (!a->daemons) {
            a->daemons = sc_calloc(1, sizeof(*a->daemons));
            if (a->daemons)
                a->daemons->kind = SC_SCOPE_DAEMON;
        }
        sc_child *ch = a->daemons ? spawn(a, a->daemons, 0, 0, name, NULL, NULL, NULL, 0) : NULL;
        if (!ch) {
            sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory spawning");
        } else if (ch->exited) {
            /* spawn failed at once and said why (fail has no starter yet) */
            sc_task_send_error(a, t, ch->err_type ? ch->err_type : "MemoryError", "MemoryError",
                               "the child could not be started");
        } else {
            /* Answered when the child is up (take_info) or gone. */
            ch->starter = t;
            t->sup = ch;
            return;
        }
    }
    sc_task_finish(a, t);
}

static void step_spawn_cancel(sc_actor *a, sc_task *t)
{
    if (t->i)
        return;
    t->i = 1;
    sc_str name = { t->text, t->text_len };
    sc_child *ch = live_daemon(a, name);
    if (!ch) {
        sc_task_send_error(a, t, "KeyError", "KeyError", "'%.*s': no child of spawn_start by that name "
                           "is running", (int)(name.len > 64 ? 64 : name.len), name.ptr);
    } else if (ch->canceller) {
        sc_task_send_error(a, t, "RuntimeError", "RuntimeError", "'%s' is being cancelled already",
                           ch->name);
    } else {
        ch->canceller = t;
        t->sup = ch;
        begin_cancel(a, ch);
        return;
    }
    sc_task_finish(a, t);
}

static int start_spawn_kill(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "name", "signal", NULL };
    sc_str name;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_str(t->fn, kw, "name", &name, err) ||
        sc_kwarg_int(t->fn, kw, "signal", &t->n, err))
        return SC_EARG;
    return sc_task_keep_text(a, t, name, err);
}

static void step_spawn_kill(sc_actor *a, sc_task *t)
{
    if (t->n < 1 || t->n > 64) {
        sc_task_send_error(a, t, "ValueError", "ValueError", "spawn_kill() signal must be 1 to 64");
        sc_task_finish(a, t);
        return;
    }
    int64_t count = 0;
    sc_str name = { t->text, t->text_len };
    for (sc_child *ch = a->children; ch; ch = ch->next) {
        if (ch->exited || !sc_str_eq_c(name, ch->name))
            continue;
        send_signal(a, ch, (int)t->n);
        count++;
    }
    sc_task_send_int(a, t, SC_MSG_RETURN, count);
    sc_task_finish(a, t);
}

static int start_no_args(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { NULL };
    (void)a;
    return sc_kwargs_only(t->fn, kw, names, err) ? SC_EARG : SC_OK;
}

static int pack_list(msgpack_packer *pk, const void *arg)
{
    const sc_actor *a = arg;
    uint32_t n = 0;
    for (const sc_child *ch = a->children; ch; ch = ch->next)
        n += !ch->exited;
    if (msgpack_pack_array(pk, n) != 0)
        return -1;
    for (const sc_child *ch = a->children; ch; ch = ch->next) {
        if (ch->exited)
            continue;
        if (msgpack_pack_array(pk, 4) != 0 || sc_pack_cstr(pk, ch->name) != 0)
            return -1;
        /* Until it has connected back, its uuid is what would let another
         * process pass for it (SUP-14). */
        if ((ch->connected ? sc_pack_cstr(pk, ch->uuid) : msgpack_pack_nil(pk)) != 0 ||
            msgpack_pack_int(pk, ch->pid) != 0 ||
            sc_pack_cstr(pk, state_name(ch)) != 0)
            return -1;
    }
    return 0;
}

static void step_spawn_list(sc_actor *a, sc_task *t)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    if (pack_list(&pk, a) == 0)
        sc_task_send_raw(a, t, SC_MSG_RETURN, sc_buf_head(&b), sc_buf_size(&b));
    else
        sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory");
    sc_buf_free(&b);
    sc_task_finish(a, t);
}

static const sc_function fn_run_in_child = { "scwire_service", "run_in_child", SC_FT_ASYNCFUNC,
                                             start_run_in_child, step_run };
static const sc_function fn_run_in_children = { "scwire_service", "run_in_children", SC_FT_ASYNCFUNC,
                                                start_run_in_children, step_run };
static const sc_function fn_spawn_start = { "scwire_service", "spawn_start", SC_FT_ASYNCFUNC,
                                            start_name, step_spawn_start };
static const sc_function fn_spawn_cancel = { "scwire_service", "spawn_cancel", SC_FT_ASYNCFUNC,
                                             start_name, step_spawn_cancel };
static const sc_function fn_spawn_kill = { "scwire_service", "spawn_kill", SC_FT_ASYNCFUNC,
                                           start_spawn_kill, step_spawn_kill };
static const sc_function fn_spawn_list = { "scwire_service", "spawn_list", SC_FT_ASYNCFUNC,
                                           start_no_args, step_spawn_list };

const sc_function *sc_nursery_lookup(sc_str name)
{
    static const sc_function *const all[] = { &fn_run_in_child, &fn_run_in_children, &fn_spawn_start,
                                              &fn_spawn_cancel, &fn_spawn_kill, &fn_spawn_list };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (sc_str_eq_c(name, all[i]->name))
            return all[i];
    return NULL;
}
