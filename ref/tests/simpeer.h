/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* simpeer.h - a simulated world around one sans-IO sc_actor, for unit tests
 * and fuzzers.
 *
 * The harness plays the libev glue and every peer at once: it accepts
 * connections, carries bytes from peers to the actor (only while the actor
 * wants to read, at most `chunk` bytes per sc_actor_feed), takes the actor's
 * output and decodes it with an sc_reader, and carries out the events the
 * actor queues (SC_EV_CLOSE: output written, then sc_actor_conn_release;
 * SC_EV_CONNECT: a new outbound handle the test completes with
 * sp_connected; SC_EV_STOP_LISTEN, SC_EV_EXIT, and the supervision events
 * SC_EV_LISTEN, SC_EV_SPAWN and SC_EV_SIGNAL: recorded, and answered by the
 * test with sp_listening, sp_child_spawned, sp_child_exited...).  Its clock
 * and randomness are fake and deterministic.
 *
 * Connections are named by handles (indexes into p->conns) that are never
 * reused, while the actor reuses its ids.
 *
 * Messages are written in a small text notation, close to Python literals:
 *     nil null true false 42 -1 2.5 'str' "str" b'bin' [a, b] {k: v}
 *     <c1 d9 00>   raw bytes, inserted as they are and counted as one value
 * Strings take the escapes \\ \' \" \n \r \t \0 \xHH (so invalid UTF-8 can
 * be written).  Integers are packed in their smallest form and floats as
 * float64, exactly as msgpack-python writes them, so an expected message
 * can be compared with the actor's output byte for byte. */
#ifndef SC_SIMPEER_H
#define SC_SIMPEER_H

#include <stdarg.h>

#include "actor.h"

/* The uuid the harness gives an actor whose config has none. */
#define SP_ACTOR_UUID "0f0e0d0c-0b0a-4908-8706-050403020100"

typedef struct sp_bytes {
    char *data;
    size_t len;
    size_t cap;
} sp_bytes;

void sp_bytes_add(sp_bytes *b, const void *data, size_t n);
void sp_bytes_free(sp_bytes *b);

/* Text notation -> msgpack appended to out; -1 (and a line on stderr) on a
 * syntax error.  sp_framef frames the value for codec. */
int sp_pack(sp_bytes *out, const char *text);
int sp_framef(sp_bytes *out, sc_codec codec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A decoded object in the same notation (long strings cut), NUL-terminated. */
void sp_repr(const msgpack_object *o, char *out, size_t n);

/* One message the actor sent, decoded. */
typedef struct sp_msg {
    const char *raw;          /* the encoded object (a lenprefix header stripped) */
    size_t len;
    msgpack_object obj;
} sp_msg;

typedef struct sp_conn {
    sc_conn_id id;
    int live;                 /* the actor knows it: not released yet */
    int outbound;             /* the actor asked for it (SC_EV_CONNECT) */
    int connecting;
    char host[64];
    uint16_t port;
    int closed;               /* the actor closed it (SC_EV_CLOSE) */
    int reading;              /* the peer takes the actor's output */
    int eof;                  /* 1: EOF queued after the input, 2: reset */
    sc_codec codec;           /* how this peer frames what it sends */
    char name[64];            /* the uid this peer sent */
    char uuid[64];
    sp_bytes in;              /* sent by the peer, not read by the actor yet */
    size_t in_off;
    size_t out_bytes;         /* bytes of output taken */
    sc_reader *reader;
    msgpack_zone *zone;       /* holds msgs */
    sp_msg *msgs;
    size_t nmsgs;
    size_t msgs_cap;
    size_t cursor;            /* next message sp_next returns */
    int bad;                  /* the output could not be decoded */
    int saw_nil;
    int watch_write;          /* like the glue's write watcher: armed by SC_EV_IO */
} sp_conn;

typedef struct simpeer {
    sc_actor *actor;
    sc_actor_config cfg;      /* as given, strings pointing at the copies below */
    char name[128];
    char uuid[64];
    char registry_host[64];
    double now;
    size_t chunk;             /* bytes per sc_actor_feed; 0 = SC_READ_CHUNK */
    uint64_t rng;
    sp_conn *conns;
    size_t nconns;
    size_t conns_cap;
    sc_event *events;         /* every event but SC_EV_IO, in order */
    size_t nevents;
    size_t events_cap;
    int last_connect;         /* handle of the latest SC_EV_CONNECT, -1 */
    int exited;
    int exit_status;
    unsigned faults;          /* actor output that broke the protocol */
    unsigned warnings;        /* log lines at SC_LOG_WARNING or above */
    sp_bytes log;             /* every log line, "level: text\n", capped */
    int verbose;              /* SP_VERBOSE set: log lines go to stderr */
    int fm_armed;
    unsigned long fm_left;
    int fm_hit;
} simpeer;

/* cfg NULL: sc_actor_config_default() with SP_ACTOR_UUID.  SC_OK or the
 * code of sc_actor_new. */
int sp_init(simpeer *p, const sc_actor_config *cfg);
/* sc_actor_start (registry probe and registration), then pump. */
int sp_start(simpeer *p);
/* sc_actor_free and free everything; returns p->faults. */
unsigned sp_free(simpeer *p);

/* A connection to the actor's listener: a handle, or the negative code of
 * sc_actor_accept.  The peer frames what it sends with codec (the actor's
 * by default); the actor's output is always decoded with the actor's. */
int sp_accept(simpeer *p);
int sp_accept_codec(simpeer *p, sc_codec codec);
/* Accept, check that the actor's uid comes first, send [name, uuid].
 * A handle, or -1 (said on stderr). */
int sp_handshake(simpeer *p, const char *name, const char *uuid);
/* Complete an outbound connection the actor asked for. */
void sp_connected(simpeer *p, int h);
void sp_connect_failed(simpeer *p, int h, const char *why);

/* The glue's side of supervision: the listener of a child (after
 * SC_EV_LISTEN), and the processes of children (after SC_EV_SPAWN); each
 * pumps.  wait_status as from waitpid: SP_EXITED(n), SP_SIGNALED(n). */
#define SP_EXITED(n) (((n) & 0xff) << 8)
#define SP_SIGNALED(n) ((n) & 0x7f)
void sp_listening(simpeer *p, const char *host, uint16_t port);
void sp_listen_failed(simpeer *p, const char *why);
void sp_child_spawned(simpeer *p, uint32_t child, int pid);
void sp_child_spawn_failed(simpeer *p, uint32_t child, const char *why);
void sp_child_exited(simpeer *p, uint32_t child, int wait_status);
/* The latest event of kind at or after from, or NULL. */
const sc_event *sp_last_event(const simpeer *p, sc_event_kind kind, size_t from);

/* What the peer sends; each call ends with sp_pump. */
void sp_feed(simpeer *p, int h, const void *data, size_t len);
int sp_send(simpeer *p, int h, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sp_send_uid(simpeer *p, int h, const char *name, const char *uuid);
/* {"cmd": [ns, func, kwargs, <h's uid>, cid]}; kwargs in the notation. */
int sp_cmd(simpeer *p, int h, const char *cid, const char *ns, const char *func,
           const char *kwargs_fmt, ...) __attribute__((format(printf, 6, 7)));
void sp_eof(simpeer *p, int h, int reset);
/* A peer that stops reading leaves the actor's output where it is. */
void sp_set_reading(simpeer *p, int h, int on);

/* Run the glue until nothing moves. */
void sp_pump(simpeer *p);
/* Move the clock by dt, fire the due timers, pump. */
void sp_advance(simpeer *p, double dt);
/* Fire timers one deadline at a time, moving the clock, until none is due
 * within `span` seconds from now; the clock ends at now + span, or where
 * the actor exited. */
void sp_run_timers(simpeer *p, double span);

/* The actor's output to h. */
const sp_msg *sp_next(simpeer *p, int h);
size_t sp_unread(const simpeer *p, int h);
/* m equals the text byte for byte; says why not on stderr. */
int sp_match(const sp_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for the next message of h. */
int sp_expect(simpeer *p, int h, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The next message is {"error": {"tb_str": T, "type_str": type_str}, "cid": cid}
 * in exactly that encoding, with text (unless NULL) inside T. */
const sp_msg *sp_expect_error(simpeer *p, int h, const char *cid, const char *type_str,
                              const char *text);
/* The tb_str of an error message contains s. */
int sp_tb_has(const sp_msg *m, const char *s);
/* A str field of a map message, NUL-terminated into out; 0 if absent. */
int sp_field_str(const sp_msg *m, const char *key, char *out, size_t n);

int sp_closed(const simpeer *p, int h);
int sp_want_read(simpeer *p, int h);
/* Output the actor holds for h, not yet taken by the peer. */
size_t sp_outbuf(simpeer *p, int h);
sc_actor_stats sp_stats(const simpeer *p);
size_t sp_count_events(const simpeer *p, sc_event_kind kind);
/* Index in p->events of the first event of kind at or after from, or -1. */
long sp_find_event(const simpeer *p, sc_event_kind kind, size_t from);
int sp_log_has(const simpeer *p, const char *s);

/* Fail the n-th allocation the actor makes from now on (0: never).  The
 * harness's own decoding is not counted. */
void sp_failmalloc(simpeer *p, unsigned long n);
/* 1 once the armed failure has happened. */
int sp_failmalloc_hit(simpeer *p);

#endif
