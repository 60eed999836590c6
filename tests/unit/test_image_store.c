/* The image store end to end on a busybox rootfs: import, list, tag,
 * inspect, remove, save, load into a fresh store, snapshots through
 * overlayfs, and bad input that must leave nothing behind. Needs root (the
 * rootfs is made with chroot, the snapshot is mounted); skipped otherwise. */
#include <pthread.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image/image.h"
#include "image/image_internal.h"
#include "image_test_util.h"

static int busybox_fd = -1; /* the rootfs tar, shared by the tests */

struct fixture {
  char *root;
  struct image_store *store;
};

static int group_setup(void **state)
{
  busybox_fd = test_busybox_tar_fd();
  return 0;
}

static int group_teardown(void **state)
{
  if (busybox_fd >= 0)
    close(busybox_fd);
  return 0;
}

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof *f);
  f->root = test_tmpdir();
  skiff_error_t *err = NULL;
  f->store = image_store_open(f->root, &err);
  if (f->store == NULL)
    fail_msg("open: %s", err->msg);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  image_store_close(f->store);
  test_rmdir(f->root);
  free(f);
  return 0;
}

static int busybox(void)
{
  if (busybox_fd < 0)
    skip();
  lseek(busybox_fd, 0, SEEK_SET);
  return busybox_fd;
}

static char *import_busybox(struct fixture *f, const char *ref)
{
  skiff_error_t *err = NULL;
  char *id = image_store_import(f->store, busybox(), ref, NULL, NULL, &err);
  if (id == NULL)
    fail_msg("import: %s", err->msg);
  return id;
}

static bool always_in_use(const char *id, void *arg)
{
  return true;
}

/* ---- import, list, inspect ---- */

static void test_import_lists_inspects_and_lays_out_disk(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  assert_true(digest_valid(id));
  cleanup_json json_t *list = image_store_list(f->store, false, NULL, NULL);
  assert_int_equal(json_array_size(list), 1);
  json_t *sum = json_array_get(list, 0);
  assert_string_equal(json_string_value(json_object_get(sum, "Id")), id);
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(sum, "RepoTags"), 0)),
      "busybox:latest");
  assert_true(json_integer_value(json_object_get(sum, "Size")) > 1000000);
  /* The id is the sha256 of the config exactly as stored. */
  char path[4096], digest[DIGEST_STR_LEN];
  snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->root, digest_hex(id));
  size_t len;
  cleanup_free char *config = fs_read_file(path, &len, NULL);
  digest_of(config, len, digest);
  assert_string_equal(digest, id);
  snprintf(path, sizeof path, "%s/images/%s.json", f->root, digest_hex(id));
  assert_int_equal(access(path, F_OK), 0);
  cleanup_json json_t *info = image_store_inspect(f->store, "busybox:latest", NULL);
  const char *diff_id = json_string_value(
      json_array_get(json_object_get(json_object_get(info, "RootFS"), "Layers"), 0));
  snprintf(path, sizeof path, "%s/layers/%s/diff/bin/busybox", f->root,
           digest_hex(diff_id));
  assert_int_equal(access(path, X_OK), 0);
  snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->root, digest_hex(diff_id));
  assert_int_equal(access(path, F_OK), 0);
  snprintf(path, sizeof path, "%s/repositories.json", f->root);
  cleanup_json json_t *repos = jsonutil_load_file(path, NULL);
  cleanup_json json_t *expected =
      json_pack("{s:{s:{s:s}}}", "Repositories", "busybox", "busybox:latest", id);
  assert_true(json_equal(repos, expected));
  assert_int_equal(test_count_in(f->root, "tmp"), 0);
}

static void test_import_applies_changes_and_message(void **state)
{
  struct fixture *f = *state;
  const char *changes[] = {"CMD [\"sh\"]", "ENV A=b", NULL};
  skiff_error_t *err = NULL;
  cleanup_free char *id =
      image_store_import(f->store, busybox(), "x:1", changes, "hello", &err);
  assert_non_null(id);
  cleanup_json json_t *info = image_store_inspect(f->store, "x:1", NULL);
  assert_string_equal(json_string_value(json_object_get(info, "Comment")), "hello");
  json_t *cfg = json_object_get(info, "Config");
  assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 0)),
                      "sh");
  assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "Env"), 0)),
                      "A=b");
  cleanup_json json_t *history = image_store_history(f->store, "x:1", NULL);
  assert_int_equal(json_array_size(history), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(history, 0), "Comment")),
      "hello");
}

static void test_bad_import_leaves_nothing(void **state)
{
  struct fixture *f = *state;
  skiff_error_t *err = NULL;
  assert_null(image_store_import(f->store, busybox(), "Bad:Name:x", NULL, NULL, &err));
  assert_int_equal(err->status, EINVAL);
  skiff_error_free(&err);
  const char *changes[] = {"RUN rm -rf /", NULL};
  assert_null(image_store_import(f->store, busybox(), "ok", changes, NULL, &err));
  assert_string_equal(err->msg, "run is not a valid change command");
  skiff_error_free(&err);
  cleanup_close int garbage = test_bytes_fd("garbage garbage garbage garbage", 31);
  assert_null(image_store_import(f->store, garbage, "ok", NULL, NULL, &err));
  assert_int_equal(err->status, EINVAL);
  skiff_error_free(&err);
  assert_int_equal(test_count_in(f->root, "images"), 0);
  assert_int_equal(test_count_in(f->root, "layers"), 0);
  assert_int_equal(test_count_in(f->root, "blobs/sha256"), 0);
  assert_int_equal(test_count_in(f->root, "tmp"), 0);
}

/* ---- tags and names ---- */

static void test_tag_and_resolve_by_every_kind_of_name(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  assert_int_equal(
      image_store_tag(f->store, "busybox", "localhost:5000/my/app", "v1", NULL), 0);
  const char *names[] = {"busybox",
                         "busybox:latest",
                         "docker.io/library/busybox",
                         "localhost:5000/my/app:v1",
                         id,
                         id + 7};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    cleanup_free char *got = image_store_resolve(f->store, names[i], NULL);
    if (got == NULL || strcmp(got, id) != 0)
      fail_msg("%s resolved to %s", names[i], got ? got : "nothing");
  }
  char prefix[20];
  snprintf(prefix, sizeof prefix, "%.12s", id + 7);
  cleanup_free char *by_prefix = image_store_resolve(f->store, prefix, NULL);
  assert_string_equal(by_prefix, id);
  skiff_error_t *err = NULL;
  assert_null(image_store_resolve(f->store, "nope", &err));
  assert_int_equal(err->status, ENOENT);
  assert_string_equal(err->msg, "No such image: nope:latest");
  skiff_error_free(&err);
  assert_int_equal(image_store_tag(f->store, "busybox", "UPPER", NULL, &err), -1);
  assert_int_equal(err->status, EINVAL);
  skiff_error_free(&err);
  assert_int_equal(image_store_tag(f->store, "nope", "x", NULL, &err), -1);
  assert_int_equal(err->status, ENOENT);
  skiff_error_free(&err);
  cleanup_json json_t *info = image_store_inspect(f->store, id, NULL);
  assert_int_equal(json_array_size(json_object_get(info, "RepoTags")), 2);
}

static void test_list_filters(void **state)
{
  struct fixture *f = *state;
  const char *label[] = {"LABEL tier=web", NULL};
  cleanup_free char *a = import_busybox(f, "busybox");
  cleanup_free char *b =
      image_store_import(f->store, busybox(), "web:1", label, "b", NULL);
  cleanup_free char *c =
      image_store_import(f->store, busybox(), NULL, NULL, "dangling", NULL);
  cleanup_json json_t *all = image_store_list(f->store, false, NULL, NULL);
  assert_int_equal(json_array_size(all), 3);
  struct {
    const char *filters;
    size_t count;
  } cases[] = {
      {"{\"dangling\": [\"true\"]}", 1},  {"{\"dangling\": {\"false\": true}}", 2},
      {"{\"reference\": [\"web\"]}", 1},  {"{\"reference\": [\"bus*:latest\"]}", 1},
      {"{\"label\": [\"tier=web\"]}", 1}, {"{\"label\": [\"tier=db\"]}", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cleanup_json json_t *filters = json_loads(cases[i].filters, 0, NULL);
    cleanup_json json_t *list = image_store_list(f->store, false, filters, NULL);
    if (json_array_size(list) != cases[i].count)
      fail_msg("%s: %zu images", cases[i].filters, json_array_size(list));
  }
  cleanup_json json_t *bad = json_loads("{\"bogus\": [\"1\"]}", 0, NULL);
  skiff_error_t *err = NULL;
  assert_null(image_store_list(f->store, false, bad, &err));
  assert_string_equal(err->msg, "invalid filter 'bogus'");
  skiff_error_free(&err);
}

/* ---- removal ---- */

static void test_remove_untags_then_deletes_with_layers(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  assert_int_equal(image_store_tag(f->store, "busybox", "other", NULL, NULL), 0);
  cleanup_json json_t *first =
      image_store_remove(f->store, "other", false, NULL, NULL, NULL);
  cleanup_json json_t *untag_only = json_pack("[{s:s}]", "Untagged", "other:latest");
  assert_true(json_equal(first, untag_only));
  cleanup_json json_t *second =
      image_store_remove(f->store, "busybox", false, NULL, NULL, NULL);
  assert_int_equal(json_array_size(second),
                   3); /* Untagged, Deleted image, Deleted layer */
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(second, 1), "Deleted")), id);
  assert_int_equal(test_count_in(f->root, "images"), 0);
  assert_int_equal(test_count_in(f->root, "layers"), 0);
  assert_int_equal(test_count_in(f->root, "blobs/sha256"), 0);
  skiff_error_t *err = NULL;
  assert_null(image_store_remove(f->store, "busybox", false, NULL, NULL, &err));
  assert_int_equal(err->status, ENOENT);
  skiff_error_free(&err);
}

static void test_remove_conflicts_as_docker(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  assert_int_equal(image_store_tag(f->store, id, "another", NULL, NULL), 0);
  skiff_error_t *err = NULL;
  assert_null(image_store_remove(f->store, id, false, NULL, NULL, &err));
  assert_int_equal(err->status, EBUSY);
  char expected[256];
  snprintf(expected, sizeof expected,
           "conflict: unable to delete %.12s (must be forced) - "
           "image is referenced in multiple repositories",
           id + 7);
  assert_string_equal(err->msg, expected);
  skiff_error_free(&err);
  cleanup_json json_t *untag_another =
      image_store_remove(f->store, "another", false, NULL, NULL, NULL);
  assert_non_null(untag_another);
  /* Used by a container: refused without force... */
  assert_null(
      image_store_remove(f->store, "busybox", false, always_in_use, NULL, &err));
  assert_int_equal(err->status, EBUSY);
  assert_non_null(strstr(err->msg, "must force"));
  skiff_error_free(&err);
  assert_null(image_store_remove(f->store, id, false, always_in_use, NULL, &err));
  assert_int_equal(err->status, EBUSY);
  skiff_error_free(&err);
  /* ...and with force it loses its tag but stays for the container. */
  cleanup_json json_t *forced =
      image_store_remove(f->store, id, true, always_in_use, NULL, NULL);
  cleanup_json json_t *untagged = json_pack("[{s:s}]", "Untagged", "busybox:latest");
  assert_true(json_equal(forced, untagged));
  cleanup_free char *still = image_store_resolve(f->store, id, NULL);
  assert_non_null(still);
  cleanup_json json_t *gone = image_store_remove(f->store, id, true, NULL, NULL, NULL);
  assert_int_equal(test_count_in(f->root, "layers"), 0);
}

static void test_prune_removes_dangling_only(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *tagged = import_busybox(f, "busybox");
  cleanup_free char *dangling =
      image_store_import(f->store, busybox(), NULL, NULL, "other", NULL);
  cleanup_json json_t *report = image_store_prune(f->store, false, NULL, NULL, NULL);
  json_t *deleted = json_object_get(report, "ImagesDeleted");
  assert_int_equal(json_array_size(deleted), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(deleted, 0), "Deleted")),
      dangling);
  cleanup_json json_t *none = image_store_prune(f->store, false, NULL, NULL, NULL);
  assert_true(json_is_null(json_object_get(none, "ImagesDeleted")));
  cleanup_json json_t *kept =
      image_store_prune(f->store, true, always_in_use, NULL, NULL);
  assert_true(json_is_null(json_object_get(kept, "ImagesDeleted")));
  cleanup_json json_t *all = image_store_prune(f->store, true, NULL, NULL, NULL);
  assert_true(json_integer_value(json_object_get(all, "SpaceReclaimed")) > 1000000);
  assert_int_equal(test_count_in(f->root, "layers"), 0);
}

/* ---- save and load ---- */

static int save_to_file(struct fixture *f, const char *const *names)
{
  char path[] = "/tmp/skiff-save-XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  skiff_error_t *err = NULL;
  if (image_store_save(f->store, names, fd, &err) < 0)
    fail_msg("save: %s", err->msg);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static void test_save_then_load_into_fresh_store_keeps_id(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  assert_int_equal(image_store_tag(f->store, "busybox", "busybox", "v2", NULL), 0);
  const char *names[] = {"busybox", NULL}; /* a bare name: every tag */
  cleanup_close int tar = save_to_file(f, names);
  cleanup_free char *root2 = test_tmpdir();
  struct image_store *fresh = image_store_open(root2, NULL);
  skiff_error_t *err = NULL;
  cleanup_json json_t *lines = image_store_load(fresh, tar, &err);
  if (lines == NULL)
    fail_msg("load: %s", err->msg);
  assert_int_equal(json_array_size(lines), 2);
  assert_non_null(
      strstr(json_string_value(json_array_get(lines, 0)), "Loaded image: busybox:"));
  cleanup_free char *loaded = image_store_resolve(fresh, "busybox:v2", NULL);
  assert_string_equal(loaded, id);
  assert_int_equal(test_count_in(root2, "tmp"), 0);
  image_store_close(fresh);
  test_rmdir(steal_pointer(&root2));
}

/* Copy an archive without the entry named skip (to make an OCI-only one). */
static int copy_without(int fd, const char *skip)
{
  char path[] = "/tmp/skiff-copy-XXXXXX";
  int out = mkstemp(path);
  unlink(path);
  struct archive *in = archive_read_new(), *w = archive_write_new();
  archive_read_support_format_tar(in);
  archive_read_open_fd(in, fd, 65536);
  archive_write_set_format_pax_restricted(w);
  archive_write_open_fd(w, out);
  struct archive_entry *e;
  char buf[65536];
  while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
    if (strcmp(archive_entry_pathname(e), skip) == 0)
      continue;
    archive_write_header(w, e);
    la_ssize_t n;
    while ((n = archive_read_data(in, buf, sizeof buf)) > 0)
      archive_write_data(w, buf, (size_t)n);
  }
  archive_read_free(in);
  archive_write_free(w);
  lseek(out, 0, SEEK_SET);
  return out;
}

static void test_load_reads_oci_layout(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "localhost:5000/bb:oci");
  const char *names[] = {id, "localhost:5000/bb:oci", NULL};
  cleanup_close int tar = save_to_file(f, names);
  cleanup_close int oci = copy_without(tar, "manifest.json");
  cleanup_json json_t *gone = image_store_remove(f->store, id, true, NULL, NULL, NULL);
  skiff_error_t *err = NULL;
  cleanup_json json_t *lines = image_store_load(f->store, oci, &err);
  if (lines == NULL)
    fail_msg("load: %s", err->msg);
  cleanup_free char *loaded =
      image_store_resolve(f->store, "localhost:5000/bb:oci", NULL);
  assert_string_equal(loaded, id);
}

/* A docker archive whose layer is not the one its config names. */
static int archive_with_wrong_layer(void)
{
  static const struct tar_item layer_a[] = {{'f', "a", "a", 0}, {0}};
  static const struct tar_item layer_b[] = {{'f', "b", "b", 0}, {0}};
  int fa = test_tar_fd(layer_a, 0), fb = test_tar_fd(layer_b, 0);
  char buf[8192], diff_a[DIGEST_STR_LEN], config_digest[DIGEST_STR_LEN];
  ssize_t na = pread(fa, buf, sizeof buf, 0);
  digest_of(buf, (size_t)na, diff_a);
  char *config = NULL, *manifest = NULL;
  assert_true(asprintf(&config,
                       "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
                       "{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                       diff_a) > 0);
  digest_of(config, strlen(config), config_digest);
  assert_true(asprintf(&manifest,
                       "[{\"Config\":\"%s.json\",\"RepoTags\":[\"evil:1\"],"
                       "\"Layers\":[\"l/layer.tar\"]}]",
                       config_digest + 7) > 0);
  char config_name[128], layer_b_bytes[8192];
  snprintf(config_name, sizeof config_name, "%s.json", config_digest + 7);
  ssize_t nb = pread(fb, layer_b_bytes, sizeof layer_b_bytes, 0);
  layer_b_bytes[nb] = '\0';
  close(fa), close(fb);
  /* test_tar_fd takes strings: tar bytes have NULs, so write them raw. */
  char path[] = "/tmp/skiff-evil-XXXXXX";
  int out = mkstemp(path);
  unlink(path);
  struct archive *w = archive_write_new();
  archive_write_set_format_pax_restricted(w);
  archive_write_open_fd(w, out);
  const struct {
    const char *name;
    const void *data;
    size_t len;
  } files[] = {{config_name, config, strlen(config)},
               {"l/layer.tar", layer_b_bytes, (size_t)nb},
               {"manifest.json", manifest, strlen(manifest)}};
  for (size_t i = 0; i < 3; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, files[i].name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)files[i].len);
    archive_write_header(w, e);
    archive_write_data(w, files[i].data, files[i].len);
    archive_entry_free(e);
  }
  archive_write_free(w);
  free(config), free(manifest);
  lseek(out, 0, SEEK_SET);
  return out;
}

static void test_load_rejects_wrong_layer_and_leaves_nothing(void **state)
{
  struct fixture *f = *state;
  cleanup_close int tar = archive_with_wrong_layer();
  skiff_error_t *err = NULL;
  assert_null(image_store_load(f->store, tar, &err));
  assert_int_equal(err->status, EINVAL);
  assert_non_null(strstr(err->msg, "invalid diffID for layer 0"));
  skiff_error_free(&err);
  cleanup_close int garbage = test_bytes_fd("not an archive at all, no no no", 31);
  assert_null(image_store_load(f->store, garbage, &err));
  assert_int_equal(err->status, EINVAL);
  skiff_error_free(&err);
  static const struct tar_item unrelated[] = {{'f', "hello.txt", "hi", 0}, {0}};
  cleanup_close int plain = test_tar_fd(unrelated, 0);
  assert_null(image_store_load(f->store, plain, &err));
  assert_non_null(strstr(err->msg, "neither manifest.json nor index.json"));
  skiff_error_free(&err);
  assert_int_equal(test_count_in(f->root, "images"), 0);
  assert_int_equal(test_count_in(f->root, "layers"), 0);
  assert_int_equal(test_count_in(f->root, "tmp"), 0);
}

/* ---- persistence and concurrency ---- */

static void test_reopen_keeps_images_and_tags(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  image_store_close(f->store);
  f->store = image_store_open(f->root, NULL);
  cleanup_free char *again = image_store_resolve(f->store, "busybox", NULL);
  assert_string_equal(again, id);
}

struct import_job {
  struct fixture *f;
  int fd;
  char tag[16];
  char *id;
};

static void *import_thread(void *arg)
{
  struct import_job *job = arg;
  job->id = image_store_import(job->f->store, job->fd, job->tag, NULL, "same", NULL);
  return NULL;
}

static void test_concurrent_imports_share_one_layer(void **state)
{
  struct fixture *f = *state;
  struct import_job jobs[4];
  pthread_t threads[4];
  busybox();
  for (int i = 0; i < 4; i++) {
    jobs[i] = (struct import_job){.f = f};
    snprintf(jobs[i].tag, sizeof jobs[i].tag, "c:%d", i);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", busybox_fd);
    jobs[i].fd = open(path, O_RDONLY); /* its own offset */
    pthread_create(&threads[i], NULL, import_thread, &jobs[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    assert_non_null(jobs[i].id);
    close(jobs[i].fd);
    free(jobs[i].id);
  }
  assert_int_equal(test_count_in(f->root, "layers"), 1);
  cleanup_json json_t *list = image_store_list(f->store, false, NULL, NULL);
  assert_true(json_array_size(list) >= 1);
}

/* ---- snapshots ---- */

static void test_snapshot_mounts_layers_and_reports_changes(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *id = import_busybox(f, "busybox");
  char dir[2048], target[2048], path[4096];
  snprintf(dir, sizeof dir, "%s/containers/c1", f->root);
  snprintf(target, sizeof target, "%s/containers/c1/rootfs", f->root);
  skiff_error_t *err = NULL;
  assert_int_equal(fs_mkdir_p(target, 0755, NULL), 0);
  if (image_snapshot_prepare(f->store, id, dir, FS_WRITE_DURABLE, &err) < 0)
    fail_msg("prepare: %s", err->msg);
  if (image_snapshot_mount(dir, target, 0, &err) < 0)
    fail_msg("mount: %s", err->msg);
  snprintf(path, sizeof path, "%s/etc/passwd", target);
  cleanup_free char *passwd = fs_read_file(path, NULL, NULL);
  bool read_ok = passwd && strncmp(passwd, "root:x:0:0", 10) == 0;
  snprintf(path, sizeof path, "%s/newfile", target);
  bool wrote = fs_write_file_atomic(path, "x", 1, 0644, 0, NULL) == 0;
  snprintf(path, sizeof path, "%s/etc/group", target);
  bool removed = unlink(path) == 0;
  snprintf(path, sizeof path, "%s/etc/passwd", target);
  bool modified =
      fs_write_file_atomic(path, "root:x:0:0::/:/bin/sh\n", 22, 0644, 0, NULL) == 0;
  assert_int_equal(image_snapshot_unmount(target, NULL), 0); /* before any assert */
  assert_int_equal(image_snapshot_unmount(target, NULL), 0); /* not mounted: fine */
  assert_true(read_ok && wrote && removed && modified);
  cleanup_json json_t *changes = image_snapshot_changes(dir, NULL);
  cleanup_json json_t *expected = json_loads(
      "[{\"Path\":\"/etc\",\"Kind\":0},{\"Path\":\"/etc/group\",\"Kind\":2},"
      "{\"Path\":\"/etc/passwd\",\"Kind\":0},{\"Path\":\"/newfile\",\"Kind\":1}]",
      0, NULL);
  if (!json_equal(changes, expected))
    fail_msg("changes: %s", json_dumps(changes, JSON_COMPACT));
  assert_true(image_snapshot_size(dir) >= 23);
}

/* A snapshot of busybox in <root>/containers/<name>, mounted on target
 * (<root>/mnt/<name>/rootfs). */
static void mount_snapshot(struct fixture *f, const char *name, unsigned flags,
                           char *dir, char *target, size_t len)
{
  cleanup_free char *id = import_busybox(f, "busybox");
  snprintf(dir, len, "%s/containers/%s", f->root, name);
  snprintf(target, len, "%s/mnt/%s/rootfs", f->root, name);
  skiff_error_t *err = NULL;
  assert_int_equal(fs_mkdir_p(target, 0755, NULL), 0);
  if (image_snapshot_prepare(f->store, id, dir, 0, &err) < 0)
    fail_msg("prepare: %s", err->msg);
  if (image_snapshot_mount(dir, target, flags, &err) < 0)
    fail_msg("mount: %s", err->msg);
}

static void test_volatile_snapshot_mounts_again_with_its_changes(void **state)
{
  struct fixture *f = *state;
  char dir[2048], target[2048], path[4096];
  mount_snapshot(f, "c2", IMAGE_SNAPSHOT_VOLATILE, dir, target, sizeof dir);
  snprintf(path, sizeof path, "%s/kept", target);
  bool wrote = fs_write_file_atomic(path, "x", 1, 0644, 0, NULL) == 0;
  assert_int_equal(image_snapshot_unmount(target, NULL), 0);
  assert_true(wrote);
  /* overlayfs refuses the work dir a volatile mount used, unless cleared */
  skiff_error_t *err = NULL;
  if (image_snapshot_mount(dir, target, IMAGE_SNAPSHOT_VOLATILE, &err) < 0)
    fail_msg("mount again: %s", err->msg);
  cleanup_free char *kept = fs_read_file(path, NULL, NULL);
  assert_int_equal(image_snapshot_unmount(target, NULL), 0);
  assert_non_null(kept);
  assert_string_equal(kept, "x");
}

static void test_remove_tree_leaves_a_mounted_snapshot_alone(void **state)
{
  struct fixture *f = *state;
  char dir[2048], target[2048], path[4096], top[2048];
  mount_snapshot(f, "c3", 0, dir, target, sizeof dir);
  snprintf(top, sizeof top, "%s/mnt/c3", f->root);
  skiff_error_t *err = NULL;
  int removed = fs_remove_tree(top, &err); /* would delete through the mount */
  snprintf(path, sizeof path, "%s/bin/busybox", target);
  bool intact = access(path, F_OK) == 0;
  assert_int_equal(image_snapshot_unmount(target, NULL), 0); /* before any assert */
  assert_int_equal(removed, -1);
  assert_int_equal(err->status, EBUSY);
  skiff_error_free(&err);
  assert_true(intact);
  assert_int_equal(fs_remove_tree(top, NULL), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_import_lists_inspects_and_lays_out_disk),
      T(test_import_applies_changes_and_message),
      T(test_bad_import_leaves_nothing),
      T(test_tag_and_resolve_by_every_kind_of_name),
      T(test_list_filters),
      T(test_remove_untags_then_deletes_with_layers),
      T(test_remove_conflicts_as_docker),
      T(test_prune_removes_dangling_only),
      T(test_save_then_load_into_fresh_store_keeps_id),
      T(test_load_reads_oci_layout),
      T(test_load_rejects_wrong_layer_and_leaves_nothing),
      T(test_reopen_keeps_images_and_tags),
      T(test_concurrent_imports_share_one_layer),
      T(test_snapshot_mounts_layers_and_reports_changes),
      T(test_volatile_snapshot_mounts_again_with_its_changes),
      T(test_remove_tree_leaves_a_mounted_snapshot_alone),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
