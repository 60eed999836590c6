#include "shim_client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/unixsock.h"

extern char **environ;

int shim_listen(const char *state_dir, skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/attach.sock", state_dir) < 0)
    return skiff_error_set(err, ENOMEM, "attach socket");
  unlink(path);
  return unixsock_listen(path, 16, err);
}

/* The child of vfork(): it shares the daemon's memory until execveat, so it
 * makes system calls only (no allocation, no locks). `skiff-shim arg` gets
 * answer_fd as its fd 3 and listen_fd (or -1) as its fd 4: a container's
 * shim its answer pipe and attach socket, an exec's shim its control socket
 * and the client's connection. */
static __attribute__((noreturn)) void exec_shim(int shim_fd, const char *arg,
                                                int answer_fd, int listen_fd)
{
  setsid();
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  /* fds 3 and 4 are the shim's: move ours out of the way first. */
  int answer = fcntl(answer_fd, F_DUPFD_CLOEXEC, 10);
  int listener = listen_fd >= 0 ? fcntl(listen_fd, F_DUPFD_CLOEXEC, 10) : -1;
  dup2(answer, 3);
  if (listener >= 0)
    dup2(listener, SHIM_LISTEN_FD);
  /* The shim must not die with the daemon's signals: a new session, and
   * default dispositions (vfork children keep the mask; exec resets the
   * handlers). */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Everything else closes at exec; shim_fd must live until then. */
  syscall(SYS_close_range, listener >= 0 ? SHIM_LISTEN_FD + 1 : 4, ~0U,
          CLOSE_RANGE_CLOEXEC);
  char *const argv[] = {"skiff-shim", (char *)arg, NULL};
  syscall(SYS_execveat, shim_fd, "", argv, environ, AT_EMPTY_PATH);
  _exit(127);
}

int shim_spawn(int shim_fd, const char *state_dir, int listen_fd, pid_t *shim_pid,
               pid_t *init_pid, skiff_error_t **err)
{
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return skiff_error_errno(err, "pipe for skiff-shim");
  /* vfork: the daemon is large, and copying its page tables for a child
   * that only execs cost more than the rest of the spawn. */
  pid_t pid = vfork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return skiff_error_errno(err, "fork skiff-shim");
  }
  if (pid == 0)
    exec_shim(shim_fd, state_dir, pipefd[1], listen_fd);
  close(pipefd[1]);
  *shim_pid = pid;
  char answer[4096];
  size_t used = 0;
  ssize_t n;
  while (used < sizeof answer - 1 &&
         ((n = read(pipefd[0], answer + used, sizeof answer - 1 - used)) > 0 ||
          (n < 0 && errno == EINTR)))
    if (n > 0)
      used += (size_t)n;
  close(pipefd[0]);
  answer[used] = '\0';
  answer[strcspn(answer, "\n")] = '\0';
  if (strncmp(answer, "ok ", 3) == 0) {
    *init_pid = (pid_t)atoi(answer + 3);
    return 0;
  }
  waitpid(pid, NULL, 0);
  if (strncmp(answer, "error ", 6) == 0)
    return skiff_error_set(err, 0, "%s", answer + 6);
  return skiff_error_set(err, EIO, "skiff-shim exited without an answer");
}

int shim_attach(const char *state_dir, bool in, bool out, bool err_stream,
                skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/attach.sock", state_dir) < 0)
    return skiff_error_set(err, ENOMEM, "attach");
  cleanup_close int fd = unixsock_connect(path, err);
  if (fd < 0)
    return -1;
  char header[128];
  int len = snprintf(
      header, sizeof header, "{\"stdin\":%s,\"stdout\":%s,\"stderr\":%s}\n",
      in ? "true" : "false", out ? "true" : "false", err_stream ? "true" : "false");
  if (write(fd, header, (size_t)len) != len)
    return skiff_error_errno(err, "attach to the shim");
  return steal_fd(&fd);
}

int shim_spawn_exec(int shim_fd, int client, int *ctl, pid_t *pid, skiff_error_t **err)
{
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return skiff_error_errno(err, "socketpair for the exec shim");
  *pid = vfork();
  if (*pid == 0)
    exec_shim(shim_fd, "--exec", pair[1], client);
  int saved = errno;
  close(pair[1]);
  if (*pid < 0) {
    close(pair[0]);
    return skiff_error_set(err, saved, "fork skiff-shim --exec");
  }
  *ctl = pair[0];
  return 0;
}

int shim_resize(const char *state_dir, unsigned height, unsigned width,
                skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/attach.sock", state_dir) < 0)
    return skiff_error_set(err, ENOMEM, "resize");
  cleanup_close int fd = unixsock_connect(path, err);
  if (fd < 0)
    return skiff_error_wrap(err, "resize the terminal");
  /* A shim busy writing to a stalled attach client must not hang us. */
  struct timeval timeout = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char line[128];
  int len = snprintf(line, sizeof line, "{\"resize\":{\"height\":%u,\"width\":%u}}\n",
                     height, width);
  if (fs_write_all(fd, line, (size_t)len) < 0)
    return skiff_error_errno(err, "resize the terminal");
  ssize_t n = read(fd, line, sizeof line - 1);
  if (n <= 0)
    return skiff_error_set(err, n < 0 ? errno : EIO,
                           "resize the terminal: no answer from "
                           "the shim");
  line[n] = '\0';
  line[strcspn(line, "\n")] = '\0';
  if (strcmp(line, "ok") != 0)
    return skiff_error_set(err, 0, "resize the terminal: %s",
                           strncmp(line, "error ", 6) == 0 ? line + 6 : line);
  return 0;
}
