/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks for unit tests: each failed check prints where and what, the test
 * goes on, and test_summary() turns the count into the exit code (CTest:
 * 0 pass, 1 fail, 77 skipped). One test program per translation unit.
 */
#pragma once

#include <stdio.h>

static int checks __attribute__((unused)), failures __attribute__((unused));

#define CHECK(cond)                                                                  \
	do {                                                                         \
		checks++;                                                            \
		if (!(cond)) {                                                       \
			failures++;                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                              \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                  \
		checks++;                                                            \
		if (_a != _b) {                                                      \
			failures++;                                                  \
			fprintf(stderr, "%s:%d: %s == %lld (%#llx), expected %s == %lld (%#llx)\n", \
				__FILE__, __LINE__, #a, _a, (unsigned long long)_a, #b, _b, \
				(unsigned long long)_b);                             \
		}                                                                    \
	} while (0)
