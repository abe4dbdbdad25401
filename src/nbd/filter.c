// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nbdkit-udmcrypt-filter: serves the plaintext of a dm-crypt table, a
 * LUKS1 or LUKS2 volume or a plain volume whose ciphertext the plugin below
 * stores, encrypted as the Linux dm-crypt target does (nbdkit-filter(3)).
 *
 * The table is built once, in .after_fork on a shared plugin context, so
 * the PBKDF of a LUKS key slot runs once per server and a wrong passphrase
 * stops nbdkit before it serves. Each connection then maps that table on
 * its own plugin context, so the plugin receives the client's export name
 * and read-only flag. The filter keeps no data: every write goes through to the
 * plugin before it completes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <nbdkit-filter.h>

#include "filter.h"

/* Largest request handed to the plugin at once. */
#define PLUGIN_IO_MAX (64u << 20)
/* Request errors: at most ERROR_BURST messages every ERROR_WINDOW seconds. */
#define ERROR_BURST 10
#define ERROR_WINDOW 60

static struct filter_options options;
/* The table file or passphrase, from .config_complete until .after_fork. */
static struct udm_key *secret;
/* The table every connection maps, in locked memory; set in .after_fork,
 * read-only afterwards. */
static char *served_table;

/*
 * The library locks the read-modify-write of a partial encryption sector
 * only within one udm_device, and each connection has its own. This lock
 * serializes such requests across connections: partial writes take it
 * exclusively, partial reads shared. Requests of whole sectors never take it.
 */
static pthread_rwlock_t partial_lock = PTHREAD_RWLOCK_INITIALIZER;

struct connection {
	nbdkit_next *next;
	struct udm_blockdev plugin;	/* ctx is this struct */
	struct udm_device *dev;
	int can_flush, can_trim;	/* the plugin's answers */
};

/* The library's backing device: the plugin, through this connection's next. */

static int plugin_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct connection *c = ctx;
	uint8_t *p = buf;
	int err = 0;

	while (len) {
		uint32_t n = len < PLUGIN_IO_MAX ? (uint32_t)len : PLUGIN_IO_MAX;

		if (c->next->pread(c->next, p, n, off, 0, &err) == -1)
			return -(err ? err : EIO);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int plugin_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct connection *c = ctx;
	const uint8_t *p = buf;
	int err = 0;

	while (len) {
		uint32_t n = len < PLUGIN_IO_MAX ? (uint32_t)len : PLUGIN_IO_MAX;

		if (c->next->pwrite(c->next, p, n, off, 0, &err) == -1)
			return -(err ? err : EIO);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int plugin_flush(void *ctx)
{
	struct connection *c = ctx;
	int err = 0;

	if (c->can_flush != 1)
		return 0;
	if (c->next->flush(c->next, 0, &err) == -1)
		return -(err ? err : EIO);
	return 0;
}

/* A plugin without trim keeps the data, which dm-crypt allows. */
static int plugin_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct connection *c = ctx;
	int err = 0;

	while (len && c->can_trim == 1) {
		uint32_t n = len < PLUGIN_IO_MAX ? (uint32_t)len : PLUGIN_IO_MAX;

		if (c->next->trim(c->next, n, off, 0, &err) == -1)
			return -(err ? err : EIO);
		off += n;
		len -= n;
	}
	return 0;
}

static int plugin_get_size(void *ctx, uint64_t *bytes)
{
	struct connection *c = ctx;
	int64_t size = c->next->get_size(c->next);

	if (size < 0)
		return -EIO;
	*bytes = (uint64_t)size;
	return 0;
}

static const struct udm_blockdev_ops plugin_ops = {
	.pread = plugin_pread,
	.pwrite = plugin_pwrite,
	.flush = plugin_flush,
	.discard = plugin_discard,
	.get_size = plugin_get_size,
};

/*
 * Queries the plugin as nbdkit requires before I/O through next: get_size
 * before a read, can_write before a write. Returns 1 when the connection
 * may write, 0 when it may not, or -1 after the plugin's error.
 */
static int connection_init(struct connection *c, nbdkit_next *next, bool want_write)
{
	int writable = 0;

	c->next = next;
	c->plugin = (struct udm_blockdev){ PLUGIN_DEVICE, &plugin_ops, c };
	if (next->get_size(next) == -1)
		return -1;
	c->can_flush = next->can_flush(next);
	if (c->can_flush == -1)
		return -1;
	if (!want_write)
		return 0;
	writable = next->can_write(next);
	if (writable == 1)
		c->can_trim = next->can_trim(next);
	return writable == -1 || c->can_trim == -1 ? -1 : writable;
}

static void log_to_nbdkit(enum udm_log_level level, const char *msg)
{
	if (level == UDM_LOG_ERROR)
		nbdkit_error("%s", msg);
	else if (level == UDM_LOG_WARN)
		nbdkit_error("warning: %s", msg);
	else
		nbdkit_debug("udmcrypt: %s", msg);
}

static void udmcrypt_load(void)
{
	udm_set_log(log_to_nbdkit, UDM_LOG_DEBUG);
}

static void udmcrypt_unload(void)
{
	udm_key_free(secret);
	secret = NULL;
	udm_secure_free(served_table);
	served_table = NULL;
	options_free(&options);
}

static int udmcrypt_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
			   const char *value)
{
	int r = options_set(&options, key, value);

	return r == 1 ? next(nxdata, key, value) : r;
}

/* Reads the secret files now, while relative paths still resolve and
 * before the server starts, so that a bad file stops nbdkit at once. */
static int udmcrypt_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
	/* OpenSSL and libgcrypt keep expanded keys in their own heap, outside
	 * the locked memory that is left out of core dumps. So the server with
	 * the keys writes no core dump, and only root can ptrace it. */
	prctl(PR_SET_DUMPABLE, 0);
	if (options_check(&options) || options_read_secret(&options, &secret))
		return -1;
	return next(nxdata);
}

static int udmcrypt_thread_model(void)
{
	return NBDKIT_THREAD_MODEL_PARALLEL;
}

/* Checks that the table maps on the plugin, so a bad one stops the server
 * now instead of failing every connection. */
static int check_table(struct connection *c)
{
	struct udm_error err = { .msg = "" };
	struct udm_device *dev = NULL;
	int r;

	r = udm_device_open_with(&dev, served_table, UDM_OPEN_READONLY, &c->plugin, 1, &err);
	if (r && options.table_file)
		nbdkit_error("invalid table file %s: %s", options.table_file, err.msg);
	else if (r)
		nbdkit_error("cannot map the %s volume on the plugin: %s", options.type_name,
			     err.msg);
	else
		nbdkit_debug("udmcrypt: serving %" PRIu64 " bytes with a logical block size of "
			     "%u", udm_device_size(dev), udm_device_block_size(dev));
	udm_device_close(dev);
	return r ? -1 : 0;
}

/*
 * Builds the table on a plugin context of its own, which the LUKS header is
 * read from. The secret is wiped whatever the outcome. The table is
 * allocated here, in the process that serves, so that it is locked in RAM
 * there (memory locks do not survive nbdkit's fork into the background).
 */
static int udmcrypt_after_fork(nbdkit_backend *backend)
{
	nbdkit_next *next = nbdkit_next_context_open(backend, 1, "", 1);
	struct connection setup = { 0 };
	int r = -1;

	if (!next) {
		nbdkit_error("cannot open the plugin to set up the volume");
		goto out;
	}
	if (next->prepare(next) == -1)
		goto close;
	if (connection_init(&setup, next, false) == -1)
		goto finalize;
	served_table = table_build(&options, secret, &setup.plugin);
	if (served_table)
		r = check_table(&setup);
finalize:
	next->finalize(next);
close:
	nbdkit_next_context_close(next);
out:
	udm_key_free(secret);
	secret = NULL;
	return r;
}

static void udmcrypt_cleanup(nbdkit_backend *backend)
{
	udm_secure_free(served_table);
	served_table = NULL;
}

static void *udmcrypt_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
			   const char *exportname, int is_tls)
{
	struct connection *c;

	if (next(context, readonly || options.readonly, exportname) == -1)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		nbdkit_error("cannot allocate the connection state: %m");
	return c;
}

static void udmcrypt_close(void *handle)
{
	struct connection *c = handle;

	udm_device_close(c->dev);
	free(c);
}

static int udmcrypt_prepare(nbdkit_next *next, void *handle, int readonly)
{
	struct connection *c = handle;
	struct udm_error err = { .msg = "" };
	int writable, r;

	writable = connection_init(c, next, !readonly && !options.readonly);
	if (writable == -1)
		return -1;
	r = udm_device_open_with(&c->dev, served_table, writable ? 0 : UDM_OPEN_READONLY,
				 &c->plugin, 1, &err);
	if (r) {
		nbdkit_error("cannot map the table on the plugin: %s", err.msg);
		return -1;
	}
	return 0;
}

static int udmcrypt_finalize(nbdkit_next *next, void *handle)
{
	struct connection *c = handle;

	udm_device_close(c->dev);
	c->dev = NULL;
	return 0;
}

static int64_t udmcrypt_get_size(nbdkit_next *next, void *handle)
{
	struct connection *c = handle;

	return (int64_t)udm_device_size(c->dev);
}

/* The minimum is the logical block size the kernel would give the dm
 * device; smaller requests still work, by read-modify-write. The preferred
 * size is at least 4096 bytes, the size the NBD protocol tells clients to
 * assume when a server sends none. */
static int udmcrypt_block_size(nbdkit_next *next, void *handle, uint32_t *minimum,
			       uint32_t *preferred, uint32_t *maximum)
{
	struct connection *c = handle;
	uint32_t sector = udm_device_block_size(c->dev);

	if (next->block_size(next, minimum, preferred, maximum) == -1)
		return -1;
	if (*minimum < sector)
		*minimum = sector;
	if (*preferred < *minimum)
		*preferred = *minimum;
	if (*preferred < 4096)
		*preferred = 4096;
	if (!*maximum)
		*maximum = 0xffffffff;
	else if (*maximum != 0xffffffff)
		*maximum -= *maximum % *minimum;
	return 0;
}

static int udmcrypt_can_write(nbdkit_next *next, void *handle)
{
	struct connection *c = handle;

	return !udm_device_readonly(c->dev);
}

static int udmcrypt_can_flush(nbdkit_next *next, void *handle)
{
	struct connection *c = handle;

	return c->can_flush;
}

/* FUA is a flush after the request, the only way through the library. */
static int udmcrypt_can_fua(nbdkit_next *next, void *handle)
{
	struct connection *c = handle;

	return c->can_flush == 1 ? NBDKIT_FUA_EMULATE : NBDKIT_FUA_NONE;
}

/* As the kernel, only when every crypt target has allow_discards. */
static int udmcrypt_can_trim(nbdkit_next *next, void *handle)
{
	struct connection *c = handle;

	return c->can_trim == 1 && udm_device_supports_discard(c->dev);
}

/* Zeroes must be encrypted: nbdkit writes them through .pwrite. The
 * plugin's zero would store plaintext zeroes, which read back as noise. */
static int udmcrypt_can_zero(nbdkit_next *next, void *handle)
{
	return NBDKIT_ZERO_EMULATE;
}

static int udmcrypt_can_fast_zero(nbdkit_next *next, void *handle)
{
	return 0;
}

/* The plugin's extents describe ciphertext: every range is data. */
static int udmcrypt_can_extents(nbdkit_next *next, void *handle)
{
	return 0;
}

static int udmcrypt_can_cache(nbdkit_next *next, void *handle)
{
	return NBDKIT_CACHE_NONE;
}

/* Every connection writes through to the plugin, so the plugin decides. */
static int udmcrypt_can_multi_conn(nbdkit_next *next, void *handle)
{
	return next->can_multi_conn(next);
}

/* Reports a failed request, at most ERROR_BURST times per ERROR_WINDOW
 * seconds; later messages are counted and the count reported. */
static void report_request_error(const char *operation, uint32_t count, uint64_t offset,
				 int error)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t window_start;
	static unsigned in_window, suppressed;
	unsigned dropped = 0;
	struct timespec now;
	bool print;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lock);
	if (!window_start || now.tv_sec - window_start >= ERROR_WINDOW) {
		dropped = suppressed;
		window_start = now.tv_sec ? now.tv_sec : 1;
		in_window = suppressed = 0;
	}
	print = in_window < ERROR_BURST;
	if (print)
		in_window++;
	else
		suppressed++;
	pthread_mutex_unlock(&lock);

	if (dropped)
		nbdkit_error("%u more request errors were not reported", dropped);
	if (print)
		nbdkit_error("%s of %" PRIu32 " bytes at offset %" PRIu64 " failed: %s", operation,
			     count, offset, strerror(error));
}

static int request_result(int r, const char *operation, uint32_t count, uint64_t offset,
			  int *err)
{
	if (!r)
		return 0;
	*err = -r;
	report_request_error(operation, count, offset, -r);
	return -1;
}

static bool is_partial(const struct connection *c, uint32_t count, uint64_t offset)
{
	unsigned sector = udm_device_block_size(c->dev);

	return offset % sector || count % sector;
}

static int udmcrypt_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
			  uint64_t offset, uint32_t flags, int *err)
{
	struct connection *c = handle;
	bool partial = is_partial(c, count, offset);
	int r;

	if (partial)
		pthread_rwlock_rdlock(&partial_lock);
	r = udm_device_pread(c->dev, buf, count, offset);
	if (partial)
		pthread_rwlock_unlock(&partial_lock);
	return request_result(r, "read", count, offset, err);
}

static int udmcrypt_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
			   uint64_t offset, uint32_t flags, int *err)
{
	struct connection *c = handle;
	bool partial = is_partial(c, count, offset);
	int r;

	if (partial)
		pthread_rwlock_wrlock(&partial_lock);
	r = udm_device_pwrite(c->dev, buf, count, offset);
	if (partial)
		pthread_rwlock_unlock(&partial_lock);
	if (!r && (flags & NBDKIT_FLAG_FUA))
		r = udm_device_flush(c->dev);
	return request_result(r, "write", count, offset, err);
}

static int udmcrypt_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
	struct connection *c = handle;

	return request_result(udm_device_flush(c->dev), "flush", 0, 0, err);
}

/* The library trims whole encryption sectors only, with no read-modify-write. */
static int udmcrypt_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
			 uint32_t flags, int *err)
{
	struct connection *c = handle;
	int r = udm_device_discard(c->dev, offset, count);

	if (!r && (flags & NBDKIT_FLAG_FUA))
		r = udm_device_flush(c->dev);
	return request_result(r, "trim", count, offset, err);
}

static struct nbdkit_filter filter = {
	.name = "udmcrypt",
	.longname = "nbdkit udmcrypt filter",
	.description = "Serve the plaintext of a dm-crypt table, LUKS or plain volume",
	.config_help =
		"udmcrypt-table=FILE             dm table; every device field means the plugin\n"
		"udmcrypt-type=luks|luks1|luks2|plain  volume type, instead of a table\n"
		"udmcrypt-passphrase-file=FILE   passphrase (LUKS) or key (plain) file\n"
		"udmcrypt-keyfile-offset=BYTES   bytes skipped at the start of that file\n"
		"udmcrypt-keyfile-size=BYTES     bytes read from that file (default: all)\n"
		"udmcrypt-header=FILE            detached LUKS header file\n"
		"udmcrypt-readonly=true          serve read-only\n"
		"udmcrypt-cipher=SPEC            plain: cipher (aes-cbc-essiv:sha256)\n"
		"udmcrypt-hash=HASH              plain: hash the file as a passphrase\n"
		"udmcrypt-key-size=BITS          plain: key size in bits (256)\n"
		"udmcrypt-offset=SECTORS         plain: payload start on the plugin\n"
		"udmcrypt-skip=SECTORS           plain: IV offset\n"
		"udmcrypt-size=SECTORS           plain: mapped size (default: to the end)\n"
		"udmcrypt-sector-size=BYTES      plain: encryption sector size (512)",
	.load = udmcrypt_load,
	.unload = udmcrypt_unload,
	.config = udmcrypt_config,
	.config_complete = udmcrypt_config_complete,
	.thread_model = udmcrypt_thread_model,
	.after_fork = udmcrypt_after_fork,
	.cleanup = udmcrypt_cleanup,
	.open = udmcrypt_open,
	.close = udmcrypt_close,
	.prepare = udmcrypt_prepare,
	.finalize = udmcrypt_finalize,
	.get_size = udmcrypt_get_size,
	.block_size = udmcrypt_block_size,
	.can_write = udmcrypt_can_write,
	.can_flush = udmcrypt_can_flush,
	.can_fua = udmcrypt_can_fua,
	.can_trim = udmcrypt_can_trim,
	.can_zero = udmcrypt_can_zero,
	.can_fast_zero = udmcrypt_can_fast_zero,
	.can_extents = udmcrypt_can_extents,
	.can_cache = udmcrypt_can_cache,
	.can_multi_conn = udmcrypt_can_multi_conn,
	.pread = udmcrypt_pread,
	.pwrite = udmcrypt_pwrite,
	.flush = udmcrypt_flush,
	.trim = udmcrypt_trim,
};

NBDKIT_REGISTER_FILTER(filter)
