// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udmcrypt: the command line. The dmsetup-style verbs and their exit codes
 * follow dmsetup(8): the verb comes first, options may come before or after
 * the operands, and any failure exits with status 1. The cryptsetup-style
 * verbs (luksFormat, open, close and the others) are parsed in volume_main.c.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "volume.h"
#include "../fuse/frontend.h"

enum {
	OPT_DIR = 256,
	OPT_SHOWKEYS,
	OPT_NBD,
};

/* Options a verb accepts besides --dir, --help and --version. */
#define ACCEPTS_READONLY 0x1u
#define ACCEPTS_SHOWKEYS 0x2u
#define ACCEPTS_NBD 0x4u

struct verb {
	const char *name;
	int (*run)(const struct cli_options *opts);
	int min_operands;
	int max_operands;
	unsigned accepts;
};

static const struct verb verbs[] = {
	{ "create", cmd_create, 1, 2, ACCEPTS_READONLY | ACCEPTS_NBD },
	{ "remove", cmd_remove, 1, 1, 0 },
	{ "ls", cmd_ls, 0, 0, 0 },
	{ "table", cmd_table, 0, 1, ACCEPTS_SHOWKEYS },
	{ "status", cmd_status, 0, 1, 0 },
	{ "info", cmd_info, 0, 1, 0 },
	{ "help", NULL, 0, 0, 0 },
	{ "version", NULL, 0, 0, 0 },
};

static const struct option long_options[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "readonly", no_argument, NULL, 'r' },
	{ "showkeys", no_argument, NULL, OPT_SHOWKEYS },
	{ "nbd", required_argument, NULL, OPT_NBD },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"Usage: udmcrypt COMMAND [ARGUMENTS] [OPTIONS]\n"
	"\n"
	"Maps device-mapper tables (crypt, linear, zero and error targets) in user\n"
	"space, as dmsetup does with the kernel, and opens LUKS1, LUKS2 and plain\n"
	"dm-crypt volumes as cryptsetup does. Each mapping is the file DIR/NAME,\n"
	"served by a FUSE daemon; as root, a loop device is attached to it.\n"
	"\n"
	"Table commands, as dmsetup:\n"
	"  create NAME [TABLE_FILE]  Read the table from TABLE_FILE, or from standard\n"
	"                            input without it, and start the mapping. Prints\n"
	"                            the loop device (such as /dev/loop3) as root, or\n"
	"                            the file DIR/NAME for other users or when no loop\n"
	"                            device could be attached.\n"
	"  remove NAME               Detach the loop devices of NAME (as root), stop\n"
	"                            its daemon and remove DIR/NAME. Fails while the\n"
	"                            loop device is mounted or the file is open.\n"
	"                            Stops the nbdkit of an NBD export.\n"
	"  ls                        List mappings as NAME<TAB>(loop device), or (-)\n"
	"                            when none is attached.\n"
	"  table [NAME]              Print the table; keys are shown as zeros.\n"
	"  status [NAME]             Print the status of each target.\n"
	"  info [NAME]               Print state, size, block size, open count, daemon\n"
	"                            process and loop device.\n"
	"  help                      Print this help.\n"
	"  version                   Print the version.\n"
	"Without NAME, table and status print every mapping, each line prefixed\n"
	"with \"NAME: \".\n"
	"\n"
	"Options of the table commands (--dir also applies to open and close):\n"
	"  --dir DIR       Directory of the mapping files (default " UDMCRYPT_DEFAULT_DIR ";\n"
	"                  create and open make it with mode 0755 when missing).\n"
	"  -r, --readonly  Create a read-only mapping (create).\n"
	"  --nbd ENDPOINT  Serve the mapping over NBD with nbdkit instead of FUSE\n"
	"                  (create, open): ENDPOINT is a Unix socket path (with a\n"
	"                  '/'), or [HOST:]PORT with HOST 127.0.0.1 by default.\n"
	"                  Prints the NBD URI; \"remove NAME\" stops the export.\n"
	"                  The backing file must be the same in every target.\n"
	"  --showkeys      Print keys in hex (table).\n"
	"  -h, --help      Print this help.\n"
	"  -V, --version   Print the version.\n"
	"\n"
	"The daemon of NAME logs starts, stops and errors to DIR/.udmcrypt/NAME/log.\n"
	"Exit status of the table commands: 0 on success, 1 on any error.\n"
	"\n";

void print_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("udmcrypt: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_print_usage(FILE *out)
{
	fputs(usage_text, out);
	volume_print_usage(out);
}

static void print_version(void)
{
	printf("udmcrypt %s\n", UDMCRYPT_VERSION);
}

static const struct verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	}
	return NULL;
}

static void print_usage_hint(void)
{
	fputs("Try 'udmcrypt --help' for more information.\n", stderr);
}

/* Whether an option given as a separate word takes the next word as its
 * value, for the options of every verb. */
static bool takes_value(const char *arg)
{
	static const char *const long_names[] = {
		"--dir", "--key-file", "--keyfile-offset", "--keyfile-size", "--new-keyfile",
		"--new-keyfile-offset", "--new-keyfile-size", "--key-slot", "--header",
		"--header-backup-file", "--volume-key-file", "--master-key-file", "--label",
		"--subsystem", "--sector-size", "--cipher", "--key-size", "--hash", "--pbkdf",
		"--iter-time", "--pbkdf-memory", "--pbkdf-parallel", "--pbkdf-force-iterations",
		"--luks2-metadata-size", "--luks2-keyslots-size", "--offset", "--skip", "--size",
		"--type", "--uuid", "--tries", "--nbd",
	};

	if (arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2])
		return strchr("dlScshiopbMT", arg[1]) != NULL;
	for (size_t i = 0; i < sizeof(long_names) / sizeof(long_names[0]); i++)
		if (!strcmp(arg, long_names[i]))
			return true;
	return false;
}

/* Moves the first word that is not an option to argv[1], so that options
 * may come before the verb, as dmsetup and cryptsetup allow. */
static void move_verb_first(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *verb = argv[i];

		if (!strcmp(verb, "--"))
			return;
		if (verb[0] == '-') {
			if (takes_value(verb))
				i++;
			continue;
		}
		memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof(*argv));
		argv[1] = verb;
		return;
	}
}

/* Parses the options after the verb; returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, const struct verb *verb,
			 struct cli_options *opts)
{
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":rhV", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_DIR:
			opts->dir = optarg;
			break;
		case 'r':
			opts->readonly = true;
			break;
		case OPT_NBD:
			opts->nbd = optarg;
			break;
		case OPT_SHOWKEYS:
			/* getopt_long takes prefixes such as --sh; an option that
			 * prints keys must be spelled out. */
			if (strcmp(argv[optind - 1], "--showkeys")) {
				print_error("option %s: write --showkeys in full to print keys",
					    argv[optind - 1]);
				return 1;
			}
			opts->show_keys = true;
			break;
		case 'h':
			cli_print_usage(stdout);
			return 0;
		case 'V':
			print_version();
			return 0;
		case ':':
			print_error("option %s needs an argument", argv[optind - 1]);
			print_usage_hint();
			return 1;
		default:
			if (optopt)
				print_error("unknown option -%c", optopt);
			else
				print_error("unknown option %s", argv[optind - 1]);
			print_usage_hint();
			return 1;
		}
	}

	if (opts->readonly && !(verb->accepts & ACCEPTS_READONLY)) {
		print_error("option --readonly is valid only for create");
		return 1;
	}
	if (opts->nbd && !(verb->accepts & ACCEPTS_NBD)) {
		print_error("option --nbd is valid only for create and open");
		return 1;
	}
	if (opts->show_keys && !(verb->accepts & ACCEPTS_SHOWKEYS)) {
		print_error("option --showkeys is valid only for table");
		return 1;
	}
	return -1;
}

static int check_operands(int count, const struct verb *verb)
{
	if (count < verb->min_operands) {
		print_error("%s needs a device name", verb->name);
		print_usage_hint();
		return 1;
	}
	if (count > verb->max_operands) {
		print_error("too many arguments for %s", verb->name);
		print_usage_hint();
		return 1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct cli_options opts = { .dir = UDMCRYPT_DEFAULT_DIR };
	const struct verb *verb;
	int status, operands;

	if (argc < 2) {
		cli_print_usage(stderr);
		return 1;
	}
	move_verb_first(argc, argv);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "-?") == 0) {
		cli_print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		print_version();
		return 0;
	}
	if (volume_verb_exists(argv[1]))
		return volume_main(argc, argv);
	verb = find_verb(argv[1]);
	if (!verb) {
		print_error("unknown command %s", argv[1]);
		print_usage_hint();
		return 1;
	}

	/* getopt_long treats the verb as its argv[0] and moves operands to the end. */
	status = parse_options(argc - 1, argv + 1, verb, &opts);
	if (status >= 0)
		return status;
	operands = argc - 1 - optind;
	status = check_operands(operands, verb);
	if (status >= 0)
		return status;
	if (operands > 0)
		opts.name = argv[1 + optind];
	if (operands > 1)
		opts.table_file = argv[2 + optind];

	if (strcmp(verb->name, "help") == 0) {
		cli_print_usage(stdout);
		return 0;
	}
	if (strcmp(verb->name, "version") == 0) {
		print_version();
		return 0;
	}
	return verb->run(&opts);
}
