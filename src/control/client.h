/* The client half of the control protocol (control/control.h): one request,
 * one reply, with bounded time and size, and a parser that splits a reply
 * into blocks of key=value pairs. Used by p2pvpnctl and the tests. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum {
	CTL_CLIENT_TIMEOUT_MS = 5000, /* connect + send + whole reply */
	CTL_REPLY_MAX = 1 << 20,      /* bytes of one reply */
};

struct ctl_kv {
	const char *key;
	const char *value; /* "" when the daemon does not know it */
};

/* A run of pairs: kv[0] is the pair that opened the block ("interface=",
 * "peer=", ...), or the first pair of the reply for the leading block. */
struct ctl_block {
	const struct ctl_kv *kv;
	size_t n;
};

/* A parsed reply; all strings point into buf, owned by the struct. */
struct ctl_reply {
	int err; /* the N of "errno=N": 0 on success, else a positive errno */
	size_t n_blocks;
	struct ctl_block *blocks;
	struct ctl_kv *kvs;
	char *buf;
};

/* Sends request (the whole text, ending in its empty line) to the server at
 * path and reads the reply until the server closes. On 0, *reply is a
 * malloc'ed NUL-terminated copy of *len bytes for the caller to free. Returns
 * -ENOENT or -ECONNREFUSED when no server is there, -ETIMEDOUT, -EMSGSIZE
 * for an oversized request or reply, -EINVAL for an unterminated request. */
int ctl_client_request(const char *path, const char *request, char **reply, size_t *len);

/* Splits text[0..len) into blocks: a pair whose key is in block_keys (a
 * NULL-terminated list; NULL for none) starts a new block. The final
 * "errno=N" goes to out->err and into no block. Returns 0, -EBADMSG when the
 * text is not key=value lines ending in "errno=N" and an empty line (a
 * truncated reply is one), or -ENOMEM. Free out with ctl_reply_free(). */
int ctl_reply_parse(const char *text, size_t len, const char *const *block_keys,
		    struct ctl_reply *out);
/* Frees what ctl_reply_parse() allocated; safe to call twice. */
void ctl_reply_free(struct ctl_reply *r);
/* The value of the first pair named key in b, or NULL when absent. */
const char *ctl_block_get(const struct ctl_block *b, const char *key);
