/* Key values of both config files: public keys, preshared keys, and the
 * private key given inline or in a file of its own. Every failure is
 * reported through the reader, and no message ever shows a secret or the
 * contents of a key file. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/reader.h"

/* The private key of [interface] or [rendezvous] while a file is read. */
struct cfg_keys_private {
	int line;	  /* where private_key or private_key_file was set; 0 if not */
	const char *from; /* which of the two keys set it */
	bool ok;
	uint8_t key[32];
};

/* From on_key: parses a public key; false (and reported) when bad or low-order. */
bool cfg_keys_public(struct cfg_reader *r, const char *value, uint8_t out[32]);
/* From on_key: parses a preshared key; false (and reported) when bad. */
bool cfg_keys_preshared(struct cfg_reader *r, const char *value, uint8_t out[32]);
/* From on_key for private_key (from_file false) or private_key_file (true):
 * records the key, and refuses the second of the two. */
void cfg_keys_private_set(struct cfg_reader *r, struct cfg_keys_private *pk, bool from_file,
			  const char *value);
/* At the end of the file: reports a missing key against the section header
 * and derives pub. True when pk holds a usable key. */
bool cfg_keys_private_finish(struct cfg_reader *r, struct cfg_keys_private *pk, int section_line,
			     const char *section, uint8_t pub[32]);
/* After a config file was read from in: when it holds a key inline (key, set
 * on line; line 0 when none), reports the file if group or others have access
 * or it belongs to neither root nor our effective uid. Streams that are not
 * regular files are not judged. */
void cfg_keys_check_config(struct cfg_reader *r, FILE *in, int line, const char *key);
/* Reads a private key file: an absolute path, a regular file with no group or
 * other permissions, owned by root or our effective uid, 44 base64 characters and an optional "\n"
 * or "\r\n". On false, why says what is wrong in a form that names nothing secret. */
bool cfg_keys_read_file(const char *path, uint8_t key[32], char *why, size_t why_len)
    __attribute__((warn_unused_result));
