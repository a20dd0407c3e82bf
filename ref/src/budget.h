/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* budget.h - the retained-byte budgets of spec/limits.md (LIM-20, LIM-21):
 * every byte a peer makes the actor keep beyond the message it is reading
 * is charged to one connection, and to the actor's total.
 *
 * What a context keeps for its own sake (its key, the values and names its
 * function holds) is charged to the connection that started it.  What waits
 * in a context's queue is charged to the connection that delivered it, which
 * may be another one with the same uid (CID-4): so a second connection that
 * presents someone's uid spends its own budget, never theirs.  The queue's
 * charges are kept in delivery order beside it, since the queue itself does
 * not say who sent what.  When the total is spent, a connection may still
 * keep up to its slice of it (the total over twice the connection limit),
 * so the total can be passed by at most half. */
#ifndef SC_BUDGET_H
#define SC_BUDGET_H

#include "actor_int.h"

/* Take n bytes for c (and the total); SC_ELIMIT with a sentence naming the
 * limit if either would be crossed, and then nothing is taken. */
int sc_budget_take(sc_actor *a, sc_conn *c, size_t n, sc_err *err);
/* Give back n bytes taken for the connection (id, serial): the connection
 * may have closed since, then only the total goes down. */
void sc_budget_give(sc_actor *a, sc_conn_id id, uint32_t serial, size_t n);

/* Bring t's own charge (key, kept value and text) to what it holds now. */
int sc_budget_task_own(sc_actor *a, sc_task *t, sc_err *err);

/* A message of `bytes` delivered by c was queued in t: note the charge, in
 * queue order.  SC_ENOMEM when the note cannot be kept. */
int sc_budget_queue_note(sc_actor *a, sc_task *t, const sc_conn *c, size_t bytes, sc_err *err);
/* The oldest queued message left t's queue: give its charge back. */
void sc_budget_queue_pop(sc_actor *a, sc_task *t);
/* Who delivered the message at position i of t's queue (0 = oldest); NULL
 * if that connection has closed. */
sc_conn *sc_budget_queue_sender(sc_actor *a, const sc_task *t, unsigned i);
/* t ends: every charge it holds goes back, parked ones to their senders'
 * parking budgets too. */
void sc_budget_task_gone(sc_actor *a, sc_task *t);

#endif
