/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_common.h - small helpers shared by the libFuzzer targets of fuzz/.
 *
 * - fdp: a FuzzedDataProvider in C that consumes the input strictly from the
 *   front (unlike LLVM's, which takes integers from the back), so that
 *   gen-corpus.py can write inputs in the same format.  Past the end every
 *   read returns zeros / nothing.
 * - FZ_CHECK: an invariant that aborts with a message (libFuzzer then saves
 *   the input as a crash).
 * - fz_obj_equal: structural equality of two msgpack objects, with floats
 *   compared by value and NaN equal to NaN.
 *
 * Header-only (static functions) so that each target stays one .c file. */
#ifndef SC_FUZZ_COMMON_H
#define SC_FUZZ_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "buf.h"
#include "common.h"

#define FZ_CHECK(cond, ...)                                                      \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
            abort();                                                             \
        }                                                                        \
    } while (0)

typedef struct fdp {
    const uint8_t *p;
    size_t n;
} fdp;

static inline size_t fdp_left(const fdp *f) { return f->n; }

static inline uint8_t fdp_u8(fdp *f)
{
    if (f->n == 0)
        return 0;
    uint8_t v = f->p[0];
    f->p++;
    f->n--;
    return v;
}

/* Little-endian, like everything else in the formats of fuzz/README.md. */
static inline uint16_t fdp_u16(fdp *f)
{
    uint16_t lo = fdp_u8(f);
    return (uint16_t)(lo | (uint16_t)fdp_u8(f) << 8);
}

static inline uint64_t fdp_u64(fdp *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)fdp_u8(f) << (8 * i);
    return v;
}

/* Up to want bytes from the front; returns how many (*out points into the
 * input). */
static inline size_t fdp_bytes(fdp *f, size_t want, const uint8_t **out)
{
    size_t n = want < f->n ? want : f->n;
    *out = f->p;
    f->p += n;
    f->n -= n;
    return n;
}

static inline int fz_float_equal(double a, double b)
{
    if (isnan(a) && isnan(b))
        return 1;
    return memcmp(&a, &b, sizeof(a)) == 0 || a == b;
}

static inline int fz_obj_equal(const msgpack_object *a, const msgpack_object *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case MSGPACK_OBJECT_NIL:
        return 1;
    case MSGPACK_OBJECT_BOOLEAN:
        return a->via.boolean == b->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return a->via.u64 == b->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return a->via.i64 == b->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return fz_float_equal(a->via.f64, b->via.f64);
    case MSGPACK_OBJECT_STR:
        return a->via.str.size == b->via.str.size &&
               (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
    case MSGPACK_OBJECT_BIN:
        return a->via.bin.size == b->via.bin.size &&
               (a->via.bin.size == 0 || memcmp(a->via.bin.ptr, b->via.bin.ptr, a->via.bin.size) == 0);
    case MSGPACK_OBJECT_EXT:
        return a->via.ext.type == b->via.ext.type && a->via.ext.size == b->via.ext.size &&
               (a->via.ext.size == 0 || memcmp(a->via.ext.ptr, b->via.ext.ptr, a->via.ext.size) == 0);
    case MSGPACK_OBJECT_ARRAY:
        if (a->via.array.size != b->via.array.size)
            return 0;
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (!fz_obj_equal(&a->via.array.ptr[i], &b->via.array.ptr[i]))
                return 0;
        return 1;
    case MSGPACK_OBJECT_MAP:
        if (a->via.map.size != b->via.map.size)
            return 0;
        for (uint32_t i = 0; i < a->via.map.size; i++)
            if (!fz_obj_equal(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
                !fz_obj_equal(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
                return 0;
        return 1;
    }
    return 0;
}

static inline int fz_str_eq(sc_str a, sc_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* An uncapped sc_buf with a packer writing into it. */
typedef struct fz_out {
    sc_buf buf;
    msgpack_packer pk;
} fz_out;

static inline void fz_out_init(fz_out *o)
{
    sc_buf_init(&o->buf, 0);
    msgpack_packer_init(&o->pk, &o->buf, sc_buf_msgpack_write);
}

static inline void fz_out_free(fz_out *o)
{
    sc_buf_free(&o->buf);
}

#endif
