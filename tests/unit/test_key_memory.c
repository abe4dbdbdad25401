// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Key memory after close. The test opens a crypt mapping with a known key
 * and a LUKS2 volume with a known passphrase, and closes them. Then it
 * reads every readable mapping of this process (/proc/self/maps and
 * /proc/self/mem) for the key, its hex form, the first round keys of the
 * expanded AES keys and the passphrase. The test keeps its own copies
 * XORed with MASK and compares masked bytes, so that the scan never meets
 * the test's copy. The same scan while the device is open must find the key,
 * which shows that the scan works.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"
#include "udmcrypt.h"

/* Volatile, so that the compiler cannot unmask the constants at build time
 * and leave the secrets in the binary. */
static volatile uint8_t mask_byte = 0x5c;
#define MASK mask_byte
#define KEY_BYTES 64
#define CHUNK (1 << 20)
#define PIECE 16	/* bytes of each needle: a round key of AES */
#define MAX_NEEDLES 24
/* Larger mappings are AddressSanitizer's shadow and reserved address space,
 * which hold no allocations of their own. */
#define MAX_REGION (256ULL << 20)

struct needle {
	uint8_t masked[2 * KEY_BYTES];
	size_t len;
	const char *what;
};

static struct needle needles[MAX_NEEDLES];
static int n_needles;
static uint8_t masked_key[KEY_BYTES];
static const uint8_t masked_pass[] = "Hx.V9-kq?Zr#4p!w";	/* XORed with MASK below */
static uint8_t *scan_buf;

static void add_needle(const uint8_t *masked, size_t len, const char *what)
{
	memcpy(needles[n_needles].masked, masked, len);
	needles[n_needles].len = len;
	needles[n_needles].what = what;
	n_needles++;
}

/*
 * The needles. Each 16-byte piece of the key is the first round key of an
 * XTS half, as AES-NI key schedules store it. The same pieces with each
 * 32-bit word byte-swapped are that key as OpenSSL's C key schedule stores
 * it. The hex of the first piece and the passphrase complete the set.
 */
static void make_needles(void)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t piece[2 * PIECE];

	for (int i = 0; i < KEY_BYTES; i++)
		masked_key[i] = (uint8_t)((i * 37 + 11) ^ 0xc3);
	for (int off = 0; off < KEY_BYTES; off += PIECE) {
		add_needle(masked_key + off, PIECE, "key bytes");
		for (int w = 0; w < PIECE; w += 4)
			for (int b = 0; b < 4; b++)
				piece[w + b] = masked_key[off + w + 3 - b];
		add_needle(piece, PIECE, "key bytes in host-order words");
	}
	for (int i = 0; i < PIECE; i++) {
		uint8_t byte = masked_key[i] ^ MASK;

		piece[2 * i] = (uint8_t)(digits[byte >> 4] ^ MASK);
		piece[2 * i + 1] = (uint8_t)(digits[byte & 15] ^ MASK);
	}
	add_needle(piece, 2 * PIECE, "key hex");
	add_needle(masked_pass, sizeof(masked_pass) - 1, "passphrase");
}

/* Unmasks a secret into secure memory, which the library wipes on free. */
static char *unmask(const uint8_t *masked, size_t len)
{
	char *out = udm_secure_alloc(len + 1);

	for (size_t i = 0; out && i < len; i++)
		out[i] = (char)(masked[i] ^ MASK);
	return out;
}

static char *key_hex(void)
{
	static const char digits[] = "0123456789abcdef";
	char *hex = udm_secure_alloc(2 * KEY_BYTES + 1);

	for (int i = 0; hex && i < KEY_BYTES; i++) {
		uint8_t byte = masked_key[i] ^ MASK;

		hex[2 * i] = digits[byte >> 4];
		hex[2 * i + 1] = digits[byte & 15];
	}
	return hex;
}

/* Counts needle hits in len bytes; names the first in *found. */
static int scan_bytes(const uint8_t *p, size_t len, const char **found)
{
	int hits = 0;

	for (int n = 0; n < n_needles; n++) {
		const struct needle *nd = &needles[n];
		uint8_t first = nd->masked[0] ^ MASK;

		for (size_t i = 0; i + nd->len <= len; i++) {
			const uint8_t *hit = memchr(p + i, first, len - nd->len + 1 - i);
			size_t j = 1;

			if (!hit)
				break;
			i = (size_t)(hit - p);
			while (j < nd->len && (hit[j] ^ MASK) == nd->masked[j])
				j++;
			if (j == nd->len) {
				hits++;
				*found = nd->what;
			}
		}
	}
	return hits;
}

/* Scans every readable mapping but the scan buffer. Returns the hits. */
static int scan_memory(const char **found)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	int mem = open("/proc/self/mem", O_RDONLY);
	uintptr_t buf_start = (uintptr_t)scan_buf, buf_end = buf_start + CHUNK;
	char line[512], perms[8];
	int hits = 0;

	while (maps && mem >= 0 && fgets(line, sizeof(line), maps)) {
		uintptr_t start, end;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &start, &end, perms) != 3 ||
		    perms[0] != 'r' || end - start > MAX_REGION || strstr(line, "[vvar") ||
		    strstr(line, "[vsyscall]") ||
		    (start < buf_end && end > buf_start))
			continue;
		/* Overlaps of PIECE bytes between chunks catch needles on a border. */
		for (uintptr_t at = start; at < end; at += CHUNK - 2 * PIECE) {
			size_t want = end - at < CHUNK ? end - at : CHUNK;
			ssize_t got = pread(mem, scan_buf, want, (off_t)at);

			if (got > 0)
				hits += scan_bytes(scan_buf, (size_t)got, found);
			explicit_bzero(scan_buf, CHUNK);
			if (want < CHUNK)
				break;
		}
	}
	if (maps)
		fclose(maps);
	if (mem >= 0)
		close(mem);
	return hits;
}

static bool make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0 && !ftruncate(fd, size);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Maps a crypt target with the key, writes and reads through it. */
static struct udm_device *open_mapping(const char *backing)
{
	char *hex = key_hex(), *table = udm_secure_alloc(4096);
	struct udm_error err = { .msg = "" };
	struct udm_device *dev = NULL;
	char data[4096] = "plaintext";
	int r = -ENOMEM;

	if (hex && table) {
		snprintf(table, 4096, "0 2048 crypt aes-xts-plain64 %s 0 %s 0\n", hex, backing);
		r = udm_device_open(&dev, table, 0, &err);
	}
	if (!r)
		r = udm_device_pwrite(dev, data, sizeof(data), 8192);
	if (!r)
		r = udm_device_pread(dev, data, sizeof(data), 8192);
	test_result("mapping with known key", !r, "%d %s", r, err.msg);
	udm_secure_free(hex);
	udm_secure_free(table);
	return dev;
}

/* Formats a LUKS2 volume with the key and passphrase, unlocks it, maps it
 * and closes everything. */
static void luks_round_trip(const char *image)
{
	struct udm_format_params p = {
		.type = UDM_VOLUME_LUKS2, .keyslot = -1, .key_size = KEY_BYTES,
		.pbkdf = { .type = "pbkdf2", .force_iterations = 1000 },
	};
	char *pass = unmask(masked_pass, sizeof(masked_pass) - 1);
	struct udm_key *key = udm_key_new(KEY_BYTES), *got = NULL;
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol = NULL;
	struct udm_device *dev = NULL;
	char *table = NULL;
	int r = -ENOMEM;

	for (int i = 0; key && i < KEY_BYTES; i++)
		key->data[i] = masked_key[i] ^ MASK;
	p.volume_key = key;
	if (pass && key && make_file(image, 20 << 20))
		r = udm_luks_format(image, &p, pass, strlen(pass), &vol, &err);
	if (!r)
		r = udm_volume_unlock(vol, -1, pass, strlen(pass), &got, &err) < 0 ? -EPERM : 0;
	if (!r && !(table = udm_volume_table(vol, got, image, &err)))
		r = -EINVAL;
	if (!r)
		r = udm_device_open(&dev, table, 0, &err);
	test_result("LUKS2 volume with known key", !r, "%d %s", r, err.msg);
	udm_device_close(dev);
	udm_secure_free(table);
	udm_key_free(got);
	udm_key_free(key);
	udm_volume_free(vol);
	udm_secure_free(pass);
}

int main(void)
{
	char dir[] = "/tmp/udm-keymem-XXXXXX", backing[64], image[64];
	const char *found = "";
	struct udm_device *dev;
	int hits;

	udm_set_log(NULL, UDM_LOG_ERROR);
	scan_buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scan_buf == MAP_FAILED || !mkdtemp(dir))
		return 1;
	make_needles();
	snprintf(backing, sizeof(backing), "%s/backing", dir);
	snprintf(image, sizeof(image), "%s/luks2.img", dir);

	dev = make_file(backing, 1 << 20) ? open_mapping(backing) : NULL;
	hits = scan_memory(&found);
	test_result("scan finds key while open", dev && hits > 0, "%d hits", hits);
	udm_device_close(dev);
	hits = scan_memory(&found);
	test_result("no key after close", hits == 0, "%d hits, one of them %s", hits, found);

	luks_round_trip(image);
	hits = scan_memory(&found);
	test_result("no key or passphrase after LUKS2", hits == 0, "%d hits, one of them %s",
		    hits, found);

	unlink(backing);
	unlink(image);
	rmdir(dir);
	munmap(scan_buf, CHUNK);
	return test_failures ? 1 : 0;
}
