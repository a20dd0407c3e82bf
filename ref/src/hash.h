/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hash.h - the keyed hash behind every table a peer fills (contexts,
 * registry entries, wait_for_actor waiters).
 *
 * Peers choose the keys, so an unkeyed hash would let one choose keys that
 * all land in one bucket and make every lookup a walk.  SipHash-2-4 with a
 * secret key drawn at start-up (sc_hash_set_key) makes such keys unguessable;
 * the built-in key keeps the unit tests and fuzzers reproducible. */
#ifndef SC_HASH_H
#define SC_HASH_H

#include <stddef.h>
#include <stdint.h>

void sc_hash_set_key(const uint8_t key[16]);

/* Incremental over several parts: each part is followed by its length, so
 * ("ab", "c") and ("a", "bc") hash apart. */
typedef struct sc_hasher {
    uint64_t v[4];
    uint64_t tail;      /* bytes not yet folded in, little-endian */
    unsigned ntail;
    uint64_t total;
} sc_hasher;

void sc_hasher_init(sc_hasher *h);
void sc_hasher_part(sc_hasher *h, const void *p, size_t len);
uint64_t sc_hasher_end(sc_hasher *h);

uint64_t sc_hash_bytes(const void *p, size_t len);

#endif
