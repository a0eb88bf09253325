/* `p2pvpnctl genkey` and `pubkey`: keys as text, in the wg(8) format. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "crypto/keys.h"

/* Writes a new private key, base64, into out. */
void ctl_key_generate(char out[KEY_B64_LEN + 1]);
/* Reads a base64 private key from text[0..len) (as read from stdin; trailing
 * whitespace, CRLF included, is ignored) and writes its base64 public key
 * into out. False when text is not exactly one valid key. */
bool ctl_key_public(const char *text, size_t len, char out[KEY_B64_LEN + 1])
    __attribute__((warn_unused_result));
