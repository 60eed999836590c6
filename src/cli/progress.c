/* docker's JSON message streams (pull, load, import): a sequence of JSON
 * objects such as {"status": "...", "id": "..."}, {"stream": "..."} or
 * {"error": "...", "errorDetail": {...}}, shown as docker's jsonmessage does
 * when the output is not a terminal. */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <string.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "format.h"

struct jsonstream {
  struct strbuf buf;
  int (*fn)(json_t *msg, void *arg);
  void *arg;
};

struct jsonstream *jsonstream_new(int (*fn)(json_t *msg, void *arg), void *arg)
{
  struct jsonstream *s = calloc(1, sizeof(*s));
  if (s) {
    s->fn = fn;
    s->arg = arg;
  }
  return s;
}

void jsonstream_free(struct jsonstream *s)
{
  if (s == NULL)
    return;
  strbuf_free(&s->buf);
  free(s);
}

/* Decode as many whole values as the buffer holds; keep the rest. */
int jsonstream_feed(struct jsonstream *s, const char *data, size_t len)
{
  if (strbuf_append(&s->buf, data, len) < 0)
    return -1;
  size_t at = 0;
  while (at < s->buf.len) {
    while (at < s->buf.len && strchr(" \t\r\n", s->buf.s[at]))
      at++;
    if (at == s->buf.len)
      break;
    json_error_t jerr;
    json_t *v =
        json_loadb(s->buf.s + at, s->buf.len - at, JSON_DISABLE_EOF_CHECK, &jerr);
    if (v == NULL) {
      /* Incomplete: the parser ran out of input. Otherwise it is garbage. */
      if ((size_t)jerr.position >= s->buf.len - at)
        break;
      return -1;
    }
    at += (size_t)jerr.position;
    int r = s->fn(v, s->arg);
    json_decref(v);
    if (r < 0)
      return -1;
  }
  memmove(s->buf.s, s->buf.s + at, s->buf.len - at);
  s->buf.len -= at;
  s->buf.s[s->buf.len] = '\0';
  return 0;
}

struct progress {
  FILE *out;
  bool tty;      /* out is a terminal: one line per id, redrawn in place */
  json_t *lines; /* id -> its line number (tty) */
  size_t n_lines;
  char *status;       /* the last status line */
  skiff_error_t *err; /* the first error message */
};

/* docker's progress text: "[=====>     ]  1.2MB/5.6MB" (the bar only on a
 * terminal wider than 110 columns, as docker's jsonmessage). */
static void progress_text(json_t *detail, char *buf, size_t len)
{
  json_int_t cur = json_integer_value(json_object_get(detail, "current"));
  json_int_t total = json_integer_value(json_object_get(detail, "total"));
  buf[0] = '\0';
  if (cur <= 0 && total <= 0)
    return;
  char c[32], t[32], bar[64] = "";
  format_human_size((double)cur, 4, c, sizeof c);
  if (total <= 0) {
    snprintf(buf, len, "%8s", c);
    return;
  }
  format_human_size((double)total, 4, t, sizeof t);
  struct winsize ws = {0};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 110) {
    int pct = (int)((double)cur / (double)total * 100) / 2;
    pct = pct > 50 ? 50 : pct;
    memset(bar, '=', (size_t)pct);
    bar[pct] = '>';
    memset(bar + pct + 1, ' ', (size_t)(50 - pct));
    bar[51] = '\0';
    snprintf(buf, len, "[%s] %8s/%s", bar, c, t);
  } else {
    snprintf(buf, len, "%8s/%s", c, t);
  }
}

/* On a terminal, a message with an id rewrites that id's line. */
static void show_tty_line(struct progress *p, const char *id, const char *text)
{
  json_t *at = json_object_get(p->lines, id);
  if (at == NULL) {
    json_object_set_new(p->lines, id, json_integer((json_int_t)p->n_lines++));
    fprintf(p->out, "%s: %s\n", id, text);
    return;
  }
  size_t up = p->n_lines - (size_t)json_integer_value(at);
  fprintf(p->out, "\033[%zuA\033[2K\r%s: %s\r\033[%zuB", up, id, text, up);
}

static int show_message(json_t *msg, void *arg)
{
  struct progress *p = arg;
  const char *error = json_string_value(json_object_get(msg, "error"));
  if (error == NULL)
    error = json_string_value(
        json_object_get(json_object_get(msg, "errorDetail"), "message"));
  if (error) {
    skiff_error_invalid(&p->err, "%s", error);
    return -1;
  }
  if (json_object_get(msg, "aux"))
    return 0;
  const char *stream = json_string_value(json_object_get(msg, "stream"));
  const char *status = json_string_value(json_object_get(msg, "status"));
  const char *id = json_string_value(json_object_get(msg, "id"));
  const char *progress = json_string_value(json_object_get(msg, "progress"));
  if (status) {
    free(p->status);
    p->status = strdup(status);
  }
  if (p->out == NULL)
    return 0;
  if (p->tty && status && id && *id) {
    char bar[128];
    progress_text(json_object_get(msg, "progressDetail"), bar, sizeof bar);
    cleanup_free char *text = NULL;
    if (asprintf(&text, "%s %s", status, bar) >= 0)
      show_tty_line(p, id, text);
  } else if (stream) {
    fputs(stream, p->out);
  } else if (json_object_size(json_object_get(msg, "progressDetail")) > 0) {
    return 0; /* byte counts are for terminals only, as docker shows them */
  } else if (status) {
    if (id && *id)
      fprintf(p->out, "%s: ", id);
    if (progress && *progress && json_object_get(msg, "progressDetail") == NULL)
      fprintf(p->out, "%s %s\n", status, progress);
    else
      fprintf(p->out, "%s\n", status);
  }
  fflush(p->out);
  return 0;
}

struct progress_sink {
  struct jsonstream *js;
  struct progress *p;
  bool raw; /* the answer was not JSON: copied as text */
};

static int progress_data(const char *buf, size_t len, void *arg)
{
  struct progress_sink *s = arg;
  if (!s->raw && jsonstream_feed(s->js, buf, len) == 0)
    return 0;
  if (s->p->err)
    return -1;
  s->raw = true;
  if (s->p->out)
    fwrite(buf, 1, len, s->p->out);
  return 0;
}

int progress_call(struct cli *cli, const char *method, const char *path, int body_fd,
                  long long body_size, FILE *out, char **status_out,
                  skiff_error_t **err)
{
  return progress_call_headers(cli, method, path, NULL, body_fd, body_size, out,
                               status_out, err);
}

int progress_call_headers(struct cli *cli, const char *method, const char *path,
                          const char *const *headers, int body_fd, long long body_size,
                          FILE *out, char **status_out, skiff_error_t **err)
{
  struct progress p = {
      .out = out, .tty = out && isatty(fileno(out)), .lines = json_object()};
  struct progress_sink sink = {.p = &p};
  sink.js = jsonstream_new(show_message, &p);
  if (sink.js == NULL)
    return skiff_error_errno(err, "%s", path);
  struct client_call call = {.method = method,
                             .path = path,
                             .body_fd = body_fd,
                             .body_size = body_size,
                             .headers = headers,
                             .on_data = progress_data,
                             .arg = &sink};
  struct client_reply reply;
  int r = client_do(cli->client, &call, &reply, err);
  if (r == 0 && reply.status >= 400)
    r = client_error_from_reply(&reply, err);
  else if (r == 0 && p.err)
    r = -1, *err = steal_pointer(&p.err);
  client_reply_clear(&reply);
  jsonstream_free(sink.js);
  skiff_error_free(&p.err);
  if (r == 0 && status_out)
    *status_out = steal_pointer(&p.status);
  free(p.status);
  json_decref(p.lines);
  return r;
}
