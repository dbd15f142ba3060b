/* ps_compiler.h -- attributes and the programmer-error assertion used across prescale. */
#ifndef PS_COMPILER_H
#define PS_COMPILER_H

#include <stdio.h>
#include <stdlib.h>

/* Marks a fallible function: its result must be checked. */
#define PS_MUST_CHECK __attribute__((warn_unused_result))
/* printf-style format checking: <fmt> is argument <f>, the values start at <a>. */
#define PS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PS_UNUSED __attribute__((unused))
#define PS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* For programmer errors only (a broken invariant), never for input: input gets an error code. */
#define PS_ASSERT(cond)                                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
