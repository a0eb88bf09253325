/* Line reader and section tracker for inih. inih is driven through
 * ini_parse_stream with next_line() as its reader, one line a call, so the
 * reader always knows the number of the line inih is handling: Debian builds
 * inih without INI_HANDLER_LINENO and its handler gets no line numbers.
 *
 * The reader also classifies each line before inih sees it. Section headers
 * are parsed here, because inih reports neither empty sections nor more than
 * one syntax error, and truncates long section names; inih is handed only
 * "key = value" lines, left-trimmed so that its multi-line continuation (an
 * indented line appending to the previous key) can never apply: a continued
 * private key would otherwise be silently spliced together. Lines that are
 * wrong get a message and reach inih as blank lines, so every error is
 * reported once and inih's own error return is only a safety net. */
#include "config/reader.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { READER_NONE = -1, READER_SKIP = -2 };
enum { SHOWN_VALUE_MAX = 100, PEER_NAME_MAX = 63 };

/* Copies a value for display: non-printing bytes become '?' so that a
 * message can never carry terminal escapes, and long values are cut. */
static void show(const char *value, char *buf, size_t size)
{
	size_t i;

	for (i = 0; value[i] && i + 1 < size; i++)
		buf[i] = isprint((unsigned char)value[i]) ? value[i] : '?';
	buf[i] = '\0';
	if (value[i] && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/* Appends an already formatted message, or only counts it past the cap. The
 * key is shown through show(): an unknown key name is file text too. */
static void add(struct cfg_reader *r, int line, const char *key, const char *what)
{
	char where[32] = "", shown[SHOWN_VALUE_MAX];

	r->n_errors++;
	if (r->n_kept >= CFG_READER_MAX_ERRORS)
		return;
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	if (key)
		show(key, shown, sizeof(shown));
	if (cfg_errors_add(r->errs, "%s%s: %s%s%s", r->file, where, key ? shown : "",
			   key ? ": " : "", what))
		r->n_kept++;
}

void cfg_reader_error(struct cfg_reader *r, int line, const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	add(r, line, key, what);
}

void cfg_reader_reject(struct cfg_reader *r, const char *value, const char *fmt, ...)
{
	char what[512], shown[SHOWN_VALUE_MAX];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* Private and preshared keys never reach a message, not even when
	 * malformed: a near-miss is still most of a secret. */
	if (r->key && r->key->secret)
		snprintf(shown, sizeof(shown), "<hidden>");
	else
		show(value, shown, sizeof(shown));
	len = strlen(what);
	snprintf(what + len, sizeof(what) - len, ": '%s'", shown);
	add(r, r->line, r->key ? r->key->name : NULL, what);
}

void cfg_reader_init(struct cfg_reader *r, const char *file, struct cfg_errors *errs)
{
	memset(r, 0, sizeof(*r));
	r->file = file;
	r->errs = errs;
	r->section = READER_NONE;
}

/* "[interface] or [peer "NAME"]", for messages. */
static void list_sections(const struct cfg_reader_ops *ops, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ops->n_sections && len < size; i++) {
		const struct cfg_reader_section *s = &ops->sections[i];

		len += (size_t)snprintf(buf + len, size - len, "%s[%s%s]",
					i == 0 ? "" : (i + 1 == ops->n_sections ? " or " : ", "),
					s->name, s->takes_name ? " \"NAME\"" : "");
	}
}

static bool valid_peer_name(const char *name, size_t len)
{
	if (len == 0 || len > PEER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

/* Matches inner (the text between the brackets) against the section kinds;
 * returns the index, fills name for named sections, or -1. */
static int match_section(struct cfg_reader *r, const char *inner, char *name, size_t name_size)
{
	for (size_t i = 0; i < r->ops->n_sections; i++) {
		const struct cfg_reader_section *s = &r->ops->sections[i];
		size_t n = strlen(s->name);
		const char *q, *end;

		if (strncmp(inner, s->name, n))
			continue;
		if (!s->takes_name) {
			if (inner[n] == '\0')
				return (int)i;
			continue;
		}
		if (inner[n] && !isspace((unsigned char)inner[n]) && inner[n] != '"')
			continue;
		for (q = inner + n; isspace((unsigned char)*q); q++)
			;
		end = q[0] == '"' ? strchr(q + 1, '"') : NULL;
		if (!end || end[1] != '\0' || !valid_peer_name(q + 1, (size_t)(end - q - 1))) {
			cfg_reader_error(
			    r, r->line, NULL,
			    "bad section name (expected [%s \"NAME\"] with NAME 1 to %d "
			    "letters, digits, '.', '_' or '-')",
			    s->name, PEER_NAME_MAX);
			return -2;
		}
		snprintf(name, name_size, "%.*s", (int)(end - q - 1), q + 1);
		return (int)i;
	}
	return -1;
}

/* Handles a line starting with '['. */
static void section_line(struct cfg_reader *r, char *p)
{
	char *close = strchr(p, ']'), *rest, *inner, *end;
	char name[PEER_NAME_MAX + 1] = "", shown[SHOWN_VALUE_MAX], expected[160];
	int idx;

	r->section = READER_SKIP;
	memset(r->seen, 0, sizeof(r->seen));
	if (!close) {
		cfg_reader_error(r, r->line, NULL, "section header without ']' (expected [name])");
		return;
	}
	for (rest = close + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest && *rest != ';' && *rest != '#') {
		cfg_reader_error(r, r->line, NULL,
				 "text after the section header (expected only a ; comment)");
		return;
	}
	*close = '\0';
	for (inner = p + 1; isspace((unsigned char)*inner); inner++)
		;
	for (end = inner + strlen(inner); end > inner && isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	idx = match_section(r, inner, name, sizeof(name));
	if (idx == -1) {
		show(inner, shown, sizeof(shown));
		list_sections(r->ops, expected, sizeof(expected));
		cfg_reader_error(r, r->line, NULL, "unknown section (expected %s): '[%s]'",
				 expected, shown);
	}
	if (idx < 0)
		return;
	r->section = idx;
	r->ops->on_section(r->ctx, (size_t)idx, r->ops->sections[idx].takes_name ? name : NULL);
}

/* True when inih will split p into a key and a value: as inih's
 * find_chars_or_comment(), the first '=' or ':' counts, unless a ';'
 * preceded by white space (an inline comment) comes first. */
static bool is_pair(const char *p)
{
	bool was_space = false;

	for (; *p; p++) {
		if (*p == '=' || *p == ':')
			return true;
		if (*p == ';' && was_space)
			return false;
		was_space = isspace((unsigned char)*p);
	}
	return false;
}

static char *next_line(char *str, int num, void *stream)
{
	struct cfg_reader *r = stream;
	ssize_t n = getline(&r->buf, &r->cap, r->in);
	char *p;

	if (n < 0) {
		if (ferror(r->in))
			r->read_errno = errno;
		return NULL;
	}
	r->line++;
	str[0] = '\0';
	if (memchr(r->buf, '\0', (size_t)n)) {
		cfg_reader_error(r, r->line, NULL, "NUL byte in line (expected text)");
		return str;
	}
	/* CRLF files are fine: the '\r' goes with the '\n'. */
	while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r'))
		r->buf[--n] = '\0';
	p = r->buf;
	if (r->line == 1 && !strncmp(p, "\xef\xbb\xbf", 3))
		p += 3; /* UTF-8 byte order mark */
	while (isspace((unsigned char)*p))
		p++;
	if (n > CFG_READER_MAX_LINE || strlen(p) + 1 > (size_t)num) {
		cfg_reader_error(r, r->line, NULL, "line too long (expected at most %d characters)",
				 CFG_READER_MAX_LINE);
		return str;
	}
	if (*p == '\0' || *p == ';' || *p == '#')
		return str;
	/* inih would strip a byte order mark from line 1 once more. */
	if (r->line == 1 && !strncmp(p, "\xef\xbb\xbf", 3)) {
		cfg_reader_error(r, r->line, NULL, "second byte order mark (expected text)");
		return str;
	}
	if (*p == '[') {
		section_line(r, p);
		return str;
	}
	/* The line is not quoted back: it could be a pasted key. */
	if (!is_pair(p) || *p == '=' || *p == ':') {
		cfg_reader_error(
		    r, r->line, NULL,
		    "syntax error (expected 'key = value', a [section] or a ; comment)");
		return str;
	}
	memcpy(str, p, strlen(p) + 1);
	return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_reader *r = user;
	const struct cfg_reader_section *s;
	char expected[256];
	size_t i, len = 0;

	(void)section; /* the reader's own section state is authoritative */
	if (r->section == READER_SKIP)
		return 1; /* the header was already reported; one message is enough */
	if (r->section == READER_NONE) {
		cfg_reader_error(r, r->line, name,
				 "key outside any section (expected it under [%s])",
				 r->ops->sections[0].name);
		return 1;
	}
	s = &r->ops->sections[r->section];
	for (i = 0; i < s->n_keys; i++)
		if (!strcmp(name, s->keys[i].name))
			break;
	if (i == s->n_keys) {
		/* The value is not shown: a misspelt private_key is still a key. */
		for (size_t k = 0; k < s->n_keys && len < sizeof(expected); k++)
			len += (size_t)snprintf(expected + len, sizeof(expected) - len, "%s%s",
						k ? ", " : "", s->keys[k].name);
		cfg_reader_error(r, r->line, name, "unknown key in [%s] (expected one of: %s)",
				 s->name, expected);
		return 1;
	}
	r->key = &s->keys[i];
	if (r->seen[i])
		cfg_reader_reject(r, value, "duplicate key (first set on line %d)", r->seen[i]);
	else {
		r->seen[i] = r->line;
		r->ops->on_key(r->ctx, (size_t)r->section, i, value);
	}
	r->key = NULL;
	return 1;
}

void cfg_reader_parse(struct cfg_reader *r, FILE *in, const struct cfg_reader_ops *ops, void *ctx)
{
	int rc;

	r->in = in;
	r->ops = ops;
	r->ctx = ctx;
	/* Debian's inih sizes its line buffer from this variable (the stock
	 * 200 bytes would cut long allowed_ips lists); +3 as ini.h asks. */
	ini_max_line = CFG_READER_MAX_LINE + 3;
	rc = ini_parse_stream(next_line, r, on_pair, r);
	if (ferror(in))
		cfg_reader_error(r, 0, NULL, "read error: %s",
				 strerror(r->read_errno ? r->read_errno : EIO));
	else if (rc > 0)
		cfg_reader_error(r, rc, NULL, "syntax error");
	else if (rc < 0)
		cfg_reader_error(r, 0, NULL, "out of memory");
	/* The buffer held every line, private keys included. */
	if (r->buf)
		sodium_memzero(r->buf, r->cap);
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

void cfg_reader_finish(struct cfg_reader *r)
{
	size_t dropped = r->n_errors - r->n_kept;

	/* If even this line cannot be stored, n_errors still fails the load. */
	if (dropped)
		(void)cfg_errors_add(r->errs, "%s: %zu more errors not shown", r->file, dropped);
}
