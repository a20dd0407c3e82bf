/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* simpeer.c - the simulated glue and peers of simpeer.h. */
#include "simpeer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

#define LOG_CAP (1u << 20)

/* ---- bytes ----------------------------------------------------------------- */

void sp_bytes_add(sp_bytes *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            fprintf(stderr, "simpeer: out of memory\n");
            abort();
        }
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
}

void sp_bytes_free(sp_bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static char *vfmt(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = malloc((size_t)n + 1);
    if (!s)
        abort();
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/* ---- the text notation --------------------------------------------------------- */

typedef struct tparse {
    const char *s;
    const char *start;
    const char *err;
} tparse;

static int bytes_write(void *data, const char *buf, size_t len)
{
    sp_bytes_add(data, buf, len);
    return 0;
}

static void skip_ws(tparse *t)
{
    while (isspace((unsigned char)*t->s))
        t->s++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_value(tparse *t, sp_bytes *out);

static int parse_quoted(tparse *t, sp_bytes *s)
{
    char q = *t->s++;
    while (*t->s && *t->s != q) {
        char c = *t->s++;
        if (c == '\\') {
            c = *t->s++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case '0': c = '\0'; break;
            case 'x': {
                int hi = hexval(t->s[0]), lo = hi < 0 ? -1 : hexval(t->s[1]);
                if (lo < 0)
                    return t->err = "bad \\x escape", -1;
                c = (char)(hi << 4 | lo);
                t->s += 2;
                break;
            }
            case '\\': case '\'': case '"': break;
            default: return t->err = "unknown escape", -1;
            }
        }
        sp_bytes_add(s, &c, 1);
    }
    if (*t->s != q)
        return t->err = "unterminated string", -1;
    t->s++;
    return 0;
}

/* [a, b] or {k: v}: the items go to a side buffer first, since the header
 * needs their count. */
static int parse_container(tparse *t, sp_bytes *out)
{
    int map = *t->s++ == '{';
    char close = map ? '}' : ']';
    sp_bytes items = { 0 };
    uint32_t n = 0;
    int rc = 0;
    skip_ws(t);
    while (*t->s != close) {
        if (n && (*t->s++ != ',' || (skip_ws(t), 0))) {
            t->err = "expected ','";
            rc = -1;
            break;
        }
        if (parse_value(t, &items) != 0 ||
            (map && ((skip_ws(t), *t->s++ != ':') || parse_value(t, &items) != 0))) {
            if (!t->err)
                t->err = "expected ':'";
            rc = -1;
            break;
        }
        n++;
        skip_ws(t);
    }
    if (rc == 0) {
        t->s++;
        msgpack_packer pk;
        msgpack_packer_init(&pk, out, bytes_write);
        if (map)
            msgpack_pack_map(&pk, n);
        else
            msgpack_pack_array(&pk, n);
        sp_bytes_add(out, items.data, items.len);
    }
    sp_bytes_free(&items);
    return rc;
}

static int parse_number(tparse *t, sp_bytes *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, bytes_write);
    const char *p = t->s + (*t->s == '-');
    size_t digits = strspn(p, "0123456789");
    if (!digits)
        return t->err = "bad value", -1;
    char *end;
    if (p[digits] == '.' || p[digits] == 'e' || p[digits] == 'E') {
        double d = strtod(t->s, &end);
        t->s = end;
        return msgpack_pack_double(&pk, d);
    }
    if (*t->s == '-') {
        long long v = strtoll(t->s, &end, 10);
        t->s = end;
        return msgpack_pack_int64(&pk, v);
    }
    unsigned long long v = strtoull(t->s, &end, 10);
    t->s = end;
    return msgpack_pack_uint64(&pk, v);
}

static int parse_value(tparse *t, sp_bytes *out)
{
    static const struct {
        const char *word;
        const char *bytes;
    } words[] = { { "nil", "\xc0" }, { "null", "\xc0" }, { "true", "\xc3" }, { "false", "\xc2" } };
    skip_ws(t);
    char c = *t->s;
    if (c == '[' || c == '{')
        return parse_container(t, out);
    if (c == '\'' || c == '"' || (c == 'b' && (t->s[1] == '\'' || t->s[1] == '"'))) {
        int bin = c == 'b';
        t->s += bin;
        sp_bytes s = { 0 };
        int rc = parse_quoted(t, &s);
        if (rc == 0) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, out, bytes_write);
            if (bin) {
                msgpack_pack_bin(&pk, s.len);
                msgpack_pack_bin_body(&pk, s.data, s.len);
            } else {
                msgpack_pack_str(&pk, s.len);
                msgpack_pack_str_body(&pk, s.data, s.len);
            }
        }
        sp_bytes_free(&s);
        return rc;
    }
    if (c == '<') {
        t->s++;
        for (;;) {
            skip_ws(t);
            if (*t->s == '>')
                break;
            int hi = hexval(t->s[0]), lo = hi < 0 ? -1 : hexval(t->s[1]);
            if (lo < 0)
                return t->err = "bad raw bytes", -1;
            char b = (char)(hi << 4 | lo);
            sp_bytes_add(out, &b, 1);
            t->s += 2;
        }
        t->s++;
        return 0;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i].word);
        if (strncmp(t->s, words[i].word, n) == 0 && !isalnum((unsigned char)t->s[n])) {
            t->s += n;
            sp_bytes_add(out, words[i].bytes, 1);
            return 0;
        }
    }
    return parse_number(t, out);
}

int sp_pack(sp_bytes *out, const char *text)
{
    tparse t = { text, text, NULL };
    size_t mark = out->len;
    int rc = parse_value(&t, out);
    skip_ws(&t);
    if (rc == 0 && *t.s)
        t.err = "trailing text", rc = -1;
    if (rc != 0) {
        out->len = mark;
        fprintf(stderr, "simpeer: %s at offset %ld of: %.200s\n", t.err ? t.err : "bad value",
                (long)(t.s - t.start), text);
    }
    return rc;
}

static int frame_text(sp_bytes *out, sc_codec codec, const char *text)
{
    size_t mark = out->len;
    if (codec == SC_CODEC_LENPREFIX)
        sp_bytes_add(out, "\0\0\0\0", 4);
    if (sp_pack(out, text) != 0) {
        out->len = mark;
        return -1;
    }
    if (codec == SC_CODEC_LENPREFIX) {
        size_t n = out->len - mark - 4;
        for (int i = 0; i < 4; i++)
            out->data[mark + (size_t)i] = (char)(n >> (8 * i) & 0xff);
    }
    return 0;
}

int sp_framef(sp_bytes *out, sc_codec codec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vfmt(fmt, ap);
    va_end(ap);
    int rc = frame_text(out, codec, text);
    free(text);
    return rc;
}

typedef struct rbuf {
    char *p;
    size_t n;
} rbuf;

static void rput(rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rput(rbuf *r, const char *fmt, ...)
{
    if (r->n <= 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->p, r->n, fmt, ap);
    va_end(ap);
    size_t used = k < 0 ? 0 : (size_t)k >= r->n ? r->n - 1 : (size_t)k;
    r->p += used;
    r->n -= used;
}

static void repr_bytes(rbuf *r, const char *prefix, const char *p, uint32_t n)
{
    rput(r, "%s'", prefix);
    for (uint32_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\'' || c == '\\')
            rput(r, "\\%c", c);
        else if (c == '\n')
            rput(r, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            rput(r, "\\x%02x", c);
        else
            rput(r, "%c", c);
    }
    rput(r, n > 200 ? "'...(%u bytes)" : "'", (unsigned)n);
}

static void repr(rbuf *r, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: rput(r, "nil"); break;
    case MSGPACK_OBJECT_BOOLEAN: rput(r, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: rput(r, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: rput(r, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: rput(r, "%.17g%s", o->via.f64,
                                      o->type == MSGPACK_OBJECT_FLOAT32 ? "(f32)" : ""); break;
    case MSGPACK_OBJECT_STR: repr_bytes(r, "", o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: repr_bytes(r, "b", o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_EXT:
        rput(r, "ext(%d, ", o->via.ext.type);
        repr_bytes(r, "b", o->via.ext.ptr, o->via.ext.size);
        rput(r, ")");
        break;
    case MSGPACK_OBJECT_ARRAY:
        rput(r, "[");
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            rput(r, i ? ", " : "");
            repr(r, &o->via.array.ptr[i]);
        }
        rput(r, "]");
        break;
    case MSGPACK_OBJECT_MAP:
        rput(r, "{");
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            rput(r, i ? ", " : "");
            repr(r, &o->via.map.ptr[i].key);
            rput(r, ": ");
            repr(r, &o->via.map.ptr[i].val);
        }
        rput(r, "}");
        break;
    }
}

void sp_repr(const msgpack_object *o, char *out, size_t n)
{
    rbuf r = { out, n };
    if (n)
        out[0] = '\0';
    repr(&r, o);
}

/* ---- failmalloc bookkeeping -------------------------------------------------------- */

/* The harness's own sc_reader must not eat the actor's failure budget, so
 * injection is paused around it and re-armed with what is left. */
static void fm_pause(simpeer *p)
{
    if (!p->fm_armed)
        return;
    unsigned long used = sc_alloc_count();
    if (used >= p->fm_left) {
        p->fm_hit = 1;
        p->fm_armed = 0;
    } else {
        p->fm_left -= used;
    }
    sc_alloc_fail_at(0);
}

static void fm_resume(simpeer *p)
{
    if (p->fm_armed)
        sc_alloc_fail_at(p->fm_left);
}

void sp_failmalloc(simpeer *p, unsigned long n)
{
    p->fm_armed = n != 0;
    p->fm_left = n;
    p->fm_hit = 0;
    sc_alloc_fail_at(n);
}

int sp_failmalloc_hit(simpeer *p)
{
    fm_pause(p);
    fm_resume(p);
    return p->fm_hit;
}

/* ---- callbacks ------------------------------------------------------------------------ */

static void cb_log(void *ud, int level, const char *line)
{
    simpeer *p = ud;
    if (level >= SC_LOG_WARNING)
        p->warnings++;
    if (p->verbose)
        fprintf(stderr, "  [%s] %s\n", sc_loglevel_name(level), line);
    if (p->log.len < LOG_CAP) {
        const char *name = sc_loglevel_name(level);
        sp_bytes_add(&p->log, name, strlen(name));
        sp_bytes_add(&p->log, ": ", 2);
        sp_bytes_add(&p->log, line, strlen(line));
        sp_bytes_add(&p->log, "\n", 1);
    }
}

/* xorshift64*: the same bytes on every run. */
static void cb_random(void *ud, uint8_t *out, size_t n)
{
    simpeer *p = ud;
    for (size_t i = 0; i < n; i++) {
        p->rng ^= p->rng >> 12;
        p->rng ^= p->rng << 25;
        p->rng ^= p->rng >> 27;
        out[i] = (uint8_t)((p->rng * 2685821657736338717ull) >> 56);
    }
}

/* ---- connections ----------------------------------------------------------------------- */

int sp_init(simpeer *p, const sc_actor_config *cfg)
{
    memset(p, 0, sizeof(*p));
    if (cfg)
        p->cfg = *cfg;
    else
        sc_actor_config_default(&p->cfg);
    /* Own copies: the caller's strings need not outlive this call. */
    snprintf(p->name, sizeof(p->name), "%s", p->cfg.name ? p->cfg.name : "");
    snprintf(p->uuid, sizeof(p->uuid), "%s", p->cfg.uuid ? p->cfg.uuid : SP_ACTOR_UUID);
    p->cfg.name = p->cfg.name ? p->name : NULL;
    p->cfg.uuid = p->uuid;
    if (p->cfg.registry_host) {
        snprintf(p->registry_host, sizeof(p->registry_host), "%s", p->cfg.registry_host);
        p->cfg.registry_host = p->registry_host;
    }
    p->now = 1000.0;
    p->rng = 0x9e3779b97f4a7c15ull;
    p->last_connect = -1;
    p->verbose = getenv("SP_VERBOSE") != NULL;
    static const sc_actor_callbacks cb = { cb_log, cb_random };
    sc_err err;
    int rc = sc_actor_new(&p->cfg, &cb, p, &p->actor, &err);
    if (rc != SC_OK) {
        p->actor = NULL;
        return rc;
    }
    return SC_OK;
}

int sp_start(simpeer *p)
{
    int rc = sc_actor_start(p->actor, p->now);
    sp_pump(p);
    return rc;
}

static void conn_destroy(sp_conn *c)
{
    sc_reader_free(c->reader);
    if (c->zone)
        msgpack_zone_free(c->zone);
    free(c->msgs);
    sp_bytes_free(&c->in);
}

unsigned sp_free(simpeer *p)
{
    fm_pause(p);
    p->fm_armed = 0;
    sc_alloc_fail_at(0);
    sc_actor_free(p->actor);
    p->actor = NULL;
    for (size_t i = 0; i < p->nconns; i++)
        conn_destroy(&p->conns[i]);
    free(p->conns);
    free(p->events);
    sp_bytes_free(&p->log);
    return p->faults;
}

static sp_conn *conn(const simpeer *p, int h)
{
    if (h < 0 || (size_t)h >= p->nconns) {
        fprintf(stderr, "simpeer: no connection handle %d\n", h);
        abort();
    }
    return &p->conns[h];
}

static int conn_add(simpeer *p, sc_conn_id id, sc_codec codec)
{
    if (p->nconns == p->conns_cap) {
        size_t cap = p->conns_cap ? p->conns_cap * 2 : 16;
        sp_conn *v = realloc(p->conns, cap * sizeof(*v));
        if (!v)
            abort();
        p->conns = v;
        p->conns_cap = cap;
    }
    sp_conn *c = &p->conns[p->nconns];
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->live = 1;
    c->reading = 1;
    c->codec = codec;
    /* The actor never sends more than its own max_frame; everything else at
     * the reference defaults. */
    sc_limits lim;
    sc_limits_default(&lim);
    if (p->cfg.limits.max_frame > lim.max_frame)
        lim.max_frame = p->cfg.limits.max_frame;
    fm_pause(p);
    sc_err err;
    if (sc_reader_new(p->cfg.codec, &lim, &c->reader, &err) != SC_OK) {
        fprintf(stderr, "simpeer: %s\n", err.msg);
        abort();
    }
    fm_resume(p);
    c->zone = msgpack_zone_new(4096);
    if (!c->zone)
        abort();
    return (int)p->nconns++;
}

static sp_conn *conn_by_id(simpeer *p, sc_conn_id id)
{
    for (size_t i = 0; i < p->nconns; i++)
        if (p->conns[i].live && p->conns[i].id == id)
            return &p->conns[i];
    return NULL;
}

static void fault(simpeer *p, const sp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fault(simpeer *p, const sp_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "simpeer: actor output on connection %u: ", c->id);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    p->faults++;
}

/* Whatever the test does, the actor's output must be decodable, start with
 * its uid (HS-1, HS-2), and then carry maps or nil, nothing after nil. */
static void check_msg(simpeer *p, sp_conn *c, const sp_msg *m)
{
    char text[200];
    if (c->nmsgs == 0) {
        sp_bytes uid = { 0 };
        sp_framef(&uid, SC_CODEC_MSGPACK, "['%s', '%s']", p->cfg.name, p->cfg.uuid);
        if (uid.len != m->len || memcmp(uid.data, m->raw, m->len) != 0) {
            sp_repr(&m->obj, text, sizeof(text));
            fault(p, c, "the first message is %s, not the actor's uid", text);
        }
        sp_bytes_free(&uid);
        return;
    }
    if (c->saw_nil)
        fault(p, c, "a message after nil");
    if (m->obj.type == MSGPACK_OBJECT_NIL) {
        c->saw_nil = 1;
    } else if (m->obj.type != MSGPACK_OBJECT_MAP) {
        sp_repr(&m->obj, text, sizeof(text));
        fault(p, c, "%s is neither a map nor nil", text);
    }
}

static void decode(simpeer *p, sp_conn *c, const char *data, size_t len)
{
    fm_pause(p);
    while (len && !c->bad) {
        size_t n = len < SC_READ_CHUNK ? len : SC_READ_CHUNK;
        int rc = sc_reader_feed(c->reader, data, n);
        data += n;
        len -= n;
        sc_frame f;
        while (rc == SC_OK && (rc = sc_reader_next(c->reader, &f)) == SC_OK) {
            if (c->nmsgs == c->msgs_cap) {
                c->msgs_cap = c->msgs_cap ? c->msgs_cap * 2 : 64;
                c->msgs = realloc(c->msgs, c->msgs_cap * sizeof(*c->msgs));
                if (!c->msgs)
                    abort();
            }
            sp_msg *m = &c->msgs[c->nmsgs];
            char *raw = msgpack_zone_malloc(c->zone, f.raw_len);
            if (!raw)
                abort();
            memcpy(raw, f.raw, f.raw_len);
            size_t off = 0;
            if (msgpack_unpack(raw, f.raw_len, &off, c->zone, &m->obj) != MSGPACK_UNPACK_SUCCESS)
                abort();
            m->raw = raw;
            m->len = f.raw_len;
            check_msg(p, c, m);
            c->nmsgs++;
        }
        if (rc != SC_AGAIN) {
            c->bad = 1;
            fault(p, c, "undecodable: %s", sc_reader_errstr(c->reader));
        }
    }
    fm_resume(p);
}

/* Take everything the actor has for c, as a writable socket would. */
static int take_output(simpeer *p, sp_conn *c)
{
    const char *data;
    size_t len;
    sc_actor_conn_output(p->actor, c->id, &data, &len);
    if (!len)
        return 0;
    decode(p, c, data, len);
    c->out_bytes += len;
    sc_actor_conn_written(p->actor, c->id, len, p->now);
    return 1;
}

static void record_event(simpeer *p, const sc_event *ev)
{
    if (p->nevents == p->events_cap) {
        p->events_cap = p->events_cap ? p->events_cap * 2 : 32;
        p->events = realloc(p->events, p->events_cap * sizeof(*p->events));
        if (!p->events)
            abort();
    }
    p->events[p->nevents++] = *ev;
}

static int drain_events(simpeer *p)
{
    int any = 0;
    sc_event ev;
    while (!p->exited && sc_actor_next_event(p->actor, &ev)) {
        any = 1;
        if (ev.kind == SC_EV_IO) {
            /* The glue only writes after an SC_EV_IO told it to look, so
             * output queued without one would stall on a real socket. */
            sp_conn *c = conn_by_id(p, ev.conn);
            int want_read, want_write;
            if (c) {
                sc_actor_conn_interest(p->actor, ev.conn, &want_read, &want_write);
                c->watch_write = want_write;
            }
            continue;
        }
        record_event(p, &ev);
        switch (ev.kind) {
        case SC_EV_CONNECT: {
            int h = conn_add(p, ev.conn, p->cfg.codec);
            sp_conn *c = &p->conns[h];
            c->outbound = 1;
            c->connecting = 1;
            snprintf(c->host, sizeof(c->host), "%s", ev.host);
            c->port = ev.port;
            p->last_connect = h;
            break;
        }
        case SC_EV_CLOSE: {
            sp_conn *c = conn_by_id(p, ev.conn);
            if (!c) {
                /* No socket behind it (its SC_EV_CONNECT was lost to an
                 * allocation failure): released at once, as loop.c does. */
                sc_actor_conn_release(p->actor, ev.conn);
                break;
            }
            if (c->reading) {
                take_output(p, c);
                fm_pause(p);
                if (!c->bad && sc_reader_finish(c->reader) != SC_OK)
                    fault(p, c, "ends inside a message: %s", sc_reader_errstr(c->reader));
                fm_resume(p);
            }
            c->closed = 1;
            c->live = 0;
            sc_actor_conn_release(p->actor, ev.conn);
            break;
        }
        case SC_EV_EXIT:
            p->exited = 1;
            p->exit_status = ev.status;
            break;
        default:
            break;
        }
    }
    return any;
}

/* One step of the glue on c; 1 if it called the actor. */
static int serve(simpeer *p, sp_conn *c)
{
    int want_read, want_write;
    sc_actor_conn_interest(p->actor, c->id, &want_read, &want_write);
    if (want_write && c->watch_write && c->reading && take_output(p, c))
        return 1;
    if (!want_write)
        c->watch_write = 0;
    if (!want_read)
        return 0;
    size_t left = c->in.len - c->in_off;
    if (left) {
        size_t n = p->chunk ? p->chunk : SC_READ_CHUNK;
        if (n > SC_READ_CHUNK)
            n = SC_READ_CHUNK;
        if (n > left)
            n = left;
        c->in_off += n;
        sc_actor_feed(p->actor, c->id, c->in.data + c->in_off - n, n, p->now);
        return 1;
    }
    if (c->eof) {
        int reset = c->eof == 2;
        c->eof = 0;
        sc_actor_conn_eof(p->actor, c->id, reset, p->now);
        return 1;
    }
    return 0;
}

/* Events first after every call into the actor, as the glue does; stop
 * when a whole round changes nothing. */
void sp_pump(simpeer *p)
{
    for (;;) {
        int moved = drain_events(p);
        if (p->exited)
            return;
        for (size_t i = 0; i < p->nconns && !moved; i++) {
            sp_conn *c = &p->conns[i];
            if (c->live && !c->connecting)
                moved = serve(p, c);
        }
        if (!moved)
            return;
    }
}

int sp_accept_codec(simpeer *p, sc_codec codec)
{
    sc_conn_id id;
    sc_err err;
    char peer[32];
    snprintf(peer, sizeof(peer), "127.0.0.1:%u", 40000u + (unsigned)p->nconns);
    int rc = sc_actor_accept(p->actor, p->now, peer, &id, &err);
    if (rc != SC_OK)
        return rc < 0 ? rc : -1;
    int h = conn_add(p, id, codec);
    sp_pump(p);
    return h;
}

int sp_accept(simpeer *p)
{
    return sp_accept_codec(p, p->cfg.codec);
}

int sp_handshake(simpeer *p, const char *name, const char *uuid)
{
    int h = sp_accept(p);
    if (h < 0) {
        fprintf(stderr, "simpeer: accept failed: %s\n", sc_rc_name(h));
        return -1;
    }
    if (!sp_expect(p, h, "['%s', '%s']", p->cfg.name, p->cfg.uuid))
        return -1;
    if (sp_send_uid(p, h, name, uuid) != 0 || sp_closed(p, h))
        return -1;
    return h;
}

void sp_connected(simpeer *p, int h)
{
    sp_conn *c = conn(p, h);
    c->connecting = 0;
    sc_actor_conn_connected(p->actor, c->id, p->now);
    sp_pump(p);
}

void sp_connect_failed(simpeer *p, int h, const char *why)
{
    sp_conn *c = conn(p, h);
    c->connecting = 0;
    sc_actor_conn_connect_failed(p->actor, c->id, why, p->now);
    sp_pump(p);
}

/* ---- the glue's side of supervision ------------------------------------------------------ */

void sp_listening(simpeer *p, const char *host, uint16_t port)
{
    sc_actor_listening(p->actor, host, port, p->now);
    sp_pump(p);
}

void sp_listen_failed(simpeer *p, const char *why)
{
    sc_actor_listen_failed(p->actor, why, p->now);
    sp_pump(p);
}

void sp_child_spawned(simpeer *p, uint32_t child, int pid)
{
    sc_actor_child_spawned(p->actor, child, pid, p->now);
    sp_pump(p);
}

void sp_child_spawn_failed(simpeer *p, uint32_t child, const char *why)
{
    sc_actor_child_spawn_failed(p->actor, child, why, p->now);
    sp_pump(p);
}

void sp_child_exited(simpeer *p, uint32_t child, int wait_status)
{
    if (!p->exited)
        sc_actor_child_exited(p->actor, child, wait_status, p->now);
    sp_pump(p);
}

const sc_event *sp_last_event(const simpeer *p, sc_event_kind kind, size_t from)
{
    for (size_t i = p->nevents; i > from; i--)
        if (p->events[i - 1].kind == kind)
            return &p->events[i - 1];
    return NULL;
}

/* ---- what the peer sends ---------------------------------------------------------------- */

void sp_feed(simpeer *p, int h, const void *data, size_t len)
{
    sp_conn *c = conn(p, h);
    if (c->live)
        sp_bytes_add(&c->in, data, len);
    sp_pump(p);
}

static int send_text(simpeer *p, int h, const char *text)
{
    sp_conn *c = conn(p, h);
    if (frame_text(&c->in, c->codec, text) != 0)
        return -1;
    if (!c->live)
        c->in_off = c->in.len;
    sp_pump(p);
    return 0;
}

int sp_send(simpeer *p, int h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vfmt(fmt, ap);
    va_end(ap);
    int rc = send_text(p, h, text);
    free(text);
    return rc;
}

int sp_send_uid(simpeer *p, int h, const char *name, const char *uuid)
{
    sp_conn *c = conn(p, h);
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->uuid, sizeof(c->uuid), "%s", uuid);
    return sp_send(p, h, "['%s', '%s']", name, uuid);
}

int sp_cmd(simpeer *p, int h, const char *cid, const char *ns, const char *func,
           const char *kwargs_fmt, ...)
{
    sp_conn *c = conn(p, h);
    va_list ap;
    va_start(ap, kwargs_fmt);
    char *kw = vfmt(kwargs_fmt, ap);
    va_end(ap);
    int rc = sp_send(p, h, "{'cmd': ['%s', '%s', %s, ['%s', '%s'], '%s']}", ns, func, kw, c->name,
                     c->uuid, cid);
    free(kw);
    return rc;
}

void sp_eof(simpeer *p, int h, int reset)
{
    sp_conn *c = conn(p, h);
    if (c->live)
        c->eof = reset ? 2 : 1;
    sp_pump(p);
}

void sp_set_reading(simpeer *p, int h, int on)
{
    conn(p, h)->reading = on;
    sp_pump(p);
}

/* ---- time --------------------------------------------------------------------------------- */

void sp_advance(simpeer *p, double dt)
{
    p->now += dt;
    if (!p->exited)
        sc_actor_advance(p->actor, p->now);
    sp_pump(p);
}

void sp_run_timers(simpeer *p, double span)
{
    double end = p->now + span;
    while (!p->exited) {
        double d = sc_actor_next_deadline(p->actor);
        if (d < 0 || d > end)
            break;
        if (d > p->now)
            p->now = d;
        sc_actor_advance(p->actor, p->now);
        sp_pump(p);
    }
    if (!p->exited && p->now < end)
        p->now = end;
}

/* ---- the actor's output ------------------------------------------------------------------- */

const sp_msg *sp_next(simpeer *p, int h)
{
    sp_conn *c = conn(p, h);
    return c->cursor < c->nmsgs ? &c->msgs[c->cursor++] : NULL;
}

size_t sp_unread(const simpeer *p, int h)
{
    const sp_conn *c = conn(p, h);
    return c->nmsgs - c->cursor;
}

static void say_mismatch(const char *what, const sp_msg *got, const char *want)
{
    char text[600];
    if (got)
        sp_repr(&got->obj, text, sizeof(text));
    fprintf(stderr, "simpeer: %s\n  want: %s\n  got:  %s\n", what, want, got ? text : "(nothing)");
    if (got) {
        fprintf(stderr, "  got bytes:");
        for (size_t i = 0; i < got->len && i < 64; i++)
            fprintf(stderr, " %02x", (unsigned char)got->raw[i]);
        fprintf(stderr, got->len > 64 ? " ...\n" : "\n");
    }
}

static int match_text(const sp_msg *m, const char *text, const char *what)
{
    sp_bytes want = { 0 };
    int ok = sp_pack(&want, text) == 0;
    ok = ok && m && m->len == want.len && memcmp(m->raw, want.data, want.len) == 0;
    if (!ok)
        say_mismatch(what, m, text);
    sp_bytes_free(&want);
    return ok;
}

int sp_match(const sp_msg *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vfmt(fmt, ap);
    va_end(ap);
    int ok = match_text(m, text, "message differs");
    free(text);
    return ok;
}

int sp_expect(simpeer *p, int h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vfmt(fmt, ap);
    va_end(ap);
    char what[64];
    snprintf(what, sizeof(what), "unexpected message on handle %d", h);
    int ok = match_text(sp_next(p, h), text, what);
    free(text);
    return ok;
}

static int contains(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

static const msgpack_object *field(const msgpack_object *map, const char *key)
{
    return sc_map_get(map, key);
}

const sp_msg *sp_expect_error(simpeer *p, int h, const char *cid, const char *type_str,
                              const char *text)
{
    char want[300];
    snprintf(want, sizeof(want), "{'error': {'tb_str': <...%s...>, 'type_str': '%s'}, 'cid': '%s'}",
             text ? text : "", type_str, cid);
    const sp_msg *m = sp_next(p, h);
    const msgpack_object *e = m ? field(&m->obj, "error") : NULL;
    const msgpack_object *tb = e ? field(e, "tb_str") : NULL;
    int ok = tb && tb->type == MSGPACK_OBJECT_STR;
    if (ok) {
        /* Rebuild the whole message around the tb_str it carries and
         * compare bytes: shape, key order and encodings all count. */
        sp_bytes b = { 0 };
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, bytes_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "error", 5);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "tb_str", 6);
        msgpack_pack_str_with_body(&pk, tb->via.str.ptr, tb->via.str.size);
        msgpack_pack_str_with_body(&pk, "type_str", 8);
        msgpack_pack_str_with_body(&pk, type_str, strlen(type_str));
        msgpack_pack_str_with_body(&pk, "cid", 3);
        msgpack_pack_str_with_body(&pk, cid, strlen(cid));
        ok = b.len == m->len && memcmp(b.data, m->raw, b.len) == 0 && (!text || sp_tb_has(m, text));
        sp_bytes_free(&b);
    }
    if (!ok) {
        char what[64];
        snprintf(what, sizeof(what), "expected an error on handle %d", h);
        say_mismatch(what, m, want);
        return NULL;
    }
    return m;
}

int sp_tb_has(const sp_msg *m, const char *s)
{
    const msgpack_object *e = m ? field(&m->obj, "error") : NULL;
    const msgpack_object *tb = e ? field(e, "tb_str") : NULL;
    if (!tb || tb->type != MSGPACK_OBJECT_STR)
        return 0;
    return contains(tb->via.str.ptr, tb->via.str.size, s);
}

int sp_field_str(const sp_msg *m, const char *key, char *out, size_t n)
{
    const msgpack_object *v = m ? field(&m->obj, key) : NULL;
    if (!v || v->type != MSGPACK_OBJECT_STR || n == 0)
        return 0;
    snprintf(out, n, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    return 1;
}

/* ---- state -------------------------------------------------------------------------------- */

int sp_closed(const simpeer *p, int h)
{
    return conn(p, h)->closed;
}

int sp_want_read(simpeer *p, int h)
{
    sp_conn *c = conn(p, h);
    if (!c->live)
        return 0;
    int want_read, want_write;
    sc_actor_conn_interest(p->actor, c->id, &want_read, &want_write);
    return want_read;
}

size_t sp_outbuf(simpeer *p, int h)
{
    sp_conn *c = conn(p, h);
    if (!c->live)
        return 0;
    const char *data;
    size_t len;
    sc_actor_conn_output(p->actor, c->id, &data, &len);
    return len;
}

sc_actor_stats sp_stats(const simpeer *p)
{
    sc_actor_stats st;
    sc_actor_get_stats(p->actor, &st);
    return st;
}

size_t sp_count_events(const simpeer *p, sc_event_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nevents; i++)
        n += p->events[i].kind == kind;
    return n;
}

long sp_find_event(const simpeer *p, sc_event_kind kind, size_t from)
{
    for (size_t i = from; i < p->nevents; i++)
        if (p->events[i].kind == kind)
            return (long)i;
    return -1;
}

int sp_log_has(const simpeer *p, const char *s)
{
    return contains(p->log.data, p->log.len, s);
}
