// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The udmcrypt engine alone, through the public API only. It maps a crypt
 * table over an image file (or over a blockdev that does no I/O) with
 * udm_device_open. Then THREADS threads call udm_device_pwrite or
 * udm_device_pread with CHUNK-byte buffers, each on its own range of the
 * device, until the time is up. The output is one number: MB/s (10^6 bytes
 * per second) over all threads.
 *
 * Usage: engine [options]
 *   --image PATH     backing file (it must exist and hold --size bytes)
 *   --no-backing     a blockdev whose reads and writes do nothing, to time
 *                    the library and the cipher without the backing copies
 *   --size BYTES     mapped size (default: the image's size)
 *   --cipher aes|null   aes-xts-plain64 with a random 512-bit key, or
 *                    cipher_null-ecb (default aes)
 *   --sector N       encryption sector size, 512 to 4096 (default 4096)
 *   --threads N      (default 1)
 *   --op read|write  (default write)
 *   --chunk BYTES    bytes per call (default 1 MiB)
 *   --seconds S      time per measurement (default 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "udmcrypt.h"

#define NO_BACKING_NAME "bench-no-backing"
#define MAX_THREADS 64

struct options {
	const char *image;
	bool no_backing;
	uint64_t size;
	const char *cipher;
	unsigned sector;
	unsigned threads;
	bool write;
	size_t chunk;
	double seconds;
};

struct worker {
	pthread_t thread;
	struct udm_device *dev;
	const struct options *opts;
	pthread_barrier_t *barrier;
	uint64_t begin, end;	/* byte range of this thread */
	double start, stop;
	uint64_t bytes;
	int error;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: engine (--image PATH | --no-backing --size BYTES) [--size BYTES] "
		"[--cipher aes|null] [--sector N] [--threads N] [--op read|write] "
		"[--chunk BYTES] [--seconds S]\n");
	exit(2);
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		usage();
	return v;
}

/* The blockdev of --no-backing: reads leave the buffer as it is, and writes
 * store nothing. */
static int nb_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	(void)ctx, (void)buf, (void)len, (void)off;
	return 0;
}

static int nb_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	(void)ctx, (void)buf, (void)len, (void)off;
	return 0;
}

static int nb_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

static int nb_get_size(void *ctx, uint64_t *bytes)
{
	*bytes = *(const uint64_t *)ctx;
	return 0;
}

static const struct udm_blockdev_ops nb_ops = {
	.pread = nb_pread,
	.pwrite = nb_pwrite,
	.flush = nb_flush,
	.get_size = nb_get_size,
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct options *o = w->opts;
	double deadline;
	uint8_t *buf;
	uint64_t pos = w->begin;

	if (posix_memalign((void **)&buf, 4096, o->chunk)) {
		w->error = -ENOMEM;
		pthread_barrier_wait(w->barrier);
		return NULL;
	}
	for (size_t i = 0; i < o->chunk; i++)
		buf[i] = (uint8_t)(i * 31 + 1);

	pthread_barrier_wait(w->barrier);
	w->start = now();
	deadline = w->start + o->seconds;
	do {
		int r = o->write ? udm_device_pwrite(w->dev, buf, o->chunk, pos)
				 : udm_device_pread(w->dev, buf, o->chunk, pos);

		if (r) {
			w->error = r;
			break;
		}
		w->bytes += o->chunk;
		pos += o->chunk;
		if (pos + o->chunk > w->end)
			pos = w->begin;
		/* Read the clock every 8 calls: it is cheap, but not free. */
	} while ((w->bytes / o->chunk) % 8 || now() < deadline);
	w->stop = now();
	free(buf);
	return NULL;
}

static char *build_table(const struct options *o, const char *device)
{
	uint8_t key[64];
	size_t size = 512;
	char *table = udm_secure_alloc(size);
	int n;

	if (!table)
		return NULL;
	if (strcmp(o->cipher, "null") == 0) {
		n = snprintf(table, size, "0 %" PRIu64 " crypt cipher_null-ecb - 0 %s 0\n",
			     o->size / 512, device);
	} else {
		char hex[2 * sizeof(key) + 1];

		if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
			udm_secure_free(table);
			return NULL;
		}
		for (size_t i = 0; i < sizeof(key); i++)
			sprintf(hex + 2 * i, "%02x", key[i]);
		n = snprintf(table, size, "0 %" PRIu64 " crypt aes-xts-plain64 %s 0 %s 0 1 "
			     "sector_size:%u\n", o->size / 512, hex, device, o->sector);
		memset(hex, 0, sizeof(hex));
		memset(key, 0, sizeof(key));
	}
	if (n < 0 || (size_t)n >= size) {
		udm_secure_free(table);
		return NULL;
	}
	return table;
}

int main(int argc, char **argv)
{
	struct options o = { .cipher = "aes", .sector = 4096, .threads = 1, .write = true,
			     .chunk = 1u << 20, .seconds = 1.0 };
	struct worker workers[MAX_THREADS] = { 0 };
	struct udm_blockdev nb = { NO_BACKING_NAME, &nb_ops, &o.size };
	struct udm_device *dev = NULL;
	struct udm_error err = { { 0 } };
	pthread_barrier_t barrier;
	uint64_t per_thread, total = 0;
	double first = 0, last = 0;
	char *table;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--no-backing") == 0) {
			o.no_backing = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--image") == 0)
			o.image = v;
		else if (strcmp(a, "--size") == 0)
			o.size = parse_u64(v);
		else if (strcmp(a, "--cipher") == 0)
			o.cipher = v;
		else if (strcmp(a, "--sector") == 0)
			o.sector = (unsigned)parse_u64(v);
		else if (strcmp(a, "--threads") == 0)
			o.threads = (unsigned)parse_u64(v);
		else if (strcmp(a, "--op") == 0)
			o.write = strcmp(v, "write") == 0;
		else if (strcmp(a, "--chunk") == 0)
			o.chunk = (size_t)parse_u64(v);
		else if (strcmp(a, "--seconds") == 0)
			o.seconds = atof(v);
		else
			usage();
	}
	if (!o.image == !o.no_backing || o.threads < 1 || o.threads > MAX_THREADS ||
	    (strcmp(o.cipher, "aes") && strcmp(o.cipher, "null")) || o.chunk < o.sector ||
	    o.chunk % o.sector || o.seconds <= 0)
		usage();
	if (!o.size && o.image) {
		struct stat st;

		if (stat(o.image, &st)) {
			perror(o.image);
			return 1;
		}
		o.size = (uint64_t)st.st_size;
	}
	per_thread = o.size / o.threads / o.chunk * o.chunk;
	if (per_thread < o.chunk) {
		fprintf(stderr, "engine: %" PRIu64 " bytes are too few for %u threads of "
			"%zu-byte calls\n", o.size, o.threads, o.chunk);
		return 1;
	}

	table = build_table(&o, o.no_backing ? NO_BACKING_NAME : o.image);
	if (!table) {
		fprintf(stderr, "engine: building the table failed (no secure memory or no "
			"random bytes)\n");
		return 1;
	}
	r = o.no_backing ? udm_device_open_with(&dev, table, 0, &nb, 1, &err)
			 : udm_device_open(&dev, table, 0, &err);
	udm_secure_free(table);
	if (r) {
		fprintf(stderr, "engine: udm_device_open: %s (%s)\n", err.msg, strerror(-r));
		return 1;
	}

	pthread_barrier_init(&barrier, NULL, o.threads);
	for (unsigned t = 0; t < o.threads; t++) {
		workers[t] = (struct worker){ .dev = dev, .opts = &o, .barrier = &barrier,
					      .begin = t * per_thread,
					      .end = (t + 1) * per_thread };
		if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t])) {
			fprintf(stderr, "engine: pthread_create for thread %u failed\n", t);
			return 1;
		}
	}
	for (unsigned t = 0; t < o.threads; t++) {
		struct worker *w = &workers[t];

		pthread_join(w->thread, NULL);
		if (w->error) {
			fprintf(stderr, "engine: thread %u: %s\n", t, strerror(-w->error));
			return 1;
		}
		total += w->bytes;
		if (t == 0 || w->start < first)
			first = w->start;
		if (w->stop > last)
			last = w->stop;
	}
	pthread_barrier_destroy(&barrier);
	udm_device_close(dev);
	printf("%.1f\n", (double)total / (last - first) / 1e6);
	return 0;
}
