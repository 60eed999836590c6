/* What a registry pull needs of the store: an image whose config is known
 * first, whose layers arrive as compressed streams (in any order, from
 * several threads), and which exists only once every layer is committed.
 *
 * The chain id of every layer follows from the config's diff ids alone, so
 * a layer can be committed as soon as its own stream is unpacked and
 * checked, whatever the others are doing. Committed and already-present
 * layers are pinned until the image is recorded (or the pull abandoned,
 * when collection takes the new ones away again): a daemon killed mid-pull
 * leaves only tmp/ (emptied on open) and unreferenced layers (collected on
 * open).
 *
 * Besides the image, a pull keeps what a later push needs to send the same
 * bytes under the same digests, as docker's distribution metadata:
 *   distribution/manifests/<hex>       the manifest as the registry served it
 *   distribution/layers/<diff-hex>     [{"Digest", "SourceRepository"}]: the
 *                                      compressed blobs known for a layer */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image_internal.h"

#define DIST_DIR "distribution"
#define MAX_SOURCES 16 /* remembered blob locations per layer */

struct image_pull {
  struct image_store *s;
  char *config;
  size_t config_len;
  char **diff_ids;
  char **chains;     /* hex chain ids */
  bool *pinned;      /* chains[i] is pinned by this pull */
  char **blob_paths; /* tmp files receiving compressed blobs */
  int *blob_fds;
  size_t n;
  bool finished;
};

static bool layer_present(struct image_store *s, const char *chain_hex)
{
  cleanup_free char *diff = NULL;
  if (asprintf(&diff, "%s/%s/diff", s->layers, chain_hex) < 0)
    return false;
  return access(diff, F_OK) == 0;
}

static int fill_chains(struct image_pull *p, skiff_error_t **err)
{
  p->chains = calloc(p->n + 1, sizeof(char *));
  p->pinned = calloc(p->n + 1, sizeof(bool));
  p->blob_paths = calloc(p->n + 1, sizeof(char *));
  p->blob_fds = calloc(p->n + 1, sizeof(int));
  if (p->chains == NULL || p->pinned == NULL || p->blob_paths == NULL ||
      p->blob_fds == NULL)
    return skiff_error_set(err, ENOMEM, "pull");
  for (size_t i = 0; i < p->n; i++)
    p->blob_fds[i] = -1;
  char chain[DIGEST_STR_LEN];
  for (size_t i = 0; i < p->n; i++) {
    digest_chain(i ? chain : NULL, p->diff_ids[i], chain);
    if ((p->chains[i] = strdup(digest_hex(chain))) == NULL)
      return skiff_error_set(err, ENOMEM, "pull");
  }
  pthread_mutex_lock(&p->s->lock);
  for (size_t i = 0; i < p->n; i++) {
    if (layer_present(p->s, p->chains[i])) {
      store_pin_locked(p->s, p->chains[i]);
      p->pinned[i] = true;
    }
  }
  pthread_mutex_unlock(&p->s->lock);
  return 0;
}

struct image_pull *image_pull_begin(struct image_store *store, const void *config,
                                    size_t len, const char *config_digest,
                                    skiff_error_t **err)
{
  char actual[DIGEST_STR_LEN];
  digest_of(config, len, actual);
  if (strcmp(actual, config_digest) != 0) {
    skiff_error_invalid(err, "image config %s: the registry sent bytes of digest %s",
                        config_digest, actual);
    return NULL;
  }
  json_error_t jerr;
  cleanup_json json_t *doc = json_loadb(config, len, 0, &jerr);
  if (!json_is_object(doc)) {
    skiff_error_invalid(err, "image config %s: %s", config_digest,
                        doc ? "not a JSON object" : jerr.text);
    return NULL;
  }
  struct image_pull *p = calloc(1, sizeof *p);
  if (p == NULL || (p->config = malloc(len + 1)) == NULL) {
    free(p);
    skiff_error_set(err, ENOMEM, "pull");
    return NULL;
  }
  memcpy(p->config, config, len);
  p->config[len] = '\0';
  p->config_len = len;
  p->s = store;
  if (config_diff_ids(doc, &p->diff_ids, &p->n, err) < 0 || fill_chains(p, err) < 0) {
    skiff_error_wrap(err, "image config %s", config_digest);
    image_pull_free(p);
    return NULL;
  }
  return p;
}

size_t image_pull_layer_count(const struct image_pull *p)
{
  return p->n;
}

bool image_pull_layer_present(const struct image_pull *p, size_t i)
{
  return i < p->n && p->pinned[i];
}

const char *image_pull_diff_id(const struct image_pull *p, size_t i)
{
  return i < p->n ? p->diff_ids[i] : NULL;
}

int image_pull_blob_fd(struct image_pull *p, size_t i, skiff_error_t **err)
{
  if (i >= p->n || p->blob_fds[i] >= 0)
    return skiff_error_set(err, EINVAL, "pull: layer %zu", i);
  if (asprintf(&p->blob_paths[i], "%s/blob-XXXXXX", p->s->tmp) < 0) {
    p->blob_paths[i] = NULL;
    return skiff_error_set(err, ENOMEM, "pull");
  }
  p->blob_fds[i] = mkostemp(p->blob_paths[i], O_CLOEXEC);
  if (p->blob_fds[i] < 0) {
    skiff_error_errno(err, "pull: create %s", p->blob_paths[i]);
    free(p->blob_paths[i]);
    p->blob_paths[i] = NULL;
  }
  return p->blob_fds[i];
}

/* Hand the layer its compressed blob, durable, to commit along with it. */
static int attach_blob(struct image_pull *p, size_t i, const char *digest,
                       struct layer_unpacked *u, skiff_error_t **err)
{
  int fd = p->blob_fds[i];
  p->blob_fds[i] = -1;
  u->blob_path = steal_pointer(&p->blob_paths[i]);
  snprintf(u->blob_digest, sizeof u->blob_digest, "%s", digest);
  if (fchmod(fd, 0644) < 0) { /* made durable by image_pull_finish's syncfs */
    close(fd);
    return skiff_error_errno(err, "pull: write blob %s", digest);
  }
  close(fd);
  return 0;
}

int image_pull_layer(struct image_pull *p, size_t i, int fd, const char *blob_digest,
                     int (*verify)(void *arg, skiff_error_t **err), void *arg,
                     skiff_error_t **err)
{
  struct layer_unpacked u;
  bool with_blob = p->blob_fds[i] >= 0 && digest_valid(blob_digest);
  if (layer_unpack_opts(p->s->tmp, fd, !with_blob, &u, err) < 0) {
    /* The stream's own failure (a digest mismatch, a cut connection)
     * explains a broken tar better than the tar reader does. */
    skiff_error_t *why = NULL;
    if (verify && verify(arg, &why) < 0) {
      skiff_error_free(err);
      *err = why;
    }
    return -1;
  }
  if ((verify && verify(arg, err) < 0) ||
      (with_blob && attach_blob(p, i, blob_digest, &u, err) < 0)) {
    layer_unpacked_discard(&u);
    return -1;
  }
  if (strcmp(u.diff_id, p->diff_ids[i]) != 0) {
    skiff_error_invalid(err,
                        "layer %zu: its content has diff id %s, the config says %s", i,
                        u.diff_id, p->diff_ids[i]);
    layer_unpacked_discard(&u);
    return -1;
  }
  char chain[DIGEST_HEX_LEN + 1];
  pthread_mutex_lock(&p->s->lock);
  int r = layer_commit_locked(p->s, &u, i ? p->chains[i - 1] : NULL, chain, err);
  if (r == 0)
    p->pinned[i] = true;
  pthread_mutex_unlock(&p->s->lock);
  if (r < 0)
    layer_unpacked_discard(&u);
  return r;
}

void image_pull_write_back(struct image_pull *p)
{
  cleanup_close int rootfd = open(p->s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd >= 0)
    syncfs(rootfd);
}

/* ---- distribution metadata ---- */

static char *dist_path(struct image_store *s, const char *kind, const char *digest)
{
  char *path = NULL;
  if (asprintf(&path, "%s/" DIST_DIR "/%s/%s", s->root, kind, digest_hex(digest)) < 0)
    return NULL;
  return path;
}

static int dist_ensure_dirs(struct image_store *s, skiff_error_t **err)
{
  cleanup_free char *m = NULL, *l = NULL;
  if (asprintf(&m, "%s/" DIST_DIR "/manifests", s->root) < 0 ||
      asprintf(&l, "%s/" DIST_DIR "/layers", s->root) < 0)
    return skiff_error_set(err, ENOMEM, "distribution metadata");
  if (fs_mkdir_p(m, 0700, err) < 0 || fs_mkdir_p(l, 0700, err) < 0)
    return -1;
  return 0;
}

/* Remember that the blob digest in repository holds the layer diff_id
 * (most recent first, a bounded list, as docker's v2metadata). */
static int dist_add_source_locked(struct image_store *s, const char *diff_id,
                                  const char *digest, const char *repository,
                                  const char *media_type, skiff_error_t **err)
{
  cleanup_free char *path = dist_path(s, "layers", diff_id);
  if (path == NULL)
    return skiff_error_set(err, ENOMEM, "distribution metadata");
  cleanup_json json_t *old =
      access(path, F_OK) == 0 ? jsonutil_load_file(path, NULL) : NULL;
  cleanup_json json_t *list =
      json_pack("[{s:s, s:s, s:s?}]", "Digest", digest, "SourceRepository", repository,
                "MediaType", media_type);
  size_t i;
  json_t *v;
  json_array_foreach(json_is_array(old) ? old : NULL, i, v)
  {
    const char *d = json_string_value(json_object_get(v, "Digest"));
    const char *r = json_string_value(json_object_get(v, "SourceRepository"));
    bool same = d && r && strcmp(d, digest) == 0 && strcmp(r, repository) == 0;
    if (!same && json_array_size(list) < MAX_SOURCES)
      json_array_append(list, v);
  }
  return jsonutil_save_file(path, list, FS_WRITE_DURABLE, err);
}

int image_dist_add_source(struct image_store *store, const char *diff_id,
                          const char *digest, const char *repository,
                          const char *media_type, skiff_error_t **err)
{
  pthread_mutex_lock(&store->lock);
  int r = dist_ensure_dirs(store, err);
  if (r == 0)
    r = dist_add_source_locked(store, diff_id, digest, repository, media_type, err);
  pthread_mutex_unlock(&store->lock);
  return r;
}

json_t *image_dist_sources(struct image_store *store, const char *diff_id)
{
  cleanup_free char *path = dist_path(store, "layers", diff_id);
  pthread_mutex_lock(&store->lock);
  json_t *list =
      path && access(path, F_OK) == 0 ? jsonutil_load_file(path, NULL) : NULL;
  pthread_mutex_unlock(&store->lock);
  if (!json_is_array(list)) {
    json_decref(list);
    list = json_array();
  }
  return list;
}

int image_dist_save_manifest(struct image_store *store, const void *manifest,
                             size_t len, char digest[72], skiff_error_t **err)
{
  digest_of(manifest, len, digest);
  pthread_mutex_lock(&store->lock);
  cleanup_free char *path = dist_path(store, "manifests", digest);
  int r = path ? dist_ensure_dirs(store, err)
               : skiff_error_set(err, ENOMEM, "distribution metadata");
  if (r == 0 && access(path, F_OK) < 0)
    r = fs_write_file_atomic(path, manifest, len, 0644, FS_WRITE_DURABLE, err);
  pthread_mutex_unlock(&store->lock);
  return r;
}

char *image_dist_manifest(struct image_store *store, const char *digest, size_t *len)
{
  if (!digest_valid(digest))
    return NULL;
  cleanup_free char *path = dist_path(store, "manifests", digest);
  if (path == NULL)
    return NULL;
  size_t n = 0;
  char *bytes = fs_read_file(path, &n, NULL);
  char actual[DIGEST_STR_LEN];
  if (bytes)
    digest_of(bytes, n, actual);
  if (bytes == NULL || strcmp(actual, digest) != 0) {
    free(bytes);
    return NULL;
  }
  *len = n;
  return bytes;
}

/* The manifest's layer digests, by position, as sources of the diff ids. */
static int record_layer_sources(struct image_pull *p, const char *repository,
                                const void *manifest, size_t len, skiff_error_t **err)
{
  cleanup_json json_t *doc = json_loadb(manifest, len, 0, NULL);
  json_t *layers = json_object_get(doc, "layers");
  if (json_array_size(layers) != p->n)
    return 0; /* not a plain image manifest: nothing to learn */
  pthread_mutex_lock(&p->s->lock);
  int r = dist_ensure_dirs(p->s, err);
  for (size_t i = 0; r == 0 && i < p->n; i++) {
    json_t *desc = json_array_get(layers, i);
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    const char *media = json_string_value(json_object_get(desc, "mediaType"));
    if (digest_valid(digest))
      r = dist_add_source_locked(p->s, p->diff_ids[i], digest, repository, media, err);
  }
  pthread_mutex_unlock(&p->s->lock);
  return r;
}

char *image_pull_finish(struct image_pull *p, const char *repository, const char *tag,
                        const char *repo_digest, const void *manifest, size_t len,
                        skiff_error_t **err)
{
  for (size_t i = 0; i < p->n; i++)
    if (!p->pinned[i]) {
      skiff_error_set(err, EINVAL, "pull: layer %s was not fetched", p->diff_ids[i]);
      return NULL;
    }
  char mdigest[DIGEST_STR_LEN];
  if (image_dist_save_manifest(p->s, manifest, len, mdigest, err) < 0 ||
      record_layer_sources(p, repository, manifest, len, err) < 0)
    return NULL;
  cleanup_free char *by_tag = NULL, *by_digest = NULL;
  if ((tag && asprintf(&by_tag, "%s:%s", repository, tag) < 0) ||
      asprintf(&by_digest, "%s@%s", repository, repo_digest ? repo_digest : mdigest) <
          0) {
    skiff_error_set(err, ENOMEM, "pull");
    return NULL;
  }
  /* The layers and blobs of this pull were written without syncing: one
   * syncfs makes them all durable before the image refers to them. */
  cleanup_close int rootfd = open(p->s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 || syncfs(rootfd) < 0) {
    skiff_error_errno(err, "pull: sync %s", p->s->root);
    return NULL;
  }
  const char *refs[] = {by_digest, by_tag, NULL};
  char *id =
      import_register(p->s, p->config, p->config_len, p->chains, p->n, refs, NULL, err);
  /* import_register unpinned every chain, recorded or not. */
  p->finished = true;
  return id;
}

void image_pull_free(struct image_pull *p)
{
  if (p == NULL)
    return;
  if (!p->finished && p->chains) {
    cleanup_free char **pinned = calloc(p->n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; pinned && i < p->n; i++)
      if (p->pinned[i])
        pinned[k++] = p->chains[i];
    if (pinned)
      import_abort(p->s, pinned, k);
  }
  for (size_t i = 0; p->chains && i < p->n; i++)
    free(p->chains[i]);
  for (size_t i = 0; p->blob_paths && i < p->n; i++) {
    if (p->blob_fds[i] >= 0)
      close(p->blob_fds[i]);
    if (p->blob_paths[i])
      unlink(p->blob_paths[i]);
    free(p->blob_paths[i]);
  }
  free(p->blob_paths);
  free(p->blob_fds);
  for (size_t i = 0; p->diff_ids && i < p->n; i++)
    free(p->diff_ids[i]);
  free(p->chains);
  free(p->diff_ids);
  free(p->pinned);
  free(p->config);
  free(p);
}

const char *image_host_arch(void)
{
  return config_host_arch();
}
