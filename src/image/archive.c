/* docker save and docker load.
 *
 * save writes what docker 25+ writes: an OCI image layout that is also a
 * docker archive --
 *   blobs/sha256/<hex>  configs, OCI manifests, uncompressed layer tars
 *   index.json, oci-layout       (OCI readers: skopeo, podman, containerd)
 *   manifest.json, repositories  (docker's loader, any version)
 * load reads docker archives of any version (manifest.json with "<id>.json"
 * and "<v1 id>/layer.tar", or blobs/ paths) and OCI layouts (index.json,
 * possibly nested indexes, gzip/zstd layers). The archive is unpacked
 * into tmp/ first (paths clamped inside it); every layer is checked
 * against the diff_id its config names, every OCI blob against its
 * digest. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image_internal.h"

#define COPY_BUF (256 * 1024)
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* ================= save ================= */

struct save_image {
  char *id;
  char *config; /* the bytes */
  size_t config_len;
  json_t *refs;    /* normalized tags to save it under */
  char **diff_ids; /* borrowed from plan->layers order */
  size_t n_layers;
};

struct save_plan {
  struct save_image *images;
  size_t n_images;
  json_t *layer_fds; /* diff_id -> fd (integer) */
};

static void plan_free(struct save_plan *p)
{
  for (size_t i = 0; i < p->n_images; i++) {
    free(p->images[i].id);
    free(p->images[i].config);
    json_decref(p->images[i].refs);
    for (size_t k = 0; k < p->images[i].n_layers; k++)
      free(p->images[i].diff_ids[k]);
    free(p->images[i].diff_ids);
  }
  free(p->images);
  const char *key;
  json_t *fd;
  json_object_foreach(p->layer_fds, key, fd) close((int)json_integer_value(fd));
  json_decref(p->layer_fds);
}

static struct save_image *plan_image(struct save_plan *p, struct image_store *s,
                                     struct image_record *rec, skiff_error_t **err)
{
  for (size_t i = 0; i < p->n_images; i++)
    if (strcmp(p->images[i].id, rec->id) == 0)
      return &p->images[i];
  struct save_image *grown = realloc(p->images, (p->n_images + 1) * sizeof *grown);
  if (grown == NULL)
    return skiff_error_set(err, ENOMEM, "save"), NULL;
  p->images = grown;
  struct save_image *img = &p->images[p->n_images++];
  *img = (struct save_image){.id = strdup(rec->id), .refs = json_array()};
  cleanup_free char *path = store_blob_path(s, rec->id);
  img->config = fs_read_file(path, &img->config_len, err);
  img->diff_ids = calloc(rec->n_layers + 1, sizeof(char *));
  if (img->config == NULL || img->diff_ids == NULL)
    return NULL;
  for (size_t i = 0; i < rec->n_layers; i++, img->n_layers++) {
    img->diff_ids[i] = strdup(rec->diff_ids[i]);
    if (json_object_get(p->layer_fds, rec->diff_ids[i]))
      continue;
    /* Opened now, under the lock: a removal racing with the stream can
     * unlink the blob but not take it from us. */
    int fd = layer_open_tar(s, rec->chain_ids[i], rec->diff_ids[i], err);
    if (fd < 0)
      return NULL;
    json_object_set_new(p->layer_fds, rec->diff_ids[i], json_integer(fd));
  }
  return img;
}

static void add_unique(json_t *refs, const char *ref)
{
  size_t i;
  json_t *v;
  json_array_foreach(refs, i, v)
  {
    if (strcmp(json_string_value(v), ref) == 0)
      return;
  }
  json_array_append_new(refs, json_string(ref));
}

/* A bare repository name ("busybox") saves every tag of it, as docker. */
static int plan_repository(struct save_plan *p, struct image_store *s, const char *name,
                           bool *found, skiff_error_t **err)
{
  *found = false;
  if (strchr(name, '@') || strchr(strrchr(name, '/') ? strrchr(name, '/') : name, ':'))
    return 0;
  cleanup_free char *norm = image_reference_normalize(name, NULL);
  cleanup_free char *repo = NULL, *tag = NULL, *digest = NULL;
  if (norm == NULL)
    return 0;
  reference_split(norm, &repo, &tag, &digest);
  const char *ref;
  json_t *id;
  json_object_foreach(s->tags, ref, id)
  {
    cleanup_free char *r = NULL, *t = NULL, *d = NULL;
    reference_split(ref, &r, &t, &d);
    struct image_record *rec = store_find_locked(s, json_string_value(id));
    if (d || t == NULL || strcmp(r, repo) != 0 || rec == NULL)
      continue;
    struct save_image *img = plan_image(p, s, rec, err);
    if (img == NULL)
      return -1;
    add_unique(img->refs, ref);
    *found = true;
  }
  return 0;
}

static int plan_name(struct save_plan *p, struct image_store *s, const char *name,
                     skiff_error_t **err)
{
  bool found;
  if (plan_repository(p, s, name, &found, err) < 0 || found)
    return found ? 0 : -1;
  struct image_record *rec = store_resolve_locked(s, name, err);
  struct save_image *img = rec ? plan_image(p, s, rec, err) : NULL;
  if (img == NULL)
    return -1;
  bool by_id =
      strncmp(digest_hex(rec->id), digest_hex(name), strlen(digest_hex(name))) == 0;
  cleanup_free char *norm = by_id ? NULL : image_reference_normalize(name, NULL);
  if (norm && !strchr(norm, '@'))
    add_unique(img->refs, norm);
  return 0;
}

/* ---- writing the tar ---- */

static int add_header(struct archive *a, const char *path, mode_t type, la_int64_t size,
                      skiff_error_t **err)
{
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, path);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return skiff_error_set(err, archive_errno(a), "save: %s: %s", path,
                           archive_error_string(a));
  return 0;
}

static int add_bytes(struct archive *a, const char *path, const void *data, size_t len,
                     skiff_error_t **err)
{
  if (add_header(a, path, AE_IFREG, (la_int64_t)len, err) < 0)
    return -1;
  if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
    return skiff_error_set(err, archive_errno(a), "save: write %s", path);
  return 0;
}

static int add_json(struct archive *a, const char *path, json_t *doc, char *digest_out,
                    skiff_error_t **err)
{
  cleanup_free char *text = json_dumps(doc, JSON_COMPACT);
  if (text == NULL)
    return skiff_error_set(err, ENOMEM, "save %s", path);
  if (digest_out)
    digest_of(text, strlen(text), digest_out);
  return add_bytes(a, path, text, strlen(text), err);
}

static int add_file(struct archive *a, const char *path, int fd, skiff_error_t **err)
{
  struct stat st;
  if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
    return skiff_error_errno(err, "save: stat %s", path);
  if (add_header(a, path, AE_IFREG, st.st_size, err) < 0)
    return -1;
  cleanup_free char *buf = malloc(COPY_BUF);
  ssize_t n;
  while (buf && (n = read(fd, buf, COPY_BUF)) > 0)
    if (archive_write_data(a, buf, (size_t)n) != n)
      return skiff_error_set(err, archive_errno(a) ?: EIO, "save: write %s", path);
  return buf ? 0 : skiff_error_set(err, ENOMEM, "save");
}

static json_t *oci_manifest(struct save_image *img, json_t *layer_fds)
{
  json_t *layers = json_array();
  for (size_t i = 0; i < img->n_layers; i++) {
    struct stat st = {0};
    fstat((int)json_integer_value(json_object_get(layer_fds, img->diff_ids[i])), &st);
    json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                                            MT_OCI_LAYER, "digest", img->diff_ids[i],
                                            "size", (json_int_t)st.st_size));
  }
  return json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2,
                   "mediaType", MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG,
                   "digest", img->id, "size", (json_int_t)img->config_len, "layers",
                   layers);
}

static void index_entries(json_t *index, struct save_image *img, const char *digest,
                          size_t size)
{
  size_t i;
  json_t *ref;
  json_array_foreach(img->refs, i, ref)
  {
    cleanup_free char *name = NULL, *tag = NULL, *dig = NULL;
    reference_split(json_string_value(ref), &name, &tag, &dig);
    json_array_append_new(
        index, json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType", MT_OCI_MANIFEST,
                         "digest", digest, "size", (json_int_t)size, "annotations",
                         "io.containerd.image.name", json_string_value(ref),
                         "org.opencontainers.image.ref.name", tag));
  }
  if (json_array_size(img->refs) == 0)
    json_array_append_new(index,
                          json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_MANIFEST,
                                    "digest", digest, "size", (json_int_t)size));
}

static int write_image(struct archive *a, struct save_plan *p, struct save_image *img,
                       json_t *index, json_t *manifest, json_t *repos,
                       skiff_error_t **err)
{
  char path[128], digest[DIGEST_STR_LEN];
  snprintf(path, sizeof path, "blobs/sha256/%s", digest_hex(img->id));
  if (add_bytes(a, path, img->config, img->config_len, err) < 0)
    return -1;
  cleanup_json json_t *m = oci_manifest(img, p->layer_fds);
  cleanup_free char *mtext = json_dumps(m, JSON_COMPACT);
  digest_of(mtext, strlen(mtext), digest);
  snprintf(path, sizeof path, "blobs/sha256/%s", digest_hex(digest));
  if (add_bytes(a, path, mtext, strlen(mtext), err) < 0)
    return -1;
  index_entries(index, img, digest, strlen(mtext));
  json_t *tags = json_array(), *layers = json_array();
  size_t i;
  json_t *ref;
  json_array_foreach(img->refs, i, ref)
  {
    cleanup_free char *familiar = image_reference_familiar(json_string_value(ref));
    cleanup_free char *name = NULL, *tag = NULL, *dig = NULL;
    reference_split(familiar, &name, &tag, &dig);
    json_array_append_new(tags, json_string(familiar));
    if (json_object_get(repos, name) == NULL)
      json_object_set_new(repos, name, json_object());
    if (img->n_layers)
      json_object_set_new(json_object_get(repos, name), tag,
                          json_string(digest_hex(img->diff_ids[img->n_layers - 1])));
  }
  for (i = 0; i < img->n_layers; i++)
    json_array_append_new(
        layers, json_sprintf("blobs/sha256/%s", digest_hex(img->diff_ids[i])));
  json_array_append_new(
      manifest,
      json_pack("{s:s+, s:o, s:o}", "Config", "blobs/sha256/", digest_hex(img->id),
                "RepoTags",
                json_array_size(tags) ? tags : (json_decref(tags), json_null()),
                "Layers", layers));
  return 0;
}

static int write_archive(struct archive *a, struct save_plan *p, skiff_error_t **err)
{
  if (add_header(a, "blobs", AE_IFDIR, 0, err) < 0 ||
      add_header(a, "blobs/sha256", AE_IFDIR, 0, err) < 0)
    return -1;
  const char *diff_id;
  json_t *fd;
  json_object_foreach(p->layer_fds, diff_id, fd)
  {
    char path[128];
    snprintf(path, sizeof path, "blobs/sha256/%s", digest_hex(diff_id));
    if (add_file(a, path, (int)json_integer_value(fd), err) < 0)
      return -1;
  }
  cleanup_json json_t *index = json_array(), *manifest = json_array(),
                      *repos = json_object();
  for (size_t i = 0; i < p->n_images; i++)
    if (write_image(a, p, &p->images[i], index, manifest, repos, err) < 0)
      return -1;
  cleanup_json json_t *index_doc =
      json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
                "manifests", index);
  cleanup_json json_t *layout = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
  if (add_json(a, "index.json", index_doc, NULL, err) < 0 ||
      add_json(a, "manifest.json", manifest, NULL, err) < 0 ||
      add_json(a, "oci-layout", layout, NULL, err) < 0 ||
      add_json(a, "repositories", repos, NULL, err) < 0)
    return -1;
  if (archive_write_close(a) != ARCHIVE_OK)
    return skiff_error_set(err, archive_errno(a), "save: %s", archive_error_string(a));
  return 0;
}

int image_store_save(struct image_store *store, const char *const *names, int out_fd,
                     skiff_error_t **err)
{
  struct save_plan plan = {.layer_fds = json_object()};
  int ret = 0;
  if (names == NULL || names[0] == NULL)
    return skiff_error_invalid(err, "no image names given to save");
  pthread_mutex_lock(&store->lock);
  for (size_t i = 0; names[i] && ret == 0; i++)
    ret = plan_name(&plan, store, names[i], err);
  pthread_mutex_unlock(&store->lock);
  if (ret == 0) {
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
      ret = skiff_error_set(err, archive_errno(a), "save: %s", archive_error_string(a));
    else
      ret = write_archive(a, &plan, err);
    archive_write_free(a);
  }
  plan_free(&plan);
  return ret;
}
