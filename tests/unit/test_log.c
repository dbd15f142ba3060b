/* test_log.c -- log lines in text and JSON, escaping, levels, truncation and threads. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/scenario.h"
#include "ps_alloc.h"
#include "ps_log.h"

/* 2026-11-26T12:00:00.123Z */
#define FIXED_MS INT64_C(1795694400123)
#define TS "2026-11-26T12:00:00.123Z"

static struct ps_clock fixed;
static FILE *out;
static char *out_buf;
static size_t out_len;

static void capture(void)
{
	ps_clock_virtual_init(&fixed, FIXED_MS);
	ps_log_set_clock(&fixed);
	out = open_memstream(&out_buf, &out_len);
	cr_assert_not_null(out);
	ps_log_set_output(out);
}

/* Stops capturing and returns everything written (freed at the end of the test). */
static const char *captured(void)
{
	ps_log_set_output(NULL);
	cr_assert_eq(fclose(out), 0);
	out = NULL;
	return out_buf;
}

static void release(void)
{
	if (out) {
		ps_log_set_output(NULL);
		(void)fclose(out);
	}
	free(out_buf);
}

Test(log, writes_a_text_line_with_timestamp_padded_level_message_and_fields,
     .init = capture, .fini = release)
{
	ps_log(PS_LOG_INFO, "decision", "target", "shop/Deployment/web", "desired", "5", NULL);
	cr_expect_str_eq(captured(), TS " INFO  decision target=shop/Deployment/web desired=5\n");
}

Test(log, writes_a_json_line_with_ts_level_msg_and_fields, .init = capture, .fini = release)
{
	ps_log_set_format(PS_LOG_JSON);
	ps_log(PS_LOG_INFO, "decision", "target", "shop/Deployment/web", "desired", "5", NULL);
	cr_expect_str_eq(captured(), "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"decision\","
				     "\"target\":\"shop/Deployment/web\",\"desired\":\"5\"}\n");
}

Test(log, quotes_text_values_with_spaces_quotes_equals_or_escapes, .init = capture,
     .fini = release)
{
	ps_log(PS_LOG_WARN, "q", "a", "quoted value", "b", "x=y", "c", "", "d", "say \"hi\"", "e",
	       "two\nlines", "f", "C:\\tmp", "g", "plain-value_1.2/3:4", NULL);
	cr_expect_str_eq(captured(), TS " WARN  q a=\"quoted value\" b=\"x=y\" c=\"\" "
				     "d=\"say \\\"hi\\\"\" e=\"two\\nlines\" f=\"C:\\\\tmp\" "
				     "g=plain-value_1.2/3:4\n");
}

Test(log, escapes_control_bytes_in_a_text_message_but_leaves_it_unquoted, .init = capture,
     .fini = release)
{
	ps_log(PS_LOG_ERROR, "first\nsecond \"x\"\t\x01", NULL);
	cr_expect_str_eq(captured(), TS " ERROR first\\nsecond \"x\"\\t\\u0001\n");
}

Test(log, escapes_json_strings_and_passes_utf8_through, .init = capture, .fini = release)
{
	ps_log_set_format(PS_LOG_JSON);
	ps_log(PS_LOG_INFO, "say \"hi\" \\ now\n\r\t\b\f\x01\x1f\x7f", "k\"ey", "h\xc3\xa9llo \xe2\x9c\x93",
	       NULL);
	cr_expect_str_eq(captured(),
			 "{\"ts\":\"" TS "\",\"level\":\"info\","
			 "\"msg\":\"say \\\"hi\\\" \\\\ now\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\","
			 "\"k\\\"ey\":\"h\xc3\xa9llo \xe2\x9c\x93\"}\n");
}

Test(log, replaces_invalid_utf8_with_the_replacement_character, .init = capture,
     .fini = release)
{
	ps_log_set_format(PS_LOG_JSON);
	/* A lone continuation byte, a truncated sequence, an overlong '/', a surrogate. */
	ps_log(PS_LOG_INFO, "m", "v", "a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80", NULL);
	cr_expect_str_eq(captured(), "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"m\","
				     "\"v\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
				     "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}\n");
}

Test(log, text_values_with_utf8_stay_unquoted_and_invalid_bytes_force_quotes, .init = capture,
     .fini = release)
{
	ps_log(PS_LOG_INFO, "m", "ok", "h\xc3\xa9llo", "bad", "x\xff", NULL);
	cr_expect_str_eq(captured(), TS " INFO  m ok=h\xc3\xa9llo bad=\"x\xef\xbf\xbd\"\n");
}

Test(log, typed_fields_are_numbers_and_booleans_in_json, .init = capture, .fini = release)
{
	ps_log_set_format(PS_LOG_JSON);
	PS_LOG_FIELDS(PS_LOG_INFO, "decision", PS_LOG_INT("desired", 5), PS_LOG_INT("min", INT64_MIN),
		      PS_LOG_DBL("util", 0.75), PS_LOG_DBL("tenth", 0.1), PS_LOG_DBL("big", 1e300),
		      PS_LOG_BOOL("write", true), PS_LOG_STR("why", NULL), PS_LOG_DBL("nan", NAN),
		      PS_LOG_DBL("inf", -INFINITY), PS_LOG_STR("s", "x"));
	cr_expect_str_eq(captured(),
			 "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"decision\","
			 "\"desired\":5,\"min\":-9223372036854775808,\"util\":0.75,\"tenth\":0.1,"
			 "\"big\":1e+300,\"write\":true,\"why\":null,\"nan\":\"NaN\",\"inf\":\"-Inf\","
			 "\"s\":\"x\"}\n");
}

Test(log, typed_fields_in_text, .init = capture, .fini = release)
{
	PS_LOG_FIELDS(PS_LOG_INFO, "decision", PS_LOG_INT("desired", -5), PS_LOG_DBL("util", 1.5),
		      PS_LOG_BOOL("write", false), PS_LOG_STR("why", NULL), PS_LOG_DBL("x", NAN),
		      PS_LOG_DBL("y", INFINITY));
	cr_expect_str_eq(captured(), TS " INFO  decision desired=-5 util=1.5 write=false "
				     "why=(null) x=NaN y=+Inf\n");
}

Test(log, a_null_value_ends_the_list_and_logs_as_null, .init = capture, .fini = release)
{
	ps_log(PS_LOG_INFO, "m", "a", "1", "b", NULL);
	ps_log_set_format(PS_LOG_JSON);
	ps_log(PS_LOG_INFO, NULL, "a", "1", "b", NULL);
	ps_log_fields(PS_LOG_INFO, "none", NULL, 0);
	cr_expect_str_eq(captured(), TS " INFO  m a=1 b=(null)\n"
				     "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"\",\"a\":\"1\","
				     "\"b\":null}\n"
				     "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"none\"}\n");
}

Test(log, records_below_the_threshold_are_dropped, .init = capture, .fini = release)
{
	cr_expect_eq(ps_log_get_level(), PS_LOG_INFO);
	cr_expect_not(ps_log_enabled(PS_LOG_DEBUG));
	ps_log(PS_LOG_DEBUG, "hidden", NULL);
	ps_log(PS_LOG_INFO, "shown", NULL);
	ps_log_set_level(PS_LOG_DEBUG);
	cr_expect(ps_log_enabled(PS_LOG_DEBUG));
	ps_log(PS_LOG_DEBUG, "now shown", NULL);
	ps_log_set_level(PS_LOG_ERROR);
	ps_log(PS_LOG_INFO, "hidden", NULL);
	ps_log(PS_LOG_WARN, "hidden", NULL);
	ps_log(PS_LOG_ERROR, "bad", NULL);
	cr_expect_str_eq(captured(), TS " INFO  shown\n" TS " DEBUG now shown\n" TS " ERROR bad\n");
}

Test(log, the_json_level_names_are_lower_case, .init = capture, .fini = release)
{
	ps_log_set_format(PS_LOG_JSON);
	ps_log_set_level(PS_LOG_DEBUG);
	ps_log(PS_LOG_DEBUG, "a", NULL);
	ps_log(PS_LOG_WARN, "b", NULL);
	ps_log(PS_LOG_ERROR, "c", NULL);
	cr_expect_str_eq(captured(), "{\"ts\":\"" TS "\",\"level\":\"debug\",\"msg\":\"a\"}\n"
				     "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"b\"}\n"
				     "{\"ts\":\"" TS "\",\"level\":\"error\",\"msg\":\"c\"}\n");
}

Test(log, timestamps_follow_the_configured_clock, .init = capture, .fini = release)
{
	ps_log(PS_LOG_INFO, "a", NULL);
	ps_clock_virtual_advance(&fixed, 61877);
	ps_log(PS_LOG_INFO, "b", NULL);
	cr_expect_str_eq(captured(), TS " INFO  a\n2026-11-26T12:01:02.000Z INFO  b\n");
}

Test(log, a_long_value_is_cut_at_a_character_boundary_with_dots, .init = capture,
     .fini = release)
{
	/* 4095 ASCII bytes then a 2-byte character straddling the 4096-byte limit. */
	static char v[4095 + 2 + 1];
	memset(v, 'a', 4095);
	memcpy(v + 4095, "\xc3\xa9", 3);
	ps_log_set_format(PS_LOG_JSON);
	ps_log(PS_LOG_INFO, "m", "v", v, NULL);
	const char *got = captured();
	static char want[8192];
	snprintf(want, sizeof(want),
		 "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"m\",\"v\":\"%.4095s...\"}\n", v);
	cr_expect_str_eq(got, want);
}

Test(log, a_line_longer_than_the_stack_buffer_is_written_whole, .init = capture,
     .fini = release)
{
	static char v[3001];
	memset(v, 'x', 3000);
	ps_log(PS_LOG_INFO, "m", "a", v, "b", v, "c", v, NULL);
	static char want[10000];
	snprintf(want, sizeof(want), TS " INFO  m a=%s b=%s c=%s\n", v, v, v);
	cr_expect_str_eq(captured(), want);
}

Test(log, when_the_line_cannot_grow_later_fields_are_dropped_and_marked, .init = capture,
     .fini = release)
{
	static char v[2001];
	memset(v, 'y', 2000);
	ps_alloc_fail_at(1);
	ps_log(PS_LOG_INFO, "m", "a", "1", "big", v, "after", "2", NULL);
	ps_log_set_format(PS_LOG_JSON);
	ps_alloc_fail_at(1);
	ps_log(PS_LOG_INFO, "m", "a", "1", "big", v, NULL);
	cr_expect_str_eq(captured(),
			 TS " INFO  m a=1 truncated=true\n"
			    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"m\",\"a\":\"1\","
			    "\"truncated\":true}\n");
}

Test(log, level_and_format_names_parse_in_any_case)
{
	enum ps_log_level l = PS_LOG_ERROR;
	cr_expect_eq(ps_log_level_parse("debug", &l, NULL), PS_OK);
	cr_expect_eq(l, PS_LOG_DEBUG);
	cr_expect_eq(ps_log_level_parse("INFO", &l, NULL), PS_OK);
	cr_expect_eq(l, PS_LOG_INFO);
	cr_expect_eq(ps_log_level_parse("warning", &l, NULL), PS_OK);
	cr_expect_eq(l, PS_LOG_WARN);
	cr_expect_eq(ps_log_level_parse("Error", &l, NULL), PS_OK);
	cr_expect_eq(l, PS_LOG_ERROR);
	enum ps_log_format f = PS_LOG_TEXT;
	cr_expect_eq(ps_log_format_parse("json", &f, NULL), PS_OK);
	cr_expect_eq(f, PS_LOG_JSON);
	cr_expect_eq(ps_log_format_parse("TEXT", &f, NULL), PS_OK);
	cr_expect_eq(f, PS_LOG_TEXT);
	cr_expect_str_eq(ps_log_level_name(PS_LOG_WARN), "warn");
	cr_expect_str_eq(ps_log_level_name((enum ps_log_level)9), "unknown");
}

Test(log, unknown_level_and_format_names_are_einval_with_the_choices)
{
	struct ps_diag d;
	enum ps_log_level l = PS_LOG_WARN;
	cr_expect_eq(ps_log_level_parse("verbose", &l, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "unknown log level \"verbose\" (expected debug, info, warn or error)");
	cr_expect_eq(l, PS_LOG_WARN);
	cr_expect_eq(ps_log_level_parse("", &l, NULL), PS_EINVAL);
	enum ps_log_format f = PS_LOG_JSON;
	cr_expect_eq(ps_log_format_parse("xml", &f, &d), PS_EINVAL);
	cr_expect_str_eq(d.msg, "unknown log format \"xml\" (expected text or json)");
	cr_expect_eq(f, PS_LOG_JSON);
}

Test(log, the_default_output_is_stderr, .init = cr_redirect_stderr)
{
	struct ps_clock c;
	ps_clock_virtual_init(&c, FIXED_MS);
	ps_log_set_clock(&c);
	ps_log(PS_LOG_ERROR, "to stderr", "k", "v", NULL);
	fflush(stderr);
	cr_expect_stderr_eq_str(TS " ERROR to stderr k=v\n");
}

Test(log, the_default_clock_is_the_real_wall_clock, .init = capture, .fini = release)
{
	ps_log_set_clock(NULL);
	int64_t before = ps_clock_wall_ms(ps_clock_real());
	ps_log(PS_LOG_INFO, "now", NULL);
	int64_t after = ps_clock_wall_ms(ps_clock_real());
	const char *got = captured();
	char ts[PS_RFC3339_MS_LEN + 1];
	memcpy(ts, got, PS_RFC3339_MS_LEN);
	ts[PS_RFC3339_MS_LEN] = '\0';
	int64_t at = 0;
	cr_assert_eq(ps_clock_parse_rfc3339(ts, &at, NULL), PS_OK, "%s", got);
	cr_expect_geq(at, before);
	cr_expect_leq(at, after);
	cr_expect_str_eq(got + PS_RFC3339_MS_LEN, " INFO  now\n");
}

#define THREADS 4
#define LINES 200

static char pad[301];

static void *log_lines(void *arg)
{
	int t = (int)(intptr_t)arg;
	char tid[16], seq[16];
	snprintf(tid, sizeof(tid), "%d", t);
	for (int i = 0; i < LINES; i++) {
		snprintf(seq, sizeof(seq), "%d", i);
		if (t % 2)
			ps_log(PS_LOG_INFO, "tick", "thread", tid, "seq", seq, "pad", pad, NULL);
		else
			PS_LOG_FIELDS(PS_LOG_INFO, "tick", PS_LOG_INT("thread", t),
				      PS_LOG_INT("seq", i), PS_LOG_STR("pad", pad));
	}
	return NULL;
}

/* Moves the settings under the loggers' feet without changing what they must print. */
static void *toggle_settings(void *arg)
{
	struct ps_clock *c = arg;
	for (int i = 0; i < LINES; i++) {
		ps_log_set_level(i % 2 ? PS_LOG_DEBUG : PS_LOG_INFO);
		ps_log_set_clock(c);
		(void)ps_log_enabled(PS_LOG_INFO);
	}
	return NULL;
}

/* Runs THREADS threads logging LINES lines each (plus one thread changing settings) into a
 * memory stream, then checks that every line is whole, in per-thread order and present once.
 * Returns NULL, or a description of the first problem in static storage. Plain C rather than
 * Criterion asserts, so the ThreadSanitizer build can run it without Criterion (see main). */
static const char *concurrent_scenario(void)
{
	static char problem[1200];
	struct ps_clock c;
	ps_clock_virtual_init(&c, FIXED_MS);
	ps_log_set_clock(&c);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return "open_memstream failed";
	ps_log_set_output(f);
	memset(pad, 'p', 300);
	pthread_t th[THREADS + 1];
	for (int t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, log_lines, (void *)(intptr_t)t) != 0)
			return "pthread_create failed";
	if (pthread_create(&th[THREADS], NULL, toggle_settings, &c) != 0)
		return "pthread_create failed";
	for (int t = 0; t <= THREADS; t++)
		if (pthread_join(th[t], NULL) != 0)
			return "pthread_join failed";
	ps_log_set_output(NULL);
	if (fclose(f) != 0)
		return "fclose failed";
	const char *result = NULL;
	int next[THREADS] = {0};
	int lines = 0;
	for (const char *p = buf; *p && !result;) {
		const char *nl = strchr(p, '\n');
		char line[1024];
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		int t = -1, i = -1, off = 0;
		if (!nl)
			result = "last line not terminated";
		else if (n >= sizeof(line) ||
			 sscanf(line, TS " INFO  tick thread=%d seq=%d pad=%n", &t, &i, &off) != 2 ||
			 off == 0 || t < 0 || t >= THREADS || strcmp(line + off, pad) != 0)
			result = "mangled line";
		else if (i != next[t])
			result = "a thread's lines are out of order";
		if (result) {
			snprintf(problem, sizeof(problem), "%s: %s", result, line);
			result = problem;
			break;
		}
		next[t]++;
		lines++;
		p = nl + 1;
	}
	if (!result && lines != THREADS * LINES) {
		snprintf(problem, sizeof(problem), "%d lines, want %d", lines, THREADS * LINES);
		result = problem;
	}
	if (!result && ps_log_dropped() != 0)
		result = "lines were dropped";
	free(buf);
	return result;
}

Test(log, concurrent_threads_never_interleave_lines)
{
	const char *problem = concurrent_scenario();
	cr_expect_null(problem, "%s", problem ? problem : "");
}

/* Criterion 2.4's sandbox cannot start under ThreadSanitizer: its shared arena must be mapped in
 * an address range TSan reserves for itself ("Could not initialize inheritable arena",
 * Snaipe/Criterion#274). The TSan build therefore runs the threaded scenario from a plain main,
 * which overrides Criterion's; the other tests here are single-threaded. */

#ifdef PS_TEST_TSAN
int main(void)
{
	const char *problem = concurrent_scenario();
	if (problem) {
		fprintf(stderr, "test_log (tsan): concurrent_threads_never_interleave_lines: %s\n",
			problem);
		return 1;
	}
	printf("test_log (tsan): concurrent_threads_never_interleave_lines passed\n");
	return 0;
}
#endif
