/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* chan.h - one channel (one TCP connection) of spec/protocol.md: the codec
 * reader for its input, the handshake state, the peer's uid, and the framed
 * output waiting to be written.
 *
 * A channel knows bytes and messages, not what they mean: it turns input into
 * "handshake done" and "message" events and frames whatever the actor packs
 * into its output.  Dispatch is the actor's business. */
#ifndef SC_CHAN_H
#define SC_CHAN_H

#include <msgpack.h>

#include "buf.h"
#include "codec.h"
#include "msg.h"

typedef enum sc_chan_state {
    SC_CHAN_HANDSHAKE = 0,   /* waiting for the peer's uid */
    SC_CHAN_OPEN,            /* messages flow */
    SC_CHAN_FAILED           /* input is unusable; the connection must close */
} sc_chan_state;

typedef enum sc_chan_event_kind {
    SC_CHAN_EV_HANDSHAKE = 1,  /* the peer's uid arrived (chan->peer) */
    SC_CHAN_EV_MSG             /* a message; see parse_rc */
} sc_chan_event_kind;

typedef struct sc_chan_event {
    sc_chan_event_kind kind;
    sc_msg msg;         /* valid until the next sc_chan_next */
    msgpack_object obj; /* the decoded message itself, valid as long */
    int parse_rc;       /* SC_OK or an SC_EMSG_* code from sc_msg_parse */
    sc_err parse_err;   /* why, when parse_rc != SC_OK */
    size_t raw_len;     /* encoded size of the message */
} sc_chan_event;

typedef struct sc_chan {
    sc_codec codec;
    sc_chan_state state;
    sc_reader *reader;
    sc_buf out;
    msgpack_packer pk;
    size_t frame_mark;
    size_t max_frame;
    char *peer_name;    /* owned copies, NUL-terminated */
    char *peer_uuid;
    sc_uid peer;        /* views of the two strings above */
} sc_chan;

/* out_cap bounds the unsent output; crossing it fails the send with
 * SC_EFULL (the actor then closes the connection: the peer is not reading).
 * A message larger than max_frame fails with SC_ELIMIT and leaves the
 * channel usable. */
int sc_chan_init(sc_chan *c, sc_codec codec, const sc_limits *lim, size_t out_cap, sc_err *err);
void sc_chan_destroy(sc_chan *c);

int sc_chan_feed(sc_chan *c, const char *data, size_t len, sc_err *err);
/* SC_OK with *ev filled, SC_AGAIN when no whole message is buffered, or an
 * error that means the connection must close (err says why): a codec error,
 * or a first message that is not a valid uid. */
int sc_chan_next(sc_chan *c, sc_chan_event *ev, sc_err *err);
/* At EOF: SC_OK unless a partial message was left (then err says so). */
int sc_chan_finish(sc_chan *c, sc_err *err);
size_t sc_chan_input_pending(const sc_chan *c);

/* Pack one message: begin returns the packer (NULL on failure), the caller
 * packs exactly one msgpack object, end frames it.  On failure the partial
 * message is removed from the output. */
msgpack_packer *sc_chan_begin(sc_chan *c, sc_err *err);
int sc_chan_end(sc_chan *c, int pack_rc, sc_err *err);
/* Convenience senders built on begin/end. */
int sc_chan_send_uid(sc_chan *c, const sc_uid *uid, sc_err *err);
int sc_chan_send_nil(sc_chan *c, sc_err *err);
int sc_chan_send_functype(sc_chan *c, sc_str cid, sc_functype f, sc_err *err);
int sc_chan_send_stop(sc_chan *c, sc_str cid, sc_err *err);
int sc_chan_send_error(sc_chan *c, sc_str cid, sc_str type_str, sc_str tb_str, sc_err *err);
/* {"return"|"started"|"yield": <encoded value bytes>, "cid": cid} */
int sc_chan_send_raw_value(sc_chan *c, sc_msg_kind kind, sc_str cid, const char *value, size_t len,
                           sc_err *err);

static inline size_t sc_chan_output_size(const sc_chan *c) { return sc_buf_size(&c->out); }

#endif
