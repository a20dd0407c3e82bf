/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hash.c - SipHash-2-4 (Aumasson and Bernstein), fed a byte at a time into a
 * 64-bit word so that parts of any length can follow each other. */
#include "hash.h"

#include <string.h>

static uint64_t key0 = 0x736f6d6570736575ull ^ 0x0706050403020100ull;
static uint64_t key1 = 0x646f72616e646f6dull ^ 0x0f0e0d0c0b0a0908ull;

void sc_hash_set_key(const uint8_t key[16])
{
    memcpy(&key0, key, 8);
    memcpy(&key1, key + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

static void absorb(sc_hasher *h, uint64_t m)
{
    h->v[3] ^= m;
    sip_round(h->v);
    sip_round(h->v);
    h->v[0] ^= m;
}

void sc_hasher_init(sc_hasher *h)
{
    h->v[0] = key0 ^ 0x736f6d6570736575ull;
    h->v[1] = key1 ^ 0x646f72616e646f6dull;
    h->v[2] = key0 ^ 0x6c7967656e657261ull;
    h->v[3] = key1 ^ 0x7465646279746573ull;
    h->tail = 0;
    h->ntail = 0;
    h->total = 0;
}

static void feed(sc_hasher *h, const uint8_t *p, size_t len)
{
    h->total += len;
    while (len > 0 && h->ntail > 0) {
        h->tail |= (uint64_t)*p++ << (8 * h->ntail);
        len--;
        if (++h->ntail == 8) {
            absorb(h, h->tail);
            h->tail = 0;
            h->ntail = 0;
        }
    }
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t m = 0;
        for (int i = 7; i >= 0; i--)
            m = m << 8 | p[i];
        absorb(h, m);
    }
    while (len-- > 0)
        h->tail |= (uint64_t)*p++ << (8 * h->ntail++);
}

void sc_hasher_part(sc_hasher *h, const void *p, size_t len)
{
    uint8_t n[8];
    uint64_t l = len;
    for (int i = 0; i < 8; i++, l >>= 8)
        n[i] = (uint8_t)l;
    feed(h, p, len);
    feed(h, n, sizeof(n));
}

uint64_t sc_hasher_end(sc_hasher *h)
{
    absorb(h, h->tail | (h->total & 0xff) << 56);
    h->v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(h->v);
    return h->v[0] ^ h->v[1] ^ h->v[2] ^ h->v[3];
}

uint64_t sc_hash_bytes(const void *p, size_t len)
{
    sc_hasher h;
    sc_hasher_init(&h);
    feed(&h, p, len);
    return sc_hasher_end(&h);
}
