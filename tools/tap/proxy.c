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
 * Callbacks change state and end with settle(), the one place that arms the
 * watchers and frees a connection, so no callback uses one after it is gone. */
#define _GNU_SOURCE /* accept4 */
#include "proxy.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "decoder.h"
#include "net.h"

#define PROG "scwire-tap"

#define HIGH_WATER (1u << 20)   /* queued bytes for one side before the other is not read */
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
    int abort;                 /* close at once, resetting what is still open */
    ev_timer timer;            /* the connect timeout, later RST_LINGER */
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
static void update_accept(tap *T);

static void side_init(side *x, tconn *c, tap_dir dir)
{
    tap *T = c->T;

    x->c = c;
    x->dir = dir;
    x->fd = -1;
    ev_init(&x->rio, on_read);
    ev_init(&x->wio, on_write);
    x->rio.data = x->wio.data = x;
    /* No cap: HIGH_WATER stops the reading that fills it. */
    sc_buf_init(&x->out, 0);
    check(T, decoder_init(&x->dec, T->cfg->codec, &T->lim, T->tr, c->no, dir));
    if (!decoder_live(&x->dec))
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

/* x is dead (a reset, or an error on read or write).  What it sent before
 * still reaches the other side, which then gets a reset too. */
static void side_reset(side *x, int e)
{
    tconn *c = x->c;
    tap *T = c->T;

    decode(x, NULL, 0);
    check(T, trace_dir_event(T->tr, c->no, "rst", x->dir));
    note(T, "c%lu: %s side reset: %s", c->no, x->dir == TAP_C2S ? "client" : "target",
         strerror(e));
    ev_io_stop(T->ev, &x->rio);
    ev_io_stop(T->ev, &x->wio);
    close(x->fd);
    x->fd = -1;
    sc_buf_free(&x->out);
    if (c->reset_by < 0) {
        c->reset_by = (int)x->dir;
        ev_timer_stop(T->ev, &c->timer);
        ev_timer_set(&c->timer, RST_LINGER, 0.);
        ev_timer_start(T->ev, &c->timer);
    }
}

/* Arm the watchers for the current state, pass FINs on, and close the
 * connection when it is over.  c may be gone afterwards. */
static void settle(tconn *c)
{
    tap *T = c->T;

    if (c->abort) {
        conn_close(c, 1);
        return;
    }
    if (c->connecting)
        return;
    if (c->reset_by >= 0) {
        side *y = &c->s[1 - c->reset_by];
        if (y->fd < 0 || sc_buf_size(&y->out) == 0) {
            conn_close(c, 1);
            return;
        }
        io_want(T, &y->rio, 0);
        io_want(T, &y->wio, 1);
        return;
    }
    for (int i = 0; i < 2; i++) {
        side *x = &c->s[i], *y = &c->s[1 - i];
        if (x->eof && !y->shut && sc_buf_size(&y->out) == 0) {
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
        io_want(T, &x->rio, !x->eof && sc_buf_size(&y->out) < HIGH_WATER);
        io_want(T, &y->wio, sc_buf_size(&y->out) > 0);
    }
}

/* Write what is queued for y.  With --chop, one write of at most N bytes
 * per call, so that each leaves in its own segment (TCP_NODELAY is on) and
 * the loop turns between them. */
static void flush(side *y)
{
    size_t chop = y->c->T->cfg->chop;

    while (y->fd >= 0 && sc_buf_size(&y->out) > 0) {
        size_t n = sc_buf_size(&y->out);
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
        } else {
            flush(y);
        }
    } else if (n == 0) {
        x->eof = 1;
        decode(x, NULL, 0);
        check(T, trace_dir_event(T->tr, c->no, "eof", x->dir));
    } else if (!would_block(errno)) {
        side_reset(x, errno);
    }
    settle(c);
}

static void on_write(struct ev_loop *ev, ev_io *w, int revents)
{
    side *y = w->data;
    tconn *c = y->c;
    (void)ev;
    (void)revents;

    flush(y);
    settle(c);
}

/* --- connecting to the target -------------------------------------------- */

static void connect_failed(tconn *c, const char *why)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "cannot connect to %s: %s", c->T->cfg->target_name, why);
    check(c->T, trace_connect_error(c->T->tr, c->no, msg));
    note(c->T, "c%lu: %s", c->no, msg);
    /* The client sees a reset, as if the target had refused it directly. */
    c->abort = 1;
}

/* Try the remaining addresses in turn; wait on the first that does not fail
 * at once. */
static void connect_next(tconn *c)
{
    side *t = &c->s[1];

    while (c->ai_next) {
        const struct addrinfo *ai = c->ai_next;
        int fd = -1, e;
        c->ai_next = ai->ai_next;
        e = net_connect_start(ai, &fd);
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

    if (c->connecting) {
        ev_io_stop(ev, &t->wio);
        snprintf(why, sizeof(why), "no answer within %g s", CONNECT_TIMEOUT);
        connect_failed(c, why);
    } else {
        note(c->T, "c%lu: gave up delivering the rest before the reset", c->no);
        c->abort = 1;
    }
    settle(c);
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
    ev_timer_init(&c->timer, on_timer, CONNECT_TIMEOUT, 0.);
    c->timer.data = c;
    ev_timer_start(T->ev, &c->timer);
    c->ai_next = T->cfg->target;
    connect_next(c);
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
