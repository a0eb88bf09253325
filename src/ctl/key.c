/* Key commands. The private key passes through here in the clear, so every
 * copy of it is wiped before returning, on the error paths too. */
#include "ctl/key.h"

#include <sodium.h>
#include <string.h>

void ctl_key_generate(char out[KEY_B64_LEN + 1])
{
	uint8_t priv[KEY_LEN];

	key_generate(priv);
	key_to_base64(priv, out);
	sodium_memzero(priv, sizeof(priv));
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool ctl_key_public(const char *text, size_t len, char out[KEY_B64_LEN + 1])
{
	char b64[KEY_B64_LEN + 1];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	bool ok = false;

	while (len && is_space(text[len - 1]))
		len--;
	/* Exactly one key: a NUL or a second line must not pass as a prefix. */
	if (len != KEY_B64_LEN || memchr(text, '\0', len))
		goto out;
	memcpy(b64, text, len);
	b64[len] = '\0';
	if (!key_from_base64(b64, priv) || !key_public(priv, pub))
		goto out;
	key_to_base64(pub, out);
	ok = true;
out:
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(priv, sizeof(priv));
	return ok;
}
