/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* loop.c - the libev glue around one sans-IO sc_actor (see loop.h).
 *
 * Child processes (SC_EV_SPAWN) are forked and exec'd here, watched with an
 * ev_child each (libev reaps them), signalled on SC_EV_SIGNAL, and reported
 * to the actor when reaped.
 *
 * Every callback tells the actor what happened and then pump()s: it drains
 * the actor's event queue, carries each event out and re-arms the single
 * timer that stands for sc_actor_next_deadline().  A connection moves through
 *
 *   CONNECTING  outbound, waiting for write readiness; the actor bounds the
 *               wait with its own timer and SC_EV_CLOSE
 *   OPEN        its watchers follow sc_actor_conn_interest()
 *   FLUSHING    SC_EV_CLOSE or exit: no more reading, the rest goes out
 *   DRAINING    all sent and our FIN is out; input is read and dropped until
 *               the peer's FIN, because close() with unread input sends a
 *               reset that can destroy the last reply before the peer reads it
 *
 * FLUSHING and DRAINING together last at most LINGER seconds, after which
 * the socket is closed and the id released to the actor. */
#define _GNU_SOURCE /* accept4 */
#include "loop.h"
#include "peercred.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINGER 1.0           /* bound on flushing and draining a closed connection */
#define ACCEPT_PAUSE 0.5     /* retry interval while out of descriptors */
#define ACCEPT_BURST 64      /* accepts per wakeup, so that a flood cannot starve the rest */
#define DISCARD_READS 16     /* bound on the input dropped right before close() */

typedef enum conn_state { C_CONNECTING, C_OPEN, C_FLUSHING, C_DRAINING } conn_state;

typedef struct sc_loop sc_loop;

/* A child process, until it is reaped. */
typedef struct proc {
    sc_loop *L;
    uint32_t id;                 /* the actor's child id */
    pid_t pid;
    ev_child w;
    struct proc *next;
} proc;

typedef struct conn {
    sc_loop *L;
    sc_conn_id id;
    int fd;                      /* -1 until a CONNECTING socket exists */
    conn_state state;
    int closed_by_actor;         /* SC_EV_CLOSE seen: release the id after close() */
    int peer_eof;                /* the peer sent FIN: never read again */
    int reset;                   /* the socket is dead: close without flushing */
    ev_io rio;
    ev_io wio;
    ev_timer linger;             /* bounds FLUSHING + DRAINING */
    struct addrinfo *ai_list;    /* CONNECTING: the resolved addresses */
    struct addrinfo *ai_next;    /* and the next one to try */
    int resolving;               /* CONNECTING: its host name is being resolved */
    uint64_t resolve_token;      /* the lookup's name: a serial and the id */
} conn;

struct sc_loop {
    struct ev_loop *ev;
    sc_actor *a;
    sc_loop_log_fn *log;
    void *ud;
    int listen_fd;
    ev_io accept_w;
    ev_timer accept_pause;
    int accept_starved;          /* the "cannot accept" line was logged */
    ev_timer deadline_w;
    double deadline;             /* what deadline_w is armed for */
    ev_signal sigint_w;
    ev_signal sigterm_w;
    int shutting_down;
    int exiting;                 /* SC_EV_EXIT seen: only flushing from here */
    int done;                    /* ev_break called; nothing more to do */
    int status;
    int pumping;
    conn **conns;                /* indexed by connection id */
    size_t nslots;
    unsigned nopen;
    sc_loop_opts opts;           /* exe NULL: no spawning */
    proc *procs;                 /* children not reaped yet */
    sc_resolver *resolver;       /* host names of outbound connections */
    uint32_t resolve_serial;
    char buf[SC_READ_CHUNK];
};

static void pump(sc_loop *L, double now);

double sc_loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void loop_log(sc_loop *L, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void loop_log(sc_loop *L, int level, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    L->log(L->ud, level, line);
}

static void finish(sc_loop *L)
{
    L->done = 1;
    ev_break(L->ev, EVBREAK_ALL);
}

static void io_want(sc_loop *L, ev_io *w, int on)
{
    if (on && !ev_is_active(w))
        ev_io_start(L->ev, w);
    else if (!on && ev_is_active(w))
        ev_io_stop(L->ev, w);
}

static void timer_restart(sc_loop *L, ev_timer *w, double after)
{
    ev_timer_stop(L->ev, w);
    ev_timer_set(w, after, 0.);
    ev_timer_start(L->ev, w);
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* Only latency is at stake, so a failure is not worth more than ignoring. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* --- the id -> connection map ------------------------------------------ */

static conn *conn_find(sc_loop *L, sc_conn_id id)
{
    return id < L->nslots ? L->conns[id] : NULL;
}

static void on_read(struct ev_loop *ev, ev_io *w, int revents);
static void on_write(struct ev_loop *ev, ev_io *w, int revents);
static void on_linger(struct ev_loop *ev, ev_timer *w, int revents);

static conn *conn_new(sc_loop *L, sc_conn_id id, int fd, conn_state state)
{
    conn *c;
    if (id >= L->nslots) {
        size_t n = L->nslots ? L->nslots : 16;
        conn **p;
        while (n <= id)
            n *= 2;
        p = sc_realloc(L->conns, n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + L->nslots, 0, (n - L->nslots) * sizeof(*p));
        L->conns = p;
        L->nslots = n;
    }
    c = sc_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->L = L;
    c->id = id;
    c->fd = fd;
    c->state = state;
    ev_io_init(&c->rio, on_read, fd, EV_READ);
    ev_io_init(&c->wio, on_write, fd, EV_WRITE);
    ev_init(&c->linger, on_linger);
    c->rio.data = c->wio.data = c->linger.data = c;
    L->conns[id] = c;
    L->nopen++;
    return c;
}

/* Forget c without telling the actor. */
static void conn_drop(conn *c)
{
    sc_loop *L = c->L;
    ev_io_stop(L->ev, &c->rio);
    ev_io_stop(L->ev, &c->wio);
    ev_timer_stop(L->ev, &c->linger);
    if (c->fd >= 0)
        close(c->fd);
    if (c->ai_list)
        freeaddrinfo(c->ai_list);
    if (c->resolving)
        sc_resolver_cancel(L->resolver, c->resolve_token);
    L->conns[c->id] = NULL;
    L->nopen--;
    sc_free(c);
}

/* Close the socket for good and hand the id back if the actor asked for the
 * close.  c is gone afterwards. */
static void conn_close(conn *c)
{
    sc_loop *L = c->L;
    sc_conn_id id = c->id;
    int release = c->closed_by_actor;
    if (c->state != C_CONNECTING && !c->reset) {
        /* Whatever has already arrived would turn our FIN into a reset. */
        for (int i = 0; i < DISCARD_READS; i++)
            if (read(c->fd, L->buf, sizeof(L->buf)) <= 0)
                break;
    }
    conn_drop(c);
    if (release)
        sc_actor_conn_release(L->a, id);
    if (L->exiting && L->nopen == 0)
        finish(L);
}

static void update_interest(conn *c)
{
    int want_read, want_write;
    if (c->state != C_OPEN || c->reset)
        return;
    sc_actor_conn_interest(c->L->a, c->id, &want_read, &want_write);
    io_want(c->L, &c->rio, want_read && !c->peer_eof);
    io_want(c->L, &c->wio, want_write);
}

/* --- reading and writing ----------------------------------------------- */

static int would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* The socket is dead (a reset, or an error on read or write): no more I/O;
 * the actor answers with SC_EV_CLOSE, which then closes at once. */
static void conn_reset(conn *c, double now)
{
    c->reset = 1;
    c->peer_eof = 1;
    ev_io_stop(c->L->ev, &c->rio);
    ev_io_stop(c->L->ev, &c->wio);
    sc_actor_conn_eof(c->L->a, c->id, 1, now);
}

static void flushed(conn *c)
{
    if (c->peer_eof || c->L->exiting) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = C_DRAINING;
    ev_io_stop(c->L->ev, &c->wio);
    ev_io_start(c->L->ev, &c->rio);
}

/* One send() of everything the actor has queued: the output of a whole loop
 * iteration leaves in one segment train instead of one per message. */
static void flush(conn *c, double now)
{
    sc_loop *L = c->L;
    const char *data;
    size_t len;
    ssize_t n;

    sc_actor_conn_output(L->a, c->id, &data, &len);
    if (len > 0) {
        n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            sc_actor_conn_written(L->a, c->id, (size_t)n, now);
        } else if (n < 0 && !would_block(errno)) {
            /* EPIPE, ECONNRESET or worse: the peer is gone either way. */
            if (c->state == C_OPEN)
                conn_reset(c, now);
            else
                conn_close(c);
            return;
        }
    }
    if (c->state == C_OPEN) {
        update_interest(c);
        return;
    }
    sc_actor_conn_output(L->a, c->id, &data, &len);
    if (len == 0)
        flushed(c);
    else
        io_want(L, &c->wio, 1);
}

static void begin_close(conn *c, double now)
{
    if (c->state == C_FLUSHING || c->state == C_DRAINING)
        return;
    if (c->state == C_CONNECTING || c->reset) {
        conn_close(c);
        return;
    }
    c->state = C_FLUSHING;
    ev_io_stop(c->L->ev, &c->rio);
    timer_restart(c->L, &c->linger, LINGER);
    flush(c, now);
}

static void on_read(struct ev_loop *ev, ev_io *w, int revents)
{
    conn *c = w->data;
    sc_loop *L = c->L;
    double now = sc_loop_now();
    ssize_t n;
    (void)ev;
    (void)revents;

    n = read(c->fd, L->buf, sizeof(L->buf));
    if (n < 0 && would_block(errno))
        return;
    if (c->state == C_DRAINING) {
        if (n <= 0)
            conn_close(c);
    } else if (n > 0) {
        sc_actor_feed(L->a, c->id, L->buf, (size_t)n, now);
        update_interest(c);
    } else if (n == 0) {
        c->peer_eof = 1;
        ev_io_stop(L->ev, &c->rio);
        sc_actor_conn_eof(L->a, c->id, 0, now);
        update_interest(c);
    } else {
        conn_reset(c, now);
    }
    pump(L, now);
}

/* --- outbound connections ---------------------------------------------- */

static void connect_failed(conn *c, int err, double now)
{
    sc_loop *L = c->L;
    sc_conn_id id = c->id;
    conn_drop(c);
    sc_actor_conn_connect_failed(L->a, id, strerror(err), now);
}

/* Try the remaining addresses in turn and wait on the first that does not
 * fail at once. */
static void connect_next(conn *c, int err, double now)
{
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        int fd;
        c->ai_next = ai->ai_next;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            c->fd = fd;
            ev_io_set(&c->rio, fd, EV_READ);
            ev_io_set(&c->wio, fd, EV_WRITE);
            ev_io_start(c->L->ev, &c->wio);
            return;
        }
        err = errno;
        close(fd);
    }
    connect_failed(c, err, now);
}

static void connect_done(conn *c, double now)
{
    sc_loop *L = c->L;
    int err = 0;
    socklen_t len = sizeof(err);

    ev_io_stop(L->ev, &c->wio);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        close(c->fd);
        c->fd = -1;
        connect_next(c, err, now);
        return;
    }
    set_nodelay(c->fd);
    freeaddrinfo(c->ai_list);
    c->ai_list = c->ai_next = NULL;
    c->state = C_OPEN;
    sc_actor_conn_connected(L->a, c->id, now);
    update_interest(c);
}

static void start_resolving(sc_loop *L, const sc_event *e, const char *port, double now)
{
    conn *c = conn_new(L, e->conn, -1, C_CONNECTING);
    if (!c) {
        sc_actor_conn_connect_failed(L->a, e->conn, strerror(ENOMEM), now);
        return;
    }
    c->resolve_token = (uint64_t)++L->resolve_serial << 32 | e->conn;
    int rc = L->resolver ? sc_resolver_start(L->resolver, e->host, port, c->resolve_token)
                         : EAI_MEMORY;
    if (rc != 0) {
        conn_drop(c);
        sc_actor_conn_connect_failed(L->a, e->conn,
                                     rc == EAI_AGAIN ? "too many host names are being resolved "
                                                       "at once"
                                     : rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc),
                                     now);
        return;
    }
    c->resolving = 1;
}

/* A host name is resolved: connect, unless the connection went meanwhile. */
static void on_resolved(void *ud, uint64_t token, struct addrinfo *res, int gai_rc)
{
    sc_loop *L = ud;
    double now = sc_loop_now();
    conn *c = conn_find(L, (sc_conn_id)(token & 0xffffffffu));
    if (!c || !c->resolving || c->resolve_token != token) {
        if (res)
            freeaddrinfo(res);
        return;
    }
    c->resolving = 0;
    if (gai_rc != 0) {
        sc_conn_id id = c->id;
        conn_drop(c);
        sc_actor_conn_connect_failed(L->a, id, gai_strerror(gai_rc), now);
    } else {
        c->ai_list = c->ai_next = res;
        connect_next(c, EHOSTUNREACH, now);
    }
    pump(L, now);
}

static void start_connect(sc_loop *L, const sc_event *e, double now)
{
    struct addrinfo hints, *res;
    char port[8];
    conn *c;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    snprintf(port, sizeof(port), "%u", (unsigned)e->port);
    /* An address is taken at once; a name is resolved off the loop. */
    rc = getaddrinfo(e->host, port, &hints, &res);
    if (rc == EAI_NONAME) {
        start_resolving(L, e, port, now);
        return;
    }
    if (rc != 0) {
        sc_actor_conn_connect_failed(L->a, e->conn,
                                     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc), now);
        return;
    }
    c = conn_new(L, e->conn, -1, C_CONNECTING);
    if (!c) {
        freeaddrinfo(res);
        sc_actor_conn_connect_failed(L->a, e->conn, strerror(ENOMEM), now);
        return;
    }
    c->ai_list = c->ai_next = res;
    connect_next(c, EHOSTUNREACH, now);
}

static void on_write(struct ev_loop *ev, ev_io *w, int revents)
{
    conn *c = w->data;
    sc_loop *L = c->L;
    double now = sc_loop_now();
    (void)ev;
    (void)revents;

    if (c->state == C_CONNECTING)
        connect_done(c, now);
    else
        flush(c, now);
    pump(L, now);
}

static void on_linger(struct ev_loop *ev, ev_timer *w, int revents)
{
    conn *c = w->data;
    sc_loop *L = c->L;
    double now = sc_loop_now();
    (void)ev;
    (void)revents;

    if (c->state == C_FLUSHING) {
        const char *data;
        size_t len;
        sc_actor_conn_output(L->a, c->id, &data, &len);
        loop_log(L, SC_LOG_INFO, "connection %u: %zu bytes still unsent after %.0f s, closing it",
                 (unsigned)c->id, len, LINGER);
    }
    conn_close(c);
    pump(L, now);
}

/* --- the listener ------------------------------------------------------- */

static void stop_listen(sc_loop *L)
{
    if (L->listen_fd < 0)
        return;
    ev_io_stop(L->ev, &L->accept_w);
    ev_timer_stop(L->ev, &L->accept_pause);
    close(L->listen_fd);
    L->listen_fd = -1;
}

/* Errors that concern only the connection being accepted (Linux reports
 * pending network errors of the new socket from accept). */
static int accept_retryable(int e)
{
    switch (e) {
    case EINTR: case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN: case ENONET:
    case ENETUNREACH: case EHOSTDOWN: case EHOSTUNREACH: case ENOPROTOOPT: case EOPNOTSUPP:
        return 1;
    default:
        return 0;
    }
}

/* The pending connection stays pending while we lack a descriptor, so the
 * watcher would fire again at once: rest instead, and keep serving. */
static void pause_accept(sc_loop *L, int err)
{
    if (!L->accept_starved)
        loop_log(L, SC_LOG_WARNING, "cannot accept connections: %s; retrying every %.1f s",
                 strerror(err), ACCEPT_PAUSE);
    L->accept_starved = 1;
    ev_io_stop(L->ev, &L->accept_w);
    timer_restart(L, &L->accept_pause, ACCEPT_PAUSE);
}

/* The peer's address as "host:port" ("[host]:port" for IPv6), for the log. */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, n, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, n, "[%s]:%u", host, port);
    } else {
        snprintf(out, n, "peer address unknown");
    }
}

static void accepted(sc_loop *L, int fd, const char *peer, double now)
{
    sc_conn_id id;
    sc_err err;
    conn *c;
    int rc;

    if (L->accept_starved) {
        loop_log(L, SC_LOG_WARNING, "accepting connections again");
        L->accept_starved = 0;
    }
    set_nodelay(fd);
    sc_err_clear(&err);
    rc = sc_actor_accept(L->a, now, peer, &id, &err);
    if (rc != SC_OK) {
        /* For SC_ELIMIT the actor has logged why. */
        if (rc != SC_ELIMIT)
            loop_log(L, SC_LOG_ERROR, "cannot take a new connection: %s",
                     err.msg[0] ? err.msg : sc_rc_name(rc));
        close(fd);
        return;
    }
    c = conn_new(L, id, fd, C_OPEN);
    if (!c) {
        loop_log(L, SC_LOG_ERROR, "connection %u: out of memory, dropping it", (unsigned)id);
        close(fd);
        /* The actor answers with SC_EV_CLOSE, and an id without a socket is
         * released at once. */
        sc_actor_conn_eof(L->a, id, 1, now);
        return;
    }
    update_interest(c);
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    sc_loop *L = w->data;
    double now = sc_loop_now();
    (void)ev;
    (void)revents;

    for (int i = 0; i < ACCEPT_BURST && L->listen_fd >= 0; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int fd = accept4(L->listen_fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            char peer[64];
            peer_text(&ss, peer, sizeof(peer));
            accepted(L, fd, peer, now);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (!accept_retryable(errno)) {
            pause_accept(L, errno);
            break;
        }
    }
    pump(L, now);
}

static void on_accept_pause(struct ev_loop *ev, ev_timer *w, int revents)
{
    sc_loop *L = w->data;
    (void)ev;
    (void)revents;
    if (L->listen_fd >= 0)
        ev_io_start(L->ev, &L->accept_w);
}

int sc_loop_listen(const char *host, uint16_t port, char *bound_host, size_t bound_sz,
                   uint16_t *bound_port, char *why, size_t why_sz)
{
    struct addrinfo hints, *res, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char portstr[8];
    int fd = -1, err = 0, rc, one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(why, why_sz, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0
            && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(why, why_sz, "%s", strerror(err));
        return -1;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(why, why_sz, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, bound_host, (socklen_t)bound_sz);
        *bound_port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, bound_host, (socklen_t)bound_sz);
        *bound_port = ntohs(s4->sin_port);
    }
    return fd;
}

/* Child mode: the init map says where to listen. */
static void start_listen(sc_loop *L, const sc_event *e, double now)
{
    char host[64], why[160];
    uint16_t port;
    int fd = sc_loop_listen(e->host, e->port, host, sizeof(host), &port, why, sizeof(why));
    if (fd < 0) {
        sc_actor_listen_failed(L->a, why, now);
        return;
    }
    stop_listen(L);
    L->listen_fd = fd;
    ev_io_set(&L->accept_w, fd, EV_READ);
    ev_io_start(L->ev, &L->accept_w);
    sc_actor_listening(L->a, host, port, now);
}

/* --- child processes ---------------------------------------------------- */

static void on_child(struct ev_loop *ev, ev_child *w, int revents)
{
    proc *p = w->data;
    sc_loop *L = p->L;
    double now = sc_loop_now();
    uint32_t id = p->id;
    int status = w->rstatus;
    (void)revents;

    ev_child_stop(ev, w);
    for (proc **pp = &L->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    sc_free(p);
    sc_actor_child_exited(L->a, id, status, now);
    pump(L, now);
}

/* fork and exec the runtime in child mode, as tractor's trio backend runs
 * `python -m tractor._child --uid ... --parent_addr ...`. */
static void spawn_child(sc_loop *L, const sc_event *e, double now)
{
    char uid[160], addr[100], budget[16];
    size_t nlead = 0, nextra = 0, i = 0;
    const char **argv;
    proc *p;
    pid_t parent = getpid(), pid;

    if (!L->opts.exe) {
        sc_actor_child_spawn_failed(L->a, e->child, "this loop does not start processes", now);
        return;
    }
    snprintf(uid, sizeof(uid), "('%s', '%s')", e->name, e->uuid);
    snprintf(addr, sizeof(addr), "('%s', %u)", e->host, (unsigned)e->port);
    while (L->opts.lead_args && L->opts.lead_args[nlead])
        nlead++;
    while (L->opts.child_args && L->opts.child_args[nextra])
        nextra++;
    argv = sc_calloc(nlead + nextra + 8, sizeof(*argv));
    p = sc_calloc(1, sizeof(*p));
    if (!argv || !p) {
        sc_free(argv);
        sc_free(p);
        sc_actor_child_spawn_failed(L->a, e->child, strerror(ENOMEM), now);
        return;
    }
    argv[i++] = L->opts.argv0 ? L->opts.argv0 : L->opts.exe;
    for (size_t k = 0; k < nlead; k++)
        argv[i++] = L->opts.lead_args[k];
    argv[i++] = "--uid";
    argv[i++] = uid;
    argv[i++] = "--parent_addr";
    argv[i++] = addr;
    for (size_t k = 0; k < nextra; k++)
        argv[i++] = L->opts.child_args[k];
    if (L->opts.child_args) {
        /* A child of this program gets its share of the tree's budget. */
        snprintf(budget, sizeof(budget), "%d", e->status);
        argv[i++] = "--max-children";
        argv[i++] = budget;
    }
    argv[i] = NULL;

    pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* No orphans, even when the parent is killed with SIGKILL. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        execv(L->opts.exe, (char *const *)argv);
        {
            static const char msg[] = "scwire-ref: cannot run the child program\n";
            ssize_t w = write(2, msg, sizeof(msg) - 1);
            (void)w;
        }
        _exit(127);
    }
    sc_free(argv);
    if (pid < 0) {
        int err = errno;
        sc_free(p);
        sc_actor_child_spawn_failed(L->a, e->child, strerror(err), now);
        return;
    }
    p->L = L;
    p->id = e->child;
    p->pid = pid;
    ev_child_init(&p->w, on_child, pid, 0);
    p->w.data = p;
    ev_child_start(L->ev, &p->w);
    p->next = L->procs;
    L->procs = p;
    sc_actor_child_spawned(L->a, e->child, (int)pid, now);
}

static void signal_child(sc_loop *L, const sc_event *e)
{
    for (proc *p = L->procs; p; p = p->next) {
        if (p->id == e->child) {
            if (kill(p->pid, e->status) != 0)
                loop_log(L, SC_LOG_WARNING, "cannot send signal %d to child pid %d: %s", e->status,
                         (int)p->pid, strerror(errno));
            return;
        }
    }
}

/* Only after a forced exit can children be left: they die with us. */
static void kill_children(sc_loop *L)
{
    while (L->procs) {
        proc *p = L->procs;
        int st;
        L->procs = p->next;
        ev_child_stop(L->ev, &p->w);
        loop_log(L, SC_LOG_WARNING, "killing child pid %d on the way out", (int)p->pid);
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        sc_free(p);
    }
}

/* --- actor events, time and signals ------------------------------------- */

static void begin_exit(sc_loop *L, int status, double now)
{
    L->exiting = 1;
    L->status = status;
    stop_listen(L);
    ev_timer_stop(L->ev, &L->deadline_w);
    /* Sockets the actor did not close are flushed too, but keep their ids:
     * the actor is about to be freed. */
    for (size_t i = 0; i < L->nslots; i++) {
        conn *c = L->conns[i];
        if (!c)
            continue;
        if (c->state == C_DRAINING)
            conn_close(c);
        else
            begin_close(c, now);
    }
    if (L->nopen == 0)
        finish(L);
}

static void handle_event(sc_loop *L, const sc_event *e, double now)
{
    conn *c = conn_find(L, e->conn);

    switch (e->kind) {
    case SC_EV_IO:
        if (c)
            update_interest(c);
        break;
    case SC_EV_CONNECT:
        /* Nothing new is started on the way out. */
        if (!L->exiting)
            start_connect(L, e, now);
        break;
    case SC_EV_CLOSE:
        if (!c) {
            /* The socket is already gone (failed connect, out of memory). */
            sc_actor_conn_release(L->a, e->conn);
            break;
        }
        c->closed_by_actor = 1;
        begin_close(c, now);
        break;
    case SC_EV_STOP_LISTEN:
        stop_listen(L);
        break;
    case SC_EV_EXIT:
        begin_exit(L, e->status, now);
        break;
    case SC_EV_LISTEN:
        if (!L->exiting)
            start_listen(L, e, now);
        break;
    case SC_EV_SPAWN:
        if (L->exiting)
            sc_actor_child_spawn_failed(L->a, e->child, "the loop is exiting", now);
        else
            spawn_child(L, e, now);
        break;
    case SC_EV_SIGNAL:
        signal_child(L, e);
        break;
    case SC_EV_VERIFY_CHILD:
        sc_actor_child_verified(L->a, e->conn, c ? peercred_is_process(c->fd, e->status) : -1, now);
        break;
    }
}

static void arm_deadline(sc_loop *L, double now)
{
    double d = sc_actor_next_deadline(L->a);
    if (d < 0) {
        ev_timer_stop(L->ev, &L->deadline_w);
        return;
    }
    if (ev_is_active(&L->deadline_w) && d == L->deadline)
        return;
    L->deadline = d;
    /* libev counts from the start of this iteration, a little before `now`,
     * so the timer may fire early; sc_actor_advance then does nothing and the
     * timer is re-armed for the rest. */
    timer_restart(L, &L->deadline_w, d > now ? d - now : 0.);
}

/* Run the actor's queued events; handlers that call into the actor again
 * only queue more, which the same loop picks up. */
static void pump(sc_loop *L, double now)
{
    sc_event e;
    if (L->pumping || L->done)
        return;
    L->pumping = 1;
    while (!L->done && sc_actor_next_event(L->a, &e))
        handle_event(L, &e, now);
    L->pumping = 0;
    if (!L->exiting)
        arm_deadline(L, now);
}

static void on_deadline(struct ev_loop *ev, ev_timer *w, int revents)
{
    sc_loop *L = w->data;
    double now = sc_loop_now();
    (void)ev;
    (void)revents;
    sc_actor_advance(L->a, now);
    pump(L, now);
}

static void on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    sc_loop *L = w->data;
    const char *name = w->signum == SIGINT ? "SIGINT" : "SIGTERM";
    double now = sc_loop_now();
    (void)ev;
    (void)revents;

    if (L->shutting_down || L->exiting) {
        loop_log(L, SC_LOG_WARNING, "%s during shutdown, exiting at once", name);
        L->status = 1;
        finish(L);
        return;
    }
    L->shutting_down = sc_actor_shutdown(L->a, now);
    if (L->shutting_down)
        loop_log(L, SC_LOG_INFO, "%s, shutting down", name);
    pump(L, now);
}

/* --- entry point -------------------------------------------------------- */

/* SIGINT and SIGTERM are blocked whenever no watcher takes them, so that
 * one arriving then waits instead of killing the process. */
static void mask_signals(int how)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(how, &sigs, NULL);
}

static void loop_teardown(sc_loop *L)
{
    mask_signals(SIG_BLOCK);
    kill_children(L);
    for (size_t i = 0; i < L->nslots; i++)
        if (L->conns[i])
            conn_drop(L->conns[i]);
    stop_listen(L);
    ev_timer_stop(L->ev, &L->deadline_w);
    sc_resolver_free(L->resolver);
    ev_signal_stop(L->ev, &L->sigint_w);
    ev_signal_stop(L->ev, &L->sigterm_w);
    ev_loop_destroy(L->ev);
    sc_free(L->conns);
}

int sc_loop_run(sc_actor *a, int listen_fd, const sc_loop_opts *opts, sc_loop_log_fn *log_fn,
                void *ud)
{
    sc_loop *L;
    int status;

    signal(SIGPIPE, SIG_IGN);
    L = sc_calloc(1, sizeof(*L));
    if (!L) {
        log_fn(ud, SC_LOG_CRITICAL, "out of memory");
        if (listen_fd >= 0)
            close(listen_fd);
        return 1;
    }
    L->a = a;
    L->log = log_fn;
    L->ud = ud;
    L->listen_fd = listen_fd;
    if (opts)
        L->opts = *opts;
    L->ev = ev_default_loop(EVFLAG_AUTO);
    if (!L->ev) {
        log_fn(ud, SC_LOG_CRITICAL, "cannot start libev (check LIBEV_FLAGS)");
        if (listen_fd >= 0)
            close(listen_fd);
        sc_free(L);
        return 1;
    }
    /* Without a resolver, connecting to a host name fails and says so. */
    L->resolver = sc_resolver_new(L->ev, on_resolved, L);
    ev_io_init(&L->accept_w, on_accept, listen_fd, EV_READ);
    ev_init(&L->accept_pause, on_accept_pause);
    ev_init(&L->deadline_w, on_deadline);
    ev_signal_init(&L->sigint_w, on_signal, SIGINT);
    ev_signal_init(&L->sigterm_w, on_signal, SIGTERM);
    L->accept_w.data = L->accept_pause.data = L->deadline_w.data = L;
    L->sigint_w.data = L->sigterm_w.data = L;
    if (listen_fd >= 0)
        ev_io_start(L->ev, &L->accept_w);
    ev_signal_start(L->ev, &L->sigint_w);
    ev_signal_start(L->ev, &L->sigterm_w);
    mask_signals(SIG_UNBLOCK);

    /* Whatever sc_actor_start queued. */
    pump(L, sc_loop_now());
    if (!L->done)
        ev_run(L->ev, 0);

    status = L->status;
    loop_teardown(L);
    sc_free(L);
    return status;
}
