/* The last steps of the container's process before execve, shared by the
 * init of a new container and by exec: limits, credentials, capabilities,
 * working directory, and the exec itself. Runs inside the container (after
 * pivot_root or setns). Internal to src/runtime. */
#ifndef SKIFF_RUNTIME_PROCESS_H
#define SKIFF_RUNTIME_PROCESS_H

#include "common/error.h"
#include "seccomp.h"
#include "spec.h"

/* Close every fd from first upwards except the listed ones (keep ends with
 * -1): no descriptor of the caller may reach the container (CVE-2024-21626
 * leaked a host directory fd that became the cwd). */
void process_close_fds(int first, const int *keep);

/* rlimits, oom_score_adj, umask: while still privileged. */
int process_apply_limits(const struct spec_process *p, skiff_error_t **err);

/* Switch to the process's user and groups, keeping exactly its
 * capabilities. Loads seccomp before the switch when noNewPrivileges is not
 * set (loading then needs CAP_SYS_ADMIN, which the user may lose). */
int process_apply_credentials(const struct spec_process *p,
                              struct seccomp_program *seccomp, skiff_error_t **err);

/* With a seccomp agent (linux.seccomp.listenerPath) the filter must be
 * loaded while the runtime still listens on sync_sock, which passes the
 * notify fd on to the agent: load it now (setting no_new_privs first when
 * asked) and set *seccomp to NULL so that it is not loaded again. The
 * remaining setup syscalls then pass through the filter. */
int process_load_seccomp_for_agent(const struct spec_process *p,
                                   struct seccomp_program **seccomp, int sync_sock,
                                   skiff_error_t **err);

/* chdir to the cwd and make sure it is inside the container's root. */
int process_enter_cwd(const struct spec_process *p, skiff_error_t **err);

/* Resolve args[0] through the PATH of the process's env (a path with a slash
 * must exist and be executable). New string. */
char *process_find_executable(const struct spec_process *p, skiff_error_t **err);

/* Add HOME to p->env when it has none, as runc and crun do (docker and
 * containerd leave it to the runtime): the home of p->uid in the container's
 * /etc/passwd, else "/". Call inside the container's root, before the
 * credentials change and seccomp. */
int process_default_home(struct spec_process *p, skiff_error_t **err);

/* no_new_privs, seccomp (when it goes last), then execve. Returns only on
 * failure. */
int process_exec(const struct spec_process *p, const char *path,
                 struct seccomp_program *seccomp, skiff_error_t **err);

#endif
