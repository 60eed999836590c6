/* Exec instances (docker exec): created on a running container, started
 * once, each supervised by its own short-lived skiff-shim in exec mode
 * (src/shim/exec.c), which is handed the client's connection so that the
 * streams do not pass through skiffd. Kept in memory only, as dockerd does:
 * they go away with their container (and with skiffd). Thread-safe. */
#ifndef SKIFF_DAEMON_EXECS_H
#define SKIFF_DAEMON_EXECS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

struct daemon;
struct exec_store;

struct exec_store *execs_open(struct daemon *d);

/* Daemon shutdown: stop following running execs (they go on without us,
 * their shims hold them) so that the handlers waiting for them return. */
void execs_shutdown(struct exec_store *store);

/* POST /containers/{id}/exec: body is docker's ExecConfig. Returns the new
 * exec's id. Errors: ENOENT (no such container), EBUSY (not running,
 * paused, restarting), EINVAL (a malformed config, no command). */
char *execs_create(struct exec_store *store, const char *container, json_t *body,
                   skiff_error_t **err);

/* GET /exec/{id}/json: docker's ExecInspect. ENOENT "No such exec
 * instance: <id>". New reference. */
json_t *execs_inspect(struct exec_store *store, const char *id, skiff_error_t **err);

/* Whether the exec exists (dockerd checks it before it hijacks). */
bool execs_exists(struct exec_store *store, const char *id);

struct exec_start_opts {
  int client;    /* the hijacked connection (attached), or -1 (detached) */
  bool frames;   /* docker's stdcopy framing on client (no tty) */
  bool has_size; /* ConsoleSize of the start request */
  unsigned short rows, cols;
};

/* POST /exec/{id}/start. Detached: returns once the process runs.
 * Attached: the exec's shim takes over a copy of the client connection;
 * returns once the exec has ended and its exit code is recorded, or once
 * the client typed its detach keys (a terminal's; the exec runs on, and
 * "exec_detach" is published).
 * Errors: ENOENT (no such exec or container), EBUSY (it already ran or
 * runs; the container is not running or paused), others with docker's
 * "OCI runtime exec failed: ..." message when the process cannot start
 * (its exit code then 126, or 127 when the command is not found). */
int execs_start(struct exec_store *store, const char *id,
                const struct exec_start_opts *o, skiff_error_t **err);

/* POST /exec/{id}/resize: the exec's terminal, once it has started (waits
 * up to 10 s for that, as dockerd does). */
int execs_resize(struct exec_store *store, const char *id, unsigned short rows,
                 unsigned short cols, skiff_error_t **err);

#endif
