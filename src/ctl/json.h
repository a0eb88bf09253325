/* The little JSON p2pvpnctl writes (--json): strings escaped per RFC 8259
 * section 7, and null for values the daemon does not know. */
#pragma once
#include <stdio.h>

/* Writes s as a quoted JSON string; NULL writes null. Bytes that are not
 * valid UTF-8 become U+FFFD, so the output always parses. */
void ctl_json_string(FILE *f, const char *s);
