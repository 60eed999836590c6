/* The local terminal while a container's or an exec's tty is attached:
 * raw mode, and the window size sent to the daemon (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"

void terminal_make_raw(struct cli_terminal *t)
{
  t->raw = false;
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) < 0)
    return;
  /* docker's term.MakeRaw is cfmakeraw: output processing (OPOST) goes too,
   * so a container's "\r\n" reaches the terminal as it is, not "\r\r\n". */
  struct termios raw = t->saved;
  cfmakeraw(&raw);
  if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
    t->raw = true;
}

void terminal_restore(struct cli_terminal *t)
{
  if (t->raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
  t->raw = false;
}

void terminal_send_size(struct cli *cli, const char *resize_path)
{
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
    return;
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s?h=%u&w=%u", resize_path, ws.ws_row, ws.ws_col) >= 0) {
    skiff_error_t *e = NULL;
    client_simple(cli->client, "POST", path, NULL, NULL, &e);
    skiff_error_free(&e);
  }
}
