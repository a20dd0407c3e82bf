/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* actortest.c - steps shared by the CUnit tests of a whole actor (actortest.h). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "actortest.h"

void at_start(simpeer *p, const sc_actor_config *cfg)
{
    CU_ASSERT_FATAL(sp_init(p, cfg) == SC_OK);
}

void at_finish(simpeer *p)
{
    CU_ASSERT(sp_free(p) == 0);
}

int at_peer(simpeer *p)
{
    int h = sp_handshake(p, "peer", AT_PEER_UUID);
    CU_ASSERT_FATAL(h >= 0);
    return h;
}

int at_functype(simpeer *p, int h, const char *cid, const char *kind)
{
    return sp_expect(p, h, "{'functype': '%s', 'cid': '%s'}", kind, cid);
}

int at_return(simpeer *p, int h, const char *cid, const char *value)
{
    return sp_expect(p, h, "{'return': %s, 'cid': '%s'}", value, cid);
}

sc_actor_config at_config(void)
{
    sc_actor_config c;
    sc_actor_config_default(&c);
    return c;
}

char *at_repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    CU_ASSERT_FATAL(s != NULL);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}
