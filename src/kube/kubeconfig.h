/* kubeconfig.h -- how prescale reaches the Kubernetes API: server, TLS material and credentials,
 * from kubeconfig files (kubectl's merge rules) or from the pod's service account.
 *
 * Lifecycle: a loader returns an owned struct kcfg; its fields are immutable after the load and
 * may be read from any thread. Credentials change at run time (token files rotate, exec plugins
 * hand out expiring tokens), so a request asks for them each time with kcfg_credentials(), which
 * returns a reference to an immutable snapshot (struct kcfg_cred) that stays valid until the
 * caller drops it, even if another thread refreshes the credentials meanwhile. After a 401 the
 * caller hands the rejected snapshot to kcfg_token_invalidate() and asks again, once.
 *
 * Secrets (tokens, private keys) live only in memory: they are never logged, never put in a
 * diag message and never written to disk; their buffers are zeroed before they are freed.
 */
#ifndef KUBECONFIG_H
#define KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "ps_compiler.h"
#include "ps_diag.h"
#include "ps_err.h"

/* Where the service account is mounted in a pod. */
#define KCFG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* An exec plugin that has not finished after this long is killed (kcfg_set_exec_timeout_ms). */
#define KCFG_EXEC_TIMEOUT_MS 30000
/* Expiring exec credentials are refreshed this long before their expirationTimestamp. */
#define KCFG_EXEC_REFRESH_MS 10000
/* A token file is re-read at least this often (and after kcfg_token_invalidate()). */
#define KCFG_TOKEN_FILE_PERIOD_MS 60000
/* The exec credential API versions prescale speaks. */
#define KCFG_EXEC_API_V1 "client.authentication.k8s.io/v1"
#define KCFG_EXEC_API_V1BETA1 "client.authentication.k8s.io/v1beta1"

enum kcfg_source {
	KCFG_SOURCE_KUBECONFIG, /* one or more kubeconfig files */
	KCFG_SOURCE_IN_CLUSTER, /* the pod's service account */
};

/* A PEM or other byte string, NUL-terminated for convenience; data NULL and len 0 when
 * absent. */
struct kcfg_bytes {
	char *data;
	size_t len;
};

enum kcfg_interactive {
	KCFG_INTERACTIVE_UNSET, /* not written in the kubeconfig; treated as IfAvailable */
	KCFG_INTERACTIVE_NEVER,
	KCFG_INTERACTIVE_IF_AVAILABLE,
	KCFG_INTERACTIVE_ALWAYS, /* refused: prescale has no terminal */
};

struct kcfg_env_var {
	char *name;
	char *value;
};

/* A user's exec credential plugin (client.authentication.k8s.io). prescale always runs it
 * non-interactively (stdin is /dev/null, spec.interactive false). */
struct kcfg_exec {
	char *command; /* a PATH name, or a path (a relative one resolved against its file's dir) */
	char **args;
	size_t n_args;
	struct kcfg_env_var *env; /* added to prescale's own environment */
	size_t n_env;
	char *api_version;  /* KCFG_EXEC_API_V1 or KCFG_EXEC_API_V1BETA1 */
	char *install_hint; /* shown when the command is not found; may be NULL */
	bool provide_cluster_info;
	enum kcfg_interactive interactive_mode;
};

/* A connection configuration. Every field is set by the loader and immutable afterwards, so any
 * thread may read it; <state> holds the credential cache and is only touched through the
 * functions below. Strings are NUL-terminated and owned by the struct. */
struct kcfg {
	enum kcfg_source source;
	char *origin;  /* the kubeconfig files read, joined by ':', or the service-account dir */
	char *context; /* context, cluster and user names; NULL in-cluster */
	char *cluster;
	char *user;            /* NULL also when the context names no user (anonymous) */
	char *server;          /* "https://host:port" without a trailing slash */
	char *tls_server_name; /* the cluster's tls-server-name, NULL when not set */
	char *namespace;       /* the context's namespace or the pod's; "default" when unset */

	/* TLS, loaded into memory (from *-data fields, base64-decoded, or from files). */
	struct kcfg_bytes ca;          /* PEM; absent: the system's CA store */
	struct kcfg_bytes client_cert; /* PEM; absent: none (or the exec plugin's) */
	struct kcfg_bytes client_key;  /* PEM, secret */
	bool insecure_skip_tls_verify;

	/* Authentication: at most one kind is used, in this order: token_file, token, exec. */
	char *token;            /* a static bearer token, secret; NULL: none */
	char *token_file;       /* absolute path of a token file, re-read as it rotates */
	struct kcfg_exec *exec; /* NULL: no exec plugin */

	struct kcfg_state *state; /* private: the credential cache, under its own mutex */
};

/* The credentials for one request: an immutable, reference-counted snapshot. Fields are
 * borrowed from the snapshot and valid until kcfg_cred_unref(). */
struct kcfg_cred {
	const char *token;    /* bearer token, secret; NULL: send none */
	const char *cert_pem; /* client certificate from the exec plugin; NULL: the kcfg's own */
	size_t cert_len;
	const char *key_pem; /* its key, secret */
	size_t key_len;
	int64_t expires_ms; /* wall-clock Unix ms when the plugin said it expires; 0: no expiry */
};

/* Loads the kubeconfig that kubectl would use and builds the configuration of one context.
 * Which files: <explicit_path> (--kubeconfig; may be NULL) when given, and it must exist; else
 * the colon-separated KUBECONFIG list (empty entries, duplicates and files that do not exist
 * are skipped; at least one must exist); else $HOME/.kube/config. Several files merge with
 * kubectl's rules: for clusters, contexts and users the first file that defines a name wins,
 * with its whole entry; current-context comes from the first file that sets one. Relative
 * paths in a file (certificate-authority, client-certificate, client-key, tokenFile, an exec
 * command with a '/') are resolved against that file's directory. <context> (--context; may be
 * NULL) overrides current-context. Files named by the chosen entries (CA, certificate, key,
 * token file) are read now, so a missing one fails the load.
 * Returns PS_OK and an owned config in <*out> (free with kcfg_free); or PS_ENOENT (no file),
 * PS_EIO, PS_EPARSE (bad YAML or a wrong type, with file:line:col; bad base64), PS_ECONFIG (no
 * such context, cluster or user, e.g. `context "x" not found in /a.yaml:/b.yaml`; a conflicting
 * or unsupported setting), PS_ETOOBIG or PS_ENOMEM, with <diag> (may be NULL) saying which, and
 * <*out> NULL. Blocks on file I/O; call it from any one thread. */
PS_MUST_CHECK enum ps_err kcfg_load_kubeconfig(const char *explicit_path, const char *context,
                                               struct kcfg **out, struct ps_diag *diag);

/* Builds the in-cluster configuration: the server from KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT (an IPv6 host is put in brackets), and from <sa_dir> (NULL:
 * KCFG_SA_DIR) the token file "token" (re-read at most once a minute, and at the next call after
 * kcfg_token_invalidate()), "ca.crt" (required) and "namespace" (absent: "default").
 * Returns PS_OK and an owned config in <*out>; PS_ECONFIG when the variables are unset or bad;
 * PS_ENOENT/PS_EIO/PS_ECONFIG for a missing, unreadable or empty token or CA file; PS_ENOMEM;
 * with <diag> (may be NULL) naming the variable or file. Blocks on file I/O. */
PS_MUST_CHECK enum ps_err kcfg_load_in_cluster(const char *sa_dir, struct kcfg **out,
                                               struct ps_diag *diag);

/* Chooses like client-go: the kubeconfig when <explicit_path> or <context> is given or
 * KUBECONFIG is set (non-empty); otherwise in-cluster (with <sa_dir>, NULL: KCFG_SA_DIR) when
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are both set; otherwise
 * $HOME/.kube/config. Same returns as the loader it picks. */
PS_MUST_CHECK enum ps_err kcfg_load_auto(const char *explicit_path, const char *context,
                                         const char *sa_dir, struct kcfg **out,
                                         struct ps_diag *diag);

/* Frees <c> (NULL allowed) and everything it owns, zeroing tokens and keys. No other thread may
 * use <c> any more; credential snapshots already handed out stay valid until unreferenced. */
void kcfg_free(struct kcfg *c);

/* Sets how long an exec plugin may run before it is killed (default KCFG_EXEC_TIMEOUT_MS;
 * values <= 0 restore the default). Thread-safe. */
void kcfg_set_exec_timeout_ms(struct kcfg *c, int64_t timeout_ms);

/* Returns in <*out> a reference to the credentials to send now (drop it with kcfg_cred_unref
 * after the request). <now_ms> is the wall clock in Unix ms (ps_clock_wall_ms), used for the
 * token-file period and the exec expiry. A static token is returned as is; a token file is
 * re-read when its size, mtime or inode changed (kubeconfig tokenFile only), when
 * KCFG_TOKEN_FILE_PERIOD_MS passed since the last read, or after kcfg_token_invalidate(); an
 * exec plugin runs when nothing is cached, when the cached credential expires within
 * KCFG_EXEC_REFRESH_MS, or after kcfg_token_invalidate() (no expiry: cached until then). A
 * config without credentials returns a snapshot with no token.
 * Thread-safe: worker threads may call it concurrently; the cache is under a mutex, and one
 * caller refreshes while the others wait. May block on file I/O, or while a plugin runs (up to
 * the exec timeout). Returns PS_OK; or, with <diag> (may be NULL) and <*out> NULL: PS_ENOENT /
 * PS_EIO / PS_ECONFIG (token file missing, unreadable, empty), PS_ENOENT (plugin not found,
 * with its installHint), PS_EIO (plugin failed: exit status and its stderr, capped),
 * PS_ETIMEDOUT (plugin killed after the timeout), PS_EPARSE (not an ExecCredential of the
 * requested apiVersion), PS_ETOOBIG (output over the cap), PS_ENOMEM. Never puts a secret in
 * <diag>. */
PS_MUST_CHECK enum ps_err kcfg_credentials(struct kcfg *c, int64_t now_ms,
                                           const struct kcfg_cred **out, struct ps_diag *diag);

/* Drops a reference returned by kcfg_credentials (NULL allowed); the last one zeroes and frees
 * the snapshot. Thread-safe. */
void kcfg_cred_unref(const struct kcfg_cred *cred);

/* The API server answered 401 to a request made with <rejected> (or, with NULL, the caller
 * wants fresh credentials regardless): the next kcfg_credentials() re-reads the token file or
 * re-runs the exec plugin. When <rejected> is no longer the cached snapshot (another thread
 * already refreshed), nothing happens, so concurrent 401s cause one refresh, not one each.
 * A static token cannot be refreshed; nothing happens then. Thread-safe, does not block long. */
void kcfg_token_invalidate(struct kcfg *c, const struct kcfg_cred *rejected);

/* Fills <out> for the http layer: the CA and insecure flag of <c>, and the client certificate
 * and key of <cred> when the exec plugin supplied them, else those of <c>. <cred> may be NULL.
 * The buffers are borrowed from <c> and <cred> and valid while both are. Thread-safe. */
void kcfg_tls(const struct kcfg *c, const struct kcfg_cred *cred, struct http_tls *out);

/* Renders the merged kubeconfig view as JSON, like `kubectl config view --merge -o json`: the
 * same files as kcfg_load_kubeconfig(<explicit_path>) (may be NULL), entries sorted by name,
 * relative paths made absolute, the fields prescale understands. With <redact>, tokens read
 * "REDACTED" and *-data fields "DATA+OMITTED" like kubectl; without, the output holds secrets
 * (it is for tests and debugging): free it with ps_free_secret(s, strlen(s)). Returns PS_OK and
 * an owned string in <*out>, or an error as kcfg_load_kubeconfig() with <*out> NULL. */
PS_MUST_CHECK enum ps_err kcfg_view_json(const char *explicit_path, bool redact, char **out,
                                         struct ps_diag *diag);

#endif
