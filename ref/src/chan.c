/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* chan.c - channel: handshake, message events, framed output. */
#include "chan.h"

#include <string.h>

int sc_chan_init(sc_chan *c, sc_codec codec, const sc_limits *lim, size_t out_cap, sc_err *err)
{
    memset(c, 0, sizeof(*c));
    c->codec = codec;
    c->max_frame = lim->max_frame;
    sc_buf_init(&c->out, out_cap);
    msgpack_packer_init(&c->pk, &c->out, sc_buf_msgpack_write);
    return sc_reader_new(codec, lim, &c->reader, err);
}

void sc_chan_destroy(sc_chan *c)
{
    sc_reader_free(c->reader);
    sc_buf_free(&c->out);
    sc_free(c->peer_name);
    sc_free(c->peer_uuid);
    memset(c, 0, sizeof(*c));
}

int sc_chan_feed(sc_chan *c, const char *data, size_t len, sc_err *err)
{
    if (c->state == SC_CHAN_FAILED)
        return sc_err_set(err, SC_ESTATE, "channel already failed");
    int rc = sc_reader_feed(c->reader, data, len);
    if (rc != SC_OK) {
        c->state = SC_CHAN_FAILED;
        return sc_err_set(err, rc, "%s", sc_reader_errstr(c->reader));
    }
    return SC_OK;
}

static int take_peer_uid(sc_chan *c, const msgpack_object *o, sc_err *err)
{
    sc_uid uid;
    int rc = sc_uid_parse(o, &uid, err);
    if (rc != SC_OK)
        return rc;
    c->peer_name = sc_strndup(uid.name.ptr, uid.name.len);
    c->peer_uuid = sc_strndup(uid.uuid.ptr, uid.uuid.len);
    if (!c->peer_name || !c->peer_uuid)
        return sc_err_set(err, SC_ENOMEM, "out of memory storing the peer's uid");
    c->peer.name = (sc_str){ c->peer_name, uid.name.len };
    c->peer.uuid = (sc_str){ c->peer_uuid, uid.uuid.len };
    return SC_OK;
}

int sc_chan_next(sc_chan *c, sc_chan_event *ev, sc_err *err)
{
    if (c->state == SC_CHAN_FAILED)
        return sc_err_set(err, SC_ESTATE, "channel already failed");
    sc_frame frame;
    int rc = sc_reader_next(c->reader, &frame);
    if (rc == SC_AGAIN)
        return SC_AGAIN;
    if (rc != SC_OK) {
        c->state = SC_CHAN_FAILED;
        return sc_err_set(err, rc, "%s", sc_reader_errstr(c->reader));
    }
    memset(ev, 0, sizeof(*ev));
    ev->raw_len = frame.raw_len;
    if (c->state == SC_CHAN_HANDSHAKE) {
        rc = take_peer_uid(c, &frame.obj, err);
        if (rc != SC_OK) {
            c->state = SC_CHAN_FAILED;
            return rc;
        }
        c->state = SC_CHAN_OPEN;
        ev->kind = SC_CHAN_EV_HANDSHAKE;
        return SC_OK;
    }
    ev->kind = SC_CHAN_EV_MSG;
    ev->obj = frame.obj;
    ev->parse_rc = sc_msg_parse(&frame.obj, &ev->msg, &ev->parse_err);
    return SC_OK;
}

int sc_chan_finish(sc_chan *c, sc_err *err)
{
    int rc = sc_reader_finish(c->reader);
    if (rc != SC_OK)
        return sc_err_set(err, rc, "%s", sc_reader_errstr(c->reader));
    return SC_OK;
}

size_t sc_chan_input_pending(const sc_chan *c)
{
    return sc_reader_pending(c->reader);
}

msgpack_packer *sc_chan_begin(sc_chan *c, sc_err *err)
{
    if (sc_frame_begin(c->codec, &c->out, &c->frame_mark, err) != SC_OK)
        return NULL;
    return &c->pk;
}

int sc_chan_end(sc_chan *c, int pack_rc, sc_err *err)
{
    if (pack_rc != 0) {
        int why = c->out.write_rc;
        c->out.write_rc = SC_OK;
        sc_buf_truncate(&c->out, c->frame_mark);
        if (why == SC_ELIMIT)
            return sc_err_set(err, SC_EFULL,
                              "output buffer limit of %zu bytes reached: the peer is not reading",
                              c->out.max);
        if (why == SC_OK)
            return sc_err_set(err, SC_EARG, "the encoder refused its arguments");
        return sc_err_set(err, SC_ENOMEM, "out of memory encoding a message");
    }
    return sc_frame_end(c->codec, &c->out, c->frame_mark, c->max_frame, err);
}

/* One whole message from one encoder call: begin, pack, end. */
#define SC_CHAN_SEND(c, err, pack_expr)                                 \
    do {                                                                \
        sc_err local_;                                                  \
        sc_err *e_ = (err) ? (err) : &local_;                           \
        msgpack_packer *pk = sc_chan_begin((c), e_);                    \
        if (!pk)                                                        \
            return e_->code;                                            \
        return sc_chan_end((c), (pack_expr), e_);                       \
    } while (0)

int sc_chan_send_uid(sc_chan *c, const sc_uid *uid, sc_err *err)
{
    SC_CHAN_SEND(c, err, sc_pack_uid(pk, uid));
}

int sc_chan_send_nil(sc_chan *c, sc_err *err)
{
    SC_CHAN_SEND(c, err, sc_pack_nil_msg(pk));
}

int sc_chan_send_functype(sc_chan *c, sc_str cid, sc_functype f, sc_err *err)
{
    SC_CHAN_SEND(c, err, sc_pack_functype(pk, cid, f));
}

int sc_chan_send_stop(sc_chan *c, sc_str cid, sc_err *err)
{
    SC_CHAN_SEND(c, err, sc_pack_stop(pk, cid));
}

int sc_chan_send_error(sc_chan *c, sc_str cid, sc_str type_str, sc_str tb_str, sc_err *err)
{
    SC_CHAN_SEND(c, err, sc_pack_error(pk, cid, type_str, tb_str));
}

int sc_chan_send_raw_value(sc_chan *c, sc_msg_kind kind, sc_str cid, const char *value, size_t len,
                           sc_err *err)
{
    sc_err local;
    if (!err)
        err = &local;
    msgpack_packer *pk = sc_chan_begin(c, err);
    if (!pk)
        return err->code;
    int rc = sc_pack_value_begin(pk, kind);
    if (rc == 0)
        rc = sc_buf_msgpack_write(&c->out, value, len);
    if (rc == 0)
        rc = sc_pack_value_end(pk, cid);
    return sc_chan_end(c, rc, err);
}
