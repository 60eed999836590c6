#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"

static const char *const hook_kinds[] = {"prestart",        "createRuntime",
                                         "createContainer", "startContainer",
                                         "poststart",       "poststop"};

static int validate_hook(json_t *hook, const char *at, skiff_error_t **err)
{
  const char *path = NULL;
  int64_t timeout = 1;
  cleanup_strv char **args = NULL;
  cleanup_strv char **env = NULL;
  if (jsonutil_req_string(hook, "path", &path, at, err) < 0 ||
      jsonutil_opt_strv(hook, "args", &args, at, err) < 0 ||
      jsonutil_opt_strv(hook, "env", &env, at, err) < 0 ||
      jsonutil_opt_int64(hook, "timeout", &timeout, at, err) < 0)
    return -1;
  if (path[0] != '/')
    return skiff_error_invalid(err, "%s.path: \"%s\" is not an absolute path", at,
                               path);
  if (timeout <= 0)
    return skiff_error_invalid(err, "%s.timeout: must be greater than zero", at);
  return 0;
}

int hooks_validate(json_t *hooks, skiff_error_t **err)
{
  for (size_t k = 0; hooks && k < sizeof hook_kinds / sizeof hook_kinds[0]; k++) {
    json_t *list = NULL;
    if (jsonutil_opt_array(hooks, hook_kinds[k], &list, "hooks", err) < 0)
      return -1;
    size_t i;
    json_t *hook;
    json_array_foreach(list, i, hook)
    {
      char at[64];
      snprintf(at, sizeof at, "hooks.%s[%zu]", hook_kinds[k], i);
      if (validate_hook(hook, at, err) < 0)
        return -1;
    }
  }
  return 0;
}

int hooks_any(json_t *hooks, const char *kind, const char *kind2)
{
  return json_array_size(json_object_get(hooks, kind)) > 0 ||
         (kind2 && json_array_size(json_object_get(hooks, kind2)) > 0);
}

static __attribute__((noreturn)) void exec_hook(json_t *hook, int stdin_fd)
{
  cleanup_strv char **args = NULL;
  cleanup_strv char **env = NULL;
  const char *path = json_string_value(json_object_get(hook, "path"));
  jsonutil_opt_strv(hook, "args", &args, "", NULL);
  jsonutil_opt_strv(hook, "env", &env, "", NULL);
  dup2(stdin_fd, STDIN_FILENO);
  char *fallback[] = {(char *)path, NULL};
  execve(path, args && args[0] ? args : fallback, env);
  _exit(127);
}

/* Wait for pid at most timeout_s seconds (0: forever); on expiry kill it. */
static int wait_hook(pid_t pid, int64_t timeout_s, int *status, bool *timed_out)
{
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  *timed_out = false;
  if (pidfd >= 0 && timeout_s > 0) {
    struct pollfd p = {pidfd, POLLIN, 0};
    int r;
    do
      r = poll(&p, 1, (int)(timeout_s * 1000));
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      kill(pid, SIGKILL);
      *timed_out = true;
    }
  }
  if (pidfd >= 0)
    close(pidfd);
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return 0;
}

static int run_one(json_t *hook, const char *kind, const char *state_json,
                   skiff_error_t **err)
{
  const char *path = json_string_value(json_object_get(hook, "path"));
  int64_t timeout = json_integer_value(json_object_get(hook, "timeout"));
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return skiff_error_errno(err, "%s hook %s: pipe", kind, path);
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return skiff_error_errno(err, "%s hook %s: fork", kind, path);
  }
  if (pid == 0)
    exec_hook(hook, pipefd[0]);
  close(pipefd[0]);
  /* A hook may not read its stdin: ignore EPIPE, the state is best effort. */
  signal(SIGPIPE, SIG_IGN);
  ssize_t ignored = write(pipefd[1], state_json, strlen(state_json));
  (void)ignored;
  close(pipefd[1]);
  int status = 0;
  bool timed_out;
  if (wait_hook(pid, timeout, &status, &timed_out) < 0)
    return skiff_error_errno(err, "%s hook %s: wait", kind, path);
  if (timed_out)
    return skiff_error_set(err, ETIMEDOUT, "%s hook %s timed out after %lld s", kind,
                           path, (long long)timeout);
  if (WIFSIGNALED(status))
    return skiff_error_set(err, 0, "%s hook %s killed by signal %d", kind, path,
                           WTERMSIG(status));
  if (WEXITSTATUS(status) != 0)
    return skiff_error_set(err, 0, "%s hook %s exited with status %d", kind, path,
                           WEXITSTATUS(status));
  return 0;
}

int hooks_run(json_t *hooks, const char *kind, const char *state_json,
              skiff_error_t **err)
{
  size_t i;
  json_t *hook;
  json_array_foreach(json_object_get(hooks, kind), i, hook)
  {
    if (run_one(hook, kind, state_json, err) < 0)
      return -1;
  }
  return 0;
}
