/* The client's own terminal, for streams with a tty (run -it, attach,
 * start -ai, exec -it): raw mode that is undone on every way out (normal
 * return, exit(), a fatal signal), its size, and docker's checks. One
 * terminal per process: the state is global, as a signal handler needs. */
#ifndef SKIFF_CLI_TERM_H
#define SKIFF_CLI_TERM_H

#include <stdbool.h>

#include "client.h"
#include "common/error.h"

/* Put fd (a terminal) in raw mode as docker's CLI does (cfmakeraw: no
 * output processing either). Saves the old mode for term_restore, which
 * also runs at exit() and on SIGINT, SIGTERM, SIGHUP and SIGQUIT (unless
 * blocked: those arrive through a signalfd and the caller decides). False
 * when fd is not a terminal. */
bool term_make_raw(int fd);

/* Put the saved mode back (idempotent; async-signal-safe). */
void term_restore(void);

/* The size of terminal fd in rows and columns; false when it has none. */
bool term_size(int fd, unsigned *rows, unsigned *cols);

/* POST rows and cols as h and w to resize_path ("/containers/<id>/resize"
 * or "/exec/<id>/resize", escaped). Errors are ignored, as docker's CLI
 * ignores them: the process may have exited already (a 409). */
void term_send_size(struct client *client, const char *resize_path, unsigned rows,
                    unsigned cols);

/* docker's CheckTty: a tty with stdin attached needs stdin to be one. */
int term_check_stdin(bool attach_stdin, bool tty, skiff_error_t **err);

#endif
