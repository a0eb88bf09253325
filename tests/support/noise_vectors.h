/* Runner for the standard Noise JSON test-vector format (cacophony, snow,
 * noise-c): drives both sides of each vector through noise.c, handshake and
 * transport messages, and compares every byte. Shared by tools/noise-vectors
 * and the unit tests so both check the engine the daemon links. */
#pragma once
#include <stddef.h>
#include <stdio.h>

struct noise_vectors_result {
	unsigned passed, failed, skipped;
};

/* Runs every vector of the JSON document text[0..len). One line per vector
 * goes to report (NULL: silent): "PASS <name>", "FAIL <name>: reason" or
 * "SKIP <name>: reason". 0, or -EINVAL when text is not a vector file (then
 * counts hold what ran before the error). */
int noise_vectors_run_json(const char *text, size_t len, FILE *report,
			   struct noise_vectors_result *res);
/* As noise_vectors_run_json on the contents of path; -errno when unreadable. */
int noise_vectors_run_file(const char *path, FILE *report, struct noise_vectors_result *res);
