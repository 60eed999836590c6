#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "http.h"

struct client {
  struct client_host host;
  char *version; /* negotiated, NULL until asked */
};

/* ------------------------------------------------------------ addresses */

void client_host_clear(struct client_host *h)
{
  free(h->canonical);
  free(h->socket);
  free(h->base_url);
  free(h->tcp_host);
  free(h->tcp_port);
  memset(h, 0, sizeof(*h));
}

const char *client_pick_host(const char *flag)
{
  if (flag && *flag)
    return flag;
  const char *env = getenv("SKIFF_HOST");
  if (env && *env)
    return env;
  env = getenv("DOCKER_HOST");
  if (env && *env)
    return env;
  return CLIENT_DEFAULT_HOST;
}

static int parse_unix(const char *rest, struct client_host *out, skiff_error_t **err)
{
  if (strncmp(rest, "unix://", 7) == 0)
    rest += 7;
  if (strstr(rest, "://"))
    return skiff_error_invalid(err, "Invalid proto, expected unix: %s", rest);
  const char *path = *rest ? rest : CLIENT_DEFAULT_HOST + strlen("unix://");
  out->socket = strdup(path);
  out->base_url = strdup("http://localhost");
  if (asprintf(&out->canonical, "unix://%s", path) < 0)
    out->canonical = NULL;
  if (!out->socket || !out->base_url || !out->canonical)
    return skiff_error_errno(err, "parse host");
  return 0;
}

/* Split "host:port", "[v6]:port", "host" or ":port" (docker's ParseTCPAddr:
 * a missing host is localhost, a missing port 2375). */
static int split_host_port(const char *addr, char **host, char **port, char **path)
{
  const char *slash = strchr(addr, '/');
  size_t hp_len = slash ? (size_t)(slash - addr) : strlen(addr);
  *path = strdup(slash ? slash : "");
  cleanup_free char *hp = strndup(addr, hp_len);
  if (!hp || !*path)
    return -1;
  char *colon = NULL;
  if (hp[0] == '[') {
    char *close = strchr(hp, ']');
    if (close == NULL || (close[1] != '\0' && close[1] != ':'))
      return -1;
    *close = '\0';
    *host = strdup(hp + 1);
    colon = close[1] == ':' ? close + 1 : NULL;
  } else {
    colon = strrchr(hp, ':');
    if (colon && strchr(hp, ':') != colon)
      return -1; /* an IPv6 address must be bracketed */
    *host = strndup(hp, colon ? (size_t)(colon - hp) : strlen(hp));
  }
  *port = strdup(colon && colon[1] ? colon + 1 : "");
  return (*host && *port) ? 0 : -1;
}

static int parse_tcp(const char *addr, struct client_host *out, skiff_error_t **err)
{
  if (strncmp(addr, "tcp://", 6) == 0)
    addr += 6;
  if (strstr(addr, "://"))
    return skiff_error_invalid(err, "Invalid proto, expected tcp: %s", addr);
  cleanup_free char *host = NULL;
  cleanup_free char *port = NULL;
  cleanup_free char *path = NULL;
  if (split_host_port(addr, &host, &port, &path) < 0)
    return skiff_error_invalid(err, "Invalid bind address format: %s", addr);
  const char *h = *host ? host : "localhost";
  const char *p = *port ? port : "2375";
  char *end = NULL;
  long pn = strtol(p, &end, 10);
  if (*end != '\0' || pn <= 0 || pn > 65535)
    return skiff_error_invalid(err, "Invalid bind address format: %s", addr);
  bool v6 = strchr(h, ':') != NULL;
  if (asprintf(&out->canonical, "tcp://%s%s%s:%ld%s", v6 ? "[" : "", h, v6 ? "]" : "",
               pn, path) < 0)
    out->canonical = NULL;
  if (asprintf(&out->base_url, "http://%s%s%s:%ld%s", v6 ? "[" : "", h, v6 ? "]" : "",
               pn, path) < 0)
    out->base_url = NULL;
  out->tcp_host = strdup(h);
  if (asprintf(&out->tcp_port, "%ld", pn) < 0)
    out->tcp_port = NULL;
  if (!out->canonical || !out->base_url || !out->tcp_host || !out->tcp_port)
    return skiff_error_errno(err, "parse host");
  /* A trailing "/" adds nothing to request paths. */
  size_t l = strlen(out->base_url);
  if (l && out->base_url[l - 1] == '/')
    out->base_url[l - 1] = '\0';
  return 0;
}

int client_parse_host(const char *text, struct client_host *out, skiff_error_t **err)
{
  memset(out, 0, sizeof(*out));
  cleanup_free char *trimmed = strdup(text ? text : "");
  if (trimmed == NULL)
    return skiff_error_errno(err, "parse host");
  char *s = trimmed;
  while (isspace((unsigned char)*s))
    s++;
  for (size_t l = strlen(s); l && isspace((unsigned char)s[l - 1]); l--)
    s[l - 1] = '\0';
  if (*s == '\0')
    s = CLIENT_DEFAULT_HOST;
  int r;
  const char *sep = strstr(s, "://");
  if (sep == NULL || strncmp(s, "tcp://", 6) == 0)
    r = parse_tcp(s, out, err);
  else if (strncmp(s, "unix://", 7) == 0)
    r = parse_unix(s + 7, out, err);
  else
    r = skiff_error_invalid(err, "Invalid bind address format: %s", s);
  if (r < 0)
    client_host_clear(out);
  return r;
}

int client_version_cmp(const char *a, const char *b)
{
  while (*a || *b) {
    long x = strtol(a, (char **)&a, 10);
    long y = strtol(b, (char **)&b, 10);
    if (x != y)
      return x < y ? -1 : 1;
    if (*a == '.')
      a++;
    if (*b == '.')
      b++;
    if (!isdigit((unsigned char)*a) && !isdigit((unsigned char)*b))
      break;
  }
  return 0;
}

/* ------------------------------------------------------------ escaping */

char *client_escape(const char *s, bool keep_slash)
{
  static const char hex[] = "0123456789ABCDEF";
  char *out = malloc(strlen(s) * 3 + 1), *o = out;
  if (out == NULL)
    return NULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && strchr("/:@", *p))) {
      *o++ = (char)*p;
    } else {
      *o++ = '%';
      *o++ = hex[*p >> 4];
      *o++ = hex[*p & 15];
    }
  }
  *o = '\0';
  return out;
}

int client_query_add(char **q, const char *key, const char *value)
{
  cleanup_free char *v = client_escape(value, false);
  if (v == NULL)
    return -1;
  char *joined = NULL;
  if (asprintf(&joined, "%s%c%s=%s", *q ? *q : "", *q ? '&' : '?', key, v) < 0)
    return -1;
  free(*q);
  *q = joined;
  return 0;
}

/* ------------------------------------------------------------ client */

struct client *client_new(const char *host, skiff_error_t **err)
{
  struct client *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    skiff_error_errno(err, "client");
    return NULL;
  }
  if (client_parse_host(host, &c->host, err) < 0) {
    free(c);
    return NULL;
  }
  return c;
}

void client_free(struct client *c)
{
  if (c == NULL)
    return;
  client_host_clear(&c->host);
  free(c->version);
  free(c);
}

const char *client_host_name(const struct client *c)
{
  return c->host.canonical;
}

void client_reply_clear(struct client_reply *r)
{
  free(r->body);
  free(r->header);
  memset(r, 0, sizeof(*r));
}

struct transfer {
  const struct client_call *call;
  struct client_reply *reply;
  char *api_version; /* from the API-Version header */
};

static int append_body(struct client_reply *r, const char *buf, size_t len)
{
  char *grown = realloc(r->body, r->len + len + 1);
  if (grown == NULL)
    return -1;
  memcpy(grown + r->len, buf, len);
  r->len += len;
  grown[r->len] = '\0';
  r->body = grown;
  return 0;
}

static int on_header(const char *name, const char *value, void *arg)
{
  struct transfer *t = arg;
  if (strcasecmp(name, "API-Version") == 0) {
    free(t->api_version);
    t->api_version = strdup(value);
  }
  if (t->call->want_header && strcasecmp(name, t->call->want_header) == 0) {
    free(t->reply->header);
    t->reply->header = strdup(value);
  }
  return 0;
}

static int on_headers_done(int status, void *arg)
{
  struct transfer *t = arg;
  t->reply->status = status;
  if (status < 400 && t->call->on_headers)
    t->call->on_headers(t->call->arg);
  return 0;
}

static int on_body(const char *buf, size_t len, void *arg)
{
  struct transfer *t = arg;
  if (t->reply->status < 400 && t->call->on_data) {
    if (t->call->on_data(buf, len, t->call->arg) < 0) {
      t->reply->aborted = true;
      return -1;
    }
    return 0;
  }
  return append_body(t->reply, buf, len);
}

/* Where requests go: the socket or host:port, the Host header, and for
 * tcp://HOST:PORT/PREFIX the prefix of every request path. */
struct route {
  struct http_endpoint endpoint;
  char host_header[256];
  const char *prefix;
};

static void route_of(const struct client *c, struct route *r)
{
  r->endpoint =
      (struct http_endpoint){c->host.socket, c->host.tcp_host, c->host.tcp_port};
  const char *authority =
      c->host.socket ? "localhost" : c->host.base_url + strlen("http://");
  const char *slash = c->host.socket ? NULL : strchr(authority, '/');
  int len = slash ? (int)(slash - authority) : (int)strlen(authority);
  snprintf(r->host_header, sizeof r->host_header, "%.*s", len, authority);
  r->prefix = slash ? slash : "";
}

static char *request_target(struct client *c, const struct route *r, const char *path,
                            bool raw, skiff_error_t **err)
{
  const char *version = NULL;
  if (!raw && (version = client_api_version(c, err)) == NULL)
    return NULL;
  char *target = NULL;
  if (asprintf(&target, "%s%s%s%s", r->prefix, raw ? "" : "/v", raw ? "" : version,
               path) < 0) {
    skiff_error_errno(err, "request");
    return NULL;
  }
  return target;
}

/* Connect, mapping "nothing listens there" to docker's message. */
static int connect_daemon(struct client *c, const struct route *r, skiff_error_t **err)
{
  skiff_error_t *why = NULL;
  int fd = http_connect(&r->endpoint, &why);
  if (fd >= 0)
    return fd;
  bool refused = why->status == ECONNREFUSED;
  if (!refused) {
    skiff_error_invalid(err, "error during connect: %s", why->msg);
    skiff_error_free(&why);
    return -1;
  }
  skiff_error_free(&why);
  skiff_error_invalid(
      err, "Cannot connect to the skiff daemon at %s. Is the daemon running?",
      c->host.canonical);
  (*err)->status = ECONNREFUSED;
  return -1;
}

/* The request body of a call: JSON text, a stream, or none. */
static int fill_body(const struct client_call *call, struct http_request *req,
                     char **json_text, skiff_error_t **err)
{
  req->body_fd = -1;
  if (strcmp(call->method, "POST") != 0 && strcmp(call->method, "PUT") != 0)
    return 0;
  if (call->json) {
    *json_text = json_dumps(call->json, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*json_text == NULL)
      return skiff_error_invalid(err, "cannot encode the request body");
    req->body = *json_text;
    req->body_len = strlen(*json_text);
    req->content_type = "application/json";
  } else if (call->body_fd >= 0) {
    req->body_fd = call->body_fd;
    req->body_size = call->body_size;
    req->content_type = call->content_type ? call->content_type : "application/x-tar";
  }
  return 0;
}

/* The transfer itself; api_version, when given, receives the header. */
static int perform(struct client *c, const struct client_call *call,
                   struct client_reply *reply, char **api_version, skiff_error_t **err)
{
  memset(reply, 0, sizeof(*reply));
  struct route route;
  route_of(c, &route);
  cleanup_free char *target =
      request_target(c, &route, call->path, call->raw_path, err);
  cleanup_free char *json_text = NULL;
  struct http_request req = {.method = call->method,
                             .target = target,
                             .host = route.host_header,
                             .headers = call->headers};
  if (target == NULL || fill_body(call, &req, &json_text, err) < 0)
    return -1;
  cleanup_close int fd = connect_daemon(c, &route, err);
  if (fd < 0)
    return -1;
  /* A daemon may answer before it has read the whole body (an error): its
   * answer then counts more than our failed write. */
  skiff_error_t *send_err = NULL;
  http_send(fd, &req, &send_err);
  struct transfer t = {.call = call, .reply = reply};
  struct http_sink sink = {on_header, on_headers_done, on_body, &t};
  int r = http_receive(fd, strcmp(call->method, "HEAD") == 0, &sink, call->cancel, err);
  if (api_version)
    *api_version = t.api_version;
  else
    free(t.api_version);
  if (r < 0 && send_err && reply->status == 0 && err) {
    skiff_error_free(err);
    *err = steal_pointer(&send_err);
  }
  skiff_error_free(&send_err);
  if (r == 1 && !reply->aborted)
    return skiff_error_invalid(err, "out of memory reading the daemon's answer");
  return r < 0 ? -1 : 0;
}

const char *client_api_version(struct client *c, skiff_error_t **err)
{
  if (c->version)
    return c->version;
  const char *pinned = getenv("DOCKER_API_VERSION");
  if (pinned && *pinned) {
    c->version = strdup(pinned);
    return c->version;
  }
  struct client_call ping = {
      .method = "HEAD", .path = "/_ping", .raw_path = true, .body_fd = -1};
  struct client_reply reply;
  cleanup_free char *theirs = NULL;
  if (perform(c, &ping, &reply, &theirs, err) < 0)
    return NULL;
  if (reply.status >= 400 || theirs == NULL) {
    /* Some servers answer only GET /_ping. */
    client_reply_clear(&reply);
    free(theirs);
    theirs = NULL;
    ping.method = "GET";
    if (perform(c, &ping, &reply, &theirs, err) < 0)
      return NULL;
  }
  client_reply_clear(&reply);
  /* Docker's rule: a daemon that names no version speaks 1.24. */
  const char *v = theirs ? theirs : "1.24";
  c->version =
      strdup(client_version_cmp(v, CLIENT_API_VERSION) < 0 ? v : CLIENT_API_VERSION);
  if (c->version == NULL)
    skiff_error_errno(err, "API version");
  return c->version;
}

int client_do(struct client *c, const struct client_call *call,
              struct client_reply *reply, skiff_error_t **err)
{
  return perform(c, call, reply, NULL, err);
}

int client_error_from_reply(const struct client_reply *r, skiff_error_t **err)
{
  const char *msg = NULL;
  json_error_t jerr;
  cleanup_json json_t *body = r->body ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
  if (body && json_is_object(body))
    msg = json_string_value(json_object_get(body, "message"));
  cleanup_free char *text = NULL;
  if (msg == NULL && r->body && r->len) {
    text = strndup(r->body, r->len);
    for (size_t l = text ? strlen(text) : 0; l && isspace((unsigned char)text[l - 1]);
         l--)
      text[l - 1] = '\0';
    msg = text;
  }
  if (msg == NULL || *msg == '\0')
    msg = r->status == 404 ? "page not found" : "unexpected error";
  skiff_error_invalid(err, "Error response from daemon: %s", msg);
  (*err)->status = (int)r->status;
  return -1;
}

json_t *client_json(struct client *c, const char *method, const char *path,
                    json_t *body, long *status, skiff_error_t **err)
{
  struct client_call call = {
      .method = method, .path = path, .json = body, .body_fd = -1};
  struct client_reply reply;
  if (client_do(c, &call, &reply, err) < 0)
    return NULL;
  if (status)
    *status = reply.status;
  if (reply.status >= 400) {
    client_error_from_reply(&reply, err);
    client_reply_clear(&reply);
    return NULL;
  }
  json_t *out = NULL;
  if (reply.len == 0) {
    out = json_null();
  } else {
    json_error_t jerr;
    out = json_loadb(reply.body, reply.len, JSON_DECODE_ANY, &jerr);
    if (out == NULL)
      skiff_error_invalid(err, "cannot decode the daemon's answer to %s %s: %s", method,
                          path, jerr.text);
  }
  client_reply_clear(&reply);
  return out;
}

int client_simple(struct client *c, const char *method, const char *path, json_t *body,
                  long *status, skiff_error_t **err)
{
  struct client_call call = {
      .method = method, .path = path, .json = body, .body_fd = -1};
  struct client_reply reply;
  if (client_do(c, &call, &reply, err) < 0)
    return -1;
  if (status)
    *status = reply.status;
  int r = reply.status >= 400 ? client_error_from_reply(&reply, err) : 0;
  client_reply_clear(&reply);
  return r;
}

/* ------------------------------------------------------------ hijack */

void client_conn_close(struct client_conn *conn)
{
  if (conn->fd >= 0)
    close(conn->fd);
  free(conn->early);
  memset(conn, 0, sizeof(*conn));
  conn->fd = -1;
}

/* The error body of a refused upgrade: what came with the head, then the
 * rest up to Content-Length or EOF. */
static int hijack_refused(int fd, int status, long long length, char *rest,
                          size_t rest_len, skiff_error_t **err)
{
  struct client_reply r = {.status = status};
  if (append_body(&r, rest, rest_len) == 0) {
    char chunk[4096];
    while (length < 0 || (long long)r.len < length) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0 || append_body(&r, chunk, (size_t)n) < 0)
        break;
    }
  }
  client_error_from_reply(&r, err);
  client_reply_clear(&r);
  return -1;
}

static int on_length_header(const char *name, const char *value, void *arg)
{
  if (strcasecmp(name, "Content-Length") == 0)
    *(long long *)arg = strtoll(value, NULL, 10);
  return 0;
}

int client_hijack(struct client *c, const char *method, const char *path, json_t *body,
                  struct client_conn *conn, skiff_error_t **err)
{
  memset(conn, 0, sizeof(*conn));
  conn->fd = -1;
  struct route route;
  route_of(c, &route);
  cleanup_free char *target = request_target(c, &route, path, false, err);
  cleanup_free char *json_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (target == NULL)
    return -1;
  /* The upgraded stream is ours to speak: after the head, the socket
   * carries the raw stream both ways. */
  struct http_request req = {.method = method,
                             .target = target,
                             .host = route.host_header,
                             .content_type =
                                 json_text ? "application/json" : "text/plain",
                             .body = json_text ? json_text : "",
                             .body_len = json_text ? strlen(json_text) : 0,
                             .body_fd = -1,
                             .upgrade = true};
  cleanup_close int fd = connect_daemon(c, &route, err);
  if (fd < 0 || http_send(fd, &req, err) < 0)
    return -1;
  long long length = -1;
  struct http_sink sink = {.on_header = on_length_header, .arg = &length};
  int status = 0;
  cleanup_free char *rest = NULL;
  size_t rest_len = 0;
  if (http_receive_head(fd, &status, &sink, &rest, &rest_len, err) < 0)
    return -1;
  if (status != 101 && status != 200)
    return hijack_refused(fd, status, length, rest, rest_len, err);
  conn->early_len = rest_len;
  conn->early = steal_pointer(&rest);
  conn->fd = steal_fd(&fd);
  return 0;
}
