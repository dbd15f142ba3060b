/* cli.c -- the git-style command table of prescale: dispatch, `help`, and usage errors. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "ps_compiler.h"

static const struct cli_command commands[] = {
	{"run", "Run the controller; --once: one tick of every target, as a table",
	 cmd_run, cmd_run_usage},
	{"status", "Show a running controller's last decisions (its /debug/targets) as a table",
	 cmd_status, cmd_status_usage},
	{"version", "Print the version and the git description of this build", cmd_version,
	 cmd_version_usage},
	{"recommend", "Compute one HPA decision from a JSON snapshot and print its record",
	 cmd_recommend, cmd_recommend_usage},
	{"simulate", "Replay a recorded or generated series: reactive, predictive and oracle",
	 cmd_simulate, cmd_simulate_usage},
	{"check", "Validate a configuration and print it resolved, or print the reference", cmd_check,
	 cmd_check_usage},
};

static void usage(FILE *out)
{
	fputs("usage: prescale [--help] <command> [<args>]\n\nCommands:\n", out);
	int w = 0;
	for (size_t i = 0; i < PS_ARRAY_LEN(commands); i++) {
		int n = (int)strlen(commands[i].name);
		if (n > w)
			w = n;
	}
	for (size_t i = 0; i < PS_ARRAY_LEN(commands); i++)
		fprintf(out, "  %-*s  %s\n", w, commands[i].name, commands[i].summary);
	fprintf(out, "  %-*s  %s\n", w, "help", "Show this list, or the options of one command");
	fputs("\nRun 'prescale help <command>' or 'prescale <command> --help' for a command's "
	      "options.\nExit status: 0 success, 1 runtime error, 2 usage or configuration error.\n",
	      out);
}

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < PS_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "prescale: unknown command '%s'\n\n", name);
	usage(stderr);
	return CLI_EXIT_USAGE;
}

/* `prescale help [<command>]`. */
static int help(int argc, char **argv)
{
	if (argc <= 1) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2) {
		fputs("prescale help: too many arguments\n\n", stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	const struct cli_command *cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	cmd->usage(stdout);
	return CLI_EXIT_OK;
}

int cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/* "+": stop at the command name, its options are its own. */
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			optind = 0;
			return cmd_version(1, (char *[]){"version", NULL});
		default:
			if (optopt)
				fprintf(stderr, "prescale: unknown option '-%c'\n\n", optopt);
			else
				fprintf(stderr, "prescale: unknown option '%s'\n\n",
					argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (strcmp(sub_argv[0], "help") == 0)
		return help(sub_argc, sub_argv);
	const struct cli_command *cmd = find_command(sub_argv[0]);
	if (!cmd)
		return unknown_command(sub_argv[0]);
	/* Each command parses its options with getopt_long from a fresh state. */
	optind = 0;
	opterr = 0;
	return cmd->run(sub_argc, sub_argv);
}
