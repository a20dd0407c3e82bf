/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* actor.h - the sans-IO actor: the whole protocol engine of the reference
 * runtime behind one object, in the manner of nghttp2's session.
 *
 * The glue (loop.c under libev, a unit test, a fuzzer) owns sockets, clocks
 * and randomness.  It tells the actor what happened (a connection accepted,
 * bytes read, EOF, time passed) and then drains sc_actor_next_event() for
 * what the actor wants done (write, close, connect, stop listening, exit,
 * and for supervision: listen, start a child process, signal one).
 * Every entry point takes `now` in seconds on a monotonic clock; the actor
 * never reads a clock, never forks and never signals: child processes are
 * the glue's, named by child ids the actor chooses, and the glue reports
 * what becomes of them.  Connection ids are small integers chosen by the
 * actor; the glue maps them to sockets. */
#ifndef SC_ACTOR_H
#define SC_ACTOR_H

#include "codec.h"
#include "common.h"
#include "limit.h"

typedef struct sc_actor sc_actor;
typedef uint32_t sc_conn_id;

/* tractor's levels (log.py) plus the stdlib ones. */
enum {
    SC_LOG_TRANSPORT = 5,
    SC_LOG_DEBUG = 10,
    SC_LOG_RUNTIME = 15,
    SC_LOG_CANCEL = 16,
    SC_LOG_INFO = 20,
    SC_LOG_WARNING = 30,
    SC_LOG_ERROR = 40,
    SC_LOG_CRITICAL = 50
};
/* Name <-> level; unknown names give SC_EARG. */
int sc_loglevel_parse(const char *name, int *level);
const char *sc_loglevel_name(int level);

typedef struct sc_actor_config {
    const char *name;          /* actor name, e.g. "scwire-ref" */
    const char *uuid;          /* canonical uuid4 text, 36 chars */
    sc_codec codec;
    sc_limits limits;
    int loglevel;              /* messages below it are not even formatted */
    int registry_role;         /* serve the registry functions of `self` */
    const char *listen_host;   /* the bound address, as published */
    uint16_t listen_port;
    const char *registry_host; /* register there; NULL for none */
    uint16_t registry_port;
    /* Supervision (spec/protocol.md section 12, nursery.h). */
    unsigned max_children;     /* processes of the whole tree below this actor at once: each
                                * child counts 1 + its share; 0 (the default): no spawning */
    unsigned child_budget;     /* the share each child gets (0: children are leaves) */
    double cancel_timeout;     /* wait for a child's self.cancel acknowledgement (0.5 s) */
    double kill_grace;         /* cancel to SIGTERM, and SIGTERM to SIGKILL (3 s) */
    const char *exe_path;      /* the runtime's program, named in a child's enable_modules */
    int verify_children;       /* ask the glue whether a channel claiming a child's uid comes
                                * from that child's process (SC_EV_VERIFY_CHILD, SUP-14) */
    /* Child mode: connect to the parent there, take the init map, then
     * listen where it says.  NULL for an actor started on its own. */
    const char *parent_host;
    uint16_t parent_port;
} sc_actor_config;

void sc_actor_config_default(sc_actor_config *cfg);

typedef struct sc_actor_callbacks {
    /* One finished log line, without a newline. */
    void (*log)(void *ud, int level, const char *line);
    /* Fill out with n random bytes (cids, uuids). */
    void (*random)(void *ud, uint8_t *out, size_t n);
} sc_actor_callbacks;

typedef enum sc_event_kind {
    SC_EV_IO = 1,        /* conn's read/write interest may have changed: ask sc_actor_conn_interest */
    SC_EV_CONNECT,       /* open a TCP connection to host:port for conn */
    SC_EV_CLOSE,         /* write what is left of conn's output (bounded), close, then sc_actor_conn_release */
    SC_EV_STOP_LISTEN,   /* close the listening socket */
    SC_EV_EXIT,          /* leave the loop and exit with status */
    SC_EV_LISTEN,        /* child mode: listen on host:port, then sc_actor_listening or
                          * sc_actor_listen_failed */
    SC_EV_SPAWN,         /* run child `child` as a process of this runtime in child mode,
                          * uid (name, uuid), parent address host:port, and `status`
                          * the child's own process budget (its max_children); then
                          * sc_actor_child_spawned or sc_actor_child_spawn_failed, and
                          * sc_actor_child_exited once it has been reaped */
    SC_EV_SIGNAL,        /* send signal `status` to child `child` if it was not reaped */
    SC_EV_VERIFY_CHILD   /* is conn's peer the process `status` (child `child`)?  Answer
                          * with sc_actor_child_verified (only with verify_children) */
} sc_event_kind;

typedef struct sc_event {
    sc_event_kind kind;
    sc_conn_id conn;
    char host[64];
    uint16_t port;
    int status;          /* SC_EV_EXIT: exit status; SC_EV_SIGNAL: the signal; SC_EV_SPAWN:
                          * the child's budget; SC_EV_VERIFY_CHILD: its pid */
    uint32_t child;      /* SC_EV_SPAWN, SC_EV_SIGNAL */
    char name[72];       /* SC_EV_SPAWN: the child's uid */
    char uuid[40];
} sc_event;

int sc_actor_new(const sc_actor_config *cfg, const sc_actor_callbacks *cb, void *ud,
                 sc_actor **out, sc_err *err);
void sc_actor_free(sc_actor *a);
/* Begin life: the registry probe and registration when configured. */
int sc_actor_start(sc_actor *a, double now);
/* SIGINT/SIGTERM: cancel every task, unregister, close everything, exit 0.
 * Returns 0 when the actor ignores the signal (a child made stubborn with
 * ignore_sigterm, SVC-27): it is then no shutdown, however often it comes. */
int sc_actor_shutdown(sc_actor *a, double now);

/* A connection was accepted from `peer`, the peer's address as text (for
 * example "127.0.0.1:40123"; NULL when unknown), which every log record about
 * the connection names (test-service.md SVC-30).  SC_ELIMIT when the
 * connection limit is reached: the glue closes the socket at once (the actor
 * has logged why). */
int sc_actor_accept(sc_actor *a, double now, const char *peer, sc_conn_id *conn, sc_err *err);
/* An outbound connection asked for by SC_EV_CONNECT is up, or failed. */
void sc_actor_conn_connected(sc_actor *a, sc_conn_id conn, double now);
void sc_actor_conn_connect_failed(sc_actor *a, sc_conn_id conn, const char *why, double now);
/* Bytes read from conn.  Never more than SC_READ_CHUNK at once, and only while
 * the actor wants to read (sc_actor_conn_interest). */
void sc_actor_feed(sc_actor *a, sc_conn_id conn, const char *data, size_t len, double now);
/* The peer closed (reset != 0: ECONNRESET or another read error). */
void sc_actor_conn_eof(sc_actor *a, sc_conn_id conn, int reset, double now);
/* Output waiting for conn; the glue writes some and reports how much. */
void sc_actor_conn_output(sc_actor *a, sc_conn_id conn, const char **data, size_t *len);
void sc_actor_conn_written(sc_actor *a, sc_conn_id conn, size_t n, double now);
void sc_actor_conn_interest(sc_actor *a, sc_conn_id conn, int *want_read, int *want_write);
/* The glue closed the socket after SC_EV_CLOSE; the id is free again. */
void sc_actor_conn_release(sc_actor *a, sc_conn_id conn);

/* Child mode, after SC_EV_LISTEN: the listener is up at host:port (the
 * address actually bound), or could not be had. */
void sc_actor_listening(sc_actor *a, const char *host, uint16_t port, double now);
void sc_actor_listen_failed(sc_actor *a, const char *why, double now);
/* After SC_EV_SPAWN: the process runs as pid, or could not be started (no
 * sc_actor_child_exited follows then). */
void sc_actor_child_spawned(sc_actor *a, uint32_t child, int pid, double now);
void sc_actor_child_spawn_failed(sc_actor *a, uint32_t child, const char *why, double now);
/* After SC_EV_VERIFY_CHILD: 1 the connection's peer is that process, 0 it is
 * provably another one, -1 the glue cannot tell (a peer on another host). */
void sc_actor_child_verified(sc_actor *a, sc_conn_id conn, int verdict, double now);
/* The child's process ended and was reaped; wait_status as from waitpid(). */
void sc_actor_child_exited(sc_actor *a, uint32_t child, int wait_status, double now);

/* Fire due timers. */
void sc_actor_advance(sc_actor *a, double now);
/* Absolute time of the next timer, or a negative value for none. */
double sc_actor_next_deadline(const sc_actor *a);
/* Take the next event; 1 if *ev was filled, 0 if none is queued. */
int sc_actor_next_event(sc_actor *a, sc_event *ev);

/* Introspection for tests, fuzzers and benchmarks. */
typedef struct sc_actor_stats {
    unsigned conns;           /* connections not yet released */
    unsigned contexts;        /* live contexts (callee tasks) */
    unsigned registry_entries;
    unsigned children;        /* child processes not reaped yet */
    unsigned long msgs_in;
    unsigned long msgs_out;
    unsigned long overruns;   /* StreamOverrun errors sent */
    unsigned long dropped;    /* messages dropped for unknown contexts or bad shape */
    size_t buffered_bytes;    /* input + output + context queues, all conns */
} sc_actor_stats;
void sc_actor_get_stats(const sc_actor *a, sc_actor_stats *st);
const char *sc_actor_uuid(const sc_actor *a);

#endif
