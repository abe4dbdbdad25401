// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * NBD exports of "create --nbd" and "open --nbd": nbdkit with its file
 * plugin on the backing file and the udmcrypt filter in front, started in
 * its own session so that it outlives the command. The table reaches nbdkit
 * through a pipe (udmcrypt-table=/dev/fd/3), never through its arguments or
 * a file. The mapping's state directory records the export:
 *   DIR/.udmcrypt/NAME/nbd   "PID\nURI\n" of the running nbdkit
 *   DIR/.udmcrypt/NAME/log   nbdkit's messages, kept after removal
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "udmcrypt.h"
#include "cli.h"
#include "../fuse/frontend.h"

#define FILTER_FILE "nbdkit-udmcrypt-filter.so"
/* The descriptor nbdkit reads the table from. */
#define TABLE_FD 3
/* A table file contains a few lines; this limit only stops a wrong file early. */
#define TABLE_MAX (1024u * 1024u)
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000
#define POLL_MS 50

/* The address of an export: a Unix socket, or a TCP host and port. */
struct endpoint {
	bool is_unix;
	char path[PATH_MAX];	/* absolute socket path */
	char host[256];
	char port[6];
	char uri[PATH_MAX + 32];
};

/*
 * Parses SOCKET (any value with '/'), HOST:PORT, [IPV6]:PORT, :PORT or PORT;
 * HOST defaults to 127.0.0.1. Returns 0 or 1 after an error line.
 */
static int endpoint_parse(struct endpoint *ep, const char *value)
{
	const char *original = value;
	const char *colon = strrchr(value, ':'), *port = colon ? colon + 1 : value;
	size_t host_len = colon ? (size_t)(colon - value) : 0;
	char cwd[PATH_MAX], *end;
	unsigned long number;

	memset(ep, 0, sizeof(*ep));
	if (strchr(value, '/')) {
		ep->is_unix = true;
		if (value[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
			print_error("cannot resolve the socket path %s: %s", value, strerror(errno));
			return 1;
		}
		if (snprintf(ep->path, sizeof(ep->path), "%s%s%s", value[0] == '/' ? "" : cwd,
			     value[0] == '/' ? "" : "/", value) >= (int)sizeof(ep->path) ||
		    strlen(ep->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			print_error("invalid NBD socket path %s: it is too long", value);
			return 1;
		}
		snprintf(ep->uri, sizeof(ep->uri), "nbd+unix:///?socket=%s", ep->path);
		return 0;
	}

	if (host_len >= 2 && value[0] == '[' && value[host_len - 1] == ']') {
		value++;
		host_len -= 2;
	}
	errno = 0;
	number = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end || errno || !number || number > 65535 ||
	    host_len >= sizeof(ep->host)) {
		print_error("invalid NBD endpoint '%s': expected a socket path with '/', "
			    "HOST:PORT or PORT (1 to 65535)", original);
		return 1;
	}
	snprintf(ep->host, sizeof(ep->host), "%.*s", (int)host_len, value);
	if (!ep->host[0])
		snprintf(ep->host, sizeof(ep->host), "127.0.0.1");
	snprintf(ep->port, sizeof(ep->port), "%lu", number);
	snprintf(ep->uri, sizeof(ep->uri), strchr(ep->host, ':') ? "nbd://[%s]:%s/" :
		 "nbd://%s:%s/", ep->host, ep->port);
	return 0;
}

/* Reads the table file, or standard input without one, into locked memory
 * as a string. Returns NULL after an error line. */
static struct udm_key *table_read(const char *path)
{
	const char *source = path ? path : "standard input";
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	struct udm_key *table = NULL;
	int ret;

	if (fd < 0) {
		print_error("cannot open table file %s: %s", path, strerror(errno));
		return NULL;
	}
	ret = udm_key_read(&table, fd, 0, 0, TABLE_MAX, 0);
	if (path)
		close(fd);
	if (ret == 0 && memchr(table->data, '\0', table->size))
		ret = -EFBIG;
	if (ret == -EFBIG)
		print_error("invalid table from %s: it is larger than 1 MiB or contains a NUL byte",
			    source);
	else if (ret < 0)
		print_error("cannot read the table from %s: %s", source, strerror(-ret));
	if (ret) {
		udm_key_free(table);
		table = NULL;
	}
	return table;
}

/*
 * Finds the one backing file that the crypt (7th field) and linear (4th
 * field) targets of table name, because the file plugin serves one file.
 * Writes its canonical path to image. Returns 0 or 1 after an error line.
 */
static int table_image(const char *table, char *image)
{
	char *work = udm_secure_alloc(strlen(table) + 1), device[PATH_MAX] = "";
	int status = 1;

	if (!work) {
		print_error("cannot allocate locked memory for the table");
		return 1;
	}
	strcpy(work, table);
	for (char *line = work, *next; line; line = next) {
		char *save = NULL, *field;
		int device_index = -1;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		field = strtok_r(line, " \t\r", &save);
		if (field && field[0] == '#')
			continue;
		for (int i = 0; field && (i <= 2 || i <= device_index); i++) {
			if (i == 2 && !strcmp(field, "crypt"))
				device_index = 6;
			else if (i == 2 && !strcmp(field, "linear"))
				device_index = 3;
			if (i == device_index && device[0] && strcmp(device, field)) {
				print_error("cannot export the table over NBD: its targets use %s "
					    "and %s, and the export serves one backing file", device,
					    field);
				goto out;
			}
			if (i == device_index)
				snprintf(device, sizeof(device), "%s", field);
			field = strtok_r(NULL, " \t\r", &save);
		}
	}
	if (!device[0]) {
		print_error("cannot export the table over NBD: it has no crypt or linear target");
		goto out;
	}
	if (!realpath(device, image)) {
		print_error("cannot resolve device %s: %s", device, strerror(errno));
		goto out;
	}
	status = 0;
out:
	udm_secure_free(work);
	return status;
}

/* The filter: $UDMCRYPT_NBDKIT_FILTER, else the one built beside this
 * program, else "udmcrypt", which nbdkit looks up in its filter directory. */
static void filter_path(char *path, size_t size)
{
	const char *env = getenv("UDMCRYPT_NBDKIT_FILTER");
	char self[PATH_MAX];
	ssize_t len;

	if (env && env[0]) {
		snprintf(path, size, "%s", env);
		return;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		*strrchr(self, '/') = '\0';
		if (snprintf(path, size, "%s/%s", self, FILTER_FILE) < (int)size &&
		    access(path, R_OK) == 0)
			return;
	}
	snprintf(path, size, "udmcrypt");
}

/* Replaces the process with nbdkit, standard input from /dev/null, output
 * in log_fd and the table on TABLE_FD. */
static void __attribute__((noreturn)) nbdkit_exec(const char *const *argv, int table_fd,
						  int log_fd)
{
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0 ||
	    (table_fd == TABLE_FD ? fcntl(TABLE_FD, F_SETFD, 0) : dup2(table_fd, TABLE_FD)) < 0)
		_exit(127);
	execvp(argv[0], (char *const *)argv);
	dprintf(STDERR_FILENO, "nbdkit: error: cannot run nbdkit: %s\n", strerror(errno));
	_exit(127);
}

/*
 * Starts nbdkit in a new session as a grandchild that init (or the nearest
 * subreaper) adopts before the exec. strace showed nbdkit 1.32.5 (Debian 12)
 * calling prctl(PR_SET_PDEATHSIG, SIGTERM) at startup without
 * --exit-with-parent, so as a child of this command it would stop when the
 * command exits. Returns nbdkit's process id, or -1 after an error line.
 */
static pid_t nbdkit_spawn(const char *const *argv, int table_fd, int log_fd)
{
	int pid_pipe[2], status;
	pid_t middle, nbdkit = -1;

	if (pipe2(pid_pipe, O_CLOEXEC)) {
		print_error("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	middle = fork();
	if (middle == 0) {
		pid_t parent = getpid();

		setsid();
		nbdkit = fork();
		if (nbdkit == 0) {
			/* Wait up to 5 s for the adoption, after the middle process exits. */
			for (int i = 0; i < 5000 && getppid() == parent; i++)
				usleep(1000);
			nbdkit_exec(argv, table_fd, log_fd);
		}
		if (write(pid_pipe[1], &nbdkit, sizeof(nbdkit)) != sizeof(nbdkit))
			_exit(1);
		_exit(nbdkit < 0);
	}
	close(pid_pipe[1]);
	if (middle > 0 && (read(pid_pipe[0], &nbdkit, sizeof(nbdkit)) != sizeof(nbdkit) ||
			   nbdkit <= 0))
		nbdkit = -1;
	close(pid_pipe[0]);
	if (middle > 0)
		while (waitpid(middle, &status, 0) < 0 && errno == EINTR)
			;
	if (nbdkit < 0)
		print_error("cannot start nbdkit: %s", middle < 0 ? strerror(errno) :
			    "fork failed");
	return nbdkit;
}

/* nbdkit's argument vector and the strings it points to. */
struct nbdkit_args {
	char filter[PATH_MAX + 16];
	char file[PATH_MAX + 8];
	char table[32];
	const char *argv[16];
};

static void nbdkit_args_init(struct nbdkit_args *args, const struct endpoint *ep,
			     const char *image, bool readonly)
{
	char path[PATH_MAX];
	int argc = 0;

	filter_path(path, sizeof(path));
	snprintf(args->filter, sizeof(args->filter), "--filter=%s", path);
	snprintf(args->file, sizeof(args->file), "file=%s", image);
	snprintf(args->table, sizeof(args->table), "udmcrypt-table=/dev/fd/%d", TABLE_FD);
	args->argv[argc++] = "nbdkit";
	args->argv[argc++] = "-f";
	args->argv[argc++] = ep->is_unix ? "-U" : "-i";
	args->argv[argc++] = ep->is_unix ? ep->path : ep->host;
	if (!ep->is_unix) {
		args->argv[argc++] = "-p";
		args->argv[argc++] = ep->port;
	}
	if (readonly)
		args->argv[argc++] = "-r";
	args->argv[argc++] = args->filter;
	args->argv[argc++] = "file";
	args->argv[argc++] = args->file;
	args->argv[argc++] = args->table;
	args->argv[argc] = NULL;
}

static int connect_endpoint(const struct endpoint *ep)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list, *ai;
	int fd = -1;

	if (ep->is_unix) {
		size_t len = strlen(ep->path);

		if (len >= sizeof(addr.sun_path))
			return -1;
		memcpy(addr.sun_path, ep->path, len + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	if (getaddrinfo(ep->host, ep->port, &hints, &list))
		return -1;
	for (ai = list; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(list);
	return fd;
}

/*
 * Returns whether the export greets a client: nbdkit sends its newstyle
 * greeting only after the filter has mapped the table. The probe then ends
 * the handshake with NBD_OPT_ABORT, so that nbdkit logs no error for it.
 */
static bool endpoint_ready(const struct endpoint *ep)
{
	static const uint8_t abort_option[] = {
		0, 0, 0, 1,				/* client flags: fixed newstyle */
		'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',	/* option magic */
		0, 0, 0, 2,				/* NBD_OPT_ABORT */
		0, 0, 0, 0,				/* no data */
	};
	struct pollfd pfd = { .events = POLLIN };
	char greeting[18], reply[20];
	bool ready = false;

	pfd.fd = connect_endpoint(ep);
	if (pfd.fd < 0)
		return false;
	if (poll(&pfd, 1, 200) == 1 &&
	    recv(pfd.fd, greeting, sizeof(greeting), MSG_WAITALL) == sizeof(greeting))
		ready = !memcmp(greeting, "NBDMAGICIHAVEOPT", 16);
	if (ready && send(pfd.fd, abort_option, sizeof(abort_option), MSG_NOSIGNAL) ==
	    sizeof(abort_option) && poll(&pfd, 1, 200) == 1)
		recv(pfd.fd, reply, sizeof(reply), MSG_WAITALL);
	close(pfd.fd);
	return ready;
}

static void state_file(const struct mapping_paths *paths, char *path, size_t size)
{
	snprintf(path, size, "%s/nbd", paths->state_dir);
}

bool cli_nbd_exists(const struct mapping_paths *paths)
{
	char path[PATH_MAX + 8];
	struct stat st;

	state_file(paths, path, sizeof(path));
	return lstat(path, &st) == 0;
}

/* Records the export: "PID\nURI\nSOCKET\n", SOCKET empty for TCP. */
static int state_write(const struct mapping_paths *paths, pid_t pid, const struct endpoint *ep)
{
	char path[PATH_MAX + 8];
	int fd, ret;

	state_file(paths, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		print_error("cannot create %s: %s", path, strerror(errno));
		return 1;
	}
	ret = dprintf(fd, "%d\n%s\n%s\n", (int)pid, ep->uri, ep->is_unix ? ep->path : "");
	if (close(fd) || ret < 0) {
		print_error("cannot write %s: %s", path, strerror(errno));
		unlink(path);
		return 1;
	}
	return 0;
}

struct export_state {
	pid_t pid;
	char uri[PATH_MAX + 32];
	char socket[PATH_MAX];
};

static int state_read(const struct mapping_paths *paths, struct export_state *state)
{
	char path[PATH_MAX + 8], line[32];
	FILE *file;
	bool ok;

	state_file(paths, path, sizeof(path));
	file = fopen(path, "re");
	if (!file) {
		print_error("cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	ok = fgets(line, sizeof(line), file) && sscanf(line, "%d", &state->pid) == 1 &&
	     state->pid > 0 && fgets(state->uri, sizeof(state->uri), file) &&
	     fgets(state->socket, sizeof(state->socket), file);
	fclose(file);
	if (!ok) {
		print_error("invalid NBD export record %s", path);
		return 1;
	}
	state->uri[strcspn(state->uri, "\n")] = '\0';
	state->socket[strcspn(state->socket, "\n")] = '\0';
	return 0;
}

/* Returns the state letter of a process in /proc/PID/stat, or 0 without one. */
static char process_state(pid_t pid)
{
	char path[64], state = 0;
	FILE *file;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	file = fopen(path, "re");
	if (!file)
		return 0;
	if (fscanf(file, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(file);
	return state;
}

/* Prints the last error nbdkit logged after offset start, or fallback. */
static void report_nbdkit_error(const struct mapping_paths *paths, off_t start,
				const char *fallback)
{
	FILE *log = fopen(paths->log, "re");
	char line[1024], last[1024] = "";
	const char *error;

	if (log && fseeko(log, start, SEEK_SET) == 0) {
		while (fgets(line, sizeof(line), log)) {
			error = strstr(line, "error: ");
			if (error)
				snprintf(last, sizeof(last), "%s", error + strlen("error: "));
		}
	}
	if (log)
		fclose(log);
	last[strcspn(last, "\n")] = '\0';
	print_error("cannot start the NBD export of device %s: %s", paths->name,
		    last[0] ? last : fallback);
}

static bool process_exited(pid_t pid)
{
	char state = process_state(pid);

	return !state || state == 'Z';
}

/* Waits until the export greets clients, or nbdkit exits. Returns 0 or 1
 * after an error line; the caller then stops nbdkit. */
static int wait_until_ready(const struct mapping_paths *paths, const struct endpoint *ep,
			    pid_t pid, off_t log_start)
{
	int waited;

	for (waited = 0; waited < START_TIMEOUT_MS; waited += POLL_MS) {
		if (process_exited(pid))
			break;
		/* Ready only if nbdkit still runs after the greeting, which
		 * another server on the same endpoint could have sent. */
		if (endpoint_ready(ep) && !process_exited(pid))
			return 0;
		usleep(POLL_MS * 1000);
	}
	if (process_exited(pid)) {
		report_nbdkit_error(paths, log_start, "nbdkit exited during startup");
		return 1;
	}
	print_error("cannot start the NBD export of device %s: nbdkit did not accept connections "
		    "on %s within %d seconds; its messages are in %s", paths->name, ep->uri,
		    START_TIMEOUT_MS / 1000, paths->log);
	return 1;
}

/* Writes the table into the pipe nbdkit reads, even when nbdkit has exited. */
static void table_send(int fd, const char *table)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, saved;
	size_t len = strlen(table);
	ssize_t done;

	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, &saved);
	while (len) {
		done = write(fd, table, len);
		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			break;
		table += done;
		len -= (size_t)done;
	}
	sigaction(SIGPIPE, &saved, NULL);
}

/* Maps the table once here, read-only, so that its errors name the backing
 * file rather than the plugin that nbdkit would report. */
static int table_check(const char *table)
{
	struct udm_error err = { .msg = "" };
	struct udm_device *dev = NULL;
	int ret = udm_device_open(&dev, table, UDM_OPEN_READONLY, &err);

	udm_device_close(dev);
	if (ret)
		print_error("%s", err.msg[0] ? err.msg : strerror(-ret));
	return ret ? 1 : 0;
}

static bool is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
}

int cli_nbd_start(const struct mapping_paths *paths, const char *endpoint, bool readonly,
		  const char *table_file, const char *table)
{
	struct nbdkit_args args;
	struct endpoint ep;
	char image[PATH_MAX];
	struct udm_key *owned = NULL;
	int pipe_fds[2] = { -1, -1 }, log_fd = -1, in_use, status = 1;
	off_t log_start;
	pid_t pid;

	if (endpoint_parse(&ep, endpoint))
		return 1;
	in_use = connect_endpoint(&ep);
	if (in_use >= 0) {
		close(in_use);
		print_error("cannot start the NBD export of device %s: %s is already in use",
			    paths->name, ep.uri);
		return 1;
	}
	if (!table) {
		owned = table_read(table_file);
		table = owned ? (const char *)owned->data : NULL;
	}
	if (!table || table_image(table, image) || table_check(table))
		goto out;
	if (mkdir(paths->state_dir, 0700) && errno != EEXIST) {
		print_error("cannot create directory %s: %s", paths->state_dir, strerror(errno));
		goto out;
	}
	log_fd = open(paths->log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0 || pipe2(pipe_fds, O_CLOEXEC)) {
		print_error("cannot set up nbdkit's log %s and table pipe: %s", paths->log,
			    strerror(errno));
		goto out;
	}
	log_start = lseek(log_fd, 0, SEEK_END);

	nbdkit_args_init(&args, &ep, image, readonly);
	pid = nbdkit_spawn(args.argv, pipe_fds[0], log_fd);
	close(pipe_fds[0]);
	if (pid < 0)
		goto out;
	/* nbdkit reads the table to its end, so close the pipe at once. */
	table_send(pipe_fds[1], table);
	close(pipe_fds[1]);
	pipe_fds[1] = -1;
	if (state_write(paths, pid, &ep)) {
		kill(pid, SIGTERM);
		goto out;
	}
	status = wait_until_ready(paths, &ep, pid, log_start);
	if (status) {
		cli_nbd_stop(paths);
		goto out;
	}
	if (!ep.is_unix && !is_loopback(ep.host))
		print_error("warning: the NBD export on %s has no TLS: anyone who reaches it reads "
			    "and writes the plaintext", ep.uri);
	printf("%s\n", ep.uri);
out:
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	if (log_fd >= 0)
		close(log_fd);
	udm_key_free(owned);
	return status;
}

/* Checks that pid is still the nbdkit this command started, not a reused
 * process id: its arguments read the table from TABLE_FD. */
static bool is_export_nbdkit(pid_t pid)
{
	char path[64], args[8192], table_arg[32];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (len <= 0)
		return false;
	args[len] = '\0';
	snprintf(table_arg, sizeof(table_arg), "udmcrypt-table=/dev/fd/%d", TABLE_FD);
	if (strcmp(args, "nbdkit") && !strstr(args, "/nbdkit"))
		return false;
	for (char *arg = args; arg < args + len; arg += strlen(arg) + 1)
		if (!strcmp(arg, table_arg))
			return true;
	return false;
}

int cli_nbd_stop(const struct mapping_paths *paths)
{
	struct export_state state;
	char path[PATH_MAX + 8];
	struct stat st;
	int waited;

	if (state_read(paths, &state))
		return 1;
	if (is_export_nbdkit(state.pid) && kill(state.pid, SIGTERM) == 0) {
		for (waited = 0; !process_exited(state.pid); waited += POLL_MS) {
			if (waited >= STOP_TIMEOUT_MS) {
				print_error("nbdkit of device %s (pid %d) did not exit within %d "
					    "seconds", paths->name, (int)state.pid,
					    STOP_TIMEOUT_MS / 1000);
				return 1;
			}
			usleep(POLL_MS * 1000);
		}
	}
	if (state.socket[0] && lstat(state.socket, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(state.socket);
	state_file(paths, path, sizeof(path));
	if (unlink(path)) {
		print_error("cannot remove %s: %s", path, strerror(errno));
		return 1;
	}
	return 0;
}
