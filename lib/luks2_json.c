// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS2 JSON area: parsing it with json-c under the limits the on-disk
 * format allows (one object, then NUL bytes to the end of the area), access
 * helpers for the sections, and the base64 coding of salts and digests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "luks2.h"
#include "parse.h"

/* Outside strings, JSON has only structure, numbers, whitespace and the
 * literals true, false and null. */
#define JSON_OUTSIDE_STRINGS "{}[],: \t\r\n0123456789+-.eEtrufalsn"

/* The result of a lexical pass over the JSON text, before json-c parses it. */
struct json_scan {
	size_t len;		/* bytes of the top-level object */
	size_t members;		/* ':' outside strings, one for each object member */
};

/*
 * Finds the end of the top-level object, counts the object members and
 * checks the nesting depth. JSON puts exactly one ':' outside strings in
 * each object member, so comparing the count with the members json-c kept
 * reveals duplicated keys, which json-c silently merges.
 */
static int scan_json(const char *text, size_t area_len, struct json_scan *scan,
		     struct udm_error *err)
{
	bool in_string = false, escape = false;
	int depth = 0;

	memset(scan, 0, sizeof(*scan));
	if (!area_len || text[0] != '{')
		return udm_error_set(err, "invalid LUKS2 JSON area: it must start with '{'");

	for (size_t i = 0; i < area_len; i++) {
		char c = text[i];

		if (c == '\0')
			return udm_error_set(err, "invalid LUKS2 JSON area: NUL byte at offset %zu "
					     "inside the JSON object", i);
		if (in_string) {
			if (escape)
				escape = false;
			else if (c == '\\')
				escape = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (!strchr(JSON_OUTSIDE_STRINGS, c)) {
			return udm_error_set(err, "invalid LUKS2 JSON: unexpected character "
					     "0x%02x at offset %zu", (unsigned char)c, i);
		} else if (c == ':') {
			scan->members++;
		} else if (c == '{' || c == '[') {
			if (++depth > LUKS2_JSON_MAX_DEPTH)
				return udm_error_set(err, "invalid LUKS2 JSON: nested deeper "
						     "than %d levels", LUKS2_JSON_MAX_DEPTH);
		} else if ((c == '}' || c == ']') && --depth == 0) {
			scan->len = i + 1;
			return 0;
		}
	}
	return udm_error_set(err, "invalid LUKS2 JSON area: the JSON text fills all %zu bytes "
			     "without a terminating NUL byte", area_len);
}

static size_t count_members(json_object *obj)
{
	size_t n = 0;

	if (json_object_is_type(obj, json_type_object)) {
		json_object_object_foreach(obj, key, val) {
			(void)key;
			n += 1 + count_members(val);
		}
	} else if (json_object_is_type(obj, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(obj); i++)
			n += count_members(json_object_array_get_idx(obj, i));
	}
	return n;
}

int luks2_json_parse(const char *area, size_t area_len, json_object **jobjp,
		     struct udm_error *err)
{
	struct json_tokener *tok;
	struct json_scan scan;
	enum json_tokener_error jerr;
	json_object *jobj;
	size_t end;
	int r;

	r = scan_json(area, area_len, &scan, err);
	if (r)
		return r;
	if (scan.len == area_len)
		return udm_error_set(err, "invalid LUKS2 JSON area: the JSON text fills all %zu "
				     "bytes without a terminating NUL byte", area_len);
	for (size_t i = scan.len; i < area_len; i++) {
		if (area[i])
			return udm_error_set(err, "invalid LUKS2 JSON area: byte 0x%02x at "
					     "offset %zu after the JSON object, where only NUL "
					     "bytes may follow", (unsigned char)area[i], i);
	}

	tok = json_tokener_new_ex(LUKS2_JSON_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	jobj = json_tokener_parse_ex(tok, area, (int)scan.len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!jobj || jerr != json_tokener_success || end != scan.len) {
		json_object_put(jobj);
		return udm_error_set(err, "invalid LUKS2 JSON near offset %zu: %s", end,
				     jerr == json_tokener_success ? "text after the object" :
				     json_tokener_error_desc(jerr));
	}
	if (!json_object_is_type(jobj, json_type_object)) {
		json_object_put(jobj);
		return udm_error_set(err, "invalid LUKS2 JSON: the top level must be an object");
	}
	if (count_members(jobj) != scan.members) {
		json_object_put(jobj);
		return udm_error_set(err, "invalid LUKS2 JSON: an object has a duplicated key");
	}
	*jobjp = jobj;
	return 0;
}

const char *luks2_json_text(json_object *jobj)
{
	return json_object_to_json_string_ext(jobj, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}

json_object *luks2_section(json_object *jobj, const char *name)
{
	json_object *section;

	if (!json_object_object_get_ex(jobj, name, &section) ||
	    !json_object_is_type(section, json_type_object))
		return NULL;
	return section;
}

json_object *luks2_numbered(json_object *section, int n)
{
	json_object *obj;
	char key[16];

	snprintf(key, sizeof(key), "%d", n);
	if (!section || !json_object_object_get_ex(section, key, &obj))
		return NULL;
	return obj;
}

const char *luks2_string(json_object *obj, const char *key)
{
	json_object *val;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &val) ||
	    !json_object_is_type(val, json_type_string))
		return NULL;
	s = json_object_get_string(val);
	if (strlen(s) != (size_t)json_object_get_string_len(val))
		return NULL;
	return s;
}

int luks2_string_u64(json_object *obj, const char *key, uint64_t *out)
{
	const char *s = luks2_string(obj, key);

	return s ? udm_parse_u64(s, out) : -EINVAL;
}

int luks2_int_u32(json_object *obj, const char *key, uint32_t *out)
{
	json_object *val;
	int64_t v;

	if (!json_object_object_get_ex(obj, key, &val) || !json_object_is_type(val, json_type_int))
		return -EINVAL;
	/* Values past INT64_MAX read as INT64_MAX, so they fail here too. */
	v = json_object_get_int64(val);
	if (v < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

bool luks2_array_has(json_object *array, int n)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", n);
	for (size_t i = 0; array && i < json_object_array_length(array); i++) {
		json_object *item = json_object_array_get_idx(array, i);

		if (json_object_is_type(item, json_type_string) &&
		    !strcmp(json_object_get_string(item), num))
			return true;
	}
	return false;
}

void luks2_array_remove(json_object *array, int n)
{
	char num[16];

	if (!array)
		return;
	snprintf(num, sizeof(num), "%d", n);
	for (size_t i = json_object_array_length(array); i-- > 0;) {
		json_object *item = json_object_array_get_idx(array, i);

		if (json_object_is_type(item, json_type_string) &&
		    !strcmp(json_object_get_string(item), num))
			json_object_array_del_idx(array, i, 1);
	}
}

int luks2_array_add(json_object *array, int n)
{
	char num[16];
	json_object *item;

	snprintf(num, sizeof(num), "%d", n);
	item = json_object_new_string(num);
	if (!item || json_object_array_add(array, item)) {
		json_object_put(item);
		return -ENOMEM;
	}
	return 0;
}

uint64_t luks2_keyslots_size(json_object *jobj)
{
	uint64_t size = 0;

	luks2_string_u64(luks2_section(jobj, "config"), "keyslots_size", &size);
	return size;
}

uint64_t luks2_header_area_size(const struct luks2_hdr *hdr)
{
	return 2 * hdr->hdr_size + luks2_keyslots_size(hdr->jobj);
}

int luks2_digest_of(json_object *jobj, const char *list, int n)
{
	json_object *digests = luks2_section(jobj, "digests");

	if (!digests)
		return -ENOENT;
	json_object_object_foreach(digests, key, val) {
		json_object *array;
		unsigned id;

		if (json_object_object_get_ex(val, list, &array) && luks2_array_has(array, n) &&
		    !udm_parse_uint(key, &id))
			return (int)id;
	}
	return -ENOENT;
}

static const char base64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base64_value(char c)
{
	const char *p = c ? strchr(base64_chars, c) : NULL;

	return p ? (int)(p - base64_chars) : -1;
}

int luks2_base64_decode_max(const char *text, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(text), pos = 0;

	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t word = 0;
		int pad = 0;

		for (int j = 0; j < 4; j++) {
			int v = base64_value(text[i + j]);

			/* '=' pads only the last group, and at most its last two. */
			if (text[i + j] == '=' && i + 4 == n && j >= 2) {
				pad++;
				v = 0;
			} else if (v < 0 || pad) {
				return -EINVAL;
			}
			word = word << 6 | (uint32_t)v;
		}
		if (pos + 3 - (size_t)pad > max)
			return -EINVAL;
		out[pos++] = (uint8_t)(word >> 16);
		if (pad < 2)
			out[pos++] = (uint8_t)(word >> 8);
		if (pad < 1)
			out[pos++] = (uint8_t)word;
	}
	*len = pos;
	return 0;
}

int luks2_base64_decode(const char *text, uint8_t *out, size_t len)
{
	size_t got;

	if (luks2_base64_decode_max(text, out, len, &got) || got != len)
		return -EINVAL;
	return 0;
}

char *luks2_base64_encode(const uint8_t *data, size_t len)
{
	char *text = malloc((len + 2) / 3 * 4 + 1);
	size_t pos = 0;

	if (!text)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		uint32_t word = (uint32_t)data[i] << 16;

		if (left > 1)
			word |= (uint32_t)data[i + 1] << 8;
		if (left > 2)
			word |= data[i + 2];
		text[pos++] = base64_chars[word >> 18 & 63];
		text[pos++] = base64_chars[word >> 12 & 63];
		text[pos++] = left > 1 ? base64_chars[word >> 6 & 63] : '=';
		text[pos++] = left > 2 ? base64_chars[word & 63] : '=';
	}
	text[pos] = '\0';
	return text;
}
