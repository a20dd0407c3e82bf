/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_msg.c - libFuzzer target for the message model (msg.h).
 *
 * Input: the bytes of one msgpack object (trailing bytes are ignored).  It is
 * pre-checked with sc_scan under the reference default limits, exactly as
 * the reader does, so msgpack-c never sees a hostile header; then decoded
 * and classified with sc_msg_parse and sc_uid_parse.
 *
 * Invariants: only the documented return codes, each with the fields msg.h
 * promises (SC_EMSG_REPLY carries kind CMD and a usable cid, ...); the error
 * object is filled on failure; every SC_OK message re-encoded with the sc_pack_*
 * encoders scans, decodes and parses back to SC_OK with the same kind, cid
 * and fields; the same for a uid. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "limit.h"
#include "msg.h"
#include "scan.h"

static int routed_kind(sc_msg_kind k)
{
    return k == SC_MSG_FUNCTYPE || k == SC_MSG_RETURN || k == SC_MSG_STARTED || k == SC_MSG_YIELD ||
           k == SC_MSG_STOP || k == SC_MSG_ERROR;
}

static int is_str(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR;
}

/* The fields msg.h documents for an SC_OK message. */
static void check_ok_msg(const msgpack_object *o, const sc_msg *m)
{
    FZ_CHECK(m->kind >= SC_MSG_NIL && m->kind <= SC_MSG_ACTOR_ERROR, "kind %d", (int)m->kind);
    FZ_CHECK(strcmp(sc_msg_kind_name(m->kind), "unknown") != 0, "kind without a name");
    if (m->kind == SC_MSG_NIL) {
        FZ_CHECK(o->type == MSGPACK_OBJECT_NIL, "NIL from a %s", sc_obj_type_name(o));
        return;
    }
    FZ_CHECK(o->type == MSGPACK_OBJECT_MAP, "%s from a %s", sc_msg_kind_name(m->kind),
             sc_obj_type_name(o));
    if (routed_kind(m->kind) || m->kind == SC_MSG_CMD)
        FZ_CHECK(m->cid.len > 0 && m->cid.ptr, "%s without a cid", sc_msg_kind_name(m->kind));
    switch (m->kind) {
    case SC_MSG_CMD: {
        const msgpack_object *cmd = sc_map_get(o, "cmd");
        FZ_CHECK(cmd && cmd->type == MSGPACK_OBJECT_ARRAY && cmd->via.array.size == 5, "cmd shape");
        FZ_CHECK(is_str(&cmd->via.array.ptr[0]) && is_str(&cmd->via.array.ptr[1]),
                 "ns or func not a str accepted");
        FZ_CHECK(fz_str_eq(m->ns, (sc_str){ cmd->via.array.ptr[0].via.str.ptr,
                                             cmd->via.array.ptr[0].via.str.size }) &&
                     fz_str_eq(m->func, (sc_str){ cmd->via.array.ptr[1].via.str.ptr,
                                                  cmd->via.array.ptr[1].via.str.size }),
                 "ns/func are not the cmd's items");
        FZ_CHECK(m->kwargs && m->kwargs->type == MSGPACK_OBJECT_MAP, "kwargs not a map");
        for (uint32_t i = 0; i < m->kwargs->via.map.size; i++)
            FZ_CHECK(is_str(&m->kwargs->via.map.ptr[i].key), "kwargs key %u not a str", i);
        FZ_CHECK(m->caller.name.ptr && m->caller.uuid.ptr, "caller uid not set");
        /* A present cid would have routed it (CID-5). */
        const msgpack_object *cid = sc_map_get(o, "cid");
        FZ_CHECK(!cid || !is_str(cid) || cid->via.str.size == 0, "cmd next to a present str cid");
        break;
    }
    case SC_MSG_FUNCTYPE:
        FZ_CHECK(strcmp(sc_functype_name(m->functype), "unknown") != 0, "functype %d", (int)m->functype);
        break;
    case SC_MSG_RETURN:
    case SC_MSG_STARTED:
    case SC_MSG_YIELD:
    case SC_MSG_STOP:
        FZ_CHECK(m->value != NULL, "%s without a value", sc_msg_kind_name(m->kind));
        break;
    case SC_MSG_ERROR:
    case SC_MSG_ACTOR_ERROR:
        FZ_CHECK(m->type_str.ptr != NULL && m->tb_str.ptr != NULL, "error fields not set");
        break;
    default:
        break;
    }
}

/* Encode m with the sc_pack_* encoders; 0 or -1 when the writer failed. */
static int encode_rc(msgpack_packer *pk, const sc_msg *m)
{
    int rc = 0;
    switch (m->kind) {
    case SC_MSG_NIL:
        rc = sc_pack_nil_msg(pk);
        break;
    case SC_MSG_CMD:
        rc = sc_pack_cmd_begin(pk, m->ns, m->func);
        rc = rc ? rc : msgpack_pack_object(pk, *m->kwargs);
        rc = rc ? rc : sc_pack_cmd_end(pk, &m->caller, m->cid);
        break;
    case SC_MSG_FUNCTYPE:
        rc = sc_pack_functype(pk, m->cid, m->functype);
        break;
    case SC_MSG_RETURN:
    case SC_MSG_STARTED:
    case SC_MSG_YIELD:
        rc = sc_pack_value_begin(pk, m->kind);
        rc = rc ? rc : msgpack_pack_object(pk, *m->value);
        rc = rc ? rc : sc_pack_value_end(pk, m->cid);
        break;
    case SC_MSG_STOP:
        rc = sc_pack_stop(pk, m->cid);
        break;
    case SC_MSG_ERROR:
        rc = sc_pack_error(pk, m->cid, m->type_str, m->tb_str);
        break;
    case SC_MSG_ACTOR_ERROR:
        rc = sc_pack_error(pk, (sc_str){ NULL, 0 }, m->type_str, m->tb_str);
        break;
    }
    return rc ? -1 : 0;
}

static void encode(msgpack_packer *pk, const sc_msg *m)
{
    FZ_CHECK(encode_rc(pk, m) == 0, "encoding a %s failed", sc_msg_kind_name(m->kind));
    /* The value encoders refuse the kinds they do not write. */
    FZ_CHECK(sc_pack_value_begin(pk, SC_MSG_STOP) == -1, "value_begin accepted stop");
    FZ_CHECK(sc_pack_functype(pk, m->cid, (sc_functype)7) == -1, "functype 7 accepted");
}

/* Scan (default limits), decode into zone, return the object. */
static int decode(const char *p, size_t n, msgpack_zone *zone, msgpack_object *obj, size_t *used)
{
    sc_limits lim;
    sc_limits_default(&lim);
    sc_scanner s;
    sc_err err;
    size_t obj_len = 0;
    sc_scan_reset(&s);
    int rc = sc_scan(&s, (const uint8_t *)p, n, &lim, &obj_len, &err);
    if (rc != SC_OK)
        return rc;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack(p, obj_len, &off, zone, obj);
    FZ_CHECK(ur == MSGPACK_UNPACK_SUCCESS && off == obj_len,
             "msgpack-c refused (%d after %zu bytes) a %zu-byte object the scanner accepted", (int)ur,
             off, obj_len);
    *used = obj_len;
    return SC_OK;
}

/* A writer that fails part-way must make the encoders fail, not stop
 * silently: try output caps below the message's size. */
static void check_short_writer(const sc_msg *m, size_t size)
{
    size_t caps[3] = { size - 1, size / 2, 1 };
    for (int i = 0; i < 3; i++) {
        if (caps[i] == 0 || caps[i] >= size)
            continue;
        fz_out o;
        fz_out_init(&o);
        o.buf.max = caps[i];
        FZ_CHECK(encode_rc(&o.pk, m) == -1, "a %s of %zu bytes was encoded into %zu bytes",
                 sc_msg_kind_name(m->kind), size, caps[i]);
        FZ_CHECK(o.buf.write_rc == SC_ELIMIT, "write_rc %d", o.buf.write_rc);
        fz_out_free(&o);
    }
}

static void check_reparse(const sc_msg *m)
{
    fz_out o;
    fz_out_init(&o);
    encode(&o.pk, m);
    check_short_writer(m, sc_buf_size(&o.buf));
    /* encode() appended one message; the two refused calls wrote nothing. */
    msgpack_zone zone;
    msgpack_object obj;
    size_t used = 0;
    FZ_CHECK(msgpack_zone_init(&zone, 1024), "zone");
    int rc = decode(sc_buf_head(&o.buf), sc_buf_size(&o.buf), &zone, &obj, &used);
    FZ_CHECK(rc == SC_OK, "re-encoded %s does not scan: %d", sc_msg_kind_name(m->kind), rc);
    FZ_CHECK(used == sc_buf_size(&o.buf), "encoders wrote %zu bytes, the message is %zu",
             sc_buf_size(&o.buf), used);
    sc_msg back;
    sc_err err;
    rc = sc_msg_parse(&obj, &back, &err);
    FZ_CHECK(rc == SC_OK, "re-encoded %s parses to %d: %s", sc_msg_kind_name(m->kind), rc, err.msg);
    FZ_CHECK(back.kind == m->kind, "kind %s came back as %s", sc_msg_kind_name(m->kind),
             sc_msg_kind_name(back.kind));
    FZ_CHECK(fz_str_eq(back.cid, m->cid), "cid changed");
    switch (m->kind) {
    case SC_MSG_CMD:
        FZ_CHECK(fz_str_eq(back.ns, m->ns) && fz_str_eq(back.func, m->func), "ns/func changed");
        FZ_CHECK(fz_str_eq(back.caller.name, m->caller.name) &&
                     fz_str_eq(back.caller.uuid, m->caller.uuid),
                 "caller changed");
        FZ_CHECK(fz_obj_equal(back.kwargs, m->kwargs), "kwargs changed");
        break;
    case SC_MSG_FUNCTYPE:
        FZ_CHECK(back.functype == m->functype, "functype changed");
        break;
    case SC_MSG_RETURN:
    case SC_MSG_STARTED:
    case SC_MSG_YIELD:
        FZ_CHECK(fz_obj_equal(back.value, m->value), "value changed");
        break;
    case SC_MSG_STOP:
        FZ_CHECK(back.value->type == MSGPACK_OBJECT_BOOLEAN && back.value->via.boolean,
                 "stop is not true");
        break;
    case SC_MSG_ERROR:
    case SC_MSG_ACTOR_ERROR:
        FZ_CHECK(fz_str_eq(back.type_str, m->type_str) && fz_str_eq(back.tb_str, m->tb_str),
                 "error fields changed");
        break;
    default:
        break;
    }
    msgpack_zone_destroy(&zone);
    fz_out_free(&o);
}

static void check_uid(const msgpack_object *obj)
{
    sc_uid uid;
    sc_err err;
    sc_err_clear(&err);
    int rc = sc_uid_parse(obj, &uid, &err);
    if (rc != SC_OK) {
        FZ_CHECK(rc == SC_EPROTO, "sc_uid_parse returned %d", rc);
        FZ_CHECK(err.code == rc && err.msg[0], "uid error not filled");
        FZ_CHECK(obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size < 2 ||
                     !is_str(&obj->via.array.ptr[0]) || !is_str(&obj->via.array.ptr[1]),
                 "a valid uid refused: %s", err.msg);
        return;
    }
    FZ_CHECK(obj->type == MSGPACK_OBJECT_ARRAY && obj->via.array.size >= 2 &&
                 is_str(&obj->via.array.ptr[0]) && is_str(&obj->via.array.ptr[1]),
             "an invalid uid accepted");
    fz_out o;
    fz_out_init(&o);
    FZ_CHECK(sc_pack_uid(&o.pk, &uid) == 0, "sc_pack_uid failed");
    msgpack_zone zone;
    msgpack_object back;
    size_t used;
    FZ_CHECK(msgpack_zone_init(&zone, 256), "zone");
    FZ_CHECK(decode(sc_buf_head(&o.buf), sc_buf_size(&o.buf), &zone, &back, &used) == SC_OK,
             "packed uid does not scan");
    FZ_CHECK(back.type == MSGPACK_OBJECT_ARRAY && back.via.array.size == 2, "uid is not a 2-array");
    sc_uid again;
    FZ_CHECK(sc_uid_parse(&back, &again, &err) == SC_OK, "packed uid refused");
    FZ_CHECK(fz_str_eq(again.name, uid.name) && fz_str_eq(again.uuid, uid.uuid), "uid changed");
    msgpack_zone_destroy(&zone);
    fz_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t used;
    if (!msgpack_zone_init(&zone, 2048))
        return 0;
    if (decode((const char *)data, size, &zone, &obj, &used) != SC_OK) {
        msgpack_zone_destroy(&zone);
        return 0;
    }
    (void)sc_obj_type_name(&obj);

    sc_msg m;
    sc_err err;
    sc_err_clear(&err);
    int rc = sc_msg_parse(&obj, &m, &err);
    switch (rc) {
    case SC_OK:
        check_ok_msg(&obj, &m);
        check_reparse(&m);
        break;
    case SC_EMSG_REPLY:
        FZ_CHECK(m.kind == SC_MSG_CMD && m.cid.len > 0 && m.cid.ptr, "EMSG_REPLY without a usable cid");
        FZ_CHECK(obj.type == MSGPACK_OBJECT_MAP && sc_map_get(&obj, "cmd"), "EMSG_REPLY without cmd");
        break;
    case SC_EMSG_DROP:
        FZ_CHECK(obj.type == MSGPACK_OBJECT_MAP && sc_map_get(&obj, "cid"),
                 "EMSG_DROP for a message without a cid key");
        break;
    case SC_EMSG_CLOSE:
        break;
    default:
        FZ_CHECK(0, "sc_msg_parse returned undocumented %d", rc);
    }
    if (rc != SC_OK)
        FZ_CHECK(err.code == rc && err.msg[0] != '\0', "error object not filled for %d", rc);
    /* A non-map, non-nil value is always SC_EMSG_CLOSE (MSG-1). */
    if (obj.type != MSGPACK_OBJECT_MAP && obj.type != MSGPACK_OBJECT_NIL)
        FZ_CHECK(rc == SC_EMSG_CLOSE, "a %s gave %d", sc_obj_type_name(&obj), rc);

    check_uid(&obj);
    msgpack_zone_destroy(&zone);
    return 0;
}
