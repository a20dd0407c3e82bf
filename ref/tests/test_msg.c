/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_msg.c - the message model against the bytes tractor 0.1.0a4 really
 * sends: the byte examples of spec/protocol.md section 3, lines of the
 * recorded traces (vectors/tractor-0.1.0a4, hex copied verbatim), and every
 * rejection path with its code and its sentence.
 *
 * Each trace line is parsed and then encoded again from the parsed view; the
 * bytes must come back identical, which pins both directions at once. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <msgpack.h>

#include "buf.h"
#include "msg.h"
#include "suites.h"
#include "testutil.h"

/* ---- spec/protocol.md section 3 (details.md Appendix A) ---------------- */

static const char a_uid[] = "92 a4 72 6f 6f 74 a4 30 66 30 65";
static const char a_nil[] = "c0";
static const char a_cmd[] =
    "81 a3 63 6d 64 95 a4 73 65 6c 66 a6 63 61 6e 63 65 6c 80 92 a4 72 6f 6f 74 a2 75 31 a2 63 31";
static const char a_functype[] =
    "82 a8 66 75 6e 63 74 79 70 65 a9 61 73 79 6e 63 66 75 6e 63 a3 63 69 64 a2 63 31";
static const char a_return[] = "82 a6 72 65 74 75 72 6e c3 a3 63 69 64 a2 63 31";
static const char a_stop[] = "82 a4 73 74 6f 70 c3 a3 63 69 64 a2 63 31";
static const char a_started[] = "82 a7 73 74 61 72 74 65 64 c0 a3 63 69 64 a2 63 31";
static const char a_yield[] = "82 a5 79 69 65 6c 64 01 a3 63 69 64 a2 63 31";
static const char a_error[] =
    "82 a5 65 72 72 6f 72 82 a6 74 62 5f 73 74 72 a1 54 a8 74 79 70 65 5f 73 74 72 aa 56 61 6c"
    " 75 65 45 72 72 6f 72 a3 63 69 64 a2 63 31";

/* ---- recorded traces --------------------------------------------------- */

/* rpc_return.jsonl line 15: {"cmd": ["svc", "echo", {"value": {"a": [1, 2.5, "x", null, t... */
static const char rpc_echo_cmd[] =
    "81a3636d6495a3737663a46563686f81a576616c756581a1619501cb4004000000000000a178c0c392a6636c"
    "69656e74d92437336139346262652d633635352d343461642d383965312d623436316339316633373864d924"
    "38306533306338332d376534372d343030312d613161642d636235383862643963333664";

/* rpc_return.jsonl line 16: {"functype": "asyncfunc", "cid": "80e30c83-7e47-4001-a1ad-cb5... */
static const char rpc_echo_functype[] =
    "82a866756e6374797065a96173796e6366756e63a3636964d92438306533306338332d376534372d34303031"
    "2d613161642d636235383862643963333664";

/* rpc_return.jsonl line 17: {"return": {"a": [1, 2.5, "x", null, true]}, "cid": "80e30c83... */
static const char rpc_echo_return[] =
    "82a672657475726e81a1619501cb4004000000000000a178c0c3a3636964d92438306533306338332d376534"
    "372d343030312d613161642d636235383862643963333664";

/* context_stream.jsonl line 5: ["client", "97d9e1da-83f5-46c4-a618-dc91a43356c9"] */
static const char client_uid[] =
    "92a6636c69656e74d92439376439653164612d383366352d343663342d613631382d64633931613433333536"
    "6339";

/* context_stream.jsonl line 15: {"cmd": ["svc", "ctx_echo", {"first": "hi"}, ["client", "... */
static const char ctx_echo_cmd[] =
    "81a3636d6495a3737663a86374785f6563686f81a56669727374a2686992a6636c69656e74d9243937643965"
    "3164612d383366352d343663342d613631382d646339316134333335366339d92430396630653362342d6234"
    "34312d346433332d396632642d373364396264346530306335";

/* context_stream.jsonl line 16: {"functype": "context", "cid": "09f0e3b4-b441-4d33-9f2d-7... */
static const char ctx_functype[] =
    "82a866756e6374797065a7636f6e74657874a3636964d92430396630653362342d623434312d346433332d39"
    "6632642d373364396264346530306335";

/* context_stream.jsonl line 17: {"started": "hi", "cid": "09f0e3b4-b441-4d33-9f2d-73d9bd4... */
static const char ctx_started[] =
    "82a773746172746564a26869a3636964d92430396630653362342d623434312d346433332d396632642d3733"
    "64396264346530306335";

/* context_stream.jsonl line 18: {"yield": 0, "cid": "09f0e3b4-b441-4d33-9f2d-73d9bd4e00c5"} */
static const char ctx_yield0[] =
    "82a57969656c6400a3636964d92430396630653362342d623434312d346433332d396632642d373364396264"
    "346530306335";

/* context_stream.jsonl line 24: {"stop": true, "cid": "09f0e3b4-b441-4d33-9f2d-73d9bd4e00... */
static const char ctx_stop[] =
    "82a473746f70c3a3636964d92430396630653362342d623434312d346433332d396632642d37336439626434"
    "6530306335";

/* context_stream.jsonl line 27: {"return": 3, "cid": "09f0e3b4-b441-4d33-9f2d-73d9bd4e00c5"} */
static const char ctx_return[] =
    "82a672657475726e03a3636964d92430396630653362342d623434312d346433332d396632642d3733643962"
    "64346530306335";

/* context_overrun.jsonl line 119: {"error": {"tb_str": "Traceback (most recent call last)... */
static const char overrun_error[] =
    "82a56572726f7282a674625f737472da01a354726163656261636b20286d6f737420726563656e742063616c"
    "6c206c617374293a0a202046696c6520223c74726163746f723e2f74726163746f722f5f6163746f722e7079"
    "222c206c696e65203731382c20696e205f707573685f726573756c740a202020207261697365205374726561"
    "6d4f76657272756e2874657874292066726f6d204e6f6e650a74726163746f722e5f657863657074696f6e73"
    "2e53747265616d4f76657272756e3a205461736b20636f6e746578742073747265616d20776173206f766572"
    "72756e0a0a2a2a2a204e6f2073747265616d206f70656e206f6e20606172626974657260207369646521202a"
    "2a2a0a0a6c6f63616c207461736b3a2038633562393533372d653332362d346430332d623434312d62623331"
    "3736306465613361204020282761726269746572272c202735366463653964652d646666622d343438662d39"
    "6436362d32393064616665356364336527290a72656d6f74652073656e6465723a202827636c69656e74272c"
    "202766653938363931612d663563612d343137362d623831652d32663238316539383164323127290aa87479"
    "70655f737472ad53747265616d4f76657272756ea3636964d92438633562393533372d653332362d34643033"
    "2d623434312d626233313736306465613361";

/* registry.jsonl line 21: {"cmd": ["self", "get_registry", {}, ["client", "eda6b252-a8f7-... */
static const char get_registry_cmd[] =
    "81a3636d6495a473656c66ac6765745f72656769737472798092a6636c69656e74d92465646136623235322d"
    "613866372d343966322d383133352d656563373061643961333936d92435313061653462642d383364372d34"
    "3639382d623733342d303236643665353834653937";

/* registry.jsonl line 23: {"return": {"$map": [[["arbiter", "56dce9de-dffb-448f-9d66-290d... */
static const char get_registry_return[] =
    "82a672657475726e8292a761726269746572d92435366463653964652d646666622d343438662d396436362d"
    "32393064616665356364336592a93132372e302e302e31cd44d092a6636c69656e74d9246564613662323532"
    "2d613866372d343966322d383133352d65656337306164396133393692a93132372e302e302e31cd93a7a363"
    "6964d92435313061653462642d383364372d343639382d623733342d303236643665353834653937";

/* k5_cmd_errors.jsonl line 4: {"cmd": ["os", "getcwd", {}, ["rawclient", "6c8b141f-6f15-4... */
static const char k5_cmd_os[] =
    "81a3636d6495a26f73a66765746377648092a9726177636c69656e74d92436633862313431662d366631352d"
    "343236622d626466302d333838326561663838346135d92434666664303837302d353036342d346637342d39"
    "3561322d333939633937386265353762";

/* k5_cmd_errors.jsonl line 5: {"error": {"tb_str": "Traceback (most recent call last):\n ... */
static const char k5_not_exposed[] =
    "82a56572726f7282a674625f737472da021c54726163656261636b20286d6f737420726563656e742063616c"
    "6c206c617374293a0a202046696c6520223c6170703e2f5f6163746f722e7079222c206c696e65203438372c"
    "20696e205f6765745f7270635f66756e630a2020202072657475726e20676574617474722873656c662e5f6d"
    "6f64735b6e735d2c2066756e636e616d65290a202020202020202020202020202020202020207e7e7e7e7e7e"
    "7e7e7e7e5e5e5e5e0a4b65794572726f723a20276f73270a0a447572696e672068616e646c696e67206f6620"
    "7468652061626f766520657863657074696f6e2c20616e6f7468657220657863657074696f6e206f63637572"
    "7265643a0a0a54726163656261636b20286d6f737420726563656e742063616c6c206c617374293a0a202046"
    "696c6520223c6170703e2f5f6163746f722e7079222c206c696e65203933302c20696e205f70726f63657373"
    "5f6d657373616765730a2020202066756e63203d2073656c662e5f6765745f7270635f66756e63286e732c20"
    "66756e636e616d65290a20202020202020202020205e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
    "5e5e5e5e5e5e5e5e5e0a202046696c6520223c6170703e2f5f6163746f722e7079222c206c696e6520353030"
    "2c20696e205f6765745f7270635f66756e630a202020207261697365206d6e650a74726163746f722e5f6578"
    "63657074696f6e732e4d6f64756c654e6f744578706f7365643a206f730aa8747970655f737472b04d6f6475"
    "6c654e6f744578706f736564a3636964d92434666664303837302d353036342d346637342d393561322d3339"
    "39633937386265353762";

/* spawn_run_cancel.jsonl line 13: {"cmd": ["self", "cancel", {}, ["root", "1809b361-dc0d-... */
static const char spawn_cancel_cmd[] =
    "81a3636d6495a473656c66a663616e63656c8092a4726f6f74d92431383039623336312d646330642d343566"
    "612d393363392d313939306466653932623936d92439336230646631322d616264332d343464632d61396331"
    "2d393963376133653638376631";

/* spawn_run_cancel.jsonl line 23: null */
static const char spawn_nil[] = "c0";

/* spawn_run_cancel.jsonl line 4: {"cmd": ["__main__", "add", {"x": 1, "y": 2}, ["root", "... */
static const char spawn_add_cmd[] =
    "81a3636d6495a85f5f6d61696e5f5fa361646482a17801a1790292a4726f6f74d92431383039623336312d64"
    "6330642d343566612d393363392d313939306466653932623936d92438383365343239302d356635612d3437"
    "33312d623637322d376166656637626532346364";

/* ---- helpers ----------------------------------------------------------- */

typedef struct decoded {
    msgpack_zone zone;
    msgpack_object obj;
} decoded;

static const msgpack_object *decode(decoded *d, const char *hex)
{
    CU_ASSERT_FATAL(msgpack_zone_init(&d->zone, 1024));
    CU_ASSERT_EQUAL_FATAL(tu_unpack_hex(hex, &d->zone, &d->obj), 0);
    return &d->obj;
}

static void release(decoded *d)
{
    msgpack_zone_destroy(&d->zone);
}

static int parse_hex(decoded *d, const char *hex, sc_msg *m, sc_err *err)
{
    sc_err_clear(err);
    return sc_msg_parse(decode(d, hex), m, err);
}

typedef struct encoded {
    sc_buf buf;
    msgpack_packer pk;
} encoded;

static msgpack_packer *enc_start(encoded *e)
{
    tu_packer_init(&e->pk, &e->buf);
    return &e->pk;
}

/* Compare the packed bytes with hex, then free them. */
#define ENC_CHECK(e, hex)                                 \
    do {                                                  \
        CU_ASSERT(tu_buf_eq_hex(#hex, &(e)->buf, (hex))); \
        sc_buf_free(&(e)->buf);                           \
    } while (0)

/* Encode a parsed message again with the encoder of its kind; values, kwargs
 * and the like go through msgpack_pack_object, as a relay would. */
static int reencode(msgpack_packer *pk, const sc_msg *m)
{
    switch (m->kind) {
    case SC_MSG_NIL:
        return sc_pack_nil_msg(pk);
    case SC_MSG_CMD:
        if (sc_pack_cmd_begin(pk, m->ns, m->func) != 0 ||
            msgpack_pack_object(pk, *m->kwargs) != 0)
            return -1;
        return sc_pack_cmd_end(pk, &m->caller, m->cid);
    case SC_MSG_FUNCTYPE:
        return sc_pack_functype(pk, m->cid, m->functype);
    case SC_MSG_RETURN:
    case SC_MSG_STARTED:
    case SC_MSG_YIELD:
        if (sc_pack_value_begin(pk, m->kind) != 0 || msgpack_pack_object(pk, *m->value) != 0)
            return -1;
        return sc_pack_value_end(pk, m->cid);
    case SC_MSG_STOP:
        return sc_pack_stop(pk, m->cid);
    case SC_MSG_ERROR:
    case SC_MSG_ACTOR_ERROR:
        return sc_pack_error(pk, m->cid, m->type_str, m->tb_str);
    }
    return -1;
}

/* Parse hex, expect kind, encode it again and expect the same bytes. */
static void roundtrip(const char *hex, sc_msg_kind kind)
{
    decoded d;
    sc_msg m;
    sc_err err;
    encoded e;
    int rc = parse_hex(&d, hex, &m, &err);
    CU_ASSERT_EQUAL(rc, SC_OK);
    CU_ASSERT_EQUAL(m.kind, kind);
    if (rc == SC_OK && m.kind == kind) {
        CU_ASSERT_EQUAL(reencode(enc_start(&e), &m), 0);
        ENC_CHECK(&e, hex);
    } else {
        fprintf(stderr, "\n  %s: rc %d kind %s: %s\n", hex, rc, sc_msg_kind_name(m.kind), err.msg);
    }
    release(&d);
}

/* ---- the byte examples ------------------------------------------------- */

static void test_appendix_parse(void)
{
    decoded d;
    sc_msg m;
    sc_err err;
    sc_uid uid;

    CU_ASSERT_EQUAL(sc_uid_parse(decode(&d, a_uid), &uid, &err), SC_OK);
    CU_ASSERT(sc_str_eq_c(uid.name, "root"));
    CU_ASSERT(sc_str_eq_c(uid.uuid, "0f0e"));
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_nil, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_NIL);
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_cmd, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_CMD);
    CU_ASSERT(sc_str_eq_c(m.ns, "self"));
    CU_ASSERT(sc_str_eq_c(m.func, "cancel"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.kwargs);
    CU_ASSERT_EQUAL(m.kwargs->type, MSGPACK_OBJECT_MAP);
    CU_ASSERT_EQUAL(m.kwargs->via.map.size, 0);
    CU_ASSERT(sc_str_eq_c(m.caller.name, "root"));
    CU_ASSERT(sc_str_eq_c(m.caller.uuid, "u1"));
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_functype, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_FUNCTYPE);
    CU_ASSERT_EQUAL(m.functype, SC_FT_ASYNCFUNC);
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_return, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_RETURN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.value);
    CU_ASSERT_EQUAL(m.value->type, MSGPACK_OBJECT_BOOLEAN);
    CU_ASSERT(m.value->via.boolean);
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_stop, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_STOP);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.value);
    CU_ASSERT_EQUAL(m.value->type, MSGPACK_OBJECT_BOOLEAN);
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_started, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_STARTED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.value);
    CU_ASSERT_EQUAL(m.value->type, MSGPACK_OBJECT_NIL);
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_yield, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_YIELD);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.value);
    CU_ASSERT_EQUAL(m.value->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    CU_ASSERT_EQUAL(m.value->via.u64, 1);
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, a_error, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_ERROR);
    CU_ASSERT(sc_str_eq_c(m.type_str, "ValueError"));
    CU_ASSERT(sc_str_eq_c(m.tb_str, "T"));
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);
}

static void test_appendix_encode(void)
{
    encoded e;
    msgpack_packer *pk;
    const sc_str c1 = SC_STR("c1");
    const sc_uid root = { SC_STR("root"), SC_STR("0f0e") };
    const sc_uid caller = { SC_STR("root"), SC_STR("u1") };

    CU_ASSERT_EQUAL(sc_pack_uid(enc_start(&e), &root), 0);
    ENC_CHECK(&e, a_uid);
    CU_ASSERT_EQUAL(sc_pack_nil_msg(enc_start(&e)), 0);
    ENC_CHECK(&e, a_nil);

    pk = enc_start(&e);
    CU_ASSERT_EQUAL(sc_pack_cmd_begin(pk, SC_STR("self"), SC_STR("cancel")), 0);
    CU_ASSERT_EQUAL(msgpack_pack_map(pk, 0), 0);
    CU_ASSERT_EQUAL(sc_pack_cmd_end(pk, &caller, c1), 0);
    ENC_CHECK(&e, a_cmd);

    CU_ASSERT_EQUAL(sc_pack_functype(enc_start(&e), c1, SC_FT_ASYNCFUNC), 0);
    ENC_CHECK(&e, a_functype);

    pk = enc_start(&e);
    CU_ASSERT_EQUAL(sc_pack_value_begin(pk, SC_MSG_RETURN), 0);
    CU_ASSERT_EQUAL(msgpack_pack_true(pk), 0);
    CU_ASSERT_EQUAL(sc_pack_value_end(pk, c1), 0);
    ENC_CHECK(&e, a_return);

    CU_ASSERT_EQUAL(sc_pack_stop(enc_start(&e), c1), 0);
    ENC_CHECK(&e, a_stop);

    pk = enc_start(&e);
    CU_ASSERT_EQUAL(sc_pack_value_begin(pk, SC_MSG_STARTED), 0);
    CU_ASSERT_EQUAL(msgpack_pack_nil(pk), 0);
    CU_ASSERT_EQUAL(sc_pack_value_end(pk, c1), 0);
    ENC_CHECK(&e, a_started);

    pk = enc_start(&e);
    CU_ASSERT_EQUAL(sc_pack_value_begin(pk, SC_MSG_YIELD), 0);
    CU_ASSERT_EQUAL(msgpack_pack_int(pk, 1), 0);
    CU_ASSERT_EQUAL(sc_pack_value_end(pk, c1), 0);
    ENC_CHECK(&e, a_yield);

    CU_ASSERT_EQUAL(sc_pack_error(enc_start(&e), c1, SC_STR("ValueError"), SC_STR("T")), 0);
    ENC_CHECK(&e, a_error);
}

/* ---- recorded traces --------------------------------------------------- */

static void test_trace_rpc_return(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    CU_ASSERT_EQUAL(parse_hex(&d, rpc_echo_cmd, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_CMD);
    CU_ASSERT(sc_str_eq_c(m.ns, "svc"));
    CU_ASSERT(sc_str_eq_c(m.func, "echo"));
    CU_ASSERT(sc_str_eq_c(m.caller.name, "client"));
    CU_ASSERT(sc_str_eq_c(m.caller.uuid, "73a94bbe-c655-44ad-89e1-b461c91f378d"));
    CU_ASSERT(sc_str_eq_c(m.cid, "80e30c83-7e47-4001-a1ad-cb588bd9c36d"));
    const msgpack_object *value = sc_map_get(m.kwargs, "value");
    CU_ASSERT_PTR_NOT_NULL_FATAL(value);
    CU_ASSERT_EQUAL(value->type, MSGPACK_OBJECT_MAP);
    release(&d);

    roundtrip(rpc_echo_cmd, SC_MSG_CMD);
    roundtrip(rpc_echo_functype, SC_MSG_FUNCTYPE);
    roundtrip(rpc_echo_return, SC_MSG_RETURN);
}

static void test_trace_context_stream(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    CU_ASSERT_EQUAL(parse_hex(&d, ctx_functype, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.functype, SC_FT_CONTEXT);
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, ctx_started, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_STARTED);
    sc_str hi;
    CU_ASSERT(sc_obj_str(m.value, &hi) && sc_str_eq_c(hi, "hi"));
    release(&d);

    roundtrip(ctx_echo_cmd, SC_MSG_CMD);
    roundtrip(ctx_functype, SC_MSG_FUNCTYPE);
    roundtrip(ctx_started, SC_MSG_STARTED);
    roundtrip(ctx_yield0, SC_MSG_YIELD);
    roundtrip(ctx_stop, SC_MSG_STOP);
    roundtrip(ctx_return, SC_MSG_RETURN);
}

static void test_trace_overrun_error(void)
{
    decoded d;
    sc_msg m;
    sc_err err;
    static const char head[] = "Traceback (most recent call last):\n";

    CU_ASSERT_EQUAL(parse_hex(&d, overrun_error, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_ERROR);
    CU_ASSERT(sc_str_eq_c(m.type_str, "StreamOverrun"));
    CU_ASSERT(sc_str_eq_c(m.cid, "8c5b9537-e326-4d03-b441-bb31760dea3a"));
    CU_ASSERT_EQUAL(m.tb_str.len, 419);
    CU_ASSERT(m.tb_str.len > sizeof(head) && memcmp(m.tb_str.ptr, head, sizeof(head) - 1) == 0);
    release(&d);

    /* A tb_str over 255 bytes: str16 on both sides. */
    roundtrip(overrun_error, SC_MSG_ERROR);
}

static void test_trace_registry(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    /* get_registry answers a map keyed by [name, uuid] arrays. */
    CU_ASSERT_EQUAL(parse_hex(&d, get_registry_return, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_RETURN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.value);
    CU_ASSERT_EQUAL_FATAL(m.value->type, MSGPACK_OBJECT_MAP);
    CU_ASSERT_EQUAL_FATAL(m.value->via.map.size, 2);
    CU_ASSERT_EQUAL(m.value->via.map.ptr[0].key.type, MSGPACK_OBJECT_ARRAY);
    CU_ASSERT_EQUAL(m.value->via.map.ptr[1].key.type, MSGPACK_OBJECT_ARRAY);
    /* Array keys are never matched by name. */
    CU_ASSERT_PTR_NULL(sc_map_get(m.value, "arbiter"));
    release(&d);

    roundtrip(get_registry_cmd, SC_MSG_CMD);
    roundtrip(get_registry_return, SC_MSG_RETURN);
}

static void test_trace_cmd_errors(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    CU_ASSERT_EQUAL(parse_hex(&d, k5_cmd_os, &m, &err), SC_OK);
    CU_ASSERT(sc_str_eq_c(m.ns, "os"));
    CU_ASSERT(sc_str_eq_c(m.func, "getcwd"));
    CU_ASSERT(sc_str_eq_c(m.caller.name, "rawclient"));
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, k5_not_exposed, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_ERROR);
    CU_ASSERT(sc_str_eq_c(m.type_str, "ModuleNotExposed"));
    CU_ASSERT(sc_str_eq_c(m.cid, "4ffd0870-5064-4f74-95a2-399c978be57b"));
    release(&d);

    roundtrip(k5_cmd_os, SC_MSG_CMD);
    roundtrip(k5_not_exposed, SC_MSG_ERROR);
}

static void test_trace_spawn(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    CU_ASSERT_EQUAL(parse_hex(&d, spawn_add_cmd, &m, &err), SC_OK);
    CU_ASSERT(sc_str_eq_c(m.ns, "__main__"));
    CU_ASSERT(sc_str_eq_c(m.func, "add"));
    CU_ASSERT_EQUAL(m.kwargs->via.map.size, 2);
    release(&d);

    roundtrip(spawn_add_cmd, SC_MSG_CMD);
    roundtrip(spawn_cancel_cmd, SC_MSG_CMD);
    roundtrip(spawn_nil, SC_MSG_NIL);
}

static void test_trace_handshake(void)
{
    decoded d;
    sc_uid uid;
    sc_err err;
    encoded e;

    CU_ASSERT_EQUAL(sc_uid_parse(decode(&d, client_uid), &uid, &err), SC_OK);
    CU_ASSERT(sc_str_eq_c(uid.name, "client"));
    CU_ASSERT(sc_str_eq_c(uid.uuid, "97d9e1da-83f5-46c4-a618-dc91a43356c9"));
    /* A 36-byte uuid is str8 (d9 24), as msgpack-python writes it. */
    CU_ASSERT_EQUAL(sc_pack_uid(enc_start(&e), &uid), 0);
    ENC_CHECK(&e, client_uid);
    release(&d);
}

/* ---- rejections -------------------------------------------------------- */

static void test_reject_non_map(void)
{
    static const struct {
        const char *hex;
        const char *msg;
    } cases[] = {
        { "c3", "message is not a map but bool" },
        { "c2", "message is not a map but bool" },
        { "2a", "message is not a map but int" },
        { "ff", "message is not a map but int" },
        { "cb3ff8000000000000", "message is not a map but float" },
        { "ca3fc00000", "message is not a map but float" },
        { "a26162", "message is not a map but str" },
        { "c40100", "message is not a map but bin" },
        { "90", "message is not a map but array" },
        { "92a161a175", "message is not a map but array" },
        { "d40100", "message is not a map but ext" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        decoded d;
        sc_msg m;
        sc_err err;
        int rc = parse_hex(&d, cases[i].hex, &m, &err);
        CU_ASSERT_EQUAL(rc, SC_EMSG_CLOSE);
        CU_ASSERT_EQUAL(err.code, SC_EMSG_CLOSE);
        CU_ASSERT_STRING_EQUAL(err.msg, cases[i].msg);
        release(&d);
    }
}

typedef struct reject_case {
    const char *what;
    const char *hex;
    int rc;
    const char *msg;
} reject_case;

static void check_rejects(const reject_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        decoded d;
        sc_msg m;
        sc_err err;
        int rc = parse_hex(&d, cases[i].hex, &m, &err);
        int ok = rc == cases[i].rc && err.code == rc && strcmp(err.msg, cases[i].msg) == 0;
        /* A cmd answered with an error must leave the kind and the cid to
         * answer on. */
        if (rc == SC_EMSG_REPLY)
            ok = ok && m.kind == SC_MSG_CMD && sc_str_eq_c(m.cid, "c1");
        CU_ASSERT(ok);
        if (!ok)
            fprintf(stderr, "\n  %s: rc %d, \"%s\"\n", cases[i].what, rc, err.msg);
        release(&d);
    }
}

static void test_reject_maps(void)
{
    static const reject_case cases[] = {
        { "{\"foo\": 1}", "81a3666f6f01", SC_EMSG_CLOSE, "map has neither cmd nor cid" },
        { "{1: 2}", "810102", SC_EMSG_CLOSE, "map has neither cmd nor cid" },
        { "{}", "80", SC_EMSG_CLOSE, "map has neither cmd nor cid" },
        /* A bin key spelled cid is not the key cid. */
        { "{b\"cid\": \"x\", \"yield\": 1}", "82c403636964a178a57969656c6401", SC_EMSG_CLOSE,
          "map has neither cmd nor cid" },
        { "cid int, no cmd", "82a363696405a57969656c6401", SC_EMSG_DROP,
          "cid must be a non-empty str, got int" },
        /* CID-5: a present cid routes, so the cmd next to it never runs. */
        { "cid int with a cmd", "82a363696405a3636d6495a3737663a1668092a161a175a26331",
          SC_EMSG_DROP, "cid must be a non-empty str, got int" },
        { "cid \"\", no cmd", "82a3636964a0a57969656c6401", SC_EMSG_DROP,
          "cid must be a non-empty str, got an empty str" },
        /* CID-1 step 6: a falsy cid key stops an error from being taken
         * for an actor-level one. */
        { "cid 0 with an error",
          "82a363696400a56572726f7282a674625f737472a154a8747970655f737472a145", SC_EMSG_DROP,
          "cid must be a non-empty str, got int" },
        { "routed, no kind", "82a3636964a26331a17801", SC_EMSG_DROP,
          "message for context c1 carries none of yield/return/started/stop/error/functype" },
        { "routed, no kind, long cid",
          "82a3636964d93c"
          "787878787878787878787878787878787878787878787878787878787878"
          "787878787878787878787878787878787878787878787878787878787878"
          "a17801",
          SC_EMSG_DROP,
          "message for context xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx carries none of "
          "yield/return/started/stop/error/functype" },
        { "functype bogus", "82a866756e6374797065a5626f677573a3636964a26331", SC_EMSG_DROP,
          "functype for context c1 must be asyncfunc, asyncgen or context, got \"bogus\"" },
        { "functype int", "82a866756e637479706503a3636964a26331", SC_EMSG_DROP,
          "functype for context c1 must be a str, got int" },
        { "error not a map", "82a56572726f72a4626f6f6da3636964a26331", SC_EMSG_DROP,
          "message for context c1: error value must be a map, got str" },
        { "error without type_str", "82a56572726f7281a674625f737472a154a3636964a26331",
          SC_EMSG_DROP, "message for context c1: error map has no type_str" },
        { "error type_str int",
          "82a56572726f7282a674625f737472a154a8747970655f73747201a3636964a26331", SC_EMSG_DROP,
          "message for context c1: error type_str must be a str, got int" },
        { "error tb_str nil",
          "82a56572726f7282a674625f737472c0a8747970655f737472a145a3636964a26331", SC_EMSG_DROP,
          "message for context c1: error tb_str must be a str, got nil" },
        { "actor-level error not a map", "81a56572726f729101", SC_EMSG_CLOSE,
          "actor-level error: error value must be a map, got array" },
        { "actor-level error without type_str", "81a56572726f7281a674625f737472a154",
          SC_EMSG_CLOSE, "actor-level error: error map has no type_str" },
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_reject_cmd(void)
{
    static const reject_case cases[] = {
        { "arity 4", "81a3636d6494a3737663a1668092a161a175", SC_EMSG_CLOSE,
          "cmd must be an array of 5 items, got 4" },
        { "arity 6", "81a3636d6496a3737663a1668092a161a175a2633100", SC_EMSG_CLOSE,
          "cmd must be an array of 5 items, got 6" },
        { "cmd a map", "81a3636d6481a26e73a3737663", SC_EMSG_CLOSE,
          "cmd must be an array of 5 items, got map" },
        { "cmd a str", "81a3636d64a26331", SC_EMSG_CLOSE,
          "cmd must be an array of 5 items, got str" },
        { "cmd cid int", "81a3636d6495a3737663a1668092a161a17507", SC_EMSG_CLOSE,
          "cmd field 4 (cid) must be a non-empty str, got int" },
        { "cmd cid empty", "81a3636d6495a3737663a1668092a161a175a0", SC_EMSG_CLOSE,
          "cmd field 4 (cid) must be a non-empty str, got an empty str" },
        { "ns int", "81a3636d649501a1668092a161a175a26331", SC_EMSG_REPLY,
          "cmd field 0 (ns) must be a str, got int" },
        { "func nil", "81a3636d6495a3737663c08092a161a175a26331", SC_EMSG_REPLY,
          "cmd field 1 (func) must be a str, got nil" },
        { "kwargs array", "81a3636d6495a3737663a1669092a161a175a26331", SC_EMSG_REPLY,
          "cmd field 2 (kwargs) must be a map with str keys, got array" },
        { "kwargs int key", "81a3636d6495a3737663a16682a16101020392a161a175a26331", SC_EMSG_REPLY,
          "cmd field 2 (kwargs) must be a map with str keys, got a key of type int" },
        { "caller uid short", "81a3636d6495a3737663a1668091a161a26331", SC_EMSG_REPLY,
          "cmd field 3 (caller uid) must be an array [name, uuid] of str, got an array of "
          "1 item" },
        { "caller uid str", "81a3636d6495a3737663a16680a26175a26331", SC_EMSG_REPLY,
          "cmd field 3 (caller uid) must be an array [name, uuid] of str, got str" },
        { "caller uuid int", "81a3636d6495a3737663a1668092a16105a26331", SC_EMSG_REPLY,
          "cmd field 3 (caller uid) must be an array [name, uuid] of str, got an array "
          "whose item 1 is int" },
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- accepted variants ------------------------------------------------- */

static void test_routing_precedence(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    /* cid and cmd together: routed, and the cmd is not looked at. */
    CU_ASSERT_EQUAL(parse_hex(&d,
                              "83a3636964a26331a672657475726e01a3636d6495a3737663a1668092a161a1"
                              "75a26332",
                              &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_RETURN);
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    CU_ASSERT_PTR_NULL(m.kwargs);
    release(&d);

    /* A nil cid is no cid: the cmd runs on its own cid. */
    CU_ASSERT_EQUAL(parse_hex(&d, "82a3636964c0a3636d6495a3737663a1668092a161a175a26331", &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_CMD);
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);

    /* error beats every other kind key, wherever it sits in the map. */
    CU_ASSERT_EQUAL(parse_hex(&d,
                              "84a57969656c6401a672657475726e02a56572726f7282a674625f737472a154"
                              "a8747970655f737472a145a3636964a26331",
                              &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_ERROR);
    CU_ASSERT(sc_str_eq_c(m.type_str, "E"));
    release(&d);

    /* yield before return, whatever the key order. */
    CU_ASSERT_EQUAL(parse_hex(&d, "83a672657475726e02a57969656c6401a3636964a26331", &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_YIELD);
    CU_ASSERT_EQUAL(m.value->via.u64, 1);
    release(&d);

    /* A repeated key reads as its last value, as in tractor's dict. */
    CU_ASSERT_EQUAL(parse_hex(&d, "83a3636964a161a3636964a162a57969656c6401", &m, &err), SC_OK);
    CU_ASSERT(sc_str_eq_c(m.cid, "b"));
    release(&d);
}

/* CID-1: a cid is present when Python would find it truthy.  A present cid
 * that is not a str drops the message, cmd or not; an absent one lets the
 * cmd beside it run. */
static void test_cid_truthiness(void)
{
    static const struct {
        const char *cid_hex;
        const char *type; /* NULL: falsy, the cmd runs */
    } cases[] = {
        { "c0", NULL },          { "c2", NULL },          { "c3", "bool" },
        { "00", NULL },          { "ff", "int" },         { "01", "int" },
        { "cb0000000000000000", NULL },                   { "cb3ff8000000000000", "float" },
        { "ca00000000", NULL },  { "ca3fc00000", "float" },
        { "a0", NULL },          { "c400", NULL },        { "c40178", "bin" },
        { "90", NULL },          { "9101", "array" },     { "80", NULL },
        { "810102", "map" },     { "d40100", "ext" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hex[128], want[64];
        decoded d;
        sc_msg m;
        sc_err err;
        snprintf(hex, sizeof(hex), "82a3636964%sa3636d6495a3737663a1668092a161a175a26331",
                 cases[i].cid_hex);
        int rc = parse_hex(&d, hex, &m, &err);
        if (cases[i].type) {
            snprintf(want, sizeof(want), "cid must be a non-empty str, got %s", cases[i].type);
            CU_ASSERT_EQUAL(rc, SC_EMSG_DROP);
            CU_ASSERT_STRING_EQUAL(err.msg, want);
        } else {
            CU_ASSERT_EQUAL(rc, SC_OK);
            CU_ASSERT_EQUAL(m.kind, SC_MSG_CMD);
            CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
        }
        release(&d);
    }
}

static void test_accept_variants(void)
{
    decoded d;
    sc_msg m;
    sc_err err;

    /* ERR-5: no tb_str reads as "". */
    CU_ASSERT_EQUAL(parse_hex(&d, "82a56572726f7281a8747970655f737472a145a3636964a26331", &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_ERROR);
    CU_ASSERT(sc_str_eq_c(m.type_str, "E"));
    CU_ASSERT_PTR_NOT_NULL(m.tb_str.ptr);
    CU_ASSERT_EQUAL(m.tb_str.len, 0);
    release(&d);

    /* MSG-7: extra keys in an error map, "message" and an int key included. */
    CU_ASSERT_EQUAL(parse_hex(&d,
                              "82a56572726f7284a8747970655f737472a145a674625f737472a154a76d6573"
                              "73616765a16d0102a3636964a26331",
                              &m, &err),
                    SC_OK);
    CU_ASSERT(sc_str_eq_c(m.type_str, "E"));
    CU_ASSERT(sc_str_eq_c(m.tb_str, "T"));
    release(&d);

    /* Unknown top-level keys, even ones that look like kind keys. */
    CU_ASSERT_EQUAL(parse_hex(&d,
                              "84a672657475726e01a3636964a26331a5657874726181a16b920102a4636d64"
                              "7800",
                              &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_RETURN);
    CU_ASSERT_EQUAL(m.value->via.u64, 1);
    release(&d);

    /* A cmd with an unknown key beside it, and a caller uid with an extra
     * item. */
    CU_ASSERT_EQUAL(parse_hex(&d,
                              "82a3636d6495a3737663a16681a178910193a161a175a46d6f7265a26331a37a"
                              "7a7a01",
                              &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_CMD);
    CU_ASSERT(sc_str_eq_c(m.caller.name, "a"));
    CU_ASSERT(sc_str_eq_c(m.caller.uuid, "u"));
    CU_ASSERT_EQUAL(m.kwargs->via.map.size, 1);
    release(&d);

    /* stop is accepted whatever its value; the value is kept. */
    CU_ASSERT_EQUAL(parse_hex(&d, "82a473746f70c2a3636964a26331", &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_STOP);
    CU_ASSERT_EQUAL(m.value->type, MSGPACK_OBJECT_BOOLEAN);
    CU_ASSERT_FALSE(m.value->via.boolean);
    release(&d);

    CU_ASSERT_EQUAL(parse_hex(&d, "82a866756e6374797065a86173796e6367656ea3636964a26331", &m, &err),
                    SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_FUNCTYPE);
    CU_ASSERT_EQUAL(m.functype, SC_FT_ASYNCGEN);
    release(&d);
}

static void test_actor_error(void)
{
    static const char hex[] =
        "81a56572726f7282a674625f737472a154a8747970655f737472ac52756e74696d654572726f72";
    decoded d;
    sc_msg m;
    sc_err err;

    CU_ASSERT_EQUAL(parse_hex(&d, hex, &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_ACTOR_ERROR);
    CU_ASSERT_PTR_NULL(m.cid.ptr);
    CU_ASSERT(sc_str_eq_c(m.type_str, "RuntimeError"));
    CU_ASSERT(sc_str_eq_c(m.tb_str, "T"));
    release(&d);

    /* The NULL cid of the parsed view packs the map of one key. */
    roundtrip(hex, SC_MSG_ACTOR_ERROR);
}

/* ---- handshake --------------------------------------------------------- */

static void test_uid_parse(void)
{
    static const struct {
        const char *hex;
        const char *name, *uuid;
    } good[] = {
        { "92a161a162", "a", "b" },
        { "93a161a16203", "a", "b" },     /* extra items ignored (HS-5) */
        { "92a0a178", "", "x" },          /* any str, the empty one too */
    };
    static const struct {
        const char *hex;
        const char *msg;
    } bad[] = {
        { "2a", "handshake must be an array [name, uuid] of str, got int" },
        { "c0", "handshake must be an array [name, uuid] of str, got nil" },
        { "a26162", "handshake must be an array [name, uuid] of str, got str" },
        { "82a130a161a131a162", "handshake must be an array [name, uuid] of str, got map" },
        { "90", "handshake must be an array [name, uuid] of str, got an array of 0 items" },
        { "91a178", "handshake must be an array [name, uuid] of str, got an array of 1 item" },
        { "9205a175",
          "handshake must be an array [name, uuid] of str, got an array whose item 0 is int" },
        { "92a161c40175",
          "handshake must be an array [name, uuid] of str, got an array whose item 1 is bin" },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        decoded d;
        sc_uid uid;
        sc_err err;
        CU_ASSERT_EQUAL(sc_uid_parse(decode(&d, good[i].hex), &uid, &err), SC_OK);
        CU_ASSERT(sc_str_eq_c(uid.name, good[i].name));
        CU_ASSERT(sc_str_eq_c(uid.uuid, good[i].uuid));
        release(&d);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        decoded d;
        sc_uid uid;
        sc_err err;
        sc_err_clear(&err);
        CU_ASSERT_EQUAL(sc_uid_parse(decode(&d, bad[i].hex), &uid, &err), SC_EPROTO);
        CU_ASSERT_EQUAL(err.code, SC_EPROTO);
        CU_ASSERT_STRING_EQUAL(err.msg, bad[i].msg);
        release(&d);
    }
    /* A NULL err is allowed. */
    decoded d;
    sc_uid uid;
    CU_ASSERT_EQUAL(sc_uid_parse(decode(&d, "2a"), &uid, NULL), SC_EPROTO);
    release(&d);
}

/* ---- lookups and names ------------------------------------------------- */

static void test_lookups(void)
{
    decoded d;
    sc_str s;
    const msgpack_object *o;

    o = decode(&d, "82c403636964a178a57969656c6401");
    CU_ASSERT_PTR_NULL(sc_map_get(o, "cid"));
    CU_ASSERT_PTR_NOT_NULL(sc_map_get(o, "yield"));
    CU_ASSERT_PTR_NULL(sc_map_get(o, "yiel"));
    CU_ASSERT_PTR_NULL(sc_map_get(o, "yields"));
    CU_ASSERT_FALSE(sc_obj_str(&o->via.map.ptr[0].key, &s));   /* bin is not str */
    CU_ASSERT_TRUE(sc_obj_str(&o->via.map.ptr[1].key, &s));
    CU_ASSERT(sc_str_eq_c(s, "yield"));
    release(&d);

    o = decode(&d, "81a001");
    CU_ASSERT_PTR_NOT_NULL(sc_map_get(o, ""));
    release(&d);

    o = decode(&d, "92a161a162");
    CU_ASSERT_PTR_NULL(sc_map_get(o, "a"));
    release(&d);
}

static void test_names(void)
{
    static const struct {
        msgpack_object_type type;
        const char *name;
    } types[] = {
        { MSGPACK_OBJECT_NIL, "nil" },
        { MSGPACK_OBJECT_BOOLEAN, "bool" },
        { MSGPACK_OBJECT_POSITIVE_INTEGER, "int" },
        { MSGPACK_OBJECT_NEGATIVE_INTEGER, "int" },
        { MSGPACK_OBJECT_FLOAT32, "float" },
        { MSGPACK_OBJECT_FLOAT64, "float" },
        { MSGPACK_OBJECT_STR, "str" },
        { MSGPACK_OBJECT_BIN, "bin" },
        { MSGPACK_OBJECT_ARRAY, "array" },
        { MSGPACK_OBJECT_MAP, "map" },
        { MSGPACK_OBJECT_EXT, "ext" },
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        msgpack_object o = { .type = types[i].type };
        CU_ASSERT_STRING_EQUAL(sc_obj_type_name(&o), types[i].name);
    }
    msgpack_object bogus = { .type = (msgpack_object_type)0x7f };
    CU_ASSERT_STRING_EQUAL(sc_obj_type_name(&bogus), "unknown");
    CU_ASSERT_STRING_EQUAL(sc_functype_name(SC_FT_ASYNCFUNC), "asyncfunc");
    CU_ASSERT_STRING_EQUAL(sc_functype_name(SC_FT_ASYNCGEN), "asyncgen");
    CU_ASSERT_STRING_EQUAL(sc_functype_name(SC_FT_CONTEXT), "context");
    CU_ASSERT_STRING_EQUAL(sc_functype_name((sc_functype)3), "unknown");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_NIL), "nil");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_CMD), "cmd");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_FUNCTYPE), "functype");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_RETURN), "return");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_STARTED), "started");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_YIELD), "yield");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_STOP), "stop");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_ERROR), "error");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name(SC_MSG_ACTOR_ERROR), "actor error");
    CU_ASSERT_STRING_EQUAL(sc_msg_kind_name((sc_msg_kind)42), "unknown");
}

/* ---- encoder edges ----------------------------------------------------- */

static void test_pack_str_formats(void)
{
    encoded e;
    char s[257];
    memset(s, 'x', sizeof(s));

    /* msgpack-python: fixstr up to 31 bytes, str8 (d9) from 32, str16 (da)
     * from 256; never the raw types. */
    CU_ASSERT_EQUAL(sc_pack_str(enc_start(&e), (sc_str){ s, 31 }), 0);
    CU_ASSERT_EQUAL(sc_buf_size(&e.buf), 32);
    CU_ASSERT_EQUAL((unsigned char)sc_buf_head(&e.buf)[0], 0xbf);
    sc_buf_free(&e.buf);
    CU_ASSERT_EQUAL(sc_pack_str(enc_start(&e), (sc_str){ s, 32 }), 0);
    CU_ASSERT_EQUAL(sc_buf_size(&e.buf), 34);
    CU_ASSERT_EQUAL((unsigned char)sc_buf_head(&e.buf)[0], 0xd9);
    CU_ASSERT_EQUAL((unsigned char)sc_buf_head(&e.buf)[1], 32);
    sc_buf_free(&e.buf);
    CU_ASSERT_EQUAL(sc_pack_str(enc_start(&e), (sc_str){ s, 256 }), 0);
    CU_ASSERT_EQUAL(sc_buf_size(&e.buf), 259);
    CU_ASSERT_EQUAL(memcmp(sc_buf_head(&e.buf), "\xda\x01\x00", 3), 0);
    sc_buf_free(&e.buf);

    /* The empty view needs no pointer. */
    CU_ASSERT_EQUAL(sc_pack_str(enc_start(&e), (sc_str){ NULL, 0 }), 0);
    ENC_CHECK(&e, "a0");
    CU_ASSERT_EQUAL(sc_pack_cstr(enc_start(&e), "cid"), 0);
    ENC_CHECK(&e, "a3636964");

    /* An error without cid, and every functype. */
    CU_ASSERT_EQUAL(sc_pack_error(enc_start(&e), (sc_str){ NULL, 0 }, SC_STR("E"), SC_STR("")), 0);
    ENC_CHECK(&e, "81a56572726f7282a674625f737472a0a8747970655f737472a145");
    CU_ASSERT_EQUAL(sc_pack_functype(enc_start(&e), SC_STR("c1"), SC_FT_ASYNCGEN), 0);
    ENC_CHECK(&e, "82a866756e6374797065a86173796e6367656ea3636964a26331");
    CU_ASSERT_EQUAL(sc_pack_functype(enc_start(&e), SC_STR("c1"), SC_FT_CONTEXT), 0);
    ENC_CHECK(&e, "82a866756e6374797065a7636f6e74657874a3636964a26331");
}

static void test_pack_bad_args(void)
{
    encoded e;
    static const sc_msg_kind not_values[] = { SC_MSG_NIL, SC_MSG_CMD, SC_MSG_FUNCTYPE,
                                              SC_MSG_STOP, SC_MSG_ERROR, SC_MSG_ACTOR_ERROR };
    for (size_t i = 0; i < sizeof(not_values) / sizeof(not_values[0]); i++) {
        CU_ASSERT_EQUAL(sc_pack_value_begin(enc_start(&e), not_values[i]), -1);
        CU_ASSERT_EQUAL(sc_buf_size(&e.buf), 0);
        sc_buf_free(&e.buf);
    }
    CU_ASSERT_EQUAL(sc_pack_functype(enc_start(&e), SC_STR("c1"), (sc_functype)3), -1);
    CU_ASSERT_EQUAL(sc_buf_size(&e.buf), 0);
    sc_buf_free(&e.buf);
    /* Longer than a str32 header can say: refused before anything is read. */
    CU_ASSERT_EQUAL(sc_pack_str(enc_start(&e), (sc_str){ "x", (size_t)UINT32_MAX + 1 }), -1);
    CU_ASSERT_EQUAL(sc_buf_size(&e.buf), 0);
    sc_buf_free(&e.buf);
}

/* A writer that accepts `left` writes and then fails, to reach every
 * failure branch of an encoder. */
static int budget_write(void *data, const char *p, size_t n)
{
    int *left = data;
    (void)p;
    (void)n;
    return (*left)-- > 0 ? 0 : -1;
}

static const sc_uid caller_u = { { "root", 4 }, { "u1", 2 } };

static int pack_uid_(msgpack_packer *pk) { return sc_pack_uid(pk, &caller_u); }
static int pack_nil_(msgpack_packer *pk) { return sc_pack_nil_msg(pk); }
static int pack_functype_(msgpack_packer *pk)
{
    return sc_pack_functype(pk, SC_STR("c1"), SC_FT_CONTEXT);
}
static int pack_value_(msgpack_packer *pk)
{
    if (sc_pack_value_begin(pk, SC_MSG_YIELD) != 0 || msgpack_pack_int(pk, 1) != 0)
        return -1;
    return sc_pack_value_end(pk, SC_STR("c1"));
}
static int pack_stop_(msgpack_packer *pk) { return sc_pack_stop(pk, SC_STR("c1")); }
static int pack_error_(msgpack_packer *pk)
{
    return sc_pack_error(pk, SC_STR("c1"), SC_STR("E"), SC_STR("T"));
}
static int pack_actor_error_(msgpack_packer *pk)
{
    return sc_pack_error(pk, (sc_str){ NULL, 0 }, SC_STR("E"), SC_STR("T"));
}
static int pack_cmd_(msgpack_packer *pk)
{
    if (sc_pack_cmd_begin(pk, SC_STR("self"), SC_STR("cancel")) != 0 ||
        msgpack_pack_map(pk, 0) != 0)
        return -1;
    return sc_pack_cmd_end(pk, &caller_u, SC_STR("c1"));
}

static void test_pack_writer_failure(void)
{
    static int (*const encoders[])(msgpack_packer *) = {
        pack_uid_, pack_nil_, pack_functype_, pack_value_,
        pack_stop_, pack_error_, pack_actor_error_, pack_cmd_,
    };
    for (size_t i = 0; i < sizeof(encoders) / sizeof(encoders[0]); i++) {
        msgpack_packer pk;
        int left = 1000;
        msgpack_packer_init(&pk, &left, budget_write);
        CU_ASSERT_EQUAL_FATAL(encoders[i](&pk), 0);
        int writes = 1000 - left;
        CU_ASSERT(writes > 0);
        for (int k = 0; k < writes; k++) {
            left = k;
            CU_ASSERT_EQUAL(encoders[i](&pk), -1);
        }
    }

    /* Through an sc_buf at its cap: -1, and the buffer says why. */
    encoded e;
    msgpack_packer *pk = enc_start(&e);
    e.buf.max = 8;
    CU_ASSERT_EQUAL(sc_pack_error(pk, SC_STR("c1"), SC_STR("ValueError"), SC_STR("T")), -1);
    CU_ASSERT_EQUAL(e.buf.write_rc, SC_ELIMIT);
    sc_buf_free(&e.buf);
}

/* RPC-2, RPC-3: an empty ns or func is a str like any other, so the message
 * is a command (dispatch then finds nothing under that name). */
static void test_cmd_with_empty_ns_and_func_is_a_command(void)
{
    decoded d;
    sc_msg m;
    sc_err err;
    /* {"cmd": ["", "", {}, ["a", "u"], "c1"]} */
    CU_ASSERT_EQUAL(parse_hex(&d, "81a3636d6495a0a08092a161a175a26331", &m, &err), SC_OK);
    CU_ASSERT_EQUAL(m.kind, SC_MSG_CMD);
    CU_ASSERT_EQUAL(m.ns.len, 0);
    CU_ASSERT_EQUAL(m.func.len, 0);
    CU_ASSERT(sc_str_eq_c(m.cid, "c1"));
    release(&d);
}

int register_msg_tests(void)
{
    static CU_TestInfo tests[] = {
        { "cmd_with_empty_ns_and_func_is_a_command", test_cmd_with_empty_ns_and_func_is_a_command },
        { "appendix_parse", test_appendix_parse },
        { "appendix_encode", test_appendix_encode },
        { "trace_rpc_return", test_trace_rpc_return },
        { "trace_context_stream", test_trace_context_stream },
        { "trace_overrun_error", test_trace_overrun_error },
        { "trace_registry", test_trace_registry },
        { "trace_cmd_errors", test_trace_cmd_errors },
        { "trace_spawn", test_trace_spawn },
        { "trace_handshake", test_trace_handshake },
        { "reject_non_map", test_reject_non_map },
        { "reject_maps", test_reject_maps },
        { "reject_cmd", test_reject_cmd },
        { "routing_precedence", test_routing_precedence },
        { "cid_truthiness", test_cid_truthiness },
        { "accept_variants", test_accept_variants },
        { "actor_error", test_actor_error },
        { "uid_parse", test_uid_parse },
        { "lookups", test_lookups },
        { "names", test_names },
        { "pack_str_formats", test_pack_str_formats },
        { "pack_bad_args", test_pack_bad_args },
        { "pack_writer_failure", test_pack_writer_failure },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("msg", tests);
}
