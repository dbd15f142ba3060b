/* kubecfg_int.h -- private to the kubeconfig module: the merged file model, base64, secret file
 * reading and the exec plugin runner shared by kubeconfig.c and the kubecfg_*.c files. */
#ifndef KUBECFG_INT_H
#define KUBECFG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kubeconfig.h"

/* Size caps for what is read into memory. */
#define KC_MAX_KUBECONFIG (4u << 20) /* one kubeconfig file */
#define KC_MAX_PEM_FILE (1u << 20)   /* a CA bundle, certificate or key file */
#define KC_MAX_TOKEN_FILE (64u << 10)
#define KC_MAX_EXEC_STDOUT (256u << 10)
#define KC_MAX_EXEC_STDERR 2048u

/* Where an entry was defined, for messages. <file> is borrowed from the merged model. */
struct kc_loc {
	const char *file;
	size_t line, col;
};

struct kc_cluster {
	char *name;
	struct kc_loc loc;
	size_t file_index;
	char *server;
	char *tls_server_name;
	char *proxy_url;
	bool insecure;
	bool disable_compression;
	char *ca_path; /* absolute */
	struct kcfg_bytes ca_data;
};

struct kc_user {
	char *name;
	struct kc_loc loc;
	size_t file_index;
	char *cert_path; /* absolute */
	struct kcfg_bytes cert_data;
	char *key_path;             /* absolute */
	struct kcfg_bytes key_data; /* secret */
	char *token;                /* secret */
	char *token_file;           /* absolute */
	struct kcfg_exec *exec;
	/* Settings prescale does not implement; their key, for the message, or NULL. */
	const char *unsupported;
};

struct kc_context {
	char *name;
	struct kc_loc loc;
	size_t file_index;
	char *cluster;
	char *user;
	char *namespace;
};

/* The merged view of a list of kubeconfig files. */
struct kc_merged {
	char **files; /* as given, in order */
	size_t n_files;
	char *origin; /* files joined by ':' */
	char *current_context;
	struct kc_cluster *clusters;
	size_t n_clusters, cap_clusters;
	struct kc_user *users;
	size_t n_users, cap_users;
	struct kc_context *contexts;
	size_t n_contexts, cap_contexts;
};

/* Picks the files as kcfg_load_kubeconfig() documents, reads and merges them into an owned
 * model in <*out>. */
PS_MUST_CHECK enum ps_err kc_merged_load(const char *explicit_path, struct kc_merged **out,
                                         struct ps_diag *diag);
void kc_merged_free(struct kc_merged *m);

struct kc_cluster *kc_find_cluster(struct kc_merged *m, const char *name);
const struct kc_context *kc_find_context(const struct kc_merged *m, const char *name);
struct kc_user *kc_find_user(struct kc_merged *m, const char *name);

/* Renders <m> like `kubectl config view -o json`; see kcfg_view_json. */
PS_MUST_CHECK enum ps_err kc_merged_json(const struct kc_merged *m, bool redact, char **out,
                                         struct ps_diag *diag);

/* Decodes standard base64 (RFC 4648 with padding; CR and LF ignored, as Go does) of
 * <in>[0..len) into an owned, NUL-terminated buffer. PS_EPARSE with <*bad_at> the offending
 * byte offset, or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kc_base64_decode(const char *in, size_t len, struct kcfg_bytes *out,
                                           size_t *bad_at);
/* Encodes <len> bytes as standard base64 into an owned string, or NULL (out of memory). */
PS_MUST_CHECK char *kc_base64_encode(const char *in, size_t len);

/* Reads the whole file <path> into an owned buffer (NUL-terminated) whose earlier copies are
 * zeroed as it grows, so it may hold a secret; free it with kc_bytes_free_secret. At most
 * <max> bytes. PS_ENOENT, PS_EIO, PS_ETOOBIG (naming the path) or PS_ENOMEM. */
PS_MUST_CHECK enum ps_err kc_read_file(const char *path, size_t max, struct kcfg_bytes *out,
                                       struct ps_diag *diag);
void kc_bytes_free_secret(struct kcfg_bytes *b);
void kc_bytes_free(struct kcfg_bytes *b);
/* Zeroes <n> bytes at <p> in a way the compiler keeps. */
void kc_zero(void *p, size_t n);

/* The owned path <rel> resolved against the absolute directory <dir>: a copy when absolute. */
PS_MUST_CHECK char *kc_resolve_path(const char *dir, const char *rel);

void kc_exec_free(struct kcfg_exec *e);

/* Routes cJSON's allocations through ps_malloc_noted/ps_free, once per process. */
void kc_json_hooks(void);

/* What an exec plugin returned. Owned; release with kc_exec_result_release. */
struct kc_exec_result {
	char *token;
	struct kcfg_bytes cert;
	struct kcfg_bytes key;
	int64_t expires_ms; /* 0: none */
};
void kc_exec_result_release(struct kc_exec_result *r);

/* Runs the exec plugin of <c> (c->exec not NULL) once: posix_spawn without a shell, the
 * environment of the process plus the plugin's plus KUBERNETES_EXEC_INFO, stdin /dev/null,
 * stdout and stderr captured (capped), killed with its process group after <timeout_ms>.
 * Parses the ExecCredential into <out>. Returns as kcfg_credentials documents. */
PS_MUST_CHECK enum ps_err kc_exec_run(const struct kcfg *c, int64_t timeout_ms,
                                      struct kc_exec_result *out, struct ps_diag *diag);

#endif
