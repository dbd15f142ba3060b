/* cmd_version.c -- `prescale version`: the release and the git description baked in by CMake. */
#include <getopt.h>

#include "cli.h"

#ifndef PS_VERSION
#define PS_VERSION "unknown"
#endif
#ifndef PS_GIT_DESCRIBE
#define PS_GIT_DESCRIBE "unknown"
#endif

void cmd_version_usage(FILE *out)
{
	fputs("usage: prescale version\n\n"
	      "Prints the release version and the git description of the source it was built "
	      "from,\ne.g. \"prescale 0.1.0 (git v0.1.0-3-g1a2b3c4)\".\n",
	      out);
}

int cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			cmd_version_usage(stdout);
			return CLI_EXIT_OK;
		}
		if (optopt)
			fprintf(stderr, "prescale version: unknown option '-%c'\n\n", optopt);
		else
			fprintf(stderr, "prescale version: unknown option '%s'\n\n",
				argv[optind - 1]);
		cmd_version_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "prescale version: unexpected argument '%s'\n\n", argv[optind]);
		cmd_version_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	printf("prescale %s (git %s)\n", PS_VERSION, PS_GIT_DESCRIBE);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
