/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_probe.c - the bystander: one connection that makes one echo call at
 * a time, every --probe-every seconds, and times each round trip.  Its
 * quantiles say what the load and the attackers cost a peer that only
 * wants an answer; a call with no answer within --timeout is counted as a
 * failure and ends the probe. */
#include "soak.h"

#include <stdlib.h>
#include <string.h>

#define PROBE_SAMPLES 200000

typedef enum pstate { PS_CONNECTING, PS_HANDSHAKE, PS_WAITING, PS_CALLING, PS_DONE } pstate;

struct soak_probe {
    soak *S;
    soak_sock sk;
    pstate state;
    ev_timer t;
    char cid[37];
    unsigned long calls;
    double sent_at;
    double *rtt;             /* seconds, PROBE_SAMPLES at most */
    size_t n;
    unsigned long failures;
    char why[160];
};

static void probe_fail(struct soak_probe *p, const char *why)
{
    if (p->state == PS_DONE)
        return;
    p->failures++;
    snprintf(p->why, sizeof(p->why), "%s", why);
    p->state = PS_DONE;
    ev_timer_stop(p->S->ev, &p->t);
    soak_sock_close(p->S->ev, &p->sk, 0);
}

static void call(struct soak_probe *p)
{
    soak *S = p->S;
    sc_err err;
    bench_cid(p->cid, 0xb75d, ++p->calls);
    if (soak_sock_put_cmd_int(&p->sk, "echo", "value", (int64_t)p->calls, &S->uid,
                              (sc_str){ p->cid, 36 }, &err) != SC_OK ||
        soak_sock_flush(S->ev, &p->sk, &err) != SC_OK) {
        probe_fail(p, err.msg);
        return;
    }
    p->sent_at = ev_time();
    p->state = PS_CALLING;
    ev_timer_stop(S->ev, &p->t);
    ev_timer_set(&p->t, S->o.timeout, 0);
    ev_timer_start(S->ev, &p->t);
}

/* The echo's return came back: note the round trip, pause, call again. */
static void answered(struct soak_probe *p)
{
    if (p->n < PROBE_SAMPLES)
        p->rtt[p->n++] = ev_time() - p->sent_at;
    p->state = PS_WAITING;
    ev_timer_stop(p->S->ev, &p->t);
    ev_timer_set(&p->t, p->S->o.probe_every, 0);
    ev_timer_start(p->S->ev, &p->t);
}

static void on_frame(struct soak_probe *p, const sc_frame *f)
{
    sc_msg m;
    sc_err err;
    if (p->state == PS_HANDSHAKE) {
        call(p);
        return;
    }
    if (sc_msg_parse(&f->obj, &m, &err) != SC_OK || !sc_str_eq(m.cid, (sc_str){ p->cid, 36 })) {
        probe_fail(p, "a message that is not the answer to its call");
        return;
    }
    if (m.kind == SC_MSG_RETURN && p->state == PS_CALLING)
        answered(p);
    else if (m.kind != SC_MSG_FUNCTYPE)
        probe_fail(p, "its echo failed");
}

static void on_io(struct ev_loop *ev, ev_io *w, int revents)
{
    struct soak_probe *p = w->data;
    sc_err err;
    int eof;
    (void)ev;
    if (p->state == PS_CONNECTING) {
        if (soak_sock_connected(p->S->ev, &p->sk, &err) != SC_OK ||
            soak_sock_put(&p->sk, &p->S->uid_msg, &err) != SC_OK) {
            probe_fail(p, err.msg);
            return;
        }
        p->state = PS_HANDSHAKE;
        revents |= EV_WRITE;
    }
    if ((revents & EV_WRITE) && soak_sock_flush(p->S->ev, &p->sk, &err) != SC_OK) {
        probe_fail(p, err.msg);
        return;
    }
    if (!(revents & EV_READ))
        return;
    if (soak_sock_read(&p->sk, 1, &eof, &err) != SC_OK) {
        probe_fail(p, err.msg);
        return;
    }
    sc_frame f;
    while (p->state != PS_DONE && sc_reader_next(p->sk.rd, &f) == SC_OK)
        on_frame(p, &f);
    if (eof)
        probe_fail(p, "the target closed its connection");
}

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    struct soak_probe *p = w->data;
    (void)ev;
    (void)revents;
    if (p->state == PS_WAITING)
        call(p);
    else
        probe_fail(p, "no answer within the timeout");
}

int soak_probe_start(soak *S, sc_err *err)
{
    if (S->o.probe_every <= 0)
        return SC_OK;
    struct soak_probe *p = calloc(1, sizeof(*p));
    if (!p || !(p->rtt = malloc(PROBE_SAMPLES * sizeof(double)))) {
        free(p);
        return sc_err_set(err, SC_ENOMEM, "out of memory for the bystander");
    }
    S->probe = p;
    p->S = S;
    ev_init(&p->t, on_timer);
    p->t.data = p;
    if (soak_sock_open(S->ev, &p->sk, &S->sa, S->o.codec, on_io, p, err) != SC_OK) {
        probe_fail(p, err->msg);
        return SC_OK;
    }
    ev_timer_set(&p->t, S->o.timeout, 0);
    ev_timer_start(S->ev, &p->t);
    return SC_OK;
}

void soak_probe_stop(soak *S)
{
    struct soak_probe *p = S->probe;
    if (!p || p->state == PS_DONE)
        return;
    /* A call still out when the load ends is only cut short, not failed. */
    p->state = PS_DONE;
    ev_timer_stop(S->ev, &p->t);
    soak_sock_close(S->ev, &p->sk, 0);
}

unsigned long soak_probe_failures(const soak *S)
{
    return S->probe ? S->probe->failures : 0;
}

void soak_probe_report(const soak *S, FILE *f)
{
    const struct soak_probe *p = S->probe;
    if (!p) {
        fprintf(f, "bystander: none (--probe-every 0)\n");
        return;
    }
    double *v = malloc((p->n ? p->n : 1) * sizeof(double));
    if (!v)
        return;
    memcpy(v, p->rtt, p->n * sizeof(double));
    fprintf(f, "bystander: %zu calls answered, p50 %.3f ms, p99 %.3f ms, max %.3f ms%s%s\n", p->n,
            1e3 * bench_quantile(v, p->n, 0.5), 1e3 * bench_quantile(v, p->n, 0.99),
            1e3 * bench_quantile(v, p->n, 1.0), p->failures ? "; failed: " : "", p->why);
    free(v);
}

void soak_probe_free(soak *S)
{
    if (S->probe)
        free(S->probe->rtt);
    free(S->probe);
    S->probe = NULL;
}
