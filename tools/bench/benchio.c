/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* benchio.c - connections, framing and templates of the bench clients (see
 * bench.h).  The codec pieces are the reference runtime's own (sc_scan,
 * sc_frame_begin/end, the sc_pack_* encoders), so a client frames and
 * encodes exactly like scwire-ref and tractor do. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define READS_PER_CALL 4
#define MAX_POLL 1024

/* ---- time, statistics, memory ----------------------------------------------- */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

long bench_proc_kb(long pid, const char *field)
{
    char path[64], line[256];
    size_t fl = strlen(field);
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            kb = strtol(line + fl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

double bench_proc_cpu(long pid)
{
    char path[64], buf[1024];
    /* schedstat's first field is the time on a CPU in nanoseconds; stat's
     * utime + stime only count clock ticks (10 ms), too coarse for a
     * sub-second run. */
    snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        unsigned long long ns;
        int ok = fscanf(f, "%llu", &ns) == 1;
        fclose(f);
        if (ok)
            return (double)ns / 1e9;
    }
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1.0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command, which is in parentheses and may hold spaces:
     * state is field 3, utime 14 and stime 15. */
    const char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1.0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    fputs("scwire-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ---- templates ---------------------------------------------------------------- */

void bmsg_free(bmsg *m)
{
    free(m->data);
    m->data = NULL;
    m->len = 0;
}

int bench_pack_payload(msgpack_packer *pk, long n)
{
    static char xs[256];
    if (!xs[0])
        memset(xs, 'x', sizeof(xs));
    if (n < 0)
        return msgpack_pack_nil(pk);
    if (msgpack_pack_str(pk, (size_t)n) != 0)
        return -1;
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done) < sizeof(xs) ? (size_t)(n - done) : sizeof(xs);
        if (msgpack_pack_str_body(pk, xs, k) != 0)
            return -1;
        done += (long)k;
    }
    return 0;
}

/* Frame one message packed by the caller between begin and end. */
typedef struct tmpl {
    sc_buf b;
    msgpack_packer pk;
    size_t mark;
    sc_codec codec;
} tmpl;

static msgpack_packer *tmpl_begin(tmpl *t, sc_codec codec)
{
    sc_err err;
    sc_buf_init(&t->b, 0);
    t->codec = codec;
    msgpack_packer_init(&t->pk, &t->b, sc_buf_msgpack_write);
    if (sc_frame_begin(codec, &t->b, &t->mark, &err) != SC_OK)
        bench_die("framing a message: %s", err.msg);
    return &t->pk;
}

static bmsg tmpl_end(tmpl *t, int pack_rc)
{
    sc_err err;
    if (pack_rc != 0)
        bench_die("encoding a message failed");
    if (sc_frame_end(t->codec, &t->b, t->mark, (size_t)1 << 30, &err) != SC_OK)
        bench_die("framing a message: %s", err.msg);
    return (bmsg){ t->b.data, sc_buf_size(&t->b) };
}

bmsg bench_msg_yield(sc_codec codec, sc_str cid, long payload)
{
    tmpl t;
    msgpack_packer *pk = tmpl_begin(&t, codec);
    int rc = sc_pack_value_begin(pk, SC_MSG_YIELD);
    rc = rc ? rc : bench_pack_payload(pk, payload);
    rc = rc ? rc : sc_pack_value_end(pk, cid);
    return tmpl_end(&t, rc);
}

bmsg bench_msg_cmd(sc_codec codec, const char *ns, const char *func, const char *key, long payload,
                   const sc_uid *uid, sc_str cid)
{
    tmpl t;
    msgpack_packer *pk = tmpl_begin(&t, codec);
    int rc = sc_pack_cmd_begin(pk, (sc_str){ ns, strlen(ns) }, (sc_str){ func, strlen(func) });
    rc = rc ? rc : msgpack_pack_map(pk, key ? 1 : 0);
    if (key) {
        rc = rc ? rc : sc_pack_cstr(pk, key);
        rc = rc ? rc : bench_pack_payload(pk, payload);
    }
    rc = rc ? rc : sc_pack_cmd_end(pk, uid, cid);
    return tmpl_end(&t, rc);
}

bmsg bench_msg_cmd_str(sc_codec codec, const char *ns, const char *func, const char *key,
                       sc_str value, const sc_uid *uid, sc_str cid)
{
    tmpl t;
    msgpack_packer *pk = tmpl_begin(&t, codec);
    int rc = sc_pack_cmd_begin(pk, (sc_str){ ns, strlen(ns) }, (sc_str){ func, strlen(func) });
    rc = rc ? rc : msgpack_pack_map(pk, 1);
    rc = rc ? rc : sc_pack_cstr(pk, key);
    rc = rc ? rc : sc_pack_str(pk, value);
    rc = rc ? rc : sc_pack_cmd_end(pk, uid, cid);
    return tmpl_end(&t, rc);
}

bmsg bench_msg_uid(sc_codec codec, const sc_uid *uid)
{
    tmpl t;
    msgpack_packer *pk = tmpl_begin(&t, codec);
    return tmpl_end(&t, sc_pack_uid(pk, uid));
}

bmsg bench_msg_stop(sc_codec codec, sc_str cid)
{
    tmpl t;
    msgpack_packer *pk = tmpl_begin(&t, codec);
    return tmpl_end(&t, sc_pack_stop(pk, cid));
}

bmsg bench_msg_nil(sc_codec codec)
{
    tmpl t;
    msgpack_packer *pk = tmpl_begin(&t, codec);
    return tmpl_end(&t, sc_pack_nil_msg(pk));
}

void bench_cid(char out[37], unsigned long tag, unsigned long n)
{
    snprintf(out, 37, "%08lx-0000-4000-8000-%012lx", tag & 0xffffffffUL, n & 0xffffffffffffUL);
}

/* ---- connections ------------------------------------------------------------------ */

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

int bc_connect(bconn *c, const char *addr, sc_codec codec, double timeout)
{
    struct sockaddr_in sa;
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->codec = codec;
    sc_buf_init(&c->in, 0);
    sc_buf_init(&c->out, 0);
    sc_limits_default(&c->lim);
    c->lim.max_frame = (size_t)1 << 28;
    c->lim.max_str = 1u << 28;
    c->lim.max_entries = 1u << 24;
    if (!msgpack_zone_init(&c->zone, 4096))
        bench_die("out of memory");
    if (parse_addr(addr, &sa) != 0)
        bench_die("not an IPv4 host:port: %s", addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = { fd, POLLOUT, 0 };
    int r = poll(&p, 1, (int)(timeout * 1000));
    int err = 0;
    socklen_t len = sizeof(err);
    if (r != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

void bc_close(bconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    sc_buf_free(&c->in);
    sc_buf_free(&c->out);
    msgpack_zone_destroy(&c->zone);
    free(c->last);
    c->last = NULL;
}

void bc_put(bconn *c, const bmsg *m)
{
    if (sc_buf_append(&c->out, m->data, m->len, NULL) != SC_OK)
        bench_die("out of memory queueing output");
}

int bc_flush(bconn *c)
{
    while (sc_buf_size(&c->out) > 0) {
        ssize_t n = send(c->fd, sc_buf_head(&c->out), sc_buf_size(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            sc_buf_consume(&c->out, (size_t)n);
            c->bytes_out += (unsigned long)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return 0;
        } else {
            return -1;
        }
    }
    return 0;
}

int bc_read(bconn *c)
{
    for (int i = 0; i < READS_PER_CALL && !c->eof; i++) {
        sc_err err;
        char *dst = sc_buf_reserve(&c->in, READ_CHUNK, &err);
        if (!dst)
            bench_die("%s", err.msg);
        ssize_t n = read(c->fd, dst, READ_CHUNK);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->bytes_in += (unsigned long)n;
            if (n < READ_CHUNK)
                return 0;
        } else if (n == 0) {
            c->eof = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return 0;
        } else {
            c->eof = 1;
            return -1;
        }
    }
    return 0;
}

static void consume(bconn *c, size_t n)
{
    sc_buf_consume(&c->in, n);
    sc_scan_reset(&c->scan);
}

int bc_match(bconn *c, const bmsg *m)
{
    if (sc_buf_size(&c->in) < m->len || memcmp(sc_buf_head(&c->in), m->data, m->len) != 0)
        return 0;
    consume(c, m->len);
    return 1;
}

int bc_match_last(bconn *c)
{
    if (!c->last_len || sc_buf_size(&c->in) < c->last_len ||
        memcmp(sc_buf_head(&c->in), c->last, c->last_len) != 0)
        return 0;
    consume(c, c->last_len);
    return 1;
}

int bc_next(bconn *c, bframe *f)
{
    const uint8_t *p = (const uint8_t *)sc_buf_head(&c->in);
    size_t avail = sc_buf_size(&c->in), hdr = 0, obj_len;
    sc_err err;

    if (avail == 0)
        return 0;
    if (c->codec == SC_CODEC_LENPREFIX) {
        if (avail < 4)
            return 0;
        obj_len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        if (obj_len == 0 || obj_len > c->lim.max_frame) {
            fprintf(stderr, "scwire-bench: bad lenprefix header announcing %zu bytes\n", obj_len);
            return -1;
        }
        if (avail - 4 < obj_len)
            return 0;
        hdr = 4;
    } else {
        int rc = sc_scan(&c->scan, p, avail, &c->lim, &obj_len, &err);
        if (rc == SC_AGAIN)
            return 0;
        if (rc != SC_OK) {
            fprintf(stderr, "scwire-bench: undecodable input: %s\n", err.msg);
            return -1;
        }
    }
    size_t whole = hdr + obj_len;
    if (whole > c->last_cap) {
        char *n = realloc(c->last, whole);
        if (!n)
            bench_die("out of memory");
        c->last = n;
        c->last_cap = whole;
    }
    memcpy(c->last, p, whole);
    c->last_len = whole;
    consume(c, whole);

    size_t off = 0;
    msgpack_zone_clear(&c->zone);
    memset(f, 0, sizeof(*f));
    f->raw = c->last + hdr;
    f->len = obj_len;
    if (msgpack_unpack(f->raw, obj_len, &off, &c->zone, &f->obj) != MSGPACK_UNPACK_SUCCESS ||
        off != obj_len) {
        fprintf(stderr, "scwire-bench: msgpack-c refused a %zu-byte message\n", obj_len);
        return -1;
    }
    f->parse_rc = sc_msg_parse(&f->obj, &f->msg, &err);
    return 1;
}

int bc_wait(bconn **cs, size_t n, double deadline)
{
    struct pollfd p[MAX_POLL];
    size_t map[MAX_POLL], np = 0;
    for (size_t i = 0; i < n && np < MAX_POLL; i++) {
        bconn *c = cs[i];
        if (!c || c->fd < 0)
            continue;
        short ev = (short)((c->eof ? 0 : POLLIN) | (sc_buf_size(&c->out) ? POLLOUT : 0));
        if (!ev)
            continue;
        p[np] = (struct pollfd){ c->fd, ev, 0 };
        map[np++] = i;
    }
    double left = deadline - bench_now();
    if (left < 0)
        left = 0;
    if (left > 1.0)
        left = 1.0;
    if (np == 0)
        return 0;
    int r = poll(p, (nfds_t)np, (int)(left * 1000) + 1);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    for (size_t i = 0; i < np && r > 0; i++) {
        bconn *c = cs[map[i]];
        if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
            if (bc_read(c) != 0)
                return -1;
        if (p[i].revents & POLLOUT)
            if (bc_flush(c) != 0)
                return -1;
    }
    return 0;
}

int bc_next_wait(bconn *c, bframe *f, double deadline)
{
    for (;;) {
        int r = bc_next(c, f);
        if (r != 0)
            return r;
        if (c->eof || bench_now() > deadline)
            return 0;
        if (bc_flush(c) != 0 || bc_wait(&c, 1, deadline) != 0)
            return -1;
    }
}

int bc_handshake(bconn *c, const sc_uid *uid, double deadline)
{
    bmsg m = bench_msg_uid(c->codec, uid);
    bframe f;
    bc_put(c, &m);
    bmsg_free(&m);
    if (bc_flush(c) != 0)
        return -1;
    return bc_next_wait(c, &f, deadline) == 1 ? 0 : -1;
}

void bc_goodbye(bconn *c, double deadline)
{
    if (c->fd < 0)
        return;
    bmsg m = bench_msg_nil(c->codec);
    bc_put(c, &m);
    bmsg_free(&m);
    while (sc_buf_size(&c->out) && bench_now() < deadline)
        if (bc_flush(c) != 0 || bc_wait(&c, 1, deadline) != 0)
            break;
    shutdown(c->fd, SHUT_WR);
    while (!c->eof && bench_now() < deadline) {
        if (bc_wait(&c, 1, deadline) != 0)
            break;
        sc_buf_consume(&c->in, sc_buf_size(&c->in));
    }
}

const char *bframe_describe(const bframe *f, char *out, size_t n)
{
    if (f->parse_rc != SC_OK) {
        snprintf(out, n, "an unclassified %zu-byte message (type %s)", f->len,
                 sc_obj_type_name(&f->obj));
        return out;
    }
    const sc_msg *m = &f->msg;
    if (m->kind == SC_MSG_ERROR || m->kind == SC_MSG_ACTOR_ERROR)
        snprintf(out, n, "%s %.*s on cid %.*s: %.*s", sc_msg_kind_name(m->kind),
                 (int)m->type_str.len, m->type_str.ptr, (int)m->cid.len, m->cid.ptr,
                 (int)(m->tb_str.len > 300 ? 300 : m->tb_str.len), m->tb_str.ptr);
    else
        snprintf(out, n, "%s on cid %.*s", sc_msg_kind_name(m->kind), (int)m->cid.len, m->cid.ptr);
    return out;
}
