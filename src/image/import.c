/* docker import, and the last step every way of making an image shares:
 * recording it once its layers are committed. Everything that can be
 * checked before reading the tar (the reference, the changes) is checked
 * first, so that bad input costs nothing and leaves nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "image_internal.h"

void import_abort(struct image_store *s, char **chains, size_t n)
{
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < n; i++)
    if (chains[i])
      store_unpin_locked(s, chains[i]);
  store_gc_locked(s, NULL, NULL);
  pthread_mutex_unlock(&s->lock);
}

static int tag_new_image_locked(struct image_store *s, struct image_record *rec,
                                const char *ref, json_t *messages, skiff_error_t **err)
{
  json_t *old = json_object_get(s->tags, ref);
  if (old && strcmp(json_string_value(old), rec->id) != 0 && messages) {
    cleanup_free char *familiar = image_reference_familiar(ref);
    json_array_append_new(
        messages, json_sprintf("The image %s already exists, renaming the old one "
                               "with ID %s to empty string",
                               familiar, json_string_value(old)));
  }
  if (store_set_tag_locked(s, ref, rec->id, err) < 0)
    return -1;
  return store_touch_tagged_locked(s, rec, err);
}

char *import_register(struct image_store *s, const char *config_bytes, size_t len,
                      char **chains, size_t n, const char *const *refs,
                      json_t *messages, skiff_error_t **err)
{
  return import_register_child(s, config_bytes, len, chains, n, refs, messages, NULL,
                               err);
}

char *import_register_child(struct image_store *s, const char *config_bytes, size_t len,
                            char **chains, size_t n, const char *const *refs,
                            json_t *messages, const char *parent, skiff_error_t **err)
{
  char id[DIGEST_STR_LEN];
  char *result = NULL;
  pthread_mutex_lock(&s->lock);
  struct image_record *rec = NULL;
  if (store_put_blob(s, config_bytes, len, NULL, id, err) == 0)
    rec = store_add_image_locked(s, id, parent, err);
  for (size_t i = 0; rec && refs && refs[i]; i++)
    if (tag_new_image_locked(s, rec, refs[i], messages, err) < 0)
      rec = NULL;
  if (rec)
    result = strdup(rec->id);
  for (size_t i = 0; i < n; i++)
    store_unpin_locked(s, chains[i]);
  if (result == NULL)
    store_gc_locked(s, NULL, NULL);
  pthread_mutex_unlock(&s->lock);
  return result;
}

static int check_import_reference(const char *reference, char **norm,
                                  skiff_error_t **err)
{
  *norm = NULL;
  if (reference == NULL || *reference == '\0')
    return 0;
  *norm = image_reference_normalize(reference, err);
  if (*norm == NULL)
    return -1;
  if (strchr(*norm, '@')) {
    free(*norm);
    *norm = NULL;
    return skiff_error_invalid(err, "cannot import digest reference");
  }
  return 0;
}

char *image_store_import(struct image_store *store, int tar_fd, const char *reference,
                         const char *const *changes, const char *message,
                         skiff_error_t **err)
{
  cleanup_free char *norm = NULL;
  if (check_import_reference(reference, &norm, err) < 0 ||
      config_check_changes(changes, err) < 0)
    return NULL;
  struct layer_unpacked u;
  if (layer_unpack(store->tmp, tar_fd, &u, err) < 0)
    return NULL;
  cleanup_json json_t *config = config_new_import(u.diff_id, changes, message, err);
  cleanup_free char *bytes = config ? json_dumps(config, JSON_COMPACT) : NULL;
  if (bytes == NULL) {
    layer_unpacked_discard(&u);
    return NULL;
  }
  char chain[DIGEST_HEX_LEN + 1];
  pthread_mutex_lock(&store->lock);
  int committed = layer_commit_locked(store, &u, NULL, chain, err);
  pthread_mutex_unlock(&store->lock);
  if (committed < 0) {
    layer_unpacked_discard(&u);
    return NULL;
  }
  char *chains[] = {chain};
  const char *refs[] = {norm, NULL};
  return import_register(store, bytes, strlen(bytes), chains, 1, refs, NULL, err);
}
