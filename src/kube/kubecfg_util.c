/* kubecfg_util.c -- small helpers of the kubeconfig module: base64, secret-safe file reading,
 * path resolution, zeroing, the cJSON hooks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kubecfg_int.h"
#include "ps_alloc.h"

void kc_zero(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

void kc_bytes_free_secret(struct kcfg_bytes *b)
{
	if (!b->data)
		return;
	ps_free_secret(b->data, b->len + 1);
	b->data = NULL;
	b->len = 0;
}

void kc_bytes_free(struct kcfg_bytes *b)
{
	ps_free(b->data);
	b->data = NULL;
	b->len = 0;
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void set_hooks(void)
{
	/* The same hooks as every other cJSON user in prescale: the hooks are process-wide. */
	static cJSON_Hooks hooks = {ps_malloc_noted, ps_free};
	cJSON_InitHooks(&hooks);
}

void kc_json_hooks(void)
{
	(void)pthread_once(&hooks_once, set_hooks);
}

/* ---- base64 ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

#define B64_PAD 64

enum ps_err kc_base64_decode(const char *in, size_t len, struct kcfg_bytes *out, size_t *bad_at)
{
	out->data = NULL;
	out->len = 0;
	char *buf = ps_malloc(len / 4 * 3 + 4);
	if (!buf)
		return PS_ENOMEM;
	size_t o = 0, n = 0;
	int q[4];
	bool done = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '\r' || c == '\n')
			continue;
		if (done)
			goto bad;
		if (c == '=') {
			if (n < 2)
				goto bad;
			q[n++] = B64_PAD;
		} else {
			int v = b64_value(c);
			if (v < 0 || (n > 0 && q[n - 1] == B64_PAD))
				goto bad;
			q[n++] = v;
		}
		if (n < 4)
			continue;
		buf[o++] = (char)(q[0] << 2 | q[1] >> 4);
		if (q[2] != B64_PAD)
			buf[o++] = (char)((q[1] & 15) << 4 | q[2] >> 2);
		if (q[3] != B64_PAD)
			buf[o++] = (char)((q[2] & 3) << 6 | q[3]);
		done = q[3] == B64_PAD;
		n = 0;
		continue;
	bad:
		*bad_at = i;
		ps_free_secret(buf, len / 4 * 3 + 4);
		return PS_EPARSE;
	}
	if (n != 0) {
		*bad_at = len;
		ps_free_secret(buf, len / 4 * 3 + 4);
		return PS_EPARSE;
	}
	buf[o] = '\0';
	out->data = buf;
	out->len = o;
	return PS_OK;
}

char *kc_base64_encode(const char *in, size_t len)
{
	char *s = ps_malloc((len + 2) / 3 * 4 + 1);
	if (!s)
		return NULL;
	const unsigned char *u = (const unsigned char *)in;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)u[i] << 16 | (unsigned)u[i + 1] << 8 | u[i + 2];
		s[o++] = b64_alphabet[v >> 18];
		s[o++] = b64_alphabet[v >> 12 & 63];
		s[o++] = b64_alphabet[v >> 6 & 63];
		s[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)u[i] << 16 | (i + 1 < len ? (unsigned)u[i + 1] << 8 : 0);
		s[o++] = b64_alphabet[v >> 18];
		s[o++] = b64_alphabet[v >> 12 & 63];
		s[o++] = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
		s[o++] = '=';
	}
	s[o] = '\0';
	return s;
}

/* ---- files and paths ---- */

enum ps_err kc_read_file(const char *path, size_t max, struct kcfg_bytes *out, struct ps_diag *diag)
{
	out->data = NULL;
	out->len = 0;
	int fd;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int e = errno;
		return ps_diag_set(diag, e == ENOENT ? PS_ENOENT : PS_EIO, "cannot open \"%s\": %s",
		                   path, strerror(e));
	}
	/* Sized from fstat so that a secret is normally read into one buffer; when the file
	 * grows meanwhile, each outgrown copy is zeroed before it is freed. */
	struct stat st;
	size_t cap = 4096;
	if (fstat(fd, &st) == 0 && st.st_size > 0)
		cap = (uint64_t)st.st_size >= max ? max + 1 : (size_t)st.st_size + 1;
	enum ps_err err = PS_OK;
	size_t len = 0;
	char *buf = ps_malloc(cap);
	if (!buf) {
		err = ps_diag_set(diag, PS_ENOMEM, "reading \"%s\": out of memory", path);
		goto out;
	}
	for (;;) {
		if (len + 1 == cap) {
			/* Full: one more byte tells the end of the file from a file that grew. */
			char probe;
			ssize_t n;
			do
				n = read(fd, &probe, 1);
			while (n < 0 && errno == EINTR);
			if (n == 0)
				break;
			if (n < 0) {
				err = ps_diag_set(diag, PS_EIO, "cannot read \"%s\": %s", path,
				                  strerror(errno));
				goto out;
			}
			if (cap > max) {
				kc_zero(&probe, 1);
				err = ps_diag_set(
				    diag, PS_ETOOBIG,
				    "file \"%s\" is larger than the limit of %zu bytes", path, max);
				goto out;
			}
			size_t ncap = cap - 1 > max / 2 ? max + 1 : cap * 2;
			char *nb = ps_malloc(ncap);
			if (!nb) {
				kc_zero(&probe, 1);
				err = ps_diag_set(diag, PS_ENOMEM, "reading \"%s\": out of memory",
				                  path);
				goto out;
			}
			memcpy(nb, buf, len);
			nb[len++] = probe;
			kc_zero(&probe, 1);
			ps_free_secret(buf, cap);
			buf = nb;
			cap = ncap;
			continue;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = ps_diag_set(diag, PS_EIO, "cannot read \"%s\": %s", path,
			                  strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	out->data = buf;
	out->len = len;
	buf = NULL;
out:
	if (buf)
		ps_free_secret(buf, cap);
	(void)close(fd);
	return err;
}

char *kc_resolve_path(const char *dir, const char *rel)
{
	if (rel[0] == '/')
		return ps_strdup(rel);
	while (rel[0] == '.' && rel[1] == '/') /* "./x" is "x"; ".." is kept as written */
		for (rel += 2; rel[0] == '/'; rel++)
			;
	size_t dl = strlen(dir), rl = strlen(rel);
	char *s = ps_malloc(dl + rl + 2);
	if (!s)
		return NULL;
	memcpy(s, dir, dl);
	size_t o = dl;
	if (o == 0 || s[o - 1] != '/')
		s[o++] = '/';
	memcpy(s + o, rel, rl + 1);
	return s;
}

void kc_exec_free(struct kcfg_exec *e)
{
	if (!e)
		return;
	ps_free(e->command);
	for (size_t i = 0; i < e->n_args; i++)
		ps_free(e->args[i]);
	ps_free(e->args);
	for (size_t i = 0; i < e->n_env; i++) {
		ps_free(e->env[i].name);
		/* Plugins take API keys through their environment; treat values as secrets. */
		if (e->env[i].value)
			ps_free_secret(e->env[i].value, strlen(e->env[i].value));
	}
	ps_free(e->env);
	ps_free(e->api_version);
	ps_free(e->install_hint);
	ps_free(e);
}

void kc_exec_result_release(struct kc_exec_result *r)
{
	if (r->token)
		ps_free_secret(r->token, strlen(r->token));
	r->token = NULL;
	kc_bytes_free(&r->cert);
	kc_bytes_free_secret(&r->key);
	r->expires_ms = 0;
}
