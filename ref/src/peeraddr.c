/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* peeraddr.c - open connections per peer address (see peeraddr.h). */
#include "peeraddr.h"

#include <string.h>

#include "hash.h"

struct sc_peeraddr {
    sc_peeraddr *next;
    uint64_t hash;
    unsigned open;
    size_t len;
    char host[];
};

void sc_peeraddrs_destroy(sc_peeraddrs *t)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (sc_peeraddr *p = t->buckets[i], *next; p; p = next) {
            next = p->next;
            sc_free(p);
        }
    sc_free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static int grow(sc_peeraddrs *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
    sc_peeraddr **b = sc_calloc(n, sizeof(*b));
    if (!b)
        return SC_ENOMEM;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (sc_peeraddr *p = t->buckets[i], *next; p; p = next) {
            next = p->next;
            p->next = b[p->hash & (n - 1)];
            b[p->hash & (n - 1)] = p;
        }
    sc_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return SC_OK;
}

int sc_peeraddr_take(sc_peeraddrs *t, const char *peer, unsigned max, sc_peeraddr **out,
                     sc_err *err)
{
    *out = NULL;
    const char *colon = strrchr(peer, ':');
    if (!colon || colon == peer)
        return SC_OK;
    size_t len = (size_t)(colon - peer);
    uint64_t h = sc_hash_bytes(peer, len);
    sc_peeraddr *p = NULL;
    if (t->nbuckets)
        for (p = t->buckets[h & (t->nbuckets - 1)]; p; p = p->next)
            if (p->hash == h && p->len == len && memcmp(p->host, peer, len) == 0)
                break;
    if (p && p->open >= max)
        return sc_err_set(err, SC_ELIMIT, "%.*s already has %u connections open, its share "
                          "(--max-conns-per-addr)", (int)len, peer, p->open);
    if (!p) {
        if (t->count >= t->nbuckets && grow(t) != SC_OK)
            return sc_err_set(err, SC_ENOMEM, "out of memory counting peer addresses");
        p = sc_malloc(sizeof(*p) + len + 1);
        if (!p)
            return sc_err_set(err, SC_ENOMEM, "out of memory counting peer addresses");
        p->hash = h;
        p->open = 0;
        p->len = len;
        memcpy(p->host, peer, len);
        p->host[len] = '\0';
        p->next = t->buckets[h & (t->nbuckets - 1)];
        t->buckets[h & (t->nbuckets - 1)] = p;
        t->count++;
    }
    p->open++;
    *out = p;
    return SC_OK;
}

void sc_peeraddr_give(sc_peeraddrs *t, sc_peeraddr *p)
{
    if (!p || --p->open > 0)
        return;
    sc_peeraddr **slot = &t->buckets[p->hash & (t->nbuckets - 1)];
    while (*slot != p)
        slot = &(*slot)->next;
    *slot = p->next;
    t->count--;
    sc_free(p);
}
