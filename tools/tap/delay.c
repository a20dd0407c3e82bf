/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* delay.c - due times of held bytes (see delay.h). */
#include "delay.h"

#include <stdlib.h>

static double uniform(unsigned *rng)
{
    unsigned x = *rng ? *rng : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *rng = x;
    return (double)x / 4294967296.0;   /* [0, 1) */
}

double delay_due(const tap_delay *d, double now, double *last, unsigned *rng)
{
    double hold = d->base;

    if (d->jitter > 0)
        hold += d->jitter * (2.0 * uniform(rng) - 1.0);
    if (hold < 0)
        hold = 0;
    if (now + hold > *last)
        *last = now + hold;
    return *last;
}

void delay_queue_init(delay_queue *q)
{
    q->m = NULL;
    q->head = q->n = q->cap = 0;
    q->in = q->released = 0;
}

void delay_queue_free(delay_queue *q)
{
    free(q->m);
    delay_queue_init(q);
}

int delay_queue_push(delay_queue *q, size_t n, double due)
{
    q->in += n;
    /* Reads due at the same time share one mark. */
    if (q->n > 0 && q->m[(q->head + q->n - 1) % q->cap].due == due) {
        q->m[(q->head + q->n - 1) % q->cap].end = q->in;
        return 0;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        struct delay_mark *m = malloc(cap * sizeof(*m));
        if (!m)
            return -1;
        for (size_t i = 0; i < q->n; i++)
            m[i] = q->m[(q->head + i) % q->cap];
        free(q->m);
        q->m = m;
        q->cap = cap;
        q->head = 0;
    }
    q->m[(q->head + q->n) % q->cap] = (struct delay_mark){ q->in, due };
    q->n++;
    return 0;
}

unsigned long long delay_queue_release(delay_queue *q, double now)
{
    while (q->n > 0 && q->m[q->head].due <= now) {
        q->released = q->m[q->head].end;
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    return q->released;
}

double delay_queue_next(const delay_queue *q)
{
    return q->n > 0 ? q->m[q->head].due : -1.0;
}
