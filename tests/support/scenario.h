/* scenario.h -- suites written as scenarios, for the ThreadSanitizer build.
 *
 * A scenario is `const char *fn(void)`: NULL when it passed, else what went wrong. Under
 * Criterion each one is a Test (the suite's SCENARIO_TEST macro). Criterion 2.4 cannot start
 * under ThreadSanitizer (it maps its inter-process arena where TSan's shadow memory lives,
 * Snaipe/Criterion#274), so in a TSan build (PS_TEST_TSAN) the suite's own main() runs its
 * scenarios in turn with scenario_run_all. */
#ifndef PS_TEST_SCENARIO_H
#define PS_TEST_SCENARIO_H

#include <stddef.h>
#include <stdio.h>

#if defined(__SANITIZE_THREAD__)
#define PS_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PS_TEST_TSAN 1
#endif
#endif

struct scenario {
	const char *name;
	const char *(*fn)(void);
};

/* Runs the <n> scenarios of <all> in order, printing "<suite> (tsan): <name> passed" or the
 * problem on stderr. Returns how many failed. */
static inline int scenario_run_all(const char *suite, const struct scenario *all, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = all[i].fn();
		if (p) {
			fprintf(stderr, "%s (tsan): %s: %s\n", suite, all[i].name, p);
			failed++;
		} else {
			printf("%s (tsan): %s passed\n", suite, all[i].name);
		}
		fflush(stdout);
	}
	return failed;
}

#endif
