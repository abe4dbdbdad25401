// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS1 both ways with cryptsetup, whose checks skip when it is not
 * installed. Header backups restore with either tool, and udmcrypt changes
 * volumes that cryptsetup formats. Formats with other ciphers, hashes, key
 * sizes and data offsets get cryptsetup's layout. Also the PBKDF2 costs that
 * format benchmarks, and a detached header file.
 */
#include "luks1_util.h"

static const struct udm_pbkdf_params fast_pbkdf = { .force_iterations = 1000 };

static int zero_header(const char *path)
{
	static const uint8_t zeros[4096];
	int fd = open(path, O_WRONLY);
	int r = fd >= 0 && pwrite(fd, zeros, sizeof(zeros), 0) == sizeof(zeros) ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

static bool unlocks(const char *image, const char *pass, int slot)
{
	struct udm_volume *vol = NULL;
	struct udm_error err;
	struct udm_key *key = NULL;
	int r = udm_luks_load(&vol, image, UDM_VOLUME_LUKS1, false, &err);

	r = r ? r : udm_volume_unlock(vol, -1, pass, strlen(pass), &key, &err);
	udm_key_free(key);
	udm_volume_free(vol);
	return r == slot;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

/* Restore must reject a file that is no LUKS header and another volume's
 * backup, and write nothing. */
static void check_restore_rejected(const char *image)
{
	struct udm_format_params p = fast_params();
	const char *junk = tmp_path("junk.bak"), *other = tmp_path("other.img");
	const char *other_bak = tmp_path("other.bak");
	struct udm_error err = { { 0 } };
	char before[65], after[65];
	uint8_t noise[4096];
	int r;

	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)(i * 131 + 7);
	file_sha256(image, before);
	r = write_file(junk, noise, sizeof(noise)) ? -EIO :
	    udm_luks_header_restore(image, junk, &err);
	file_sha256(image, after);
	test_result("restore from non-LUKS file rejected", r < 0 && strstr(err.msg, junk) &&
		    !strcmp(before, after), "%d '%s'", r, err.msg);

	r = format_file(other, 4 * MiB, &p, "other", NULL, &err);
	r = r ? r : udm_luks_header_backup(other, other_bak, &err);
	r = r ? r : udm_luks_header_restore(image, other_bak, &err);
	file_sha256(image, after);
	test_result("restore of another volume's backup rejected", r < 0 &&
		    strstr(err.msg, "does not belong") && !strcmp(before, after), "%d '%s'", r,
		    err.msg);
	unlink(junk);
	unlink(other);
	unlink(other_bak);
}

static void test_backup_restore(void)
{
	struct udm_format_params p = fast_params();
	const char *image = tmp_path("backup.img"), *bak = tmp_path("backup.bak");
	const char *cs_bak = tmp_path("cryptsetup.bak");
	long page = sysconf(_SC_PAGESIZE);
	struct udm_error err = { { 0 } };
	char ours[65], theirs[65];
	int r;

	r = format_file(image, 4 * MiB, &p, "pass0", NULL, &err);
	r = r ? r : udm_luks_header_backup(image, bak, &err);
	test_result("header backup", r == 0, "%d %s", r, err.msg);
	/* The key slots end at byte 2066432; backups round up to the page size. */
	test_result("backup size as cryptsetup's", file_size(bak) ==
		    (2066432 + page - 1) / page * page, "%lld bytes", (long long)file_size(bak));
	r = udm_luks_header_backup(image, bak, &err);
	test_result("backup never overwrites", r == -EEXIST, "%d %s", r, err.msg);
	if (have_cryptsetup) {
		r = cryptsetup(NULL, NULL, "luksHeaderBackup '%s' --header-backup-file '%s'", image,
			       cs_bak);
		file_sha256(bak, ours);
		file_sha256(cs_bak, theirs);
		test_result("backup equals cryptsetup's", r == 0 && !strcmp(ours, theirs),
			    "cryptsetup %d", r);
	}

	r = zero_header(image);
	test_result("zeroed header does not load", !r && !unlocks(image, "pass0", 0), "loads");
	r = udm_luks_header_restore(image, bak, &err);
	test_result("restore from backup", r == 0 && unlocks(image, "pass0", 0), "%d %s", r,
		    err.msg);
	check_restore_rejected(image);

	if (have_cryptsetup) {
		zero_header(image);
		r = cryptsetup(NULL, NULL, "luksHeaderRestore --batch-mode '%s' "
			       "--header-backup-file '%s'", image, bak);
		test_result("cryptsetup restores our backup", r == 0 &&
			    cryptsetup_opens(image, 0, "pass0"), "cryptsetup %d", r);
		zero_header(image);
		r = udm_luks_header_restore(image, cs_bak, &err);
		test_result("restore from cryptsetup's backup", r == 0 &&
			    unlocks(image, "pass0", 0), "%d %s", r, err.msg);
	}
	unlink(image);
	unlink(bak);
	unlink(cs_bak);
}

/* cryptsetup formats and adds a key, and udmcrypt opens both. udmcrypt then
 * adds a key and kills a slot, and cryptsetup reads the changes. */
static void test_cryptsetup_made(void)
{
	const char *image = tmp_path("cs.img"), *newkey = tmp_path("cs.newkey");
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	char ours[129] = "", theirs[129], *dump = NULL, *text = NULL;
	int r;

	if (!have_cryptsetup)
		return;
	r = make_file(image, 4 * MiB) ? -1 :
	    cryptsetup("cs-pass0", NULL, "luksFormat --type luks1 --batch-mode "
		       "--pbkdf-force-iterations 1000 --key-file=- '%s'", image);
	r = r || write_file(newkey, "cs-pass3", 8) ? -1 :
	    cryptsetup("cs-pass0", NULL, "luksAddKey --key-slot 3 --pbkdf-force-iterations 1000 "
		       "--key-file=- '%s' '%s'", image, newkey);
	test_result("cryptsetup formats and adds a key", r == 0, "cryptsetup %d", r);
	if (r)
		return;

	r = udm_luks_load(&vol, image, UDM_VOLUME_LUKS1, true, &err);
	r = r ? r : udm_volume_unlock(vol, -1, "cs-pass0", 8, &key, &err);
	test_result("cryptsetup's slot 0 unlocks", r == 0, "%d %s", r, err.msg);
	if (r)
		goto out;
	test_result("cryptsetup's slot 3 unlocks", unlocks(image, "cs-pass3", 3), "rejected");
	to_hex(key->data, key->size, ours);
	cryptsetup_volume_key(image, "cs-pass0", theirs, sizeof(theirs));
	test_result("volume key as cryptsetup's", !strcmp(ours, theirs), "ours %s, theirs %s",
		    ours, theirs);
	text = dump_text(vol, NULL);
	r = cryptsetup(NULL, &dump, "luksDump '%s'", image);
	test_result("dump of cryptsetup's volume", r == 0 && text && dump && !strcmp(text, dump),
		    "cryptsetup:\n%s\nours:\n%s", dump ? dump : "", text ? text : "");
	free(dump);
	dump = NULL;

	r = udm_volume_add_key(vol, 6, key, "ours6", 5, &fast_pbkdf, &err);
	r = r == 6 ? udm_volume_kill_slot(vol, 0, &err) : r;
	test_result("add and kill on cryptsetup's volume", r == 0, "%d %s", r, err.msg);
	test_result("cryptsetup opens our slot 6", cryptsetup_opens(image, 6, "ours6"), "no");
	test_result("cryptsetup still opens slot 3", cryptsetup_opens(image, 3, "cs-pass3"), "no");
	test_result("cryptsetup rejects killed slot", !cryptsetup_opens(image, 0, "cs-pass0"),
		    "opens");
	r = cryptsetup(NULL, &dump, "luksDump '%s'", image);
	test_result("cryptsetup sees slot 0 disabled", r == 0 && dump &&
		    strstr(dump, "Key Slot 0: DISABLED") && strstr(dump, "Key Slot 6: ENABLED"),
		    "%s", dump ? dump : "");

	r = cryptsetup(NULL, NULL, "luksUUID --uuid 11111111-2222-4333-8444-555555555555 "
		       "--batch-mode '%s'", image);
	udm_volume_free(vol);
	vol = NULL;
	r = r ? r : udm_luks_load(&vol, image, UDM_VOLUME_LUKS1, false, &err);
	test_result("UUID set by cryptsetup", r == 0 && !strcmp(udm_volume_uuid(vol),
		    "11111111-2222-4333-8444-555555555555"), "%d %s", r, err.msg);
out:
	free(dump);
	free(text);
	udm_key_free(key);
	udm_volume_free(vol);
	unlink(image);
	unlink(newkey);
}

struct variant {
	const char *cipher, *mode, *hash;
	unsigned key_size;
	uint64_t data_offset;
	unsigned payload;	/* expected payload offset */
	const char *cryptsetup_args;	/* the same format with cryptsetup; NULL: AES only */
};

static const struct variant variants[] = {
	{ "aes", "cbc-essiv:sha256", "sha1", 16, 0, 2048, "-c aes-cbc-essiv:sha256 -s 128 "
	  "--hash sha1" },
	{ "aes", "cbc-essiv:sha256", NULL, 0, 0, 4096, "-c aes-cbc-essiv:sha256" },
	{ "aes", "xts-plain64", "sha512", 32, 8192, 8192, "-c aes-xts-plain64 -s 256 "
	  "--hash sha512 --offset 8192" },
	{ "aes", "cbc-plain", "sha256", 24, 0, 2048, "-c aes-cbc-plain -s 192" },
	{ "aes", "xts-plain64", NULL, 64, 4040, 4040, "--offset 4040" },
	{ "serpent", "xts-plain64", "whirlpool", 64, 0, 4096, NULL },
	{ "twofish", "cbc-essiv:sha256", "ripemd160", 32, 0, 4096, NULL },
};

/* The lines of a dump that depend only on the format parameters. */
static void layout_of(const char *dump, char *out, size_t size)
{
	static const char *const keep[] = {
		"Version:", "Cipher name:", "Cipher mode:", "Hash spec:", "Payload offset:",
		"MK bits:", "\tKey material offset:", "\tAF stripes:", "Key Slot",
	};
	size_t pos = 0;

	out[0] = '\0';
	for (const char *line = dump; line && *line; line = strchr(line, '\n') + 1) {
		size_t len = strcspn(line, "\n");

		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (!strncmp(line, keep[i], strlen(keep[i])) && pos + len + 2 < size) {
				memcpy(out + pos, line, len + 1);
				pos += len + 1;
			}
		if (!line[len])
			break;
	}
	out[pos] = '\0';
}

static void check_variant_with_cryptsetup(const struct variant *v, const char *image,
					  const char *ours, const struct udm_key *key)
{
	const char *twin = tmp_path("twin.img");
	char name[160], *theirs = NULL, *twin_dump = NULL;
	char ours_layout[2048], twin_layout[2048], hex[129], cs_key[129];
	int r;

	snprintf(name, sizeof(name), "%s-%s %s: cryptsetup dump", v->cipher, v->mode,
		 v->hash ? v->hash : "sha256");
	r = cryptsetup(NULL, &theirs, "luksDump '%s'", image);
	test_result(name, r == 0 && theirs && !strcmp(theirs, ours), "%d:\n%s", r,
		    theirs ? theirs : "");
	free(theirs);
	if (!v->cryptsetup_args)
		return;

	/* AES is the cipher any kernel's crypto API offers cryptsetup. */
	to_hex(key->data, key->size, hex);
	cryptsetup_volume_key(image, "variant", cs_key, sizeof(cs_key));
	snprintf(name, sizeof(name), "%s-%s %s: cryptsetup unlocks", v->cipher, v->mode,
		 v->hash ? v->hash : "sha256");
	test_result(name, cryptsetup_opens(image, 0, "variant") && !strcmp(hex, cs_key),
		    "key %s", cs_key);
	r = make_file(twin, 8 * MiB) ? -1 :
	    cryptsetup("variant", NULL, "luksFormat --type luks1 --batch-mode "
		       "--pbkdf-force-iterations 1000 --key-file=- %s '%s'", v->cryptsetup_args,
		       twin);
	r = r ? r : cryptsetup(NULL, &twin_dump, "luksDump '%s'", twin);
	layout_of(ours, ours_layout, sizeof(ours_layout));
	layout_of(twin_dump, twin_layout, sizeof(twin_layout));
	snprintf(name, sizeof(name), "%s-%s %s: layout as cryptsetup's", v->cipher, v->mode,
		 v->hash ? v->hash : "sha256");
	test_result(name, r == 0 && !strcmp(ours_layout, twin_layout),
		    "%d\ncryptsetup:\n%s\nours:\n%s", r, twin_layout, ours_layout);
	free(twin_dump);
	unlink(twin);
}

static void test_format_variants(void)
{
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		struct udm_format_params p = fast_params();
		const char *image = tmp_path("variant.img");
		struct udm_volume *vol = NULL;
		struct udm_error err = { { 0 } };
		struct udm_key *key = NULL;
		char name[160], expected[64], *dump = NULL;
		int r;

		p.cipher = v->cipher;
		p.cipher_mode = v->mode;
		p.hash = v->hash;
		p.key_size = v->key_size;
		p.data_offset = v->data_offset;
		r = format_file(image, 8 * MiB, &p, "variant", &vol, &err);
		r = r ? r : udm_volume_unlock(vol, -1, "variant", 7, &key, &err);
		snprintf(name, sizeof(name), "%s-%s %s: format and unlock", v->cipher, v->mode,
			 v->hash ? v->hash : "sha256");
		test_result(name, r == 0, "%d %s", r, err.msg);
		if (!r) {
			dump = dump_text(vol, NULL);
			snprintf(expected, sizeof(expected), "Payload offset:\t%u\n", v->payload);
			snprintf(name, sizeof(name), "%s-%s %s: payload offset %u", v->cipher,
				 v->mode, v->hash ? v->hash : "sha256", v->payload);
			test_result(name, dump && strstr(dump, expected), "%s", dump ? dump : "");
		}
		if (!r && dump && have_cryptsetup)
			check_variant_with_cryptsetup(v, image, dump, key);
		free(dump);
		udm_key_free(key);
		udm_volume_free(vol);
		unlink(image);
	}
}

static unsigned dump_number(const char *dump, const char *label)
{
	const char *p = dump ? strstr(dump, label) : NULL;

	return p ? (unsigned)strtoul(p + strlen(label), NULL, 10) : 0;
}

/* Without forced iterations, format benchmarks PBKDF2 for the key slot and
 * scales the digest's count to 125 ms, as cryptsetup does. */
static void test_benchmarked_costs(void)
{
	struct udm_format_params p = { .type = UDM_VOLUME_LUKS1, .keyslot = -1 };
	const char *image = tmp_path("bench.img");
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	unsigned slot, digest;
	uint64_t expected;
	char *dump;
	double start;
	int r;

	p.pbkdf.iter_time_ms = 50;
	r = format_file(image, 4 * MiB, &p, "bench", &vol, &err);
	test_result("format with benchmark", r == 0, "%d %s", r, err.msg);
	if (r)
		return;
	dump = dump_text(vol, NULL);
	slot = dump_number(dump, "\tIterations:         \t");
	digest = dump_number(dump, "MK iterations: \t");
	expected = (uint64_t)slot * 125 / 50;
	expected = expected < 1000 ? 1000 : expected;
	test_result("benchmarked slot iterations", slot >= 1000, "%u", slot);
	test_result("digest iterations scaled to 125 ms", digest == expected,
		    "digest %u, slot %u", digest, slot);
	start = now_ms();
	r = udm_volume_unlock(vol, -1, "bench", 5, &key, &err);
	printf("# unlock of a 50 ms key slot took %.0f ms\n", now_ms() - start);
	test_result("benchmarked slot unlocks", r == 0, "%d %s", r, err.msg);
	free(dump);
	udm_key_free(key);
	udm_volume_free(vol);
	unlink(image);
}

/* A header in a file of its own grows to hold the key slots, and the
 * payload is on another file. */
static void test_detached_header(void)
{
	struct udm_format_params p = fast_params();
	const char *header = tmp_path("detached.hdr"), *data = tmp_path("detached.data");
	struct udm_volume *vol = NULL, *readonly = NULL;
	struct udm_device *dev = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	uint8_t text[512] = "detached", back[512];
	char *table = NULL;
	int r;

	r = format_file(header, 0, &p, "detached", &vol, &err);
	test_result("format grows an empty header file", r == 0 && file_size(header) == 2 * MiB,
		    "%d %s, %lld bytes", r, err.msg, (long long)file_size(header));
	if (r)
		return;
	r = make_file(data, 4 * MiB) ? -EIO : udm_volume_unlock(vol, -1, "detached", 8, &key, &err);
	table = r ? NULL : udm_volume_table(vol, key, data, &err);
	r = table ? udm_device_open(&dev, table, 0, &err) : -EINVAL;
	r = r ? r : udm_device_pwrite(dev, text, sizeof(text), 0);
	r = r ? r : udm_device_pread(dev, back, sizeof(back), 0);
	test_result("payload on another file", r == 0 && !memcmp(text, back, sizeof(text)) &&
		    udm_device_size(dev) == 2 * MiB, "%d %s", r, err.msg);
	udm_device_close(dev);

	r = udm_luks_load(&readonly, header, UDM_VOLUME_LUKS1, false, &err);
	r = r ? r : udm_volume_add_key(readonly, -1, key, "x", 1, &fast_pbkdf, &err);
	test_result("read-only volume refuses add key", r < 0 && strstr(err.msg, "read-only"),
		    "%d %s", r, err.msg);
	udm_volume_free(readonly);
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);
	unlink(header);
	unlink(data);
}

int main(void)
{
	if (luks1_test_setup())
		return 2;
	test_backup_restore();
	test_cryptsetup_made();
	test_format_variants();
	test_benchmarked_costs();
	test_detached_header();
	luks1_test_cleanup();
	return test_failures ? 1 : 0;
}
