/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* actor_int.h - the actor's insides, shared by the files that implement it:
 * actor.c (connections, routing, dispatch, life cycle), task.c (tasks and
 * timers), service.c (the scwire_service namespace), selfns.c (the
 * `self` namespace and the registry functions), and nursery.c / child.c
 * (supervision, see nursery.h).  Not a public API. */
#ifndef SC_ACTOR_INT_H
#define SC_ACTOR_INT_H

#include "actor.h"
#include "chan.h"
#include "ctx.h"
#include "peeraddr.h"
#include "registry.h"

typedef struct sc_task sc_task;
typedef struct sc_conn sc_conn;
typedef struct sc_child sc_child;
typedef struct sc_charge sc_charge;

typedef enum sc_conn_role {
    SC_ROLE_PEER = 0,      /* accepted, or any channel that serves requests */
    SC_ROLE_PROBE,         /* our connect-and-drop probe of the registry */
    SC_ROLE_REGISTER,      /* our register_actor call */
    SC_ROLE_UNREGISTER,    /* our unregister_actor call at exit */
    SC_ROLE_PARENT,        /* child mode: the channel we opened to our parent */
    SC_ROLE_CHILD,         /* accepted: the channel a child of ours opened back */
    SC_ROLE_CALLER         /* ctx_call: the channel a task opened to call a context */
} sc_conn_role;

struct sc_conn {
    sc_conn_id id;
    uint32_t serial;       /* tells it apart from a later connection with the same id */
    sc_conn_role role;
    int connecting;        /* outbound, not yet connected */
    int closing;           /* SC_EV_CLOSE was emitted */
    int peer_eof;
    int paused_park;       /* reading paused: the parking budget is spent */
    int io_queued;         /* an SC_EV_IO for it waits in the event queue */
    int held;              /* not read for now: a child's parent channel until it serves */
    sc_child *child;       /* SC_ROLE_CHILD: whose channel */
    sc_task *caller;       /* SC_ROLE_CALLER: the ctx_call task it serves */
    sc_chan chan;
    char peer[64];         /* the peer's address, for log records */
    sc_peeraddr *addr;     /* its count of connections from that address */
    double hs_deadline;    /* of hs_timer: the handshake, or after it the watch below */
    int hs_timer;          /* index in the timer heap, -1 if none */
    double last_msg;       /* when the last whole message arrived (idle timeout) */
    double partial_since;  /* when the bytes of an unfinished message began, 0 for none */
    sc_task *tasks;        /* tasks this channel started */
    unsigned ntasks;
    unsigned parked_msgs;  /* parking budget used by messages it delivered */
    size_t parked_bytes;
    size_t retained;       /* bytes kept on its account (budget.h) */
    size_t out_counted;    /* its unsent output as last added to a->out_total */
    double warn_t0;        /* sc_conn_warn's current second */
    unsigned warn_n;       /* warnings logged in it */
    unsigned long warn_dropped; /* ... and left out */
    /* our own request on this connection (registry calls) */
    char call_cid[40];
    int call_state;        /* 0 none, 1 sent, 2 functype seen */
};

/* Exactly one of task, conn and child is set. */
typedef struct sc_timer {
    double deadline;
    sc_task *task;
    sc_conn *conn;
    sc_child *child;
} sc_timer;

struct sc_actor {
    sc_actor_config cfg;
    char *name;
    char uuid[40];
    char *listen_host;
    char *registry_host;
    sc_uid uid;
    sc_actor_callbacks cb;
    void *ud;
    sc_conn **conns;       /* indexed by id; NULL = free */
    size_t nconns_slots;
    unsigned nconns;
    uint32_t next_serial;
    sc_peeraddrs addrs;    /* open accepted connections per peer address */
    size_t retained;       /* bytes kept for all peers (budget.h) */
    size_t out_total;      /* unsent output of all connections */
    int pressed;           /* retained + out_total reached the total budget */
    sc_ctx_table contexts;
    sc_registry registry;
    sc_task **waiters;     /* wait_for_actor tasks, hashed by the name awaited */
    size_t waiter_buckets;
    size_t nwaiters;
    sc_timer *timers;      /* binary min-heap */
    size_t ntimers;
    size_t timers_cap;
    sc_event *events;      /* FIFO ring */
    size_t ev_head;
    size_t ev_count;
    size_t ev_cap;
    int shutting_down;
    int exit_status;
    int exit_pending;      /* exit once the unregister call is done */
    int input_resumable;   /* a paused channel may read again (resume_input) */
    /* supervision, parent side (nursery.c) */
    sc_child *children;    /* every child not swept yet, in spawn order */
    uint32_t next_child_id;
    struct sc_scope *daemons; /* the scope of spawn_start's children */
    /* child mode (child.c) */
    sc_conn *parent;       /* the channel to our parent while it is open */
    int child_phase;       /* SC_CHILD_PHASE_* */
    int parent_nil;        /* the parent ended its channel with nil */
    int parent_lost;       /* ... or it ended: cancel everything and exit (settle) */
    int crash_pending;     /* spawn_crash: exit with status 1 (settle) */
    int service_exposed;   /* scwire_service is served (a child: only if enable_modules says so) */
    int stubborn;          /* spawn_stubborn: self.cancel is ignored */
    int stubborn_sigterm;  /* ... and so are SIGINT and SIGTERM */
    char *init_map;        /* the init map as received, encoded */
    size_t init_len;
    char *root_host;       /* _root_mailbox handed down to our children */
    uint16_t root_port;
    char *exe_path;
    char *parent_host;
    unsigned long msgs_in;
    unsigned long msgs_out;
    unsigned long overruns;
    unsigned long dropped;
    double now;
};

/* A function a peer can call: its namespace, name, kind and the two hooks
 * that drive it. */
typedef struct sc_function {
    const char *ns;
    const char *name;
    sc_functype functype;
    /* Check the kwargs and set the task up.  A non-OK return becomes an
     * error reply: SC_EARG -> TypeError with err's text. */
    int (*start)(sc_actor *a, sc_task *t, const msgpack_object *kwargs, sc_err *err);
    /* Make progress: after start, on a queued message, a timer, room to
     * write, or cancellation (t->cancelled). */
    void (*step)(sc_actor *a, sc_task *t);
} sc_function;

struct sc_task {
    sc_ctx ctx;                 /* routing key and receive queue */
    sc_conn *conn;              /* the channel that started it */
    sc_task *conn_next;
    sc_task *conn_prev;
    sc_task *wait_next;         /* in its bucket of a->waiters */
    sc_task *wait_prev;
    uint64_t wait_hash;
    int waiting;
    const sc_function *fn;
    int done;
    int cancelled;              /* by _cancel_task, self.cancel or channel end */
    int started_sent;
    int want_room;              /* step again when the output drains */
    unsigned holds;             /* code is running that uses it (sc_task_hold) */
    int dead;                   /* freed while held: out of every list, does nothing */
    int timer;                  /* index in the heap, -1 if none */
    /* per-function state */
    int64_t n;
    int64_t i;
    double delay;
    char *value;                /* an encoded msgpack value kept for later */
    size_t value_len;
    char *text;                 /* type_str, a registry name, ... */
    size_t text_len;
    void *sup;                  /* supervision: the scope it owns, or the child it waits for */
    sc_conn *out;               /* ctx_call: the channel it opened */
    size_t own_charged;         /* charged to conn for the context itself (budget.h) */
    sc_charge *charges;         /* ring: who delivered each queued message */
    unsigned charge_head;
    unsigned charge_count;
    unsigned charge_cap;
};

enum {
    SC_CHILD_PHASE_NONE = 0,    /* not a child */
    SC_CHILD_PHASE_CONNECTING,  /* connecting and handshaking with the parent */
    SC_CHILD_PHASE_INIT,        /* waiting for the init map */
    SC_CHILD_PHASE_BINDING,     /* SC_EV_LISTEN asked for */
    SC_CHILD_PHASE_REGISTERING, /* registering with _arb_addr */
    SC_CHILD_PHASE_SERVING      /* the parent's commands are served */
};

/* actor.c */
void sc_log(sc_actor *a, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int sc_log_on(const sc_actor *a, int level) { return level >= a->cfg.loglevel; }
/* A warning caused by c's peer, rate-limited per connection (LIM-25). */
void sc_conn_warn(sc_actor *a, sc_conn *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Queue an event for the glue; returns it so the caller can add fields
 * (NULL when memory ran out, which is logged). */
sc_event *sc_actor_push_event(sc_actor *a, sc_event_kind kind, sc_conn *c);
/* Output was added to c: make sure the glue looks at its interest. */
void sc_conn_kick(sc_actor *a, sc_conn *c);
/* Count a message sent on c and kick it. */
void sc_conn_sent(sc_actor *a, sc_conn *c);
/* A connection's timer fired: handshake, connect or registry call overdue. */
void sc_conn_timeout(sc_actor *a, sc_conn *c);
void sc_conn_close(sc_actor *a, sc_conn *c, int level, const char *why);
/* After a failed send on c: log and close the channel. Returns rc. */
int sc_conn_send_failed(sc_actor *a, sc_conn *c, int rc, const sc_err *err);
int sc_conn_has_room(const sc_actor *a, const sc_conn *c);
/* Parked messages that c delivered left the parking area: give its
 * parking budget back, and let it read again. */
void sc_park_release(sc_actor *a, sc_conn *c, unsigned msgs, size_t bytes);
/* self.cancel and shutdown: every task of every channel ends with its
 * cancellation message; then the listener and every channel close. */
void sc_actor_cancel_all_tasks(sc_actor *a);
void sc_actor_begin_shutdown(sc_actor *a, int status);
/* Everything an entry point may have left to do before it returns: the
 * deferred ends of child.c (parent lost, crash), sweeping reaped children,
 * the exit once nothing is left, and channels that may read again. */
void sc_actor_settle(sc_actor *a);
/* Open an outbound connection (SC_EV_CONNECT) whose connect, handshake and
 * first exchange are bounded by `limit` seconds; NULL on failure (logged). */
sc_conn *sc_conn_open_outbound(sc_actor *a, sc_conn_role role, const char *host, uint16_t port,
                               double limit);
/* Register with the registry over a fresh connection (REG-11). */
void sc_actor_register(sc_actor *a);
/* Take the input a channel holds, if it wants input (after held is cleared). */
void sc_conn_resume(sc_actor *a, sc_conn *c);
/* A fresh canonical uuid4 from the random callback. */
void sc_uuid4(sc_actor *a, char out[37]);
/* Send a whole message packed by `pack` on c, counted and kicked; on
 * failure the connection is closed (as sc_conn_send_failed). */
typedef int (*sc_pack_fn)(msgpack_packer *pk, const void *arg);
int sc_conn_send_packed(sc_actor *a, sc_conn *c, sc_pack_fn pack, const void *arg);
/* Python-ish repr of a uid: ('name', 'uuid'). */
void sc_uid_repr(const sc_uid *uid, char *out, size_t n);
/* Send {"error": ...} with a traceback-shaped text ending "<qual>: <msg>". */
int sc_send_error_text(sc_actor *a, sc_conn *c, sc_str cid, const char *type_str,
                       const char *qualified, const char *where, const char *msg);

/* task.c */
int sc_task_new(sc_actor *a, sc_conn *c, const sc_function *fn, sc_str cid, sc_task **out,
                sc_err *err);
/* Remove from every list and free; the context leaves the table. */
void sc_task_free(sc_actor *a, sc_task *t);
void sc_task_finish(sc_actor *a, sc_task *t);
/* Keep t's memory while code that may end it runs (a failed send closes the
 * channel and frees its tasks); release returns 0 if t is gone now. */
void sc_task_hold(sc_task *t);
int sc_task_release(sc_task *t);
void sc_task_step(sc_actor *a, sc_task *t);
void sc_task_cancel(sc_actor *a, sc_task *t);
int sc_task_send_raw(sc_actor *a, sc_task *t, sc_msg_kind kind, const char *v, size_t len);
int sc_task_send_int(sc_actor *a, sc_task *t, sc_msg_kind kind, int64_t v);
int sc_task_send_stop(sc_actor *a, sc_task *t);
int sc_task_send_error(sc_actor *a, sc_task *t, const char *type_str, const char *qualified,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 1 if the channel can take more output now; else the task is stepped
 * again once it can. */
int sc_task_wait_room(sc_actor *a, sc_task *t);
void sc_task_open_stream(sc_task *t, int backpressure);
/* Take the oldest queued message, giving parking budget back. */
void sc_task_pop(sc_actor *a, sc_task *t);
int sc_task_keep_value(sc_actor *a, sc_task *t, const msgpack_object *v, sc_err *err);
int sc_task_keep_text(sc_actor *a, sc_task *t, sc_str s, sc_err *err);

int sc_timer_add(sc_actor *a, double deadline, sc_task *t, sc_conn *c);
int sc_timer_add_child(sc_actor *a, double deadline, sc_child *ch);
void sc_timer_remove(sc_actor *a, int index);
void sc_timers_fire(sc_actor *a, double now);

/* ctxcall.c: the caller side of ctx_call's channel.  The handshake is done:
 * send the command.  sc_ctxcall_msg takes a message for the call's cids
 * (returns 1) or leaves it to the normal routing (0). */
void sc_ctxcall_handshake(sc_actor *a, sc_conn *c);
int sc_ctxcall_msg(sc_actor *a, sc_conn *c, const sc_msg *m);
void sc_ctxcall_conn_lost(sc_actor *a, sc_conn *c, const char *why);
void sc_ctxcall_task_gone(sc_actor *a, sc_task *t);
const sc_function *sc_ctxcall_lookup(sc_str name);

/* service.c / selfns.c */
const sc_function *sc_service_lookup(sc_str ns, sc_str name, int *ns_known);
/* Handle a `self` command inline, or return the function to run as a task
 * (wait_for_actor, which can block). */
const sc_function *sc_self_dispatch(sc_actor *a, sc_conn *c, const sc_msg *m);
void sc_registry_wake(sc_actor *a, sc_str name);
/* Take a wait_for_actor task out of the waiters, if it is there. */
void sc_waiter_remove(sc_actor *a, sc_task *t);
/* The (type_str, text) kwargs shared by raise_error and spawn_crash. */
int sc_start_error_args(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err);
/* kwargs helpers: fetch a typed argument, SC_EARG with a TypeError text. */
int sc_kwarg(const sc_function *fn, const msgpack_object *kwargs, const char *name,
             const msgpack_object **out, sc_err *err);
int sc_kwargs_only(const sc_function *fn, const msgpack_object *kwargs, const char *const *names,
                   sc_err *err);
int sc_kwarg_int(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                 int64_t *out, sc_err *err);
int sc_kwarg_num(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                 double *out, sc_err *err);
int sc_kwarg_str(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                 sc_str *out, sc_err *err);
int sc_kwarg_bool(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                  int *out, sc_err *err);

#endif
