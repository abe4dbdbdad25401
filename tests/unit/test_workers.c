// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of the worker pool and of conversions split over it. Every part
 * runs once, errors reach the caller, workers take parts, and a forked
 * child gets its own workers. A split conversion gives the same bytes as
 * one sector at a time, in place and into a separate buffer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypt.h"
#include "test.h"
#include "workers.h"

#define PARTS 1000
#define BIG (8u << 20)

struct count_job {
	atomic_uint runs[PARTS];
	unsigned fail_part;	/* PARTS for none */
};

static int count_part(void *arg, unsigned part)
{
	struct count_job *job = arg;

	atomic_fetch_add(&job->runs[part], 1);
	return part == job->fail_part ? -EIO : 0;
}

static void test_every_part_once(void)
{
	static struct count_job job;
	unsigned wrong = 0;
	int r;

	job.fail_part = PARTS;
	r = udm_workers_run(PARTS, count_part, &job);
	for (unsigned i = 0; i < PARTS; i++)
		wrong += atomic_load(&job.runs[i]) != 1;
	test_result("workers run every part once", !r && !wrong,
		    "returned %d, %u parts not run exactly once", r, wrong);

	memset(&job, 0, sizeof(job));
	job.fail_part = 17;
	r = udm_workers_run(PARTS, count_part, &job);
	wrong = 0;
	for (unsigned i = 0; i < PARTS; i++)
		wrong += atomic_load(&job.runs[i]) != 1;
	test_result("workers return a part's error", r == -EIO && !wrong,
		    "returned %d, %u parts not run exactly once", r, wrong);
	test_result("workers run an empty job", udm_workers_run(0, count_part, &job) == 0,
		    "an empty job failed");
}

/* A job whose parts, when the calling thread runs them, wait up to five
 * seconds for a worker to run a part: the caller alone could otherwise
 * finish the job on a busy machine before any worker is scheduled. */
struct wait_job {
	pthread_t caller;
	atomic_bool worker_ran;
};

static int wait_part(void *arg, unsigned part)
{
	struct wait_job *job = arg;

	if (!pthread_equal(pthread_self(), job->caller)) {
		atomic_store(&job->worker_ran, true);
		return 0;
	}
	for (int i = 0; i < 5000 && !atomic_load(&job->worker_ran); i++)
		usleep(1000);
	return 0;
}

static bool workers_help(void)
{
	struct wait_job job = { .caller = pthread_self() };
	uint64_t before = udm_workers_parts_helped();

	udm_workers_run(8, wait_part, &job);
	return atomic_load(&job.worker_ran) && udm_workers_parts_helped() > before;
}

/* Parts that only record whether a worker ran one; the caller's parts
 * take 20 ms each, which gives a woken worker time to join. */
static int slow_part(void *arg, unsigned part)
{
	struct wait_job *job = arg;

	if (!pthread_equal(pthread_self(), job->caller))
		atomic_store(&job->worker_ran, true);
	else
		usleep(20000);
	return 0;
}

struct blocker {
	atomic_uint entered;
	atomic_bool release;
};

static int block_part(void *arg, unsigned part)
{
	struct blocker *b = arg;

	atomic_fetch_add(&b->entered, 1);
	while (!atomic_load(&b->release))
		usleep(1000);
	return 0;
}

static void *run_blocker(void *arg)
{
	udm_workers_run(1, block_part, arg);
	return NULL;
}

/* With UDMCRYPT_THREADS=4 and three callers blocked inside the pool, a
 * fourth caller's job gets no help: every thread is already a caller's. */
static void test_busy_callers_get_no_help(void)
{
	struct blocker b = { 0 };
	struct wait_job job = { .caller = pthread_self() };
	pthread_t threads[3];
	int started = 0;

	for (int i = 0; i < 3; i++)
		started += !pthread_create(&threads[i], NULL, run_blocker, &b);
	for (int i = 0; i < 5000 && atomic_load(&b.entered) < 3; i++)
		usleep(1000);
	udm_workers_run(8, slow_part, &job);
	atomic_store(&b.release, true);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	test_result("busy callers get no help", started == 3 && atomic_load(&b.entered) == 3 &&
		    !atomic_load(&job.worker_ran), "%d blockers entered, worker ran: %d",
		    (int)atomic_load(&b.entered), (int)atomic_load(&job.worker_ran));
}

/* Parts that wait, up to five seconds, until every thread of the pool has
 * entered one. */
struct barrier_job {
	unsigned threads;
	atomic_uint entered;
};

static int barrier_part(void *arg, unsigned part)
{
	struct barrier_job *job = arg;

	atomic_fetch_add(&job->entered, 1);
	for (int i = 0; i < 5000 && atomic_load(&job->entered) < job->threads; i++)
		usleep(1000);
	return 0;
}

static int empty_part(void *arg, unsigned part)
{
	return 0;
}

/* The first job of a process returns only after its new workers run. A
 * fork right after it, as the command does before its FUSE daemon, then
 * finds no thread half-started. */
static void test_first_job_waits_for_workers(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		udm_workers_run(2, empty_part, NULL);
		_exit(udm_workers_started() == udm_workers_threads() - 1 ? 0 : 1);
	}
	test_result("first job waits for workers", pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "a worker had not started when the first job returned");
}

static void test_workers_help(void)
{
	struct barrier_job all = { .threads = udm_workers_threads() };
	pid_t pid;
	int status;

	test_result("workers take parts", workers_help(), "no worker took a part in 5 s");
	udm_workers_run(all.threads, barrier_part, &all);
	test_result("every worker joins a job", atomic_load(&all.entered) == all.threads,
		    "%u of %u threads ran a part", (unsigned)atomic_load(&all.entered),
		    all.threads);

	/* The child of a fork has no workers until it starts its own. */
	pid = fork();
	if (pid == 0)
		_exit(workers_help() ? 0 : 1);
	test_result("forked child gets workers", pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "the child's jobs got no help from workers");
}

static struct udm_crypt *make_crypt(const char *cipher, const char *key, unsigned sector_size)
{
	char option[32];
	const char *options[] = { option, "iv_large_sectors" };
	struct udm_crypt_args args = {
		.cipher = cipher, .key = key, .iv_offset = 3 * (sector_size / 512),
		.length = BIG / 512 + 1024,
		.options = options, .n_options = sector_size == 512 ? 0 : 2,
	};
	struct udm_crypt *cc = NULL;
	struct udm_error err = { 0 };

	snprintf(option, sizeof(option), "sector_size:%u", sector_size);
	if (udm_crypt_new(&cc, &args, &err))
		printf("# %s: %s\n", cipher, err.msg);
	return cc;
}

/* Converts 8 MiB in one split call, in place and into another buffer, and
 * compares both with one call per sector. */
static void test_split_conversion(const char *cipher, const char *key, unsigned sector_size)
{
	struct udm_crypt *cc = make_crypt(cipher, key, sector_size);
	uint8_t *plain = malloc(BIG), *whole = malloc(BIG), *apart = malloc(BIG);
	uint64_t start = 100 * (sector_size / 512);
	char name[160];
	bool ok;

	snprintf(name, sizeof(name), "split %s, %u-byte sectors", cipher, sector_size);
	if (!cc || !plain || !whole || !apart) {
		test_result(name, false, "setup failed");
		goto out;
	}
	for (size_t i = 0; i < BIG; i++)
		plain[i] = (uint8_t)(i * 131 + i / 4096);

	memcpy(apart, plain, BIG);
	ok = true;
	for (size_t off = 0; off < BIG && ok; off += sector_size)
		ok = !udm_crypt_convert(cc, start + off / 512, apart + off, sector_size, true);
	ok = ok && !udm_crypt_convert_to(cc, start, plain, whole, BIG, true);
	test_result(name, ok && !memcmp(whole, apart, BIG),
		    "split encryption differs from one sector at a time");

	snprintf(name, sizeof(name), "split %s, %u-byte sectors, in place", cipher, sector_size);
	ok = !udm_crypt_convert(cc, start, whole, BIG, false);
	test_result(name, ok && !memcmp(whole, plain, BIG), "split decryption differs");

out:
	udm_crypt_free(cc);
	free(plain);
	free(whole);
	free(apart);
}

/* A conversion long enough that a worker is scheduled before it ends,
 * even on a loaded machine: serpent in CBC mode, which libgcrypt encrypts
 * more slowly than AES-XTS, over 8 MiB, tried up to 20 times. */
static void test_conversion_uses_workers(const char *key)
{
	struct udm_crypt *cc = make_crypt("serpent-cbc-essiv:sha256", key + 64, 512);
	uint8_t *buf = calloc(1, BIG);
	uint64_t before = udm_workers_parts_helped();

	for (int i = 0; i < 20 && cc && buf && udm_workers_parts_helped() == before; i++)
		udm_crypt_convert(cc, 0, buf, BIG, true);
	test_result("split conversion uses workers", udm_workers_parts_helped() > before,
		    "no worker took a part of 20 conversions of 8 MiB");
	udm_crypt_free(cc);
	free(buf);
}

int main(void)
{
	const char *key64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
			    "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

	/* Workers even where the machine has one CPU. */
	setenv("UDMCRYPT_THREADS", "4", 1);
	test_result("threads from UDMCRYPT_THREADS", udm_workers_threads() == 4,
		    "got %u threads", udm_workers_threads());
	test_every_part_once();
	test_workers_help();
	test_first_job_waits_for_workers();
	test_busy_callers_get_no_help();

	test_split_conversion("aes-xts-plain64", key64, 4096);
	test_split_conversion("aes-xts-plain64", key64, 512);
	test_split_conversion("aes:2-cbc-essiv:sha256", key64, 512);
	/* lmk and elephant change the data around the cipher. */
	test_split_conversion("aes-cbc-lmk", key64 + 64, 512);
	test_split_conversion("aes-cbc-elephant", key64, 4096);
	test_conversion_uses_workers(key64);
	return test_failures ? 1 : 0;
}
