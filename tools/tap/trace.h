/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* trace.h - the JSON-lines trace that scwire-tap records, in the format of
 * conformance/vectors/tractor-0.1.0a4/README.md plus a "t" on every line.
 *
 * Each line is built in memory and written with write(2) at once, so the
 * file holds only whole lines up to the last one written, even if the tap
 * is killed; there is no stdio buffer to lose.  A write error is sticky:
 * every later call returns it, and the caller stops.  The sc_* codes have no
 * I/O error, so SC_ESTATE ("cannot go on") stands for one. */
#ifndef TAP_TRACE_H
#define TAP_TRACE_H

#include "codec.h"
#include "common.h"
#include "json.h"

/* "c2s": bytes from the side that opened the connection; "s2c": the other. */
typedef enum tap_dir { TAP_C2S = 0, TAP_S2C = 1 } tap_dir;

const char *tap_dir_name(tap_dir d);

typedef struct trace {
    int fd;
    double t0;        /* CLOCK_MONOTONIC seconds at trace_open */
    json_out line;
    sc_err err;       /* sticky once err.code != SC_OK */
} trace;

/* No trace at all (--no-trace): every call below then writes nothing. */
void trace_none(trace *t);
static inline int trace_on(const trace *t) { return t->fd >= 0; }
/* Create or truncate path; "t" counts from this call. */
int trace_open(trace *t, const char *path, sc_err *err);
/* Close the file; SC_OK if every line reached it. */
int trace_close(trace *t, sc_err *err);

/* {"t", "conn", "event"}, for "open" and "close". */
int trace_event(trace *t, unsigned long conn, const char *event);
/* {"t", "conn", "event", "dir"}, for "eof" and "rst". */
int trace_dir_event(trace *t, unsigned long conn, const char *event, tap_dir dir);
/* {"t", "conn", "dir", "hex", "msg"}: hex is the msgpack object, without a
 * lenprefix header. */
int trace_msg(trace *t, unsigned long conn, tap_dir dir, const sc_frame *f);
/* {"t", "conn", "event": "decode_error", "dir", "error", "hex"}. */
int trace_decode_error(trace *t, unsigned long conn, tap_dir dir, const char *error,
                       const void *bytes, size_t len);
/* {"t", "conn", "event": "connect_error", "error"}: the target could not be
 * reached. */
int trace_connect_error(trace *t, unsigned long conn, const char *error);

#endif
