/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_actor.c - structure-aware libFuzzer target for the whole sans-IO
 * actor (actor.h): the harness plays the glue and its peers.
 *
 * The input is a header and a list of typed operations, read from the front
 * (fuzz/README.md documents the format byte by byte; gen-corpus.py writes
 * it):
 *
 *   byte 0   flags: bit 0 codec (lenprefix), bit 1 registry_role, bit 2 a
 *            registry client (registry_host set: probe, register and
 *            unregister connections), bit 3 lazy release (closed
 *            connections stay until a DRAIN), bits 4-5 limit profile,
 *            bit 6 max_conns 3 (else 2), bit 7 log everything
 *   byte 1   seed of the actor's random callback
 *   then     operations: one byte op, a connection or child selector
 *            byte where the op needs one, then the op's operands.  Op bytes
 *            below 0xf0 are the peer and glue ops (op % 16); 0xf0-0xf7
 *            drive supervision (the scwire_service spawn functions, and the
 *            glue's reports on the child processes the actor asks for);
 *            0xf8-0xff call scwire_service.ctx_call and play the callee on
 *            the channel the actor opens for it.
 *
 * Bytes a peer sends are queued per connection and carried to the actor only
 * while sc_actor_conn_interest() says it wants to read, at most `chop` bytes
 * per sc_actor_feed (like the glue, like TCP).  Output is taken by DRAIN ops
 * and decoded with an sc_reader of the same codec.
 *
 * Checked after every operation: the connections the actor counts are the
 * ones its events announced; contexts <= conns * max_contexts; buffered
 * bytes under a bound computed from the limits; every output byte stream
 * decodes into whole, well-formed messages (the actor's uid first, then
 * maps or nil, every error with str tb_str and type_str, nothing after nil);
 * events only name known connections, CLOSE at most once per connection,
 * STOP_LISTEN and EXIT at most once; after ADVANCE no timer is overdue;
 * child ids fresh, children within max_children, every child the actor asked
 * for counted until the harness reported it gone, none left at EXIT; a
 * ctx_call's channel carries its context's cmd and at most a
 * _cancel_task for it, and is open only while its task lives; nothing is
 * open after EXIT.  An input that spawned children or made a ctx_call ends
 * with a shutdown in which every child exits and every connect fails: the
 * actor must then exit.  sc_actor_free at the end lets ASan find
 * leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "actor.h"
#include "codec.h"
#include "fuzz_common.h"
#include "msg.h"

#define MAXC 6                     /* slots a selector byte names (sel % MAXC) */
#define NSLOT 256                  /* harness slots: every ctx_call has its own channel, and one
                                    * feed can start and cancel more than a hundred of them */
#define PENDING_MAX (256u * 1024u) /* a peer's unsent bytes (its socket buffer) */
#define GEN_DEPTH 12
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_CHILDREN 3             /* the actor's max_children */
#define MAXCH 8                    /* child records: MAX_CHILDREN unreaped + ones still draining */
#define EPILOGUE_ROUNDS 16         /* rounds of the final shutdown before EXIT is due */

/* FUZZ_ACTOR_TRACE=1 in the environment prints every operation and the
 * actor's log lines to stderr, to read what a crash input does. */
static int trace;
#define TRACE(...) (trace ? fprintf(stderr, __VA_ARGS__) : 0)

static void trace_bytes(const char *what, const void *p, size_t n)
{
    if (!trace)
        return;
    fprintf(stderr, "    %s %zu bytes:", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        fprintf(stderr, " %02x", ((const uint8_t *)p)[i]);
    fprintf(stderr, n > 64 ? " ...\n" : "\n");
}

#define ACTOR_NAME "scwire-fuzz"
#define ACTOR_UUID "0f0e0d0c-0b0a-4908-8706-050403020100"
#define REG_HOST "127.0.0.1"
#define REG_PORT 1616

typedef struct bstr {
    const char *p;
    size_t n;
} bstr;
#define B(lit) { (lit), sizeof(lit) - 1 }

typedef struct hconn {
    int used;
    sc_conn_id id;
    int outbound;
    int connecting;
    int closing;        /* SC_EV_CLOSE seen */
    int eof_pending;    /* EOF after the queued input */
    size_t chop;        /* bytes per sc_actor_feed; 0 = up to SC_READ_CHUNK */
    sc_buf pending;     /* sent by the peer, not yet read by the actor */
    sc_reader *rd;      /* decodes the actor's output */
    unsigned long nmsgs;
    int nil_seen;
    int child;          /* 1 + index in world.ch of the child whose uid it sent, else 0;
                         * kept after the record is forgotten */
    char call_cid[3][40]; /* the actor's last calls to that child: run, spawn_info, self.cancel;
                           * on a callee's channel: the context, -, _cancel_task */
    int callee;         /* the outbound channel of a ctx_call (SVC-29); the harness is the callee */
} hconn;

/* A child process the actor asked for with SC_EV_SPAWN, as the glue sees it. */
typedef struct hchild {
    int used;
    uint32_t id;
    char name[72];
    char uuid[40];
    int started;        /* reported with sc_actor_child_spawned */
    int reaped;         /* reported exited, or failed to start */
    int slot;           /* the connection it opened back, -1 for none */
} hchild;

typedef struct world {
    sc_actor *a;
    sc_actor_config cfg;
    double now;
    hconn c[NSLOT];
    int exited;
    int stop_listen;
    int lazy_release;
    uint64_t rng;
    char call_cid[64];  /* cid of the last registry call seen in any output */
    size_t call_cid_len;
    size_t out_cap;
    size_t bound_per_conn;
    hchild ch[MAXCH];
    uint32_t last_child_id;
    int callees_seen;   /* a ctx_call asked for a channel */
} world;

/* ---- callbacks --------------------------------------------------------- */

static void cb_random(void *ud, uint8_t *out, size_t n)
{
    world *w = ud;
    for (size_t i = 0; i < n; i++) {
        w->rng ^= w->rng << 13;
        w->rng ^= w->rng >> 7;
        w->rng ^= w->rng << 17;
        out[i] = (uint8_t)(w->rng >> 24);
    }
}

static void cb_log(void *ud, int level, const char *line)
{
    (void)ud;
    TRACE("    log %d: %s\n", level, line);
    FZ_CHECK(level >= SC_LOG_TRANSPORT && level <= SC_LOG_CRITICAL, "log level %d", level);
    FZ_CHECK(strlen(line) < 1024, "log line of %zu bytes", strlen(line));
}

/* ---- limits -------------------------------------------------------------- */

static void limits_for(unsigned profile, unsigned max_conns, sc_limits *l)
{
    sc_limits_default(l);
    l->max_conns = max_conns;
    l->msg_buffer_size = 4;
    l->park_max_msgs = 8;
    switch (profile & 3) {
    case 0:
        l->max_frame = 4096;
        l->max_str = 2048;
        l->max_entries = 64;
        l->max_contexts = 4;
        l->handshake_timeout = 1.0;
        l->park_max_bytes = 1024;
        l->max_outbuf = 2048;
        break;
    case 1:
        l->max_frame = 512;
        l->max_depth = 8;
        l->max_str = 300;
        l->max_entries = 16;
        l->max_contexts = 2;
        l->handshake_timeout = 2.0;
        l->park_max_bytes = 512;
        l->max_outbuf = 256;
        break;
    case 2:
        l->max_frame = 160;
        l->max_depth = 6;
        l->max_str = 100;
        l->max_entries = 8;
        l->max_contexts = 3;
        l->handshake_timeout = 1.0;
        l->park_max_bytes = 200;
        l->max_outbuf = 160;
        break;
    case 3:
        l->max_frame = 65536;
        l->max_contexts = 8;
        l->handshake_timeout = 10.0;
        l->park_max_bytes = 8192;
        l->max_outbuf = 4096;
        break;
    }
    /* Hardening bounds small enough to be crossed by a few messages. */
    l->max_conn_bytes = 3 * l->max_frame + 2048;
    l->max_total_bytes = 2 * l->max_conn_bytes;
    l->message_timeout = 3 * l->handshake_timeout;
    l->idle_timeout = (profile & 3) == 1 ? 5.0 : 0.0;
}

/* ---- connections ---------------------------------------------------------- */

static int slot_of(const world *w, sc_conn_id id)
{
    for (int s = 0; s < NSLOT; s++)
        if (w->c[s].used && w->c[s].id == id)
            return s;
    return -1;
}

static int live_conns(const world *w)
{
    int n = 0;
    for (int s = 0; s < NSLOT; s++)
        n += w->c[s].used;
    return n;
}

/* Returns the slot. */
static int conn_add(world *w, sc_conn_id id, int outbound)
{
    int s = 0;
    while (s < NSLOT && w->c[s].used)
        s++;
    FZ_CHECK(s < NSLOT, "more than %d connections at once", NSLOT);
    hconn *h = &w->c[s];
    memset(h, 0, sizeof(*h));
    h->used = 1;
    h->id = id;
    h->outbound = outbound;
    h->connecting = outbound;
    sc_buf_init(&h->pending, 0);
    /* The actor's output must fit the actor's own frame limit; values may
     * be as deep as the input limits allowed. */
    sc_limits lim;
    sc_limits_default(&lim);
    lim.max_frame = w->cfg.limits.max_frame;
    lim.max_str = (uint32_t)w->cfg.limits.max_frame;
    lim.max_entries = (uint32_t)w->cfg.limits.max_frame;
    sc_err err;
    FZ_CHECK(sc_reader_new(w->cfg.codec, &lim, &h->rd, &err) == SC_OK, "reader: %s", err.msg);
    return s;
}

static void conn_forget(hconn *h)
{
    sc_reader_free(h->rd);
    sc_buf_free(&h->pending);
    memset(h, 0, sizeof(*h));
}

/* A selector byte names a slot; an empty one falls back to the first live
 * connection, so that inputs stay meaningful as connections come and go. */
static int pick(const world *w, uint8_t sel)
{
    int s = sel % MAXC;
    if (w->c[s].used)
        return s;
    for (s = 0; s < NSLOT; s++)
        if (w->c[s].used)
            return s;
    return -1;
}

/* ---- children -------------------------------------------------------------------- */

static int child_index(const world *w, uint32_t id)
{
    for (int k = 0; k < MAXCH; k++)
        if (w->ch[k].used && w->ch[k].id == id)
            return k;
    return -1;
}

static unsigned unreaped_children(const world *w)
{
    unsigned n = 0;
    for (int k = 0; k < MAXCH; k++)
        n += w->ch[k].used && !w->ch[k].reaped;
    return n;
}

static unsigned child_records(const world *w)
{
    unsigned n = 0;
    for (int k = 0; k < MAXCH; k++)
        n += w->ch[k].used;
    return n;
}

/* The connection slot child k is talking on, or -1. */
static int child_slot(const world *w, int k)
{
    int s = w->ch[k].slot;
    return s >= 0 && w->c[s].used && w->c[s].child == k + 1 ? s : -1;
}

/* A reaped child is forgotten once its channel is gone or closing: until
 * then the actor may still count it (draining its last replies). */
static void child_sweep(world *w)
{
    for (int k = 0; k < MAXCH; k++) {
        if (!w->ch[k].used || !w->ch[k].reaped)
            continue;
        int s = child_slot(w, k);
        if (s >= 0 && !w->c[s].closing)
            continue;
        /* The slot keeps its mark: what is left of its output is a
         * child's channel's (child_slot() ignores it from now on). */
        memset(&w->ch[k], 0, sizeof(w->ch[k]));
    }
}

static int valid_child_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int canonical_uuid4(const char *s)
{
    if (strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
        return 0;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void child_add(world *w, const sc_event *ev)
{
    FZ_CHECK(w->cfg.max_children > 0, "SC_EV_SPAWN with max_children 0");
    FZ_CHECK(ev->child > w->last_child_id, "child id %u after %u", ev->child, w->last_child_id);
    FZ_CHECK(valid_child_name(ev->name), "child name '%s'", ev->name);
    FZ_CHECK(canonical_uuid4(ev->uuid), "child uuid '%s'", ev->uuid);
    FZ_CHECK(strcmp(ev->host, "127.0.0.1") == 0 && ev->port == w->cfg.listen_port,
             "child told to connect to %s:%u", ev->host, ev->port);
    FZ_CHECK(unreaped_children(w) < MAX_CHILDREN, "a child past max_children %d", MAX_CHILDREN);
    int k = 0;
    while (k < MAXCH && w->ch[k].used)
        k++;
    FZ_CHECK(k < MAXCH, "more than %d child records", MAXCH);
    hchild *c = &w->ch[k];
    c->used = 1;
    c->id = ev->child;
    c->slot = -1;
    snprintf(c->name, sizeof(c->name), "%s", ev->name);
    snprintf(c->uuid, sizeof(c->uuid), "%s", ev->uuid);
    w->last_child_id = ev->child;
}

/* A selector byte names a child record; an empty one falls back to the
 * first, as for connections. */
static int pick_child(const world *w, uint8_t sel)
{
    int k = sel % MAXCH;
    if (w->ch[k].used)
        return k;
    for (k = 0; k < MAXCH; k++)
        if (w->ch[k].used)
            return k;
    return -1;
}

/* ---- the actor's output ------------------------------------------------------- */

/* On a ctx_call's channel the actor sends, as itself and on fresh cids, the
 * context's command right after its uid, then at most one
 * self._cancel_task for that context (SVC-29). */
static void check_callee_cmd(const hconn *h, const sc_msg *m)
{
    FZ_CHECK(sc_str_eq_c(m->caller.name, ACTOR_NAME) && sc_str_eq_c(m->caller.uuid, ACTOR_UUID),
             "ctx_call: a cmd with another caller uid");
    FZ_CHECK(m->cid.len == 36, "ctx_call: a cid of %zu bytes", m->cid.len);
    if (h->nmsgs == 2)
        return;
    const msgpack_object *cid = sc_map_get(m->kwargs, "cid");
    sc_str target;
    FZ_CHECK(!h->call_cid[2][0] && sc_str_eq_c(m->ns, "self") &&
                 sc_str_eq_c(m->func, "_cancel_task") && m->kwargs->via.map.size == 1 && cid &&
                 sc_obj_str(cid, &target) && sc_str_eq_c(target, h->call_cid[0]) &&
                 !sc_str_eq_c(m->cid, h->call_cid[0]),
             "ctx_call: %.*s.%.*s as message %lu of its channel", (int)m->ns.len, m->ns.ptr,
             (int)m->func.len, m->func.ptr, h->nmsgs);
}

static void check_out_msg(world *w, hconn *h, const sc_frame *fr)
{
    trace_bytes("actor sent", fr->raw, fr->raw_len);
    if (h->nmsgs++ == 0) {
        sc_uid uid;
        sc_err err;
        FZ_CHECK(sc_uid_parse(&fr->obj, &uid, &err) == SC_OK, "first message is not a uid: %s", err.msg);
        FZ_CHECK(fr->obj.via.array.size == 2, "uid of %u items", fr->obj.via.array.size);
        FZ_CHECK(sc_str_eq_c(uid.name, ACTOR_NAME) && sc_str_eq_c(uid.uuid, ACTOR_UUID),
                 "the actor sent another uid");
        return;
    }
    FZ_CHECK(!h->nil_seen, "conn %u: a message after nil", h->id);
    if (h->child && h->nmsgs == 2 && sc_map_get(&fr->obj, "enable_modules")) {
        /* The init map of a child that connected back (SUP-4). */
        static const char *const keys[] = { "_parent_main_data", "enable_modules", "_arb_addr",
                                             "bind_host", "bind_port", "_runtime_vars" };
        for (size_t i = 0; i < N(keys); i++)
            FZ_CHECK(sc_map_get(&fr->obj, keys[i]), "init map without %s", keys[i]);
        return;
    }
    sc_msg m;
    sc_err err;
    int rc = sc_msg_parse(&fr->obj, &m, &err);
    FZ_CHECK(rc == SC_OK, "conn %u: the actor sent a malformed message (%d): %s", h->id, rc, err.msg);
    switch (m.kind) {
    case SC_MSG_NIL:
        h->nil_seen = 1;
        return;
    case SC_MSG_ACTOR_ERROR:
        FZ_CHECK(0, "the actor sent an actor-level error");
        return;
    case SC_MSG_CMD:
        FZ_CHECK(h->outbound || h->child, "a cmd on an accepted connection that is no child's");
        FZ_CHECK(fr->obj.via.map.size == 1, "cmd with other keys");
        FZ_CHECK(m.cid.len < sizeof(w->call_cid), "call cid of %zu bytes", m.cid.len);
        memcpy(w->call_cid, m.cid.ptr, m.cid.len);
        w->call_cid_len = m.cid.len;
        if (h->callee)
            check_callee_cmd(h, &m);
        if (h->child || h->callee) {
            int which = sc_str_eq_c(m.func, "spawn_info")                                  ? 1
                        : sc_str_eq_c(m.func, "cancel") || sc_str_eq_c(m.func, "_cancel_task") ? 2
                                                                                             : 0;
            FZ_CHECK(m.cid.len < sizeof(h->call_cid[0]), "call cid of %zu bytes", m.cid.len);
            memcpy(h->call_cid[which], m.cid.ptr, m.cid.len);
            h->call_cid[which][m.cid.len] = '\0';
        }
        return;
    case SC_MSG_ERROR: {
        const msgpack_object *e = sc_map_get(&fr->obj, "error");
        const msgpack_object *tb = sc_map_get(e, "tb_str");
        const msgpack_object *ty = sc_map_get(e, "type_str");
        FZ_CHECK(tb && tb->type == MSGPACK_OBJECT_STR && ty && ty->type == MSGPACK_OBJECT_STR &&
                     ty->via.str.size > 0,
                 "error without str tb_str and type_str");
        FZ_CHECK(e->via.map.size == 2, "error map of %u keys", e->via.map.size);
        break;
    }
    default:
        break;
    }
    /* MSG-3: the kind key and cid, nothing else. */
    FZ_CHECK(fr->obj.via.map.size == 2, "%s message of %u keys", sc_msg_kind_name(m.kind),
             fr->obj.via.map.size);
}

static void take_output_bytes(world *w, hconn *h, const char *d, size_t n)
{
    while (n > 0) {
        size_t k = n < SC_READ_CHUNK ? n : SC_READ_CHUNK;
        FZ_CHECK(sc_reader_feed(h->rd, d, k) == SC_OK, "conn %u output: %s", h->id,
                 sc_reader_errstr(h->rd));
        d += k;
        n -= k;
        for (;;) {
            sc_frame fr;
            int rc = sc_reader_next(h->rd, &fr);
            if (rc == SC_AGAIN)
                break;
            FZ_CHECK(rc == SC_OK, "conn %u: the actor's output does not decode: %s", h->id,
                     sc_reader_errstr(h->rd));
            check_out_msg(w, h, &fr);
        }
    }
}

static void drain_events(world *w);

/* The peer reads up to max bytes of conn s's output. */
static void flush_output(world *w, int s, size_t max)
{
    hconn *h = &w->c[s];
    const char *d;
    size_t len;
    sc_actor_conn_output(w->a, h->id, &d, &len);
    FZ_CHECK(len <= w->out_cap, "conn %u holds %zu bytes of output, cap %zu", h->id, len, w->out_cap);
    size_t n = len < max ? len : max;
    if (n == 0)
        return;
    take_output_bytes(w, h, d, n);
    sc_actor_conn_written(w->a, h->id, n, w->now);
    drain_events(w);
}

/* The glue flushes a closed connection, closes it and releases the id. */
static void release(world *w, int s)
{
    hconn *h = &w->c[s];
    const char *d;
    size_t len;
    sc_actor_conn_output(w->a, h->id, &d, &len);
    take_output_bytes(w, h, d, len);
    sc_actor_conn_written(w->a, h->id, len, w->now);
    FZ_CHECK(sc_reader_finish(h->rd) == SC_OK, "conn %u output ends inside a message: %s", h->id,
             sc_reader_errstr(h->rd));
    sc_conn_id id = h->id;
    conn_forget(h);
    sc_actor_conn_release(w->a, id);
    drain_events(w);
}

static void release_closing(world *w)
{
    for (int s = 0; s < NSLOT; s++)
        if (w->c[s].used && w->c[s].closing)
            release(w, s), s = -1;
}

/* Closed connections go at once, or with lazy release at a DRAIN; the glue
 * may release them whenever it likes, and does so when they pile up (one
 * feed can start and end many ctx_call channels). */
static void release_due(world *w)
{
    if (!w->lazy_release || live_conns(w) > NSLOT / 2)
        release_closing(w);
}

static void drain_events(world *w)
{
    sc_event ev;
    while (sc_actor_next_event(w->a, &ev)) {
        int s = slot_of(w, ev.conn);
        TRACE("    event %d conn %u\n", (int)ev.kind, ev.conn);
        switch (ev.kind) {
        case SC_EV_IO:
            FZ_CHECK(s >= 0, "SC_EV_IO for unknown conn %u", ev.conn);
            break;
        case SC_EV_CONNECT: {
            FZ_CHECK(s < 0, "SC_EV_CONNECT for conn %u, which is already in use", ev.conn);
            FZ_CHECK(ev.conn != 0, "connection id 0");
            /* The registry client's calls, or a ctx_call's channel: the
             * ports of cc_fns never name the registry's address. */
            int callee = !(w->cfg.registry_host && strcmp(ev.host, REG_HOST) == 0 && ev.port == REG_PORT);
            FZ_CHECK(!callee || (ev.host[0] && ev.port != 0), "connect to '%s':%u", ev.host, ev.port);
            TRACE("    connect to %s:%u%s\n", ev.host, ev.port, callee ? " (ctx_call)" : "");
            w->c[conn_add(w, ev.conn, 1)].callee = callee;
            w->callees_seen |= callee;
            break;
        }
        case SC_EV_CLOSE:
            FZ_CHECK(s >= 0, "SC_EV_CLOSE for unknown conn %u", ev.conn);
            FZ_CHECK(!w->c[s].closing, "SC_EV_CLOSE twice for conn %u", ev.conn);
            w->c[s].closing = 1;
            break;
        case SC_EV_STOP_LISTEN:
            FZ_CHECK(!w->stop_listen, "SC_EV_STOP_LISTEN twice");
            w->stop_listen = 1;
            break;
        case SC_EV_SPAWN:
            TRACE("    spawn child %u ('%s', '%s')\n", ev.child, ev.name, ev.uuid);
            child_add(w, &ev);
            break;
        case SC_EV_SIGNAL: {
            int k = child_index(w, ev.child);
            TRACE("    signal %d to child %u\n", ev.status, ev.child);
            FZ_CHECK(k >= 0 && !w->ch[k].reaped, "SC_EV_SIGNAL for child %u, which is not running",
                     ev.child);
            FZ_CHECK(ev.status >= 1 && ev.status <= 64, "signal %d", ev.status);
            break;
        }
        case SC_EV_EXIT:
            FZ_CHECK(!w->exited, "SC_EV_EXIT twice");
            FZ_CHECK(unreaped_children(w) == 0, "SC_EV_EXIT with %u children not reaped",
                     unreaped_children(w));
            FZ_CHECK(w->stop_listen, "SC_EV_EXIT before SC_EV_STOP_LISTEN");
            FZ_CHECK(ev.status == 0, "exit status %d", ev.status);
            w->exited = 1;
            break;
        default:
            FZ_CHECK(0, "unknown event kind %d", (int)ev.kind);
        }
    }
}

/* Carry queued peer bytes (and EOF) to the actor while it wants to read. */
static void pump(world *w)
{
    int progress;
    do {
        progress = 0;
        for (int s = 0; s < NSLOT; s++) {
            hconn *h = &w->c[s];
            if (!h->used || h->closing || h->connecting)
                continue;
            int want_read, want_write;
            sc_actor_conn_interest(w->a, h->id, &want_read, &want_write);
            if (!want_read)
                continue;
            size_t pend = sc_buf_size(&h->pending);
            if (pend > 0) {
                /* Small pieces split small messages anywhere; for a big
                 * backlog they are scaled up so that one input cannot take
                 * tens of thousands of calls (fuzz_codec covers that). */
                size_t k = h->chop ? h->chop : SC_READ_CHUNK;
                if (k < pend / 256)
                    k = pend / 256;
                if (k > SC_READ_CHUNK)
                    k = SC_READ_CHUNK;
                if (k > pend)
                    k = pend;
                sc_actor_feed(w->a, h->id, sc_buf_head(&h->pending), k, w->now);
                sc_buf_consume(&h->pending, k);
                progress = 1;
            } else if (h->eof_pending) {
                h->eof_pending = 0;
                sc_actor_conn_eof(w->a, h->id, 0, w->now);
                progress = 1;
            }
            drain_events(w);
            release_due(w);
        }
    } while (progress);
}

static void check_world(world *w)
{
    const sc_limits *l = &w->cfg.limits;
    sc_actor_stats st;
    sc_actor_get_stats(w->a, &st);
    unsigned live = (unsigned)live_conns(w);
    FZ_CHECK(st.conns == live, "the actor has %u connections, its events announced %u", st.conns, live);
    unsigned outbound = 0, callees = 0, open_callees = 0, open = 0;
    for (int s = 0; s < NSLOT; s++) {
        const hconn *h = &w->c[s];
        outbound += h->used && h->outbound;
        callees += h->used && h->callee;
        open_callees += h->used && h->callee && !h->closing;
        open += h->used && !h->closing;
    }
    /* Accepting counts every connection; our registry calls come one at a
     * time, plus the unregister call at shutdown. */
    FZ_CHECK(live - outbound <= l->max_conns && outbound - callees <= 2,
             "%u accepted connections (limit %u) and %u outbound to the registry", live - outbound,
             l->max_conns, outbound - callees);
    /* A ctx_call's channel lives exactly as long as its task (SVC-29). */
    FZ_CHECK(open_callees <= st.contexts, "%u ctx_call channels open, %u tasks", open_callees,
             st.contexts);
    /* The exit closes everything: no task, channel or child is left. */
    FZ_CHECK(!w->exited || (st.contexts == 0 && open == 0),
             "%u contexts and %u connections not closed after the exit", st.contexts, open);
    child_sweep(w);
    unsigned unreaped = unreaped_children(w);
    FZ_CHECK(st.children >= unreaped && st.children <= child_records(w),
             "the actor counts %u children; %u are not reaped, %u may still drain", st.children,
             unreaped, child_records(w));
    FZ_CHECK(!w->exited || st.children == 0, "%u children after the exit", st.children);
    FZ_CHECK(st.contexts <= st.conns * l->max_contexts, "%u contexts on %u connections (max %u each)",
             st.contexts, st.conns, l->max_contexts);
    FZ_CHECK(st.buffered_bytes <= (size_t)st.conns * w->bound_per_conn,
             "%zu bytes buffered on %u connections, bound %zu each", st.buffered_bytes, st.conns,
             w->bound_per_conn);
    for (int s = 0; s < NSLOT; s++) {
        hconn *h = &w->c[s];
        if (!h->used)
            continue;
        const char *d;
        size_t len;
        int want_read, want_write;
        sc_actor_conn_output(w->a, h->id, &d, &len);
        sc_actor_conn_interest(w->a, h->id, &want_read, &want_write);
        FZ_CHECK(len <= w->out_cap, "conn %u holds %zu bytes of output", h->id, len);
        if (!h->closing)
            FZ_CHECK(want_write == (h->connecting || len > 0), "conn %u: want_write %d with %zu bytes",
                     h->id, want_write, len);
        if (h->closing || h->connecting)
            FZ_CHECK(!want_read, "conn %u wants to read while %s", h->id,
                     h->closing ? "closed" : "connecting");
    }
}

/* ---- message grammar ------------------------------------------------------------ */

static const bstr names[] = { B("client"), B("a"), B(""), B("a\0b"), B(ACTOR_NAME), B("\xc3\xa9") };
static const bstr uuids[] = { B(ACTOR_UUID), B("u1"), B(""), B("4b1d0a2e-8c1f-4e27-9d3a-6f0b5c7e2a19") };
static const bstr cids[] = {
    B("c0"), B("c1"), B("c2"), B("8f2b6c1e-6d3a-4b8e-9a51-3c2d7e0f1a2b"), B(""),
    B("cid-that-is-rather-long-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789"),
    B("c\0"),
};
#define NCIDS (sizeof(cids) / sizeof(cids[0]))
static const bstr words[] = { B("cmd"),    B("cid"),   B("yield"),  B("stop"),   B("return"),
                              B("error"),  B("value"), B("n"),      B("tb_str"), B("type_str"),
                              B("started"), B("functype"), B("self"), B("asyncgen"), B("x"),
                              B("\xf0\x9f\x98\x80") };
static const bstr type_strs[] = {
    B("ValueError"), B("KeyError"), B(""), B("a.b"), B("RuntimeError"),
    B("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
};
static const bstr hosts[] = { B("127.0.0.1"), B(""), B("h\0x"), B("::1") };
/* ctx_call hosts: the glue takes up to 63 bytes (SC_EV_CONNECT's host). */
static const bstr cc_hosts[] = {
    B("127.0.0.1"), B("::1"), B("callee.example"), B(""), B("h\0x"),
    B("hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"),
    B("hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"),
};
/* Names given to spawn functions: valid ones that repeat, so that calls meet
 * the same child, and invalid ones. */
static const bstr child_names[] = {
    B("w0"), B("w1"), B("w2"), B("w0"), B("a.b-C_9"), B(""), B("bad name"),
    B("wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"),
};
static const bstr child_nss[] = { B("scwire_service"), B("self"), B("") };
static const bstr child_funcs[] = { B("echo"), B("sleep_forever"), B("raise_error"), B("spawn_crash"),
                                    B("spawn_stubborn"), B("cancel") };

static char big[65536 + 256];
static int big_ok; /* limit profile 3: messages of 64 KiB are allowed */

static void pack_b(msgpack_packer *pk, bstr s)
{
    msgpack_pack_str(pk, s.n);
    if (s.n)
        msgpack_pack_str_body(pk, s.p, s.n);
}

static void pack_c(msgpack_packer *pk, const char *s)
{
    pack_b(pk, (bstr){ s, strlen(s) });
}

static bstr pick_cid(world *w, uint8_t v)
{
    if (v % (NCIDS + 1) == NCIDS)
        return w->call_cid_len ? (bstr){ w->call_cid, w->call_cid_len } : cids[0];
    return cids[v % (NCIDS + 1)];
}

/* Printable ASCII from input bytes: always valid UTF-8. */
static void pack_input_str(fdp *f, msgpack_packer *pk, size_t max)
{
    const uint8_t *p;
    size_t n = fdp_bytes(f, fdp_u8(f) % (max + 1), &p);
    char tmp[256];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (char)(0x20 + p[i] % 0x5f);
    pack_b(pk, (bstr){ tmp, n });
}

static void gen_value(fdp *f, msgpack_packer *pk, int depth)
{
    uint8_t t = fdp_u8(f) % 16;
    if (depth >= GEN_DEPTH && (t == 11 || t == 12 || t == 14))
        t = 0;
    switch (t) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: msgpack_pack_true(pk); break;
    case 2: msgpack_pack_false(pk); break;
    case 3: msgpack_pack_uint64(pk, fdp_u8(f) & 0x7f); break;
    case 4: msgpack_pack_int64(pk, (int64_t)fdp_u64(f)); break;
    case 5: msgpack_pack_int64(pk, -(int64_t)fdp_u8(f) - 1); break;
    case 6: {
        uint64_t bits = fdp_u64(f);
        double d;
        memcpy(&d, &bits, sizeof(d));
        msgpack_pack_double(pk, d);
        break;
    }
    case 7: {
        uint32_t bits = (uint32_t)fdp_u16(f) | (uint32_t)fdp_u16(f) << 16;
        float x;
        memcpy(&x, &bits, sizeof(x));
        msgpack_pack_float(pk, x);
        break;
    }
    case 8: pack_input_str(f, pk, 31); break;
    case 9: pack_b(pk, words[fdp_u8(f) % N(words)]); break;
    case 10: {
        const uint8_t *p;
        size_t n = fdp_bytes(f, fdp_u8(f) % 32, &p);
        msgpack_pack_bin(pk, n);
        if (n)
            msgpack_pack_bin_body(pk, p, n);
        break;
    }
    case 11: {
        unsigned n = fdp_u8(f) % 5;
        msgpack_pack_array(pk, n);
        for (unsigned i = 0; i < n; i++)
            gen_value(f, pk, depth + 1);
        break;
    }
    case 12: {
        unsigned n = fdp_u8(f) % 4;
        msgpack_pack_map(pk, n);
        for (unsigned i = 0; i < n; i++) {
            uint8_t k = fdp_u8(f);
            if (k & 1)
                gen_value(f, pk, depth + 1);
            else
                pack_b(pk, words[(k >> 1) % N(words)]);
            gen_value(f, pk, depth + 1);
        }
        break;
    }
    case 13: {
        /* A long str: up to 4 KiB, or (bit 15, profile 3 only) about
         * 64 KiB, around that profile's frame limit.  Big buffers cost page
         * faults, so they are kept to where they test something. */
        uint16_t v = fdp_u16(f);
        size_t n = (v & 0x8000) && big_ok ? 65536 - 64 + (v & 0x7f) : (v & 0x0fff);
        msgpack_pack_str(pk, n);
        if (n)
            msgpack_pack_str_body(pk, big, n);
        break;
    }
    case 14: {
        unsigned n = fdp_u8(f) % 40;
        for (unsigned i = 0; i < n; i++)
            msgpack_pack_array(pk, 1);
        msgpack_pack_nil(pk);
        break;
    }
    case 15: {
        int8_t type = (int8_t)fdp_u8(f);
        const uint8_t *p;
        size_t n = fdp_bytes(f, fdp_u8(f) % 20, &p);
        msgpack_pack_ext(pk, n, type);
        if (n)
            msgpack_pack_ext_body(pk, p, n);
        break;
    }
    }
}

typedef enum ptype {
    P_ANY, P_STR, P_TYPESTR, P_NUM, P_INT, P_BOOL, P_CID, P_UID, P_SOCKADDR, P_NAME,
    P_CHILD, P_NS, P_FUNC, P_KWARGS, P_SPECS, P_SIGNAL, P_HOST, P_PORT
} ptype;

typedef struct fn_spec {
    const char *ns;
    const char *name;
    int nparams;
    const char *param[6];
    ptype type[6];
} fn_spec;

static const fn_spec fns[] = {
    { "scwire_service", "echo", 1, { "value" }, { P_ANY } },
    { "scwire_service", "raise_error", 2, { "type_str", "text" }, { P_TYPESTR, P_STR } },
    { "scwire_service", "sleep", 1, { "seconds" }, { P_NUM } },
    { "scwire_service", "sleep_forever", 0, { 0 }, { 0 } },
    { "scwire_service", "count", 1, { "n" }, { P_INT } },
    { "scwire_service", "ctx_echo", 1, { "first" }, { P_ANY } },
    { "scwire_service", "ctx_no_stream", 1, { "value" }, { P_ANY } },
    { "scwire_service", "ctx_error_after_started", 1, { "type_str" }, { P_TYPESTR } },
    { "scwire_service", "ctx_return", 1, { "value" }, { P_ANY } },
    { "scwire_service", "ctx_stream_out", 1, { "n" }, { P_INT } },
    { "scwire_service", "ctx_slow_sink", 2, { "delay", "backpressure" }, { P_NUM, P_BOOL } },
    { "scwire_service", "no_such_function", 0, { 0 }, { 0 } },
    { "self", "cancel", 0, { 0 }, { 0 } },
    { "self", "_cancel_task", 1, { "cid" }, { P_CID } },
    { "self", "register_actor", 2, { "uid", "sockaddr" }, { P_UID, P_SOCKADDR } },
    { "self", "unregister_actor", 1, { "uid" }, { P_UID } },
    { "self", "find_actor", 1, { "name" }, { P_NAME } },
    { "self", "wait_for_actor", 1, { "name" }, { P_NAME } },
    { "self", "get_registry", 0, { 0 }, { 0 } },
    { "self", "cancel_rpc_tasks", 0, { 0 }, { 0 } },
    { "os", "system", 0, { 0 }, { 0 } },
};

/* The supervision functions (SVC-19..28), called by the SUP_CALL op. */
static const fn_spec sup_fns[] = {
    { "scwire_service", "run_in_child", 4, { "name", "ns", "func", "kwargs" },
      { P_CHILD, P_NS, P_FUNC, P_KWARGS } },
    { "scwire_service", "run_in_children", 1, { "specs" }, { P_SPECS } },
    { "scwire_service", "spawn_start", 1, { "name" }, { P_CHILD } },
    { "scwire_service", "spawn_cancel", 1, { "name" }, { P_CHILD } },
    { "scwire_service", "spawn_kill", 2, { "name", "signal" }, { P_CHILD, P_SIGNAL } },
    { "scwire_service", "spawn_list", 0, { 0 }, { 0 } },
    { "scwire_service", "spawn_info", 0, { 0 }, { 0 } },
    { "scwire_service", "spawn_stubborn", 1, { "ignore_sigterm" }, { P_BOOL } },
    { "scwire_service", "spawn_crash", 2, { "type_str", "text" }, { P_TYPESTR, P_STR } },
};

/* scwire_service.ctx_call (SVC-29), called by the CC_CALL op: the callee's
 * ns and func are passed through, so the supervision pools serve. */
static const fn_spec cc_fns[] = {
    { "scwire_service", "ctx_call", 6, { "host", "port", "ns", "func", "kwargs", "idle" },
      { P_HOST, P_PORT, P_NS, P_FUNC, P_KWARGS, P_NUM } },
};

static void pack_uid_from(msgpack_packer *pk, uint8_t v)
{
    if (v >= 0xf0) {
        switch (v & 3) {
        case 0: msgpack_pack_array(pk, 1); pack_b(pk, names[0]); break;
        case 1: msgpack_pack_int64(pk, 42); break;
        case 2: msgpack_pack_array(pk, 2); msgpack_pack_int64(pk, 1); msgpack_pack_int64(pk, 2); break;
        case 3:
            msgpack_pack_array(pk, 3);
            pack_b(pk, names[0]);
            pack_b(pk, uuids[1]);
            msgpack_pack_nil(pk);
            break;
        }
        return;
    }
    msgpack_pack_array(pk, 2);
    pack_b(pk, names[v % N(names)]);
    pack_b(pk, uuids[(v / N(names)) % N(uuids)]);
}

static void gen_param(world *w, fdp *f, msgpack_packer *pk, ptype t)
{
    uint8_t v = fdp_u8(f);
    switch (t) {
    case P_ANY: gen_value(f, pk, 3); break;
    case P_STR:
        if (v & 1)
            pack_input_str(f, pk, 64);
        else
            pack_b(pk, words[(v >> 1) % N(words)]);
        break;
    case P_TYPESTR: pack_b(pk, type_strs[v % N(type_strs)]); break;
    case P_NUM: {
        static const double nums[] = { 0.0, 0.001, 0.5, 2.5, -1.0, 1e300, NAN, INFINITY };
        if (v & 8)
            msgpack_pack_double(pk, nums[v % 8]);
        else
            msgpack_pack_uint64(pk, v % 8 == 7 ? 100 : v % 8);
        break;
    }
    case P_INT:
        switch (v % 8) {
        case 0: msgpack_pack_uint64(pk, 0); break;
        case 1: msgpack_pack_uint64(pk, 1); break;
        case 2: msgpack_pack_uint64(pk, 3); break;
        case 3: msgpack_pack_uint64(pk, fdp_u8(f)); break;
        case 4: msgpack_pack_uint64(pk, 5000); break;
        case 5: msgpack_pack_int64(pk, -1); break;
        case 6: msgpack_pack_uint64(pk, UINT64_MAX); break;
        case 7: msgpack_pack_int64(pk, INT64_MIN); break;
        }
        break;
    case P_BOOL: (v & 2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case P_CID: pack_b(pk, pick_cid(w, v)); break;
    case P_UID: pack_uid_from(pk, v); break;
    case P_SOCKADDR: {
        uint8_t k = fdp_u8(f);
        if (v >= 0xf0) {
            if (v & 1)
                pack_c(pk, "127.0.0.1:1616");
            else
                msgpack_pack_array(pk, 1), pack_b(pk, hosts[0]);
            break;
        }
        msgpack_pack_array(pk, 2);
        pack_b(pk, hosts[v % N(hosts)]);
        if (k >= 0xf8)
            msgpack_pack_int64(pk, k & 1 ? -1 : 70000);
        else
            msgpack_pack_uint64(pk, 1000u + k);
        break;
    }
    case P_NAME: pack_b(pk, names[v % N(names)]); break;
    case P_CHILD: pack_b(pk, child_names[v % N(child_names)]); break;
    case P_NS: pack_b(pk, child_nss[v % N(child_nss)]); break;
    case P_FUNC: pack_b(pk, child_funcs[v % N(child_funcs)]); break;
    case P_KWARGS:
        switch (v % 4) {
        case 0: msgpack_pack_map(pk, 0); break;
        case 1: msgpack_pack_map(pk, 1); pack_c(pk, "value"); gen_value(f, pk, 3); break;
        case 2: msgpack_pack_map(pk, 1); msgpack_pack_int64(pk, 1); msgpack_pack_int64(pk, 2); break;
        case 3: gen_value(f, pk, 3); break;
        }
        break;
    case P_SPECS: {
        /* 1 to 5 [name, ns, func, kwargs] (past max_children from 4), or
         * none, or one that is not a 4-array. */
        unsigned n = v % 8 < 5 ? 1 + v % 8 : 0;
        msgpack_pack_array(pk, n + (v % 8 == 7));
        for (unsigned i = 0; i < n; i++) {
            static const ptype spec[] = { P_CHILD, P_NS, P_FUNC, P_KWARGS };
            msgpack_pack_array(pk, 4);
            for (size_t j = 0; j < N(spec); j++)
                gen_param(w, f, pk, spec[j]);
        }
        if (v % 8 == 7)
            gen_value(f, pk, 3);
        break;
    }
    case P_SIGNAL: {
        static const int64_t sigs[] = { 9, 15, 2, 1, 64, 0, 65, -1 };
        msgpack_pack_int64(pk, sigs[v % N(sigs)]);
        break;
    }
    case P_HOST: pack_b(pk, cc_hosts[v % N(cc_hosts)]); break;
    case P_PORT: {
        /* Never the registry's 1616: SC_EV_CONNECT tells them apart by it. */
        static const int64_t ports[] = { 40200, 1, 65535, 0, 65536, -1, 40201 };
        if (v % 8 == 7)
            pack_c(pk, "40200");
        else
            msgpack_pack_int64(pk, ports[v % 8]);
        break;
    }
    }
}

/* A cmd for one function of table (n entries), picked by the next byte. */
static void gen_cmd(world *w, fdp *f, msgpack_packer *pk, const fn_spec *table, size_t n_fns)
{
    const fn_spec *fn = &table[fdp_u8(f) % n_fns];
    uint8_t mut = fdp_u8(f);
    bstr cid = pick_cid(w, fdp_u8(f));
    uint8_t caller = fdp_u8(f);

    msgpack_pack_map(pk, 1);
    pack_c(pk, "cmd");
    msgpack_pack_array(pk, 5);
    if (mut == 0xff)
        msgpack_pack_int64(pk, 1);
    else
        pack_c(pk, fn->ns);
    pack_c(pk, fn->name);
    if (mut == 0xfe) {
        msgpack_pack_array(pk, 0);
    } else {
        int k = mut % 8;
        int n = fn->nparams;
        int missing = k == 7 && n > 0;
        int extra = k == 6;
        msgpack_pack_map(pk, (uint32_t)(n - missing + extra));
        for (int i = missing; i < n; i++) {
            pack_c(pk, fn->param[i]);
            if (k == 5 && i == 0)
                gen_value(f, pk, 3);
            else
                gen_param(w, f, pk, fn->type[i]);
        }
        if (extra) {
            pack_c(pk, "bogus");
            msgpack_pack_nil(pk);
        }
    }
    pack_uid_from(pk, caller);
    pack_b(pk, cid);
}

static void pack_error_map(fdp *f, msgpack_packer *pk, uint8_t variant)
{
    bstr ty = type_strs[fdp_u8(f) % N(type_strs)];
    switch (variant % 6) {
    case 0:
    case 1:
        msgpack_pack_map(pk, 2);
        pack_c(pk, "tb_str");
        pack_input_str(f, pk, 200);
        pack_c(pk, "type_str");
        pack_b(pk, ty);
        break;
    case 2: /* no tb_str */
        msgpack_pack_map(pk, 1);
        pack_c(pk, "type_str");
        pack_b(pk, ty);
        break;
    case 3: /* type_str not a str */
        msgpack_pack_map(pk, 2);
        pack_c(pk, "tb_str");
        pack_c(pk, "tb");
        pack_c(pk, "type_str");
        msgpack_pack_int64(pk, 5);
        break;
    case 4: /* not a map */
        msgpack_pack_int64(pk, 5);
        break;
    case 5: /* extra keys */
        msgpack_pack_map(pk, 3);
        pack_c(pk, "type_str");
        pack_b(pk, ty);
        pack_c(pk, "message");
        gen_value(f, pk, 3);
        pack_c(pk, "tb_str");
        pack_c(pk, "");
        break;
    }
}

static void gen_malformed(world *w, fdp *f, msgpack_packer *pk)
{
    uint8_t v = fdp_u8(f);
    bstr cid = pick_cid(w, fdp_u8(f));
    switch (v % 10) {
    case 0: msgpack_pack_int64(pk, 42); break;
    case 1: msgpack_pack_map(pk, 1); pack_c(pk, "foo"); msgpack_pack_int64(pk, 1); break;
    case 2: /* cmd of four items */
        msgpack_pack_map(pk, 1);
        pack_c(pk, "cmd");
        msgpack_pack_array(pk, 4);
        pack_c(pk, "self");
        pack_c(pk, "cancel");
        msgpack_pack_map(pk, 0);
        pack_uid_from(pk, 0);
        break;
    case 3: /* cmd whose cid is not a str */
        msgpack_pack_map(pk, 1);
        pack_c(pk, "cmd");
        msgpack_pack_array(pk, 5);
        pack_c(pk, "scwire_service");
        pack_c(pk, "echo");
        msgpack_pack_map(pk, 0);
        pack_uid_from(pk, 0);
        gen_value(f, pk, 2);
        break;
    case 4: /* a cid that is an int */
        msgpack_pack_map(pk, 2);
        pack_c(pk, "yield");
        msgpack_pack_int64(pk, 1);
        pack_c(pk, "cid");
        msgpack_pack_int64(pk, 5);
        break;
    case 5: /* routed, no kind */
        msgpack_pack_map(pk, 2);
        pack_c(pk, "cid");
        pack_b(pk, cid);
        pack_c(pk, "x");
        msgpack_pack_int64(pk, 1);
        break;
    case 6: /* a routed cmd must not run (CID-5) */
        msgpack_pack_map(pk, 2);
        pack_c(pk, "cid");
        pack_b(pk, cid);
        pack_c(pk, "cmd");
        msgpack_pack_array(pk, 5);
        pack_c(pk, "self");
        pack_c(pk, "cancel");
        msgpack_pack_map(pk, 0);
        pack_uid_from(pk, 0);
        pack_b(pk, cid);
        break;
    case 7: /* functype that is not one */
        msgpack_pack_map(pk, 2);
        pack_c(pk, "functype");
        pack_c(pk, "bogus");
        pack_c(pk, "cid");
        pack_b(pk, cid);
        break;
    case 8: /* any value at all */
        gen_value(f, pk, 1);
        break;
    case 9: /* a map of anything */
        msgpack_pack_map(pk, 2);
        gen_value(f, pk, 1);
        gen_value(f, pk, 1);
        gen_value(f, pk, 1);
        gen_value(f, pk, 1);
        break;
    }
}

/* One message of the grammar, packed into pk. */
static void gen_message(world *w, fdp *f, msgpack_packer *pk)
{
    uint8_t kind = fdp_u8(f) % 12;
    switch (kind) {
    case 0:
    case 1:
        gen_cmd(w, f, pk, fns, N(fns));
        break;
    case 2:
    case 3:
    case 4:
    case 5: { /* yield, stop, return, started */
        static const char *const keys[] = { "yield", "stop", "return", "started" };
        uint8_t v = fdp_u8(f);
        bstr cid = pick_cid(w, fdp_u8(f));
        msgpack_pack_map(pk, 2);
        if (v & 1) {
            pack_c(pk, "cid");
            pack_b(pk, cid);
        }
        pack_c(pk, keys[kind - 2]);
        if (kind == 3 && !(v & 2))
            msgpack_pack_true(pk);
        else
            gen_value(f, pk, 2);
        if (!(v & 1)) {
            pack_c(pk, "cid");
            pack_b(pk, cid);
        }
        break;
    }
    case 6: { /* error */
        uint8_t v = fdp_u8(f);
        bstr cid = pick_cid(w, fdp_u8(f));
        msgpack_pack_map(pk, 2);
        pack_c(pk, "error");
        pack_error_map(f, pk, v);
        pack_c(pk, "cid");
        pack_b(pk, cid);
        break;
    }
    case 7: { /* functype */
        static const char *const fts[] = { "asyncfunc", "asyncgen", "context", "bogus" };
        uint8_t v = fdp_u8(f);
        bstr cid = pick_cid(w, fdp_u8(f));
        msgpack_pack_map(pk, 2);
        pack_c(pk, "functype");
        pack_c(pk, fts[v % 4]);
        pack_c(pk, "cid");
        pack_b(pk, cid);
        break;
    }
    case 8:
        msgpack_pack_nil(pk);
        break;
    case 9: /* actor-level error */
        msgpack_pack_map(pk, 1);
        pack_c(pk, "error");
        pack_error_map(f, pk, fdp_u8(f));
        break;
    case 10:
    case 11:
        gen_malformed(w, f, pk);
        break;
    }
}

static void gen_handshake(fdp *f, msgpack_packer *pk)
{
    uint8_t v = fdp_u8(f);
    if (v < 0xe0) {
        pack_uid_from(pk, v);
        return;
    }
    switch (v % 6) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: msgpack_pack_int64(pk, 42); break;
    case 2: pack_c(pk, "ab"); break;
    case 3: msgpack_pack_map(pk, 1); pack_c(pk, "uid"); pack_uid_from(pk, 0); break;
    case 4: msgpack_pack_array(pk, 0); break;
    case 5: pack_uid_from(pk, 0xf0 | (v >> 3)); break;
    }
}

/* Queue bytes from the peer of conn s, framed for the codec if asked. */
static void queue_bytes(world *w, int s, const void *body, size_t n, int framed)
{
    hconn *h = &w->c[s];
    if (h->closing || h->eof_pending)
        return; /* nobody reads them, or the peer has shut its side */
    size_t hdr = framed && w->cfg.codec == SC_CODEC_LENPREFIX ? 4 : 0;
    if (sc_buf_size(&h->pending) + hdr + n > PENDING_MAX)
        return; /* the peer's socket buffer is full: dropped whole */
    sc_err err;
    TRACE("    to conn %u:\n", h->id);
    trace_bytes(framed ? "message" : "raw", body, n);
    if (hdr) {
        uint8_t le[4] = { (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24) };
        FZ_CHECK(sc_buf_append(&h->pending, le, 4, &err) == SC_OK, "pending");
    }
    FZ_CHECK(sc_buf_append(&h->pending, body, n, &err) == SC_OK, "pending");
}

/* ---- operations --------------------------------------------------------------- */

enum {
    OP_ACCEPT = 0,
    OP_HANDSHAKE = 1,
    OP_MSG = 2,
    OP_MSG2 = 3,
    OP_MSG3 = 4,
    OP_RAW = 5,
    OP_CHOP = 6,
    OP_EOF = 7,
    OP_RESET = 8,
    OP_DRAIN = 9,
    OP_DRAIN2 = 10,
    OP_ADVANCE = 11,
    OP_SHUTDOWN = 12,
    OP_CONNECTED = 13,
    OP_CONNECT_FAILED = 14,
    OP_MSG_BATCH = 15,
};

/* Returns the new connection's slot, or -1 if the actor refused it. */
static int op_accept(world *w)
{
    sc_conn_id id = 0;
    sc_err err;
    sc_err_clear(&err);
    int rc = sc_actor_accept(w->a, w->now, "127.0.0.1:40000", &id, &err);
    sc_actor_stats st;
    sc_actor_get_stats(w->a, &st);
    int s = -1;
    if (rc == SC_OK) {
        FZ_CHECK(id != 0 && slot_of(w, id) < 0, "accept gave id %u, already in use", id);
        s = conn_add(w, id, 0);
    } else if (rc == SC_ELIMIT) {
        FZ_CHECK(st.conns >= w->cfg.limits.max_conns, "refused at %u connections of %u", st.conns,
                 w->cfg.limits.max_conns);
    } else {
        FZ_CHECK(rc == SC_ESTATE && w->stop_listen, "accept returned %d: %s", rc, err.msg);
    }
    drain_events(w);
    return s;
}

/* ---- supervision operations (op bytes 0xf0 and up) ------------------------------ */

enum {
    SOP_CALL = 0,        /* sel, a cmd of sup_fns from that peer */
    SOP_CALL2 = 1,
    SOP_STARTED = 2,     /* child sel, pid byte: sc_actor_child_spawned */
    SOP_START_FAILED = 3,/* child sel: sc_actor_child_spawn_failed */
    SOP_CONNECT = 4,     /* child sel, variant: the child connects back and sends a uid */
    SOP_REPLY = 5,       /* child sel, form, ...: the child answers one of the actor's calls */
    SOP_REPLY2 = 6,
    SOP_EXIT = 7,        /* child sel, status byte: sc_actor_child_exited */
};

static const char *const sop_names[8] = {
    "SUP_CALL", "SUP_CALL", "CHILD_STARTED", "CHILD_START_FAILED", "CHILD_CONNECT",
    "CHILD_REPLY", "CHILD_REPLY", "CHILD_EXIT",
};

static void queue_out(world *w, int s, fz_out *o)
{
    queue_bytes(w, s, sc_buf_head(&o->buf), sc_buf_size(&o->buf), 1);
    fz_out_free(o);
    fz_out_init(o);
}

/* A peer (sel byte) sends a cmd of one function of table. */
static void queue_call(world *w, fdp *f, const fn_spec *table, size_t n_fns)
{
    int s = pick(w, fdp_u8(f));
    fz_out o;
    fz_out_init(&o);
    gen_cmd(w, f, &o.pk, table, n_fns);
    if (s >= 0)
        queue_out(w, s, &o);
    fz_out_free(&o);
}

/* The glue's answer to SC_EV_CONNECT for slot s (-1: none), once. */
static void answer_connect(world *w, int s, int ok)
{
    if (s < 0 || !w->c[s].connecting || w->c[s].closing)
        return;
    w->c[s].connecting = 0;
    if (ok)
        sc_actor_conn_connected(w->a, w->c[s].id, w->now);
    else
        sc_actor_conn_connect_failed(w->a, w->c[s].id, "Connection refused", w->now);
    drain_events(w);
}

/* The peer of slot s (-1: none) closes after what it has sent. */
static void peer_eof(world *w, int s)
{
    if (s >= 0 && !w->c[s].closing)
        w->c[s].eof_pending = 1;
}

/* The peer of slot s (-1: none) resets the connection. */
static void peer_reset(world *w, int s)
{
    if (s < 0)
        return;
    hconn *h = &w->c[s];
    sc_buf_consume(&h->pending, sc_buf_size(&h->pending));
    h->eof_pending = 0;
    if (h->connecting)
        return; /* a failed connect is OP_CONNECT_FAILED */
    sc_actor_conn_eof(w->a, h->id, 1, w->now);
    drain_events(w);
}

static void advance_by(world *w, double dt)
{
    w->now += dt;
    sc_actor_advance(w->a, w->now);
    drain_events(w);
    double next = sc_actor_next_deadline(w->a);
    FZ_CHECK(next < 0 || next > w->now, "timer at %f still due at %f after advance", next, w->now);
}

static void child_connect(world *w, int k, uint8_t v)
{
    hchild *c = &w->ch[k];
    if (child_slot(w, k) >= 0)
        return; /* one channel per child at a time */
    int s = op_accept(w);
    if (s < 0)
        return;
    w->c[s].child = k + 1;
    c->slot = s;
    fz_out o;
    fz_out_init(&o);
    switch (v % 4) {
    case 0:
    case 1: /* its own uid */
        msgpack_pack_array(&o.pk, 2);
        pack_c(&o.pk, c->name);
        pack_c(&o.pk, c->uuid);
        break;
    case 2: /* its name with another uuid: an ordinary peer (SEC-7) */
        msgpack_pack_array(&o.pk, 2);
        pack_c(&o.pk, c->name);
        pack_b(&o.pk, uuids[3]);
        break;
    case 3: /* its uid with an extra item */
        msgpack_pack_array(&o.pk, 3);
        pack_c(&o.pk, c->name);
        pack_c(&o.pk, c->uuid);
        msgpack_pack_nil(&o.pk);
        break;
    }
    queue_out(w, s, &o);
    fz_out_free(&o);
}

/* The spawn_info answer of child k: its uid, an address and no init. */
static void pack_info(world *w, fdp *f, msgpack_packer *pk, int k, int good)
{
    msgpack_pack_map(pk, 3);
    pack_c(pk, "uid");
    msgpack_pack_array(pk, 2);
    pack_c(pk, w->ch[k].name);
    pack_c(pk, w->ch[k].uuid);
    pack_c(pk, "sockaddr");
    if (good) {
        msgpack_pack_array(pk, 2);
        pack_c(pk, "127.0.0.1");
        msgpack_pack_uint64(pk, 5000u + (unsigned)k);
    } else {
        gen_param(w, f, pk, P_SOCKADDR);
    }
    pack_c(pk, "init");
    msgpack_pack_nil(pk);
}

/* The child answers the actor's run command (which 0), its spawn_info call
 * (1) or its self.cancel (2), on the cid the actor used. */
static void child_reply(world *w, fdp *f, int k, uint8_t v)
{
    static const char *const fts[] = { "asyncgen", "context", "bogus", "asyncfunc" };
    int s = child_slot(w, k);
    int which = v % 3, form = (v / 3) % 8;
    const char *cid = s >= 0 && w->c[s].call_cid[which][0] ? w->c[s].call_cid[which] : "c0";
    fz_out o;
    fz_out_init(&o);
    msgpack_packer *pk = &o.pk;
    switch (form) {
    case 2: /* functype, then return */
        msgpack_pack_map(pk, 2);
        pack_c(pk, "functype");
        pack_c(pk, "asyncfunc");
        pack_c(pk, "cid");
        pack_c(pk, cid);
        if (s >= 0)
            queue_out(w, s, &o);
        /* fall through */
    case 1:
    case 5:
        msgpack_pack_map(pk, 2);
        pack_c(pk, "return");
        if (which == 1)
            pack_info(w, f, pk, k, form != 5);
        else
            gen_value(f, pk, 3);
        pack_c(pk, "cid");
        pack_c(pk, cid);
        break;
    case 0:
    case 4:
        msgpack_pack_map(pk, 2);
        pack_c(pk, "functype");
        pack_c(pk, form == 0 ? "asyncfunc" : fts[fdp_u8(f) % N(fts)]);
        pack_c(pk, "cid");
        pack_c(pk, cid);
        break;
    case 3:
        msgpack_pack_map(pk, 2);
        pack_c(pk, "error");
        pack_error_map(f, pk, fdp_u8(f));
        pack_c(pk, "cid");
        pack_c(pk, cid);
        break;
    case 6: /* its internal failure (SUP-10) */
        msgpack_pack_map(pk, 1);
        pack_c(pk, "error");
        pack_error_map(f, pk, fdp_u8(f));
        break;
    case 7:
        msgpack_pack_nil(pk);
        break;
    }
    if (s >= 0)
        queue_out(w, s, &o);
    fz_out_free(&o);
}

/* wait_status as waitpid() gives it: an exit code, or a signal. */
static int wait_status_of(uint8_t v)
{
    switch (v % 4) {
    case 0: return 0;
    case 1: return ((v >> 2) & 0x7f) << 8;
    case 2: return 9;
    default: return 15;
    }
}

static void do_sup_op(world *w, fdp *f, unsigned op)
{
    TRACE("op %s (t=%.3f)\n", sop_names[op], w->now);
    if (op == SOP_CALL || op == SOP_CALL2) {
        queue_call(w, f, sup_fns, N(sup_fns));
        return;
    }
    int k = pick_child(w, fdp_u8(f));
    uint8_t v = op == SOP_START_FAILED ? 0 : fdp_u8(f);
    if (k < 0)
        return;
    hchild *c = &w->ch[k];
    /* The glue's contract: one of spawned / spawn failed per child, and an
     * exit only for a process that was started and not reaped yet. */
    switch (op) {
    case SOP_STARTED:
        if (c->started || c->reaped)
            return;
        c->started = 1;
        sc_actor_child_spawned(w->a, c->id, 1000 + v, w->now);
        break;
    case SOP_START_FAILED:
        if (c->started || c->reaped)
            return;
        c->reaped = 1;
        sc_actor_child_spawn_failed(w->a, c->id, "No such file or directory", w->now);
        break;
    case SOP_EXIT:
        if (!c->started || c->reaped)
            return;
        c->reaped = 1;
        sc_actor_child_exited(w->a, c->id, wait_status_of(v), w->now);
        break;
    case SOP_CONNECT:
        child_connect(w, k, v);
        break;
    default:
        child_reply(w, f, k, v);
        break;
    }
    drain_events(w);
}

/* The end of an input that spawned children or made a ctx_call: the actor
 * is shut down, every child process ends, every connect still pending
 * fails and every connection is read and closed; the actor must then exit
 * with nothing left (SUP-13, SVC-29). */
static void finish_outstanding(world *w)
{
    if ((w->last_child_id == 0 && !w->callees_seen) || w->exited)
        return;
    TRACE("epilogue: shutdown, every child exits\n");
    sc_actor_shutdown(w->a, w->now);
    drain_events(w);
    for (int round = 0; round < EPILOGUE_ROUNDS && !w->exited; round++) {
        for (int k = 0; k < MAXCH; k++) {
            hchild *c = &w->ch[k];
            if (!c->used || c->reaped)
                continue;
            c->reaped = 1;
            if (c->started)
                sc_actor_child_exited(w->a, c->id, 15, w->now);
            else
                sc_actor_child_spawn_failed(w->a, c->id, "gone", w->now);
            drain_events(w);
        }
        for (int s = 0; s < NSLOT; s++) {
            hconn *h = &w->c[s];
            if (!h->used || h->closing)
                continue;
            if (h->connecting) {
                h->connecting = 0;
                sc_actor_conn_connect_failed(w->a, h->id, "Connection refused", w->now);
                drain_events(w);
            } else {
                flush_output(w, s, SIZE_MAX);
            }
        }
        w->now += 10.0;
        sc_actor_advance(w->a, w->now);
        drain_events(w);
        pump(w);
        release_closing(w);
        check_world(w);
    }
    FZ_CHECK(w->exited, "the actor did not exit after a shutdown in which every child ended");
}

/* ---- ctx_call operations (op bytes 0xf8 and up): the harness is the callee --- */

enum {
    COP_CALL = 0,    /* sel, a cmd of cc_fns from that peer */
    COP_CONNECT = 1, /* callee sel, v (, uid): answer the connect; v & 1 failed, v & 2 the uid too */
    COP_OPEN = 2,    /* callee sel, value: functype context, then started */
    COP_REPLY = 3,   /* callee sel, v, ...: one message of the callee */
    COP_REPLY2 = 4,
    COP_GARBAGE = 5, /* callee sel, a message of the grammar */
    COP_END = 6,     /* callee sel, v: EOF, reset, or nil then EOF */
    COP_IDLE = 7,    /* v: the clock to the next deadline */
};

static const char *const cop_names[8] = {
    "CC_CALL", "CC_CONNECT", "CC_OPEN", "CC_REPLY", "CC_REPLY", "CC_GARBAGE", "CC_END", "CC_IDLE",
};

/* A selector byte names one of the ctx_call channels (those still
 * connecting only, for the answer to the connect), in slot order. */
static int pick_callee(const world *w, uint8_t sel, int connecting)
{
    int n = 0;
    for (int s = 0; s < NSLOT; s++)
        n += w->c[s].used && w->c[s].callee && (!connecting || w->c[s].connecting);
    if (n == 0)
        return -1;
    int k = sel % n;
    for (int s = 0;; s++)
        if (w->c[s].used && w->c[s].callee && (!connecting || w->c[s].connecting) && k-- == 0)
            return s;
}

/* The callee reads what the actor sent before it answers, so that it knows
 * the cids of the context (call_cid[0]) and of the cancel (call_cid[2]). */
static const char *callee_cid(world *w, int s, int which)
{
    hconn *h = &w->c[s];
    if (!h->closing && !h->connecting)
        flush_output(w, s, SIZE_MAX);
    return h->call_cid[which][0] ? h->call_cid[which] : h->call_cid[0][0] ? h->call_cid[0] : "c0";
}

/* One message of the callee on cid, form % 8: functype context, started,
 * yield, return, stop, ContextCancelled, an error of the grammar, a
 * functype of another kind. */
static void pack_callee_msg(fdp *f, msgpack_packer *pk, unsigned form, bstr cid)
{
    static const char *const keys[] = { "started", "yield", "return" };
    static const char *const fts[] = { "asyncfunc", "asyncgen", "bogus" };
    msgpack_pack_map(pk, 2);
    pack_c(pk, "cid");
    pack_b(pk, cid);
    switch (form % 8) {
    case 0:
        pack_c(pk, "functype");
        pack_c(pk, "context");
        break;
    case 1:
    case 2:
    case 3:
        pack_c(pk, keys[form % 8 - 1]);
        gen_value(f, pk, 2);
        break;
    case 4:
        pack_c(pk, "stop");
        msgpack_pack_true(pk);
        break;
    case 5:
        pack_c(pk, "error");
        msgpack_pack_map(pk, 2);
        pack_c(pk, "tb_str");
        pack_c(pk, "tractor._exceptions.ContextCancelled: cancelled\n");
        pack_c(pk, "type_str");
        pack_c(pk, "ContextCancelled");
        break;
    case 6:
        pack_c(pk, "error");
        pack_error_map(f, pk, fdp_u8(f));
        break;
    case 7:
        pack_c(pk, "functype");
        pack_c(pk, fts[fdp_u8(f) % N(fts)]);
        break;
    }
}

static void do_cc_op(world *w, fdp *f, unsigned op)
{
    TRACE("op %s (t=%.3f)\n", cop_names[op], w->now);
    if (op == COP_CALL) {
        queue_call(w, f, cc_fns, N(cc_fns));
        return;
    }
    if (op == COP_IDLE) {
        /* Timers of ctx_call may be far away (idle up to 1e300): jump to
         * the next one, at most an hour on, then v & 0x7f ms past it, or
         * with bit 7 one ms before it. */
        uint8_t v = fdp_u8(f);
        double next = sc_actor_next_deadline(w->a);
        if (next < 0)
            return;
        double dt = next - w->now < 3600 ? next - w->now : 3600;
        dt += (v & 0x80) ? -0.001 : (v & 0x7f) * 0.001;
        if (dt > 0)
            advance_by(w, dt);
        return;
    }
    uint8_t sel = fdp_u8(f);
    uint8_t v = op == COP_GARBAGE || op == COP_OPEN ? 0 : fdp_u8(f);
    int s = pick_callee(w, sel, op == COP_CONNECT);
    fz_out o;
    fz_out_init(&o);
    switch (op) {
    case COP_CONNECT: {
        int hello = !(v & 1) && (v & 2);
        if (hello)
            gen_handshake(f, &o.pk);
        answer_connect(w, s, !(v & 1));
        if (hello && s >= 0)
            queue_out(w, s, &o);
        break;
    }
    case COP_OPEN: {
        bstr cid = { NULL, 0 };
        if (s >= 0)
            cid.p = callee_cid(w, s, 0), cid.n = strlen(cid.p);
        for (unsigned form = 0; form < 2; form++) {
            pack_callee_msg(f, &o.pk, form, cid);
            if (s >= 0)
                queue_out(w, s, &o);
        }
        break;
    }
    case COP_REPLY:
    case COP_REPLY2: {
        /* (v / 8) % 4: the context's cid (0, 1), the cancel's (2), one of
         * the grammar's (3). */
        unsigned target = (v / 8) % 4;
        bstr cid = target == 3 ? pick_cid(w, fdp_u8(f)) : (bstr){ NULL, 0 };
        if (s >= 0 && target < 3)
            cid.p = callee_cid(w, s, target == 2 ? 2 : 0), cid.n = strlen(cid.p);
        pack_callee_msg(f, &o.pk, v, cid);
        if (s >= 0)
            queue_out(w, s, &o);
        break;
    }
    case COP_GARBAGE:
        gen_message(w, f, &o.pk);
        if (s >= 0)
            queue_out(w, s, &o);
        break;
    case COP_END:
        if (v % 3 == 1) {
            peer_reset(w, s);
            break;
        }
        if (v % 3 == 2 && s >= 0) {
            msgpack_pack_nil(&o.pk); /* the callee's end of the channel (CAN-4) */
            queue_out(w, s, &o);
        }
        peer_eof(w, s);
        break;
    }
    fz_out_free(&o);
}

static const char *const op_names[16] = {
    "ACCEPT", "HANDSHAKE", "MSG", "MSG", "MSG", "RAW", "CHOP", "EOF", "RESET", "DRAIN", "DRAIN",
    "ADVANCE", "SHUTDOWN", "CONNECTED", "CONNECT_FAILED", "MSG_BATCH",
};

static void do_op(world *w, fdp *f)
{
    uint8_t b = fdp_u8(f);
    if (b >= 0xf8) {
        do_cc_op(w, f, b & 7);
        return;
    }
    if (b >= 0xf0) {
        do_sup_op(w, f, b & 7);
        return;
    }
    uint8_t op = b % 16;
    TRACE("op %s (t=%.3f)\n", op_names[op], w->now);
    switch (op) {
    case OP_ACCEPT:
        op_accept(w);
        break;
    case OP_HANDSHAKE: {
        int s = pick(w, fdp_u8(f));
        fz_out o;
        fz_out_init(&o);
        gen_handshake(f, &o.pk);
        if (s >= 0)
            queue_bytes(w, s, sc_buf_head(&o.buf), sc_buf_size(&o.buf), 1);
        fz_out_free(&o);
        break;
    }
    case OP_MSG:
    case OP_MSG2:
    case OP_MSG3:
    case OP_MSG_BATCH: {
        int s = pick(w, fdp_u8(f));
        unsigned count = op == OP_MSG_BATCH ? 1 + fdp_u8(f) % 8 : 1;
        for (unsigned i = 0; i < count; i++) {
            fz_out o;
            fz_out_init(&o);
            gen_message(w, f, &o.pk);
            if (s >= 0)
                queue_bytes(w, s, sc_buf_head(&o.buf), sc_buf_size(&o.buf), 1);
            fz_out_free(&o);
        }
        break;
    }
    case OP_RAW: {
        int s = pick(w, fdp_u8(f));
        uint8_t flags = fdp_u8(f);
        size_t len = fdp_u16(f);
        const uint8_t *p;
        len = fdp_bytes(f, len, &p);
        if (s >= 0)
            queue_bytes(w, s, p, len, flags & 1);
        break;
    }
    case OP_CHOP: {
        int s = pick(w, fdp_u8(f));
        uint8_t n = fdp_u8(f);
        if (s >= 0)
            w->c[s].chop = n;
        break;
    }
    case OP_EOF:
        peer_eof(w, pick(w, fdp_u8(f)));
        break;
    case OP_RESET:
        peer_reset(w, pick(w, fdp_u8(f)));
        break;
    case OP_DRAIN:
    case OP_DRAIN2: {
        int s = pick(w, fdp_u8(f));
        size_t n = fdp_u16(f);
        if (s < 0)
            break;
        if (w->c[s].closing)
            release(w, s);
        else
            flush_output(w, s, n ? n : SIZE_MAX);
        break;
    }
    case OP_ADVANCE: {
        uint16_t d = fdp_u16(f);
        advance_by(w, (d & 0x8000) ? (d & 0x7fff) * 0.01 : d * 0.001);
        break;
    }
    case OP_SHUTDOWN:
        sc_actor_shutdown(w->a, w->now);
        drain_events(w);
        break;
    case OP_CONNECTED:
    case OP_CONNECT_FAILED:
        answer_connect(w, pick(w, fdp_u8(f)), op == OP_CONNECTED);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (big[0] != 'x') {
        memset(big, 'x', sizeof(big));
        const char *t = getenv("FUZZ_ACTOR_TRACE");
        trace = t && *t && *t != '0';
    }

    fdp f = { data, size };
    uint8_t flags = fdp_u8(&f);
    uint8_t seed = fdp_u8(&f);

    static world w;
    memset(&w, 0, sizeof(w));
    w.rng = 0x9e3779b97f4a7c15ull ^ seed;
    w.now = 1000.0;
    w.lazy_release = (flags >> 3) & 1;

    sc_actor_config_default(&w.cfg);
    w.cfg.name = ACTOR_NAME;
    w.cfg.uuid = ACTOR_UUID;
    w.cfg.codec = (flags & 1) ? SC_CODEC_LENPREFIX : SC_CODEC_MSGPACK;
    w.cfg.registry_role = (flags >> 1) & 1;
    if (flags & 4) {
        w.cfg.registry_host = REG_HOST;
        w.cfg.registry_port = REG_PORT;
    }
    w.cfg.listen_port = 4242;
    w.cfg.max_children = MAX_CHILDREN;
    w.cfg.loglevel = (flags & 0x80) ? SC_LOG_TRANSPORT : SC_LOG_CRITICAL + 1;
    limits_for((flags >> 4) & 3, (flags & 0x40) ? 3 : 2, &w.cfg.limits);
    big_ok = ((flags >> 4) & 3) == 3;

    const sc_limits *l = &w.cfg.limits;
    w.out_cap = 2 * l->max_outbuf + 2 * l->max_frame;
    size_t item = l->max_frame + 5;
    w.bound_per_conn = (l->max_frame + 4 + SC_READ_CHUNK) + w.out_cap +
                       (size_t)l->max_contexts * l->msg_buffer_size * item + l->park_max_bytes +
                       MAXC * item;

    sc_actor_callbacks cb = { cb_log, cb_random };
    sc_err err;
    FZ_CHECK(sc_actor_new(&w.cfg, &cb, &w, &w.a, &err) == SC_OK, "sc_actor_new: %s", err.msg);
    FZ_CHECK(sc_actor_start(w.a, w.now) == SC_OK, "sc_actor_start failed");
    drain_events(&w);

    while (fdp_left(&f) > 0 && !w.exited) {
        do_op(&w, &f);
        pump(&w);
        release_due(&w);
        check_world(&w);
    }

    finish_outstanding(&w);
    /* The end: what is in every output buffer must be whole messages. */
    release_closing(&w);
    for (int s = 0; s < NSLOT; s++) {
        hconn *h = &w.c[s];
        if (!h->used)
            continue;
        const char *d;
        size_t len;
        sc_actor_conn_output(w.a, h->id, &d, &len);
        take_output_bytes(&w, h, d, len);
        FZ_CHECK(sc_reader_finish(h->rd) == SC_OK, "conn %u output ends inside a message: %s", h->id,
                 sc_reader_errstr(h->rd));
    }
    sc_actor_free(w.a);
    for (int s = 0; s < NSLOT; s++)
        if (w.c[s].used)
            conn_forget(&w.c[s]);
    return 0;
}
