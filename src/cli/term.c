#include "term.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"

static struct termios saved;
static volatile sig_atomic_t raw_fd = -1;

static const int fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Restore, then die of the signal as if we had not caught it. */
static void on_fatal_signal(int signo)
{
  term_restore();
  signal(signo, SIG_DFL);
  raise(signo);
}

void term_restore(void)
{
  int fd = raw_fd;
  if (fd < 0)
    return;
  raw_fd = -1;
  tcsetattr(fd, TCSADRAIN, &saved);
}

bool term_make_raw(int fd)
{
  static bool hooked;
  if (raw_fd >= 0 || !isatty(fd) || tcgetattr(fd, &saved) < 0)
    return raw_fd >= 0;
  /* docker's term.MakeRaw is cfmakeraw: output processing (OPOST) goes too,
   * so a container's "\r\n" reaches the terminal as it is, not "\r\r\n". */
  struct termios raw = saved;
  cfmakeraw(&raw);
  if (!hooked) {
    atexit(term_restore);
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
      sigaction(fatal[i], &sa, NULL);
    hooked = true;
  }
  if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
    return false;
  raw_fd = fd;
  return true;
}

bool term_size(int fd, unsigned *rows, unsigned *cols)
{
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return false;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return true;
}

void term_send_size(struct client *client, const char *resize_path, unsigned rows,
                    unsigned cols)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s?h=%u&w=%u", resize_path, rows, cols) < 0)
    return;
  skiff_error_t *e = NULL;
  client_simple(client, "POST", path, NULL, NULL, &e);
  skiff_error_free(&e);
}

int term_check_stdin(bool attach_stdin, bool tty, skiff_error_t **err)
{
  if (attach_stdin && tty && !isatty(STDIN_FILENO))
    return skiff_error_invalid(err, "the input device is not a TTY");
  return 0;
}
