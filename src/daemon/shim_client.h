/* Starting and talking to skiff-shim (see src/shim/shim.h). */
#ifndef SKIFF_DAEMON_SHIM_CLIENT_H
#define SKIFF_DAEMON_SHIM_CLIENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/* The shim's attach socket, bound by the daemon before the shim starts so
 * that attach clients can connect at once; handed over as SHIM_LISTEN_FD. */
#define SHIM_LISTEN_FD 4
int shim_listen(const char *state_dir, skiff_error_t **err);

/* Start `skiff-shim state_dir` from shim_fd (the daemon's sealed copy of
 * it) in its own session, with listen_fd (or -1) as its fd SHIM_LISTEN_FD,
 * and wait for its answer: the container runs (init pid in *init_pid) or
 * the shim's error. */
int shim_spawn(int shim_fd, const char *state_dir, int listen_fd, pid_t *shim_pid,
               pid_t *init_pid, skiff_error_t **err);

/* Connect to the shim's attach socket asking for the given streams. */
int shim_attach(const char *state_dir, bool in, bool out, bool err_stream,
                skiff_error_t **err);

/* Start `skiff-shim --exec` (an exec's shim) from shim_fd like shim_spawn,
 * with a new control socket (SOCK_SEQPACKET) as its fd 3 and client, when
 * >= 0, as its fd 4. *ctl is our end (CLOEXEC); *pid the shim, ours to
 * reap. */
int shim_spawn_exec(int shim_fd, int client, int *ctl, pid_t *pid, skiff_error_t **err);

/* Ask the shim to set its terminal's size: a one-shot request on the
 * attach socket, answered "ok" or "error <message>" (see src/shim/shim.h). */
int shim_resize(const char *state_dir, unsigned height, unsigned width,
                skiff_error_t **err);

#endif
