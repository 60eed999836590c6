/* The CLI's HTTP/1.1 transport to the daemon: connect (unix socket or tcp),
 * write one request, read its response. Responses are parsed by Debian's
 * http-parser (nodejs's), chunked bodies included; requests, which we
 * compose ourselves, are plain text. One request per connection.
 *
 * Why not libcurl: its dependency closure (33 shared libraries: TLS, LDAP,
 * Kerberos, SSH, RTMP...) costs 4 ms at every start of the CLI, a fifth of
 * `skiff run --rm busybox true` end to end, for features the CLI's talk to
 * the daemon does not use. */
#ifndef SKIFF_CLI_HTTP_H
#define SKIFF_CLI_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Where the daemon listens: a unix socket path, or host and port. */
struct http_endpoint {
  const char *socket;
  const char *host;
  const char *port;
};

/* A connected socket (blocking, close-on-exec), or -1 with *err whose
 * status is ECONNREFUSED when nothing answers there. */
int http_connect(const struct http_endpoint *ep, skiff_error_t **err);

struct http_request {
  const char *method;
  const char *target;       /* "/v1.47/containers/json?all=1" */
  const char *host;         /* the Host header */
  const char *content_type; /* when there is a body */
  const char *body;         /* a body in memory, or */
  size_t body_len;
  int body_fd;                /* one read from this fd (-1: none), */
  long long body_size;        /* of this size, or -1 to send it chunked */
  bool upgrade;               /* ask for "Upgrade: tcp" (attach, exec) */
  const char *const *headers; /* more "Name: value" lines, NULL-ended */
};

/* Write the request (head and body). Returns -1 with *err when the
 * connection fails; a daemon that answers early and closes shows up as
 * such an error only when no response can be read afterwards. */
int http_send(int fd, const struct http_request *req, skiff_error_t **err);

/* Receives the parts of a response; a callback returning < 0 stops the
 * transfer (http_receive then returns 1). */
struct http_sink {
  int (*on_header)(const char *name, const char *value, void *arg);
  int (*on_headers_done)(int status, void *arg);
  int (*on_body)(const char *buf, size_t len, void *arg);
  void *arg;
};

/* Read one response. For a HEAD request, headers only. When cancel is given,
 * the transfer is abandoned soon after *cancel becomes true ("request
 * canceled"). Returns 0 when the response ended (or the daemon closed a
 * stream after a good start), 1 when a sink callback stopped it, -1 with
 * *err otherwise. */
int http_receive(int fd, bool head_request, const struct http_sink *sink,
                 const volatile bool *cancel, skiff_error_t **err);

/* Read the head of a response to an upgrade request: *status, and in
 * *rest (malloc'ed) the bytes that followed the headers, which belong to
 * the raw stream (101, or docker's old 200 form) or to an error body. */
int http_receive_head(int fd, int *status, const struct http_sink *sink, char **rest,
                      size_t *rest_len, skiff_error_t **err);

#endif
