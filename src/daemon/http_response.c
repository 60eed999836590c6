/* The handler's side of a response: a full answer, a stream written while
 * the handler runs, or a hijacked connection (see http_internal.h). Called
 * from the handler's worker thread; the connection thread waits on
 * req->changed for the kind of answer to be known. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "http_internal.h"

/* A stream's pipe holds this much, so that a handler that writes before it
 * has read the whole request body (progress while importing) does not stall
 * on a response that cannot be sent before the body ends. */
#define STREAM_PIPE_SIZE (1 << 20)

static const char *const common_headers[][2] = {
    {"Api-Version", HTTP_API_VERSION},
    {"Docker-Experimental", "false"},
    {"Ostype", "linux"},
    {"Server", "skiff/" SKIFF_VERSION " (linux)"},
};

void http_response_add_headers(const struct http_response *resp, struct MHD_Response *r)
{
  for (size_t i = 0; i < sizeof common_headers / sizeof *common_headers; i++)
    MHD_add_response_header(r, common_headers[i][0], common_headers[i][1]);
  size_t i;
  json_t *h;
  json_array_foreach(resp->headers, i, h)
      MHD_add_response_header(r, json_string_value(json_array_get(h, 0)),
                              json_string_value(json_array_get(h, 1)));
  if (resp->content_type)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
}

void http_response_release(struct http_response *resp)
{
  free(resp->body);
  free(resp->content_type);
  json_decref(resp->headers);
  if (resp->stream_read >= 0)
    close(resp->stream_read);
  if (resp->stream_write >= 0)
    close(resp->stream_write);
}

/* Claim the response for one kind of answer (lock held): false when the
 * handler already answered, which is a handler bug worth a log line. */
static bool claim_locked(struct http_response *resp, enum http_reply kind,
                         unsigned status, const char *content_type)
{
  if (resp->kind != REPLY_NONE) {
    log_warn("%s %s: the handler answered twice (status %u after %u)",
             resp->req->method, resp->req->path, status, resp->status);
    return false;
  }
  resp->kind = kind;
  resp->status = status;
  free(resp->content_type);
  resp->content_type = content_type ? strdup(content_type) : NULL;
  return true;
}

static void set_full(struct http_response *resp, unsigned status,
                     const char *content_type, char *body, size_t len)
{
  struct http_request *req = resp->req;
  pthread_mutex_lock(&req->lock);
  if (claim_locked(resp, REPLY_FULL, status, content_type)) {
    resp->body = body;
    resp->body_len = len;
    body = NULL;
    pthread_cond_broadcast(&req->changed);
  }
  pthread_mutex_unlock(&req->lock);
  free(body);
}

/* docker encodes with json.Encoder: compact, one trailing newline. */
static char *dump_line(json_t *json, size_t *len)
{
  char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
  char *line = NULL;
  if (text && asprintf(&line, "%s\n", text) < 0)
    line = NULL;
  free(text);
  *len = line ? strlen(line) : 0;
  return line;
}

void http_respond_json(struct http_response *resp, unsigned status, json_t *body)
{
  size_t len = 0;
  char *text = body ? dump_line(body, &len) : NULL;
  json_decref(body);
  if (text == NULL) {
    http_respond_error(resp, 500, "could not encode the response");
    return;
  }
  set_full(resp, status, "application/json", text, len);
}

void http_respond_data(struct http_response *resp, unsigned status,
                       const char *content_type, const void *data, size_t len)
{
  char *copy = malloc(len + 1);
  if (copy == NULL && len) {
    http_respond_error(resp, 500, "out of memory");
    return;
  }
  if (copy)
    memcpy(copy, data, len);
  set_full(resp, status, content_type, copy, len);
}

void http_respond_empty(struct http_response *resp, unsigned status)
{
  set_full(resp, status, NULL, NULL, 0);
}

static char *error_body(const char *message, size_t *len)
{
  json_t *obj = json_pack("{s:s}", "message", message ? message : "internal error");
  char *text = obj ? dump_line(obj, len) : NULL;
  json_decref(obj);
  return text;
}

void http_response_set_error_locked(struct http_response *resp, unsigned status,
                                    const char *message)
{
  if (resp->kind != REPLY_NONE)
    return;
  size_t len = 0;
  char *body = error_body(message, &len);
  resp->kind = REPLY_FULL;
  resp->status = status;
  resp->content_type = strdup("application/json");
  resp->body = body;
  resp->body_len = len;
}

void http_respond_error(struct http_response *resp, unsigned status, const char *fmt,
                        ...)
{
  cleanup_free char *message = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&message, fmt, ap) < 0)
    message = NULL;
  va_end(ap);
  if (status >= 500)
    log_error("%s %s: %s", resp->req->method, resp->req->path, message ? message : "?");
  size_t len = 0;
  char *body = error_body(message, &len);
  set_full(resp, status, "application/json", body, len);
}

static unsigned status_of_errno(int status)
{
  switch (status) {
  case ENOENT: return 404;
  case EEXIST:
  case EBUSY: return 409;
  case EINVAL: return 400;
  case EPERM:
  case EACCES: return 403;
  default: return 500;
  }
}

void http_respond_skiff_error(struct http_response *resp, const skiff_error_t *err)
{
  if (err == NULL) {
    http_respond_error(resp, 500, "unknown error");
    return;
  }
  http_respond_error(resp, status_of_errno(err->status), "%s",
                     err->msg ? err->msg : "error");
}

void http_response_header(struct http_response *resp, const char *name,
                          const char *value)
{
  pthread_mutex_lock(&resp->req->lock);
  if (resp->kind == REPLY_NONE)
    json_array_append_new(resp->headers, json_pack("[s,s]", name, value));
  pthread_mutex_unlock(&resp->req->lock);
}

bool http_client_gone(const struct http_response *resp)
{
  struct http_request *req = resp->req;
  pthread_mutex_lock(&req->lock);
  bool gone = req->gone;
  pthread_mutex_unlock(&req->lock);
  return gone;
}

/* ---------------------------------------------------------------- streams */

int http_stream_begin(struct http_response *resp, unsigned status,
                      const char *content_type)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return -1;
  fcntl(fds[1], F_SETPIPE_SZ, STREAM_PIPE_SIZE); /* best effort */
  struct http_request *req = resp->req;
  pthread_mutex_lock(&req->lock);
  bool ok = !req->gone && claim_locked(resp, REPLY_STREAM, status, content_type);
  if (ok) {
    resp->stream_read = fds[0];
    resp->stream_write = fds[1];
    pthread_cond_broadcast(&req->changed);
  }
  pthread_mutex_unlock(&req->lock);
  if (!ok) {
    close(fds[0]);
    close(fds[1]);
  }
  return ok ? 0 : -1;
}

/* The write end belongs to the handler's thread alone; the read end is
 * closed by the connection thread when the client goes, which turns the
 * next write into EPIPE (SIGPIPE is ignored by skiffd). */
int http_stream_write(struct http_response *resp, const void *data, size_t len)
{
  if (resp->kind != REPLY_STREAM || resp->stream_write < 0)
    return -1;
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(resp->stream_write, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return http_client_gone(resp) ? -1 : 0;
}

int http_stream_json(struct http_response *resp, json_t *obj)
{
  cleanup_free char *text = json_dumps(obj, JSON_COMPACT);
  if (text == NULL)
    return -1;
  cleanup_free char *line = NULL;
  if (asprintf(&line, "%s\r\n", text) < 0)
    return -1;
  return http_stream_write(resp, line, strlen(line));
}

/* ---------------------------------------------------------------- hijack */

static bool wants_upgrade(const struct http_request *req)
{
  const char *upgrade = http_request_header(req, "Upgrade");
  const char *connection = http_request_header(req, "Connection");
  return upgrade && strcasestr(upgrade, "tcp") && connection &&
         strcasestr(connection, "upgrade");
}

static int dup_blocking(int fd)
{
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0)
    return -1;
  int flags = fcntl(copy, F_GETFL);
  if (flags >= 0)
    fcntl(copy, F_SETFL, flags & ~O_NONBLOCK);
  return copy;
}

/* docker's pre-1.x form: "200 OK" with the raw-stream type, then the
 * socket. The connection thread is parked in the access callback, so
 * nothing else touches the socket until the handler returns. */
static int hijack_raw(struct http_request *req, struct http_response *resp,
                      const char *content_type)
{
  /* Claimed only while the connection thread still waits (not gone):
   * once it has given up, the socket may be closed and its number reused. */
  pthread_mutex_lock(&req->lock);
  bool ok = !req->gone && claim_locked(resp, REPLY_RAW, 200, content_type);
  if (ok)
    pthread_cond_broadcast(&req->changed);
  pthread_mutex_unlock(&req->lock);
  if (!ok)
    return -1;
  cleanup_free char *head = NULL;
  if (asprintf(&head,
               "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nApi-Version: %s\r\n"
               "Docker-Experimental: false\r\nOstype: linux\r\n"
               "Server: skiff/%s (linux)\r\n\r\n",
               content_type, HTTP_API_VERSION, SKIFF_VERSION) < 0)
    return -1;
  http_hijacked_add(req, req->conn_fd);
  int fd = dup_blocking(req->conn_fd);
  if (fd >= 0 && fs_write_all(fd, head, strlen(head)) < 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* Bytes the client sent right behind the request headers were read by
 * libmicrohttpd already; a socketpair with those bytes in front stands in
 * for the socket, and a thread copies in both directions. */
struct splice_args {
  int a, b;
};

static void *splice_main(void *arg)
{
  struct splice_args *s = arg;
  int fds[2] = {s->a, s->b};
  struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN},
                        {.fd = fds[1], .events = POLLIN}};
  char buf[16384];
  while (p[0].fd >= 0 || p[1].fd >= 0) {
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t n = read(fds[i], buf, sizeof buf);
      if (n > 0 && fs_write_all(fds[1 - i], buf, (size_t)n) == 0)
        continue;
      shutdown(fds[1 - i], SHUT_WR);
      p[i].fd = -1;
    }
  }
  close(fds[0]);
  close(fds[1]);
  free(s);
  return NULL;
}

static int splice_with_prefix(int sock, const char *prefix, size_t len)
{
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    return -1;
  struct splice_args *s = malloc(sizeof *s);
  pthread_t thread;
  if (s == NULL || fs_write_all(pair[1], prefix, len) < 0) {
    free(s);
    close(pair[0]);
    close(pair[1]);
    return -1;
  }
  *s = (struct splice_args){.a = sock, .b = pair[1]};
  if (pthread_create(&thread, NULL, splice_main, s) != 0) {
    free(s);
    close(pair[0]);
    close(pair[1]);
    return -1;
  }
  pthread_detach(thread);
  return pair[0];
}

static int hijack_upgrade(struct http_request *req, struct http_response *resp,
                          const char *content_type)
{
  pthread_mutex_lock(&req->lock);
  bool ok = !req->gone && claim_locked(resp, REPLY_UPGRADE, 101, content_type);
  if (ok)
    pthread_cond_broadcast(&req->changed);
  while (ok && req->urh == NULL && !req->gone)
    pthread_cond_wait(&req->changed, &req->lock);
  int sock = req->urh ? req->upgraded_fd : -1;
  pthread_mutex_unlock(&req->lock);
  if (sock < 0)
    return -1;
  int fd = dup_blocking(sock);
  if (fd >= 0 && req->extra_len > 0) {
    int spliced = splice_with_prefix(fd, req->extra_in, req->extra_len);
    if (spliced < 0)
      close(fd);
    fd = spliced;
  }
  return fd;
}

int http_hijack(struct http_request *req, struct http_response *resp,
                const char *content_type)
{
  if (wants_upgrade(req))
    return hijack_upgrade(req, resp, content_type);
  if (req->tls) {
    http_respond_error(resp, 400, "attach over TLS needs the \"Upgrade: tcp\" header");
    return -1;
  }
  return hijack_raw(req, resp, content_type);
}

/* dockerd's filters.FromJSON: {"key": {"value": true}} or the older
 * {"key": ["value"]}, nothing else. */
static bool filters_well_formed(json_t *filters)
{
  const char *key;
  json_t *values, *v;
  size_t i;
  if (!json_is_object(filters))
    return false;
  json_object_foreach(filters, key, values)
  {
    if (json_is_array(values)) {
      json_array_foreach(values, i,
                         v) if (!json_is_string(v) && !json_is_null(v)) return false;
    } else if (json_is_object(values)) {
      const char *name;
      json_object_foreach(values, name,
                          v) if (!json_is_boolean(v) && !json_is_null(v)) return false;
    } else if (!json_is_null(values)) {
      return false;
    }
  }
  return true;
}

json_t *http_request_filters(struct http_request *req, struct http_response *resp,
                             bool *bad)
{
  const char *text = http_request_query(req, "filters");
  *bad = false;
  if (text == NULL || *text == '\0')
    return NULL;
  json_t *filters = json_loads(text, JSON_DECODE_ANY, NULL);
  if (!filters_well_formed(filters)) {
    json_decref(filters);
    http_respond_error(resp, 400, "invalid filter");
    *bad = true;
    return NULL;
  }
  return filters;
}

json_t *http_request_filters_of(struct http_request *req, struct http_response *resp,
                                const char *const *accepted, bool *bad)
{
  json_t *filters = http_request_filters(req, resp, bad);
  const char *key;
  json_t *v;
  json_object_foreach(filters, key, v)
  {
    const char *const *a = accepted;
    while (*a && strcmp(*a, key) != 0)
      a++;
    if (*a == NULL) {
      http_respond_error(resp, 400, "invalid filter '%s'", key);
      json_decref(filters);
      *bad = true;
      return NULL;
    }
  }
  return filters;
}
