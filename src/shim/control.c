/* Control requests on the shim's attach socket: see shim.h. */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "common/fs.h"
#include "shim.h"

static void reply(int fd, const char *text)
{
  char line[256];
  int len = snprintf(line, sizeof line, "%s\n", text);
  fs_write_all(fd, line, (size_t)len);
}

/* TIOCSWINSZ on the master: the kernel sends SIGWINCH to the terminal's
 * foreground process group. Without a terminal (or after it closed) there
 * is nothing to resize, which is no error: dockerd answers 200 there too. */
static void resize(struct shim_io *io, int fd, json_t *size)
{
  json_t *h = json_object_get(size, "height"), *w = json_object_get(size, "width");
  if (!json_is_integer(h) || !json_is_integer(w) || json_integer_value(h) < 0 ||
      json_integer_value(h) > 65535 || json_integer_value(w) < 0 ||
      json_integer_value(w) > 65535) {
    reply(fd, "error resize: height and width must be integers in 0-65535");
    return;
  }
  struct winsize ws = {.ws_row = (unsigned short)json_integer_value(h),
                       .ws_col = (unsigned short)json_integer_value(w)};
  if (io->tty && io->out >= 0 && ioctl(io->out, TIOCSWINSZ, &ws) < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "error resize: %m");
    reply(fd, msg);
    return;
  }
  reply(fd, "ok");
}

bool shim_control_handle(struct shim_io *io, int fd, json_t *header)
{
  json_t *size = json_object_get(header, "resize");
  if (size == NULL)
    return false;
  resize(io, fd, size);
  return true;
}
