/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ctxcall.c - scwire_service.ctx_call (spec/test-service.md, SVC-29): the
 * actor as the caller of a remote context, so that the suite can play the
 * callee and check the caller side of the protocol (CTX-7, RPC-12).
 *
 * The task opens an outbound channel of its own (SC_EV_CONNECT, like the
 * registry client), sends one context command on it, takes `started`, then
 * reads nothing of the context for `idle` seconds.  An `error` on the
 * context fails the call at once, whatever phase it is in, except the
 * ContextCancelled that answers our own cancel.  When idle ends first, the
 * task cancels the context with self._cancel_task on the same channel.
 * The channel lives exactly as long as the task. */
#include "actor_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* t->i: where the call is. */
enum { CC_CONNECTING = 0, CC_FUNCTYPE, CC_STARTED, CC_IDLE, CC_CANCELLING };

/* The glue takes a host name of up to this many bytes, NUL included. */
#define HOST_MAX sizeof(((sc_event *)0)->host)

static const sc_function fn_ctx_call;

/* t->text holds "ns\0func" until the command is sent (t->n: the length of
 * ns), then the cid of our _cancel_task call; t->value holds the encoded
 * kwargs, then the started value. */
static sc_str kept_ns(const sc_task *t)
{
    return (sc_str){ t->text, (size_t)t->n };
}

static sc_str kept_func(const sc_task *t)
{
    return (sc_str){ t->text + t->n + 1, t->text_len - (size_t)t->n - 1 };
}

static int keep_target(sc_task *t, sc_str ns, sc_str func, sc_err *err)
{
    char *d = sc_malloc(ns.len + func.len + 2);
    if (!d)
        return sc_err_set(err, SC_ENOMEM, "out of memory keeping the target");
    memcpy(d, ns.ptr, ns.len);
    d[ns.len] = '\0';
    memcpy(d + ns.len + 1, func.ptr, func.len);
    d[ns.len + 1 + func.len] = '\0';
    sc_free(t->text);
    t->text = d;
    t->text_len = ns.len + 1 + func.len;
    t->n = (int64_t)ns.len;
    return SC_OK;
}

static int start_ctx_call(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "host", "port", "ns", "func", "kwargs", "idle", NULL };
    const sc_function *fn = t->fn;
    sc_str host, ns, func;
    int64_t port;
    const msgpack_object *kwargs;
    if (sc_kwargs_only(fn, kw, names, err) || sc_kwarg_str(fn, kw, "host", &host, err) ||
        sc_kwarg_int(fn, kw, "port", &port, err) || sc_kwarg_str(fn, kw, "ns", &ns, err) ||
        sc_kwarg_str(fn, kw, "func", &func, err) || sc_kwarg(fn, kw, "kwargs", &kwargs, err) ||
        sc_kwarg_num(fn, kw, "idle", &t->delay, err))
        return SC_EARG;
    if (host.len == 0 || host.len >= HOST_MAX)
        return sc_err_set(err, SC_EARG, "ctx_call() argument 'host' must be 1 to %zu characters",
                          HOST_MAX - 1);
    if (sc_str_has_nul(host) || sc_str_has_nul(ns) || sc_str_has_nul(func))
        return sc_err_set(err, SC_EARG, "ctx_call() arguments 'host', 'ns' and 'func' may not "
                                        "hold a NUL byte");
    if (port < 1 || port > 65535)
        return sc_err_set(err, SC_EARG, "ctx_call() argument 'port' must be 1 to 65535");
    if (t->delay < 0)
        return sc_err_set(err, SC_EARG, "ctx_call() argument 'idle' must not be negative");
    if (kwargs->type != MSGPACK_OBJECT_MAP)
        return sc_err_set(err, SC_EARG, "ctx_call() argument 'kwargs' must be map, not %s",
                          sc_obj_type_name(kwargs));
    for (uint32_t i = 0; i < kwargs->via.map.size; i++) {
        sc_str key;
        if (!sc_obj_str(&kwargs->via.map.ptr[i].key, &key))
            return sc_err_set(err, SC_EARG, "ctx_call() argument 'kwargs' must have str keys");
    }
    if (keep_target(t, ns, func, err) != SC_OK || sc_task_keep_value(a, t, kwargs, err) != SC_OK)
        return err->code;
    char h[HOST_MAX];
    snprintf(h, sizeof(h), "%.*s", (int)host.len, host.ptr);
    sc_conn *c = sc_conn_open_outbound(a, SC_ROLE_CALLER, h, (uint16_t)port,
                                       a->cfg.limits.handshake_timeout);
    if (!c)
        return sc_err_set(err, SC_ENOMEM, "cannot open a connection to %s:%d", h, (int)port);
    c->caller = t;
    t->out = c;
    t->i = CC_CONNECTING;
    return SC_OK;
}

/* The call ends: the task sends its last message, and its channel goes
 * with it (sc_ctxcall_task_gone). */
static void fail(sc_actor *a, sc_task *t, const char *type_str, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(sc_actor *a, sc_task *t, const char *type_str, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sc_task_hold(t);
    sc_task_send_error(a, t, type_str, type_str, "%s", msg);
    sc_task_finish(a, t);
    sc_task_release(t);
}

static void fail_remote(sc_actor *a, sc_task *t, sc_conn *c, const sc_msg *m)
{
    char uid[160], type[80], tb[900];
    sc_uid_repr(&c->chan.peer, uid, sizeof(uid));
    snprintf(type, sizeof(type), "%.*s", (int)(m->type_str.len > 64 ? 64 : m->type_str.len),
             m->type_str.ptr);
    snprintf(tb, sizeof(tb), "%.*s", (int)(m->tb_str.len > 800 ? 800 : m->tb_str.len),
             m->tb_str.ptr);
    sc_task_hold(t);
    sc_task_send_error(a, t, "RemoteActorError", "tractor._exceptions.RemoteActorError",
                       "%s raised %s in the context:\n%s", uid, type, tb);
    sc_task_finish(a, t);
    sc_task_release(t);
}

/* [started, how, value]: the started value as it came, "returned" or
 * "cancelled", and the callee's return value (nil when cancelled).  Too
 * large for a message, it becomes a TypeError instead (RPC-11). */
static void finish_with(sc_actor *a, sc_task *t, const char *how, const msgpack_object *value)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    int rc = msgpack_pack_array(&pk, 3);
    rc = rc ? rc : sc_buf_msgpack_write(&b, t->value, t->value_len);
    rc = rc ? rc : sc_pack_cstr(&pk, how);
    rc = rc ? rc : value ? msgpack_pack_object(&pk, *value) : msgpack_pack_nil(&pk);
    sc_task_hold(t);
    if (rc != 0)
        sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory packing the result");
    else
        sc_task_send_raw(a, t, SC_MSG_RETURN, sc_buf_head(&b), sc_buf_size(&b));
    sc_buf_free(&b);
    sc_task_finish(a, t);
    sc_task_release(t);
}

typedef struct cmd_arg {
    const sc_actor *a;
    sc_str ns, func, cid;
    const char *kwargs;    /* encoded, or NULL for {"cid": target} */
    size_t kwargs_len;
    sc_str target;
} cmd_arg;

static int pack_cmd(msgpack_packer *pk, const void *arg)
{
    const cmd_arg *x = arg;
    int rc = sc_pack_cmd_begin(pk, x->ns, x->func);
    if (rc == 0 && x->kwargs)
        rc = sc_buf_msgpack_write(pk->data, x->kwargs, x->kwargs_len);
    else if (rc == 0)
        rc = msgpack_pack_map(pk, 1) || sc_pack_cstr(pk, "cid") || sc_pack_str(pk, x->target);
    return rc ? rc : sc_pack_cmd_end(pk, &x->a->uid, x->cid);
}

void sc_ctxcall_handshake(sc_actor *a, sc_conn *c)
{
    sc_task *t = c->caller;
    if (!t)
        return;
    char cid[37];
    sc_uuid4(a, cid);
    snprintf(c->call_cid, sizeof(c->call_cid), "%s", cid);
    cmd_arg x = { a, kept_ns(t), kept_func(t), { c->call_cid, 36 }, t->value, t->value_len,
                  { NULL, 0 } };
    t->i = CC_FUNCTYPE;
    sc_conn_send_packed(a, c, pack_cmd, &x);
}

static void send_cancel(sc_actor *a, sc_task *t)
{
    sc_conn *c = t->out;
    char cid[37];
    sc_err err;
    sc_uuid4(a, cid);
    if (sc_task_keep_text(a, t, (sc_str){ cid, 36 }, &err) != SC_OK) {
        fail(a, t, "MemoryError", "%s", err.msg);
        return;
    }
    cmd_arg x = { a, SC_STR("self"), SC_STR("_cancel_task"), { t->text, 36 }, NULL, 0,
                  { c->call_cid, 36 } };
    t->i = CC_CANCELLING;
    sc_log(a, SC_LOG_CANCEL, "ctx_call: idle time over, cancelling context %s", c->call_cid);
    if (sc_conn_send_packed(a, c, pack_cmd, &x) == SC_OK &&
        sc_timer_add(a, a->now + a->cfg.limits.handshake_timeout, t, NULL) != SC_OK)
        fail(a, t, "MemoryError", "out of memory arming a timer");
}

static void step_ctx_call(sc_actor *a, sc_task *t)
{
    /* Only a timer of ours wakes the call: the end of idle, or of the wait
     * for the answer to our cancel. */
    if (t->timer >= 0 || !t->out)
        return;
    if (t->i == CC_IDLE)
        send_cancel(a, t);
    else if (t->i == CC_CANCELLING)
        fail(a, t, "TimeoutError", "the callee did not answer the cancel of context %s",
             t->out->call_cid);
}

static void took_started(sc_actor *a, sc_task *t, sc_conn *c, const sc_msg *m)
{
    sc_err err;
    if (sc_task_keep_value(a, t, m->value, &err) != SC_OK) {
        fail(a, t, "MemoryError", "%s", err.msg);
        return;
    }
    /* The connection's deadline bounded the way up to `started`. */
    if (c->hs_timer >= 0)
        sc_timer_remove(a, c->hs_timer);
    t->i = CC_IDLE;
    if (sc_timer_add(a, a->now + t->delay, t, NULL) != SC_OK)
        fail(a, t, "MemoryError", "out of memory arming a timer");
}

int sc_ctxcall_msg(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    sc_task *t = c->caller;
    if (!t)
        return 0;
    if (t->i == CC_CANCELLING && sc_str_eq_c(m->cid, t->text)) {
        /* The answer to our _cancel_task: nothing to do with it. */
        if (m->kind == SC_MSG_ERROR)
            sc_log(a, SC_LOG_WARNING, "ctx_call: the cancel request failed: %.*s",
                   (int)m->type_str.len, m->type_str.ptr);
        return 1;
    }
    if (!c->call_cid[0] || !sc_str_eq_c(m->cid, c->call_cid))
        return 0;
    /* An error fails the context whoever reads it (CTX-7)... */
    if (m->kind == SC_MSG_ERROR) {
        if (t->i == CC_CANCELLING && sc_str_eq_c(m->type_str, "ContextCancelled"))
            finish_with(a, t, "cancelled", NULL);   /* ...but the answer to our cancel */
        else
            fail_remote(a, t, c, m);
        return 1;
    }
    switch (t->i) {
    case CC_FUNCTYPE:
        if (m->kind == SC_MSG_FUNCTYPE && m->functype == SC_FT_CONTEXT)
            t->i = CC_STARTED;
        else
            fail(a, t, "MessagingError", "expected functype context, got %s",
                 m->kind == SC_MSG_FUNCTYPE ? sc_functype_name(m->functype)
                                            : sc_msg_kind_name(m->kind));
        break;
    case CC_STARTED:
        if (m->kind == SC_MSG_STARTED)
            took_started(a, t, c, m);
        else
            fail(a, t, "MessagingError", "expected started, got %s", sc_msg_kind_name(m->kind));
        break;
    default:
        if (m->kind == SC_MSG_RETURN)
            finish_with(a, t, "returned", m->value);
        else if (m->kind == SC_MSG_YIELD || m->kind == SC_MSG_STOP)
            sc_log(a, SC_LOG_DEBUG, "ctx_call: not reading %s of context %s",
                   sc_msg_kind_name(m->kind), c->call_cid);
        else
            sc_log(a, SC_LOG_WARNING, "ctx_call: dropping an unexpected %s for context %s",
                   sc_msg_kind_name(m->kind), c->call_cid);
        break;
    }
    return 1;
}

void sc_ctxcall_conn_lost(sc_actor *a, sc_conn *c, const char *why)
{
    sc_task *t = c->caller;
    if (!t)
        return;
    c->caller = NULL;
    t->out = NULL;
    fail(a, t, "ConnectionError", "the channel of the context call ended: %s", why);
}

void sc_ctxcall_task_gone(sc_actor *a, sc_task *t)
{
    sc_conn *c = t->out;
    t->out = NULL;
    c->caller = NULL;
    if (c->closing)
        return;
    /* We opened the channel: we end it with nil (CAN-4). */
    sc_err err;
    if (c->chan.state == SC_CHAN_OPEN && sc_chan_send_nil(&c->chan, &err) == SC_OK)
        sc_conn_sent(a, c);
    sc_conn_close(a, c, SC_LOG_RUNTIME, "ctx_call finished");
}

static const sc_function fn_ctx_call = { "scwire_service", "ctx_call", SC_FT_ASYNCFUNC,
                                         start_ctx_call, step_ctx_call };

const sc_function *sc_ctxcall_lookup(sc_str name)
{
    return sc_str_eq_c(name, fn_ctx_call.name) ? &fn_ctx_call : NULL;
}
