/* Tagging, removal and pruning, with moby's rules for what a removal may
 * do (daemon/images/image_delete.go):
 *  - removing by reference untags it; the image goes when no reference is
 *    left, quietly (a conflict then just keeps it);
 *  - removing by id untags every reference when they are all of one
 *    repository; several repositories need force;
 *  - an image with child images cannot be removed; one a container uses
 *    needs force. skiff differs from docker here: forced, it loses its tags
 *    but stays (dangling) while a container uses it, because its layers are
 *    that container's lower layers;
 *  - the layers no image uses any more go with it ("Deleted: <chain id>"). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "image_internal.h"

struct removal {
  bool (*in_use)(const char *id, void *arg);
  void *arg;
  json_t *records; /* [{"Untagged"}, {"Deleted"}] */
  long long freed; /* bytes of the layers removed */
};

static int conflict(skiff_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int conflict(skiff_error_t **err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  cleanup_free char *msg = NULL;
  int n = vasprintf(&msg, fmt, ap);
  va_end(ap);
  skiff_error_set(err, 0, "%s", n < 0 ? "conflict" : msg);
  if (err && *err)
    (*err)->status = EBUSY;
  return -1;
}

static const char *short_id(const char *id)
{
  static __thread char buf[13];
  snprintf(buf, sizeof buf, "%s", digest_hex(id));
  return buf;
}

static bool used(struct removal *r, const char *id)
{
  return r->in_use && r->in_use(id, r->arg);
}

int image_store_tag(struct image_store *store, const char *source, const char *repo,
                    const char *tag, skiff_error_t **err)
{
  cleanup_free char *text = NULL;
  if (repo == NULL || *repo == '\0')
    return skiff_error_invalid(err, "repository name must have at least one component");
  if (asprintf(&text, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") <
      0)
    return skiff_error_set(err, ENOMEM, "tag");
  cleanup_free char *norm = image_reference_normalize(text, err);
  if (norm == NULL)
    return -1;
  if (strchr(norm, '@'))
    return skiff_error_invalid(err, "refusing to create a tag with a digest reference");
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, source, err);
  int ret = -1;
  if (rec && store_set_tag_locked(store, norm, rec->id, err) == 0)
    ret = store_touch_tagged_locked(store, rec, err);
  pthread_mutex_unlock(&store->lock);
  return ret;
}

/* ---- removal ---- */

static char *name_of(const char *normalized)
{
  char *name, *tag, *digest;
  reference_split(normalized, &name, &tag, &digest);
  free(tag);
  free(digest);
  return name;
}

/* moby's isSingleReference: at most one tag, and digests only of its
 * repository. */
static bool single_reference(json_t *refs)
{
  size_t n = json_array_size(refs), i;
  if (n <= 1)
    return n == 1;
  const char *single = NULL;
  cleanup_json json_t *digest_names = json_object();
  json_t *r;
  json_array_foreach(refs, i, r)
  {
    const char *ref = json_string_value(r);
    cleanup_free char *name = name_of(ref);
    if (strchr(ref, '@'))
      json_object_set_new(digest_names, name, json_true());
    else if (single == NULL)
      single = ref;
    else
      return false;
  }
  cleanup_free char *name =
      name_of(single ? single : json_string_value(json_array_get(refs, 0)));
  return json_object_size(digest_names) == 1 && json_object_get(digest_names, name);
}

static int untag(struct image_store *s, struct removal *r, const char *ref,
                 skiff_error_t **err)
{
  if (store_remove_tag_locked(s, ref, err) < 0)
    return -1;
  cleanup_free char *familiar = image_reference_familiar(ref);
  json_array_append_new(r->records, json_pack("{s:s}", "Untagged", familiar));
  return 0;
}

static int untag_all(struct image_store *s, struct removal *r, const char *id,
                     skiff_error_t **err)
{
  cleanup_json json_t *refs = store_refs_of_locked(s, id);
  size_t i;
  json_t *ref;
  json_array_foreach(refs, i, ref)
  {
    if (untag(s, r, json_string_value(ref), err) < 0)
      return -1;
  }
  return 0;
}

static int delete_image(struct image_store *s, struct removal *r,
                        struct image_record *rec, skiff_error_t **err)
{
  cleanup_free char *id = strdup(rec->id);
  if (id == NULL || untag_all(s, r, rec->id, err) < 0 ||
      store_delete_image_locked(s, rec, err) < 0)
    return -1;
  json_array_append_new(r->records, json_pack("{s:s}", "Deleted", id));
  cleanup_json json_t *layers = json_array();
  store_gc_locked(s, layers, &r->freed);
  size_t i;
  json_t *l;
  json_array_foreach(layers, i, l)
  {
    json_array_append_new(r->records, json_pack("{s:O}", "Deleted", l));
  }
  return 0;
}

/* moby's imageDeleteHelper. quiet: the image was reached by removing a
 * reference, so a conflict keeps it silently unless it is dangling. */
static int delete_helper(struct image_store *s, struct removal *r, const char *id,
                         bool force, bool prune, bool quiet, skiff_error_t **err)
{
  struct image_record *rec = store_find_locked(s, id);
  if (rec == NULL)
    return 0;
  cleanup_json json_t *refs = store_refs_of_locked(s, id);
  bool dangling = json_array_size(refs) == 0;
  bool in_use = used(r, id);
  if (store_has_children_locked(s, rec))
    return quiet && !dangling ? 0
                              : conflict(err,
                                         "conflict: unable to delete %s (cannot be "
                                         "forced) - image has dependent child images",
                                         short_id(id));
  if (in_use && (quiet || force))
    return force ? untag_all(s, r, id, err) : 0;
  if (in_use)
    return conflict(err,
                    "conflict: unable to delete %s (must be forced) - image is being "
                    "used by a container",
                    short_id(id));
  if (!force && !dangling)
    return quiet ? 0
                 : conflict(err,
                            "conflict: unable to delete %s (must be forced) - "
                            "image is referenced in multiple repositories",
                            short_id(id));
  cleanup_free char *parent = rec->parent ? strdup(rec->parent) : NULL;
  if (delete_image(s, r, rec, err) < 0)
    return -1;
  if (prune && parent)
    return delete_helper(s, r, parent, false, true, true, err);
  return 0;
}

static bool is_id_prefix(const char *id, const char *name)
{
  size_t n = strlen(name);
  return strncmp(id, name, n) == 0 || strncmp(digest_hex(id), name, n) == 0;
}

/* After untagging name:tag, digests of the same repository go as well when
 * nothing else is left of it (moby does the same). */
static int untag_orphan_digests(struct image_store *s, struct removal *r,
                                const char *id, const char *removed,
                                skiff_error_t **err)
{
  cleanup_json json_t *refs = store_refs_of_locked(s, id);
  cleanup_free char *name = name_of(removed);
  size_t i;
  json_t *ref;
  json_array_foreach(refs, i, ref)
  {
    cleanup_free char *other = name_of(json_string_value(ref));
    if (strcmp(other, name) == 0 && !strchr(json_string_value(ref), '@'))
      return 0;
  }
  json_array_foreach(refs, i, ref)
  {
    cleanup_free char *other = name_of(json_string_value(ref));
    if (strcmp(other, name) == 0 && untag(s, r, json_string_value(ref), err) < 0)
      return -1;
  }
  return 0;
}

static int remove_by_reference(struct image_store *s, struct removal *r,
                               const char *name, const char *id, bool force, bool prune,
                               skiff_error_t **err)
{
  cleanup_json json_t *refs = store_refs_of_locked(s, id);
  if (!force && single_reference(refs) && used(r, id))
    return conflict(err,
                    "conflict: unable to remove repository reference \"%s\" (must "
                    "force) - a container is using its referenced image %s",
                    name, short_id(id));
  cleanup_free char *norm = image_reference_normalize(name, err);
  if (norm == NULL || untag(s, r, norm, err) < 0)
    return -1;
  if (!strchr(norm, '@') && untag_orphan_digests(s, r, id, norm, err) < 0)
    return -1;
  cleanup_json json_t *left = store_refs_of_locked(s, id);
  if (json_array_size(left) > 0)
    return 0;
  return delete_helper(s, r, id, force, prune, true, err);
}

static int remove_locked(struct image_store *s, struct removal *r, const char *name,
                         bool force, bool prune, skiff_error_t **err)
{
  struct image_record *rec = store_resolve_locked(s, name, err);
  if (rec == NULL)
    return -1;
  cleanup_free char *id = strdup(rec->id);
  if (id == NULL)
    return skiff_error_set(err, ENOMEM, "remove %s", name);
  if (!is_id_prefix(id, name))
    return remove_by_reference(s, r, name, id, force, prune, err);
  cleanup_json json_t *refs = store_refs_of_locked(s, id);
  if (single_reference(refs)) {
    if (store_has_children_locked(s, rec))
      return conflict(err,
                      "conflict: unable to delete %s (cannot be forced) - image has "
                      "dependent child images",
                      short_id(id));
    if (!force && used(r, id))
      return conflict(err,
                      "conflict: unable to delete %s (must be forced) - image is "
                      "being used by a container",
                      short_id(id));
    if (untag_all(s, r, id, err) < 0)
      return -1;
  }
  return delete_helper(s, r, id, force, prune, false, err);
}

json_t *image_store_remove(struct image_store *store, const char *name, bool force,
                           bool (*in_use)(const char *id, void *arg), void *arg,
                           skiff_error_t **err)
{
  struct removal r = {.in_use = in_use, .arg = arg, .records = json_array()};
  pthread_mutex_lock(&store->lock);
  /* noprune is the daemon's business: parents only exist for builds, and
   * the builder records them; pruning them follows docker's default. */
  int ret = remove_locked(store, &r, name, force, true, err);
  pthread_mutex_unlock(&store->lock);
  if (ret < 0) {
    json_decref(r.records);
    return NULL;
  }
  return r.records;
}

/* ---- prune ---- */

static void prune_one(struct image_store *s, struct removal *r, const char *id,
                      bool all_unused)
{
  cleanup_json json_t *refs = store_refs_of_locked(s, id);
  skiff_error_t *ignored = NULL;
  if (json_array_size(refs) == 0) {
    delete_helper(s, r, id, false, true, false, &ignored);
  } else if (all_unused) {
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
      if (store_find_locked(s, id) == NULL)
        break;
      skiff_error_free(&ignored);
      remove_by_reference(s, r, json_string_value(ref), id, false, true, &ignored);
    }
  }
  skiff_error_free(&ignored);
}

json_t *image_store_prune(struct image_store *store, bool all_unused,
                          bool (*in_use)(const char *id, void *arg), void *arg,
                          skiff_error_t **err)
{
  struct removal r = {.in_use = in_use, .arg = arg, .records = json_array()};
  pthread_mutex_lock(&store->lock);
  cleanup_json json_t *ids = json_array();
  for (size_t i = 0; i < store->n_recs; i++) {
    struct image_record *rec = store->recs[i];
    if (!store_has_children_locked(store, rec) && !used(&r, rec->id))
      json_array_append_new(ids, json_string(rec->id));
  }
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id)
      prune_one(store, &r, json_string_value(id), all_unused);
  pthread_mutex_unlock(&store->lock);
  json_t *deleted = json_array_size(r.records) ? r.records : json_null();
  if (deleted == json_null())
    json_decref(r.records);
  return json_pack("{s:o, s:I}", "ImagesDeleted", deleted, "SpaceReclaimed",
                   (json_int_t)r.freed);
}
