/* bench_sim.c -- how fast `prescale simulate` runs: ticks per second for a month of one-minute
 * data (the generated diurnal workload, and any traces given as arguments). Prints figures;
 * asserts nothing about time. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "workload.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(const struct trace *tr, const char *name)
{
	double mean = 0;
	for (size_t i = 0; i < tr->n; i++)
		mean += tr->value[i];
	mean /= (double)tr->n;
	struct sim_target t;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "bench");
	t.spec.has_min_replicas = true;
	t.spec.min_replicas = 1;
	t.spec.max_replicas = 10000;
	t.spec.has_behavior = true;
	eng_behavior_default(&t.spec.behavior);
	eng_params_default(&t.params);
	fc_config_default(&t.forecast);
	t.target = mean / 10;
	struct sim_params p;
	sim_params_default(&p);
	for (int pol = -1; pol < SIM_NPOLICIES; pol++) {
		for (int i = 0; i < SIM_NPOLICIES; i++)
			p.policies[i] = pol < 0 || i == pol;
		struct sim_result r;
		struct ps_diag d;
		double t0 = now_s();
		if (sim_run(tr, &t, &p, &r, &d)) {
			fprintf(stderr, "bench_sim: %s: %s\n", name, d.msg);
			return 1;
		}
		double dt = now_s() - t0;
		printf("%-34s %-10s %8zu ticks %7.3f s %12.0f ticks/s\n", name,
		       pol < 0 ? "all" : sim_policy_name((enum sim_policy)pol), r.n_steps, dt,
		       (double)r.n_steps / dt);
		sim_result_release(&r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct workload_params wp = workload_params_default();
	wp.duration_ms = 30LL * 86400000; /* a month of one-minute samples */
	struct trace tr;
	struct ps_diag d;
	if (workload_diurnal(&wp, &tr, &d)) {
		fprintf(stderr, "bench_sim: %s\n", d.msg);
		return 1;
	}
	int rc = bench(&tr, "diurnal, 30 days, 1-min samples");
	trace_release(&tr);
	for (int i = 1; i < argc && !rc; i++) {
		if (trace_load(argv[i], &tr, &d)) {
			fprintf(stderr, "bench_sim: %s\n", d.msg);
			return 1;
		}
		const char *base = strrchr(argv[i], '/');
		rc = bench(&tr, base ? base + 1 : argv[i]);
		trace_release(&tr);
	}
	return rc;
}
