/* prom_server.h -- a real Prometheus on 127.0.0.1 for the live tests, and bounded child
 * processes.
 *
 * DESIGN
 * A test suite's .init calls prom_server_init() then prom_server_start(): the harness writes an
 * OpenMetrics file with the suite's series (the suite's writer prints the samples; timestamps
 * in seconds, so a suite that wants its data inside Prometheus' retention and block ranges
 * writes it relative to now), turns it into TSDB blocks with `promtool tsdb create-blocks-from
 * openmetrics`, starts `prometheus` on a free 127.0.0.1 port with that data directory and runs
 * the query vector(1) until it answers, for at most 30 s (three ports are tried). The expected
 * values are the ones the suite wrote.
 *
 * The server never outlives the test: it runs as the leader of its own process group with
 * PR_SET_PDEATHSIG (the kernel kills it if the test process dies, even by SIGKILL), and
 * prom_server_fini() (the suite's .fini) and an atexit() handler kill the group, reap it and
 * remove the directory. Every child started here (promtool, openssl, the prescale binary) gets
 * the same treatment and a deadline. Missing `prometheus` or `promtool` is a failure, not a
 * skip: hack/test installs them. Failures are Criterion assertions: only for Criterion tests.
 */
#ifndef PROM_SERVER_H
#define PROM_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "prom.h"

/* Deadline of prom_server_run() for the tools the harness runs (promtool, openssl). */
#define PROM_SERVER_TOOL_TIMEOUT_MS 60000

struct prom_server {
	pid_t pid;     /* prometheus, leader of its process group; 0: not running */
	char dir[64];  /* temporary directory: input, config, data, log, the suite's files */
	int port;      /* 127.0.0.1:<port> once started */
	char url[64];  /* "http://127.0.0.1:<port>" (https:// with a web config) */
	char log[128]; /* <dir>/prometheus.log: the server's and the tools' output */
};

/* Readies <s> (not NULL; it must stay valid until prom_server_fini(), so a static) for
 * prom_server_start(): http_global_init(), a fresh /tmp/prescale-prom-live-XXXXXX directory,
 * and the atexit() handler that stops it. */
void prom_server_init(struct prom_server *s);

/* Writes the data with <write>(f, <arg>), which prints the samples of the OpenMetrics
 * exposition (the harness adds "# EOF"), makes the blocks and starts prometheus with the web
 * configuration file <web_config> (NULL: plain HTTP) until it answers. <probe>(s, <arg>) makes
 * the client that asks, owned by the harness (NULL: a plain client for s->url; a TLS server
 * needs the suite's CA and credentials). Returns only when the server is ready; fails the test
 * otherwise, naming the log. */
void prom_server_start(struct prom_server *s, void (*write)(FILE *f, void *arg), void *arg,
                       const char *web_config,
                       struct prom_client *(*probe)(const struct prom_server *s, void *arg));

/* Stops the prometheus process of <s> (SIGTERM to its group, SIGKILL after 5 s) and reaps it,
 * keeping its directory, data and port: a test of an outage calls prom_server_resume() later.
 * Safe to call when it is not running. */
void prom_server_pause(struct prom_server *s);

/* Starts prometheus again after prom_server_pause(), on the same port and data directory, with
 * the same <web_config> and <probe> as prom_server_start(), and returns when it answers; fails
 * the test otherwise (for instance when another process took the port meanwhile). */
void prom_server_resume(struct prom_server *s, const char *web_config,
                        struct prom_client *(*probe)(const struct prom_server *s, void *arg),
                        void *arg);

/* Stops the server of <s> (SIGTERM to its group, SIGKILL after 5 s), reaps it and removes its
 * directory. Safe to call more than once. */
void prom_server_stop(struct prom_server *s);

/* prom_server_stop(), then http_global_cleanup(): the suite's .fini. */
void prom_server_fini(struct prom_server *s);

/* "<dir>/<name>" of <s>; the returned buffer is one of 16 reused in turn. */
const char *prom_server_path(const struct prom_server *s, const char *name);

/* Runs <argv> (argv[0] looked up in PATH) to its end in its own process group, killed with
 * the test, stdin from /dev/null, stdout appended to <out> and stderr to <err> (NULL: <out>).
 * After <timeout_ms> the group is killed. Returns the exit status, or -1 when the program was
 * killed (timeout or signal). */
int prom_server_run(char *const argv[], const char *out, const char *err, int64_t timeout_ms);

/* Starts <argv> (argv[0] looked up in PATH) in the background as the leader of its own process
 * group, killed with the test (PR_SET_PDEATHSIG) and by an atexit() handler if the test never
 * stops it: stdin from <in_fd> (-1: /dev/null), stdout to <out_fd> (-1: appended to <log>),
 * stderr appended to <log>. The descriptors are dup'ed in the child only. Returns its pid; stop
 * it with prom_server_child_stop() or wait for it with prom_server_child_wait(). At most
 * PROM_SERVER_MAX_CHILDREN at once. */
#define PROM_SERVER_MAX_CHILDREN 16
pid_t prom_server_spawn(char *const argv[], int in_fd, int out_fd, const char *log);

/* Waits up to <timeout_ms> for the child *<pid> (from prom_server_spawn) to exit and reaps it
 * (*pid becomes 0). Returns its exit status, 128 + the signal when a signal ended it, or -1 when
 * the deadline passed: the group is then killed (SIGKILL) and reaped. */
int prom_server_child_wait(pid_t *pid, int64_t timeout_ms);

/* Stops the child *<pid> (from prom_server_spawn): SIGTERM to its group, SIGKILL after 5 s, then
 * reaps it (*pid becomes 0). Safe when *pid is 0. */
void prom_server_child_stop(pid_t *pid);

/* True when <name> is an executable in PATH. */
bool prom_server_in_path(const char *name);

/* A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0, then closed). */
int prom_server_free_port(void);

#endif
