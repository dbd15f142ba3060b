/* main.c -- the prescale binary's entry point: process-wide setup, then the command table. */
#include <signal.h>
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
	/* A peer that closes a connection must give a write error, not kill the process: curl is
	 * run with CURLOPT_NOSIGNAL, so the process ignores SIGPIPE once, here. */
	struct sigaction sa = {.sa_handler = SIG_IGN};
	if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0) {
		perror("prescale: sigaction(SIGPIPE)");
		return CLI_EXIT_RUNTIME;
	}
	return cli_main(argc, argv);
}
