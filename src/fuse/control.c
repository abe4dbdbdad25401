// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of a mapping: the server thread inside the daemon and
 * the client used by the commands.
 *
 * Protocol: the client sends one request line ("table", "table-keys",
 * "status", "info" or "remove"). The server replies with a line containing 0
 * or a negative errno, then the body, and closes the connection. Only the
 * daemon's own user and root may connect (checked with SO_PEERCRED).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include "udmcrypt.h"
#include "daemon.h"

#define REQUEST_MAX 64
#define REPLY_MAX (16u << 20)
#define SERVER_IO_TIMEOUT_MS 2000

struct control_server {
	pthread_t thread;
	bool thread_started;
	int listen_fd;
	int signal_fd;
	int wake_pipe[2];
	struct udm_device *dev;
	struct control_hooks hooks;
	char path[PATH_MAX];
	bool stopping;		/* the stop hook was called */
	int stop_signal;
};

/* How often the stop hook is called again until the daemon stops the server. */
#define STOP_REPEAT_MS 100

static void request_stop(struct control_server *server, int signo)
{
	if (!server->stopping) {
		server->stopping = true;
		server->stop_signal = signo;
	}
	server->hooks.stop(server->hooks.ctx, server->stop_signal);
}

/*
 * Fills addr for the control socket of paths. A path too long for sun_path
 * (names reach 127 bytes) is reached through an O_PATH descriptor of the
 * state directory and /proc/self/fd; *dirfd receives it, or -1.
 */
static int control_address(const struct mapping_paths *paths, struct sockaddr_un *addr,
			   int *dirfd)
{
	int len;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(paths->control) < sizeof(addr->sun_path)) {
		strcpy(addr->sun_path, paths->control);
		return 0;
	}
	*dirfd = open(paths->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -errno;
	len = snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/control", *dirfd);
	if (len < 0 || (size_t)len >= sizeof(addr->sun_path)) {
		close(*dirfd);
		*dirfd = -1;
		return -ENAMETOOLONG;
	}
	return 0;
}

static void set_socket_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int send_all(int fd, const char *data, size_t len)
{
	ssize_t sent;

	while (len > 0) {
		sent = send(fd, data, len, MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		data += sent;
		len -= (size_t)sent;
	}
	return 0;
}

/* Growable reply buffer; secure buffers live in udm_secure_alloc memory. */
struct buffer {
	char *data;
	size_t len;
	size_t cap;
	bool secure;
};

static void buffer_free(struct buffer *buf)
{
	if (buf->secure)
		udm_secure_free(buf->data);
	else
		free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

static int buffer_reserve(struct buffer *buf, size_t extra)
{
	size_t cap = buf->cap ? buf->cap : 4096;
	char *grown;

	if (buf->len + extra + 1 <= buf->cap)
		return 0;
	while (cap < buf->len + extra + 1)
		cap *= 2;
	if (cap > REPLY_MAX)
		return -EMSGSIZE;
	grown = buf->secure ? udm_secure_alloc(cap) : calloc(1, cap);
	if (!grown)
		return -ENOMEM;
	if (buf->len)
		memcpy(grown, buf->data, buf->len);
	buffer_free(buf);
	buf->data = grown;
	buf->cap = cap;
	return 0;
}

/* Reads until end of file; the data is NUL-terminated. */
static int buffer_read_all(struct buffer *buf, int fd)
{
	ssize_t got;
	int ret;

	for (;;) {
		ret = buffer_reserve(buf, 4096);
		if (ret)
			return ret;
		got = recv(fd, buf->data + buf->len, buf->cap - buf->len - 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (got == 0)
			break;
		buf->len += (size_t)got;
	}
	buf->data[buf->len] = '\0';
	return 0;
}

/* Splits "STATUS\nBODY" into reply; takes over the buffer. */
static int reply_from_buffer(struct control_reply *reply, struct buffer *buf)
{
	char *newline, *end;
	long status;
	size_t head;

	newline = memchr(buf->data, '\n', buf->len);
	if (!newline)
		return -EPROTO;
	errno = 0;
	status = strtol(buf->data, &end, 10);
	if (errno || end != newline || status > 0 || status < -4095)
		return -EPROTO;

	head = (size_t)(newline + 1 - buf->data);
	memmove(buf->data, newline + 1, buf->len - head + 1);
	if (buf->secure)
		memset(buf->data + buf->len - head + 1, 0, head);
	reply->status = (int)status;
	reply->body = buf->data;
	reply->len = buf->len - head;
	reply->secure = buf->secure;
	buf->data = NULL;
	buf->len = buf->cap = 0;
	return 0;
}

int control_request(const struct mapping_paths *paths, const char *request,
		    struct control_reply *reply)
{
	struct buffer buf = { .secure = strcmp(request, "table-keys") == 0 };
	struct sockaddr_un addr;
	int fd = -1, dirfd = -1;
	char line[REQUEST_MAX];
	int ret;

	memset(reply, 0, sizeof(*reply));
	ret = control_address(paths, &addr, &dirfd);
	if (ret)
		goto exit;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto exit;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		goto exit;
	}
	set_socket_timeout(fd, CONTROL_TIMEOUT_MS);

	snprintf(line, sizeof(line), "%s\n", request);
	ret = send_all(fd, line, strlen(line));
	if (!ret)
		ret = buffer_read_all(&buf, fd);
	if (!ret)
		ret = reply_from_buffer(reply, &buf);
exit:
	buffer_free(&buf);
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	return ret;
}

void control_reply_free(struct control_reply *reply)
{
	if (reply->secure)
		udm_secure_free(reply->body);
	else
		free(reply->body);
	memset(reply, 0, sizeof(*reply));
}

static int parse_u64(const char *text, uint64_t *value)
{
	char *end;

	errno = 0;
	*value = strtoull(text, &end, 10);
	if (errno || end == text || *text == '-' || (*end != '\0' && *end != '\n'))
		return -EPROTO;
	return 0;
}

int mapping_info_parse(const char *body, struct mapping_info *info)
{
	const char *line = body, *next;
	uint64_t value;
	int seen = 0, len;
	char key[32];

	memset(info, 0, sizeof(*info));
	for (; *line; line = *next ? next + 1 : next) {
		next = strchrnul(line, '\n');
		if (sscanf(line, "%31s %n", key, &len) != 1 || parse_u64(line + len, &value))
			return -EPROTO;
		if (strcmp(key, "pid") == 0)
			info->pid = (pid_t)value;
		else if (strcmp(key, "size") == 0)
			info->size = value;
		else if (strcmp(key, "block_size") == 0)
			info->block_size = (unsigned)value;
		else if (strcmp(key, "readonly") == 0)
			info->readonly = value != 0;
		else if (strcmp(key, "open_count") == 0)
			info->open_count = (unsigned)value;
		else
			continue;
		seen++;
	}
	return seen == 5 ? 0 : -EPROTO;
}

/* Server side. */

static int send_reply(int fd, int status, const char *body)
{
	char head[32];
	int ret;

	snprintf(head, sizeof(head), "%d\n", status);
	ret = send_all(fd, head, strlen(head));
	if (!ret && body)
		ret = send_all(fd, body, strlen(body));
	return ret;
}

/* Receives one request line, without its newline, into line. Returns its
 * length or a negative errno; -EMSGSIZE when it does not fit. */
static ssize_t read_request(int fd, char *line, size_t size)
{
	size_t len = 0;
	ssize_t got;

	while (len + 1 < size) {
		got = recv(fd, line + len, 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0 || line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	return len + 1 < size ? (ssize_t)len : -EMSGSIZE;
}

int control_request_parse(const char *line, size_t len, enum control_op *op)
{
	static const struct {
		const char *name;
		enum control_op op;
	} requests[] = {
		{ "table", CONTROL_TABLE },
		{ "table-keys", CONTROL_TABLE_KEYS },
		{ "status", CONTROL_STATUS },
		{ "info", CONTROL_INFO },
		{ "remove", CONTROL_REMOVE },
	};

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		if (strlen(requests[i].name) == len && !memcmp(line, requests[i].name, len)) {
			*op = requests[i].op;
			return 0;
		}
	}
	return -EINVAL;
}

static void serve_table(struct control_server *server, int fd, bool show_keys)
{
	char *table = udm_device_table(server->dev, show_keys);

	send_reply(fd, table ? 0 : -ENOMEM, table);
	if (show_keys)
		udm_secure_free(table);
	else
		free(table);
}

static void serve_status(struct control_server *server, int fd)
{
	char *status = udm_device_status(server->dev);

	send_reply(fd, status ? 0 : -ENOMEM, status);
	free(status);
}

static void serve_info(struct control_server *server, int fd)
{
	char body[256];

	snprintf(body, sizeof(body),
		 "pid %d\nsize %" PRIu64 "\nblock_size %u\nreadonly %d\nopen_count %u\n",
		 (int)getpid(), udm_device_size(server->dev),
		 udm_device_block_size(server->dev), udm_device_readonly(server->dev) ? 1 : 0,
		 server->hooks.open_count(server->hooks.ctx));
	send_reply(fd, 0, body);
}

static void serve_remove(struct control_server *server, int fd, uid_t uid)
{
	int ret;

	daemon_log(DAEMON_LOG_INFO, "remove requested by uid %u", (unsigned)uid);
	ret = server->hooks.unmount(server->hooks.ctx);
	if (ret) {
		daemon_log(DAEMON_LOG_WARN, "cannot remove the device: %s", strerror(-ret));
		send_reply(fd, ret, NULL);
		return;
	}
	send_reply(fd, 0, NULL);
	request_stop(server, 0);
}

static void serve_client(struct control_server *server, int fd)
{
	char request[REQUEST_MAX];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ssize_t len_or_error;
	enum control_op op;

	set_socket_timeout(fd, SERVER_IO_TIMEOUT_MS);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		daemon_log(DAEMON_LOG_WARN, "cannot read the peer credentials: %s", strerror(errno));
		return;
	}
	if (cred.uid != 0 && cred.uid != getuid()) {
		daemon_log(DAEMON_LOG_WARN, "rejected a control connection from uid %u",
			   (unsigned)cred.uid);
		send_reply(fd, -EACCES, NULL);
		return;
	}
	len_or_error = read_request(fd, request, sizeof(request));
	if (len_or_error < 0 ||
	    control_request_parse(request, (size_t)len_or_error, &op)) {
		daemon_log(DAEMON_LOG_WARN, "invalid control request from uid %u",
			   (unsigned)cred.uid);
		send_reply(fd, -EINVAL, NULL);
		return;
	}

	switch (op) {
	case CONTROL_TABLE:
		serve_table(server, fd, false);
		break;
	case CONTROL_TABLE_KEYS:
		daemon_log(DAEMON_LOG_INFO, "table with keys requested by uid %u",
			   (unsigned)cred.uid);
		serve_table(server, fd, true);
		break;
	case CONTROL_STATUS:
		serve_status(server, fd);
		break;
	case CONTROL_INFO:
		serve_info(server, fd);
		break;
	case CONTROL_REMOVE:
		serve_remove(server, fd, cred.uid);
		break;
	}
}

static void handle_signal(struct control_server *server)
{
	struct signalfd_siginfo info;

	if (read(server->signal_fd, &info, sizeof(info)) != sizeof(info))
		return;
	daemon_log(DAEMON_LOG_INFO, "received signal %s, stopping", strsignal((int)info.ssi_signo));
	request_stop(server, (int)info.ssi_signo);
}

static void *server_thread(void *arg)
{
	struct control_server *server = arg;
	struct pollfd fds[3] = {
		{ .fd = server->listen_fd, .events = POLLIN },
		{ .fd = server->signal_fd, .events = POLLIN },
		{ .fd = server->wake_pipe[0], .events = POLLIN },
	};
	int client, ready;

	for (;;) {
		ready = poll(fds, 3, server->stopping ? STOP_REPEAT_MS : -1);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			daemon_log(DAEMON_LOG_ERR, "control server poll failed: %s", strerror(errno));
			break;
		}
		if (ready == 0) {
			request_stop(server, server->stop_signal);
			continue;
		}
		if (fds[2].revents)
			break;
		if (fds[1].revents)
			handle_signal(server);
		if (!(fds[0].revents & POLLIN))
			continue;
		client = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (client < 0)
			continue;
		serve_client(server, client);
		close(client);
	}
	return NULL;
}

static int server_bind(struct control_server *server, const struct mapping_paths *paths)
{
	struct sockaddr_un addr;
	mode_t old_umask;
	int dirfd, ret;

	ret = control_address(paths, &addr, &dirfd);
	if (ret)
		return ret;
	server->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (server->listen_fd < 0) {
		ret = -errno;
		goto exit;
	}
	/* The umask sets the socket file's mode: 0600. */
	old_umask = umask(0177);
	if (bind(server->listen_fd, (struct sockaddr *)&addr, sizeof(addr)))
		ret = -errno;
	umask(old_umask);
	if (!ret && listen(server->listen_fd, 16))
		ret = -errno;
exit:
	if (dirfd >= 0)
		close(dirfd);
	return ret;
}

static int server_signals_open(struct control_server *server)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	server->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return server->signal_fd < 0 ? -errno : 0;
}

int control_server_start(struct control_server **serverp, const struct mapping_paths *paths,
			 struct udm_device *dev, const struct control_hooks *hooks)
{
	struct control_server *server;
	bool bound = false;
	int ret;

	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->listen_fd = server->signal_fd = -1;
	server->wake_pipe[0] = server->wake_pipe[1] = -1;
	server->dev = dev;
	server->hooks = *hooks;
	strcpy(server->path, paths->control);

	ret = server_bind(server, paths);
	bound = ret == 0;
	if (!ret)
		ret = server_signals_open(server);
	if (!ret && pipe2(server->wake_pipe, O_CLOEXEC))
		ret = -errno;
	if (!ret)
		ret = -pthread_create(&server->thread, NULL, server_thread, server);
	if (ret)
		goto exit;
	server->thread_started = true;
	*serverp = server;
	return 0;
exit:
	if (bound)
		unlink(paths->control);
	control_server_stop(server);
	return ret;
}

void control_server_stop(struct control_server *server)
{
	if (!server)
		return;
	if (server->thread_started) {
		if (write(server->wake_pipe[1], "", 1) != 1)
			daemon_log(DAEMON_LOG_WARN, "cannot wake the control thread: %s",
				   strerror(errno));
		pthread_join(server->thread, NULL);
		unlink(server->path);
	}
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	if (server->signal_fd >= 0)
		close(server->signal_fd);
	if (server->wake_pipe[0] >= 0)
		close(server->wake_pipe[0]);
	if (server->wake_pipe[1] >= 0)
		close(server->wake_pipe[1]);
	free(server);
}
