/* Docker's detach keys: the key sequence with which an attached client
 * leaves a container's terminal without stopping it (ctrl-p,ctrl-q unless
 * the attach request's detachKeys says otherwise), and a scanner that finds
 * the sequence in a stdin stream however the network splits it. Pure code:
 * no I/O, no allocation. skiffd ends attach (and exec) streams with it;
 * the CLI watches its own input with it to know that it detached. */
#ifndef SKIFF_COMMON_DETACHKEYS_H
#define SKIFF_COMMON_DETACHKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define DETACHKEYS_MAX 32

struct detach_keys {
  unsigned char seq[DETACHKEYS_MAX];
  size_t len; /* >= 1 */
};

/* Parse docker's syntax: comma-separated keys, each a single character or
 * ctrl-<c> with <c> one of a-z @ [ \ ] ^ _ (any case). NULL or "" gives
 * the default ctrl-p,ctrl-q. On bad input: EINVAL with docker's message
 * "Invalid detach keys (<spec>) provided". */
int detachkeys_parse(const char *spec, struct detach_keys *keys, skiff_error_t **err);

struct detach_scanner {
  const struct detach_keys *keys; /* borrowed: must outlive the scanner */
  size_t matched;                 /* keys held back: a prefix of the sequence */
};

void detach_scanner_init(struct detach_scanner *s, const struct detach_keys *keys);

/* Scan the next len bytes of the stream. Writes to out (room for
 * len + DETACHKEYS_MAX bytes) what is to be forwarded now: the input minus
 * a trailing partial sequence, which is held back, plus held keys whose
 * match broke. Returns the number of bytes written. When the sequence
 * completes *detached is set: bytes before it are forwarded, the sequence
 * and what follows it are not. As dockerd's scanner does, a byte that breaks
 * a match is forwarded and does not start a new one. */
size_t detach_scanner_feed(struct detach_scanner *s, const char *in, size_t len,
                           char *out, bool *detached);

/* At the end of the stream: the held keys, to be forwarded (room for
 * DETACHKEYS_MAX bytes in out). Returns their count. */
size_t detach_scanner_flush(struct detach_scanner *s, char *out);

#endif
