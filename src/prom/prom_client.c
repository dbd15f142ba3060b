/* prom_client.c -- a query over HTTP: build the request, run it, parse the answer.
 *
 * A struct prom_client is an endpoint, an http_client and a response buffer kept between
 * queries (its allocation is reused). All three belong to the thread that created the client.
 */
#include "prom.h"

#include <string.h>

#include "prom_int.h"
#include "ps_alloc.h"

/* A response buffer larger than this (a warm-up range query) is freed after the query rather
 * than kept for the next one. */
#define KEEP_BODY_MAX ((size_t)1 << 20)

struct prom_client {
	struct prom_endpoint *ep;
	struct http_client *http;
	struct http_response resp;
};

enum ps_err prom_client_new(struct prom_config *cfg, struct prom_client **out, struct ps_diag *diag)
{
	PS_ASSERT(cfg && out);
	*out = NULL;
	struct prom_client *c = ps_calloc(1, sizeof(*c));
	if (!c) {
		prom_config_release(cfg);
		return ps_diag_set(diag, PS_ENOMEM, "prometheus: out of memory");
	}
	http_response_init(&c->resp);
	enum ps_err err = prom_endpoint_new(cfg, &c->ep, diag);
	if (!err)
		err = http_client_new(&c->http, diag);
	if (err) {
		prom_client_free(c);
		return err;
	}
	*out = c;
	return PS_OK;
}

void prom_client_free(struct prom_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	http_response_release(&c->resp);
	prom_endpoint_free(c->ep);
	ps_free(c);
}

enum ps_err prom_client_query(struct prom_client *c, const struct prom_query *q,
                              struct http_cancel *cancel, struct prom_result *out,
                              struct ps_diag *diag)
{
	PS_ASSERT(c && q && out);
	memset(out, 0, sizeof(*out));
	struct prom_request req;
	enum ps_err err = prom_endpoint_build(c->ep, q, &req, diag);
	if (err)
		return err;
	err = http_do(c->http, &req.http, &c->resp, cancel, diag);
	if (err) {
		ps_diag_prefix(diag, "prometheus");
		goto out;
	}
	struct prom_parse_opts opts = {
	    .source = req.source,
	    .http_status = c->resp.status,
	    .content_type = c->resp.content_type,
	    .key_label = q->key_label,
	};
	err = prom_parse_response(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len,
	                          &opts, out, diag);
	if (err == PS_EUNAUTHORIZED)
		prom_endpoint_invalidate(c->ep);
out:
	if (c->resp.body.cap_alloc > KEEP_BODY_MAX)
		ps_buf_release(&c->resp.body);
	prom_request_release(&req);
	return err;
}
