/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* actortest.h - the steps every CUnit test of a whole actor takes over the
 * simulated peer (simpeer.h): starting and freeing the actor under CUnit
 * checks, the usual peer's handshake, and the replies tests expect most. */
#ifndef SC_ACTORTEST_H
#define SC_ACTORTEST_H

#include "simpeer.h"

/* The uuid of the usual peer, ('peer', AT_PEER_UUID). */
#define AT_PEER_UUID "11111111-1111-4111-8111-111111111111"

/* sc_actor_config_default(), for a test to change. */
sc_actor_config at_config(void);
/* n times c and a NUL, malloc'ed (fatal to the test when out of memory). */
char *at_repeat(char c, size_t n);
/* sp_init, fatal to the test when it fails. */
void at_start(simpeer *p, const sc_actor_config *cfg);
/* sp_free, failing the test when anything leaked. */
void at_finish(simpeer *p);
/* A connection handshaken as the usual peer; fatal to the test when refused. */
int at_peer(simpeer *p);
/* sp_expect of the next message on h: functype of that kind, or the return
 * with that value (in the Python-like notation of sp_expect). */
int at_functype(simpeer *p, int h, const char *cid, const char *kind);
int at_return(simpeer *p, int h, const char *cid, const char *value);

#endif
