#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "sync.h"

static int compare_ints(const void *a, const void *b)
{
  return *(const int *)a - *(const int *)b;
}

void process_close_fds(int first, const int *keep)
{
  int sorted[16];
  size_t n = 0;
  for (; keep && keep[n] != -1 && n < 16; n++)
    sorted[n] = keep[n];
  qsort(sorted, n, sizeof(int), compare_ints);
  int from = first;
  for (size_t i = 0; i < n; i++) {
    if (sorted[i] < from)
      continue;
    if (sorted[i] > from)
      syscall(SYS_close_range, from, sorted[i] - 1, 0);
    from = sorted[i] + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0);
}

int process_apply_limits(const struct spec_process *p, skiff_error_t **err)
{
  for (size_t i = 0; i < p->nrlimits; i++)
    if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].limit) < 0)
      return skiff_error_errno(err, "process.rlimits[%zu]: setrlimit", i);
  if (p->has_oom_score_adj) {
    char value[16];
    snprintf(value, sizeof value, "%d", p->oom_score_adj);
    if (fs_write_string("/proc/self/oom_score_adj", value, err) < 0)
      return skiff_error_wrap(err, "process.oomScoreAdj");
  }
  if (p->has_umask)
    umask(p->umask);
  return 0;
}

int process_apply_credentials(const struct spec_process *p,
                              struct seccomp_program *seccomp, skiff_error_t **err)
{
  if (seccomp && !p->no_new_privileges && seccomp_program_load(seccomp, NULL, err) < 0)
    return skiff_error_wrap(err, "linux.seccomp");
  if (caps_apply_bounding(p->caps, err) < 0)
    return skiff_error_wrap(err, "process.capabilities.bounding");
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return skiff_error_errno(err, "keep capabilities");
  if (setgroups(p->ngroups, p->groups) < 0 && !(errno == EPERM && p->ngroups == 0))
    return skiff_error_errno(err, "process.user.additionalGids: setgroups");
  if (setresgid(p->gid, p->gid, p->gid) < 0)
    return skiff_error_errno(err, "process.user.gid: setgid %u", p->gid);
  if (setresuid(p->uid, p->uid, p->uid) < 0)
    return skiff_error_errno(err, "process.user.uid: setuid %u", p->uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return skiff_error_errno(err, "drop keep-capabilities");
  if (caps_apply(p->caps, err) < 0)
    return skiff_error_wrap(err, "process.capabilities");
  return 0;
}

int process_load_seccomp_for_agent(const struct spec_process *p,
                                   struct seccomp_program **seccomp, int sync_sock,
                                   skiff_error_t **err)
{
  if (*seccomp == NULL || !seccomp_program_wants_listener(*seccomp))
    return 0;
  if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return skiff_error_errno(err, "process.noNewPrivileges");
  int notify_fd = -1;
  if (seccomp_program_load(*seccomp, &notify_fd, err) < 0)
    return skiff_error_wrap(err, "linux.seccomp");
  *seccomp = NULL;
  int ret = sync_send(sync_sock, SYNC_SECCOMP, NULL, 0, notify_fd, err);
  close(notify_fd);
  if (ret < 0)
    return -1;
  return sync_expect(sync_sock, SYNC_SECCOMP_DONE, err);
}

int process_enter_cwd(const struct spec_process *p, skiff_error_t **err)
{
  if (chdir(p->cwd) < 0)
    return skiff_error_errno(err, "process.cwd: chdir %s", p->cwd);
  /* getcwd() answers "(unreachable)/..." (or fails) for a directory outside
   * our root: that is how a leaked fd used as cwd shows itself. */
  char buf[4096];
  if (getcwd(buf, sizeof buf) == NULL || buf[0] != '/')
    return skiff_error_set(err, EPERM, "process.cwd: %s is outside the container root",
                           p->cwd);
  return 0;
}

static const char *env_path(char **env)
{
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0)
      return *e + 5;
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

static bool is_executable_file(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *process_find_executable(const struct spec_process *p, skiff_error_t **err)
{
  const char *name = p->args[0];
  if (strchr(name, '/')) {
    /* Checked here, as runc's exec.LookPath does, so that a missing or
     * non-executable path fails `create` rather than `start`. The text is
     * Go's (lower case, no strerror): engines classify these errors by it
     * (docker and podman map "no such file or directory" to exit status 127
     * and "permission denied" to 126). */
    struct stat st;
    if (stat(name, &st) < 0) {
      int saved = errno;
      skiff_error_set(err, 0, "exec: \"%s\": stat %s: %s", name, name,
                      saved == ENOENT    ? "no such file or directory"
                      : saved == ENOTDIR ? "not a directory"
                      : saved == EACCES  ? "permission denied"
                                         : strerror(saved));
      if (err && *err)
        (*err)->status = saved;
      return NULL;
    }
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0) {
      skiff_error_set(err, 0, "exec: \"%s\": permission denied", name);
      if (err && *err)
        (*err)->status = EACCES;
      return NULL;
    }
    return strdup(name);
  }
  cleanup_free char *dirs = strdup(env_path(p->env));
  char *save = NULL;
  for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    char *candidate = NULL;
    if (asprintf(&candidate, "%s/%s", *dir ? dir : ".", name) < 0)
      break;
    if (is_executable_file(candidate))
      return candidate;
    free(candidate);
  }
  skiff_error_status(err, ENOENT, "exec: \"%s\": executable file not found in $PATH",
                     name);
  return NULL;
}

/* The home directory of uid in /etc/passwd (the container's, once we are in
 * its root), or NULL. New string. */
static char *passwd_home(uid_t uid)
{
  FILE *f = fopen("/etc/passwd", "re");
  if (f == NULL)
    return NULL;
  char *home = NULL;
  struct passwd *pw;
  while ((pw = fgetpwent(f)) != NULL)
    if (pw->pw_uid == uid) {
      home = pw->pw_dir && *pw->pw_dir ? strdup(pw->pw_dir) : NULL;
      break;
    }
  fclose(f);
  return home;
}

int process_default_home(struct spec_process *p, skiff_error_t **err)
{
  size_t n = 0;
  for (; p->env && p->env[n]; n++)
    if (strncmp(p->env[n], "HOME=", 5) == 0)
      return 0;
  cleanup_free char *home = passwd_home(p->uid);
  char *entry = NULL;
  if (asprintf(&entry, "HOME=%s", home ? home : "/") < 0)
    return skiff_error_set(err, ENOMEM, "process.env: HOME");
  char **env = realloc(p->env, (n + 2) * sizeof *env);
  if (env == NULL) {
    free(entry);
    return skiff_error_set(err, ENOMEM, "process.env: HOME");
  }
  env[n] = entry;
  env[n + 1] = NULL;
  p->env = env;
  return 0;
}

/* A new program inherits the signal mask and ignored signals: whoever
 * started us (a shim blocking SIGCHLD and ignoring SIGPIPE, a shell that ran
 * the daemon in the background) must not leave them to the container. The
 * raw system calls reach glibc's own signals (32, 33) too, which its
 * sigaction refuses. */
static int reset_signals(skiff_error_t **err)
{
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
  } dfl = {.handler = SIG_DFL};
  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP &&
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask) < 0)
      return skiff_error_errno(err, "reset signal %d", sig);
  uint64_t none = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none) < 0)
    return skiff_error_errno(err, "reset the signal mask");
  return 0;
}

int process_exec(const struct spec_process *p, const char *path,
                 struct seccomp_program *seccomp, skiff_error_t **err)
{
  if (reset_signals(err) < 0)
    return -1;
  if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return skiff_error_errno(err, "process.noNewPrivileges");
  if (seccomp && p->no_new_privileges && seccomp_program_load(seccomp, NULL, err) < 0)
    return skiff_error_wrap(err, "linux.seccomp");
  execve(path, p->args, p->env);
  return skiff_error_errno(err, "exec %s", path);
}
