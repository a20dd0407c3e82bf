/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* testutil.h - small helpers shared by the unit tests: hex to bytes, bytes to
 * a msgpack_object, and packing a value into an sc_buf, so that a test can
 * state its input and its expected output as the hex of a trace line. */
#ifndef SC_TESTUTIL_H
#define SC_TESTUTIL_H

#include <stddef.h>

#include <msgpack.h>

#include "buf.h"

/* Decode hex (upper or lower case; spaces, newlines and ':' are ignored)
 * into out.  Returns the number of bytes, or (size_t)-1 when the text is not
 * hex or does not fit cap. */
size_t tu_unhex(const char *hex, char *out, size_t cap);

/* Bytes of one msgpack object: decode data[0..len) into *obj, its storage in
 * zone (which must outlive obj).  The bytes are copied into the zone, so
 * data may go away.  0 on success, -1 if the bytes are not exactly one
 * object. */
int tu_unpack(const char *data, size_t len, msgpack_zone *zone, msgpack_object *obj);
/* The same from hex. */
int tu_unpack_hex(const char *hex, msgpack_zone *zone, msgpack_object *obj);

/* 1 if the n bytes at p are exactly the bytes of hex; otherwise prints both
 * to stderr (prefixed with what) and returns 0. */
int tu_bytes_eq_hex(const char *what, const char *p, size_t n, const char *hex);
/* The same for the unconsumed bytes of b. */
int tu_buf_eq_hex(const char *what, const sc_buf *b, const char *hex);

/* A packer writing into b (b is initialised with no cap). */
void tu_packer_init(msgpack_packer *pk, sc_buf *b);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void tu_hex(const char *p, size_t n, char *out);

#endif
