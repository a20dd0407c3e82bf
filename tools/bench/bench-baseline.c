/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* bench-baseline.c - the raw baseline of the benchmarks: a minimal libev +
 * msgpack-c echo server with scwire's framing and no protocol logic.
 *
 * Every decoded message M is answered with {"yield": V, "cid": C}, where V
 * is the value of M's first entry and C its "cid" entry when M is a map
 * (otherwise V = M and C = ""), so that the echo of a yield is byte for byte
 * what scwire-ref's ctx_echo sends back.  No handshake, no contexts, no
 * limits beyond a bound on the input buffer; the output of one read leaves
 * in one send(), and reading pauses while more than OUT_PAUSE bytes wait.
 * What scwire-ref does on top of this is what the ratios measure.
 *
 *   bench-baseline [--listen 127.0.0.1:0] [--codec msgpack|lenprefix]
 *
 * prints the bound host:port on its first stdout line; SIGINT or SIGTERM
 * end it with status 0. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define IN_MAX (16u << 20)
#define OUT_PAUSE (4u << 20)

static int lenprefix;

typedef struct client {
    ev_io rio;
    ev_io wio;
    int fd;
    char *in;
    size_t in_len, in_cap;
    msgpack_sbuffer out;   /* out.data[out_off .. out.size) is unsent */
    size_t out_off;
    msgpack_packer pk;
    msgpack_zone zone;
} client;

static void client_free(struct ev_loop *ev, client *c)
{
    ev_io_stop(ev, &c->rio);
    ev_io_stop(ev, &c->wio);
    close(c->fd);
    free(c->in);
    msgpack_sbuffer_destroy(&c->out);
    msgpack_zone_destroy(&c->zone);
    free(c);
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void echo(client *c, const msgpack_object *m)
{
    msgpack_object value = *m, cid = { .type = MSGPACK_OBJECT_STR };
    size_t mark = c->out.size;
    if (m->type == MSGPACK_OBJECT_MAP && m->via.map.size > 0) {
        value = m->via.map.ptr[0].val;
        for (uint32_t i = 0; i < m->via.map.size; i++) {
            const msgpack_object *k = &m->via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 3 &&
                memcmp(k->via.str.ptr, "cid", 3) == 0)
                cid = m->via.map.ptr[i].val;
        }
    }
    if (lenprefix)
        msgpack_sbuffer_write(&c->out, "\0\0\0\0", 4);
    msgpack_pack_map(&c->pk, 2);
    pack_str(&c->pk, "yield", 5);
    msgpack_pack_object(&c->pk, value);
    pack_str(&c->pk, "cid", 3);
    msgpack_pack_object(&c->pk, cid);
    if (lenprefix) {
        size_t body = c->out.size - mark - 4;
        unsigned char *h = (unsigned char *)c->out.data + mark;
        h[0] = (unsigned char)body;
        h[1] = (unsigned char)(body >> 8);
        h[2] = (unsigned char)(body >> 16);
        h[3] = (unsigned char)(body >> 24);
    }
}

/* Decode and answer every whole message in the input; -1 on garbage. */
static int process(client *c)
{
    size_t off = 0;
    while (off < c->in_len) {
        const char *p = c->in + off;
        size_t avail = c->in_len - off, hdr = 0, len = avail, used = 0;
        if (lenprefix) {
            if (avail < 4)
                break;
            const unsigned char *u = (const unsigned char *)p;
            len = (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24;
            if (len == 0 || len > IN_MAX)
                return -1;
            if (avail - 4 < len)
                break;
            hdr = 4;
        }
        msgpack_object obj;
        msgpack_zone_clear(&c->zone);
        msgpack_unpack_return r = msgpack_unpack(p + hdr, len, &used, &c->zone, &obj);
        if (r == MSGPACK_UNPACK_CONTINUE && !lenprefix)
            break;
        if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES)
            return -1;
        if (lenprefix && used != len)
            return -1;
        echo(c, &obj);
        off += hdr + used;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return 0;
}

static void update(struct ev_loop *ev, client *c)
{
    size_t pending = c->out.size - c->out_off;
    if (pending && !ev_is_active(&c->wio))
        ev_io_start(ev, &c->wio);
    else if (!pending && ev_is_active(&c->wio))
        ev_io_stop(ev, &c->wio);
    if (pending > OUT_PAUSE && ev_is_active(&c->rio))
        ev_io_stop(ev, &c->rio);
    else if (pending <= OUT_PAUSE && !ev_is_active(&c->rio))
        ev_io_start(ev, &c->rio);
}

/* One send() of everything queued; -1 when the peer is gone. */
static int flush(client *c)
{
    size_t pending = c->out.size - c->out_off;
    if (!pending)
        return 0;
    ssize_t n = send(c->fd, c->out.data + c->out_off, pending, MSG_NOSIGNAL);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    c->out_off += (size_t)n;
    if (c->out_off == c->out.size)
        c->out_off = c->out.size = 0;
    return 0;
}

static void on_write(struct ev_loop *ev, ev_io *w, int revents)
{
    client *c = w->data;
    (void)revents;
    if (flush(c) != 0) {
        client_free(ev, c);
        return;
    }
    update(ev, c);
}

static void on_read(struct ev_loop *ev, ev_io *w, int revents)
{
    client *c = w->data;
    (void)revents;
    if (c->in_cap - c->in_len < READ_CHUNK) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 2 * READ_CHUNK;
        char *p = cap <= IN_MAX + READ_CHUNK ? realloc(c->in, cap) : NULL;
        if (!p) {
            client_free(ev, c);
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    ssize_t n = read(c->fd, c->in + c->in_len, READ_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        flush(c);
        client_free(ev, c);
        return;
    }
    c->in_len += (size_t)n;
    if (process(c) != 0 || flush(c) != 0) {
        client_free(ev, c);
        return;
    }
    update(ev, c);
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    (void)revents;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        client *c = calloc(1, sizeof(*c));
        if (!c || !msgpack_zone_init(&c->zone, 2048)) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        msgpack_sbuffer_init(&c->out);
        msgpack_packer_init(&c->pk, &c->out, msgpack_sbuffer_write);
        ev_io_init(&c->rio, on_read, fd, EV_READ);
        ev_io_init(&c->wio, on_write, fd, EV_WRITE);
        c->rio.data = c->wio.data = c;
        ev_io_start(ev, &c->rio);
    }
}

static void on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(ev, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else if (strcmp(argv[i], "--codec") == 0 && i + 1 < argc) {
            const char *c = argv[++i];
            if (strcmp(c, "lenprefix") == 0)
                lenprefix = 1;
            else if (strcmp(c, "msgpack") != 0) {
                fprintf(stderr, "bench-baseline: unknown codec %s\n", c);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench-baseline [--listen HOST:PORT] [--codec msgpack|lenprefix]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    char host[64];
    const char *colon = strrchr(listen_at, ':');
    struct sockaddr_in sa = { .sin_family = AF_INET };
    if (!colon || (size_t)(colon - listen_at) >= sizeof(host)) {
        fprintf(stderr, "bench-baseline: --listen wants HOST:PORT\n");
        return 2;
    }
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bench-baseline: not an IPv4 address: %s\n", host);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t sl = sizeof(sa);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("bench-baseline: listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("%s:%u\n", host, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);

    struct ev_loop *ev = ev_default_loop(EVFLAG_AUTO);
    ev_io accept_w;
    ev_signal sigint_w, sigterm_w;
    ev_io_init(&accept_w, on_accept, fd, EV_READ);
    ev_signal_init(&sigint_w, on_signal, SIGINT);
    ev_signal_init(&sigterm_w, on_signal, SIGTERM);
    ev_io_start(ev, &accept_w);
    ev_signal_start(ev, &sigint_w);
    ev_signal_start(ev, &sigterm_w);
    ev_run(ev, 0);
    close(fd);
    return 0;
}
