/* libmicrohttpd glue: one MHD daemon per listening socket, a thread per
 * connection, and for every request a worker thread that runs the API
 * handler (see http_internal.h for how the two threads meet).
 *
 * Why a worker thread even for small requests: libmicrohttpd only sends a
 * response after the access callback returns, so a handler that streams
 * (events, logs -f, pull progress) or hijacks (attach) cannot run inside
 * it. Running every handler the same way keeps one code path. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "http_internal.h"
#include "http_server.h"
#include "tls.h"

/* The pipe that carries a streamed request body: big enough that a tar
 * flows without a context switch per 64 KiB. */
#define BODY_PIPE_SIZE (1 << 20)

/* How often a connection waiting for its handler checks for a hang-up. */
#define HANGUP_CHECK_NS (250 * 1000 * 1000)

struct http_server {
  struct MHD_Daemon *mhd;
  struct daemon *daemon;
  bool verify_clients;
  char *cert, *key, *ca; /* libmicrohttpd keeps pointers to these */
};

/* ---------------------------------------------------------------- hijacked */

static pthread_mutex_t hijacked_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_request *hijacked_head;

void http_hijacked_add(struct http_request *req, int fd)
{
  pthread_mutex_lock(&hijacked_lock);
  req->hijacked_fd = fd;
  req->hijacked_prev = NULL;
  req->hijacked_next = hijacked_head;
  if (hijacked_head)
    hijacked_head->hijacked_prev = req;
  hijacked_head = req;
  req->hijacked_listed = true;
  pthread_mutex_unlock(&hijacked_lock);
}

void http_hijacked_remove(struct http_request *req)
{
  pthread_mutex_lock(&hijacked_lock);
  if (req->hijacked_listed) {
    if (req->hijacked_prev)
      req->hijacked_prev->hijacked_next = req->hijacked_next;
    else
      hijacked_head = req->hijacked_next;
    if (req->hijacked_next)
      req->hijacked_next->hijacked_prev = req->hijacked_prev;
    req->hijacked_listed = false;
  }
  pthread_mutex_unlock(&hijacked_lock);
}

/* libmicrohttpd does not close upgraded sockets when it stops (it warns
 * instead), and the handler holds a dup anyway: shutdown() reaches every
 * copy, so the handler's next read sees EOF and it returns. The fds stay
 * valid while listed: they are taken off the list before being closed. */
static void cut_hijacked(struct http_server *server)
{
  pthread_mutex_lock(&hijacked_lock);
  for (struct http_request *r = hijacked_head; r; r = r->hijacked_next)
    if (r->server == server)
      shutdown(r->hijacked_fd, SHUT_RDWR);
  pthread_mutex_unlock(&hijacked_lock);
}

/* ---------------------------------------------------------------- replies */

/* Connection thread: turn what the handler decided into a queued MHD
 * response. Called with the lock held and kind != REPLY_NONE. */
static enum MHD_Result queue_reply_locked(struct http_request *req);

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max);
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *req_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh);

static struct MHD_Response *build_response(struct http_request *req)
{
  struct http_response *resp = &req->resp;
  switch (resp->kind) {
  case REPLY_FULL: {
    struct MHD_Response *r = MHD_create_response_from_buffer(resp->body_len, resp->body,
                                                             MHD_RESPMEM_MUST_FREE);
    if (r)
      resp->body = NULL;
    return r;
  }
  case REPLY_STREAM:
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_reader,
                                             req, NULL);
  case REPLY_UPGRADE: {
    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgraded, req);
    /* libmicrohttpd adds "Connection: Upgrade" itself. */
    if (r)
      MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "tcp");
    return r;
  }
  default: return NULL;
  }
}

static enum MHD_Result queue_reply_locked(struct http_request *req)
{
  struct MHD_Response *r = build_response(req);
  if (r == NULL)
    return MHD_NO;
  http_response_add_headers(&req->resp, r);
  enum MHD_Result ret = MHD_queue_response(req->conn, req->resp.status, r);
  MHD_destroy_response(r);
  req->answered = true;
  if (ret != MHD_YES)
    log_warn("%s %s: could not queue the response (status %u)", req->method, req->path,
             req->resp.status);
  return ret;
}

/* Refuse the request: the answer goes out once the body (usually none)
 * has been read and dropped, which keeps the connection alive. */
static enum MHD_Result reject(struct http_request *req, unsigned status,
                              const char *message)
{
  pthread_mutex_lock(&req->lock);
  http_response_set_error_locked(&req->resp, status, message);
  req->rejected = true;
  pthread_mutex_unlock(&req->lock);
  return MHD_YES;
}

/* Refuse the request now, without reading its body: libmicrohttpd then
 * closes the connection after the answer. */
static enum MHD_Result queue_error(struct http_request *req, unsigned status,
                                   const char *message)
{
  pthread_mutex_lock(&req->lock);
  http_response_set_error_locked(&req->resp, status, message);
  enum MHD_Result ret = queue_reply_locked(req);
  pthread_mutex_unlock(&req->lock);
  return ret;
}

/* Whether the client hung up: POLLRDHUP only, since pending input (a
 * pipelined request) is no sign of that. */
static bool peer_hung_up(int fd, int timeout_ms)
{
  struct pollfd p = {.fd = fd, .events = POLLRDHUP};
  return fd >= 0 && poll(&p, 1, timeout_ms) > 0 &&
         (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void mark_gone_locked(struct http_request *req)
{
  req->gone = true;
  pthread_cond_broadcast(&req->changed);
}

/* The stream's bytes as the handler writes them; ends at EOF of the pipe,
 * or with an error when the client hangs up (which makes the handler's
 * next write fail once the connection is torn down). Blocking here is what
 * thread-per-connection mode is for. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct http_request *req = cls;
  int fd = req->resp.stream_read;
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                        {.fd = req->conn_fd, .events = POLLRDHUP}};
  for (;;) {
    int n = poll(p, req->conn_fd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      pthread_mutex_lock(&req->lock);
      mark_gone_locked(req);
      pthread_mutex_unlock(&req->lock);
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (p[0].revents)
      break;
  }
  ssize_t got = read(fd, buf, max);
  if (got > 0)
    return got;
  return got == 0 ? MHD_CONTENT_READER_END_OF_STREAM
                  : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* libmicrohttpd sent the 101 and hands the socket over. */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *req_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
  struct http_request *req = cls;
  pthread_mutex_lock(&req->lock);
  bool abandoned = req->handler_done;
  if (!abandoned) {
    http_hijacked_add(req, sock);
    req->urh = urh;
    req->upgraded_fd = sock;
    if (extra_in_size && (req->extra_in = malloc(extra_in_size))) {
      memcpy(req->extra_in, extra_in, extra_in_size);
      req->extra_len = extra_in_size;
    }
    pthread_cond_broadcast(&req->changed);
  }
  pthread_mutex_unlock(&req->lock);
  if (abandoned)
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* ---------------------------------------------------------------- workers */

static void worker_finish(struct http_request *req)
{
  http_hijacked_remove(req);
  pthread_mutex_lock(&req->lock);
  req->handler_done = true;
  if (req->resp.kind == REPLY_NONE) {
    log_error("%s %s: the handler returned without an answer", req->method, req->path);
    http_response_set_error_locked(&req->resp, 500, "the handler gave no answer");
  }
  /* EOF for the stream's reader; and a body nobody reads any more makes
   * the connection thread drop the rest (EPIPE). */
  if (req->resp.stream_write >= 0)
    close(req->resp.stream_write);
  req->resp.stream_write = -1;
  if (req->body_read >= 0)
    close(req->body_read);
  req->body_read = -1;
  struct MHD_UpgradeResponseHandle *urh = req->urh;
  req->urh = NULL;
  pthread_cond_broadcast(&req->changed);
  pthread_mutex_unlock(&req->lock);
  if (urh)
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static unsigned handlers_running;

unsigned http_handlers_running(void)
{
  return __atomic_load_n(&handlers_running, __ATOMIC_SEQ_CST);
}

static void *worker_main(void *arg)
{
  struct http_request *req = arg;
  req->route->handler(req->daemon, req, &req->resp);
  worker_finish(req);
  http_request_unref(req);
  __atomic_fetch_sub(&handlers_running, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static int start_worker(struct http_request *req)
{
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_mutex_lock(&req->lock);
  req->refs++;
  pthread_mutex_unlock(&req->lock);
  __atomic_fetch_add(&handlers_running, 1, __ATOMIC_SEQ_CST);
  int rc = pthread_create(&thread, &attr, worker_main, req);
  pthread_attr_destroy(&attr);
  if (rc == 0)
    return 0;
  __atomic_fetch_sub(&handlers_running, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&req->lock);
  req->refs--;
  req->handler_done = true;
  http_response_set_error_locked(&req->resp, 500,
                                 "cannot start a thread for the request");
  pthread_mutex_unlock(&req->lock);
  return -1;
}

/* ---------------------------------------------------------------- access */

static int open_body_pipe(struct http_request *req)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return -1;
  fcntl(fds[1], F_SETPIPE_SZ, BODY_PIPE_SIZE); /* best effort */
  req->body_read = fds[0];
  req->body_write = fds[1];
  return 0;
}

static bool content_length_too_big(struct http_request *req)
{
  const char *cl = http_request_header(req, "Content-Length");
  return cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX;
}

/* The headers are in: check who and what is asking, find the route, and
 * for a streaming body start the handler now so it reads as data comes. */
static enum MHD_Result request_begin(struct http_server *server,
                                     struct http_request *req)
{
  cleanup_free char *why = NULL;
  if (server->verify_clients && !tls_client_verified(req->conn, &why))
    return queue_error(req, 403, why ? why : "a client certificate is required");
  if (!http_request_version_ok(req, &why))
    return reject(req, 400, why ? why : "invalid API version");
  unsigned status = 0;
  req->route = router_find(req->method, req->path, req->params, &status);
  log_debug("%s %s%s%s", req->method, req->api_version ? "/v" : "",
            req->api_version ? req->api_version : "", req->path);
  if (req->route == NULL)
    return reject(req, status, "page not found");
  if (!req->route->streaming_body) {
    if (content_length_too_big(req))
      return queue_error(req, 413, "request body too large (the limit is 16 MiB)");
    return MHD_YES;
  }
  if (open_body_pipe(req) < 0)
    return queue_error(req, 500, "cannot create a pipe for the request body");
  if (start_worker(req) < 0)
    return queue_error(req, 500, "cannot start a thread for the request");
  return MHD_YES;
}

static int write_body(int fd, const char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* A piece of the body. For a streaming route it goes into the pipe (this
 * blocks while the handler is behind: the client is slowed down instead of
 * the body piling up in memory). Once the handler stops reading, the rest
 * is read and dropped: libmicrohttpd 0.9.75 cannot queue an answer in the
 * middle of a body, so the answer waits for its end. */
static enum MHD_Result request_body(struct http_request *req, const char *data,
                                    size_t len)
{
  if (req->route->streaming_body) {
    if (!req->body_dropping && write_body(req->body_write, data, len) < 0)
      req->body_dropping = true;
    return MHD_YES;
  }
  http_request_append_body(req, data, len);
  if (req->body_too_big)
    return reject(req, 413, "request body too large (the limit is 16 MiB)");
  return MHD_YES;
}

/* Wait for the handler to decide its kind of answer, noticing a client that
 * hangs up meanwhile (the handler can see it with http_client_gone). */
static void wait_for_decision(struct http_request *req)
{
  pthread_mutex_lock(&req->lock);
  while (req->resp.kind == REPLY_NONE && !req->gone) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += HANGUP_CHECK_NS;
    if (deadline.tv_nsec >= 1000000000)
      deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
    if (pthread_cond_timedwait(&req->changed, &req->lock, &deadline) == ETIMEDOUT &&
        peer_hung_up(req->conn_fd, 0)) {
      log_debug("%s %s: the client hung up", req->method, req->path);
      mark_gone_locked(req);
    }
  }
  pthread_mutex_unlock(&req->lock);
}

/* docker's old attach form: the handler owns the socket until it returns;
 * then MHD_NO makes libmicrohttpd close the connection. */
static enum MHD_Result wait_for_raw_handler(struct http_request *req)
{
  pthread_mutex_lock(&req->lock);
  while (!req->handler_done)
    pthread_cond_wait(&req->changed, &req->lock);
  req->answered = true;
  pthread_mutex_unlock(&req->lock);
  return MHD_NO;
}

/* The body is complete: let the handler finish with it, wait for its
 * decision and queue the answer. */
static enum MHD_Result request_end(struct http_request *req)
{
  if (req->route->streaming_body) {
    close(req->body_write);
    req->body_write = -1;
  } else if (start_worker(req) < 0) {
    return queue_error(req, 500, "cannot start a thread for the request");
  }
  wait_for_decision(req);
  pthread_mutex_lock(&req->lock);
  enum http_reply kind = req->resp.kind;
  enum MHD_Result ret = MHD_NO;
  if (kind != REPLY_NONE && kind != REPLY_RAW)
    ret = queue_reply_locked(req);
  pthread_mutex_unlock(&req->lock);
  if (kind == REPLY_RAW)
    return wait_for_raw_handler(req);
  return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_size, void **req_cls)
{
  struct http_server *server = cls;
  struct http_request *req = *req_cls;
  if (req == NULL) {
    req = http_request_new(server->daemon, conn, method, url);
    if (req == NULL)
      return MHD_NO;
    req->tls = server->cert != NULL;
    req->server = server;
    *req_cls = req;
    return request_begin(server, req);
  }
  if (req->answered || (req->rejected && *upload_size > 0)) {
    *upload_size = 0;
    return MHD_YES;
  }
  if (req->rejected) {
    pthread_mutex_lock(&req->lock);
    enum MHD_Result ret = queue_reply_locked(req);
    pthread_mutex_unlock(&req->lock);
    return ret;
  }
  if (*upload_size > 0) {
    size_t len = *upload_size;
    *upload_size = 0;
    return request_body(req, upload_data, len);
  }
  return request_end(req);
}

/* The exchange is over (answer sent, or the connection failed): whatever
 * the handler still does, its client is gone. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct http_request *req = *req_cls;
  if (req == NULL)
    return;
  *req_cls = NULL;
  if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
    log_debug("%s %s: connection ended (libmicrohttpd code %d)", req->method, req->path,
              (int)toe);
  pthread_mutex_lock(&req->lock);
  if (req->resp.kind != REPLY_UPGRADE || req->urh == NULL)
    mark_gone_locked(req);
  if (req->resp.stream_read >= 0)
    close(req->resp.stream_read);
  req->resp.stream_read = -1;
  if (req->body_write >= 0)
    close(req->body_write);
  req->body_write = -1;
  pthread_mutex_unlock(&req->lock);
  http_request_unref(req);
}

/* ---------------------------------------------------------------- servers */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  msg[strcspn(msg, "\n")] = '\0';
  log_debug("libmicrohttpd: %s", msg);
}

static int copy_tls(struct http_server *server, const struct http_tls_pem *tls,
                    skiff_error_t **err)
{
  server->cert = strdup(tls->cert);
  server->key = strdup(tls->key);
  server->ca = tls->ca ? strdup(tls->ca) : NULL;
  server->verify_clients = tls->ca != NULL;
  if (!server->cert || !server->key || (tls->ca && !server->ca))
    return skiff_error_set(err, ENOMEM, "TLS material");
  return 0;
}

static void server_free(struct http_server *server)
{
  free(server->cert);
  free(server->key);
  free(server->ca);
  free(server);
}

static struct MHD_Daemon *start_mhd(struct http_server *server, int listen_fd)
{
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                   MHD_USE_POLL | MHD_ALLOW_UPGRADE | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  struct MHD_OptionItem tls_options[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, server->cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, server->key},
      {server->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, server->ca},
      {MHD_OPTION_END, 0, NULL},
  };
  if (server->cert)
    flags |= MHD_USE_TLS;
  return MHD_start_daemon(
      flags, 0, NULL, NULL, on_access, server, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
      server, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, server, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
      MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_ARRAY,
      server->cert ? tls_options : &tls_options[3], MHD_OPTION_END);
}

struct http_server *http_server_start(struct daemon *d, int listen_fd,
                                      const struct http_tls_pem *tls,
                                      skiff_error_t **err)
{
  struct http_server *server = calloc(1, sizeof *server);
  if (server == NULL) {
    close(listen_fd);
    skiff_error_set(err, ENOMEM, "http server");
    return NULL;
  }
  server->daemon = d;
  if (tls && copy_tls(server, tls, err) < 0) {
    close(listen_fd);
    server_free(server);
    return NULL;
  }
  server->mhd = start_mhd(server, listen_fd);
  if (server->mhd == NULL) {
    close(listen_fd);
    server_free(server);
    skiff_error_set(err, 0,
                    "cannot start the HTTP server (libmicrohttpd; --debug says why)");
    return NULL;
  }
  return server;
}

void http_server_quiesce(struct http_server *server)
{
  MHD_socket fd = MHD_quiesce_daemon(server->mhd);
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
}

void http_server_stop(struct http_server *server)
{
  if (server == NULL)
    return;
  cut_hijacked(server);
  MHD_stop_daemon(server->mhd);
  server_free(server);
}
