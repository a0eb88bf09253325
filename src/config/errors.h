/* Collected configuration errors. Loaders never stop at the first problem:
 * every message is kept so that --check can print them all at once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cfg_errors {
	char **msgs; /* each "FILE:LINE: key: what is wrong (expected ...): 'value'" */
	size_t n;
};

/* Appends one formatted message; false when memory ran out (the message is lost). */
bool cfg_errors_add(struct cfg_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints every message, one a line, in the order found. */
void cfg_errors_print(const struct cfg_errors *errs, FILE *out);
/* Frees the messages and leaves errs empty and reusable. */
void cfg_errors_free(struct cfg_errors *errs);
