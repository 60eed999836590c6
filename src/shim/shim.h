/* skiff-shim: one small process per running container, like conmon. It is
 * the parent of the container's init (through the runtime library, in
 * process), holds its stdio or terminal, writes its json-file log, serves
 * attach connections, and records how it exited. It survives skiffd. */
#ifndef SKIFF_SHIM_SHIM_H
#define SKIFF_SHIM_SHIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/jsonlog.h"

#define SHIM_MAX_CLIENTS 32

/* <state-dir>/shim.json, written by skiffd. */
struct shim_config {
  char *dir; /* the state directory (attach.sock, exit.json live here) */
  char *id;
  char *bundle;
  char *runtime_root;
  bool tty, open_stdin, stdin_once;
  char *log_path;           /* NULL: log driver "none" */
  unsigned wait_for_attach; /* clients to await before starting (docker run) */
  int listen_fd;            /* attach.sock already bound by skiffd (inherited), or -1 */
  uint64_t log_max_size;
  unsigned log_max_files;
};

struct shim_client {
  int fd;
  bool stdin, stdout, stderr;
  bool input_ended; /* half-closed: polled for its hang-up only */
};

/* What the I/O loop works on. */
struct shim_io {
  int out, err; /* the container's stdout/stderr (or the pty master in out) */
  int in;       /* the container's stdin (or the pty master), -1 if closed */
  int listener; /* attach.sock */
  bool tty, stdin_once;
  struct jsonlog_writer *log;
  /* Client input the container has not read yet: in is non-blocking, so
   * that output keeps flowing while its stdin is full (a stdin client
   * waits meanwhile). close_in: close in once this is written. */
  struct {
    char buf[32768];
    size_t off, len;
    bool close_in;
  } stdin_pending;
  struct shim_client clients[SHIM_MAX_CLIENTS];
  size_t nclients;
};

/* Accept one attach client, if one is waiting. */
void shim_io_accept(struct shim_io *io);

/* One-shot control requests on attach.sock (control.c), told apart from
 * attach clients by their header line: {"resize":{"height":H,"width":W}}
 * sets the terminal's size. The answer is one line, "ok" or "error <why>".
 * Returns false (fd untouched) when header is not a control request;
 * true once it answered (the caller closes fd). */
bool shim_control_handle(struct shim_io *io, int fd, json_t *header);

int shim_config_load(const char *dir, struct shim_config *cfg, skiff_error_t **err);

/* Copy output to the log and the attached clients, client input to the
 * container, until init (pid) exits and its output is drained. Returns the
 * wait status of init. */
int shim_io_run(struct shim_io *io, pid_t init_pid, int sigchld_fd);

/* Once the container runs: drop the pages only start-up needed (trim.c). */
void shim_trim_startup_memory(void);

/* skiff-shim --exec (exec.c): run one exec and relay its streams; the
 * protocol with skiffd is described there. Returns the shim's exit status. */
int shim_exec_main(void);

#endif
