/* docker load: unpack the archive into tmp/ (with paths clamped inside
 * it), read manifest.json (docker archives) or index.json (OCI layouts),
 * then for each image unpack its layers, check each against the diff_id of
 * its config, and record it. A failure leaves no image and no layer behind
 * (images loaded before it from the same archive stay, as with docker). */
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
#include "common/digest.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image_internal.h"

#define COPY_BUF (256 * 1024)

struct loader {
  struct image_store *s;
  char *dir; /* the unpacked archive */
  int rootfd;
  json_t *out; /* "Loaded image: ..." lines */
};

/* ---- unpacking the outer archive ---- */

static int entry_path(const char *raw, char **out, skiff_error_t **err)
{
  bool bad = raw == NULL || raw[0] == '/';
  for (const char *p = raw; !bad && *p;) {
    size_t n = strcspn(p, "/");
    bad = n == 2 && strncmp(p, "..", 2) == 0;
    p += n + (p[n] == '/');
  }
  if (bad)
    return skiff_error_invalid(err, "invalid archive: path %s refused", raw ? raw : "");
  *out = strdup(raw);
  return *out ? 0 : skiff_error_set(err, ENOMEM, "load");
}

static int open_parent(int rootfd, const char *path, const char **base,
                       skiff_error_t **err)
{
  const char *slash = strrchr(path, '/');
  *base = slash ? slash + 1 : path;
  cleanup_free char *parent = strndup(path, slash ? (size_t)(slash - path) : 0);
  if (parent == NULL)
    return skiff_error_set(err, ENOMEM, "load");
  if (*parent) {
    cleanup_close int created = fs_create_in_root(rootfd, parent, 0, 0755, err);
    if (created < 0)
      return -1;
  }
  return fs_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY, 0, err);
}

static int write_entry(struct archive *a, int dirfd, const char *base, const char *path,
                       skiff_error_t **err)
{
  cleanup_close int fd =
      openat(dirfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return skiff_error_errno(err, "load: create %s", path);
  const void *block;
  size_t len;
  la_int64_t offset;
  int r;
  while ((r = archive_read_data_block(a, &block, &len, &offset)) == ARCHIVE_OK)
    if (pwrite(fd, block, len, offset) != (ssize_t)len)
      return skiff_error_errno(err, "load: write %s", path);
  if (r != ARCHIVE_EOF)
    return skiff_error_invalid(err, "invalid archive: %s: %s", path,
                               archive_error_string(a));
  return 0;
}

static int unpack_entry(struct loader *l, struct archive *a, struct archive_entry *e,
                        skiff_error_t **err)
{
  cleanup_free char *path = NULL;
  if (entry_path(archive_entry_pathname(e), &path, err) < 0)
    return -1;
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/')
    path[--n] = '\0';
  mode_t type = archive_entry_filetype(e);
  if (type == AE_IFDIR) {
    cleanup_close int fd = fs_create_in_root(l->rootfd, path, 0, 0755, err);
    return fd < 0 ? -1 : 0;
  }
  if (type != AE_IFREG && type != AE_IFLNK)
    return 0;
  const char *base;
  cleanup_close int dirfd = open_parent(l->rootfd, path, &base, err);
  if (dirfd < 0)
    return -1;
  if (type == AE_IFLNK) {
    /* Old docker saves link duplicate layers ("../<id>/layer.tar"); they
     * are followed later only through fs_open_in_root, inside the dir. */
    if (symlinkat(archive_entry_symlink(e), dirfd, base) < 0)
      return skiff_error_errno(err, "load: symlink %s", path);
    return 0;
  }
  return write_entry(a, dirfd, base, path, err);
}

static int unpack_archive(struct loader *l, int fd, skiff_error_t **err)
{
  struct archive *a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  int ret = 0, r;
  struct archive_entry *e;
  if (archive_read_open_fd(a, fd, COPY_BUF) != ARCHIVE_OK) {
    ret = skiff_error_invalid(err, "invalid archive: %s", archive_error_string(a));
  } else {
    while (ret == 0 &&
           ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN))
      ret = unpack_entry(l, a, e, err);
    if (ret == 0 && r != ARCHIVE_EOF)
      ret = skiff_error_invalid(err, "invalid archive: %s", archive_error_string(a));
  }
  archive_read_free(a);
  return ret;
}

/* ---- reading inside the unpacked archive ---- */

/* Open a file the archive's manifest names; a missing one is the archive's
 * fault (400), not a missing image (404). */
static int open_in(struct loader *l, const char *path, skiff_error_t **err)
{
  int fd = fs_open_in_root(l->rootfd, path, O_RDONLY, 0, NULL);
  if (fd < 0)
    skiff_error_invalid(err, "invalid archive: cannot open %s: %s", path,
                        strerror(errno));
  return fd;
}

static char *read_in(struct loader *l, const char *path, size_t *len,
                     skiff_error_t **err)
{
  int fd = open_in(l, path, err);
  if (fd < 0)
    return NULL;
  char buf[32];
  char *data = fs_read_file(fs_fd_path(fd, buf), len, err);
  close(fd);
  return data;
}

static json_t *json_in(struct loader *l, const char *path, skiff_error_t **err)
{
  size_t len;
  cleanup_free char *text = read_in(l, path, &len, err);
  if (text == NULL)
    return NULL;
  json_error_t jerr;
  json_t *doc = json_loadb(text, len, 0, &jerr);
  if (doc == NULL)
    skiff_error_invalid(err, "invalid archive: %s: %s", path, jerr.text);
  return doc;
}

static int check_file_digest(struct loader *l, const char *path, const char *digest,
                             skiff_error_t **err)
{
  cleanup_close int fd = open_in(l, path, err);
  if (fd < 0)
    return -1;
  struct sha256_ctx ctx;
  cleanup_free char *buf = malloc(COPY_BUF);
  ssize_t n = -1;
  sha256_init(&ctx);
  while (buf && (n = read(fd, buf, COPY_BUF)) > 0)
    sha256_update(&ctx, (size_t)n, (const uint8_t *)buf);
  if (n < 0)
    return skiff_error_errno(err, "load: read %s", path);
  char actual[DIGEST_STR_LEN];
  sha256_finish_text(&ctx, actual);
  if (strcmp(actual, digest) != 0)
    return skiff_error_invalid(err, "invalid archive: %s has digest %s, expected %s",
                               path, actual, digest);
  return 0;
}

/* ---- one image ---- */

struct load_image {
  char *config;
  size_t config_len;
  json_t *layer_paths; /* paths inside the archive, lowest first */
  json_t *refs;        /* normalized references */
};

/* Unpack layer i (unless the store has it) and commit it, pinned. */
static int load_layer(struct loader *l, const char *path, const char *diff_id,
                      const char *parent, char chain[DIGEST_HEX_LEN + 1], size_t index,
                      skiff_error_t **err)
{
  char expected[DIGEST_STR_LEN], parent_digest[DIGEST_STR_LEN];
  snprintf(parent_digest, sizeof parent_digest, "sha256:%s", parent ? parent : "");
  digest_chain(parent ? parent_digest : NULL, diff_id, expected);
  cleanup_free char *diff = NULL;
  if (asprintf(&diff, "%s/%s/diff", l->s->layers, digest_hex(expected)) < 0)
    return skiff_error_set(err, ENOMEM, "load");
  pthread_mutex_lock(&l->s->lock);
  bool have = access(diff, F_OK) == 0;
  if (have)
    store_pin_locked(l->s, digest_hex(expected));
  pthread_mutex_unlock(&l->s->lock);
  if (have) {
    snprintf(chain, DIGEST_HEX_LEN + 1, "%s", digest_hex(expected));
    return 0;
  }
  cleanup_close int fd = open_in(l, path, err);
  struct layer_unpacked u;
  if (fd < 0 || layer_unpack(l->s->tmp, fd, &u, err) < 0)
    return skiff_error_wrap(err, "load layer %s", path);
  if (strcmp(u.diff_id, diff_id) != 0) {
    skiff_error_invalid(err,
                        "invalid diffID for layer %zu: expected \"%s\", got \"%s\"",
                        index, diff_id, u.diff_id);
    layer_unpacked_discard(&u);
    return -1;
  }
  pthread_mutex_lock(&l->s->lock);
  int r = layer_commit_locked(l->s, &u, parent, chain, err);
  pthread_mutex_unlock(&l->s->lock);
  if (r < 0)
    layer_unpacked_discard(&u);
  return r;
}

static void report(struct loader *l, const char *id, json_t *refs)
{
  size_t i;
  json_t *ref;
  json_array_foreach(refs, i, ref)
  {
    cleanup_free char *familiar = image_reference_familiar(json_string_value(ref));
    json_array_append_new(l->out, json_sprintf("Loaded image: %s", familiar));
  }
  if (json_array_size(refs) == 0)
    json_array_append_new(l->out, json_sprintf("Loaded image ID: %s", id));
}

static int load_one(struct loader *l, struct load_image *img, skiff_error_t **err)
{
  json_error_t jerr;
  cleanup_json json_t *config = json_loadb(img->config, img->config_len, 0, &jerr);
  cleanup_strv char **diff_ids = NULL;
  size_t n = 0;
  if (config == NULL)
    return skiff_error_invalid(err, "invalid image config: %s", jerr.text);
  if (config_diff_ids(config, &diff_ids, &n, err) < 0)
    return -1;
  if (n != json_array_size(img->layer_paths))
    return skiff_error_invalid(
        err,
        "invalid manifest, layers length mismatch: expected %zu, "
        "got %zu",
        n, json_array_size(img->layer_paths));
  cleanup_free char(*chains)[DIGEST_HEX_LEN + 1] = calloc(n + 1, sizeof *chains);
  cleanup_free char **chain_ptrs = calloc(n + 1, sizeof(char *));
  if (chains == NULL || chain_ptrs == NULL)
    return skiff_error_set(err, ENOMEM, "load");
  size_t done = 0;
  for (; done < n; done++) {
    const char *path = json_string_value(json_array_get(img->layer_paths, done));
    if (load_layer(l, path, diff_ids[done], done ? chains[done - 1] : NULL,
                   chains[done], done, err) < 0)
      break;
    chain_ptrs[done] = chains[done];
  }
  if (done < n) {
    import_abort(l->s, chain_ptrs, done);
    return -1;
  }
  cleanup_strv char **refs = calloc(json_array_size(img->refs) + 1, sizeof(char *));
  for (size_t i = 0; refs && i < json_array_size(img->refs); i++)
    refs[i] = strdup(json_string_value(json_array_get(img->refs, i)));
  cleanup_free char *id =
      import_register(l->s, img->config, img->config_len, chain_ptrs, n,
                      (const char *const *)refs, l->out, err);
  if (id == NULL)
    return -1;
  report(l, id, img->refs);
  return 0;
}

static void load_image_free(struct load_image *img)
{
  free(img->config);
  json_decref(img->layer_paths);
  json_decref(img->refs);
}

/* ---- docker archives: manifest.json ---- */

static int add_ref(json_t *refs, const char *name, skiff_error_t **err)
{
  cleanup_free char *norm = image_reference_normalize(name, err);
  if (norm == NULL)
    return skiff_error_wrap(err, "invalid archive: RepoTags");
  json_array_append_new(refs, json_string(norm));
  return 0;
}

static int load_docker(struct loader *l, json_t *manifest, skiff_error_t **err)
{
  if (!json_is_array(manifest))
    return skiff_error_invalid(err, "invalid archive: manifest.json is not a list");
  size_t i;
  json_t *entry;
  json_array_foreach(manifest, i, entry)
  {
    const char *config_path = NULL;
    json_t *tags = NULL, *layers = NULL;
    json_error_t jerr;
    if (json_unpack_ex(entry, &jerr, 0, "{s:s, s?o, s:o}", "Config", &config_path,
                       "RepoTags", &tags, "Layers", &layers) < 0 ||
        !json_is_array(layers))
      return skiff_error_invalid(err, "invalid archive: manifest.json[%zu]: %s", i,
                                 jerr.text);
    struct load_image img = {.layer_paths = json_incref(layers), .refs = json_array()};
    img.config = read_in(l, config_path, &img.config_len, err);
    size_t k;
    json_t *tag;
    int ret = img.config ? 0 : -1;
    json_array_foreach(json_is_array(tags) ? tags : NULL, k, tag)
    {
      if (ret == 0)
        ret = add_ref(img.refs, json_string_value(tag) ?: "", err);
    }
    if (ret == 0)
      ret = load_one(l, &img, err);
    load_image_free(&img);
    if (ret < 0)
      return -1;
  }
  return 0;
}

/* ---- OCI layouts: index.json ---- */

static char *blob_path_of(json_t *desc)
{
  const char *digest = json_string_value(json_object_get(desc, "digest"));
  if (!digest_valid(digest))
    return NULL;
  char *path = NULL;
  return asprintf(&path, "blobs/sha256/%s", digest_hex(digest)) < 0 ? NULL : path;
}

static json_t *blob_json(struct loader *l, json_t *desc, skiff_error_t **err)
{
  cleanup_free char *path = blob_path_of(desc);
  if (path == NULL) {
    skiff_error_invalid(err, "invalid archive: descriptor without a sha256 digest");
    return NULL;
  }
  if (check_file_digest(l, path, json_string_value(json_object_get(desc, "digest")),
                        err) < 0)
    return NULL;
  return json_in(l, path, err);
}

/* From an index, the manifest for this machine (or the first). */
static json_t *pick_platform(json_t *manifests)
{
  size_t i;
  json_t *m;
  json_array_foreach(manifests, i, m)
  {
    json_t *p = json_object_get(m, "platform");
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, config_host_arch()) == 0)
      return m;
  }
  return json_array_get(manifests, 0);
}

static int oci_refs(json_t *desc, json_t *refs, skiff_error_t **err)
{
  json_t *ann = json_object_get(desc, "annotations");
  const char *name =
      json_string_value(json_object_get(ann, "io.containerd.image.name"));
  const char *ref =
      json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
  /* ref.name is often a bare tag ("latest"): a name only when it has a
   * repository part. */
  if (name == NULL && ref && strpbrk(ref, "/:"))
    name = ref;
  return name ? add_ref(refs, name, err) : 0;
}

static int load_oci_manifest(struct loader *l, json_t *desc, json_t *refs,
                             skiff_error_t **err)
{
  cleanup_json json_t *m = blob_json(l, desc, err);
  for (int depth = 0; m && json_object_get(m, "manifests") && depth < 4; depth++) {
    json_t *next = pick_platform(json_object_get(m, "manifests"));
    json_t *child = next ? blob_json(l, next, err) : NULL;
    json_decref(m);
    m = child;
  }
  json_t *config = json_object_get(m, "config"), *layers = json_object_get(m, "layers");
  if (m == NULL || !json_is_object(config) || !json_is_array(layers))
    return m ? skiff_error_invalid(err, "invalid archive: manifest without config or "
                                        "layers")
             : -1;
  struct load_image img = {.layer_paths = json_array(), .refs = json_incref(refs)};
  cleanup_free char *config_path = blob_path_of(config);
  int ret =
      config_path ? 0 : skiff_error_invalid(err, "invalid archive: bad config digest");
  if (ret == 0 &&
      check_file_digest(l, config_path,
                        json_string_value(json_object_get(config, "digest")), err) < 0)
    ret = -1;
  if (ret == 0 && (img.config = read_in(l, config_path, &img.config_len, err)) == NULL)
    ret = -1;
  size_t i;
  json_t *layer;
  json_array_foreach(layers, i, layer)
  {
    cleanup_free char *path = ret == 0 ? blob_path_of(layer) : NULL;
    if (ret == 0 && path == NULL)
      ret = skiff_error_invalid(err, "invalid archive: layer %zu has a bad digest", i);
    if (ret == 0)
      ret = check_file_digest(l, path,
                              json_string_value(json_object_get(layer, "digest")), err);
    if (ret == 0)
      json_array_append_new(img.layer_paths, json_string(path));
  }
  if (ret == 0)
    ret = load_one(l, &img, err);
  load_image_free(&img);
  return ret;
}

static int load_oci(struct loader *l, json_t *index, skiff_error_t **err)
{
  json_t *manifests = json_object_get(index, "manifests");
  if (!json_is_array(manifests))
    return skiff_error_invalid(err, "invalid archive: index.json has no manifests");
  size_t i;
  json_t *desc;
  json_array_foreach(manifests, i, desc)
  {
    cleanup_json json_t *refs = json_array();
    if (oci_refs(desc, refs, err) < 0 || load_oci_manifest(l, desc, refs, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- entry point ---- */

static int load_unpacked(struct loader *l, skiff_error_t **err)
{
  int fd = fs_open_in_root(l->rootfd, "manifest.json", O_RDONLY, 0, NULL);
  if (fd >= 0) {
    close(fd);
    cleanup_json json_t *manifest = json_in(l, "manifest.json", err);
    return manifest ? load_docker(l, manifest, err) : -1;
  }
  fd = fs_open_in_root(l->rootfd, "index.json", O_RDONLY, 0, NULL);
  if (fd < 0)
    return skiff_error_invalid(err,
                               "invalid archive: neither manifest.json nor "
                               "index.json found (not a docker save or OCI layout)");
  close(fd);
  cleanup_json json_t *index = json_in(l, "index.json", err);
  return index ? load_oci(l, index, err) : -1;
}

json_t *image_store_load(struct image_store *store, int tar_fd, skiff_error_t **err)
{
  struct loader l = {.s = store, .rootfd = -1, .out = json_array()};
  int ret = -1;
  if (asprintf(&l.dir, "%s/load-XXXXXX", store->tmp) < 0 || mkdtemp(l.dir) == NULL) {
    skiff_error_errno(err, "load: make a work directory in %s", store->tmp);
  } else if ((l.rootfd = open(l.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    skiff_error_errno(err, "load: open %s", l.dir);
  } else if (unpack_archive(&l, tar_fd, err) == 0) {
    ret = load_unpacked(&l, err);
  }
  if (l.rootfd >= 0)
    close(l.rootfd);
  if (l.dir)
    fs_remove_tree(l.dir, NULL);
  free(l.dir);
  if (ret < 0) {
    json_decref(l.out);
    return NULL;
  }
  return l.out;
}
