/* Docker's multiplexed stream ("stdcopy"): without a tty, attach and logs
 * frame each chunk with an 8-byte header {stream, 0, 0, 0, size32be}, where
 * stream is 0 stdin, 1 stdout, 2 stderr or 3 an error from the daemon. */
#ifndef SKIFF_CLI_STREAM_H
#define SKIFF_CLI_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/detachkeys.h"
#include "common/error.h"

enum { STDCOPY_STDIN = 0, STDCOPY_STDOUT = 1, STDCOPY_STDERR = 2, STDCOPY_SYSERR = 3 };

/* Receives each payload piece with its stream (0 and 1 are both output). */
typedef int (*stdcopy_sink)(int stream, const char *buf, size_t len, void *arg);

struct stdcopy {
  unsigned char header[8];
  size_t header_len;
  uint32_t remaining; /* payload bytes left in the current frame */
  int stream;
  char *syserr; /* an error frame's text, collected until complete */
  size_t syserr_len;
  stdcopy_sink sink;
  void *arg;
};

void stdcopy_init(struct stdcopy *d, stdcopy_sink sink, void *arg);
void stdcopy_clear(struct stdcopy *d);

/* Feed the next bytes of the stream, in any split. Returns 0, or -1 with
 * *err for an unknown stream byte, an error frame from the daemon (its text)
 * or a failing sink. */
int stdcopy_feed(struct stdcopy *d, const char *buf, size_t len, skiff_error_t **err);

/* True when the stream stopped inside a frame. */
bool stdcopy_truncated(const struct stdcopy *d);

/* A stdcopy_sink writing stdout (and stdin echo) to fds[0], stderr to fds[1];
 * arg is an int[2]. */
int stream_sink_fds(int stream, const char *buf, size_t len, void *arg);

/* The copy loop of a hijacked attach connection. */
struct stream_pump {
  int sock;          /* the hijacked connection */
  const char *early; /* stream bytes that came with the response headers */
  size_t early_len;
  bool tty;  /* raw stream (no stdcopy framing) */
  int in_fd; /* copied to sock until EOF, then half-closed; -1: none */
  int out_fd, err_fd;
  int signal_fd; /* a signalfd, or -1 */
  void (*on_signal)(int signo, void *arg);
  void *arg;
  /* Watch input for docker's detach keys (a tty's, as docker's CLI does);
   * NULL: no. The keys still go to the daemon, which ends the stream. */
  const struct detach_keys *detach_keys;
  bool detached; /* out: the keys were typed */
};

/* Copy until the daemon closes the stream (after a detach: at most 2 s
 * more). Input never blocks output: what the daemon cannot take yet waits
 * while output goes on. Returns 0, or -1 with *err. */
int stream_pump_run(struct stream_pump *p, skiff_error_t **err);

#endif
