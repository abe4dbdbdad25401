/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A process-wide pool of worker threads that helps callers run the parts of
 * a large job in parallel. The calling thread always runs parts too, so a
 * job completes even when every worker is busy or the pool has no threads.
 */
#ifndef UDM_WORKERS_H
#define UDM_WORKERS_H

#include <stdint.h>

/*
 * Runs fn(arg, i) for every part i in [0, n_parts), in the calling thread
 * and in up to n_parts - 1 workers, and returns when all parts have
 * finished. Workers help only while fewer callers than threads are inside
 * this function, so callers that already keep every CPU busy run their
 * parts alone. Returns 0, or the first negative value that fn returned;
 * the remaining parts still run.
 */
int udm_workers_run(unsigned n_parts, int (*fn)(void *arg, unsigned part), void *arg);

/* Number of threads that share a job, the caller included: the online CPUs,
 * or UDMCRYPT_THREADS (1 to 256) when set before the first job. */
unsigned udm_workers_threads(void);

/* Parts run by workers rather than by callers, since the process started. */
uint64_t udm_workers_parts_helped(void);

/* Worker threads of this process that have started running. */
unsigned udm_workers_started(void);

#endif
