/* fake_kube_load.c -- a load generator for fake_kube_fast: <conns> keep-alive connections
 * (one libcurl multi, one thread) sending scale GETs (and PATCHes, --patch-percent) for random
 * Deployments as fast as the server answers, for <seconds>. Prints requests per second, the
 * mean latency, the statuses, and the server's CPU over the run (from its /stats cpu_s).
 *
 * usage: fake_kube_load --url URL --count N [--token T] [--cacert F] [--namespace bench]
 *                       [--prefix t] [--width 5] [--conns 16] [--seconds 5]
 *                       [--patch-percent 0]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_CONNS 1024

struct conn {
	CURL *h;
	struct curl_slist *hdrs;
	char url[512];
	double t_start;
	bool patch;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	*(size_t *)arg += size * n;
	return size * n;
}

struct text {
	char buf[8192];
	size_t len;
};

static size_t keep(char *p, size_t size, size_t n, void *arg)
{
	struct text *t = arg;
	size_t k = size * n;
	if (k > sizeof(t->buf) - 1 - t->len)
		k = sizeof(t->buf) - 1 - t->len;
	memcpy(t->buf + t->len, p, k);
	t->len += k;
	t->buf[t->len] = '\0';
	return size * n;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct opts {
	const char *url, *token, *cacert, *ns, *prefix;
	long count, width, conns, patch_percent;
	double seconds;
};

/* The server's cpu_s from /stats, or -1. */
static double server_cpu(const struct opts *o)
{
	CURL *h = curl_easy_init();
	if (!h)
		return -1;
	char url[600];
	snprintf(url, sizeof(url), "%s/stats", o->url);
	struct text t = {.len = 0};
	t.buf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (o->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	const char *p = rc == CURLE_OK ? strstr(t.buf, "\"cpu_s\":") : NULL;
	return p ? strtod(p + 8, NULL) : -1;
}

static void conn_next(struct conn *c, const struct opts *o, size_t *bytes)
{
	long i = (long)(rnd() % (uint64_t)(o->count ? o->count : 1));
	snprintf(c->url, sizeof(c->url), "%s/apis/apps/v1/namespaces/%s/deployments/%s%0*ld/scale",
	         o->url, o->ns, o->prefix, (int)o->width, i);
	c->patch = o->patch_percent > 0 && (long)(rnd() % 100) < o->patch_percent;
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, bytes);
	if (c->patch) {
		static char body[64];
		snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%d}}", (int)(rnd() % 10) + 1);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "PATCH");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}
	c->t_start = mono_s();
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	struct opts o = {.token = "bench-token",
	                 .ns = "bench",
	                 .prefix = "t",
	                 .count = -1,
	                 .width = 5,
	                 .conns = 16,
	                 .seconds = 5};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = v != NULL;
		if (ok && !strcmp(a, "--url"))
			o.url = v;
		else if (ok && !strcmp(a, "--token"))
			o.token = v;
		else if (ok && !strcmp(a, "--cacert"))
			o.cacert = v;
		else if (ok && !strcmp(a, "--namespace"))
			o.ns = v;
		else if (ok && !strcmp(a, "--prefix"))
			o.prefix = v;
		else if (ok && !strcmp(a, "--count"))
			ok = parse_long(v, 1, 10000000, &o.count);
		else if (ok && !strcmp(a, "--width"))
			ok = parse_long(v, 1, 12, &o.width);
		else if (ok && !strcmp(a, "--conns"))
			ok = parse_long(v, 1, MAX_CONNS, &o.conns);
		else if (ok && !strcmp(a, "--patch-percent"))
			ok = parse_long(v, 0, 100, &o.patch_percent);
		else if (ok && !strcmp(a, "--seconds")) {
			long s;
			ok = parse_long(v, 1, 3600, &s);
			o.seconds = (double)s;
		} else
			ok = false;
		if (!ok) {
			fprintf(stderr, "fake_kube_load: bad option %s\n", a);
			return 2;
		}
		i++;
	}
	if (!o.url || o.count < 1) {
		fprintf(stderr,
		        "usage: fake_kube_load --url URL --count N [--token T] [--cacert F] "
		        "[--conns C] [--seconds S] [--patch-percent P]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	CURLM *m = curl_multi_init();
	static struct conn conns[MAX_CONNS];
	char auth[600];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
	size_t bytes = 0;
	double cpu0 = server_cpu(&o);
	for (long i = 0; i < o.conns; i++) {
		struct conn *c = &conns[i];
		c->h = curl_easy_init();
		c->hdrs = curl_slist_append(NULL, auth);
		c->hdrs = curl_slist_append(c->hdrs, "Accept: application/json");
		c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/merge-patch+json");
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
		curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 10000L);
		if (o.cacert)
			curl_easy_setopt(c->h, CURLOPT_CAINFO, o.cacert);
		conn_next(c, &o, &bytes);
		curl_multi_add_handle(m, c->h);
	}
	unsigned long done = 0, errors = 0, by_code[6] = {0};
	double lat_sum = 0, t0 = mono_s(), end = t0 + o.seconds;
	int running = 1;
	long added = 1;
	while (running || added) {
		added = 0;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct conn *c;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			long code = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK) {
				errors++;
				if (errors < 5)
					fprintf(stderr, "fake_kube_load: %s\n",
					        curl_easy_strerror(msg->data.result));
			} else {
				by_code[code / 100 < 6 ? code / 100 : 0]++;
			}
			done++;
			lat_sum += mono_s() - c->t_start;
			curl_multi_remove_handle(m, c->h);
			if (mono_s() < end) {
				conn_next(c, &o, &bytes);
				curl_multi_add_handle(m, c->h);
				added++;
			}
		}
		if (running && !added)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	double dt = mono_s() - t0;
	double cpu1 = server_cpu(&o);
	printf("%lu requests in %.2f s over %ld connections (%ld%% PATCH): %.0f requests/s, "
	       "mean latency %.3f ms, 2xx %lu, 4xx %lu, 5xx %lu, transport errors %lu, %.1f MB "
	       "received\n",
	       done, dt, o.conns, o.patch_percent, (double)done / dt,
	       done ? lat_sum * 1e3 / (double)done : 0.0, by_code[2], by_code[4], by_code[5],
	       errors, (double)bytes / 1e6);
	if (cpu0 >= 0 && cpu1 >= 0)
		printf("server CPU: %.2f s in %.2f s = %.2f cores, %.1f us per request\n",
		       cpu1 - cpu0, dt, (cpu1 - cpu0) / dt,
		       done ? (cpu1 - cpu0) * 1e6 / (double)done : 0.0);
	for (long i = 0; i < o.conns; i++) {
		curl_easy_cleanup(conns[i].h);
		curl_slist_free_all(conns[i].hdrs);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	return errors ? 1 : 0;
}
