/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/ck_run.h: how every Check program ends: run the suite, print
 * Check's summary, exit non-zero if anything failed. */
#ifndef DD_TESTS_CK_RUN_H
#define DD_TESTS_CK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int dd_ck_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
