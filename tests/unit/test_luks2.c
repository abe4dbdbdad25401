// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS2 volumes. The cryptsetup fixtures open with their passphrases and
 * give the catalogued volume keys and payload. Damaged binary headers fall
 * back to the other copy or fail with one line. Invalid JSON metadata is
 * rejected naming the field, and the file stays unchanged. Format, key slot
 * changes, UUID changes and header backups give volumes that cryptsetup 2.6
 * reads, and volumes cryptsetup makes open here. Checks that need cryptsetup
 * are skipped with a message when it is not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "test.h"
#include "udmcrypt.h"

#define DATA "tests/data/luks2"
#define PATH_LEN 512
#define HDR 16384	/* metadata copy size of every image here */

static char tmpdir[] = "/tmp/udm-luks2-XXXXXX";
static bool have_cryptsetup;
static char last_warning[1024];

static void log_sink(enum udm_log_level level, const char *msg)
{
	if (level == UDM_LOG_WARN)
		snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

static void tmp_path(char *out, const char *name)
{
	snprintf(out, PATH_LEN, "%s/%s", tmpdir, name);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command; returns its exit status. */
static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* Keeps the PASS and FAIL lines whole around the command's output. */
	fflush(stdout);
	status = system(cmd);
	return status == -1 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
}

/* Decompresses tests/data/luks2/NAME.xz to the temporary directory. */
static bool unpack(const char *name, char *path)
{
	tmp_path(path, name);
	return run("xz -dc %s/%s.xz > %s", DATA, name, path) == 0;
}

static bool copy_file(const char *from, const char *to)
{
	return run("cp --sparse=always %s %s", from, to) == 0;
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned md_len = 0;

	EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY);

	if (fd >= 0 && !fstat(fd, &st) && (buf = malloc((size_t)st.st_size + 1)) &&
	    pread(fd, buf, (size_t)st.st_size, 0) == st.st_size) {
		*len = (size_t)st.st_size;
		buf[*len] = 0;
	} else {
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

static void file_sha256(const char *path, char hex[65])
{
	size_t len = 0;
	uint8_t *buf = read_file(path, &len);

	sha256_hex(buf ? buf : (uint8_t *)"", len, hex);
	free(buf);
}

static bool key_is(const struct udm_key *key, const char *hex)
{
	char text[1025];

	if (!key || key->size * 2 >= sizeof(text))
		return false;
	for (size_t i = 0; i < key->size; i++)
		snprintf(text + 2 * i, 3, "%02x", key->data[i]);
	return !strcmp(text, hex);
}

static int load(const char *path, bool writable, struct udm_volume **vol, struct udm_error *err)
{
	memset(err, 0, sizeof(*err));
	*vol = NULL;
	return udm_luks_load(vol, path, UDM_VOLUME_LUKS2, writable, err);
}

/* Loads path and unlocks it with pass; returns the slot or an error. */
static int unlock_file(const char *path, const char *pass, int slot, struct udm_key **key,
		       struct udm_error *err)
{
	struct udm_volume *vol;
	int r = load(path, false, &vol, err);

	*key = NULL;
	if (!r)
		r = udm_volume_unlock(vol, slot, pass, strlen(pass), key, err);
	udm_volume_free(vol);
	return r;
}

/* The dump of path in a malloc'ed string. */
static char *dump_text(const char *path, const struct udm_key *key, bool json_only)
{
	struct udm_volume *vol;
	struct udm_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (load(path, false, &vol, &err))
		return NULL;
	out = open_memstream(&text, &len);
	if (out) {
		udm_volume_dump(vol, out, key, json_only, &err);
		fclose(out);
	}
	udm_volume_free(vol);
	return text;
}

static char *command_output(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *text = NULL;
	size_t len = 0, n;
	char buf[4096];
	FILE *out = open_memstream(&text, &len);

	while (p && out && (n = fread(buf, 1, sizeof(buf), p)) > 0)
		fwrite(buf, 1, n, out);
	if (out)
		fclose(out);
	if (p && pclose(p) != 0) {
		free(text);
		text = NULL;
	}
	return text;
}

/* Writes pass to a key file for cryptsetup's --key-file. */
static void key_file(const char *pass, char *path)
{
	FILE *f;

	tmp_path(path, "keyfile");
	f = fopen(path, "w");
	if (f) {
		fputs(pass, f);
		fclose(f);
	}
}

static bool cryptsetup_opens(const char *path, const char *pass, int slot)
{
	char kf[PATH_LEN], slot_opt[32] = "";

	key_file(pass, kf);
	if (slot >= 0)
		snprintf(slot_opt, sizeof(slot_opt), "--key-slot %d", slot);
	return run("cryptsetup open --test-passphrase --disable-locks %s --key-file=%s %s "
		   ">/dev/null 2>&1", slot_opt, kf, path) == 0;
}

/* The volume key cryptsetup reads with pass, in hex. */
static bool cryptsetup_volume_key(const char *path, const char *pass, char *hex, size_t size)
{
	char kf[PATH_LEN], cmd[2048], *text, *p;
	size_t n = 0;

	key_file(pass, kf);
	snprintf(cmd, sizeof(cmd), "cryptsetup luksDump --disable-locks --dump-volume-key -q "
		 "--key-file=%s %s 2>/dev/null", kf, path);
	text = command_output(cmd);
	p = text ? strstr(text, "MK dump:") : NULL;
	for (p = p ? p + 8 : NULL; p && *p && n + 2 < size; p++) {
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			hex[n++] = *p;
	}
	hex[n] = '\0';
	free(text);
	return n > 0;
}

/* Compares udmcrypt's dump with cryptsetup luksDump. */
static bool dumps_match(const char *path, char **ours_out)
{
	char cmd[1024], *theirs, *ours = dump_text(path, NULL, false);
	bool same;

	snprintf(cmd, sizeof(cmd), "cryptsetup luksDump --disable-locks %s 2>/dev/null", path);
	theirs = command_output(cmd);
	same = ours && theirs && !strcmp(ours, theirs);
	if (!same && ours_out) {
		*ours_out = theirs;
		theirs = NULL;
	}
	free(ours);
	free(theirs);
	return same;
}

/* Maps the volume with key and hashes the whole payload. */
static bool payload_sha256(struct udm_volume *vol, const struct udm_key *key, const char *path,
			   char hex[65], struct udm_error *err)
{
	char *table = udm_volume_table(vol, key, path, err);
	struct udm_device *dev = NULL;
	uint8_t *buf = NULL;
	bool ok = false;
	uint64_t size;

	if (!table || udm_device_open(&dev, table, UDM_OPEN_READONLY, err))
		goto out;
	size = udm_device_size(dev);
	buf = malloc(size);
	if (buf && !udm_device_pread(dev, buf, size, 0)) {
		sha256_hex(buf, size, hex);
		ok = true;
	}
out:
	udm_device_close(dev);
	udm_secure_free(table);
	free(buf);
	return ok;
}

/* Header editing for the damage tests. */

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Recomputes the sha256 checksum of the header copy at offset. */
static bool fix_checksum(const char *path, uint64_t offset)
{
	int fd = open(path, O_RDWR);
	uint8_t bin[4096], *copy = NULL, md[32];
	unsigned md_len;
	uint64_t size;
	bool ok = false;

	if (fd < 0 || pread(fd, bin, sizeof(bin), (off_t)offset) != sizeof(bin))
		goto out;
	size = be64_at(bin + 8);
	copy = size >= 4096 && size <= 4194304 ? malloc(size) : NULL;
	if (!copy || pread(fd, copy, size, (off_t)offset) != (ssize_t)size)
		goto out;
	memset(copy + 448, 0, 64);
	EVP_Digest(copy, size, md, &md_len, EVP_sha256(), NULL);
	ok = pwrite(fd, md, 32, (off_t)offset + 448) == 32;
out:
	free(copy);
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool xor_byte(const char *path, uint64_t offset, uint8_t mask)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	bool ok = fd >= 0 && pread(fd, &b, 1, (off_t)offset) == 1;

	b ^= mask;
	ok = ok && pwrite(fd, &b, 1, (off_t)offset) == 1;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Writes area (json_size bytes) as the JSON area of both copies. */
static bool put_json_area(const char *path, const char *area, size_t len)
{
	int fd = open(path, O_RDWR);
	bool ok = fd >= 0 && pwrite(fd, area, len, 4096) == (ssize_t)len &&
		  pwrite(fd, area, len, HDR + 4096) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok && fix_checksum(path, 0) && fix_checksum(path, HDR);
}

static bool put_json(const char *path, const char *json)
{
	char *area = calloc(1, HDR - 4096);
	bool ok = area && strlen(json) < HDR - 4096;

	if (ok) {
		memcpy(area, json, strlen(json));
		ok = put_json_area(path, area, HDR - 4096);
	}
	free(area);
	return ok;
}

static char *get_json(const char *path)
{
	char *area = calloc(1, HDR - 4096 + 1);
	int fd = open(path, O_RDONLY);

	if (!area || fd < 0 || pread(fd, area, HDR - 4096, 4096) != HDR - 4096) {
		free(area);
		area = NULL;
	}
	if (fd >= 0)
		close(fd);
	return area;
}

/* Returns text with the first from replaced by to, or NULL without from. */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	if (!at)
		return NULL;
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	if (out)
		sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}


/* The cryptsetup fixtures and what the catalogue records for them. */
struct fixture {
	const char *file;
	const char *pass;
	int slot;			/* the slot the passphrase opens */
	const char *volume_key;
	const char *uuid;
	const char *payload_sha256;	/* of the decrypted payload, or NULL */
};

#define COMPAT_VK "d47ee2cdc40f39be9a3e8d72a149cc4d"
#define COMPAT_UUID "28632274-8c8a-493f-835b-da802e1c576b"
#define COMPAT_PAYLOAD "38ef2d1b8c387efb50680e1d3f234f170d2b7b6c6d9eb856b4f426543a6c4ef2"
#define REQ_VK "07459b841ad76fcbc2b27e6d20195359dbfa6ba3aaf3abb25477c03a6fc936bd"
#define REQ_UUID "282c4b68-edfe-4edc-b370-9e8dfd5d414e"
#define MDA_VK "b67647946b62ded9d65983a92cd2c0f4c08923473deb44741da5ba675e8bde82"
#define MDA_UUID "f453a131-2739-4fbb-af7e-963f442ad433"

static const struct fixture fixtures[] = {
	{ "compatimage2.img", "compatkey", 0, COMPAT_VK, COMPAT_UUID, COMPAT_PAYLOAD },
	/* argon2id, t=4, m=64 MiB, p=2 */
	{ "compatimage2.img", "0123456789abcdef", 1, COMPAT_VK, COMPAT_UUID, COMPAT_PAYLOAD },
	{ "luks2_invalid_cipher.img", "93R4P4pIqAH8", 0,
	  "edaa40709797973715e572bf7d86fcbb9cfe2051083c33c28d58fe4e1e7ff642",
	  "3d20686f-5517-48cb-8991-1ad32379821b", NULL },
	{ "luks2_header_requirements.img", "blablabl", 0, REQ_VK, REQ_UUID, NULL },
	{ "luks2_header_requirements_free.img", "blablabl", 0, REQ_VK, REQ_UUID, NULL },
	{ "luks2_mda_64.img", "Qx3qn46vq0v", 0, MDA_VK, MDA_UUID, NULL },
	{ "luks2_mda_4096.img", "Qx3qn46vq0v", 0, MDA_VK, MDA_UUID, NULL },
	{ "luks2_keyslot_unassigned_hdr.img", "compatkey", 0,
	  "7b24adb65c60f5029f10aafc7dcf72153076a955fef73e62c44b88e41aae6c63",
	  "7c8493c0-4f6e-40ab-848e-f96b3b995a66", NULL },
};

static void test_fixture(const struct fixture *f)
{
	char path[PATH_LEN], name[128], hex[65];
	struct udm_volume *vol;
	struct udm_key *key = NULL;
	struct udm_error err;
	int r;

	snprintf(name, sizeof(name), "%s slot %d", f->file, f->slot);
	tmp_path(path, f->file);
	r = load(path, false, &vol, &err);
	test_result(name, !r && !strcmp(udm_volume_uuid(vol), f->uuid) &&
		    udm_volume_type(vol) == UDM_VOLUME_LUKS2, "load: %d %s", r, err.msg);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, f->pass, strlen(f->pass), &key, &err);
	snprintf(name, sizeof(name), "%s slot %d volume key", f->file, f->slot);
	test_result(name, r == f->slot && key_is(key, f->volume_key), "unlock: %d %s", r, err.msg);
	if (f->payload_sha256 && key) {
		snprintf(name, sizeof(name), "%s slot %d payload", f->file, f->slot);
		test_result(name, payload_sha256(vol, key, path, hex, &err) &&
			    !strcmp(hex, f->payload_sha256), "%s %s", hex, err.msg);
	}
	udm_key_free(key);
	udm_volume_free(vol);
}

static void test_fixture_dumps(void)
{
	static const char *const files[] = {
		"compatimage2.img", "luks2_valid_hdr.img", "luks2_invalid_cipher.img",
		"luks2_header_requirements.img", "luks2_mda_64.img", "luks2_mda_4096.img",
		"luks2_keyslot_unassigned_hdr.img",
	};
	char path[PATH_LEN], name[128], *theirs = NULL;

	if (!have_cryptsetup)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		tmp_path(path, files[i]);
		snprintf(name, sizeof(name), "dump of %s as luksDump", files[i]);
		test_result(name, dumps_match(path, &theirs), "cryptsetup printed:\n%s",
			    theirs ? theirs : "(nothing)");
		free(theirs);
		theirs = NULL;
	}
}

/* Fixtures with behaviour beyond opening: wrong passphrases, unknown KDFs,
 * an unsupported cipher, an unbound key slot. */
static void test_fixture_cases(void)
{
	char path[PATH_LEN], *text;
	struct udm_key *key = NULL;
	struct udm_volume *vol;
	struct udm_error err;
	int r;

	tmp_path(path, "compatimage2.img");
	r = unlock_file(path, "rUkL4RUryBom", -1, &key, &err);
	test_result("compatimage2 wrong passphrase", r == -EPERM && !key &&
		    strstr(err.msg, "no key slot"), "%d %s", r, err.msg);
	r = unlock_file(path, "compatkey", 1, &key, &err);
	test_result("compatimage2 passphrase of other slot", r == -EPERM &&
		    strstr(err.msg, "key slot 1"), "%d %s", r, err.msg);
	r = unlock_file(path, "compatkey", 0, &key, &err);
	if (!load(path, false, &vol, &err)) {
		char expected[PATH_LEN + 128], *table = udm_volume_table(vol, key, path, &err);

		snprintf(expected, sizeof(expected), "0 1 crypt aes-cbc-essiv:sha256 " COMPAT_VK
			 " 0 %s 8192", path);
		test_result("compatimage2 table", table && !strcmp(table, expected), "%s %s",
			    table ? table : "(null)", err.msg);
		udm_secure_free(table);
		udm_volume_free(vol);
	}
	text = dump_text(path, key, false);
	test_result("compatimage2 volume key dump", text && strstr(text, "MK bits:       \t128\n"
		    "MK dump:\td4 7e e2 cd c4 0f 39 be 9a 3e 8d 72 a1 49 cc 4d \n") &&
		    strstr(text, "Payload offset:\t8192\n"), "%s", text);
	free(text);
	udm_key_free(key);

	/* The base image of cryptsetup's validation tests: eight key slots with
	 * the old kdf type "argon2", which cryptsetup 2.6 cannot open either. */
	tmp_path(path, "luks2_valid_hdr.img");
	r = load(path, false, &vol, &err);
	test_result("luks2_valid_hdr loads", !r && udm_volume_keyslot_active(vol, 7) &&
		    !udm_volume_keyslot_active(vol, 8) && udm_volume_keyslot_count(vol) == 32,
		    "%d %s", r, err.msg);
	if (!r)
		r = udm_volume_unlock(vol, -1, "x", 1, &key, &err);
	test_result("luks2_valid_hdr unknown kdf argon2", r == -ENOTSUP &&
		    strstr(err.msg, "unknown PBKDF 'argon2'"), "%d %s", r, err.msg);
	udm_volume_free(vol);

	/* Unlocks, but the kernel API cipher form nests two modes, which
	 * cryptsetup cannot map either ("No known cipher specification"). */
	tmp_path(path, "luks2_invalid_cipher.img");
	r = unlock_file(path, "93R4P4pIqAH8", -1, &key, &err);
	if (!load(path, false, &vol, &err)) {
		char *table = udm_volume_table(vol, key, path, &err);

		test_result("invalid cipher not mapped", !table && strstr(err.msg, "cannot map") &&
			    strstr(err.msg, "xts(ecb(aes-generic))"), "%s", err.msg);
		udm_secure_free(table);
		udm_volume_free(vol);
	}
	udm_key_free(key);

	/* Key slot 1 has its own digest, bound to no segment. */
	tmp_path(path, "luks2_keyslot_unassigned_hdr.img");
	r = unlock_file(path, "93R4P4pIqAH8", -1, &key, &err);
	test_result("unbound slot skipped", r == -EPERM && !key, "%d %s", r, err.msg);
	r = unlock_file(path, "93R4P4pIqAH8", 1, &key, &err);
	test_result("unbound slot refused by number", r == -ENOENT && strstr(err.msg, "not bound"),
		    "%d %s", r, err.msg);
	udm_key_free(key);
}

/* Mandatory requirements udmcrypt does not implement: the volume loads,
 * dumps and unlocks (as in cryptsetup), but is neither mapped nor changed. */
static void test_requirements(void)
{
	char path[PATH_LEN], before[65], after[65];
	struct udm_key *key = NULL;
	struct udm_volume *vol;
	struct udm_error err;
	char *table, *text;
	int r;

	tmp_path(path, "luks2_header_requirements.img");
	file_sha256(path, before);
	last_warning[0] = '\0';
	r = load(path, true, &vol, &err);
	test_result("requirements load with warning", !r && strstr(last_warning, "req0, req1"),
		    "%d %s / %s", r, err.msg, last_warning);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, "blablabl", 8, &key, &err);
	test_result("requirements unlock", r == 0 && key_is(key, REQ_VK), "%d %s", r, err.msg);
	table = key ? udm_volume_table(vol, key, path, &err) : NULL;
	test_result("requirements not mapped", !table && strstr(err.msg, "requirements") &&
		    strstr(err.msg, "req0, req1"), "%s", err.msg);
	udm_secure_free(table);
	r = udm_volume_add_key(vol, 1, key, "new", 3, NULL, &err);
	test_result("requirements add key refused", r == -ENOTSUP, "%d %s", r, err.msg);
	r = udm_volume_kill_slot(vol, 0, &err);
	test_result("requirements kill refused", r == -ENOTSUP, "%d %s", r, err.msg);
	r = udm_volume_set_uuid(vol, NULL, &err);
	test_result("requirements set UUID refused", r == -ENOTSUP, "%d %s", r, err.msg);
	udm_volume_free(vol);
	udm_key_free(key);
	file_sha256(path, after);
	test_result("requirements image unchanged", !strcmp(before, after), "changed");
	text = dump_text(path, NULL, false);
	test_result("requirements dump", text && strstr(text, "Requirements:\treq0 req1 \n") &&
		    strstr(text, "  1: luks2-keyring\n"
			   "\tKey description: cs_token_test:test_key0\n"),
		    "%s", text);
	free(text);
}

/* Damage to the binary headers of compatimage2.img: up to two bytes XORed,
 * then optionally the checksum of one copy fixed. */
struct damage {
	const char *name;
	uint64_t offset[2];
	uint8_t mask[2];
	int fix_copy;		/* 0 primary, 1 secondary, -1 none */
	const char *warning;	/* loads with this warning, or */
	const char *error;	/* fails with this error */
};

#define SECONDARY(x) (HDR + (x))
#define CSUM 448
#define SEQID_LOW 23	/* last byte of the big-endian seqid */
#define HDR_SIZE_LOW 15
#define HDR_OFFSET_LOW 263

static const struct damage damages[] = {
	{ "primary checksum flipped", { CSUM }, { 1 }, -1,
	  "primary LUKS2 header is damaged (primary LUKS2 header at offset 0: checksum mismatch)" },
	{ "primary JSON byte flipped", { 4096 + 3 }, { 0x20 }, -1, "checksum mismatch" },
	{ "primary hdr_size odd", { HDR_SIZE_LOW }, { 1 }, -1, "invalid hdr_size 16385" },
	{ "primary hdr_size 32 KiB", { HDR_SIZE_LOW - 1 }, { 0xc0 }, -1, "checksum mismatch" },
	{ "primary checksum algorithm", { 72 + 5 }, { 1 }, -1, "unknown checksum algorithm" },
	{ "secondary magic", { SECONDARY(0) }, { 1 }, -1,
	  "secondary LUKS2 header is damaged (secondary LUKS2 header at offset 16384: no LUKS2 "
	  "magic)" },
	{ "secondary hdr_offset", { SECONDARY(HDR_OFFSET_LOW) }, { 2 }, 1,
	  "hdr_offset 16386 does not match its position 16384" },
	{ "primary seqid lower", { SEQID_LOW }, { 1 }, 0,
	  "the primary LUKS2 header (seqid 8) is older than the secondary (seqid 9); using the "
	  "secondary" },
	{ "secondary seqid lower", { SECONDARY(SEQID_LOW) }, { 1 }, 1,
	  "the secondary LUKS2 header (seqid 8) is older than the primary (seqid 9)" },
	{ "both checksums wrong", { CSUM, SECONDARY(CSUM) }, { 1, 1 }, -1, NULL,
	  "both LUKS2 header copies are invalid: primary LUKS2 header at offset 0: checksum "
	  "mismatch" },
	{ "both JSON areas changed", { 4096 + 100, SECONDARY(4096 + 100) }, { 4, 4 }, -1, NULL,
	  "checksum mismatch" },
	{ "primary hdr_size and secondary checksum", { HDR_SIZE_LOW, SECONDARY(CSUM) }, { 1, 1 },
	  -1, NULL, "both LUKS2 header copies are invalid: secondary LUKS2 header at offset 16384: "
	  "checksum mismatch" },
};

static void test_damage(const struct damage *d)
{
	char orig[PATH_LEN], path[PATH_LEN], before[65], after[65];
	struct udm_key *key = NULL;
	struct udm_volume *vol;
	struct udm_error err;
	int r;

	tmp_path(orig, "compatimage2.img");
	tmp_path(path, "damaged.img");
	if (!copy_file(orig, path)) {
		test_result(d->name, false, "cannot copy the image");
		return;
	}
	for (int i = 0; i < 2 && d->mask[i]; i++)
		xor_byte(path, d->offset[i], d->mask[i]);
	if (d->fix_copy >= 0)
		fix_checksum(path, d->fix_copy ? HDR : 0);
	file_sha256(path, before);
	last_warning[0] = '\0';
	r = load(path, true, &vol, &err);
	if (d->warning) {
		int slot = r ? r : udm_volume_unlock(vol, 0, "compatkey", 9, &key, &err);

		test_result(d->name, !r && slot == 0 && key_is(key, COMPAT_VK) &&
			    strstr(last_warning, d->warning), "load %d, unlock %d %s, warning '%s'",
			    r, slot, err.msg, last_warning);
		udm_volume_free(vol);
		udm_key_free(key);
	} else {
		test_result(d->name, r == -EINVAL && strstr(err.msg, d->error) &&
			    !strchr(err.msg, '\n'), "load %d: %s", r, err.msg);
	}
	file_sha256(path, after);
	if (strcmp(before, after))
		test_result(d->name, false, "the file changed on load");
}

/* A device cut short: before the end of the header, then of the key slots. */
static void test_truncated(void)
{
	static const struct {
		off_t size;
		const char *error;
	} cases[] = {
		{ 8192, "primary LUKS2 header (16384 bytes at offset 0) ends past the end of the "
		  "device (8192 bytes)" },
		{ 1048576, "the key slots area ends at byte 4194304, past the end of the device "
		  "(1048576 bytes)" },
	};
	char orig[PATH_LEN], path[PATH_LEN], name[64];
	struct udm_volume *vol;
	struct udm_error err;

	tmp_path(orig, "compatimage2.img");
	tmp_path(path, "truncated.img");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = -1;

		if (copy_file(orig, path) && !truncate(path, cases[i].size))
			r = load(path, false, &vol, &err);
		snprintf(name, sizeof(name), "device truncated to %lld", (long long)cases[i].size);
		test_result(name, r == -EINVAL && strstr(err.msg, cases[i].error), "%d %s", r,
			    err.msg);
	}
}

/* Edits of compatimage2's JSON, written to both copies with valid
 * checksums: each must fail to load with its error. */
struct json_case {
	const char *name;
	const char *from, *to;	/* the first from is replaced by to */
	const char *error;
};

#define TOKEN_X(keyslots) "\"tokens\":{\"0\":{\"type\":\"x\",\"keyslots\":" keyslots "}}"
#define SEGMENT_END "\"sector_size\":512}},\"digests\""

static const struct json_case json_cases[] = {
	{ "key_size as string", "\"key_size\":16,\"af\"", "\"key_size\":\"16\",\"af\"",
	  "keyslot 0: key_size must be an integer" },
	{ "key_size above 32 bits", "\"key_size\":16,\"af\"", "\"key_size\":4294967312,\"af\"",
	  "keyslot 0: key_size must be an integer" },
	{ "negative iterations", "\"iterations\":1862", "\"iterations\":-1",
	  "keyslot 0: a pbkdf2 kdf needs hash (string) and iterations (integer)" },
	{ "pbkdf2 without hash", "\"hash\":\"sha256\",\"iterations\":1862",
	  "\"iterations\":1862", "keyslot 0: a pbkdf2 kdf needs hash" },
	{ "argon2 memory as string", "\"memory\":65536", "\"memory\":\"65536\"",
	  "keyslot 1: an argon2id kdf needs time, memory and cpus" },
	{ "area offset as number", "\"offset\":\"32768\"", "\"offset\":32768",
	  "keyslot 0: area offset and size must be decimal strings" },
	{ "area offset trailing garbage", "\"offset\":\"32768\"", "\"offset\":\"32768x\"",
	  "keyslot 0: area offset and size must be decimal strings" },
	{ "area offset with sign", "\"offset\":\"32768\"", "\"offset\":\"+32768\"",
	  "keyslot 0: area offset and size must be decimal strings" },
	{ "area offset in hex", "\"offset\":\"32768\"", "\"offset\":\"0x8000\"",
	  "keyslot 0: area offset and size must be decimal strings" },
	{ "area offset past 64 bits", "\"offset\":\"32768\"", "\"offset\":\"18446744073709551616\"",
	  "keyslot 0: area offset and size must be decimal strings" },
	{ "overlapping areas", "\"offset\":\"98304\"", "\"offset\":\"65536\"",
	  "keyslot areas of keyslots 0 and 1 overlap" },
	{ "area inside metadata", "\"offset\":\"32768\"", "\"offset\":\"16384\"",
	  "keyslot 0: area offset 16384 is inside the metadata" },
	{ "area past key slots area", "\"offset\":\"98304\"", "\"offset\":\"4161536\"",
	  "keyslot 1: area 4161536+65536 ends past the key slots area" },
	{ "area offset unaligned", "\"offset\":\"98304\"", "\"offset\":\"98305\"",
	  "keyslot 1: area offset 98305 and size 65536 must be non-zero multiples of 512" },
	{ "key material larger than area", "\"size\":\"65536\"", "\"size\":\"61440\"",
	  "keyslot 0: 64000 bytes of key material do not fit in its 61440-byte area" },
	{ "keyslots_size past device", "\"keyslots_size\":\"4161536\"",
	  "\"keyslots_size\":\"8355840\"", "the key slots area ends at byte 8388608, past the end "
	  "of the device (4194816 bytes)" },
	{ "keyslots_size unaligned", "\"keyslots_size\":\"4161536\"",
	  "\"keyslots_size\":\"4161537\"", "config.keyslots_size 4161537 is out of range" },
	{ "json_size mismatch", "\"json_size\":\"12288\"", "\"json_size\":\"28672\"",
	  "config.json_size 28672 does not match the header size 16384" },
	{ "segment inside key slots", "\"offset\":\"4194304\"", "\"offset\":\"1048576\"",
	  "segment 0: offset 1048576 is inside the header and key slots area" },
	{ "segment offset unaligned", "\"offset\":\"4194304\"", "\"offset\":\"4194305\"",
	  "segment 0: offset must be a decimal string" },
	{ "sector size 1000", "\"sector_size\":512", "\"sector_size\":1000",
	  "segment 0: sector_size must be 512, 1024, 2048 or 4096" },
	{ "iv_tweak not a number", "\"iv_tweak\":\"0\"", "\"iv_tweak\":\"zero\"",
	  "segment 0: iv_tweak must be a decimal string" },
	{ "segment size zero", "\"size\":\"dynamic\"", "\"size\":\"0\"",
	  "segment 0: size must be \"dynamic\" or a non-zero multiple of 512" },
	{ "integrity not an object", "\"sector_size\":512}", "\"sector_size\":512,\"integrity\":1}",
	  "segment 0: integrity must be an object" },
	{ "segment after dynamic segment", SEGMENT_END, "\"sector_size\":512},\"1\":{\"type\":"
	  "\"linear\",\"offset\":\"8388608\",\"size\":\"dynamic\"}},\"digests\"",
	  "segment 1 follows the dynamic segment 0" },
	{ "segment numbers with a gap", SEGMENT_END, "\"sector_size\":512},\"2\":{\"type\":"
	  "\"linear\",\"offset\":\"0\",\"size\":\"512\"}},\"digests\"",
	  "segment name '2': segments are numbered 0 to 1 without gaps" },
	{ "missing keyslots", "{\"keyslots\":", "{\"keyslotz\":", "missing 'keyslots' object" },
	{ "missing config", "\"config\":", "\"confix\":", "missing 'config' object" },
	{ "tokens not an object", "\"tokens\":{}", "\"tokens\":[]", "missing 'tokens' object" },
	{ "empty segments", "\"segments\":{\"0\":", "\"segments\":{},\"x\":{\"0\":",
	  "missing or empty 'segments' object" },
	{ "digest lists missing keyslot", "\"keyslots\":[\"0\",\"1\"]",
	  "\"keyslots\":[\"0\",\"5\"]", "digest 0: keyslots '5' does not exist" },
	{ "digest lists missing segment", "\"segments\":[\"0\"]", "\"segments\":[\"2\"]",
	  "digest 0: segments '2' does not exist" },
	{ "keyslot without digest", "\"keyslots\":[\"0\",\"1\"]", "\"keyslots\":[\"0\"]",
	  "keyslot 1 is listed by 0 digests: it needs exactly one" },
	{ "segment without digest", "\"segments\":[\"0\"]", "\"segments\":[]",
	  "segment 0 has no digest" },
	{ "token lists missing keyslot", "\"tokens\":{}", TOKEN_X("[\"9\"]"),
	  "token 0: keyslots '9' does not exist" },
	{ "token keyslots not an array", "\"tokens\":{}", TOKEN_X("\"0\""),
	  "token 0: 'keyslots' must be an array of strings" },
	{ "keyslot name not a number", "\"1\":{\"type\":\"luks2\"", "\"one\":{\"type\":\"luks2\"",
	  "keyslot name 'one': accepted are 0 to 31" },
	{ "keyslot number 32", "\"1\":{\"type\":\"luks2\"", "\"32\":{\"type\":\"luks2\"",
	  "keyslot name '32': accepted are 0 to 31" },
	{ "keyslot number with leading zero", "\"1\":{\"type\":\"luks2\"",
	  "\"01\":{\"type\":\"luks2\"", "keyslot name '01'" },
	{ "af type", "\"type\":\"luks1\"", "\"type\":\"luks9\"",
	  "keyslot 0: af.type must be \"luks1\"" },
	{ "area type", "\"type\":\"raw\"", "\"type\":\"xor\"",
	  "keyslot 0: area type 'xor' is not supported: accepted is raw" },
	{ "requirements not an array", "\"keyslots_size\":\"4161536\"",
	  "\"keyslots_size\":\"4161536\",\"requirements\":{\"mandatory\":\"x\"}",
	  "config.requirements must be an object" },
	{ "flags not strings", "\"keyslots_size\":\"4161536\"",
	  "\"keyslots_size\":\"4161536\",\"flags\":[1]", "config.flags must be an array" },
	{ "duplicated section", "\"tokens\":{}", "\"tokens\":{},\"tokens\":{}",
	  "an object has a duplicated key" },
	{ "duplicated key in keyslot", "\"key_size\":16,\"af\"", "\"key_size\":16,\"key_size\":16,"
	  "\"af\"", "an object has a duplicated key" },
	{ "stray comma", "\"tokens\":{}", "\"tokens\":{,}", "invalid LUKS2 JSON near offset" },
	{ "single quotes", "\"tokens\":{}", "\"tokens\":{},\"x\":'y'",
	  "unexpected character 0x27 at offset" },
	{ "NaN", "\"tokens\":{}", "\"tokens\":{},\"x\":NaN", "unexpected character 0x4e" },
	{ "comment", "\"tokens\":{}", "\"tokens\":{}/**/", "unexpected character 0x2f" },
	{ "bare word", "\"tokens\":{}", "\"tokens\":{},\"x\":nul", "invalid LUKS2 JSON near" },
	{ "space before the object", "{\"keyslots\"", " {\"keyslots\"",
	  "invalid LUKS2 JSON area: it must start with '{'" },
};

/* Writes json (or, when json is NULL, area) to a copy of compatimage2 and
 * expects load to fail with error, the file unchanged. */
static void expect_json_error(const char *name, const char *json, const char *area,
			      const char *error)
{
	char orig[PATH_LEN], path[PATH_LEN], before[65], after[65];
	struct udm_volume *vol;
	struct udm_error err;
	bool ok;
	int r;

	tmp_path(orig, "compatimage2.img");
	tmp_path(path, "json.img");
	ok = copy_file(orig, path) && (json ? put_json(path, json) :
				       put_json_area(path, area, HDR - 4096));
	if (!ok) {
		test_result(name, false, "cannot write the JSON");
		return;
	}
	file_sha256(path, before);
	r = load(path, true, &vol, &err);
	if (!r)
		udm_volume_free(vol);
	file_sha256(path, after);
	test_result(name, r == -EINVAL && strstr(err.msg, error) && !strchr(err.msg, '\n') &&
		    !strcmp(before, after), "%d '%s', expected '%s'", r, err.msg, error);
}

static void test_json_cases(void)
{
	char path[PATH_LEN], *json, *edited, *area = calloc(1, HDR - 4096 + 64);
	size_t len;

	tmp_path(path, "compatimage2.img");
	json = get_json(path);
	if (!json || !area) {
		test_result("JSON cases", false, "cannot read the JSON");
		goto out;
	}
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *c = &json_cases[i];

		edited = replace(json, c->from, c->to);
		if (edited)
			expect_json_error(c->name, edited, NULL, c->error);
		else
			test_result(c->name, false, "'%s' not in the JSON", c->from);
		free(edited);
	}

	/* An unknown member pads the text to fill the whole area. */
	len = strlen(json);
	memcpy(area, json, len - 1);
	memcpy(area + len - 1, ",\"x\":\"", 6);
	memset(area + len + 5, 'a', HDR - 4096 - len - 7);
	memcpy(area + HDR - 4096 - 2, "\"}", 2);
	expect_json_error("JSON fills the area", NULL, area,
			  "the JSON text fills all 12288 bytes without a terminating NUL byte");

	memset(area, 0, HDR - 4096);
	memcpy(area, json, len);
	area[HDR - 4096 - 1] = 'x';
	expect_json_error("data after the JSON", NULL, area,
			  "byte 0x78 at offset 12287 after the JSON object");

	memset(area, 0, HDR - 4096);
	memcpy(area, json, len);
	area[10] = '\0';
	expect_json_error("NUL inside the JSON", NULL, area, "NUL byte at offset 10");

	memset(area, 0, HDR - 4096);
	memcpy(area, json, len - 1);
	len--;
	len += (size_t)sprintf(area + len, ",\"deep\":");
	for (int i = 0; i < 40; i++)
		area[len++] = '[';
	for (int i = 0; i < 40; i++)
		area[len++] = ']';
	area[len] = '}';
	expect_json_error("JSON nested too deep", NULL, area, "nested deeper than 32 levels");
out:
	free(json);
	free(area);
}

/* Key slots with cheap costs, so that the tests stay fast. */
static const struct udm_pbkdf_params pbkdf2_fast = { .type = "pbkdf2", .force_iterations = 1000 };
static const struct udm_pbkdf_params argon2id_fast = {
	.type = "argon2id", .memory_kb = 32, .parallel = 1, .force_iterations = 4,
};
static const struct udm_pbkdf_params argon2i_fast = {
	.type = "argon2i", .memory_kb = 64, .parallel = 2, .force_iterations = 4,
};

static struct udm_format_params fast_format(void)
{
	struct udm_format_params p = { .type = UDM_VOLUME_LUKS2, .keyslot = -1 };

	p.pbkdf = pbkdf2_fast;
	return p;
}

/* Creates an empty file of size bytes in the temporary directory. */
static bool new_image(const char *name, off_t size, char *path)
{
	int fd;

	tmp_path(path, name);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return false;
	if (ftruncate(fd, size)) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

static uint64_t epoch_of(const char *path)
{
	char *text = dump_text(path, NULL, false), *p;
	uint64_t epoch = 0;

	p = text ? strstr(text, "Epoch:         \t") : NULL;
	if (p)
		epoch = strtoull(p + 16, NULL, 10);
	free(text);
	return epoch;
}

/* Writes through the mapping and reads it back through a new one. */
static bool data_round_trip(const char *path, const char *pass)
{
	struct udm_device *dev = NULL;
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err;
	uint8_t out[8192], in[8192];
	bool ok = false;
	char *table = NULL;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	for (int pass_no = 0; pass_no < 2; pass_no++) {
		if (load(path, false, &vol, &err) ||
		    udm_volume_unlock(vol, -1, pass, strlen(pass), &key, &err) < 0 ||
		    !(table = udm_volume_table(vol, key, path, &err)) ||
		    udm_device_open(&dev, table, 0, &err))
			goto out;
		if (pass_no == 0)
			ok = !udm_device_pwrite(dev, out, sizeof(out), 4096);
		else
			ok = ok && !udm_device_pread(dev, in, sizeof(in), 4096) &&
			     !memcmp(in, out, sizeof(in));
		udm_device_close(dev);
		dev = NULL;
		udm_secure_free(table);
		table = NULL;
		udm_key_free(key);
		key = NULL;
		udm_volume_free(vol);
		vol = NULL;
	}
out:
	if (!ok)
		printf("# round trip: %s\n", err.msg);
	udm_device_close(dev);
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);
	return ok;
}

/* Persistent flags in config.flags become dm-crypt options in the table;
 * unknown flags are ignored, as in cryptsetup. */
static void test_persistent_flags(const char *path, const char *pass)
{
	char *json = get_json(path), *edited, *table = NULL, expected[PATH_LEN + 128];
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };

	edited = json ? replace(json, "\"config\":{", "\"config\":{\"flags\":[\"allow-discards\","
				"\"x-unknown\",\"no-read-workqueue\"],") : NULL;
	if (edited && put_json(path, edited) && !load(path, false, &vol, &err) &&
	    udm_volume_unlock(vol, -1, pass, strlen(pass), &key, &err) >= 0)
		table = udm_volume_table(vol, key, path, &err);
	snprintf(expected, sizeof(expected), " 0 %s 32768 3 allow_discards no_read_workqueue "
		 "sector_size:4096", path);
	test_result("persistent flags in table", table && strstr(table, expected), "%s %s",
		    table ? table : "(null)", err.msg);
	if (have_cryptsetup)
		test_result("persistent flags in dump", dumps_match(path, NULL), "differs");
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);
	free(json);
	free(edited);
}

/* Format with the cryptsetup 2.6 layout, then check what it wrote. */
static void test_format(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN], expected[PATH_LEN + 256], *text, *table;
	int r;

	if (!new_image("format.img", 20 << 20, path))
		return;
	r = udm_luks_format(path, &params, "first", 5, &vol, &err);
	test_result("format", !r && vol && udm_volume_keyslot_active(vol, 0) &&
		    !udm_volume_keyslot_active(vol, 1), "%d %s", r, err.msg);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, "first", 5, &key, &err);
	test_result("format unlock", r == 0 && key && key->size == 64, "%d %s", r, err.msg);
	table = key ? udm_volume_table(vol, key, path, &err) : NULL;
	snprintf(expected, sizeof(expected), " 0 %s 32768 1 sector_size:4096", path);
	test_result("format table", table && !strncmp(table, "0 8192 crypt aes-xts-plain64 ", 29) &&
		    strlen(table) == 29 + 128 + strlen(expected) &&
		    !strcmp(table + 29 + 128, expected), "%s %s", table ? table : "(null)",
		    err.msg);
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);

	text = dump_text(path, NULL, false);
	test_result("format defaults", text && strstr(text, "Epoch:         \t3\n") &&
		    strstr(text, "Metadata area: \t16384 [bytes]\nKeyslots area: \t16744448") &&
		    strstr(text, "\toffset: 16777216 [bytes]\n\tlength: (whole device)\n"
			   "\tcipher: aes-xts-plain64\n\tsector: 4096 [bytes]\n") &&
		    strstr(text, "\tKey:        512 bits\n\tPriority:   normal\n"
			   "\tCipher:     aes-xts-plain64\n\tCipher key: 512 bits\n"
			   "\tPBKDF:      pbkdf2\n\tHash:       sha256\n\tIterations: 1000\n") &&
		    strstr(text, "\tArea offset:32768 [bytes]\n\tArea length:258048 [bytes]\n") &&
		    strstr(text, "Digests:\n  0: pbkdf2\n\tHash:       sha256\n"
			   "\tIterations: 1000\n"),
		    "%s", text);
	free(text);
	test_result("format data round trip", data_round_trip(path, "first"), "see above");
	if (have_cryptsetup) {
		test_result("format accepted by cryptsetup", dumps_match(path, NULL) &&
			    cryptsetup_opens(path, "first", 0), "luksDump or open differs");
	}
	test_persistent_flags(path, "first");
}

/* Labels, 512-byte sectors and a detached header file that format extends;
 * the benchmarked digest and an argon2id slot sized by the benchmark. */
static void test_format_options(void)
{
	struct udm_format_params params = fast_format();
	struct udm_error err = { { 0 } };
	char path[PATH_LEN], *text;
	struct stat st;
	int r;

	if (!new_image("options.img", 0, path))
		return;
	params.label = "backup disk";
	params.subsystem = "udm-test";
	params.sector_size = 512;
	params.uuid = "0AB8F9C2-1111-4222-8333-944455556666";
	params.pbkdf = (struct udm_pbkdf_params){ .type = "argon2id", .iter_time_ms = 50,
						  .memory_kb = 8192, .parallel = 1 };
	r = udm_luks_format(path, &params, "opt", 3, NULL, &err);
	text = dump_text(path, NULL, false);
	test_result("format detached header", !r && !stat(path, &st) && st.st_size == 16 << 20,
		    "%d %s size %lld", r, err.msg, (long long)st.st_size);
	test_result("format label and sector size", text &&
		    strstr(text, "UUID:          \t0ab8f9c2-1111-4222-8333-944455556666\n"
			   "Label:         \tbackup disk\nSubsystem:     \tudm-test\n") &&
		    strstr(text, "\tsector: 512 [bytes]\n") &&
		    strstr(text, "\tPBKDF:      argon2id\n") &&
		    !strstr(text, "Iterations: 1000\n\tSalt"), "%s", text);
	free(text);
	if (have_cryptsetup)
		test_result("detached header accepted by cryptsetup", dumps_match(path, NULL) &&
			    cryptsetup_opens(path, "opt", 0), "luksDump or open differs");

	/* A data size that is not a multiple of 4096 keeps 512-byte sectors. */
	params = fast_format();
	if (new_image("odd.img", (20 << 20) + 512, path)) {
		r = udm_luks_format(path, &params, "odd", 3, NULL, &err);
		text = dump_text(path, NULL, false);
		test_result("format odd-sized image", !r && text &&
			    strstr(text, "\tsector: 512 [bytes]\n"), "%d %s", r, err.msg);
		free(text);
	}

	/* One hash for PBKDF2, the AF splitter and the digest, as in cryptsetup. */
	params = fast_format();
	params.hash = "sha512";
	params.cipher_mode = "cbc-essiv:sha256";
	if (new_image("sha512.img", 17 << 20, path)) {
		r = udm_luks_format(path, &params, "sha", 3, NULL, &err);
		text = dump_text(path, NULL, false);
		test_result("format with sha512", !r && text &&
			    strstr(text, "\tCipher:     aes-cbc-essiv:sha256\n\tCipher key: 256 bits\n"
				   "\tPBKDF:      pbkdf2\n\tHash:       sha512\n") &&
			    strstr(text, "\tAF hash:    sha512\n") &&
			    strstr(text, "  0: pbkdf2\n\tHash:       sha512\n"), "%d %s %s", r, err.msg,
			    text);
		free(text);
		if (have_cryptsetup)
			test_result("sha512 volume accepted by cryptsetup", dumps_match(path, NULL) &&
				    cryptsetup_opens(path, "sha", 0), "differs");
	}

	/* Nothing is written when a parameter is invalid. */
	static const struct {
		const char *name;
		struct udm_format_params params;
		const char *error;
	} bad[] = {
		{ "format bad sector size", { .sector_size = 3000, .keyslot = -1 },
		  "sector size 3000" },
		{ "format bad metadata size", { .metadata_size = 20000, .keyslot = -1 },
		  "metadata size 20000" },
		{ "format bad cipher", { .cipher = "nocipher", .keyslot = -1 }, "nocipher" },
		{ "format bad key slot", { .keyslot = 32 }, "key slot 32" },
		{ "format small data offset", { .data_offset = 8, .keyslot = -1 },
		  "data offset 8" },
		{ "format bad UUID", { .uuid = "1234", .keyslot = -1 }, "invalid UUID '1234'" },
		{ "format bad pbkdf", { .pbkdf = { .type = "scrypt", .force_iterations = 5 },
					.keyslot = -1 }, "scrypt" },
	};
	char before[65], after[65];

	file_sha256(path, before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		params = bad[i].params;
		if (!params.pbkdf.type)
			params.pbkdf = pbkdf2_fast;
		r = udm_luks_format(path, &params, "x", 1, NULL, &err);
		file_sha256(path, after);
		test_result(bad[i].name, r < 0 && strstr(err.msg, bad[i].error) &&
			    !strcmp(before, after), "%d %s", r, err.msg);
	}
}

/* Key slots added with each PBKDF, taken slots, wrong keys and priorities. */
static void test_add_keys(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL, *other = NULL, *wrong;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN], before[65], after[65], *json, *edited;
	int r;

	if (!new_image("keys.img", 17 << 20, path) ||
	    udm_luks_format(path, &params, "zero", 4, &vol, &err) ||
	    udm_volume_unlock(vol, -1, "zero", 4, &key, &err) < 0) {
		test_result("add keys setup", false, "%s", err.msg);
		goto out;
	}
	r = udm_volume_add_key(vol, -1, key, "one", 3, &pbkdf2_fast, &err);
	test_result("add pbkdf2 key", r == 1, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, -1, key, "two", 3, &argon2id_fast, &err);
	test_result("add argon2id key", r == 2, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, 7, key, "seven", 5, &argon2i_fast, &err);
	test_result("add argon2i key to slot 7", r == 7, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, 31, key, "last", 4, &pbkdf2_fast, &err);
	test_result("add key to slot 31", r == 31, "%d %s", r, err.msg);

	file_sha256(path, before);
	r = udm_volume_add_key(vol, 7, key, "again", 5, &pbkdf2_fast, &err);
	test_result("add key to taken slot", r == -EEXIST && strstr(err.msg, "key slot 7"), "%d %s",
		    r, err.msg);
	r = udm_volume_add_key(vol, 32, key, "x", 1, &pbkdf2_fast, &err);
	test_result("add key to slot 32", r == -EINVAL && strstr(err.msg, "key slot 32"), "%d %s",
		    r, err.msg);
	wrong = udm_key_new(64);
	r = udm_volume_add_key(vol, 3, wrong, "x", 1, &pbkdf2_fast, &err);
	test_result("add key with wrong volume key", r == -EPERM, "%d %s", r, err.msg);
	udm_key_free(wrong);
	r = udm_volume_add_key(vol, 3, key, "x", 1, &(struct udm_pbkdf_params){ .type = "argon2id",
			       .memory_kb = 8, .parallel = 1, .force_iterations = 4 }, &err);
	test_result("add key with bad argon2 memory", r < 0 && strstr(err.msg, "memory cost 8"),
		    "%d %s", r, err.msg);
	file_sha256(path, after);
	test_result("refused add keys write nothing", !strcmp(before, after), "file changed");
	udm_volume_free(vol);
	vol = NULL;

	static const struct {
		const char *pass;
		int slot;
	} slots[] = { { "zero", 0 }, { "one", 1 }, { "two", 2 }, { "seven", 7 }, { "last", 31 } };
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		char name[64];

		r = unlock_file(path, slots[i].pass, -1, &other, &err);
		snprintf(name, sizeof(name), "unlock added slot %d", slots[i].slot);
		test_result(name, r == slots[i].slot && other &&
			    !memcmp(other->data, key->data, 64), "%d %s", r, err.msg);
		udm_key_free(other);
		if (have_cryptsetup) {
			snprintf(name, sizeof(name), "cryptsetup opens added slot %d",
				 slots[i].slot);
			test_result(name, cryptsetup_opens(path, slots[i].pass, slots[i].slot),
				    "test-passphrase failed");
		}
	}
	test_result("epoch after four key slots", epoch_of(path) == 7, "epoch %llu",
		    (unsigned long long)epoch_of(path));
	if (have_cryptsetup)
		test_result("dump with added slots as luksDump", dumps_match(path, NULL),
			    "differs");

	/* Priority 0 (ignore): tried only when asked for by number. */
	json = get_json(path);
	edited = json ? replace(json, "\"1\":{\"type\":\"luks2\",", "\"1\":{\"type\":\"luks2\","
				"\"priority\":0,") : NULL;
	if (edited && put_json(path, edited)) {
		r = unlock_file(path, "one", -1, &other, &err);
		test_result("ignored slot skipped", r == -EPERM, "%d %s", r, err.msg);
		udm_key_free(other);
		r = unlock_file(path, "one", 1, &other, &err);
		test_result("ignored slot by number", r == 1, "%d %s", r, err.msg);
		udm_key_free(other);
	}
	free(json);
	free(edited);
out:
	udm_key_free(key);
	udm_volume_free(vol);
}

/* A key slots area with room for three 64-byte keys. */
static void test_keyslots_full(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN], before[65], after[65];
	int r;

	params.keyslots_size = 3 * 258048;
	if (!new_image("full.img", 2 << 20, path) ||
	    udm_luks_format(path, &params, "a", 1, &vol, &err) ||
	    udm_volume_unlock(vol, -1, "a", 1, &key, &err) < 0) {
		test_result("full setup", false, "%s", err.msg);
		goto out;
	}
	r = udm_volume_add_key(vol, -1, key, "b", 1, &pbkdf2_fast, &err);
	if (r == 1)
		r = udm_volume_add_key(vol, -1, key, "c", 1, &pbkdf2_fast, &err);
	test_result("three key slots fit", r == 2, "%d %s", r, err.msg);
	file_sha256(path, before);
	r = udm_volume_add_key(vol, -1, key, "d", 1, &pbkdf2_fast, &err);
	file_sha256(path, after);
	test_result("fourth key slot does not fit", r == -ENOSPC &&
		    strstr(err.msg, "no space left in the key slots area") &&
		    !strcmp(before, after),
		    "%d %s", r, err.msg);
	/* A killed slot's area is reused. */
	r = udm_volume_kill_slot(vol, 1, &err);
	if (!r)
		r = udm_volume_add_key(vol, -1, key, "d", 1, &pbkdf2_fast, &err);
	test_result("freed area reused", r == 1, "%d %s", r, err.msg);
out:
	udm_key_free(key);
	udm_volume_free(vol);
}

static bool area_equals(const char *path, off_t offset, const uint8_t *expected, size_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(path, O_RDONLY);
	bool same = buf && fd >= 0 && pread(fd, buf, len, offset) == (ssize_t)len &&
		    !memcmp(buf, expected, len);

	if (fd >= 0)
		close(fd);
	free(buf);
	return same;
}

static void test_kill(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL, *other = NULL;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN];
	uint8_t *area = NULL;
	size_t len;
	int r;

	if (!new_image("kill.img", 17 << 20, path) ||
	    udm_luks_format(path, &params, "keep", 4, &vol, &err) ||
	    udm_volume_unlock(vol, -1, "keep", 4, &key, &err) < 0 ||
	    udm_volume_add_key(vol, -1, key, "drop", 4, &pbkdf2_fast, &err) != 1) {
		test_result("kill setup", false, "%s", err.msg);
		goto out;
	}
	/* Slot 1's area follows slot 0's. */
	area = read_file(path, &len);
	r = udm_volume_kill_slot(vol, 1, &err);
	test_result("kill slot", r == 0 && !udm_volume_keyslot_active(vol, 1) &&
		    udm_volume_keyslot_active(vol, 0), "%d %s", r, err.msg);
	test_result("killed slot area overwritten", area && len > 32768 + 2 * 258048 &&
		    !area_equals(path, 32768 + 258048, area + 32768 + 258048, 4096) &&
		    area_equals(path, 32768, area + 32768, 258048), "area unchanged");
	r = unlock_file(path, "drop", -1, &other, &err);
	test_result("killed passphrase rejected", r == -EPERM, "%d %s", r, err.msg);
	udm_key_free(other);
	r = unlock_file(path, "keep", -1, &other, &err);
	test_result("other slot still opens", r == 0, "%d %s", r, err.msg);
	udm_key_free(other);
	r = udm_volume_kill_slot(vol, 1, &err);
	test_result("kill inactive slot", r == -ENOENT && strstr(err.msg, "key slot 1"), "%d %s", r,
		    err.msg);
	r = udm_volume_kill_slot(vol, 99, &err);
	test_result("kill slot 99", r == -EINVAL, "%d %s", r, err.msg);
	if (have_cryptsetup)
		test_result("cryptsetup reads after kill", dumps_match(path, NULL) &&
			    !cryptsetup_opens(path, "drop", -1) &&
			    cryptsetup_opens(path, "keep", 0), "differs");
	udm_volume_free(vol);
	vol = NULL;
	if (!load(path, false, &vol, &err)) {
		r = udm_volume_kill_slot(vol, 0, &err);
		test_result("kill on read-only volume", r < 0 && strstr(err.msg, "read-only"),
			    "%d %s", r, err.msg);
	}
out:
	free(area);
	udm_key_free(key);
	udm_volume_free(vol);
}

static void test_uuid_and_backup(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN], backup[PATH_LEN], other[PATH_LEN], cmd[PATH_LEN * 2], *text;
	char old_uuid[40];
	struct stat st;
	int r;

	if (!new_image("uuid.img", 17 << 20, path) ||
	    udm_luks_format(path, &params, "uuid", 4, &vol, &err)) {
		test_result("uuid setup", false, "%s", err.msg);
		goto out;
	}
	r = udm_volume_set_uuid(vol, "DEADBEEF-0000-4000-8000-0123456789AB", &err);
	test_result("set UUID", !r && !strcmp(udm_volume_uuid(vol),
					      "deadbeef-0000-4000-8000-0123456789ab"), "%d %s", r,
		    err.msg);
	snprintf(old_uuid, sizeof(old_uuid), "%s", udm_volume_uuid(vol));
	r = udm_volume_set_uuid(vol, NULL, &err);
	test_result("set random UUID", !r && strcmp(udm_volume_uuid(vol), old_uuid) &&
		    strlen(udm_volume_uuid(vol)) == 36, "%d %s", r, err.msg);
	r = udm_volume_set_uuid(vol, "not-a-uuid", &err);
	test_result("set invalid UUID", r == -EINVAL, "%d %s", r, err.msg);
	udm_volume_free(vol);
	vol = NULL;
	if (have_cryptsetup) {
		snprintf(cmd, sizeof(cmd), "cryptsetup luksUUID --disable-locks %s", path);
		text = command_output(cmd);
		r = load(path, false, &vol, &err);
		test_result("cryptsetup reads the new UUID", !r && text &&
			    !strncmp(text, udm_volume_uuid(vol), 36), "%s", text);
		free(text);
		udm_volume_free(vol);
		vol = NULL;
	}

	/* A backup contains both metadata copies and the key slots: 16 MiB. */
	tmp_path(backup, "uuid.backup");
	unlink(backup);
	r = udm_luks_header_backup(path, backup, &err);
	test_result("header backup", !r && !stat(backup, &st) && st.st_size == 16 << 20 &&
		    (st.st_mode & 0777) == 0600, "%d %s", r, err.msg);
	if (r || load(path, true, &vol, &err) ||
	    udm_volume_unlock(vol, -1, "uuid", 4, &key, &err) < 0)
		goto out;
	r = udm_volume_kill_slot(vol, 0, &err);
	udm_volume_free(vol);
	vol = NULL;
	r = r ? r : udm_luks_header_restore(path, backup, &err);
	test_result("header restore", !r && unlock_file(path, "uuid", -1, &key, &err) == 0, "%d %s",
		    r, err.msg);
	if (have_cryptsetup) {
		tmp_path(other, "uuid.cs-backup");
		unlink(other);
		test_result("backup equals cryptsetup's", run("cryptsetup luksHeaderBackup "
			    "--disable-locks %s --header-backup-file %s >/dev/null 2>&1 && "
			    "cmp -s %s %s", path, other, other, backup) == 0, "files differ");
	}
	/* A backup of another volume is refused. */
	if (new_image("uuid2.img", 17 << 20, other) &&
	    !udm_luks_format(other, &params, "x", 1, NULL, &err)) {
		r = udm_luks_header_restore(other, backup, &err);
		test_result("restore onto another volume refused", r < 0 &&
			    strstr(err.msg, "does not belong"), "%d %s", r, err.msg);
	}
out:
	udm_key_free(key);
	udm_volume_free(vol);
}

/* Splices header copies and key slots of two states of a volume, as a crash
 * in the middle of an update would leave them. */
static bool splice_states(const char *primary, const char *secondary, const char *slots,
		   const char *out)
{
	return run("cp --sparse=always %s %s && dd if=%s of=%s bs=16384 count=1 conv=notrunc "
		   "status=none && dd if=%s of=%s bs=16384 skip=1 seek=1 count=1 conv=notrunc "
		   "status=none", slots, out, primary, out, secondary, out) == 0;
}

static void test_crash_order(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL, *other = NULL;
	struct udm_error err = { { 0 } };
	char before[PATH_LEN], after[PATH_LEN], out[PATH_LEN];
	int r;

	if (!new_image("crash-a.img", 17 << 20, before) ||
	    udm_luks_format(before, &params, "old", 3, &vol, &err) ||
	    udm_volume_unlock(vol, -1, "old", 3, &key, &err) < 0) {
		test_result("crash setup", false, "%s", err.msg);
		goto out;
	}
	udm_volume_free(vol);
	vol = NULL;
	tmp_path(after, "crash-b.img");
	tmp_path(out, "crash.img");
	if (!copy_file(before, after) || load(after, true, &vol, &err) ||
	    udm_volume_add_key(vol, 1, key, "new", 3, &pbkdf2_fast, &err) != 1)
		goto out;

	/* The new primary is written, the secondary not yet. */
	splice_states(after, before, after, out);
	r = unlock_file(out, "new", -1, &other, &err);
	test_result("crash after primary keeps new state", r == 1, "%d %s", r, err.msg);
	udm_key_free(other);

	/* The primary is torn: its checksum was not written yet. */
	splice_states(after, before, after, out);
	xor_byte(out, CSUM, 0xff);
	last_warning[0] = '\0';
	r = unlock_file(out, "old", -1, &other, &err);
	test_result("torn primary keeps old state", r == 0 && strstr(last_warning, "primary"),
		    "%d %s", r, err.msg);
	udm_key_free(other);
	r = unlock_file(out, "new", -1, &other, &err);
	test_result("torn primary lacks new slot", r == -EPERM, "%d %s", r, err.msg);
	udm_key_free(other);

	/* Kill wipes the area before the headers change. */
	copy_file(after, before);
	if (udm_volume_kill_slot(vol, 1, &err))
		goto out;
	splice_states(before, before, after, out);
	r = unlock_file(out, "new", -1, &other, &err);
	test_result("crash during kill leaves slot unopenable", r == -EPERM, "%d %s", r, err.msg);
	udm_key_free(other);
	r = unlock_file(out, "old", -1, &other, &err);
	test_result("crash during kill keeps other slots", r == 0, "%d %s", r, err.msg);
	udm_key_free(other);
out:
	udm_key_free(key);
	udm_volume_free(vol);
}

/* Extra kdf members, which cryptsetup drops while loading, are accepted. */
static void test_kdf_extra_member(void)
{
	char orig[PATH_LEN], path[PATH_LEN], *json = NULL, *edited = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	int r = -1;

	tmp_path(orig, "compatimage2.img");
	tmp_path(path, "extra.img");
	json = copy_file(orig, path) ? get_json(path) : NULL;
	edited = json ? replace(json, "\"iterations\":1862,", "\"iterations\":1862,\"time\":1,")
		      : NULL;
	if (edited && put_json(path, edited))
		r = unlock_file(path, "compatkey", -1, &key, &err);
	test_result("kdf extra member accepted", r == 0 && key_is(key, COMPAT_VK), "%d %s", r,
		    err.msg);
	udm_key_free(key);
	free(json);
	free(edited);
}

/* Two handles on one volume: the second writer must not undo the first. */
static void test_concurrent_update(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *first = NULL, *second = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN];
	int r;

	if (!new_image("concurrent.img", 17 << 20, path) ||
	    udm_luks_format(path, &params, "base", 4, &first, &err) ||
	    load(path, true, &second, &err) ||
	    udm_volume_unlock(first, -1, "base", 4, &key, &err) < 0) {
		test_result("concurrent setup", false, "%s", err.msg);
		goto out;
	}
	r = udm_volume_add_key(first, -1, key, "first", 5, &pbkdf2_fast, &err);
	test_result("first writer adds a slot", r == 1, "%d %s", r, err.msg);
	r = udm_volume_add_key(second, -1, key, "second", 6, &pbkdf2_fast, &err);
	test_result("stale writer refused", r == -EBUSY && strstr(err.msg, "another writer"),
		    "%d %s", r, err.msg);
	r = udm_volume_kill_slot(second, 0, &err);
	test_result("stale kill refused", r == -EBUSY, "%d %s", r, err.msg);
	r = udm_volume_set_uuid(second, NULL, &err);
	test_result("stale UUID change refused", r == -EBUSY, "%d %s", r, err.msg);
	udm_key_free(key);
	r = unlock_file(path, "first", -1, &key, &err);
	test_result("first writer's slot kept", r == 1, "%d %s", r, err.msg);
out:
	udm_key_free(key);
	udm_volume_free(first);
	udm_volume_free(second);
}

/* Tokens and JSON members udmcrypt does not know are written back as they
 * were; only references to a removed key slot go, as in cryptsetup. */
static void test_tokens_survive(void)
{
	static const char *const kept[] = {
		"\"tokens\":{\"0\":{\"type\":\"user_type\",\"keyslots\":[]},\"1\":{\"type\":"
		"\"luks2-keyring\",\"key_description\":\"cs_token_test:test_key0\",\"keyslots\":"
		"[\"0\"]},\"6\":{\"type\":\"luks2-reserved\",\"keyslots\":[\"0\"]}}",
		/* json-c writes escapes back as the characters, as in cryptsetup. */
		"\"x-top\":{\"list\":[1,2.5,\"s\",null,{\"deep\":true}],\"u\":\"\xc3\xa9/\"}",
		"\"x-conf\":\"v\"", "\"x-slot\":[\"a\"]", "\"x-seg\":{}", "\"x-digest\":-7",
	};
	/* Unknown members in every section. */
	static const char *const edits[][2] = {
		{ "\"config\":{", "\"config\":{\"x-conf\":\"v\"," },
		{ "\"af\":", "\"x-slot\":[\"a\"],\"af\":" },
		{ "\"iv_tweak\":", "\"x-seg\":{},\"iv_tweak\":" },
		{ "\"iterations\":181540", "\"x-digest\":-7,\"iterations\":181540" },
		{ "{\"keyslots\":", "{\"x-top\":{\"list\":[1,2.5,\"s\",null,{\"deep\":true}],"
		  "\"u\":\"\\u00e9\\/\"},\"keyslots\":" },
	};
	char orig[PATH_LEN], path[PATH_LEN], *json = NULL, *edited = NULL, *next;
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	int r;

	tmp_path(orig, "luks2_header_requirements_free.img");
	tmp_path(path, "tokens.img");
	edited = copy_file(orig, path) ? get_json(path) : NULL;
	for (size_t i = 0; edited && i < sizeof(edits) / sizeof(edits[0]); i++) {
		next = replace(edited, edits[i][0], edits[i][1]);
		free(edited);
		edited = next;
	}
	if (!edited || !put_json(path, edited) || load(path, true, &vol, &err) ||
	    udm_volume_unlock(vol, -1, "blablabl", 8, &key, &err) < 0) {
		test_result("tokens setup", false, "%s", err.msg);
		goto out;
	}
	r = udm_volume_add_key(vol, -1, key, "added", 5, &argon2id_fast, &err);
	if (r == 1)
		r = udm_volume_kill_slot(vol, 1, &err);
	free(json);
	json = get_json(path);
	test_result("add and kill keep tokens and unknown keys", !r && json &&
		    strstr(json, kept[0]) && strstr(json, kept[1]) && strstr(json, kept[2]) &&
		    strstr(json, kept[3]) && strstr(json, kept[4]) && strstr(json, kept[5]),
		    "%d %s\n%s", r, err.msg, json);
	if (have_cryptsetup)
		test_result("cryptsetup reads the tokens", dumps_match(path, NULL) &&
			    cryptsetup_opens(path, "blablabl", 0), "differs");

	/* Killing slot 0 drops it from the tokens that list it. */
	r = udm_volume_kill_slot(vol, 0, &err);
	free(json);
	json = get_json(path);
	test_result("kill removes token references", !r && json && strstr(json,
		    "\"1\":{\"type\":\"luks2-keyring\",\"key_description\":"
		    "\"cs_token_test:test_key0\",\"keyslots\":[]}") && !strstr(json, "\"x-slot\""),
		    "%d %s\n%s", r, err.msg, json);
out:
	free(json);
	free(edited);
	udm_key_free(key);
	udm_volume_free(vol);
}

/* cryptsetup's own tokens, imported and exported around our changes. */
static void test_token_import(void)
{
	struct udm_format_params params = fast_format();
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { { 0 } };
	char path[PATH_LEN], token[PATH_LEN], cmd[PATH_LEN * 2], *exported = NULL;
	const char *json = "{\"type\":\"x-udm\",\"keyslots\":[\"0\"],\"payload\":{\"n\":[1,2]}}";
	FILE *f;
	int r;

	if (!have_cryptsetup)
		return;
	tmp_path(token, "token.json");
	f = fopen(token, "w");
	if (f) {
		fputs(json, f);
		fclose(f);
	}
	if (!new_image("import.img", 17 << 20, path) ||
	    udm_luks_format(path, &params, "imp", 3, NULL, &err) ||
	    run("cryptsetup token import --disable-locks --json-file %s %s >/dev/null 2>&1", token,
		path) ||
	    load(path, true, &vol, &err) || udm_volume_unlock(vol, -1, "imp", 3, &key, &err) < 0) {
		test_result("token import setup", false, "%s", err.msg);
		goto out;
	}
	r = udm_volume_add_key(vol, -1, key, "more", 4, &pbkdf2_fast, &err);
	if (r == 1)
		r = udm_volume_kill_slot(vol, 1, &err);
	snprintf(cmd, sizeof(cmd), "cryptsetup token export --disable-locks --token-id 0 %s", path);
	exported = command_output(cmd);
	test_result("imported token exported unchanged", !r && exported &&
		    !strncmp(exported, json, strlen(json)), "%d %s: %s", r, err.msg, exported);
out:
	free(exported);
	udm_key_free(key);
	udm_volume_free(vol);
}

/* Volumes cryptsetup formats open here with the key it reports, and key
 * slots each tool adds open in the other. */
static void test_cryptsetup_volumes(void)
{
	static const struct {
		const char *name;
		const char *options;
	} volumes[] = {
		{ "cryptsetup pbkdf2 volume", "--pbkdf pbkdf2 --pbkdf-force-iterations 1000" },
		{ "cryptsetup argon2id volume", "--pbkdf argon2id --pbkdf-memory 32 "
		  "--pbkdf-force-iterations 4" },
		{ "cryptsetup cbc-essiv 512-byte sectors", "--pbkdf pbkdf2 "
		  "--pbkdf-force-iterations 1000 --cipher aes-cbc-essiv:sha256 --key-size 256 "
		  "--sector-size 512" },
		{ "cryptsetup argon2i with label", "--pbkdf argon2i --pbkdf-memory 64 "
		  "--pbkdf-parallel 2 --pbkdf-force-iterations 4 --label cslabel "
		  "--luks2-metadata-size 64k --luks2-keyslots-size 2m" },
	};
	char path[PATH_LEN], kf[PATH_LEN], kf2[PATH_LEN], hex[1100], name[128];
	struct udm_volume *vol;
	struct udm_key *key;
	struct udm_error err;
	int r;

	if (!have_cryptsetup)
		return;
	for (size_t i = 0; i < sizeof(volumes) / sizeof(volumes[0]); i++) {
		key = NULL;
		vol = NULL;
		key_file("cspass", kf);
		if (!new_image("cs.img", 20 << 20, path) ||
		    run("cryptsetup luksFormat -q --disable-locks --type luks2 %s --key-file=%s %s "
			">/dev/null 2>&1", volumes[i].options, kf, path) ||
		    !cryptsetup_volume_key(path, "cspass", hex, sizeof(hex))) {
			test_result(volumes[i].name, false, "cryptsetup luksFormat failed");
			continue;
		}
		r = unlock_file(path, "cspass", -1, &key, &err);
		test_result(volumes[i].name, r == 0 && key_is(key, hex), "%d %s", r, err.msg);
		snprintf(name, sizeof(name), "%s dump", volumes[i].name);
		test_result(name, dumps_match(path, NULL), "differs");

		/* Our key slot in their volume, their key slot in ours. */
		r = key && !load(path, true, &vol, &err) ?
		    udm_volume_add_key(vol, -1, key, "ours", 4, &argon2id_fast, &err) : -1;
		snprintf(name, sizeof(name), "%s takes our key slot", volumes[i].name);
		test_result(name, r == 1 && cryptsetup_opens(path, "ours", 1), "%d %s", r, err.msg);
		udm_volume_free(vol);
		tmp_path(kf2, "keyfile2");
		key_file("ours", kf);
		rename(kf, kf2);
		key_file("theirs", kf);
		r = run("cryptsetup luksAddKey -q --disable-locks --pbkdf pbkdf2 "
			"--pbkdf-force-iterations 1000 --key-file=%s %s %s >/dev/null 2>&1", kf2,
			path, kf);
		udm_key_free(key);
		r = r ? -1 : unlock_file(path, "theirs", -1, &key, &err);
		snprintf(name, sizeof(name), "%s opens their added slot", volumes[i].name);
		test_result(name, r == 2 && key_is(key, hex), "%d %s", r, err.msg);
		udm_key_free(key);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs a group of tests and prints its time as a comment line. */
#define TIMED(call) do { \
	double start_ = now_ms(); \
	call; \
	printf("# %s: %.0f ms\n", #call, now_ms() - start_); \
} while (0)

int main(void)
{
	static const char *const images[] = {
		"compatimage2.img", "luks2_valid_hdr.img", "luks2_invalid_cipher.img",
		"luks2_header_requirements.img", "luks2_header_requirements_free.img",
		"luks2_mda_64.img", "luks2_mda_4096.img", "luks2_keyslot_unassigned_hdr.img",
	};
	char path[PATH_LEN];

	if (!mkdtemp(tmpdir))
		return 2;
	udm_set_log(log_sink, UDM_LOG_WARN);
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		if (!unpack(images[i], path)) {
			printf("FAIL: unpack %s (is xz installed?)\n", images[i]);
			return 1;
		}
	}
	have_cryptsetup = run("cryptsetup --version >/dev/null 2>&1") == 0;
	if (!have_cryptsetup)
		printf("# cryptsetup not found: skipping the checks against cryptsetup\n");

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		TIMED(test_fixture(&fixtures[i]));
	TIMED(test_fixture_dumps());
	TIMED(test_fixture_cases());
	TIMED(test_requirements());
	for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++)
		test_damage(&damages[i]);
	TIMED(test_truncated());
	TIMED(test_json_cases());
	TIMED(test_format());
	TIMED(test_format_options());
	TIMED(test_add_keys());
	TIMED(test_keyslots_full());
	TIMED(test_kill());
	TIMED(test_uuid_and_backup());
	TIMED(test_crash_order());
	TIMED(test_kdf_extra_member());
	TIMED(test_concurrent_update());
	TIMED(test_tokens_survive());
	TIMED(test_token_import());
	TIMED(test_cryptsetup_volumes());

	run("rm -rf %s", tmpdir);
	return test_failures ? 1 : 0;
}
