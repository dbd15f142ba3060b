/* fuzz_cfg.c -- fuzz target: the YAML configuration loader. cfg_load() reads only from a path, so
 * each input is written to a file in a private temporary directory first. Checks what cfg.h
 * documents: a failure has a first message and an error list, a success has none; every target
 * is found by its key; a configuration can always replace itself on reload; and cfg_dump()
 * renders YAML that loads back to the same configuration (the same dump, keys and queries). */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "fuzz.h"
#include "ps_alloc.h"

static char dir[256];
static char file[300];
static char dump_file[300];

static void cleanup(void)
{
	unlink(file);
	unlink(dump_file);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0])
		return;
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/ps_fuzz_cfg.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror(dir);
		abort();
	}
	snprintf(file, sizeof(file), "%s/input.yaml", dir);
	snprintf(dump_file, sizeof(dump_file), "%s/dump.yaml", dir);
	atexit(cleanup);
}

/* <text> without the lines that start with "# " (they name the source file). */
static char *strip_comments(const char *text)
{
	size_t o = 0;
	char *out = malloc(strlen(text) + 1);
	if (!out)
		abort();
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, "# ", 2) != 0) {
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
	}
	out[o] = '\0';
	return out;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_round_trip(const struct cfg *c)
{
	char *one = NULL, *two = NULL;
	FUZZ_CHECK(cfg_dump(c, &one) == PS_OK);
	fuzz_write_file(dump_file, (const uint8_t *)one, strlen(one));
	struct cfg *back = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	enum ps_err err = cfg_load(dump_file, &back, &errs, &d);
	if (err != PS_OK)
		fprintf(stderr, "the dump does not load back: %s\n--- dump:\n%s\n", ps_diag_msg(&d),
		        one);
	FUZZ_CHECK(err == PS_OK);
	cfg_errors_free(errs);
	FUZZ_CHECK(cfg_dump(back, &two) == PS_OK);
	char *a = strip_comments(one), *b = strip_comments(two);
	if (strcmp(a, b) != 0)
		fprintf(stderr, "--- dump:\n%s\n--- dump of the dump:\n%s\n", a, b);
	FUZZ_CHECK(strcmp(a, b) == 0);
	free(a);
	free(b);
	FUZZ_CHECK(cfg_target_count(back) == cfg_target_count(c));
	for (size_t i = 0; i < cfg_target_count(c); i++) {
		const struct cfg_target *x = cfg_target_at(c, i), *y = cfg_target_at(back, i);
		FUZZ_CHECK(same_str(x->key, y->key));
		FUZZ_CHECK(x->interval_ms == y->interval_ms);
		FUZZ_CHECK(cfg_target_same_queries(x, y));
	}
	FUZZ_CHECK(cfg_check_reload(c, back, &d) == PS_OK);
	ps_free(one);
	ps_free(two);
	cfg_unref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	fuzz_write_file(file, data, size);
	struct cfg *c = NULL;
	struct cfg_errors *errs = NULL;
	struct ps_diag d;
	enum ps_err err = cfg_load(file, &c, &errs, &d);
	if (err == PS_OK) {
		FUZZ_CHECK(c != NULL);
		FUZZ_CHECK(cfg_errors_count(errs) == 0);
		FUZZ_CHECK(cfg_file_count(c) == 1);
		for (size_t i = 0; i < cfg_target_count(c); i++) {
			const struct cfg_target *t = cfg_target_at(c, i);
			FUZZ_CHECK(t->key && cfg_target_find(c, t->key) == t);
			FUZZ_CHECK(cfg_target_equal(t, t) && cfg_target_same_queries(t, t));
		}
		FUZZ_CHECK(cfg_check_reload(c, c, &d) == PS_OK);
		check_round_trip(c);
		cfg_unref(c);
	} else {
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(err == PS_ECONFIG || err == PS_EIO);
		FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
		FUZZ_CHECK(errs && cfg_errors_count(errs) >= 1);
		/* The first message of the list, maybe cut to the diag's size. */
		FUZZ_CHECK(strncmp(cfg_errors_at(errs, 0), ps_diag_msg(&d), strlen(ps_diag_msg(&d))) == 0);
	}
	cfg_errors_free(errs);
	return 0;
}
