#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"

#define RELAY_BUF 32768

/* One direction of the stream. Neither direction may wait for the other:
 * a blocking write of input while the peer is itself blocked writing
 * output to us deadlocks both (cat of a few MB did). So fds are
 * non-blocking, each direction buffers one read, and a direction with
 * bytes pending stops reading until its writer drains them. */
struct direction {
  int from, to;
  char buf[RELAY_BUF + DETACHKEYS_MAX];
  size_t off, len;
  bool ended; /* from reached its end: nothing more will be read */
};

/* Returns the old flags, to be put back: the fds may be dups whose file
 * the HTTP server shares (the flags belong to the file, not the fd). */
static int set_nonblocking(int fd)
{
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return flags;
}

/* Read once into the empty buffer. -1 on a read error. */
static int fill(struct direction *d, struct detach_scanner *scan, bool *detached)
{
  char raw[RELAY_BUF];
  ssize_t n = read(d->from, scan ? raw : d->buf, RELAY_BUF);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 0 : -1;
  d->off = 0;
  d->len = (size_t)n;
  if (n == 0)
    d->ended = true;
  if (scan && n == 0)
    d->len = detach_scanner_flush(scan, d->buf);
  else if (scan)
    d->len = detach_scanner_feed(scan, raw, (size_t)n, d->buf, detached);
  return 0;
}

/* Write what the buffer holds, as much as the peer takes. -1 on error. */
static int drain(struct direction *d)
{
  while (d->off < d->len) {
    ssize_t n = send(d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
    if (n < 0)
      return errno == EINTR ? 0 : errno == EAGAIN ? 0 : -1;
    d->off += (size_t)n;
  }
  d->off = d->len = 0;
  return 0;
}

static short want(const struct direction *d, int fd)
{
  short events = 0;
  if (fd == d->from && d->len == 0 && !d->ended)
    events |= POLLIN;
  if (fd == d->to && d->len > 0)
    events |= POLLOUT;
  return events;
}

/* Shim output to the client, unchanged (stdcopy frames or raw tty bytes). */
static int step_output(struct direction *out, short shim_revents)
{
  if ((shim_revents & (POLLIN | POLLHUP | POLLERR)) && out->len == 0 && !out->ended &&
      fill(out, NULL, NULL) < 0)
    return -1;
  return drain(out);
}

/* Client input to the shim, through the detach scanner when there is one. */
static int step_input(struct direction *in, short client_revents,
                      struct detach_scanner *scan, bool *detached)
{
  if ((client_revents & (POLLIN | POLLHUP | POLLERR)) && in->len == 0 && !in->ended &&
      fill(in, scan, detached) < 0)
    return -1;
  return drain(in);
}

enum relay_end relay_run(int client, int shim, const struct detach_keys *keys)
{
  cleanup_free struct direction *in = malloc(sizeof *in);
  cleanup_free struct direction *out = malloc(sizeof *out);
  if (in == NULL || out == NULL)
    return RELAY_ENDED;
  *in = (struct direction){.from = client, .to = shim};
  *out = (struct direction){.from = shim, .to = client};
  set_nonblocking(shim); /* ours alone */
  struct detach_scanner scan;
  if (keys)
    detach_scanner_init(&scan, keys);
  int client_flags = set_nonblocking(client);
  bool detached = false, shim_told = false;
  for (;;) {
    struct pollfd fds[2] = {{client, (short)(want(in, client) | want(out, client)), 0},
                            {shim, (short)(want(in, shim) | want(out, shim)), 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    if (step_output(out, fds[1].revents) < 0 || (out->ended && out->len == 0))
      break; /* the shim ended the stream, and its last bytes went out */
    if ((fds[0].revents & (POLLHUP | POLLERR)) && in->ended && in->len == 0)
      break; /* after its half-close, the client closed the rest too */
    if (step_input(in, fds[0].revents, keys ? &scan : NULL, &detached) < 0 || detached)
      break; /* bytes before the keys got their one chance to go out */
    if (in->ended && in->len == 0 && !shim_told) {
      /* The client closed its stdin: so does the container's. A client that
       * closed both directions (docker's CLI after its own detach) shows as
       * POLLHUP from now on; one that only half-closed waits for output. */
      shutdown(shim, SHUT_WR);
      shim_told = true;
    }
  }
  if (client_flags >= 0)
    fcntl(client, F_SETFL, client_flags);
  return detached ? RELAY_DETACHED : RELAY_ENDED;
}
