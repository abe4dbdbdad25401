// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The crypto ceiling for the udmcrypt benchmark: how fast one core runs
 * AES-256-XTS when it is called the way a sector engine calls it, one call
 * per encryption sector with that sector's plain64 IV, the key set once.
 *
 *   openssl  EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) and one
 *            EVP_CipherUpdate per sector
 *   gcrypt   gcry_cipher_setiv and gcry_cipher_encrypt/decrypt per sector
 *   openssl-bulk  one EVP_CipherUpdate over the whole 1 MiB buffer per IV:
 *            not sector-correct, shown only as the cipher's speed without
 *            per-sector calls
 *
 * The data is a 1 MiB buffer converted in place, pass after pass, until the
 * time is up. Output, one CSV line per cell:
 *   ceiling,LIBRARY,SECTOR_SIZE,encrypt|decrypt,MB/s   (MB = 10^6 bytes)
 *
 * Usage: ceiling [SECONDS_PER_CELL]   (default 1)
 */
#include <gcrypt.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define BUF_SIZE (1u << 20)

static uint8_t key[64];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *step)
{
	fprintf(stderr, "ceiling: %s failed\n", step);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* plain64: the little-endian 64-bit sector number, zero-padded to 16 bytes. */
static void plain64(uint8_t iv[16], uint64_t sector)
{
	memset(iv, 0, 16);
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(sector >> (8 * i));
}

struct cell {
	const char *lib;
	unsigned sector;
	int encrypt;
};

/* One pass over buf; returns bytes converted. */
typedef size_t (*pass_fn)(void *state, uint8_t *buf, const struct cell *c, uint64_t *sector);

static size_t pass_openssl(void *state, uint8_t *buf, const struct cell *c, uint64_t *sector)
{
	EVP_CIPHER_CTX *ctx = state;
	uint8_t iv[16];
	int outl;

	for (size_t off = 0; off < BUF_SIZE; off += c->sector) {
		plain64(iv, (*sector)++);
		if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) != 1)
			die("EVP_CipherInit_ex2 (IV)");
		if (EVP_CipherUpdate(ctx, buf + off, &outl, buf + off, (int)c->sector) != 1)
			die("EVP_CipherUpdate");
	}
	return BUF_SIZE;
}

static size_t pass_openssl_bulk(void *state, uint8_t *buf, const struct cell *c,
				uint64_t *sector)
{
	EVP_CIPHER_CTX *ctx = state;
	uint8_t iv[16];
	int outl;

	(void)c;
	plain64(iv, (*sector)++);
	if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) != 1)
		die("EVP_CipherInit_ex2 (IV)");
	if (EVP_CipherUpdate(ctx, buf, &outl, buf, (int)BUF_SIZE) != 1)
		die("EVP_CipherUpdate");
	return BUF_SIZE;
}

static size_t pass_gcrypt(void *state, uint8_t *buf, const struct cell *c, uint64_t *sector)
{
	gcry_cipher_hd_t hd = state;
	uint8_t iv[16];

	for (size_t off = 0; off < BUF_SIZE; off += c->sector) {
		gcry_error_t e;

		plain64(iv, (*sector)++);
		e = gcry_cipher_setiv(hd, iv, sizeof(iv));
		if (!e)
			e = c->encrypt ? gcry_cipher_encrypt(hd, buf + off, c->sector, NULL, 0)
				       : gcry_cipher_decrypt(hd, buf + off, c->sector, NULL, 0);
		if (e) {
			fprintf(stderr, "ceiling: libgcrypt: %s\n", gcry_strerror(e));
			exit(1);
		}
	}
	return BUF_SIZE;
}

static double run_cell(const struct cell *c, uint8_t *buf, double seconds)
{
	EVP_CIPHER_CTX *ctx = NULL;
	EVP_CIPHER *evp = NULL;
	gcry_cipher_hd_t hd = NULL;
	void *state;
	pass_fn pass;
	uint64_t sector = 0, bytes = 0;
	double start, elapsed;

	if (strcmp(c->lib, "gcrypt") == 0) {
		if (gcry_cipher_open(&hd, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_XTS, 0) ||
		    gcry_cipher_setkey(hd, key, sizeof(key)))
			die("libgcrypt AES-256-XTS setup");
		state = hd;
		pass = pass_gcrypt;
	} else {
		evp = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
		ctx = EVP_CIPHER_CTX_new();
		if (!evp || !ctx || EVP_CipherInit_ex2(ctx, evp, key, NULL, c->encrypt, NULL) != 1)
			die("OpenSSL AES-256-XTS setup");
		EVP_CIPHER_CTX_set_padding(ctx, 0);
		state = ctx;
		pass = strcmp(c->lib, "openssl-bulk") == 0 ? pass_openssl_bulk : pass_openssl;
	}

	pass(state, buf, c, &sector);	/* warm-up, not timed */
	start = now();
	do {
		bytes += pass(state, buf, c, &sector);
		elapsed = now() - start;
	} while (elapsed < seconds);

	if (hd)
		gcry_cipher_close(hd);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(evp);
	return (double)bytes / elapsed / 1e6;
}

int main(int argc, char **argv)
{
	static const char *const libs[] = { "openssl", "gcrypt", "openssl-bulk" };
	static const unsigned sectors[] = { 512, 4096 };
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	uint8_t *buf;

	if (seconds <= 0) {
		fprintf(stderr, "usage: ceiling [SECONDS_PER_CELL]\n");
		return 2;
	}
	if (!gcry_check_version(NULL))
		die("gcry_check_version");
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		die("getrandom");
	if (posix_memalign((void **)&buf, 4096, BUF_SIZE))
		die("posix_memalign");
	for (size_t i = 0; i < BUF_SIZE; i++)
		buf[i] = (uint8_t)(i * 131 + 7);

	for (size_t l = 0; l < sizeof(libs) / sizeof(libs[0]); l++) {
		for (size_t s = 0; s < sizeof(sectors) / sizeof(sectors[0]); s++) {
			/* The bulk figure does not depend on the sector size. */
			if (l == 2 && s > 0)
				continue;
			for (int enc = 1; enc >= 0; enc--) {
				struct cell c = { libs[l], sectors[s], enc };

				printf("ceiling,%s,%u,%s,%.1f\n", c.lib, l == 2 ? BUF_SIZE : c.sector,
				       enc ? "encrypt" : "decrypt", run_cell(&c, buf, seconds));
				fflush(stdout);
			}
		}
	}
	memset(key, 0, sizeof(key));
	free(buf);
	return 0;
}
