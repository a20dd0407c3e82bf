/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* child.c - the child side of supervision (spec/protocol.md section 12):
 * an actor started by a parent (the glue's child mode) connects back to it,
 * handshakes with the uid it was given, takes exactly one init map as the
 * first message on that channel, listens where the map says, registers with
 * `_arb_addr`, and only then serves the commands the parent sent (they wait
 * unread meanwhile).  When the parent channel ends, every task is cancelled
 * and the actor exits: a child never outlives its parent's channel.
 *
 * Also the scwire_service functions that only make sense in a child
 * (spawn_stubborn, spawn_crash) and spawn_info, which any actor answers. */
#include "nursery.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define INIT_WHERE "_from_parent"

static const char *const known_namespaces[] = { "scwire_service", NULL };

void sc_child_start(sc_actor *a)
{
    a->child_phase = SC_CHILD_PHASE_CONNECTING;
    sc_log(a, SC_LOG_RUNTIME, "child %s connecting to its parent at %s:%u", a->name,
           a->cfg.parent_host, a->cfg.parent_port);
    /* Connect, handshake and init map, all within the handshake timeout. */
    a->parent = sc_conn_open_outbound(a, SC_ROLE_PARENT, a->cfg.parent_host, a->cfg.parent_port,
                                      a->cfg.limits.handshake_timeout);
    if (!a->parent)
        a->parent_lost = 1;
}

int sc_child_send_actor_error(sc_actor *a, const char *type_str, const char *qualified,
                              const char *fmt, ...)
{
    sc_conn *c = a->parent;
    if (!c || c->closing)
        return SC_ESTATE;
    char msg[800], tb[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int n = snprintf(tb, sizeof(tb), "Traceback (most recent call last):\n  File \"scwire-ref\", in "
                                     "_async_main\n%s: %s\n", qualified, msg);
    sc_log(a, SC_LOG_ERROR, "reporting an actor-level failure to the parent: %s: %s", type_str, msg);
    sc_err err;
    int rc = sc_chan_send_error(&c->chan, (sc_str){ NULL, 0 }, (sc_str){ type_str, strlen(type_str) },
                                (sc_str){ tb, n < (int)sizeof(tb) ? (size_t)n : sizeof(tb) - 1 }, &err);
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    sc_conn_sent(a, c);
    return SC_OK;
}

/* ---- the init map ---------------------------------------------------------- */

static int addr_of(const msgpack_object *o, sc_str *host, uint16_t *port)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
        return 0;
    const msgpack_object *f = o->via.array.ptr;
    if (!sc_obj_str(&f[0], host) || host->len == 0 || host->len > 63 || sc_str_has_nul(*host) ||
        f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[1].via.u64 > 65535)
        return 0;
    *port = (uint16_t)f[1].via.u64;
    return 1;
}

static int str_map(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR ||
            o->via.map.ptr[i].val.type != MSGPACK_OBJECT_STR)
            return 0;
    return 1;
}

/* What is wrong with the init map, as (type_str, text); NULL type if nothing. */
typedef struct init_view {
    const char *bad_type;
    char why[300];
    sc_str arb_host;
    uint16_t arb_port;
    int has_arb;
    sc_str bind_host;
    uint16_t bind_port;
    sc_str root_host;
    uint16_t root_port;
    int has_root;
    int service;
} init_view;

static int bad(init_view *v, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(init_view *v, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof(v->why), fmt, ap);
    va_end(ap);
    v->bad_type = type;
    return 0;
}

static const msgpack_object *need(init_view *v, const msgpack_object *map, const char *key)
{
    const msgpack_object *o = sc_map_get(map, key);
    if (!o)
        bad(v, "KeyError", "'%s'", key);
    return o;
}

static int check_init(const msgpack_object *o, init_view *v)
{
    memset(v, 0, sizeof(*v));
    if (o->type != MSGPACK_OBJECT_MAP)
        return bad(v, "TypeError", "the init map must be a map, not %s", sc_obj_type_name(o));
    const msgpack_object *pmd, *mods, *arb, *bh, *bp, *rv;
    if (!(pmd = need(v, o, "_parent_main_data")) || !(mods = need(v, o, "enable_modules")) ||
        !(arb = need(v, o, "_arb_addr")) || !(bh = need(v, o, "bind_host")) ||
        !(bp = need(v, o, "bind_port")) || !(rv = need(v, o, "_runtime_vars")))
        return 0;
    if (pmd->type != MSGPACK_OBJECT_MAP)
        return bad(v, "TypeError", "_parent_main_data must be a map, not %s", sc_obj_type_name(pmd));
    if (!str_map(mods))
        return bad(v, "TypeError", "enable_modules must be a map of str to str");
    for (uint32_t i = 0; i < mods->via.map.size; i++) {
        sc_str ns;
        sc_obj_str(&mods->via.map.ptr[i].key, &ns);
        int known = 0;
        for (const char *const *k = known_namespaces; *k && !known; k++)
            known = sc_str_eq_c(ns, *k);
        if (!known)
            return bad(v, "ModuleNotFoundError", "No module named '%.*s'",
                       (int)(ns.len > 100 ? 100 : ns.len), ns.ptr);
        v->service = 1;
    }
    if (arb->type != MSGPACK_OBJECT_NIL) {
        if (!addr_of(arb, &v->arb_host, &v->arb_port) || v->arb_port == 0)
            return bad(v, "TypeError", "_arb_addr must be [host: str, port: int] or nil");
        v->has_arb = 1;
    }
    if (!sc_obj_str(bh, &v->bind_host) || v->bind_host.len == 0 || v->bind_host.len > 63)
        return bad(v, "TypeError", "bind_host must be a str of 1 to 63 bytes, not %s",
                   sc_obj_type_name(bh));
    if (sc_str_has_nul(v->bind_host))
        return bad(v, "TypeError", "bind_host holds a NUL byte: no host name can");
    if (bp->type != MSGPACK_OBJECT_POSITIVE_INTEGER || bp->via.u64 > 65535)
        return bad(v, "TypeError", "bind_port must be an int 0..65535, not %s", sc_obj_type_name(bp));
    v->bind_port = (uint16_t)bp->via.u64;
    if (rv->type != MSGPACK_OBJECT_MAP)
        return bad(v, "TypeError", "_runtime_vars must be a map, not %s", sc_obj_type_name(rv));
    const msgpack_object *dm = sc_map_get(rv, "_debug_mode");
    const msgpack_object *ir = sc_map_get(rv, "_is_root");
    const msgpack_object *rm = sc_map_get(rv, "_root_mailbox");
    if (dm && dm->type != MSGPACK_OBJECT_BOOLEAN)
        return bad(v, "TypeError", "_runtime_vars._debug_mode must be a bool");
    if (ir && ir->type != MSGPACK_OBJECT_BOOLEAN)
        return bad(v, "TypeError", "_runtime_vars._is_root must be a bool");
    if (rm) {
        if (addr_of(rm, &v->root_host, &v->root_port))
            v->has_root = 1;
        else if (!(rm->type == MSGPACK_OBJECT_ARRAY && rm->via.array.size == 2 &&
                   rm->via.array.ptr[0].type == MSGPACK_OBJECT_NIL &&
                   rm->via.array.ptr[1].type == MSGPACK_OBJECT_NIL))
            return bad(v, "TypeError", "_runtime_vars._root_mailbox must be [host, port] or [nil, nil]");
    }
    return 1;
}

static char *dup_s(sc_str s)
{
    return sc_strndup(s.ptr, s.len);
}

void sc_child_take_init(sc_actor *a, sc_conn *c, const msgpack_object *o)
{
    init_view v;
    /* Whatever comes of it, this channel reads nothing more for now. */
    c->held = 1;
    if (!check_init(o, &v)) {
        /* SUP-6: an actor-level error to the parent, then exit non-zero. */
        char qualified[64];
        snprintf(qualified, sizeof(qualified), "%s", v.bad_type);
        sc_child_send_actor_error(a, v.bad_type, qualified, "bad init map from the parent: %s", v.why);
        a->crash_pending = 1;
        return;
    }
    size_t len = 0;
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    char *arb = v.has_arb ? dup_s(v.arb_host) : NULL;
    char *root = v.has_root ? dup_s(v.root_host) : NULL;
    if (msgpack_pack_object(&pk, *o) != 0 || (v.has_arb && !arb) || (v.has_root && !root)) {
        sc_buf_free(&b);
        sc_free(arb);
        sc_free(root);
        sc_child_send_actor_error(a, "MemoryError", "MemoryError", "out of memory taking the init map");
        a->crash_pending = 1;
        return;
    }
    len = sc_buf_size(&b);
    sc_free(a->init_map);
    a->init_map = b.data;
    a->init_len = len;
    if (arb) {
        sc_free(a->registry_host);
        a->registry_host = arb;
        a->cfg.registry_host = arb;
        a->cfg.registry_port = v.arb_port;
    }
    sc_free(a->root_host);
    a->root_host = root;
    a->root_port = v.root_port;
    a->service_exposed = v.service;
    if (c->hs_timer >= 0)
        sc_timer_remove(a, c->hs_timer);
    a->child_phase = SC_CHILD_PHASE_BINDING;
    sc_event *ev = sc_actor_push_event(a, SC_EV_LISTEN, NULL);
    if (!ev) {
        a->crash_pending = 1;
        return;
    }
    snprintf(ev->host, sizeof(ev->host), "%.*s", (int)v.bind_host.len, v.bind_host.ptr);
    ev->port = v.bind_port;
    sc_log(a, SC_LOG_RUNTIME, "init map taken: listening on %s:%u%s", ev->host, ev->port,
           v.has_arb ? ", then registering" : "");
}

static void ready(sc_actor *a)
{
    a->child_phase = SC_CHILD_PHASE_SERVING;
    sc_log(a, SC_LOG_RUNTIME, "serving the parent's commands");
    if (a->parent && !a->parent->closing) {
        a->parent->held = 0;
        sc_conn_resume(a, a->parent);
    }
}

void sc_actor_listening(sc_actor *a, const char *host, uint16_t port, double now)
{
    a->now = now;
    if (a->child_phase == SC_CHILD_PHASE_BINDING && !a->shutting_down) {
        char *h = sc_strndup(host, strlen(host));
        if (!h) {
            sc_child_send_actor_error(a, "MemoryError", "MemoryError", "out of memory");
            a->crash_pending = 1;
        } else {
            sc_free(a->listen_host);
            a->listen_host = h;
            a->cfg.listen_host = h;
            a->cfg.listen_port = port;
            sc_log(a, SC_LOG_RUNTIME, "listening on %s:%u", host, port);
            if (a->registry_host && a->cfg.registry_port) {
                /* tractor registers before it serves its parent (SUP-5). */
                a->child_phase = SC_CHILD_PHASE_REGISTERING;
                sc_actor_register(a);
            } else {
                ready(a);
            }
        }
    }
    sc_actor_settle(a);
}

void sc_actor_listen_failed(sc_actor *a, const char *why, double now)
{
    a->now = now;
    if (a->child_phase == SC_CHILD_PHASE_BINDING) {
        sc_child_send_actor_error(a, "OSError", "OSError", "cannot listen where the parent said: %s",
                                  why);
        a->crash_pending = 1;
    }
    sc_actor_settle(a);
}

void sc_child_registered(sc_actor *a)
{
    /* Served either way: a registry that failed costs the registration, not
     * the child (tractor would crash instead). */
    if (a->child_phase == SC_CHILD_PHASE_REGISTERING)
        ready(a);
}

void sc_child_parent_lost(sc_actor *a, sc_conn *c)
{
    (void)c;
    a->parent = NULL;
    if (a->shutting_down)
        return;
    sc_log(a, a->parent_nil ? SC_LOG_CANCEL : SC_LOG_WARNING,
           "the channel to the parent ended: cancelling every task and exiting (SUP-12)");
    a->parent_lost = 1;
}

/* ---- scwire_service functions of a child -------------------------------------- */

static int pack_info(msgpack_packer *pk, const sc_actor *a)
{
    int rc = msgpack_pack_map(pk, 3);
    rc = rc ? rc : sc_pack_cstr(pk, "uid");
    rc = rc ? rc : sc_pack_uid(pk, &a->uid);
    rc = rc ? rc : sc_pack_cstr(pk, "sockaddr");
    rc = rc ? rc : msgpack_pack_array(pk, 2);
    rc = rc ? rc : sc_pack_cstr(pk, a->listen_host);
    rc = rc ? rc : msgpack_pack_unsigned_short(pk, a->cfg.listen_port);
    rc = rc ? rc : sc_pack_cstr(pk, "init");
    if (a->init_map)
        rc = rc ? rc : sc_buf_msgpack_write(pk->data, a->init_map, a->init_len);
    else
        rc = rc ? rc : msgpack_pack_nil(pk);
    return rc;
}

static int start_no_args(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { NULL };
    (void)a;
    return sc_kwargs_only(t->fn, kw, names, err) ? SC_EARG : SC_OK;
}

static void step_spawn_info(sc_actor *a, sc_task *t)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    if (pack_info(&pk, a) == 0)
        sc_task_send_raw(a, t, SC_MSG_RETURN, sc_buf_head(&b), sc_buf_size(&b));
    else
        sc_task_send_error(a, t, "MemoryError", "MemoryError", "out of memory");
    sc_buf_free(&b);
    sc_task_finish(a, t);
}

/* Refused outside a child, after the functype like any error raised while
 * the function runs. */
static int not_a_child(sc_actor *a, sc_task *t)
{
    if (a->cfg.parent_host)
        return 0;
    sc_task_send_error(a, t, "RuntimeError", "RuntimeError", "%s() only works in a child actor",
                       t->fn->name);
    sc_task_finish(a, t);
    return 1;
}

static int start_stubborn(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "ignore_sigterm", NULL };
    int ignore;
    (void)a;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_bool(t->fn, kw, "ignore_sigterm", &ignore, err))
        return SC_EARG;
    t->n = ignore;
    return SC_OK;
}

static void step_stubborn(sc_actor *a, sc_task *t)
{
    if (t->i)
        return;
    t->i = 1;
    if (not_a_child(a, t))
        return;
    a->stubborn = 1;
    a->stubborn_sigterm |= (int)t->n;
    sc_log(a, SC_LOG_WARNING, "stubborn from now on: self.cancel%s will be ignored",
           t->n ? ", SIGINT and SIGTERM" : "");
}

static void step_crash(sc_actor *a, sc_task *t)
{
    if (t->i)
        return;
    t->i = 1;
    if (not_a_child(a, t))
        return;
    /* The actor-level error goes to the parent whoever asked (MSG-4); the
     * task is cancelled with everything else when the actor goes down. */
    sc_child_send_actor_error(a, t->text, t->text, "%.*s", (int)(t->value_len > 600 ? 600 : t->value_len),
                              t->value);
    a->crash_pending = 1;
}

static const sc_function fn_spawn_info = { "scwire_service", "spawn_info", SC_FT_ASYNCFUNC,
                                           start_no_args, step_spawn_info };
static const sc_function fn_spawn_stubborn = { "scwire_service", "spawn_stubborn", SC_FT_ASYNCFUNC,
                                               start_stubborn, step_stubborn };
static const sc_function fn_spawn_crash = { "scwire_service", "spawn_crash", SC_FT_ASYNCFUNC,
                                            sc_start_error_args, step_crash };

const sc_function *sc_child_lookup(sc_str name)
{
    static const sc_function *const all[] = { &fn_spawn_info, &fn_spawn_stubborn, &fn_spawn_crash };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (sc_str_eq_c(name, all[i]->name))
            return all[i];
    return NULL;
}
