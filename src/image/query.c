/* Read-only views of the store in docker's shapes: the image list with
 * its filters (GET /images/json), inspect, history, and the image part of
 * /system/df. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "image_internal.h"

/* ---- filters ---- */

struct list_filters {
  int dangling;            /* -1 any, 0 tagged only, 1 dangling only */
  json_t *references;      /* patterns */
  json_t *labels;          /* "k" or "k=v" */
  long long before, since; /* created bounds; 0: none */
};

/* docker's filters come as {"key": ["v", ...]} or the older
 * {"key": {"v": true}}: either way, the values as an array. */
static json_t *filter_values(json_t *v)
{
  json_t *out = json_array();
  if (json_is_array(v)) {
    json_array_extend(out, v);
  } else if (json_is_object(v)) {
    const char *key;
    json_t *b;
    json_object_foreach(v, key, b)
    {
      if (json_is_true(b))
        json_array_append_new(out, json_string(key));
    }
  }
  return out;
}

static int filter_bool(json_t *values, const char *key, int *out, skiff_error_t **err)
{
  const char *v = json_string_value(json_array_get(values, 0));
  if (v == NULL)
    return 0;
  if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
    *out = 1;
  else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
    *out = 0;
  else
    return skiff_error_invalid(err, "invalid filter '%s=[%s]'", key, v);
  return 0;
}

static int filter_time(struct image_store *s, json_t *values, long long *out,
                       skiff_error_t **err)
{
  const char *name = json_string_value(json_array_get(values, 0));
  if (name == NULL)
    return 0;
  struct image_record *rec = store_resolve_locked(s, name, err);
  if (rec == NULL)
    return -1;
  *out = store_parse_time(json_string_value(json_object_get(rec->config, "created")));
  return 0;
}

static int parse_filters_locked(struct image_store *s, json_t *filters,
                                struct list_filters *f, skiff_error_t **err)
{
  const char *key;
  json_t *v;
  *f = (struct list_filters){.dangling = -1};
  json_object_foreach(filters, key, v)
  {
    cleanup_json json_t *values = filter_values(v);
    int r = 0;
    if (strcmp(key, "dangling") == 0)
      r = filter_bool(values, key, &f->dangling, err);
    else if (strcmp(key, "reference") == 0)
      f->references = json_incref(values);
    else if (strcmp(key, "label") == 0)
      f->labels = json_incref(values);
    else if (strcmp(key, "before") == 0)
      r = filter_time(s, values, &f->before, err);
    else if (strcmp(key, "since") == 0)
      r = filter_time(s, values, &f->since, err);
    else
      r = skiff_error_invalid(err, "invalid filter '%s'", key);
    if (r < 0)
      return -1;
  }
  return 0;
}

static void free_filters(struct list_filters *f)
{
  json_decref(f->references);
  json_decref(f->labels);
}

static bool labels_match(json_t *config, json_t *wanted)
{
  json_t *labels = json_object_get(json_object_get(config, "config"), "Labels");
  size_t i;
  json_t *w;
  json_array_foreach(wanted, i, w)
  {
    const char *spec = json_string_value(w), *eq = spec ? strchr(spec, '=') : NULL;
    cleanup_free char *key =
        spec ? strndup(spec, eq ? (size_t)(eq - spec) : strlen(spec)) : NULL;
    const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
    if (have == NULL || (eq && strcmp(have, eq + 1) != 0))
      return false;
  }
  return true;
}

/* reference.FamiliarMatch: the pattern against "name:tag", then "name". */
static bool reference_matches(json_t *patterns, const char *normalized)
{
  if (patterns == NULL)
    return true;
  cleanup_free char *familiar = image_reference_familiar(normalized);
  cleanup_free char *name = familiar ? strndup(familiar, strcspn(familiar, "@")) : NULL;
  char *colon = name ? strrchr(name, ':') : NULL;
  if (colon && strchr(colon, '/') == NULL)
    *colon = '\0';
  size_t i;
  json_t *p;
  json_array_foreach(patterns, i, p)
  {
    const char *pat = json_string_value(p);
    if (pat && familiar &&
        (fnmatch(pat, familiar, FNM_PATHNAME) == 0 ||
         fnmatch(pat, name, FNM_PATHNAME) == 0))
      return true;
  }
  return false;
}

/* ---- summaries ---- */

static long long created_of(const struct image_record *rec)
{
  return store_parse_time(json_string_value(json_object_get(rec->config, "created")));
}

static json_t *labels_of(const struct image_record *rec)
{
  json_t *labels = json_object_get(json_object_get(rec->config, "config"), "Labels");
  return json_is_object(labels) ? json_incref(labels) : json_null();
}

/* Split refs into familiar RepoTags and RepoDigests, keeping those that
 * match the reference filter. */
static void split_refs(json_t *refs, json_t *patterns, json_t *tags, json_t *digests)
{
  size_t i;
  json_t *r;
  json_array_foreach(refs, i, r)
  {
    const char *ref = json_string_value(r);
    if (!reference_matches(patterns, ref))
      continue;
    cleanup_free char *familiar = image_reference_familiar(ref);
    json_array_append_new(strchr(ref, '@') ? digests : tags, json_string(familiar));
  }
}

static json_t *summary_locked(struct image_store *s, struct image_record *rec,
                              json_t *patterns)
{
  cleanup_json json_t *refs = store_refs_of_locked(s, rec->id);
  json_t *tags = json_array(), *digests = json_array();
  split_refs(refs, patterns, tags, digests);
  return json_pack("{s:i, s:I, s:s, s:o, s:s, s:o, s:o, s:i, s:I}", "Containers", -1,
                   "Created", (json_int_t)created_of(rec), "Id", rec->id, "Labels",
                   labels_of(rec), "ParentId", rec->parent ? rec->parent : "",
                   "RepoDigests", digests, "RepoTags", tags, "SharedSize", -1, "Size",
                   (json_int_t)rec->size);
}

/* moby's rules: an untagged image shows (as dangling) only with all or
 * when nothing is built on it; the reference filter hides it. */
static bool listed(struct image_store *s, struct image_record *rec, bool all,
                   const struct list_filters *f, json_t *summary)
{
  if ((f->before && created_of(rec) >= f->before) ||
      (f->since && created_of(rec) <= f->since))
    return false;
  if (f->labels && !labels_match(rec->config, f->labels))
    return false;
  bool untagged = json_array_size(json_object_get(summary, "RepoTags")) == 0 &&
                  json_array_size(json_object_get(summary, "RepoDigests")) == 0;
  if (!untagged)
    return f->dangling != 1;
  if (f->references)
    return false;
  cleanup_json json_t *refs = store_refs_of_locked(s, rec->id);
  if (json_array_size(refs) > 0)
    return false; /* tagged, but no tag matched */
  if (!all && store_has_children_locked(s, rec))
    return false;
  return f->dangling != 0;
}

static int by_created_desc(const void *a, const void *b)
{
  long long x = json_integer_value(json_object_get(*(json_t *const *)a, "Created"));
  long long y = json_integer_value(json_object_get(*(json_t *const *)b, "Created"));
  return x < y ? 1 : x > y ? -1 : 0;
}

static json_t *sorted(json_t *list)
{
  size_t n = json_array_size(list);
  cleanup_free json_t **items = calloc(n + 1, sizeof *items);
  for (size_t i = 0; items && i < n; i++)
    items[i] = json_array_get(list, i);
  if (items)
    qsort(items, n, sizeof *items, by_created_desc);
  json_t *out = json_array();
  for (size_t i = 0; items && i < n; i++)
    json_array_append(out, items[i]);
  json_decref(list);
  return out;
}

json_t *image_store_list(struct image_store *store, bool all, json_t *filters,
                         skiff_error_t **err)
{
  struct list_filters f;
  json_t *list = NULL;
  pthread_mutex_lock(&store->lock);
  if (parse_filters_locked(store, filters, &f, err) == 0) {
    list = json_array();
    for (size_t i = 0; i < store->n_recs; i++) {
      json_t *sum = summary_locked(store, store->recs[i], f.references);
      if (sum && listed(store, store->recs[i], all, &f, sum))
        json_array_append(list, sum);
      json_decref(sum);
    }
  }
  free_filters(&f);
  pthread_mutex_unlock(&store->lock);
  return list ? sorted(list) : NULL;
}

/* ---- inspect ---- */

static json_t *graph_driver_locked(struct image_store *s, struct image_record *rec)
{
  json_t *data = json_object();
  if (rec->n_layers > 0) {
    json_object_set_new(
        data, "UpperDir",
        json_sprintf("%s/%s/diff", s->layers, rec->chain_ids[rec->n_layers - 1]));
  }
  return json_pack("{s:o, s:s}", "Data", data, "Name", "overlay2");
}

static json_t *lower_dirs(struct image_store *s, struct image_record *rec)
{
  if (rec->n_layers < 2)
    return NULL;
  json_t *lower = json_string("");
  for (size_t i = rec->n_layers - 1; i-- > 0;) {
    json_t *longer = json_sprintf("%s%s%s/%s/diff", json_string_value(lower),
                                  json_string_length(lower) ? ":" : "", s->layers,
                                  rec->chain_ids[i]);
    json_decref(lower);
    lower = longer;
  }
  return lower;
}

static json_t *inspect_locked(struct image_store *s, struct image_record *rec)
{
  json_t *c = rec->config;
  cleanup_json json_t *refs = store_refs_of_locked(s, rec->id);
  json_t *tags = json_array(), *digests = json_array();
  split_refs(refs, NULL, tags, digests);
  json_t *driver = graph_driver_locked(s, rec);
  json_t *lower = lower_dirs(s, rec);
  if (lower)
    json_object_set_new(json_object_get(driver, "Data"), "LowerDir", lower);
  json_t *layers = json_array();
  for (size_t i = 0; i < rec->n_layers; i++)
    json_array_append_new(layers, json_string(rec->diff_ids[i]));
  json_t *cfg = json_object_get(c, "config");
  return json_pack(
      "{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s*, s:s, s:I, s:o, "
      "s:{s:s, s:o}, s:{s:s?}}",
      "Id", rec->id, "RepoTags", tags, "RepoDigests", digests, "Parent",
      rec->parent ? rec->parent : "", "Comment",
      json_string_value(json_object_get(c, "comment")) ?: "", "Created",
      json_string_value(json_object_get(c, "created")) ?: "", "DockerVersion",
      json_string_value(json_object_get(c, "docker_version")) ?: "", "Author",
      json_string_value(json_object_get(c, "author")) ?: "", "Config",
      cfg ? cfg : json_null(), "Architecture",
      json_string_value(json_object_get(c, "architecture")) ?: "", "Variant",
      json_string_value(json_object_get(c, "variant")), "Os",
      json_string_value(json_object_get(c, "os")) ?: "linux", "Size",
      (json_int_t)rec->size, "GraphDriver", driver, "RootFS", "Type", "layers",
      "Layers", layers, "Metadata", "LastTagTime", rec->last_tag_time);
}

json_t *image_store_inspect(struct image_store *store, const char *name,
                            skiff_error_t **err)
{
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, name, err);
  json_t *out = rec ? inspect_locked(store, rec) : NULL;
  pthread_mutex_unlock(&store->lock);
  return out;
}

/* ---- history ---- */

static json_t *history_entry(json_t *h, const char *id, json_t *tags, long long size)
{
  return json_pack(
      "{s:s, s:I, s:s, s:O, s:I, s:s}", "Id", id, "Created",
      (json_int_t)store_parse_time(json_string_value(json_object_get(h, "created"))),
      "CreatedBy", json_string_value(json_object_get(h, "created_by")) ?: "", "Tags",
      tags ? tags : json_null(), "Size", (json_int_t)size, "Comment",
      json_string_value(json_object_get(h, "comment")) ?: "");
}

static json_t *history_locked(struct image_store *s, struct image_record *rec)
{
  json_t *history = json_object_get(rec->config, "history");
  cleanup_json json_t *refs = store_refs_of_locked(s, rec->id);
  cleanup_json json_t *tags = json_array(), *digests = json_array();
  split_refs(refs, NULL, tags, digests);
  json_t *out = json_array();
  size_t layer = 0, i;
  json_t *h;
  json_array_foreach(history, i, h)
  {
    long long size = 0;
    if (!json_is_true(json_object_get(h, "empty_layer")) && layer < rec->n_layers)
      size = layer_size(s, rec->chain_ids[layer++]);
    bool top = i + 1 == json_array_size(history);
    json_array_insert_new(out, 0,
                          history_entry(h, top ? rec->id : "<missing>",
                                        top && json_array_size(tags) ? tags : NULL,
                                        size));
  }
  if (json_array_size(out) == 0) /* no history: one line per layer */
    for (size_t l = 0; l < rec->n_layers; l++)
      json_array_insert_new(
          out, 0,
          history_entry(rec->config, l + 1 == rec->n_layers ? rec->id : "<missing>",
                        NULL, layer_size(s, rec->chain_ids[l])));
  return out;
}

json_t *image_store_history(struct image_store *store, const char *name,
                            skiff_error_t **err)
{
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, name, err);
  json_t *out = rec ? history_locked(store, rec) : NULL;
  pthread_mutex_unlock(&store->lock);
  return out;
}

/* ---- df ---- */

static long long shared_size_locked(struct image_store *s, struct image_record *rec)
{
  long long shared = 0;
  for (size_t l = 0; l < rec->n_layers; l++) {
    for (size_t i = 0; i < s->n_recs; i++) {
      struct image_record *other = s->recs[i];
      bool found = false;
      for (size_t k = 0; other != rec && k < other->n_layers && !found; k++)
        found = strcmp(other->chain_ids[k], rec->chain_ids[l]) == 0;
      if (found) {
        shared += layer_size(s, rec->chain_ids[l]);
        break;
      }
    }
  }
  return shared;
}

json_t *image_store_df(struct image_store *store, skiff_error_t **err)
{
  json_t *list = json_array();
  pthread_mutex_lock(&store->lock);
  for (size_t i = 0; i < store->n_recs; i++) {
    json_t *sum = summary_locked(store, store->recs[i], NULL);
    json_object_set_new(sum, "SharedSize",
                        json_integer(shared_size_locked(store, store->recs[i])));
    json_object_set_new(sum, "Containers", json_integer(0));
    json_array_append_new(list, sum);
  }
  pthread_mutex_unlock(&store->lock);
  return sorted(list);
}
