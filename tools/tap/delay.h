/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* delay.h - holding forwarded bytes for a while, as a long or uneven link
 * would (scwire-tap --delay, --jitter).  Each read gets a due time; its
 * bytes may leave once it has passed.  Due times never decrease within a
 * direction, so the bytes, and the FIN or reset after them, keep their
 * order whatever the jitter. */
#ifndef TAP_DELAY_H
#define TAP_DELAY_H

#include <stddef.h>

/* The holding time of one direction, in seconds: base, plus or minus up to
 * jitter, drawn anew for every read. */
typedef struct tap_delay {
    double base;
    double jitter;
} tap_delay;

static inline int delay_on(const tap_delay *d) { return d->base > 0 || d->jitter > 0; }

/* The due time of something that arrives at now, never before *last (which
 * it updates); rng is the state of a small xorshift generator. */
double delay_due(const tap_delay *d, double now, double *last, unsigned *rng);

/* The bytes of one direction that wait for their due time. */
typedef struct delay_queue {
    struct delay_mark {
        unsigned long long end;   /* bytes appended up to and including this read */
        double due;
    } *m;
    size_t head, n, cap;
    unsigned long long in;        /* bytes appended in all */
    unsigned long long released;  /* bytes whose due time has passed */
} delay_queue;

void delay_queue_init(delay_queue *q);
void delay_queue_free(delay_queue *q);
/* n bytes appended, due at due; 0, or -1 when out of memory. */
int delay_queue_push(delay_queue *q, size_t n, double due);
/* Release what is due at now; returns the bytes released in all. */
unsigned long long delay_queue_release(delay_queue *q, double now);
/* The due time of the first bytes still held, or a negative number. */
double delay_queue_next(const delay_queue *q);

#endif
