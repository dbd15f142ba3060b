/* kubecfg_exec.c -- runs a client.authentication.k8s.io exec credential plugin and parses the
 * ExecCredential it prints. */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kubecfg_int.h"
#include "ps_alloc.h"
#include "ps_clock.h"
#include "ps_text.h"

extern char **environ;

#define EXEC_INFO_VAR "KUBERNETES_EXEC_INFO"

/* The KUBERNETES_EXEC_INFO value: an ExecCredential with spec.interactive false and, when the
 * plugin asks for it, the cluster (client-go's fields; the CA as base64 data). Owned, or NULL
 * when out of memory. */
static char *exec_info(const struct kcfg *c)
{
	kc_json_hooks();
	const struct kcfg_exec *e = c->exec;
	char *out = NULL, *ca64 = NULL;
	cJSON *root = cJSON_CreateObject();
	if (!root || !cJSON_AddStringToObject(root, "apiVersion", e->api_version) ||
	    !cJSON_AddStringToObject(root, "kind", "ExecCredential"))
		goto out;
	cJSON *spec = cJSON_AddObjectToObject(root, "spec");
	if (!spec)
		goto out;
	if (e->provide_cluster_info) {
		cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
		if (!cl || !cJSON_AddStringToObject(cl, "server", c->server))
			goto out;
		if (c->tls_server_name &&
		    !cJSON_AddStringToObject(cl, "tls-server-name", c->tls_server_name))
			goto out;
		if (c->insecure_skip_tls_verify &&
		    !cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", true))
			goto out;
		if (c->ca.data) {
			ca64 = kc_base64_encode(c->ca.data, c->ca.len);
			if (!ca64 ||
			    !cJSON_AddStringToObject(cl, "certificate-authority-data", ca64))
				goto out;
		}
	}
	if (!cJSON_AddBoolToObject(spec, "interactive", false))
		goto out;
	out = cJSON_PrintUnformatted(root);
out:
	ps_free(ca64);
	cJSON_Delete(root);
	return out;
}

/* "name=value" into an owned string, or NULL. */
static char *env_pair(const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	char *s = ps_malloc(nl + vl + 2);
	if (!s)
		return NULL;
	memcpy(s, name, nl);
	s[nl] = '=';
	memcpy(s + nl + 1, value, vl + 1);
	return s;
}

static bool env_named(const char *entry, const char *name)
{
	size_t nl = strlen(name);
	return strncmp(entry, name, nl) == 0 && entry[nl] == '=';
}

/* The plugin's environment: ours, minus what the plugin sets, plus the plugin's variables and
 * KUBERNETES_EXEC_INFO. Entries [0, *n_own) are borrowed from environ, the rest owned. */
struct envp {
	char **v;
	size_t n, n_own;
};

static void envp_free(struct envp *ev)
{
	for (size_t i = ev->n_own; i < ev->n; i++)
		ps_free_secret(ev->v[i], strlen(ev->v[i]));
	ps_free(ev->v);
}

static enum ps_err envp_build(const struct kcfg *c, struct envp *ev)
{
	const struct kcfg_exec *e = c->exec;
	size_t n_env = 0;
	while (environ && environ[n_env])
		n_env++;
	*ev = (struct envp){0};
	ev->v = ps_calloc(n_env + e->n_env + 2, sizeof(*ev->v));
	if (!ev->v)
		return PS_ENOMEM;
	for (size_t i = 0; i < n_env; i++) {
		bool replaced = env_named(environ[i], EXEC_INFO_VAR);
		for (size_t j = 0; j < e->n_env && !replaced; j++)
			replaced = env_named(environ[i], e->env[j].name);
		if (!replaced)
			ev->v[ev->n++] = environ[i];
	}
	ev->n_own = ev->n;
	for (size_t j = 0; j < e->n_env; j++) {
		if (!(ev->v[ev->n] = env_pair(e->env[j].name, e->env[j].value)))
			return PS_ENOMEM;
		ev->n++;
	}
	char *info = exec_info(c);
	if (!info)
		return PS_ENOMEM;
	ev->v[ev->n] = env_pair(EXEC_INFO_VAR, info);
	ps_free(info);
	if (!ev->v[ev->n])
		return PS_ENOMEM;
	ev->n++;
	return PS_OK;
}

static const char *user_of(const struct kcfg *c)
{
	return c->user ? c->user : "";
}

/* Up to <max> bytes of captured stderr, trailing white space dropped, quoted. */
static const char *quote_stderr(char *out, size_t size, const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return ps_text_quote(out, size, s, n, 200);
}

/* ---- parsing the ExecCredential ---- */

static void scrub_json(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			kc_zero(j->valuestring, strlen(j->valuestring));
		scrub_json(j->child);
	}
}

static enum ps_err dup_bytes(const char *s, struct kcfg_bytes *out)
{
	out->len = strlen(s);
	out->data = ps_strndup(s, out->len);
	if (!out->data)
		out->len = 0;
	return out->data ? PS_OK : PS_ENOMEM;
}

/* The string member <key> of <o>, NULL when absent or null; <bad> set when not a string. */
static const char *member_str(const cJSON *o, const char *key, bool *bad)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j || cJSON_IsNull(j))
		return NULL;
	if (!cJSON_IsString(j)) {
		*bad = true;
		return NULL;
	}
	return j->valuestring;
}

static enum ps_err parse_output(const struct kcfg *c, const char *buf, size_t len,
                                struct kc_exec_result *r, struct ps_diag *diag)
{
	const char *cmd = c->exec->command;
	size_t skip = 0;
	while (skip < len &&
	       (buf[skip] == ' ' || buf[skip] == '\n' || buf[skip] == '\r' || buf[skip] == '\t'))
		skip++;
	if (skip == len)
		return ps_diag_set(diag, PS_EPARSE,
		                   "exec plugin \"%s\" of user \"%s\" printed nothing (expected an "
		                   "ExecCredential)",
		                   cmd, user_of(c));
	kc_json_hooks();
	ps_alloc_note_reset();
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!root) {
		if (ps_alloc_note_failed())
			return ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": out of memory",
			                   cmd);
		/* No excerpt: the output may hold a token. */
		size_t off = end && end >= buf ? (size_t)(end - buf) : 0;
		return ps_diag_set(
		    diag, PS_EPARSE,
		    "exec plugin \"%s\" of user \"%s\" printed something that is not "
		    "JSON (error at byte %zu of %zu; expected an ExecCredential)",
		    cmd, user_of(c), off + 1, len);
	}
	enum ps_err err = PS_OK;
	bool bad = false;
	const char *api = cJSON_IsObject(root) ? member_str(root, "apiVersion", &bad) : NULL;
	const char *kind = cJSON_IsObject(root) ? member_str(root, "kind", &bad) : NULL;
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsObject(root) || !kind || strcmp(kind, "ExecCredential") != 0) {
		err =
		    ps_diag_set(diag, PS_EPARSE,
		                "exec plugin \"%s\" of user \"%s\" did not print an ExecCredential "
		                "(kind \"%.60s\")",
		                cmd, user_of(c), kind ? kind : "");
		goto out;
	}
	if (!api || strcmp(api, c->exec->api_version) != 0) {
		err = ps_diag_set(diag, PS_EPARSE,
		                  "exec plugin \"%s\" of user \"%s\" answered with apiVersion "
		                  "\"%.80s\", but \"%s\" was requested",
		                  cmd, user_of(c), api ? api : "", c->exec->api_version);
		goto out;
	}
	if (!cJSON_IsObject(status)) {
		err = ps_diag_set(diag, PS_EPARSE,
		                  "exec plugin \"%s\" of user \"%s\": the ExecCredential has no "
		                  "status",
		                  cmd, user_of(c));
		goto out;
	}
	const char *token = member_str(status, "token", &bad);
	const char *cert = member_str(status, "clientCertificateData", &bad);
	const char *key = member_str(status, "clientKeyData", &bad);
	const char *exp = member_str(status, "expirationTimestamp", &bad);
	if (bad) {
		err =
		    ps_diag_set(diag, PS_EPARSE,
		                "exec plugin \"%s\" of user \"%s\": a status field is not a string",
		                cmd, user_of(c));
		goto out;
	}
	if (token && !token[0])
		token = NULL;
	if (cert && !cert[0])
		cert = NULL;
	if (key && !key[0])
		key = NULL;
	if (!cert != !key) {
		err = ps_diag_set(diag, PS_EPARSE,
		                  "exec plugin \"%s\" of user \"%s\" returned %s without %s", cmd,
		                  user_of(c), cert ? "clientCertificateData" : "clientKeyData",
		                  cert ? "clientKeyData" : "clientCertificateData");
		goto out;
	}
	if (!token && !cert) {
		err =
		    ps_diag_set(diag, PS_EPARSE,
		                "exec plugin \"%s\" of user \"%s\" returned neither a token nor a "
		                "client certificate",
		                cmd, user_of(c));
		goto out;
	}
	if (exp && exp[0]) {
		struct ps_diag d;
		if ((err = ps_clock_parse_rfc3339(exp, &r->expires_ms, &d))) {
			ps_diag_set(diag, err,
			            "exec plugin \"%s\" of user \"%s\": expirationTimestamp: %s",
			            cmd, user_of(c), ps_diag_msg(&d));
			goto out;
		}
		if (r->expires_ms == 0)
			r->expires_ms = 1; /* 0 means "no expiry" */
	}
	if ((token && !(r->token = ps_strdup(token))) ||
	    (cert && (dup_bytes(cert, &r->cert) || dup_bytes(key, &r->key)))) {
		err = ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": out of memory", cmd);
		goto out;
	}
out:
	scrub_json(root);
	cJSON_Delete(root);
	if (err)
		kc_exec_result_release(r);
	return err;
}

/* ---- running the plugin ---- */

static int64_t mono_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

/* Waits for <pid> until <deadline> (monotonic ms); kills its process group when it is still
 * running then. Returns true with the wait status in <*status>. */
static bool reap(pid_t pid, int64_t deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
		if (r == 0 && mono_ms() >= deadline)
			break;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	(void)kill(-pid, SIGKILL);
	pid_t r;
	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r == pid;
}

static enum ps_err spawn(const struct kcfg *c, char **envv, int out_fd[2], int err_fd[2],
                         pid_t *pid, struct ps_diag *diag)
{
	const struct kcfg_exec *e = c->exec;
	size_t argc = e->n_args + 1;
	char **argv = ps_calloc(argc + 1, sizeof(*argv));
	if (!argv)
		return ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": out of memory",
		                   e->command);
	argv[0] = e->command;
	for (size_t i = 0; i < e->n_args; i++)
		argv[i + 1] = e->args[i];

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc) {
		ps_free(argv);
		return ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": %s", e->command,
		                   strerror(rc));
	}
	if ((rc = posix_spawnattr_init(&at))) {
		posix_spawn_file_actions_destroy(&fa);
		ps_free(argv);
		return ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": %s", e->command,
		                   strerror(rc));
	}
	/* stdin /dev/null (never interactive), stdout and stderr to our pipes, nothing else
	 * inherited (no listening socket leaks into the plugin). Its own process group, so a
	 * timeout kills whatever it started too; default signal dispositions and an empty mask,
	 * whatever the controller's threads block or ignore. */
	sigset_t none, deflt;
	sigemptyset(&none);
	sigemptyset(&deflt);
	static const int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
	                           SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	for (size_t i = 0; i < PS_ARRAY_LEN(sigs); i++)
		sigaddset(&deflt, sigs[i]);
	if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out_fd[1], 1)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err_fd[1], 2)) ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) ||
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                            POSIX_SPAWN_SETSIGDEF)) ||
	    (rc = posix_spawnattr_setpgroup(&at, 0)) ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) ||
	    (rc = posix_spawnattr_setsigdefault(&at, &deflt))) {
		posix_spawnattr_destroy(&at);
		posix_spawn_file_actions_destroy(&fa);
		ps_free(argv);
		return ps_diag_set(diag, rc == ENOMEM ? PS_ENOMEM : PS_EIO,
		                   "exec plugin \"%s\": %s", e->command, strerror(rc));
	}
	/* A name without '/' is looked up in PATH, as Go's exec.Command does; never a shell. */
	if (strchr(e->command, '/'))
		rc = posix_spawn(pid, e->command, &fa, &at, argv, envv);
	else
		rc = posix_spawnp(pid, e->command, &fa, &at, argv, envv);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	ps_free(argv);
	if (rc == ENOENT)
		return ps_diag_set(diag, PS_ENOENT,
		                   "exec plugin \"%s\" of user \"%s\" not found%s%s", e->command,
		                   user_of(c), e->install_hint ? ": " : "",
		                   e->install_hint ? e->install_hint : "");
	if (rc)
		return ps_diag_set(diag, PS_EIO,
		                   "exec plugin \"%s\" of user \"%s\": cannot run: %s", e->command,
		                   user_of(c), strerror(rc));
	return PS_OK;
}

/* Reads what is available on <fd> into <buf> (up to <cap>; beyond it, sets *over and
 * discards). Returns false at end of file or on an error. */
static bool drain(int fd, char *buf, size_t cap, size_t *len, bool *over)
{
	char scratch[4096];
	ssize_t n;
	do {
		if (*len < cap)
			n = read(fd, buf + *len, cap - *len);
		else
			n = read(fd, scratch, sizeof(scratch));
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	if (*len < cap)
		*len += (size_t)n;
	else
		*over = true;
	kc_zero(scratch, sizeof(scratch));
	return true;
}

enum ps_err kc_exec_run(const struct kcfg *c, int64_t timeout_ms, struct kc_exec_result *out,
                        struct ps_diag *diag)
{
	*out = (struct kc_exec_result){0};
	const char *cmd = c->exec->command;
	int64_t deadline = mono_ms() + timeout_ms;
	struct envp ev;
	enum ps_err err = envp_build(c, &ev);
	if (err) {
		envp_free(&ev);
		return ps_diag_set(diag, err, "exec plugin \"%s\": out of memory", cmd);
	}
	char *obuf = ps_malloc(KC_MAX_EXEC_STDOUT + 1);
	if (!obuf) {
		envp_free(&ev);
		return ps_diag_set(diag, PS_ENOMEM, "exec plugin \"%s\": out of memory", cmd);
	}
	char ebuf[KC_MAX_EXEC_STDERR];
	size_t olen = 0, elen = 0;
	bool oover = false, eover = false, timed_out = false;
	int out_fd[2] = {-1, -1}, err_fd[2] = {-1, -1};
	pid_t pid = -1;
	if (pipe2(out_fd, O_CLOEXEC) || pipe2(err_fd, O_CLOEXEC)) {
		err =
		    ps_diag_set(diag, PS_EIO, "exec plugin \"%s\": pipe: %s", cmd, strerror(errno));
		goto out;
	}
	err = spawn(c, ev.v, out_fd, err_fd, &pid, diag);
	(void)close(out_fd[1]);
	(void)close(err_fd[1]);
	out_fd[1] = err_fd[1] = -1;
	if (err)
		goto out;

	struct pollfd pf[2] = {{out_fd[0], POLLIN, 0}, {err_fd[0], POLLIN, 0}};
	while ((pf[0].fd >= 0 || pf[1].fd >= 0) && !oover) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		int r = poll(pf, 2, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = ps_diag_set(diag, PS_EIO, "exec plugin \"%s\": poll: %s", cmd,
			                  strerror(errno));
			break;
		}
		if (pf[0].revents && !drain(pf[0].fd, obuf, KC_MAX_EXEC_STDOUT, &olen, &oover))
			pf[0].fd = -1;
		if (pf[1].revents && !drain(pf[1].fd, ebuf, sizeof(ebuf), &elen, &eover))
			pf[1].fd = -1;
	}
	if (timed_out || oover || err)
		(void)kill(-pid, SIGKILL);
	int status = 0;
	bool reaped = reap(pid, timed_out || oover || err ? 0 : deadline, &status);
	if (!reaped && !err && !timed_out && !oover) {
		/* SIGCHLD ignored somewhere, so the status is lost. */
		err = ps_diag_set(diag, PS_EIO, "exec plugin \"%s\": cannot wait for it: %s", cmd,
		                  strerror(errno));
	}
	if (err)
		goto out;
	char q[PS_QUOTE_BUF(200)];
	if (timed_out || (WIFSIGNALED(status) && mono_ms() >= deadline)) {
		err = ps_diag_set(diag, PS_ETIMEDOUT,
		                  "exec plugin \"%s\" of user \"%s\" did not finish within %lld ms "
		                  "and was killed; stderr: %s",
		                  cmd, user_of(c), (long long)timeout_ms,
		                  quote_stderr(q, sizeof(q), ebuf, elen));
	} else if (oover) {
		err = ps_diag_set(diag, PS_ETOOBIG,
		                  "exec plugin \"%s\" of user \"%s\" printed more than %u bytes",
		                  cmd, user_of(c), KC_MAX_EXEC_STDOUT);
	} else if (WIFSIGNALED(status)) {
		err = ps_diag_set(diag, PS_EIO,
		                  "exec plugin \"%s\" of user \"%s\" was killed by signal %d; "
		                  "stderr: %s",
		                  cmd, user_of(c), WTERMSIG(status),
		                  quote_stderr(q, sizeof(q), ebuf, elen));
	} else if (WEXITSTATUS(status) != 0) {
		err = ps_diag_set(diag, PS_EIO,
		                  "exec plugin \"%s\" of user \"%s\" exited with status %d; "
		                  "stderr: %s",
		                  cmd, user_of(c), WEXITSTATUS(status),
		                  quote_stderr(q, sizeof(q), ebuf, elen));
	} else {
		err = parse_output(c, obuf, olen, out, diag);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (out_fd[i] >= 0)
			(void)close(out_fd[i]);
		if (err_fd[i] >= 0)
			(void)close(err_fd[i]);
	}
	ps_free_secret(obuf, KC_MAX_EXEC_STDOUT + 1);
	kc_zero(ebuf, sizeof(ebuf));
	envp_free(&ev);
	return err;
}
