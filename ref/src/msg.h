/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* msg.h - the message model of spec/protocol.md section 3: typed views of
 * decoded msgpack objects, with a precise reason for every rejection, and
 * the encoders that write messages in the exact shape tractor 0.1.0a4 emits
 * (value key first, then "cid"; str as str; `true` for stop).
 *
 * Parsing never copies: every sc_str and msgpack_object pointer in an
 * sc_msg points into the frame it was parsed from. */
#ifndef SC_MSG_H
#define SC_MSG_H

#include <msgpack.h>

#include "common.h"

typedef struct sc_uid {
    sc_str name;
    sc_str uuid;
} sc_uid;

typedef enum sc_functype {
    SC_FT_ASYNCFUNC = 0,
    SC_FT_ASYNCGEN = 1,
    SC_FT_CONTEXT = 2
} sc_functype;

typedef enum sc_msg_kind {
    SC_MSG_NIL = 0,        /* terminate the channel */
    SC_MSG_CMD,            /* {"cmd": [ns, func, kwargs, caller_uid, cid]} */
    SC_MSG_FUNCTYPE,       /* {"functype": ..., "cid"} */
    SC_MSG_RETURN,         /* {"return": v, "cid"} */
    SC_MSG_STARTED,        /* {"started": v, "cid"} */
    SC_MSG_YIELD,          /* {"yield": v, "cid"} */
    SC_MSG_STOP,           /* {"stop": true, "cid"} */
    SC_MSG_ERROR,          /* {"error": {...}, "cid"} */
    SC_MSG_ACTOR_ERROR     /* {"error": {...}} without cid */
} sc_msg_kind;

typedef struct sc_msg {
    sc_msg_kind kind;
    sc_str cid;                     /* routed kinds and CMD */
    /* SC_MSG_CMD */
    sc_str ns;
    sc_str func;
    const msgpack_object *kwargs;   /* a map with str keys */
    sc_uid caller;
    /* SC_MSG_FUNCTYPE */
    sc_functype functype;
    /* RETURN / STARTED / YIELD / STOP: the value */
    const msgpack_object *value;
    /* ERROR / ACTOR_ERROR */
    sc_str type_str;
    sc_str tb_str;                  /* "" when absent */
} sc_msg;

/* Classify one decoded message.  Returns SC_OK, or:
 *   SC_EMSG_CLOSE  not a map; a map with neither "cmd" nor "cid"; a "cmd"
 *                  that is not a 5-array, or whose cid is not a non-empty str.
 *   SC_EMSG_REPLY  a "cmd" 5-array with a usable cid but a bad ns, func,
 *                  kwargs or caller uid: out->kind = SC_MSG_CMD and out->cid
 *                  are set so the caller can answer MessagingError.
 *   SC_EMSG_DROP   a routed message whose cid is not a non-empty str, that
 *                  carries no known kind, or whose fields have wrong types.
 * A map with a non-empty str "cid" is routed even if it also has "cmd". */
int sc_msg_parse(const msgpack_object *o, sc_msg *out, sc_err *err);

/* The handshake value: an array of at least two str; extra items ignored. */
int sc_uid_parse(const msgpack_object *o, sc_uid *out, sc_err *err);

/* Look up a str key in a map; NULL if absent. */
const msgpack_object *sc_map_get(const msgpack_object *map, const char *key);
int sc_obj_str(const msgpack_object *o, sc_str *out);
const char *sc_obj_type_name(const msgpack_object *o);
const char *sc_functype_name(sc_functype f);
const char *sc_msg_kind_name(sc_msg_kind k);

/* Encoders.  Each writes one whole message with pk, or for the value kinds
 * the opening half: sc_pack_value_begin writes the map header and the kind
 * key, the caller packs the value, sc_pack_value_end writes "cid".  All
 * return 0 on success and -1 when the packer's writer failed. */
int sc_pack_str(msgpack_packer *pk, sc_str s);
int sc_pack_cstr(msgpack_packer *pk, const char *s);
int sc_pack_uid(msgpack_packer *pk, const sc_uid *uid);
int sc_pack_nil_msg(msgpack_packer *pk);
int sc_pack_functype(msgpack_packer *pk, sc_str cid, sc_functype f);
int sc_pack_value_begin(msgpack_packer *pk, sc_msg_kind kind);
int sc_pack_value_end(msgpack_packer *pk, sc_str cid);
int sc_pack_stop(msgpack_packer *pk, sc_str cid);
/* cid.ptr == NULL packs an actor-level error without "cid". */
int sc_pack_error(msgpack_packer *pk, sc_str cid, sc_str type_str, sc_str tb_str);
/* {"cmd": [ns, func, <kwargs packed by the caller>, caller, cid]}: begin
 * writes up to func, the caller packs the kwargs map, end writes the rest. */
int sc_pack_cmd_begin(msgpack_packer *pk, sc_str ns, sc_str func);
int sc_pack_cmd_end(msgpack_packer *pk, const sc_uid *caller, sc_str cid);

#endif
