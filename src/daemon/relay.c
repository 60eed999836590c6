#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fs.h"

#define RELAY_BUF 32768

/* Shim output to the client, unchanged (stdcopy frames or raw tty bytes).
 * -1 when either side is done. */
static int copy_output(int shim, int client)
{
  char buf[RELAY_BUF];
  ssize_t n = read(shim, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0 || fs_write_all(client, buf, (size_t)n) < 0)
    return -1;
  return 0;
}

/* Client input to the shim through the detach scanner. 1 at the client's
 * end of input, -1 when the stream is over, 0 otherwise. */
static int copy_input(int client, int shim, struct detach_scanner *scan, bool *detached)
{
  char buf[RELAY_BUF];
  char out[RELAY_BUF + DETACHKEYS_MAX];
  ssize_t n = read(client, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n < 0)
    return -1;
  size_t len = (size_t)n;
  const char *data = buf;
  if (scan->keys && n == 0) {
    len = detach_scanner_flush(scan, out);
    data = out;
  } else if (scan->keys) {
    len = detach_scanner_feed(scan, buf, len, out, detached);
    data = out;
  }
  if (len > 0 && fs_write_all(shim, data, len) < 0)
    return -1;
  if (*detached)
    return -1;
  return n == 0 ? 1 : 0;
}

enum relay_end relay_run(int client, int shim, const struct detach_keys *keys)
{
  struct detach_scanner scan = {0};
  if (keys)
    detach_scanner_init(&scan, keys);
  bool detached = false;
  struct pollfd fds[2] = {{client, POLLIN, 0}, {shim, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && copy_output(shim, client) < 0)
      break;
    if (fds[0].events == 0 && (fds[0].revents & (POLLHUP | POLLERR)))
      break; /* after its half-close, the client closed the rest too */
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)) || fds[0].events == 0)
      continue;
    int r = copy_input(client, shim, &scan, &detached);
    if (r < 0)
      break;
    if (r == 1) {
      /* The client closed its stdin: so does the container's. A client that
       * closed both directions (docker's CLI after its own detach) shows as
       * POLLHUP from now on; one that only half-closed waits for output. */
      shutdown(shim, SHUT_WR);
      fds[0].events = 0;
    }
  }
  return detached ? RELAY_DETACHED : RELAY_ENDED;
}
