// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Secure memory: every allocation gets its own anonymous mapping, locked in
 * RAM (mlock) and excluded from core dumps (MADV_DONTDUMP), and is wiped
 * before it is unmapped. Keys are few and small, so a page per allocation
 * costs little.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "secmem.h"

struct secure_header {
	size_t map_size;
	size_t user_size;
};

#define HEADER_SPACE 64	/* keeps user memory aligned for any type */

void udm_wipe(void *ptr, size_t len)
{
	if (ptr && len)
		explicit_bzero(ptr, len);
}

bool udm_memeq_consttime(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

#ifdef UDM_SECMEM_HEAP
/*
 * The fuzz build (make fuzz) takes secure memory from the heap instead, so
 * that AddressSanitizer checks its bounds: in a page of its own, an
 * overflow of a few bytes goes unnoticed. Nothing is locked there.
 */
void *udm_secure_alloc(size_t size)
{
	struct secure_header *hdr;

	if (size > SIZE_MAX - HEADER_SPACE)
		return NULL;
	hdr = calloc(1, HEADER_SPACE + size);
	if (!hdr)
		return NULL;
	hdr->map_size = HEADER_SPACE + size;
	hdr->user_size = size;
	return (uint8_t *)hdr + HEADER_SPACE;
}

void udm_secure_free(void *ptr)
{
	struct secure_header *hdr;

	if (!ptr)
		return;
	hdr = (struct secure_header *)((uint8_t *)ptr - HEADER_SPACE);
	udm_wipe(hdr, hdr->map_size);
	free(hdr);
}
#else
void *udm_secure_alloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t map_size = (size + HEADER_SPACE + page - 1) / page * page;
	struct secure_header *hdr;
	static bool warned;

	if (size > SIZE_MAX - HEADER_SPACE - page)
		return NULL;

	hdr = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hdr == MAP_FAILED)
		return NULL;

	if (mlock(hdr, map_size) && !warned) {
		/* NOTE: without CAP_IPC_LOCK the RLIMIT_MEMLOCK limit may be
		 * reached; the memory is still wiped and kept out of dumps. */
		log_warn("cannot lock key memory in RAM (mlock failed); it may be swapped");
		warned = true;
	}
	madvise(hdr, map_size, MADV_DONTDUMP);

	hdr->map_size = map_size;
	hdr->user_size = size;
	return (uint8_t *)hdr + HEADER_SPACE;
}

void udm_secure_free(void *ptr)
{
	struct secure_header *hdr;
	size_t map_size;

	if (!ptr)
		return;

	hdr = (struct secure_header *)((uint8_t *)ptr - HEADER_SPACE);
	map_size = hdr->map_size;
	udm_wipe(hdr, map_size);
	munlock(hdr, map_size);
	munmap(hdr, map_size);
}
#endif

char *udm_secure_strdup(const char *s)
{
	size_t len = strlen(s);
	char *copy = udm_secure_alloc(len + 1);

	if (copy)
		memcpy(copy, s, len + 1);
	return copy;
}
