// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the nbdkit filter's parameters and the table it builds from
 * them: the input is "key=value" lines, then an empty line, then the
 * secret (a table file's text, or a plain passphrase or key). A table or
 * plain volume is built on a 1 MiB plugin of zeros and opened as each
 * connection opens it. LUKS types stop after the parameter checks,
 * because fuzz-luks1 and fuzz-luks2 cover their headers.
 */
#include <stdio.h>

#include "filter.h"
#include "fuzz.h"

#define PLUGIN_SIZE (1u << 20)

static struct memdev plugin_backing = { NULL, 0, PLUGIN_SIZE, false };
static const struct udm_blockdev plugin = { PLUGIN_DEVICE, &memdev_ops, &plugin_backing };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

/* Stores each "key=value" line up to the first empty one; *text moves to
 * the secret after it. Returns 0 or -1 at the first rejected line. */
static int set_options(struct filter_options *opts, char **text)
{
	char *line = *text, *newline, *equals;

	for (; *line && *line != '\n'; line = newline ? newline + 1 : line + strlen(line)) {
		newline = strchr(line, '\n');
		if (newline)
			*newline = '\0';
		equals = strchr(line, '=');
		if (!equals)
			return -1;
		*equals = '\0';
		if (options_set(opts, line, equals + 1) < 0)
			return -1;
		if (!newline)
			break;
	}
	*text = *line == '\n' ? line + 1 : line + strlen(line);
	return 0;
}

static void build_and_open(const struct filter_options *opts, const char *secret_text)
{
	struct udm_error err = { .msg = "" };
	size_t len = strlen(secret_text);
	struct udm_key *secret = udm_key_new(len + 1);
	struct udm_device *dev = NULL;
	char *table;

	if (!secret)
		return;
	memcpy(secret->data, secret_text, len);
	secret->size = len;
	table = table_build(opts, secret, &plugin);
	if (table && !udm_device_open_with(&dev, table, opts->readonly ? UDM_OPEN_READONLY : 0,
					   &plugin, 1, &err))
		udm_device_close(dev);
	udm_secure_free(table);
	udm_key_free(secret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filter_options opts = { 0 };
	char *input, *text;

	if (size > 8192)
		return -1;
	input = fuzz_strndup(data, size);
	if (!input)
		return 0;
	text = input;
	if (!set_options(&opts, &text) && !options_check(&opts) &&
	    (opts.table_file || opts.type == UDM_VOLUME_PLAIN))
		build_and_open(&opts, text);
	options_free(&opts);
	free(input);
	return 0;
}
