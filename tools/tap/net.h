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
 * address as HOST:PORT (the real port when port 0 was asked for).  sockbuf,
 * when not 0, is the SO_RCVBUF and SO_SNDBUF of every accepted socket. */
int net_listen(const net_hostport *hp, int sockbuf, int *fd, char name[NET_NAME_MAX],
               sc_err *err);
/* SO_RCVBUF and SO_SNDBUF of fd (errors only cost memory or speed). */
void net_sockbuf(int fd, int bytes);
/* How a connection to a target is made. */
typedef struct net_connect_opts {
    unsigned bind_port;   /* leave from this port when it is free; 0: any port */
    unsigned mark;        /* SO_MARK of the socket (needs CAP_NET_ADMIN); 0: none */
    int sockbuf;          /* SO_RCVBUF and SO_SNDBUF; 0: the kernel's own */
} net_connect_opts;

/* Start connecting to ai: 0 with *fd set (connected, or in progress: wait
 * for write readiness and ask net_connect_result), else the errno.  *kept
 * (when not NULL) says whether the socket got o->bind_port. */
int net_connect_start(const struct addrinfo *ai, const net_connect_opts *o, int *fd,
                      int *kept);
/* 0 when sockets may carry this mark (a throwaway socket tries it), else
 * the errno (EPERM without CAP_NET_ADMIN). */
int net_mark_allowed(unsigned mark);
/* Where a connection redirected by the packet filter (nftables "redirect",
 * iptables REDIRECT) was headed: 0 with *ss set, else the errno (ENOENT
 * when it was not redirected). */
int net_original_dst(int fd, struct sockaddr_storage *ss);
/* The port of an IPv4 or IPv6 socket address, else 0. */
unsigned net_port(const struct sockaddr *sa);
/* Same family, address and port. */
int net_same_endpoint(const struct sockaddr *a, const struct sockaddr *b);
/* 0 once the connect on fd has succeeded, else its errno. */
int net_connect_result(int fd);
/* HOST:PORT or [V6]:PORT text of a socket address. */
void net_name(const struct sockaddr *sa, char name[NET_NAME_MAX]);
/* Forwarded bytes must not wait for Nagle, least of all --chop's small
 * writes; a failure only costs latency, so it is ignored. */
void net_nodelay(int fd);

#endif
