/* A client of registries that speak the OCI distribution spec (Docker Hub,
 * GHCR, Harbor, Debian's docker-registry ...): pull into and push from the
 * image store, and check credentials for login. Used by skiffd; every call
 * blocks its thread (layers move on threads of their own). */
#ifndef SKIFF_REGISTRY_REGISTRY_H
#define SKIFF_REGISTRY_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

struct image_store;

/* dockerd's default for max-concurrent-uploads. */
#define REGISTRY_DEFAULT_UPLOADS 5
/* skiff's default for max-concurrent-downloads (dockerd's is 3): each layer
 * in flight is mostly one core's decompression, and the last one to start
 * bounds the pull; with fewer than the image's layers, a lone tail layer
 * runs on one core while the others idle. Most images have fewer than 8
 * layers, so all of them start together; each costs a thread, a pipe and
 * two buffers. */
#define REGISTRY_DEFAULT_DOWNLOADS 8

/* What daemon.json says about registries (docker's keys). */
struct registry_config {
  json_t *insecure; /* "insecure-registries": "host[:port]" or CIDR strings */
  json_t *mirrors;  /* "registry-mirrors": URLs tried first for docker.io */
  char *certs_dir;  /* per-registry TLS files: <certs_dir>/<host[:port]>/ */
  /* "max-concurrent-uploads": the layers a push uploads at once (0: no
   * limit, as with dockerd's transfer manager) */
  int max_uploads;
  /* "max-concurrent-downloads": the layers a pull fetches at once (0: no
   * limit) */
  int max_downloads;
};

/* docker's AuthConfig, as the X-Registry-Auth header carries it. */
struct registry_auth {
  char *username, *password, *server, *identity_token, *registry_token;
};

/* Decode an X-Registry-Auth header (base64url of the JSON AuthConfig).
 * NULL or empty is anonymous. EINVAL on a malformed header. */
int registry_auth_decode(const char *header, struct registry_auth *out,
                         skiff_error_t **err);
/* Read the AuthConfig object of POST /auth (or of X-Registry-Config). */
int registry_auth_from_json(json_t *obj, struct registry_auth *out,
                            skiff_error_t **err);
void registry_auth_clear(struct registry_auth *auth);

/* Progress, in the shape of docker's JSON messages: id (a layer's short
 * digest, a tag, or NULL), status, and current/total bytes (total < 0: no
 * progress detail). Called from several threads, never concurrently. */
struct registry_progress {
  void (*fn)(void *arg, const char *id, const char *status, long long current,
             long long total);
  /* docker's "aux" messages (push's {"Tag", "Digest", "Size"}); optional. */
  void (*aux)(void *arg, json_t *aux);
  void *arg;
};

/* Pull ref ("busybox", "host:5000/a/b:tag", "name@sha256:...") into store.
 * platform: "os/arch[/variant]" or NULL for this machine's. all_tags pulls
 * every tag of the repository (ref then has no tag). Errors name what
 * failed (a digest mismatch names the digest); nothing of a failed image
 * stays in the store. */
int registry_pull(struct image_store *store, const struct registry_config *cfg,
                  const char *ref, const char *platform, bool all_tags,
                  const struct registry_auth *auth,
                  const struct registry_progress *progress, skiff_error_t **err);

/* Push the image named ref (and, when ref has no tag, every tag of its
 * repository) to its registry, cfg->max_uploads layers at once. On error
 * (naming the layer that failed) the tag being pushed gets no manifest. */
int registry_push(struct image_store *store, const struct registry_config *cfg,
                  const char *ref, const struct registry_auth *auth,
                  const struct registry_progress *progress, skiff_error_t **err);

/* Check credentials against a registry (server: "host[:port]", a URL, or
 * NULL/empty for Docker Hub). On success *token may receive an identity
 * token to keep instead of the password (NULL when none). */
int registry_login(const struct registry_config *cfg, const struct registry_auth *auth,
                   char **token, skiff_error_t **err);

#endif
