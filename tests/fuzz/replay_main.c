/* replay_main.c -- the main() of a fuzz target built without libFuzzer: feeds every file named
 * on the command line, and every regular file of every directory named there (in name order,
 * hidden files skipped), to LLVMFuzzerTestOneInput once. A crash, a sanitizer report or a
 * failed FUZZ_CHECK ends the process; an input that runs longer than REPLAY_TIMEOUT_S seconds
 * is killed by SIGALRM. Exits 0 after the last input, 1 when no input was found or a path
 * cannot be read (so an empty or misplaced corpus does not pass silently). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Per input; libFuzzer's own default -timeout is 1200 s, the fuzz script uses less. */
#define REPLAY_TIMEOUT_S 25u
/* Inputs are small seeds and crashers; anything bigger is a mistake in the corpus. */
#define REPLAY_MAX_BYTES ((size_t)16 << 20)

/* Runs the file at <path>. Returns 0, or -1 when it cannot be read (message printed). */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = 0;
	while (buf) {
		if (len == cap) {
			if (cap >= REPLAY_MAX_BYTES) {
				fprintf(stderr, "replay: %s: larger than %zu bytes\n", path,
				        REPLAY_MAX_BYTES);
				rc = -1;
				break;
			}
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (!buf) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		rc = -1;
	} else if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		rc = -1;
	}
	fclose(f);
	if (rc == 0) {
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
		alarm(REPLAY_TIMEOUT_S);
		/* libFuzzer never passes NULL data; a zero-size input is a valid pointer too. */
		LLVMFuzzerTestOneInput(buf, len);
		alarm(0);
	}
	free(buf);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular, non-hidden file of <dir> in name order; adds their number to <*count>.
 * Returns 0 or -1. */
static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				rc = -1;
				break;
			}
			names = nn;
		}
		size_t sz = strlen(dir) + strlen(e->d_name) + 2;
		if (!(names[n] = malloc(sz))) {
			rc = -1;
			break;
		}
		snprintf(names[n], sz, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (rc == 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) != 0)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	if (rc != 0)
		fprintf(stderr, "replay: %s: failed\n", dir);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) != 0)
				rc = 1;
		} else if (run_file(argv[i]) != 0) {
			rc = 1;
		} else {
			count++;
		}
	}
	if (count == 0) {
		fprintf(stderr, "replay: no input found (usage: %s FILE|DIR...)\n", argv[0]);
		rc = 1;
	}
	printf("replay: %zu inputs ran without a failure%s\n", count,
	       rc ? " (but some paths could not be read)" : "");
	return rc;
}
