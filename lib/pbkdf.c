// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PBKDF2 through OpenSSL's PKCS5_PBKDF2_HMAC (with libgcrypt for hashes
 * OpenSSL 3 keeps in its legacy provider, such as Whirlpool), Argon2 through
 * libargon2, and a benchmark that scales the cost to a target time.
 */
#include <argon2.h>
#include <errno.h>
#include <gcrypt.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "hash.h"
#include "log.h"
#include "pbkdf.h"
#include "secmem.h"

static bool is_argon2(const struct udm_pbkdf *pbkdf, argon2_type *type)
{
	if (!strcmp(pbkdf->type, "argon2i")) {
		*type = Argon2_i;
		return true;
	}
	if (!strcmp(pbkdf->type, "argon2id")) {
		*type = Argon2_id;
		return true;
	}
	return false;
}

/* Maps kernel hash names to libgcrypt for PBKDF2 when OpenSSL lacks them. */
static int gcrypt_md_of(const char *hash)
{
	static const struct {
		const char *name;
		int algo;
	} names[] = {
		{ "sha1", GCRY_MD_SHA1 }, { "sha224", GCRY_MD_SHA224 },
		{ "sha256", GCRY_MD_SHA256 }, { "sha384", GCRY_MD_SHA384 },
		{ "sha512", GCRY_MD_SHA512 }, { "ripemd160", GCRY_MD_RMD160 },
		{ "rmd160", GCRY_MD_RMD160 }, { "whirlpool", GCRY_MD_WHIRLPOOL },
		{ "wp512", GCRY_MD_WHIRLPOOL }, { "md5", GCRY_MD_MD5 },
		{ "sm3", GCRY_MD_SM3 }, { "stribog512", GCRY_MD_STRIBOG512 },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].name, hash))
			return names[i].algo;
	return 0;
}

static const char *openssl_md_of(const char *hash)
{
	if (!strcmp(hash, "ripemd160") || !strcmp(hash, "rmd160"))
		return "RIPEMD160";
	return hash;
}

static int pbkdf2(const struct udm_pbkdf *pbkdf, const void *pass, size_t pass_len,
		  const uint8_t *salt, size_t salt_len, uint8_t *out, size_t out_len)
{
	EVP_MD *md = EVP_MD_fetch(NULL, openssl_md_of(pbkdf->hash), NULL);
	int algo;

	if (md) {
		int ok = PKCS5_PBKDF2_HMAC(pass, (int)pass_len, salt, (int)salt_len,
					   (int)pbkdf->iterations, md, (int)out_len, out);

		EVP_MD_free(md);
		return ok == 1 ? 0 : -EIO;
	}
	algo = gcrypt_md_of(pbkdf->hash);
	if (!algo)
		return -EINVAL;
	udm_gcrypt_init();
	return gcry_kdf_derive(pass, pass_len, GCRY_KDF_PBKDF2, algo, salt, salt_len,
			       pbkdf->iterations, out_len, out) ? -EIO : 0;
}

static struct udm_pbkdf_limits limits = {
	.max_iterations = UINT32_MAX,
	.max_time = UINT32_MAX,
	.max_memory_kb = UDM_ARGON2_MAX_MEMORY_KB,
};

void udm_pbkdf_set_limits(const struct udm_pbkdf_limits *new_limits)
{
	limits = *new_limits;
}

int udm_pbkdf_check_limits(const struct udm_pbkdf *pbkdf, const char *what,
			   struct udm_error *err)
{
	argon2_type type;

	if (!is_argon2(pbkdf, &type)) {
		if (pbkdf->iterations > limits.max_iterations) {
			udm_error_set(err, "%s: PBKDF2 iteration count %" PRIu32 " is above the "
				      "limit of %" PRIu32, what, pbkdf->iterations, limits.max_iterations);
			return -E2BIG;
		}
		return 0;
	}
	if (pbkdf->iterations > limits.max_time) {
		udm_error_set(err, "%s: Argon2 time cost %" PRIu32 " is above the limit of %"
			      PRIu32, what, pbkdf->iterations, limits.max_time);
		return -E2BIG;
	}
	if (pbkdf->memory_kb > limits.max_memory_kb) {
		udm_error_set(err, "%s: Argon2 memory cost %" PRIu32 " KiB is above the limit "
			      "of %" PRIu32 " KiB", what, pbkdf->memory_kb, limits.max_memory_kb);
		return -E2BIG;
	}
	return 0;
}

/*
 * Runs Argon2 with one lane per unit of parallel cost but at most
 * UDM_ARGON2_MAX_PARALLEL threads: the result depends on the lanes only,
 * and a header asking for thousands of lanes must not start a thread each.
 */
static int argon2(argon2_type type, const struct udm_pbkdf *pbkdf, const void *pass,
		  size_t pass_len, const uint8_t *salt, size_t salt_len, uint8_t *out,
		  size_t out_len)
{
	argon2_context ctx = {
		.out = out,
		.outlen = (uint32_t)out_len,
		.pwd = (uint8_t *)(uintptr_t)pass,
		.pwdlen = (uint32_t)pass_len,
		.salt = (uint8_t *)(uintptr_t)salt,
		.saltlen = (uint32_t)salt_len,
		.t_cost = pbkdf->iterations,
		.m_cost = pbkdf->memory_kb,
		.lanes = pbkdf->parallel,
		.threads = pbkdf->parallel < UDM_ARGON2_MAX_PARALLEL ? pbkdf->parallel :
								     UDM_ARGON2_MAX_PARALLEL,
		.version = ARGON2_VERSION_13,
		.flags = ARGON2_DEFAULT_FLAGS,
	};
	int r;

	if (pass_len > UINT32_MAX || salt_len > UINT32_MAX || out_len > UINT32_MAX)
		return -EINVAL;
	r = argon2_ctx(&ctx, type);
	if (r == ARGON2_MEMORY_ALLOCATION_ERROR)
		return -ENOMEM;
	if (r != ARGON2_OK) {
		log_debug("argon2 failed: %s", argon2_error_message(r));
		return -EINVAL;
	}
	return 0;
}

int udm_pbkdf_derive(const struct udm_pbkdf *pbkdf, const void *pass, size_t pass_len,
		     const uint8_t *salt, size_t salt_len, uint8_t *out, size_t out_len)
{
	argon2_type type;

	if (udm_pbkdf_check_limits(pbkdf, "PBKDF", NULL))
		return -E2BIG;
	if (!is_argon2(pbkdf, &type)) {
		if (strcmp(pbkdf->type, "pbkdf2") || !pbkdf->iterations)
			return -EINVAL;
		return pbkdf2(pbkdf, pass, pass_len, salt, salt_len, out, out_len);
	}
	if (!pbkdf->iterations || !pbkdf->parallel || pbkdf->memory_kb < 8ULL * pbkdf->parallel)
		return -EINVAL;
	return argon2(type, pbkdf, pass, pass_len, salt, salt_len, out, out_len);
}

int udm_pbkdf_check(const struct udm_pbkdf *pbkdf, struct udm_error *err)
{
	argon2_type type;
	uint8_t digest[UDM_MAX_DIGEST];

	if (is_argon2(pbkdf, &type)) {
		if (pbkdf->memory_kb < UDM_ARGON2_MIN_MEMORY_KB ||
		    pbkdf->memory_kb > UDM_ARGON2_MAX_MEMORY_KB)
			return udm_error_set(err, "invalid PBKDF memory cost %u KiB: accepted are %d "
					     "to %d KiB", pbkdf->memory_kb,
					     UDM_ARGON2_MIN_MEMORY_KB, UDM_ARGON2_MAX_MEMORY_KB);
		if (pbkdf->parallel < 1 || pbkdf->parallel > UDM_ARGON2_MAX_PARALLEL)
			return udm_error_set(err, "invalid PBKDF parallel cost %u: accepted are 1 to "
					     "%d", pbkdf->parallel, UDM_ARGON2_MAX_PARALLEL);
		if (pbkdf->iterations < UDM_ARGON2_MIN_TIME)
			return udm_error_set(err, "invalid Argon2 time cost %u: the minimum is %d",
					     pbkdf->iterations, UDM_ARGON2_MIN_TIME);
		return 0;
	}
	if (strcmp(pbkdf->type, "pbkdf2"))
		return udm_error_set(err, "unknown PBKDF '%s': accepted are pbkdf2, argon2i and "
				     "argon2id", pbkdf->type);
	if (udm_hash(pbkdf->hash, "", 0, digest) < 0 && !gcrypt_md_of(pbkdf->hash))
		return udm_error_set(err, "unknown hash '%s' for pbkdf2: accepted are sha1, sha256, "
				     "sha512, ripemd160, whirlpool and others", pbkdf->hash);
	if (pbkdf->iterations < UDM_PBKDF2_MIN_ITERATIONS)
		return udm_error_set(err, "invalid PBKDF2 iteration count %u: the minimum is %d",
				     pbkdf->iterations, UDM_PBKDF2_MIN_ITERATIONS);
	return 0;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* Times one derivation with the given costs, in milliseconds. */
static int time_derivation(const struct udm_pbkdf *pbkdf, size_t key_len, double *ms)
{
	static const uint8_t salt[32] = { 0 };
	uint8_t out[512];
	struct timespec start;
	int r;

	if (key_len > sizeof(out))
		key_len = sizeof(out);
	clock_gettime(CLOCK_MONOTONIC, &start);
	r = udm_pbkdf_derive(pbkdf, "benchmark", 9, salt, sizeof(salt), out, key_len);
	*ms = elapsed_ms(&start);
	udm_wipe(out, sizeof(out));
	return r;
}

static int benchmark_pbkdf2(struct udm_pbkdf *pbkdf, unsigned iter_time_ms, size_t key_len)
{
	double ms = 0;
	uint64_t iterations;
	int r;

	/* Grow the sample until it is long enough to time. */
	for (pbkdf->iterations = 1 << 14; ; pbkdf->iterations *= 4) {
		r = time_derivation(pbkdf, key_len, &ms);
		if (r || ms > 100 || pbkdf->iterations >= 1u << 28)
			break;
	}
	if (r)
		return r;
	iterations = (uint64_t)((double)pbkdf->iterations * iter_time_ms / (ms > 0 ? ms : 1));
	if (iterations < UDM_PBKDF2_MIN_ITERATIONS)
		iterations = UDM_PBKDF2_MIN_ITERATIONS;
	if (iterations > UINT32_MAX)
		iterations = UINT32_MAX;
	pbkdf->iterations = (uint32_t)iterations;
	return 0;
}

static int benchmark_argon2(struct udm_pbkdf *pbkdf, unsigned iter_time_ms, size_t key_len)
{
	double ms = 0;
	int r;

	pbkdf->iterations = UDM_ARGON2_MIN_TIME;
	for (;;) {
		r = time_derivation(pbkdf, key_len, &ms);
		if (r)
			return r;
		if (ms <= iter_time_ms || pbkdf->memory_kb <= UDM_ARGON2_MIN_MEMORY_KB)
			break;
		/* Too slow at the minimum time cost: scale the memory down. */
		uint64_t memory = (uint64_t)((double)pbkdf->memory_kb * iter_time_ms / ms);

		pbkdf->memory_kb = memory < UDM_ARGON2_MIN_MEMORY_KB ? UDM_ARGON2_MIN_MEMORY_KB :
								     (uint32_t)memory;
	}
	if (ms < iter_time_ms) {
		double scaled = (double)pbkdf->iterations * iter_time_ms / (ms > 0 ? ms : 1);

		pbkdf->iterations = scaled > UINT32_MAX ? UINT32_MAX : (uint32_t)scaled;
		if (pbkdf->iterations < UDM_ARGON2_MIN_TIME)
			pbkdf->iterations = UDM_ARGON2_MIN_TIME;
	}
	return 0;
}

int udm_pbkdf_benchmark(struct udm_pbkdf *pbkdf, unsigned iter_time_ms, size_t key_len)
{
	argon2_type type;

	if (!iter_time_ms)
		return -EINVAL;
	if (is_argon2(pbkdf, &type))
		return benchmark_argon2(pbkdf, iter_time_ms, key_len);
	if (strcmp(pbkdf->type, "pbkdf2"))
		return -EINVAL;
	return benchmark_pbkdf2(pbkdf, iter_time_ms, key_len);
}
