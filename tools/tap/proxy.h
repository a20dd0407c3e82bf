/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* proxy.h - the relay of scwire-tap: accepts clients, connects each to the
 * target, forwards the bytes unchanged both ways (held for a while with
 * --delay) and records what they decode to in the trace.  All I/O runs on
 * one libev loop. */
#ifndef TAP_PROXY_H
#define TAP_PROXY_H

#include <netdb.h>

#include "codec.h"
#include "delay.h"
#include "trace.h"

typedef struct tap_config {
    const struct addrinfo *target;   /* the resolved --target, tried in order; NULL with
                                        transparent */
    const char *target_name;         /* --target as given, for messages */
    int transparent;                 /* each client goes where it was headed before the
                                        packet filter redirected it to the tap */
    int keep_port;                   /* connect to the target from the client's port */
    unsigned mark;                   /* SO_MARK of the connections to targets; 0: none */
    tap_delay delay[2];              /* holding time per direction (tap_dir) */
    size_t buffer;                   /* bytes queued for one side before the other is
                                        not read (the high water mark) */
    int sockbuf;                     /* SO_RCVBUF and SO_SNDBUF of every socket; 0: the
                                        kernel's own */
    sc_codec codec;
    size_t chop;                     /* largest single write; 0 = no limit */
    unsigned max_conns;              /* more clients wait in the listen backlog */
    int quiet;                       /* no per-connection lines on stderr */
} tap_config;

/* Accept on listen_fd (bound, listening, non-blocking; closed on return)
 * and relay until SIGINT or SIGTERM, which the caller has blocked: they are
 * unblocked once the loop can take them.  Every connection still open then
 * gets its "close" line.  Returns the exit status: 0 after a signal, 1 when
 * the trace cannot be written or the loop cannot start. */
int tap_run(const tap_config *cfg, int listen_fd, trace *tr);

#endif
