/* linux.seccomp through libseccomp: built (and so validated) by the runtime
 * before the container process exists, loaded by the container process as
 * its last step before execve. Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_SECCOMP_H
#define SKIFF_RUNTIME_SECCOMP_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

struct seccomp_program; /* opaque: a libseccomp filter ready to load */

/* Build the filter described by linux.seccomp (every field of runtime-spec
 * 1.1: defaultAction, defaultErrnoRet, architectures, flags, listenerPath,
 * listenerMetadata, syscalls[].names/action/errnoRet/args). A NULL seccomp
 * gives *out = NULL (no filter). Unknown syscall names are skipped (as runc
 * does, for profiles written for newer kernels); an unknown action, arch,
 * flag or operator is an error naming the field. */
int seccomp_program_build(json_t *seccomp, struct seccomp_program **out,
                          skiff_error_t **err);

/* True when the filter uses SCMP_ACT_NOTIFY and wants a listener. */
bool seccomp_program_wants_listener(const struct seccomp_program *prog);

/* Load the filter into the calling process. With a listener, *notify_fd
 * receives the notification fd (else -1). */
int seccomp_program_load(struct seccomp_program *prog, int *notify_fd,
                         skiff_error_t **err);

void seccomp_program_free(struct seccomp_program *prog);

/* Send a notification fd to listenerPath as runc does: a unix socket
 * connection carrying the container state JSON (with listenerMetadata) and
 * the fd in SCM_RIGHTS. */
int seccomp_send_listener_fd(const struct seccomp_program *prog, int notify_fd,
                             const char *state_json, skiff_error_t **err);

/* {"enabled", "actions", "operators", "archs", "knownFlags",
 *  "supportedFlags"} for `skiff-oci features`. New reference. */
json_t *seccomp_features(void);

#endif
