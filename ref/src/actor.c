/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* actor.c - the sans-IO actor: connections, the message loop of each
 * channel, routing by context, command dispatch, the registry client calls
 * and the actor's life cycle (start, cancel, shutdown, exit).  Supervision
 * (children, and the life of a child) is in nursery.c and child.c, which
 * this file calls at the few points where a channel's role matters.
 *
 * Bad input from one peer ends at most that peer's connection: every
 * rejection is decided here from the codes of the channel and message
 * layers, logged with its reason, and never reaches another channel. */
#include "actor_int.h"
#include "budget.h"
#include "nursery.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Output above this fraction of max_outbuf makes producers wait. */
#define ROOM_DIVISOR 2
/* Each registry call is bounded from its start (connect, handshake and
 * answer); unregistering at exit is best effort, bounded like tractor's. */
#define UNREGISTER_TIMEOUT 0.5
#define REGISTER_TIMEOUT 5.0

static const struct {
    const char *name;
    int level;
} level_names[] = {
    { "transport", SC_LOG_TRANSPORT }, { "debug", SC_LOG_DEBUG },     { "runtime", SC_LOG_RUNTIME },
    { "cancel", SC_LOG_CANCEL },       { "info", SC_LOG_INFO },       { "warning", SC_LOG_WARNING },
    { "error", SC_LOG_ERROR },         { "critical", SC_LOG_CRITICAL },
};

int sc_loglevel_parse(const char *name, int *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i].name) == 0) {
            *level = level_names[i].level;
            return SC_OK;
        }
    }
    return SC_EARG;
}

const char *sc_loglevel_name(int level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (level_names[i].level == level)
            return level_names[i].name;
    return "log";
}

void sc_actor_config_default(sc_actor_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = "scwire-ref";
    cfg->codec = SC_CODEC_MSGPACK;
    sc_limits_default(&cfg->limits);
    cfg->loglevel = SC_LOG_WARNING;
    cfg->listen_host = "127.0.0.1";
    cfg->max_children = 0;
    cfg->cancel_timeout = 0.5;
    cfg->kill_grace = 3.0;
    cfg->exe_path = "scwire-ref";
}

static void log_line(sc_actor *a, int level, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    a->cb.log(a->ud, level, line);
}

void sc_log(sc_actor *a, int level, const char *fmt, ...)
{
    if (!sc_log_on(a, level) || !a->cb.log)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(a, level, fmt, ap);
    va_end(ap);
}

/* Peer-caused warnings: SC_WARN_PER_SECOND lines per connection and
 * second, then a count (LIM-25). */
#define SC_WARN_PER_SECOND 10

static void warn_summary(sc_actor *a, sc_conn *c)
{
    if (c->warn_dropped)
        sc_log(a, SC_LOG_WARNING, "%lu more warnings like these about connection %u (%s) in the "
               "last second", c->warn_dropped, c->id, c->peer);
    c->warn_dropped = 0;
}

void sc_conn_warn(sc_actor *a, sc_conn *c, const char *fmt, ...)
{
    if (!sc_log_on(a, SC_LOG_WARNING) || !a->cb.log)
        return;
    if (a->now - c->warn_t0 >= 1.0) {
        warn_summary(a, c);
        c->warn_t0 = a->now;
        c->warn_n = 0;
    }
    if (c->warn_n >= SC_WARN_PER_SECOND) {
        c->warn_dropped++;
        return;
    }
    c->warn_n++;
    va_list ap;
    va_start(ap, fmt);
    log_line(a, SC_LOG_WARNING, fmt, ap);
    va_end(ap);
}

void sc_uid_repr(const sc_uid *uid, char *out, size_t n)
{
    snprintf(out, n, "('%.*s', '%.*s')", (int)(uid->name.len > 64 ? 64 : uid->name.len),
             uid->name.ptr, (int)(uid->uuid.len > 64 ? 64 : uid->uuid.len), uid->uuid.ptr);
}

/* ---- events -------------------------------------------------------------- */

sc_event *sc_actor_push_event(sc_actor *a, sc_event_kind kind, sc_conn *c)
{
    if (a->ev_count == a->ev_cap) {
        size_t cap = a->ev_cap ? a->ev_cap * 2 : 64;
        sc_event *n = sc_malloc(cap * sizeof(*n));
        if (!n) {
            sc_log(a, SC_LOG_CRITICAL, "out of memory queueing an event");
            return NULL;
        }
        for (size_t i = 0; i < a->ev_count; i++)
            n[i] = a->events[(a->ev_head + i) % a->ev_cap];
        sc_free(a->events);
        a->events = n;
        a->ev_cap = cap;
        a->ev_head = 0;
    }
    sc_event *ev = &a->events[(a->ev_head + a->ev_count) % a->ev_cap];
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->conn = c ? c->id : 0;
    ev->status = a->exit_status;
    a->ev_count++;
    return ev;
}

int sc_actor_next_event(sc_actor *a, sc_event *ev)
{
    if (a->ev_count == 0)
        return 0;
    *ev = a->events[a->ev_head];
    a->ev_head = (a->ev_head + 1) % a->ev_cap;
    a->ev_count--;
    if (ev->kind == SC_EV_IO) {
        sc_conn *c = ev->conn < a->nconns_slots ? a->conns[ev->conn] : NULL;
        if (c)
            c->io_queued = 0;
    }
    return 1;
}

/* One SC_EV_IO per connection is enough until the glue has taken it: it
 * asks for the interest then, which covers everything queued since. */
/* Unsent output counts against the total budget too (LIM-21): what a
 * connection that does not read makes the actor hold adds up over many. */
static void out_note(sc_actor *a, sc_conn *c)
{
    size_t now = sc_chan_output_size(&c->chan);
    a->out_total = a->out_total - c->out_counted + now;
    c->out_counted = now;
}

static int total_pressed(const sc_actor *a)
{
    return a->retained + a->out_total >= a->cfg.limits.max_total_bytes;
}

void sc_conn_kick(sc_actor *a, sc_conn *c)
{
    out_note(a, c);
    if (c->io_queued)
        return;
    if (sc_actor_push_event(a, SC_EV_IO, c))
        c->io_queued = 1;
}

void sc_conn_sent(sc_actor *a, sc_conn *c)
{
    a->msgs_out++;
    sc_conn_kick(a, c);
}

/* ---- creation ------------------------------------------------------------ */

void sc_uuid4(sc_actor *a, char out[37])
{
    uint8_t b[16];
    a->cb.random(a->ud, b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int sc_actor_new(const sc_actor_config *cfg, const sc_actor_callbacks *cb, void *ud,
                 sc_actor **out, sc_err *err)
{
    if (!cfg->name || !*cfg->name || !cfg->uuid || strlen(cfg->uuid) > 36 || !cb->random)
        return sc_err_set(err, SC_EARG, "an actor needs a name, a uuid of at most 36 characters "
                                        "and a random callback");
    sc_actor *a = sc_calloc(1, sizeof(*a));
    if (!a)
        return sc_err_set(err, SC_ENOMEM, "out of memory creating the actor");
    a->cfg = *cfg;
    a->cb = *cb;
    a->ud = ud;
    a->name = sc_strndup(cfg->name, strlen(cfg->name));
    a->listen_host = sc_strndup(cfg->listen_host ? cfg->listen_host : "127.0.0.1",
                                strlen(cfg->listen_host ? cfg->listen_host : "127.0.0.1"));
    if (cfg->registry_host)
        a->registry_host = sc_strndup(cfg->registry_host, strlen(cfg->registry_host));
    const char *exe = cfg->exe_path ? cfg->exe_path : "scwire-ref";
    a->exe_path = sc_strndup(exe, strlen(exe));
    if (cfg->parent_host)
        a->parent_host = sc_strndup(cfg->parent_host, strlen(cfg->parent_host));
    snprintf(a->uuid, sizeof(a->uuid), "%s", cfg->uuid);
    sc_registry_init(&a->registry, cfg->limits.max_registry,
                     sc_registry_bytes_for(cfg->limits.max_frame));
    /* A child serves scwire_service only if its init map enables it. */
    a->service_exposed = cfg->parent_host == NULL;
    if (!a->name || !a->listen_host || (cfg->registry_host && !a->registry_host) || !a->exe_path ||
        (cfg->parent_host && !a->parent_host) ||
        sc_ctx_table_init(&a->contexts, err) != SC_OK) {
        sc_actor_free(a);
        return sc_err_set(err, SC_ENOMEM, "out of memory creating the actor");
    }
    a->cfg.name = a->name;
    a->cfg.uuid = a->uuid;
    a->cfg.listen_host = a->listen_host;
    a->cfg.registry_host = a->registry_host;
    a->cfg.exe_path = a->exe_path;
    a->cfg.parent_host = a->parent_host;
    a->uid.name = (sc_str){ a->name, strlen(a->name) };
    a->uid.uuid = (sc_str){ a->uuid, strlen(a->uuid) };
    *out = a;
    return SC_OK;
}

static void conn_free(sc_actor *a, sc_conn *c);

void sc_actor_free(sc_actor *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nconns_slots; i++)
        if (a->conns[i])
            conn_free(a, a->conns[i]);
    sc_nursery_free_all(a);
    sc_free(a->conns);
    sc_ctx_table_destroy(&a->contexts);
    sc_registry_destroy(&a->registry);
    sc_free(a->waiters);
    sc_peeraddrs_destroy(&a->addrs);
    sc_free(a->timers);
    sc_free(a->events);
    sc_free(a->name);
    sc_free(a->listen_host);
    sc_free(a->registry_host);
    sc_free(a->exe_path);
    sc_free(a->parent_host);
    sc_free(a->init_map);
    sc_free(a->root_host);
    sc_free(a);
}

const char *sc_actor_uuid(const sc_actor *a)
{
    return a->uuid;
}

/* ---- connections ----------------------------------------------------------- */

static sc_conn *conn_get(sc_actor *a, sc_conn_id id)
{
    return id < a->nconns_slots ? a->conns[id] : NULL;
}

static int conn_new(sc_actor *a, sc_conn_role role, sc_conn **out, sc_err *err)
{
    size_t slot = 1;
    while (slot < a->nconns_slots && a->conns[slot])
        slot++;
    if (slot >= a->nconns_slots) {
        size_t n = a->nconns_slots ? a->nconns_slots * 2 : 64;
        sc_conn **v = sc_realloc(a->conns, n * sizeof(*v));
        if (!v)
            return sc_err_set(err, SC_ENOMEM, "out of memory adding a connection");
        memset(v + a->nconns_slots, 0, (n - a->nconns_slots) * sizeof(*v));
        a->conns = v;
        a->nconns_slots = n;
    }
    sc_conn *c = sc_calloc(1, sizeof(*c));
    if (!c)
        return sc_err_set(err, SC_ENOMEM, "out of memory adding a connection");
    /* The hard cap only catches a burst of replies to one message; reading
     * pauses long before it at max_outbuf. */
    size_t cap = 2 * a->cfg.limits.max_outbuf + 2 * a->cfg.limits.max_frame;
    if (sc_chan_init(&c->chan, a->cfg.codec, &a->cfg.limits, cap, err) != SC_OK) {
        sc_chan_destroy(&c->chan);
        sc_free(c);
        return err ? err->code : SC_ENOMEM;
    }
    c->id = (sc_conn_id)slot;
    c->serial = ++a->next_serial;
    c->role = role;
    c->hs_timer = -1;
    a->conns[slot] = c;
    a->nconns++;
    *out = c;
    return SC_OK;
}

/* Cancel quietly: the channel is gone or going, nobody reads replies. */
static void conn_drop_tasks(sc_actor *a, sc_conn *c)
{
    while (c->tasks) {
        sc_task *t = c->tasks;
        sc_log(a, SC_LOG_CANCEL, "channel ended: cancelling %s.%s cid %.*s", t->fn->ns, t->fn->name,
               (int)t->ctx.cid.len, t->ctx.cid.ptr);
        sc_task_free(a, t);
    }
}

static void conn_free(sc_actor *a, sc_conn *c)
{
    conn_drop_tasks(a, c);
    if (c->hs_timer >= 0)
        sc_timer_remove(a, c->hs_timer);
    a->out_total -= c->out_counted;
    a->conns[c->id] = NULL;
    a->nconns--;
    sc_peeraddr_give(&a->addrs, c->addr);
    sc_chan_destroy(&c->chan);
    sc_free(c);
}

static void exit_if_done(sc_actor *a);

void sc_conn_close(sc_actor *a, sc_conn *c, int level, const char *why)
{
    if (c->closing)
        return;
    char uid[160] = "(no handshake)";
    if (c->chan.peer_name)
        sc_uid_repr(&c->chan.peer, uid, sizeof(uid));
    warn_summary(a, c);
    sc_log(a, level, "closing connection %u (%s) to %s: %s", c->id, c->peer, uid, why);
    c->closing = 1;
    conn_drop_tasks(a, c);
    if (c->hs_timer >= 0)
        sc_timer_remove(a, c->hs_timer);
    if (c->role == SC_ROLE_CHILD)
        sc_nursery_conn_lost(a, c);
    else if (c->role == SC_ROLE_PARENT)
        sc_child_parent_lost(a, c);
    else if (c->role == SC_ROLE_CALLER)
        sc_ctxcall_conn_lost(a, c, why);
    else if (c->held)
        sc_nursery_claim_lost(a, c);
    sc_actor_push_event(a, SC_EV_CLOSE, c);
}

int sc_conn_send_failed(sc_actor *a, sc_conn *c, int rc, const sc_err *err)
{
    sc_conn_close(a, c, SC_LOG_WARNING, err ? err->msg : sc_rc_name(rc));
    return rc;
}

int sc_conn_has_room(const sc_actor *a, const sc_conn *c)
{
    return !c->closing && sc_chan_output_size(&c->chan) < a->cfg.limits.max_outbuf / ROOM_DIVISOR;
}

int sc_send_error_text(sc_actor *a, sc_conn *c, sc_str cid, const char *type_str,
                       const char *qualified, const char *where, const char *msg)
{
    if (c->closing)
        return SC_ESTATE;
    char tb[1400];
    int n = snprintf(tb, sizeof(tb),
                     "Traceback (most recent call last):\n  File \"scwire-ref\", in %s\n%s: %s\n",
                     where, qualified, msg);
    sc_err err;
    int rc = sc_chan_send_error(&c->chan, cid, (sc_str){ type_str, strlen(type_str) },
                                (sc_str){ tb, n < (int)sizeof(tb) ? (size_t)n : sizeof(tb) - 1 },
                                &err);
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    sc_conn_sent(a, c);
    return SC_OK;
}

int sc_conn_send_packed(sc_actor *a, sc_conn *c, sc_pack_fn pack, const void *arg)
{
    if (c->closing)
        return SC_ESTATE;
    sc_err err;
    msgpack_packer *pk = sc_chan_begin(&c->chan, &err);
    if (!pk)
        return sc_conn_send_failed(a, c, err.code, &err);
    int rc = sc_chan_end(&c->chan, pack(pk, arg), &err);
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    sc_conn_sent(a, c);
    return SC_OK;
}

static int send_own_uid(sc_actor *a, sc_conn *c)
{
    sc_err err;
    int rc = sc_chan_send_uid(&c->chan, &a->uid, &err);
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    /* Our registry calls keep the deadline armed when they started, so
     * that the whole call is bounded by it (REG-12: unregistering must not
     * hold the exit for a handshake timeout). */
    if (c->role == SC_ROLE_PEER) {
        c->hs_deadline = a->now + a->cfg.limits.handshake_timeout;
        if (sc_timer_add(a, c->hs_deadline, NULL, c) != SC_OK)
            return sc_conn_send_failed(a, c, SC_ENOMEM, NULL);
    }
    sc_conn_kick(a, c);
    return SC_OK;
}

static unsigned conns_per_addr(const sc_limits *l)
{
    if (l->max_conns_per_addr)
        return l->max_conns_per_addr;
    unsigned floor = l->max_conns < 64 ? l->max_conns : 64;
    return l->max_conns / 2 > floor ? l->max_conns / 2 : floor;
}

int sc_actor_accept(sc_actor *a, double now, const char *peer, sc_conn_id *id, sc_err *err)
{
    a->now = now;
    if (!peer)
        peer = "peer address unknown";
    if (a->shutting_down)
        return sc_err_set(err, SC_ESTATE, "the actor is shutting down");
    if (a->nconns >= a->cfg.limits.max_conns) {
        sc_log(a, SC_LOG_WARNING,
               "refusing a connection from %s: the limit of %u connections is reached", peer,
               a->cfg.limits.max_conns);
        return sc_err_set(err, SC_ELIMIT, "connection limit of %u reached", a->cfg.limits.max_conns);
    }
    sc_peeraddr *addr;
    int rc = sc_peeraddr_take(&a->addrs, peer, conns_per_addr(&a->cfg.limits), &addr, err);
    if (rc != SC_OK) {
        sc_log(a, SC_LOG_WARNING, "refusing a connection from %s: %s", peer,
               err ? err->msg : sc_rc_name(rc));
        return rc;
    }
    sc_conn *c;
    rc = conn_new(a, SC_ROLE_PEER, &c, err);
    if (rc != SC_OK) {
        sc_peeraddr_give(&a->addrs, addr);
        sc_log(a, SC_LOG_ERROR, "refusing a connection: %s", err ? err->msg : sc_rc_name(rc));
        return rc;
    }
    c->addr = addr;
    *id = c->id;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    sc_log(a, SC_LOG_TRANSPORT, "accepted connection %u from %s", c->id, c->peer);
    /* Both sides send their uid at once, without waiting for the other. */
    send_own_uid(a, c);
    sc_actor_settle(a);
    return SC_OK;
}

/* ---- the registry client ----------------------------------------------------- */

static const char *role_target(sc_conn_role role)
{
    return role == SC_ROLE_PARENT ? "the parent" : role == SC_ROLE_CALLER ? "the callee"
                                                                          : "the registry";
}

sc_conn *sc_conn_open_outbound(sc_actor *a, sc_conn_role role, const char *host, uint16_t port,
                               double limit)
{
    sc_conn *c;
    sc_err err;
    if (conn_new(a, role, &c, &err) != SC_OK) {
        sc_log(a, SC_LOG_ERROR, "cannot reach %s: %s", role_target(role), err.msg);
        return NULL;
    }
    c->connecting = 1;
    snprintf(c->peer, sizeof(c->peer), "%s:%u", host, (unsigned)port);
    sc_event *ev = sc_actor_push_event(a, SC_EV_CONNECT, c);
    if (!ev) {
        sc_conn_close(a, c, SC_LOG_ERROR, "out of memory asking for a connection");
        return NULL;
    }
    snprintf(ev->host, sizeof(ev->host), "%s", host);
    ev->port = port;
    if (sc_timer_add(a, a->now + limit, NULL, c) != SC_OK) {
        sc_conn_close(a, c, SC_LOG_ERROR, "out of memory arming a timer");
        return NULL;
    }
    return c;
}

static void start_outbound(sc_actor *a, sc_conn_role role)
{
    double limit = role == SC_ROLE_UNREGISTER ? UNREGISTER_TIMEOUT : REGISTER_TIMEOUT;
    sc_conn_open_outbound(a, role, a->registry_host, a->cfg.registry_port, limit);
}

void sc_actor_register(sc_actor *a)
{
    start_outbound(a, SC_ROLE_REGISTER);
}

int sc_actor_start(sc_actor *a, double now)
{
    a->now = now;
    if (a->cfg.parent_host) {
        /* A child registers only once its init map names the registry. */
        sc_child_start(a);
        sc_actor_settle(a);
        return SC_OK;
    }
    if (a->cfg.registry_role) {
        sc_err err;
        sc_str host = { a->listen_host, strlen(a->listen_host) };
        if (sc_registry_put(&a->registry, &a->uid, host, a->cfg.listen_port, NULL, &err) != SC_OK)
            return err.code;
    }
    /* Like a tractor root: first a connect-and-drop probe of the registry,
     * then the registration over a fresh connection once the probe ends. */
    if (a->registry_host)
        start_outbound(a, SC_ROLE_PROBE);
    sc_actor_settle(a);
    return SC_OK;
}

static int send_registry_call(sc_actor *a, sc_conn *c)
{
    char cid[37];
    sc_uuid4(a, cid);
    snprintf(c->call_cid, sizeof(c->call_cid), "%s", cid);
    sc_str cids = { c->call_cid, 36 };
    int reg = c->role == SC_ROLE_REGISTER;
    sc_err err;
    msgpack_packer *pk = sc_chan_begin(&c->chan, &err);
    if (!pk)
        return sc_conn_send_failed(a, c, err.code, &err);
    int prc = sc_pack_cmd_begin(pk, SC_STR("self"),
                                reg ? SC_STR("register_actor") : SC_STR("unregister_actor"));
    prc = prc ? prc : msgpack_pack_map(pk, reg ? 2 : 1);
    prc = prc ? prc : sc_pack_cstr(pk, "uid");
    prc = prc ? prc : sc_pack_uid(pk, &a->uid);
    if (reg) {
        prc = prc ? prc : sc_pack_cstr(pk, "sockaddr");
        prc = prc ? prc : msgpack_pack_array(pk, 2);
        prc = prc ? prc : sc_pack_cstr(pk, a->listen_host);
        prc = prc ? prc : msgpack_pack_unsigned_short(pk, a->cfg.listen_port);
    }
    prc = prc ? prc : sc_pack_cmd_end(pk, &a->uid, cids);
    int rc = sc_chan_end(&c->chan, prc, &err);
    if (rc != SC_OK)
        return sc_conn_send_failed(a, c, rc, &err);
    c->call_state = 1;
    sc_conn_sent(a, c);
    return SC_OK;
}

static void registry_call_done(sc_actor *a, sc_conn *c, const char *outcome)
{
    const char *what = c->role == SC_ROLE_REGISTER ? "register" : "unregister";
    sc_log(a, outcome ? SC_LOG_ERROR : SC_LOG_RUNTIME, "%s with the registry at %s:%u: %s", what,
           a->registry_host, a->cfg.registry_port, outcome ? outcome : "done");
    c->call_state = 0;
    /* A side that opened a connection ends it with nil (CAN-4), although
     * tractor's discovery connections just close. */
    sc_err err;
    if (sc_chan_send_nil(&c->chan, &err) == SC_OK)
        sc_conn_sent(a, c);
    sc_conn_close(a, c, SC_LOG_TRANSPORT, "registry call finished");
}

void sc_actor_conn_connected(sc_actor *a, sc_conn_id id, double now)
{
    a->now = now;
    sc_conn *c = conn_get(a, id);
    if (!c || c->closing)
        return;
    c->connecting = 0;
    if (c->role == SC_ROLE_PROBE)
        sc_conn_close(a, c, SC_LOG_TRANSPORT, "registry probe done");
    else
        send_own_uid(a, c);
    sc_actor_settle(a);
}

void sc_actor_conn_connect_failed(sc_actor *a, sc_conn_id id, const char *why, double now)
{
    a->now = now;
    sc_conn *c = conn_get(a, id);
    if (!c || c->closing)
        return;
    char text[256];
    if (c->role == SC_ROLE_PARENT)
        snprintf(text, sizeof(text), "Failed to connect to parent @ %s:%u: %s",
                 a->cfg.parent_host, a->cfg.parent_port, why);
    else if (c->role == SC_ROLE_CALLER)
        snprintf(text, sizeof(text), "cannot connect to the callee: %s", why);
    else
        snprintf(text, sizeof(text), "cannot connect to the registry at %s:%u: %s",
                 a->registry_host, a->cfg.registry_port, why);
    if (c->role == SC_ROLE_PROBE)
        c->role = SC_ROLE_PEER; /* so that release does not go on to register */
    sc_conn_close(a, c, SC_LOG_ERROR, text);
    sc_actor_settle(a);
}

/* ---- shutdown ---------------------------------------------------------------- */

void sc_actor_cancel_all_tasks(sc_actor *a)
{
    for (size_t i = 0; i < a->nconns_slots; i++) {
        sc_conn *c = a->conns[i];
        while (c && c->tasks)
            sc_task_cancel(a, c->tasks);
    }
}

/* The exit waits for the unregister call and for every child to be reaped
 * (SUP-13); the channels of children that are gone close first. */
static void exit_if_done(sc_actor *a)
{
    if (!a->shutting_down || a->exit_pending)
        return;
    for (size_t i = 0; i < a->nconns_slots; i++)
        if (a->conns[i] && a->conns[i]->role == SC_ROLE_UNREGISTER)
            return;
    if (sc_nursery_live(a) > 0)
        return;
    for (size_t i = 0; i < a->nconns_slots; i++) {
        sc_conn *c = a->conns[i];
        if (!c || c->closing)
            continue;
        sc_err err;
        if (c->chan.state == SC_CHAN_OPEN && !c->peer_eof && sc_chan_send_nil(&c->chan, &err) == SC_OK)
            sc_conn_sent(a, c);
        sc_conn_close(a, c, SC_LOG_CANCEL, "the actor is exiting");
    }
    a->exit_pending = 1;
    sc_actor_push_event(a, SC_EV_EXIT, NULL);
}

void sc_actor_begin_shutdown(sc_actor *a, int status)
{
    if (a->shutting_down)
        return;
    a->shutting_down = 1;
    a->exit_status = status;
    sc_log(a, SC_LOG_CANCEL, "actor %s is shutting down", a->name);
    sc_actor_push_event(a, SC_EV_STOP_LISTEN, NULL);
    for (size_t i = 0; i < a->nconns_slots; i++) {
        sc_conn *c = a->conns[i];
        if (!c || c->closing)
            continue;
        /* A child's channel stays for self.cancel and its answer. */
        if (c->role == SC_ROLE_CHILD && c->child && !c->child->exited)
            continue;
        /* Channels that are up learn of the end from the nil sentinel. */
        sc_err err;
        if (c->chan.state == SC_CHAN_OPEN && !c->peer_eof && sc_chan_send_nil(&c->chan, &err) == SC_OK)
            sc_conn_sent(a, c);
        sc_conn_close(a, c, SC_LOG_CANCEL, "the actor is shutting down");
    }
    sc_nursery_shutdown(a);
    /* A child whose init map named no registry never registered. */
    if (a->registry_host && a->cfg.registry_port &&
        (!a->cfg.parent_host || a->child_phase >= SC_CHILD_PHASE_REGISTERING))
        start_outbound(a, SC_ROLE_UNREGISTER);
    exit_if_done(a);
}

int sc_actor_shutdown(sc_actor *a, double now)
{
    a->now = now;
    if (a->stubborn_sigterm) {
        sc_log(a, SC_LOG_WARNING, "ignoring the shutdown signal (spawn_stubborn)");
        return 0;
    }
    sc_actor_cancel_all_tasks(a);
    sc_actor_begin_shutdown(a, 0);
    sc_actor_settle(a);
    return 1;
}

/* ---- the message loop ---------------------------------------------------------- */

/* Under total pressure, the connections that still have output to take
 * are not read: the bytes held are theirs to drain first. */
static int conn_wants_input(const sc_actor *a, const sc_conn *c)
{
    return !c->closing && !c->connecting && !c->peer_eof && !c->paused_park && !c->held &&
           sc_chan_output_size(&c->chan) < a->cfg.limits.max_outbuf &&
           !(c->out_counted > 0 && total_pressed(a));
}

static int park_spent(const sc_actor *a, const sc_conn *c)
{
    return c->parked_msgs >= a->cfg.limits.park_max_msgs ||
           c->parked_bytes >= a->cfg.limits.park_max_bytes;
}

static void send_overrun(sc_actor *a, sc_conn *c, sc_task *t)
{
    char local[160], remote[160], text[600];
    sc_uid_repr(&a->uid, local, sizeof(local));
    sc_uid_repr(&c->chan.peer, remote, sizeof(remote));
    snprintf(text, sizeof(text), "Task context stream was overrun\n%s%s%slocal task: %.*s @ %s\nremote sender: %s",
             t->ctx.stream_open ? "" : "\n*** No stream open on `",
             t->ctx.stream_open ? "" : a->name, t->ctx.stream_open ? "" : "` side! ***\n\n",
             (int)t->ctx.cid.len, t->ctx.cid.ptr, local, remote);
    a->overruns++;
    sc_send_error_text(a, c, t->ctx.cid, "StreamOverrun", "tractor._exceptions.StreamOverrun",
                       "push_result", text);
}

static void route_to_task(sc_actor *a, sc_conn *c, sc_task *t, const sc_msg *m)
{
    if (m->kind == SC_MSG_ERROR) {
        /* An error always reaches its context, full buffer or not. */
        sc_log(a, SC_LOG_ERROR, "remote error for %s.%s cid %.*s: %.*s", t->fn->ns, t->fn->name,
               (int)m->cid.len, m->cid.ptr, (int)m->type_str.len, m->type_str.ptr);
        if (t->fn->functype == SC_FT_CONTEXT) {
            char uid[160];
            sc_uid_repr(&c->chan.peer, uid, sizeof(uid));
            sc_task_hold(t);
            sc_task_send_error(a, t, "RemoteActorError", "tractor._exceptions.RemoteActorError",
                               "%s\n%.*s", uid, (int)(m->tb_str.len > 800 ? 800 : m->tb_str.len),
                               m->tb_str.ptr);
            sc_task_finish(a, t);
            sc_task_release(t);
        }
        return;
    }
    sc_push_outcome outcome;
    size_t bytes;
    sc_err err;
    size_t before = sc_ctx_queued_bytes(&t->ctx);
    if (sc_ctx_push(&t->ctx, m->kind, m->kind == SC_MSG_STOP ? NULL : m->value, &outcome, &bytes,
                    &err) != SC_OK) {
        sc_conn_close(a, c, SC_LOG_ERROR, err.msg);
        return;
    }
    if (outcome == SC_PUSH_OVERRUN) {
        send_overrun(a, c, t);
        return;
    }
    /* What waits in the queue is on the sender's account (budget.h). */
    size_t queued = sc_ctx_queued_bytes(&t->ctx) - before;
    int rc = sc_budget_take(a, c, queued, &err);
    if (rc == SC_OK && sc_budget_queue_note(a, t, c, queued, &err) != SC_OK) {
        sc_budget_give(a, c->id, c->serial, queued);
        rc = SC_ENOMEM;
    }
    if (rc != SC_OK) {
        sc_ctx_drop_last(&t->ctx, before);
        sc_conn_warn(a, c, "refusing a %s for %.*s on connection %u (%s): %s",
               sc_msg_kind_name(m->kind), (int)(t->ctx.cid.len > 64 ? 64 : t->ctx.cid.len),
               t->ctx.cid.ptr, c->id, c->peer, err.msg);
        send_overrun(a, c, t);
        return;
    }
    if (outcome == SC_PUSH_PARKED) {
        /* Parked on the sender's budget, even when it is another channel
         * with the peer's uid (CID-4): only the sender stops reading. */
        c->parked_msgs++;
        c->parked_bytes += bytes;
        if (park_spent(a, c)) {
            c->paused_park = 1;
            sc_conn_kick(a, c);
        }
        return;
    }
    sc_task_step(a, t);
}

void sc_park_release(sc_actor *a, sc_conn *c, unsigned msgs, size_t bytes)
{
    int was_spent = park_spent(a, c);
    c->parked_msgs -= msgs;
    c->parked_bytes -= bytes;
    if (!was_spent || park_spent(a, c) || !c->paused_park)
        return;
    c->paused_park = 0;
    a->input_resumable = 1;
    if (!c->closing)
        sc_conn_kick(a, c);
}

static void handle_call_reply(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    if (m->kind == SC_MSG_FUNCTYPE && c->call_state == 1) {
        c->call_state = 2;
    } else if (m->kind == SC_MSG_RETURN) {
        registry_call_done(a, c, NULL);
    } else if (m->kind == SC_MSG_ERROR) {
        char text[300];
        snprintf(text, sizeof(text), "the registry answered %.*s", (int)m->type_str.len,
                 m->type_str.ptr);
        registry_call_done(a, c, text);
    } else {
        registry_call_done(a, c, "the registry answered out of sequence");
    }
}

static void dispatch_cmd(sc_actor *a, sc_conn *c, const sc_msg *m)
{
    if (sc_ctx_find(&a->contexts, &c->chan.peer, m->cid)) {
        sc_send_error_text(a, c, m->cid, "MessagingError", "tractor._exceptions.MessagingError",
                           "dispatch", "cid is already in use by a live context of this peer");
        return;
    }
    const sc_function *fn;
    if (sc_str_eq_c(m->ns, "self")) {
        fn = sc_self_dispatch(a, c, m);
        if (!fn)
            return;
    } else {
        int ns_known = 0;
        fn = a->service_exposed ? sc_service_lookup(m->ns, m->func, &ns_known) : NULL;
        if (!fn) {
            char text[300];
            int nl = (int)(m->ns.len > 100 ? 100 : m->ns.len);
            if (!ns_known) {
                snprintf(text, sizeof(text), "%.*s", nl, m->ns.ptr);
                sc_send_error_text(a, c, m->cid, "ModuleNotExposed",
                                   "tractor._exceptions.ModuleNotExposed", "dispatch", text);
            } else {
                snprintf(text, sizeof(text), "module '%.*s' has no attribute '%.*s'", nl, m->ns.ptr,
                         (int)(m->func.len > 100 ? 100 : m->func.len), m->func.ptr);
                sc_send_error_text(a, c, m->cid, "AttributeError", "AttributeError", "dispatch", text);
            }
            return;
        }
    }
    if (c->ntasks >= a->cfg.limits.max_contexts) {
        char text[120];
        snprintf(text, sizeof(text), "this channel already has %u live contexts (the limit)",
                 c->ntasks);
        sc_conn_warn(a, c, "refusing a command on connection %u (%s): %s", c->id, c->peer,
               text);
        sc_send_error_text(a, c, m->cid, "TooManyContexts", "TooManyContexts", "dispatch", text);
        return;
    }
    sc_task *t;
    sc_err err;
    if (sc_task_new(a, c, fn, m->cid, &t, &err) != SC_OK) {
        sc_send_error_text(a, c, m->cid, "MemoryError", "MemoryError", "dispatch", err.msg);
        return;
    }
    /* A reply that cannot be sent closes the channel, which frees its
     * tasks: hold this one until we are done with it (sc_task_hold). */
    sc_task_hold(t);
    int rc = fn->start(a, t, m->kwargs, &err);
    if (rc != SC_OK) {
        sc_send_error_text(a, c, m->cid, rc == SC_EARG ? "TypeError" : "MemoryError",
                           rc == SC_EARG ? "TypeError" : "MemoryError", "dispatch", err.msg);
        sc_task_free(a, t);
        sc_task_release(t);
        return;
    }
    rc = sc_chan_send_functype(&c->chan, m->cid, fn->functype, &err);
    if (rc != SC_OK) {
        sc_conn_send_failed(a, c, rc, &err);
        sc_task_release(t);
        return;
    }
    sc_conn_sent(a, c);
    sc_log(a, SC_LOG_RUNTIME, "started %s.%s cid %.*s", fn->ns, fn->name, (int)m->cid.len,
           m->cid.ptr);
    sc_task_step(a, t);
    sc_task_release(t);
}

static void handle_msg(sc_actor *a, sc_conn *c, const sc_chan_event *ev)
{
    const sc_msg *m = &ev->msg;
    a->msgs_in++;
    c->last_msg = a->now;
    switch (ev->parse_rc) {
    case SC_OK:
        break;
    case SC_EMSG_DROP:
        a->dropped++;
        sc_conn_warn(a, c, "dropping a message on connection %u (%s): %s", c->id, c->peer,
               ev->parse_err.msg);
        return;
    case SC_EMSG_REPLY:
        a->dropped++;
        sc_send_error_text(a, c, m->cid, "MessagingError", "tractor._exceptions.MessagingError",
                           "dispatch", ev->parse_err.msg);
        return;
    default:
        a->dropped++;
        sc_conn_close(a, c, SC_LOG_WARNING, ev->parse_err.msg);
        return;
    }
    if (c->role == SC_ROLE_CHILD && m->kind != SC_MSG_NIL && m->kind != SC_MSG_CMD &&
        sc_nursery_child_msg(a, c, m))
        return;
    switch (m->kind) {
    case SC_MSG_NIL: {
        /* The peer ends the channel: its tasks go, we answer nil and close. */
        sc_err err;
        if (c->role == SC_ROLE_PARENT)
            a->parent_nil = 1;
        conn_drop_tasks(a, c);
        if (sc_chan_send_nil(&c->chan, &err) == SC_OK)
            sc_conn_sent(a, c);
        sc_conn_close(a, c, SC_LOG_RUNTIME, "the peer sent the terminate message (nil)");
        return;
    }
    case SC_MSG_CMD:
        dispatch_cmd(a, c, m);
        return;
    case SC_MSG_ACTOR_ERROR:
        sc_log(a, SC_LOG_ERROR, "the peer on connection %u (%s) reports an actor failure: %.*s: %.*s",
               c->id, c->peer, (int)m->type_str.len, m->type_str.ptr,
               (int)(m->tb_str.len > 600 ? 600 : m->tb_str.len), m->tb_str.ptr);
        return;
    default:
        break;
    }
    if (c->role == SC_ROLE_CALLER && sc_ctxcall_msg(a, c, m))
        return;
    if (c->call_state && sc_str_eq_c(m->cid, c->call_cid)) {
        handle_call_reply(a, c, m);
        return;
    }
    sc_ctx *x = sc_ctx_find(&a->contexts, &c->chan.peer, m->cid);
    if (!x) {
        a->dropped++;
        sc_conn_warn(a, c,
               "ignoring %s for unknown or finished context %.*s on connection %u (%s)",
               sc_msg_kind_name(m->kind), (int)(m->cid.len > 64 ? 64 : m->cid.len), m->cid.ptr,
               c->id, c->peer);
        return;
    }
    route_to_task(a, c, (sc_task *)x, m);
}

/* ---- idle and slow peers (LIM-22, LIM-24) ---------------------------------------------- */

/* After the handshake, an accepted connection's timer watches for the
 * sooner of: no whole message for idle_timeout, and an unfinished message
 * older than message_timeout.  It is moved only when a new partial message
 * makes it due sooner; otherwise it fires and looks again, so that a busy
 * connection costs nothing per message. */
static double watch_deadline(const sc_actor *a, const sc_conn *c)
{
    const sc_limits *l = &a->cfg.limits;
    double d = l->idle_timeout > 0 ? c->last_msg + l->idle_timeout : -1.0;
    if (c->partial_since > 0 && l->message_timeout > 0) {
        double m = c->partial_since + l->message_timeout;
        if (d < 0 || m < d)
            d = m;
    }
    return d;
}

static void arm_watch(sc_actor *a, sc_conn *c)
{
    double d = watch_deadline(a, c);
    if (d < 0 || (c->hs_timer >= 0 && c->hs_deadline <= d))
        return;
    if (c->hs_timer >= 0)
        sc_timer_remove(a, c->hs_timer);
    c->hs_deadline = d;
    if (sc_timer_add(a, d, NULL, c) != SC_OK)
        sc_conn_close(a, c, SC_LOG_ERROR, "out of memory arming the connection's timer");
}

static void watch_fired(sc_actor *a, sc_conn *c)
{
    const sc_limits *l = &a->cfg.limits;
    char text[120];
    if (c->partial_since > 0 && l->message_timeout > 0 &&
        a->now >= c->partial_since + l->message_timeout) {
        snprintf(text, sizeof(text), "a message begun %g s ago is still unfinished (the message "
                 "timeout)", a->now - c->partial_since);
        sc_conn_close(a, c, SC_LOG_WARNING, text);
    } else if (l->idle_timeout > 0 && a->now >= c->last_msg + l->idle_timeout) {
        snprintf(text, sizeof(text), "no message for %g s (the idle timeout)", a->now - c->last_msg);
        sc_conn_close(a, c, SC_LOG_WARNING, text);
    } else {
        arm_watch(a, c);
    }
}

/* An accepted channel now holds part of a message it waits for, or not. */
static void note_partial(sc_actor *a, sc_conn *c)
{
    if (c->role != SC_ROLE_PEER || c->chan.state == SC_CHAN_HANDSHAKE || c->closing)
        return;
    if (sc_chan_input_pending(&c->chan) == 0 || !conn_wants_input(a, c)) {
        c->partial_since = 0;
    } else if (c->partial_since == 0) {
        c->partial_since = a->now;
        arm_watch(a, c);
    }
}

static void conn_process(sc_actor *a, sc_conn *c)
{
    while (conn_wants_input(a, c)) {
        sc_chan_event ev;
        sc_err err;
        int rc = sc_chan_next(&c->chan, &ev, &err);
        if (rc == SC_AGAIN)
            break;
        if (rc != SC_OK) {
            sc_conn_close(a, c, SC_LOG_WARNING, err.msg);
            break;
        }
        if (ev.kind == SC_CHAN_EV_HANDSHAKE) {
            char uid[160];
            sc_uid_repr(&c->chan.peer, uid, sizeof(uid));
            sc_log(a, SC_LOG_RUNTIME, "handshake done with %s on connection %u", uid, c->id);
            /* A registry call's timer, armed when it started, runs on, and
             * so does a child's: it bounds the wait for the init map. */
            if (c->role == SC_ROLE_REGISTER || c->role == SC_ROLE_UNREGISTER) {
                send_registry_call(a, c);
            } else if (c->role == SC_ROLE_PARENT) {
                a->child_phase = SC_CHILD_PHASE_INIT;
            } else if (c->role == SC_ROLE_CALLER) {
                sc_ctxcall_handshake(a, c);   /* its timer bounds the way to `started` */
            } else {
                if (c->hs_timer >= 0)
                    sc_timer_remove(a, c->hs_timer);
                c->last_msg = a->now;
                if (c->role == SC_ROLE_PEER)
                    arm_watch(a, c);
                sc_nursery_claim(a, c);
            }
            continue;
        }
        if (c->role == SC_ROLE_PARENT && a->child_phase == SC_CHILD_PHASE_INIT) {
            /* Exactly one init map, first, on this channel only (SUP-2, SUP-4). */
            a->msgs_in++;
            sc_child_take_init(a, c, &ev.obj);
            continue;
        }
        handle_msg(a, c, &ev);
    }
    sc_conn_kick(a, c);
}

void sc_conn_resume(sc_actor *a, sc_conn *c)
{
    if (conn_wants_input(a, c) && sc_chan_input_pending(&c->chan))
        conn_process(a, c);
    else
        sc_conn_kick(a, c);
}

/* Channels that sc_park_release let read again may already hold whole
 * messages in their input, and no read event will bring those up: take
 * them now.  Called at the end of the entry points that can free parking
 * budget (a task's step, end or cancellation). */
static void resume_input(sc_actor *a)
{
    while (a->input_resumable) {
        a->input_resumable = 0;
        for (size_t i = 0; i < a->nconns_slots; i++) {
            sc_conn *c = a->conns[i];
            if (c && conn_wants_input(a, c) && sc_chan_input_pending(&c->chan))
                conn_process(a, c);
        }
    }
}

void sc_actor_settle(sc_actor *a)
{
    if ((a->parent_lost || a->crash_pending) && !a->shutting_down) {
        sc_actor_cancel_all_tasks(a);
        sc_actor_begin_shutdown(a, a->crash_pending || !a->parent_nil ? 1 : 0);
    }
    sc_nursery_sweep(a);
    exit_if_done(a);
    if (total_pressed(a)) {
        a->pressed = 1;
    } else if (a->pressed) {
        /* The pressure is over: every connection paused by it reads again. */
        a->pressed = 0;
        a->input_resumable = 1;
        for (size_t i = 0; i < a->nconns_slots; i++)
            if (a->conns[i] && !a->conns[i]->closing)
                sc_conn_kick(a, a->conns[i]);
    }
    resume_input(a);
}

void sc_actor_feed(sc_actor *a, sc_conn_id id, const char *data, size_t len, double now)
{
    a->now = now;
    sc_conn *c = conn_get(a, id);
    if (!c || c->closing)
        return;
    sc_err err;
    if (sc_chan_feed(&c->chan, data, len, &err) != SC_OK) {
        sc_conn_close(a, c, SC_LOG_WARNING, err.msg);
    } else {
        conn_process(a, c);
        note_partial(a, c);
    }
    sc_actor_settle(a);
}

static void conn_eof(sc_actor *a, sc_conn *c, int reset)
{
    c->peer_eof = 1;
    if (c->chan.state == SC_CHAN_HANDSHAKE && sc_chan_input_pending(&c->chan) == 0) {
        /* The quick connect-and-drop of a registry probe: normal, quiet. */
        sc_conn_close(a, c, SC_LOG_RUNTIME, reset ? "connection reset before the handshake"
                                                 : "connection closed before the handshake");
        return;
    }
    /* Messages already buffered are still handled, then the channel ends. */
    c->peer_eof = 0;
    c->paused_park = 0;
    conn_process(a, c);
    if (c->closing)
        return;
    c->peer_eof = 1;
    sc_err err;
    if (sc_chan_finish(&c->chan, &err) != SC_OK) {
        sc_conn_close(a, c, SC_LOG_WARNING, err.msg);
        return;
    }
    conn_drop_tasks(a, c);
    /* Like tractor, answer the end of the channel with nil (best effort). */
    if (!reset && c->chan.state == SC_CHAN_OPEN && sc_chan_send_nil(&c->chan, &err) == SC_OK)
        sc_conn_sent(a, c);
    sc_conn_close(a, c, SC_LOG_RUNTIME, reset ? "connection reset by the peer" : "the peer closed");
}

void sc_actor_conn_eof(sc_actor *a, sc_conn_id id, int reset, double now)
{
    a->now = now;
    sc_conn *c = conn_get(a, id);
    if (!c || c->closing)
        return;
    conn_eof(a, c, reset);
    sc_actor_settle(a);
}

void sc_actor_conn_output(sc_actor *a, sc_conn_id id, const char **data, size_t *len)
{
    sc_conn *c = conn_get(a, id);
    *data = c ? sc_buf_head(&c->chan.out) : NULL;
    *len = c ? sc_chan_output_size(&c->chan) : 0;
}

void sc_actor_conn_written(sc_actor *a, sc_conn_id id, size_t n, double now)
{
    a->now = now;
    sc_conn *c = conn_get(a, id);
    if (!c)
        return;
    sc_buf_consume(&c->chan.out, n);
    out_note(a, c);
    if (c->closing) {
        sc_actor_settle(a);
        return;
    }
    if (sc_conn_has_room(a, c)) {
        /* Wake producers that waited for room; a step may finish its task. */
        sc_task *t = c->tasks;
        while (t && sc_conn_has_room(a, c)) {
            sc_task *next = t->conn_next;
            if (t->want_room)
                sc_task_step(a, t);
            t = next;
        }
    }
    if (!c->closing && sc_chan_input_pending(&c->chan) && conn_wants_input(a, c))
        conn_process(a, c);
    else
        sc_conn_kick(a, c);
    sc_actor_settle(a);
}

void sc_actor_conn_interest(sc_actor *a, sc_conn_id id, int *want_read, int *want_write)
{
    sc_conn *c = conn_get(a, id);
    *want_read = c && conn_wants_input(a, c) &&
                 sc_chan_input_pending(&c->chan) <= a->cfg.limits.max_frame + 4;
    *want_write = c && (c->connecting || sc_chan_output_size(&c->chan) > 0);
}

void sc_actor_conn_release(sc_actor *a, sc_conn_id id)
{
    sc_conn *c = conn_get(a, id);
    if (!c)
        return;
    sc_conn_role role = c->role;
    conn_free(a, c);
    if (role == SC_ROLE_PROBE && !a->shutting_down)
        start_outbound(a, SC_ROLE_REGISTER);
    if (role == SC_ROLE_REGISTER)
        sc_child_registered(a);
    sc_actor_settle(a);
}

/* ---- time --------------------------------------------------------------------- */

/* LIM-9; the record names the limit's value (SVC-30). */
static void close_without_handshake(sc_actor *a, sc_conn *c)
{
    char text[96];
    snprintf(text, sizeof(text), "no handshake from the peer within the handshake timeout of %g s",
             a->cfg.limits.handshake_timeout);
    sc_conn_close(a, c, SC_LOG_WARNING, text);
}

void sc_conn_timeout(sc_actor *a, sc_conn *c)
{
    if (c->closing)
        return;
    if (c->connecting) {
        char text[80];
        snprintf(text, sizeof(text), "connecting to %s timed out", role_target(c->role));
        sc_conn_close(a, c, SC_LOG_ERROR, text);
    } else if (c->role == SC_ROLE_CALLER)
        sc_conn_close(a, c, SC_LOG_ERROR, "no handshake, functype and started from the callee in time");
    else if (c->role == SC_ROLE_PARENT)
        sc_conn_close(a, c, SC_LOG_ERROR, "no handshake and init map from the parent in time");
    else if (c->chan.state == SC_CHAN_HANDSHAKE)
        close_without_handshake(a, c);
    else if (c->role == SC_ROLE_PEER)
        watch_fired(a, c);
    else if (c->call_state)
        registry_call_done(a, c, "no answer in time");
}

void sc_actor_advance(sc_actor *a, double now)
{
    a->now = now;
    sc_timers_fire(a, now);
    sc_actor_settle(a);
}

double sc_actor_next_deadline(const sc_actor *a)
{
    return a->ntimers ? a->timers[0].deadline : -1.0;
}

void sc_actor_get_stats(const sc_actor *a, sc_actor_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->conns = a->nconns;
    st->contexts = (unsigned)a->contexts.count;
    st->registry_entries = (unsigned)a->registry.count;
    st->children = sc_nursery_live(a);
    st->msgs_in = a->msgs_in;
    st->msgs_out = a->msgs_out;
    st->overruns = a->overruns;
    st->dropped = a->dropped;
    for (size_t i = 0; i < a->nconns_slots; i++) {
        const sc_conn *c = a->conns[i];
        if (!c)
            continue;
        st->buffered_bytes += sc_chan_output_size(&c->chan) + sc_chan_input_pending(&c->chan);
        for (const sc_task *t = c->tasks; t; t = t->conn_next)
            st->buffered_bytes += sc_ctx_queued_bytes(&t->ctx);
    }
}
