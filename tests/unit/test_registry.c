/* The registry client's parsers, table-driven: references split for the
 * registry, --platform values, platform selection in an index, manifest
 * checks, the X-Registry-Auth header and the URLs of a repository. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/base64.h"
#include "registry/registry_internal.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_ref_parse(void **state)
{
  static const struct {
    const char *in, *host, *path, *tag, *digest;
  } cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", NULL},
      {"user/app:v1", "docker.io", "user/app", "v1", NULL},
      {"127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", NULL},
      {"localhost/x:t", "localhost", "x", "t", NULL},
      {"h.io/x@sha256:" D64, "h.io", "x", NULL, "sha256:" D64},
      {"h:5/x:t@sha256:" D64, "h:5", "x", "t", "sha256:" D64},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct registry_ref r;
    skiff_error_t *err = NULL;
    assert_int_equal(registry_ref_parse(cases[i].in, &r, &err), 0);
    assert_string_equal(r.host, cases[i].host);
    assert_string_equal(r.path, cases[i].path);
    if (cases[i].tag)
      assert_string_equal(r.tag, cases[i].tag);
    else
      assert_null(r.tag);
    if (cases[i].digest)
      assert_string_equal(r.digest, cases[i].digest);
    else
      assert_null(r.digest);
    registry_ref_clear(&r);
  }
  struct registry_ref r;
  skiff_error_t *err = NULL;
  assert_int_equal(registry_ref_parse("Bad/Name", &r, &err), -1);
  assert_non_null(strstr(err->msg, "must be lowercase"));
  skiff_error_free(&err);
}

static void test_platform_parse(void **state)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"linux/amd64", "linux/amd64"},   {"linux/arm64/v8", "linux/arm64"},
      {"linux/aarch64", "linux/arm64"}, {"linux/x86_64", "linux/amd64"},
      {"linux/arm/v7", "linux/arm/v7"}, {"LINUX/ARM64", "linux/arm64"},
      {"arm64", "linux/arm64"},         {"linux/armhf", "linux/arm/v7"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct registry_platform p;
    skiff_error_t *err = NULL;
    assert_int_equal(registry_platform_parse(cases[i].in, &p, &err), 0);
    char *text = registry_platform_format(&p);
    assert_string_equal(text, cases[i].out);
    free(text);
    registry_platform_clear(&p);
  }
  struct registry_platform p;
  skiff_error_t *err = NULL;
  assert_int_equal(registry_platform_parse("a/b/c/d", &p, &err), -1);
  assert_non_null(strstr(err->msg, "invalid platform"));
  skiff_error_free(&err);
  registry_platform_clear(&p);
}

static json_t *two_platform_index(void)
{
  return json_pack(
      "{s:i, s:[{s:s, s:{s:s, s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}]}",
      "schemaVersion", 2, "manifests", "digest", "sha256:arm", "platform", "os",
      "linux", "architecture", "arm64", "variant", "v8", "digest", "sha256:amd",
      "platform", "os", "linux", "architecture", "amd64", "digest", "sha256:att",
      "platform", "os", "unknown", "architecture", "unknown");
}

static void test_index_select(void **state)
{
  json_t *index = two_platform_index();
  static const struct {
    const char *want, *digest;
  } cases[] = {{"linux/amd64", "sha256:amd"},
               {"linux/arm64", "sha256:arm"},
               {"linux/arm64/v8", "sha256:arm"},
               {"linux/s390x", NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct registry_platform p;
    skiff_error_t *err = NULL;
    assert_int_equal(registry_platform_parse(cases[i].want, &p, &err), 0);
    json_t *desc = registry_index_select(index, &p, &err);
    if (cases[i].digest) {
      assert_string_equal(json_string_value(json_object_get(desc, "digest")),
                          cases[i].digest);
    } else {
      assert_null(desc);
      assert_non_null(strstr(err->msg, "no matching manifest for linux/s390x"));
      skiff_error_free(&err);
    }
    registry_platform_clear(&p);
  }
  assert_true(registry_is_index(NULL, index));
  json_decref(index);
}

static void test_manifest_check(void **state)
{
  json_t *good = json_pack("{s:i, s:{s:s}, s:[{s:s}]}", "schemaVersion", 2, "config",
                           "digest", "sha256:" D64, "layers", "digest", "sha256:" D64);
  skiff_error_t *err = NULL;
  assert_int_equal(registry_manifest_check(good, MEDIA_OCI_MANIFEST, &err), 0);
  json_t *v1 = json_pack("{s:i}", "schemaVersion", 1);
  assert_int_equal(registry_manifest_check(v1, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "schema 1"));
  skiff_error_free(&err);
  json_t *bad = json_pack("{s:i, s:{s:s}, s:[{s:s}]}", "schemaVersion", 2, "config",
                          "digest", "sha256:" D64, "layers", "digest", "md5:x");
  assert_int_equal(registry_manifest_check(bad, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "layer 0"));
  skiff_error_free(&err);
  json_decref(good);
  json_decref(v1);
  json_decref(bad);
}

static void test_auth_decode(void **state)
{
  const char *json =
      "{\"username\":\"u\",\"password\":\"p?>\",\"serveraddress\":\"h:5\"}";
  char *header = base64_encode(json, strlen(json), true);
  struct registry_auth a;
  skiff_error_t *err = NULL;
  assert_int_equal(registry_auth_decode(header, &a, &err), 0);
  assert_string_equal(a.username, "u");
  assert_string_equal(a.password, "p?>");
  assert_string_equal(a.server, "h:5");
  registry_auth_clear(&a);
  free(header);
  /* config.json's form: "auth" is base64 of user:password */
  const char *cfg = "{\"auth\":\"dXNlcjpwYTpzcw==\"}";
  header = base64_encode(cfg, strlen(cfg), true);
  assert_int_equal(registry_auth_decode(header, &a, &err), 0);
  assert_string_equal(a.username, "user");
  assert_string_equal(a.password, "pa:ss");
  registry_auth_clear(&a);
  free(header);
  /* empty and garbage headers are anonymous, as with dockerd */
  assert_int_equal(registry_auth_decode("", &a, &err), 0);
  assert_null(a.username);
  assert_int_equal(registry_auth_decode("!!!", &a, &err), 0);
  assert_null(a.username);
}

/* Go's texts, as dockerd prints them (several checked against a real one). */
static void test_x509_hostname_error(void **state)
{
  static const struct {
    const char *host, *san, *subject, *want;
  } cases[] = {
      {"192.0.2.1", "DNS:registry.example, IP Address:192.0.2.99", "CN = x",
       "x509: certificate is valid for 192.0.2.99, not 192.0.2.1"},
      {"192.0.2.1", "DNS:registry.example", "CN = x",
       "x509: cannot validate certificate for 192.0.2.1 because it doesn't contain any "
       "IP SANs"},
      {"192.0.2.1", NULL, "CN = 192.0.2.1",
       "x509: certificate relies on legacy Common Name field, use SANs instead"},
      {"reg.example", NULL, "C = US, O = Org, CN = *.EXAMPLE",
       "x509: certificate relies on legacy Common Name field, use SANs instead"},
      {"reg.example", NULL, "CN = other.example",
       "x509: certificate is not valid for any names, but wanted to match reg.example"},
      {"reg.example", "DNS:a.example, DNS:*.b.example, IP Address:10.0.0.1", "CN = a",
       "x509: certificate is valid for a.example, *.b.example, not reg.example"},
      {"reg.example", "IP Address:10.0.0.1, email:x@example", "CN = a",
       "x509: certificate is not valid for any names, but wanted to match reg.example"},
      {"::2", "IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:0:1", "",
       "x509: certificate is valid for ::1, fe80::1, not ::2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *text =
        registry_x509_hostname_error(cases[i].host, cases[i].san, cases[i].subject);
    assert_non_null(text);
    assert_string_equal(text, cases[i].want);
    free(text);
  }
}

static void test_x509_validity_error(void **state)
{
  struct tm tm = {.tm_year = 126,
                  .tm_mon = 10,
                  .tm_mday = 23,
                  .tm_hour = 17,
                  .tm_min = 16,
                  .tm_sec = 37};
  time_t now = timegm(&tm);
  char *text = registry_x509_validity_error(now, "Jan  1 00:00:00 2020 GMT",
                                            "Jan  2 00:00:00 2020 GMT");
  assert_string_equal(text,
                      "x509: certificate has expired or is not yet valid: current "
                      "time 2026-11-23T17:16:37Z is after 2020-01-02T00:00:00Z");
  free(text);
  text = registry_x509_validity_error(now, "Jan  1 00:00:00 2040 GMT",
                                      "Jan  2 00:00:00 2040 GMT");
  assert_string_equal(text,
                      "x509: certificate has expired or is not yet valid: current "
                      "time 2026-11-23T17:16:37Z is before 2040-01-01T00:00:00Z");
  free(text);
  assert_null(registry_x509_validity_error(now, "Nov 23 17:14:13 2026 GMT",
                                           "Nov 25 17:14:13 2026 GMT"));
  assert_null(
      registry_x509_validity_error(now, "yesterday", "Jan  2 00:00:00 2020 GMT"));
  assert_null(registry_x509_validity_error(now, NULL, NULL));
}

static void test_urls(void **state)
{
  (void)state;
  struct registry_client c = {.path = "library/busybox"};
  char *url = registry_url(&c, "blobs/%s", "sha256:" D64);
  assert_string_equal(url, "/v2/library/busybox/blobs/sha256:" D64);
  free(url);
  url = registry_url(&c, "manifests/%s", "a b?#%");
  assert_string_equal(url, "/v2/library/busybox/manifests/a%20b%3F%23%25");
  assert_int_equal(registry_url_add(&url, "mount", "sha256:" D64), 0);
  assert_int_equal(registry_url_add(&url, "from", "other/repo"), 0);
  assert_string_equal(url, "/v2/library/busybox/manifests/a%20b%3F%23%25"
                           "?mount=sha256%3A" D64 "&from=other%2Frepo");
  free(url);
  /* a Location that has a query of its own gets "&" */
  url = strdup("http://h:5000/v2/a/blobs/uploads/u?_state=x%3D");
  assert_int_equal(registry_url_add(&url, "digest", "sha256:" D64), 0);
  assert_string_equal(url, "http://h:5000/v2/a/blobs/uploads/u?_state=x%3D"
                           "&digest=sha256%3A" D64);
  free(url);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ref_parse),
      cmocka_unit_test(test_platform_parse),
      cmocka_unit_test(test_index_select),
      cmocka_unit_test(test_manifest_check),
      cmocka_unit_test(test_auth_decode),
      cmocka_unit_test(test_x509_hostname_error),
      cmocka_unit_test(test_x509_validity_error),
      cmocka_unit_test(test_urls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
