// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Message digests under the kernel's names: OpenSSL's libcrypto computes
 * those in its default provider, libgcrypt the rest (Whirlpool, which
 * OpenSSL 3 keeps in its legacy provider, and Streebog).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <gcrypt.h>
#include <openssl/evp.h>

#include "hash.h"

struct hash_name {
	const char *kernel;
	const char *openssl;
	int gcry;
	unsigned truncate;	/* digest bytes kept, 0 for all */
};

static const struct hash_name hash_names[] = {
	{ "md5", "MD5", GCRY_MD_MD5 },
	{ "sha1", "SHA1", GCRY_MD_SHA1 },
	{ "sha224", "SHA224", GCRY_MD_SHA224 },
	{ "sha256", "SHA256", GCRY_MD_SHA256 },
	{ "sha384", "SHA384", GCRY_MD_SHA384 },
	{ "sha512", "SHA512", GCRY_MD_SHA512 },
	{ "sha3-256", "SHA3-256", GCRY_MD_SHA3_256 },
	{ "sha3-512", "SHA3-512", GCRY_MD_SHA3_512 },
	{ "rmd160", "RIPEMD160", GCRY_MD_RMD160 },
	{ "ripemd160", "RIPEMD160", GCRY_MD_RMD160 },	/* cryptsetup's name */
	{ "wp512", NULL, GCRY_MD_WHIRLPOOL },
	{ "whirlpool", NULL, GCRY_MD_WHIRLPOOL },	/* cryptsetup's name */
	/* The kernel's wp384 and wp256 are Whirlpool cut to 48 and 32 bytes. */
	{ "wp384", NULL, GCRY_MD_WHIRLPOOL, 48 },
	{ "wp256", NULL, GCRY_MD_WHIRLPOOL, 32 },
	{ "sm3", "SM3", GCRY_MD_SM3 },
	{ "streebog256", NULL, GCRY_MD_STRIBOG256 },
	{ "streebog512", NULL, GCRY_MD_STRIBOG512 },
};

static pthread_once_t gcrypt_once = PTHREAD_ONCE_INIT;

static void gcrypt_init_once(void)
{
	gcry_check_version(GCRYPT_VERSION);
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

void udm_gcrypt_init(void)
{
	pthread_once(&gcrypt_once, gcrypt_init_once);
}

const char *udm_hash_names(void)
{
	return "md5, sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-512, rmd160 "
	       "(ripemd160), wp512 (whirlpool), wp384, wp256, sm3, streebog256, streebog512";
}

static int hash_openssl(const char *name, const void *data, size_t len, uint8_t *out)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	unsigned int outl = 0;
	int r;

	if (!md)
		return -ENOTSUP;
	r = EVP_Digest(data, len, out, &outl, md, NULL) == 1 ? (int)outl : -EIO;
	EVP_MD_free(md);
	return r;
}

int udm_hash(const char *name, const void *data, size_t len, uint8_t out[UDM_MAX_DIGEST])
{
	for (size_t i = 0; i < sizeof(hash_names) / sizeof(hash_names[0]); i++) {
		const struct hash_name *h = &hash_names[i];
		int r;

		if (strcmp(h->kernel, name))
			continue;
		if (h->openssl) {
			r = hash_openssl(h->openssl, data, len, out);
			if (r != -ENOTSUP)
				return r;
		}
		udm_gcrypt_init();
		gcry_md_hash_buffer(h->gcry, out, data, len);
		return h->truncate ? (int)h->truncate : (int)gcry_md_get_algo_dlen(h->gcry);
	}
	return -EINVAL;
}
