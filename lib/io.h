/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Descriptor I/O shared by the tables and the volume formats. */
#ifndef UDM_IO_H
#define UDM_IO_H

#include <stddef.h>
#include <stdint.h>

/* Reads or writes exactly len bytes at off, retrying short transfers.
 * Returns 0 or -errno (-EIO for a read past the end of the file). */
int udm_read_at(int fd, void *buf, size_t len, uint64_t off);
int udm_write_at(int fd, const void *buf, size_t len, uint64_t off);

/* Size of the file or block device behind fd, in bytes. */
int udm_fd_size(int fd, uint64_t *bytes);

#endif
