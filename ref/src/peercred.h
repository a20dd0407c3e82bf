/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* peercred.h - which process is at the other end of a TCP connection on
 * this host.  Part of the glue: it reads /proc (Linux). */
#ifndef SC_PEERCRED_H
#define SC_PEERCRED_H

/* 1 if the peer socket of connected TCP socket fd belongs to process pid
 * (or to one of its direct children), 0 if it provably belongs to another
 * process, -1 if this host cannot tell (the peer is elsewhere, no /proc). */
int peercred_is_process(int fd, int pid);

#endif
