/* Creating a container: the runtime side of the handshake with the
 * container's first process, and that process's own setup. Shared by
 * runtime_create and runtime_run. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_CONTAINER_H
#define SKIFF_RUNTIME_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime.h"

/* Create the container. With relay_pty, a terminal's master is handed back
 * in *pty_master (for run to relay) instead of needing a console socket. */
int container_create(const struct runtime_options *opts, bool relay_pty, pid_t *pid,
                     int *pty_master, skiff_error_t **err);

/* The RFC 3339 time now, UTC with nanoseconds, in buf. */
void container_now_rfc3339(char *buf, size_t len);

#endif
