/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* resolve.h - host names resolved off the event loop (glue).
 *
 * getaddrinfo blocks for as long as the resolver takes, which would stall
 * every connection of the actor.  Names are resolved by glibc's
 * getaddrinfo_a on threads of its own; the answer comes back to the loop
 * through an ev_async.  At most SC_RESOLVE_MAX lookups are in flight, so
 * that a slow resolver costs a bounded number of threads. */
#ifndef SC_RESOLVE_H
#define SC_RESOLVE_H

#include <ev.h>
#include <netdb.h>
#include <stdint.h>

#define SC_RESOLVE_MAX 16

typedef struct sc_resolver sc_resolver;

/* The answer for token: res (to freeaddrinfo) or a getaddrinfo error. */
typedef void sc_resolved_fn(void *ud, uint64_t token, struct addrinfo *res, int gai_rc);

sc_resolver *sc_resolver_new(struct ev_loop *ev, sc_resolved_fn *fn, void *ud);
/* Lookups still in flight are abandoned: their answers are dropped. */
void sc_resolver_free(sc_resolver *r);
/* 0 when started; EAI_AGAIN when SC_RESOLVE_MAX are in flight, EAI_MEMORY
 * or EAI_SYSTEM (errno set) otherwise. */
int sc_resolver_start(sc_resolver *r, const char *host, const char *port, uint64_t token);
/* The answer for token, if it is still to come, will be dropped. */
void sc_resolver_cancel(sc_resolver *r, uint64_t token);

#endif
