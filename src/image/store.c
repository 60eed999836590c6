/* The store itself: blobs by digest, image records, tags, garbage
 * collection of layers, and the lock.
 *
 * On disk under <data-root>:
 *   blobs/sha256/<hex>       image configs and uncompressed layer tars, named
 *                            by the sha256 of their content (checked on write)
 *   layers/<chain-hex>/      diff/ (unpacked), diff_id, size, parent
 *   images/<id-hex>.json     {"Parent", "LastTagTime"}: the image exists
 *                            once this file does; its config is the blob
 *   repositories.json        docker's {"Repositories": {repo: {ref: id}}}
 *   tmp/                     work in progress; emptied on open
 * Writes go in this order (blob, layer, image record, tag), each atomic and
 * durable, so a crash leaves at worst unreferenced blobs and layers, which
 * the next open collects. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image_internal.h"

/* ---- digests ---- */

void digest_of(const void *data, size_t len, char out[DIGEST_STR_LEN])
{
  sha256_text_of(data, len, out);
}

bool digest_valid(const char *s)
{
  if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != DIGEST_STR_LEN - 1)
    return false;
  for (const char *p = s + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

const char *digest_hex(const char *s)
{
  return strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
}

void digest_chain(const char *parent_chain, const char *diff_id,
                  char out[DIGEST_STR_LEN])
{
  if (parent_chain == NULL) {
    snprintf(out, DIGEST_STR_LEN, "%s", diff_id);
    return;
  }
  char buf[2 * DIGEST_STR_LEN + 1];
  int n = snprintf(buf, sizeof buf, "%s %s", parent_chain, diff_id);
  digest_of(buf, (size_t)n, out);
}

/* ---- time ---- */

char *store_now_rfc3339(void)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char date[32], frac[16];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
  /* Go's RFC3339Nano drops trailing zeros (and the dot with them). */
  size_t n = strlen(frac);
  while (n > 1 && frac[n - 1] == '0')
    frac[--n] = '\0';
  if (n == 1)
    frac[0] = '\0';
  char *out = NULL;
  return asprintf(&out, "%s%sZ", date, frac) < 0 ? NULL : out;
}

long long store_parse_time(const char *text)
{
  struct tm tm = {0};
  if (text == NULL)
    return 0;
  const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == NULL)
    return 0;
  if (*rest == '.')
    rest += 1 + strspn(rest + 1, "0123456789");
  long long t = (long long)timegm(&tm);
  int hh = 0, mm = 0;
  if ((*rest == '+' || *rest == '-') && sscanf(rest + 1, "%d:%d", &hh, &mm) == 2)
    t -= (*rest == '+' ? 1 : -1) * (hh * 3600LL + mm * 60LL);
  return t;
}

/* ---- blobs ---- */

char *store_blob_path(struct image_store *s, const char *digest)
{
  char *path = NULL;
  return asprintf(&path, "%s/%s", s->blobs, digest_hex(digest)) < 0 ? NULL : path;
}

int store_put_blob(struct image_store *s, const void *data, size_t len,
                   const char *expect, char out[DIGEST_STR_LEN], skiff_error_t **err)
{
  digest_of(data, len, out);
  if (expect && strcmp(expect, out) != 0)
    return skiff_error_invalid(err, "blob digest mismatch: expected %s, got %s", expect,
                               out);
  cleanup_free char *path = store_blob_path(s, out);
  if (path == NULL)
    return skiff_error_set(err, ENOMEM, "blob %s", out);
  if (access(path, F_OK) == 0)
    return 0;
  return fs_write_file_atomic(path, data, len, 0644, FS_WRITE_DURABLE, err);
}

/* ---- records ---- */

static void record_free(struct image_record *rec)
{
  if (rec == NULL)
    return;
  for (size_t i = 0; i < rec->n_layers; i++) {
    free(rec->chain_ids[i]);
    free(rec->diff_ids[i]);
  }
  free(rec->chain_ids);
  free(rec->diff_ids);
  free(rec->id);
  free(rec->parent);
  free(rec->last_tag_time);
  json_decref(rec->config);
  free(rec);
}

static int record_fill_layers(struct image_store *s, struct image_record *rec,
                              skiff_error_t **err)
{
  size_t n = 0;
  if (config_diff_ids(rec->config, &rec->diff_ids, &n, err) < 0)
    return -1;
  rec->chain_ids = calloc(n + 1, sizeof(char *));
  if (rec->chain_ids == NULL)
    return skiff_error_set(err, ENOMEM, "image %s", rec->id);
  rec->n_layers = n;
  char chain[DIGEST_STR_LEN];
  for (size_t i = 0; i < n; i++) {
    digest_chain(i ? chain : NULL, rec->diff_ids[i], chain);
    rec->chain_ids[i] = strdup(digest_hex(chain));
    if (rec->chain_ids[i] == NULL)
      return skiff_error_set(err, ENOMEM, "image %s", rec->id);
    cleanup_free char *diff = NULL;
    if (asprintf(&diff, "%s/%s/diff", s->layers, rec->chain_ids[i]) < 0)
      return skiff_error_set(err, ENOMEM, "image %s", rec->id);
    if (access(diff, F_OK) < 0)
      return skiff_error_errno(err, "image %s: layer %s", rec->id, rec->chain_ids[i]);
    rec->size += layer_size(s, rec->chain_ids[i]);
  }
  return 0;
}

/* Build a record from the config blob of id (checked against id) and the
 * metadata meta ({"Parent", "LastTagTime"}, may be NULL). */
static struct image_record *record_build(struct image_store *s, const char *id,
                                         json_t *meta, skiff_error_t **err)
{
  cleanup_free char *path = store_blob_path(s, id);
  size_t len = 0;
  cleanup_free char *bytes = path ? fs_read_file(path, &len, err) : NULL;
  if (bytes == NULL)
    return NULL;
  char actual[DIGEST_STR_LEN];
  digest_of(bytes, len, actual);
  if (strcmp(actual, id) != 0) {
    skiff_error_set(err, EIO, "image config %s is corrupt (digest %s)", id, actual);
    return NULL;
  }
  struct image_record *rec = calloc(1, sizeof *rec);
  json_error_t jerr;
  if (rec == NULL || (rec->id = strdup(id)) == NULL)
    goto nomem;
  rec->config = json_loadb(bytes, len, 0, &jerr);
  if (rec->config == NULL || !json_is_object(rec->config)) {
    skiff_error_invalid(err, "image config %s: %s", id, jerr.text);
    record_free(rec);
    return NULL;
  }
  const char *parent = NULL, *tagged = NULL;
  json_unpack(meta ? meta : json_null(), "{s?s, s?s}", "Parent", &parent, "LastTagTime",
              &tagged);
  rec->parent = parent && *parent ? strdup(parent) : NULL;
  rec->last_tag_time = tagged ? strdup(tagged) : NULL;
  if (record_fill_layers(s, rec, err) < 0) {
    record_free(rec);
    return NULL;
  }
  return rec;
nomem:
  record_free(rec);
  skiff_error_set(err, ENOMEM, "image %s", id);
  return NULL;
}

static int record_save(struct image_store *s, struct image_record *rec,
                       skiff_error_t **err)
{
  cleanup_json json_t *meta =
      json_pack("{s:s, s:s?}", "Parent", rec->parent ? rec->parent : "", "LastTagTime",
                rec->last_tag_time);
  cleanup_free char *path = NULL;
  if (meta == NULL || asprintf(&path, "%s/%s.json", s->images, digest_hex(rec->id)) < 0)
    return skiff_error_set(err, ENOMEM, "image %s", rec->id);
  return jsonutil_save_file(path, meta, FS_WRITE_DURABLE, err);
}

int store_touch_tagged_locked(struct image_store *s, struct image_record *rec,
                              skiff_error_t **err)
{
  free(rec->last_tag_time);
  rec->last_tag_time = store_now_rfc3339();
  return record_save(s, rec, err);
}

static int records_append(struct image_store *s, struct image_record *rec)
{
  struct image_record **grown = realloc(s->recs, (s->n_recs + 1) * sizeof *grown);
  if (grown == NULL)
    return -1;
  s->recs = grown;
  s->recs[s->n_recs++] = rec;
  return 0;
}

struct image_record *store_find_locked(struct image_store *s, const char *id)
{
  for (size_t i = 0; i < s->n_recs; i++)
    if (strcmp(s->recs[i]->id, id) == 0)
      return s->recs[i];
  return NULL;
}

struct image_record *store_add_image_locked(struct image_store *s, const char *id,
                                            const char *parent, skiff_error_t **err)
{
  struct image_record *rec = store_find_locked(s, id);
  if (rec)
    return rec;
  cleanup_json json_t *meta = json_pack("{s:s}", "Parent", parent ? parent : "");
  rec = record_build(s, id, meta, err);
  if (rec == NULL)
    return NULL;
  if (record_save(s, rec, err) < 0 || records_append(s, rec) < 0) {
    record_free(rec);
    return NULL;
  }
  return rec;
}

bool store_has_children_locked(struct image_store *s, const struct image_record *rec)
{
  for (size_t i = 0; i < s->n_recs; i++)
    if (s->recs[i]->parent && strcmp(s->recs[i]->parent, rec->id) == 0)
      return true;
  return false;
}

int store_delete_image_locked(struct image_store *s, struct image_record *rec,
                              skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  cleanup_free char *blob = store_blob_path(s, rec->id);
  if (blob == NULL || asprintf(&path, "%s/%s.json", s->images, digest_hex(rec->id)) < 0)
    return skiff_error_set(err, ENOMEM, "delete %s", rec->id);
  /* The record file goes first: without it the image no longer exists,
   * and a leftover config blob is harmless. */
  if (unlink(path) < 0 && errno != ENOENT)
    return skiff_error_errno(err, "delete %s", path);
  unlink(blob);
  for (size_t i = 0; i < s->n_recs; i++) {
    if (s->recs[i] == rec) {
      s->recs[i] = s->recs[--s->n_recs];
      break;
    }
  }
  record_free(rec);
  return 0;
}

/* ---- tags ---- */

static char *repo_of(const char *familiar)
{
  size_t n = strcspn(familiar, "@");
  const char *slash = memrchr(familiar, '/', n);
  const char *colon = memchr(slash ? slash : familiar, ':',
                             n - (size_t)((slash ? slash : familiar) - familiar));
  if (colon)
    n = (size_t)(colon - familiar);
  return strndup(familiar, n);
}

static int tags_save_locked(struct image_store *s, skiff_error_t **err)
{
  cleanup_json json_t *repos = json_object();
  const char *ref;
  json_t *id;
  json_object_foreach(s->tags, ref, id)
  {
    cleanup_free char *familiar = image_reference_familiar(ref);
    cleanup_free char *repo = familiar ? repo_of(familiar) : NULL;
    if (repo == NULL)
      return skiff_error_set(err, ENOMEM, "save tags");
    json_t *group = json_object_get(repos, repo);
    if (group == NULL) {
      group = json_object();
      json_object_set_new(repos, repo, group);
    }
    json_object_set(group, familiar, id);
  }
  cleanup_json json_t *doc = json_pack("{s:O}", "Repositories", repos);
  cleanup_free char *path = NULL;
  if (doc == NULL || asprintf(&path, "%s/repositories.json", s->root) < 0)
    return skiff_error_set(err, ENOMEM, "save tags");
  return jsonutil_save_file(path, doc, FS_WRITE_DURABLE, err);
}

static int tags_load(struct image_store *s, skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/repositories.json", s->root) < 0)
    return skiff_error_set(err, ENOMEM, "load tags");
  s->tags = json_object();
  if (access(path, F_OK) < 0)
    return 0;
  cleanup_json json_t *doc = jsonutil_load_file(path, err);
  if (doc == NULL)
    return -1;
  json_t *repos = json_object_get(doc, "Repositories"), *group, *id;
  const char *repo, *ref;
  json_object_foreach(repos, repo, group)
  {
    json_object_foreach(group, ref, id)
    {
      cleanup_free char *norm = image_reference_normalize(ref, NULL);
      if (norm && digest_valid(json_string_value(id)))
        json_object_set(s->tags, norm, id);
    }
  }
  return 0;
}

int store_set_tag_locked(struct image_store *s, const char *ref, const char *id,
                         skiff_error_t **err)
{
  json_t *old = json_object_get(s->tags, ref);
  if (old && strcmp(json_string_value(old), id) == 0)
    return 0;
  json_object_set_new(s->tags, ref, json_string(id));
  if (tags_save_locked(s, err) < 0) {
    if (old)
      json_object_set(s->tags, ref, old);
    else
      json_object_del(s->tags, ref);
    return -1;
  }
  return 0;
}

int store_remove_tag_locked(struct image_store *s, const char *ref, skiff_error_t **err)
{
  cleanup_json json_t *old = json_incref(json_object_get(s->tags, ref));
  if (old == NULL)
    return 0;
  json_object_del(s->tags, ref);
  if (tags_save_locked(s, err) < 0) {
    json_object_set(s->tags, ref, old);
    return -1;
  }
  return 0;
}

json_t *store_refs_of_locked(struct image_store *s, const char *id)
{
  json_t *tags = json_array(), *digests = json_array(), *v;
  const char *ref;
  json_object_foreach(s->tags, ref, v)
  {
    if (strcmp(json_string_value(v), id) == 0)
      json_array_append_new(strchr(ref, '@') ? digests : tags, json_string(ref));
  }
  json_array_extend(tags, digests);
  json_decref(digests);
  return tags;
}

/* ---- resolution ---- */

static struct image_record *find_by_prefix_locked(struct image_store *s, const char *p)
{
  const char *hex = digest_hex(p);
  size_t n = strlen(hex);
  struct image_record *found = NULL;
  for (size_t i = 0; i < s->n_recs; i++) {
    if (strncmp(digest_hex(s->recs[i]->id), hex, n) == 0) {
      if (found)
        return NULL; /* ambiguous: docker then reports it missing too */
      found = s->recs[i];
    }
  }
  return found;
}

static void not_found(skiff_error_t **err, const char *name)
{
  skiff_error_set(err, 0, "No such image: %s", name);
  if (err && *err)
    (*err)->status = ENOENT;
}

/* docker's order: a full id or digest; else a reference (400 when it is
 * not one and not an id prefix either); else an id prefix. */
struct image_record *store_resolve_locked(struct image_store *s, const char *name,
                                          skiff_error_t **err)
{
  struct image_record *rec = NULL;
  if (digest_valid(name) ||
      (strlen(name) == DIGEST_HEX_LEN && reference_is_id_prefix(name))) {
    rec = find_by_prefix_locked(s, name);
    if (rec == NULL)
      not_found(err, name);
    return rec;
  }
  skiff_error_t *parse_err = NULL;
  cleanup_free char *norm = image_reference_normalize(name, &parse_err);
  if (norm == NULL && !reference_is_id_prefix(name)) {
    if (err) {
      skiff_error_free(err);
      *err = steal_pointer(&parse_err);
    }
    skiff_error_free(&parse_err);
    return NULL;
  }
  skiff_error_free(&parse_err);
  json_t *id = norm ? json_object_get(s->tags, norm) : NULL;
  rec = id ? store_find_locked(s, json_string_value(id)) : NULL;
  if (rec == NULL && reference_is_id_prefix(name))
    rec = find_by_prefix_locked(s, name);
  if (rec == NULL) {
    cleanup_free char *familiar = norm ? image_reference_familiar(norm) : NULL;
    not_found(err, familiar ? familiar : name);
  }
  return rec;
}

char *image_store_resolve(struct image_store *store, const char *name,
                          skiff_error_t **err)
{
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, name, err);
  char *id = rec ? strdup(rec->id) : NULL;
  pthread_mutex_unlock(&store->lock);
  return id;
}

json_t *image_store_config(struct image_store *store, const char *id,
                           skiff_error_t **err)
{
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, id, err);
  json_t *config = rec ? json_incref(rec->config) : NULL;
  pthread_mutex_unlock(&store->lock);
  return config;
}

/* ---- pins and garbage collection ---- */

void store_pin_locked(struct image_store *s, const char *chain_hex)
{
  json_t *count = json_object_get(s->pins, chain_hex);
  json_object_set_new(s->pins, chain_hex,
                      json_integer(count ? json_integer_value(count) + 1 : 1));
}

void store_unpin_locked(struct image_store *s, const char *chain_hex)
{
  json_t *count = json_object_get(s->pins, chain_hex);
  if (count && json_integer_value(count) > 1)
    json_object_set_new(s->pins, chain_hex,
                        json_integer(json_integer_value(count) - 1));
  else
    json_object_del(s->pins, chain_hex);
}

static json_t *used_chains_locked(struct image_store *s)
{
  json_t *used = json_object();
  for (size_t i = 0; i < s->n_recs; i++)
    for (size_t j = 0; j < s->recs[i]->n_layers; j++)
      json_object_set_new(used, s->recs[i]->chain_ids[j], json_true());
  json_object_update(used, s->pins);
  return used;
}

static char *layer_diff_id(struct image_store *s, const char *chain_hex)
{
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/%s/diff_id", s->layers, chain_hex) < 0)
    return NULL;
  return fs_read_file(path, NULL, NULL);
}

/* Move the layer out of layers/ first, so that a crash during the removal
 * never leaves a half-deleted layer that looks whole. */
static int remove_layer(struct image_store *s, const char *chain_hex)
{
  cleanup_free char *from = NULL, *to = NULL;
  if (asprintf(&from, "%s/%s", s->layers, chain_hex) < 0 ||
      asprintf(&to, "%s/gc-%s", s->tmp, chain_hex) < 0)
    return -1;
  if (rename(from, to) < 0)
    return -1;
  return fs_remove_tree(to, NULL);
}

static void gc_blobs_locked(struct image_store *s, json_t *dropped_diff_ids)
{
  cleanup_json json_t *kept = json_object();
  cleanup_dir DIR *dir = opendir(s->layers);
  struct dirent *e;
  while (dir && (e = readdir(dir)) != NULL) {
    cleanup_free char *diff_id =
        e->d_name[0] == '.' ? NULL : layer_diff_id(s, e->d_name);
    cleanup_free char *compressed =
        e->d_name[0] == '.' ? NULL : layer_compressed_digest(s, e->d_name);
    if (diff_id)
      json_object_set_new(kept, diff_id, json_true());
    if (compressed)
      json_object_set_new(kept, compressed, json_true());
  }
  size_t i;
  json_t *v;
  json_array_foreach(dropped_diff_ids, i, v)
  {
    if (json_object_get(kept, json_string_value(v)))
      continue;
    cleanup_free char *blob = store_blob_path(s, json_string_value(v));
    if (blob)
      unlink(blob);
  }
}

void store_gc_locked(struct image_store *s, json_t *removed, long long *freed)
{
  cleanup_json json_t *used = used_chains_locked(s);
  cleanup_json json_t *dropped = json_array();
  cleanup_dir DIR *dir = opendir(s->layers);
  struct dirent *e;
  while (dir && (e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' || json_object_get(used, e->d_name))
      continue;
    cleanup_free char *chain = strdup(e->d_name);
    cleanup_free char *diff_id = layer_diff_id(s, chain);
    cleanup_free char *compressed = layer_compressed_digest(s, chain);
    long long size = layer_size(s, chain);
    if (chain == NULL || remove_layer(s, chain) < 0)
      continue;
    if (freed)
      *freed += size;
    if (removed)
      json_array_append_new(removed, json_sprintf("sha256:%s", chain));
    if (diff_id)
      json_array_append_new(dropped, json_string(diff_id));
    if (compressed) /* a pulled layer's blob */
      json_array_append_new(dropped, json_string(compressed));
  }
  gc_blobs_locked(s, dropped);
}

/* ---- open / close ---- */

static int load_records(struct image_store *s, bool *complete, skiff_error_t **err)
{
  cleanup_dir DIR *dir = opendir(s->images);
  if (dir == NULL)
    return skiff_error_errno(err, "open %s", s->images);
  struct dirent *e;
  *complete = true;
  while ((e = readdir(dir)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n != DIGEST_HEX_LEN + 5 || strcmp(e->d_name + DIGEST_HEX_LEN, ".json") != 0)
      continue;
    char id[DIGEST_STR_LEN];
    snprintf(id, sizeof id, "sha256:%.*s", DIGEST_HEX_LEN, e->d_name);
    cleanup_free char *path = NULL;
    if (asprintf(&path, "%s/%s", s->images, e->d_name) < 0)
      return skiff_error_set(err, ENOMEM, "load images");
    cleanup_json json_t *meta = jsonutil_load_file(path, NULL);
    struct image_record *rec = record_build(s, id, meta, NULL);
    /* A damaged image is left on disk for a human, and collection is
     * skipped so that its layers survive. */
    if (rec == NULL || records_append(s, rec) < 0) {
      record_free(rec);
      *complete = false;
    }
  }
  return 0;
}

static int make_dirs(struct image_store *s, skiff_error_t **err)
{
  if (fs_mkdir_p(s->blobs, 0700, err) < 0 || fs_mkdir_p(s->layers, 0700, err) < 0 ||
      fs_mkdir_p(s->images, 0700, err) < 0)
    return -1;
  if (fs_remove_tree(s->tmp, err) < 0)
    return -1;
  return fs_mkdir_p(s->tmp, 0700, err);
}

struct image_store *image_store_open(const char *data_root, skiff_error_t **err)
{
  struct image_store *s = calloc(1, sizeof *s);
  if (s == NULL) {
    skiff_error_set(err, ENOMEM, "open image store");
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  s->pins = json_object();
  if (asprintf(&s->root, "%s", data_root) < 0 ||
      asprintf(&s->blobs, "%s/blobs/sha256", data_root) < 0 ||
      asprintf(&s->layers, "%s/layers", data_root) < 0 ||
      asprintf(&s->images, "%s/images", data_root) < 0 ||
      asprintf(&s->tmp, "%s/tmp", data_root) < 0) {
    skiff_error_set(err, ENOMEM, "open image store");
    image_store_close(s);
    return NULL;
  }
  bool complete = false;
  if (make_dirs(s, err) < 0 || tags_load(s, err) < 0 ||
      load_records(s, &complete, err) < 0) {
    skiff_error_wrap(err, "open image store %s", data_root);
    image_store_close(s);
    return NULL;
  }
  if (complete)
    store_gc_locked(s, NULL, NULL);
  return s;
}

void image_store_close(struct image_store *store)
{
  if (store == NULL)
    return;
  for (size_t i = 0; i < store->n_recs; i++)
    record_free(store->recs[i]);
  free(store->recs);
  json_decref(store->tags);
  json_decref(store->pins);
  pthread_mutex_destroy(&store->lock);
  free(store->root);
  free(store->blobs);
  free(store->layers);
  free(store->images);
  free(store->tmp);
  free(store);
}
