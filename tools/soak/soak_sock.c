/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_sock.c - one non-blocking TCP connection of scwire-soak under libev:
 * connect, write out a buffer, read into the runtime's frame reader
 * (codec.h), and the two encoders the bench templates do not cover (a
 * yield of an int, a cmd with one int kwarg). */
#include "soak.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Input is held to the runtime's default limits: nothing the IUT sends in
 * these scenarios comes near them, so a crossing is a fault to report. */
static sc_limits reader_limits(void)
{
    sc_limits l;
    sc_limits_default(&l);
    return l;
}

static void arm(struct ev_loop *ev, soak_sock *k)
{
    int want = EV_READ | (k->connecting || sc_buf_size(&k->out) ? EV_WRITE : 0);
    if ((k->io.events & (EV_READ | EV_WRITE)) == want && ev_is_active(&k->io))
        return;
    ev_io_stop(ev, &k->io);
    ev_io_set(&k->io, k->fd, want);
    ev_io_start(ev, &k->io);
}

int soak_sock_open(struct ev_loop *ev, soak_sock *k, const struct sockaddr_in *sa, sc_codec codec,
                   soak_io_cb cb, void *owner, sc_err *err)
{
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    k->codec = codec;
    sc_buf_init(&k->out, 0);
    sc_limits lim = reader_limits();
    int rc = sc_reader_new(codec, &lim, &k->rd, err);
    if (rc != SC_OK)
        return rc;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = sc_err_set(err, SC_ESTATE, "socket: %s%s", strerror(errno),
                        errno == EMFILE ? " (the driver's descriptor limit is reached)" : "");
        goto fail;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 && errno != EINPROGRESS) {
        rc = sc_err_set(err, SC_ESTATE, "connect: %s", strerror(errno));
        close(fd);
        goto fail;
    }
    k->fd = fd;
    k->connecting = 1;
    ev_io_init(&k->io, cb, fd, 0);
    k->io.data = owner;
    arm(ev, k);
    return SC_OK;
fail:
    sc_reader_free(k->rd);
    k->rd = NULL;
    return rc;
}

int soak_sock_connected(struct ev_loop *ev, soak_sock *k, sc_err *err)
{
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    if (e != 0)
        return sc_err_set(err, SC_ESTATE, "connect: %s", strerror(e));
    k->connecting = 0;
    arm(ev, k);
    return SC_OK;
}

int soak_sock_flush(struct ev_loop *ev, soak_sock *k, sc_err *err)
{
    while (!k->connecting && sc_buf_size(&k->out) > 0) {
        ssize_t n = k->peer_gone ? (ssize_t)sc_buf_size(&k->out)
                                 : send(k->fd, sc_buf_head(&k->out), sc_buf_size(&k->out), MSG_NOSIGNAL);
        if (n > 0) {
            sc_buf_consume(&k->out, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        /* The peer closed first: what it sent before is still to be read,
         * and the read side reports the end, so writing just stops. */
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            k->peer_gone = 1;
            continue;
        }
        return sc_err_set(err, SC_ESTATE, "send: %s", n < 0 ? strerror(errno) : "wrote nothing");
    }
    arm(ev, k);
    return SC_OK;
}

/* Reads per readiness: enough to drain a busy socket without starving the
 * other connections on the loop. */
#define READS_PER_EVENT 4

int soak_sock_read(soak_sock *k, int feed, int *eof, sc_err *err)
{
    static char chunk[SC_READ_CHUNK];
    *eof = 0;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = read(k->fd, chunk, sizeof(chunk));
        if (n > 0) {
            k->bytes_in += (unsigned long)n;
            if (feed && sc_reader_feed(k->rd, chunk, (size_t)n) != SC_OK)
                return sc_err_set(err, sc_reader_err(k->rd), "%s", sc_reader_errstr(k->rd));
            if ((size_t)n < sizeof(chunk))
                return SC_OK;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return SC_OK;
        /* A reset is how a peer that exits with unread input ends: for the
         * driver it is an end of stream like EOF. */
        if (n == 0 || errno == ECONNRESET) {
            *eof = 1;
            return SC_OK;
        }
        return sc_err_set(err, SC_ESTATE, "read: %s", strerror(errno));
    }
    return SC_OK;
}

void soak_sock_close(struct ev_loop *ev, soak_sock *k, int reset)
{
    if (k->fd >= 0) {
        ev_io_stop(ev, &k->io);
        if (reset) {
            struct linger lg = { 1, 0 };
            setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(k->fd);
    }
    k->fd = -1;
    sc_buf_free(&k->out);
    sc_reader_free(k->rd);
    k->rd = NULL;
}

int soak_sock_put(soak_sock *k, const bmsg *m, sc_err *err)
{
    return sc_buf_append(&k->out, m->data, m->len, err);
}

/* Frame one message packed by pack(arg) at the end of k->out; on failure
 * nothing of it stays there. */
int soak_sock_put_packed(soak_sock *k, soak_pack_fn pack, const void *arg, sc_err *err)
{
    size_t before = sc_buf_size(&k->out), mark;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &k->out, sc_buf_msgpack_write);
    int rc = sc_frame_begin(k->codec, &k->out, &mark, err);
    if (rc != SC_OK)
        return rc;
    if (pack(&pk, arg) != 0) {
        sc_buf_truncate(&k->out, before);
        return sc_err_set(err, SC_ENOMEM, "out of memory encoding a message");
    }
    sc_limits lim = reader_limits();
    return sc_frame_end(k->codec, &k->out, mark, lim.max_frame, err);
}

typedef struct yield_arg {
    sc_str cid;
    uint64_t value;
} yield_arg;

static int pack_yield(msgpack_packer *pk, const void *arg)
{
    const yield_arg *a = arg;
    if (sc_pack_value_begin(pk, SC_MSG_YIELD) != 0 || msgpack_pack_uint64(pk, a->value) != 0)
        return -1;
    return sc_pack_value_end(pk, a->cid);
}

int soak_sock_put_yield(soak_sock *k, sc_str cid, uint64_t value, sc_err *err)
{
    yield_arg a = { cid, value };
    return soak_sock_put_packed(k, pack_yield, &a, err);
}

typedef struct cmd_arg {
    const char *func;
    const char *key;
    int64_t value;
    const sc_uid *uid;
    sc_str cid;
} cmd_arg;

static int pack_cmd_int(msgpack_packer *pk, const void *arg)
{
    const cmd_arg *a = arg;
    if (sc_pack_cmd_begin(pk, SC_STR("scwire_service"), (sc_str){ a->func, strlen(a->func) }) != 0 ||
        msgpack_pack_map(pk, 1) != 0 || sc_pack_cstr(pk, a->key) != 0 ||
        msgpack_pack_int64(pk, a->value) != 0)
        return -1;
    return sc_pack_cmd_end(pk, a->uid, a->cid);
}

int soak_sock_put_cmd_int(soak_sock *k, const char *func, const char *key, int64_t value,
                          const sc_uid *uid, sc_str cid, sc_err *err)
{
    cmd_arg a = { func, key, value, uid, cid };
    return soak_sock_put_packed(k, pack_cmd_int, &a, err);
}
