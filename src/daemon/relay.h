/* The copy loop of an attach stream: between an API client's hijacked
 * connection and a skiff-shim attach connection, with docker's detach keys
 * scanned in the client's input. Used by container attach (and exec). */
#ifndef SKIFF_DAEMON_RELAY_H
#define SKIFF_DAEMON_RELAY_H

#include "common/detachkeys.h"

enum relay_end {
  RELAY_ENDED,    /* the shim ended the stream, or the client went away */
  RELAY_DETACHED, /* the client typed the detach keys */
};

/* Copy output from shim to client and input from client to shim until the
 * stream ends. With keys (NULL: none, as dockerd does without a tty) the
 * client's input is scanned: the keys are not forwarded, and the stream
 * ends RELAY_DETACHED when they complete. The client's half-close is passed
 * on to the shim (its stdin ends). Closes neither fd. */
enum relay_end relay_run(int client, int shim, const struct detach_keys *keys);

#endif
