/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* loop.h - the libev glue of the reference runtime: it owns the sockets, the
 * clock, the signals and the child processes, feeds what happens to a sans-IO
 * sc_actor and carries out the events the actor queues (see actor.h).
 *
 * Usage:
 *
 *     sc_actor_start(a, sc_loop_now());
 *     status = sc_loop_run(a, listen_fd, &opts, log_line, ud);
 *     sc_actor_free(a);
 *
 * The loop runs on libev's default loop (signal watchers need it), so there is
 * at most one sc_loop_run at a time in a process. */
#ifndef SC_LOOP_H
#define SC_LOOP_H

#include "actor.h"

/* Seconds on the monotonic clock: the `now` of every call the loop makes into
 * the actor, and so the clock of sc_actor_next_deadline().  Use it for the
 * calls made before sc_loop_run (sc_actor_start).  libev's own ev_now() is
 * the wall clock and would let a clock step move the actor's timers. */
double sc_loop_now(void);

/* The loop's own log lines (descriptors running out, forced exit) go to the
 * same kind of sink as the actor's: one finished line, no newline.  The sink
 * filters by level. */
typedef void sc_loop_log_fn(void *ud, int level, const char *line);

/* How children are started (SC_EV_SPAWN): exe is run with
 *     argv0 lead_args... --uid "('name', 'uuid')" --parent_addr "('host', port)" child_args...
 * the command line of tractor's _child, with the parent's listening address;
 * lead_args put a script before it when exe is an interpreter.
 * Each child gets PR_SET_PDEATHSIG(SIGKILL), so that it dies with the loop's
 * process even when that one is killed with SIGKILL, and stays in the
 * process group.  Its stdio is inherited. */
typedef struct sc_loop_opts {
    const char *exe;           /* the runtime's own program */
    const char *argv0;
    char *const *lead_args;    /* NULL-terminated; NULL for none */
    char *const *child_args;   /* NULL-terminated; NULL for none */
} sc_loop_opts;

/* Bind a listening, non-blocking, close-on-exec TCP socket on host:port
 * (port 0: any free one).  Returns the descriptor and the address actually
 * bound in bound_host/bound_port, or -1 with the reason in why. */
int sc_loop_listen(const char *host, uint16_t port, char *bound_host, size_t bound_sz,
                   uint16_t *bound_port, char *why, size_t why_sz);

/* Serve a until it queues SC_EV_EXIT and the output left is flushed (1 s at
 * most), or until a second SIGINT/SIGTERM; return the exit status: the
 * actor's, or 1 for the second signal or when the loop cannot be set up.
 * Children still running on return (only after a second signal: the actor
 * exits only once they are reaped) are killed with SIGKILL and reaped.
 *
 * listen_fd is a bound, listening, non-blocking socket, or -1 for none (a
 * child binds on SC_EV_LISTEN); the loop owns it from here on and closes it
 * on SC_EV_STOP_LISTEN or on return.  opts may be NULL: no spawning then.
 * Every socket is closed on return; the actor is not called after that, so
 * the caller frees it.  SIGPIPE is ignored for the whole process, and
 * SIGINT/SIGTERM call sc_actor_shutdown while the loop runs.  The loop
 * unblocks those two once its watchers are in place, so a caller that blocks
 * them early loses none that arrive before, and blocks them again on return,
 * so that a late one cannot kill the process while the caller cleans up. */
int sc_loop_run(sc_actor *a, int listen_fd, const sc_loop_opts *opts, sc_loop_log_fn *log_fn,
                void *ud);

#endif
