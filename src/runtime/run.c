/* runtime_run: create, start, and stay with the container until it exits,
 * forwarding the signals we receive to it, as `runc run` does. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "console.h"
#include "container.h"
#include "runtime.h"

static volatile sig_atomic_t forward_to_pid;

static void forward_signal(int sig)
{
  if (forward_to_pid > 0)
    kill((pid_t)forward_to_pid, sig);
}

static const int forwarded_signals[] = {SIGINT,  SIGTERM, SIGHUP,   SIGQUIT,
                                        SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static void forward_signals_to(pid_t pid)
{
  forward_to_pid = pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigaction(forwarded_signals[i], &sa, NULL);
}

static int wait_exit_status(pid_t pid)
{
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return 255;
  }
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

int runtime_run(const struct runtime_options *opts, int *exit_status,
                skiff_error_t **err)
{
  pid_t pid = 0;
  int master = -1;
  bool relay = !opts->detach && opts->console_socket == NULL;
  if (container_create(opts, relay, &pid, &master, err) < 0)
    return -1;
  if (!opts->detach)
    forward_signals_to(pid);
  if (runtime_start(opts->root, opts->id, err) < 0) {
    if (master >= 0)
      close(master);
    runtime_delete(opts->root, opts->id, true, NULL);
    return -1;
  }
  if (opts->detach) {
    *exit_status = 0;
    return 0;
  }
  if (master >= 0) {
    console_relay(master, NULL);
    close(master);
  }
  *exit_status = wait_exit_status(pid);
  forward_to_pid = 0;
  skiff_error_t *del_err = NULL;
  if (runtime_delete(opts->root, opts->id, true, &del_err) < 0) {
    log_warn("%s", del_err->msg);
    skiff_error_free(&del_err);
  }
  return 0;
}
