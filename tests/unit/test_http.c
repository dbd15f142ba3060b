/* test_http.c -- the curl wrapper against real local servers: requests, errors, TLS, cancel.
 *
 * The servers are tests/http/server.py (Python's http.server and ssl), started per test on
 * 127.0.0.1 on an ephemeral port; the PKI is made per test by tests/http/mkcerts.sh with the
 * openssl CLI in a temporary directory. What a server received is what it echoes back, so the
 * expected values come from outside the code under test.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/scenario.h"
#include "http.h"
#include "ps_alloc.h"

extern char **environ;

#define SERVER_SCRIPT PS_SOURCE_DIR "/tests/http/server.py"
#define MKCERTS_SCRIPT PS_SOURCE_DIR "/tests/http/mkcerts.sh"
#define SECRET_TOKEN "s3cr3t-token-XYZ"

/* ---- helpers that do not use Criterion (the TSan main uses them too) ---- */

struct server {
	pid_t pid;
	int in_fd; /* its stdin: closing it stops the server */
	int port;
	char base[64]; /* "http://127.0.0.1:<port>" or https */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Starts server.py with <args> (NULL-terminated, may be empty) and reads its port. Returns
 * NULL or a description of the failure. */
static const char *server_start(struct server *s, const char *const *args, bool tls)
{
	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->in_fd = -1;
	int in[2], out[2];
	if (pipe(in) != 0)
		return "pipe failed";
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		return "pipe failed";
	}
	/* Our ends must not leak into other children, or this server would never see EOF. */
	(void)fcntl(in[1], F_SETFD, FD_CLOEXEC);
	(void)fcntl(out[0], F_SETFD, FD_CLOEXEC);
	char *argv[16] = {"python3", SERVER_SCRIPT};
	size_t argc = 2;
	for (size_t i = 0; args && args[i] && argc < PS_ARRAY_LEN(argv) - 1; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, in[0]);
	posix_spawn_file_actions_addclose(&fa, out[1]);
	int rc = posix_spawnp(&s->pid, "python3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc != 0) {
		close(in[1]);
		close(out[0]);
		s->pid = -1;
		return "cannot start python3";
	}
	s->in_fd = in[1];
	char line[64] = "";
	size_t len = 0;
	double deadline = now_ms() + 10000;
	while (len < sizeof(line) - 1 && !strchr(line, '\n') && now_ms() < deadline) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
	}
	close(out[0]);
	if (sscanf(line, "port=%d", &s->port) != 1 || s->port <= 0)
		return "the server did not report its port";
	snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
	return NULL;
}

/* Stops the server: closes its stdin, waits up to 3 s, then kills it (by its pid). */
static void server_stop(struct server *s)
{
	if (s->in_fd >= 0)
		close(s->in_fd);
	s->in_fd = -1;
	if (s->pid <= 0)
		return;
	for (int i = 0; i < 300; i++) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			return;
		}
		sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	(void)waitpid(s->pid, NULL, 0);
	s->pid = -1;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static struct http_request get_request(const char *url)
{
	return (struct http_request){.method = "GET", .url = url, .timeout_ms = 10000};
}

/* A thread that fires <cancel> after <delay_ms> and notes when. */
struct firer {
	pthread_t thread;
	struct http_cancel *cancel;
	long delay_ms;
	double fired_at;
};

static void *fire_later(void *arg)
{
	struct firer *f = arg;
	sleep_ms(f->delay_ms);
	f->fired_at = now_ms();
	http_cancel_fire(f->cancel);
	return NULL;
}

/* A thread that runs one request on its own client under a shared token. */
struct blocked {
	pthread_t thread;
	const char *url;
	struct http_cancel *cancel;
	enum ps_err rc;
	double returned_at;
};

static void *run_blocked(void *arg)
{
	struct blocked *b = arg;
	struct http_client *c = NULL;
	b->rc = http_client_new(&c, NULL);
	if (b->rc != PS_OK)
		return NULL;
	struct http_response r;
	http_response_init(&r);
	struct http_request req = get_request(b->url);
	b->rc = http_do(c, &req, &r, b->cancel, NULL);
	b->returned_at = now_ms();
	http_response_release(&r);
	http_client_free(c);
	return NULL;
}

/* Blocks a GET on <s>'s /hang, fires the cancel from another thread after 250 ms, and checks
 * PS_ECANCELED within a generous 2 s. Prints the measured latency from fire to return. Returns
 * NULL or a description of the problem (static storage). 250 ms, not 200: curl has a timer of
 * its own at 200 ms (happy eyeballs) and the poll slices end at multiples of 100 ms, so a fire
 * at 250 ms shows the wakeup at work (without it the figure would be about 50 ms). */
static const char *cancel_scenario(const struct server *s, double *latency_ms)
{
	static char problem[1024];
	char url[128];
	snprintf(url, sizeof(url), "%s/hang", s->base);
	struct http_client *c = NULL;
	struct http_cancel *cancel = NULL;
	if (http_client_new(&c, NULL) != PS_OK || http_cancel_new(&cancel) != PS_OK)
		return "cannot create the client or the token";
	struct http_response r;
	http_response_init(&r);
	struct http_request req = get_request(url);
	struct firer f = {.cancel = cancel, .delay_ms = 250};
	const char *result = NULL;
	if (pthread_create(&f.thread, NULL, fire_later, &f) != 0) {
		result = "pthread_create failed";
		goto out;
	}
	struct ps_diag diag;
	ps_diag_clear(&diag);
	double start = now_ms();
	enum ps_err rc = http_do(c, &req, &r, cancel, &diag);
	double returned = now_ms();
	pthread_join(f.thread, NULL);
	*latency_ms = returned - f.fired_at;
	fprintf(stderr, "cancel latency: %.2f ms (request blocked %.0f ms)\n", *latency_ms,
		returned - start);
	if (rc != PS_ECANCELED) {
		snprintf(problem, sizeof(problem), "got %s (%s), want ECANCELED", ps_err_name(rc),
			 ps_diag_msg(&diag));
		result = problem;
	} else if (!strstr(diag.msg, url)) {
		snprintf(problem, sizeof(problem), "diag without the URL: %s", diag.msg);
		result = problem;
	} else if (!(*latency_ms >= 0 && *latency_ms < 2000)) {
		snprintf(problem, sizeof(problem), "cancel took %.2f ms", *latency_ms);
		result = problem;
	} else if (!http_cancel_fired(cancel)) {
		result = "the token does not read as fired";
	}
out:
	http_response_release(&r);
	http_cancel_free(cancel);
	http_client_free(c);
	return result;
}

/* Two threads, each with its own client, blocked on /hang under one token; one fire ends both
 * with PS_ECANCELED. Returns NULL or a description of the problem. */
static const char *shared_token_scenario(const struct server *s)
{
	static char problem[1024];
	char url[128];
	snprintf(url, sizeof(url), "%s/hang", s->base);
	struct http_cancel *cancel = NULL;
	if (http_cancel_new(&cancel) != PS_OK)
		return "cannot create the token";
	struct blocked b[2] = {{.url = url, .cancel = cancel}, {.url = url, .cancel = cancel}};
	for (int i = 0; i < 2; i++)
		if (pthread_create(&b[i].thread, NULL, run_blocked, &b[i]) != 0)
			return "pthread_create failed";
	sleep_ms(350); /* between two poll-slice ends, as above */
	double fired = now_ms();
	http_cancel_fire(cancel);
	for (int i = 0; i < 2; i++)
		pthread_join(b[i].thread, NULL);
	http_cancel_free(cancel);
	for (int i = 0; i < 2; i++) {
		fprintf(stderr, "shared token: client %d cancel latency: %.2f ms\n", i,
			b[i].returned_at - fired);
		if (b[i].rc != PS_ECANCELED) {
			snprintf(problem, sizeof(problem), "client %d got %s, want ECANCELED", i,
				 ps_err_name(b[i].rc));
			return problem;
		}
		if (b[i].returned_at - fired > 2000) {
			snprintf(problem, sizeof(problem), "client %d took %.2f ms", i,
				 b[i].returned_at - fired);
			return problem;
		}
	}
	return NULL;
}

/* ---- Criterion fixtures ---- */

static struct server srv;
static struct http_client *client;
static struct http_response resp;
static struct ps_diag diag;
static char url[1024];

/* The test PKI, in <pki_dir>, and its files in memory. */
static char pki_dir[512];
static struct ps_buf ca_pem, other_ca_pem, cert_pem, key_pem;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN); /* CURLOPT_NOSIGNAL: the process ignores SIGPIPE */
	srv.pid = -1;
	srv.in_fd = -1;
	cr_assert_eq(http_global_init(NULL), PS_OK);
	cr_assert_eq(http_client_new(&client, NULL), PS_OK);
	http_response_init(&resp);
	ps_diag_clear(&diag);
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			remove_tree(sub);
		}
		closedir(d);
		(void)rmdir(path);
	} else {
		(void)unlink(path);
	}
}

static void teardown(void)
{
	http_response_release(&resp);
	http_client_free(client);
	client = NULL;
	server_stop(&srv);
	http_global_cleanup();
	ps_buf_release(&ca_pem);
	ps_buf_release(&other_ca_pem);
	ps_buf_release(&cert_pem);
	ps_free_secret(key_pem.data, key_pem.len);
	key_pem.data = NULL;
	if (pki_dir[0])
		remove_tree(pki_dir);
	pki_dir[0] = '\0';
}

static void start_plain(void)
{
	const char *problem = server_start(&srv, NULL, false);
	cr_assert_null(problem, "%s", problem);
}

static void load(struct ps_buf *b, const char *name)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", pki_dir, name);
	ps_buf_init(b, 1 << 20);
	cr_assert_eq(ps_buf_read_file(b, path, NULL), PS_OK, "%s", path);
}

static void make_pki(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(pki_dir, sizeof(pki_dir), "%s/ps_http_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(pki_dir));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", MKCERTS_SCRIPT, pki_dir);
	cr_assert_eq(system(cmd), 0, "mkcerts.sh failed");
	load(&ca_pem, "ca.pem");
	load(&other_ca_pem, "other-ca.pem");
	load(&cert_pem, "client.pem");
	load(&key_pem, "client.key");
}

/* Starts a TLS server; with <mutual>, one that requires a client certificate from the CA. */
static void start_tls(bool mutual)
{
	make_pki();
	char cert[600], key[600], ca[600];
	snprintf(cert, sizeof(cert), "%s/server.pem", pki_dir);
	snprintf(key, sizeof(key), "%s/server.key", pki_dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki_dir);
	const char *args[] = {"--cert", cert, "--key", key, mutual ? "--client-ca" : NULL, ca,
			      NULL};
	const char *problem = server_start(&srv, args, true);
	cr_assert_null(problem, "%s", problem);
}

static void setup_plain(void)
{
	setup();
	start_plain();
}

static void setup_tls(void)
{
	setup();
	start_tls(false);
}

static void setup_mtls(void)
{
	setup();
	start_tls(true);
}

static const char *at(const char *path)
{
	snprintf(url, sizeof(url), "%s%s", srv.base, path);
	return url;
}

/* GETs <path> on the test server with default settings. */
static enum ps_err get(const char *path)
{
	struct http_request req = get_request(at(path));
	return http_do(client, &req, &resp, NULL, &diag);
}

/* ---- requests ---- */

Test(http, a_get_arrives_with_its_headers_and_escaped_query_as_sent, .init = setup_plain,
     .fini = teardown)
{
	struct ps_buf path;
	ps_buf_init(&path, 1024);
	cr_assert_eq(ps_buf_append_str(&path, "/echo?query="), PS_OK);
	cr_assert_eq(http_append_escaped(&path, "rate(x[5m]) > 0 & é"), PS_OK);
	cr_assert_eq(ps_buf_append_str(&path, "&tenant="), PS_OK);
	cr_assert_eq(http_append_escaped(&path, "a/b=c"), PS_OK);
	struct http_header h[] = {{"X-Scope-OrgID", "team-a"}, {"Accept", "application/json"}};
	struct http_request req = get_request(at(ps_buf_cstr(&path)));
	req.headers = h;
	req.n_headers = 2;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	ps_buf_release(&path);
	const char *echo = ps_buf_cstr(&resp.body);
	cr_expect_eq(resp.status, 200);
	cr_expect_str_eq(resp.content_type, "text/plain");
	cr_expect_eq(resp.retry_after_ms, -1);
	cr_expect(strncmp(echo,
			  "GET /echo?query=rate%28x%5B5m%5D%29%20%3E%200%20%26%20%C3%A9"
			  "&tenant=a%2Fb%3Dc HTTP/1.1\n",
			  strlen("GET /echo?query=rate%28x%5B5m%5D%29%20%3E%200%20%26%20%C3%A9"
				 "&tenant=a%2Fb%3Dc HTTP/1.1\n")) == 0,
		  "%s", echo);
	cr_expect_not_null(strstr(echo, "\nX-Scope-OrgID: team-a\n"), "%s", echo);
	cr_expect_not_null(strstr(echo, "\nAccept: application/json\n"), "%s", echo);
	cr_expect_not_null(strstr(echo, "\nUser-Agent: prescale\n"), "%s", echo);
	cr_expect_null(strstr(echo, "Authorization"), "%s", echo);
}

Test(http, append_escaped_keeps_unreserved_characters_and_percent_encodes_the_rest)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"", ""},
		{"AZaz09-._~", "AZaz09-._~"},
		{" ", "%20"},
		{"/?#[]@!$&'()*+,;=%", "%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25"},
		{"é\x7f\x01", "%C3%A9%7F%01"},
		{"app.kubernetes.io/name", "app.kubernetes.io%2Fname"},
	};
	for (size_t i = 0; i < PS_ARRAY_LEN(cases); i++) {
		struct ps_buf b;
		ps_buf_init(&b, 256);
		cr_assert_eq(http_append_escaped(&b, cases[i].in), PS_OK);
		cr_expect_str_eq(ps_buf_cstr(&b), cases[i].want, "input %zu", i);
		ps_buf_release(&b);
	}
}

Test(http, append_escaped_over_the_cap_appends_nothing)
{
	struct ps_buf b;
	ps_buf_init(&b, 6);
	cr_assert_eq(http_append_escaped(&b, "a b"), PS_OK); /* "a%20b": 5 bytes */
	cr_expect_eq(http_append_escaped(&b, "c "), PS_ETOOBIG);
	cr_expect_str_eq(ps_buf_cstr(&b), "a%20b");
	cr_expect_eq(http_append_escaped(&b, "c"), PS_OK);
	cr_expect_str_eq(ps_buf_cstr(&b), "a%20bc");
	ps_buf_release(&b);
}

Test(http, a_post_sends_its_body_and_content_type, .init = setup_plain, .fini = teardown)
{
	static const char body[] = "{\"spec\":{\"replicas\":3}}";
	struct http_request req = {.method = "POST",
				   .url = at("/echo"),
				   .body = body,
				   .body_len = strlen(body),
				   .content_type = "application/json"};
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	const char *echo = ps_buf_cstr(&resp.body);
	cr_expect(strncmp(echo, "POST /echo HTTP/1.1\n", 20) == 0, "%s", echo);
	cr_expect_not_null(strstr(echo, "\nContent-Type: application/json\n"), "%s", echo);
	cr_expect_not_null(strstr(echo, "\nContent-Length: 23\n"), "%s", echo);
	cr_expect_null(strstr(echo, "Expect:"), "%s", echo);
	size_t n = strlen(echo);
	cr_expect(n > 25 && strcmp(echo + n - 25, "\n\n{\"spec\":{\"replicas\":3}}") == 0, "%s",
		  echo);
}

Test(http, a_patch_sends_its_body_and_a_body_without_type_gets_no_content_type,
     .init = setup_plain, .fini = teardown)
{
	struct http_request req = {.method = "PATCH",
				   .url = at("/echo"),
				   .body = "{\"a\":1}",
				   .body_len = 7,
				   .content_type = "application/merge-patch+json"};
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	const char *echo = ps_buf_cstr(&resp.body);
	cr_expect(strncmp(echo, "PATCH /echo HTTP/1.1\n", 21) == 0, "%s", echo);
	cr_expect_not_null(strstr(echo, "\nContent-Type: application/merge-patch+json\n"), "%s",
			   echo);
	cr_expect_not_null(strstr(echo, "\n\n{\"a\":1}"), "%s", echo);

	req.method = "PUT";
	req.content_type = NULL;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	echo = ps_buf_cstr(&resp.body);
	cr_expect(strncmp(echo, "PUT /echo HTTP/1.1\n", 19) == 0, "%s", echo);
	cr_expect_null(strstr(echo, "Content-Type"), "%s", echo);

	struct http_request del = {.method = "DELETE", .url = at("/echo")};
	cr_assert_eq(http_do(client, &del, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect(strncmp(ps_buf_cstr(&resp.body), "DELETE /echo HTTP/1.1\n", 22) == 0, "%s",
		  ps_buf_cstr(&resp.body));
}

Test(http, the_bearer_token_is_sent_as_an_authorization_header, .init = setup_plain,
     .fini = teardown)
{
	struct http_request req = get_request(at("/echo"));
	req.bearer_token = "eyJhbGciOi.abc-def_123";
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_not_null(
		strstr(ps_buf_cstr(&resp.body), "\nAuthorization: Bearer eyJhbGciOi.abc-def_123\n"),
		"%s", ps_buf_cstr(&resp.body));

	req.url = at("/auth");
	req.bearer_token = "good";
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 200);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "welcome");
	req.bearer_token = "bad";
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 401);
}

Test(http, basic_auth_is_sent_base64_encoded, .init = setup_plain, .fini = teardown)
{
	struct http_request req = get_request(at("/echo"));
	req.basic_user = "user";
	req.basic_password = "pass";
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	/* base64("user:pass"), by hand: dXNl cjpw YXNz */
	cr_expect_not_null(strstr(ps_buf_cstr(&resp.body), "\nAuthorization: Basic dXNlcjpwYXNz\n"),
			   "%s", ps_buf_cstr(&resp.body));
}

Test(http, a_404_and_a_500_come_back_as_responses, .init = setup_plain, .fini = teardown)
{
	cr_assert_eq(get("/respond?status=404&body=gone"), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 404);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "gone");
	cr_assert_eq(get("/respond?status=500&body=boom&h=Content-Type:%20application/json"), PS_OK,
		     "%s", diag.msg);
	cr_expect_eq(resp.status, 500);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "boom");
	cr_expect_str_eq(resp.content_type, "application/json");
}

Test(http, a_redirect_is_returned_not_followed, .init = setup_plain, .fini = teardown)
{
	cr_assert_eq(get("/respond?status=302&h=Location:%20/echo&body=moved"), PS_OK, "%s",
		     diag.msg);
	cr_expect_eq(resp.status, 302);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "moved");
}

Test(http, a_body_over_the_cap_is_refused_with_and_without_a_content_length,
     .init = setup_plain, .fini = teardown)
{
	struct http_request req = get_request(at("/respond?n=1000"));
	req.max_body = 1000;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.body.len, 1000);
	req.url = at("/respond?n=1000&chunked=1");
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.body.len, 1000);

	req.url = at("/respond?n=1001");
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_ETOOBIG);
	cr_expect_not_null(strstr(diag.msg, "1000-byte cap"), "%s", diag.msg);
	cr_expect_not_null(strstr(diag.msg, url), "%s", diag.msg);
	req.url = at("/respond?n=100000&chunked=1");
	ps_diag_clear(&diag);
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_ETOOBIG);
	cr_expect_not_null(strstr(diag.msg, "1000-byte cap"), "%s", diag.msg);
}

Test(http, a_refused_connection_is_unavailable_and_names_the_url, .init = setup,
     .fini = teardown)
{
	int port = free_port();
	cr_assert_gt(port, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=up", port);
	struct http_request req = get_request(url);
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EUNAVAIL);
	char want[256];
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/api/v1/query?query=up: ", port);
	cr_expect(strncmp(diag.msg, want, strlen(want)) == 0, "%s", diag.msg);
	cr_expect_eq(diag.err, PS_EUNAVAIL);
	cr_expect_eq(resp.status, 0);
	fprintf(stderr, "refused: %s\n", diag.msg);
}

Test(http, a_server_that_never_answers_times_out, .init = setup_plain, .fini = teardown)
{
	struct http_request req = get_request(at("/hang"));
	req.timeout_ms = 300;
	double start = now_ms();
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_ETIMEDOUT);
	double took = now_ms() - start;
	cr_expect_geq(took, 250.0);
	cr_expect_lt(took, 5000.0);
	cr_expect_not_null(strstr(diag.msg, url), "%s", diag.msg);
	fprintf(stderr, "timeout: %s\n", diag.msg);
}

Test(http, a_cancel_fired_from_another_thread_ends_a_blocked_request_promptly,
     .init = setup_plain, .fini = teardown)
{
	double latency = -1;
	const char *problem = cancel_scenario(&srv, &latency);
	cr_expect_null(problem, "%s", problem);
}

Test(http, one_token_cancels_every_client_running_under_it, .init = setup_plain,
     .fini = teardown)
{
	const char *problem = shared_token_scenario(&srv);
	cr_expect_null(problem, "%s", problem);
}

Test(http, a_request_under_an_already_fired_token_is_canceled_at_once, .init = setup_plain,
     .fini = teardown)
{
	struct http_cancel *cancel = NULL;
	cr_assert_eq(http_cancel_new(&cancel), PS_OK);
	cr_expect_not(http_cancel_fired(cancel));
	http_cancel_fire(cancel);
	http_cancel_fire(cancel); /* firing twice is harmless */
	cr_expect(http_cancel_fired(cancel));
	struct http_request req = get_request(at("/conn"));
	cr_expect_eq(http_do(client, &req, &resp, cancel, &diag), PS_ECANCELED);
	cr_expect_eq(resp.status, 0);
	http_cancel_free(cancel);
	/* The server was never contacted: the next connection is its first. */
	cr_assert_eq(get("/conn"), PS_OK, "%s", diag.msg);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "conn=1");
}

Test(http, two_requests_on_one_client_share_one_connection, .init = setup_plain,
     .fini = teardown)
{
	cr_assert_eq(get("/conn"), PS_OK, "%s", diag.msg);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "conn=1");
	cr_assert_eq(get("/echo"), PS_OK, "%s", diag.msg);
	cr_assert_eq(get("/conn"), PS_OK, "%s", diag.msg);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "conn=1");
	/* Another client opens its own connection, so the server does tell them apart. */
	struct http_client *other = NULL;
	cr_assert_eq(http_client_new(&other, NULL), PS_OK);
	struct http_request req = get_request(at("/conn"));
	cr_assert_eq(http_do(other, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "conn=2");
	http_client_free(other);
}

Test(http, retry_after_is_read_as_seconds_or_an_http_date, .init = setup_plain,
     .fini = teardown)
{
	cr_assert_eq(get("/respond?status=429&h=Retry-After:%207"), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 429);
	cr_expect_eq(resp.retry_after_ms, 7000);
	cr_assert_eq(get("/respond?status=503&h=Retry-After:%200"), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.retry_after_ms, 0);
	cr_assert_eq(get("/retry-after-date?in=120"), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 503);
	/* The date has whole seconds: 119..120 s from now, minus the time the request took. */
	cr_expect(resp.retry_after_ms > 115000 && resp.retry_after_ms <= 120000, "%lld",
		  (long long)resp.retry_after_ms);
	cr_assert_eq(get("/respond?status=503&h=Retry-After:%20Wed,%2021%20Oct%202015%2007:28:00%20GMT"),
		     PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.retry_after_ms, 0); /* a date in the past: now */
	cr_assert_eq(get("/respond?status=503&h=Retry-After:%20soon"), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.retry_after_ms, -1);
	cr_assert_eq(get("/respond?status=503"), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.retry_after_ms, -1);
}

Test(http, a_malformed_request_is_refused_before_anything_is_sent, .init = setup_plain,
     .fini = teardown)
{
	struct http_header bad[] = {{"X-Evil", "a\r\nInjected: yes"}};
	struct http_request req = get_request(at("/conn"));
	req.headers = bad;
	req.n_headers = 1;
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EINVAL);
	cr_expect(strstr(diag.msg, ": invalid value of header \"X-Evil\"") != NULL &&
		      strstr(diag.msg, "Injected") == NULL,
		  "%s", diag.msg);
	req = get_request(at("/conn"));
	req.method = "get";
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EINVAL);
	req = get_request(at("/conn"));
	req.bearer_token = SECRET_TOKEN "\r\nX: y";
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EINVAL);
	cr_expect_null(strstr(diag.msg, SECRET_TOKEN), "%s", diag.msg);
	req = get_request(at("/conn"));
	req.timeout_ms = -1;
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EINVAL);
	req = get_request("ftp://127.0.0.1/x");
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EINVAL);
	cr_expect_not_null(strstr(diag.msg, "ftp://127.0.0.1/x"), "%s", diag.msg);
	/* Nothing reached the server: the first real request opens its first connection. */
	cr_assert_eq(get("/conn"), PS_OK, "%s", diag.msg);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "conn=1");
}

/* ---- TLS ---- */

static struct http_tls tls_with_ca(const struct ps_buf *ca)
{
	return (struct http_tls){.ca_pem = ca->data, .ca_len = ca->len};
}

Test(http, tls_verifies_the_server_with_the_ca_given_in_memory, .init = setup_tls,
     .fini = teardown)
{
	struct http_tls tls = tls_with_ca(&ca_pem);
	struct http_request req = get_request(at("/echo"));
	req.tls = &tls;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 200);
	/* And the connection is reused over TLS too. */
	req.url = at("/conn");
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "conn=1");
}

Test(http, tls_without_the_right_ca_fails_verification, .init = setup_tls, .fini = teardown)
{
	struct http_request req = get_request(at("/echo"));
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EIO); /* the system store */
	cr_expect_not_null(strstr(diag.msg, url), "%s", diag.msg);
	fprintf(stderr, "no CA: %s\n", diag.msg);
	struct http_tls tls = tls_with_ca(&other_ca_pem);
	req.tls = &tls;
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EIO);
	cr_expect_eq(resp.status, 0);
}

Test(http, tls_with_insecure_skip_verify_accepts_an_unknown_server, .init = setup_tls,
     .fini = teardown)
{
	struct http_tls tls = {.insecure_skip_verify = true};
	struct http_request req = get_request(at("/echo"));
	req.tls = &tls;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 200);
}

Test(http, mutual_tls_rejects_a_client_without_a_certificate_and_accepts_one_with_it,
     .init = setup_mtls, .fini = teardown)
{
	struct http_tls tls = tls_with_ca(&ca_pem);
	struct http_request req = get_request(at("/peer"));
	req.tls = &tls;
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EIO);
	fprintf(stderr, "no client cert: %s\n", diag.msg);

	tls.cert_pem = cert_pem.data;
	tls.cert_len = cert_pem.len;
	tls.key_pem = key_pem.data;
	tls.key_len = key_pem.len;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 200);
	cr_expect_str_eq(ps_buf_cstr(&resp.body), "subject=prescale-test-client");
}

/* ---- secrets ---- */

static bool contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/* Counts regular files under <dir> (depth-limited) whose content holds <needle>, skipping
 * <skip>. With <since> > 0 only files modified at or after it are read. */
static int files_holding(const char *dir, const char *needle, const char *skip, time_t since,
			 int depth)
{
	DIR *d = opendir(dir);
	if (!d || depth > 4) {
		if (d)
			closedir(d);
		return 0;
	}
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) != 0 || (skip && strcmp(path, skip) == 0))
			continue;
		if (S_ISDIR(st.st_mode)) {
			found += files_holding(path, needle, skip, since, depth + 1);
		} else if (S_ISREG(st.st_mode) && st.st_mtime >= since && st.st_size < (1 << 24)) {
			struct ps_buf b;
			ps_buf_init(&b, 1 << 24);
			if (ps_buf_read_file(&b, path, NULL) == PS_OK &&
			    contains(b.data ? b.data : "", b.len, needle)) {
				fprintf(stderr, "secret found in %s\n", path);
				found++;
			}
			ps_buf_release(&b);
		}
	}
	closedir(d);
	return found;
}

Test(http, no_secret_reaches_an_error_message_stderr_or_a_file, .init = setup_mtls,
     .fini = teardown)
{
	cr_redirect_stderr();
	time_t start = time(NULL) - 1;
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s/tmp", pki_dir);
	cr_assert_eq(mkdir(tmp, 0700), 0);
	cr_assert_eq(setenv("TMPDIR", tmp, 1), 0); /* where curl or OpenSSL would put a file */

	struct http_tls tls = {.ca_pem = ca_pem.data,
			       .ca_len = ca_pem.len,
			       .cert_pem = cert_pem.data,
			       .cert_len = cert_pem.len,
			       .key_pem = key_pem.data,
			       .key_len = key_pem.len};
	/* A token server that refuses it: a 401 is a response, no error message. */
	struct http_request req = get_request(at("/auth"));
	req.tls = &tls;
	req.bearer_token = SECRET_TOKEN;
	cr_assert_eq(http_do(client, &req, &resp, NULL, &diag), PS_OK, "%s", diag.msg);
	cr_expect_eq(resp.status, 401);
	/* Failures: timeout, refused, and credentials in the URL's userinfo. */
	req.url = at("/hang");
	req.timeout_ms = 200;
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_ETIMEDOUT);
	cr_expect_null(strstr(diag.msg, SECRET_TOKEN), "%s", diag.msg);
	int port = free_port();
	snprintf(url, sizeof(url), "https://admin:" SECRET_TOKEN "@127.0.0.1:%d/api?x=1", port);
	req.url = url;
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EUNAVAIL);
	cr_expect_null(strstr(diag.msg, SECRET_TOKEN), "%s", diag.msg);
	cr_expect_null(strstr(diag.msg, "admin"), "%s", diag.msg);
	char want[128];
	snprintf(want, sizeof(want), "GET https://127.0.0.1:%d/api?x=1: ", port);
	cr_expect(strncmp(diag.msg, want, strlen(want)) == 0, "%s", diag.msg);
	snprintf(url, sizeof(url), "admin:" SECRET_TOKEN "@127.0.0.1:%d/", port);
	cr_expect_eq(http_do(client, &req, &resp, NULL, &diag), PS_EUNAVAIL);
	cr_expect_null(strstr(diag.msg, SECRET_TOKEN), "%s", diag.msg);

	/* No file anywhere in our directory but the original holds the key; nor one new in the
	 * system's temporary directory. The needle is the key's first base64 line. */
	const char *nl = strchr(key_pem.data, '\n');
	cr_assert_not_null(nl);
	char needle[65];
	snprintf(needle, sizeof(needle), "%.64s", nl + 1);
	cr_assert_gt(strlen(needle), 40);
	char original[600];
	snprintf(original, sizeof(original), "%s/client.key", pki_dir);
	cr_expect_eq(files_holding(pki_dir, needle, original, 0, 0), 0);
	cr_expect_eq(files_holding("/tmp", needle, original, start, 3), 0);

	fflush(stderr);
	FILE *err = cr_get_redirected_stderr();
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), err)) > 0)
		cr_expect_not(contains(buf, n, SECRET_TOKEN), "the token reached stderr");
}

/* ---- allocation failures ---- */

Test(http, client_and_token_creation_fail_cleanly_when_memory_runs_out, .init = setup,
     .fini = teardown)
{
	for (uint64_t n = 1;; n++) {
		struct http_client *c = (struct http_client *)1;
		struct http_cancel *k = (struct http_cancel *)1;
		ps_alloc_fail_at(n);
		enum ps_err rc1 = http_client_new(&c, NULL);
		enum ps_err rc2 = http_cancel_new(&k);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_expect_eq(rc1, PS_OK);
			cr_expect_eq(rc2, PS_OK);
			http_client_free(c);
			http_cancel_free(k);
			break;
		}
		cr_expect(rc1 == PS_ENOMEM || rc2 == PS_ENOMEM);
		cr_expect(rc1 == PS_OK || c == NULL);
		cr_expect(rc2 == PS_OK || k == NULL);
		http_client_free(rc1 == PS_OK ? c : NULL);
		http_cancel_free(rc2 == PS_OK ? k : NULL);
		cr_assert_lt(n, 100);
	}
}

Test(http, a_request_fails_cleanly_when_memory_runs_out_at_any_allocation,
     .init = setup_plain, .fini = teardown)
{
	struct http_header h[] = {{"X-Scope-OrgID", "team-a"}, {"Accept", "text/plain"}};
	struct http_request req = {.method = "POST",
				   .url = at("/respond?n=200000"),
				   .headers = h,
				   .n_headers = 2,
				   .body = "query=up",
				   .body_len = 8,
				   .content_type = "application/x-www-form-urlencoded",
				   .bearer_token = "tok",
				   .timeout_ms = 10000};
	uint64_t n;
	for (n = 1;; n++) {
		ps_alloc_fail_at(n);
		enum ps_err rc = http_do(client, &req, &resp, NULL, &diag);
		bool injected = ps_alloc_injected();
		ps_alloc_fail_at(0);
		if (!injected) {
			cr_expect_eq(rc, PS_OK, "%s", diag.msg);
			cr_expect_eq(resp.body.len, 200000);
			break;
		}
		cr_expect_eq(rc, PS_ENOMEM, "allocation %llu: %s", (unsigned long long)n,
			     diag.msg);
		cr_assert_lt(n, 200);
	}
	cr_expect_gt(n, 4); /* headers and body growth were both exercised */

	struct ps_buf b;
	ps_buf_init(&b, 64);
	ps_alloc_fail_at(1);
	cr_expect_eq(http_append_escaped(&b, "a b"), PS_ENOMEM);
	ps_alloc_fail_at(0);
	cr_expect_eq(b.len, 0);
	ps_buf_release(&b);
}

/* Criterion 2.4's sandbox cannot start under ThreadSanitizer (Snaipe/Criterion#274, see
 * test_log.c), so the TSan build runs the threaded scenarios from a plain main, which
 * overrides Criterion's. */

#ifdef PS_TEST_TSAN
int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (http_global_init(NULL) != PS_OK) {
		fprintf(stderr, "test_http (tsan): http_global_init failed\n");
		return 1;
	}
	struct server s;
	const char *problem = server_start(&s, NULL, false);
	double latency = -1;
	if (!problem)
		problem = cancel_scenario(&s, &latency);
	if (!problem)
		problem = shared_token_scenario(&s);
	server_stop(&s);
	http_global_cleanup();
	if (problem) {
		fprintf(stderr, "test_http (tsan): cancel scenarios: %s\n", problem);
		return 1;
	}
	printf("test_http (tsan): cancel scenarios passed (latency %.2f ms)\n", latency);
	return 0;
}
#endif
