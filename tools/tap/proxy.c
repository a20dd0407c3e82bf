/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* proxy.c - scwire-tap's relay (see proxy.h).
 *
 * A connection has two sides, the client s[0] and the target s[1]; what is
 * read from s[i] travels in direction i (c2s, s2c), is fed to that
 * direction's decoder for the trace and is queued on the other side.
 * Forwarding never depends on decoding: bytes a decoder refuses still go
 * through, only the trace stops following that direction.
 *
 * Lifetime: CONNECTING (the client is not read until the target answers),
 * then relaying.  A FIN is passed on once the bytes before it are written;
 * when both directions have ended so, the connection closes.  A reset on one
 * side is passed on as a reset, after the other side got what was already
 * queued for it (bounded by RST_LINGER).
 *
 * With a delay (delay.h), what is read in direction i is held until its due
 * time before it may be written, and so are the FIN and the reset that
 * follow it; the connect to the target waits for the c2s delay, as a SYN
 * would, and a target that cannot be reached resets the client after the
 * s2c delay.  Held bytes count towards the high water mark (--buffer), so a
 * peer that stops reading still stops the other one.
 *
 * With --transparent the target of each client is where it was headed
 * before the packet filter redirected it to the tap (net_original_dst).
 *
 * Callbacks change state and end with settle(), the one place that arms the
 * watchers and frees a connection, so no callback uses one after it is gone. */
#define _GNU_SOURCE /* accept4 */
#include "proxy.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "decoder.h"
#include "net.h"

#define PROG "scwire-tap"

#define CONNECT_TIMEOUT 5.0     /* seconds for the target to accept */
#define RST_LINGER 1.0          /* seconds to deliver what was queued before a reset */
#define ACCEPT_PAUSE 0.5        /* retry interval while out of descriptors */
#define ACCEPT_BURST 64         /* accepts per wakeup, so a flood cannot starve the rest */
/* Decode what a peer may legitimately send, however big; only the message
 * size and msgpack-c's nesting cap are checked. */
#define TAP_MAX_FRAME (64u << 20)

typedef struct tap tap;
typedef struct tconn tconn;

typedef struct side {
    tconn *c;
    delay_queue held;          /* due times of the bytes in out */
    unsigned long long written;   /* bytes written to this side */
    double last_due;           /* latest due time given to what travels to this side */
    double fin_due;            /* when the other side's FIN may be passed on here */
    ev_timer due_w;            /* the next due time of what travels to this side */
    tap_dir dir;               /* direction of the bytes read from this side */
    int fd;                    /* -1 before the connect and after a reset */
    ev_io rio;
    ev_io wio;                 /* the connect's completion while CONNECTING */
    sc_buf out;                /* read from the other side, not yet written here */
    int eof;                   /* this side sent its FIN */
    int shut;                  /* we passed the other side's FIN on to this one */
    unsigned long long bytes;  /* read from this side */
    tap_decoder dec;           /* what this side sends, for the trace */
} side;

struct tconn {
    tap *T;
    unsigned long no;          /* the N of "cN" in the trace */
    side s[2];
    int connecting;
    const struct addrinfo *ai_next;   /* next target address to try */
    int connect_errno;         /* why the last address failed */
    int reset_by;              /* -1, or the direction of the side that reset */
    double reset_due;          /* when that reset may be passed on */
    int abort;                 /* close at once, resetting what is still open */
    int connect_wait;          /* the connect waits for the c2s delay */
    ev_timer timer;            /* the c2s delay, the connect timeout, later RST_LINGER */
    const char *target_name;   /* for messages */
    unsigned client_port;      /* for --keep-port */
    struct sockaddr_storage orig;      /* --transparent: the original destination */
    struct addrinfo orig_ai;           /* ... as the one address to try */
    char orig_name[NET_NAME_MAX];
    tconn *prev, *next;
};

struct tap {
    struct ev_loop *ev;
    const tap_config *cfg;
    trace *tr;
    sc_limits lim;
    int listen_fd;
    ev_io accept_w;
    ev_timer accept_pause;
    ev_signal sigint_w;
    ev_signal sigterm_w;
    tconn *conns;
    unsigned nopen;
    unsigned long last_no;
    int failed;                /* the trace failed: stop */
    unsigned rng;              /* jitter */
    char buf[SC_READ_CHUNK];
};

static void note(tap *T, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(tap *T, const char *fmt, ...)
{
    va_list ap;
    if (T->cfg->quiet)
        return;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* A trace that cannot be written makes the recording worthless: stop. */
static void check(tap *T, int rc)
{
    if (rc == SC_OK || T->failed)
        return;
    T->failed = 1;
    fprintf(stderr, PROG ": %s\n", T->tr->err.msg);
    ev_break(T->ev, EVBREAK_ALL);
}

static void io_want(tap *T, ev_io *w, int on)
{
    if (on && !ev_is_active(w))
        ev_io_start(T->ev, w);
    else if (!on && ev_is_active(w))
        ev_io_stop(T->ev, w);
}

static int would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static side *other(side *x)
{
    return &x->c->s[1 - x->dir];
}

/* The delay of what travels to y, which is read from the other side. */
static const tap_delay *delay_to(const side *y)
{
    return &y->c->T->cfg->delay[1 - y->dir];
}

/* The due time of something that travels to y now. */
static double due_to(side *y)
{
    tap *T = y->c->T;
    return delay_due(delay_to(y), ev_now(T->ev), &y->last_due, &T->rng);
}

/* Bytes of y's queue that may be written now. */
static size_t ready(side *y)
{
    size_t n = sc_buf_size(&y->out);
    unsigned long long free_;

    if (!delay_on(delay_to(y)))
        return n;
    free_ = delay_queue_release(&y->held, ev_now(y->c->T->ev)) - y->written;
    return free_ < n ? (size_t)free_ : n;
}

/* Wake up for y at time `when` (nothing when it is not in the future). */
static void wake_at(side *y, double when)
{
    tap *T = y->c->T;
    double now = ev_now(T->ev);

    ev_timer_stop(T->ev, &y->due_w);
    if (when > now) {
        ev_timer_set(&y->due_w, when - now, 0.);
        ev_timer_start(T->ev, &y->due_w);
    }
}

/* The earlier of two times, where a time that is not positive is none. */
static double earlier(double a, double b)
{
    if (a <= 0)
        return b;
    return b <= 0 || a < b ? a : b;
}

/* --- decoding for the trace --------------------------------------------- */

/* Feed x's decoder (or end it, for data == NULL) and say so on stderr when
 * it gives up. */
static void decode(side *x, const char *data, size_t n)
{
    tap *T = x->c->T;
    int live = decoder_live(&x->dec);

    check(T, data ? decoder_feed(&x->dec, data, n) : decoder_end(&x->dec));
    if (live && !decoder_live(&x->dec))
        note(T, "c%lu: %s not decoded from here on: %s", x->c->no, tap_dir_name(x->dir),
             x->dec.why.msg);
}

/* --- the connection ------------------------------------------------------ */

static void on_read(struct ev_loop *ev, ev_io *w, int revents);
static void on_write(struct ev_loop *ev, ev_io *w, int revents);
static void on_connect(struct ev_loop *ev, ev_io *w, int revents);
static void on_timer(struct ev_loop *ev, ev_timer *w, int revents);
static void on_due(struct ev_loop *ev, ev_timer *w, int revents);
static void update_accept(tap *T);

static void side_init(side *x, tconn *c, tap_dir dir)
{
    tap *T = c->T;

    x->c = c;
    x->dir = dir;
    x->fd = -1;
    ev_init(&x->rio, on_read);
    ev_init(&x->wio, on_write);
    ev_init(&x->due_w, on_due);
    x->rio.data = x->wio.data = x->due_w.data = x;
    delay_queue_init(&x->held);
    /* No cap: the high water mark stops the reading that fills it. */
    sc_buf_init(&x->out, 0);
    check(T, decoder_init(&x->dec, T->cfg->codec, &T->lim, T->tr, c->no, dir));
    if (!decoder_live(&x->dec) && trace_on(T->tr))
        note(T, "c%lu: %s not decoded: %s", c->no, tap_dir_name(dir), x->dec.why.msg);
}

static void side_set_fd(side *x, int fd)
{
    x->fd = fd;
    ev_io_set(&x->rio, fd, EV_READ);
    ev_io_set(&x->wio, fd, EV_WRITE);
}

static void conn_close(tconn *c, int rst)
{
    tap *T = c->T;

    for (int i = 0; i < 2; i++) {
        side *x = &c->s[i];
        ev_io_stop(T->ev, &x->rio);
        ev_io_stop(T->ev, &x->wio);
        ev_timer_stop(T->ev, &x->due_w);
        delay_queue_free(&x->held);
        if (x->fd >= 0) {
            if (rst) {
                /* Linger 0: close() sends a reset instead of a FIN. */
                struct linger lg = { 1, 0 };
                (void)setsockopt(x->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            close(x->fd);
        }
        decoder_free(&x->dec);
        sc_buf_free(&x->out);
    }
    ev_timer_stop(T->ev, &c->timer);
    check(T, trace_event(T->tr, c->no, "close"));
    note(T, "c%lu: closed (%llu bytes c2s, %llu bytes s2c)", c->no, c->s[0].bytes,
         c->s[1].bytes);
    if (c->prev)
        c->prev->next = c->next;
    else
        T->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    T->nopen--;
    sc_free(c);
    update_accept(T);
}

/* The side of direction dir is gone: y gets a reset once what was queued
 * for it has been written and the reset's own delay has passed, or
 * RST_LINGER after that at the latest. */
static void reset_towards(tconn *c, side *y, tap_dir dir)
{
    tap *T = c->T;
    double hold;

    c->reset_by = (int)dir;
    c->reset_due = delay_on(delay_to(y)) ? due_to(y) : 0;
    hold = c->reset_due > 0 ? c->reset_due - ev_now(T->ev) : 0;
    ev_timer_stop(T->ev, &c->timer);
    ev_timer_set(&c->timer, RST_LINGER + (hold > 0 ? hold : 0), 0.);
    ev_timer_start(T->ev, &c->timer);
}

/* x is dead (a reset, or an error on read or write).  What it sent before
 * still reaches the other side, which then gets a reset too. */
static void side_reset(side *x, int e)
{
    tconn *c = x->c;
    tap *T = c->T;
    side *y = other(x);

    decode(x, NULL, 0);
    check(T, trace_dir_event(T->tr, c->no, "rst", x->dir));
    note(T, "c%lu: %s side reset: %s", c->no, x->dir == TAP_C2S ? "client" : "target",
         strerror(e));
    ev_io_stop(T->ev, &x->rio);
    ev_io_stop(T->ev, &x->wio);
    ev_timer_stop(T->ev, &x->due_w);
    close(x->fd);
    x->fd = -1;
    sc_buf_free(&x->out);
    if (c->reset_by < 0)
        reset_towards(c, y, x->dir);
}

/* Arm the watchers for the current state, pass FINs on, and close the
 * connection when it is over.  c may be gone afterwards. */
static void settle(tconn *c)
{
    tap *T = c->T;
    double now;

    if (c->abort) {
        conn_close(c, 1);
        return;
    }
    if (c->connecting)
        return;
    now = ev_now(T->ev);
    if (c->reset_by >= 0) {
        side *y = &c->s[1 - c->reset_by];
        if (y->fd < 0 || (sc_buf_size(&y->out) == 0 && now >= c->reset_due)) {
            conn_close(c, 1);
            return;
        }
        io_want(T, &y->rio, 0);
        io_want(T, &y->wio, ready(y) > 0);
        wake_at(y, sc_buf_size(&y->out) > 0 ? delay_queue_next(&y->held) : c->reset_due);
        return;
    }
    for (int i = 0; i < 2; i++) {
        side *x = &c->s[i], *y = &c->s[1 - i];
        if (x->eof && !y->shut && sc_buf_size(&y->out) == 0 && now >= y->fin_due) {
            /* A failure means y is gone, which its next read reports. */
            (void)shutdown(y->fd, SHUT_WR);
            y->shut = 1;
        }
    }
    /* Each shut follows the other side's eof: both directions are over. */
    if (c->s[0].shut && c->s[1].shut) {
        conn_close(c, 0);
        return;
    }
    for (int i = 0; i < 2; i++) {
        side *x = &c->s[i], *y = &c->s[1 - i];
        io_want(T, &x->rio, !x->eof && sc_buf_size(&y->out) < T->cfg->buffer);
        io_want(T, &y->wio, ready(y) > 0);
        wake_at(y, earlier(delay_queue_next(&y->held),
                           x->eof && !y->shut ? y->fin_due : 0));
    }
}

/* Write what is queued for y.  With --chop, one write of at most N bytes
 * per call, so that each leaves in its own segment (TCP_NODELAY is on) and
 * the loop turns between them. */
static void flush(side *y)
{
    size_t chop = y->c->T->cfg->chop;

    while (y->fd >= 0 && ready(y) > 0) {
        size_t n = ready(y);
        ssize_t w;
        if (chop && n > chop)
            n = chop;
        w = send(y->fd, sc_buf_head(&y->out), n, MSG_NOSIGNAL);
        if (w < 0) {
            if (!would_block(errno))
                side_reset(y, errno);
            return;
        }
        sc_buf_consume(&y->out, (size_t)w);
        y->written += (unsigned long long)w;
        if (chop)
            return;
    }
}

static void on_read(struct ev_loop *ev, ev_io *w, int revents)
{
    side *x = w->data, *y = other(x);
    tconn *c = x->c;
    tap *T = c->T;
    sc_err err;
    ssize_t n;
    (void)ev;
    (void)revents;

    n = recv(x->fd, T->buf, sizeof(T->buf), 0);
    if (n > 0) {
        x->bytes += (unsigned long long)n;
        decode(x, T->buf, (size_t)n);
        if (sc_buf_append(&y->out, T->buf, (size_t)n, &err) != SC_OK) {
            note(T, "c%lu: cannot forward %zd bytes: %s", c->no, n, err.msg);
            c->abort = 1;
        } else if (delay_on(delay_to(y))
                   && delay_queue_push(&y->held, (size_t)n, due_to(y)) != 0) {
            note(T, "c%lu: out of memory holding %zd bytes", c->no, n);
            c->abort = 1;
        } else {
            flush(y);
        }
    } else if (n == 0) {
        x->eof = 1;
        y->fin_due = delay_on(delay_to(y)) ? due_to(y) : 0;
        decode(x, NULL, 0);
        check(T, trace_dir_event(T->tr, c->no, "eof", x->dir));
    } else if (!would_block(errno)) {
        side_reset(x, errno);
    }
    settle(c);
}

/* y may be written to (its socket is writable, or held bytes came due). */
static void write_side(side *y)
{
    tconn *c = y->c;

    flush(y);
    settle(c);
}

static void on_due(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)revents;
    write_side(w->data);
}

static void on_write(struct ev_loop *ev, ev_io *w, int revents)
{
    (void)ev;
    (void)revents;
    write_side(w->data);
}

/* --- connecting to the target -------------------------------------------- */

static void connect_failed(tconn *c, const char *why)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "cannot connect to %s: %s", c->target_name, why);
    check(c->T, trace_connect_error(c->T->tr, c->no, msg));
    note(c->T, "c%lu: %s", c->no, msg);
    /* The client sees a reset, as if the target had refused it directly;
     * over a delayed link, once the refusal has come back. */
    if (delay_on(delay_to(&c->s[0]))) {
        c->connecting = 0;
        reset_towards(c, &c->s[0], TAP_S2C);
    } else {
        c->abort = 1;
    }
}

/* Try the remaining addresses in turn; wait on the first that does not fail
 * at once. */
static void connect_next(tconn *c)
{
    side *t = &c->s[1];
    const tap_config *cfg = c->T->cfg;
    net_connect_opts opts = { cfg->keep_port ? c->client_port : 0, cfg->mark, cfg->sockbuf };

    while (c->ai_next) {
        const struct addrinfo *ai = c->ai_next;
        int fd = -1, e, kept = 0;
        c->ai_next = ai->ai_next;
        e = net_connect_start(ai, &opts, &fd, &kept);
        if (e == 0 && opts.bind_port && !kept)
            note(c->T, "c%lu: port %u is taken here; the target sees another one", c->no,
                 opts.bind_port);
        if (e == 0) {
            side_set_fd(t, fd);
            ev_set_cb(&t->wio, on_connect);
            ev_io_start(c->T->ev, &t->wio);
            return;
        }
        c->connect_errno = e;
    }
    connect_failed(c, strerror(c->connect_errno));
}

static void on_connect(struct ev_loop *ev, ev_io *w, int revents)
{
    side *t = w->data;
    tconn *c = t->c;
    int e = net_connect_result(t->fd);
    (void)revents;

    ev_io_stop(ev, w);
    if (e != 0) {
        close(t->fd);
        t->fd = -1;
        c->connect_errno = e;
        connect_next(c);
    } else {
        ev_timer_stop(ev, &c->timer);
        ev_set_cb(&t->wio, on_write);
        net_nodelay(t->fd);
        c->connecting = 0;
    }
    settle(c);
}

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    tconn *c = w->data;
    side *t = &c->s[1];
    char why[64];
    (void)revents;

    if (c->connect_wait) {
        c->connect_wait = 0;
        ev_timer_set(&c->timer, CONNECT_TIMEOUT, 0.);
        ev_timer_start(ev, &c->timer);
        connect_next(c);
    } else if (c->connecting) {
        ev_io_stop(ev, &t->wio);
        snprintf(why, sizeof(why), "no answer within %g s", CONNECT_TIMEOUT);
        connect_failed(c, why);
    } else {
        note(c->T, "c%lu: gave up delivering the rest before the reset", c->no);
        c->abort = 1;
    }
    settle(c);
}

/* --transparent: the one address to try is where the client was headed;
 * 0 (and the connection aborted) when it was not redirected to the tap. */
static int original_target(tconn *c, int fd)
{
    int e = net_original_dst(fd, &c->orig);

    if (e != 0) {
        note(c->T, "c%lu: no original destination (%s): the client reached the tap without "
             "a redirect; closed", c->no, e == ENOENT ? "not redirected" : strerror(e));
        c->abort = 1;
        return 0;
    }
    memset(&c->orig_ai, 0, sizeof(c->orig_ai));
    c->orig_ai.ai_family = c->orig.ss_family;
    c->orig_ai.ai_socktype = SOCK_STREAM;
    c->orig_ai.ai_protocol = IPPROTO_TCP;
    c->orig_ai.ai_addr = (struct sockaddr *)&c->orig;
    c->orig_ai.ai_addrlen = c->orig.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in);
    net_name((struct sockaddr *)&c->orig, c->orig_name);
    c->target_name = c->orig_name;
    c->ai_next = &c->orig_ai;
    note(c->T, "c%lu: headed for %s", c->no, c->orig_name);
    return 1;
}

static void conn_open(tap *T, int fd, const struct sockaddr *peer)
{
    char name[NET_NAME_MAX];
    tconn *c = sc_calloc(1, sizeof(*c));

    if (!c) {
        note(T, "out of memory accepting a connection; it is closed");
        close(fd);
        return;
    }
    c->T = T;
    c->no = ++T->last_no;
    c->reset_by = -1;
    c->connecting = 1;
    c->next = T->conns;
    if (T->conns)
        T->conns->prev = c;
    T->conns = c;
    T->nopen++;

    net_name(peer, name);
    note(T, "c%lu: open from %s", c->no, name);
    check(T, trace_event(T->tr, c->no, "open"));
    side_init(&c->s[0], c, TAP_C2S);
    side_init(&c->s[1], c, TAP_S2C);
    side_set_fd(&c->s[0], fd);
    net_nodelay(fd);
    c->client_port = net_port(peer);
    c->target_name = T->cfg->target_name;
    c->ai_next = T->cfg->target;
    ev_init(&c->timer, on_timer);
    c->timer.data = c;
    if (T->cfg->transparent && !original_target(c, fd)) {
        settle(c);
        return;
    }
    if (delay_on(delay_to(&c->s[1]))) {
        /* The target hears of the client once the SYN would have crossed. */
        double hold = due_to(&c->s[1]) - ev_now(T->ev);
        c->connect_wait = 1;
        ev_timer_set(&c->timer, hold > 0 ? hold : 0, 0.);
        ev_timer_start(T->ev, &c->timer);
    } else {
        ev_timer_set(&c->timer, CONNECT_TIMEOUT, 0.);
        ev_timer_start(T->ev, &c->timer);
        connect_next(c);
    }
    settle(c);
}

/* --- accepting ------------------------------------------------------------ */

static void update_accept(tap *T)
{
    io_want(T, &T->accept_w,
            !T->failed && T->nopen < T->cfg->max_conns && !ev_is_active(&T->accept_pause));
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    tap *T = w->data;
    (void)revents;

    for (int i = 0; i < ACCEPT_BURST && T->nopen < T->cfg->max_conns && !T->failed; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(T->listen_fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(T, fd, (const struct sockaddr *)&ss);
            continue;
        }
        if (errno == ECONNABORTED || errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        /* Out of descriptors or memory: the client waits in the backlog. */
        note(T, "cannot accept: %s; retrying in %g s", strerror(errno), ACCEPT_PAUSE);
        ev_timer_set(&T->accept_pause, ACCEPT_PAUSE, 0.);
        ev_timer_start(ev, &T->accept_pause);
        break;
    }
    update_accept(T);
}

static void on_accept_pause(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)revents;
    update_accept(w->data);
}

static void on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    tap *T = w->data;
    (void)revents;
    note(T, "%s: closing %u connection(s) and the trace", strsignal(w->signum), T->nopen);
    ev_break(ev, EVBREAK_ALL);
}

static void mask_signals(int how)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(how, &sigs, NULL);
}

int tap_run(const tap_config *cfg, int listen_fd, trace *tr)
{
    static tap T;   /* one per process; its read buffer stays off the stack */

    memset(&T, 0, sizeof(T));
    T.cfg = cfg;
    T.tr = tr;
    T.listen_fd = listen_fd;
    T.rng = (unsigned)getpid() * 2654435761u + 1u;
    sc_limits_default(&T.lim);
    T.lim.max_frame = TAP_MAX_FRAME;
    T.lim.max_str = TAP_MAX_FRAME;
    T.lim.max_entries = TAP_MAX_FRAME;

    /* Writes to a closed peer must fail with EPIPE, not kill the tap. */
    signal(SIGPIPE, SIG_IGN);
    T.ev = ev_default_loop(EVFLAG_AUTO);
    if (!T.ev) {
        fprintf(stderr, PROG ": cannot start the event loop (libev found no backend)\n");
        close(listen_fd);
        return 1;
    }
    ev_io_init(&T.accept_w, on_accept, listen_fd, EV_READ);
    T.accept_w.data = &T;
    ev_init(&T.accept_pause, on_accept_pause);
    T.accept_pause.data = &T;
    ev_signal_init(&T.sigint_w, on_signal, SIGINT);
    ev_signal_init(&T.sigterm_w, on_signal, SIGTERM);
    T.sigint_w.data = T.sigterm_w.data = &T;
    ev_signal_start(T.ev, &T.sigint_w);
    ev_signal_start(T.ev, &T.sigterm_w);
    update_accept(&T);
    mask_signals(SIG_UNBLOCK);

    ev_run(T.ev, 0);

    /* A second signal while closing must not cut the last lines short. */
    mask_signals(SIG_BLOCK);
    while (T.conns)
        conn_close(T.conns, 0);
    ev_io_stop(T.ev, &T.accept_w);
    ev_timer_stop(T.ev, &T.accept_pause);
    ev_signal_stop(T.ev, &T.sigint_w);
    ev_signal_stop(T.ev, &T.sigterm_w);
    close(listen_fd);
    ev_loop_destroy(T.ev);
    return T.failed ? 1 : 0;
}
