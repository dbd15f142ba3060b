/* fuzz_kubeconfig.c -- fuzz target: kubeconfig parsing and kubectl's merge, through
 * kcfg_load_kubeconfig() and kcfg_view_json() (redacted and not) on the input written as a file
 * in a private temporary directory. No credentials are asked for, so no exec plugin ever runs
 * and nothing touches the network; files the input names relative to its directory are looked
 * up there (and are normally missing). Checks what kubeconfig.h documents: a failure has a
 * message and no config; a loaded config has a server without a trailing slash, a namespace and
 * its origin; the view is JSON text whether the load of a context succeeds or not. */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "kubeconfig.h"
#include "ps_alloc.h"

static char dir[256];
static char file[300];

static void cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

static void setup(void)
{
	if (dir[0])
		return;
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/ps_fuzz_kubeconfig.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror(dir);
		abort();
	}
	snprintf(file, sizeof(file), "%s/config", dir);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	fuzz_write_file(file, data, size);
	struct kcfg *c = NULL;
	struct ps_diag d;
	enum ps_err err = kcfg_load_kubeconfig(file, NULL, &c, &d);
	if (err == PS_OK) {
		FUZZ_CHECK(c != NULL);
		FUZZ_CHECK(c->source == KCFG_SOURCE_KUBECONFIG);
		FUZZ_CHECK(c->server && c->namespace && c->origin);
		size_t n = strlen(c->server);
		FUZZ_CHECK(n == 0 || c->server[n - 1] != '/');
		FUZZ_CHECK(!c->client_key.data || c->client_key.data[c->client_key.len] == '\0');
		kcfg_free(c);
	} else {
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
	}

	for (int redact = 0; redact <= 1; redact++) {
		char *view = NULL;
		err = kcfg_view_json(file, redact, &view, &d);
		if (err == PS_OK) {
			FUZZ_CHECK(view && view[0] == '{');
			ps_free_secret(view, strlen(view));
		} else {
			FUZZ_CHECK(view == NULL);
			FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
		}
	}
	return 0;
}
