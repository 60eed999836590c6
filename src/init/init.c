/* skiff-init: PID 1 for containers run with --init, in the manner of tini.
 * It starts the command as its child, forwards the signals it receives to
 * it, reaps every zombie (orphans are re-parented to PID 1), and exits with
 * the command's status. Statically linked: it is bind-mounted into images
 * that may have no C library at all. Usage: skiff-init -- COMMAND [ARG...] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every signal but those the kernel or the terminal use for control. */
static void block_forwardable(sigset_t *set, sigset_t *old)
{
  sigfillset(set);
  static const int keep[] = {SIGFPE,  SIGILL, SIGSEGV, SIGBUS, SIGABRT,
                             SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU};
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
    sigdelset(set, keep[i]);
  sigprocmask(SIG_SETMASK, set, old);
}

static pid_t spawn(char **argv, const sigset_t *old)
{
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  sigprocmask(SIG_SETMASK, old, NULL);
  /* The command gets its own process group, so that a terminal's signals
   * (and our forwarding to the group) reach all of it. */
  setpgid(0, 0);
  if (isatty(STDIN_FILENO))
    tcsetpgrp(STDIN_FILENO, getpid());
  execvp(argv[0], argv);
  fprintf(stderr, "skiff-init: exec %s: %s\n", argv[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

/* Reap every exited child; true (with *status) once the command is one. */
static int reap_zombies(pid_t child, int *status)
{
  int done = 0, st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
    if (pid == child) {
      *status = st;
      done = 1;
    }
  return done;
}

static int exit_code(int status)
{
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0)
    first++;
  if (first >= argc) {
    fprintf(stderr, "usage: skiff-init -- COMMAND [ARG...]\n");
    return 2;
  }
  /* Outside a PID namespace's PID 1, orphans still come to us. */
  if (getpid() != 1)
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigset_t set, old;
  block_forwardable(&set, &old);
  pid_t child = spawn(argv + first, &old);
  if (child < 0) {
    perror("skiff-init: fork");
    return 1;
  }
  int status = 0;
  for (;;) {
    struct timespec tick = {1, 0};
    siginfo_t info;
    int sig = sigtimedwait(&set, &info, &tick);
    if (sig > 0 && sig != SIGCHLD)
      kill(child, sig);
    if (reap_zombies(child, &status))
      return exit_code(status);
  }
}
