/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* scwire-bench.c - the bench client: one measurement per run, one JSON
 * object on stdout, exit status 0 when the peer behaved as expected.
 *
 *   stream    pipeline N yields into scwire_service.ctx_echo with a bounded
 *             window and read every echo back (messages/s, MB/s)
 *   rpc       echo (or self.find_actor) calls, one in flight per
 *             connection, over K connections for a bounded time: calls/s
 *             and latency quantiles
 *   conndrop  TCP connections opened and closed at once, for a bounded time
 *   flood     N yields into scwire_service.ctx_no_stream, reading and
 *             discarding the StreamOverrun errors; the daemon's RSS
 *   ctxs      C contexts of ctx_no_stream over K connections: time to open
 *             them, RSS per context, time to close them by _cancel_task or
 *             by closing the connections
 *
 * With --baseline the peer is bench-baseline, which answers every message
 * with one yield-shaped echo and knows no protocol: the stream skips the
 * started/stop/return exchange and an rpc round trip is one request and one
 * reply.  The driver (run-bench) starts the servers and repeats the runs. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

typedef struct opts {
    const char *mode;
    const char *addr;
    sc_codec codec;
    long payload;
    unsigned long count;
    unsigned window;
    unsigned conns;
    double duration;
    unsigned long max_calls;
    long pid;
    unsigned long contexts;
    const char *close;
    const char *call;
    const char *name;
    unsigned buffer;
    int baseline;
    double timeout;
} opts;

static const sc_uid bench_uid = { { "scwire-bench", 12 },
                                  { "b3c5a1e2-0000-4000-8000-000000000001", 36 } };

static char errbuf[600];

/* The cid of a template is its last 36 bytes (sc_pack_cmd_end and
 * sc_pack_value_end both end with it): rewrite it in place. */
static void patch_cid(bmsg *m, const char *cid)
{
    memcpy(m->data + m->len - 36, cid, 36);
}

static sc_str cid_str(const char *cid)
{
    return (sc_str){ cid, 36 };
}

static int cid_is(const bframe *f, const char *cid)
{
    return f->parse_rc == SC_OK && f->msg.cid.len == 36 && memcmp(f->msg.cid.ptr, cid, 36) == 0;
}

static void connect_or_die(bconn *c, const opts *o, double deadline)
{
    if (bc_connect(c, o->addr, o->codec, 5.0) != 0)
        bench_die("cannot connect to %s: %s", o->addr, strerror(errno));
    if (bc_handshake(c, &bench_uid, deadline) != 0)
        bench_die("no handshake from %s", o->addr);
}

/* Next frame or die; with kind >= 0 it must be of that kind on cid. */
static void expect(bconn *c, bframe *f, int kind, const char *cid, double deadline, const char *what)
{
    int r = bc_next_wait(c, f, deadline);
    if (r != 1)
        bench_die("%s: %s", what, r == 0 ? (c->eof ? "the peer closed" : "timed out") : "bad input");
    if (kind < 0)
        return;
    if (f->parse_rc != SC_OK || (int)f->msg.kind != kind || (cid && !cid_is(f, cid)))
        bench_die("%s: expected %s, got %s", what, sc_msg_kind_name((sc_msg_kind)kind),
                  bframe_describe(f, errbuf, sizeof(errbuf)));
}

static int64_t int_value(const bframe *f)
{
    const msgpack_object *v = f->msg.value;
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)v->via.u64;
    if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return v->via.i64;
    return INT64_MIN;
}

/* ---- stream --------------------------------------------------------------------- */

static int run_stream(const opts *o)
{
    double deadline = bench_now() + o->timeout;
    bconn c;
    bframe f;
    char cid[37];
    connect_or_die(&c, o, deadline);
    bench_cid(cid, 1, 1);
    bmsg cmd = bench_msg_cmd(o->codec, "scwire_service", "ctx_echo", "first", -1, &bench_uid,
                             cid_str(cid));
    bc_put(&c, &cmd);
    if (o->baseline) {
        expect(&c, &f, -1, NULL, deadline, "the echo of ctx_echo's command");
    } else {
        expect(&c, &f, SC_MSG_FUNCTYPE, cid, deadline, "ctx_echo's functype");
        expect(&c, &f, SC_MSG_STARTED, cid, deadline, "ctx_echo's started");
    }

    bmsg y = bench_msg_yield(o->codec, cid_str(cid), o->payload);
    unsigned long sent = 0, got = 0, n = o->count;
    double cpu0 = o->pid > 0 ? bench_proc_cpu(o->pid) : -1.0;
    double t0 = bench_now();
    while (got < n) {
        while (sent < n && sent - got < o->window) {
            bc_put(&c, &y);
            sent++;
        }
        if (bc_flush(&c) != 0)
            bench_die("the peer is gone after %lu echoes", got);
        if (bench_now() > deadline)
            bench_die("timed out after %lu of %lu echoes", got, n);
        if (bc_wait((bconn *[]){ &c }, 1, deadline) != 0)
            bench_die("connection failed after %lu echoes", got);
        while (bc_match(&c, &y))
            got++;
        if (got < n && sc_buf_size(&c.in) >= y.len) {
            int r = bc_next(&c, &f);
            bench_die("expected the echo of yield %lu, got %s", got,
                      r == 1 ? bframe_describe(&f, errbuf, sizeof(errbuf)) : "undecodable input");
        }
        if (c.eof && got < n)
            bench_die("the peer closed after %lu of %lu echoes", got, n);
    }
    double dt = bench_now() - t0;
    double cpu = o->pid > 0 ? bench_proc_cpu(o->pid) - cpu0 : -1.0;

    long returned = -1;
    if (!o->baseline) {
        bmsg stop = bench_msg_stop(o->codec, cid_str(cid));
        bc_put(&c, &stop);
        bmsg_free(&stop);
        for (;;) {
            expect(&c, &f, -1, NULL, deadline, "ctx_echo's stop and return");
            if (cid_is(&f, cid) && f.msg.kind == SC_MSG_STOP)
                continue;
            if (cid_is(&f, cid) && f.msg.kind == SC_MSG_RETURN) {
                returned = (long)int_value(&f);
                break;
            }
            bench_die("expected ctx_echo's stop or return, got %s",
                      bframe_describe(&f, errbuf, sizeof(errbuf)));
        }
        if (returned != (long)n)
            bench_die("ctx_echo returned %ld, not the %lu values echoed", returned, n);
    }
    bc_goodbye(&c, bench_now() + 2.0);
    printf("{\"mode\": \"stream\", \"codec\": \"%s\", \"payload_bytes\": %ld, \"msgs\": %lu, "
           "\"window\": %u, \"msg_bytes\": %zu, \"seconds\": %.6f, \"msgs_per_s\": %.1f, "
           "\"mb_per_s\": %.3f, \"wire_mb_per_s\": %.3f, \"returned\": %ld, "
           "\"server_cpu_s\": %.3f, \"server_cpu_us_per_msg\": %.4f}\n",
           sc_codec_name(o->codec), o->payload, n, o->window, y.len, dt, (double)n / dt,
           (double)n * (double)(o->payload > 0 ? o->payload : 0) / dt / 1e6,
           (double)n * (double)y.len / dt / 1e6, returned, cpu, cpu >= 0 ? cpu / (double)n * 1e6 : -1.0);
    bmsg_free(&cmd);
    bmsg_free(&y);
    bc_close(&c);
    return 0;
}

/* ---- rpc --------------------------------------------------------------------------- */

typedef struct caller {
    bconn c;
    bmsg cmd;
    char cid[37];
    unsigned long n;
    double t_sent;
    int busy;
    int functype_seen;
} caller;

static void call_send(caller *k, unsigned idx)
{
    bench_cid(k->cid, 0x100 + idx, ++k->n);
    patch_cid(&k->cmd, k->cid);
    bc_put(&k->c, &k->cmd);
    k->functype_seen = 0;
    k->busy = 1;
    k->t_sent = bench_now();
}

/* 1 when the reply to k's call is complete. */
static int call_take(caller *k, const opts *o, const bframe *f, unsigned long *found)
{
    if (o->baseline)
        return 1;
    if (!cid_is(f, k->cid))
        bench_die("a reply for another call: %s", bframe_describe(f, errbuf, sizeof(errbuf)));
    if (f->msg.kind == SC_MSG_FUNCTYPE && !k->functype_seen) {
        k->functype_seen = 1;
        return 0;
    }
    if (f->msg.kind == SC_MSG_RETURN && k->functype_seen) {
        if (f->msg.value && f->msg.value->type != MSGPACK_OBJECT_NIL)
            (*found)++;
        return 1;
    }
    bench_die("expected functype then return, got %s", bframe_describe(f, errbuf, sizeof(errbuf)));
}

static int run_rpc(const opts *o)
{
    unsigned nk = o->conns;
    double deadline = bench_now() + o->duration + o->timeout;
    caller *ks = calloc(nk, sizeof(*ks));
    bconn **cs = calloc(nk, sizeof(*cs));
    double *lat = malloc(o->max_calls * sizeof(double));
    unsigned long nlat = 0, found = 0;
    int find = strcmp(o->call, "find") == 0;
    if (!ks || !cs || !lat)
        bench_die("out of memory");
    for (unsigned i = 0; i < nk; i++) {
        connect_or_die(&ks[i].c, o, deadline);
        cs[i] = &ks[i].c;
        bench_cid(ks[i].cid, 0x100 + i, 0);
        if (find)
            ks[i].cmd = bench_msg_cmd_str(o->codec, "self", "find_actor", "name",
                                          (sc_str){ o->name, strlen(o->name) }, &bench_uid,
                                          cid_str(ks[i].cid));
        else
            ks[i].cmd = bench_msg_cmd(o->codec, "scwire_service", "echo", "value", o->payload,
                                      &bench_uid, cid_str(ks[i].cid));
    }
    double cpu0 = o->pid > 0 ? bench_proc_cpu(o->pid) : -1.0;
    double t0 = bench_now(), t_end = t0 + o->duration;
    unsigned long issued = 0;
    unsigned busy = 0;
    for (unsigned i = 0; i < nk && issued < o->max_calls; i++, issued++, busy++)
        call_send(&ks[i], i);
    while (busy > 0) {
        if (bench_now() > deadline)
            bench_die("timed out with %u calls unanswered", busy);
        for (unsigned i = 0; i < nk; i++)
            if (bc_flush(&ks[i].c) != 0)
                bench_die("connection %u failed", i);
        if (bc_wait(cs, nk, deadline) != 0)
            bench_die("poll failed");
        for (unsigned i = 0; i < nk; i++) {
            caller *k = &ks[i];
            bframe f;
            int r;
            while (k->busy && (r = bc_next(&k->c, &f)) == 1) {
                if (!call_take(k, o, &f, &found))
                    continue;
                double now = bench_now();
                lat[nlat++] = now - k->t_sent;
                k->busy = 0;
                busy--;
                if (now < t_end && issued < o->max_calls) {
                    call_send(k, i);
                    issued++;
                    busy++;
                }
            }
            if (k->busy && (r < 0 || k->c.eof))
                bench_die("connection %u: %s", i, r < 0 ? "bad input" : "the peer closed");
        }
    }
    double dt = bench_now() - t0;
    double cpu = o->pid > 0 ? bench_proc_cpu(o->pid) - cpu0 : -1.0;
    for (unsigned i = 0; i < nk; i++)
        bc_goodbye(&ks[i].c, bench_now() + 2.0);
    double sum = 0, mx = 0;
    for (unsigned long i = 0; i < nlat; i++) {
        sum += lat[i];
        mx = lat[i] > mx ? lat[i] : mx;
    }
    double p50 = bench_quantile(lat, nlat, 0.50), p99 = bench_quantile(lat, nlat, 0.99);
    printf("{\"mode\": \"rpc\", \"call\": \"%s\", \"codec\": \"%s\", \"conns\": %u, "
           "\"payload_bytes\": %ld, \"calls\": %lu, \"seconds\": %.6f, \"calls_per_s\": %.1f, "
           "\"p50_us\": %.2f, \"p99_us\": %.2f, \"mean_us\": %.2f, \"max_us\": %.2f, "
           "\"found\": %lu, \"server_cpu_s\": %.3f, \"server_cpu_us_per_call\": %.3f}\n",
           o->call, sc_codec_name(o->codec), nk, o->payload, nlat, dt, (double)nlat / dt,
           p50 * 1e6, p99 * 1e6, nlat ? sum / (double)nlat * 1e6 : 0.0, mx * 1e6, found, cpu,
           cpu >= 0 && nlat ? cpu / (double)nlat * 1e6 : -1.0);
    if (find && found != nlat)
        bench_die("find_actor found the actor in %lu of %lu calls", found, nlat);
    for (unsigned i = 0; i < nk; i++) {
        bmsg_free(&ks[i].cmd);
        bc_close(&ks[i].c);
    }
    free(ks);
    free(cs);
    free(lat);
    return 0;
}

/* ---- connect and drop ----------------------------------------------------------------- */

static int run_conndrop(const opts *o)
{
    unsigned long ok = 0, failed = 0;
    double t0 = bench_now(), t_end = t0 + o->duration;
    while (bench_now() < t_end && ok + failed < o->count) {
        bconn c;
        if (bc_connect(&c, o->addr, o->codec, 1.0) == 0)
            ok++;
        else
            failed++;
        bc_close(&c);
    }
    double dt = bench_now() - t0;
    printf("{\"mode\": \"conndrop\", \"conns\": %lu, \"failed\": %lu, \"seconds\": %.6f, "
           "\"conns_per_s\": %.1f}\n",
           ok, failed, dt, (double)ok / dt);
    /* A failed connect (the listener's backlog overflowed, or no port was
     * free) is a figure of the run, not an error of the client. */
    return 0;
}

/* ---- overrun flood -------------------------------------------------------------------- */

static long rss(const opts *o)
{
    return bench_proc_kb(o->pid, "VmRSS");
}

/* Cancel cid's context with self._cancel_task over c; wait for its
 * ContextCancelled and the call's return.  Other frames are discarded. */
static void cancel_ctx(bconn *c, const opts *o, const char *cid, double deadline)
{
    char ccid[37];
    bframe f;
    int cancelled = 0, returned = 0;
    bench_cid(ccid, 0xcafe, 1);
    bmsg m = bench_msg_cmd_str(o->codec, "self", "_cancel_task", "cid", cid_str(cid), &bench_uid,
                               cid_str(ccid));
    bc_put(c, &m);
    bmsg_free(&m);
    while (!cancelled || !returned) {
        expect(c, &f, -1, NULL, deadline, "the end of the cancelled context");
        if (cid_is(&f, cid) && f.msg.kind == SC_MSG_ERROR &&
            sc_str_eq_c(f.msg.type_str, "ContextCancelled"))
            cancelled = 1;
        else if (cid_is(&f, ccid) && f.msg.kind == SC_MSG_RETURN)
            returned = 1;
    }
}

static int run_flood(const opts *o)
{
    double deadline = bench_now() + o->timeout;
    bconn c;
    bframe f;
    char cid[37];
    connect_or_die(&c, o, deadline);
    bench_cid(cid, 2, 1);
    bmsg cmd = bench_msg_cmd(o->codec, "scwire_service", "ctx_no_stream", "value", -1, &bench_uid,
                             cid_str(cid));
    bc_put(&c, &cmd);
    bmsg_free(&cmd);
    expect(&c, &f, SC_MSG_FUNCTYPE, cid, deadline, "ctx_no_stream's functype");
    expect(&c, &f, SC_MSG_STARTED, cid, deadline, "ctx_no_stream's started");

    long rss_before = rss(o), hwm_before = bench_proc_kb(o->pid, "VmHWM"), rss_max = rss_before;
    bmsg y = bench_msg_yield(o->codec, cid_str(cid), o->payload);
    unsigned long n = o->count, sent = 0, overruns = 0, want = n > o->buffer ? n - o->buffer : 0;
    unsigned long next_sample = 0;
    int last_is_overrun = 0;
    double t0 = bench_now();
    while (sent < n || overruns < want) {
        if (bench_now() > deadline)
            bench_die("timed out: %lu sent, %lu of %lu StreamOverrun errors", sent, overruns, want);
        for (int i = 0; i < 4096 && sent < n && sc_buf_size(&c.out) < (256u << 10); i++) {
            bc_put(&c, &y);
            sent++;
        }
        if (bc_flush(&c) != 0 || bc_wait((bconn *[]){ &c }, 1, deadline) != 0)
            bench_die("connection failed after %lu messages", sent);
        for (;;) {
            if (last_is_overrun && bc_match_last(&c)) {
                overruns++;
                continue;
            }
            int r = bc_next(&c, &f);
            if (r == 0)
                break;
            if (r < 0)
                bench_die("bad input during the flood");
            if (!cid_is(&f, cid) || f.msg.kind != SC_MSG_ERROR ||
                !sc_str_eq_c(f.msg.type_str, "StreamOverrun"))
                bench_die("expected StreamOverrun, got %s",
                          bframe_describe(&f, errbuf, sizeof(errbuf)));
            overruns++;
            last_is_overrun = 1;
        }
        if (c.eof)
            bench_die("the peer closed during the flood");
        if (sent >= next_sample) {
            long r = rss(o);
            rss_max = r > rss_max ? r : rss_max;
            next_sample += 50000;
        }
    }
    double dt = bench_now() - t0;
    if (overruns != want)
        bench_die("%lu StreamOverrun errors for %lu messages into a buffer of %u", overruns, n,
                  o->buffer);
    long rss_flooded = rss(o), hwm = bench_proc_kb(o->pid, "VmHWM");
    rss_max = rss_flooded > rss_max ? rss_flooded : rss_max;
    cancel_ctx(&c, o, cid, deadline);
    long rss_cancelled = rss(o);
    bc_goodbye(&c, bench_now() + 2.0);
    bc_close(&c);
    usleep(200000);
    long rss_final = rss(o);
    printf("{\"mode\": \"flood\", \"codec\": \"%s\", \"msgs\": %lu, \"overruns\": %lu, "
           "\"seconds\": %.6f, \"msgs_per_s\": %.1f, \"rss_before_kb\": %ld, "
           "\"hwm_before_kb\": %ld, \"rss_max_sampled_kb\": %ld, \"rss_flooded_kb\": %ld, "
           "\"hwm_kb\": %ld, \"rss_cancelled_kb\": %ld, \"rss_final_kb\": %ld, "
           "\"hwm_growth_kb\": %ld}\n",
           sc_codec_name(o->codec), n, overruns, dt, (double)n / dt, rss_before, hwm_before,
           rss_max, rss_flooded, hwm, rss_cancelled, rss_final, hwm - rss_before);
    bmsg_free(&y);
    return 0;
}

/* ---- many contexts ---------------------------------------------------------------------- */

/* One phase of run_ctxs over every connection: send `per` commands on each
 * (at most `window` unanswered), and count a command done when its last
 * reply arrives.  open: ctx_no_stream, done at its started.  cancel:
 * self._cancel_task of the context opened with the same index, done at the
 * call's return; the ContextCancelled errors are counted in *cancelled. */
typedef struct ctx_phase {
    const opts *o;
    bconn *cv;
    bconn **cs;
    unsigned nk;
    unsigned long per;
    int cancel;
    unsigned long cancelled;
} ctx_phase;

static void ctx_put(ctx_phase *ph, unsigned i, unsigned long j)
{
    char cid[37], ccid[37];
    bench_cid(cid, i, j);
    bmsg m;
    if (ph->cancel) {
        bench_cid(ccid, 0x10000 + i, j);
        m = bench_msg_cmd_str(ph->o->codec, "self", "_cancel_task", "cid", cid_str(cid),
                              &bench_uid, cid_str(ccid));
    } else {
        m = bench_msg_cmd(ph->o->codec, "scwire_service", "ctx_no_stream", "value", -1, &bench_uid,
                          cid_str(cid));
    }
    bc_put(&ph->cv[i], &m);
    bmsg_free(&m);
}

static void ctx_run_phase(ctx_phase *ph, double deadline)
{
    unsigned long *sent = calloc(ph->nk, sizeof(*sent)), *done = calloc(ph->nk, sizeof(*done));
    unsigned finished = 0;
    const char *what = ph->cancel ? "cancelling contexts" : "opening contexts";
    if (!sent || !done)
        bench_die("out of memory");
    while (finished < ph->nk) {
        if (bench_now() > deadline)
            bench_die("timed out %s", what);
        for (unsigned i = 0; i < ph->nk; i++) {
            while (sent[i] < ph->per && sent[i] - done[i] < ph->o->window)
                ctx_put(ph, i, sent[i]++);
            if (bc_flush(&ph->cv[i]) != 0)
                bench_die("connection %u failed %s", i, what);
        }
        if (bc_wait(ph->cs, ph->nk, deadline) != 0)
            bench_die("poll failed");
        finished = 0;
        for (unsigned i = 0; i < ph->nk; i++) {
            bframe f;
            int r;
            while ((r = bc_next(&ph->cv[i], &f)) == 1) {
                sc_msg_kind k = f.msg.kind;
                if (f.parse_rc == SC_OK && ph->cancel && k == SC_MSG_ERROR &&
                    sc_str_eq_c(f.msg.type_str, "ContextCancelled"))
                    ph->cancelled++;
                else if (f.parse_rc != SC_OK ||
                         (k != SC_MSG_FUNCTYPE && k != (ph->cancel ? SC_MSG_RETURN : SC_MSG_STARTED)))
                    bench_die("%s: got %s", what, bframe_describe(&f, errbuf, sizeof(errbuf)));
                else if (k != SC_MSG_FUNCTYPE)
                    done[i]++;
            }
            if (r < 0 || (ph->cv[i].eof && done[i] < ph->per))
                bench_die("connection %u failed %s", i, what);
            finished += done[i] == ph->per;
        }
    }
    free(sent);
    free(done);
}

static int run_ctxs(const opts *o)
{
    unsigned nk = o->conns;
    unsigned long per = o->contexts / nk, total = per * nk;
    int by_cancel = strcmp(o->close, "cancel") == 0;
    double deadline = bench_now() + o->timeout;
    bconn *cv = calloc(nk, sizeof(*cv));
    bconn **cs = calloc(nk, sizeof(*cs));
    if (!cv || !cs || per == 0)
        bench_die("out of memory, or fewer contexts than connections");
    for (unsigned i = 0; i < nk; i++) {
        connect_or_die(&cv[i], o, deadline);
        cs[i] = &cv[i];
    }
    usleep(100000);
    long rss0 = rss(o);
    ctx_phase ph = { o, cv, cs, nk, per, 0, 0 };

    double t0 = bench_now();
    ctx_run_phase(&ph, deadline);
    double t_open = bench_now() - t0;
    usleep(100000);
    long rss1 = rss(o);

    t0 = bench_now();
    if (by_cancel) {
        ph.cancel = 1;
        ctx_run_phase(&ph, deadline);
        if (ph.cancelled != total)
            bench_die("%lu ContextCancelled errors for %lu contexts", ph.cancelled, total);
    } else {
        /* Closing the connection ends its contexts; the daemon answers nil
         * and closes its side, which is when we stop the clock. */
        for (unsigned i = 0; i < nk; i++)
            shutdown(cv[i].fd, SHUT_WR);
        unsigned closed = 0;
        while (closed < nk) {
            if (bench_now() > deadline)
                bench_die("timed out waiting for the peer to close");
            if (bc_wait(cs, nk, deadline) != 0)
                bench_die("poll failed");
            closed = 0;
            for (unsigned i = 0; i < nk; i++) {
                sc_buf_consume(&cv[i].in, sc_buf_size(&cv[i].in));
                closed += cv[i].eof;
            }
        }
    }
    double t_close = bench_now() - t0;
    usleep(100000);
    long rss2 = rss(o);
    for (unsigned i = 0; i < nk; i++) {
        if (by_cancel)
            bc_goodbye(&cv[i], bench_now() + 2.0);
        bc_close(&cv[i]);
    }
    printf("{\"mode\": \"ctxs\", \"codec\": \"%s\", \"contexts\": %lu, \"conns\": %u, "
           "\"window\": %u, \"close\": \"%s\", \"open_s\": %.6f, \"close_s\": %.6f, "
           "\"opens_per_s\": %.1f, \"closes_per_s\": %.1f, \"rss_before_kb\": %ld, "
           "\"rss_open_kb\": %ld, \"rss_closed_kb\": %ld, \"bytes_per_context\": %.1f}\n",
           sc_codec_name(o->codec), total, nk, o->window, o->close, t_open, t_close,
           (double)total / t_open, (double)total / t_close, rss0, rss1, rss2,
           (double)(rss1 - rss0) * 1024.0 / (double)total);
    free(cv);
    free(cs);
    return 0;
}

/* ---- command line ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("Usage: scwire-bench --mode MODE --addr HOST:PORT [OPTION]...\n"
          "One benchmark run against a scwire peer; prints one JSON object.\n\n"
          "  --mode MODE        stream, rpc, conndrop, flood or ctxs\n"
          "  --addr HOST:PORT   the peer (IPv4)\n"
          "  --codec CODEC      msgpack or lenprefix (default msgpack)\n"
          "  --baseline         the peer is bench-baseline (no protocol logic)\n"
          "  --payload N        payload str bytes (default 8)\n"
          "  --count N          stream/flood: messages; conndrop: most connections\n"
          "  --window N         stream: messages in flight; ctxs: commands in flight per\n"
          "                     connection (default 256)\n"
          "  --conns N          rpc/ctxs: connections (default 1)\n"
          "  --duration S       rpc/conndrop: seconds (default 2)\n"
          "  --max-calls N      rpc: most calls (default 2000000)\n"
          "  --call NAME        rpc: echo or find (self.find_actor) (default echo)\n"
          "  --name NAME        rpc --call find: the name looked up (default scwire-ref)\n"
          "  --pid PID          the server, for its CPU time (stream, rpc) and RSS (flood,\n"
          "                     ctxs)\n"
          "  --contexts N       ctxs: contexts (default 10000)\n"
          "  --close HOW        ctxs: cancel (self._cancel_task) or eof (default cancel)\n"
          "  --buffer N         flood: the daemon's --msg-buffer-size (default 64)\n"
          "  --timeout S        give up after S seconds (default 120)\n",
          f);
}

int main(int argc, char **argv)
{
    opts o = { .mode = NULL, .addr = NULL, .codec = SC_CODEC_MSGPACK, .payload = 8,
               .count = 1000000, .window = 256, .conns = 1, .duration = 2.0,
               .max_calls = 2000000, .pid = 0, .contexts = 10000, .close = "cancel",
               .call = "echo", .name = "scwire-ref", .buffer = 64, .timeout = 120.0 };
    static const struct option lo[] = {
        { "mode", 1, 0, 'm' },     { "addr", 1, 0, 'a' },      { "codec", 1, 0, 'c' },
        { "baseline", 0, 0, 'B' }, { "payload", 1, 0, 'p' },   { "count", 1, 0, 'n' },
        { "window", 1, 0, 'w' },   { "conns", 1, 0, 'k' },     { "duration", 1, 0, 'd' },
        { "max-calls", 1, 0, 'M' }, { "call", 1, 0, 'C' },     { "name", 1, 0, 'N' },
        { "pid", 1, 0, 'P' },      { "contexts", 1, 0, 'x' },  { "close", 1, 0, 'X' },
        { "buffer", 1, 0, 'b' },   { "timeout", 1, 0, 't' },   { "help", 0, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'm': o.mode = optarg; break;
        case 'a': o.addr = optarg; break;
        case 'c':
            if (sc_codec_parse(optarg, &o.codec) != SC_OK)
                bench_die("unknown codec %s", optarg);
            break;
        case 'B': o.baseline = 1; break;
        case 'p': o.payload = strtol(optarg, NULL, 10); break;
        case 'n': o.count = strtoul(optarg, NULL, 10); break;
        case 'w': o.window = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'k': o.conns = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': o.duration = strtod(optarg, NULL); break;
        case 'M': o.max_calls = strtoul(optarg, NULL, 10); break;
        case 'C': o.call = optarg; break;
        case 'N': o.name = optarg; break;
        case 'P': o.pid = strtol(optarg, NULL, 10); break;
        case 'x': o.contexts = strtoul(optarg, NULL, 10); break;
        case 'X': o.close = optarg; break;
        case 'b': o.buffer = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': o.timeout = strtod(optarg, NULL); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.mode || !o.addr || o.window == 0 || o.conns == 0 || o.conns > 1000 ||
        o.max_calls == 0 || o.timeout <= 0) {
        usage(stderr);
        return 2;
    }
    if (strcmp(o.mode, "stream") == 0)
        return run_stream(&o);
    if (strcmp(o.mode, "rpc") == 0)
        return run_rpc(&o);
    if (strcmp(o.mode, "conndrop") == 0)
        return run_conndrop(&o);
    if ((strcmp(o.mode, "flood") == 0 || strcmp(o.mode, "ctxs") == 0) && o.pid <= 0)
        bench_die("--mode %s needs --pid of the daemon", o.mode);
    if (strcmp(o.mode, "flood") == 0)
        return run_flood(&o);
    if (strcmp(o.mode, "ctxs") == 0)
        return run_ctxs(&o);
    usage(stderr);
    return 2;
}
