/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* msg.c - classify decoded messages (spec/protocol.md sections 3, 4 and 13)
 * and encode them byte for byte as tractor 0.1.0a4 does with msgpack-python
 * (use_bin_type=True): keys in the order tractor builds its dicts, every
 * string as msgpack str, `true` for stop.
 *
 * Every rejection names the field, the type found and the type expected,
 * because the sentence ends up in a log line that is often the only trace of
 * a misbehaving peer. */
#include "msg.h"

#include <stdio.h>
#include <string.h>

/* cids, names and functype values come from the peer: show enough of them to
 * recognise a uuid4 (36 chars) without letting one fill the error buffer. */
#define SHOWN_MAX 40
#define SHOWN(s) (int)((s).len > SHOWN_MAX ? SHOWN_MAX : (s).len), (s).ptr

static const char *const functype_names[] = {
    [SC_FT_ASYNCFUNC] = "asyncfunc",
    [SC_FT_ASYNCGEN] = "asyncgen",
    [SC_FT_CONTEXT] = "context",
};
#define FUNCTYPE_COUNT (sizeof(functype_names) / sizeof(functype_names[0]))

static const char *const kind_names[] = {
    [SC_MSG_NIL] = "nil",
    [SC_MSG_CMD] = "cmd",
    [SC_MSG_FUNCTYPE] = "functype",
    [SC_MSG_RETURN] = "return",
    [SC_MSG_STARTED] = "started",
    [SC_MSG_YIELD] = "yield",
    [SC_MSG_STOP] = "stop",
    [SC_MSG_ERROR] = "error",
    [SC_MSG_ACTOR_ERROR] = "actor error",
};

/* The kind keys of a routed message, in the order they decide the kind.
 * "error" comes first: tractor raises a remote error as soon as it pushes a
 * message carrying one (Context._maybe_raise_from_remote_msg), before any
 * reader looks at "yield" or "stop", so an error is never lost behind another
 * kind key.  The rest follow the order a stream reader tests them. */
static const struct {
    const char *key;
    sc_msg_kind kind;
} routed_kinds[] = {
    { "error", SC_MSG_ERROR },
    { "yield", SC_MSG_YIELD },
    { "return", SC_MSG_RETURN },
    { "started", SC_MSG_STARTED },
    { "stop", SC_MSG_STOP },
    { "functype", SC_MSG_FUNCTYPE },
};

const char *sc_obj_type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_EXT: return "ext";
    }
    return "unknown";
}

const char *sc_functype_name(sc_functype f)
{
    return (unsigned)f < FUNCTYPE_COUNT ? functype_names[f] : "unknown";
}

const char *sc_msg_kind_name(sc_msg_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "unknown";
}

/* A predicate rather than a return code: callers use it as "is this a str". */
int sc_obj_str(const msgpack_object *o, sc_str *out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return 0;
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 1;
}

/* The last match wins: msgpack-python builds a dict, so when a key repeats
 * tractor sees the value that came last. */
const msgpack_object *sc_map_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    const msgpack_object *found = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            (n == 0 || memcmp(k->via.str.ptr, key, n) == 0))
            found = &map->via.map.ptr[i].val;
    }
    return found;
}

/* Python truthiness, which is how tractor decides that a cid is present
 * (`if cid:` in Actor._process_messages), and spec CID-1 with it. */
static int obj_truthy(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return 0;
    case MSGPACK_OBJECT_BOOLEAN: return o->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return o->via.u64 != 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return o->via.f64 != 0.0;
    case MSGPACK_OBJECT_STR: return o->via.str.size != 0;
    case MSGPACK_OBJECT_BIN: return o->via.bin.size != 0;
    case MSGPACK_OBJECT_ARRAY: return o->via.array.size != 0;
    case MSGPACK_OBJECT_MAP: return o->via.map.size != 0;
    default: return 1; /* negative ints, and ext (an ExtType tuple in Python) */
    }
}

/* What a value that should have been a non-empty str is, for "got %s". */
static const char *nonempty_str_problem(const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_STR)
        return "an empty str";
    return sc_obj_type_name(o);
}

static int nonempty_str(const msgpack_object *o, sc_str *out)
{
    return sc_obj_str(o, out) && out->len > 0;
}

/* Shared by the handshake and the caller uid of a cmd; on failure *why says
 * what was found instead, in a form that fits after "got ". */
static int uid_view(const msgpack_object *o, sc_uid *out, char *why, size_t whylen)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        snprintf(why, whylen, "%s", sc_obj_type_name(o));
        return 0;
    }
    if (o->via.array.size < 2) {
        snprintf(why, whylen, "an array of %u item%s", (unsigned)o->via.array.size,
                 o->via.array.size == 1 ? "" : "s");
        return 0;
    }
    const msgpack_object *item = o->via.array.ptr;
    if (!sc_obj_str(&item[0], &out->name)) {
        snprintf(why, whylen, "an array whose item 0 is %s", sc_obj_type_name(&item[0]));
        return 0;
    }
    if (!sc_obj_str(&item[1], &out->uuid)) {
        snprintf(why, whylen, "an array whose item 1 is %s", sc_obj_type_name(&item[1]));
        return 0;
    }
    return 1;
}

/* Spec HS-5: any two str are a uid, the empty name and a uuid of any format
 * included; only the shape is checked. */
int sc_uid_parse(const msgpack_object *o, sc_uid *out, sc_err *err)
{
    char why[64];
    if (!uid_view(o, out, why, sizeof(why)))
        return sc_err_set(err, SC_EPROTO, "handshake must be an array [name, uuid] of str, got %s",
                          why);
    return SC_OK;
}

/* The error map rules of spec MSG-5, ERR-5 and MSG-7: type_str is required,
 * a missing tb_str reads as "", unknown keys are ignored.  `what` names the
 * message in the sentence and `code` is what a violation costs. */
static int parse_error_map(const msgpack_object *v, sc_msg *out, const char *what, int code,
                           sc_err *err)
{
    if (v->type != MSGPACK_OBJECT_MAP)
        return sc_err_set(err, code, "%s: error value must be a map, got %s", what,
                          sc_obj_type_name(v));
    const msgpack_object *ty = sc_map_get(v, "type_str");
    if (!ty)
        return sc_err_set(err, code, "%s: error map has no type_str", what);
    if (!sc_obj_str(ty, &out->type_str))
        return sc_err_set(err, code, "%s: error type_str must be a str, got %s", what,
                          sc_obj_type_name(ty));
    const msgpack_object *tb = sc_map_get(v, "tb_str");
    if (!tb)
        out->tb_str = SC_STR("");
    else if (!sc_obj_str(tb, &out->tb_str))
        return sc_err_set(err, code, "%s: error tb_str must be a str, got %s", what,
                          sc_obj_type_name(tb));
    return SC_OK;
}

static int parse_routed(const msgpack_object *o, sc_msg *out, sc_err *err)
{
    const msgpack_object *v = NULL;
    for (size_t i = 0; i < sizeof(routed_kinds) / sizeof(routed_kinds[0]) && !v; i++) {
        v = sc_map_get(o, routed_kinds[i].key);
        if (v)
            out->kind = routed_kinds[i].kind;
    }
    if (!v)
        return sc_err_set(err, SC_EMSG_DROP,
                          "message for context %.*s carries none of "
                          "yield/return/started/stop/error/functype",
                          SHOWN(out->cid));

    switch (out->kind) {
    case SC_MSG_ERROR: {
        char what[32 + SHOWN_MAX];
        snprintf(what, sizeof(what), "message for context %.*s", SHOWN(out->cid));
        return parse_error_map(v, out, what, SC_EMSG_DROP, err);
    }
    case SC_MSG_FUNCTYPE: {
        sc_str name;
        if (!sc_obj_str(v, &name))
            return sc_err_set(err, SC_EMSG_DROP,
                              "functype for context %.*s must be a str, got %s",
                              SHOWN(out->cid), sc_obj_type_name(v));
        for (size_t f = 0; f < FUNCTYPE_COUNT; f++) {
            if (sc_str_eq_c(name, functype_names[f])) {
                out->functype = (sc_functype)f;
                return SC_OK;
            }
        }
        return sc_err_set(err, SC_EMSG_DROP,
                          "functype for context %.*s must be asyncfunc, asyncgen or context, "
                          "got \"%.*s\"",
                          SHOWN(out->cid), SHOWN(name));
    }
    default:
        /* yield, return, started carry any value; stop too, since tractor
         * only tests its truthiness and the consumer may want to see it. */
        out->value = v;
        return SC_OK;
    }
}

/* The first key that is not a str, or NULL: Python only takes str keys as
 * keyword arguments. */
static const msgpack_object *kwargs_bad_key(const msgpack_object *kw)
{
    for (uint32_t i = 0; i < kw->via.map.size; i++)
        if (kw->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return &kw->via.map.ptr[i].key;
    return NULL;
}

static int parse_cmd(const msgpack_object *c, sc_msg *out, sc_err *err)
{
    if (c->type != MSGPACK_OBJECT_ARRAY)
        return sc_err_set(err, SC_EMSG_CLOSE, "cmd must be an array of 5 items, got %s",
                          sc_obj_type_name(c));
    if (c->via.array.size != 5)
        return sc_err_set(err, SC_EMSG_CLOSE, "cmd must be an array of 5 items, got %u",
                          (unsigned)c->via.array.size);
    const msgpack_object *f = c->via.array.ptr;
    if (!nonempty_str(&f[4], &out->cid))
        return sc_err_set(err, SC_EMSG_CLOSE, "cmd field 4 (cid) must be a non-empty str, got %s",
                          nonempty_str_problem(&f[4]));
    /* From here on the cid is usable, so the caller can answer on it. */
    out->kind = SC_MSG_CMD;
    /* An empty ns or func is still a str: it names nothing exposed, which
     * dispatch answers with ModuleNotExposed or AttributeError (RPC-2/3). */
    if (!sc_obj_str(&f[0], &out->ns))
        return sc_err_set(err, SC_EMSG_REPLY, "cmd field 0 (ns) must be a str, got %s",
                          sc_obj_type_name(&f[0]));
    if (!sc_obj_str(&f[1], &out->func))
        return sc_err_set(err, SC_EMSG_REPLY, "cmd field 1 (func) must be a str, got %s",
                          sc_obj_type_name(&f[1]));
    if (f[2].type != MSGPACK_OBJECT_MAP)
        return sc_err_set(err, SC_EMSG_REPLY,
                          "cmd field 2 (kwargs) must be a map with str keys, got %s",
                          sc_obj_type_name(&f[2]));
    const msgpack_object *bad = kwargs_bad_key(&f[2]);
    if (bad)
        return sc_err_set(err, SC_EMSG_REPLY,
                          "cmd field 2 (kwargs) must be a map with str keys, got a key of type %s",
                          sc_obj_type_name(bad));
    out->kwargs = &f[2];
    char why[64];
    if (!uid_view(&f[3], &out->caller, why, sizeof(why)))
        return sc_err_set(err, SC_EMSG_REPLY,
                          "cmd field 3 (caller uid) must be an array [name, uuid] of str, got %s",
                          why);
    return SC_OK;
}

/* The classification order is spec CID-1, which follows tractor's
 * Actor._process_messages where tractor does not crash. */
int sc_msg_parse(const msgpack_object *o, sc_msg *out, sc_err *err)
{
    memset(out, 0, sizeof(*out));
    if (o->type == MSGPACK_OBJECT_NIL) {
        out->kind = SC_MSG_NIL;
        return SC_OK;
    }
    if (o->type != MSGPACK_OBJECT_MAP)
        return sc_err_set(err, SC_EMSG_CLOSE, "message is not a map but %s", sc_obj_type_name(o));

    const msgpack_object *cid = sc_map_get(o, "cid");
    const msgpack_object *cmd = sc_map_get(o, "cmd");
    if (cid && obj_truthy(cid)) {
        /* A present cid routes the message even next to a "cmd" (CID-5):
         * such a cmd must never run, so a cid that is truthy but not a str
         * drops the message rather than falling through to the cmd. */
        if (!sc_obj_str(cid, &out->cid))
            return sc_err_set(err, SC_EMSG_DROP, "cid must be a non-empty str, got %s",
                              sc_obj_type_name(cid));
        return parse_routed(o, out, err);
    }
    if (cmd)
        return parse_cmd(cmd, out, err);
    if (cid)
        /* A falsy cid ("", nil, 0, false, empty containers) names no
         * context; CID-1 step 6 drops it even when "error" is there too. */
        return sc_err_set(err, SC_EMSG_DROP, "cid must be a non-empty str, got %s",
                          nonempty_str_problem(cid));
    const msgpack_object *e = sc_map_get(o, "error");
    if (e) {
        /* A malformed actor-level error closes the connection: it is a map
         * that is neither a cmd nor routable (SEC-3), and a well-formed one
         * ends the channel anyway, so there is nothing left to keep. */
        out->kind = SC_MSG_ACTOR_ERROR;
        return parse_error_map(e, out, "actor-level error", SC_EMSG_CLOSE, err);
    }
    return sc_err_set(err, SC_EMSG_CLOSE, "map has neither cmd nor cid");
}

/* ---- encoders ---------------------------------------------------------- */

int sc_pack_str(msgpack_packer *pk, sc_str s)
{
    /* msgpack-c would silently truncate the length of a str32 header. */
    if (s.len > UINT32_MAX)
        return -1;
    if (msgpack_pack_str(pk, s.len) != 0)
        return -1;
    return s.len ? msgpack_pack_str_body(pk, s.ptr, s.len) : 0;
}

int sc_pack_cstr(msgpack_packer *pk, const char *s)
{
    return sc_pack_str(pk, (sc_str){ s, strlen(s) });
}

int sc_pack_uid(msgpack_packer *pk, const sc_uid *uid)
{
    if (msgpack_pack_array(pk, 2) != 0 || sc_pack_str(pk, uid->name) != 0 ||
        sc_pack_str(pk, uid->uuid) != 0)
        return -1;
    return 0;
}

int sc_pack_nil_msg(msgpack_packer *pk)
{
    return msgpack_pack_nil(pk);
}

int sc_pack_functype(msgpack_packer *pk, sc_str cid, sc_functype f)
{
    if ((unsigned)f >= FUNCTYPE_COUNT)
        return -1;
    if (msgpack_pack_map(pk, 2) != 0 || sc_pack_str(pk, SC_STR("functype")) != 0 ||
        sc_pack_cstr(pk, functype_names[f]) != 0)
        return -1;
    return sc_pack_value_end(pk, cid);
}

int sc_pack_value_begin(msgpack_packer *pk, sc_msg_kind kind)
{
    if (kind != SC_MSG_RETURN && kind != SC_MSG_STARTED && kind != SC_MSG_YIELD)
        return -1;
    if (msgpack_pack_map(pk, 2) != 0)
        return -1;
    return sc_pack_cstr(pk, kind_names[kind]);
}

int sc_pack_value_end(msgpack_packer *pk, sc_str cid)
{
    if (sc_pack_str(pk, SC_STR("cid")) != 0)
        return -1;
    return sc_pack_str(pk, cid);
}

int sc_pack_stop(msgpack_packer *pk, sc_str cid)
{
    if (msgpack_pack_map(pk, 2) != 0 || sc_pack_str(pk, SC_STR("stop")) != 0 ||
        msgpack_pack_true(pk) != 0)
        return -1;
    return sc_pack_value_end(pk, cid);
}

int sc_pack_error(msgpack_packer *pk, sc_str cid, sc_str type_str, sc_str tb_str)
{
    if (msgpack_pack_map(pk, cid.ptr ? 2 : 1) != 0 || sc_pack_str(pk, SC_STR("error")) != 0 ||
        msgpack_pack_map(pk, 2) != 0 || sc_pack_str(pk, SC_STR("tb_str")) != 0 ||
        sc_pack_str(pk, tb_str) != 0 || sc_pack_str(pk, SC_STR("type_str")) != 0 ||
        sc_pack_str(pk, type_str) != 0)
        return -1;
    return cid.ptr ? sc_pack_value_end(pk, cid) : 0;
}

int sc_pack_cmd_begin(msgpack_packer *pk, sc_str ns, sc_str func)
{
    if (msgpack_pack_map(pk, 1) != 0 || sc_pack_str(pk, SC_STR("cmd")) != 0 ||
        msgpack_pack_array(pk, 5) != 0 || sc_pack_str(pk, ns) != 0)
        return -1;
    return sc_pack_str(pk, func);
}

int sc_pack_cmd_end(msgpack_packer *pk, const sc_uid *caller, sc_str cid)
{
    if (sc_pack_uid(pk, caller) != 0)
        return -1;
    return sc_pack_str(pk, cid);
}
