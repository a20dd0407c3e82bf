/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* peeraddr.h - how many connections each peer address has open, so that
 * one address cannot take every connection slot (spec/limits.md LIM-23).
 * A keyed hash table of addresses; an address leaves it with its last
 * connection. */
#ifndef SC_PEERADDR_H
#define SC_PEERADDR_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct sc_peeraddr sc_peeraddr;

typedef struct sc_peeraddrs {
    sc_peeraddr **buckets;
    size_t nbuckets;
    size_t count;
} sc_peeraddrs;

void sc_peeraddrs_destroy(sc_peeraddrs *t);
/* Count one more connection from the host part of `peer` ("host:port" or
 * "[v6]:port"; anything else is not counted, *out = NULL).  SC_ELIMIT
 * when that host already has `max` open, SC_ENOMEM. */
int sc_peeraddr_take(sc_peeraddrs *t, const char *peer, unsigned max, sc_peeraddr **out,
                     sc_err *err);
/* One connection counted by take has closed (NULL: nothing). */
void sc_peeraddr_give(sc_peeraddrs *t, sc_peeraddr *p);

#endif
