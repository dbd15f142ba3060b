/* fake_api.h -- tests/fakeapi/fake_apiserver.py as a child of a Criterion test: start it, use its
 * control API (seed objects, faults, the request log), write a kubeconfig for it, stop it.
 *
 * DESIGN
 * fake_api_start() runs the fake with --port 0 (127.0.0.1 only), --exit-on-stdin-eof and a
 * --timeout, through prom_server_spawn() (own process group, PR_SET_PDEATHSIG, killed by an
 * atexit() handler if the test never stops it), and reads its one ready line from a pipe
 * within FAKE_API_READY_MS. The control API is called over HTTPS with the fake's CA and admin
 * token through prescale's own http client (http_global_init() must have run). Every wait is
 * bounded; failures are Criterion assertions, so this is for Criterion tests only. Needs
 * prom_server.c (the child processes) and the ps_http library.
 */
#ifndef FAKE_API_H
#define FAKE_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FAKE_API_READY_MS 30000

struct fake_api {
	pid_t pid;     /* the fake, leader of its process group; 0: not running */
	int stdin_fd;  /* write end of its stdin: closing it stops it; -1: none */
	char url[128]; /* "https://127.0.0.1:<port>" */
	char ca[512];  /* its CA certificate (PEM file) */
	char admin_token[128];
	char log[512]; /* its stderr */
	char *ca_pem;  /* the CA, read once for the control API */
};

/* Starts the fake with the configuration file <config> (users, rules, objects, faults; NULL:
 * none), its stderr appended to <log>, and a --timeout of <timeout_s> seconds. Returns when it
 * is ready; fails the test otherwise, naming the log. */
void fake_api_start(struct fake_api *f, const char *config, const char *log, int timeout_s);

/* Closes its stdin, then SIGTERM and SIGKILL after 5 s; reaps it. Safe more than once. */
void fake_api_stop(struct fake_api *f);

/* Calls the control API: <method> <path> (under the server's URL) with the JSON <body> (NULL:
 * none). Returns the HTTP status; the body in *<out> (NULL: dropped; else ps_free it). */
long fake_api_control(struct fake_api *f, const char *method, const char *path, const char *body,
                      char **out);

/* PUT /_fake/objects with <json> (an object, a list or {"items": [...]}); asserts 200. */
void fake_api_put_objects(struct fake_api *f, const char *json);

/* POST /_fake/faults with <json> (a fault or a list); asserts 200. */
void fake_api_add_faults(struct fake_api *f, const char *json);

/* The request log: an owned cJSON root (cJSON_Delete it) of GET /_fake/log; *entries points
 * into it. */
cJSON *fake_api_log(struct fake_api *f, cJSON **entries);

/* The number of request bodies that failed validation since the start (GET
 * /_fake/validation-failures, "total"). */
int fake_api_validation_failures(struct fake_api *f);

/* spec.replicas of Deployment <ns>/<name> as the fake stores it (1 when unset, the API's
 * default); fails the test when there is no such deployment. */
int fake_api_deployment_replicas(struct fake_api *f, const char *ns, const char *name);

/* Writes a kubeconfig at <path> for the fake: its URL and CA, the bearer <token>, the default
 * namespace <ns>. */
void fake_api_write_kubeconfig(struct fake_api *f, const char *path, const char *token,
                               const char *ns);

#endif
