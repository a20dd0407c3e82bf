/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_conn.c - the healthy connections of scwire-soak.
 *
 * Each one handshakes, opens a ctx_echo context and sends it numbered
 * yields (at most `window` unanswered, paced by `rate`), and at the same
 * time runs ctx_stream_out rounds of `stream_n` numbered yields towards
 * itself.  Every value received goes through a soak_seq.  When the load
 * ends the echo stream is stopped (the IUT answers stop, then return with
 * the count), the running round completes, and the channel is closed with
 * nil; the connection is then `finished`.  Any other end is classified
 * (soak_end) with a sentence saying what happened. */
#include "soak.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef enum hstate { HS_CONNECTING, HS_HANDSHAKE, HS_RUNNING, HS_GOODBYE, HS_ENDED } hstate;

typedef struct hctx {
    char cid[37];
    int open;            /* cmd sent, no return or error yet */
    int functype_seen;
    int started;
    int stop_seen;
    uint64_t sent;       /* echo: yields sent; stream-out: n asked */
    int64_t returned;
    soak_seq seq;
} hctx;

struct soak_conn {
    soak *S;
    unsigned idx;
    soak_sock sk;
    hstate state;
    soak_end end;
    hctx echo, out;
    int echo_stop_sent;
    uint64_t out_asked;          /* over every round */
    unsigned long out_rounds;
    double credit_echo, credit_out;
    int nil_seen;
    int cancelled;               /* a ContextCancelled arrived: start nothing more */
    int half_closed;
};

const char *soak_end_name(soak_end e)
{
    static const char *const names[] = { "none", "finished", "cancelled", "closed", "hung", "failed" };
    return e < SOAK_END_KINDS ? names[e] : "?";
}

static sc_str cid_of(const hctx *x)
{
    return (sc_str){ x->cid, 36 };
}

static int more_echo(const soak_conn *c)
{
    const soak_opts *o = &c->S->o;
    return !c->S->load_over && !c->cancelled && (!o->messages || c->echo.sent < o->messages);
}

static int more_out(const soak_conn *c)
{
    const soak_opts *o = &c->S->o;
    return !c->S->load_over && !c->cancelled && (!o->messages || c->out_asked < o->messages);
}

/* The sequence accounting of a context is folded into the run's totals once,
 * when it ends, however it ends. */
static void ctx_fold(hctx *x, soak_tally *t)
{
    if (!x->open)
        return;
    soak_seq_fold(&x->seq, x->sent, t);
    t->contexts++;
    soak_seq_free(&x->seq);
    x->open = 0;
}

static void conn_end(soak_conn *c, soak_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_end(soak_conn *c, soak_end end, const char *fmt, ...)
{
    soak *S = c->S;
    if (c->state == HS_ENDED)
        return;
    int expected = end == SOAK_END_FINISHED ||
                   (S->o.expect_shutdown && (end == SOAK_END_CANCELLED || end == SOAK_END_CLOSED));
    if (!expected) {
        char why[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        soak_note(S, "connection %u %s: %s", c->idx, soak_end_name(end), why);
    }
    S->echo.cut += (uint64_t)c->echo.open;
    S->out.cut += (uint64_t)c->out.open;
    ctx_fold(&c->echo, &S->echo);
    ctx_fold(&c->out, &S->out);
    soak_seq_free(&c->echo.seq);
    soak_seq_free(&c->out.seq);
    soak_sock_close(S->ev, &c->sk, 0);
    c->state = HS_ENDED;
    c->end = end;
    S->ends[end]++;
    soak_conn_ended(S);
}

/* The channel ended under us (EOF, reset or nil then EOF): say how the
 * contexts still open ended. */
static void conn_closed(soak_conn *c, const char *how)
{
    int open = c->echo.open + c->out.open;
    /* Contexts that received ContextCancelled are no longer open, so what
     * is open here was ended by the closed channel alone. */
    if (open)
        conn_end(c, SOAK_END_CLOSED, "%s with %d context(s) open%s", how, open,
                 c->echo.open && c->echo_stop_sent ? ", ctx_echo stopped but not returned" : "");
    else if (c->cancelled)
        conn_end(c, SOAK_END_CANCELLED, "%s after ContextCancelled", how);
    else if (c->state == HS_GOODBYE)
        conn_end(c, SOAK_END_FINISHED, "%s", how);
    else
        conn_end(c, SOAK_END_CLOSED, "%s with no context open (%s)", how,
                 c->state < HS_RUNNING ? "during the handshake" : "between streams");
}

static int put_or_end(soak_conn *c, int rc, const sc_err *err)
{
    if (rc != SC_OK)
        conn_end(c, SOAK_END_FAILED, "cannot queue a message: %s", err->msg);
    return rc;
}

static void open_round(soak_conn *c)
{
    soak *S = c->S;
    sc_err err;
    uint64_t n = S->o.stream_n;
    if (S->o.messages && S->o.messages - c->out_asked < n)
        n = S->o.messages - c->out_asked;
    memset(&c->out, 0, sizeof(c->out));
    bench_cid(c->out.cid, c->idx, ++c->out_rounds);
    if (put_or_end(c, soak_seq_reserve(&c->out.seq, n, &err), &err) != SC_OK ||
        put_or_end(c, soak_sock_put_cmd_int(&c->sk, "ctx_stream_out", "n", (int64_t)n, &S->uid,
                                            cid_of(&c->out), &err), &err) != SC_OK)
        return;
    c->out.open = 1;
    c->out.sent = n;
    c->out_asked += n;
    c->credit_out -= (double)n;
}

/* Write what the socket takes; in HS_GOODBYE, half-close once all is out,
 * since a shutdown before that would cut the queued messages off. */
static void flush(soak_conn *c)
{
    sc_err err;
    if (soak_sock_flush(c->S->ev, &c->sk, &err) != SC_OK) {
        conn_end(c, SOAK_END_FAILED, "%s", err.msg);
        return;
    }
    if (c->state == HS_GOODBYE && !c->half_closed && sc_buf_size(&c->sk.out) == 0) {
        shutdown(c->sk.fd, SHUT_WR);
        c->half_closed = 1;
    }
}

static void goodbye(soak_conn *c)
{
    sc_err err;
    if (put_or_end(c, soak_sock_put(&c->sk, &c->S->nil_msg, &err), &err) != SC_OK)
        return;
    c->state = HS_GOODBYE;
    flush(c);
}

/* Send what the window, the pace and the load allow; close what is done. */
static void pump(soak_conn *c)
{
    soak *S = c->S;
    sc_err err;
    if (c->state != HS_RUNNING)
        return;
    int paced = S->o.rate > 0;
    if (c->echo.open && c->echo.started && !c->echo_stop_sent) {
        while (more_echo(c) && c->echo.sent - c->echo.seq.received < S->o.window &&
               (!paced || c->credit_echo >= 1.0)) {
            if (put_or_end(c, soak_seq_reserve(&c->echo.seq, c->echo.sent + 1, &err), &err) ||
                put_or_end(c, soak_sock_put_yield(&c->sk, cid_of(&c->echo), c->echo.sent, &err), &err))
                return;
            c->echo.sent++;
            c->credit_echo -= 1.0;
        }
        if (!more_echo(c)) {
            bmsg stop = bench_msg_stop(c->sk.codec, cid_of(&c->echo));
            int rc = soak_sock_put(&c->sk, &stop, &err);
            bmsg_free(&stop);
            if (put_or_end(c, rc, &err) != SC_OK)
                return;
            c->echo_stop_sent = 1;
        }
    }
    /* A round is paid for in advance and the debt repaid by the pace, so
     * that the first one starts at once. */
    if (!c->out.open && more_out(c) && (!paced || c->credit_out >= 0))
        open_round(c);
    if (c->state != HS_RUNNING)
        return;
    if (!c->echo.open && !c->out.open && !more_out(c)) {
        goodbye(c);
        return;
    }
    flush(c);
}

static int int_of(const msgpack_object *v, uint64_t *out)
{
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return 0;
    *out = v->via.u64;
    return 1;
}

static const char *ctx_name(const soak_conn *c, const hctx *x)
{
    return x == &c->echo ? "ctx_echo" : "ctx_stream_out";
}

/* One message on a context of ours; 0, or -1 once the connection ended. */
static int on_ctx_msg(soak_conn *c, hctx *x, const sc_msg *m)
{
    soak *S = c->S;
    sc_err err;
    const char *fn = ctx_name(c, x);
    uint64_t v;
    switch (m->kind) {
    case SC_MSG_FUNCTYPE:
        if (m->functype != SC_FT_CONTEXT || x->functype_seen)
            goto unexpected;
        x->functype_seen = 1;
        return 0;
    case SC_MSG_STARTED:
        if (!x->functype_seen || x->started)
            goto unexpected;
        x->started = 1;
        return 0;
    case SC_MSG_YIELD:
        if (!x->started || x->stop_seen)
            goto unexpected;
        if (!int_of(m->value, &v)) {
            conn_end(c, SOAK_END_FAILED, "%s yielded %s, not a sequence number", fn,
                     sc_obj_type_name(m->value));
            return -1;
        }
        if (soak_seq_got(&x->seq, v, x->sent, &err) != SC_OK) {
            conn_end(c, SOAK_END_FAILED, "%s: %s", fn, err.msg);
            return -1;
        }
        return 0;
    case SC_MSG_STOP:
        if (!x->started)
            goto unexpected;
        x->stop_seen = 1;   /* may come more than once (SVC-13, SVC-17) */
        return 0;
    case SC_MSG_RETURN:
        if (!x->started || !x->stop_seen)
            goto unexpected;
        if (!int_of(m->value, &v)) {
            conn_end(c, SOAK_END_FAILED, "%s returned %s, not a count", fn, sc_obj_type_name(m->value));
            return -1;
        }
        if (v != x->sent) {
            conn_end(c, SOAK_END_FAILED, "%s returned %llu where %llu was due", fn,
                     (unsigned long long)v, (unsigned long long)x->sent);
            return -1;
        }
        ctx_fold(x, x == &c->echo ? &S->echo : &S->out);
        return 0;
    case SC_MSG_ERROR:
        if (sc_str_eq_c(m->type_str, "ContextCancelled")) {
            soak_tally *t = x == &c->echo ? &S->echo : &S->out;
            c->cancelled = 1;
            t->cancelled++;
            ctx_fold(x, t);
            return 0;
        }
        conn_end(c, SOAK_END_FAILED, "%s failed with %.*s: %.*s", fn, (int)m->type_str.len,
                 m->type_str.ptr, (int)(m->tb_str.len > 200 ? 200 : m->tb_str.len), m->tb_str.ptr);
        return -1;
    default:
        goto unexpected;
    }
unexpected:
    conn_end(c, SOAK_END_FAILED, "unexpected %s on %s (functype %s, started %s, stop %s)",
             sc_msg_kind_name(m->kind), fn, x->functype_seen ? "seen" : "not seen",
             x->started ? "seen" : "not seen", x->stop_seen ? "seen" : "not seen");
    return -1;
}

static void on_handshake(soak_conn *c, const sc_frame *f)
{
    soak *S = c->S;
    sc_uid peer;
    sc_err err;
    if (sc_uid_parse(&f->obj, &peer, &err) != SC_OK) {
        conn_end(c, SOAK_END_FAILED, "the handshake is not a uid: %s", err.msg);
        return;
    }
    bench_cid(c->echo.cid, c->idx, 0);
    bmsg cmd = bench_msg_cmd(c->sk.codec, "scwire_service", "ctx_echo", "first", -1, &S->uid,
                             cid_of(&c->echo));
    int rc = soak_sock_put(&c->sk, &cmd, &err);
    bmsg_free(&cmd);
    if (put_or_end(c, rc, &err) != SC_OK)
        return;
    c->echo.open = 1;
    c->state = HS_RUNNING;
    /* Said once, so that whoever shuts the target down under load knows when
     * every healthy connection is up (run-soak's shutdown scenario). */
    if (++S->up == S->o.conns)
        fprintf(stderr, "scwire-soak: all %u healthy connections are up\n", S->o.conns);
}

/* One frame; 0, or -1 once the connection ended. */
static int on_frame(soak_conn *c, const sc_frame *f)
{
    sc_msg m;
    sc_err err;
    if (c->state == HS_HANDSHAKE) {
        on_handshake(c, f);
        return c->state == HS_ENDED ? -1 : 0;
    }
    if (sc_msg_parse(&f->obj, &m, &err) != SC_OK) {
        conn_end(c, SOAK_END_FAILED, "a message the driver cannot classify: %s", err.msg);
        return -1;
    }
    if (m.kind == SC_MSG_NIL) {
        c->nil_seen = 1;
        return 0;
    }
    if (m.kind != SC_MSG_CMD && m.kind != SC_MSG_ACTOR_ERROR) {
        if (c->echo.open && sc_str_eq(m.cid, cid_of(&c->echo)))
            return on_ctx_msg(c, &c->echo, &m);
        if (c->out.open && sc_str_eq(m.cid, cid_of(&c->out)))
            return on_ctx_msg(c, &c->out, &m);
    }
    conn_end(c, SOAK_END_FAILED, "unexpected %s on cid %.*s (no open context of ours)",
             sc_msg_kind_name(m.kind), (int)m.cid.len, m.cid.ptr);
    return -1;
}

static void on_readable(soak_conn *c)
{
    soak *S = c->S;
    sc_err err;
    int eof;
    unsigned long before = c->sk.bytes_in;
    if (soak_sock_read(&c->sk, !c->nil_seen, &eof, &err) != SC_OK) {
        conn_end(c, SOAK_END_FAILED, "%s", err.msg);
        return;
    }
    if (c->nil_seen) {
        S->after_nil += c->sk.bytes_in - before;
    } else {
        sc_frame f;
        int rc;
        while ((rc = sc_reader_next(c->sk.rd, &f)) == SC_OK) {
            if (on_frame(c, &f) != 0)
                return;
            if (c->nil_seen) {
                /* The channel ends with nil: nothing may follow it. */
                S->after_nil += sc_reader_pending(c->sk.rd);
                break;
            }
        }
        if (rc != SC_OK && rc != SC_AGAIN) {
            conn_end(c, SOAK_END_FAILED, "undecodable input: %s", sc_reader_errstr(c->sk.rd));
            return;
        }
    }
    if (eof) {
        conn_closed(c, c->nil_seen ? "the IUT sent nil and closed the channel" : "the IUT closed the channel");
        return;
    }
    pump(c);
}

static void on_io(struct ev_loop *ev, ev_io *w, int revents)
{
    soak_conn *c = w->data;
    sc_err err;
    (void)ev;
    if (c->state == HS_CONNECTING) {
        if (soak_sock_connected(c->S->ev, &c->sk, &err) != SC_OK) {
            conn_end(c, SOAK_END_FAILED, "%s", err.msg);
            return;
        }
        c->state = HS_HANDSHAKE;
        if (put_or_end(c, soak_sock_put(&c->sk, &c->S->uid_msg, &err), &err) != SC_OK)
            return;
        revents |= EV_WRITE;
    }
    if (revents & EV_WRITE) {
        flush(c);
        if (c->state == HS_ENDED)
            return;
    }
    if (revents & EV_READ)
        on_readable(c);
}

int soak_conns_start(soak *S, sc_err *err)
{
    S->conns = calloc(S->o.conns, sizeof(*S->conns));
    if (!S->conns)
        return sc_err_set(err, SC_ENOMEM, "out of memory for %u connections", S->o.conns);
    S->live = S->o.conns;
    for (unsigned i = 0; i < S->o.conns; i++) {
        soak_conn *c = &S->conns[i];
        c->S = S;
        c->idx = i;
        c->state = HS_CONNECTING;
        sc_err why;
        if (soak_sock_open(S->ev, &c->sk, &S->sa, S->o.codec, on_io, c, &why) != SC_OK)
            conn_end(c, SOAK_END_FAILED, "%s", why.msg);
    }
    return SC_OK;
}

void soak_conns_tick(soak *S)
{
    double per_conn = S->o.rate > 0 ? S->o.rate / S->o.conns * SOAK_TICK : 0;
    /* A connection that could not send for a while gets no burst beyond a
     * window's worth, so the pace stays the asked one. */
    double cap_echo = S->o.window + 1.0, cap_out = S->o.stream_n;
    for (unsigned i = 0; i < S->o.conns; i++) {
        soak_conn *c = &S->conns[i];
        if (c->state != HS_RUNNING)
            continue;
        c->credit_echo = c->credit_echo + per_conn > cap_echo ? cap_echo : c->credit_echo + per_conn;
        c->credit_out = c->credit_out + per_conn > cap_out ? cap_out : c->credit_out + per_conn;
        pump(c);
    }
}

int soak_conns_load_done(const soak *S)
{
    if (!S->o.messages)
        return 0;
    for (unsigned i = 0; i < S->o.conns; i++) {
        const soak_conn *c = &S->conns[i];
        if (c->state != HS_ENDED && (c->echo.sent < S->o.messages || c->out_asked < S->o.messages))
            return 0;
    }
    return 1;
}

void soak_conns_load_over(soak *S)
{
    for (unsigned i = 0; i < S->o.conns; i++)
        pump(&S->conns[i]);
}

static const char *state_name(hstate s)
{
    static const char *const names[] = { "connecting", "handshaking", "streaming", "closing", "ended" };
    return names[s];
}

void soak_conns_deadline(soak *S)
{
    for (unsigned i = 0; i < S->o.conns; i++) {
        soak_conn *c = &S->conns[i];
        if (c->state == HS_ENDED)
            continue;
        conn_end(c, SOAK_END_HUNG, "still %s %.0f s after the load ended (ctx_echo %s%s, %llu of %llu echoed; "
                 "ctx_stream_out %s)", state_name(c->state), S->o.timeout,
                 c->echo.open ? "open" : "closed", c->echo_stop_sent ? " and stopped" : "",
                 (unsigned long long)c->echo.seq.received, (unsigned long long)c->echo.sent,
                 c->out.open ? "open" : "closed");
    }
}

void soak_conns_free(soak *S)
{
    free(S->conns);
    S->conns = NULL;
}
