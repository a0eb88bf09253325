/* The line reader under both loaders: reads the file one line at a time for
 * inih (which, as Debian builds it, cannot tell its handler the line number),
 * tracks sections, refuses unknown and duplicate keys, and formats every
 * error as "FILE:LINE: key: what is wrong (expected ...): 'value'". Internal
 * to the config module. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/errors.h"

enum {
	CFG_READER_MAX_KEYS = 16,    /* keys a section may define */
	CFG_READER_MAX_LINE = 4096,  /* longest line, without its newline */
	CFG_READER_MAX_ERRORS = 100, /* messages kept; the rest are only counted */
};

struct cfg_reader_key {
	const char *name;
	bool secret; /* value shown as '<hidden>' in every message */
};

/* A section kind: "[interface]" or, with takes_name, "[peer \"NAME\"]". */
struct cfg_reader_section {
	const char *name;
	bool takes_name;
	const struct cfg_reader_key *keys;
	size_t n_keys;
};

struct cfg_reader_ops {
	const struct cfg_reader_section *sections;
	size_t n_sections;
	/* A section header was read; name is the quoted NAME or NULL. */
	void (*on_section)(void *ctx, size_t section, const char *name);
	/* A known, first-time key of the current section was read. */
	void (*on_key)(void *ctx, size_t section, size_t key, const char *value);
};

struct cfg_reader {
	const char *file;	 /* name shown in messages */
	struct cfg_errors *errs; /* messages are appended here */
	size_t n_errors;	 /* errors found, kept or not: the verdict */
	size_t n_kept;		 /* errors with a message in errs */
	int line;		 /* line being handled, from 1 */
	/* Private to reader.c. */
	const struct cfg_reader_ops *ops;
	void *ctx;
	FILE *in;
	char *buf;
	size_t cap;
	int read_errno;
	int section; /* index in ops->sections, or READER_NONE/READER_SKIP */
	const struct cfg_reader_key *key;
	int seen[CFG_READER_MAX_KEYS]; /* line each key was set on, 0 if not yet */
};

/* Prepares r for one file; call before cfg_reader_parse. */
void cfg_reader_init(struct cfg_reader *r, const char *file, struct cfg_errors *errs);
/* Feeds every line of in to the ops callbacks; read errors are recorded. */
void cfg_reader_parse(struct cfg_reader *r, FILE *in, const struct cfg_reader_ops *ops, void *ctx);
/* Records "FILE:LINE: KEY: WHAT" (no "KEY: " when key is NULL, no ":LINE"
 * when line is 0). */
void cfg_reader_error(struct cfg_reader *r, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* From on_key: records "FILE:LINE: KEY: WHAT: 'VALUE'" for the key being
 * handled, with the value hidden when the key is secret. */
void cfg_reader_reject(struct cfg_reader *r, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds the "N more errors" line if messages were dropped; call once at the end. */
void cfg_reader_finish(struct cfg_reader *r);
