/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_seq.c - exactly-once, in-order accounting of the sequence numbers
 * carried by one stream.
 *
 * One bit per value sent, so that every kind of fault is told apart and
 * counted exactly: a value seen twice is a duplicate, a value that arrives
 * after a larger one is reordered, and the values never seen are lost,
 * either in a gap (something after them arrived) or at the tail (nothing
 * after them did: what a shutdown may cut off). */
#include "soak.h"

#include <stdlib.h>
#include <string.h>

int soak_seq_reserve(soak_seq *q, uint64_t n, sc_err *err)
{
    if (n <= q->cap)
        return SC_OK;
    uint64_t want = q->cap ? q->cap : 1024;
    while (want < n)
        want *= 2;
    uint8_t *p = realloc(q->seen, (size_t)(want / 8));
    if (!p)
        return sc_err_set(err, SC_ENOMEM, "out of memory tracking %llu sequence numbers",
                          (unsigned long long)want);
    memset(p + q->cap / 8, 0, (size_t)((want - q->cap) / 8));
    q->seen = p;
    q->cap = want;
    return SC_OK;
}

int soak_seq_got(soak_seq *q, uint64_t v, uint64_t sent, sc_err *err)
{
    if (v >= sent || v >= q->cap)
        return sc_err_set(err, SC_EPROTO, "received sequence number %llu, but only 0 to %lld were sent",
                          (unsigned long long)v, (long long)sent - 1);
    uint8_t bit = (uint8_t)(1u << (v % 8));
    if (q->seen[v / 8] & bit) {
        q->duplicated++;
        return SC_OK;
    }
    q->seen[v / 8] |= bit;
    q->received++;
    if (v + 1 < q->top)
        q->reordered++;
    else
        q->top = v + 1;
    return SC_OK;
}

void soak_seq_fold(const soak_seq *q, uint64_t sent, soak_tally *t)
{
    t->sent += sent;
    t->received += q->received;
    t->gaps += q->top - q->received;
    t->tail += sent - q->top;
    t->duplicated += q->duplicated;
    t->reordered += q->reordered;
}

void soak_seq_free(soak_seq *q)
{
    free(q->seen);
    memset(q, 0, sizeof(*q));
}
