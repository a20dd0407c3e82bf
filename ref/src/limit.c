/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* limit.c - reference defaults of spec/limits.md. */
#include "limit.h"

void sc_limits_default(sc_limits *l)
{
    l->max_frame = 1048576;
    l->max_depth = SC_DEPTH_CAP;
    l->max_str = 1048576;
    l->max_entries = 65536;
    l->max_contexts = 16384;
    l->max_conns = 1024;
    l->handshake_timeout = 10.0;
    l->idle_timeout = 0.0;
    l->message_timeout = 30.0;
    l->msg_buffer_size = 64;
    l->park_max_msgs = 1024;
    l->park_max_bytes = 4u << 20;
    l->max_outbuf = 4u << 20;
    l->max_registry = 65536;
    l->max_conn_bytes = 32u << 20;
    l->max_total_bytes = 512u << 20;
}
