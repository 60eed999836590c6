#include "proc.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int read_stat(pid_t pid, char *buf, size_t len)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, len - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n > 0 ? 0 : -1;
}

/* The command name (field 2) may hold spaces and parentheses; the fields
 * after it start past the last ')'. */
static char *fields_after_comm(char *stat)
{
  char *p = strrchr(stat, ')');
  return p ? p + 2 : NULL;
}

uint64_t proc_start_time(pid_t pid)
{
  char buf[1024];
  if (pid <= 0 || read_stat(pid, buf, sizeof buf) < 0)
    return 0;
  char *p = fields_after_comm(buf);
  /* p is field 3 (state); starttime is field 22, 19 fields further. */
  for (int field = 3; p && field < 22; field++) {
    p = strchr(p, ' ');
    if (p)
      p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

char proc_state(pid_t pid)
{
  char buf[1024];
  if (pid <= 0 || read_stat(pid, buf, sizeof buf) < 0)
    return 0;
  char *p = fields_after_comm(buf);
  return p ? *p : 0;
}

static const struct {
  const char *name;
  int number;
} signal_names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

static int parse_number(const char *text)
{
  char *end;
  long n = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || n <= 0 || n >= NSIG)
    return -1;
  return (int)n;
}

static int parse_realtime(const char *name)
{
  int base = -1;
  const char *rest = NULL;
  if (strncasecmp(name, "RTMIN", 5) == 0) {
    base = SIGRTMIN;
    rest = name + 5;
  } else if (strncasecmp(name, "RTMAX", 5) == 0) {
    base = SIGRTMAX;
    rest = name + 5;
  } else {
    return -1;
  }
  if (*rest == '\0')
    return base;
  int offset = parse_number(rest + 1);
  if (offset < 0 || (*rest != '+' && *rest != '-'))
    return -1;
  int sig = *rest == '+' ? base + offset : base - offset;
  return (sig >= SIGRTMIN && sig <= SIGRTMAX) ? sig : -1;
}

int proc_parse_signal(const char *text)
{
  if (text == NULL || *text == '\0')
    return -1;
  if (isdigit((unsigned char)text[0]))
    return parse_number(text);
  const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (strcasecmp(name, signal_names[i].name) == 0)
      return signal_names[i].number;
  return parse_realtime(name);
}

void proc_spawnattr_init_clean(posix_spawnattr_t *attr)
{
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_init(attr);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setsigdefault(attr, &all);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}
