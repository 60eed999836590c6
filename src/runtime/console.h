/* The container's terminal: a pty opened inside the container's /dev/pts,
 * whose master is handed to the caller's console socket the way runc does
 * (SCM_RIGHTS), or relayed by `run` itself. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_CONSOLE_H
#define SKIFF_RUNTIME_CONSOLE_H

#include "common/error.h"

/* Open a new pty through /dev/ptmx of the current root. */
int console_open_pty(int *master, int *slave, skiff_error_t **err);

/* Make slave the controlling terminal of a new session and stdio. */
int console_attach_stdio(int slave, skiff_error_t **err);

/* Set the window size (0 x 0 leaves it as it is). */
int console_set_size(int fd, unsigned short rows, unsigned short cols);

/* Send the master to the console socket at path. */
int console_send_master(const char *socket_path, int master, skiff_error_t **err);

/* Relay between our stdin/stdout and master until the master hangs up
 * (the container's side closed). Puts our terminal, if any, in raw mode
 * and restores it. */
int console_relay(int master, skiff_error_t **err);

#endif
