/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* scan.c - the allocation-free msgpack pre-scanner of scan.h.
 *
 * It reads only headers: every declared length and count is checked against
 * sc_limits the moment its header is complete, so a hostile header is refused
 * before any payload arrives and long before msgpack-c would allocate for it.
 * Payloads are skipped, except that a str is checked for strict UTF-8 once it
 * is wholly buffered.
 *
 * Resuming: s->pos only ever moves past whole headers of containers and whole
 * scalars, so an incomplete item is re-read from its first byte on the next
 * call.  That re-read is a header of at most 9 bytes (payloads are only
 * looked at when complete), so the work of a call is O(new bytes). */
#include "scan.h"

#include <string.h>

enum kind { K_FIXED, K_STR, K_BIN, K_EXT, K_ARRAY, K_MAP };

static const char *const kind_name[] = { "value", "str", "bin", "ext", "array", "map" };

/* What the first byte of a value says about the rest of its header. */
struct head {
    enum kind kind;
    unsigned hdr;    /* header bytes, first byte included; the whole value for K_FIXED */
    unsigned width;  /* bytes of the big-endian length or count after the first byte */
    uint32_t n;      /* the length or count itself when the first byte holds it */
};

/* Whole sizes of 0xca (float32) .. 0xd3 (int64). */
static const uint8_t fixed_size[] = { 5, 9, 2, 3, 5, 9, 2, 3, 5, 9 };

/* 0 with *h filled, or -1 for 0xc1, the one byte msgpack never uses. */
static int head_of(uint8_t b, struct head *h)
{
    h->kind = K_FIXED;
    h->hdr = 1;
    h->width = 0;
    h->n = 0;
    if (b <= 0x7f || b >= 0xe0)
        return 0;
    if (b <= 0x8f) {
        h->kind = K_MAP;
        h->n = b & 0x0f;
        return 0;
    }
    if (b <= 0x9f) {
        h->kind = K_ARRAY;
        h->n = b & 0x0f;
        return 0;
    }
    if (b <= 0xbf) {
        h->kind = K_STR;
        h->n = b & 0x1f;
        return 0;
    }
    switch (b) {
    case 0xc0: case 0xc2: case 0xc3:
        return 0;
    case 0xc4: case 0xc5: case 0xc6:
        h->kind = K_BIN;
        h->width = 1u << (b - 0xc4);
        h->hdr = 1 + h->width;
        return 0;
    case 0xc7: case 0xc8: case 0xc9:
        /* The ext type byte follows the length. */
        h->kind = K_EXT;
        h->width = 1u << (b - 0xc7);
        h->hdr = 2 + h->width;
        return 0;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        h->kind = K_EXT;
        h->hdr = 2;
        h->n = 1u << (b - 0xd4);
        return 0;
    case 0xd9: case 0xda: case 0xdb:
        h->kind = K_STR;
        h->width = 1u << (b - 0xd9);
        h->hdr = 1 + h->width;
        return 0;
    case 0xdc: case 0xdd:
        h->kind = K_ARRAY;
        h->width = 2u << (b - 0xdc);
        h->hdr = 1 + h->width;
        return 0;
    case 0xde: case 0xdf:
        h->kind = K_MAP;
        h->width = 2u << (b - 0xde);
        h->hdr = 1 + h->width;
        return 0;
    case 0xc1:
        return -1;
    default: /* 0xca .. 0xd3: floats and sized integers */
        h->hdr = fixed_size[b - 0xca];
        return 0;
    }
}

static uint32_t read_be(const uint8_t *p, unsigned width)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v = v << 8 | p[i];
    return v;
}

/* Length of the longest prefix of p made of whole, valid UTF-8 sequences
 * (Unicode table 3-7: the second-byte ranges exclude overlongs, surrogates
 * and code points above U+10FFFF). */
static size_t utf8_valid_prefix(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Messages are mostly ASCII: skip it 8 bytes at a time. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (n - i - 1 < more || p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= more; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
        i += 1 + more;
    }
    return n;
}

int sc_utf8_valid(const uint8_t *p, size_t n)
{
    return n == 0 || utf8_valid_prefix(p, n) == n;
}

void sc_scan_reset(sc_scanner *s)
{
    memset(s, 0, sizeof(*s));
}

static int past_frame(sc_err *err, const struct head *h, uint64_t pos, uint64_t end,
                      const sc_limits *lim)
{
    return sc_err_set(err, SC_ELIMIT,
                      "%s at offset %llu would end at offset %llu, past the message limit of %zu bytes",
                      kind_name[h->kind], (unsigned long long)pos, (unsigned long long)end,
                      lim->max_frame);
}

/* Checks a container header whose count is n and opens it if it has items.
 * The fit test is what refuses `dd ff ff ff ff` with a generous entries
 * limit: every array item needs at least 1 byte and every map pair 2. */
static int open_container(sc_scanner *s, const struct head *h, uint32_t n, uint64_t pos,
                          const sc_limits *lim, sc_err *err)
{
    const char *what = kind_name[h->kind];
    unsigned level = s->depth + 1;
    if (level > lim->max_depth)
        return sc_err_set(err, SC_ELIMIT,
                          "%s at offset %llu opens nesting level %u, over the depth limit of %u",
                          what, (unsigned long long)pos, level, lim->max_depth);
    if (level > SC_DEPTH_CAP)
        return sc_err_set(err, SC_ELIMIT,
                          "%s at offset %llu opens nesting level %u, over msgpack-c's fixed "
                          "parser stack of %d levels",
                          what, (unsigned long long)pos, level, SC_DEPTH_CAP);
    if (n > lim->max_entries)
        return sc_err_set(err, SC_ELIMIT,
                          "%s at offset %llu declares %lu %s, over the limit of %lu entries",
                          what, (unsigned long long)pos, (unsigned long)n,
                          h->kind == K_MAP ? "pairs" : "entries", (unsigned long)lim->max_entries);
    uint64_t items = h->kind == K_MAP ? 2 * (uint64_t)n : n;
    uint64_t body = pos + h->hdr;
    if (body + items > lim->max_frame)
        return sc_err_set(err, SC_ELIMIT,
                          "%s at offset %llu declares %lu %s, which need at least %llu more "
                          "bytes: past the message limit of %zu bytes",
                          what, (unsigned long long)pos, (unsigned long)n,
                          h->kind == K_MAP ? "pairs" : "entries", (unsigned long long)items,
                          lim->max_frame);
    if (items > 0)
        s->remaining[s->depth++] = items;
    return SC_OK;
}

int sc_scan(sc_scanner *s, const uint8_t *buf, size_t len, const sc_limits *lim,
            size_t *obj_len, sc_err *err)
{
    if (s->pos > len)
        return sc_err_set(err, SC_EARG,
                          "scanner resumed at offset %zu but was given only %zu bytes",
                          s->pos, len);
    /* Only a finished object leaves pos past 0 with nothing open. */
    if (s->depth == 0 && s->pos > 0) {
        *obj_len = s->pos;
        return SC_OK;
    }
    for (;;) {
        uint64_t pos = s->pos;
        /* Some item is still expected and it takes at least one byte.  The
         * limit is checked before the byte is read, so that the verdict does
         * not depend on how the stream was split (a byte past the limit
         * is never looked at). */
        if (pos >= lim->max_frame)
            return sc_err_set(err, SC_ELIMIT,
                              "message is still incomplete at offset %llu with %u "
                              "containers open, past the message limit of %zu bytes",
                              (unsigned long long)pos, s->depth, lim->max_frame);
        if (pos >= len)
            return SC_AGAIN;
        struct head h;
        if (head_of(buf[pos], &h) != 0)
            return sc_err_set(err, SC_EPROTO, "byte 0xc1 at offset %llu is not valid msgpack",
                              (unsigned long long)pos);
        uint64_t end = pos + h.hdr;
        if (end > lim->max_frame)
            return past_frame(err, &h, pos, end, lim);
        if (end > len)
            return SC_AGAIN;
        uint32_t n = h.width ? read_be(buf + pos + 1, h.width) : h.n;
        switch (h.kind) {
        case K_FIXED:
            break;
        case K_STR:
        case K_BIN:
        case K_EXT:
            if (n > lim->max_str)
                return sc_err_set(err, SC_ELIMIT,
                                  "%s at offset %llu declares %lu bytes, over the string limit "
                                  "of %lu bytes",
                                  kind_name[h.kind], (unsigned long long)pos, (unsigned long)n,
                                  (unsigned long)lim->max_str);
            end += n;
            if (end > lim->max_frame)
                return past_frame(err, &h, pos, end, lim);
            if (end > len)
                return SC_AGAIN;
            if (h.kind == K_STR) {
                const uint8_t *p = buf + pos + h.hdr;
                size_t ok = utf8_valid_prefix(p, n);
                if (ok < n)
                    return sc_err_set(err, SC_EPROTO,
                                      "invalid UTF-8 in str at offset %llu: bad sequence "
                                      "starting with byte 0x%02x at offset %llu",
                                      (unsigned long long)pos, p[ok],
                                      (unsigned long long)(pos + h.hdr + ok));
            }
            break;
        case K_ARRAY:
        case K_MAP: {
            unsigned before = s->depth;
            int rc = open_container(s, &h, n, pos, lim, err);
            if (rc != SC_OK)
                return rc;
            if (s->depth > before) {
                s->pos = (size_t)end;
                continue;
            }
            break; /* empty: complete already */
        }
        }
        s->pos = (size_t)end;
        /* One item is complete; it may complete its containers in turn. */
        while (s->depth > 0 && --s->remaining[s->depth - 1] == 0)
            s->depth--;
        if (s->depth == 0) {
            *obj_len = s->pos;
            return SC_OK;
        }
    }
}
