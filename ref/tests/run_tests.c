/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* run_tests.c - the CUnit runner for the reference runtime's core.
 * Usage: unit-tests [SUITE [TEST]]   exit status 0 only if every test passed. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "suites.h"

int sc_add_suite(const char *name, CU_TestInfo *tests)
{
    CU_SuiteInfo suites[] = {
        { name, NULL, NULL, NULL, NULL, tests },
        CU_SUITE_INFO_NULL,
    };
    return CU_register_suites(suites);
}

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "unit-tests: cannot initialise CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
#define SC_REGISTER_SUITE(name)                                                  \
    if (register_##name##_tests() != CUE_SUCCESS) {                              \
        fprintf(stderr, "unit-tests: cannot register suite %s: %s\n", #name,     \
                CU_get_error_msg());                                             \
        CU_cleanup_registry();                                                   \
        return 2;                                                                \
    }
    SC_TEST_SUITES(SC_REGISTER_SUITE)

    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_ErrorCode rc;
    if (argc >= 2) {
        CU_pSuite suite = CU_get_suite(argv[1]);
        if (!suite) {
            fprintf(stderr, "unit-tests: no suite named '%s'\n", argv[1]);
            CU_cleanup_registry();
            return 2;
        }
        if (argc >= 3) {
            CU_pTest test = CU_get_test(suite, argv[2]);
            if (!test) {
                fprintf(stderr, "unit-tests: no test '%s' in suite '%s'\n", argv[2], argv[1]);
                CU_cleanup_registry();
                return 2;
            }
            rc = CU_basic_run_test(suite, test);
        } else {
            rc = CU_basic_run_suite(suite);
        }
    } else {
        rc = CU_basic_run_tests();
    }
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (rc != CUE_SUCCESS) {
        fprintf(stderr, "unit-tests: CUnit error: %s\n", CU_get_error_msg());
        return 2;
    }
    if (ran == 0) {
        fprintf(stderr, "unit-tests: no test ran\n");
        return 2;
    }
    return failed ? 1 : 0;
}
