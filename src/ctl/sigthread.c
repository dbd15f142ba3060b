/* sigthread.c -- the one thread that receives SIGTERM, SIGINT and SIGHUP.
 *
 * DESIGN
 * rt_signals_block() blocks the three signals in the calling thread (and ignores SIGPIPE, which
 * curl's sockets could raise); every thread created afterwards inherits the mask, so a signal
 * sent to the process stays pending until the signal thread takes it with sigtimedwait(). No
 * handler runs in signal context: the callbacks run on the signal thread as ordinary code.
 * The thread waits in slices of SIG_SLICE_MS so it sees <quit> (atomic, set by
 * rt_signals_stop) and the grace deadline promptly; that is its only shared state, and the
 * callbacks' own synchronisation is theirs. After the first SIGTERM/SIGINT it calls ops.stop;
 * a further one calls ops.exit_now(signo); when ops.grace_ms passes after the first without
 * rt_signals_stop() having been called, it calls ops.exit_now(0) once: the process-level
 * deadline of a graceful stop. SIGHUP calls ops.reload, except once a stop has begun.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "ps_alloc.h"
#include "rt_int.h"

#define SIG_SLICE_MS 100

struct rt_signals {
	struct rt_signal_ops ops; /* immutable */
	pthread_t thread;
	atomic_bool quit;
};

static void wanted(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

enum ps_err rt_signals_block(struct ps_diag *diag)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return ps_diag_set(diag, PS_EIO, "sigaction(SIGPIPE): %s", strerror(errno));
	sigset_t set;
	wanted(&set);
	int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc != 0)
		return ps_diag_set(diag, PS_EIO, "pthread_sigmask: %s", strerror(rc));
	return PS_OK;
}

static void *signal_main(void *p)
{
	struct rt_signals *s = p;
	sigset_t set;
	wanted(&set);
	bool stopping = false, deadline_fired = false;
	int64_t deadline = 0;
	while (!atomic_load(&s->quit)) {
		struct timespec slice = {.tv_sec = 0, .tv_nsec = SIG_SLICE_MS * 1000000L};
		int sig = sigtimedwait(&set, NULL, &slice);
		if (sig < 0) {
			/* EAGAIN: the slice ended; EINTR: a stop/continue or a debugger. */
			if (stopping && s->ops.grace_ms > 0 && !deadline_fired &&
			    rt_mono_ms() >= deadline) {
				deadline_fired = true;
				s->ops.exit_now(s->ops.arg, 0);
			}
			continue;
		}
		if (sig == SIGHUP) {
			if (!stopping)
				s->ops.reload(s->ops.arg);
		} else if (!stopping) {
			stopping = true;
			deadline = rt_mono_ms() + s->ops.grace_ms;
			s->ops.stop(s->ops.arg, sig);
		} else {
			s->ops.exit_now(s->ops.arg, sig);
		}
	}
	return NULL;
}

enum ps_err rt_signals_start(const struct rt_signal_ops *ops, struct rt_signals **out,
                             struct ps_diag *diag)
{
	*out = NULL;
	if (!ops || !ops->stop || !ops->exit_now || !ops->reload || ops->grace_ms < 0)
		return ps_diag_set(diag, PS_EINVAL,
		                   "rt_signals_start: stop, exit_now and reload are required");
	enum ps_err err = rt_signals_block(diag);
	if (err != PS_OK)
		return err;
	struct rt_signals *s = ps_calloc(1, sizeof(*s));
	if (!s)
		return ps_diag_set(diag, PS_ENOMEM, "rt_signals_start: out of memory");
	s->ops = *ops;
	atomic_init(&s->quit, false);
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);
	if (rc == 0) {
		/* The callbacks are small (set a flag, log a line): a worker's stack is plenty. */
		rc = pthread_attr_setstacksize(&attr, RT_STACK_SIZE);
		if (rc == 0)
			rc = pthread_create(&s->thread, &attr, signal_main, s);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		ps_free(s);
		return ps_diag_set(diag, PS_EIO, "cannot create the signal thread: %s",
		                   strerror(rc));
	}
	*out = s;
	return PS_OK;
}

void rt_signals_stop(struct rt_signals *s)
{
	if (!s)
		return;
	atomic_store(&s->quit, true);
	PS_ASSERT(pthread_join(s->thread, NULL) == 0);
	ps_free(s);
}
