// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes what the FUSE daemon's control socket parses. The first line of
 * the input is a client's request, cut at REQUEST_MAX - 1 bytes as the
 * daemon receives it. The rest is the body of an "info" reply, which the
 * commands parse.
 */
#include "daemon.h"
#include "fuzz.h"

/* The daemon's request buffer: src/fuse/control.c, REQUEST_MAX. */
#define REQUEST_MAX 64

/* The daemon's log (src/fuse/daemon_log.c) is not linked: nothing to log. */
void daemon_log(enum daemon_log_level level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *newline = memchr(data, '\n', size);
	size_t line_len = newline ? (size_t)(newline - data) : size;
	struct mapping_info info;
	enum control_op op;
	char *body;

	if (size > 4096)
		return -1;
	if (line_len < REQUEST_MAX - 1)
		control_request_parse((const char *)data, line_len, &op);

	body = newline ? fuzz_strndup(newline + 1, size - line_len - 1) : NULL;
	if (body)
		mapping_info_parse(body, &info);
	free(body);
	return 0;
}
