#include "jsonlog.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "jsonutil.h"

struct partial {
  char *data;
  size_t len;
};

struct jsonlog_writer {
  char *path;
  int fd;
  uint64_t size, max_size;
  unsigned max_files;
  struct partial out, err; /* lines not yet ended */
};

void jsonlog_format_time(int64_t ns, char *buf, size_t len)
{
  time_t secs = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%09lldZ", (long long)(ns % 1000000000));
}

int64_t jsonlog_parse_time(const char *text)
{
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == NULL)
    return -1;
  int64_t nanos = 0;
  if (*rest == '.') {
    int digits = 0;
    for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
      if (digits < 9)
        nanos = nanos * 10 + (*rest - '0');
    for (; digits < 9; digits++)
      nanos *= 10;
  }
  int64_t offset = 0;
  if (*rest == '+' || *rest == '-') {
    int h = 0, m = 0;
    if (sscanf(rest + 1, "%d:%d", &h, &m) != 2)
      return -1;
    offset = (h * 3600 + m * 60) * (*rest == '+' ? 1 : -1);
  } else if (*rest != 'Z') {
    return -1;
  }
  return ((int64_t)timegm(&tm) - offset) * 1000000000 + nanos;
}

static int open_log(struct jsonlog_writer *w, skiff_error_t **err)
{
  w->fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (w->fd < 0)
    return skiff_error_errno(err, "open log %s", w->path);
  struct stat st;
  w->size = fstat(w->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  return 0;
}

struct jsonlog_writer *jsonlog_open(const char *path, uint64_t max_size,
                                    unsigned max_files, skiff_error_t **err)
{
  struct jsonlog_writer *w = calloc(1, sizeof *w);
  if (w == NULL || (w->path = strdup(path)) == NULL) {
    free(w);
    skiff_error_set(err, ENOMEM, "log %s", path);
    return NULL;
  }
  w->max_size = max_size;
  w->max_files = max_files ? max_files : 1;
  if (open_log(w, err) < 0) {
    free(w->path);
    free(w);
    return NULL;
  }
  return w;
}

/* log.(N-1) → log.N, ..., log → log.1, then a fresh log: docker's order. */
static int rotate(struct jsonlog_writer *w, skiff_error_t **err)
{
  close(w->fd);
  for (unsigned i = w->max_files - 1; i >= 1; i--) {
    char from[4096], to[4096];
    if (i == 1)
      snprintf(from, sizeof from, "%s", w->path);
    else
      snprintf(from, sizeof from, "%s.%u", w->path, i - 1);
    snprintf(to, sizeof to, "%s.%u", w->path, i);
    if (rename(from, to) < 0 && errno != ENOENT)
      return skiff_error_errno(err, "rotate %s", from);
  }
  if (w->max_files == 1 && truncate(w->path, 0) < 0 && errno != ENOENT)
    return skiff_error_errno(err, "truncate %s", w->path);
  return open_log(w, err);
}

/* Length of the valid UTF-8 sequence at p (of at most left bytes), or 0. */
static size_t utf8_sequence(const unsigned char *p, size_t left)
{
  size_t n = p[0] < 0x80         ? 1
             : (p[0] >> 5) == 6  ? 2
             : (p[0] >> 4) == 14 ? 3
             : (p[0] >> 3) == 30 ? 4
                                 : 0;
  if (n == 0 || n > left)
    return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

/* JSON strings must be UTF-8: like docker, replace each invalid byte with
 * U+FFFD. New buffer of *out_len bytes. */
static char *to_valid_utf8(const char *data, size_t len, size_t *out_len)
{
  char *out = malloc(len * 3 + 1);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence((const unsigned char *)data + i, len - i);
    if (n == 0) {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
      continue;
    }
    memcpy(out + o, data + i, n);
    o += n;
    i += n;
  }
  *out_len = o;
  return out;
}

static int write_entry(struct jsonlog_writer *w, const char *stream, const char *text,
                       size_t len, skiff_error_t **err)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char when[48];
  jsonlog_format_time((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, when, sizeof when);
  size_t valid_len = 0;
  cleanup_free char *valid = to_valid_utf8(text, len, &valid_len);
  json_t *entry = valid ? json_pack("{s:s%, s:s, s:s}", "log", valid, valid_len,
                                    "stream", stream, "time", when)
                        : NULL;
  char *line = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
  json_decref(entry);
  if (line == NULL)
    return skiff_error_set(err, ENOMEM, "log entry");
  size_t n = strlen(line);
  line[n] = '\n'; /* replaces the NUL: the buffer holds n + 1 bytes */
  ssize_t wrote = write(w->fd, line, n + 1);
  free(line);
  if (wrote < 0)
    return skiff_error_errno(err, "write log %s", w->path);
  w->size += (uint64_t)wrote;
  if (w->max_size && w->size >= w->max_size)
    return rotate(w, err);
  return 0;
}

static struct partial *partial_of(struct jsonlog_writer *w, const char *stream)
{
  return strcmp(stream, "stderr") == 0 ? &w->err : &w->out;
}

int jsonlog_write(struct jsonlog_writer *w, const char *stream, const char *data,
                  size_t len, skiff_error_t **err)
{
  struct partial *held = partial_of(w, stream);
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) + 1 : len;
    char *grown = realloc(held->data, held->len + take);
    if (grown == NULL)
      return skiff_error_set(err, ENOMEM, "log line");
    held->data = grown;
    memcpy(held->data + held->len, data, take);
    held->len += take;
    data += take;
    len -= take;
    /* Docker splits lines longer than 16 KiB too. */
    if (nl || held->len >= 16384) {
      int ret = write_entry(w, stream, held->data, held->len, err);
      held->len = 0;
      if (ret < 0)
        return -1;
    }
  }
  return 0;
}

int jsonlog_flush(struct jsonlog_writer *w, skiff_error_t **err)
{
  static const char *streams[] = {"stdout", "stderr"};
  for (size_t i = 0; i < 2; i++) {
    struct partial *held = partial_of(w, streams[i]);
    if (held->len && write_entry(w, streams[i], held->data, held->len, err) < 0)
      return -1;
    held->len = 0;
  }
  return 0;
}

void jsonlog_close(struct jsonlog_writer *w)
{
  if (w == NULL)
    return;
  jsonlog_flush(w, NULL);
  close(w->fd);
  free(w->out.data);
  free(w->err.data);
  free(w->path);
  free(w);
}

int jsonlog_parse_line(const char *line, char **text, char *stream, size_t stream_len,
                       int64_t *time_ns)
{
  json_error_t jerr;
  json_t *entry = json_loads(line, 0, &jerr);
  const char *log = NULL, *which = NULL, *when = NULL;
  size_t log_len = 0;
  if (entry == NULL || json_unpack(entry, "{s:s%, s:s, s:s}", "log", &log, &log_len,
                                   "stream", &which, "time", &when) < 0) {
    json_decref(entry);
    return -1;
  }
  *text = malloc(log_len + 1);
  if (*text) {
    memcpy(*text, log, log_len);
    (*text)[log_len] = '\0';
  }
  snprintf(stream, stream_len, "%s", which);
  *time_ns = jsonlog_parse_time(when);
  json_decref(entry);
  return *text ? 0 : -1;
}
