/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* net.c - addresses and sockets for scwire-tap (see net.h). */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int net_parse_hostport(const char *flag, const char *s, unsigned min_port, net_hostport *out,
                       sc_err *err)
{
    const char *h = s, *colon, *p;
    size_t hlen;
    unsigned long port;
    char *end;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return sc_err_set(err, SC_EARG, "%s: '%s' is not [HOST]:PORT", flag, s);
        h = s + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return sc_err_set(err, SC_EARG, "%s: '%s' is not HOST:PORT", flag, s);
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen))
            return sc_err_set(err, SC_EARG, "%s: '%s': write an IPv6 address as [ADDRESS]:PORT",
                              flag, s);
    }
    if (hlen == 0)
        return sc_err_set(err, SC_EARG, "%s: '%s' has no host", flag, s);
    if (hlen > NET_HOST_MAX)
        return sc_err_set(err, SC_EARG, "%s: the host of '%s' is longer than %d characters",
                          flag, s, NET_HOST_MAX);
    p = colon + 1;
    /* strtoul alone would take " 7", "+7" and "-1". */
    if (!isdigit((unsigned char)p[0]) || strlen(p) > 5)
        return sc_err_set(err, SC_EARG, "%s: port '%s' of '%s' is not a number from %u to 65535",
                          flag, p, s, min_port);
    port = strtoul(p, &end, 10);
    if (*end != '\0' || port < min_port || port > 65535)
        return sc_err_set(err, SC_EARG, "%s: port '%s' of '%s' is not a number from %u to 65535",
                          flag, p, s, min_port);
    memcpy(out->host, h, hlen);
    out->host[hlen] = '\0';
    snprintf(out->port, sizeof(out->port), "%lu", port);
    return SC_OK;
}

int net_resolve(const net_hostport *hp, int passive, struct addrinfo **out, sc_err *err)
{
    struct addrinfo hints;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    rc = getaddrinfo(hp->host, hp->port, &hints, out);
    if (rc != 0)
        return sc_err_set(err, SC_EARG, "cannot resolve %s: %s", hp->host,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    return SC_OK;
}

void net_sockbuf(int fd, int bytes)
{
    if (bytes <= 0)
        return;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int net_listen(const net_hostport *hp, int sockbuf, int *fd_out, char name[NET_NAME_MAX],
               sc_err *err)
{
    struct addrinfo *res, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int fd = -1, e = EADDRNOTAVAIL, one = 1, rc;

    rc = net_resolve(hp, 1, &res, err);
    if (rc != SC_OK)
        return rc;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        /* Accepted sockets inherit the buffers; the window scale is set then. */
        net_sockbuf(fd, sockbuf);
        /* A tap restarted on a fixed port must not wait out TIME_WAIT. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0
            && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return sc_err_set(err, SC_EARG, "cannot listen on %s:%s: %s", hp->host, hp->port,
                          strerror(e));
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        e = errno;
        close(fd);
        return sc_err_set(err, SC_EARG, "cannot listen on %s:%s: %s", hp->host, hp->port,
                          strerror(e));
    }
    net_name((const struct sockaddr *)&ss, name);
    *fd_out = fd;
    return SC_OK;
}

/* Bind fd to `port` on the address the kernel would pick as the source of
 * a connection to ai (a UDP socket asks the routing table); 1 if it could.
 * SO_REUSEADDR lets it take a port that only connections in TIME_WAIT hold,
 * as the tap's own earlier connections from that port do. */
static int bind_port(int fd, const struct addrinfo *ai, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int ok, one = 1, u = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (u < 0)
        return 0;
    ok = connect(u, ai->ai_addr, ai->ai_addrlen) == 0
         && getsockname(u, (struct sockaddr *)&ss, &len) == 0;
    close(u);
    if (!ok)
        return 0;
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)port);
    else if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)port);
    else
        return 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return bind(fd, (struct sockaddr *)&ss, len) == 0;
}

int net_connect_start(const struct addrinfo *ai, const net_connect_opts *o, int *fd_out,
                      int *kept)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return errno;
    if (o)
        net_sockbuf(fd, o->sockbuf);
    if (o && o->mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &o->mark, sizeof(o->mark)) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    /* A port in use is no error: the connection then leaves from any port. */
    if (kept)
        *kept = o && o->bind_port && bind_port(fd, ai, o->bind_port);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

int net_connect_result(int fd)
{
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return errno;
    return e;
}

void net_name(const struct sockaddr *sa, char name[NET_NAME_MAX])
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        snprintf(name, NET_NAME_MAX, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        snprintf(name, NET_NAME_MAX, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
    } else {
        snprintf(name, NET_NAME_MAX, "(address family %d)", (int)sa->sa_family);
    }
}

void net_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int net_mark_allowed(unsigned mark)
{
    int e = 0, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return errno;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
        e = errno;
    close(fd);
    return e;
}

/* linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h, whose
 * other definitions clash with the libc headers. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#define IP6T_SO_ORIGINAL_DST_ 80

int net_original_dst(int fd, struct sockaddr_storage *ss)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);

    if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
        return errno;
    len = sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    if (local.ss_family == AF_INET6) {
        if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST_, ss, &len) < 0)
            return errno;
    } else if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, &len) < 0) {
        return errno;
    }
    /* Without a redirect the original destination is the tap itself. */
    if (net_same_endpoint((struct sockaddr *)ss, (struct sockaddr *)&local))
        return ENOENT;
    return 0;
}

unsigned net_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return 0;
}

int net_same_endpoint(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family || net_port(a) != net_port(b))
        return 0;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr
               == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return 0;
}
