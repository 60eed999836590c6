/* Starting and talking to skiff-shim (see src/shim/shim.h). */
#ifndef SKIFF_DAEMON_SHIM_CLIENT_H
#define SKIFF_DAEMON_SHIM_CLIENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/* Start `shim_path state_dir` in its own session and wait for its answer:
 * the container runs (init pid in *init_pid) or the shim's error. */
int shim_spawn(const char *shim_path, const char *state_dir, pid_t *shim_pid,
               pid_t *init_pid, skiff_error_t **err);

/* Connect to the shim's attach socket asking for the given streams. */
int shim_attach(const char *state_dir, bool in, bool out, bool err_stream,
                skiff_error_t **err);

#endif
