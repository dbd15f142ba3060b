/* cmd_status.c -- `prescale status`: what a running controller decided, as a table, from its
 * /debug/targets endpoint (the decision records as JSON). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "ps_alloc.h"
#include "ps_buf.h"
#include "ps_clock.h"
#include "ps_parse.h"

#define STATUS_DEFAULT_SERVER "http://127.0.0.1:8080"
#define STATUS_DEFAULT_TIMEOUT_MS 5000
#define STATUS_MAX_BODY ((size_t)256 << 20)
#define STATUS_CELL 512

void cmd_status_usage(FILE *out)
{
	fputs(
	    "usage: prescale status [--server URL] [--timeout DURATION]\n"
	    "\n"
	    "Shows what a running `prescale run` decided last for each target, from its\n"
	    "/debug/targets endpoint: one line per target with TARGET, CURRENT and DESIRED\n"
	    "replicas, the RULE that decided the count, the AGE of the last decision, the\n"
	    "target's ERRORS (failed ticks and failed writes since its worker started) and the\n"
	    "REASON (or the error of a failed tick).\n"
	    "\n"
	    "Options:\n"
	    "  -s, --server URL      the controller's HTTP address (default " STATUS_DEFAULT_SERVER
	    ")\n"
	    "      --timeout DUR     give up after this long (default 5s)\n"
	    "  -h, --help            show this help\n"
	    "\n"
	    "Exit status: 0 success, 1 the server cannot be reached or sent something else than\n"
	    "decision records, 2 a bad option.\n",
	    out);
}

static int usage_error(void)
{
	fputc('\n', stderr);
	cmd_status_usage(stderr);
	return CLI_EXIT_USAGE;
}

/* ---- the table ---- */

enum { C_TARGET, C_CURRENT, C_DESIRED, C_RULE, C_AGE, C_ERRORS, C_REASON, NCOL };

struct row {
	char c[NCOL][STATUS_CELL];
};

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool num_of(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

/* One record into a row; false when it is not a decision record. */
static bool fill_row(const cJSON *rec, int64_t now_ms, struct row *r)
{
	const char *target = str_of(rec, "target");
	const char *outcome = str_of(rec, "outcome");
	if (!cJSON_IsObject(rec) || !target || !outcome)
		return false;
	snprintf(r->c[C_TARGET], STATUS_CELL, "%s", target);
	double v;
	bool decided = strcmp(outcome, "decided") == 0;
	snprintf(r->c[C_CURRENT], STATUS_CELL, "-");
	snprintf(r->c[C_DESIRED], STATUS_CELL, "-");
	if (decided && num_of(rec, "current", &v))
		snprintf(r->c[C_CURRENT], STATUS_CELL, "%.0f", v);
	if (decided && num_of(rec, "desired", &v))
		snprintf(r->c[C_DESIRED], STATUS_CELL, "%.0f", v);
	const char *rule = str_of(rec, "rule");
	snprintf(r->c[C_RULE], STATUS_CELL, "%s", decided && rule ? rule : outcome);
	const char *time = str_of(rec, "time");
	int64_t t;
	snprintf(r->c[C_AGE], STATUS_CELL, "-");
	if (time && ps_clock_parse_rfc3339(time, &t, NULL) == PS_OK) {
		int64_t age = now_ms > t ? (now_ms - t) / 1000 * 1000 : 0;
		ps_format_duration_ms(age, r->c[C_AGE], STATUS_CELL);
	}
	const cJSON *counters = cJSON_GetObjectItemCaseSensitive(rec, "counters");
	double failed = 0, write_errors = 0;
	(void)num_of(counters, "failedTicks", &failed);
	(void)num_of(counters, "writeErrors", &write_errors);
	snprintf(r->c[C_ERRORS], STATUS_CELL, "%.0f", failed + write_errors);
	const char *reason = str_of(rec, "reason");
	const char *error = str_of(rec, "error");
	snprintf(r->c[C_REASON], STATUS_CELL, "%s",
	         decided && reason ? reason
	         : error           ? error
	         : strcmp(outcome, "skipped") == 0
	             ? "skipped: no Prometheus query slot before the tick's deadline"
	             : "");
	/* A cell is one line of the table. */
	for (int c = 0; c < NCOL; c++)
		for (char *p = r->c[c]; *p; p++)
			if (*p == '\n' || *p == '\t' || *p == '\r')
				*p = ' ';
	return true;
}

static enum ps_err put_row(struct ps_buf *b, const struct row *r, const size_t *w)
{
	enum ps_err e = PS_OK;
	for (int c = 0; c < NCOL && !e; c++) {
		if (c == NCOL - 1)
			e = ps_buf_appendf(b, "%s\n", r->c[c]);
		else
			e = ps_buf_appendf(b, "%-*s  ", (int)w[c], r->c[c]);
	}
	return e;
}

/* Renders the JSON array <arr> as the table into <b>; PS_EPARSE when an element is not a
 * record (its index in *bad). */
static enum ps_err render(const cJSON *arr, int64_t now_ms, struct ps_buf *b, int *bad)
{
	static const char *const head[NCOL] = {"TARGET", "CURRENT", "DESIRED", "RULE",
	                                       "AGE",    "ERRORS",  "REASON"};
	int n = cJSON_GetArraySize(arr);
	struct row *rows = ps_calloc((size_t)n + 1, sizeof(*rows));
	if (!rows)
		return PS_ENOMEM;
	for (int c = 0; c < NCOL; c++)
		snprintf(rows[0].c[c], STATUS_CELL, "%s", head[c]);
	enum ps_err e = PS_OK;
	for (int i = 0; i < n && !e; i++)
		if (!fill_row(cJSON_GetArrayItem(arr, i), now_ms, &rows[i + 1])) {
			*bad = i;
			e = PS_EPARSE;
		}
	size_t w[NCOL] = {0};
	for (int i = 0; i <= n && !e; i++)
		for (int c = 0; c < NCOL; c++)
			if (strlen(rows[i].c[c]) > w[c])
				w[c] = strlen(rows[i].c[c]);
	for (int i = 0; i <= n && !e; i++)
		e = put_row(b, &rows[i], w);
	if (!e && n == 0)
		e = ps_buf_append_str(b, "(no target has finished a tick yet)\n");
	ps_free(rows);
	return e;
}

/* ---- the request ---- */

static int fetch(const char *url, int64_t timeout_ms, struct http_response *resp)
{
	struct ps_diag d;
	ps_diag_clear(&d);
	struct http_client *c = NULL;
	if (http_global_init(&d) != PS_OK || http_client_new(&c, &d) != PS_OK) {
		fprintf(stderr, "prescale status: %s\n", ps_diag_msg(&d));
		return CLI_EXIT_RUNTIME;
	}
	const struct http_header accept = {"Accept", "application/json"};
	struct http_request req = {
	    .method = "GET",
	    .url = url,
	    .headers = &accept,
	    .n_headers = 1,
	    .connect_timeout_ms = timeout_ms,
	    .timeout_ms = timeout_ms,
	    .max_body = STATUS_MAX_BODY,
	};
	enum ps_err e = http_do(c, &req, resp, NULL, &d);
	http_client_free(c);
	http_global_cleanup();
	if (e) {
		fprintf(stderr, "prescale status: cannot reach the controller: %s\n",
		        ps_diag_msg(&d));
		return CLI_EXIT_RUNTIME;
	}
	if (resp->status != 200) {
		fprintf(stderr, "prescale status: GET %s: HTTP %ld: %.200s\n", url, resp->status,
		        ps_buf_cstr(&resp->body));
		return CLI_EXIT_RUNTIME;
	}
	return CLI_EXIT_OK;
}

int cmd_status(int argc, char **argv)
{
	enum { OPT_TIMEOUT = 1000 };
	static const struct option opts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *server = STATUS_DEFAULT_SERVER;
	int64_t timeout_ms = STATUS_DEFAULT_TIMEOUT_MS;
	struct ps_diag d;
	int c;
	while ((c = getopt_long(argc, argv, "+:s:h", opts, NULL)) != -1) {
		ps_diag_clear(&d);
		switch (c) {
		case 's':
			server = optarg;
			break;
		case OPT_TIMEOUT:
			if (ps_parse_duration_ms(optarg, &timeout_ms, &d) != PS_OK ||
			    timeout_ms <= 0) {
				fprintf(stderr, "prescale status: --timeout: %s\n",
				        timeout_ms <= 0 ? "must be more than 0" : ps_diag_msg(&d));
				return usage_error();
			}
			break;
		case 'h':
			cmd_status_usage(stdout);
			return CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "prescale status: option '%s' needs a value\n",
			        argv[optind - 1]);
			return usage_error();
		default:
			if (optopt)
				fprintf(stderr, "prescale status: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "prescale status: unknown option '%s'\n",
				        argv[optind - 1]);
			return usage_error();
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prescale status: unexpected argument '%s'\n", argv[optind]);
		return usage_error();
	}
	if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0) {
		fprintf(stderr,
		        "prescale status: --server: want an http:// or https:// URL, not "
		        "'%s'\n",
		        server);
		return usage_error();
	}
	struct ps_buf url;
	ps_buf_init(&url, 4096);
	size_t n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	if (ps_buf_append(&url, server, n) != PS_OK ||
	    ps_buf_append_str(&url, "/debug/targets") != PS_OK) {
		ps_buf_release(&url);
		fputs("prescale status: --server: URL too long\n", stderr);
		return usage_error();
	}

	struct http_response resp;
	http_response_init(&resp);
	int rc = fetch(ps_buf_cstr(&url), timeout_ms, &resp);
	cJSON *arr = NULL;
	if (rc == CLI_EXIT_OK) {
		static cJSON_Hooks hooks = {ps_malloc_noted, ps_free};
		cJSON_InitHooks(&hooks);
		arr = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
		if (!cJSON_IsArray(arr)) {
			fprintf(stderr,
			        "prescale status: GET %s: not a JSON array of decision records: "
			        "%.200s\n",
			        ps_buf_cstr(&url), ps_buf_cstr(&resp.body));
			rc = CLI_EXIT_RUNTIME;
		}
	}
	if (rc == CLI_EXIT_OK) {
		struct ps_buf out;
		ps_buf_init(&out, STATUS_MAX_BODY);
		int bad = -1;
		enum ps_err e = render(arr, ps_clock_wall_ms(ps_clock_real()), &out, &bad);
		if (e == PS_EPARSE)
			fprintf(stderr,
			        "prescale status: GET %s: element %d is not a decision record\n",
			        ps_buf_cstr(&url), bad);
		else if (e)
			fprintf(stderr, "prescale status: %s\n", ps_strerror(e));
		else if (fwrite(ps_buf_cstr(&out), 1, out.len, stdout) != out.len ||
		         fflush(stdout) != 0)
			e = PS_EIO;
		rc = e ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
		ps_buf_release(&out);
	}
	cJSON_Delete(arr);
	http_response_release(&resp);
	ps_buf_release(&url);
	return rc;
}
