#include "http.h"

#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/unixsock.h"
#include "format.h"

/* ------------------------------------------------------------ connect */

static int refused(skiff_error_t **err, const char *what)
{
  skiff_error_errno(err, "connect to %s", what);
  if (err && *err)
    (*err)->status = ECONNREFUSED;
  return -1;
}

static int connect_tcp(const char *host, const char *port, skiff_error_t **err)
{
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *list = NULL;
  int gai = getaddrinfo(host, port, &hints, &list);
  if (gai != 0) {
    skiff_error_invalid(err, "resolve %s: %s", host, gai_strerror(gai));
    (*err)->status = ECONNREFUSED;
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
      int saved = errno;
      close(fd);
      fd = -1;
      errno = saved;
    }
  }
  freeaddrinfo(list);
  return fd >= 0 ? fd : refused(err, host);
}

int http_connect(const struct http_endpoint *ep, skiff_error_t **err)
{
  if (ep->socket == NULL)
    return connect_tcp(ep->host, ep->port, err);
  int fd = unixsock_connect(ep->socket, err);
  if (fd < 0 && err && *err)
    (*err)->status = ECONNREFUSED;
  return fd;
}

/* ------------------------------------------------------------ request */

static int write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_head(int fd, const struct http_request *req, skiff_error_t **err)
{
  bool body = req->body || req->body_fd >= 0;
  bool chunked = req->body_fd >= 0 && req->body_size < 0;
  long long length = req->body_fd >= 0 ? req->body_size : (long long)req->body_len;
  cleanup_free char *head = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&head, &len);
  if (f == NULL)
    return skiff_error_errno(err, "compose the request");
  fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: skiff/%s (linux)\r\n",
          req->method, req->target, req->host, SKIFF_VERSION);
  if (body)
    fprintf(f, "Content-Type: %s\r\n", req->content_type);
  if (chunked)
    fputs("Transfer-Encoding: chunked\r\n", f);
  else if (body || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT"))
    fprintf(f, "Content-Length: %lld\r\n", length);
  if (req->upgrade)
    fputs("Connection: Upgrade\r\nUpgrade: tcp\r\n", f);
  for (size_t i = 0; req->headers && req->headers[i]; i++)
    fprintf(f, "%s\r\n", req->headers[i]);
  fputs("\r\n", f);
  if (fclose(f) != 0)
    return skiff_error_errno(err, "compose the request");
  if (write_all(fd, head, len) < 0)
    return skiff_error_errno(err, "send the request");
  return 0;
}

/* A body read from an fd: size bytes, or chunked until EOF. */
static int send_fd_body(int fd, const struct http_request *req, skiff_error_t **err)
{
  bool chunked = req->body_size < 0;
  char buf[65536 + 16];
  char *data = buf + 16; /* room for the chunk header in front */
  for (;;) {
    ssize_t n = read(req->body_fd, data, 65536);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return skiff_error_errno(err, "read the request body");
    if (n == 0)
      break;
    if (!chunked) {
      if (write_all(fd, data, (size_t)n) < 0)
        return skiff_error_errno(err, "send the request body");
      continue;
    }
    char size[16];
    int hl = snprintf(size, sizeof size, "%zx\r\n", (size_t)n);
    memcpy(data - hl, size, (size_t)hl);
    data[n] = '\r', data[n + 1] = '\n';
    if (write_all(fd, data - hl, (size_t)(hl + n + 2)) < 0)
      return skiff_error_errno(err, "send the request body");
  }
  if (chunked && write_all(fd, "0\r\n\r\n", 5) < 0)
    return skiff_error_errno(err, "send the request body");
  return 0;
}

int http_send(int fd, const struct http_request *req, skiff_error_t **err)
{
  if (send_head(fd, req, err) < 0)
    return -1;
  if (req->body && write_all(fd, req->body, req->body_len) < 0)
    return skiff_error_errno(err, "send the request body");
  if (req->body_fd >= 0)
    return send_fd_body(fd, req, err);
  return 0;
}

/* ------------------------------------------------------------ response */

struct reading {
  const struct http_sink *sink;
  struct strbuf field,
      value; /* the header being read; http-parser hands it in pieces */
  bool in_value, headers_done, complete, stopped;
  bool skip_body; /* HEAD, or an upgrade: the head is the whole response */
};

static int flush_header(struct reading *r)
{
  int ret = 0;
  if (r->field.s && r->sink->on_header)
    ret = r->sink->on_header(r->field.s, r->value.s ? r->value.s : "", r->sink->arg);
  strbuf_free(&r->field);
  strbuf_free(&r->value);
  r->in_value = false;
  return ret < 0 ? -1 : 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
  struct reading *r = p->data;
  if (r->in_value && flush_header(r) < 0)
    return -1;
  return strbuf_append(&r->field, at, n);
}

static int on_value(http_parser *p, const char *at, size_t n)
{
  struct reading *r = p->data;
  r->in_value = true;
  return strbuf_append(&r->value, at, n);
}

static int on_headers_complete(http_parser *p)
{
  struct reading *r = p->data;
  if (flush_header(r) < 0)
    return -1;
  r->headers_done = true;
  if (r->sink->on_headers_done &&
      r->sink->on_headers_done((int)p->status_code, r->sink->arg) < 0) {
    r->stopped = true;
    return -1;
  }
  return r->skip_body ? 1 : 0; /* 1: no body follows */
}

static int on_body(http_parser *p, const char *at, size_t n)
{
  struct reading *r = p->data;
  if (r->sink->on_body && r->sink->on_body(at, n, r->sink->arg) < 0) {
    r->stopped = true;
    return -1;
  }
  return 0;
}

static int on_complete(http_parser *p)
{
  struct reading *r = p->data;
  r->complete = true;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* Wait until fd is readable, or *cancel. */
static int wait_readable(int fd, const volatile bool *cancel, skiff_error_t **err)
{
  if (cancel == NULL)
    return 0;
  struct pollfd p = {fd, POLLIN, 0};
  while (!*cancel) {
    int n = poll(&p, 1, 100);
    if (n > 0)
      return 0;
    if (n < 0 && errno != EINTR)
      return skiff_error_errno(err, "wait for the daemon");
  }
  return skiff_error_invalid(err, "request canceled");
}

/* Feed the parser until the response is done (it pauses there).
 * *used tells how much of the last buffer the parser took. */
static int parse_until_done(int fd, http_parser *p, struct reading *r, char *buf,
                            size_t cap, size_t *got, size_t *used,
                            const volatile bool *cancel, skiff_error_t **err)
{
  for (;;) {
    if (wait_readable(fd, cancel, err) < 0)
      return -1;
    ssize_t n = read(fd, buf, cap);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return skiff_error_errno(err, "read the daemon's response");
    *got = (size_t)n;
    *used = http_parser_execute(p, &settings, buf, (size_t)n);
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    if (r->stopped)
      return 1;
    if (r->complete)
      return 0;
    if (e != HPE_OK)
      return skiff_error_invalid(err, "malformed response from the daemon: %s",
                                 http_errno_description(e));
    if (n == 0) { /* the daemon closed: an answer if the headers came */
      if (r->headers_done)
        return 0;
      return skiff_error_invalid(err, "the daemon closed the connection");
    }
  }
}

int http_receive(int fd, bool head_request, const struct http_sink *sink,
                 const volatile bool *cancel, skiff_error_t **err)
{
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  /* A response to HEAD has headers only, whatever Content-Length says. */
  struct reading r = {.sink = sink, .skip_body = head_request};
  p.data = &r;
  size_t got = 0, used = 0;
  char buf[65536];
  int ret = parse_until_done(fd, &p, &r, buf, sizeof buf, &got, &used, cancel, err);
  strbuf_free(&r.field);
  strbuf_free(&r.value);
  return ret;
}

int http_receive_head(int fd, int *status, const struct http_sink *sink, char **rest,
                      size_t *rest_len, skiff_error_t **err)
{
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  struct reading r = {.sink = sink, .skip_body = true};
  p.data = &r;
  size_t got = 0, used = 0;
  char buf[65536];
  int ret = parse_until_done(fd, &p, &r, buf, sizeof buf, &got, &used, NULL, err);
  strbuf_free(&r.field);
  strbuf_free(&r.value);
  if (ret != 0)
    return -1;
  *status = (int)p.status_code;
  *rest_len = got - used;
  *rest = malloc(*rest_len + 1);
  if (*rest == NULL)
    return skiff_error_errno(err, "read the daemon's response");
  memcpy(*rest, buf + used, *rest_len);
  (*rest)[*rest_len] = '\0';
  return 0;
}
