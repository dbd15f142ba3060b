/* ps_err.c -- names, messages and retry classes of enum ps_err, from the X-macro table. */
#include "ps_err.h"

/* Each switch lists every row of the table and has no default: -Wswitch catches a gap. */
const char *ps_err_name(enum ps_err e)
{
	switch (e) {
#define PS_ERR_CASE(v, name, msg, retry)                                                           \
	case v:                                                                                    \
		return name;
		PS_ERR_TABLE(PS_ERR_CASE)
#undef PS_ERR_CASE
	}
	return "EUNKNOWN";
}

const char *ps_strerror(enum ps_err e)
{
	switch (e) {
#define PS_ERR_CASE(v, name, msg, retry)                                                           \
	case v:                                                                                    \
		return msg;
		PS_ERR_TABLE(PS_ERR_CASE)
#undef PS_ERR_CASE
	}
	return "unknown error";
}

bool ps_err_is_retryable(enum ps_err e)
{
	switch (e) {
#define PS_ERR_CASE(v, name, msg, retry)                                                           \
	case v:                                                                                    \
		return retry;
		PS_ERR_TABLE(PS_ERR_CASE)
#undef PS_ERR_CASE
	}
	return false;
}
