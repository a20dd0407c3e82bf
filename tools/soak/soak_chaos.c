/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_chaos.c - the hostile connections scwire-soak runs beside the
 * healthy ones, each kind at its own rate (connections per second):
 *
 *   drop         connect, then close at once (the registry probe, as a storm)
 *   nonmap       handshake, then the integer 42 as a message
 *   truncated    handshake, half a yield, then close
 *   unknown-cid  handshake, a flood of yields on a cid nobody opened, nil
 *   garbage      handshake, then bytes that are not msgpack (c1 ...)
 *   slowloris    the handshake one byte a second
 *   half-open    connect and never send anything
 *   reset        handshake, half a yield, then close with RST (SO_LINGER 0)
 *   waiters      handshake, then --flood wait_for_actor on names that never
 *                register, held open (a registry target)
 *   register     handshake, then --flood register_actor of new names, held
 *                open (a registry target)
 *   idle         handshake, then silence: a connection slot hoarded
 *
 * The driver does not judge how the IUT treats these connections (the
 * conformance suite does); it counts the faults it injected, bounds how
 * many are open at once and how long each lives, and lets the healthy
 * connections tell whether anything else was disturbed. */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAOS_INTERVAL 0.1
#define FLOOD_YIELDS 32
#define GARBAGE_BYTES 64

static const char *const kind_names[CK_KINDS] = {
    "drop", "nonmap", "truncated", "unknown-cid", "garbage", "slowloris", "half-open", "reset",
    "waiters", "register", "idle"
};
static const double default_rates[CK_KINDS] = { 20, 2, 2, 2, 2, 1, 1, 2, 0, 0, 0 };
/* --chaos attack: the deliberate attacker of a registry beside the faults. */
static const double attack_rates[CK_KINDS] = { 20, 2, 2, 2, 2, 1, 1, 2, 2, 2, 5 };

typedef enum cphase { CP_CONNECTING, CP_HANDSHAKE, CP_HOLDING } cphase;

typedef struct chaos_conn {
    soak *S;
    int used;
    int kind;
    cphase phase;
    soak_sock sk;
    ev_timer t;
    double expires;
    size_t trickled;      /* slowloris: uid bytes sent so far */
} chaos_conn;

struct soak_chaos {
    chaos_conn *slots;
    unsigned used;
    unsigned next;         /* where the search for a free slot starts */
    double credit[CK_KINDS];
    unsigned long injected[CK_KINDS];
    unsigned long opened, failed, skipped;
    unsigned long flood_n;
    ev_timer timer;
};

int soak_chaos_parse(const char *spec, double rates[CK_KINDS], sc_err *err)
{
    if (strcmp(spec, "default") == 0 || strcmp(spec, "attack") == 0) {
        memcpy(rates, spec[0] == 'd' ? default_rates : attack_rates, sizeof(default_rates));
        return SC_OK;
    }
    char buf[512];
    if (strlen(spec) >= sizeof(buf))
        return sc_err_set(err, SC_EARG, "--chaos: the specification is too long");
    strcpy(buf, spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *end;
        if (!eq)
            return sc_err_set(err, SC_EARG, "--chaos: '%s' is not KIND=RATE", item);
        *eq = '\0';
        double r = strtod(eq + 1, &end);
        if (*end || eq[1] == '\0' || r < 0 || r > 10000)
            return sc_err_set(err, SC_EARG, "--chaos: rate '%s' of %s is not a number from 0 to 10000",
                              eq + 1, item);
        int k = 0;
        while (k < CK_KINDS && strcmp(item, kind_names[k]) != 0)
            k++;
        if (k == CK_KINDS)
            return sc_err_set(err, SC_EARG, "--chaos: unknown kind '%s' (drop, nonmap, truncated, "
                              "unknown-cid, garbage, slowloris, half-open, reset, waiters, "
                              "register, idle)", item);
        rates[k] = r;
    }
    return SC_OK;
}

int soak_chaos_enabled(const soak_opts *o)
{
    for (int k = 0; k < CK_KINDS; k++)
        if (o->chaos_rate[k] > 0)
            return 1;
    return 0;
}

static void release(chaos_conn *x, int reset)
{
    soak *S = x->S;
    ev_timer_stop(S->ev, &x->t);
    soak_sock_close(S->ev, &x->sk, reset);
    x->used = 0;
    S->chaos->used--;
}

static void fail(chaos_conn *x)
{
    x->S->chaos->failed++;
    release(x, 0);
}

/* A message body framed for the codec, without going through msgpack-c:
 * the point is to send what a conforming peer never would. */
static int put_raw_frame(soak_sock *k, const char *body, uint32_t len, sc_err *err)
{
    if (k->codec == SC_CODEC_LENPREFIX) {
        char hdr[4] = { (char)(len & 0xff), (char)(len >> 8 & 0xff), (char)(len >> 16 & 0xff),
                        (char)(len >> 24 & 0xff) };
        if (sc_buf_append(&k->out, hdr, sizeof(hdr), err) != SC_OK)
            return err->code;
    }
    return sc_buf_append(&k->out, body, len, err);
}

/* The first half of a well-formed yield, so that the IUT holds a partial
 * frame when the connection ends. */
static int put_half_yield(soak_sock *k, sc_err *err)
{
    size_t before = sc_buf_size(&k->out);
    char cid[37];
    bench_cid(cid, 0xc4a05, 1);
    int rc = soak_sock_put_yield(k, (sc_str){ cid, 36 }, 12345, err);
    if (rc == SC_OK)
        sc_buf_truncate(&k->out, before + (sc_buf_size(&k->out) - before) / 2);
    return rc;
}

static int put_flood(chaos_conn *x, sc_err *err)
{
    char cid[37];
    bench_cid(cid, 0xdeadc1d, ++x->S->chaos->flood_n);
    for (int i = 0; i < FLOOD_YIELDS; i++)
        if (soak_sock_put_yield(&x->sk, (sc_str){ cid, 36 }, (uint64_t)i, err) != SC_OK)
            return err->code;
    return soak_sock_put(&x->sk, &x->S->nil_msg, err);
}

typedef struct flood_arg {
    int kind;
    const sc_uid *uid;
    sc_str name;
    sc_str cid;
} flood_arg;

static int pack_flood_cmd(msgpack_packer *pk, const void *arg)
{
    const flood_arg *a = arg;
    int waiters = a->kind == CK_WAITERS;
    if (sc_pack_cmd_begin(pk, SC_STR("self"), waiters ? SC_STR("wait_for_actor")
                                                      : SC_STR("register_actor")) != 0)
        return -1;
    if (waiters)
        return msgpack_pack_map(pk, 1) || sc_pack_cstr(pk, "name") || sc_pack_str(pk, a->name) ||
               sc_pack_cmd_end(pk, a->uid, a->cid);
    return msgpack_pack_map(pk, 2) || sc_pack_cstr(pk, "uid") || msgpack_pack_array(pk, 2) ||
           sc_pack_str(pk, a->name) || sc_pack_str(pk, a->cid) || sc_pack_cstr(pk, "sockaddr") ||
           msgpack_pack_array(pk, 2) || sc_pack_cstr(pk, "127.0.0.1") ||
           msgpack_pack_uint16(pk, 9) || sc_pack_cmd_end(pk, a->uid, a->cid);
}

/* --flood commands that each leave something behind in the target: a
 * waiter, or a registry entry (under a fresh name, so each one is new). */
static int put_leftovers(chaos_conn *x, sc_err *err)
{
    soak *S = x->S;
    for (unsigned i = 0; i < S->o.flood; i++) {
        char name[48], cid[37];
        unsigned long n = ++S->chaos->flood_n;
        snprintf(name, sizeof(name), "soak-%s-%lu", kind_names[x->kind], n);
        bench_cid(cid, 0xf100d, n);
        flood_arg a = { x->kind, &S->uid, { name, strlen(name) }, { cid, 36 } };
        if (soak_sock_put_packed(&x->sk, pack_flood_cmd, &a, err) != SC_OK)
            return err->code;
    }
    return SC_OK;
}

static int put_garbage(soak_sock *k, sc_err *err)
{
    char g[GARBAGE_BYTES];
    /* 0xc1 is the one byte msgpack never uses. */
    memset(g, 0xc1, sizeof(g));
    for (size_t i = 3; i < sizeof(g); i++)
        g[i] = (char)(rand() & 0xff);
    return sc_buf_append(&k->out, g, sizeof(g), err);
}

/* The handshake is done: send the fault.  Kinds that end the connection
 * themselves release it here. */
static void inject(chaos_conn *x)
{
    soak *S = x->S;
    sc_err err;
    int rc = SC_OK;
    switch (x->kind) {
    case CK_NONMAP:
        rc = put_raw_frame(&x->sk, "\x2a", 1, &err);
        break;
    case CK_TRUNCATED:
    case CK_RESET:
        rc = put_half_yield(&x->sk, &err);
        break;
    case CK_UNKNOWN_CID:
        rc = put_flood(x, &err);
        break;
    case CK_GARBAGE:
        rc = put_garbage(&x->sk, &err);
        break;
    case CK_WAITERS:
    case CK_REGISTER:
        rc = put_leftovers(x, &err);
        break;
    }
    if (rc != SC_OK || soak_sock_flush(S->ev, &x->sk, &err) != SC_OK) {
        fail(x);
        return;
    }
    S->chaos->injected[x->kind]++;
    x->phase = CP_HOLDING;
    if (x->kind == CK_TRUNCATED || x->kind == CK_RESET)
        release(x, x->kind == CK_RESET);
}

static void on_connected(chaos_conn *x)
{
    soak *S = x->S;
    sc_err err;
    if (soak_sock_connected(S->ev, &x->sk, &err) != SC_OK) {
        fail(x);
        return;
    }
    switch (x->kind) {
    case CK_DROP:
        S->chaos->injected[x->kind]++;
        release(x, 0);
        return;
    case CK_SLOWLORIS:
    case CK_HALF_OPEN:
        S->chaos->injected[x->kind]++;
        x->phase = CP_HOLDING;
        return;
    default:
        if (soak_sock_put(&x->sk, &S->uid_msg, &err) != SC_OK ||
            soak_sock_flush(S->ev, &x->sk, &err) != SC_OK) {
            fail(x);
            return;
        }
        x->phase = CP_HANDSHAKE;
    }
}

static void on_io(struct ev_loop *ev, ev_io *w, int revents)
{
    chaos_conn *x = w->data;
    sc_err err;
    int eof;
    (void)ev;
    if (x->phase == CP_CONNECTING) {
        on_connected(x);
        return;
    }
    if ((revents & EV_WRITE) && soak_sock_flush(x->S->ev, &x->sk, &err) != SC_OK) {
        release(x, 0);
        return;
    }
    if (!(revents & EV_READ))
        return;
    if (soak_sock_read(&x->sk, x->phase == CP_HANDSHAKE, &eof, &err) != SC_OK) {
        /* Undecodable handshake bytes are the IUT's business, not a fault
         * the driver injected. */
        fail(x);
        return;
    }
    sc_frame f;
    if (x->phase == CP_HANDSHAKE && sc_reader_next(x->sk.rd, &f) == SC_OK) {
        inject(x);
        return;
    }
    if (eof) {
        if (x->phase == CP_HANDSHAKE)
            fail(x);
        else
            release(x, 0);
    }
}

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    chaos_conn *x = w->data;
    sc_err err;
    (void)revents;
    if (ev_now(ev) >= x->expires) {
        release(x, 0);
        return;
    }
    /* Only slowloris repeats: one more byte of its uid. */
    const bmsg *uid = &x->S->uid_msg;
    if (x->phase == CP_HOLDING && x->trickled < uid->len) {
        if (sc_buf_append(&x->sk.out, uid->data + x->trickled, 1, &err) != SC_OK ||
            soak_sock_flush(ev, &x->sk, &err) != SC_OK) {
            release(x, 0);
            return;
        }
        x->trickled++;
    }
}

static void launch(soak *S, int kind)
{
    struct soak_chaos *C = S->chaos;
    chaos_conn *x = NULL;
    for (unsigned i = 0; C->used < S->o.chaos_max && i < S->o.chaos_max && !x; i++) {
        unsigned j = (C->next + i) % S->o.chaos_max;
        if (!C->slots[j].used)
            x = &C->slots[j];
    }
    if (!x) {
        C->skipped++;
        return;
    }
    C->next = (unsigned)(x - C->slots + 1) % S->o.chaos_max;
    memset(x, 0, sizeof(*x));
    x->S = S;
    x->kind = kind;
    sc_err err;
    C->opened++;
    if (soak_sock_open(S->ev, &x->sk, &S->sa, S->o.codec, on_io, x, &err) != SC_OK) {
        C->failed++;
        return;
    }
    x->used = 1;
    C->used++;
    x->expires = ev_now(S->ev) + S->o.chaos_hold;
    double every = kind == CK_SLOWLORIS ? 1.0 : S->o.chaos_hold;
    ev_timer_init(&x->t, on_timer, every, kind == CK_SLOWLORIS ? 1.0 : 0.0);
    x->t.data = x;
    ev_timer_start(S->ev, &x->t);
}

static void on_chaos_tick(struct ev_loop *ev, ev_timer *w, int revents)
{
    soak *S = w->data;
    (void)ev;
    (void)revents;
    for (int k = 0; k < CK_KINDS; k++) {
        S->chaos->credit[k] += S->o.chaos_rate[k] * CHAOS_INTERVAL;
        for (; S->chaos->credit[k] >= 1.0; S->chaos->credit[k] -= 1.0)
            launch(S, k);
    }
}

int soak_chaos_start(soak *S, sc_err *err)
{
    S->chaos = calloc(1, sizeof(*S->chaos));
    if (S->chaos)
        S->chaos->slots = calloc(S->o.chaos_max, sizeof(chaos_conn));
    if (!S->chaos || !S->chaos->slots)
        return sc_err_set(err, SC_ENOMEM, "out of memory for %u chaos connections", S->o.chaos_max);
    if (!soak_chaos_enabled(&S->o))
        return SC_OK;
    ev_timer_init(&S->chaos->timer, on_chaos_tick, CHAOS_INTERVAL, CHAOS_INTERVAL);
    S->chaos->timer.data = S;
    ev_timer_start(S->ev, &S->chaos->timer);
    return SC_OK;
}

void soak_chaos_stop(soak *S)
{
    if (!S->chaos)
        return;
    ev_timer_stop(S->ev, &S->chaos->timer);
    for (unsigned i = 0; i < S->o.chaos_max; i++)
        if (S->chaos->slots[i].used)
            release(&S->chaos->slots[i], 0);
}

void soak_chaos_free(soak *S)
{
    if (S->chaos)
        free(S->chaos->slots);
    free(S->chaos);
    S->chaos = NULL;
}

void soak_chaos_report(const soak *S, FILE *f)
{
    const struct soak_chaos *C = S->chaos;
    unsigned long total = 0;
    fprintf(f, "faults:");
    for (int k = 0; k < CK_KINDS; k++) {
        fprintf(f, " %s=%lu", kind_names[k], C ? C->injected[k] : 0);
        total += C ? C->injected[k] : 0;
    }
    fprintf(f, "\nfaults-total: %lu\n", total);
    fprintf(f, "chaos-connections: %lu opened, %lu did not get as far as their fault, %lu not opened "
            "(%u at once at most)\n", C ? C->opened : 0, C ? C->failed : 0, C ? C->skipped : 0,
            S->o.chaos_max);
}
