/* prom_server.c -- a real Prometheus on 127.0.0.1 for the live tests (see prom_server.h). */
#include "prom_server.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "ps_alloc.h"
#include "ps_clock.h"

#define READY_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 5000
#define START_ATTEMPTS 3
/* Servers the atexit() handler stops; a test process runs one. */
#define MAX_SERVERS 4

static struct prom_server *servers[MAX_SERVERS];
/* Background children of prom_server_spawn() that the atexit() handler kills. */
static pid_t children[PROM_SERVER_MAX_CHILDREN];

/* ---- processes ---- */

static int64_t now_mono_ms(void)
{
	return ps_clock_mono_ms(ps_clock_real());
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool prom_server_in_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char buf[4096];
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (n && access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* In a child: own process group, killed with the parent, output to <out> and <err>. Never
 * returns. */
static void exec_child(char *const argv[], const char *out, const char *err, pid_t parent)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126); /* the parent is already gone */
	int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		dup2(fd, 1);
	if (err && strcmp(err, out) != 0)
		fd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		dup2(fd, 2);
	int null = open("/dev/null", O_RDONLY);
	if (null >= 0)
		dup2(null, 0);
	execvp(argv[0], argv);
	_exit(127);
}

static pid_t spawn(char *const argv[], const char *out, const char *err)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0)
		exec_child(argv, out, err, parent);
	setpgid(pid, pid); /* also here: no window where a kill of the group misses it */
	return pid;
}

/* Kills the group of <*pid> and reaps it, SIGTERM first, SIGKILL after STOP_TIMEOUT_MS. */
static void stop_group(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(-*pid, SIGTERM);
	int64_t deadline = now_mono_ms() + STOP_TIMEOUT_MS;
	int status;
	while (waitpid(*pid, &status, WNOHANG) == 0) {
		if (now_mono_ms() > deadline) {
			kill(-*pid, SIGKILL);
			waitpid(*pid, &status, 0);
			break;
		}
		sleep_ms(10);
	}
	kill(-*pid, SIGKILL); /* anything the group may have left behind */
	*pid = 0;
}

/* ---- background children ---- */

static void kill_children(void)
{
	for (size_t i = 0; i < PROM_SERVER_MAX_CHILDREN; i++)
		if (children[i] > 0) {
			kill(-children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static void forget_child(pid_t pid)
{
	for (size_t i = 0; i < PROM_SERVER_MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

pid_t prom_server_spawn(char *const argv[], int in_fd, int out_fd, const char *log)
{
	static bool registered;
	size_t slot = 0;
	while (slot < PROM_SERVER_MAX_CHILDREN && children[slot] > 0)
		slot++;
	cr_assert_lt(slot, PROM_SERVER_MAX_CHILDREN, "more than %d background children",
	             PROM_SERVER_MAX_CHILDREN);
	if (!registered)
		atexit(kill_children);
	registered = true;
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126); /* the parent is already gone */
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (dup2(in_fd >= 0 ? in_fd : null, 0) < 0 ||
		    dup2(out_fd >= 0 ? out_fd : fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(125);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no window where a kill of the group misses it */
	children[slot] = pid;
	return pid;
}

int prom_server_child_wait(pid_t *pid, int64_t timeout_ms)
{
	if (*pid <= 0)
		return -1;
	int64_t deadline = now_mono_ms() + timeout_ms;
	int status = 0;
	int rc = -1;
	for (;;) {
		pid_t got = waitpid(*pid, &status, WNOHANG);
		if (got == *pid) {
			rc = WIFEXITED(status)     ? WEXITSTATUS(status)
			     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
			                           : -1;
			break;
		}
		if (got < 0 && errno != EINTR)
			break;
		if (now_mono_ms() > deadline) {
			kill(-*pid, SIGKILL);
			waitpid(*pid, &status, 0);
			break;
		}
		sleep_ms(5);
	}
	kill(-*pid, SIGKILL); /* anything the group may have left behind */
	forget_child(*pid);
	*pid = 0;
	return rc;
}

void prom_server_child_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	pid_t p = *pid;
	stop_group(pid);
	forget_child(p);
}

int prom_server_run(char *const argv[], const char *out, const char *err, int64_t timeout_ms)
{
	pid_t pid = spawn(argv, out, err ? err : out);
	int64_t deadline = now_mono_ms() + timeout_ms;
	int status = 0;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_mono_ms() > deadline) {
			stop_group(&pid);
			return -1;
		}
		sleep_ms(10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Removes <path> and everything under it (the data directory has a few levels). */
static void remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
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
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

void prom_server_stop(struct prom_server *s)
{
	stop_group(&s->pid);
	if (s->dir[0]) {
		remove_tree(s->dir);
		s->dir[0] = '\0';
	}
}

static void stop_all(void)
{
	for (size_t i = 0; i < MAX_SERVERS; i++)
		if (servers[i])
			prom_server_stop(servers[i]);
}

void prom_server_fini(struct prom_server *s)
{
	prom_server_stop(s);
	http_global_cleanup();
}

/* ---- the server ---- */

int prom_server_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

const char *prom_server_path(const struct prom_server *s, const char *name)
{
	static char path[16][160];
	static int next;
	char *p = path[next++ % 16];
	snprintf(p, sizeof(path[0]), "%s/%s", s->dir, name);
	return p;
}

void prom_server_init(struct prom_server *s)
{
	static bool registered;
	memset(s, 0, sizeof(*s));
	cr_assert_eq(http_global_init(NULL), PS_OK);
	size_t i = 0;
	while (i < MAX_SERVERS && servers[i] && servers[i] != s)
		i++;
	cr_assert_lt(i, MAX_SERVERS, "more than %d servers in one test process", MAX_SERVERS);
	servers[i] = s;
	if (!registered)
		atexit(stop_all);
	registered = true;
	snprintf(s->dir, sizeof(s->dir), "/tmp/prescale-prom-live-XXXXXX");
	cr_assert_not_null(mkdtemp(s->dir));
	snprintf(s->log, sizeof(s->log), "%s/prometheus.log", s->dir);
}

static struct prom_client *plain_client(const struct prom_server *s)
{
	struct prom_config c;
	prom_config_init(&c);
	c.url = ps_strdup(s->url);
	c.timeout_ms = 10000;
	struct prom_client *cl = NULL;
	struct ps_diag d;
	cr_assert_eq(prom_client_new(&c, &cl, &d), PS_OK, "%s", ps_diag_msg(&d));
	return cl;
}

/* Runs the query vector(1) through <c> until it answers, the deadline passes or the server
 * exits (the port was taken, or worse: see the log). True when it answered. Before it is
 * ready Prometheus answers 503, and before it listens the connection is refused. */
static bool wait_ready(struct prom_server *s, struct prom_client *c)
{
	struct prom_query q = {.promql = "vector(1)", .timeout_ms = 1000};
	int64_t deadline = now_mono_ms() + READY_TIMEOUT_MS;
	while (now_mono_ms() < deadline) {
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return false;
		}
		struct prom_result r;
		if (prom_client_query(c, &q, NULL, &r, NULL) == PS_OK) {
			prom_result_release(&r);
			return true;
		}
		sleep_ms(20);
	}
	return false;
}

/* Starts prometheus on <fixed_port> (0: a free port, three tries) with the configuration and
 * data of <s>'s directory and waits until it answers; fails the test otherwise. */
static void launch(struct prom_server *s, const char *web_config,
                   struct prom_client *(*probe)(const struct prom_server *s, void *arg), void *arg,
                   int fixed_port)
{
	char data[128], config[128];
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(config, sizeof(config), "%s/prometheus.yml", s->dir);
	char a_config[160], a_data[160], a_listen[64], a_web[160];
	snprintf(a_config, sizeof(a_config), "--config.file=%s", config);
	snprintf(a_data, sizeof(a_data), "--storage.tsdb.path=%s", data);
	snprintf(a_web, sizeof(a_web), "--web.config.file=%s", web_config ? web_config : "");
	for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		s->port = fixed_port > 0 ? fixed_port : prom_server_free_port();
		snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", web_config ? "https" : "http",
		         s->port);
		snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%d", s->port);
		char *argv[] = {"prometheus",
		                a_config,
		                a_data,
		                a_listen,
		                "--storage.tsdb.retention.time=1d",
		                "--log.level=warn",
		                web_config ? a_web : NULL,
		                NULL};
		s->pid = spawn(argv, s->log, s->log);
		struct prom_client *c = probe ? probe(s, arg) : plain_client(s);
		bool ready = wait_ready(s, c);
		prom_client_free(c);
		if (ready)
			return;
		stop_group(&s->pid);
	}
	cr_assert_fail("prometheus did not become ready on 127.0.0.1:%d within %d s (%d attempts); "
	               "see %s",
	               s->port, READY_TIMEOUT_MS / 1000, START_ATTEMPTS, s->log);
}

void prom_server_start(struct prom_server *s, void (*write)(FILE *f, void *arg), void *arg,
                       const char *web_config,
                       struct prom_client *(*probe)(const struct prom_server *s, void *arg))
{
	cr_assert(prom_server_in_path("prometheus"),
	          "prometheus is not installed (Debian package prometheus; hack/test installs it)");
	cr_assert(prom_server_in_path("promtool"),
	          "promtool is not installed (Debian package prometheus; hack/test installs it)");
	char input[128], data[128], config[128];
	snprintf(input, sizeof(input), "%s/input.om", s->dir);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(config, sizeof(config), "%s/prometheus.yml", s->dir);
	FILE *f = fopen(input, "w");
	cr_assert_not_null(f, "%s: %s", input, strerror(errno));
	write(f, arg);
	fprintf(f, "# EOF\n");
	cr_assert_eq(fclose(f), 0);
	char *promtool[] = {"promtool", "tsdb", "create-blocks-from", "openmetrics", input,
	                    data,       NULL};
	int rc = prom_server_run(promtool, s->log, NULL, PROM_SERVER_TOOL_TIMEOUT_MS);
	cr_assert_eq(rc, 0, "promtool tsdb create-blocks-from openmetrics failed (%d); see %s", rc,
	             s->log);
	f = fopen(config, "w");
	cr_assert_not_null(f);
	fprintf(f, "global:\n  scrape_interval: 1h\n");
	cr_assert_eq(fclose(f), 0);

	launch(s, web_config, probe, arg, 0);
}

void prom_server_pause(struct prom_server *s)
{
	stop_group(&s->pid);
}

void prom_server_resume(struct prom_server *s, const char *web_config,
                        struct prom_client *(*probe)(const struct prom_server *s, void *arg),
                        void *arg)
{
	cr_assert(s->pid == 0, "prom_server_resume: the server is running");
	cr_assert(s->port > 0 && s->dir[0], "prom_server_resume: the server was never started");
	launch(s, web_config, probe, arg, s->port);
}
