// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Crash safety of the header restore. For LUKS1 and LUKS2 volumes whose key
 * slots changed after a header backup, the restore is cut after each of its
 * writes. When the next write spans several pages, it is also cut in its
 * middle, because SIGKILL can cut a write into the page cache. Every cut
 * must leave a volume that loads, opens with each passphrase that the
 * restore does not change, and opens with all the changed passphrases of
 * the current header or all those of the backup. When every key slot or
 * area is busy the restore warns once, and only the unchanged passphrases
 * are checked. A complete restore gives the backup's bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"
#include "udmcrypt.h"

#define PAGE 4096
#define LUKS2_AREA 258048		/* key slot area for a 64-byte key */
#define IMAGE_BYTES (5 * 1024 * 1024)
#define MAX_STEPS 16
#define MAX_PASSES 10
#define MAX_WRITES 64

static char tmpdir[] = "/tmp/udm-restore-XXXXXX";

/* ---- cutting the restore's writes ---- */

/* Writes allowed before the cut; -1 for no cut. */
static long writes_left = -1;
/* Whether the cut write stores its first half, in whole pages. */
static bool tear_cut_write;
static bool write_torn;
static unsigned writes_done;
/* Lengths of the first MAX_WRITES writes since writes_done was reset. */
static size_t write_lengths[MAX_WRITES];

/*
 * Replaces the C library's pwrite() for the whole program: the definition
 * in the executable takes precedence, and the library's descriptor writes
 * (lib/io.c) all go through it. With _FILE_OFFSET_BITS=64 both this
 * definition and the library's calls use the symbol pwrite64.
 */
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (writes_left == 0) {
		size_t part = len / 2 / PAGE * PAGE;

		if (tear_cut_write && part &&
		    syscall(SYS_pwrite64, fd, buf, part, off) == (ssize_t)part)
			write_torn = true;
		tear_cut_write = false;
		errno = EIO;
		return -1;
	}
	if (writes_left > 0)
		writes_left--;
	if (writes_done < MAX_WRITES)
		write_lengths[writes_done] = len;
	writes_done++;
	return syscall(SYS_pwrite64, fd, buf, len, off);
}

static bool count_warnings;
static unsigned unordered_warnings;

static void log_sink(enum udm_log_level level, const char *msg)
{
	if (count_warnings && level == UDM_LOG_WARN && strstr(msg, "without an intermediate"))
		unordered_warnings++;
}

/* ---- the volumes ---- */

/* Which header a passphrase opens before the restore and after it. */
enum side { BOTH, CURRENT, BACKUP };

struct pass {
	const char *text;
	enum side side;
};

/* A key slot change after format ('a' add, 'k' kill) or the backup ('b'). */
struct step {
	char op;
	int slot;
	const char *pass;
};

struct scenario {
	const char *name;
	unsigned luks2_areas;	/* size of the LUKS2 key slots area, in key slot areas */
	bool unordered;		/* the restore cannot keep a passphrase valid */
	struct step steps[MAX_STEPS];
	struct pass passes[MAX_PASSES];	/* "keep" opens slot 0 of both */
};

static const struct scenario scenarios[] = {
	{ "changed in place", 12, false,
	  { { 'a', 6, "old" }, { 'b' }, { 'k', 6 }, { 'a', 6, "new" } },
	  { { "keep", BOTH }, { "old", BACKUP }, { "new", CURRENT } } },
	{ "added since backup", 12, false,
	  { { 'b' }, { 'a', 3, "new" } },
	  { { "keep", BOTH }, { "new", CURRENT } } },
	{ "removed since backup", 12, false,
	  { { 'a', 3, "old" }, { 'b' }, { 'k', 3 } },
	  { { "keep", BOTH }, { "old", BACKUP } } },
	{ "changed and removed", 12, false,
	  { { 'a', 2, "gone" }, { 'a', 6, "old" }, { 'b' }, { 'k', 2 }, { 'k', 6 },
	    { 'a', 6, "new" } },
	  { { "keep", BOTH }, { "gone", BACKUP }, { "old", BACKUP }, { "new", CURRENT } } },
	{ "all slots busy", 8, true,
	  { { 'a', 1, "one" }, { 'a', 2, "two" }, { 'a', 3, "three" }, { 'a', 4, "four" },
	    { 'a', 5, "five" }, { 'a', 6, "old" }, { 'a', 7, "seven" }, { 'b' }, { 'k', 6 },
	    { 'a', 6, "new" } },
	  { { "keep", BOTH }, { "one", BOTH }, { "two", BOTH }, { "three", BOTH },
	    { "four", BOTH }, { "five", BOTH }, { "seven", BOTH }, { "old", BACKUP },
	    { "new", CURRENT } } },
};

static const struct udm_pbkdf_params cheap = { .type = "pbkdf2", .force_iterations = 1000 };

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	struct stat st;

	if (!f)
		return NULL;
	if (!fstat(fileno(f), &st) && (buf = malloc((size_t)st.st_size + 1)) &&
	    fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)st.st_size;
	fclose(f);
	return buf;
}

static bool write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(data, 1, len, f) == len;

	return f && !fclose(f) && ok;
}

static int apply_step(struct udm_volume *vol, const struct udm_key *key, const struct step *s,
		      const char *img, const char *backup, struct udm_error *err)
{
	switch (s->op) {
	case 'a':
		return udm_volume_add_key(vol, s->slot, key, s->pass, strlen(s->pass), &cheap,
					  err) < 0 ? -1 : 0;
	case 'k':
		return udm_volume_kill_slot(vol, s->slot, err);
	default:
		return udm_luks_header_backup(img, backup, err);
	}
}

/* Formats img with "keep" in key slot 0 and applies the scenario's steps. */
static bool build(enum udm_volume_type type, const struct scenario *sc, const char *img,
		  const char *backup, struct udm_error *err)
{
	struct udm_format_params params = {
		.type = type, .keyslot = 0, .pbkdf = cheap,
		.keyslots_size = type == UDM_VOLUME_LUKS2 ? sc->luks2_areas * LUKS2_AREA : 0,
	};
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	bool ok;

	unlink(img);
	unlink(backup);
	ok = !close(open(img, O_WRONLY | O_CREAT, 0600)) && !truncate(img, IMAGE_BYTES) &&
	     !udm_luks_format(img, &params, "keep", 4, &vol, err) &&
	     udm_volume_unlock(vol, -1, "keep", 4, &key, err) >= 0;
	for (int i = 0; ok && i < MAX_STEPS && sc->steps[i].op; i++)
		ok = !apply_step(vol, key, &sc->steps[i], img, backup, err);
	udm_key_free(key);
	udm_volume_free(vol);
	return ok;
}

/* ---- the checks ---- */

struct state_check {
	bool loads;
	bool unchanged_open;	/* every BOTH passphrase */
	bool current_open;	/* every CURRENT passphrase */
	bool backup_open;	/* every BACKUP passphrase */
	bool current_fails;	/* no CURRENT-only passphrase */
};

static bool opens(struct udm_volume *vol, const char *pass)
{
	struct udm_error err;
	struct udm_key *key = NULL;
	bool ok = udm_volume_unlock(vol, -1, pass, strlen(pass), &key, &err) >= 0;

	udm_key_free(key);
	return ok;
}

static struct state_check check_state(const struct scenario *sc, const char *img)
{
	struct state_check c = { .unchanged_open = true, .current_open = true,
				 .backup_open = true, .current_fails = true };
	struct udm_volume *vol = NULL;
	struct udm_error err;

	c.loads = !udm_luks_load(&vol, img, UDM_VOLUME_ANY, false, &err);
	for (int i = 0; c.loads && i < MAX_PASSES && sc->passes[i].text; i++) {
		bool ok = opens(vol, sc->passes[i].text);

		switch (sc->passes[i].side) {
		case BOTH:
			c.unchanged_open &= ok;
			break;
		case CURRENT:
			c.current_open &= ok;
			c.current_fails &= !ok;
			break;
		case BACKUP:
			c.backup_open &= ok;
			break;
		}
	}
	udm_volume_free(vol);
	return c;
}

/* Offset of the first byte of img that differs from backup, or -1. */
static long first_difference(const char *img, const char *backup)
{
	size_t img_len, backup_len;
	uint8_t *a = read_file(img, &img_len), *b = read_file(backup, &backup_len);
	long at = 0;

	if (a && b && img_len >= backup_len) {
		for (at = 0; at < (long)backup_len; at++)
			if (a[at] != b[at])
				break;
		if (at == (long)backup_len)
			at = -1;
	}
	free(a);
	free(b);
	return at;
}

/* ---- the test ---- */

struct cut_figures {
	unsigned states;	/* distinct cut points checked */
	unsigned not_loading, unchanged_lost, neither_side;
	char first_failure[128];
};

static void note_failure(struct cut_figures *f, unsigned *counter, const char *what,
			 long cut, bool torn)
{
	if (!*counter)
		snprintf(f->first_failure, sizeof(f->first_failure), "%s after %ld writes%s",
			 what, cut, torn ? " and half of the next" : "");
	(*counter)++;
}

/* Restores the backup over a fresh copy of start, cut after n writes (and
 * in the middle of the next when torn), and checks the result. */
static void check_cut(const struct scenario *sc, const char *img, const char *backup,
		      const uint8_t *start, size_t start_len, long n, bool torn,
		      struct cut_figures *f)
{
	struct udm_error err;
	struct state_check c;

	if (!write_file(img, start, start_len)) {
		note_failure(f, &f->not_loading, "cannot reset the image", n, torn);
		return;
	}
	writes_left = n;
	tear_cut_write = torn;
	write_torn = false;
	udm_luks_header_restore(img, backup, &err);
	writes_left = -1;
	if (torn && !write_torn)
		return;

	f->states++;
	c = check_state(sc, img);
	if (!c.loads)
		note_failure(f, &f->not_loading, "no header loads", n, torn);
	else if (!c.unchanged_open)
		note_failure(f, &f->unchanged_lost, "an unchanged passphrase fails", n, torn);
	else if (!c.current_open && !c.backup_open)
		note_failure(f, &f->neither_side, "neither the current nor the backup "
			     "passphrases all open", n, torn);
}

static void test_scenario(enum udm_volume_type type, const struct scenario *sc)
{
	const char *kind = type == UDM_VOLUME_LUKS1 ? "luks1" : "luks2";
	char img[512], backup[512], name[128];
	struct cut_figures f = { .states = 0 };
	struct udm_error err = { { 0 } };
	struct state_check done;
	uint8_t *start;
	size_t start_len;
	unsigned total;
	long diff;
	int r;

	snprintf(img, sizeof(img), "%s/img", tmpdir);
	snprintf(backup, sizeof(backup), "%s/backup", tmpdir);
	snprintf(name, sizeof(name), "%s %s: build the volume", kind, sc->name);
	if (!build(type, sc, img, backup, &err)) {
		test_result(name, false, "%s", err.msg);
		return;
	}
	start = read_file(img, &start_len);

	writes_done = 0;
	unordered_warnings = 0;
	count_warnings = true;
	r = udm_luks_header_restore(img, backup, &err);
	count_warnings = false;
	total = writes_done;
	snprintf(name, sizeof(name), "%s %s: restore completes", kind, sc->name);
	test_result(name, !r && total > 0, "returned %d (%s) after %u writes", r, err.msg, total);
	snprintf(name, sizeof(name), "%s %s: warning count", kind, sc->name);
	test_result(name, unordered_warnings == (sc->unordered ? 1u : 0u),
		    "%u warnings about a restore without an intermediate header, expected %d",
		    unordered_warnings, sc->unordered);

	diff = first_difference(img, backup);
	snprintf(name, sizeof(name), "%s %s: restored bytes equal the backup", kind, sc->name);
	test_result(name, diff < 0, "the image differs from the backup at byte %ld", diff);
	done = check_state(sc, img);
	snprintf(name, sizeof(name), "%s %s: backup passphrases open", kind, sc->name);
	test_result(name, done.loads && done.unchanged_open && done.backup_open,
		    "loads %d, unchanged open %d, backup open %d", done.loads,
		    done.unchanged_open, done.backup_open);
	snprintf(name, sizeof(name), "%s %s: removed passphrases fail", kind, sc->name);
	test_result(name, done.current_fails, "a passphrase only the current header had opens");

	for (long n = 0; start && n < (long)total; n++) {
		check_cut(sc, img, backup, start, start_len, n, false, &f);
		/* A write of less than two pages is never torn. */
		if (n >= MAX_WRITES || write_lengths[n] >= 2 * PAGE)
			check_cut(sc, img, backup, start, start_len, n, true, &f);
	}
	printf("# %s %s: %u writes, %u cut points checked, %u with neither side's "
	       "changed passphrases\n", kind, sc->name, total, f.states, f.neither_side);
	snprintf(name, sizeof(name), "%s %s: every cut loads", kind, sc->name);
	test_result(name, start && !f.not_loading, "%u of %u cuts: first %s", f.not_loading,
		    f.states, f.first_failure);
	snprintf(name, sizeof(name), "%s %s: every cut keeps unchanged passphrases", kind,
		 sc->name);
	test_result(name, !f.unchanged_lost, "%u of %u cuts: first %s", f.unchanged_lost,
		    f.states, f.first_failure);
	if (!sc->unordered) {
		snprintf(name, sizeof(name), "%s %s: every cut opens with old or new", kind,
			 sc->name);
		test_result(name, !f.neither_side, "%u of %u cuts: first %s", f.neither_side,
			    f.states, f.first_failure);
	}
	free(start);
}

int main(void)
{
	char cmd[64];

	if (!mkdtemp(tmpdir))
		return 2;
	udm_set_log(log_sink, UDM_LOG_WARN);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		test_scenario(UDM_VOLUME_LUKS1, &scenarios[i]);
		test_scenario(UDM_VOLUME_LUKS2, &scenarios[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		printf("# cannot remove %s\n", tmpdir);
	return test_failures ? 1 : 0;
}
