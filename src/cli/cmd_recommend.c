/* cmd_recommend.c -- `prescale recommend`: one HPA decision from a JSON snapshot, printed as
 * its decision record. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "ps_buf.h"
#include "record.h"
#include "snapshot.h"

void cmd_recommend_usage(FILE *out)
{
	fputs("usage: prescale recommend [-f FILE|-] [-o table|json]\n"
	      "\n"
	      "Reads a JSON snapshot of one scale target (HPA v2 spec, scale, pods, metric\n"
	      "readings, history, controller flags), computes the decision the Kubernetes HPA\n"
	      "controller would make, and prints its record: desired replicas, the rule that\n"
	      "bound them, the reason, one row per metric and the status conditions.\n"
	      "\n"
	      "Options:\n"
	      "  -f, --file FILE     the snapshot; \"-\" (the default) reads standard input\n"
	      "  -o, --output FMT    table (the default) or json\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "The snapshot format is described in README.md (\"The snapshot format\").\n"
	      "Input is limited to 16 MiB. Exit status: 0 a record was printed (also when a\n"
	      "metric failed: the record says so), 1 the input could not be read, 2 a bad\n"
	      "option or a bad snapshot.\n",
	      out);
}

static int usage_error(void)
{
	fputc('\n', stderr);
	cmd_recommend_usage(stderr);
	return CLI_EXIT_USAGE;
}

/* Reads the snapshot at <path> ("-": standard input) into <buf> (capped at
 * SNAPSHOT_MAX_BYTES). Returns CLI_EXIT_OK, or an exit code after printing why. */
static int read_input(const char *path, struct ps_buf *buf)
{
	struct ps_diag diag;
	ps_diag_clear(&diag);
	enum ps_err err = PS_OK;
	if (strcmp(path, "-") != 0) {
		err = ps_buf_read_file(buf, path, &diag);
	} else {
		char chunk[64 * 1024];
		size_t got;
		while (!err && (got = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			err = ps_buf_append(buf, chunk, got);
		if (!err && ferror(stdin))
			err = ps_diag_set(&diag, PS_EIO, "<stdin>: read error: %s", strerror(errno));
		else if (err == PS_ETOOBIG)
			ps_diag_set(&diag, err, "<stdin>: input larger than the %zu MiB limit",
				    SNAPSHOT_MAX_BYTES / (1024 * 1024));
		else if (err)
			ps_diag_set(&diag, err, "<stdin>: %s", ps_strerror(err));
	}
	if (!err)
		return CLI_EXIT_OK;
	fprintf(stderr, "prescale recommend: %s\n", ps_diag_msg(&diag));
	/* Too big is the input's fault; a missing or unreadable file is a runtime error. */
	return err == PS_ETOOBIG ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
}

/* Runs the engine on <snap> and prints the record. */
static int decide_and_print(struct snapshot *snap, const char *name, bool json)
{
	struct eng_scratch scratch = {0};
	if (eng_scratch_reserve(&scratch, snap->obs.n_pods) != PS_OK) {
		fputs("prescale recommend: out of memory\n", stderr);
		return CLI_EXIT_RUNTIME;
	}
	struct eng_decision d;
	memset(&d, 0, sizeof(d));
	struct ps_diag diag;
	ps_diag_clear(&diag);
	enum ps_err err = eng_decide(&snap->spec, &snap->params, &snap->obs, &snap->history,
				     &scratch, &d, &diag);
	eng_scratch_release(&scratch);
	if (err == PS_EINVAL) {
		fprintf(stderr, "prescale recommend: %s: spec: %s\n", name, ps_diag_msg(&diag));
		return CLI_EXIT_USAGE;
	}
	if (err) {
		fprintf(stderr, "prescale recommend: %s: %s\n", name, ps_diag_msg(&diag));
		return CLI_EXIT_RUNTIME;
	}
	err = json ? record_write_json(stdout, &snap->spec, &d)
		   : record_write_table(stdout, &snap->spec, &d);
	if (err == PS_OK && fflush(stdout) != 0)
		err = PS_EIO;
	if (err) {
		fprintf(stderr, "prescale recommend: writing the record: %s\n", ps_strerror(err));
		return CLI_EXIT_RUNTIME;
	}
	return CLI_EXIT_OK;
}

int cmd_recommend(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "-";
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0) {
				json = true;
			} else if (strcmp(optarg, "table") == 0) {
				json = false;
			} else {
				fprintf(stderr,
					"prescale recommend: unknown output format '%s' (want "
					"table or json)\n",
					optarg);
				return usage_error();
			}
			break;
		case 'h':
			cmd_recommend_usage(stdout);
			return CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "prescale recommend: option '%s' needs a value\n",
				argv[optind - 1]);
			return usage_error();
		default:
			if (optopt)
				fprintf(stderr, "prescale recommend: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "prescale recommend: unknown option '%s'\n",
					argv[optind - 1]);
			return usage_error();
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prescale recommend: unexpected argument '%s'\n", argv[optind]);
		return usage_error();
	}

	struct ps_buf text;
	ps_buf_init(&text, SNAPSHOT_MAX_BYTES);
	int rc = read_input(path, &text);
	if (rc != CLI_EXIT_OK) {
		ps_buf_release(&text);
		return rc;
	}
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct snapshot snap;
	struct ps_diag diag;
	ps_diag_clear(&diag);
	enum ps_err err = snapshot_parse(ps_buf_cstr(&text), text.len, name, &snap, &diag);
	ps_buf_release(&text);
	if (err) {
		fprintf(stderr, "prescale recommend: %s\n", ps_diag_msg(&diag));
		return err == PS_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
	}
	rc = decide_and_print(&snap, name, json);
	snapshot_release(&snap);
	return rc;
}
