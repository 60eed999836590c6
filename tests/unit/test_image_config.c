/* `docker import --change` instructions applied to a container config,
 * table-driven; the expectations are what dockerd stores. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "image/image_internal.h"

static const struct {
  const char *change, *field, *expected_json;
} cases[] = {
    {"CMD [\"sh\"]", "Cmd", "[\"sh\"]"},
    {"CMD echo hi", "Cmd", "[\"/bin/sh\", \"-c\", \"echo hi\"]"},
    {"cmd [\"a\", \"b c\"]", "Cmd", "[\"a\", \"b c\"]"},
    {"ENTRYPOINT [\"/bin/init\"]", "Entrypoint", "[\"/bin/init\"]"},
    {"ENV A=b C=d", "Env", "[\"A=b\", \"C=d\"]"},
    {"ENV A b c", "Env", "[\"A=b c\"]"},
    {"ENV A=\"x y\" B='$q' C=\\$z", "Env", "[\"A=x y\", \"B=$q\", \"C=$z\"]"},
    {"LABEL a=b \"c d\"=e", "Labels", "{\"a\": \"b\", \"c d\": \"e\"}"},
    {"EXPOSE 80 53/udp 8000-8001", "ExposedPorts",
     "{\"80/tcp\": {}, \"53/udp\": {}, \"8000/tcp\": {}, \"8001/tcp\": {}}"},
    {"VOLUME /data /x", "Volumes", "{\"/data\": {}, \"/x\": {}}"},
    {"VOLUME [\"/data\"]", "Volumes", "{\"/data\": {}}"},
    {"USER nobody", "User", "\"nobody\""},
    {"WORKDIR rel", "WorkingDir", "\"/rel\""},
    {"WORKDIR /a/../b/./c/", "WorkingDir", "\"/b/c\""},
    {"ONBUILD RUN make", "OnBuild", "[\"RUN make\"]"},
    {"STOPSIGNAL SIGTERM", "StopSignal", "\"SIGTERM\""},
    {"HEALTHCHECK NONE", "Healthcheck", "{\"Test\": [\"NONE\"]}"},
    {"HEALTHCHECK --interval=30s --retries=3 CMD curl -f x", "Healthcheck",
     "{\"Interval\": 30000000000, \"Retries\": 3, \"Test\": [\"CMD-SHELL\", \"curl -f "
     "x\"]}"},
};

static const struct {
  const char *change, *message;
} bad[] = {
    {"RUN make", "run is not a valid change command"},
    {"FROM x", "from is not a valid change command"},
    {"ENV", "ENV requires at least one argument"},
    {"ENV A=b C",
     "Syntax error - can't find = in \"C\". Must be of the form: name=value"},
    {"ENV =b", "ENV names can not be blank"},
    {"EXPOSE http", "invalid containerPort: http"},
    {"EXPOSE 80/icmp", "invalid proto: icmp"},
    {"EXPOSE 70000", "invalid containerPort: 70000"},
    {"VOLUME [\"\"]", "VOLUME specified can not be an empty string"},
    {"USER", "USER requires exactly one argument"},
    {"WORKDIR", "WORKDIR requires exactly one argument"},
    {"ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
    {"STOPSIGNAL NOPE", "Invalid signal: NOPE"},
    {"ENV A=\"unterminated", "ENV requires at least one argument"},
};

static void test_changes_set_docker_fields(void **state)
{
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cleanup_json json_t *cfg = json_object();
    const char *changes[] = {cases[i].change, NULL};
    skiff_error_t *err = NULL;
    if (config_apply_changes(cfg, changes, &err) < 0)
      fail_msg("%s: %s", cases[i].change, err->msg);
    cleanup_json json_t *expected =
        json_loads(cases[i].expected_json, JSON_DECODE_ANY, NULL);
    json_t *got = json_object_get(cfg, cases[i].field);
    if (!json_equal(got, expected)) {
      char *text = json_dumps(got, JSON_ENCODE_ANY);
      fail_msg("%s: got %s", cases[i].change, text);
    }
  }
}

static void test_bad_changes_are_rejected(void **state)
{
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    const char *changes[] = {bad[i].change, NULL};
    skiff_error_t *err = NULL;
    if (config_check_changes(changes, &err) == 0)
      fail_msg("%s: accepted", bad[i].change);
    assert_int_equal(err->status, EINVAL);
    if (strcmp(err->msg, bad[i].message) != 0)
      fail_msg("%s: message %s", bad[i].change, err->msg);
    skiff_error_free(&err);
  }
}

static void test_env_expands_earlier_values_and_replaces_keys(void **state)
{
  cleanup_json json_t *cfg = json_object();
  const char *changes[] = {"ENV A=1", "ENV B=${A}2 C=${NOPE:-d}", "ENV A=3", NULL};
  assert_int_equal(config_apply_changes(cfg, changes, NULL), 0);
  cleanup_json json_t *expected = json_pack("[s,s,s]", "A=3", "B=12", "C=d");
  assert_true(json_equal(json_object_get(cfg, "Env"), expected));
}

static void test_workdir_is_relative_to_previous(void **state)
{
  cleanup_json json_t *cfg = json_object();
  const char *changes[] = {"WORKDIR /app", "WORKDIR src", NULL};
  assert_int_equal(config_apply_changes(cfg, changes, NULL), 0);
  assert_string_equal(json_string_value(json_object_get(cfg, "WorkingDir")),
                      "/app/src");
}

static void test_import_config_has_docker_shape(void **state)
{
  const char *diff =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const char *changes[] = {"EXPOSE 80", NULL};
  cleanup_json json_t *c = config_new_import(diff, changes, NULL, NULL);
  assert_non_null(c);
  assert_string_equal(json_string_value(json_object_get(c, "comment")),
                      "Imported from -");
  assert_string_equal(json_string_value(json_object_get(c, "os")), "linux");
  cleanup_free char *text = json_dumps(c, JSON_COMPACT);
  /* Top-level keys sorted; ExposedPorts placed as Go marshals it. */
  assert_non_null(strstr(text, "{\"architecture\":"));
  assert_non_null(
      strstr(text, "\"AttachStderr\":false,\"ExposedPorts\":{\"80/tcp\":{}},\"Tty\""));
  assert_non_null(
      strstr(text, "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:0123"));
  char **ids = NULL;
  size_t n = 0;
  assert_int_equal(config_diff_ids(c, &ids, &n, NULL), 0);
  assert_int_equal(n, 1);
  assert_string_equal(ids[0], diff);
  free(ids[0]);
  free(ids);
}

static void test_diff_ids_must_be_digests(void **state)
{
  cleanup_json json_t *c =
      json_loads("{\"rootfs\": {\"diff_ids\": [\"sha256:zz\"]}}", 0, NULL);
  char **ids = NULL;
  size_t n = 0;
  skiff_error_t *err = NULL;
  assert_int_equal(config_diff_ids(c, &ids, &n, &err), -1);
  assert_string_equal(err->msg,
                      "image config: rootfs.diff_ids[0] is not a sha256 digest");
  skiff_error_free(&err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_changes_set_docker_fields),
      cmocka_unit_test(test_bad_changes_are_rejected),
      cmocka_unit_test(test_env_expands_earlier_values_and_replaces_keys),
      cmocka_unit_test(test_workdir_is_relative_to_previous),
      cmocka_unit_test(test_import_config_has_docker_shape),
      cmocka_unit_test(test_diff_ids_must_be_digests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
