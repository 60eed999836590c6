#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "runtime/caps.h"

#define BIT(cap) (UINT64_C(1) << (cap))

static json_t *parse(const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  if (j == NULL)
    fail_msg("bad test JSON: %s: %s", jerr.text, text);
  return j;
}

static struct caps_sets *parse_ok(const char *text, char **warnings)
{
  cleanup_json json_t *json = text ? parse(text) : NULL;
  struct caps_sets *sets = NULL;
  skiff_error_t *err = NULL;
  if (caps_parse(json, &sets, warnings, &err) < 0)
    fail_msg("parse failed: %s", err->msg);
  assert_non_null(sets);
  return sets;
}

/* The Cap* line of /proc/self/status as a mask, or UINT64_MAX. */
static uint64_t status_mask(const char *field)
{
  cleanup_fclose FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  size_t len = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, len) == 0 && line[len] == ':')
      return strtoull(line + len + 1, NULL, 16);
  return UINT64_MAX;
}

/* Fork; the child runs apply(sets) and exits 0 when the status field then
 * equals want. Returns the child's exit status (100: apply failed). */
static int apply_in_child(int (*apply)(const struct caps_sets *, skiff_error_t **),
                          const struct caps_sets *sets, const char *field,
                          uint64_t want_set, uint64_t want_clear)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (apply(sets, NULL) < 0)
      _exit(100);
    uint64_t got = status_mask(field);
    _exit((got & want_set) == want_set && (got & want_clear) == 0 ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void skip_unless_root(void)
{
  if (geteuid() != 0)
    skip();
}

/* ---- parsing ---- */

struct bad_caps {
  const char *json;
  const char *message;
};

static const struct bad_caps bad_caps[] = {
    {"[\"CAP_CHOWN\"]", "process.capabilities: expected object, got array"},
    {"{\"bounding\": \"CAP_CHOWN\"}",
     "process.capabilities.bounding: expected array, got string"},
    {"{\"effective\": {}}",
     "process.capabilities.effective: expected array, got object"},
    {"{\"permitted\": [\"CAP_CHOWN\", 12]}",
     "process.capabilities.permitted[1]: expected string, got integer"},
    {"{\"ambient\": [null]}",
     "process.capabilities.ambient[0]: expected string, got null"},
    {"{\"inheritable\": [[\"CAP_KILL\"]]}",
     "process.capabilities.inheritable[0]: expected string, got array"},
};

static void test_bad_capabilities_are_refused_naming_the_field(void **state)
{
  for (size_t i = 0; i < sizeof bad_caps / sizeof bad_caps[0]; i++) {
    cleanup_json json_t *json = parse(bad_caps[i].json);
    struct caps_sets *sets = NULL;
    char *warnings = NULL;
    skiff_error_t *err = NULL;
    if (caps_parse(json, &sets, &warnings, &err) == 0)
      fail_msg("accepted: %s", bad_caps[i].json);
    assert_null(sets);
    assert_int_equal(err->status, EINVAL);
    assert_string_equal(err->msg, bad_caps[i].message);
    skiff_error_free(&err);
  }
}

static void test_known_names_parse_without_warnings(void **state)
{
  char *warnings = (char *)"untouched";
  struct caps_sets *sets = parse_ok(
      "{\"bounding\": [\"CAP_CHOWN\", \"CAP_NET_RAW\"], \"effective\": [\"CAP_KILL\"],"
      " \"inheritable\": [], \"permitted\": [\"CAP_KILL\", \"CAP_SYS_ADMIN\"],"
      " \"ambient\": null}",
      &warnings);
  assert_null(warnings);
  caps_sets_free(sets);
}

static void test_names_are_matched_case_insensitively(void **state)
{
  char *warnings = NULL;
  struct caps_sets *sets =
      parse_ok("{\"bounding\": [\"cap_chown\", \"Cap_Net_Raw\"]}", &warnings);
  assert_null(warnings);
  caps_sets_free(sets);
}

static void test_unknown_capability_is_a_warning_not_an_error(void **state)
{
  char *warnings = NULL;
  struct caps_sets *sets =
      parse_ok("{\"bounding\": [\"CAP_CHOWN\", \"CAP_FOO\"]}", &warnings);
  assert_non_null(warnings);
  assert_string_equal(warnings, "unknown capability CAP_FOO ignored");
  free(warnings);
  caps_sets_free(sets);
}

static void test_unknown_capability_in_several_sets_warns_once(void **state)
{
  char *warnings = NULL;
  struct caps_sets *sets = parse_ok(
      "{\"bounding\": [\"CAP_FOO\"], \"effective\": [\"CAP_FOO\", \"CAP_BAR\"],"
      " \"permitted\": [\"CAP_FOO\"]}",
      &warnings);
  assert_string_equal(warnings, "unknown capability CAP_FOO ignored; "
                                "unknown capability CAP_BAR ignored");
  free(warnings);
  caps_sets_free(sets);
}

static void test_numbers_and_lists_are_not_capability_names(void **state)
{
  /* libcap's cap_from_name would take "12" and stop at the comma */
  char *warnings = NULL;
  struct caps_sets *sets = parse_ok(
      "{\"bounding\": [\"12\", \"CAP_CHOWN,CAP_KILL\", \"NET_RAW\"]}", &warnings);
  assert_string_equal(warnings, "unknown capability 12 ignored; "
                                "unknown capability CAP_CHOWN,CAP_KILL ignored; "
                                "unknown capability NET_RAW ignored");
  free(warnings);
  caps_sets_free(sets);
}

static void test_absent_capabilities_parse_as_empty_sets(void **state)
{
  char *warnings = NULL;
  struct caps_sets *sets = parse_ok(NULL, &warnings);
  assert_null(warnings);
  caps_sets_free(sets);
}

static void test_known_names_list_every_libcap_capability(void **state)
{
  cleanup_json json_t *names = caps_known_names();
  assert_true(json_array_size(names) >= 41); /* CAP_CHOWN .. CAP_CHECKPOINT_RESTORE */
  assert_string_equal(json_string_value(json_array_get(names, 0)), "CAP_CHOWN");
  assert_string_equal(json_string_value(json_array_get(names, CAP_SYS_ADMIN)),
                      "CAP_SYS_ADMIN");
}

/* ---- behaviour: applied in a child (needs root) ---- */

static void test_bounding_without_net_raw_drops_it(void **state)
{
  skip_unless_root();
  struct caps_sets *sets =
      parse_ok("{\"bounding\": [\"CAP_CHOWN\", \"CAP_KILL\", \"CAP_SETUID\"]}", NULL);
  assert_int_equal(apply_in_child(caps_apply_bounding, sets, "CapBnd",
                                  BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_SETUID),
                                  BIT(CAP_NET_RAW) | BIT(CAP_SYS_ADMIN)),
                   0);
  caps_sets_free(sets);
}

static void test_apply_keeps_only_chown_effective(void **state)
{
  skip_unless_root();
  struct caps_sets *sets = parse_ok(
      "{\"effective\": [\"CAP_CHOWN\"], \"permitted\": [\"CAP_CHOWN\"]}", NULL);
  assert_int_equal(
      apply_in_child(caps_apply, sets, "CapEff", BIT(CAP_CHOWN), ~BIT(CAP_CHOWN)), 0);
  assert_int_equal(
      apply_in_child(caps_apply, sets, "CapPrm", BIT(CAP_CHOWN), ~BIT(CAP_CHOWN)), 0);
  caps_sets_free(sets);
}

static void test_apply_raises_the_ambient_set(void **state)
{
  skip_unless_root();
  struct caps_sets *sets = parse_ok("{\"effective\": [\"CAP_NET_BIND_SERVICE\"],"
                                    " \"permitted\": [\"CAP_NET_BIND_SERVICE\"],"
                                    " \"inheritable\": [\"CAP_NET_BIND_SERVICE\"],"
                                    " \"ambient\": [\"CAP_NET_BIND_SERVICE\"]}",
                                    NULL);
  assert_int_equal(apply_in_child(caps_apply, sets, "CapAmb", BIT(CAP_NET_BIND_SERVICE),
                                  ~BIT(CAP_NET_BIND_SERVICE)),
                   0);
  caps_sets_free(sets);
}

static void test_ambient_without_inheritable_is_skipped(void **state)
{
  skip_unless_root();
  struct caps_sets *sets = parse_ok("{\"permitted\": [\"CAP_NET_BIND_SERVICE\"],"
                                    " \"ambient\": [\"CAP_NET_BIND_SERVICE\"]}",
                                    NULL);
  assert_int_equal(apply_in_child(caps_apply, sets, "CapAmb", 0, UINT64_MAX), 0);
  caps_sets_free(sets);
}

static void test_absent_capabilities_leave_nothing_effective(void **state)
{
  skip_unless_root();
  struct caps_sets *sets = parse_ok(NULL, NULL);
  assert_int_equal(apply_in_child(caps_apply, sets, "CapEff", 0, UINT64_MAX), 0);
  caps_sets_free(sets);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_capabilities_are_refused_naming_the_field),
      cmocka_unit_test(test_known_names_parse_without_warnings),
      cmocka_unit_test(test_names_are_matched_case_insensitively),
      cmocka_unit_test(test_unknown_capability_is_a_warning_not_an_error),
      cmocka_unit_test(test_unknown_capability_in_several_sets_warns_once),
      cmocka_unit_test(test_numbers_and_lists_are_not_capability_names),
      cmocka_unit_test(test_absent_capabilities_parse_as_empty_sets),
      cmocka_unit_test(test_known_names_list_every_libcap_capability),
      cmocka_unit_test(test_bounding_without_net_raw_drops_it),
      cmocka_unit_test(test_apply_keeps_only_chown_effective),
      cmocka_unit_test(test_apply_raises_the_ambient_set),
      cmocka_unit_test(test_ambient_without_inheritable_is_skipped),
      cmocka_unit_test(test_absent_capabilities_leave_nothing_effective),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
