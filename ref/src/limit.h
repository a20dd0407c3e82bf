/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* limit.h - the resource bounds of spec/limits.md and their defaults.
 *
 * One struct so that the daemon's flags, the tests and the fuzzers all pass
 * the same thing down to the codec and the actor. */
#ifndef SC_LIMIT_H
#define SC_LIMIT_H

#include <stddef.h>
#include <stdint.h>

/* msgpack-c's unpacker keeps a fixed stack of 32 containers and reports
 * deeper input as an allocation failure, so a deeper limit would be a lie. */
#define SC_DEPTH_CAP 32

typedef struct sc_limits {
    size_t max_frame;          /* bytes of one encoded message (LIM) */
    unsigned max_depth;        /* container nesting, top level = 1 */
    uint32_t max_str;          /* bytes of one str/bin/ext */
    uint32_t max_entries;      /* items of one array, pairs of one map */
    unsigned max_contexts;     /* live contexts on one channel */
    unsigned max_conns;        /* open connections of one actor */
    unsigned max_conns_per_addr; /* ... from one peer address; 0: half of max_conns, at least
                                  * min(64, max_conns) (LIM-23) */
    double handshake_timeout;  /* seconds until the peer's uid must be in */
    double idle_timeout;       /* seconds without a whole message after the handshake; 0: off */
    double message_timeout;    /* seconds from a message's first byte to its last; 0: off */
    unsigned msg_buffer_size;  /* per-context receive buffer (messages) */
    unsigned park_max_msgs;    /* parked messages of backpressured contexts, per channel */
    size_t park_max_bytes;     /* the same, in bytes */
    size_t max_outbuf;         /* unsent output per connection before reading pauses */
    unsigned max_registry;     /* entries of the registry role (REG-3) */
    size_t max_conn_bytes;     /* bytes kept on one connection's account (LIM-20) */
    size_t max_total_bytes;    /* bytes kept for all peers together (LIM-21) */
} sc_limits;

void sc_limits_default(sc_limits *l);

#endif
