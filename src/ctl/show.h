/* `p2pvpnctl show` output: a parsed show reply (control/control.h) printed
 * in the layout of `wg show`, or as the stable --json object:
 *
 *   {"interface": {"name", "public_key", "listen_port", "reflexive_address"},
 *    "peers": [{"name", "public_key", "state", "path", "endpoint", "rtt_ms",
 *               "last_handshake_age_s", "rx_bytes", "tx_bytes"}]}
 *
 * A value the daemon left empty, omitted or sent malformed is null in JSON
 * and left out of the text, as wg leaves out an unknown endpoint. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "control/client.h"

/* The keys that open a block in a show reply, for ctl_reply_parse(). */
extern const char *const ctl_show_block_keys[];

/* Writes bytes as wg does: "512 B", "1.21 KiB", "5.00 MiB", ... up to TiB. */
void ctl_show_bytes(FILE *f, uint64_t bytes, bool colour);
/* Writes an age as wg does: "Now", "1 second ago", "1 hour, 2 minutes, 3
 * seconds ago"; days and years likewise. */
void ctl_show_age(FILE *f, uint64_t age_s, bool colour);
/* Writes one interface and its peers in text, blocks separated by an empty
 * line; colour adds ANSI attributes (only ever on a terminal). Control bytes
 * in daemon values are shown as '?' so they cannot drive the terminal. */
void ctl_show_text(FILE *f, const struct ctl_reply *r, bool colour);
/* Writes one interface as a JSON object, each line indented by indent
 * spaces after the first (for nesting in an array), no final newline. */
void ctl_show_json(FILE *f, const struct ctl_reply *r, int indent);
