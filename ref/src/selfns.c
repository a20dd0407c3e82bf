/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* selfns.c - the `self` namespace of spec/protocol.md sections 9 and 10:
 * cancel, _cancel_task and, on a registry, register_actor,
 * unregister_actor, find_actor, wait_for_actor and get_registry.
 *
 * Unlike tractor, which looks any name up on its actor object, only these
 * names exist; anything else is answered with AttributeError and never run. */
#include "actor_int.h"
#include "hash.h"

#include <stdio.h>
#include <string.h>

static const sc_function self_cancel = { "self", "cancel", SC_FT_ASYNCFUNC, NULL, NULL };
static const sc_function self_cancel_task = { "self", "_cancel_task", SC_FT_ASYNCFUNC, NULL, NULL };
static const sc_function self_register = { "self", "register_actor", SC_FT_ASYNCFUNC, NULL, NULL };
static const sc_function self_unregister = { "self", "unregister_actor", SC_FT_ASYNCFUNC, NULL, NULL };
static const sc_function self_find = { "self", "find_actor", SC_FT_ASYNCFUNC, NULL, NULL };
static const sc_function self_get_registry = { "self", "get_registry", SC_FT_ASYNCFUNC, NULL, NULL };

typedef int (*pack_fn)(msgpack_packer *pk, const void *arg);

static int reply_functype(sc_actor *a, sc_conn *c, sc_str cid)
{
    sc_err err;
    int rc = sc_chan_send_functype(&c->chan, cid, SC_FT_ASYNCFUNC, &err);
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    sc_conn_sent(a, c);
    return SC_OK;
}

static int reply_return(sc_actor *a, sc_conn *c, sc_str cid, pack_fn pack, const void *arg)
{
    sc_err err;
    msgpack_packer *pk = sc_chan_begin(&c->chan, &err);
    if (!pk)
        return sc_conn_send_failed(a, c, err.code, &err);
    int prc = sc_pack_value_begin(pk, SC_MSG_RETURN);
    if (prc == 0)
        prc = pack(pk, arg);
    if (prc == 0)
        prc = sc_pack_value_end(pk, cid);
    int rc = sc_chan_end(&c->chan, prc, &err);
    if (rc == SC_ELIMIT) {
        /* A result over the message limit (a large registry) becomes an
         * error in its place and the channel lives on (RPC-11). */
        sc_send_error_text(a, c, cid, "TypeError", "TypeError", "self", err.msg);
        return rc;
    }
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    sc_conn_sent(a, c);
    return SC_OK;
}

static int pack_nil(msgpack_packer *pk, const void *arg)
{
    (void)arg;
    return msgpack_pack_nil(pk);
}

static int pack_true(msgpack_packer *pk, const void *arg)
{
    (void)arg;
    return msgpack_pack_true(pk);
}

static int pack_entry_or_nil(msgpack_packer *pk, const void *arg)
{
    return arg ? sc_registry_pack_addr(pk, arg) : msgpack_pack_nil(pk);
}

static int pack_table(msgpack_packer *pk, const void *arg)
{
    return sc_registry_pack_table(pk, arg);
}

typedef struct addrs_arg {
    const sc_registry *r;
    sc_str name;
} addrs_arg;

static int pack_addrs(msgpack_packer *pk, const void *arg)
{
    const addrs_arg *x = arg;
    return sc_registry_pack_addrs(pk, x->r, x->name);
}

/* Errors raised before the function runs (bad kwargs) carry no functype;
 * errors raised while it runs come after the functype, as in tractor. */
static void reply_type_error(sc_actor *a, sc_conn *c, sc_str cid, const sc_err *err)
{
    sc_send_error_text(a, c, cid, "TypeError", "TypeError", "dispatch", err->msg);
}

static int parse_uid_arg(const sc_function *fn, const msgpack_object *kw, sc_uid *uid, sc_err *err)
{
    const msgpack_object *o;
    if (sc_kwarg(fn, kw, "uid", &o, err) != SC_OK)
        return SC_EARG;
    sc_err uerr;
    if (sc_uid_parse(o, uid, &uerr) != SC_OK)
        return sc_err_set(err, SC_EARG, "%s() argument 'uid' must be [name, uuid] of str, not %s",
                          fn->name, sc_obj_type_name(o));
    return SC_OK;
}

static void do_cancel_task(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    /* tractor overwrites a `chan` key locally; here it is refused like any
     * other unexpected keyword (spec/protocol.md, SELF). */
    static const char *const names[] = { "cid", NULL };
    sc_err err;
    sc_str target;
    if (sc_kwargs_only(&self_cancel_task, m->kwargs, names, &err) ||
        sc_kwarg_str(&self_cancel_task, m->kwargs, "cid", &target, &err)) {
        reply_type_error(a, c, m->cid, &err);
        return;
    }
    if (reply_functype(a, c, m->cid) != SC_OK)
        return;
    /* Only a task that this same channel started may be cancelled. */
    sc_ctx *x = sc_ctx_find(&a->contexts, &c->chan.peer, target);
    sc_task *t = (sc_task *)x;
    if (t && t->conn == c)
        sc_task_cancel(a, t);
    else
        sc_log(a, SC_LOG_CANCEL, "_cancel_task: %.*s has already completed or was never started here",
               (int)target.len, target.ptr);
    reply_return(a, c, m->cid, pack_nil, NULL);
}

static void do_register(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    static const char *const names[] = { "uid", "sockaddr", NULL };
    sc_err err;
    sc_uid uid;
    const msgpack_object *sa;
    if (sc_kwargs_only(&self_register, m->kwargs, names, &err) ||
        parse_uid_arg(&self_register, m->kwargs, &uid, &err) ||
        sc_kwarg(&self_register, m->kwargs, "sockaddr", &sa, &err)) {
        reply_type_error(a, c, m->cid, &err);
        return;
    }
    /* A sockaddr that is not [str, int] is a kwargs mismatch (REG-2):
     * TypeError before any functype, like a bad uid. */
    sc_str host;
    if (sa->type != MSGPACK_OBJECT_ARRAY || sa->via.array.size < 2 ||
        !sc_obj_str(&sa->via.array.ptr[0], &host) || host.len == 0 || host.len > 255 ||
        sa->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        sa->via.array.ptr[1].via.u64 > 65535) {
        sc_err_set(&err, SC_EARG,
                   "register_actor() argument 'sockaddr' must be [host: str, port: int 0..65535]");
        reply_type_error(a, c, m->cid, &err);
        return;
    }
    if (reply_functype(a, c, m->cid) != SC_OK)
        return;
    int rc = sc_registry_put(&a->registry, &uid, host, (uint16_t)sa->via.array.ptr[1].via.u64,
                             &c->chan.peer, &err);
    if (rc != SC_OK) {
        const char *type = rc == SC_ESTATE ? "PermissionError" : "RuntimeError";
        sc_send_error_text(a, c, m->cid, type, type, "self.register_actor", err.msg);
        return;
    }
    sc_log(a, SC_LOG_RUNTIME, "registered %.*s at %.*s:%u", (int)uid.name.len, uid.name.ptr,
           (int)host.len, host.ptr, (unsigned)sa->via.array.ptr[1].via.u64);
    reply_return(a, c, m->cid, pack_nil, NULL);
    sc_registry_wake(a, uid.name);
}

static void do_unregister(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    static const char *const names[] = { "uid", NULL };
    sc_err err;
    sc_uid uid;
    if (sc_kwargs_only(&self_unregister, m->kwargs, names, &err) ||
        parse_uid_arg(&self_unregister, m->kwargs, &uid, &err)) {
        reply_type_error(a, c, m->cid, &err);
        return;
    }
    if (reply_functype(a, c, m->cid) != SC_OK)
        return;
    int rc = sc_registry_remove(&a->registry, &uid, &c->chan.peer, &err);
    if (rc != SC_OK) {
        const char *type = rc == SC_ESTATE ? "PermissionError" : "KeyError";
        sc_send_error_text(a, c, m->cid, type, type, "self.unregister_actor", err.msg);
        return;
    }
    reply_return(a, c, m->cid, pack_nil, NULL);
}

static void do_find(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    static const char *const names[] = { "name", NULL };
    sc_err err;
    sc_str name;
    if (sc_kwargs_only(&self_find, m->kwargs, names, &err) ||
        sc_kwarg_str(&self_find, m->kwargs, "name", &name, &err)) {
        reply_type_error(a, c, m->cid, &err);
        return;
    }
    if (reply_functype(a, c, m->cid) == SC_OK)
        reply_return(a, c, m->cid, pack_entry_or_nil, sc_registry_find(&a->registry, name));
}

static void do_get_registry(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    static const char *const names[] = { NULL };
    sc_err err;
    if (sc_kwargs_only(&self_get_registry, m->kwargs, names, &err)) {
        reply_type_error(a, c, m->cid, &err);
        return;
    }
    if (reply_functype(a, c, m->cid) == SC_OK)
        reply_return(a, c, m->cid, pack_table, &a->registry);
}

/* wait_for_actor is the one `self` function that can block, so it runs as a
 * task: cancellable by _cancel_task and ended with its channel. */
static int start_wait(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "name", NULL };
    sc_str name;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_str(t->fn, kw, "name", &name, err))
        return SC_EARG;
    return sc_task_keep_text(a, t, name, err);
}

static int waiters_grow(sc_actor *a)
{
    size_t n = a->waiter_buckets ? a->waiter_buckets * 2 : 64;
    sc_task **b = sc_calloc(n, sizeof(*b));
    if (!b)
        return SC_ENOMEM;
    for (size_t i = 0; i < a->waiter_buckets; i++) {
        for (sc_task *w = a->waiters[i], *next; w; w = next) {
            next = w->wait_next;
            sc_task **slot = &b[w->wait_hash & (n - 1)];
            w->wait_prev = NULL;
            w->wait_next = *slot;
            if (*slot)
                (*slot)->wait_prev = w;
            *slot = w;
        }
    }
    sc_free(a->waiters);
    a->waiters = b;
    a->waiter_buckets = n;
    return SC_OK;
}

static int waiter_add(sc_actor *a, sc_task *t)
{
    if (a->nwaiters >= a->waiter_buckets && waiters_grow(a) != SC_OK)
        return SC_ENOMEM;
    t->wait_hash = sc_hash_bytes(t->text, t->text_len);
    sc_task **slot = &a->waiters[t->wait_hash & (a->waiter_buckets - 1)];
    t->wait_prev = NULL;
    t->wait_next = *slot;
    if (*slot)
        (*slot)->wait_prev = t;
    *slot = t;
    t->waiting = 1;
    a->nwaiters++;
    return SC_OK;
}

void sc_waiter_remove(sc_actor *a, sc_task *t)
{
    if (!t->waiting)
        return;
    if (t->wait_prev)
        t->wait_prev->wait_next = t->wait_next;
    else
        a->waiters[t->wait_hash & (a->waiter_buckets - 1)] = t->wait_next;
    if (t->wait_next)
        t->wait_next->wait_prev = t->wait_prev;
    t->waiting = 0;
    a->nwaiters--;
}

static void step_wait(sc_actor *a, sc_task *t)
{
    sc_str name = { t->text, t->text_len };
    if (!sc_registry_find(&a->registry, name)) {
        if (!t->waiting && waiter_add(a, t) != SC_OK) {
            sc_task_send_error(a, t, "MemoryError", "MemoryError",
                               "out of memory adding a wait_for_actor waiter");
            sc_task_finish(a, t);
        }
        return;
    }
    addrs_arg x = { &a->registry, name };
    reply_return(a, t->conn, t->ctx.cid, pack_addrs, &x);
    sc_task_finish(a, t);
}

static const sc_function self_wait = { "self", "wait_for_actor", SC_FT_ASYNCFUNC, start_wait,
                                       step_wait };

void sc_registry_wake(sc_actor *a, sc_str name)
{
    if (!a->nwaiters)
        return;
    uint64_t h = sc_hash_bytes(name.ptr, name.len);
    /* Each step of a satisfied waiter unlinks it (and a failed send may
     * free others of its channel), so restart from the bucket's head. */
    for (;;) {
        sc_task *w = a->waiters[h & (a->waiter_buckets - 1)];
        while (w && (w->wait_hash != h || !sc_str_eq(name, (sc_str){ w->text, w->text_len })))
            w = w->wait_next;
        if (!w)
            return;
        sc_task_step(a, w);
    }
}

static const sc_function *self_lookup(sc_str name, int registry_role)
{
    static const sc_function *const everyone[] = { &self_cancel, &self_cancel_task };
    static const sc_function *const registry[] = { &self_register, &self_unregister, &self_find,
                                                   &self_wait, &self_get_registry };
    for (size_t i = 0; i < sizeof(everyone) / sizeof(everyone[0]); i++)
        if (sc_str_eq_c(name, everyone[i]->name))
            return everyone[i];
    if (registry_role)
        for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
            if (sc_str_eq_c(name, registry[i]->name))
                return registry[i];
    return NULL;
}

const sc_function *sc_self_dispatch(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    const sc_function *fn = self_lookup(m->func, a->cfg.registry_role);
    if (!fn) {
        char text[160];
        snprintf(text, sizeof(text), "'Actor' object has no attribute '%.*s'",
                 (int)(m->func.len > 64 ? 64 : m->func.len), m->func.ptr);
        sc_send_error_text(a, c, m->cid, "AttributeError", "AttributeError", "self", text);
        return NULL;
    }
    if (fn == &self_wait)
        return fn;
    if (fn == &self_cancel) {
        static const char *const names[] = { NULL };
        sc_err err;
        if (a->stubborn) {
            /* spawn_stubborn: play a child that hangs (test-service.md). */
            sc_log(a, SC_LOG_WARNING, "ignoring self.cancel (spawn_stubborn)");
            return NULL;
        }
        if (sc_kwargs_only(fn, m->kwargs, names, &err)) {
            reply_type_error(a, c, m->cid, &err);
            return NULL;
        }
        /* The acknowledgement goes out only after every task has been
         * cancelled, and before the channel closes. */
        if (reply_functype(a, c, m->cid) == SC_OK) {
            sc_actor_cancel_all_tasks(a);
            reply_return(a, c, m->cid, pack_true, NULL);
        }
        sc_actor_begin_shutdown(a, 0);
        return NULL;
    }
    if (fn == &self_cancel_task)
        do_cancel_task(a, c, m);
    else if (fn == &self_register)
        do_register(a, c, m);
    else if (fn == &self_unregister)
        do_unregister(a, c, m);
    else if (fn == &self_find)
        do_find(a, c, m);
    else
        do_get_registry(a, c, m);
    return NULL;
}
