/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak.h - scwire-soak, the load-and-chaos driver: the shared state of one
 * run and the interfaces between its parts.
 *
 *   soak_main.c   options, limits, the run's timers, the report
 *   soak_sock.c   a non-blocking socket under libev with the runtime's own
 *                 frame reader and encoders
 *   soak_seq.c    exactly-once, in-order accounting of sequence numbers
 *   soak_conn.c   the healthy connections: ctx_echo and ctx_stream_out
 *                 streams, each value checked
 *   soak_chaos.c  the hostile connections run alongside
 *   soak_probe.c  the bystander: one call at a time, each round trip timed
 *   soak_proc.c   RSS and open descriptors of the target from /proc
 *
 * Everything runs in one thread on one libev loop; every wait is a timer
 * and the run as a whole ends at a deadline. */
#ifndef SOAK_H
#define SOAK_H

#include <ev.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "codec.h"
#include "msg.h"

/* ---- a socket with framing ------------------------------------------------ */

typedef struct soak_sock {
    int fd;
    int connecting;
    int peer_gone;       /* a send found the peer closed: output is dropped */
    sc_codec codec;
    ev_io io;            /* io.data is the owner */
    sc_buf out;
    sc_reader *rd;
    unsigned long bytes_in;
} soak_sock;

typedef void (*soak_io_cb)(struct ev_loop *ev, ev_io *w, int revents);

/* Start a non-blocking connect; cb runs with EV_WRITE when it completes
 * (check soak_sock_connected) and with EV_READ / EV_WRITE afterwards. */
int soak_sock_open(struct ev_loop *ev, soak_sock *k, const struct sockaddr_in *sa, sc_codec codec,
                   soak_io_cb cb, void *owner, sc_err *err);
/* After the first EV_WRITE: SC_OK once connected, else why not. */
int soak_sock_connected(struct ev_loop *ev, soak_sock *k, sc_err *err);
/* Write what the socket takes and watch for writability while some is left. */
int soak_sock_flush(struct ev_loop *ev, soak_sock *k, sc_err *err);
/* Read what is there into the frame reader (discard with feed == 0).
 * SC_OK with *eof set at end of stream or reset, an error code otherwise. */
int soak_sock_read(soak_sock *k, int feed, int *eof, sc_err *err);
/* reset: SO_LINGER 0 so that the close sends RST instead of FIN. */
void soak_sock_close(struct ev_loop *ev, soak_sock *k, int reset);
int soak_sock_put(soak_sock *k, const bmsg *m, sc_err *err);
int soak_sock_put_yield(soak_sock *k, sc_str cid, uint64_t value, sc_err *err);
/* {"cmd": ["scwire_service", func, {key: value}, uid, cid]} */
int soak_sock_put_cmd_int(soak_sock *k, const char *func, const char *key, int64_t value,
                          const sc_uid *uid, sc_str cid, sc_err *err);
/* Frame one message that pack(pk, arg) packs; on failure nothing stays. */
typedef int (*soak_pack_fn)(msgpack_packer *pk, const void *arg);
int soak_sock_put_packed(soak_sock *k, soak_pack_fn pack, const void *arg, sc_err *err);

/* ---- sequence accounting ---------------------------------------------------- */

typedef struct soak_seq {
    uint8_t *seen;         /* one bit per value */
    uint64_t cap;          /* values the bitmap covers */
    uint64_t received;     /* distinct values received */
    uint64_t top;          /* 1 + the largest value received */
    uint64_t duplicated;
    uint64_t reordered;    /* received after a larger value */
} soak_seq;

/* Totals over many sequences; "sent" is what the sender emitted. */
typedef struct soak_tally {
    uint64_t sent;
    uint64_t received;
    uint64_t gaps;         /* never received, below a value that was */
    uint64_t tail;         /* never received, above every value that was */
    uint64_t duplicated;
    uint64_t reordered;
    uint64_t contexts;     /* contexts of this kind opened */
    uint64_t cancelled;    /* of which ended by ContextCancelled */
    uint64_t cut;          /* of which still open when their channel ended */
} soak_tally;

int soak_seq_reserve(soak_seq *q, uint64_t n, sc_err *err);
/* Account one value; SC_EPROTO if v was never sent (v >= sent). */
int soak_seq_got(soak_seq *q, uint64_t v, uint64_t sent, sc_err *err);
void soak_seq_fold(const soak_seq *q, uint64_t sent, soak_tally *t);
void soak_seq_free(soak_seq *q);

/* ---- the run ------------------------------------------------------------------- */

typedef enum soak_end {
    SOAK_END_NONE = 0,
    SOAK_END_FINISHED,     /* every stream closed properly, then the channel */
    SOAK_END_CANCELLED,    /* every open context ended with ContextCancelled */
    SOAK_END_CLOSED,       /* the channel closed under open contexts */
    SOAK_END_HUNG,         /* nothing ended it before the deadline */
    SOAK_END_FAILED,       /* connect, handshake or protocol failure */
    SOAK_END_KINDS
} soak_end;

enum soak_chaos_kind {
    CK_DROP = 0, CK_NONMAP, CK_TRUNCATED, CK_UNKNOWN_CID, CK_GARBAGE, CK_SLOWLORIS,
    CK_HALF_OPEN, CK_RESET, CK_WAITERS, CK_REGISTER, CK_IDLE, CK_KINDS
};

typedef struct soak_opts {
    const char *addr;
    sc_codec codec;
    unsigned conns;
    double seconds;            /* 0: bounded by messages only */
    uint64_t messages;         /* per connection and direction; 0: by seconds only */
    unsigned window;
    double rate;               /* messages/s per direction over all connections; 0: no cap */
    unsigned stream_n;         /* yields per ctx_stream_out round */
    double timeout;            /* for the closing phase, after the load */
    long pid;
    int expect_shutdown;
    double chaos_rate[CK_KINDS];
    unsigned chaos_max;
    double chaos_hold;
    unsigned flood;            /* commands of one waiters or register connection */
    double probe_every;        /* the bystander's pause between calls; 0: no bystander */
} soak_opts;

struct soak_chaos;
struct soak_probe;

typedef struct soak_conn soak_conn;

typedef struct soak {
    struct ev_loop *ev;
    soak_opts o;
    struct sockaddr_in sa;
    sc_uid uid;
    bmsg uid_msg, nil_msg;
    soak_conn *conns;
    unsigned live;             /* healthy connections not ended yet */
    unsigned up;               /* healthy connections that got past their handshake */
    int load_over;
    double started_at, load_ended_at;
    ev_timer tick, load_timer, deadline;
    soak_tally echo, out;
    unsigned long ends[SOAK_END_KINDS];
    unsigned long after_nil;   /* bytes received after a nil */
    unsigned long failures_shown;
    struct soak_chaos *chaos;
    struct soak_probe *probe;
    /* /proc of the target */
    long rss_kb_first, rss_kb_peak, rss_kb_last;
    long fds_first, fds_peak, fds_last;
    ev_timer proc_timer;
} soak;

#define SOAK_TICK 0.05

/* Healthy connections (soak_conn.c). */
int soak_conns_start(soak *S, sc_err *err);
void soak_conns_tick(soak *S);
/* With --messages: every connection has sent its share both ways. */
int soak_conns_load_done(const soak *S);
void soak_conns_load_over(soak *S);
void soak_conns_deadline(soak *S);
void soak_conns_free(soak *S);
const char *soak_end_name(soak_end e);
/* soak_main.c: a healthy connection has ended. */
void soak_conn_ended(soak *S);
/* Print a failure of one connection on stderr, the first few only. */
void soak_note(soak *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Chaos connections (soak_chaos.c). */
int soak_chaos_parse(const char *spec, double rates[CK_KINDS], sc_err *err);
int soak_chaos_start(soak *S, sc_err *err);
void soak_chaos_stop(soak *S);
void soak_chaos_free(soak *S);
void soak_chaos_report(const soak *S, FILE *f);
int soak_chaos_enabled(const soak_opts *o);

/* The bystander (soak_probe.c): its report says how many calls it made and
 * their round-trip quantiles; a call that got no answer is a failure. */
int soak_probe_start(soak *S, sc_err *err);
void soak_probe_stop(soak *S);
void soak_probe_report(const soak *S, FILE *f);
/* Calls that got no answer or a wrong one. */
unsigned long soak_probe_failures(const soak *S);
void soak_probe_free(soak *S);

/* The target's memory and descriptors (soak_proc.c). */
void soak_proc_start(soak *S);
void soak_proc_sample(soak *S);

#endif
