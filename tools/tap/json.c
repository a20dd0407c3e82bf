/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* json.c - JSON text for scwire-tap's trace (see json.h). */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_out *j)
{
    sc_buf_init(&j->buf, 0);
    j->rc = SC_OK;
}

void json_free(json_out *j)
{
    sc_buf_free(&j->buf);
}

void json_reset(json_out *j)
{
    sc_buf_consume(&j->buf, sc_buf_size(&j->buf));
    j->rc = SC_OK;
}

int json_err(const json_out *j)
{
    return j->rc;
}

static void put(json_out *j, const void *p, size_t n)
{
    if (j->rc == SC_OK)
        j->rc = sc_buf_append(&j->buf, p, n, NULL);
}

void json_raw(json_out *j, const char *s)
{
    put(j, s, strlen(s));
}

void json_str(json_out *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    put(j, "\"", 1);
    /* Copy runs of plain bytes in one append; escape the rest. */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 2;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(j, s + run, i - run);
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        put(j, esc, elen);
    }
    put(j, s + run, n - run);
    put(j, "\"", 1);
}

void json_cstr(json_out *j, const char *s)
{
    json_str(j, s, strlen(s));
}

void json_hex(json_out *j, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    char chunk[512];
    size_t i, k = 0;

    put(j, "\"", 1);
    for (i = 0; i < n; i++) {
        chunk[k++] = hex[b[i] >> 4];
        chunk[k++] = hex[b[i] & 15];
        if (k == sizeof(chunk)) {
            put(j, chunk, k);
            k = 0;
        }
    }
    put(j, chunk, k);
    put(j, "\"", 1);
}

void json_uint(json_out *j, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);
    put(j, num, (size_t)n);
}

static void json_int(json_out *j, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    put(j, num, (size_t)n);
}

void json_float(json_out *j, double v)
{
    char num[40];
    int n = 0;

    /* The shortest of %.1g .. %.17g that reads back exactly, as Python's
     * repr() does; 17 significant digits always do. */
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(num, sizeof(num), "%.*g", prec, v);
        if (strtod(num, NULL) == v)
            break;
    }
    /* "1" would read back as an integer. */
    if (!strpbrk(num, ".e")) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    put(j, num, (size_t)n);
}

static void json_double(json_out *j, double v)
{
    if (isnan(v))
        json_raw(j, "{\"$float\": \"nan\"}");
    else if (isinf(v))
        json_raw(j, v > 0 ? "{\"$float\": \"inf\"}" : "{\"$float\": \"-inf\"}");
    else
        json_float(j, v);
}

static int str_keys_only(const msgpack_object_map *m)
{
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return 0;
    return 1;
}

static void json_map(json_out *j, const msgpack_object_map *m)
{
    int plain = str_keys_only(m);

    json_raw(j, plain ? "{" : "{\"$map\": [");
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object_kv *kv = &m->ptr[i];
        if (i > 0)
            json_raw(j, ", ");
        if (plain) {
            json_str(j, kv->key.via.str.ptr, kv->key.via.str.size);
            json_raw(j, ": ");
            json_msgpack(j, &kv->val);
        } else {
            json_raw(j, "[");
            json_msgpack(j, &kv->key);
            json_raw(j, ", ");
            json_msgpack(j, &kv->val);
            json_raw(j, "]");
        }
    }
    json_raw(j, plain ? "}" : "]}");
}

/* Recursion is bounded: the decoder refuses nesting deeper than
 * SC_DEPTH_CAP. */
void json_msgpack(json_out *j, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        json_raw(j, "null");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        json_raw(j, o->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        json_uint(j, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        json_int(j, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* msgpack-c widens a float32 to double, as Python's msgpack does. */
        json_double(j, o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        json_str(j, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        json_raw(j, "{\"$bin\": ");
        json_hex(j, o->via.bin.ptr, o->via.bin.size);
        json_raw(j, "}");
        break;
    case MSGPACK_OBJECT_EXT:
        json_raw(j, "{\"$ext\": [");
        json_int(j, o->via.ext.type);
        json_raw(j, ", ");
        json_hex(j, o->via.ext.ptr, o->via.ext.size);
        json_raw(j, "]}");
        break;
    case MSGPACK_OBJECT_ARRAY:
        json_raw(j, "[");
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i > 0)
                json_raw(j, ", ");
            json_msgpack(j, &o->via.array.ptr[i]);
        }
        json_raw(j, "]");
        break;
    case MSGPACK_OBJECT_MAP:
        json_map(j, &o->via.map);
        break;
    default:
        /* msgpack-c has no other type; say so rather than write bad JSON. */
        json_raw(j, "{\"$unknown\": ");
        json_int(j, (int64_t)o->type);
        json_raw(j, "}");
    }
}
