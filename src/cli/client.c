#include "client.h"

#include <ctype.h>
#include <curl/curl.h>
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

struct client {
  struct client_host host;
  char *version; /* negotiated, NULL until asked */
};

static void cleanup_curl_fn(CURL **c)
{
  if (*c)
    curl_easy_cleanup(*c);
}
static void cleanup_slist_fn(struct curl_slist **l)
{
  if (*l)
    curl_slist_free_all(*l);
}
#define cleanup_curl __attribute__((cleanup(cleanup_curl_fn)))
#define cleanup_slist __attribute__((cleanup(cleanup_slist_fn)))

/* ------------------------------------------------------------ addresses */

void client_host_clear(struct client_host *h)
{
  free(h->canonical);
  free(h->socket);
  free(h->base_url);
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
  if (!out->canonical || !out->base_url)
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
  memset(r, 0, sizeof(*r));
}

struct transfer {
  const struct client_call *call;
  struct client_reply *reply;
  CURL *curl;
  char *api_version; /* from the API-Version header */
  bool headers_done;
  bool collect_failed;
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

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct transfer *t = userdata;
  size_t len = size * nmemb;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 400 && t->call->on_data) {
    if (t->call->on_data(ptr, len, t->call->arg) < 0) {
      t->reply->aborted = true;
      return 0;
    }
    return len;
  }
  if (append_body(t->reply, ptr, len) < 0) {
    t->collect_failed = true;
    return 0;
  }
  return len;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
  struct transfer *t = userdata;
  size_t len = size * nitems;
  if (len >= 12 && strncasecmp(buf, "API-Version:", 12) == 0) {
    const char *v = buf + 12;
    while (*v == ' ' || *v == '\t')
      v++;
    size_t vl = strcspn(v, "\r\n");
    free(t->api_version);
    t->api_version = strndup(v, vl);
  }
  if ((len == 2 && buf[0] == '\r') || (len == 1 && buf[0] == '\n')) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && !t->headers_done) {
      t->headers_done = true;
      if (status < 400 && t->call->on_headers)
        t->call->on_headers(t->call->arg);
    }
  }
  return len;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
  int fd = *(int *)userdata;
  for (;;) {
    ssize_t n = read(fd, buf, size * nitems);
    if (n >= 0)
      return (size_t)n;
    if (errno != EINTR)
      return CURL_READFUNC_ABORT;
  }
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  const struct transfer *t = userdata;
  return *t->call->cancel ? 1 : 0;
}

static char *build_url(struct client *c, const char *path, bool raw,
                       skiff_error_t **err)
{
  const char *version = NULL;
  if (!raw && (version = client_api_version(c, err)) == NULL)
    return NULL;
  char *url = NULL;
  if (asprintf(&url, "%s%s%s%s", c->host.base_url, raw ? "" : "/v", raw ? "" : version,
               path) < 0) {
    skiff_error_errno(err, "request");
    return NULL;
  }
  return url;
}

static int connect_error(struct client *c, CURLcode code, const char *detail,
                         skiff_error_t **err)
{
  if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST) {
    skiff_error_invalid(
        err, "Cannot connect to the skiff daemon at %s. Is the daemon running?",
        c->host.canonical);
    if (err && *err)
      (*err)->status = ECONNREFUSED;
    return -1;
  }
  return skiff_error_invalid(err, "error during connect: %s",
                             *detail ? detail : curl_easy_strerror(code));
}

static void setup_common(CURL *curl, struct client *c, const char *url, char *errbuf)
{
  curl_easy_setopt(curl, CURLOPT_URL, url);
  if (c->host.socket)
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->host.socket);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "skiff/" SKIFF_VERSION " (linux)");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  /* Docker's API needs no proxy and a unix socket must never go through one. */
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
}

static int setup_body(CURL *curl, const struct client_call *call, char **json_text,
                      struct curl_slist **headers, skiff_error_t **err)
{
  if (strcmp(call->method, "HEAD") == 0) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    return 0;
  }
  if (strcmp(call->method, "GET") != 0)
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call->method);
  if (strcmp(call->method, "POST") != 0 && strcmp(call->method, "PUT") != 0)
    return 0;
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  *headers = curl_slist_append(*headers, "Expect:");
  if (call->json) {
    *json_text = json_dumps(call->json, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*json_text == NULL)
      return skiff_error_invalid(err, "cannot encode the request body");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, *json_text);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(*json_text));
    *headers = curl_slist_append(*headers, "Content-Type: application/json");
  } else if (call->body_fd >= 0) {
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &call->body_fd);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_size);
    if (call->body_size < 0)
      *headers = curl_slist_append(*headers, "Transfer-Encoding: chunked");
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             call->content_type ? call->content_type : "application/x-tar");
    *headers = curl_slist_append(*headers, ct);
  } else {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
  }
  return 0;
}

/* The transfer itself; api_version, when given, receives the header. */
static int perform(struct client *c, const struct client_call *call,
                   struct client_reply *reply, char **api_version, skiff_error_t **err)
{
  memset(reply, 0, sizeof(*reply));
  cleanup_free char *url = build_url(c, call->path, call->raw_path, err);
  if (url == NULL)
    return -1;
  cleanup_curl CURL *curl = curl_easy_init();
  cleanup_slist struct curl_slist *headers = NULL;
  cleanup_free char *json_text = NULL;
  if (curl == NULL)
    return skiff_error_invalid(err, "cannot initialise libcurl");
  char errbuf[CURL_ERROR_SIZE] = "";
  struct transfer t = {.call = call, .reply = reply, .curl = curl};
  setup_common(curl, c, url, errbuf);
  if (setup_body(curl, call, &json_text, &headers, err) < 0)
    return -1;
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  if (call->cancel) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  }
  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
  if (api_version)
    *api_version = t.api_version;
  else
    free(t.api_version);
  if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && reply->aborted))
    return 0;
  if (code == CURLE_ABORTED_BY_CALLBACK)
    return skiff_error_invalid(err, "request canceled");
  /* A stream the daemon ends abruptly after a good start is still an answer. */
  if (reply->status > 0 && code == CURLE_PARTIAL_FILE)
    return 0;
  return connect_error(c, code, errbuf, err);
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
  if (conn->curl)
    curl_easy_cleanup(conn->curl);
  free(conn->early);
  memset(conn, 0, sizeof(*conn));
  conn->fd = -1;
}

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

/* Read until the end of the response headers; what follows them stays in
 * *buf after *head_len bytes. */
static int read_head(int fd, char **buf, size_t *len, size_t *head_len,
                     skiff_error_t **err)
{
  size_t cap = 0;
  for (;;) {
    if (*len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *grown = realloc(*buf, cap);
      if (grown == NULL)
        return skiff_error_errno(err, "attach");
      *buf = grown;
    }
    ssize_t n = read(fd, *buf + *len, 4096);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return skiff_error_errno(err, "attach: read the response");
    if (n == 0)
      return skiff_error_invalid(err, "attach: the daemon closed the connection");
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    char *end = strstr(*buf, "\r\n\r\n");
    if (end) {
      *head_len = (size_t)(end - *buf) + 4;
      return 0;
    }
    if (*len > 1 << 20)
      return skiff_error_invalid(err, "attach: response headers too long");
  }
}

/* The error body of a refused upgrade: Content-Length bytes, or up to EOF. */
static int hijack_refused(int fd, long status, char *buf, size_t len, size_t head_len,
                          skiff_error_t **err)
{
  struct client_reply r = {.status = status};
  const char *cl = strcasestr(buf, "\r\nContent-Length:");
  long want = cl ? strtol(cl + 17, NULL, 10) : -1;
  if (append_body(&r, buf + head_len, len - head_len) == 0) {
    char chunk[4096];
    while (want < 0 || (long)r.len < want) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0 || append_body(&r, chunk, (size_t)n) < 0)
        break;
    }
  }
  client_error_from_reply(&r, err);
  client_reply_clear(&r);
  return -1;
}

static int send_upgrade(int fd, struct client *c, const char *method, const char *path,
                        const char *json_text, skiff_error_t **err)
{
  const char *version = client_api_version(c, err);
  if (version == NULL)
    return -1;
  /* For tcp://HOST:PORT/PREFIX the Host header is HOST:PORT and the
   * request path starts with PREFIX. */
  const char *authority =
      c->host.socket ? "localhost" : c->host.base_url + strlen("http://");
  const char *prefix = c->host.socket ? "" : strchr(authority, '/');
  int host_len = prefix ? (int)(prefix - authority) : (int)strlen(authority);
  cleanup_free char *req = NULL;
  size_t body_len = json_text ? strlen(json_text) : 0;
  int n =
      asprintf(&req,
               "%s %s/v%s%s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: skiff/%s (linux)\r\n"
               "Content-Type: %s\r\nContent-Length: %zu\r\n"
               "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n%s",
               method, prefix ? prefix : "", version, path, host_len, authority,
               SKIFF_VERSION, json_text ? "application/json" : "text/plain", body_len,
               json_text ? json_text : "");
  if (n < 0)
    return skiff_error_errno(err, "attach");
  if (write_all(fd, req, (size_t)n) < 0)
    return skiff_error_errno(err, "attach: send the request");
  return 0;
}

int client_hijack(struct client *c, const char *method, const char *path, json_t *body,
                  struct client_conn *conn, skiff_error_t **err)
{
  memset(conn, 0, sizeof(*conn));
  conn->fd = -1;
  if (client_api_version(c, err) == NULL)
    return -1;
  cleanup_curl CURL *curl = curl_easy_init();
  if (curl == NULL)
    return skiff_error_invalid(err, "cannot initialise libcurl");
  char errbuf[CURL_ERROR_SIZE] = "";
  /* libcurl connects (unix or tcp); the upgraded stream is ours to speak:
   * libcurl has no API for a hijacked HTTP/1.1 connection. */
  setup_common(curl, c, c->host.base_url, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK)
    return connect_error(c, code, errbuf, err);
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
      fd == CURL_SOCKET_BAD)
    return skiff_error_invalid(err, "attach: no connection");
  /* libcurl leaves its sockets non-blocking; the stream loop polls anyway. */
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
    return skiff_error_errno(err, "attach: socket flags");
  cleanup_free char *json_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (send_upgrade(fd, c, method, path, json_text, err) < 0)
    return -1;
  cleanup_free char *buf = NULL;
  size_t len = 0, head_len = 0;
  if (read_head(fd, &buf, &len, &head_len, err) < 0)
    return -1;
  long status = 0;
  if (sscanf(buf, "HTTP/%*s %ld", &status) != 1)
    return skiff_error_invalid(err, "attach: malformed response from the daemon");
  if (status != 101 && status != 200)
    return hijack_refused(fd, status, buf, len, head_len, err);
  conn->early_len = len - head_len;
  conn->early = malloc(conn->early_len + 1);
  if (conn->early == NULL)
    return skiff_error_errno(err, "attach");
  memcpy(conn->early, buf + head_len, conn->early_len);
  conn->fd = fd;
  conn->curl = steal_pointer(&curl);
  return 0;
}
