/* What the files of src/registry share: a client bound to one repository
 * of one registry endpoint (client.c), authentication (auth.c), manifests
 * and platforms (manifest.c). */
#ifndef SKIFF_REGISTRY_INTERNAL_H
#define SKIFF_REGISTRY_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <time.h>

#include "common/error.h"
#include "registry.h"

#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define DOCKER_HUB "docker.io"
#define DOCKER_HUB_API "https://registry-1.docker.io"
#define MANIFEST_MAX (4 * 1024 * 1024)

/* A parsed reference: registry host ("docker.io", "127.0.0.1:5000"), the
 * repository inside it ("library/busybox"), tag and digest (NULL when
 * absent), and the normalized name ("docker.io/library/busybox"). */
struct registry_ref {
  char *host, *path, *tag, *digest, *name;
};

/* Normalize text as docker does and split it. */
int registry_ref_parse(const char *text, struct registry_ref *out, skiff_error_t **err);
void registry_ref_clear(struct registry_ref *r);
/* The name as users see it ("busybox", "host:5000/a/b"). New string. */
char *registry_ref_familiar_name(const struct registry_ref *r);

/* ---- client.c ---- */

struct registry_client {
  const struct registry_config *cfg;
  char *host;           /* as in the reference */
  char *endpoint;       /* scheme://authority, no trailing slash */
  char *path;           /* repository inside the registry */
  char *actions;        /* "pull" or "pull,push" */
  json_t *extra_scopes; /* other repositories to read (cross-repository mounts) */
  bool tls_verify;
  char *ca_blob; /* PEM of the certs.d CAs (*.crt), or NULL */
  size_t ca_len;
  char *cert_file, *key_file; /* client certificate, or NULL */
  struct registry_auth auth;
  pthread_mutex_t lock;      /* guards authorization, auth_gen, extra_scopes */
  char *authorization;       /* the Authorization header value, or NULL */
  unsigned long auth_gen;    /* bumped whenever authorization changes */
  pthread_mutex_t auth_lock; /* one thread at a time answers a challenge */
};

struct registry_request {
  const char *method; /* GET, HEAD, PUT, POST, PATCH, DELETE */
  const char *url;    /* absolute, or a path under the endpoint */
  const char *accept; /* Accept header, or NULL */
  const char *content_type;
  /* The Authorization header to send instead of the client's ("" for
   * none); such a request is never retried after a 401. */
  const char *authorization;
  const char *const *headers; /* more "Name: value" lines, NULL-ended */
  const void *body;           /* an in-memory body, or NULL */
  size_t body_len;
  /* A streamed body instead: read_fn fills buf and returns the bytes
   * written, 0 at the end, (size_t)-1 on error. Such a request is not
   * retried after authenticating: make an authenticated call first. */
  size_t (*read_fn)(char *buf, size_t cap, void *arg);
  long long read_len; /* its length, or -1 (chunked) */
  /* The body of a 2xx answer goes to on_data when set (return < 0 to
   * abort), else into the reply (at most MANIFEST_MAX bytes). */
  int (*on_data)(const void *data, size_t len, void *arg);
  void *arg;
  /* Told the bytes of the body sent so far, as they go out (optional). */
  void (*on_sent)(long long sent, void *sent_arg);
  void *sent_arg;
  /* Another thread sets *cancel to stop the transfer (ECANCELED). */
  const bool *cancel;
};

struct registry_reply {
  long status;
  char *body;
  size_t len;
  char *content_type, *digest, *location, *range, *challenge;
  long long content_length; /* -1 when not given */
};

/* A client for repository path of the registry host; endpoint NULL picks
 * https://host (or Docker Hub's API host), falling back to plain http when
 * the registry is insecure (loopback, insecure-registries) and does not
 * speak TLS. actions: the scope to ask tokens for. */
struct registry_client *registry_client_new(const struct registry_config *cfg,
                                            const char *host, const char *endpoint,
                                            const char *path, const char *actions,
                                            const struct registry_auth *auth,
                                            skiff_error_t **err);
void registry_client_free(struct registry_client *c);

/* Tokens must from now on also allow pulling from repository (another
 * one on the same registry, to mount a blob from): the current Bearer token
 * is dropped, so that the next 401 asks for every scope at once. */
void registry_client_want_scope(struct registry_client *c, const char *repository);

/* Find the endpoint's scheme (GET /v2/) and authenticate when asked. */
int registry_client_ping(struct registry_client *c, skiff_error_t **err);

/* One request; a 401 is answered once by authenticating (Basic or a Bearer
 * token for the challenge) and retrying. Any number of threads may share c:
 * of those that meet a 401 together (an expired token), one fetches the new
 * token and the others retry with it. Transport errors fail; HTTP statuses
 * are the caller's to judge (reply->status). */
int registry_do(struct registry_client *c, const struct registry_request *req,
                struct registry_reply *reply, skiff_error_t **err);
void registry_reply_clear(struct registry_reply *r);

/* "/v2/<c's repository>/<the path fmt makes>" ("blobs/<digest>",
 * "blobs/uploads/", "manifests/<tag>"), with the characters of the path
 * other than the unreserved ones, "/", ":" and "@" escaped. New string,
 * NULL when out of memory. */
char *registry_url(const struct registry_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Add key=value (value escaped) to the query of *url, which may have one
 * already (a Location the registry sent). -1 when out of memory, *url then
 * unchanged. */
int registry_url_add(char **url, const char *key, const char *value);

/* How to GET from a repository: accept and on_data/arg as in struct
 * registry_request; each may be left out. */
struct registry_get_opts {
  const char *accept;
  int (*on_data)(const void *data, size_t len, void *arg);
  void *arg;
};

/* GET /v2/<c's repository>/<the path fmt makes> ("blobs/<digest>",
 * "manifests/<reference>", "tags/list") with registry_do; opts may be
 * NULL. The caller judges reply->status and clears *reply. */
int registry_get(struct registry_client *c, const struct registry_get_opts *opts,
                 struct registry_reply *reply, skiff_error_t **err, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

/* An error for an unexpected answer, from the registry's JSON errors when
 * it sent some ("manifest unknown: ..."); status ENOENT for 404, EACCES for
 * 401/403, else EIO. Returns -1. */
int registry_reply_error(const struct registry_reply *r, skiff_error_t **err,
                         const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- upload.c ---- */

/* What an upload tells and heeds, each optional: progress(arg, current,
 * total) as its bytes go out (from the uploading thread), and *cancel,
 * which another thread sets to stop it (it then fails with ECANCELED). */
struct registry_upload_ctl {
  void (*progress)(void *arg, long long current, long long total);
  void *arg;
  const bool *cancel;
};

/* The size of blob digest when c's repository has it (1 when the registry
 * does not say), 0 when it has not, -1 on error. */
long long registry_blob_size(struct registry_client *c, const char *digest,
                             const struct registry_upload_ctl *ctl,
                             skiff_error_t **err);
/* Mount digest from repository from (on the same registry): 1 when
 * mounted, 0 when the registry would rather have it uploaded, -1 on error. */
int registry_blob_mount(struct registry_client *c, const char *digest, const char *from,
                        const struct registry_upload_ctl *ctl, skiff_error_t **err);
/* Upload len bytes of data, of digest digest, in one PUT. */
int registry_upload_bytes(struct registry_client *c, const void *data, size_t len,
                          const char *digest, skiff_error_t **err);
/* Upload the size bytes of fd (from offset 0), of digest digest, in chunks. */
int registry_upload_file(struct registry_client *c, int fd, long long size,
                         const char *digest, const struct registry_upload_ctl *ctl,
                         skiff_error_t **err);
/* Upload the gzip of the tar_size bytes of the tar at fd, in chunks; the
 * blob's digest and size come back. Progress counts the tar's bytes. */
int registry_upload_gzip(struct registry_client *c, int fd, long long tar_size,
                         const struct registry_upload_ctl *ctl, char digest[72],
                         long long *size, skiff_error_t **err);

/* ---- auth.c ---- */

/* Answer a challenge (WWW-Authenticate) for c: a Basic header from the
 * credentials, or a Bearer token from the realm for c's scope. The new
 * Authorization value is stored in c. */
int registry_authenticate(struct registry_client *c, const char *challenge,
                          skiff_error_t **err);
/* Base64 (standard alphabet, padded) of len bytes; new string. */
char *registry_base64(const void *data, size_t len);

/* ---- tlserror.c ---- */

/* dockerd's (Go's) words for the certificate verification failure that
 * curl's easy handle reported on url: "tls: failed to verify certificate:
 * x509: certificate signed by unknown authority", "... x509: certificate
 * is valid for a, not b", "... has expired or is not yet valid: ...". NULL
 * when they cannot be told (curl's words then stand). New string. */
char *registry_tls_verify_error(const struct registry_client *c, void *curl,
                                const char *url);
/* The host of an absolute URL as Go's TLS client names it: no port, no
 * brackets around an IPv6 address. New string. */
char *registry_url_host(const char *url);
/* Go's crypto/x509 HostnameError text for a certificate that does not
 * name host. san: OpenSSL's text of its subjectAltName ("DNS:a, IP
 * Address:192.0.2.1"), NULL when it has none; subject: OpenSSL's one-line
 * subject ("CN = a"). New string. */
char *registry_x509_hostname_error(const char *host, const char *san,
                                   const char *subject);
/* Go's text for a certificate outside its validity at now (start and
 * expire as OpenSSL prints them: "Jan  2 03:04:05 2020 GMT"); NULL when
 * now is inside it or a date is unreadable. New string. */
char *registry_x509_validity_error(time_t now, const char *start, const char *expire);

/* ---- neterror.c ---- */

/* dockerd's (Go's net) words for a failure to reach url that curl reported
 * as rc on its easy handle: "dial tcp 127.0.0.1:5999: connect: connection
 * refused", "dial tcp: lookup h on 10.0.0.2:53: no such host", "dial tcp
 * 192.0.2.1:443: i/o timeout", "net/http: TLS handshake timeout". dialed:
 * the first address tried for the connection (family AF_UNSPEC when none
 * was). NULL when they cannot be told (curl's words then stand). New
 * string. */
char *registry_net_error(void *curl, int rc, const char *url,
                         const struct sockaddr_storage *dialed);

/* ---- tlscheck.c ---- */

/* Have the verified handshakes of curl's easy handle make the checks Go's
 * crypto/tls makes and OpenSSL does not: a server certificate without a DNS
 * or IP SAN is refused as a host name mismatch (Go never reads the CN), and
 * a failure to find an issuer keeps Go's hint about the candidates it tried
 * (registry_tls_hint). Nothing is checked when libcurl's TLS library is not
 * OpenSSL 3. */
void registry_tls_check_install(void *curl);
/* Go's UnknownAuthorityError hint for the last handshake on this thread
 * that found no issuer (` (possibly because of "..." while trying to verify
 * candidate authority certificate "...")`), or NULL. Borrowed. */
const char *registry_tls_hint(void);
/* Forget it: before each request. */
void registry_tls_hint_reset(void);

/* ---- manifest.c ---- */

struct registry_platform {
  char *os, *arch, *variant;
};

/* Parse "os[/arch[/variant]]" (NULL: this machine). */
int registry_platform_parse(const char *text, struct registry_platform *out,
                            skiff_error_t **err);
void registry_platform_clear(struct registry_platform *p);
/* "linux/amd64" or "linux/arm/v7"; new string. */
char *registry_platform_format(const struct registry_platform *p);

/* Whether a media type (or a document without one) is an index. */
bool registry_is_index(const char *media_type, json_t *doc);
/* The descriptor of an index's manifests that matches want, or NULL
 * (error naming what was wanted and what there is). Borrowed. */
json_t *registry_index_select(json_t *index, const struct registry_platform *want,
                              skiff_error_t **err);
/* Check an image manifest: schema 2 or OCI, config and layers with valid
 * digests. */
int registry_manifest_check(json_t *manifest, const char *media_type,
                            skiff_error_t **err);

#endif
