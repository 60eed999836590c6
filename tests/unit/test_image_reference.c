/* Image references with docker's normalisation rules, table-driven. The
 * expectations are what dockerd (distribution/reference) answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/image.h"
#include "image/image_internal.h"

static const struct {
  const char *in, *normalized, *familiar;
} valid[] = {
    {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
    {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"user/app:v1", "docker.io/user/app:v1", "user/app:v1"},
    {"library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"},
    {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
    {"localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"},
    {"registry.example.com/x", "registry.example.com/x:latest",
     "registry.example.com/x:latest"},
    {"Registry.Example.com/x", "Registry.Example.com/x:latest",
     "Registry.Example.com/x:latest"},
    {"[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest"},
    {"a.b_c__d-e--f", "docker.io/library/a.b_c__d-e--f:latest", "a.b_c__d-e--f:latest"},
    {"x:A_b.9-z", "docker.io/library/x:A_b.9-z", "x:A_b.9-z"},
    {"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "docker.io/library/"
     "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"h:5/a:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "h:5/a:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "h:5/a:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
};

static const struct {
  const char *in, *message;
} invalid[] = {
    {"", "invalid reference format: \"\""},
    {"Busybox",
     "invalid reference format: repository name (library/Busybox) must be lowercase"},
    {"user/App",
     "invalid reference format: repository name (user/App) must be lowercase"},
    {"a:b:c", "invalid reference format: \"a:b:c\""},
    {"a b", "invalid reference format: \"a b\""},
    {"-a", "invalid reference format: \"-a\""},
    {"a-", "invalid reference format: \"a-\""},
    {"a//b", "invalid reference format: \"a//b\""},
    {"a/", "invalid reference format: \"a/\""},
    {"a:", "invalid reference format: \"a:\""},
    {"a:.tag", "invalid reference format: \"a:.tag\""},
    {"a@sha256:abc", "invalid reference format: \"a@sha256:abc\""},
    {"a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "invalid reference format: "
     "\"a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\""},
    {"-h.com/a", "invalid reference format: \"-h.com/a\""},
    {"h.com:port/a", "invalid reference format: \"h.com:port/a\""},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "invalid repository name "
     "(0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), "
     "cannot specify 64-byte hexadecimal strings"},
};

static void test_normalize_follows_docker(void **state)
{
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
    skiff_error_t *err = NULL;
    char *norm = image_reference_normalize(valid[i].in, &err);
    if (norm == NULL)
      fail_msg("%s: %s", valid[i].in, err ? err->msg : "?");
    assert_string_equal(norm, valid[i].normalized);
    char *familiar = image_reference_familiar(norm);
    assert_string_equal(familiar, valid[i].familiar);
    free(familiar);
    free(norm);
  }
}

static void test_invalid_references_are_rejected_with_docker_messages(void **state)
{
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    skiff_error_t *err = NULL;
    char *norm = image_reference_normalize(invalid[i].in, &err);
    if (norm)
      fail_msg("%s: accepted as %s", invalid[i].in, norm);
    assert_non_null(err);
    assert_int_equal(err->status, EINVAL);
    assert_string_equal(err->msg, invalid[i].message);
    skiff_error_free(&err);
  }
}

static void test_name_longer_than_255_is_rejected(void **state)
{
  char name[300];
  memset(name, 'a', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  skiff_error_t *err = NULL;
  assert_null(image_reference_normalize(name, &err));
  assert_non_null(strstr(err->msg, "255"));
  skiff_error_free(&err);
}

static void test_split_gives_name_tag_and_digest(void **state)
{
  char *name, *tag, *digest;
  reference_split("localhost:5000/a/b:t@sha256:00", &name, &tag, &digest);
  assert_string_equal(name, "localhost:5000/a/b");
  assert_string_equal(tag, "t");
  assert_string_equal(digest, "sha256:00");
  free(name), free(tag), free(digest);
  reference_split("localhost:5000/a", &name, &tag, &digest);
  assert_string_equal(name, "localhost:5000/a");
  assert_null(tag);
  assert_null(digest);
  free(name);
}

static void test_id_prefixes(void **state)
{
  assert_true(reference_is_id_prefix("abc123"));
  assert_true(reference_is_id_prefix("sha256:abc"));
  assert_false(reference_is_id_prefix("busybox"));
  assert_false(reference_is_id_prefix("ABC"));
  assert_false(reference_is_id_prefix(""));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize_follows_docker),
      cmocka_unit_test(test_invalid_references_are_rejected_with_docker_messages),
      cmocka_unit_test(test_name_longer_than_255_is_rejected),
      cmocka_unit_test(test_split_gives_name_tag_and_digest),
      cmocka_unit_test(test_id_prefixes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
