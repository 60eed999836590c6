/* Push: the layers first, several at once (max-concurrent-uploads, five by
 * default as with dockerd); for each, a blob the registry already has
 * (HEAD), one it can mount from another repository it holds (cross-
 * repository mount), or an upload (upload.c). Then the config, and the
 * manifest last, under the tag. When a layer fails, the uploads still
 * running are cancelled, those not started never start, and the push fails
 * with that layer's error: the registry gets no manifest.
 *
 * An image pulled from a registry keeps its digests: the manifest it was
 * pulled with is pushed again byte for byte when the target registry has
 * (or can mount) every blob it names. Otherwise a new manifest is made:
 * Docker's schema 2 when all layers are gzip, OCI's otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/jsonutil.h"
#include "image/image.h"
#include "jobs.h"
#include "progress.h"
#include "registry_internal.h"

#define MEDIA_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

struct pusher {
  struct image_store *store;
  struct registry_client *client;
  const struct registry_ref *ref;
  struct progress_out out;
  int max_uploads; /* 0: no limit */
};

struct pushed_layer {
  char digest[72];
  char *media_type;
  long long size;
};

/* One layer to push, as a worker takes it. */
struct layer_push {
  struct pusher *p;
  const struct image_push_layer *layer;
  json_t *want; /* the pulled manifest's blob for it, or NULL */
  struct pushed_layer *out;
  struct registry_upload_ctl ctl;
  char id[13]; /* docker's short form of the diff ID */
  long long last_report_ns, last_current;
};

/* "Pushing" as bytes go, at docker's bars' pace (the last count always). */
static void on_upload_progress(void *arg, long long current, long long total)
{
  struct layer_push *j = arg;
  if (current == j->last_current || !progress_due(&j->last_report_ns, current >= total))
    return;
  j->last_current = current;
  progress_send(&j->p->out, j->id, "Pushing", current, total);
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

/* "host/path" of a normalized repository name on the target's host, or
 * NULL when it lives on another registry. */
static const char *same_host_path(struct pusher *p, const char *repository)
{
  size_t n = strlen(p->ref->host);
  if (repository && strncmp(repository, p->ref->host, n) == 0 && repository[n] == '/')
    return repository + n + 1;
  return NULL;
}

/* ---- reusing blobs the registry has ---- */

/* Whether the target has digest, or can mount it from repository. */
static int reuse_blob(struct layer_push *j, const char *digest, const char *repository,
                      long long *size, skiff_error_t **err)
{
  struct pusher *p = j->p;
  long long have = registry_blob_size(p->client, digest, &j->ctl, err);
  if (have != 0) {
    if (have > 0)
      progress_send(&p->out, j->id, "Layer already exists", -1, -1);
    *size = have;
    return have > 0;
  }
  const char *from = same_host_path(p, repository);
  if (from == NULL || strcmp(from, p->client->path) == 0)
    return 0;
  registry_client_want_scope(p->client, from);
  int r = registry_blob_mount(p->client, digest, from, &j->ctl, err);
  if (r <= 0)
    return r;
  cleanup_free char *msg = NULL;
  if (asprintf(&msg, "Mounted from %s", from) >= 0)
    progress_send(&p->out, j->id, msg, -1, -1);
  *size = registry_blob_size(p->client, digest, &j->ctl, err);
  return *size > 0 ? 1 : -1;
}

/* Whether one of the blobs known to hold the layer (sources) is there or
 * could be mounted: 1 with j->out filled, 0 when none, -1 on error. */
static int reuse_any(struct layer_push *j, json_t *sources, skiff_error_t **err)
{
  size_t i;
  json_t *src;
  json_array_foreach(sources, i, src)
  {
    const char *digest = json_string_value(json_object_get(src, "Digest"));
    const char *repo = json_string_value(json_object_get(src, "SourceRepository"));
    const char *media = json_string_value(json_object_get(src, "MediaType"));
    long long size = 0;
    int r = digest ? reuse_blob(j, digest, repo, &size, err) : 0;
    if (r < 0)
      return -1;
    if (r == 1) {
      snprintf(j->out->digest, sizeof j->out->digest, "%s", digest);
      j->out->media_type = strdup(media ? media : MEDIA_DOCKER_LAYER);
      j->out->size = size;
      return j->out->media_type ? 1 : skiff_error_set(err, ENOMEM, "push");
    }
  }
  return 0;
}

/* Upload the layer: a pulled layer as the very blob it came as, any other
 * as the gzip of its tar. */
static int upload_layer(struct layer_push *j, json_t *sources, skiff_error_t **err)
{
  const struct image_push_layer *layer = j->layer;
  struct pushed_layer *out = j->out;
  if (layer->compressed) {
    if (registry_upload_file(j->p->client, layer->fd, layer->size, layer->compressed,
                             &j->ctl, err) < 0)
      return -1;
    snprintf(out->digest, sizeof out->digest, "%s", layer->compressed);
    out->media_type = strdup(source_media(sources, layer->compressed));
    out->size = layer->size;
  } else {
    if (registry_upload_gzip(j->p->client, layer->fd, layer->size, &j->ctl, out->digest,
                             &out->size, err) < 0)
      return -1;
    out->media_type = strdup(MEDIA_DOCKER_LAYER);
  }
  return out->media_type ? 0 : skiff_error_set(err, ENOMEM, "push");
}

/* Push one layer: first the blob the pulled manifest names, then any other
 * blob known to hold it, else a fresh upload. */
static int push_layer(struct layer_push *j, skiff_error_t **err)
{
  struct pusher *p = j->p;
  cleanup_json json_t *sources = image_dist_sources(p->store, j->layer->diff_id);
  if (j->want)
    json_array_insert(sources, 0, j->want);
  int r = reuse_any(j, sources, err);
  if (r == 0)
    r = upload_layer(j, sources, err);
  if (r < 0)
    return skiff_error_wrap(err, "push layer %s", j->layer->diff_id);
  if (r == 1)
    return 0;
  progress_send(&p->out, j->id, "Pushed", -1, -1);
  return image_dist_add_source(p->store, j->layer->diff_id, j->out->digest,
                               p->ref->name, j->out->media_type, err);
}

static int push_job(void *arg, size_t i, skiff_error_t **err)
{
  struct layer_push *jobs = arg;
  return push_layer(&jobs[i], err);
}

/* The blob the pulled manifest names for layer i, as a source, or NULL. */
static json_t *wanted_blob(json_t *candidate, size_t i)
{
  json_t *desc = json_array_get(json_object_get(candidate, "layers"), i);
  return desc ? json_pack("{s:O, s:s, s:O}", "Digest", json_object_get(desc, "digest"),
                          "SourceRepository", "", "MediaType",
                          json_object_get(desc, "mediaType"))
              : NULL;
}

/* The index of an earlier layer with the same diff ID, or i: a layer that
 * appears twice is pushed once, as docker does. */
static size_t first_with_diff_id(const struct image_push_source *src, size_t i)
{
  for (size_t k = 0; k < i; k++)
    if (strcmp(src->layers[k].diff_id, src->layers[i].diff_id) == 0)
      return k;
  return i;
}

/* Queue every distinct layer as a job of run (whose failure cancels the
 * uploads), announced as docker does: all "Preparing", then "Waiting" for
 * those beyond the workers. */
static void queue_layers(struct pusher *p, const struct image_push_source *src,
                         json_t *candidate, struct pushed_layer *out,
                         struct layer_push *jobs, struct jobs *run)
{
  for (size_t i = 0; i < src->n_layers; i++) {
    if (first_with_diff_id(src, i) != i)
      continue;
    struct layer_push *j = &jobs[run->n++];
    *j = (struct layer_push){
        .p = p,
        .layer = &src->layers[i],
        .want = wanted_blob(candidate, i),
        .out = &out[i],
        .ctl = {.progress = on_upload_progress, .arg = j, .cancel = &run->failed}};
    snprintf(j->id, sizeof j->id, "%s", src->layers[i].diff_id + 7);
    progress_send(&p->out, j->id, "Preparing", -1, -1);
  }
  for (size_t i = (size_t)p->max_uploads; p->max_uploads > 0 && i < run->n; i++)
    progress_send(&p->out, jobs[i].id, "Waiting", -1, -1);
}

/* The error is the first layer's to fail: the others were cancelled
 * because of it. */
static int push_layers(struct pusher *p, const struct image_push_source *src,
                       json_t *candidate, struct pushed_layer *out, skiff_error_t **err)
{
  cleanup_free struct layer_push *jobs = calloc(src->n_layers + 1, sizeof *jobs);
  if (jobs == NULL)
    return skiff_error_set(err, ENOMEM, "push");
  struct jobs run = {.limit = p->max_uploads, .run = push_job, .arg = jobs};
  queue_layers(p, src, candidate, out, jobs, &run);
  int r = jobs_run(&run, err);
  for (size_t i = 0; i < run.n; i++)
    json_decref(jobs[i].want);
  for (size_t i = 0; r == 0 && i < src->n_layers; i++) {
    size_t k = first_with_diff_id(src, i);
    if (k != i) {
      out[i] = out[k];
      if ((out[i].media_type = strdup(out[k].media_type)) == NULL)
        r = skiff_error_set(err, ENOMEM, "push");
    }
  }
  return r;
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
  long long have = registry_blob_size(p->client, src->id, NULL, err);
  if (have < 0)
    return -1;
  return have > 0 ? 0
                  : registry_upload_bytes(p->client, src->config, src->config_len,
                                          src->id, err);
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
    progress_send(&p->out, NULL, line, -1, -1);
  cleanup_json json_t *aux = json_pack("{s:s, s:s, s:I}", "Tag", tag, "Digest", digest,
                                       "Size", (json_int_t)len);
  progress_send_aux(&p->out, aux);
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
  struct pusher p = {.store = store,
                     .ref = &ref,
                     .max_uploads = cfg ? cfg->max_uploads : REGISTRY_DEFAULT_UPLOADS};
  progress_out_init(&p.out, progress);
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
      progress_send(&p.out, NULL, line, -1, -1);
  }
  size_t i;
  json_t *tag;
  json_array_foreach(tags, i, tag)
  {
    if (r == 0)
      r = push_tag(&p, json_string_value(tag), err);
  }
  registry_client_free(p.client);
  progress_out_destroy(&p.out);
  registry_ref_clear(&ref);
  return r;
}
