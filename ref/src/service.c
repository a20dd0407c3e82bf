/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* service.c - the `scwire_service` namespace of spec/test-service.md: the
 * fixed functions every implementation under test offers, so that the
 * conformance suite can drive each message sequence of the protocol.
 * Also the kwargs checks shared with the `self` namespace.  The supervision
 * functions of the namespace live with supervision (nursery.c, child.c). */
#include "actor_int.h"
#include "nursery.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- kwargs ------------------------------------------------------------ */

int sc_kwarg(const sc_function *fn, const msgpack_object *kwargs, const char *name,
             const msgpack_object **out, sc_err *err)
{
    *out = sc_map_get(kwargs, name);
    if (!*out)
        return sc_err_set(err, SC_EARG, "%s() missing required argument: '%s'", fn->name, name);
    return SC_OK;
}

/* Python's rule: every keyword must name a parameter. */
int sc_kwargs_only(const sc_function *fn, const msgpack_object *kwargs, const char *const *names,
                   sc_err *err)
{
    for (uint32_t i = 0; i < kwargs->via.map.size; i++) {
        sc_str key;
        sc_obj_str(&kwargs->via.map.ptr[i].key, &key);
        int known = 0;
        for (const char *const *n = names; *n && !known; n++)
            known = sc_str_eq_c(key, *n);
        if (!known)
            return sc_err_set(err, SC_EARG, "%s() got an unexpected keyword argument '%.*s'",
                              fn->name, (int)(key.len > 64 ? 64 : key.len), key.ptr);
    }
    return SC_OK;
}

static int wrong_type(const sc_function *fn, const char *name, const char *want,
                      const msgpack_object *o, sc_err *err)
{
    return sc_err_set(err, SC_EARG, "%s() argument '%s' must be %s, not %s", fn->name, name, want,
                      sc_obj_type_name(o));
}

int sc_kwarg_int(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                 int64_t *out, sc_err *err)
{
    const msgpack_object *o;
    if (sc_kwarg(fn, kwargs, name, &o, err) != SC_OK)
        return SC_EARG;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = o->via.i64;
    else
        return wrong_type(fn, name, "int", o, err);
    return SC_OK;
}

int sc_kwarg_num(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                 double *out, sc_err *err)
{
    const msgpack_object *o;
    if (sc_kwarg(fn, kwargs, name, &o, err) != SC_OK)
        return SC_EARG;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; break;
    default: return wrong_type(fn, name, "a number", o, err);
    }
    if (!isfinite(*out))
        return sc_err_set(err, SC_EARG, "%s() argument '%s' must be finite", fn->name, name);
    return SC_OK;
}

int sc_kwarg_str(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                 sc_str *out, sc_err *err)
{
    const msgpack_object *o;
    if (sc_kwarg(fn, kwargs, name, &o, err) != SC_OK)
        return SC_EARG;
    if (!sc_obj_str(o, out))
        return wrong_type(fn, name, "str", o, err);
    return SC_OK;
}

int sc_kwarg_bool(const sc_function *fn, const msgpack_object *kwargs, const char *name,
                  int *out, sc_err *err)
{
    const msgpack_object *o;
    if (sc_kwarg(fn, kwargs, name, &o, err) != SC_OK)
        return SC_EARG;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return wrong_type(fn, name, "bool", o, err);
    *out = o->via.boolean;
    return SC_OK;
}

/* ---- shared steps ------------------------------------------------------ */

/* Phase numbers kept in t->i by the context functions. */
enum { PH_START = 0, PH_STREAM, PH_WAIT };

static int send_started_value(sc_actor *a, sc_task *t)
{
    static const char nil = (char)0xc0;
    t->started_sent = 1;
    if (t->value)
        return sc_task_send_raw(a, t, SC_MSG_STARTED, t->value, t->value_len);
    return sc_task_send_raw(a, t, SC_MSG_STARTED, &nil, 1);
}

static void finish_with_int(sc_actor *a, sc_task *t, int64_t v)
{
    sc_task_send_int(a, t, SC_MSG_RETURN, v);
    sc_task_finish(a, t);
}

static int sleep_elapsed(sc_actor *a, sc_task *t, double seconds)
{
    /* t->n: 0 = not armed yet, 1 = armed; stepped with no timer = fired. */
    if (t->n == 0) {
        t->n = 1;
        if (sc_timer_add(a, a->now + seconds, t, NULL) != SC_OK)
            return 1;
        return 0;
    }
    return t->timer < 0;
}

/* ---- asyncfunc ----------------------------------------------------------- */

static int start_echo(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "value", NULL };
    const msgpack_object *v;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg(t->fn, kw, "value", &v, err))
        return SC_EARG;
    return sc_task_keep_value(a, t, v, err);
}

static void step_return_value(sc_actor *a, sc_task *t)
{
    sc_task_send_raw(a, t, SC_MSG_RETURN, t->value, t->value_len);
    sc_task_finish(a, t);
}

/* The (type_str, text) kwargs of raise_error and spawn_crash. */
int sc_start_error_args(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "type_str", "text", NULL };
    sc_str type_str, text;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_str(t->fn, kw, "type_str", &type_str, err) ||
        sc_kwarg_str(t->fn, kw, "text", &text, err))
        return SC_EARG;
    if (type_str.len == 0 || type_str.len > 128 || memchr(type_str.ptr, 0, type_str.len))
        return sc_err_set(err, SC_EARG,
                          "%s() argument 'type_str' must be 1 to 128 bytes with no NUL byte",
                          t->fn->name);
    /* value holds the text, text the type name: both sent at the first step. */
    t->value = sc_strndup(text.ptr, text.len);
    t->value_len = text.len;
    if (!t->value)
        return sc_err_set(err, SC_ENOMEM, "out of memory");
    return sc_task_keep_text(a, t, type_str, err);
}

static void step_raise_error(sc_actor *a, sc_task *t)
{
    sc_task_send_error(a, t, t->text, t->text, "%.*s", (int)t->value_len, t->value);
    sc_task_finish(a, t);
}

static int start_sleep(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "seconds", NULL };
    (void)a;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_num(t->fn, kw, "seconds", &t->delay, err))
        return SC_EARG;
    if (t->delay < 0)
        return sc_err_set(err, SC_EARG, "sleep() argument 'seconds' must be non-negative");
    return SC_OK;
}

static void step_sleep(sc_actor *a, sc_task *t)
{
    static const char nil = (char)0xc0;
    if (!sleep_elapsed(a, t, t->delay))
        return;
    sc_task_send_raw(a, t, SC_MSG_RETURN, &nil, 1);
    sc_task_finish(a, t);
}

static int start_no_args(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { NULL };
    (void)a;
    return sc_kwargs_only(t->fn, kw, names, err) ? SC_EARG : SC_OK;
}

static void step_forever(sc_actor *a, sc_task *t)
{
    (void)a;
    (void)t;
}

/* ---- asyncgen -------------------------------------------------------------- */

static int start_count(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "n", NULL };
    (void)a;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_int(t->fn, kw, "n", &t->n, err))
        return SC_EARG;
    if (t->n < 0)
        return sc_err_set(err, SC_EARG, "%s() argument 'n' must be non-negative", t->fn->name);
    return SC_OK;
}

/* Yield t->i .. t->n-1 as far as the channel's output allows; 1 when done. */
static int yield_range(sc_actor *a, sc_task *t)
{
    while (t->i < t->n) {
        if (!sc_task_wait_room(a, t))
            return 0;
        if (sc_task_send_int(a, t, SC_MSG_YIELD, t->i) != SC_OK)
            return 0;
        t->i++;
    }
    return 1;
}

static void step_count(sc_actor *a, sc_task *t)
{
    if (!yield_range(a, t))
        return;
    sc_task_send_stop(a, t);
    sc_task_finish(a, t);
}

/* ---- context --------------------------------------------------------------- */

static int start_ctx_value(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    /* ctx_echo(first), ctx_no_stream(value), ctx_return(value) */
    const char *param = strcmp(t->fn->name, "ctx_echo") == 0 ? "first" : "value";
    const char *const names[] = { param, NULL };
    const msgpack_object *v;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg(t->fn, kw, param, &v, err))
        return SC_EARG;
    return sc_task_keep_value(a, t, v, err);
}

static void step_ctx_echo(sc_actor *a, sc_task *t)
{
    if (t->i == PH_START) {
        if (send_started_value(a, t) != SC_OK)
            return;
        sc_task_open_stream(t, 1);
        t->i = PH_STREAM;
    }
    sc_ctx_item item;
    while (sc_ctx_peek(&t->ctx, &item)) {
        if (item.kind == SC_MSG_STOP) {
            sc_task_pop(a, t);
            sc_task_send_stop(a, t);
            finish_with_int(a, t, t->n);
            return;
        }
        if (item.kind == SC_MSG_YIELD) {
            if (!sc_task_wait_room(a, t))
                return;
            if (sc_task_send_raw(a, t, SC_MSG_YIELD, item.value, item.len) != SC_OK)
                return;
            t->n++;
        }
        sc_task_pop(a, t);
    }
}

static void step_ctx_no_stream(sc_actor *a, sc_task *t)
{
    if (t->i == PH_START) {
        send_started_value(a, t);
        t->i = PH_WAIT;
    }
}

static void step_ctx_return(sc_actor *a, sc_task *t)
{
    static const char nil = (char)0xc0;
    sc_task_send_raw(a, t, SC_MSG_STARTED, &nil, 1);
    step_return_value(a, t);
}

static int start_ctx_error(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "type_str", NULL };
    sc_str type_str;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_str(t->fn, kw, "type_str", &type_str, err))
        return SC_EARG;
    /* The name is kept and sent as a C string. */
    if (type_str.len == 0 || type_str.len > 128 || memchr(type_str.ptr, 0, type_str.len))
        return sc_err_set(err, SC_EARG,
                          "%s() argument 'type_str' must be 1 to 128 bytes with no NUL byte",
                          t->fn->name);
    return sc_task_keep_text(a, t, type_str, err);
}

static void step_ctx_error(sc_actor *a, sc_task *t)
{
    send_started_value(a, t);
    sc_task_send_error(a, t, t->text, t->text, "raised after started");
    sc_task_finish(a, t);
}

static void step_ctx_stream_out(sc_actor *a, sc_task *t)
{
    /* t->i counts yields here, so the phase lives in started_sent. */
    if (!t->started_sent) {
        if (send_started_value(a, t) != SC_OK)
            return;
        sc_task_open_stream(t, 1);
    }
    if (!yield_range(a, t))
        return;
    sc_task_send_stop(a, t);
    finish_with_int(a, t, t->n);
}

static int start_slow_sink(sc_actor *a, sc_task *t, const msgpack_object *kw, sc_err *err)
{
    static const char *const names[] = { "delay", "backpressure", NULL };
    int bp;
    (void)a;
    if (sc_kwargs_only(t->fn, kw, names, err) || sc_kwarg_num(t->fn, kw, "delay", &t->delay, err) ||
        sc_kwarg_bool(t->fn, kw, "backpressure", &bp, err))
        return SC_EARG;
    if (t->delay < 0)
        return sc_err_set(err, SC_EARG, "ctx_slow_sink() argument 'delay' must be non-negative");
    t->ctx.backpressure = bp;
    return SC_OK;
}

static void step_slow_sink(sc_actor *a, sc_task *t)
{
    if (!t->started_sent) {
        if (send_started_value(a, t) != SC_OK)
            return;
        sc_task_open_stream(t, t->ctx.backpressure);
    }
    if (t->timer >= 0)
        return;
    sc_ctx_item item;
    /* t->n == 1: the timer armed for the oldest message has fired. */
    if (t->n == 1 && sc_ctx_peek(&t->ctx, &item)) {
        t->n = 0;
        sc_task_pop(a, t);
        if (item.kind == SC_MSG_STOP) {
            sc_task_send_stop(a, t);
            finish_with_int(a, t, t->i);
            return;
        }
        if (item.kind == SC_MSG_YIELD)
            t->i++;
    }
    if (sc_ctx_peek(&t->ctx, &item)) {
        t->n = 1;
        sc_timer_add(a, a->now + t->delay, t, NULL);
    }
}

static const sc_function service_functions[] = {
    { "scwire_service", "echo", SC_FT_ASYNCFUNC, start_echo, step_return_value },
    { "scwire_service", "raise_error", SC_FT_ASYNCFUNC, sc_start_error_args, step_raise_error },
    { "scwire_service", "sleep", SC_FT_ASYNCFUNC, start_sleep, step_sleep },
    { "scwire_service", "sleep_forever", SC_FT_ASYNCFUNC, start_no_args, step_forever },
    { "scwire_service", "count", SC_FT_ASYNCGEN, start_count, step_count },
    { "scwire_service", "ctx_echo", SC_FT_CONTEXT, start_ctx_value, step_ctx_echo },
    { "scwire_service", "ctx_no_stream", SC_FT_CONTEXT, start_ctx_value, step_ctx_no_stream },
    { "scwire_service", "ctx_error_after_started", SC_FT_CONTEXT, start_ctx_error, step_ctx_error },
    { "scwire_service", "ctx_return", SC_FT_CONTEXT, start_ctx_value, step_ctx_return },
    { "scwire_service", "ctx_stream_out", SC_FT_CONTEXT, start_count, step_ctx_stream_out },
    { "scwire_service", "ctx_slow_sink", SC_FT_CONTEXT, start_slow_sink, step_slow_sink },
};

const sc_function *sc_service_lookup(sc_str ns, sc_str name, int *ns_known)
{
    *ns_known = 0;
    for (size_t i = 0; i < sizeof(service_functions) / sizeof(service_functions[0]); i++) {
        const sc_function *f = &service_functions[i];
        if (!sc_str_eq_c(ns, f->ns))
            continue;
        *ns_known = 1;
        if (sc_str_eq_c(name, f->name))
            return f;
    }
    if (!*ns_known)
        return NULL;
    const sc_function *f = sc_nursery_lookup(name);
    if (!f)
        f = sc_child_lookup(name);
    return f ? f : sc_ctxcall_lookup(name);
}
