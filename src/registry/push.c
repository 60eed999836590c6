/* Push: for each layer, a blob the registry already has (HEAD), one it can
 * mount from another repository it holds (cross-repository mount), or a
 * gzip of the layer's tar uploaded in chunks (PATCH with Content-Range,
 * then PUT ?digest=); the config in one monolithic PUT; the manifest last,
 * under the tag.
 *
 * An image pulled from a registry keeps its digests: the manifest it was
 * pulled with is pushed again byte for byte when the target registry has
 * (or can mount) every blob it names. Otherwise a new manifest is made:
 * Docker's schema 2 when all layers are gzip, OCI's otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/jsonutil.h"
#include "image/image.h"
#include "registry_internal.h"

#define CHUNK_SIZE (16 * 1024 * 1024)
#define READ_BUF (256 * 1024)
#define MEDIA_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

struct pusher {
  struct image_store *store;
  struct registry_client *client;
  const struct registry_ref *ref;
  const struct registry_progress *progress;
};

struct pushed_layer {
  char digest[72];
  char *media_type;
  long long size;
};

static void report(struct pusher *p, const char *id, const char *status,
                   long long current, long long total)
{
  if (p->progress && p->progress->fn)
    p->progress->fn(p->progress->arg, id, status, current, total);
}

/* The blob's size when the repository has it, 0 when not, -1 on error. */
static long long blob_size(struct registry_client *c, const char *digest,
                           skiff_error_t **err)
{
  cleanup_free char *url = registry_url(c, "blobs/%s", digest);
  struct registry_request req = {.method = "HEAD", .url = url};
  struct registry_reply reply = {0};
  if (url == NULL || registry_do(c, &req, &reply, err) < 0)
    return -1;
  long long size =
      reply.status == 200   ? (reply.content_length > 0 ? reply.content_length : 1)
      : reply.status == 404 ? 0
                            : registry_reply_error(&reply, err, "blob %s", digest);
  registry_reply_clear(&reply);
  return size;
}

/* POST an upload; with from, ask to mount digest from that repository.
 * Returns 1 when mounted, 0 with *location for an upload, -1 on error. */
static int start_upload(struct registry_client *c, const char *digest, const char *from,
                        char **location, skiff_error_t **err)
{
  cleanup_free char *url = registry_url(c, "blobs/uploads/");
  if (url == NULL || (from && (registry_url_add(&url, "mount", digest) < 0 ||
                               registry_url_add(&url, "from", from) < 0)))
    return skiff_error_set(err, ENOMEM, "push");
  struct registry_request req = {.method = "POST", .url = url};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  int r;
  if (reply.status == 201 && from) {
    r = 1;
  } else if (reply.status == 202 && reply.location) {
    *location = steal_pointer(&reply.location);
    r = 0;
  } else {
    r = registry_reply_error(&reply, err, "start an upload to %s", c->path);
  }
  registry_reply_clear(&reply);
  return r;
}

/* PUT that ends an upload (with the last bytes, or none). */
static int finish_upload(struct registry_client *c, const char *location,
                         const char *digest, const void *data, size_t len,
                         skiff_error_t **err)
{
  cleanup_free char *url = strdup(location);
  if (url == NULL || registry_url_add(&url, "digest", digest) < 0)
    return skiff_error_set(err, ENOMEM, "push");
  struct registry_request req = {.method = "PUT",
                                 .url = url,
                                 .content_type = "application/octet-stream",
                                 .body = data,
                                 .body_len = len};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  int r = reply.status == 201 || reply.status == 204
              ? 0
              : registry_reply_error(&reply, err, "upload blob %s", digest);
  registry_reply_clear(&reply);
  return r;
}

static int upload_monolithic(struct registry_client *c, const void *data, size_t len,
                             const char *digest, skiff_error_t **err)
{
  cleanup_free char *location = NULL;
  if (start_upload(c, digest, NULL, &location, err) < 0)
    return -1;
  return finish_upload(c, location, digest, data, len, err);
}

/* ---- gzip on the way out ---- */

struct gz {
  z_stream z;
  int fd;
  unsigned char *in;
  bool in_eof, done;
  struct sha256_ctx sha;
};

/* Fill buf with up to cap compressed bytes; 0 at the end, -1 on error. */
static ssize_t gz_fill(struct gz *g, unsigned char *buf, size_t cap)
{
  g->z.next_out = buf;
  g->z.avail_out = (uInt)cap;
  while (g->z.avail_out > 0 && !g->done) {
    if (g->z.avail_in == 0 && !g->in_eof) {
      ssize_t n = read(g->fd, g->in, READ_BUF);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      g->in_eof = n == 0;
      g->z.next_in = g->in;
      g->z.avail_in = (uInt)n;
    }
    int r = deflate(&g->z, g->in_eof ? Z_FINISH : Z_NO_FLUSH);
    if (r == Z_STREAM_END)
      g->done = true;
    else if (r != Z_OK && r != Z_BUF_ERROR)
      return -1;
  }
  size_t n = cap - g->z.avail_out;
  sha256_update(&g->sha, n, buf);
  return (ssize_t)n;
}

static int patch_chunk(struct registry_client *c, char **location, const void *data,
                       size_t len, long long offset, skiff_error_t **err)
{
  char range[64];
  snprintf(range, sizeof range, "Content-Range: %lld-%lld", offset,
           offset + (long long)len - 1);
  const char *headers[] = {range, NULL};
  struct registry_request req = {.method = "PATCH",
                                 .url = *location,
                                 .content_type = "application/octet-stream",
                                 .headers = headers,
                                 .body = data,
                                 .body_len = len};
  struct registry_reply reply = {0};
  if (registry_do(c, &req, &reply, err) < 0)
    return -1;
  int r = 0;
  if (reply.status != 202 || reply.location == NULL)
    r = registry_reply_error(&reply, err, "upload a chunk to %s", c->path);
  else
    free(*location), *location = steal_pointer(&reply.location);
  registry_reply_clear(&reply);
  return r;
}

/* Upload the gzip of the tar at fd in CHUNK_SIZE pieces; digest and size
 * of what was sent come back. */
static int upload_layer(struct pusher *p, const char *id, int fd, long long tar_size,
                        struct pushed_layer *out, skiff_error_t **err)
{
  cleanup_free char *location = NULL;
  if (start_upload(p->client, NULL, NULL, &location, err) < 0)
    return -1;
  struct gz g = {.fd = fd, .in = malloc(READ_BUF)};
  cleanup_free unsigned char *chunk = malloc(CHUNK_SIZE);
  int r = 0;
  sha256_init(&g.sha);
  if (g.in == NULL || chunk == NULL ||
      deflateInit2(&g.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    free(g.in);
    return skiff_error_set(err, ENOMEM, "push");
  }
  lseek(fd, 0, SEEK_SET);
  long long sent = 0;
  ssize_t n;
  while (r == 0 && (n = gz_fill(&g, chunk, CHUNK_SIZE)) > 0) {
    r = patch_chunk(p->client, &location, chunk, (size_t)n, sent, err);
    sent += n;
    report(p, id, "Pushing", (long long)g.z.total_in, tar_size);
  }
  if (r == 0 && n < 0)
    r = skiff_error_errno(err, "push: read layer %s", id);
  sha256_finish_text(&g.sha, out->digest);
  deflateEnd(&g.z);
  free(g.in);
  if (r == 0)
    r = finish_upload(p->client, location, out->digest, NULL, 0, err);
  out->size = sent;
  out->media_type = strdup(MEDIA_DOCKER_LAYER);
  return r;
}

/* Upload a pulled layer's blob exactly as it is stored, in chunks. */
static int upload_blob_file(struct pusher *p, const char *id,
                            const struct image_push_layer *layer, skiff_error_t **err)
{
  cleanup_free char *location = NULL;
  if (start_upload(p->client, NULL, NULL, &location, err) < 0)
    return -1;
  cleanup_free unsigned char *chunk = malloc(CHUNK_SIZE);
  if (chunk == NULL)
    return skiff_error_set(err, ENOMEM, "push");
  long long sent = 0;
  while (sent < layer->size) {
    size_t want =
        layer->size - sent < CHUNK_SIZE ? (size_t)(layer->size - sent) : CHUNK_SIZE;
    ssize_t n = pread(layer->fd, chunk, want, sent);
    if (n <= 0)
      return skiff_error_errno(err, "push: read blob %s", layer->compressed);
    if (patch_chunk(p->client, &location, chunk, (size_t)n, sent, err) < 0)
      return -1;
    sent += n;
    report(p, id, "Pushing", sent, layer->size);
  }
  return finish_upload(p->client, location, layer->compressed, NULL, 0, err);
}

/* The media type known for a blob digest among a layer's sources. */
static const char *source_media(json_t *sources, const char *digest)
{
  size_t i;
  json_t *src;
  json_array_foreach(sources, i, src)
  {
    const char *d = json_string_value(json_object_get(src, "Digest"));
    const char *m = json_string_value(json_object_get(src, "MediaType"));
    if (d && m && strcmp(d, digest) == 0)
      return m;
  }
  return MEDIA_DOCKER_LAYER;
}

/* ---- reusing blobs the registry has ---- */

/* "host/path" of a normalized repository name on the target's host, or
 * NULL when it lives on another registry. */
static const char *same_host_path(struct pusher *p, const char *repository)
{
  size_t n = strlen(p->ref->host);
  if (repository && strncmp(repository, p->ref->host, n) == 0 && repository[n] == '/')
    return repository + n + 1;
  return NULL;
}

/* Whether the target has digest, or can mount it from repository. */
static int reuse_blob(struct pusher *p, const char *id, const char *digest,
                      const char *repository, long long *size, skiff_error_t **err)
{
  long long have = blob_size(p->client, digest, err);
  if (have != 0) {
    if (have > 0)
      report(p, id, "Layer already exists", -1, -1);
    *size = have;
    return have > 0;
  }
  const char *from = same_host_path(p, repository);
  if (from == NULL || strcmp(from, p->client->path) == 0)
    return 0;
  registry_client_want_scope(p->client, from);
  cleanup_free char *location = NULL;
  int r = start_upload(p->client, digest, from, &location, err);
  if (r <= 0) {
    /* The abandoned upload session expires on its own. */
    return r;
  }
  cleanup_free char *msg = NULL;
  if (asprintf(&msg, "Mounted from %s", from) >= 0)
    report(p, id, msg, -1, -1);
  *size = blob_size(p->client, digest, err);
  return *size > 0 ? 1 : -1;
}

/* Push one layer: first the blob the candidate manifest names (want, may be
 * NULL), then any other blob known to hold it, else a fresh upload. */
static int push_layer(struct pusher *p, const struct image_push_layer *layer,
                      json_t *want, struct pushed_layer *out, skiff_error_t **err)
{
  char id[13];
  snprintf(id, sizeof id, "%s", layer->diff_id + 7);
  cleanup_json json_t *sources = image_dist_sources(p->store, layer->diff_id);
  if (want)
    json_array_insert_new(sources, 0, json_deep_copy(want));
  size_t i;
  json_t *src;
  json_array_foreach(sources, i, src)
  {
    const char *digest = json_string_value(json_object_get(src, "Digest"));
    const char *repo = json_string_value(json_object_get(src, "SourceRepository"));
    const char *media = json_string_value(json_object_get(src, "MediaType"));
    long long size = 0;
    int r = digest ? reuse_blob(p, id, digest, repo, &size, err) : 0;
    if (r < 0)
      return -1;
    if (r == 1) {
      snprintf(out->digest, sizeof out->digest, "%s", digest);
      out->media_type = strdup(media ? media : MEDIA_DOCKER_LAYER);
      out->size = size;
      return 0;
    }
  }
  report(p, id, "Preparing", -1, -1);
  if (layer->compressed) {
    if (upload_blob_file(p, id, layer, err) < 0)
      return skiff_error_wrap(err, "push layer %s", layer->diff_id);
    snprintf(out->digest, sizeof out->digest, "%s", layer->compressed);
    out->media_type = strdup(source_media(sources, layer->compressed));
    out->size = layer->size;
  } else if (upload_layer(p, id, layer->fd, layer->size, out, err) < 0) {
    return skiff_error_wrap(err, "push layer %s", layer->diff_id);
  }
  report(p, id, "Pushed", -1, -1);
  return image_dist_add_source(p->store, layer->diff_id, out->digest, p->ref->name,
                               out->media_type, err);
}

/* ---- manifests ---- */

/* The manifest this image was pulled with (through an index for its
 * platform), when the store kept it; NULL otherwise. */
static json_t *pulled_manifest(struct pusher *p, const struct image_push_source *src,
                               char **bytes, size_t *len)
{
  size_t i;
  json_t *ref;
  json_array_foreach(src->refs, i, ref)
  {
    const char *at = strchr(json_string_value(ref), '@');
    cleanup_free char *text = at ? image_dist_manifest(p->store, at + 1, len) : NULL;
    cleanup_json json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    const char *config =
        json_string_value(json_object_get(json_object_get(doc, "config"), "digest"));
    if (config && strcmp(config, src->id) == 0 &&
        json_array_size(json_object_get(doc, "layers")) == src->n_layers) {
      *bytes = steal_pointer(&text);
      return steal_pointer(&doc);
    }
    /* An index: its entries that this store kept are candidates too. */
    size_t j;
    json_t *desc;
    json_array_foreach(json_object_get(doc, "manifests"), j, desc)
    {
      const char *d = json_string_value(json_object_get(desc, "digest"));
      cleanup_free char *inner = d ? image_dist_manifest(p->store, d, len) : NULL;
      json_t *idoc = inner ? json_loads(inner, 0, NULL) : NULL;
      config =
          json_string_value(json_object_get(json_object_get(idoc, "config"), "digest"));
      if (config && strcmp(config, src->id) == 0) {
        *bytes = steal_pointer(&inner);
        return idoc;
      }
      json_decref(idoc);
    }
  }
  return NULL;
}

static const char *oci_media(const char *media)
{
  if (strstr(media, "zstd"))
    return MEDIA_OCI_LAYER_ZSTD;
  if (strstr(media, "gzip"))
    return MEDIA_OCI_LAYER_GZIP;
  return MEDIA_OCI_LAYER_TAR;
}

static char *new_manifest(const struct image_push_source *src,
                          const struct pushed_layer *layers, const char **media_type)
{
  bool all_gzip = true;
  for (size_t i = 0; i < src->n_layers; i++)
    all_gzip &= strstr(layers[i].media_type, "gzip") != NULL;
  *media_type = all_gzip ? MEDIA_DOCKER_MANIFEST : MEDIA_OCI_MANIFEST;
  cleanup_json json_t *list = json_array();
  for (size_t i = 0; i < src->n_layers; i++)
    json_array_append_new(
        list,
        json_pack("{s:s, s:I, s:s}", "mediaType",
                  all_gzip ? MEDIA_DOCKER_LAYER : oci_media(layers[i].media_type),
                  "size", (json_int_t)layers[i].size, "digest", layers[i].digest));
  cleanup_json json_t *doc =
      json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:O}", "schemaVersion", 2, "mediaType",
                *media_type, "config", "mediaType",
                all_gzip ? MEDIA_DOCKER_CONFIG : MEDIA_OCI_CONFIG, "size",
                (json_int_t)src->config_len, "digest", src->id, "layers", list);
  return doc ? json_dumps(doc, JSON_INDENT(3) | JSON_PRESERVE_ORDER) : NULL;
}

static int put_manifest(struct pusher *p, const char *tag, const char *bytes,
                        size_t len, const char *media_type, skiff_error_t **err)
{
  cleanup_free char *url = registry_url(p->client, "manifests/%s", tag);
  if (url == NULL)
    return skiff_error_set(err, ENOMEM, "push");
  struct registry_request req = {.method = "PUT",
                                 .url = url,
                                 .content_type = media_type,
                                 .body = bytes,
                                 .body_len = len};
  struct registry_reply reply = {0};
  if (registry_do(p->client, &req, &reply, err) < 0)
    return -1;
  int r = reply.status == 201 || reply.status == 200
              ? 0
              : registry_reply_error(&reply, err, "put the manifest of %s:%s",
                                     p->ref->name, tag);
  registry_reply_clear(&reply);
  return r;
}

/* ---- one tag ---- */

static int push_config(struct pusher *p, const struct image_push_source *src,
                       skiff_error_t **err)
{
  long long have = blob_size(p->client, src->id, err);
  if (have < 0)
    return -1;
  return have > 0
             ? 0
             : upload_monolithic(p->client, src->config, src->config_len, src->id, err);
}

static int push_layers(struct pusher *p, const struct image_push_source *src,
                       json_t *candidate, struct pushed_layer *out, skiff_error_t **err)
{
  json_t *want_layers = json_object_get(candidate, "layers");
  for (size_t i = 0; i < src->n_layers; i++) {
    json_t *desc = json_array_get(want_layers, i);
    cleanup_json json_t *want =
        desc ? json_pack("{s:O, s:s, s:O}", "Digest", json_object_get(desc, "digest"),
                         "SourceRepository", "", "MediaType",
                         json_object_get(desc, "mediaType"))
             : NULL;
    if (push_layer(p, &src->layers[i], want, &out[i], err) < 0)
      return -1;
  }
  return 0;
}

static bool same_layers(json_t *candidate, const struct pushed_layer *layers, size_t n)
{
  json_t *list = json_object_get(candidate, "layers");
  for (size_t i = 0; i < n; i++) {
    const char *d =
        json_string_value(json_object_get(json_array_get(list, i), "digest"));
    if (d == NULL || strcmp(d, layers[i].digest) != 0)
      return false;
  }
  return candidate != NULL;
}

static void report_pushed(struct pusher *p, const char *tag, const char *digest,
                          size_t len)
{
  cleanup_free char *line = NULL;
  if (asprintf(&line, "%s: digest: %s size: %zu", tag, digest, len) >= 0)
    report(p, NULL, line, -1, -1);
  if (p->progress && p->progress->aux) {
    cleanup_json json_t *aux = json_pack("{s:s, s:s, s:I}", "Tag", tag, "Digest",
                                         digest, "Size", (json_int_t)len);
    p->progress->aux(p->progress->arg, aux);
  }
}

static int push_tag(struct pusher *p, const char *tag, skiff_error_t **err)
{
  cleanup_free char *name = NULL;
  if (asprintf(&name, "%s:%s", p->ref->name, tag) < 0)
    return skiff_error_set(err, ENOMEM, "push");
  struct image_push_source src;
  if (image_push_source(p->store, name, &src, NULL) < 0) {
    cleanup_free char *familiar = image_reference_familiar(name);
    return skiff_error_status(err, ENOENT,
                              "An image does not exist locally with the tag: %s",
                              familiar ? familiar : name);
  }
  size_t len = 0;
  cleanup_free char *bytes = NULL;
  cleanup_json json_t *candidate = pulled_manifest(p, &src, &bytes, &len);
  struct pushed_layer *layers = calloc(src.n_layers + 1, sizeof *layers);
  int r = layers ? 0 : skiff_error_set(err, ENOMEM, "push");
  if (r == 0)
    r = push_layers(p, &src, candidate, layers, err);
  if (r == 0)
    r = push_config(p, &src, err);
  const char *media_type = NULL;
  if (r == 0 && same_layers(candidate, layers, src.n_layers)) {
    media_type = json_string_value(json_object_get(candidate, "mediaType"));
    media_type = media_type ? media_type : MEDIA_DOCKER_MANIFEST;
  } else if (r == 0) {
    free(bytes);
    bytes = new_manifest(&src, layers, &media_type);
    len = bytes ? strlen(bytes) : 0;
    r = bytes ? 0 : skiff_error_set(err, ENOMEM, "push");
  }
  if (r == 0)
    r = put_manifest(p, tag, bytes, len, media_type, err);
  char digest[72];
  if (r == 0) {
    sha256_text_of(bytes, len, digest);
    cleanup_free char *by_digest = NULL;
    image_dist_save_manifest(p->store, bytes, len, digest, NULL);
    if (asprintf(&by_digest, "%s@%s", p->ref->name, digest) >= 0)
      image_store_add_digest_ref(p->store, src.id, by_digest, NULL);
    report_pushed(p, tag, digest, len);
  }
  for (size_t i = 0; layers && i < src.n_layers; i++)
    free(layers[i].media_type);
  free(layers);
  image_push_source_clear(&src);
  return r;
}

/* The tags to push: the one named, or with none every tag of the
 * repository. Checked before the registry is contacted, as docker does. */
static json_t *tags_to_push(struct image_store *store, const char *text,
                            const struct registry_ref *ref, skiff_error_t **err)
{
  const char *last = strrchr(text, '/');
  bool all_tags = !strchr(last ? last : text, ':');
  json_t *tags = all_tags ? image_store_repository_tags(store, ref->name)
                          : json_pack("[s]", ref->tag ? ref->tag : "latest");
  cleanup_free char *name = NULL;
  if (tags && json_array_size(tags) == 1 &&
      asprintf(&name, "%s:%s", ref->name, json_string_value(json_array_get(tags, 0))) <
          0)
    name = NULL;
  cleanup_free char *id = name ? image_store_resolve(store, name, NULL) : NULL;
  if (tags && (json_array_size(tags) == 0 || (name && id == NULL))) {
    cleanup_free char *familiar = image_reference_familiar(name ? name : ref->name);
    skiff_error_status(err, ENOENT, "An image does not exist locally with the tag: %s",
                       familiar ? familiar : ref->name);
    json_decref(tags);
    return NULL;
  }
  if (tags == NULL)
    skiff_error_set(err, ENOMEM, "push");
  return tags;
}

int registry_push(struct image_store *store, const struct registry_config *cfg,
                  const char *text, const struct registry_auth *auth,
                  const struct registry_progress *progress, skiff_error_t **err)
{
  struct registry_ref ref;
  if (registry_ref_parse(text, &ref, err) < 0)
    return -1;
  struct pusher p = {.store = store, .ref = &ref, .progress = progress};
  cleanup_json json_t *tags = NULL;
  int r = 0;
  if (ref.digest)
    r = skiff_error_invalid(err, "cannot push a digest reference");
  else if ((tags = tags_to_push(store, text, &ref, err)) == NULL)
    r = -1;
  if (r == 0) {
    p.client =
        registry_client_new(cfg, ref.host, NULL, ref.path, "pull,push", auth, err);
    r = p.client ? registry_client_ping(p.client, err) : -1;
  }
  if (r == 0) {
    cleanup_free char *line = NULL;
    if (asprintf(&line, "The push refers to repository [%s]", ref.name) >= 0)
      report(&p, NULL, line, -1, -1);
  }
  size_t i;
  json_t *tag;
  json_array_foreach(tags, i, tag)
  {
    if (r == 0)
      r = push_tag(&p, json_string_value(tag), err);
  }
  registry_client_free(p.client);
  registry_ref_clear(&ref);
  return r;
}
