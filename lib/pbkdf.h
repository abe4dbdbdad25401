/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Password-based key derivation for LUKS: PBKDF2 (OpenSSL's libcrypto) and
 * Argon2i/Argon2id (libargon2), and the benchmark that sizes their cost for
 * a target unlock time, as cryptsetup's --iter-time does.
 */
#ifndef UDM_PBKDF_H
#define UDM_PBKDF_H

#include <stddef.h>
#include <stdint.h>

#include "udmcrypt.h"

#define UDM_PBKDF2_MIN_ITERATIONS 1000
#define UDM_ARGON2_MIN_TIME 4
#define UDM_ARGON2_MIN_MEMORY_KB 32
#define UDM_ARGON2_MAX_MEMORY_KB (4 * 1024 * 1024)
#define UDM_ARGON2_MAX_PARALLEL 4

struct udm_pbkdf {
	char type[16];		/* "pbkdf2", "argon2i" or "argon2id" */
	char hash[32];		/* PBKDF2's HMAC hash, kernel name ("sha256") */
	uint32_t iterations;	/* PBKDF2 iterations, or Argon2 time cost */
	uint32_t memory_kb;	/* Argon2 memory cost in KiB */
	uint32_t parallel;	/* Argon2 lanes and threads */
};

/*
 * Ceilings on the cost of one derivation, checked by udm_pbkdf_derive. The
 * defaults match what cryptsetup 2.6 opens: any PBKDF2 iteration count and
 * Argon2 time cost, and Argon2 memory up to UDM_ARGON2_MAX_MEMORY_KB.
 */
struct udm_pbkdf_limits {
	uint32_t max_iterations;	/* PBKDF2 iterations */
	uint32_t max_time;		/* Argon2 time cost */
	uint32_t max_memory_kb;		/* Argon2 memory cost in KiB */
};

/* Replaces the ceilings for the whole process. The fuzz harnesses lower
 * them so that a header asking for hours of PBKDF work fails at once. */
void udm_pbkdf_set_limits(const struct udm_pbkdf_limits *limits);

/* Derives out_len bytes from the passphrase and salt. Returns 0, -EINVAL for
 * an unknown type or hash or out-of-range costs, -E2BIG for costs above the
 * ceilings of udm_pbkdf_set_limits, -ENOMEM, or -EIO. */
int udm_pbkdf_derive(const struct udm_pbkdf *pbkdf, const void *pass, size_t pass_len,
		     const uint8_t *salt, size_t salt_len, uint8_t *out, size_t out_len);

/*
 * Sets the cost of pbkdf so that one derivation of key_len bytes takes
 * about iter_time_ms on this machine. PBKDF2 gets iterations (at least
 * UDM_PBKDF2_MIN_ITERATIONS). Argon2 keeps memory_kb and parallel as given
 * (the caller's maximums) and raises the time cost from UDM_ARGON2_MIN_TIME,
 * or lowers the memory when even that takes too long. Returns 0 or -errno.
 */
int udm_pbkdf_benchmark(struct udm_pbkdf *pbkdf, unsigned iter_time_ms, size_t key_len);

/* Returns 0 when every cost of pbkdf is within the ceilings, or -E2BIG
 * with err naming the cost, prefixed by what ("key slot 2"). */
int udm_pbkdf_check_limits(const struct udm_pbkdf *pbkdf, const char *what,
			   struct udm_error *err);

/* Checks type, hash and costs; fills err naming the field. */
int udm_pbkdf_check(const struct udm_pbkdf *pbkdf, struct udm_error *err);

#endif
