/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* json.h - the small JSON writer behind scwire-tap's trace lines.
 *
 * Text is appended to an sc_buf.  An allocation failure is sticky (like
 * msgpack's packer or stdio's error flag): the calls that build a line need
 * no checks, and json_err() tells once, at the end of the line, whether it
 * is whole.
 *
 * json_msgpack() writes the JSON view of a msgpack value used by the
 * recorded traces (conformance/vectors/tractor-0.1.0a4/README.md): maps with only
 * str keys as objects, other maps as {"$map": [[k, v], ...]}, bin as
 * {"$bin": "<hex>"}, ext as {"$ext": [type, "<hex>"]}, non-finite floats as
 * {"$float": "nan" | "inf" | "-inf"}. */
#ifndef TAP_JSON_H
#define TAP_JSON_H

#include <msgpack.h>
#include <stddef.h>

#include "buf.h"

typedef struct json_out {
    sc_buf buf;
    int rc;   /* SC_OK, or SC_ENOMEM once an append failed */
} json_out;

void json_init(json_out *j);
void json_free(json_out *j);
/* Empty the text and clear the error, keeping the memory for the next line. */
void json_reset(json_out *j);
int json_err(const json_out *j);
static inline const char *json_text(const json_out *j) { return sc_buf_head(&j->buf); }
static inline size_t json_len(const json_out *j) { return sc_buf_size(&j->buf); }

/* Verbatim text, e.g. punctuation or a literal. */
void json_raw(json_out *j, const char *s);
/* s must be valid UTF-8; it is written as is, with '"', '\\' and the
 * control characters escaped. */
void json_str(json_out *j, const char *s, size_t n);
void json_cstr(json_out *j, const char *s);
/* A string of lower-case hex digits, two per byte. */
void json_hex(json_out *j, const void *p, size_t n);
void json_uint(json_out *j, uint64_t v);
/* A finite number with the fewest digits that read back as v, and always
 * with a '.' or an exponent so that a reader sees a float. */
void json_float(json_out *j, double v);
void json_msgpack(json_out *j, const msgpack_object *o);

#endif
