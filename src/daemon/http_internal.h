/* Internal to the HTTP layer (http.c, http_request.c, http_response.c).
 *
 * Every request runs its handler in a worker thread of its own, while the
 * libmicrohttpd connection thread (thread-per-connection) feeds the body and
 * waits, in the access callback, until the handler has decided what kind of
 * answer it gives:
 *
 *   FULL     the handler set a status and a body: queued as one response.
 *   STREAM   http_stream_begin: a pipe; the connection thread sends what the
 *            handler writes into it as a chunked response until EOF.
 *   UPGRADE  http_hijack with "Upgrade: tcp": a 101 response; libmicrohttpd
 *            hands the socket over in on_upgraded, the handler gets a dup.
 *   RAW      http_hijack without the upgrade (docker's old form): the
 *            handler writes "200 OK" itself on a dup of the socket while the
 *            connection thread stays parked in the access callback, which
 *            then returns MHD_NO so that libmicrohttpd closes the connection.
 *
 * The request is shared by the two threads and reference counted (one each);
 * all the fields below the lock are guarded by it. */
#ifndef SKIFF_DAEMON_HTTP_INTERNAL_H
#define SKIFF_DAEMON_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>

#include "http.h"
#include "router.h"

#define HTTP_BODY_MAX (16u << 20)

enum http_reply { REPLY_NONE, REPLY_FULL, REPLY_STREAM, REPLY_UPGRADE, REPLY_RAW };

struct http_response {
  struct http_request *req;
  enum http_reply kind;
  unsigned status;
  char *body; /* REPLY_FULL */
  size_t body_len;
  char *content_type;
  json_t *headers;  /* [[name, value], ...] added by the handler */
  int stream_read;  /* REPLY_STREAM: the connection thread reads ... */
  int stream_write; /* ... what the handler writes */
};

struct http_request {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int refs;

  struct daemon *daemon;
  struct http_server *server;
  struct MHD_Connection *conn;
  int conn_fd;
  bool tls;

  /* Fixed before the handler starts. */
  char *method, *path, *api_version;
  json_t *headers; /* lower-case name → value */
  json_t *query;   /* name → [values] */
  const struct api_route *route;
  char *params[ROUTER_MAX_PARAMS + 1];

  /* The body: in memory, or (streaming routes) through a pipe. */
  char *body;
  size_t body_len, body_cap;
  int body_read, body_write;
  bool body_too_big, body_dropping;

  bool rejected;     /* refused before the handler: answer once the body is read */
  bool answered;     /* a response was queued (connection thread only) */
  bool handler_done; /* the handler returned */
  bool gone;         /* the client's connection closed or hung up */

  /* A hijacked connection is listed so that stopping the server can cut
   * it (the handler then sees EOF); under http.c's list lock. */
  struct http_request *hijacked_prev, *hijacked_next;
  int hijacked_fd;
  bool hijacked_listed;

  /* REPLY_UPGRADE, filled by on_upgraded. */
  struct MHD_UpgradeResponseHandle *urh;
  int upgraded_fd;
  char *extra_in;
  size_t extra_len;

  struct http_response resp;
};

/* http.c: list req's hijacked socket fd / take it off the list. */
void http_hijacked_add(struct http_request *req, int fd);
void http_hijacked_remove(struct http_request *req);

/* http_request.c */
struct http_request *http_request_new(struct daemon *d, struct MHD_Connection *conn,
                                      const char *method, const char *url);
void http_request_unref(struct http_request *req);
/* Append a piece of a body held in memory; past HTTP_BODY_MAX the body is
 * marked too big and dropped. */
void http_request_append_body(struct http_request *req, const char *data, size_t len);
/* The parsed "/vX.YY" prefix is in range; otherwise *message says why. */
bool http_request_version_ok(const struct http_request *req, char **message);

/* http_response.c */
/* Headers every response carries (Api-Version, Server, ...) plus the
 * handler's and the content type, onto an MHD response. */
void http_response_add_headers(const struct http_response *resp,
                               struct MHD_Response *r);
/* Set a FULL reply with docker's error body, when none was set yet (lock held). */
void http_response_set_error_locked(struct http_response *resp, unsigned status,
                                    const char *message);
void http_response_release(struct http_response *resp);

#endif
