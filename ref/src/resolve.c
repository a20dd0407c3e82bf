/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* resolve.c - asynchronous name resolution (see resolve.h). */
#define _GNU_SOURCE /* getaddrinfo_a */
#include "resolve.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

typedef struct lookup {
    struct gaicb cb;             /* glibc reads and writes it until the answer */
    struct addrinfo hints;
    char host[256];
    char port[8];
    uint64_t token;
    int cancelled;
    struct sc_resolver *r;
    struct lookup *next;         /* in flight: loop thread only */
    struct lookup *done_next;    /* answered: under the lock */
} lookup;

struct sc_resolver {
    struct ev_loop *ev;
    ev_async done_w;
    sc_resolved_fn *fn;
    void *ud;
    pthread_mutex_t lock;
    lookup *done;
    int closed;                  /* freed by the loop: answers are no longer awaited */
    lookup *flying;
    unsigned nflying;
};

/* On a glibc thread: hand the lookup to the loop. */
static void on_answer(union sigval v)
{
    lookup *l = v.sival_ptr;
    sc_resolver *r = l->r;
    pthread_mutex_lock(&r->lock);
    l->done_next = r->done;
    r->done = l;
    if (!r->closed)
        ev_async_send(r->ev, &r->done_w);
    pthread_mutex_unlock(&r->lock);
}

static void unlink_flying(sc_resolver *r, lookup *l)
{
    for (lookup **p = &r->flying; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            r->nflying--;
            return;
        }
}

static lookup *take_done(sc_resolver *r)
{
    pthread_mutex_lock(&r->lock);
    lookup *list = r->done;
    r->done = NULL;
    pthread_mutex_unlock(&r->lock);
    return list;
}

static void on_done(struct ev_loop *ev, ev_async *w, int revents)
{
    sc_resolver *r = w->data;
    (void)ev;
    (void)revents;
    for (lookup *l = take_done(r), *next; l; l = next) {
        next = l->done_next;
        unlink_flying(r, l);
        if (l->cancelled) {
            if (l->cb.ar_result)
                freeaddrinfo(l->cb.ar_result);
        } else {
            r->fn(r->ud, l->token, l->cb.ar_result, gai_error(&l->cb));
        }
        sc_free(l);
    }
}

sc_resolver *sc_resolver_new(struct ev_loop *ev, sc_resolved_fn *fn, void *ud)
{
    sc_resolver *r = sc_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ev = ev;
    r->fn = fn;
    r->ud = ud;
    pthread_mutex_init(&r->lock, NULL);
    ev_async_init(&r->done_w, on_done);
    r->done_w.data = r;
    ev_async_start(ev, &r->done_w);
    return r;
}

void sc_resolver_free(sc_resolver *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->closed = 1;
    pthread_mutex_unlock(&r->lock);
    ev_async_stop(r->ev, &r->done_w);
    for (lookup *l = take_done(r), *next; l; l = next) {
        next = l->done_next;
        unlink_flying(r, l);
        if (l->cb.ar_result)
            freeaddrinfo(l->cb.ar_result);
        sc_free(l);
    }
    /* A lookup glibc still works on, and the resolver it reports to, stay
     * allocated: its thread will still write to them. */
    for (lookup *l = r->flying, *next; l; l = next) {
        next = l->next;
        if (gai_cancel(&l->cb) == EAI_CANCELED) {
            unlink_flying(r, l);
            sc_free(l);
        }
    }
    if (!r->flying) {
        pthread_mutex_destroy(&r->lock);
        sc_free(r);
    }
}

int sc_resolver_start(sc_resolver *r, const char *host, const char *port, uint64_t token)
{
    if (r->nflying >= SC_RESOLVE_MAX)
        return EAI_AGAIN;
    lookup *l = sc_calloc(1, sizeof(*l));
    if (!l)
        return EAI_MEMORY;
    snprintf(l->host, sizeof(l->host), "%s", host);
    snprintf(l->port, sizeof(l->port), "%s", port);
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->hints.ai_flags = AI_NUMERICSERV;
    l->cb.ar_name = l->host;
    l->cb.ar_service = l->port;
    l->cb.ar_request = &l->hints;
    l->token = token;
    l->r = r;
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_answer;
    sev.sigev_value.sival_ptr = l;
    struct gaicb *list[1] = { &l->cb };
    l->next = r->flying;
    r->flying = l;
    r->nflying++;
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
    if (rc != 0) {
        unlink_flying(r, l);
        sc_free(l);
    }
    return rc;
}

void sc_resolver_cancel(sc_resolver *r, uint64_t token)
{
    for (lookup *l = r->flying; l; l = l->next)
        if (l->token == token)
            l->cancelled = 1;
}
