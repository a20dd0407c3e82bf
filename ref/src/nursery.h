/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* nursery.h - supervision of spec/protocol.md section 12, both sides:
 *
 *   nursery.c  the parent: child actors as processes (started and reaped by
 *              the glue through SC_EV_SPAWN and sc_actor_child_exited), the
 *              channel each child opens back, the init map, the commands sent
 *              to children, cancellation with self.cancel, terminate and kill
 *              after a grace period, one-cancels-all, and the scwire_service
 *              functions that expose all this (run_in_child, spawn_start...).
 *   child.c    the child: the channel to the parent, the init map, binding
 *              and registering before the parent's commands are served, and
 *              the end of the actor with its parent channel.
 *
 * A child is supervised by a scope: the scope of one run_in_child or
 * run_in_children call, which replies once every child it started has been
 * reaped, or the actor's own scope for the long-lived children of
 * spawn_start, which live until spawn_cancel or the actor's exit.  A scope
 * whose task goes away (cancelled, channel ended) cancels its children; they
 * are then reaped on their own.  Nothing here frees a child while a caller
 * may still be walking the list: detached children that have been reaped are
 * swept at the end of each entry point (sc_nursery_sweep).
 *
 * Not a public API: internal to the actor, like actor_int.h. */
#ifndef SC_NURSERY_H
#define SC_NURSERY_H

#include "actor_int.h"

/* Child names travel on a command line as a Python repr, so they are kept
 * to characters that need no escaping there. */
#define SC_CHILD_NAME_MAX 64
/* Children one run_in_children call may start. */
#define SC_SCOPE_MAX_SPECS 16
/* How much of a child's tb_str a report keeps. */
#define SC_CHILD_TB_MAX 2000
/* After a child's process ended, how long its channel may still deliver
 * what was in transit (tractor drains it for 0.5 s, R90). */
#define SC_CHILD_DRAIN 0.5

typedef enum sc_child_state {
    SC_CHILD_SPAWNING = 0,  /* asked the glue for a process; its channel is not up */
    SC_CHILD_RUNNING,       /* its channel is up and the init map went out */
    SC_CHILD_CANCELLING,    /* being cancelled: self.cancel sent, or sent once it connects */
    SC_CHILD_TERMINATING,   /* SIGTERM sent */
    SC_CHILD_KILLING        /* SIGKILL sent */
} sc_child_state;

typedef enum sc_outcome {
    SC_OUT_NONE = 0,
    SC_OUT_RETURNED,        /* its command returned (value kept) */
    SC_OUT_FAILED           /* an error, an actor-level error, or it died first */
} sc_outcome;

/* One request of ours on a child's channel. */
typedef struct sc_call {
    char cid[40];
    int state;              /* 0 none, 1 sent, 2 functype seen, 3 answered */
} sc_call;

typedef enum sc_scope_kind { SC_SCOPE_RUN = 0, SC_SCOPE_DAEMON } sc_scope_kind;

typedef struct sc_scope sc_scope;

struct sc_child {
    sc_child *next;         /* a->children, in spawn order */
    uint32_t id;            /* the glue's name for it */
    unsigned share;         /* processes it may start below it, reserved from our budget */
    sc_scope *scope;        /* NULL once detached: only reaped */
    unsigned index;         /* its spec's position in a run scope */
    char name[SC_CHILD_NAME_MAX + 1];
    char uuid[40];
    int pid;                /* 0 until the glue reports it */
    int spawned;            /* the glue runs a process for it */
    int exited;             /* its process was reaped (or never started) */
    int draining;           /* exited, its channel still open: late replies may come */
    int done;               /* exited and drained: final, its waiters were answered */
    int wait_status;
    sc_conn *conn;          /* its channel, once it connected with its uid */
    int connected;          /* it did connect (the init map went out) */
    sc_conn *claiming;      /* a channel with its uid whose process the glue is checking */
    sc_child_state state;
    int timer;              /* index in the timer heap, -1 if none */
    double cancel_t0;       /* when its cancellation began */
    double cancel_sent;     /* when self.cancel went out */
    int cancelled;          /* we cancelled it (not a failure in itself) */
    int acked;              /* self.cancel acknowledged */
    int ack_late;           /* the acknowledgement wait ran out */
    int channel_lost;       /* its channel ended before it was cancelled */
    int sigterm;            /* signals sent */
    int sigkill;
    /* The command of run_in_child, sent once the channel is up. */
    char *ns;
    char *func;
    char *kwargs;           /* encoded map */
    size_t kwargs_len;
    sc_call run;
    sc_call info;           /* spawn_info, asked by spawn_start */
    sc_call cancel;         /* self.cancel */
    sc_outcome outcome;
    char *value;            /* encoded return value */
    size_t value_len;
    char *err_type;         /* failure */
    char *err_tb;
    sc_task *starter;       /* spawn_start waiting for it to be up */
    sc_task *canceller;     /* spawn_cancel waiting for it to be reaped */
};

/* ---- actor.c calls these --------------------------------------------------- */

/* Claim a channel whose handshake just completed: if its uid is the uid of a
 * child that has not connected yet, it becomes that child's channel, gets the
 * init map and the child's command.  Any other uid is an ordinary peer (SEC-7). */
void sc_nursery_claim(sc_actor *a, sc_conn *c);
/* A channel whose claim the glue was checking closed first. */
void sc_nursery_claim_lost(sc_actor *a, sc_conn *c);
/* A message on a child's channel: 1 if it was a reply to one of our
 * requests or an actor-level error (consumed), 0 to handle it as usual. */
int sc_nursery_child_msg(sc_actor *a, sc_conn *c, const sc_msg *m);
/* A child's channel is closing. */
void sc_nursery_conn_lost(sc_actor *a, sc_conn *c);
/* A child's timer fired. */
void sc_nursery_timeout(sc_actor *a, sc_child *ch);
/* A task that owns a scope or waits for a child is being freed. */
void sc_nursery_task_gone(sc_actor *a, sc_task *t);
/* The actor is shutting down: cancel every child. */
void sc_nursery_shutdown(sc_actor *a);
/* Children not final yet (what the exit waits for). */
unsigned sc_nursery_live(const sc_actor *a);
/* Free detached children that have been reaped. */
void sc_nursery_sweep(sc_actor *a);
void sc_nursery_free_all(sc_actor *a);
const sc_function *sc_nursery_lookup(sc_str name);

/* child.c */
/* Child mode: begin life by connecting to the parent. */
void sc_child_start(sc_actor *a);
/* The first message on the parent channel after the handshake. */
void sc_child_take_init(sc_actor *a, sc_conn *c, const msgpack_object *o);
/* The register call ended (done or not): serve the parent from now on. */
void sc_child_registered(sc_actor *a);
/* The parent channel is closing. */
void sc_child_parent_lost(sc_actor *a, sc_conn *c);
const sc_function *sc_child_lookup(sc_str name);
/* Send an actor-level error on the parent channel (child mode only). */
int sc_child_send_actor_error(sc_actor *a, const char *type_str, const char *qualified,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
