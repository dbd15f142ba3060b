/* fuzz_kube_json.c -- fuzz target: every input goes through the four Kubernetes JSON decoders,
 * kube_scale_parse, kube_pod_list_parse (as two pages of one list), kube_status_parse (and
 * kube_status_error, which quotes a body that is no Status) and kube_lease_parse. Checks what
 * kube.h documents: fixed-size fields stay NUL-terminated within their buffers, a pod list only
 * grows page by page, errors carry a message, and a decoded Lease written back with
 * kube_lease_body() decodes to the same Lease. */
#include <string.h>

#include "fuzz.h"
#include "kube.h"
#include "ps_buf.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void fuzz_scale(const char *s, size_t n)
{
	struct kube_scale sc;
	struct ps_diag d;
	memset(&sc, 0, sizeof(sc));
	if (kube_scale_parse(s, n, &sc, &d) == PS_OK) {
		FUZZ_CHECK(TERMINATED(sc.namespace) && TERMINATED(sc.name));
		FUZZ_CHECK(TERMINATED(sc.uid) && TERMINATED(sc.resource_version));
		FUZZ_CHECK(sc.selector != NULL);
		kube_scale_release(&sc);
	} else {
		FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
	}
}

static void check_pods(const struct kube_pod_list *l)
{
	FUZZ_CHECK(TERMINATED(l->resource_version));
	for (size_t i = 0; i < l->n_pods; i++) {
		const struct eng_pod *p = &l->pods[i];
		FUZZ_CHECK(p->name != NULL);
		FUZZ_CHECK(p->n_containers == 0 || p->containers != NULL);
		for (size_t k = 0; k < p->n_containers; k++) {
			FUZZ_CHECK(p->containers[k].name != NULL);
			for (size_t j = 0; j < p->containers[k].n_requests; j++)
				FUZZ_CHECK(p->containers[k].requests[j].resource != NULL);
		}
		for (size_t j = 0; j < p->n_pod_requests; j++)
			FUZZ_CHECK(p->pod_requests[j].resource != NULL);
	}
}

static void fuzz_pods(const char *s, size_t n)
{
	struct kube_pod_list l;
	struct ps_diag d;
	char cont[256];
	memset(&l, 0, sizeof(l));
	enum ps_err err = kube_pod_list_parse(s, n, &l, cont, sizeof(cont), &d);
	if (err == PS_OK) {
		FUZZ_CHECK(TERMINATED(cont));
		check_pods(&l);
		size_t first = l.n_pods;
		/* A second page appends to the first; on failure the first page's pods stay. */
		err = kube_pod_list_parse(s, n, &l, NULL, 0, &d);
		FUZZ_CHECK(err == PS_OK ? l.n_pods == 2 * first : l.n_pods >= first);
		check_pods(&l);
	} else {
		FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
	}
	kube_pod_list_release(&l);
	FUZZ_CHECK(l.n_pods == 0 && l.pods == NULL);
}

static void fuzz_status(const char *s, size_t n)
{
	struct kube_status st;
	struct ps_diag d;
	memset(&st, 0, sizeof(st));
	if (kube_status_parse(s, n, &st, &d) == PS_OK) {
		FUZZ_CHECK(TERMINATED(st.status) && TERMINATED(st.reason));
		FUZZ_CHECK(TERMINATED(st.message) && TERMINATED(st.details_name));
		FUZZ_CHECK(TERMINATED(st.details_group) && TERMINATED(st.details_kind));
		FUZZ_CHECK(TERMINATED(st.cause_field));
		FUZZ_CHECK(st.retry_after_s >= -1);
	} else {
		FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
	}
	memset(&st, 0, sizeof(st));
	enum ps_err err = kube_status_error("GET", "https://fuzz/api/v1/pods", 429, s, n, &st, &d);
	FUZZ_CHECK(err == kube_err_from_http(429));
	FUZZ_CHECK(strncmp(ps_diag_msg(&d), "GET https://fuzz/api/v1/pods: 429", 33) == 0);
}

static void fuzz_lease(const char *s, size_t n)
{
	struct kube_lease l, back;
	struct ps_diag d;
	memset(&l, 0, sizeof(l));
	if (kube_lease_parse(s, n, &l, &d) != PS_OK) {
		FUZZ_CHECK(ps_diag_msg(&d)[0] != '\0');
		return;
	}
	FUZZ_CHECK(TERMINATED(l.namespace) && TERMINATED(l.name) && TERMINATED(l.uid));
	FUZZ_CHECK(TERMINATED(l.resource_version) && TERMINATED(l.holder));
	struct ps_buf b;
	ps_buf_init(&b, (size_t)1 << 20);
	if (kube_lease_body(&b, &l, true) == PS_OK) {
		memset(&back, 0, sizeof(back));
		enum ps_err err = kube_lease_parse(b.data, b.len, &back, &d);
		if (err != PS_OK)
			fprintf(stderr, "lease body %s does not parse back: %s\n", ps_buf_cstr(&b),
			        ps_diag_msg(&d));
		FUZZ_CHECK(err == PS_OK);
		FUZZ_CHECK(strcmp(back.name, l.name) == 0);
		FUZZ_CHECK(strcmp(back.namespace, l.namespace) == 0);
		FUZZ_CHECK(strcmp(back.resource_version, l.resource_version) == 0);
		FUZZ_CHECK(strcmp(back.holder, l.holder) == 0);
		FUZZ_CHECK(back.duration_s == (l.duration_s > 0 ? l.duration_s : 0));
		FUZZ_CHECK(back.has_acquire_time == l.has_acquire_time);
		FUZZ_CHECK(!l.has_acquire_time || back.acquire_ms == l.acquire_ms);
		FUZZ_CHECK(back.has_renew_time == l.has_renew_time);
		FUZZ_CHECK(!l.has_renew_time || back.renew_ms == l.renew_ms);
		FUZZ_CHECK(back.transitions == l.transitions);
	}
	ps_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	fuzz_scale(s, size);
	fuzz_pods(s, size);
	fuzz_status(s, size);
	fuzz_lease(s, size);
	return 0;
}
