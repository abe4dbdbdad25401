// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The worker pool. A job is a count of parts that threads claim one at a
 * time with an atomic counter. The caller queues its job, wakes workers
 * and claims parts itself. It returns only when every part is claimed and
 * no worker is still inside the job, so the job can live on the caller's
 * stack. Workers start at the first job, and again in a forked child,
 * which inherits none of them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "workers.h"

#define MAX_THREADS 256

struct job {
	int (*fn)(void *arg, unsigned part);
	void *arg;
	unsigned n_parts;
	atomic_uint next_part;
	atomic_int error;
	unsigned users;		/* workers inside the job, under pool.lock */
	struct job *next;	/* queue link, under pool.lock */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t queued;	/* a job was queued */
	pthread_cond_t left;	/* a worker left a job */
	pthread_cond_t started;	/* a worker reached worker_main */
	struct job *head;
	unsigned threads;	/* caller included; 0 until the first job */
	unsigned workers;	/* running worker threads */
	unsigned workers_started;	/* of them, those in worker_main */
	bool atfork_set;
	atomic_uint callers;	/* threads inside udm_workers_run */
	atomic_uint_fast64_t helped;
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.queued = PTHREAD_COND_INITIALIZER,
	.left = PTHREAD_COND_INITIALIZER,
	.started = PTHREAD_COND_INITIALIZER,
};

static void run_parts(struct job *job, bool worker)
{
	for (;;) {
		unsigned part = atomic_fetch_add(&job->next_part, 1);
		int r, expected = 0;

		if (part >= job->n_parts)
			return;
		r = job->fn(job->arg, part);
		if (r < 0)
			atomic_compare_exchange_strong(&job->error, &expected, r);
		if (worker)
			atomic_fetch_add(&pool.helped, 1);
	}
}

static void dequeue(struct job *job)
{
	for (struct job **p = &pool.head; *p; p = &(*p)->next) {
		if (*p == job) {
			*p = job->next;
			return;
		}
	}
}

static void *worker_main(void *unused)
{
	pthread_mutex_lock(&pool.lock);
	pool.workers_started++;
	pthread_cond_broadcast(&pool.started);
	for (;;) {
		struct job *job = pool.head;

		if (!job) {
			pthread_cond_wait(&pool.queued, &pool.lock);
			continue;
		}
		/* A job whose parts are all claimed needs no more help. */
		if (atomic_load(&job->next_part) >= job->n_parts) {
			dequeue(job);
			continue;
		}
		job->users++;
		pthread_mutex_unlock(&pool.lock);
		run_parts(job, true);
		pthread_mutex_lock(&pool.lock);
		if (--job->users == 0)
			pthread_cond_broadcast(&pool.left);
	}
	return NULL;
}

/* After fork the child has only the forking thread, which was not inside a
 * job, so the queue, the worker count and the caller count start again
 * from empty, whatever other threads of the parent were doing. */
static void reset_in_child(void)
{
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.queued, NULL);
	pthread_cond_init(&pool.left, NULL);
	pthread_cond_init(&pool.started, NULL);
	pool.head = NULL;
	pool.workers = 0;
	pool.workers_started = 0;
	atomic_store(&pool.callers, 0);
}

static unsigned configured_threads(void)
{
	const char *env = getenv("UDMCRYPT_THREADS");
	long n;

	if (env && *env) {
		char *end;

		n = strtol(env, &end, 10);
		if (*end || n < 1 || n > MAX_THREADS) {
			udm_log(UDM_LOG_WARN, "ignoring UDMCRYPT_THREADS=%s: expected 1 to %d",
				env, MAX_THREADS);
			n = 0;
		}
		if (n)
			return (unsigned)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/* Starts the workers, with pool.lock held, and waits until each runs
 * worker_main. Workers block every signal, so signals reach the threads the
 * program made. When a worker cannot be created, the pool stays smaller but
 * works.
 *
 * The wait keeps a fork soon after the first job safe under GCC 12's
 * AddressSanitizer, which does not take its allocator locks around fork.
 * A thread still in the sanitizer's start-up code at the fork could leave
 * them locked in the child, and every new thread of the child then hangs
 * (seen in gdb). The command forks its FUSE daemon right after an unlock. */
static void start_workers(void)
{
	sigset_t all, old;

	if (!pool.threads)
		pool.threads = configured_threads();
	if (!pool.atfork_set) {
		pthread_atfork(NULL, NULL, reset_in_child);
		pool.atfork_set = true;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (pool.workers + 1 < pool.threads) {
		pthread_t thread;
		pthread_attr_t attr;
		int r;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = pthread_create(&thread, &attr, worker_main, NULL);
		pthread_attr_destroy(&attr);
		if (r) {
			pool.threads = pool.workers + 1;
			break;
		}
		pool.workers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (pool.workers_started < pool.workers)
		pthread_cond_wait(&pool.started, &pool.lock);
}

unsigned udm_workers_threads(void)
{
	unsigned threads;

	pthread_mutex_lock(&pool.lock);
	if (!pool.threads)
		pool.threads = configured_threads();
	threads = pool.threads;
	pthread_mutex_unlock(&pool.lock);
	return threads;
}

uint64_t udm_workers_parts_helped(void)
{
	return atomic_load(&pool.helped);
}

unsigned udm_workers_started(void)
{
	unsigned started;

	pthread_mutex_lock(&pool.lock);
	started = pool.workers_started;
	pthread_mutex_unlock(&pool.lock);
	return started;
}

int udm_workers_run(unsigned n_parts, int (*fn)(void *arg, unsigned part), void *arg)
{
	struct job job = { .fn = fn, .arg = arg, .n_parts = n_parts };
	unsigned callers, idle, wake;

	if (!n_parts)
		return 0;
	callers = atomic_fetch_add(&pool.callers, 1) + 1;
	pthread_mutex_lock(&pool.lock);
	if (n_parts > 1 && pool.workers + 1 < (pool.threads ? pool.threads : 2))
		start_workers();
	/* Callers already keep that many CPUs busy, and more threads than
	 * CPUs would only take turns. */
	idle = pool.threads > callers ? pool.threads - callers : 0;
	wake = idle < pool.workers ? idle : pool.workers;
	wake = wake < n_parts - 1 ? wake : n_parts - 1;
	if (n_parts > 1 && wake) {
		job.next = pool.head;
		pool.head = &job;
		while (wake--)
			pthread_cond_signal(&pool.queued);
	}
	pthread_mutex_unlock(&pool.lock);

	run_parts(&job, false);

	pthread_mutex_lock(&pool.lock);
	dequeue(&job);
	while (job.users)
		pthread_cond_wait(&pool.left, &pool.lock);
	pthread_mutex_unlock(&pool.lock);
	atomic_fetch_sub(&pool.callers, 1);
	return atomic_load(&job.error);
}
