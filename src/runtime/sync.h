/* The message channel between the runtime and the container process it is
 * setting up (a SOCK_SEQPACKET socketpair): small typed messages, optionally
 * carrying one fd. The container side reports failures as MSG_ERROR with the
 * message text, so that the runtime can report them as its own. Internal. */
#ifndef SKIFF_RUNTIME_SYNC_H
#define SKIFF_RUNTIME_SYNC_H

#include <stddef.h>

#include "common/error.h"

enum sync_msg {
  SYNC_GO = 1,       /* runtime → child: maps written, cgroup joined */
  SYNC_MOUNTED,      /* child → runtime: mounts done, run the runtime hooks */
  SYNC_HOOKS_DONE,   /* runtime → child */
  SYNC_PTY,          /* child → runtime: the pty master (fd attached) */
  SYNC_PTY_DONE,     /* runtime → child: the master was passed on */
  SYNC_PID,          /* child → runtime: a pid (payload), for exec */
  SYNC_SECCOMP,      /* child → runtime: the seccomp notify fd (attached) */
  SYNC_SECCOMP_DONE, /* runtime → child: the agent has it */
  SYNC_READY,        /* child → runtime: set up, waiting for start */
  SYNC_ERROR,        /* child → runtime: payload is the message */
};

/* Send a message with an optional payload and fd (-1 for none). */
int sync_send(int sock, enum sync_msg type, const void *payload, size_t len, int fd,
              skiff_error_t **err);

/* Receive one message. *payload is a new NUL-terminated buffer (may be NULL
 * when the caller does not want it), *fd a received fd or -1. A closed peer
 * is an error with status EPIPE. */
int sync_recv(int sock, enum sync_msg *type, char **payload, int *fd,
              skiff_error_t **err);

/* Receive and require a given type: MSG_ERROR becomes an error carrying the
 * child's message; anything else is a protocol error. */
int sync_expect(int sock, enum sync_msg type, skiff_error_t **err);

/* Child side: report err over sock and _exit(1). */
__attribute__((noreturn)) void sync_fail(int sock, skiff_error_t *err);

#endif
