#include "log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static bool log_json;
static bool log_debug_enabled;
static bool log_file_given;

int log_open(const char *path, bool json, bool debug)
{
  log_json = json;
  log_debug_enabled = debug;
  if (path == NULL || *path == '\0')
    return 0;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  log_fd = fd;
  log_file_given = true;
  return 0;
}

bool log_to_file(void)
{
  return log_file_given;
}

static const char *level_name(enum log_level level)
{
  static const char *names[] = {"error", "warning", "info", "debug"};
  return names[level];
}

static void now_rfc3339(char *buf, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
  if (level == LOG_LEVEL_DEBUG && !log_debug_enabled)
    return;
  char msg[4096], when[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  now_rfc3339(when, sizeof when);

  char *line = NULL;
  if (log_json) {
    json_t *obj = json_pack("{s:s, s:s, s:s}", "level", level_name(level), "msg", msg,
                            "time", when);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text && asprintf(&line, "%s\n", text) < 0)
      line = NULL;
    free(text);
  } else if (asprintf(&line, "time=\"%s\" level=%s msg=\"%s\"\n", when,
                      level_name(level), msg) < 0) {
    line = NULL;
  }
  if (line) {
    ssize_t ignored = write(log_fd, line, strlen(line));
    (void)ignored;
    free(line);
  }
}
