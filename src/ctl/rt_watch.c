/* rt_watch.c -- notices that a configuration file or directory changed, by polling.
 *
 * A ConfigMap volume updates by writing a new `..<timestamp>` directory and renaming a new
 * `..data` symlink over the old one; the visible names are symlinks through `..data`, so their
 * own lstat never changes, only what they resolve to. The fingerprint therefore covers, for the
 * path and for every entry of it when it is a directory: lstat (inode, mode, size, mtime), the
 * symlink's target text, and stat of what it resolves to. Entries are combined with a sum of
 * per-entry hashes, so readdir order does not matter. Single-threaded: the caller's loop owns
 * the struct. inotify would add latency savings only; polling every few seconds is what
 * kubelet's own sync period allows anyway (a ConfigMap change takes up to a minute to land).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps_alloc.h"
#include "runtime.h"

#define WATCH_MAX_ENTRIES 4096

struct rt_watch {
	char *path;
	uint64_t fp;
};

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static uint64_t mix_u64(uint64_t h, uint64_t v)
{
	return mix_bytes(h, &v, sizeof(v));
}

static uint64_t mix_stat(uint64_t h, const struct stat *st)
{
	h = mix_u64(h, (uint64_t)st->st_dev);
	h = mix_u64(h, (uint64_t)st->st_ino);
	h = mix_u64(h, (uint64_t)st->st_mode);
	h = mix_u64(h, (uint64_t)st->st_size);
	h = mix_u64(h, (uint64_t)st->st_mtim.tv_sec);
	h = mix_u64(h, (uint64_t)st->st_mtim.tv_nsec);
	return h;
}

/* Hash of one name: its lstat, its symlink target, and the stat of what it resolves to. A
 * missing name hashes its errno. Sets *is_dir when it resolves to a directory. */
static uint64_t fingerprint_one(const char *path, bool *is_dir)
{
	uint64_t h = UINT64_C(14695981039346656037);
	struct stat st;
	*is_dir = false;
	if (lstat(path, &st) != 0)
		return mix_u64(h, (uint64_t)errno + 1);
	h = mix_stat(h, &st);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target));
		if (n > 0)
			h = mix_bytes(h, target, (size_t)n);
		if (stat(path, &st) != 0)
			return mix_u64(h, (uint64_t)errno + 1);
		h = mix_stat(h, &st);
	}
	*is_dir = S_ISDIR(st.st_mode);
	return h;
}

static uint64_t fingerprint(const char *path)
{
	bool is_dir;
	uint64_t h = fingerprint_one(path, &is_dir);
	if (!is_dir)
		return h;
	DIR *d = opendir(path);
	if (!d)
		return mix_u64(h, (uint64_t)errno + 1);
	uint64_t sum = 0, count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && count < WATCH_MAX_ENTRIES) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		int n = snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(p))
			continue;
		bool sub;
		uint64_t eh = fingerprint_one(p, &sub);
		eh = mix_bytes(eh, e->d_name, strlen(e->d_name));
		/* A final avalanche so that the sum of entries does not cancel out. */
		eh ^= eh >> 33;
		eh *= UINT64_C(0xff51afd7ed558ccd);
		eh ^= eh >> 33;
		sum += eh;
		count++;
	}
	closedir(d);
	h = mix_u64(h, sum);
	return mix_u64(h, count);
}

enum ps_err rt_watch_new(const char *path, struct rt_watch **out, struct ps_diag *diag)
{
	*out = NULL;
	struct rt_watch *w = ps_calloc(1, sizeof(*w));
	if (!w)
		return ps_diag_set(diag, PS_ENOMEM, "rt_watch_new: out of memory");
	w->path = ps_strdup(path);
	if (!w->path) {
		ps_free(w);
		return ps_diag_set(diag, PS_ENOMEM, "rt_watch_new: out of memory");
	}
	w->fp = fingerprint(w->path);
	*out = w;
	return PS_OK;
}

bool rt_watch_changed(struct rt_watch *w)
{
	uint64_t fp = fingerprint(w->path);
	if (fp == w->fp)
		return false;
	w->fp = fp;
	return true;
}

void rt_watch_free(struct rt_watch *w)
{
	if (!w)
		return;
	ps_free(w->path);
	ps_free(w);
}
