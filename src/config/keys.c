/* Keys in the config. A private key may be inline (private_key) or, better,
 * in a file of its own (private_key_file) so that the config can be shown
 * around. Such a file is refused, as ssh refuses an identity file, when group
 * or others have any access to it (SECURITY-NOTES item 30): a key others could
 * read must be assumed known. A trailing "\n" or "\r\n" is accepted because
 * editors and `p2pvpnctl genkey > file` add one; anything else is an error.
 * A config file that holds a key inline (private_key, preshared_key) is a key
 * file too and passes the same checks. Both must also belong to root or to the
 * user the daemon runs as: another user who owns the file can chmod it and
 * read the key, or swap in a key of their own. Messages name the file and the
 * reason, never its contents. */
#include "config/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keys.h"

/* A key, "\r\n" and room to notice a longer file without reading it all. */
enum { KEY_FILE_READ_MAX = 128 };

bool cfg_keys_public(struct cfg_reader *r, const char *value, uint8_t out[32])
{
	if (!key_from_base64(value, out)) {
		cfg_reader_reject(r, value, "bad key (expected 44 characters of base64)");
		return false;
	}
	/* A small-order point makes every DH with it a known value, so a
	 * handshake with it would authenticate nobody (SECURITY-NOTES item 5). */
	if (key_is_low_order(out)) {
		memset(out, 0, 32);
		cfg_reader_reject(r, value, "low-order public key (expected a real X25519 key)");
		return false;
	}
	return true;
}

bool cfg_keys_preshared(struct cfg_reader *r, const char *value, uint8_t out[32])
{
	if (!key_from_base64(value, out)) {
		cfg_reader_reject(r, value, "bad key (expected 44 characters of base64)");
		return false;
	}
	return true;
}

/* Reads at most size bytes; returns the count or -1 with errno. */
static ssize_t read_all(int fd, uint8_t *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Checks the content; why is set on failure. Never looks at more than len. */
static bool decode_key_text(uint8_t *buf, size_t len, uint8_t key[32], char *why, size_t why_len)
{
	char text[KEY_B64_LEN + 1];
	bool ok;

	if (len == 0) {
		snprintf(why, why_len, "key file is empty (expected a 44-character base64 key)");
		return false;
	}
	if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n')
		len -= 2;
	else if (buf[len - 1] == '\n')
		len -= 1;
	if (len != KEY_B64_LEN) {
		snprintf(why, why_len,
			 "key file holds %zu characters (expected one line of a 44-character "
			 "base64 key)",
			 len);
		return false;
	}
	memcpy(text, buf, KEY_B64_LEN);
	text[KEY_B64_LEN] = '\0';
	ok = key_from_base64(text, key);
	sodium_memzero(text, sizeof(text));
	if (!ok)
		snprintf(why, why_len,
			 "key file is not valid base64 (expected a 44-character key)");
	return ok;
}

/* The rule for every file that holds a secret: no access for group or others,
 * owned by root or by our effective uid. what names the file in why. */
static bool is_private(const struct stat *st, const char *what, const char *fix, char *why,
		       size_t why_len)
{
	uid_t euid = geteuid();

	if (st->st_mode & 077) {
		snprintf(why, why_len,
			 "%s is accessible by group or others, mode %04o (expected 0600 or "
			 "0400: %s)",
			 what, (unsigned)(st->st_mode & 07777), fix);
		return false;
	}
	if (st->st_uid != 0 && st->st_uid != euid) {
		snprintf(why, why_len,
			 "%s is owned by uid %u (expected root or the daemon's user, uid %u: "
			 "chown it)",
			 what, (unsigned)st->st_uid, (unsigned)euid);
		return false;
	}
	return true;
}

bool cfg_keys_read_file(const char *path, uint8_t key[32], char *why, size_t why_len)
{
	uint8_t buf[KEY_FILE_READ_MAX];
	struct stat st;
	ssize_t n;
	bool ok = false;
	int fd;

	/* A relative path would depend on the daemon's working directory. */
	if (path[0] != '/') {
		snprintf(why, why_len, "not an absolute path (expected /path/to/private.key)");
		return false;
	}
	/* O_NONBLOCK: a FIFO planted at the path must not hang the loader. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open key file: %s", strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, why_len, "cannot stat key file: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "key file is not a regular file");
		goto out;
	}
	if (!is_private(&st, "key file", "chmod 600 it", why, why_len))
		goto out;
	n = read_all(fd, buf, sizeof(buf));
	if (n < 0) {
		snprintf(why, why_len, "cannot read key file: %s", strerror(errno));
		goto out;
	}
	if ((size_t)n == sizeof(buf)) {
		snprintf(why, why_len,
			 "key file is too large (expected one line of a 44-character base64 key)");
		goto out;
	}
	ok = decode_key_text(buf, (size_t)n, key, why, why_len);
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return ok;
}

void cfg_keys_private_set(struct cfg_reader *r, struct cfg_keys_private *pk, bool from_file,
			  const char *value)
{
	const char *name = from_file ? "private_key_file" : "private_key";
	char why[160];

	/* Two sources could disagree; refuse rather than pick one silently. */
	if (pk->line) {
		cfg_reader_reject(r, value,
				  "%s is already set on line %d (expected only one of "
				  "private_key and private_key_file)",
				  pk->from, pk->line);
		return;
	}
	pk->line = r->line;
	pk->from = name;
	if (from_file) {
		pk->ok = cfg_keys_read_file(value, pk->key, why, sizeof(why));
		if (!pk->ok)
			cfg_reader_reject(r, value, "%s", why);
	} else {
		pk->ok = key_from_base64(value, pk->key);
		if (!pk->ok)
			cfg_reader_reject(r, value,
					  "bad key (expected 44 characters of base64, "
					  "as from p2pvpnctl genkey)");
	}
	if (!pk->ok)
		sodium_memzero(pk->key, sizeof(pk->key));
}

bool cfg_keys_private_finish(struct cfg_reader *r, struct cfg_keys_private *pk, int section_line,
			     const char *section, uint8_t pub[32])
{
	if (!pk->line) {
		cfg_reader_error(r, section_line, section,
				 "missing private_key or private_key_file (expected one of them)");
		return false;
	}
	if (!pk->ok)
		return false; /* already reported where it was set */
	if (!key_public(pk->key, pub)) {
		cfg_reader_error(r, pk->line, pk->from,
				 "this private key has no usable public key (expected a key from "
				 "p2pvpnctl genkey): '<hidden>'");
		pk->ok = false;
		return false;
	}
	return true;
}

void cfg_keys_check_config(struct cfg_reader *r, FILE *in, int line, const char *key)
{
	struct stat st;
	char why[200];

	/* A string or a pipe (fmemopen, --check of stdin) has no owner or mode
	 * to judge; a regular file is what others could read. */
	if (!line || fileno(in) < 0 || fstat(fileno(in), &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (!is_private(&st, "config file holds a key but",
			"chmod 600 it, or move the key to private_key_file", why, sizeof(why)))
		cfg_reader_error(r, line, key, "%s", why);
}
