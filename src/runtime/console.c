#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/unixsock.h"

int console_open_pty(int *master, int *slave, skiff_error_t **err)
{
  cleanup_close int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return skiff_error_errno(err, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
    return skiff_error_errno(err, "unlock the pty");
  /* TIOCGPTPEER opens the peer through the master itself, so the slave is
   * the one of this devpts instance even if /dev/pts was tampered with. */
  int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0)
    return skiff_error_errno(err, "open the pty slave");
  *master = steal_fd(&m);
  *slave = s;
  return 0;
}

int console_attach_stdio(int slave, skiff_error_t **err)
{
  if (setsid() < 0)
    return skiff_error_errno(err, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return skiff_error_errno(err, "set the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0)
      return skiff_error_errno(err, "dup2 the pty to fd %d", fd);
  return 0;
}

int console_set_size(int fd, unsigned short rows, unsigned short cols)
{
  if (rows == 0 && cols == 0)
    return 0;
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  return ioctl(fd, TIOCSWINSZ, &ws);
}

int console_send_master(const char *socket_path, int master, skiff_error_t **err)
{
  cleanup_close int sock = unixsock_connect(socket_path, err);
  if (sock < 0)
    return skiff_error_wrap(err, "console socket");
  static const char name[] = "/dev/ptmx";
  return unixsock_send_fd(sock, name, sizeof name - 1, master, err);
}

static int copy_once(int from, int to)
{
  char buf[8192];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0)
    return -1;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    off += w;
  }
  return 0;
}

int console_relay(int master, skiff_error_t **err)
{
  struct termios saved, raw;
  int have_tty = tcgetattr(STDIN_FILENO, &saved) == 0;
  if (have_tty) {
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
      ioctl(master, TIOCSWINSZ, &ws);
    raw = saved;
    cfmakeraw(&raw);
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {master, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      if (copy_once(master, STDOUT_FILENO) < 0)
        break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      if (copy_once(STDIN_FILENO, master) < 0)
        fds[0].fd = -1; /* our stdin ended; keep showing output */
    }
  }
  if (have_tty)
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  (void)err;
  return 0;
}
