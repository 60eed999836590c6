/* The HTTP side of the registry client: one client per repository of one
 * endpoint, libcurl underneath (one easy handle per request, so that any
 * thread may make requests; the connection cache is shared).
 *
 * Endpoints as docker chooses them: https first; a registry on loopback or
 * listed in insecure-registries may also be reached with TLS unverified
 * and, when it does not speak TLS at all, over plain http. TLS files come
 * from <certs_dir>/<host[:port]>/ as docker's certs.d: *.crt are CAs
 * (added to the system's), client.cert + client.key a client identity. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "libcurl.h"
#include "registry_internal.h"

#define USER_AGENT "skiff/" SKIFF_VERSION

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLSH *curl_share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *arg)
{
  pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
  pthread_mutex_unlock(&share_locks[data]);
}

static void curl_setup(void)
{
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&share_locks[i], NULL);
  curl_share = libcurl.curl_share_init();
  libcurl.curl_share_setopt(curl_share, CURLSHOPT_LOCKFUNC, share_lock);
  libcurl.curl_share_setopt(curl_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  libcurl.curl_share_setopt(curl_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  libcurl.curl_share_setopt(curl_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  libcurl.curl_share_setopt(curl_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

/* ---- insecure registries ---- */

static char *host_only(const char *host)
{
  if (host[0] == '[') {
    const char *close = strchr(host, ']');
    return close ? strndup(host + 1, (size_t)(close - host - 1)) : strdup(host);
  }
  const char *colon = strchr(host, ':');
  return colon ? strndup(host, (size_t)(colon - host)) : strdup(host);
}

/* Whether the address text is inside cidr ("10.0.0.0/8", "::1/128"). */
static bool in_cidr(const char *addr, const char *cidr)
{
  char net[64];
  const char *slash = strchr(cidr, '/');
  if (slash == NULL || (size_t)(slash - cidr) >= sizeof net)
    return false;
  memcpy(net, cidr, (size_t)(slash - cidr));
  net[slash - cidr] = '\0';
  unsigned char a[16], n[16];
  int family = strchr(net, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(family, addr, a) != 1 || inet_pton(family, net, n) != 1)
    return false;
  int bits = atoi(slash + 1), len = family == AF_INET ? 4 : 16;
  for (int i = 0; i < len && bits > 0; i++, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
    if ((a[i] & mask) != (n[i] & mask))
      return false;
  }
  return true;
}

/* docker: 127.0.0.0/8 (and so "localhost") is insecure by default, and
 * every entry of insecure-registries, by name or by network. */
static bool registry_insecure(const struct registry_config *cfg, const char *host)
{
  cleanup_free char *name = host_only(host);
  if (name == NULL)
    return false;
  if (strcmp(name, "localhost") == 0 || in_cidr(name, "127.0.0.0/8") ||
      in_cidr(name, "::1/128"))
    return true;
  size_t i;
  json_t *v;
  json_array_foreach(cfg ? cfg->insecure : NULL, i, v)
  {
    const char *entry = json_string_value(v);
    if (entry == NULL)
      continue;
    const char *scheme = strstr(entry, "://");
    entry = scheme ? scheme + 3 : entry;
    size_t n = strcspn(entry, "/");
    if ((strlen(host) == n && strncmp(entry, host, n) == 0) || in_cidr(name, entry))
      return true;
  }
  return false;
}

/* ---- certs.d ---- */

static int append_pem(struct registry_client *c, const char *path, skiff_error_t **err)
{
  size_t len = 0;
  cleanup_free char *pem = fs_read_file(path, &len, err);
  char *grown = pem ? realloc(c->ca_blob, c->ca_len + len + 2) : NULL;
  if (grown == NULL)
    return skiff_error_wrap(err, "registry %s: CA", c->host);
  c->ca_blob = grown;
  memcpy(c->ca_blob + c->ca_len, pem, len);
  c->ca_len += len;
  c->ca_blob[c->ca_len++] = '\n';
  return 0;
}

/* A CA blob replaces curl's bundle: the system's CAs go in too, so that
 * certs.d adds to them as with docker. */
static void append_system_cas(struct registry_client *c)
{
  CURL *h = libcurl.curl_easy_init();
  char *bundle = NULL;
  if (h && libcurl.curl_easy_getinfo(h, CURLINFO_CAINFO, &bundle) == CURLE_OK &&
      bundle && access(bundle, R_OK) == 0)
    append_pem(c, bundle, NULL);
  if (h)
    libcurl.curl_easy_cleanup(h);
}

static int read_certs_dir(struct registry_client *c, skiff_error_t **err)
{
  if (c->cfg == NULL || c->cfg->certs_dir == NULL)
    return 0;
  cleanup_free char *dir = NULL;
  if (asprintf(&dir, "%s/%s", c->cfg->certs_dir, c->host) < 0)
    return skiff_error_set(err, ENOMEM, "registry");
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    cleanup_free char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
      return skiff_error_set(err, ENOMEM, "registry");
    if (n > 4 && strcmp(e->d_name + n - 4, ".crt") == 0) {
      if (append_pem(c, path, err) < 0)
        return -1;
    } else if (n > 5 && strcmp(e->d_name + n - 5, ".cert") == 0) {
      free(c->cert_file);
      c->cert_file = steal_pointer(&path);
    } else if (n > 4 && strcmp(e->d_name + n - 4, ".key") == 0) {
      free(c->key_file);
      c->key_file = steal_pointer(&path);
    }
  }
  if (c->ca_blob)
    append_system_cas(c);
  if ((c->cert_file == NULL) != (c->key_file == NULL))
    return skiff_error_invalid(err, "registry %s: %s has a client %s without its %s",
                               c->host, dir, c->cert_file ? "certificate" : "key",
                               c->cert_file ? "key" : "certificate");
  return 0;
}

/* ---- the client ---- */

static char *dup_or_null(const char *s)
{
  return s && *s ? strdup(s) : NULL;
}

struct registry_client *registry_client_new(const struct registry_config *cfg,
                                            const char *host, const char *endpoint,
                                            const char *path, const char *actions,
                                            const struct registry_auth *auth,
                                            skiff_error_t **err)
{
  if (libcurl_load(err) < 0)
    return NULL;
  pthread_once(&curl_once, curl_setup);
  struct registry_client *c = calloc(1, sizeof *c);
  if (c == NULL) {
    skiff_error_set(err, ENOMEM, "registry");
    return NULL;
  }
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->auth_lock, NULL);
  c->cfg = cfg;
  c->tls_verify = true;
  c->host = strdup(host);
  c->path = strdup(path);
  c->actions = strdup(actions);
  if (endpoint)
    c->endpoint = strdup(endpoint);
  else if (strcmp(host, DOCKER_HUB) == 0)
    c->endpoint = strdup(DOCKER_HUB_API);
  else if (asprintf(&c->endpoint, "https://%s", host) < 0)
    c->endpoint = NULL;
  if (auth) {
    c->auth.username = dup_or_null(auth->username);
    c->auth.password = dup_or_null(auth->password);
    c->auth.identity_token = dup_or_null(auth->identity_token);
    c->auth.registry_token = dup_or_null(auth->registry_token);
  }
  if (c->host == NULL || c->path == NULL || c->actions == NULL || c->endpoint == NULL) {
    skiff_error_set(err, ENOMEM, "registry");
    registry_client_free(c);
    return NULL;
  }
  size_t n = strlen(c->endpoint);
  while (n > 0 && c->endpoint[n - 1] == '/')
    c->endpoint[--n] = '\0';
  if (c->auth.registry_token &&
      asprintf(&c->authorization, "Bearer %s", c->auth.registry_token) < 0)
    c->authorization = NULL;
  if (read_certs_dir(c, err) < 0) {
    registry_client_free(c);
    return NULL;
  }
  return c;
}

void registry_client_free(struct registry_client *c)
{
  if (c == NULL)
    return;
  free(c->host);
  free(c->endpoint);
  free(c->path);
  free(c->actions);
  json_decref(c->extra_scopes);
  free(c->ca_blob);
  free(c->cert_file);
  free(c->key_file);
  registry_auth_clear(&c->auth);
  free(c->authorization);
  pthread_mutex_destroy(&c->lock);
  pthread_mutex_destroy(&c->auth_lock);
  free(c);
}

void registry_client_want_scope(struct registry_client *c, const char *repository)
{
  pthread_mutex_lock(&c->lock);
  size_t i;
  json_t *v;
  json_array_foreach(c->extra_scopes, i, v)
  {
    if (strcmp(json_string_value(v), repository) == 0) {
      pthread_mutex_unlock(&c->lock);
      return;
    }
  }
  if (c->extra_scopes == NULL)
    c->extra_scopes = json_array();
  json_array_append_new(c->extra_scopes, json_string(repository));
  if (c->authorization && strncmp(c->authorization, "Bearer ", 7) == 0) {
    free(c->authorization);
    c->authorization = NULL;
    c->auth_gen++;
  }
  pthread_mutex_unlock(&c->lock);
}

void registry_reply_clear(struct registry_reply *r)
{
  free(r->body);
  free(r->content_type);
  free(r->digest);
  free(r->location);
  free(r->range);
  free(r->challenge);
  memset(r, 0, sizeof *r);
}

/* ---- one request ---- */

struct transfer {
  const struct registry_request *req;
  struct registry_reply *reply;
  CURL *curl;
  bool sink_failed, cancelled;
  /* the first address dialed for the latest connection, for Go's words */
  struct sockaddr_storage dialed;
  char dialed_after[INET6_ADDRSTRLEN]; /* curl's primary IP when it was */
};

static bool ok_status(long status)
{
  return status >= 200 && status < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
  struct transfer *t = arg;
  size_t len = size * nmemb;
  long status = 0;
  libcurl.curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (ok_status(status) && t->req->on_data) {
    if (t->req->on_data(data, len, t->req->arg) < 0) {
      t->sink_failed = true;
      return 0;
    }
    return len;
  }
  struct registry_reply *r = t->reply;
  if (r->len + len > MANIFEST_MAX)
    return 0;
  char *grown = realloc(r->body, r->len + len + 1);
  if (grown == NULL)
    return 0;
  r->body = grown;
  memcpy(r->body + r->len, data, len);
  r->len += len;
  r->body[r->len] = '\0';
  return len;
}

static void keep_header(char **slot, const char *value, size_t n)
{
  while (n > 0 && (value[n - 1] == '\r' || value[n - 1] == '\n' || value[n - 1] == ' '))
    n--;
  free(*slot);
  *slot = strndup(value, n);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
  struct transfer *t = arg;
  struct registry_reply *r = t->reply;
  size_t len = size * nmemb;
  static const struct {
    const char *name;
    size_t off;
  } wanted[] = {
      {"content-type:", offsetof(struct registry_reply, content_type)},
      {"docker-content-digest:", offsetof(struct registry_reply, digest)},
      {"location:", offsetof(struct registry_reply, location)},
      {"range:", offsetof(struct registry_reply, range)},
      {"www-authenticate:", offsetof(struct registry_reply, challenge)},
  };
  /* A new response (a redirect, a 100 Continue) starts afresh. */
  if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
    free(r->challenge);
    r->challenge = NULL;
    r->content_length = -1;
  }
  for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
    size_t n = strlen(wanted[i].name);
    if (len > n && strncasecmp(data, wanted[i].name, n) == 0) {
      const char *v = data + n;
      while (*v == ' ')
        v++;
      keep_header((char **)((char *)r + wanted[i].off), v, len - (size_t)(v - data));
    }
  }
  if (len > 15 && strncasecmp(data, "content-length:", 15) == 0)
    r->content_length = atoll(data + 15);
  return len;
}

/* curl's socket for each address it dials (made close-on-exec). The first
 * of a connection is kept: Go names it when every address fails. A
 * connection that succeeds sets curl's primary IP, so a change of that
 * marks the next connection (a redirect's). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
  struct transfer *t = arg;
  char *primary = NULL;
  libcurl.curl_easy_getinfo(t->curl, CURLINFO_PRIMARY_IP, &primary);
  if (primary == NULL)
    primary = "";
  if ((t->dialed.ss_family == AF_UNSPEC || strcmp(primary, t->dialed_after) != 0) &&
      a->addrlen <= sizeof t->dialed) {
    memset(&t->dialed, 0, sizeof t->dialed);
    memcpy(&t->dialed, &a->addr, a->addrlen);
    snprintf(t->dialed_after, sizeof t->dialed_after, "%s", primary);
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

struct stream_body {
  const struct registry_request *req;
  bool failed;
};

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
  struct stream_body *b = arg;
  size_t n = b->req->read_fn(buf, size * nmemb, b->req->arg);
  if (n == (size_t)-1) {
    b->failed = true;
    return CURL_READFUNC_ABORT;
  }
  return n;
}

/* curl calls this as bytes move, and about once a second while none do:
 * so a cancelled transfer stops even when stalled. */
static int on_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  struct transfer *t = arg;
  if (t->req->cancel && __atomic_load_n(t->req->cancel, __ATOMIC_ACQUIRE)) {
    t->cancelled = true;
    return 1;
  }
  if (t->req->on_sent && ulnow > 0)
    t->req->on_sent((long long)ulnow, t->req->sent_arg);
  return 0;
}

static void set_tls(struct registry_client *c, CURL *curl)
{
  if (!c->tls_verify) {
    libcurl.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    libcurl.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    registry_tls_check_install(curl);
  }
  if (c->ca_blob) {
    struct curl_blob blob = {.data = c->ca_blob, .len = c->ca_len, .flags = 0};
    libcurl.curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (c->cert_file) {
    libcurl.curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert_file);
    libcurl.curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key_file);
  }
}

/* The headers of req; *auth_gen: the generation of the client's
 * Authorization it carries. */
static struct curl_slist *request_headers(struct registry_client *c,
                                          const struct registry_request *req,
                                          unsigned long *auth_gen)
{
  struct curl_slist *h = NULL;
  cleanup_free char *auth = NULL, *accept = NULL, *type = NULL;
  pthread_mutex_lock(&c->lock);
  const char *value = req->authorization ? req->authorization : c->authorization;
  if (value && *value && asprintf(&auth, "Authorization: %s", value) < 0)
    auth = NULL;
  *auth_gen = c->auth_gen;
  pthread_mutex_unlock(&c->lock);
  if (auth)
    h = libcurl.curl_slist_append(h, auth);
  if (req->accept && asprintf(&accept, "Accept: %s", req->accept) >= 0)
    h = libcurl.curl_slist_append(h, accept);
  if (req->content_type && asprintf(&type, "Content-Type: %s", req->content_type) >= 0)
    h = libcurl.curl_slist_append(h, type);
  for (size_t i = 0; req->headers && req->headers[i]; i++)
    h = libcurl.curl_slist_append(h, req->headers[i]);
  /* curl would wait a second for a "100 Continue" before large bodies. */
  h = libcurl.curl_slist_append(h, "Expect:");
  return h;
}

static char *request_url(struct registry_client *c, const char *url)
{
  char *full = NULL;
  if (strstr(url, "://"))
    return strdup(url);
  return asprintf(&full, "%s%s", c->endpoint, url) < 0 ? NULL : full;
}

static void set_method(CURL *curl, const struct registry_request *req,
                       struct stream_body *sb)
{
  const char *m = req->method;
  if (strcmp(m, "HEAD") == 0) {
    libcurl.curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req->read_fn) {
    libcurl.curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    libcurl.curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    libcurl.curl_easy_setopt(curl, CURLOPT_READDATA, sb);
    if (req->read_len >= 0)
      libcurl.curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                               (curl_off_t)req->read_len);
    libcurl.curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, m);
  } else if (strcmp(m, "GET") != 0) {
    libcurl.curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    libcurl.curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(req->body ? req->body_len : 0));
    libcurl.curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, m);
  }
}

/* A registry that wants a client certificate and got none may let TLS 1.3
 * finish and then drop the connection (or send its alert) while the request
 * goes out: curl reports a send or receive failure that does not name the
 * certificate, so say what the likely cause is. */
static bool dropped_after_handshake(const struct registry_client *c, CURL *curl,
                                    CURLcode rc, long status)
{
  curl_off_t tls_done = 0;
  if (c->cert_file || status != 0 ||
      (rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR && rc != CURLE_GOT_NOTHING))
    return false;
  return libcurl.curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls_done) ==
             CURLE_OK &&
         tls_done > 0;
}

/* Go's url.Error Op for a method: "Get", "Head", "Put". */
static void go_op(const char *method, char out[16])
{
  size_t i = 0;
  for (; method[i] && i < 15; i++)
    out[i] = (char)(i == 0 ? toupper((unsigned char)method[i])
                           : tolower((unsigned char)method[i]));
  out[i] = '\0';
}

/* A transport failure in the form of Go's url.Error, as dockerd reports
 * it: `Get "https://host/v2/": why`. */
static int transport_error(const struct registry_client *c, const char *method,
                           const char *url, CURLcode rc, const char *why, bool dropped,
                           skiff_error_t **err)
{
  int status = rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : EIO;
  char op[16];
  go_op(method, op);
  if (!dropped) /* the cause is the whole story: no strerror after it */
    return skiff_error_status(err, status, "%s \"%s\": %s", op, url, why);
  return skiff_error_status(
      err, status,
      "%s \"%s\": %s (the registry closed the connection after the TLS handshake: if "
      "it "
      "requires a client certificate, put client.cert and client.key in %s/%s/)",
      op, url, why, c->cfg && c->cfg->certs_dir ? c->cfg->certs_dir : "certs.d",
      c->host);
}

/* Why a transfer failed: Go's words for a refused certificate or a server
 * out of reach (dockerd's), else curl's. Sets *where to the URL it failed
 * on (a redirect's target, borrowed from curl). New string. */
static char *failure_text(const struct registry_client *c, const struct transfer *t,
                          CURLcode rc, const char *errbuf, const char **where)
{
  char *effective = NULL;
  if (libcurl.curl_easy_getinfo(t->curl, CURLINFO_EFFECTIVE_URL, &effective) ==
          CURLE_OK &&
      effective)
    *where = effective;
  char *go = NULL;
  if (rc == CURLE_PEER_FAILED_VERIFICATION && c->tls_verify)
    go = registry_tls_verify_error(c, t->curl, *where);
  else
    go = registry_net_error(t->curl, rc, *where, &t->dialed);
  return go ? go : strdup(*errbuf ? errbuf : libcurl.curl_easy_strerror(rc));
}

/* One attempt, no authentication handling; *auth_gen as request_headers. */
static int perform(struct registry_client *c, const struct registry_request *req,
                   struct registry_reply *reply, unsigned long *auth_gen,
                   skiff_error_t **err)
{
  cleanup_free char *url = request_url(c, req->url);
  CURL *curl = libcurl.curl_easy_init();
  if (url == NULL || curl == NULL) {
    if (curl)
      libcurl.curl_easy_cleanup(curl);
    return skiff_error_set(err, ENOMEM, "registry request");
  }
  registry_reply_clear(reply);
  reply->content_length = -1;
  struct transfer t = {.req = req, .reply = reply, .curl = curl};
  struct stream_body sb = {.req = req};
  struct curl_slist *headers = request_headers(c, req, auth_gen);
  char errbuf[CURL_ERROR_SIZE] = "";
  libcurl.curl_easy_setopt(curl, CURLOPT_URL, url);
  libcurl.curl_easy_setopt(curl, CURLOPT_SHARE, curl_share);
  libcurl.curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  libcurl.curl_easy_setopt(curl, CURLOPT_USERAGENT, USER_AGENT);
  libcurl.curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  libcurl.curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  libcurl.curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  libcurl.curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  libcurl.curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  libcurl.curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  libcurl.curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t);
  libcurl.curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  libcurl.curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A stalled transfer (under 1 byte/s for 60 s) is a cut network. */
  libcurl.curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  libcurl.curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  libcurl.curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  libcurl.curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* Blobs are often served by a redirect to storage elsewhere; curl keeps
   * the Authorization header for the original host only. */
  if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
    libcurl.curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  libcurl.curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
  if (req->on_sent || req->cancel) {
    libcurl.curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    libcurl.curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    libcurl.curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  set_tls(c, curl);
  set_method(curl, req, &sb);
  registry_tls_hint_reset();
  CURLcode rc = libcurl.curl_easy_perform(curl);
  libcurl.curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
  libcurl.curl_slist_free_all(headers);
  int r = 0;
  if (rc != CURLE_OK && t.cancelled) {
    r = skiff_error_set(err, ECANCELED, "%s %s: cancelled", req->method, url);
  } else if (rc != CURLE_OK && (t.sink_failed || sb.failed)) {
    r = skiff_error_set(err, EIO, "%s %s: aborted", req->method, url);
  } else if (rc != CURLE_OK) {
    const char *where = url;
    bool dropped = dropped_after_handshake(c, curl, rc, reply->status);
    cleanup_free char *why = failure_text(c, &t, rc, errbuf, &where);
    r = transport_error(c, req->method, where, rc, why ? why : "?", dropped, err);
  }
  libcurl.curl_easy_cleanup(curl);
  return r;
}

/* Answer the challenge of a 401 to a request sent with the Authorization
 * of generation sent_gen. Threads that share c meet a 401 together when
 * its token expires or a scope is added: the first answers it, and the
 * others, finding the Authorization changed since they sent theirs, retry
 * with the new one instead of asking the token server again. */
static int reauthenticate(struct registry_client *c, const char *challenge,
                          unsigned long sent_gen, skiff_error_t **err)
{
  cleanup_free char *copy = strdup(challenge);
  if (copy == NULL)
    return skiff_error_set(err, ENOMEM, "registry %s", c->host);
  pthread_mutex_lock(&c->auth_lock);
  pthread_mutex_lock(&c->lock);
  bool renewed = c->auth_gen != sent_gen;
  pthread_mutex_unlock(&c->lock);
  int r = renewed ? 0 : registry_authenticate(c, copy, err);
  pthread_mutex_unlock(&c->auth_lock);
  return r;
}

int registry_do(struct registry_client *c, const struct registry_request *req,
                struct registry_reply *reply, skiff_error_t **err)
{
  unsigned long sent_gen = 0;
  if (perform(c, req, reply, &sent_gen, err) < 0)
    return -1;
  if (reply->status != 401 || reply->challenge == NULL || req->read_fn ||
      req->authorization)
    return 0;
  if (reauthenticate(c, reply->challenge, sent_gen, err) < 0)
    return -1;
  return perform(c, req, reply, &sent_gen, err);
}

/* ---- URLs ---- */

/* RFC 3986's unreserved characters (ASCII, whatever the locale). */
static bool unreserved(unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* text with every byte but the unreserved ones and those of keep as %XX,
 * appended to out at *len (out has room for 3 bytes per byte of text). */
static void escape_into(char *out, size_t *len, const char *text, const char *keep)
{
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (unreserved(*p) || strchr(keep, *p)) {
      out[(*len)++] = (char)*p;
    } else {
      out[(*len)++] = '%';
      out[(*len)++] = hex[*p >> 4];
      out[(*len)++] = hex[*p & 15];
    }
  }
  out[*len] = '\0';
}

int registry_url_add(char **url, const char *key, const char *value)
{
  size_t len = strlen(*url);
  char *grown = malloc(len + 2 + 3 * (strlen(key) + strlen(value)) + 1);
  if (grown == NULL)
    return -1;
  memcpy(grown, *url, len);
  grown[len++] = strchr(*url, '?') ? '&' : '?';
  escape_into(grown, &len, key, "");
  grown[len++] = '=';
  escape_into(grown, &len, value, "");
  free(*url);
  *url = grown;
  return 0;
}

static char *url_v(const struct registry_client *c, const char *fmt, va_list ap)
{
  cleanup_free char *what = NULL;
  if (vasprintf(&what, fmt, ap) < 0)
    return NULL;
  char *url = malloc(4 + 3 * (strlen(c->path) + 1 + strlen(what)) + 1);
  if (url == NULL)
    return NULL;
  size_t len = 4;
  memcpy(url, "/v2/", len);
  escape_into(url, &len, c->path, "/:@");
  url[len++] = '/';
  escape_into(url, &len, what, "/:@");
  return url;
}

char *registry_url(const struct registry_client *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *url = url_v(c, fmt, ap);
  va_end(ap);
  return url;
}

int registry_get(struct registry_client *c, const struct registry_get_opts *opts,
                 struct registry_reply *reply, skiff_error_t **err, const char *fmt,
                 ...)
{
  va_list ap;
  va_start(ap, fmt);
  cleanup_free char *url = url_v(c, fmt, ap);
  va_end(ap);
  if (url == NULL)
    return skiff_error_set(err, ENOMEM, "registry %s", c->host);
  struct registry_request req = {.method = "GET", .url = url};
  if (opts) {
    req.accept = opts->accept;
    req.on_data = opts->on_data;
    req.arg = opts->arg;
  }
  return registry_do(c, &req, reply, err);
}

/* ---- ping: which scheme ---- */

int registry_client_ping(struct registry_client *c, skiff_error_t **err)
{
  struct registry_request req = {.method = "GET", .url = "/v2/"};
  struct registry_reply reply = {0};
  skiff_error_t *first = NULL;
  bool insecure = registry_insecure(c->cfg, c->host);
  if (insecure && strncmp(c->endpoint, "https://", 8) == 0)
    c->tls_verify = false;
  int r = registry_do(c, &req, &reply, &first);
  /* Only a failure to talk TLS sends us to plain http: a refused login
   * (EACCES) came over a working connection. */
  if (r < 0 && insecure && first->status != EACCES &&
      strncmp(c->endpoint, "https://", 8) == 0) {
    /* A plain-http registry answers a TLS hello with garbage or a 400. */
    cleanup_free char *plain = NULL;
    if (asprintf(&plain, "http://%s", c->endpoint + 8) < 0)
      return skiff_error_set(err, ENOMEM, "registry");
    free(c->endpoint);
    c->endpoint = steal_pointer(&plain);
    skiff_error_free(&first);
    r = registry_do(c, &req, &reply, &first);
  }
  if (r < 0) {
    /* A transport failure (no answer: status 0) names its URL, as dockerd
     * words it; the others (a token server's refusal...) get the registry. */
    *err = first;
    if (reply.status != 0)
      skiff_error_wrap(err, "registry %s", c->host);
    registry_reply_clear(&reply);
    return -1;
  }
  long status = reply.status;
  r = 0;
  if (status == 401 || status == 403)
    r = registry_reply_error(&reply, err, "registry %s", c->host);
  else if (status != 200 && status != 404) /* some registries have no /v2/ page */
    r = registry_reply_error(&reply, err, "registry %s: GET /v2/", c->host);
  registry_reply_clear(&reply);
  return r;
}

/* ---- errors ---- */

/* The registry's {"errors": [{"code", "message", "detail"}]} as text. */
static char *error_text(const struct registry_reply *r)
{
  cleanup_json json_t *doc = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
  json_t *errors = json_object_get(doc, "errors");
  if (json_array_size(errors) == 0)
    return NULL;
  json_t *e = json_array_get(errors, 0);
  const char *code = json_string_value(json_object_get(e, "code"));
  const char *msg = json_string_value(json_object_get(e, "message"));
  char *text = NULL;
  if (asprintf(&text, "%s%s%s", code ? code : "", code && msg ? ": " : "",
               msg ? msg : "") < 0)
    return NULL;
  /* docker's form: "MANIFEST_UNKNOWN" reads "manifest unknown". */
  for (size_t i = 0, n = code ? strlen(code) : 0; i < n; i++)
    text[i] = text[i] == '_' ? ' ' : (char)tolower((unsigned char)text[i]);
  return text;
}

int registry_reply_error(const struct registry_reply *r, skiff_error_t **err,
                         const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  cleanup_free char *ctx = NULL;
  if (vasprintf(&ctx, fmt, ap) < 0)
    ctx = NULL;
  va_end(ap);
  cleanup_free char *text = error_text(r);
  int status = r->status == 404   ? ENOENT
               : r->status == 401 ? EACCES
               : r->status == 403 ? EACCES
                                  : EIO;
  skiff_error_status(err, status, "%s: %s", ctx ? ctx : "registry",
                     text               ? text
                     : r->status == 401 ? "unauthorized: authentication required"
                     : r->status == 404 ? "not found"
                                        : "unexpected answer");
  if (text == NULL && r->status != 401 && r->status != 404 && err && *err) {
    cleanup_free char *old = (*err)->msg;
    if (asprintf(&(*err)->msg, "%s (HTTP %ld)", old, r->status) < 0)
      (*err)->msg = steal_pointer(&old);
  }
  return -1;
}
