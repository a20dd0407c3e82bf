/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* budget.c - retained-byte budgets (see budget.h). */
#include "budget.h"

#include <string.h>

struct sc_charge {
    sc_conn_id conn;
    uint32_t serial;
    size_t bytes;
};

static sc_conn *conn_of(sc_actor *a, sc_conn_id id, uint32_t serial)
{
    sc_conn *c = id < a->nconns_slots ? a->conns[id] : NULL;
    return c && c->serial == serial ? c : NULL;
}

int sc_budget_take(sc_actor *a, sc_conn *c, size_t n, sc_err *err)
{
    const sc_limits *l = &a->cfg.limits;
    if (c->retained + n > l->max_conn_bytes)
        return sc_err_set(err, SC_ELIMIT,
                          "this connection would keep %zu bytes, over its budget of %zu "
                          "(--max-conn-bytes)",
                          c->retained + n, l->max_conn_bytes);
    /* The total is shared first come, first served, except for a slice of
     * it each connection keeps whatever the others hold: so a peer that
     * keeps little is served however much the others keep. */
    size_t slice = l->max_total_bytes / (2 * (size_t)(l->max_conns ? l->max_conns : 1));
    if (a->retained + n > l->max_total_bytes && c->retained + n > slice)
        return sc_err_set(err, SC_ELIMIT,
                          "the actor would keep %zu bytes for its peers, over its budget of %zu "
                          "(--max-total-bytes)",
                          a->retained + n, l->max_total_bytes);
    c->retained += n;
    a->retained += n;
    return SC_OK;
}

void sc_budget_give(sc_actor *a, sc_conn_id id, uint32_t serial, size_t n)
{
    sc_conn *c = conn_of(a, id, serial);
    if (c)
        c->retained -= n;
    a->retained -= n;
}

/* What the allocator and the tables add to a context beyond its bytes:
 * a header on each of its four allocations and its slots in the context
 * and waiter tables. */
#define SC_TASK_OVERHEAD 96

/* A context's fixed cost: its task, its routing key, what it keeps. */
static size_t own_cost(const sc_task *t)
{
    return sizeof(*t) + SC_TASK_OVERHEAD + t->ctx.peer_name.len + t->ctx.peer_uuid.len +
           t->ctx.cid.len + 3 + t->value_len + t->text_len;
}

int sc_budget_task_own(sc_actor *a, sc_task *t, sc_err *err)
{
    size_t now = own_cost(t);
    if (now > t->own_charged) {
        int rc = sc_budget_take(a, t->conn, now - t->own_charged, err);
        if (rc != SC_OK)
            return rc;
    } else {
        sc_budget_give(a, t->conn->id, t->conn->serial, t->own_charged - now);
    }
    t->own_charged = now;
    return SC_OK;
}

int sc_budget_queue_note(sc_actor *a, sc_task *t, const sc_conn *c, size_t bytes, sc_err *err)
{
    (void)a;
    if (t->charge_count == t->charge_cap) {
        unsigned cap = t->charge_cap ? t->charge_cap * 2 : 8;
        sc_charge *n = sc_malloc(cap * sizeof(*n));
        if (!n)
            return sc_err_set(err, SC_ENOMEM, "out of memory queueing a message");
        for (unsigned i = 0; i < t->charge_count; i++)
            n[i] = t->charges[(t->charge_head + i) % t->charge_cap];
        sc_free(t->charges);
        t->charges = n;
        t->charge_cap = cap;
        t->charge_head = 0;
    }
    t->charges[(t->charge_head + t->charge_count) % t->charge_cap] =
        (sc_charge){ c->id, c->serial, bytes };
    t->charge_count++;
    return SC_OK;
}

void sc_budget_queue_pop(sc_actor *a, sc_task *t)
{
    if (!t->charge_count)
        return;
    sc_charge *ch = &t->charges[t->charge_head];
    sc_budget_give(a, ch->conn, ch->serial, ch->bytes);
    t->charge_head = (t->charge_head + 1) % t->charge_cap;
    t->charge_count--;
}

sc_conn *sc_budget_queue_sender(sc_actor *a, const sc_task *t, unsigned i)
{
    if (i >= t->charge_count)
        return NULL;
    const sc_charge *ch = &t->charges[(t->charge_head + i) % t->charge_cap];
    return conn_of(a, ch->conn, ch->serial);
}

void sc_budget_task_gone(sc_actor *a, sc_task *t)
{
    for (unsigned i = 0; i < t->charge_count; i++) {
        sc_charge *ch = &t->charges[(t->charge_head + i) % t->charge_cap];
        sc_conn *c = conn_of(a, ch->conn, ch->serial);
        /* Items past the buffer are parked on their sender's budget. */
        if (c && i >= t->ctx.buffer_size)
            sc_park_release(a, c, 1, ch->bytes);
        sc_budget_give(a, ch->conn, ch->serial, ch->bytes);
    }
    sc_free(t->charges);
    t->charges = NULL;
    t->charge_count = t->charge_cap = t->charge_head = 0;
    sc_budget_give(a, t->conn->id, t->conn->serial, t->own_charged);
    t->own_charged = 0;
}
