/* docker commit: a container's rw layer, handed over as a layer tar with
 * docker's whiteouts, becomes a new image on top of the container's image.
 *
 * The tar goes through layer_unpack like any pulled or imported layer: one
 * pass hashes it (the diff_id the config names), keeps it as the layer
 * blob, and unpacks it into a layer directory, so a commit is stored and
 * checked exactly as every other layer is. The config is the parent's with
 * the container's config (and the -c changes) as "config", one more
 * diff_id and one more history entry. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "image_internal.h"

int image_commit_check(const struct image_commit *c, char **normalized,
                       skiff_error_t **err)
{
  *normalized = NULL;
  if (c->reference && *c->reference) {
    *normalized = image_reference_normalize(c->reference, err);
    if (*normalized == NULL)
      return -1;
    if (strchr(*normalized, '@')) {
      free(*normalized);
      *normalized = NULL;
      return skiff_error_invalid(err, "cannot commit to digest reference");
    }
  }
  if (config_check_changes(c->changes, err) < 0) {
    free(*normalized);
    *normalized = NULL;
    return -1;
  }
  return 0;
}

/* The parent's config (a copy) and the chain id of its top layer. */
static json_t *parent_config(struct image_store *s, const char *image_id,
                             char **top_chain, skiff_error_t **err)
{
  pthread_mutex_lock(&s->lock);
  struct image_record *rec = store_resolve_locked(s, image_id, err);
  json_t *config = rec ? json_deep_copy(rec->config) : NULL;
  *top_chain = rec && rec->n_layers ? strdup(rec->chain_ids[rec->n_layers - 1]) : NULL;
  if (*top_chain)
    store_pin_locked(s, *top_chain); /* kept while the new layer goes on it */
  pthread_mutex_unlock(&s->lock);
  return config;
}

static void set_or_drop(json_t *obj, const char *key, const char *value)
{
  if (value && *value)
    json_object_set_new(obj, key, json_string(value));
  else
    json_object_del(obj, key);
}

static json_t *history_entry(const struct image_commit *c, const char *now)
{
  json_t *h = json_pack("{s:s}", "created", now);
  set_or_drop(h, "author", c->author);
  set_or_drop(h, "created_by", c->created_by);
  set_or_drop(h, "comment", c->comment);
  return h;
}

/* The new image's config: the parent's, with the container's config. */
static int build_config(json_t *config, const struct image_commit *c,
                        const char *diff_id, skiff_error_t **err)
{
  cleanup_json json_t *cfg = json_deep_copy(c->config ? c->config : json_object());
  if (cfg == NULL || config_apply_changes(cfg, c->changes, err) < 0)
    return cfg ? -1 : skiff_error_set(err, ENOMEM, "commit");
  cleanup_free char *now = store_now_rfc3339();
  json_object_set(config, "config", cfg);
  json_object_set_new(config, "container", json_string(c->container_id));
  json_object_set_new(config, "created", json_string(now));
  set_or_drop(config, "author", c->author);
  set_or_drop(config, "comment", c->comment);
  json_object_del(config, "container_config");
  json_t *history = json_object_get(config, "history");
  if (!json_is_array(history)) {
    history = json_array();
    json_object_set_new(config, "history", history);
  }
  json_array_append_new(history, history_entry(c, now));
  json_t *rootfs = json_object_get(config, "rootfs");
  json_t *ids = json_object_get(rootfs, "diff_ids");
  if (!json_is_array(ids))
    return skiff_error_invalid(err, "image %s has no rootfs.diff_ids", c->image_id);
  json_array_append_new(ids, json_string(diff_id));
  return 0;
}

static void unpin(struct image_store *s, const char *chain)
{
  if (chain == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  store_unpin_locked(s, chain);
  pthread_mutex_unlock(&s->lock);
}

char *image_store_commit(struct image_store *store, int tar_fd,
                         const struct image_commit *c, skiff_error_t **err)
{
  cleanup_free char *norm = NULL, *top = NULL;
  if (image_commit_check(c, &norm, err) < 0)
    return NULL;
  cleanup_json json_t *config = parent_config(store, c->image_id, &top, err);
  if (config == NULL)
    return NULL;
  struct layer_unpacked u;
  if (layer_unpack(store->tmp, tar_fd, &u, err) < 0) {
    unpin(store, top);
    return NULL;
  }
  cleanup_free char *bytes = NULL;
  if (build_config(config, c, u.diff_id, err) == 0 &&
      (bytes = json_dumps(config, JSON_COMPACT)) == NULL)
    skiff_error_set(err, ENOMEM, "commit");
  char chain[DIGEST_HEX_LEN + 1];
  pthread_mutex_lock(&store->lock);
  int committed = bytes ? layer_commit_locked(store, &u, top, chain, err) : -1;
  pthread_mutex_unlock(&store->lock);
  if (committed < 0) {
    layer_unpacked_discard(&u);
    unpin(store, top);
    return NULL;
  }
  char *chains[] = {chain};
  const char *refs[] = {norm, NULL};
  cleanup_free char *parent = image_store_resolve(store, c->image_id, NULL);
  char *id = import_register_child(store, bytes, strlen(bytes), chains, 1, refs, NULL,
                                   parent, err);
  unpin(store, top);
  return id;
}
