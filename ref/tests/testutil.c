/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* testutil.c - helpers of testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t tu_unhex(const char *hex, char *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t' || *p == ':')
            continue;
        int d = hex_digit(*p);
        if (d < 0)
            return (size_t)-1;
        if (hi < 0) {
            hi = d;
            continue;
        }
        if (n >= cap)
            return (size_t)-1;
        out[n++] = (char)(hi << 4 | d);
        hi = -1;
    }
    return hi < 0 ? n : (size_t)-1;
}

int tu_unpack(const char *data, size_t len, msgpack_zone *zone, msgpack_object *obj)
{
    char *copy = msgpack_zone_malloc(zone, len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    size_t off = 0;
    if (msgpack_unpack(copy, len, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS || off != len)
        return -1;
    return 0;
}

int tu_unpack_hex(const char *hex, msgpack_zone *zone, msgpack_object *obj)
{
    size_t cap = strlen(hex) / 2 + 1;
    char *bytes = malloc(cap);
    if (!bytes)
        return -1;
    size_t n = tu_unhex(hex, bytes, cap);
    int rc = n == (size_t)-1 ? -1 : tu_unpack(bytes, n, zone, obj);
    free(bytes);
    return rc;
}

void tu_hex(const char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[(unsigned char)p[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    out[2 * n] = '\0';
}

int tu_bytes_eq_hex(const char *what, const char *p, size_t n, const char *hex)
{
    size_t cap = strlen(hex) / 2 + 1;
    char *want = malloc(cap);
    if (!want)
        return 0;
    size_t wn = tu_unhex(hex, want, cap);
    int eq = wn != (size_t)-1 && wn == n && (n == 0 || memcmp(p, want, n) == 0);
    if (!eq) {
        char *got = malloc(2 * n + 1);
        if (got) {
            tu_hex(p, n, got);
            fprintf(stderr, "\n%s:\n  expected %s\n  got      %s\n", what, hex, got);
            free(got);
        }
    }
    free(want);
    return eq;
}

int tu_buf_eq_hex(const char *what, const sc_buf *b, const char *hex)
{
    return tu_bytes_eq_hex(what, sc_buf_size(b) ? sc_buf_head(b) : "", sc_buf_size(b), hex);
}

void tu_packer_init(msgpack_packer *pk, sc_buf *b)
{
    sc_buf_init(b, 0);
    msgpack_packer_init(pk, b, sc_buf_msgpack_write);
}
