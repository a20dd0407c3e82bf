/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* common.h - return codes, the error object and the allocator hooks shared by
 * every module of the scwire reference runtime.
 *
 * Every function that can fail returns an int code (SC_OK or a negative
 * SC_E*) and, when it is given an sc_err, leaves a sentence there that a
 * human can act on.  The allocator wrappers exist so that the unit tests can
 * make the N-th allocation fail (failmalloc style) and check that every path
 * cleans up. */
#ifndef SC_COMMON_H
#define SC_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    SC_OK = 0,
    SC_AGAIN = 1,          /* not an error: more input is needed */
    SC_EPROTO = -1,        /* the peer broke the protocol */
    SC_ELIMIT = -2,        /* a configured limit was crossed */
    SC_ENOMEM = -3,        /* allocation failed */
    SC_EARG = -4,          /* the caller passed something invalid */
    SC_ESTATE = -5,        /* the object is not in a state that allows this */
    SC_EFULL = -6,         /* an output buffer is full: the peer is not reading */
    SC_EMSG_DROP = -10,    /* malformed message: drop it, keep the connection */
    SC_EMSG_REPLY = -11,   /* malformed cmd: answer an error on its cid */
    SC_EMSG_CLOSE = -12    /* malformed message: close the connection */
};

#define SC_ERRSTR_MAX 192

typedef struct sc_err {
    int code;
    char msg[SC_ERRSTR_MAX];
} sc_err;

/* Fill err (if not NULL) with code and a printf-style message; returns code so
 * that callers can write `return sc_err_set(err, SC_EPROTO, "...")`. */
int sc_err_set(sc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sc_err_clear(sc_err *err);
const char *sc_rc_name(int code);

void *sc_malloc(size_t n);
void *sc_calloc(size_t count, size_t size);
void *sc_realloc(void *p, size_t n);
void sc_free(void *p);
char *sc_strndup(const char *s, size_t n);

/* Test hook: the n-th call (1-based) of sc_malloc/sc_calloc/sc_realloc from
 * now on fails; 0 disables.  sc_alloc_count() reports calls since the last
 * sc_alloc_fail_at(). */
void sc_alloc_fail_at(unsigned long n);
unsigned long sc_alloc_count(void);

/* Byte string view into memory owned by someone else (a msgpack zone, a
 * frame buffer).  Not NUL-terminated. */
typedef struct sc_str {
    const char *ptr;
    size_t len;
} sc_str;

#define SC_STR(lit) ((sc_str){ (lit), sizeof(lit) - 1 })
int sc_str_eq(sc_str a, sc_str b);
int sc_str_eq_c(sc_str a, const char *c);
/* A str that holds a NUL byte cannot become a C string whole (LIM-26). */
int sc_str_has_nul(sc_str s);

#endif
