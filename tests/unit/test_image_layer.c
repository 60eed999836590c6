/* Layer tars: unpacking, whiteouts, the diff_id, and every way a tar may
 * try to write outside its layer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "image/image_internal.h"
#include "image_test_util.h"

static int setup(void **state)
{
  *state = test_tmpdir();
  return 0;
}

static int teardown(void **state)
{
  test_rmdir(*state);
  return 0;
}

static void sha256_fd(int fd, char out[DIGEST_STR_LEN])
{
  struct stat st;
  fstat(fd, &st);
  char *buf = malloc((size_t)st.st_size + 1);
  assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
  digest_of(buf, (size_t)st.st_size, out);
  free(buf);
}

static char *in_diff(const struct layer_unpacked *u, const char *rel)
{
  char *p = NULL;
  assert_true(asprintf(&p, "%s/diff/%s", u->dir, rel) > 0);
  return p;
}

static const struct tar_item basic[] = {
    {'d', "./etc", NULL, 0755},
    {'f', "./etc/hostname", "box\n", 0644},
    {'f', "bin/tool", "#!/bin/sh\n", 04755},
    {'l', "bin/sh", "/bin/busybox", 0},
    {'h', "bin/tool2", "bin/tool", 0},
    {0},
};

static void test_unpack_writes_files_and_diff_id_is_sha256_of_tar(void **state)
{
  cleanup_close int fd = test_tar_fd(basic, 0);
  char expected[DIGEST_STR_LEN];
  sha256_fd(fd, expected);
  struct layer_unpacked u;
  skiff_error_t *err = NULL;
  if (layer_unpack(*state, fd, &u, &err) < 0)
    fail_msg("%s", err->msg);
  assert_string_equal(u.diff_id, expected);
  assert_int_equal(u.size,
                   4 + 10 + 12); /* files and symlink targets, as docker counts */
  cleanup_free char *host = in_diff(&u, "etc/hostname");
  cleanup_free char *content = fs_read_file(host, NULL, NULL);
  assert_string_equal(content, "box\n");
  struct stat st, st2;
  cleanup_free char *tool = in_diff(&u, "bin/tool"), *tool2 = in_diff(&u, "bin/tool2");
  assert_int_equal(stat(tool, &st), 0);
  assert_int_equal(st.st_mode & 07777, 04755);
  assert_int_equal(st.st_mtime, 1700000000);
  assert_int_equal(stat(tool2, &st2), 0);
  assert_int_equal(st.st_ino, st2.st_ino);
  cleanup_free char *sh = in_diff(&u, "bin/sh");
  char target[64] = {0};
  assert_true(readlink(sh, target, sizeof target) > 0);
  assert_string_equal(target, "/bin/busybox");
  /* The uncompressed tar is kept, byte for byte, to become the blob. */
  cleanup_close int kept = open(u.tar_path, O_RDONLY);
  char again[DIGEST_STR_LEN];
  sha256_fd(kept, again);
  assert_string_equal(again, expected);
  layer_unpacked_discard(&u);
}

static void test_gzip_layer_has_diff_id_of_uncompressed_tar(void **state)
{
  cleanup_close int plain = test_tar_fd(basic, 0);
  char expected[DIGEST_STR_LEN];
  sha256_fd(plain, expected);
  /* gzip exactly those bytes (raw format: the data of one entry). */
  struct stat st;
  fstat(plain, &st);
  char *buf = malloc((size_t)st.st_size);
  assert_int_equal(pread(plain, buf, (size_t)st.st_size, 0), st.st_size);
  char path[] = "/tmp/skiff-gz-XXXXXX";
  cleanup_close int gz = mkstemp(path);
  unlink(path);
  struct archive *a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_gzip(a);
  archive_write_open_fd(a, gz);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, buf, (size_t)st.st_size);
  archive_entry_free(e);
  archive_write_free(a);
  free(buf);
  lseek(gz, 0, SEEK_SET);
  struct layer_unpacked u;
  assert_int_equal(layer_unpack(*state, gz, &u, NULL), 0);
  assert_string_equal(u.diff_id, expected);
  layer_unpacked_discard(&u);
}

static void test_whiteouts_become_overlay_whiteouts(void **state)
{
  static const struct tar_item items[] = {
      {'f', ".wh.gone", "", 0},
      {'d', "dir", NULL, 0755},
      {'f', "dir/.wh..wh..opq", "", 0},
      {'f', "dir/kept", "k", 0},
      {0},
  };
  cleanup_close int fd = test_tar_fd(items, 0);
  struct layer_unpacked u;
  skiff_error_t *err = NULL;
  if (layer_unpack(*state, fd, &u, &err) < 0)
    fail_msg("%s", err->msg);
  cleanup_free char *gone = in_diff(&u, "gone"), *marker = in_diff(&u, ".wh.gone");
  struct stat st;
  assert_int_equal(lstat(gone, &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(st.st_rdev, makedev(0, 0));
  assert_int_equal(lstat(marker, &st), -1);
  cleanup_free char *dir = in_diff(&u, "dir"), *opq = in_diff(&u, "dir/.wh..wh..opq");
  char value[4] = {0};
  if (geteuid() == 0) {
    assert_int_equal(getxattr(dir, "trusted.overlay.opaque", value, sizeof value), 1);
    assert_string_equal(value, "y");
  }
  assert_int_equal(lstat(opq, &st), -1);
  layer_unpacked_discard(&u);
}

/* Each of these must fail with EINVAL, write nothing outside the layer and
 * leave nothing in tmp. */
static void expect_refused(const char *tmp, const struct tar_item *items,
                           const char *what)
{
  cleanup_close int fd = test_tar_fd(items, 0);
  struct layer_unpacked u;
  skiff_error_t *err = NULL;
  if (layer_unpack(tmp, fd, &u, &err) == 0)
    fail_msg("%s: accepted", what);
  assert_int_equal(err->status, EINVAL);
  assert_non_null(strstr(err->msg, "invalid layer tar"));
  skiff_error_free(&err);
  assert_int_equal(test_count_entries(tmp), 0);
}

static void test_paths_leaving_the_layer_are_refused(void **state)
{
  char outside[64];
  snprintf(outside, sizeof outside, "%s-outside", (char *)*state);
  mkdir(outside, 0755);
  char escape[128], rel[256];
  snprintf(escape, sizeof escape, "%s/pwned", outside);
  snprintf(rel, sizeof rel, "../../../../..%s", escape);
  const struct tar_item absolute[] = {{'f', escape, "x", 0}, {0}};
  const struct tar_item dotdot[] = {{'f', rel, "x", 0}, {0}};
  const struct tar_item inner_dotdot[] = {
      {'d', "a", NULL, 0}, {'f', "a/../../x", "x", 0}, {0}};
  const struct tar_item via_symlink[] = {
      {'l', "a", outside, 0}, {'f', "a/pwned", "x", 0}, {0}};
  const struct tar_item via_rel_symlink[] = {
      {'l', "a", "../../../../../../", 0}, {'f', "a/tmp/pwned", "x", 0}, {0}};
  const struct tar_item link_out[] = {{'h', "x", "../../../../etc/passwd", 0}, {0}};
  const struct tar_item link_abs[] = {{'h', "x", "/etc/passwd", 0}, {0}};
  const struct tar_item link_via_symlink[] = {
      {'l', "s", "/etc", 0}, {'h', "x", "s/passwd", 0}, {0}};
  expect_refused(*state, absolute, "absolute path");
  expect_refused(*state, dotdot, "leading ..");
  expect_refused(*state, inner_dotdot, "inner ..");
  expect_refused(*state, via_symlink, "write through a symlink");
  expect_refused(*state, via_rel_symlink, "write through a relative symlink");
  expect_refused(*state, link_out, "hard link out");
  expect_refused(*state, link_abs, "hard link to an absolute path");
  expect_refused(*state, link_via_symlink, "hard link through a symlink");
  struct stat st;
  assert_int_equal(lstat(escape, &st), -1);
  assert_int_equal(test_count_entries(outside), 0);
  rmdir(outside);
}

static void test_corrupt_input_is_refused_and_leaves_nothing(void **state)
{
  cleanup_close int garbage =
      test_bytes_fd("this is not a tar archive at all, not even close", 49);
  cleanup_close int empty = test_bytes_fd("", 0);
  struct layer_unpacked u;
  skiff_error_t *err = NULL;
  assert_int_equal(layer_unpack(*state, garbage, &u, &err), -1);
  assert_int_equal(err->status, EINVAL);
  skiff_error_free(&err);
  assert_int_equal(layer_unpack(*state, empty, &u, &err), -1);
  skiff_error_free(&err);
  /* A tar cut in the middle of a file's data. */
  const struct tar_item big[] = {
      {'f', "f", "0123456789012345678901234567890123456789", 0}, {0}};
  cleanup_close int whole = test_tar_fd(big, 0);
  char buf[600];
  assert_int_equal(pread(whole, buf, sizeof buf, 0), sizeof buf);
  cleanup_close int cut = test_bytes_fd(buf, 520);
  assert_int_equal(layer_unpack(*state, cut, &u, &err), -1);
  assert_int_equal(err->status, EINVAL);
  skiff_error_free(&err);
  assert_int_equal(test_count_entries(*state), 0);
}

static void test_later_entries_replace_earlier_ones(void **state)
{
  static const struct tar_item items[] = {
      {'d', "a", NULL, 0},  {'f', "a/f", "1", 0}, {'f', "a", "now a file", 0},
      {'f', "b", "old", 0}, {'f', "b", "new", 0}, {0},
  };
  cleanup_close int fd = test_tar_fd(items, 0);
  struct layer_unpacked u;
  skiff_error_t *err = NULL;
  if (layer_unpack(*state, fd, &u, &err) < 0)
    fail_msg("%s", err->msg);
  cleanup_free char *a = in_diff(&u, "a"), *b = in_diff(&u, "b");
  cleanup_free char *ta = fs_read_file(a, NULL, NULL),
                    *tb = fs_read_file(b, NULL, NULL);
  assert_string_equal(ta, "now a file");
  assert_string_equal(tb, "new");
  layer_unpacked_discard(&u);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_unpack_writes_files_and_diff_id_is_sha256_of_tar, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gzip_layer_has_diff_id_of_uncompressed_tar,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_whiteouts_become_overlay_whiteouts, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_paths_leaving_the_layer_are_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_input_is_refused_and_leaves_nothing,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_later_entries_replace_earlier_ones, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
