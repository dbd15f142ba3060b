/* cli.h -- the prescale commands. Each takes the arguments after the command name (argv[0] is
 * the command name) and returns the process exit code: 0 success, 1 runtime error, 2 usage or
 * configuration error. Only this layer prints or exits.
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

struct cli_command {
	const char *name;
	const char *summary;  /* one line for the command table */
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
};

int cli_main(int argc, char **argv);

int cmd_version(int argc, char **argv);
void cmd_version_usage(FILE *out);
int cmd_recommend(int argc, char **argv);
void cmd_recommend_usage(FILE *out);
int cmd_simulate(int argc, char **argv);
void cmd_simulate_usage(FILE *out);
int cmd_check(int argc, char **argv);
void cmd_check_usage(FILE *out);
int cmd_run(int argc, char **argv);
void cmd_run_usage(FILE *out);
int cmd_status(int argc, char **argv);
void cmd_status_usage(FILE *out);

#endif
