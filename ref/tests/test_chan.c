/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_chan.c - unit tests of the channel (chan.h): the handshake of spec
 * HS-5/HS-6 from the bytes of real traces, message events with their parse
 * result, feeding in any split, both codecs, the senders producing exactly the
 * bytes tractor 0.1.0a4 sends (details.md Appendix A and trace lines), the
 * output cap and the message limit on output, EOF inside a message, codec
 * errors, and allocation failure on every path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <msgpack.h>

#include "chan.h"
#include "suites.h"
#include "testutil.h"

/* ---- bytes -------------------------------------------------------------- */

/* details.md Appendix A */
#define HEX_UID_ROOT "92a4726f6f74a430663065"   /* ['root', '0f0e'] */
#define HEX_NIL "c0"
#define HEX_CMD_CANCEL "81a3636d6495a473656c66a663616e63656c8092a4726f6f74a27531a26331"
#define HEX_FUNCTYPE_ASYNCFUNC "82a866756e6374797065a96173796e6366756e63a3636964a26331"
#define HEX_RETURN_TRUE "82a672657475726ec3a3636964a26331"
#define HEX_STOP "82a473746f70c3a3636964a26331"
#define HEX_STARTED_NONE "82a773746172746564c0a3636964a26331"
#define HEX_YIELD_1 "82a57969656c6401a3636964a26331"
#define HEX_ERROR_VALUEERROR                                                            \
    "82a56572726f7282a674625f737472a154a8747970655f737472aa56616c75654572726f72a3636964" \
    "a26331"

/* Trace lines. */
#define CLIENT_UUID "f564d782-789f-431f-b066-cd81a11d7fda"
#define ARBITER_UUID "06b0b833-830c-4187-b6b3-165a870c66bd"
/* i_registry.jsonl c2 c2s: the client's uid */
#define HEX_UID_CLIENT                                                                        \
    "92a6636c69656e74d92466353634643738322d373839662d343331662d623036362d6364383161313164" \
    "37666461"
/* i_registry.jsonl c2 s2c: the arbiter's uid */
#define HEX_UID_ARBITER                                                                       \
    "92a761726269746572d92430366230623833332d383330632d343138372d623662332d3136356138373063" \
    "36366264"
#define REG_CID "d40c3e9d-fbca-461e-9824-eb86274e4cef"
/* i_registry.jsonl c2 s2c: {'functype': 'asyncfunc', 'cid': REG_CID} */
#define HEX_FUNCTYPE_REG                                                                      \
    "82a866756e6374797065a96173796e6366756e63a3636964d92464343063336539642d666263612d343631" \
    "652d393832342d656238363237346534636566"
/* i_registry.jsonl c2 s2c: {'return': None, 'cid': REG_CID} */
#define HEX_RETURN_NONE_REG                                                                   \
    "82a672657475726ec0a3636964d92464343063336539642d666263612d343631652d393832342d65623836" \
    "3237346534636566"
#define FIND_CID "0eb8309c-404f-4bfe-b4be-ed38abcf804f"
/* i_registry.jsonl c3 s2c: {'return': ['127.0.0.1', 46833], 'cid': FIND_CID} */
#define HEX_RETURN_ADDR_FIND                                                                  \
    "82a672657475726e92a93132372e302e302e31cdb6f1a3636964d92430656238333039632d343034662d34" \
    "6266652d623462652d656433386162636638303466"
#define AG_CID "599ea8d5-0861-4c87-9849-ea8c03c839c2"
/* asyncgen.jsonl c3 s2c */
#define HEX_YIELD_0_AG                                                                        \
    "82a57969656c6400a3636964d92435393965613864352d303836312d346338372d393834392d6561386330" \
    "33633833396332"
#define HEX_STOP_AG                                                                           \
    "82a473746f70c3a3636964d92435393965613864352d303836312d346338372d393834392d656138633033" \
    "633833396332"
#define CS_CID "09f0e3b4-b441-4d33-9f2d-73d9bd4e00c5"
/* context_stream.jsonl c3 s2c: {'started': 'hi', 'cid': CS_CID} */
#define HEX_STARTED_HI_CS                                                                     \
    "82a773746172746564a26869a3636964d92430396630653362342d623434312d346433332d396632642d37" \
    "3364396264346530306335"
/* j_unknown_cid.jsonl: {'error': {'tb_str': 'fake', 'type_str': 'ValueError'}, 'cid':
 * 'no-such-cid-4'} */
#define HEX_ERROR_FAKE                                                                        \
    "82a56572726f7282a674625f737472a466616b65a8747970655f737472aa56616c75654572726f72a36369" \
    "64ad6e6f2d737563682d6369642d34"

static const sc_codec codecs[] = { SC_CODEC_MSGPACK, SC_CODEC_LENPREFIX };
#define NCODECS 2

/* Bytes of one message as the codec frames it: the msgpack object, with a
 * 4-byte little-endian length before it for lenprefix.  Returns the length. */
static size_t frame_hex(sc_codec codec, const char *hex, char *out, size_t cap)
{
    size_t hdr = codec == SC_CODEC_LENPREFIX ? 4 : 0;
    size_t n = tu_unhex(hex, out + hdr, cap - hdr);
    CU_ASSERT_FATAL(n != (size_t)-1);
    if (hdr) {
        out[0] = (char)(n & 0xff);
        out[1] = (char)(n >> 8 & 0xff);
        out[2] = (char)(n >> 16 & 0xff);
        out[3] = (char)(n >> 24 & 0xff);
    }
    return hdr + n;
}

/* The expected hex of one framed message. */
static void framed_hex(sc_codec codec, const char *hex, char *out, size_t cap)
{
    out[0] = '\0';
    if (codec == SC_CODEC_LENPREFIX) {
        size_t n = 0;
        for (const char *p = hex; *p; p++)
            n += *p != ' ';
        n /= 2;
        snprintf(out, cap, "%02x%02x%02x%02x", (unsigned)(n & 0xff), (unsigned)(n >> 8 & 0xff),
                 (unsigned)(n >> 16 & 0xff), (unsigned)(n >> 24 & 0xff));
    }
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s", hex);
}

static void lim_default(sc_limits *lim)
{
    sc_limits_default(lim);
}

static void chan_open(sc_chan *c, sc_codec codec, size_t out_cap)
{
    sc_limits lim;
    lim_default(&lim);
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_chan_init(c, codec, &lim, out_cap, &err), SC_OK);
}

static int feed_hex(sc_chan *c, const char *hex)
{
    static char bytes[8192];
    size_t n = frame_hex(c->codec, hex, bytes, sizeof(bytes));
    sc_err err;
    return sc_chan_feed(c, bytes, n, &err);
}

/* A channel that has taken the handshake ['root', '0f0e']. */
static void chan_open_handshaken(sc_chan *c, sc_codec codec)
{
    chan_open(c, codec, 0);
    CU_ASSERT_EQUAL_FATAL(feed_hex(c, HEX_UID_ROOT), SC_OK);
    sc_chan_event ev;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_chan_next(c, &ev, &err), SC_OK);
    CU_ASSERT_EQUAL_FATAL(ev.kind, SC_CHAN_EV_HANDSHAKE);
}

/* What the tests compare of an event, copied out of the frame. */
typedef struct rec {
    int rc;
    sc_chan_event_kind kind;
    int parse_rc;
    sc_msg_kind msg_kind;
    char cid[64];
    char peer[96];
    char value[64];   /* hex of the value's bytes, if any */
    size_t raw_len;
} rec;

static void value_hex(const msgpack_object *v, char *out, size_t cap)
{
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    out[0] = '\0';
    if (msgpack_pack_object(&pk, *v) == 0 && sc_buf_size(&b) * 2 < cap)
        tu_hex(sc_buf_head(&b), sc_buf_size(&b), out);
    sc_buf_free(&b);
}

/* Take events until SC_AGAIN or an error; returns how many recs were filled
 * (an error is recorded as the last rec). */
static size_t drain(sc_chan *c, rec *recs, size_t max)
{
    size_t n = 0;
    while (n < max) {
        sc_chan_event ev;
        sc_err err;
        int rc = sc_chan_next(c, &ev, &err);
        if (rc == SC_AGAIN)
            break;
        rec *r = &recs[n++];
        memset(r, 0, sizeof(*r));
        r->rc = rc;
        if (rc != SC_OK)
            break;
        r->kind = ev.kind;
        r->raw_len = ev.raw_len;
        if (ev.kind == SC_CHAN_EV_HANDSHAKE) {
            snprintf(r->peer, sizeof(r->peer), "%.*s|%.*s", (int)c->peer.name.len,
                     c->peer.name.ptr, (int)c->peer.uuid.len, c->peer.uuid.ptr);
            continue;
        }
        r->parse_rc = ev.parse_rc;
        r->msg_kind = ev.msg.kind;
        snprintf(r->cid, sizeof(r->cid), "%.*s", (int)ev.msg.cid.len,
                 ev.msg.cid.ptr ? ev.msg.cid.ptr : "");
        if (ev.msg.value)
            value_hex(ev.msg.value, r->value, sizeof(r->value));
    }
    return n;
}

static int recs_equal(const rec *a, const rec *b)
{
    return a->rc == b->rc && a->kind == b->kind && a->parse_rc == b->parse_rc &&
           a->msg_kind == b->msg_kind && strcmp(a->cid, b->cid) == 0 &&
           strcmp(a->peer, b->peer) == 0 && strcmp(a->value, b->value) == 0 &&
           a->raw_len == b->raw_len;
}

/* ---- life cycle ------------------------------------------------------------ */

static void test_init_and_destroy(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 1000);
        CU_ASSERT_EQUAL(c.codec, codecs[i]);
        CU_ASSERT_EQUAL(c.state, SC_CHAN_HANDSHAKE);
        CU_ASSERT_PTR_NOT_NULL(c.reader);
        CU_ASSERT_EQUAL(c.out.max, 1000);
        CU_ASSERT_EQUAL(sc_chan_output_size(&c), 0);
        CU_ASSERT_EQUAL(sc_chan_input_pending(&c), 0);
        CU_ASSERT_PTR_NULL(c.peer_name);
        CU_ASSERT_PTR_NULL(c.peer_uuid);
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_finish(&c, &err), SC_OK);
        sc_chan_destroy(&c);
        CU_ASSERT_PTR_NULL(c.reader);
        CU_ASSERT_PTR_NULL(c.out.data);
    }
}

static void test_init_with_an_unknown_codec_fails_cleanly(void)
{
    sc_chan c;
    sc_limits lim;
    lim_default(&lim);
    sc_err err;
    sc_err_clear(&err);
    CU_ASSERT_EQUAL(sc_chan_init(&c, (sc_codec)7, &lim, 0, &err), SC_EARG);
    CU_ASSERT_EQUAL(err.code, SC_EARG);
    CU_ASSERT(err.msg[0] != '\0');
    CU_ASSERT_PTR_NULL(c.reader);
    sc_chan_destroy(&c);
}

/* ---- handshake ------------------------------------------------------------- */

static void test_handshake_from_the_bytes_of_appendix_a(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_chan_event ev;
        sc_err err;
        CU_ASSERT_EQUAL(feed_hex(&c, "92 a4 72 6f 6f 74 a4 30 66 30 65"), SC_OK);
        CU_ASSERT_EQUAL_FATAL(sc_chan_next(&c, &ev, &err), SC_OK);
        CU_ASSERT_EQUAL(ev.kind, SC_CHAN_EV_HANDSHAKE);
        CU_ASSERT_EQUAL(ev.raw_len, 11);
        CU_ASSERT_EQUAL(c.state, SC_CHAN_OPEN);
        CU_ASSERT(sc_str_eq_c(c.peer.name, "root"));
        CU_ASSERT(sc_str_eq_c(c.peer.uuid, "0f0e"));
        CU_ASSERT_STRING_EQUAL(c.peer_name, "root");
        CU_ASSERT_STRING_EQUAL(c.peer_uuid, "0f0e");
        /* The uid is a copy: it survives the frame. */
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_AGAIN);
        CU_ASSERT_EQUAL(feed_hex(&c, HEX_NIL), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
        CU_ASSERT_STRING_EQUAL(c.peer_name, "root");
        CU_ASSERT_EQUAL(sc_chan_input_pending(&c), 0);
        sc_chan_destroy(&c);
    }
}

/* Regression: buf.h sc_buf_head returns b->data + b->off, which is arithmetic on a
 * NULL pointer while the buffer has never been allocated (UB; clang's
 * -fsanitize=undefined reports "applying zero offset to null pointer" at
 * buf.h:28).  codec.c locate() calls it first thing, so sc_chan_next on a
 * channel that has not been fed yet (or sc_reader_next on a fresh reader)
 * hits it.  Expected: SC_AGAIN without UB (e.g. return "" or check the size
 * first).  Build with clang and UBSAN_OPTIONS=halt_on_error=1 to see it
 * fail; gcc's UBSan does not flag it. */
static void test_next_before_any_input_is_again(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_chan_event ev;
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_AGAIN);
        CU_ASSERT_EQUAL(c.state, SC_CHAN_HANDSHAKE);
        sc_chan_destroy(&c);
    }
}

static void test_handshake_from_trace_with_a_36_char_uuid(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        CU_ASSERT_EQUAL(feed_hex(&c, HEX_UID_CLIENT), SC_OK);
        sc_chan_event ev;
        sc_err err;
        CU_ASSERT_EQUAL_FATAL(sc_chan_next(&c, &ev, &err), SC_OK);
        CU_ASSERT_EQUAL(ev.kind, SC_CHAN_EV_HANDSHAKE);
        CU_ASSERT_EQUAL(ev.raw_len, 46);
        CU_ASSERT_STRING_EQUAL(c.peer_name, "client");
        CU_ASSERT_STRING_EQUAL(c.peer_uuid, CLIENT_UUID);
        CU_ASSERT_EQUAL(c.peer.uuid.len, 36);
        sc_chan_destroy(&c);
    }
}

static void test_handshake_with_extra_items_is_accepted(void)
{
    /* HS-5: further items are ignored, whatever they are. */
    static const char *const cases[] = {
        "93a4726f6f74a430663065c0",             /* ['root', '0f0e', None] */
        "94a161a1620381a16b90",                   /* ['a', 'b', 3, {'k': []}] */
        "dc0003a161a162a163",                   /* array16 ['a', 'b', 'c'] */
    };
    static const char *const peers[][2] = { { "root", "0f0e" }, { "a", "b" }, { "a", "b" } };
    for (int i = 0; i < NCODECS; i++) {
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            sc_chan c;
            chan_open(&c, codecs[i], 0);
            CU_ASSERT_EQUAL(feed_hex(&c, cases[k]), SC_OK);
            sc_chan_event ev;
            sc_err err;
            CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
            CU_ASSERT_EQUAL(ev.kind, SC_CHAN_EV_HANDSHAKE);
            CU_ASSERT_EQUAL(c.state, SC_CHAN_OPEN);
            if (c.peer_name && c.peer_uuid) {
                CU_ASSERT_STRING_EQUAL(c.peer_name, peers[k][0]);
                CU_ASSERT_STRING_EQUAL(c.peer_uuid, peers[k][1]);
            }
            sc_chan_destroy(&c);
        }
    }
}

static void test_handshake_accepts_odd_strings(void)
{
    /* HS-5: the format of the uuid is not checked. */
    sc_chan c;
    chan_open(&c, SC_CODEC_MSGPACK, 0);
    CU_ASSERT_EQUAL(feed_hex(&c, "92a120a3782079"), SC_OK);   /* [' ', 'x y'] */
    sc_chan_event ev;
    sc_err err;
    CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
    CU_ASSERT(sc_str_eq_c(c.peer.name, " "));
    CU_ASSERT(sc_str_eq_c(c.peer.uuid, "x y"));
    sc_chan_destroy(&c);
}

/* Regression: common.c sc_strndup(s, n) calls memcpy(d, s, n) unconditionally, and
 * msgpack-c decodes a zero-length str with via.str.ptr == NULL, so the
 * handshake ['', 'x y'] (92 a0 a3 78 20 79) makes chan.c take_peer_uid call
 * memcpy(d, NULL, 0): undefined behaviour, reported by UBSan ("null pointer
 * passed as argument 2") at common.c sc_strndup.  The same reaches
 * registry.c sc_registry_put for a register_actor whose uid name or uuid is
 * "", and ctx.c sc_ctx_init copies its three parts with the same unguarded
 * memcpy.  Expected: no UB (copy only when n > 0).  Run with
 * UBSAN_OPTIONS=halt_on_error=1 to see it fail. */
static void test_handshake_accepts_an_empty_name(void)
{
    sc_chan c;
    chan_open(&c, SC_CODEC_MSGPACK, 0);
    CU_ASSERT_EQUAL(feed_hex(&c, "92a0a3782079"), SC_OK);   /* ['', 'x y'] */
    sc_chan_event ev;
    sc_err err;
    CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
    CU_ASSERT_EQUAL(c.peer.name.len, 0);
    CU_ASSERT_PTR_NOT_NULL(c.peer_name);
    CU_ASSERT(sc_str_eq_c(c.peer.uuid, "x y"));
    sc_chan_destroy(&c);
}

static void test_handshake_rejections_fail_the_channel(void)
{
    /* HS-6, and details.md section 9: each of these made tractor exit. */
    static const char *const cases[] = {
        "2a",                        /* 42 (k4_bad_uid.jsonl) */
        "c0",                        /* nil */
        "c3",                        /* true */
        "cb3ff8000000000000",        /* 1.5 */
        "a26162",                    /* 'ab': tractor takes it as ('a', 'b') */
        "c403726f6f",                /* bin */
        "82a130a161a131a162",        /* {'0': 'a', '1': 'b'} */
        "80",                        /* {} */
        "90",                        /* [] */
        "91a4726f6f74",              /* ['root'] */
        "9205a430663065",            /* [5, '0f0e'] */
        "92a4726f6f7405",            /* ['root', 5] */
        "92c0c0",                    /* [None, None] */
        "92c403726f6fa430663065",    /* [b'roo', '0f0e'] */
        "9292a161a162a163",          /* [['a', 'b'], 'c'] */
    };
    for (int i = 0; i < NCODECS; i++) {
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            sc_chan c;
            chan_open(&c, codecs[i], 0);
            CU_ASSERT_EQUAL(feed_hex(&c, cases[k]), SC_OK);
            sc_chan_event ev;
            sc_err err;
            sc_err_clear(&err);
            int rc = sc_chan_next(&c, &ev, &err);
            if (rc != SC_EPROTO)
                fprintf(stderr, "\nhandshake %s (%s): rc %d\n", cases[k],
                        sc_codec_name(codecs[i]), rc);
            CU_ASSERT_EQUAL(rc, SC_EPROTO);
            CU_ASSERT_EQUAL(err.code, SC_EPROTO);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "handshake"));
            CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
            CU_ASSERT_PTR_NULL(c.peer_name);
            /* Failed for good: no more events, no more input. */
            CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_ESTATE);
            CU_ASSERT_EQUAL(feed_hex(&c, HEX_UID_ROOT), SC_ESTATE);
            CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
            sc_chan_destroy(&c);
        }
    }
}

static void test_handshake_error_names_what_was_found(void)
{
    static const struct {
        const char *hex;
        const char *found;
    } cases[] = {
        { "2a", "int" },
        { "c0", "nil" },
        { "80", "map" },
        { "91a4726f6f74", "1 item" },
        { "9205a430663065", "item 0 is int" },
        { "92a4726f6f7405", "item 1 is int" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        sc_chan c;
        chan_open(&c, SC_CODEC_MSGPACK, 0);
        CU_ASSERT_EQUAL(feed_hex(&c, cases[k].hex), SC_OK);
        sc_chan_event ev;
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_EPROTO);
        if (!strstr(err.msg, cases[k].found))
            fprintf(stderr, "\nhandshake %s: message \"%s\" lacks \"%s\"\n", cases[k].hex,
                    err.msg, cases[k].found);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, cases[k].found));
        sc_chan_destroy(&c);
    }
}

/* ---- messages -------------------------------------------------------------- */

static const struct {
    const char *hex;
    int parse_rc;
    sc_msg_kind kind;
    const char *cid;
    const char *value;   /* hex of the value, or NULL when none */
} msg_cases[] = {
    { HEX_CMD_CANCEL, SC_OK, SC_MSG_CMD, "c1", NULL },
    { HEX_FUNCTYPE_ASYNCFUNC, SC_OK, SC_MSG_FUNCTYPE, "c1", NULL },
    { HEX_RETURN_TRUE, SC_OK, SC_MSG_RETURN, "c1", "c3" },
    { HEX_STOP, SC_OK, SC_MSG_STOP, "c1", "c3" },
    { HEX_STARTED_NONE, SC_OK, SC_MSG_STARTED, "c1", "c0" },
    { HEX_YIELD_1, SC_OK, SC_MSG_YIELD, "c1", "01" },
    { HEX_ERROR_VALUEERROR, SC_OK, SC_MSG_ERROR, "c1", NULL },
    { HEX_RETURN_ADDR_FIND, SC_OK, SC_MSG_RETURN, FIND_CID, "92a93132372e302e302e31cdb6f1" },
    { HEX_STARTED_HI_CS, SC_OK, SC_MSG_STARTED, CS_CID, "a26869" },
    { HEX_NIL, SC_OK, SC_MSG_NIL, "", NULL },
    /* {'error': {'tb_str': 'T', 'type_str': 'ValueError'}}: actor-level */
    { "81a56572726f7282a674625f737472a154a8747970655f737472aa56616c75654572726f72", SC_OK,
      SC_MSG_ACTOR_ERROR, "", NULL },
    /* a non-map (k2_non_map): close */
    { "2a", SC_EMSG_CLOSE, 0, "", NULL },
    /* a second uid after the handshake is just a non-map message */
    { HEX_UID_ROOT, SC_EMSG_CLOSE, 0, "", NULL },
    /* {} : neither cmd nor cid (k1) */
    { "80", SC_EMSG_CLOSE, 0, "", NULL },
    /* {'yield': 1, 'cid': 5}: an int cid is dropped */
    { "82a57969656c6401a363696405", SC_EMSG_DROP, 0, "", NULL },
    /* {'cmd': ['self', 'cancel']}: wrong length, close */
    { "81a3636d6492a473656c66a663616e63656c", SC_EMSG_CLOSE, 0, "", NULL },
    /* {'cmd': [5, 'cancel', {}, ['root', 'u1'], 'c9']}: reply on c9 */
    { "81a3636d649505a663616e63656c8092a4726f6f74a27531a26339", SC_EMSG_REPLY, SC_MSG_CMD, "c9",
      NULL },
};
#define NMSG (sizeof(msg_cases) / sizeof(msg_cases[0]))

static void test_messages_after_the_handshake_are_msg_events(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open_handshaken(&c, codecs[i]);
        for (size_t k = 0; k < NMSG; k++) {
            CU_ASSERT_EQUAL(feed_hex(&c, msg_cases[k].hex), SC_OK);
            rec r[2];
            size_t n = drain(&c, r, 2);
            CU_ASSERT_EQUAL_FATAL(n, 1);
            CU_ASSERT_EQUAL(r[0].rc, SC_OK);
            CU_ASSERT_EQUAL(r[0].kind, SC_CHAN_EV_MSG);
            if (r[0].parse_rc != msg_cases[k].parse_rc)
                fprintf(stderr, "\nmessage %s: parse_rc %d\n", msg_cases[k].hex, r[0].parse_rc);
            CU_ASSERT_EQUAL(r[0].parse_rc, msg_cases[k].parse_rc);
            if (msg_cases[k].parse_rc == SC_OK || msg_cases[k].parse_rc == SC_EMSG_REPLY) {
                CU_ASSERT_EQUAL(r[0].msg_kind, msg_cases[k].kind);
                CU_ASSERT_STRING_EQUAL(r[0].cid, msg_cases[k].cid);
            }
            if (msg_cases[k].value)
                CU_ASSERT_STRING_EQUAL(r[0].value, msg_cases[k].value);
            CU_ASSERT_EQUAL(r[0].raw_len, strlen(msg_cases[k].hex) / 2);
        }
        /* A malformed message does not fail the channel. */
        CU_ASSERT_EQUAL(c.state, SC_CHAN_OPEN);
        sc_chan_destroy(&c);
    }
}

static void test_parse_error_of_a_message_is_reported_in_the_event(void)
{
    sc_chan c;
    chan_open_handshaken(&c, SC_CODEC_MSGPACK);
    CU_ASSERT_EQUAL(feed_hex(&c, "2a"), SC_OK);
    sc_chan_event ev;
    sc_err err;
    CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
    CU_ASSERT_EQUAL(ev.parse_rc, SC_EMSG_CLOSE);
    CU_ASSERT_EQUAL(ev.parse_err.code, SC_EMSG_CLOSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ev.parse_err.msg, "not a map"));
    /* A good message after it has a clean parse result. */
    CU_ASSERT_EQUAL(feed_hex(&c, HEX_YIELD_1), SC_OK);
    CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
    CU_ASSERT_EQUAL(ev.parse_rc, SC_OK);
    CU_ASSERT_EQUAL(ev.msg.kind, SC_MSG_YIELD);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev.msg.value);
    CU_ASSERT_EQUAL(ev.msg.value->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    CU_ASSERT_EQUAL(ev.msg.value->via.u64, 1);
    sc_chan_destroy(&c);
}

/* The conversation used by the split-feeding tests: handshake and every
 * message of msg_cases, in one stream. */
static size_t conversation(sc_codec codec, char *out, size_t cap)
{
    size_t n = frame_hex(codec, HEX_UID_CLIENT, out, cap);
    for (size_t k = 0; k < NMSG; k++)
        n += frame_hex(codec, msg_cases[k].hex, out + n, cap - n);
    return n;
}

static void test_feeding_byte_by_byte_gives_the_same_events(void)
{
    static char stream[8192];
    static rec whole[NMSG + 4], bytewise[NMSG + 4];
    for (int i = 0; i < NCODECS; i++) {
        size_t len = conversation(codecs[i], stream, sizeof(stream));
        sc_err err;

        sc_chan a;
        chan_open(&a, codecs[i], 0);
        CU_ASSERT_EQUAL(sc_chan_feed(&a, stream, len, &err), SC_OK);
        size_t na = drain(&a, whole, NMSG + 4);
        CU_ASSERT_EQUAL(na, NMSG + 1);
        CU_ASSERT_EQUAL(whole[0].kind, SC_CHAN_EV_HANDSHAKE);
        CU_ASSERT_STRING_EQUAL(whole[0].peer, "client|" CLIENT_UUID);
        CU_ASSERT_EQUAL(sc_chan_finish(&a, &err), SC_OK);
        sc_chan_destroy(&a);

        sc_chan b;
        chan_open(&b, codecs[i], 0);
        size_t nb = 0;
        for (size_t k = 0; k < len; k++) {
            CU_ASSERT_EQUAL_FATAL(sc_chan_feed(&b, stream + k, 1, &err), SC_OK);
            size_t got = drain(&b, bytewise + nb, NMSG + 4 - nb);
            /* an event appears exactly when its last byte arrives */
            CU_ASSERT(got <= 1);
            nb += got;
        }
        CU_ASSERT_EQUAL(nb, na);
        for (size_t k = 0; k < na && k < nb; k++) {
            if (!recs_equal(&whole[k], &bytewise[k]))
                fprintf(stderr, "\nevent %zu differs (%s)\n", k, sc_codec_name(codecs[i]));
            CU_ASSERT(recs_equal(&whole[k], &bytewise[k]));
        }
        CU_ASSERT_EQUAL(sc_chan_finish(&b, &err), SC_OK);
        sc_chan_destroy(&b);
    }
}

static void test_feeding_in_uneven_pieces_gives_the_same_events(void)
{
    static char stream[8192];
    static rec whole[NMSG + 4], pieces[NMSG + 4];
    static const size_t sizes[] = { 2, 3, 5, 7, 11, 13, 64, 1000 };
    for (int i = 0; i < NCODECS; i++) {
        size_t len = conversation(codecs[i], stream, sizeof(stream));
        sc_err err;
        sc_chan a;
        chan_open(&a, codecs[i], 0);
        CU_ASSERT_EQUAL(sc_chan_feed(&a, stream, len, &err), SC_OK);
        size_t na = drain(&a, whole, NMSG + 4);
        sc_chan_destroy(&a);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            sc_chan b;
            chan_open(&b, codecs[i], 0);
            size_t nb = 0;
            for (size_t off = 0; off < len; off += sizes[s]) {
                size_t piece = len - off < sizes[s] ? len - off : sizes[s];
                CU_ASSERT_EQUAL_FATAL(sc_chan_feed(&b, stream + off, piece, &err), SC_OK);
                nb += drain(&b, pieces + nb, NMSG + 4 - nb);
            }
            CU_ASSERT_EQUAL(nb, na);
            int same = 1;
            for (size_t k = 0; k < na && k < nb; k++)
                same &= recs_equal(&whole[k], &pieces[k]);
            CU_ASSERT(same);
            sc_chan_destroy(&b);
        }
    }
}

static void test_input_pending_counts_unread_bytes(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open_handshaken(&c, codecs[i]);
        CU_ASSERT_EQUAL(sc_chan_input_pending(&c), 0);
        char bytes[64];
        size_t n = frame_hex(codecs[i], HEX_STOP, bytes, sizeof(bytes));
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_feed(&c, bytes, n, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_feed(&c, bytes, 3, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_input_pending(&c), n + 3);
        sc_chan_event ev;
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_input_pending(&c), 3);
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_AGAIN);
        CU_ASSERT_EQUAL(sc_chan_input_pending(&c), 3);
        sc_chan_destroy(&c);
    }
}

/* ---- end of input and codec errors --------------------------------------------- */

static void test_finish_reports_a_truncated_message(void)
{
    for (int i = 0; i < NCODECS; i++) {
        char bytes[64];
        size_t n = frame_hex(codecs[i], HEX_ERROR_VALUEERROR, bytes, sizeof(bytes));
        /* every cut inside the message, the length prefix included */
        for (size_t cut = 1; cut < n; cut++) {
            sc_chan c;
            chan_open_handshaken(&c, codecs[i]);
            sc_err err;
            CU_ASSERT_EQUAL(sc_chan_feed(&c, bytes, cut, &err), SC_OK);
            sc_chan_event ev;
            CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_AGAIN);
            sc_err_clear(&err);
            CU_ASSERT_EQUAL(sc_chan_finish(&c, &err), SC_EPROTO);
            CU_ASSERT_EQUAL(err.code, SC_EPROTO);
            CU_ASSERT(err.msg[0] != '\0');
            sc_chan_destroy(&c);
        }
        /* a truncated handshake too */
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        n = frame_hex(codecs[i], HEX_UID_ROOT, bytes, sizeof(bytes));
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_feed(&c, bytes, n - 1, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_finish(&c, &err), SC_EPROTO);
        sc_chan_destroy(&c);
    }
}

static void test_finish_after_whole_messages_is_ok(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open_handshaken(&c, codecs[i]);
        CU_ASSERT_EQUAL(feed_hex(&c, HEX_YIELD_1), SC_OK);
        rec r[2];
        CU_ASSERT_EQUAL(drain(&c, r, 2), 1);
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_finish(&c, &err), SC_OK);
        sc_chan_destroy(&c);
    }
}

static void test_invalid_byte_c1_fails_the_channel(void)
{
    /* k3_garbage_byte.jsonl: c1 right after the handshake. */
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        CU_ASSERT_EQUAL(feed_hex(&c, HEX_UID_ROOT), SC_OK);
        CU_ASSERT_EQUAL(feed_hex(&c, "c1"), SC_OK);
        sc_chan_event ev;
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
        CU_ASSERT_EQUAL(ev.kind, SC_CHAN_EV_HANDSHAKE);
        sc_err_clear(&err);
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_EPROTO);
        CU_ASSERT_EQUAL(err.code, SC_EPROTO);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "c1"));
        CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_ESTATE);
        CU_ASSERT_EQUAL(feed_hex(&c, HEX_NIL), SC_ESTATE);
        sc_chan_destroy(&c);
    }
}

static void test_invalid_byte_inside_a_message_fails_the_channel(void)
{
    /* ['root', c1 ...]: the bad byte is the second item of the handshake,
     * and then the same inside a message after it. */
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        CU_ASSERT_EQUAL(feed_hex(&c, "92a4726f6f74c1"), SC_OK);
        sc_chan_event ev;
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_EPROTO);
        CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
        sc_chan_destroy(&c);

        chan_open_handshaken(&c, codecs[i]);
        CU_ASSERT_EQUAL(feed_hex(&c, "82a57969656c64c1a3636964a26331"), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_EPROTO);
        CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
        sc_chan_destroy(&c);
    }
}

static void test_garbage_before_the_handshake_fails_the_channel(void)
{
    sc_chan c;
    chan_open(&c, SC_CODEC_MSGPACK, 0);
    sc_err err;
    CU_ASSERT_EQUAL(sc_chan_feed(&c, "\xc1\xc1\xc1", 3, &err), SC_OK);
    sc_chan_event ev;
    CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_EPROTO);
    CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
    CU_ASSERT_PTR_NULL(c.peer_name);
    sc_chan_destroy(&c);
}

static void test_lenprefix_framing_errors_fail_the_channel(void)
{
    static const char *const cases[] = {
        "00000000",           /* empty frame */
        "02000000c0c0",       /* two objects in one frame */
        "0300000092a161",     /* a frame that ends inside an object */
        "ffffffff",           /* a frame over the message limit */
    };
    static const int want[] = { SC_EPROTO, SC_EPROTO, SC_EPROTO, SC_ELIMIT };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        sc_chan c;
        chan_open_handshaken(&c, SC_CODEC_LENPREFIX);
        char bytes[16];
        size_t n = tu_unhex(cases[k], bytes, sizeof(bytes));
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_feed(&c, bytes, n, &err), SC_OK);
        sc_chan_event ev;
        sc_err_clear(&err);
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), want[k]);
        CU_ASSERT_EQUAL(err.code, want[k]);
        CU_ASSERT(err.msg[0] != '\0');
        CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
        sc_chan_destroy(&c);
    }
}

static void test_input_over_the_message_limit_fails_the_channel(void)
{
    /* msgpack codec: a str longer than the message limit. */
    sc_chan c;
    sc_limits lim;
    lim_default(&lim);
    lim.max_frame = 64;
    sc_err err;
    CU_ASSERT_EQUAL_FATAL(sc_chan_init(&c, SC_CODEC_MSGPACK, &lim, 0, &err), SC_OK);
    CU_ASSERT_EQUAL(feed_hex(&c, HEX_UID_ROOT), SC_OK);
    char big[80];
    big[0] = (char)0xd9;
    big[1] = 78;
    memset(big + 2, 'x', 78);
    CU_ASSERT_EQUAL(sc_chan_feed(&c, big, sizeof(big), &err), SC_OK);
    sc_chan_event ev;
    CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
    sc_err_clear(&err);
    int rc = sc_chan_next(&c, &ev, &err);
    CU_ASSERT(rc == SC_ELIMIT || rc == SC_EPROTO);
    CU_ASSERT_EQUAL(err.code, rc);
    CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
    sc_chan_destroy(&c);
}

/* ---- output --------------------------------------------------------------------- */

typedef int (*sender_fn)(sc_chan *c, sc_err *err);

static int send_uid_root(sc_chan *c, sc_err *err)
{
    sc_uid u = { SC_STR("root"), SC_STR("0f0e") };
    return sc_chan_send_uid(c, &u, err);
}
static int send_uid_arbiter(sc_chan *c, sc_err *err)
{
    sc_uid u = { SC_STR("arbiter"), SC_STR(ARBITER_UUID) };
    return sc_chan_send_uid(c, &u, err);
}
static int send_nil(sc_chan *c, sc_err *err)
{
    return sc_chan_send_nil(c, err);
}
static int send_functype_c1(sc_chan *c, sc_err *err)
{
    return sc_chan_send_functype(c, SC_STR("c1"), SC_FT_ASYNCFUNC, err);
}
static int send_functype_asyncgen(sc_chan *c, sc_err *err)
{
    return sc_chan_send_functype(c, SC_STR("c1"), SC_FT_ASYNCGEN, err);
}
static int send_functype_context(sc_chan *c, sc_err *err)
{
    return sc_chan_send_functype(c, SC_STR("c1"), SC_FT_CONTEXT, err);
}
static int send_functype_reg(sc_chan *c, sc_err *err)
{
    return sc_chan_send_functype(c, SC_STR(REG_CID), SC_FT_ASYNCFUNC, err);
}
static int send_stop_c1(sc_chan *c, sc_err *err)
{
    return sc_chan_send_stop(c, SC_STR("c1"), err);
}
static int send_stop_ag(sc_chan *c, sc_err *err)
{
    return sc_chan_send_stop(c, SC_STR(AG_CID), err);
}
static int send_error_c1(sc_chan *c, sc_err *err)
{
    return sc_chan_send_error(c, SC_STR("c1"), SC_STR("ValueError"), SC_STR("T"), err);
}
static int send_error_fake(sc_chan *c, sc_err *err)
{
    return sc_chan_send_error(c, SC_STR("no-such-cid-4"), SC_STR("ValueError"), SC_STR("fake"),
                              err);
}
static int send_actor_error(sc_chan *c, sc_err *err)
{
    return sc_chan_send_error(c, (sc_str){ NULL, 0 }, SC_STR("ValueError"), SC_STR("T"), err);
}
static int send_error_empty_tb(sc_chan *c, sc_err *err)
{
    return sc_chan_send_error(c, SC_STR("c1"), SC_STR("KeyError"), SC_STR(""), err);
}
static int send_return_true(sc_chan *c, sc_err *err)
{
    return sc_chan_send_raw_value(c, SC_MSG_RETURN, SC_STR("c1"), "\xc3", 1, err);
}
static int send_started_none(sc_chan *c, sc_err *err)
{
    return sc_chan_send_raw_value(c, SC_MSG_STARTED, SC_STR("c1"), "\xc0", 1, err);
}
static int send_yield_1(sc_chan *c, sc_err *err)
{
    return sc_chan_send_raw_value(c, SC_MSG_YIELD, SC_STR("c1"), "\x01", 1, err);
}
static int send_return_none_reg(sc_chan *c, sc_err *err)
{
    return sc_chan_send_raw_value(c, SC_MSG_RETURN, SC_STR(REG_CID), "\xc0", 1, err);
}
static int send_return_addr_find(sc_chan *c, sc_err *err)
{
    static const char v[] = "\x92\xa9"
                            "127.0.0.1"
                            "\xcd\xb6\xf1";
    return sc_chan_send_raw_value(c, SC_MSG_RETURN, SC_STR(FIND_CID), v, sizeof(v) - 1, err);
}
static int send_yield_0_ag(sc_chan *c, sc_err *err)
{
    return sc_chan_send_raw_value(c, SC_MSG_YIELD, SC_STR(AG_CID), "\x00", 1, err);
}
static int send_started_hi_cs(sc_chan *c, sc_err *err)
{
    return sc_chan_send_raw_value(c, SC_MSG_STARTED, SC_STR(CS_CID), "\xa2hi", 3, err);
}

static const struct {
    const char *name;
    sender_fn send;
    const char *hex;
} senders[] = {
    { "uid ('root','0f0e')", send_uid_root, HEX_UID_ROOT },
    { "uid arbiter (trace)", send_uid_arbiter, HEX_UID_ARBITER },
    { "nil", send_nil, HEX_NIL },
    { "functype asyncfunc", send_functype_c1, HEX_FUNCTYPE_ASYNCFUNC },
    { "functype asyncgen", send_functype_asyncgen,
      "82a866756e6374797065a86173796e6367656ea3636964a26331" },
    { "functype context", send_functype_context,
      "82a866756e6374797065a7636f6e74657874a3636964a26331" },
    { "functype (trace)", send_functype_reg, HEX_FUNCTYPE_REG },
    { "stop", send_stop_c1, HEX_STOP },
    { "stop (trace)", send_stop_ag, HEX_STOP_AG },
    { "error", send_error_c1, HEX_ERROR_VALUEERROR },
    { "error (trace)", send_error_fake, HEX_ERROR_FAKE },
    { "actor-level error",
      send_actor_error,
      "81a56572726f7282a674625f737472a154a8747970655f737472aa56616c75654572726f72" },
    { "error with empty tb_str", send_error_empty_tb,
      "82a56572726f7282a674625f737472a0a8747970655f737472a84b65794572726f72a3636964a26331" },
    { "return True", send_return_true, HEX_RETURN_TRUE },
    { "started None", send_started_none, HEX_STARTED_NONE },
    { "yield 1", send_yield_1, HEX_YIELD_1 },
    { "return None (trace)", send_return_none_reg, HEX_RETURN_NONE_REG },
    { "return [host, port] (trace)", send_return_addr_find, HEX_RETURN_ADDR_FIND },
    { "yield 0 (trace)", send_yield_0_ag, HEX_YIELD_0_AG },
    { "started 'hi' (trace)", send_started_hi_cs, HEX_STARTED_HI_CS },
};
#define NSENDERS (sizeof(senders) / sizeof(senders[0]))

static void test_senders_produce_the_exact_tractor_bytes(void)
{
    static char want[1024];
    for (int i = 0; i < NCODECS; i++) {
        for (size_t k = 0; k < NSENDERS; k++) {
            sc_chan c;
            chan_open(&c, codecs[i], 0);
            sc_err err;
            CU_ASSERT_EQUAL(senders[k].send(&c, &err), SC_OK);
            framed_hex(codecs[i], senders[k].hex, want, sizeof(want));
            char what[96];
            snprintf(what, sizeof(what), "%s (%s)", senders[k].name, sc_codec_name(codecs[i]));
            CU_ASSERT(tu_buf_eq_hex(what, &c.out, want));
            sc_chan_destroy(&c);
        }
    }
}

static void test_lenprefix_headers_of_appendix_a(void)
{
    /* The msgspec prefixes listed in Appendix A. */
    static const struct {
        sender_fn send;
        const char *prefix;
    } cases[] = {
        { send_uid_root, "0b000000" },    { send_nil, "01000000" },
        { send_functype_c1, "1b000000" }, { send_return_true, "10000000" },
        { send_stop_c1, "0e000000" },     { send_started_none, "11000000" },
        { send_yield_1, "0f000000" },     { send_error_c1, "2c000000" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        sc_chan c;
        chan_open(&c, SC_CODEC_LENPREFIX, 0);
        sc_err err;
        CU_ASSERT_EQUAL(cases[k].send(&c, &err), SC_OK);
        CU_ASSERT_FATAL(sc_chan_output_size(&c) >= 4);
        CU_ASSERT(tu_bytes_eq_hex("prefix", sc_buf_head(&c.out), 4, cases[k].prefix));
        sc_chan_destroy(&c);
    }
}

static void test_several_sends_are_queued_in_order(void)
{
    static char want[4096];
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_err err;
        size_t w = 0;
        want[0] = '\0';
        for (size_t k = 0; k < NSENDERS; k++) {
            CU_ASSERT_EQUAL(senders[k].send(&c, &err), SC_OK);
            framed_hex(codecs[i], senders[k].hex, want + w, sizeof(want) - w);
            w = strlen(want);
        }
        CU_ASSERT(tu_buf_eq_hex("all senders in a row", &c.out, want));
        /* What we send, a peer with the same codec reads back. */
        sc_chan peer;
        chan_open(&peer, codecs[i], 0);
        CU_ASSERT_EQUAL(sc_chan_feed(&peer, sc_buf_head(&c.out), sc_chan_output_size(&c), &err),
                        SC_OK);
        static rec r[NSENDERS + 2];
        size_t n = drain(&peer, r, NSENDERS + 2);
        CU_ASSERT_EQUAL(n, NSENDERS);
        CU_ASSERT_EQUAL(r[0].kind, SC_CHAN_EV_HANDSHAKE);
        CU_ASSERT_STRING_EQUAL(r[0].peer, "root|0f0e");
        for (size_t k = 1; k < n; k++) {
            CU_ASSERT_EQUAL(r[k].rc, SC_OK);
            /* the uid sent second is no valid message; every other is */
            if (k != 1)
                CU_ASSERT_EQUAL(r[k].parse_rc, SC_OK);
        }
        sc_chan_destroy(&peer);
        sc_chan_destroy(&c);
    }
}

static void test_begin_and_end_frame_a_message_packed_by_the_caller(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_err err;
        msgpack_packer *pk = sc_chan_begin(&c, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
        /* {'cmd': ('self', 'cancel', {}, ('root', 'u1'), 'c1')} */
        sc_uid caller = { SC_STR("root"), SC_STR("u1") };
        int rc = sc_pack_cmd_begin(pk, SC_STR("self"), SC_STR("cancel"));
        if (rc == 0)
            rc = msgpack_pack_map(pk, 0);
        if (rc == 0)
            rc = sc_pack_cmd_end(pk, &caller, SC_STR("c1"));
        CU_ASSERT_EQUAL(sc_chan_end(&c, rc, &err), SC_OK);
        char want[256];
        framed_hex(codecs[i], HEX_CMD_CANCEL, want, sizeof(want));
        CU_ASSERT(tu_buf_eq_hex("cmd cancel", &c.out, want));

        /* A pack failure reported by the caller removes the partial message. */
        size_t before = sc_chan_output_size(&c);
        pk = sc_chan_begin(&c, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
        CU_ASSERT_EQUAL(msgpack_pack_map(pk, 2), 0);
        CU_ASSERT_EQUAL(sc_pack_cstr(pk, "half"), 0);
        CU_ASSERT_NOT_EQUAL(sc_chan_end(&c, -1, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_output_size(&c), before);
        CU_ASSERT(tu_buf_eq_hex("after a failed pack", &c.out, want));

        /* Nothing packed between begin and end is refused and leaves nothing. */
        pk = sc_chan_begin(&c, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
        CU_ASSERT_EQUAL(sc_chan_end(&c, 0, &err), SC_EARG);
        CU_ASSERT_EQUAL(sc_chan_output_size(&c), before);
        sc_chan_destroy(&c);
    }
}

static void test_output_cap_refuses_a_send_and_keeps_the_output(void)
{
    for (int i = 0; i < NCODECS; i++) {
        size_t hdr = codecs[i] == SC_CODEC_LENPREFIX ? 4 : 0;
        /* Room for the nil and less than the smallest other message (the
         * 11-byte uid) after it. */
        size_t cap = hdr + 1 + hdr + 11 - 1;
        sc_chan c;
        chan_open(&c, codecs[i], cap);
        sc_err err;
        CU_ASSERT_EQUAL(sc_chan_send_nil(&c, &err), SC_OK);
        char want[64];
        framed_hex(codecs[i], HEX_NIL, want, sizeof(want));
        for (size_t k = 0; k < NSENDERS; k++) {
            if (senders[k].send == send_nil)
                continue;
            sc_err_clear(&err);
            int rc = senders[k].send(&c, &err);
            if (rc != SC_EFULL)
                fprintf(stderr, "\n%s (%s): rc %d\n", senders[k].name, sc_codec_name(codecs[i]),
                        rc);
            CU_ASSERT_EQUAL(rc, SC_EFULL);
            CU_ASSERT_EQUAL(err.code, SC_EFULL);
            CU_ASSERT(err.msg[0] != '\0');
            CU_ASSERT(tu_buf_eq_hex("output after a refused send", &c.out, want));
            CU_ASSERT_EQUAL(c.out.write_rc, SC_OK);
        }
        /* Once the peer has read the nil there is room for the uid. */
        sc_buf_consume(&c.out, sc_chan_output_size(&c));
        CU_ASSERT_EQUAL(send_uid_root(&c, &err), SC_OK);
        framed_hex(codecs[i], HEX_UID_ROOT, want, sizeof(want));
        CU_ASSERT(tu_buf_eq_hex("uid after draining", &c.out, want));
        sc_chan_destroy(&c);
    }
}

static void test_every_tiny_output_cap_fails_cleanly(void)
{
    /* Caps from 1 byte to one short of the message: each fails with
     * SC_EFULL at whatever point the packer is, and leaves nothing. */
    for (int i = 0; i < NCODECS; i++) {
        for (size_t k = 0; k < NSENDERS; k++) {
            size_t full = strlen(senders[k].hex) / 2 + (codecs[i] == SC_CODEC_LENPREFIX ? 4 : 0);
            for (size_t cap = 1; cap < full; cap++) {
                sc_chan c;
                chan_open(&c, codecs[i], cap);
                sc_err err;
                CU_ASSERT_EQUAL(senders[k].send(&c, &err), SC_EFULL);
                CU_ASSERT_EQUAL(sc_chan_output_size(&c), 0);
                sc_chan_destroy(&c);
            }
            sc_chan c;
            chan_open(&c, codecs[i], full);
            sc_err err;
            CU_ASSERT_EQUAL(senders[k].send(&c, &err), SC_OK);
            CU_ASSERT_EQUAL(sc_chan_output_size(&c), full);
            sc_chan_destroy(&c);
        }
    }
}

static void test_message_over_the_message_limit_is_not_sent(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        sc_limits lim;
        lim_default(&lim);
        lim.max_frame = 44;   /* exactly the Appendix A error */
        sc_err err;
        CU_ASSERT_EQUAL_FATAL(sc_chan_init(&c, codecs[i], &lim, 0, &err), SC_OK);
        CU_ASSERT_EQUAL(send_error_c1(&c, &err), SC_OK);
        size_t before = sc_chan_output_size(&c);
        char want[256];
        framed_hex(codecs[i], HEX_ERROR_VALUEERROR, want, sizeof(want));
        sc_err_clear(&err);
        CU_ASSERT_EQUAL(sc_chan_send_error(&c, SC_STR("c1"), SC_STR("ValueError"), SC_STR("TT"),
                                           &err),
                        SC_ELIMIT);
        CU_ASSERT_EQUAL(err.code, SC_ELIMIT);
        CU_ASSERT_EQUAL(sc_chan_output_size(&c), before);
        CU_ASSERT(tu_buf_eq_hex("after an oversized message", &c.out, want));
        /* And raw values too. */
        static char big[100];
        memset(big, 0, sizeof(big));
        big[0] = (char)0xd9;
        big[1] = 98;
        CU_ASSERT_EQUAL(sc_chan_send_raw_value(&c, SC_MSG_YIELD, SC_STR("c1"), big, sizeof(big),
                                               &err),
                        SC_ELIMIT);
        CU_ASSERT_EQUAL(sc_chan_output_size(&c), before);
        sc_chan_destroy(&c);
    }
}

static void test_long_strings_use_str16_and_str32_headers(void)
{
    /* A tb_str of 300 bytes (str16) and of 70000 bytes (str32), as a
     * Python traceback can be. */
    static const size_t lens[] = { 31, 32, 255, 256, 300, 65535, 65536, 70000 };
    static char tb[70000];
    memset(tb, 't', sizeof(tb));
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        sc_chan c;
        chan_open(&c, SC_CODEC_LENPREFIX, 0);
        sc_err err;
        CU_ASSERT_EQUAL_FATAL(sc_chan_send_error(&c, SC_STR("c1"), SC_STR("ValueError"),
                                                 ((sc_str){ tb, lens[k] }), &err),
                              SC_OK);
        const unsigned char *p = (const unsigned char *)sc_buf_head(&c.out);
        size_t n = sc_chan_output_size(&c);
        size_t hdr = lens[k] < 32 ? 1 : lens[k] < 256 ? 2 : lens[k] < 65536 ? 3 : 5;
        /* prefix 4, map 1, "error" 6, map 1, "tb_str" 7, str header, body,
         * "type_str" 9, "ValueError" 11, "cid" 4, "c1" 3 */
        size_t body = 1 + 6 + 1 + 7 + hdr + lens[k] + 9 + 11 + 4 + 3;
        CU_ASSERT_EQUAL(n, 4 + body);
        CU_ASSERT_EQUAL((size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
                            (size_t)p[3] << 24,
                        body);
        const unsigned char *h = p + 4 + 1 + 6 + 1 + 7;
        if (hdr == 1) {
            CU_ASSERT_EQUAL((size_t)h[0], 0xa0 | lens[k]);
        } else if (hdr == 2) {
            CU_ASSERT(h[0] == 0xd9 && (size_t)h[1] == lens[k]);
        } else if (hdr == 3) {
            CU_ASSERT(h[0] == 0xda && (size_t)(h[1] << 8 | h[2]) == lens[k]);
        } else {
            CU_ASSERT(h[0] == 0xdb &&
                      ((size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4]) ==
                          lens[k]);
        }
        sc_chan_destroy(&c);
    }
}

static void test_raw_value_with_a_kind_that_carries_no_value_is_refused(void)
{
    static const sc_msg_kind bad[] = { SC_MSG_NIL, SC_MSG_CMD, SC_MSG_FUNCTYPE, SC_MSG_STOP,
                                       SC_MSG_ERROR, SC_MSG_ACTOR_ERROR };
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_err err;
        CU_ASSERT_EQUAL(send_nil(&c, &err), SC_OK);
        size_t before = sc_chan_output_size(&c);
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
            CU_ASSERT_NOT_EQUAL(sc_chan_send_raw_value(&c, bad[k], SC_STR("c1"), "\x01", 1, &err),
                                SC_OK);
            CU_ASSERT_EQUAL(sc_chan_output_size(&c), before);
        }
        CU_ASSERT_NOT_EQUAL(sc_chan_send_functype(&c, SC_STR("c1"), (sc_functype)3, &err), SC_OK);
        CU_ASSERT_EQUAL(sc_chan_output_size(&c), before);
        /* The channel still sends. */
        CU_ASSERT_EQUAL(send_yield_1(&c, &err), SC_OK);
        sc_chan_destroy(&c);
    }
}

/* ---- allocation failure ---------------------------------------------------------- */

static void test_allocation_failure_in_init(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_limits lim;
        lim_default(&lim);
        int ok = 0;
        for (unsigned long n = 1; n <= 16 && !ok; n++) {
            sc_chan c;
            sc_err err;
            sc_err_clear(&err);
            sc_alloc_fail_at(n);
            int rc = sc_chan_init(&c, codecs[i], &lim, 0, &err);
            sc_alloc_fail_at(0);
            if (rc == SC_OK) {
                ok = 1;
                /* the channel is usable */
                CU_ASSERT_EQUAL(feed_hex(&c, HEX_UID_ROOT), SC_OK);
                sc_chan_event ev;
                CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_OK);
                sc_chan_destroy(&c);
                break;
            }
            CU_ASSERT_EQUAL(rc, SC_ENOMEM);
            CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
            CU_ASSERT(err.msg[0] != '\0');
            /* Nothing to free: LeakSanitizer checks that init cleaned up. */
            CU_ASSERT_PTR_NULL(c.reader);
            CU_ASSERT_PTR_NULL(c.out.data);
        }
        CU_ASSERT(ok);
    }
}

static void test_allocation_failure_in_feed_fails_the_channel(void)
{
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_err err;
        sc_err_clear(&err);
        char bytes[32];
        size_t n = frame_hex(codecs[i], HEX_UID_ROOT, bytes, sizeof(bytes));
        sc_alloc_fail_at(1);
        CU_ASSERT_EQUAL(sc_chan_feed(&c, bytes, n, &err), SC_ENOMEM);
        sc_alloc_fail_at(0);
        CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
        CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
        sc_chan_event ev;
        CU_ASSERT_EQUAL(sc_chan_next(&c, &ev, &err), SC_ESTATE);
        sc_chan_destroy(&c);
    }
}

static void test_allocation_failure_storing_the_peer_uid(void)
{
    for (int i = 0; i < NCODECS; i++) {
        int ok = 0;
        for (unsigned long n = 1; n <= 8 && !ok; n++) {
            sc_chan c;
            chan_open(&c, codecs[i], 0);
            CU_ASSERT_EQUAL(feed_hex(&c, HEX_UID_CLIENT), SC_OK);
            sc_chan_event ev;
            sc_err err;
            sc_err_clear(&err);
            sc_alloc_fail_at(n);
            int rc = sc_chan_next(&c, &ev, &err);
            sc_alloc_fail_at(0);
            if (rc == SC_OK) {
                ok = 1;
                CU_ASSERT(n > 2);
                CU_ASSERT_STRING_EQUAL(c.peer_name, "client");
                CU_ASSERT_STRING_EQUAL(c.peer_uuid, CLIENT_UUID);
            } else {
                CU_ASSERT_EQUAL(rc, SC_ENOMEM);
                CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
                CU_ASSERT_EQUAL(c.state, SC_CHAN_FAILED);
            }
            sc_chan_destroy(&c);   /* frees a half-stored uid */
        }
        CU_ASSERT(ok);
    }
}

static void test_allocation_failure_while_sending_leaves_nothing(void)
{
    for (int i = 0; i < NCODECS; i++) {
        for (size_t k = 0; k < NSENDERS; k++) {
            int ok = 0;
            for (unsigned long n = 1; n <= 8 && !ok; n++) {
                sc_chan c;
                chan_open(&c, codecs[i], 0);
                sc_err err;
                sc_err_clear(&err);
                sc_alloc_fail_at(n);
                int rc = senders[k].send(&c, &err);
                sc_alloc_fail_at(0);
                if (rc == SC_OK) {
                    ok = 1;
                } else {
                    CU_ASSERT_EQUAL(rc, SC_ENOMEM);
                    CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
                    CU_ASSERT_EQUAL(sc_chan_output_size(&c), 0);
                    CU_ASSERT_EQUAL(c.out.write_rc, SC_OK);
                    /* and the next send works */
                    CU_ASSERT_EQUAL(senders[k].send(&c, &err), SC_OK);
                    char want[1024];
                    framed_hex(codecs[i], senders[k].hex, want, sizeof(want));
                    CU_ASSERT(tu_buf_eq_hex("send after a failed one", &c.out, want));
                }
                sc_chan_destroy(&c);
            }
            CU_ASSERT(ok);
        }
    }
}

static void test_allocation_failure_growing_a_non_empty_output(void)
{
    /* The output already holds a message; growing it fails mid-message. */
    static char tb[3000];
    memset(tb, 'x', sizeof(tb));
    for (int i = 0; i < NCODECS; i++) {
        sc_chan c;
        chan_open(&c, codecs[i], 0);
        sc_err err;
        CU_ASSERT_EQUAL(send_stop_c1(&c, &err), SC_OK);
        char want[64];
        framed_hex(codecs[i], HEX_STOP, want, sizeof(want));
        sc_alloc_fail_at(1);
        CU_ASSERT_EQUAL(sc_chan_send_error(&c, SC_STR("c1"), SC_STR("ValueError"),
                                           ((sc_str){ tb, sizeof(tb) }), &err),
                        SC_ENOMEM);
        sc_alloc_fail_at(0);
        CU_ASSERT(tu_buf_eq_hex("output after a failed growth", &c.out, want));
        sc_chan_destroy(&c);
    }
}

/* Regression: chan.c SC_CHAN_SEND and sc_chan_send_raw_value return
 * `(err) ? (err)->code : SC_ENOMEM` when sc_chan_begin fails, so with
 * err == NULL a full output buffer is reported as SC_ENOMEM instead of
 * SC_EFULL.  With the lenprefix codec sc_frame_begin appends the 4-byte
 * header and fails with SC_EFULL when it does not fit: out_cap 8, one nil
 * sent (5 bytes), then sc_chan_send_nil(c, NULL) returns SC_ENOMEM; expected
 * SC_EFULL (as it is when an sc_err is passed, and as it is with the msgpack
 * codec, where the failure comes through sc_chan_end).  The actor treats the
 * two differently (a peer that does not read vs. our own memory). */
static void test_output_cap_without_an_error_object_is_efull(void)
{
    sc_chan c;
    chan_open(&c, SC_CODEC_LENPREFIX, 8);
    CU_ASSERT_EQUAL(sc_chan_send_nil(&c, NULL), SC_OK);
    CU_ASSERT_EQUAL(sc_chan_send_nil(&c, NULL), SC_EFULL);   /* got SC_ENOMEM */
    CU_ASSERT_EQUAL(sc_chan_send_stop(&c, SC_STR("c1"), NULL), SC_EFULL);
    CU_ASSERT_EQUAL(sc_chan_send_raw_value(&c, SC_MSG_YIELD, SC_STR("c1"), "\x01", 1, NULL),
                    SC_EFULL);
    CU_ASSERT_EQUAL(sc_chan_output_size(&c), 5);
    sc_chan_destroy(&c);
}

/* Regression: chan.c sc_chan_end maps every encoder failure that is not a writer
 * failure to SC_ENOMEM "out of memory encoding a message".  The encoders
 * also return -1 for a caller error: sc_pack_value_begin for a kind other
 * than return/started/yield, sc_pack_functype for a functype outside the
 * enum.  sc_chan_send_raw_value(c, SC_MSG_STOP, ...) and
 * sc_chan_send_functype(c, cid, 3, ...) therefore report SC_ENOMEM with an
 * out-of-memory sentence; expected SC_EARG naming the bad kind/functype. */
static void test_caller_errors_in_senders_are_earg(void)
{
    sc_chan c;
    chan_open(&c, SC_CODEC_MSGPACK, 0);
    sc_err err;
    CU_ASSERT_EQUAL(sc_chan_send_raw_value(&c, SC_MSG_STOP, SC_STR("c1"), "\x01", 1, &err),
                    SC_EARG);   /* got SC_ENOMEM */
    CU_ASSERT_EQUAL(sc_chan_send_functype(&c, SC_STR("c1"), (sc_functype)3, &err), SC_EARG);
    sc_chan_destroy(&c);
}

int register_chan_tests(void)
{
    static CU_TestInfo tests[] = {
        { "init_and_destroy", test_init_and_destroy },
        { "init_with_an_unknown_codec_fails_cleanly",
          test_init_with_an_unknown_codec_fails_cleanly },
        { "handshake_from_the_bytes_of_appendix_a", test_handshake_from_the_bytes_of_appendix_a },
        { "next_before_any_input_is_again", test_next_before_any_input_is_again },
        { "handshake_from_trace_with_a_36_char_uuid",
          test_handshake_from_trace_with_a_36_char_uuid },
        { "handshake_with_extra_items_is_accepted", test_handshake_with_extra_items_is_accepted },
        { "handshake_accepts_odd_strings", test_handshake_accepts_odd_strings },
        { "handshake_accepts_an_empty_name", test_handshake_accepts_an_empty_name },
        { "handshake_rejections_fail_the_channel", test_handshake_rejections_fail_the_channel },
        { "handshake_error_names_what_was_found", test_handshake_error_names_what_was_found },
        { "messages_after_the_handshake_are_msg_events",
          test_messages_after_the_handshake_are_msg_events },
        { "parse_error_of_a_message_is_reported_in_the_event",
          test_parse_error_of_a_message_is_reported_in_the_event },
        { "feeding_byte_by_byte_gives_the_same_events",
          test_feeding_byte_by_byte_gives_the_same_events },
        { "feeding_in_uneven_pieces_gives_the_same_events",
          test_feeding_in_uneven_pieces_gives_the_same_events },
        { "input_pending_counts_unread_bytes", test_input_pending_counts_unread_bytes },
        { "finish_reports_a_truncated_message", test_finish_reports_a_truncated_message },
        { "finish_after_whole_messages_is_ok", test_finish_after_whole_messages_is_ok },
        { "invalid_byte_c1_fails_the_channel", test_invalid_byte_c1_fails_the_channel },
        { "invalid_byte_inside_a_message_fails_the_channel",
          test_invalid_byte_inside_a_message_fails_the_channel },
        { "garbage_before_the_handshake_fails_the_channel",
          test_garbage_before_the_handshake_fails_the_channel },
        { "lenprefix_framing_errors_fail_the_channel",
          test_lenprefix_framing_errors_fail_the_channel },
        { "input_over_the_message_limit_fails_the_channel",
          test_input_over_the_message_limit_fails_the_channel },
        { "senders_produce_the_exact_tractor_bytes", test_senders_produce_the_exact_tractor_bytes },
        { "lenprefix_headers_of_appendix_a", test_lenprefix_headers_of_appendix_a },
        { "several_sends_are_queued_in_order", test_several_sends_are_queued_in_order },
        { "begin_and_end_frame_a_message_packed_by_the_caller",
          test_begin_and_end_frame_a_message_packed_by_the_caller },
        { "output_cap_refuses_a_send_and_keeps_the_output",
          test_output_cap_refuses_a_send_and_keeps_the_output },
        { "every_tiny_output_cap_fails_cleanly", test_every_tiny_output_cap_fails_cleanly },
        { "message_over_the_message_limit_is_not_sent",
          test_message_over_the_message_limit_is_not_sent },
        { "long_strings_use_str16_and_str32_headers",
          test_long_strings_use_str16_and_str32_headers },
        { "raw_value_with_a_kind_that_carries_no_value_is_refused",
          test_raw_value_with_a_kind_that_carries_no_value_is_refused },
        { "allocation_failure_in_init", test_allocation_failure_in_init },
        { "allocation_failure_in_feed_fails_the_channel",
          test_allocation_failure_in_feed_fails_the_channel },
        { "allocation_failure_storing_the_peer_uid", test_allocation_failure_storing_the_peer_uid },
        { "allocation_failure_while_sending_leaves_nothing",
          test_allocation_failure_while_sending_leaves_nothing },
        { "allocation_failure_growing_a_non_empty_output",
          test_allocation_failure_growing_a_non_empty_output },
        { "output_cap_without_an_error_object_is_efull",
          test_output_cap_without_an_error_object_is_efull },
        { "caller_errors_in_senders_are_earg", test_caller_errors_in_senders_are_earg },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("chan", tests);
}
