/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* task.c - the life of a callee task (one context) and the timer heap.
 *
 * Functions are state machines, not threads: a task is stepped when
 * something it waits for happens (a message in its queue, a timer, room in
 * its channel's output, cancellation), and it finishes by sending its last
 * message and calling sc_task_finish. */
#include "actor_int.h"
#include "budget.h"
#include "nursery.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sc_task_new(sc_actor *a, sc_conn *c, const sc_function *fn, sc_str cid, sc_task **out,
                sc_err *err)
{
    sc_task *t = sc_calloc(1, sizeof(*t));
    if (!t)
        return sc_err_set(err, SC_ENOMEM, "out of memory creating a task");
    if (sc_ctx_init(&t->ctx, &c->chan.peer, cid, a->cfg.limits.msg_buffer_size, err) != SC_OK) {
        sc_free(t);
        return err ? err->code : SC_ENOMEM;
    }
    if (sc_ctx_insert(&a->contexts, &t->ctx, err) != SC_OK) {
        sc_ctx_destroy(&t->ctx);
        sc_free(t);
        return err ? err->code : SC_ENOMEM;
    }
    t->conn = c;
    t->fn = fn;
    t->timer = -1;
    t->conn_next = c->tasks;
    if (c->tasks)
        c->tasks->conn_prev = t;
    c->tasks = t;
    c->ntasks++;
    int rc = sc_budget_task_own(a, t, err);
    if (rc != SC_OK) {
        sc_task_free(a, t);
        return rc;
    }
    *out = t;
    return SC_OK;
}

static void task_release_memory(sc_task *t)
{
    sc_ctx_destroy(&t->ctx);
    sc_free(t->value);
    sc_free(t->text);
    sc_free(t);
}

/* A task can be freed while code that holds it still runs: a send that
 * fails closes the channel, which frees its tasks, the sender included.
 * A held task is taken out of every list at once but its memory stays
 * until the last hold goes; meanwhile it is `dead` and does nothing. */
void sc_task_free(sc_actor *a, sc_task *t)
{
    sc_conn *c = t->conn;
    if (t->dead)
        return;
    if (t->sup)
        sc_nursery_task_gone(a, t);
    if (t->out)
        sc_ctxcall_task_gone(a, t);
    if (t->timer >= 0)
        sc_timer_remove(a, t->timer);
    sc_waiter_remove(a, t);
    if (t->conn_prev)
        t->conn_prev->conn_next = t->conn_next;
    else
        c->tasks = t->conn_next;
    if (t->conn_next)
        t->conn_next->conn_prev = t->conn_prev;
    c->ntasks--;
    /* Queued and parked messages die with the context: give their budgets back. */
    sc_budget_task_gone(a, t);
    sc_ctx_remove(&a->contexts, &t->ctx);
    if (t->holds) {
        t->dead = 1;
        return;
    }
    task_release_memory(t);
}

void sc_task_hold(sc_task *t)
{
    t->holds++;
}

int sc_task_release(sc_task *t)
{
    if (--t->holds == 0 && t->dead) {
        task_release_memory(t);
        return 0;
    }
    return !t->dead;
}

void sc_task_finish(sc_actor *a, sc_task *t)
{
    t->done = 1;
    sc_task_free(a, t);
}

void sc_task_step(sc_actor *a, sc_task *t)
{
    if (t->dead)
        return;
    t->want_room = 0;
    sc_task_hold(t);
    t->fn->step(a, t);
    sc_task_release(t);
}

/* What a task sends when it is cancelled depends on its kind
 * (spec/protocol.md, CAN): a context reports ContextCancelled, an async
 * generator ends its stream, an async function sends nothing. */
void sc_task_cancel(sc_actor *a, sc_task *t)
{
    sc_conn *c = t->conn;
    sc_task_hold(t);
    if (!c->closing && !c->peer_eof) {
        if (t->fn->functype == SC_FT_CONTEXT) {
            char uid[160];
            sc_uid_repr(&c->chan.peer, uid, sizeof(uid));
            sc_task_send_error(a, t, "ContextCancelled", "tractor._exceptions.ContextCancelled",
                               "%s was remotely cancelled by its caller %s", t->fn->name, uid);
        } else if (t->fn->functype == SC_FT_ASYNCGEN) {
            sc_task_send_stop(a, t);
        }
    }
    if (!t->dead)
        sc_log(a, SC_LOG_CANCEL, "cancelled task %s.%s cid %.*s", t->fn->ns, t->fn->name,
               (int)t->ctx.cid.len, t->ctx.cid.ptr);
    sc_task_finish(a, t);
    sc_task_release(t);
}

static int task_sent(sc_actor *a, sc_task *t, int rc, const sc_err *err)
{
    if (rc == SC_ELIMIT) {
        /* The message would break the frame limit: the peer gets an error
         * in its place and the channel lives on (RPC-11). */
        sc_task_send_error(a, t, "TypeError", "TypeError", "%s", err->msg);
        return rc;
    }
    if (rc != SC_OK)
        return sc_conn_send_failed(a, t->conn, rc, err);
    sc_conn_sent(a, t->conn);
    return SC_OK;
}

int sc_task_send_raw(sc_actor *a, sc_task *t, sc_msg_kind kind, const char *v, size_t len)
{
    sc_err err;
    if (t->dead || t->conn->closing)
        return SC_ESTATE;
    int rc = sc_chan_send_raw_value(&t->conn->chan, kind, t->ctx.cid, v, len, &err);
    return task_sent(a, t, rc, &err);
}

int sc_task_send_int(sc_actor *a, sc_task *t, sc_msg_kind kind, int64_t v)
{
    char enc[9];
    sc_buf b;
    /* Encode through msgpack-c so the int takes its smallest form, as
     * msgpack-python writes it.  max == cap keeps the buffer from ever
     * reallocating the stack array. */
    sc_buf_init(&b, sizeof(enc));
    b.data = enc;
    b.cap = sizeof(enc);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    msgpack_pack_int64(&pk, v);
    return sc_task_send_raw(a, t, kind, enc, sc_buf_size(&b));
}

int sc_task_send_stop(sc_actor *a, sc_task *t)
{
    sc_err err;
    if (t->dead || t->conn->closing)
        return SC_ESTATE;
    int rc = sc_chan_send_stop(&t->conn->chan, t->ctx.cid, &err);
    return task_sent(a, t, rc, &err);
}

int sc_task_send_error(sc_actor *a, sc_task *t, const char *type_str, const char *qualified,
                       const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (t->dead)
        return SC_ESTATE;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char where[128];
    snprintf(where, sizeof(where), "%s.%s", t->fn->ns, t->fn->name);
    if (t->conn->closing)
        return SC_ESTATE;
    int rc = sc_send_error_text(a, t->conn, t->ctx.cid, type_str, qualified, where, msg);
    return rc;
}

int sc_task_wait_room(sc_actor *a, sc_task *t)
{
    if (t->dead)
        return 0;
    if (sc_conn_has_room(a, t->conn))
        return 1;
    t->want_room = 1;
    return 0;
}

void sc_task_open_stream(sc_task *t, int backpressure)
{
    t->ctx.stream_open = 1;
    t->ctx.backpressure = backpressure;
}

void sc_task_pop(sc_actor *a, sc_task *t)
{
    size_t bytes;
    int unparked;
    sc_ctx_pop(&t->ctx, &bytes, &unparked);
    if (t->dead)
        return;
    sc_budget_queue_pop(a, t);
    /* The message that moved from parking into the buffer is its last. */
    sc_conn *sender = unparked ? sc_budget_queue_sender(a, t, t->ctx.buffer_size - 1) : NULL;
    if (sender)
        sc_park_release(a, sender, 1, bytes);
}

int sc_task_keep_value(sc_actor *a, sc_task *t, const msgpack_object *v, sc_err *err)
{
    sc_buf b;
    sc_buf_init(&b, 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
    if (msgpack_pack_object(&pk, *v) != 0) {
        sc_buf_free(&b);
        return sc_err_set(err, SC_ENOMEM, "out of memory keeping a value");
    }
    sc_free(t->value);
    t->value = b.data;
    t->value_len = sc_buf_size(&b);
    return sc_budget_task_own(a, t, err);
}

int sc_task_keep_text(sc_actor *a, sc_task *t, sc_str s, sc_err *err)
{
    char *d = sc_strndup(s.ptr, s.len);
    if (!d)
        return sc_err_set(err, SC_ENOMEM, "out of memory keeping a string");
    sc_free(t->text);
    t->text = d;
    t->text_len = s.len;
    return sc_budget_task_own(a, t, err);
}

/* ---- timer heap ------------------------------------------------------ */

static int *timer_owner_index(sc_timer *tm)
{
    if (tm->task)
        return &tm->task->timer;
    if (tm->conn)
        return &tm->conn->hs_timer;
    return &tm->child->timer;
}

static void timer_set_index(sc_actor *a, size_t i)
{
    *timer_owner_index(&a->timers[i]) = (int)i;
}

static void timer_swap(sc_actor *a, size_t i, size_t j)
{
    sc_timer tmp = a->timers[i];
    a->timers[i] = a->timers[j];
    a->timers[j] = tmp;
    timer_set_index(a, i);
    timer_set_index(a, j);
}

static void timer_sift_up(sc_actor *a, size_t i)
{
    while (i > 0 && a->timers[(i - 1) / 2].deadline > a->timers[i].deadline) {
        timer_swap(a, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void timer_sift_down(sc_actor *a, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < a->ntimers && a->timers[l].deadline < a->timers[m].deadline)
            m = l;
        if (r < a->ntimers && a->timers[r].deadline < a->timers[m].deadline)
            m = r;
        if (m == i)
            return;
        timer_swap(a, i, m);
        i = m;
    }
}

static int timer_add(sc_actor *a, sc_timer tm)
{
    if (a->ntimers == a->timers_cap) {
        size_t cap = a->timers_cap ? a->timers_cap * 2 : 32;
        sc_timer *n = sc_realloc(a->timers, cap * sizeof(*n));
        if (!n)
            return SC_ENOMEM;
        a->timers = n;
        a->timers_cap = cap;
    }
    a->timers[a->ntimers] = tm;
    timer_set_index(a, a->ntimers);
    a->ntimers++;
    timer_sift_up(a, a->ntimers - 1);
    return SC_OK;
}

int sc_timer_add(sc_actor *a, double deadline, sc_task *t, sc_conn *c)
{
    if (t && t->dead)
        return SC_ESTATE;
    return timer_add(a, (sc_timer){ deadline, t, t ? NULL : c, NULL });
}

int sc_timer_add_child(sc_actor *a, double deadline, sc_child *ch)
{
    return timer_add(a, (sc_timer){ deadline, NULL, NULL, ch });
}

void sc_timer_remove(sc_actor *a, int index)
{
    size_t i = (size_t)index;
    *timer_owner_index(&a->timers[i]) = -1;
    a->ntimers--;
    if (i == a->ntimers)
        return;
    a->timers[i] = a->timers[a->ntimers];
    timer_set_index(a, i);
    timer_sift_down(a, i);
    timer_sift_up(a, i);
}

void sc_timers_fire(sc_actor *a, double now)
{
    while (a->ntimers && a->timers[0].deadline <= now) {
        sc_timer tm = a->timers[0];
        sc_timer_remove(a, 0);
        if (tm.task)
            sc_task_step(a, tm.task);
        else if (tm.conn)
            sc_conn_timeout(a, tm.conn);
        else
            sc_nursery_timeout(a, tm.child);
    }
}
