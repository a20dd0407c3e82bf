/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* trace.c - writing scwire-tap's trace lines (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Keep at most this much line memory between lines: one huge message must
 * not pin its size for the rest of the run. */
#define LINE_KEEP (1u << 20)

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *tap_dir_name(tap_dir d)
{
    return d == TAP_C2S ? "c2s" : "s2c";
}

void trace_none(trace *t)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    json_init(&t->line);
    sc_err_clear(&t->err);
}

int trace_open(trace *t, const char *path, sc_err *err)
{
    memset(t, 0, sizeof(*t));
    t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (t->fd < 0)
        return sc_err_set(err, SC_EARG, "cannot open trace %s: %s", path, strerror(errno));
    t->t0 = now_mono();
    json_init(&t->line);
    sc_err_clear(&t->err);
    return SC_OK;
}

int trace_close(trace *t, sc_err *err)
{
    int rc = t->err.code;
    if (rc != SC_OK && err)
        *err = t->err;
    if (t->fd >= 0 && close(t->fd) < 0 && rc == SC_OK)
        rc = sc_err_set(err, SC_ESTATE, "cannot close the trace: %s", strerror(errno));
    t->fd = -1;
    json_free(&t->line);
    return rc;
}

/* Opens a line with {"t": ..., "conn": "cN"; false if the trace has failed. */
static int begin(trace *t, unsigned long conn)
{
    char head[96];

    if (t->err.code != SC_OK || t->fd < 0)
        return 0;
    json_reset(&t->line);
    snprintf(head, sizeof(head), "{\"t\": %.6f, \"conn\": \"c%lu\"", now_mono() - t->t0, conn);
    json_raw(&t->line, head);
    return 1;
}

static int end(trace *t)
{
    const char *p;
    size_t left;

    json_raw(&t->line, "}\n");
    if (json_err(&t->line) != SC_OK)
        return sc_err_set(&t->err, SC_ENOMEM, "out of memory building a trace line");
    p = json_text(&t->line);
    left = json_len(&t->line);
    while (left > 0) {
        ssize_t n = write(t->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sc_err_set(&t->err, SC_ESTATE, "cannot write the trace: %s", strerror(errno));
        p += n;
        left -= (size_t)n;
    }
    if (t->line.buf.cap > LINE_KEEP) {
        json_free(&t->line);
        json_init(&t->line);
    }
    return SC_OK;
}

static void field(trace *t, const char *key, const char *value)
{
    json_raw(&t->line, ", \"");
    json_raw(&t->line, key);
    json_raw(&t->line, "\": ");
    json_cstr(&t->line, value);
}

int trace_event(trace *t, unsigned long conn, const char *event)
{
    if (!begin(t, conn))
        return t->err.code;
    field(t, "event", event);
    return end(t);
}

int trace_dir_event(trace *t, unsigned long conn, const char *event, tap_dir dir)
{
    if (!begin(t, conn))
        return t->err.code;
    field(t, "event", event);
    field(t, "dir", tap_dir_name(dir));
    return end(t);
}

int trace_msg(trace *t, unsigned long conn, tap_dir dir, const sc_frame *f)
{
    if (!begin(t, conn))
        return t->err.code;
    field(t, "dir", tap_dir_name(dir));
    json_raw(&t->line, ", \"hex\": ");
    json_hex(&t->line, f->raw, f->raw_len);
    json_raw(&t->line, ", \"msg\": ");
    json_msgpack(&t->line, &f->obj);
    return end(t);
}

int trace_decode_error(trace *t, unsigned long conn, tap_dir dir, const char *error,
                       const void *bytes, size_t len)
{
    if (!begin(t, conn))
        return t->err.code;
    field(t, "event", "decode_error");
    field(t, "dir", tap_dir_name(dir));
    field(t, "error", error);
    json_raw(&t->line, ", \"hex\": ");
    json_hex(&t->line, bytes, len);
    return end(t);
}

int trace_connect_error(trace *t, unsigned long conn, const char *error)
{
    if (!begin(t, conn))
        return t->err.code;
    field(t, "event", "connect_error");
    field(t, "error", error);
    return end(t);
}
