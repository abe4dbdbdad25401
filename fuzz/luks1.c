// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the LUKS1 header and key slots: the input is the start of a
 * device, loaded as LUKS1, dumped and unlocked (see volume.h).
 */
#include "volume.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_volume_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_VOLUME_MAX_INPUT)
		return -1;
	fuzz_volume(data, size, UDM_VOLUME_LUKS1);
	return 0;
}
