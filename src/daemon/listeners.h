/* The sockets named by -H / "hosts": unix:///path and tcp://addr:port,
 * opened by skiffd itself and then handed to the HTTP server. */
#ifndef SKIFF_DAEMON_LISTENERS_H
#define SKIFF_DAEMON_LISTENERS_H

#include <stdbool.h>

#include "common/error.h"

struct listener {
  char *host;      /* as given ("unix:///run/skiff/skiff.sock") */
  char *unix_path; /* for unix sockets: removed again by listener_close */
  bool tcp;
  int fd;
};

/* Whether host is a tcp:// address (those need TLS). */
bool listener_is_tcp(const char *host);

/* Open the listening socket for host. A unix socket is created mode 0660,
 * group "skiff" when that group exists; a stale socket file left by a dead
 * daemon is replaced, a live one is an error. Fills *l (fd is the caller's
 * to hand on); on error *l needs no cleanup. */
int listener_open(const char *host, struct listener *l, skiff_error_t **err);

/* Remove the socket file (unix) and free l's strings; closes fd if >= 0. */
void listener_close(struct listener *l);

#endif
