#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"

static json_t *parse(const char *text)
{
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  return j;
}

static void test_wrong_type_error_names_the_field(void **state)
{
  cleanup_json json_t *obj = parse("{\"limit\": \"lots\"}");
  skiff_error_t *err = NULL;
  int64_t limit = 0;
  assert_int_equal(
      jsonutil_opt_int64(obj, "limit", &limit, "linux.resources.memory", &err), -1);
  assert_string_equal(err->msg,
                      "linux.resources.memory.limit: expected integer, got string");
  skiff_error_free(&err);
}

static void test_absent_and_null_leave_value_untouched(void **state)
{
  cleanup_json json_t *obj = parse("{\"a\": null}");
  const char *s = "keep";
  assert_int_equal(jsonutil_opt_string(obj, "a", &s, "x", NULL), 0);
  assert_int_equal(jsonutil_opt_string(obj, "b", &s, "x", NULL), 0);
  assert_string_equal(s, "keep");
}

static void test_required_string_reports_missing(void **state)
{
  cleanup_json json_t *obj = parse("{}");
  skiff_error_t *err = NULL;
  const char *s = NULL;
  assert_int_equal(jsonutil_req_string(obj, "path", &s, "root", &err), -1);
  assert_string_equal(err->msg, "root.path: missing");
  skiff_error_free(&err);
}

static void test_strv_rejects_non_string_item_by_index(void **state)
{
  cleanup_json json_t *obj = parse("{\"args\": [\"sh\", 3]}");
  skiff_error_t *err = NULL;
  char **v = NULL;
  assert_int_equal(jsonutil_opt_strv(obj, "args", &v, "process", &err), -1);
  assert_string_equal(err->msg, "process.args[1]: expected string, got integer");
  assert_null(v);
  skiff_error_free(&err);
}

static void test_uint64_rejects_negative(void **state)
{
  cleanup_json json_t *obj = parse("{\"n\": -5}");
  skiff_error_t *err = NULL;
  uint64_t n = 7;
  assert_int_equal(jsonutil_opt_uint64(obj, "n", &n, "w", &err), -1);
  assert_int_equal(n, 7);
  skiff_error_free(&err);
}

static void test_load_file_reports_line_and_column(void **state)
{
  char path[] = "/tmp/skiff-jsonutil-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "{\n  \"a\": ,\n}", 12), 12);
  close(fd);
  skiff_error_t *err = NULL;
  assert_null(jsonutil_load_file(path, &err));
  unlink(path);
  assert_non_null(strstr(err->msg, "line 2"));
  skiff_error_free(&err);
}

static void test_save_then_load_round_trips(void **state)
{
  char dir[] = "/tmp/skiff-jsonutil-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/state.json", dir);
  cleanup_json json_t *obj = parse("{\"pid\": 42}");
  assert_int_equal(jsonutil_save_file(path, obj, FS_WRITE_DURABLE, NULL), 0);
  cleanup_json json_t *back = jsonutil_load_file(path, NULL);
  assert_true(json_equal(obj, back));
  unlink(path);
  rmdir(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wrong_type_error_names_the_field),
      cmocka_unit_test(test_absent_and_null_leave_value_untouched),
      cmocka_unit_test(test_required_string_reports_missing),
      cmocka_unit_test(test_strv_rejects_non_string_item_by_index),
      cmocka_unit_test(test_uint64_rejects_negative),
      cmocka_unit_test(test_load_file_reports_line_and_column),
      cmocka_unit_test(test_save_then_load_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
