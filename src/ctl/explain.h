/* `p2pvpnctl explain` output: the daemon's account of one peer's path, as
 * key=value blocks, printed for a reader. The content is the daemon's; this
 * only lays it out, so new keys show up without a new p2pvpnctl. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "control/client.h"

/* The keys that open a block in an explain reply, for ctl_reply_parse(). */
extern const char *const ctl_explain_block_keys[];

/* Writes each block as "key: value" lines (underscores in keys shown as
 * spaces), the opening pair flush left and the others indented, blocks
 * separated by an empty line. Control bytes in values are shown as '?'. */
void ctl_explain_text(FILE *f, const struct ctl_reply *r, bool colour);
