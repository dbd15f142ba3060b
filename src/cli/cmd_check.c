/* cmd_check.c -- `prescale check`: validate a configuration and print it resolved, or print the
 * configuration reference generated from the descriptor table. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cfg.h"
#include "cli.h"
#include "ps_alloc.h"

void cmd_check_usage(FILE *out)
{
	fputs("usage: prescale check -c FILE|DIR\n"
	      "       prescale check --reference\n\n"
	      "Loads the configuration (a YAML file, or a directory of *.yaml and *.yml files)\n"
	      "and prints it resolved, with every default filled in, as YAML that loads back to\n"
	      "the same configuration (header values hidden). On errors, prints each one as\n"
	      "file:line:col: message on stderr and exits 2.\n\n"
	      "Options:\n"
	      "  -c, --config PATH   the configuration file or directory\n"
	      "      --reference     print the configuration reference (markdown) and exit\n"
	      "  -h, --help          show this help\n",
	      out);
}

static int usage_error(void)
{
	fputc('\n', stderr);
	cmd_check_usage(stderr);
	return CLI_EXIT_USAGE;
}

static int print_reference(void)
{
	char *text = cfg_reference_markdown();
	if (!text) {
		fputs("prescale check: out of memory\n", stderr);
		return CLI_EXIT_RUNTIME;
	}
	fputs(text, stdout);
	ps_free(text);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

static int check(const char *path)
{
	struct cfg *c;
	struct cfg_errors *errs;
	struct ps_diag diag;
	enum ps_err rc = cfg_load(path, &c, &errs, &diag);
	if (rc == PS_ENOMEM) {
		fprintf(stderr, "prescale check: %s\n", ps_diag_msg(&diag));
		return CLI_EXIT_RUNTIME;
	}
	if (rc != PS_OK) {
		for (size_t i = 0; i < cfg_errors_count(errs); i++)
			fprintf(stderr, "%s\n", cfg_errors_at(errs, i));
		if (cfg_errors_truncated(errs))
			fprintf(stderr,
			        "prescale check: more than %d errors; the rest are not shown\n",
			        CFG_MAX_ERRORS);
		cfg_errors_free(errs);
		return CLI_EXIT_USAGE;
	}
	cfg_errors_free(errs);

	char *text;
	if (cfg_dump(c, &text) != PS_OK) {
		cfg_unref(c);
		fputs("prescale check: out of memory\n", stderr);
		return CLI_EXIT_RUNTIME;
	}
	size_t n = cfg_target_count(c), files = cfg_file_count(c);
	printf("# %s: valid; %zu file%s, %s, %zu target%s\n", cfg_path(c), files,
	       files == 1 ? "" : "s",
	       cfg_controller(c)->present ? "a ControllerConfig" : "no ControllerConfig", n,
	       n == 1 ? "" : "s");
	fputs(text, stdout);
	ps_free(text);
	cfg_unref(c);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

int cmd_check(int argc, char **argv)
{
	enum { OPT_REFERENCE = 1000 };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"reference", no_argument, NULL, OPT_REFERENCE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool reference = false;
	int c;
	while ((c = getopt_long(argc, argv, "+:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case OPT_REFERENCE:
			reference = true;
			break;
		case 'h':
			cmd_check_usage(stdout);
			return CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "prescale check: option '%s' needs a value\n",
			        argv[optind - 1]);
			return usage_error();
		default:
			if (optopt)
				fprintf(stderr, "prescale check: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "prescale check: unknown option '%s'\n",
				        argv[optind - 1]);
			return usage_error();
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prescale check: unexpected argument '%s'\n", argv[optind]);
		return usage_error();
	}
	if (reference && path) {
		fputs("prescale check: --reference takes no configuration\n", stderr);
		return usage_error();
	}
	if (reference)
		return print_reference();
	if (!path) {
		fputs("prescale check: missing -c FILE|DIR\n", stderr);
		return usage_error();
	}
	return check(path);
}
