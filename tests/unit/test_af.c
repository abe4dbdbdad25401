// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The LUKS1 anti-forensic splitter. Merging a fixed material gives the known
 * key: the expected values came from a separate Python hashlib version of
 * the AF-merge in the LUKS1 specification. Split then merge gives the key
 * back for several hashes, key sizes and stripe counts, and damaged material
 * does not give the key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "af.h"
#include "test.h"

struct known_merge {
	const char *hash;
	size_t key_len;
	unsigned stripes;
	const char *key;	/* hex; the material's byte j is j * 31 + 7 */
};

static const struct known_merge known[] = {
	{ "sha256", 32, 4, "4e5cbfd4f54009543dd18d1ab4e23d0585e96d1e55fc3065611884fb65c07915" },
	{ "sha1", 33, 3, "1eee16a256ddba8f1ee71b9bcceeb834c7b7852a91778e4b48fd65ff5d41ccc892" },
	{ "sha512", 64, 4000, "bb8d7ca3bb42161a32e2021b5cc1fbad58e51f6a642b8948052abec512b518e5"
	  "4b89c3801e6cc1348095ca6e52938454112a3c878bd589b83c5dcf6562cf5750" },
	{ "sha1", 64, 4000, "15283cf2c45cc190c88cf9f2fe18a65ce4dabfd612a4414c46d1d1cb7f276c0e"
	  "d9b43f21626309dae855a162960c74cb66ae8afe6a2a2b2700479552b881babf" },
	{ "sha256", 64, 7, "559f4a5b1a1bdfa135e3cfc4f79c0695e03c3622dc660e5888c718e936c14d24"
	  "4d072e0c7ff55847b2463ccacb5f4ffdb72788e0f85ec3fea7a3fbfcf066acc1" },
	{ "ripemd160", 16, 5, "224ed372a8017e6c0cfe727057045ca8" },
	{ "sha1", 20, 1, "0726456483a2c1e0ff1e3d5c7b9ab9d8f7163554" },
};

static void to_hex(const uint8_t *data, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", data[i]);
	out[2 * len] = '\0';
}

static void test_known_merges(void)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct known_merge *k = &known[i];
		size_t len = k->key_len * k->stripes;
		uint8_t *material = malloc(len), key[64];
		char hex[129] = "", name[96];
		int r;

		for (size_t j = 0; material && j < len; j++)
			material[j] = (uint8_t)(j * 31 + 7);
		r = material ? udm_af_merge(material, k->key_len, k->stripes, k->hash, key) :
			       -ENOMEM;
		if (!r)
			to_hex(key, k->key_len, hex);
		snprintf(name, sizeof(name), "merge %s, %zu bytes, %u stripes", k->hash,
			 k->key_len, k->stripes);
		test_result(name, !r && !strcmp(hex, k->key), "%d, got %s", r, hex);
		free(material);
	}
}

/* Splits a key and merges it back, then checks that damage to the first, a
 * middle or the last stripe gives a different key. */
static void check_round_trip(const char *hash, size_t key_len, unsigned stripes)
{
	size_t len = key_len * stripes;
	uint8_t *material = malloc(len), key[64], back[64];
	size_t spots[3] = { 0, len / 2, len - 1 };
	char name[96];
	int r;

	for (size_t i = 0; i < key_len; i++)
		key[i] = (uint8_t)(0xa5 ^ i);
	r = material ? udm_af_split(key, key_len, stripes, hash, material) : -ENOMEM;
	r = r ? r : udm_af_merge(material, key_len, stripes, hash, back);
	snprintf(name, sizeof(name), "split and merge %s, %zu bytes, %u stripes", hash, key_len,
		 stripes);
	test_result(name, !r && !memcmp(key, back, key_len), "r=%d", r);

	for (int s = 0; !r && stripes > 1 && s < 3; s++) {
		material[spots[s]] ^= 0x01;
		r = udm_af_merge(material, key_len, stripes, hash, back);
		material[spots[s]] ^= 0x01;
		snprintf(name, sizeof(name), "damaged byte %zu of %s, %zu bytes, %u stripes",
			 spots[s], hash, key_len, stripes);
		test_result(name, !r && memcmp(key, back, key_len), "r=%d, key recovered", r);
	}
	free(material);
}

static void test_round_trips(void)
{
	static const char *const hashes[] = { "sha1", "sha256", "sha512", "ripemd160",
					      "whirlpool" };
	static const size_t lengths[] = { 16, 32, 33, 64 };

	for (size_t h = 0; h < sizeof(hashes) / sizeof(hashes[0]); h++) {
		for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
			check_round_trip(hashes[h], lengths[l], 1);
			check_round_trip(hashes[h], lengths[l], 2);
		}
		check_round_trip(hashes[h], 32, 4000);
		check_round_trip(hashes[h], 64, 4000);
	}
}

static void test_split_is_random(void)
{
	uint8_t key[32] = { 1, 2, 3 }, *a = malloc(32 * 4000), *b = malloc(32 * 4000);
	int r = a && b ? udm_af_split(key, 32, 4000, "sha256", a) : -ENOMEM;

	r = r ? r : udm_af_split(key, 32, 4000, "sha256", b);
	test_result("two splits differ", !r && memcmp(a, b, 32 * 4000), "r=%d", r);
	free(a);
	free(b);
}

static void test_bad_arguments(void)
{
	uint8_t key[32] = { 0 }, material[32 * 4] = { 0 };

	test_result("zero stripes", udm_af_split(key, 32, 0, "sha256", material) == -EINVAL &&
		    udm_af_merge(material, 32, 0, "sha256", key) == -EINVAL, "accepted");
	test_result("zero key length", udm_af_split(key, 0, 4, "sha256", material) == -EINVAL &&
		    udm_af_merge(material, 0, 4, "sha256", key) == -EINVAL, "accepted");
	test_result("unknown hash", udm_af_split(key, 32, 4, "nohash", material) == -EINVAL &&
		    udm_af_merge(material, 32, 4, "nohash", key) == -EINVAL, "accepted");
}

static void time_split_and_merge(void)
{
	uint8_t key[64] = { 0 }, back[64], *material = malloc(64 * 4000);
	struct timespec start, end;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	r = material ? udm_af_split(key, 64, 4000, "sha256", material) : -ENOMEM;
	r = r ? r : udm_af_merge(material, 64, 4000, "sha256", back);
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("# split and merge of a 64-byte key, 4000 stripes, sha256: %.1f ms\n",
	       (double)(end.tv_sec - start.tv_sec) * 1e3 +
	       (double)(end.tv_nsec - start.tv_nsec) / 1e6);
	test_result("timed split and merge", !r && !memcmp(key, back, 64), "r=%d", r);
	free(material);
}

int main(void)
{
	test_known_merges();
	test_round_trips();
	test_split_is_random();
	test_bad_arguments();
	time_split_and_merge();
	return test_failures ? 1 : 0;
}
