/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* net.h - addresses and sockets for scwire-tap: the HOST:PORT flags, the
 * listening socket and non-blocking connects to the target.  Every socket
 * made here is non-blocking and close-on-exec. */
#ifndef TAP_NET_H
#define TAP_NET_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common.h"

#define NET_HOST_MAX 255
/* Room for "[<IPv6 text>]:65535". */
#define NET_NAME_MAX 64

typedef struct net_hostport {
    char host[NET_HOST_MAX + 1];   /* without the brackets of an IPv6 address */
    char port[6];                  /* decimal text, as getaddrinfo takes it */
} net_hostport;

/* HOST:PORT or [V6]:PORT, with a port from min_port to 65535; SC_EARG and a
 * sentence naming the flag otherwise. */
int net_parse_hostport(const char *flag, const char *s, unsigned min_port, net_hostport *out,
                       sc_err *err);
/* Resolve to TCP addresses; *out is freed with freeaddrinfo(). */
int net_resolve(const net_hostport *hp, int passive, struct addrinfo **out, sc_err *err);
/* Bind and listen on the first address that works; name gets the bound
 * address as HOST:PORT (the real port when port 0 was asked for). */
int net_listen(const net_hostport *hp, int *fd, char name[NET_NAME_MAX], sc_err *err);
/* Start connecting to ai: 0 with *fd set (connected, or in progress: wait
 * for write readiness and ask net_connect_result), else the errno. */
int net_connect_start(const struct addrinfo *ai, int *fd);
/* 0 once the connect on fd has succeeded, else its errno. */
int net_connect_result(int fd);
/* HOST:PORT or [V6]:PORT text of a socket address. */
void net_name(const struct sockaddr *sa, char name[NET_NAME_MAX]);
/* Forwarded bytes must not wait for Nagle, least of all --chop's small
 * writes; a failure only costs latency, so it is ignored. */
void net_nodelay(int fd);

#endif
