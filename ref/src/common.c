/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* common.c - error object, return-code names and the failable allocator. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long alloc_fail_at;
static unsigned long alloc_calls;

int sc_err_set(sc_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void sc_err_clear(sc_err *err)
{
    if (err) {
        err->code = SC_OK;
        err->msg[0] = '\0';
    }
}

const char *sc_rc_name(int code)
{
    switch (code) {
    case SC_OK: return "ok";
    case SC_AGAIN: return "again";
    case SC_EPROTO: return "protocol error";
    case SC_ELIMIT: return "limit exceeded";
    case SC_ENOMEM: return "out of memory";
    case SC_EARG: return "invalid argument";
    case SC_ESTATE: return "invalid state";
    case SC_EFULL: return "output buffer full";
    case SC_EMSG_DROP: return "message dropped";
    case SC_EMSG_REPLY: return "message rejected with a reply";
    case SC_EMSG_CLOSE: return "message rejected, connection closed";
    default: return "unknown error";
    }
}

static int alloc_should_fail(void)
{
    alloc_calls++;
    return alloc_fail_at != 0 && alloc_calls == alloc_fail_at;
}

void sc_alloc_fail_at(unsigned long n)
{
    alloc_fail_at = n;
    alloc_calls = 0;
}

unsigned long sc_alloc_count(void)
{
    return alloc_calls;
}

void *sc_malloc(size_t n)
{
    return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *sc_calloc(size_t count, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *sc_realloc(void *p, size_t n)
{
    return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void sc_free(void *p)
{
    free(p);
}

char *sc_strndup(const char *s, size_t n)
{
    char *d = sc_malloc(n + 1);
    if (d) {
        /* msgpack-c gives an empty str a NULL pointer. */
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int sc_str_eq(sc_str a, sc_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int sc_str_has_nul(sc_str s)
{
    return s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL;
}

int sc_str_eq_c(sc_str a, const char *c)
{
    size_t n = strlen(c);
    return a.len == n && (n == 0 || memcmp(a.ptr, c, n) == 0);
}
