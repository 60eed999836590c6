/* skiff's OCI runtime (runtime-spec 1.1) as a library: skiff-oci is a thin
 * command line over it, and skiff-shim calls it in-process so that starting
 * a container costs no extra fork/exec. Containers are recorded under a state
 * root (default /run/skiff-oci) as <root>/<id>/state.json. */
#ifndef SKIFF_RUNTIME_RUNTIME_H
#define SKIFF_RUNTIME_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

#define RUNTIME_DEFAULT_ROOT "/run/skiff-oci"

/* What create/run/exec are asked to do; the fields mirror runc's flags. */
struct runtime_options {
  const char *root;           /* state root */
  const char *id;             /* container id */
  const char *bundle;         /* bundle directory (create/run) */
  const char *pid_file;       /* write the init (or exec'd) PID here */
  const char *console_socket; /* send the pty master here (terminal: true) */
  bool detach;                /* run/exec: do not wait for the process */
  bool no_pivot;              /* use MS_MOVE + chroot instead of pivot_root */
  bool no_new_keyring;        /* keep the caller's session keyring */
  bool systemd_cgroup;        /* cgroupsPath in slice:prefix:name form */
  int preserve_fds;           /* pass fds 3 .. 3+N-1 to the process */
};

/* Create the container from the bundle: the process is set up in its
 * namespaces, cgroup and root and waits for runtime_start before exec.
 * On error nothing is left: no state, cgroup, mount or process. On success
 * *pid (may be NULL) is the container's init PID. */
int runtime_create(const struct runtime_options *opts, pid_t *pid, skiff_error_t **err);

/* Like runtime_create, for a caller that holds the container's terminal
 * itself (skiff-shim): with process.terminal the pty master comes back in
 * *pty_master (else -1) instead of going to a console socket. */
int runtime_create_with_pty(const struct runtime_options *opts, pid_t *pid,
                            int *pty_master, skiff_error_t **err);

/* Let a created container run its process (runs poststart hooks). */
int runtime_start(const char *root, const char *id, skiff_error_t **err);

/* create + start; unless opts->detach, wait for the process, forwarding
 * signals, then delete the container. *exit_status is the process's exit
 * code, or 128+signal. */
int runtime_run(const struct runtime_options *opts, int *exit_status,
                skiff_error_t **err);

/* The OCI state of a container ({ociVersion,id,pid,status,bundle,
 * annotations} plus runc's rootfs, created, owner). New reference. */
json_t *runtime_state(const char *root, const char *id, skiff_error_t **err);

/* The config.json a container was created from. New reference. */
json_t *runtime_config(const char *root, const char *id, skiff_error_t **err);

/* Every container under root, as state objects. New reference. */
json_t *runtime_list(const char *root, skiff_error_t **err);

/* Send sig to the container's init, or with all to every process in it. */
int runtime_kill(const char *root, const char *id, int sig, bool all,
                 skiff_error_t **err);

/* Delete a stopped (or, with force, any) container: kill what runs, run the
 * poststop hooks, remove the cgroup and the state. */
int runtime_delete(const char *root, const char *id, bool force, skiff_error_t **err);

/* Freeze / thaw every process of a running container. */
int runtime_pause(const char *root, const char *id, skiff_error_t **err);
int runtime_resume(const char *root, const char *id, skiff_error_t **err);

/* The PIDs in the container's cgroup (malloc'ed, caller frees). */
int runtime_pids(const char *root, const char *id, pid_t **pids, size_t *count,
                 skiff_error_t **err);

/* Apply new linux.resources to a running container. */
int runtime_update(const char *root, const char *id, json_t *resources,
                   skiff_error_t **err);

/* Cgroup usage and events of a container (runc's events --stats). */
json_t *runtime_stats(const char *root, const char *id, skiff_error_t **err);

/* Whether the kernel's OOM killer killed a process of the container (its
 * memory cgroup's count), also after the container stopped, as long as it
 * is not deleted. */
bool runtime_oom_killed(const char *root, const char *id);

/* Run a new process (an OCI process object) in a running container's
 * namespaces and cgroup. Unless opts->detach, wait and fill *exit_status. */
int runtime_exec(const struct runtime_options *opts, json_t *process, int *exit_status,
                 skiff_error_t **err);

/* Like runtime_exec, for a caller that supervises the process itself
 * (skiff-shim's exec mode): returns once the process has exec'd, with its
 * pid in *pid (our child, to be reaped by the caller) and, with
 * process.terminal, the pty master in *pty_master (else -1). The process
 * inherits the caller's fds 0-2 otherwise. */
int runtime_exec_detached(const struct runtime_options *opts, json_t *process,
                          pid_t *pid, int *pty_master, skiff_error_t **err);

/* Re-execute the calling program (argv) from a sealed memfd copy of its
 * binary, unless it already runs from one; call before anything that puts
 * a process of ours in a container (CVE-2019-5736). Returns only on error
 * or when already protected (0). */
int runtime_ensure_cloned_binary(char **argv, skiff_error_t **err);

/* A sealed memfd (close-on-exec) holding a copy of the binary at path,
 * named name: a program started from it with execveat(AT_EMPTY_PATH) is
 * protected as above without copying itself again. Returns the fd. */
int runtime_sealed_copy(const char *path, const char *name, skiff_error_t **err);

/* The default config.json that `spec` writes (rootless: with a user
 * namespace mapping the caller). New reference. */
json_t *runtime_default_spec(bool rootless);

/* `features`: what this runtime supports (runtime-spec features.json). */
json_t *runtime_features(void);

#endif
