// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The key slot verbs: luksAddKey, luksRemoveKey, luksChangeKey and
 * luksKillSlot, with cryptsetup 2.6's prompts, confirmations and exit codes.
 * Passphrases from a pipe are read one line each, so one pipe can carry the
 * existing passphrase and then the new one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "volume.h"
#include "../fuse/frontend.h"

static const char last_slot_warning[] =
	"This is the last keyslot. Device will become unusable after purging this key.";

static void print_slot_kept(void)
{
	fflush(stdout);
	fputs("Operation aborted, the keyslot was NOT wiped.\n\n", stderr);
}

static void print_wrong_passphrase(void)
{
	fflush(stdout);
	fputs("No key available with this passphrase.\n", stderr);
}

static int active_slots(const struct udm_volume *vol)
{
	int count = udm_volume_keyslot_count(vol), active = 0, slot;

	for (slot = 0; slot < count; slot++)
		active += udm_volume_keyslot_active(vol, slot);
	return active;
}

/* Checks that slot is a key slot number of vol, and whether it must be free. */
static int check_slot(const struct udm_volume *vol, int slot, bool must_be_free)
{
	int count = udm_volume_keyslot_count(vol);

	if (slot >= count) {
		print_error("invalid key slot %d: accepted are 0 to %d", slot, count - 1);
		return -EINVAL;
	}
	if (must_be_free && slot >= 0 && udm_volume_keyslot_active(vol, slot)) {
		print_error("key slot %d is in use; select a free one", slot);
		return -EINVAL;
	}
	return 0;
}

static int kill_slot(struct udm_volume *vol, int slot, const char *device)
{
	struct udm_error err = { .msg = "" };
	int ret = udm_volume_kill_slot(vol, slot, &err);

	if (ret)
		print_library_error(&err, ret, "cannot wipe key slot %d of %s", slot, device);
	return ret;
}

static int add_key(struct udm_volume *vol, int slot, const struct udm_key *key,
		   const struct udm_key *pass, const struct volume_options *opts)
{
	struct udm_error err = { .msg = "" };
	int ret;

	ret = udm_volume_add_key(vol, slot, key, (const char *)pass->data, pass->size,
				 &opts->pbkdf, &err);
	if (ret < 0)
		print_library_error(&err, ret, "cannot add a key slot to %s", opts->device);
	return ret;
}

int cmd_luks_add_key(struct volume_options *opts)
{
	struct udm_key *key = NULL, *new_pass = NULL;
	struct udm_volume *vol;
	int ret, slot;

	ret = volume_load(&vol, opts, true);
	if (ret)
		return volume_exit_status(ret);
	ret = check_slot(vol, opts->key_slot, true);
	if (ret)
		goto exit;

	if (opts->volume_key_file)
		ret = volume_key_from_file(vol, opts, &key);
	else
		ret = volume_unlock_interactive(vol, opts, &opts->key,
						"Enter any existing passphrase: ", 1, -1, &key);
	if (ret < 0)
		goto exit;
	ret = passphrase_read(&new_pass, &opts->new_key, "Enter new passphrase for key slot: ",
			      true);
	if (ret)
		goto exit;

	slot = add_key(vol, opts->key_slot, key, new_pass, opts);
	ret = slot < 0 ? slot : 0;
	if (!ret)
		print_verbose(opts, "Key slot %d created.", slot);
exit:
	udm_key_free(new_pass);
	udm_key_free(key);
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

int cmd_luks_remove_key(struct volume_options *opts)
{
	struct udm_key *key = NULL;
	struct udm_volume *vol;
	int ret, slot;

	ret = volume_load(&vol, opts, true);
	if (ret)
		return volume_exit_status(ret);
	slot = volume_unlock_interactive(vol, opts, &opts->key, "Enter passphrase to be deleted: ",
					 1, -1, &key);
	udm_key_free(key);
	if (slot < 0) {
		ret = slot;
		goto exit;
	}
	print_verbose(opts, "Key slot %d selected for deletion.", slot);

	if (active_slots(vol) == 1 && !confirm(last_slot_warning, opts->batch)) {
		print_slot_kept();
		ret = -EPERM;
		goto exit;
	}
	ret = kill_slot(vol, slot, opts->device);
exit:
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

/*
 * LUKS2: puts the new passphrase back into the old slot's number, as
 * cryptsetup does, without a moment in which neither passphrase opens the
 * volume: first into a free slot, then the old slot is wiped and refilled,
 * then the free slot is wiped again. This costs two PBKDF runs.
 */
static int change_keep_slot(struct udm_volume *vol, int old_slot, const struct udm_key *key,
			    const struct udm_key *new_pass, const struct volume_options *opts)
{
	int spare, slot, ret;

	spare = add_key(vol, -1, key, new_pass, opts);
	if (spare < 0)
		return spare;
	ret = kill_slot(vol, old_slot, opts->device);
	if (ret)
		return ret;
	slot = add_key(vol, old_slot, key, new_pass, opts);
	if (slot < 0) {
		print_error("the new passphrase stays in key slot %d", spare);
		return slot;
	}
	return kill_slot(vol, spare, opts->device);
}

int cmd_luks_change_key(struct volume_options *opts)
{
	struct udm_key *key = NULL, *new_pass = NULL;
	struct udm_volume *vol;
	int ret, old_slot, slot;

	ret = volume_load(&vol, opts, true);
	if (!ret)
		ret = check_slot(vol, opts->key_slot, false);
	if (ret)
		goto exit;
	old_slot = volume_unlock_interactive(vol, opts, &opts->key,
					     "Enter passphrase to be changed: ", 1, opts->key_slot,
					     &key);
	if (old_slot < 0) {
		ret = old_slot;
		goto exit;
	}
	ret = passphrase_read(&new_pass, &opts->new_key, "Enter new passphrase: ", true);
	if (ret)
		goto exit;
	if (active_slots(vol) == udm_volume_keyslot_count(vol)) {
		/* NOTE: cryptsetup would overwrite the slot in place; that leaves
		 * no passphrase that opens the volume if the write fails. */
		print_error("no free key slot in %s for the new passphrase: remove one first",
			    opts->device);
		ret = -EINVAL;
		goto exit;
	}

	/* LUKS1: the first free slot, then the old one is wiped, as cryptsetup does. */
	if (udm_volume_type(vol) == UDM_VOLUME_LUKS2) {
		ret = change_keep_slot(vol, old_slot, key, new_pass, opts);
		slot = old_slot;
	} else {
		slot = add_key(vol, -1, key, new_pass, opts);
		ret = slot < 0 ? slot : kill_slot(vol, old_slot, opts->device);
	}
	if (!ret)
		print_verbose(opts, "Key slot %d changed.", slot);
exit:
	udm_key_free(new_pass);
	udm_key_free(key);
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

static int parse_slot_operand(const struct volume_options *opts, const struct udm_volume *vol,
			      int *slotp)
{
	int count = udm_volume_keyslot_count(vol);
	const char *text = opts->slot_operand;
	long slot = 0;

	for (; *text >= '0' && *text <= '9' && slot < count; text++)
		slot = slot * 10 + (*text - '0');
	if (*text || text == opts->slot_operand || slot >= count) {
		print_error("invalid key slot '%s': accepted are 0 to %d", opts->slot_operand,
			    count - 1);
		return -EINVAL;
	}
	*slotp = (int)slot;
	return 0;
}

/*
 * Checks a passphrase of another active slot, or of slot itself when it is
 * the last one. Returns 0 or -EPERM.
 */
static int check_remaining_passphrase(struct udm_volume *vol, int slot,
				      const struct udm_key *pass)
{
	struct udm_error err = { .msg = "" };
	struct udm_key *key = NULL;
	bool last = active_slots(vol) == 1;
	int other, count = udm_volume_keyslot_count(vol), ret = -EPERM;

	for (other = 0; other < count && ret < 0; other++) {
		if ((other == slot) != last || !udm_volume_keyslot_active(vol, other))
			continue;
		ret = udm_volume_unlock(vol, other, (const char *)pass->data, pass->size, &key,
					&err);
		udm_key_free(key);
		key = NULL;
	}
	return ret < 0 ? -EPERM : 0;
}

/*
 * Asks for a passphrase that stays valid, as cryptsetup does unless batch
 * mode runs on a terminal without a key file. Empty standard input skips
 * the check, as in cryptsetup.
 */
static int authorize_kill(struct udm_volume *vol, int slot, struct volume_options *opts)
{
	struct udm_key *pass = NULL;
	int ret;

	if (opts->batch && !opts->key.file && isatty(STDIN_FILENO))
		return 0;
	if (active_slots(vol) == 1 && !opts->key.file && !confirm(last_slot_warning, opts->batch)) {
		print_slot_kept();
		return -EPERM;
	}
	ret = passphrase_read(&pass, &opts->key, "Enter any remaining passphrase: ", false);
	if (ret == -EPIPE && (!opts->key.file || strcmp(opts->key.file, "-") == 0))
		return 0;
	if (ret)
		return ret;
	ret = check_remaining_passphrase(vol, slot, pass);
	udm_key_free(pass);
	if (ret)
		print_wrong_passphrase();
	return ret;
}

int cmd_luks_kill_slot(struct volume_options *opts)
{
	struct udm_volume *vol;
	int ret, slot;

	ret = volume_load(&vol, opts, true);
	if (ret)
		return volume_exit_status(ret);
	ret = parse_slot_operand(opts, vol, &slot);
	if (ret)
		goto exit;
	if (!udm_volume_keyslot_active(vol, slot)) {
		print_error("key slot %d of %s is not active", slot, opts->device);
		ret = -EINVAL;
		goto exit;
	}
	print_verbose(opts, "Key slot %d selected for deletion.", slot);

	ret = authorize_kill(vol, slot, opts);
	if (!ret)
		ret = kill_slot(vol, slot, opts->device);
exit:
	udm_volume_free(vol);
	return volume_exit_status(ret);
}
