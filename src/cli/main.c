/* main.c -- the prescale binary's entry point: hands the arguments to the command table. */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
