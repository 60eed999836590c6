/* What a registry push reads from the store: an image's config bytes and
 * its layers as the uncompressed tars kept in blobs/ (opened at once, so
 * that a concurrent removal of the image cannot take them away mid-push),
 * the tags of a repository, and the digest reference a push adds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "image_internal.h"

void image_push_source_clear(struct image_push_source *src)
{
  for (size_t i = 0; i < src->n_layers; i++) {
    free(src->layers[i].diff_id);
    free(src->layers[i].compressed);
    if (src->layers[i].fd >= 0)
      close(src->layers[i].fd);
  }
  free(src->layers);
  free(src->id);
  free(src->config);
  json_decref(src->refs);
  memset(src, 0, sizeof *src);
}

static int open_layer(struct image_store *s, const char *chain_hex,
                      struct image_push_layer *layer, skiff_error_t **err)
{
  /* A pulled layer is sent as the very blob it came as. */
  layer->compressed = layer_compressed_digest(s, chain_hex);
  cleanup_free char *blob =
      layer->compressed ? store_blob_path(s, layer->compressed) : NULL;
  if (blob)
    layer->fd = open(blob, O_RDONLY | O_CLOEXEC);
  if (layer->fd < 0) {
    free(layer->compressed);
    layer->compressed = NULL;
    layer->fd = layer_open_tar(s, chain_hex, layer->diff_id, err);
  }
  struct stat st;
  if (layer->fd < 0 || fstat(layer->fd, &st) < 0)
    return layer->fd < 0 ? -1 : skiff_error_errno(err, "layer %s", layer->diff_id);
  layer->size = st.st_size;
  return 0;
}

static int fill_source_locked(struct image_store *s, struct image_record *rec,
                              struct image_push_source *out, skiff_error_t **err)
{
  out->id = strdup(rec->id);
  out->refs = store_refs_of_locked(s, rec->id);
  out->layers = calloc(rec->n_layers + 1, sizeof *out->layers);
  if (out->id == NULL || out->layers == NULL)
    return skiff_error_set(err, ENOMEM, "push");
  for (size_t i = 0; i < rec->n_layers; i++) {
    out->layers[i].fd = -1;
    out->n_layers = i + 1;
    if ((out->layers[i].diff_id = strdup(rec->diff_ids[i])) == NULL)
      return skiff_error_set(err, ENOMEM, "push");
    if (open_layer(s, rec->chain_ids[i], &out->layers[i], err) < 0)
      return -1;
  }
  return 0;
}

int image_push_source(struct image_store *store, const char *name,
                      struct image_push_source *out, skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, name, err);
  int r = rec ? fill_source_locked(store, rec, out, err) : -1;
  pthread_mutex_unlock(&store->lock);
  cleanup_free char *path = r == 0 ? store_blob_path(store, out->id) : NULL;
  if (r == 0 && (out->config = fs_read_file(path, &out->config_len, err)) == NULL)
    r = -1;
  if (r < 0)
    image_push_source_clear(out);
  return r;
}

json_t *image_store_repository_tags(struct image_store *store, const char *repository)
{
  json_t *tags = json_array(), *id;
  size_t n = strlen(repository);
  const char *ref;
  pthread_mutex_lock(&store->lock);
  json_object_foreach(store->tags, ref, id)
  {
    if (strncmp(ref, repository, n) == 0 && ref[n] == ':' && !strchr(ref + n, '@'))
      json_array_append_new(tags, json_string(ref + n + 1));
  }
  pthread_mutex_unlock(&store->lock);
  return tags;
}

int image_store_add_digest_ref(struct image_store *store, const char *id,
                               const char *reference, skiff_error_t **err)
{
  pthread_mutex_lock(&store->lock);
  int r = store_find_locked(store, id)
              ? store_set_tag_locked(store, reference, id, err)
              : skiff_error_status(err, ENOENT, "No such image: %s", id);
  pthread_mutex_unlock(&store->lock);
  return r;
}
