/* fuzz.h -- shared by the fuzz targets of tests/fuzz: the libFuzzer entry point's prototype, an
 * invariant check that aborts (so libFuzzer and the replay runner both see a failure), and a
 * NUL-terminated copy of the input for the parsers that take C strings. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called by libFuzzer, or by replay_main.c, once per input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A documented property that the input broke: print where and abort. */
#define FUZZ_CHECK(cond)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, \
			        #cond);                                                       \
			abort();                                                              \
		}                                                                             \
	} while (0)

/* Returns a malloc'ed NUL-terminated copy of the <size> bytes at <data>; aborts when out of
 * memory (the harness's own allocation, not the code under test). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Writes the <size> bytes at <data> to <path>, replacing it; aborts on failure (a harness
 * problem, not a finding). */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

#endif
