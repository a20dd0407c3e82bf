/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* bench.h - the client side of scwire's benchmarks: a blocking-free
 * connection with an input and an output buffer, framing for both codecs,
 * the few messages a bench client sends, and the figures it reports.
 *
 * A bench client must cost less than the server it measures, or it measures
 * itself.  So the messages it sends in bulk are encoded once (a template)
 * and copied, and the replies it expects in bulk are recognised by comparing
 * bytes with a template: msgpack objects delimit themselves, so a buffer
 * that starts with the exact bytes of an expected message holds that message
 * and nothing else.  Anything else is decoded properly (sc_scan to find its
 * end, msgpack-c to decode it, sc_msg_parse to classify it), and the last
 * such frame is kept as a second template, because a flood of identical
 * replies (StreamOverrun errors) follows the first one.
 *
 * Every wait is bounded: bc_wait() polls for at most the time left until
 * the caller's deadline and the callers give up when it has passed. */
#ifndef SC_BENCH_H
#define SC_BENCH_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "codec.h"
#include "msg.h"
#include "scan.h"

/* ---- time, statistics, the daemon's memory --------------------------------- */

double bench_now(void);
/* The q-quantile (0..1) of v[0..n), nearest rank; sorts v. */
double bench_quantile(double *v, size_t n, double q);
/* VmRSS / VmHWM of a process in KiB from /proc/<pid>/status; -1 if unknown. */
long bench_proc_kb(long pid, const char *field);
/* CPU seconds a process has used (/proc/<pid>/schedstat, else the user +
 * system ticks of /proc/<pid>/stat); negative if unknown. */
double bench_proc_cpu(long pid);
/* Give up with a message on stderr and exit status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- templates: whole framed messages, encoded once ------------------------ */

typedef struct bmsg {
    char *data;       /* the framed bytes (lenprefix header included) */
    size_t len;
} bmsg;

void bmsg_free(bmsg *m);
/* Value shapes used as payloads: a str of n bytes, or nil for n < 0. */
int bench_pack_payload(msgpack_packer *pk, long n);
/* {"yield": <payload n>, "cid": cid} */
bmsg bench_msg_yield(sc_codec codec, sc_str cid, long payload);
/* {"cmd": [ns, func, {key: <payload n>}, uid, cid]}; key NULL for {}. */
bmsg bench_msg_cmd(sc_codec codec, const char *ns, const char *func, const char *key, long payload,
                   const sc_uid *uid, sc_str cid);
/* {"cmd": [ns, func, {key: "str"}, uid, cid]} */
bmsg bench_msg_cmd_str(sc_codec codec, const char *ns, const char *func, const char *key,
                       sc_str value, const sc_uid *uid, sc_str cid);
bmsg bench_msg_uid(sc_codec codec, const sc_uid *uid);
bmsg bench_msg_stop(sc_codec codec, sc_str cid);
bmsg bench_msg_nil(sc_codec codec);
/* A uuid4-shaped cid made from a counter: 36 chars plus NUL. */
void bench_cid(char out[37], unsigned long tag, unsigned long n);

/* ---- one connection ------------------------------------------------------- */

typedef struct bframe {
    const char *raw;        /* the msgpack object (after any header) */
    size_t len;
    msgpack_object obj;
    sc_msg msg;             /* valid when parse_rc == SC_OK */
    int parse_rc;
} bframe;

typedef struct bconn {
    int fd;
    sc_codec codec;
    sc_buf in;
    sc_buf out;
    sc_scanner scan;
    sc_limits lim;
    msgpack_zone zone;
    char *last;              /* the last frame decoded the slow way, framed */
    size_t last_len;
    size_t last_cap;
    unsigned long bytes_in;
    unsigned long bytes_out;
    int eof;
} bconn;

/* Connect to host:port (IPv4 dotted quad), non-blocking, TCP_NODELAY, within
 * timeout seconds.  0 on success. */
int bc_connect(bconn *c, const char *addr, sc_codec codec, double timeout);
void bc_close(bconn *c);
void bc_put(bconn *c, const bmsg *m);
/* Write what the socket takes now; -1 when the peer is gone. */
int bc_flush(bconn *c);
/* Read what is there now (up to a few chunks); -1 on error, 0 otherwise
 * (c->eof set at EOF). */
int bc_read(bconn *c);
/* 1 and consumed if the next frame is exactly m. */
int bc_match(bconn *c, const bmsg *m);
/* 1 and consumed if the next frame equals the last slow-path frame. */
int bc_match_last(bconn *c);
/* The next frame, decoded: 1 filled (valid until the next call on c), 0 not
 * whole yet, -1 broken input. */
int bc_next(bconn *c, bframe *f);
/* Poll the connections for input (and output where some is pending) for at
 * most until deadline; 0 on readiness or time out, -1 on poll failure. */
int bc_wait(bconn **cs, size_t n, double deadline);
/* Send our uid and read the peer's first frame (its uid, or for the
 * baseline the echo of ours) before deadline.  0 on success. */
int bc_handshake(bconn *c, const sc_uid *uid, double deadline);
/* Send nil, half-close, and read until EOF (at most until deadline). */
void bc_goodbye(bconn *c, double deadline);
/* Wait for the next decoded frame until deadline: 1 got it, 0 timeout or EOF,
 * -1 broken input. */
int bc_next_wait(bconn *c, bframe *f, double deadline);

/* Describe a frame for error messages. */
const char *bframe_describe(const bframe *f, char *out, size_t n);

#endif
