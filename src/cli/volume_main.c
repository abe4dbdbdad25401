// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cryptsetup-style verbs: their table, the options with cryptsetup 2.6's
 * names and short forms, the per-verb option rules, the help text and the
 * exit codes. Options may come before or after the operands.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "volume.h"
#include "../fuse/frontend.h"

/* Options that cryptsetup 2.6 accepts only with some verbs; every other
 * option is accepted, and ignored, by every verb. */
enum {
	RESTRICT_KEY_SLOT,
	RESTRICT_LABEL,		/* --label and --subsystem */
	RESTRICT_SECTOR_SIZE,
	RESTRICT_KEY_SIZE,
	RESTRICT_PBKDF,		/* --pbkdf, --iter-time, --pbkdf-force-iterations */
	RESTRICT_LUKS2_SIZES,	/* --luks2-metadata-size, --luks2-keyslots-size */
	RESTRICT_OFFSET,
	RESTRICT_SKIP,
	RESTRICT_SIZE,
	RESTRICT_UUID,
	RESTRICT_TEST_PASSPHRASE,
	RESTRICT_NBD,
	RESTRICT_COUNT,
};

#define BIT(r) (1u << (r))
#define OPEN_ALLOWED (BIT(RESTRICT_KEY_SLOT) | BIT(RESTRICT_SECTOR_SIZE) | \
		      BIT(RESTRICT_KEY_SIZE) | BIT(RESTRICT_OFFSET) | BIT(RESTRICT_SKIP) | \
		      BIT(RESTRICT_SIZE) | BIT(RESTRICT_TEST_PASSPHRASE) | BIT(RESTRICT_NBD))
#define FORMAT_ALLOWED (BIT(RESTRICT_KEY_SLOT) | BIT(RESTRICT_LABEL) | \
			BIT(RESTRICT_SECTOR_SIZE) | BIT(RESTRICT_KEY_SIZE) | BIT(RESTRICT_PBKDF) | \
			BIT(RESTRICT_LUKS2_SIZES) | BIT(RESTRICT_OFFSET) | BIT(RESTRICT_UUID))

/* Mapping of a verb's operands to struct volume_options. */
enum operand_layout {
	OPERANDS_DEVICE,
	OPERANDS_DEVICE_KEYFILE,	/* the key file of the passphrase */
	OPERANDS_DEVICE_NEW_KEYFILE,	/* the key file of the new passphrase */
	OPERANDS_DEVICE_NAME,
	OPERANDS_NAME,
	OPERANDS_DEVICE_SLOT,
};

struct volume_verb {
	const char *name;
	int (*run)(struct volume_options *opts);
	enum operand_layout layout;
	int min_operands;
	int max_operands;
	const char *synopsis;		/* operands, for the error message */
	unsigned allowed;		/* BIT(RESTRICT_*) */
	enum udm_volume_type type;	/* implied by an alias, or UDM_VOLUME_ANY */
};

static const struct volume_verb verbs[] = {
	{ "luksFormat", cmd_luks_format, OPERANDS_DEVICE_KEYFILE, 1, 2, "<device> [<key file>]",
	  FORMAT_ALLOWED, UDM_VOLUME_ANY },
	{ "open", cmd_open, OPERANDS_DEVICE_NAME, 1, 2, "<device> <name>", OPEN_ALLOWED,
	  UDM_VOLUME_ANY },
	{ "luksOpen", cmd_open, OPERANDS_DEVICE_NAME, 1, 2, "<device> <name>", OPEN_ALLOWED,
	  UDM_VOLUME_ANY },
	{ "plainOpen", cmd_open, OPERANDS_DEVICE_NAME, 2, 2, "<device> <name>", OPEN_ALLOWED,
	  UDM_VOLUME_PLAIN },
	{ "close", cmd_close, OPERANDS_NAME, 1, 1, "<name>", 0, UDM_VOLUME_ANY },
	{ "luksClose", cmd_close, OPERANDS_NAME, 1, 1, "<name>", 0, UDM_VOLUME_ANY },
	{ "plainClose", cmd_close, OPERANDS_NAME, 1, 1, "<name>", 0, UDM_VOLUME_ANY },
	{ "luksDump", cmd_luks_dump, OPERANDS_DEVICE, 1, 1, "<device>", BIT(RESTRICT_KEY_SLOT),
	  UDM_VOLUME_ANY },
	{ "luksAddKey", cmd_luks_add_key, OPERANDS_DEVICE_NEW_KEYFILE, 1, 2,
	  "<device> [<new key file>]",
	  BIT(RESTRICT_KEY_SLOT) | BIT(RESTRICT_KEY_SIZE) | BIT(RESTRICT_PBKDF), UDM_VOLUME_ANY },
	{ "luksRemoveKey", cmd_luks_remove_key, OPERANDS_DEVICE_KEYFILE, 1, 2,
	  "<device> [<key file>]", 0, UDM_VOLUME_ANY },
	{ "luksChangeKey", cmd_luks_change_key, OPERANDS_DEVICE_NEW_KEYFILE, 1, 2,
	  "<device> [<new key file>]", BIT(RESTRICT_KEY_SLOT) | BIT(RESTRICT_PBKDF),
	  UDM_VOLUME_ANY },
	{ "luksKillSlot", cmd_luks_kill_slot, OPERANDS_DEVICE_SLOT, 2, 2, "<device> <key slot>",
	  0, UDM_VOLUME_ANY },
	{ "luksHeaderBackup", cmd_header_backup, OPERANDS_DEVICE, 1, 1, "<device>", 0,
	  UDM_VOLUME_ANY },
	{ "luksHeaderRestore", cmd_header_restore, OPERANDS_DEVICE, 1, 1, "<device>", 0,
	  UDM_VOLUME_ANY },
	{ "isLuks", cmd_is_luks, OPERANDS_DEVICE, 1, 1, "<device>", 0, UDM_VOLUME_ANY },
	{ "luksUUID", cmd_luks_uuid, OPERANDS_DEVICE, 1, 1, "<device>", BIT(RESTRICT_UUID),
	  UDM_VOLUME_ANY },
};

enum {
	OPT_KEYFILE_OFFSET = 256,
	OPT_NEW_KEYFILE,
	OPT_NEW_KEYFILE_OFFSET,
	OPT_NEW_KEYFILE_SIZE,
	OPT_HEADER,
	OPT_HEADER_BACKUP_FILE,
	OPT_VOLUME_KEY_FILE,
	OPT_LABEL,
	OPT_SUBSYSTEM,
	OPT_SECTOR_SIZE,
	OPT_PBKDF,
	OPT_PBKDF_MEMORY,
	OPT_PBKDF_PARALLEL,
	OPT_PBKDF_FORCE_ITERATIONS,
	OPT_LUKS2_METADATA_SIZE,
	OPT_LUKS2_KEYSLOTS_SIZE,
	OPT_UUID,
	OPT_DIR,
	OPT_NBD,
	OPT_DEBUG,
	OPT_TEST_PASSPHRASE,
	OPT_DUMP_JSON,
	OPT_DUMP_VOLUME_KEY,
	OPT_HELP,
};

static const struct option long_options[] = {
	{ "key-file", required_argument, NULL, 'd' },
	{ "keyfile-offset", required_argument, NULL, OPT_KEYFILE_OFFSET },
	{ "keyfile-size", required_argument, NULL, 'l' },
	{ "new-keyfile", required_argument, NULL, OPT_NEW_KEYFILE },
	{ "new-keyfile-offset", required_argument, NULL, OPT_NEW_KEYFILE_OFFSET },
	{ "new-keyfile-size", required_argument, NULL, OPT_NEW_KEYFILE_SIZE },
	{ "key-slot", required_argument, NULL, 'S' },
	{ "header", required_argument, NULL, OPT_HEADER },
	{ "header-backup-file", required_argument, NULL, OPT_HEADER_BACKUP_FILE },
	{ "volume-key-file", required_argument, NULL, OPT_VOLUME_KEY_FILE },
	{ "master-key-file", required_argument, NULL, OPT_VOLUME_KEY_FILE },
	{ "readonly", no_argument, NULL, 'r' },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "subsystem", required_argument, NULL, OPT_SUBSYSTEM },
	{ "sector-size", required_argument, NULL, OPT_SECTOR_SIZE },
	{ "cipher", required_argument, NULL, 'c' },
	{ "key-size", required_argument, NULL, 's' },
	{ "hash", required_argument, NULL, 'h' },
	{ "pbkdf", required_argument, NULL, OPT_PBKDF },
	{ "iter-time", required_argument, NULL, 'i' },
	{ "pbkdf-memory", required_argument, NULL, OPT_PBKDF_MEMORY },
	{ "pbkdf-parallel", required_argument, NULL, OPT_PBKDF_PARALLEL },
	{ "pbkdf-force-iterations", required_argument, NULL, OPT_PBKDF_FORCE_ITERATIONS },
	{ "luks2-metadata-size", required_argument, NULL, OPT_LUKS2_METADATA_SIZE },
	{ "luks2-keyslots-size", required_argument, NULL, OPT_LUKS2_KEYSLOTS_SIZE },
	{ "offset", required_argument, NULL, 'o' },
	{ "skip", required_argument, NULL, 'p' },
	{ "size", required_argument, NULL, 'b' },
	{ "batch-mode", no_argument, NULL, 'q' },
	{ "type", required_argument, NULL, 'M' },
	{ "uuid", required_argument, NULL, OPT_UUID },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "nbd", required_argument, NULL, OPT_NBD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "test-passphrase", no_argument, NULL, OPT_TEST_PASSPHRASE },
	{ "dump-json-metadata", no_argument, NULL, OPT_DUMP_JSON },
	{ "dump-volume-key", no_argument, NULL, OPT_DUMP_VOLUME_KEY },
	{ "dump-master-key", no_argument, NULL, OPT_DUMP_VOLUME_KEY },
	{ "tries", required_argument, NULL, 'T' },
	{ "verify-passphrase", no_argument, NULL, 'y' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

#define SHORT_OPTIONS ":d:l:S:rc:s:h:i:o:p:b:qM:vT:yV"

/* State of one parse: the verb and, for each restricted option, the name
 * the user gave, for the "not allowed" message. */
struct parse_state {
	const struct volume_verb *verb;
	const char *restricted[RESTRICT_COUNT];
	bool iter_time_given;
	bool force_iterations_given;
	bool type_given;
};

static const char usage_text[] =
	"Volume commands, with the names, options and exit codes of cryptsetup 2.6:\n"
	"  luksFormat DEVICE [KEY_FILE]    Write a new LUKS header with one key slot.\n"
	"  open DEVICE NAME                Unlock DEVICE and map it as NAME, as create\n"
	"                                  does (aliases luksOpen, and plainOpen for\n"
	"                                  --type plain); open --test-passphrase DEVICE\n"
	"                                  only checks the passphrase.\n"
	"  close NAME                      Remove the mapping (aliases luksClose,\n"
	"                                  plainClose).\n"
	"  luksDump DEVICE                 Print the header.\n"
	"  luksAddKey DEVICE [NEW_KEY_FILE]    Add a key slot.\n"
	"  luksRemoveKey DEVICE [KEY_FILE]     Remove the key slot of a passphrase.\n"
	"  luksChangeKey DEVICE [NEW_KEY_FILE] Replace a passphrase.\n"
	"  luksKillSlot DEVICE SLOT        Wipe key slot SLOT.\n"
	"  luksHeaderBackup DEVICE --header-backup-file FILE\n"
	"                                  Copy the header and key slots to FILE.\n"
	"  luksHeaderRestore DEVICE --header-backup-file FILE\n"
	"                                  Write a header backup back to DEVICE.\n"
	"  isLuks DEVICE                   Exit 0 when DEVICE has a LUKS header.\n"
	"  luksUUID DEVICE [--uuid UUID]   Print or set the UUID.\n"
	"\n"
	"Volume options:\n"
	"  -d, --key-file FILE          Read the passphrase from FILE (- for standard\n"
	"                               input, read to its end).\n"
	"      --keyfile-offset BYTES   Skip BYTES at the start of the key file.\n"
	"  -l, --keyfile-size BYTES     Read only BYTES of the key file.\n"
	"      --new-keyfile FILE       Key file of the new passphrase (luksAddKey).\n"
	"      --new-keyfile-offset BYTES, --new-keyfile-size BYTES\n"
	"                               The same for the new key file.\n"
	"  -S, --key-slot N             Key slot to use or to create.\n"
	"      --header FILE            Detached LUKS header.\n"
	"      --header-backup-file FILE  File of luksHeaderBackup and Restore.\n"
	"      --volume-key-file FILE   Volume key instead of a passphrase (luksFormat,\n"
	"                               open, luksAddKey).\n"
	"  -M, --type TYPE              luks, luks1, luks2 or plain.\n"
	"  -c, --cipher SPEC            Cipher, such as aes-xts-plain64.\n"
	"  -s, --key-size BITS          Volume key size in bits.\n"
	"  -h, --hash HASH              LUKS header hash, or plain passphrase hash.\n"
	"      --sector-size BYTES      Encryption sector size (512 to 4096).\n"
	"      --pbkdf NAME             pbkdf2, argon2i or argon2id.\n"
	"  -i, --iter-time MS           PBKDF time cost in milliseconds.\n"
	"      --pbkdf-memory KIB       Argon2 memory cost in KiB.\n"
	"      --pbkdf-parallel N       Argon2 threads.\n"
	"      --pbkdf-force-iterations N  Fixed PBKDF iterations, no benchmark.\n"
	"      --luks2-metadata-size BYTES, --luks2-keyslots-size BYTES\n"
	"                               LUKS2 header areas (suffixes K, M, G allowed).\n"
	"      --label TEXT, --subsystem TEXT  LUKS2 label and subsystem.\n"
	"      --uuid UUID              UUID of luksFormat and luksUUID.\n"
	"  -o, --offset SECTORS         Data offset in 512-byte sectors.\n"
	"  -p, --skip SECTORS           IV offset of a plain mapping in 512-byte sectors.\n"
	"  -b, --size SECTORS           Size of a plain mapping in 512-byte sectors.\n"
	"  -r, --readonly               Map read-only.\n"
	"      --nbd ENDPOINT           Serve over NBD instead of FUSE (open), as\n"
	"                               create --nbd does.\n"
	"      --test-passphrase        Check the passphrase only (open).\n"
	"      --dump-json-metadata     Print the LUKS2 JSON metadata (luksDump).\n"
	"      --dump-volume-key        Print the volume key (luksDump).\n"
	"  -T, --tries N                Passphrase attempts on a terminal (default 3).\n"
	"  -y, --verify-passphrase      Ask twice for a plain passphrase.\n"
	"  -q, --batch-mode             Ask no confirmation.\n"
	"  -v, --verbose                Print what was done.\n"
	"      --debug                  Print the library's debug messages.\n"
	"  -?, --help                   Print this help.\n"
	"The volume commands take -h as --hash; use -? or --help for help there.\n"
	"\n"
	"Default LUKS2 parameters (luksFormat):\n"
	"  cipher aes-xts-plain64, key 512 bits (256 bits without XTS), header hash\n"
	"  sha256, PBKDF argon2id, 2000 ms, 1048576 KiB at most, 4 threads at most.\n"
	"  LUKS1: the same cipher and hash, PBKDF pbkdf2, 2000 ms.\n"
	"Default plain parameters (open --type plain):\n"
	"  cipher aes-cbc-essiv:sha256, key 256 bits, passphrase hash ripemd160.\n"
	"Maximum key file size 8192 KiB, maximum passphrase length on a terminal 512\n"
	"characters.\n"
	"Exit status of the volume commands: 0 success, 1 wrong parameters or another\n"
	"error, 2 wrong passphrase, 3 out of memory, 4 wrong device, 5 device already\n"
	"exists or busy.\n";

void volume_print_usage(FILE *out)
{
	fputs(usage_text, out);
}

bool volume_verb_exists(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return true;
	}
	return false;
}

static const struct volume_verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	}
	return NULL;
}

int volume_exit_status(int ret)
{
	switch (ret) {
	case 0:
		return 0;
	case -EPERM:
		return 2;
	case -ENOMEM:
		return 3;
	case -ENOTBLK:
		return 4;
	case -EEXIST:
	case -EBUSY:
		return 5;
	default:
		return 1;
	}
}

void print_library_error(const struct udm_error *err, int ret, const char *fmt, ...)
{
	char action[512];
	va_list ap;

	if (err->msg[0]) {
		print_error("%s", err->msg);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(action, sizeof(action), fmt, ap);
	va_end(ap);
	print_error("%s: %s", action, strerror(-ret));
}

void print_verbose(const struct volume_options *opts, const char *fmt, ...)
{
	va_list ap;

	if (!opts->verbose)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int device_check(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		print_error("cannot open device %s: %s", path, strerror(errno));
		return -ENOTBLK;
	}
	close(fd);
	return 0;
}

/* Parses a decimal number without sign or trailing characters. */
static int parse_u64(const char *text, uint64_t *value)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	*value = strtoull(text, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* Parses a byte count with an optional binary suffix: K, M, G, alone or
 * followed by "iB", in either case for the letter. */
static int parse_size(const char *text, uint64_t *value)
{
	static const char suffixes[] = "KMG";
	uint64_t number, unit = 1;
	const char *suffix;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	number = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		suffix = strchr(suffixes, end[0] & ~0x20);
		if (!suffix || (end[1] && strcmp(end + 1, "iB")))
			return -EINVAL;
		unit = 1ull << (10 * (suffix - suffixes + 1));
	}
	if (number > UINT64_MAX / unit)
		return -EINVAL;
	*value = number * unit;
	return 0;
}

static int invalid_value(const char *option, const char *text, const char *expected)
{
	print_error("invalid value '%s' for %s: expected %s", text, option, expected);
	return 1;
}

static int parse_unsigned(const char *option, const char *text, unsigned max, unsigned *out)
{
	uint64_t value;

	if (parse_u64(text, &value) || value > max)
		return invalid_value(option, text, "a decimal number");
	*out = (unsigned)value;
	return 0;
}

static int parse_u64_option(const char *option, const char *text, uint64_t *out)
{
	if (parse_u64(text, out))
		return invalid_value(option, text, "a decimal number");
	return 0;
}

static int parse_keyfile_size(const char *option, const char *text, size_t *out)
{
	uint64_t value;

	if (parse_u64(text, &value))
		return invalid_value(option, text, "a decimal number of bytes");
	if (value > UDM_KEYFILE_MAX) {
		print_error("invalid value %s for %s: the maximum key file size is %u bytes",
			    text, option, UDM_KEYFILE_MAX);
		return 1;
	}
	*out = (size_t)value;
	return 0;
}

static int parse_type(const char *text, enum udm_volume_type *type)
{
	if (strcmp(text, "luks") == 0)
		*type = UDM_VOLUME_ANY;
	else if (strcmp(text, "luks1") == 0)
		*type = UDM_VOLUME_LUKS1;
	else if (strcmp(text, "luks2") == 0)
		*type = UDM_VOLUME_LUKS2;
	else if (strcmp(text, "plain") == 0)
		*type = UDM_VOLUME_PLAIN;
	else {
		print_error("unsupported device type '%s': accepted are luks, luks1, luks2 and "
			    "plain", text);
		return 1;
	}
	return 0;
}

static int parse_pbkdf(const char *text, struct volume_options *opts)
{
	if (strcmp(text, "pbkdf2") && strcmp(text, "argon2i") && strcmp(text, "argon2id")) {
		print_error("unknown PBKDF '%s': accepted are pbkdf2, argon2i and argon2id", text);
		return 1;
	}
	opts->pbkdf.type = text;
	return 0;
}

static int parse_key_size(const char *text, struct volume_options *opts)
{
	if (parse_unsigned("--key-size", text, 8192, &opts->key_size_bits))
		return 1;
	if (opts->key_size_bits % 8) {
		print_error("invalid key size %u: it must be a multiple of 8 bits",
			    opts->key_size_bits);
		return 1;
	}
	return 0;
}

static int parse_sector_size(const char *text, struct volume_options *opts)
{
	unsigned size;

	if (parse_unsigned("--sector-size", text, 4096, &size) || size < 512 ||
	    (size & (size - 1))) {
		print_error("invalid sector size %s: accepted are 512, 1024, 2048 and 4096", text);
		return 1;
	}
	opts->sector_size = size;
	return 0;
}

static int parse_key_slot(const char *text, struct volume_options *opts)
{
	unsigned slot;

	if (parse_unsigned("--key-slot", text, INT_MAX, &slot))
		return 1;
	opts->key_slot = (int)slot;
	return 0;
}

/* Records a restricted option for the check after parsing. */
static void note_restricted(struct parse_state *state, int restriction, const char *name)
{
	if (!state->restricted[restriction])
		state->restricted[restriction] = name;
}

/* Options of the passphrase sources, the header files and where the
 * mapping goes. */
static int parse_file_option(int c, const char *arg, struct volume_options *opts,
			     struct parse_state *state)
{
	switch (c) {
	case 'd':
		opts->key.file = arg;
		return 0;
	case OPT_KEYFILE_OFFSET:
		return parse_u64_option("--keyfile-offset", arg, &opts->key.offset);
	case 'l':
		return parse_keyfile_size("--keyfile-size", arg, &opts->key.size);
	case OPT_NEW_KEYFILE:
		opts->new_key.file = arg;
		return 0;
	case OPT_NEW_KEYFILE_OFFSET:
		return parse_u64_option("--new-keyfile-offset", arg, &opts->new_key.offset);
	case OPT_NEW_KEYFILE_SIZE:
		return parse_keyfile_size("--new-keyfile-size", arg, &opts->new_key.size);
	case OPT_HEADER:
		opts->header = arg;
		return 0;
	case OPT_HEADER_BACKUP_FILE:
		opts->header_backup_file = arg;
		return 0;
	case OPT_VOLUME_KEY_FILE:
		opts->volume_key_file = arg;
		return 0;
	case OPT_DIR:
		opts->dir = arg;
		return 0;
	case OPT_NBD:
		note_restricted(state, RESTRICT_NBD, "--nbd");
		opts->nbd = arg;
		return 0;
	}
	return -1;
}

/* Options of the PBKDF of new key slots. */
static int parse_pbkdf_option(int c, const char *arg, struct volume_options *opts,
			      struct parse_state *state)
{
	struct udm_pbkdf_params *pbkdf = &opts->pbkdf;

	switch (c) {
	case OPT_PBKDF:
		note_restricted(state, RESTRICT_PBKDF, "--pbkdf");
		return parse_pbkdf(arg, opts);
	case 'i':
		note_restricted(state, RESTRICT_PBKDF, "--iter-time");
		state->iter_time_given = true;
		return parse_unsigned("--iter-time", arg, UINT_MAX, &pbkdf->iter_time_ms);
	case OPT_PBKDF_MEMORY:
		return parse_unsigned("--pbkdf-memory", arg, UINT_MAX, &pbkdf->memory_kb);
	case OPT_PBKDF_PARALLEL:
		return parse_unsigned("--pbkdf-parallel", arg, UINT_MAX, &pbkdf->parallel);
	case OPT_PBKDF_FORCE_ITERATIONS:
		note_restricted(state, RESTRICT_PBKDF, "--pbkdf-force-iterations");
		state->force_iterations_given = true;
		return parse_unsigned("--pbkdf-force-iterations", arg, UINT_MAX,
				      &pbkdf->force_iterations);
	}
	return -1;
}

/* Options of the volume's format and of the mapping's layout. */
static int parse_format_option(int c, const char *arg, struct volume_options *opts,
			       struct parse_state *state)
{
	switch (c) {
	case 'S':
		note_restricted(state, RESTRICT_KEY_SLOT, "--key-slot");
		return parse_key_slot(arg, opts);
	case OPT_LABEL:
		note_restricted(state, RESTRICT_LABEL, "--label");
		opts->label = arg;
		return 0;
	case OPT_SUBSYSTEM:
		note_restricted(state, RESTRICT_LABEL, "--subsystem");
		opts->subsystem = arg;
		return 0;
	case OPT_SECTOR_SIZE:
		note_restricted(state, RESTRICT_SECTOR_SIZE, "--sector-size");
		return parse_sector_size(arg, opts);
	case 'c':
		opts->cipher = arg;
		return 0;
	case 's':
		note_restricted(state, RESTRICT_KEY_SIZE, "--key-size");
		return parse_key_size(arg, opts);
	case 'h':
		opts->hash = arg;
		return 0;
	case OPT_LUKS2_METADATA_SIZE:
	case OPT_LUKS2_KEYSLOTS_SIZE:
		note_restricted(state, RESTRICT_LUKS2_SIZES, c == OPT_LUKS2_METADATA_SIZE ?
				"--luks2-metadata-size" : "--luks2-keyslots-size");
		if (parse_size(arg, c == OPT_LUKS2_METADATA_SIZE ? &opts->metadata_size :
			       &opts->keyslots_size))
			return invalid_value(c == OPT_LUKS2_METADATA_SIZE ? "--luks2-metadata-size"
					     : "--luks2-keyslots-size", arg,
					     "a number of bytes with an optional K, M or G");
		return 0;
	case 'o':
		note_restricted(state, RESTRICT_OFFSET, "--offset");
		return parse_u64_option("--offset", arg, &opts->offset);
	case 'p':
		note_restricted(state, RESTRICT_SKIP, "--skip");
		return parse_u64_option("--skip", arg, &opts->skip);
	case 'b':
		note_restricted(state, RESTRICT_SIZE, "--size");
		return parse_u64_option("--size", arg, &opts->size);
	case 'M':
		state->type_given = true;
		return parse_type(arg, &opts->type);
	case OPT_UUID:
		note_restricted(state, RESTRICT_UUID, "--uuid");
		opts->uuid = arg;
		return 0;
	}
	return -1;
}

/* Flags and the rest. Returns -1 for an option it does not know. */
static int parse_flag_option(int c, const char *arg, struct volume_options *opts,
			     struct parse_state *state)
{
	switch (c) {
	case 'r':
		opts->readonly = true;
		return 0;
	case 'q':
		opts->batch = true;
		return 0;
	case 'v':
		opts->verbose = true;
		return 0;
	case OPT_DEBUG:
		opts->debug = true;
		return 0;
	case OPT_TEST_PASSPHRASE:
		note_restricted(state, RESTRICT_TEST_PASSPHRASE, "--test-passphrase");
		opts->test_passphrase = true;
		return 0;
	case OPT_DUMP_JSON:
		opts->dump_json = true;
		return 0;
	case OPT_DUMP_VOLUME_KEY:
		opts->dump_volume_key = true;
		return 0;
	case 'T':
		if (parse_unsigned("--tries", arg, 1000, &opts->tries))
			return 1;
		if (opts->tries == 0)
			return invalid_value("--tries", arg, "a number from 1");
		return 0;
	case 'y':
		opts->verify_passphrase = true;
		return 0;
	}
	return -1;
}

static int parse_one(int c, const char *arg, struct volume_options *opts,
		     struct parse_state *state)
{
	int ret = parse_file_option(c, arg, opts, state);

	if (ret < 0)
		ret = parse_pbkdf_option(c, arg, opts, state);
	if (ret < 0)
		ret = parse_format_option(c, arg, opts, state);
	if (ret < 0)
		ret = parse_flag_option(c, arg, opts, state);
	return ret;
}

/* Parses the options after the verb; returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct volume_options *opts,
			 struct parse_state *state)
{
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, SHORT_OPTIONS, long_options, NULL)) != -1) {
		/* getopt reports -? like an unknown option, with optopt '?'. */
		if (c == OPT_HELP || (c == '?' && optopt == '?')) {
			cli_print_usage(stdout);
			return 0;
		}
		switch (c) {
		case 'V':
			printf("udmcrypt %s\n", UDMCRYPT_VERSION);
			return 0;
		case ':':
			print_error("option %s needs an argument", argv[optind - 1]);
			return 1;
		case '?':
			if (optopt)
				print_error("unknown option -%c", optopt);
			else
				print_error("unknown option %s", argv[optind - 1]);
			return 1;
		}
		ret = parse_one(c, optarg, opts, state);
		if (ret)
			return ret;
	}
	return -1;
}

/* Assigns the operands by the verb's layout. Returns -1 or an exit status. */
static int assign_operands(char **operands, int count, const struct volume_verb *verb,
			   struct volume_options *opts)
{
	if (count < verb->min_operands || count > verb->max_operands) {
		print_error("%s takes %s as arguments", verb->name, verb->synopsis);
		return 1;
	}
	switch (verb->layout) {
	case OPERANDS_NAME:
		opts->name = operands[0];
		return -1;
	case OPERANDS_DEVICE_NAME:
		opts->name = count > 1 ? operands[1] : NULL;
		break;
	case OPERANDS_DEVICE_SLOT:
		opts->slot_operand = operands[1];
		break;
	case OPERANDS_DEVICE_KEYFILE:
		if (count > 1 && opts->key.file) {
			print_error("%s takes either a key file argument or --key-file",
				    verb->name);
			return 1;
		}
		if (count > 1)
			opts->key.file = operands[1];
		break;
	case OPERANDS_DEVICE_NEW_KEYFILE:
		if (count > 1 && opts->new_key.file) {
			print_error("%s takes either a new key file argument or --new-keyfile",
				    verb->name);
			return 1;
		}
		if (count > 1)
			opts->new_key.file = operands[1];
		break;
	case OPERANDS_DEVICE:
		break;
	}
	opts->device = operands[0];
	return -1;
}

/* Applies the verb's option rules and its implied type. Returns -1 or 1. */
static int check_options(const struct volume_verb *verb, struct volume_options *opts,
			 const struct parse_state *state)
{
	int r;

	for (r = 0; r < RESTRICT_COUNT; r++) {
		if (state->restricted[r] && !(verb->allowed & BIT(r))) {
			print_error("option %s is not allowed with %s", state->restricted[r],
				    verb->name);
			return 1;
		}
	}
	if (state->iter_time_given && state->force_iterations_given) {
		print_error("options --iter-time and --pbkdf-force-iterations cannot be combined");
		return 1;
	}
	if (verb->type == UDM_VOLUME_PLAIN && state->type_given &&
	    opts->type != UDM_VOLUME_PLAIN) {
		print_error("%s opens plain devices only; use open --type", verb->name);
		return 1;
	}
	if (verb->type != UDM_VOLUME_ANY)
		opts->type = verb->type;
	if (strcmp(verb->name, "luksOpen") == 0 && opts->type == UDM_VOLUME_PLAIN) {
		print_error("luksOpen opens LUKS devices only; use open --type plain");
		return 1;
	}
	opts->pbkdf.hash = opts->hash;
	return -1;
}

int volume_main(int argc, char **argv)
{
	struct volume_options opts = {
		.dir = UDMCRYPT_DEFAULT_DIR,
		.key_slot = -1,
		.tries = TRIES_DEFAULT,
		.verb = argv[1],
	};
	struct parse_state state = { .verb = find_verb(argv[1]) };
	int status;

	/* getopt_long treats the verb as its argv[0] and moves operands to the end. */
	status = parse_options(argc - 1, argv + 1, &opts, &state);
	if (status >= 0)
		return status;
	status = assign_operands(argv + 1 + optind, argc - 1 - optind, state.verb, &opts);
	if (status >= 0)
		return status;
	status = check_options(state.verb, &opts, &state);
	if (status >= 0)
		return status;

	if (opts.debug)
		udm_set_log(NULL, UDM_LOG_DEBUG);
	status = state.verb->run(&opts);
	if (status == 0)
		print_verbose(&opts, "Command successful.");
	return status;
}
