/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* scan.h - a resumable pre-scanner that walks the headers of the next msgpack
 * object without allocating anything.
 *
 * msgpack-c allocates for a container as soon as it reads the header (a map32
 * header claiming 2**28 entries reserves gigabytes), so no byte reaches
 * msgpack-c before this scanner has found the end of the object and checked
 * every declared size, the nesting depth and the UTF-8 of every str against
 * sc_limits.  It also supplies the frame boundary for the bare msgpack
 * stream, which has no length prefix. */
#ifndef SC_SCAN_H
#define SC_SCAN_H

#include "common.h"
#include "limit.h"

typedef struct sc_scanner {
    size_t pos;                         /* bytes of the object already checked */
    unsigned depth;                     /* open containers */
    uint64_t remaining[SC_DEPTH_CAP];   /* items still expected per open container */
} sc_scanner;

void sc_scan_reset(sc_scanner *s);

/* buf/len hold the object from its first byte (the caller keeps earlier
 * bytes in place between calls; the scanner resumes at s->pos).
 * SC_OK: one whole object of *obj_len bytes starts at buf.
 * SC_AGAIN: valid so far, more bytes needed.
 * SC_EPROTO / SC_ELIMIT: invalid or over a limit; err says what and where.
 * Once an object is complete the scanner must be reset before the next. */
int sc_scan(sc_scanner *s, const uint8_t *buf, size_t len,
            const sc_limits *lim, size_t *obj_len, sc_err *err);

/* Strict UTF-8 check (no overlongs, no surrogates, nothing above U+10FFFF). */
int sc_utf8_valid(const uint8_t *p, size_t n);

#endif
