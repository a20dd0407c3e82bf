/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* suites.h - one registration function per module under test; run_tests.c
 * calls them all.  Each returns a CUnit error code (CUE_SUCCESS). */
#ifndef SC_TEST_SUITES_H
#define SC_TEST_SUITES_H

#include <CUnit/CUnit.h>

#define SC_TEST_SUITES(X) \
    X(buf)                \
    X(scan)               \
    X(codec)              \
    X(msg)                \
    X(chan)               \
    X(ctx)                \
    X(registry)           \
    X(actor)              \
    X(nursery)            \
    X(budget)             \
    X(regress)

#define SC_DECLARE_SUITE(name) int register_##name##_tests(void);
SC_TEST_SUITES(SC_DECLARE_SUITE)

/* Add a suite with its tests; tests is terminated by CU_TEST_INFO_NULL. */
int sc_add_suite(const char *name, CU_TestInfo *tests);

#endif
