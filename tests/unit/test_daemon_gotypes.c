/* The create request's decoding as dockerd's Go decoder does it: syntax errors in
 * Go's words, type errors naming Go's struct fields, keys in any case, and
 * dockerd's checks before anything is created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/create_request.h"
#include "daemon/gotypes.h"

static void test_syntax_errors_read_as_gos(void **state)
{
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"{bad", "invalid character 'b' looking for beginning of object key string"},
      {"{\"a\" 1}", "invalid character '1' after object key"},
      {"{\"a\":1,}",
       "invalid character '}' looking for beginning of object key string"},
      {"{\"a\":1 2}", "invalid character '2' after object key:value pair"},
      {"[1,]", "invalid character ']' looking for beginning of value"},
      {"[1 2]", "invalid character '2' after array element"},
      {"-x", "invalid character 'x' in numeric literal"},
      {"1.e", "invalid character 'e' after decimal point in numeric literal"},
      {"1e+", "unexpected EOF"},
      {"nul", "unexpected EOF"},
      {"tru }", "invalid character ' ' in literal true (expecting 'e')"},
      {"\"\\q\"", "invalid character 'q' in string escape code"},
      {"\"\\u12x4\"", "invalid character 'x' in \\u hexadecimal character escape"},
      {"\"a\nb\"", "invalid character '\\n' in string literal"},
      {"'a'", "invalid character '\\'' looking for beginning of value"},
      {"{\"a\":\"", "unexpected EOF"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char msg[160] = "";
    size_t end = 0;
    assert_int_equal(
        gotypes_syntax(cases[i].text, strlen(cases[i].text), &end, msg, sizeof msg),
        -1);
    if (strcmp(msg, cases[i].msg) != 0)
      fail_msg("%s: got [%s], want [%s]", cases[i].text, msg, cases[i].msg);
  }
  size_t end = 0;
  char msg[160];
  const char *two = " {\"a\": [1, 2.5e3, true, null, \"x\\u00e9\"]} {}";
  assert_int_equal(gotypes_syntax(two, strlen(two), &end, msg, sizeof msg), 0);
  assert_int_equal(end, strlen(two) - 3);
}

static char *create_error(const char *body)
{
  skiff_error_t *err = NULL;
  json_t *req = create_request_parse(body, strlen(body), "json-file", &err);
  if (req) {
    json_decref(req);
    return NULL;
  }
  char *msg = strdup(err->msg);
  skiff_error_free(&err);
  return msg;
}

static void test_create_errors_are_dockerds(void **state)
{
  static const struct {
    const char *body, *msg;
  } cases[] = {
      {"", "invalid JSON: got EOF while reading request body"},
      {"[]", "invalid JSON: json: cannot unmarshal array into Go value of type "
             "container.CreateRequest"},
      {"{}", "config cannot be empty in order to create a container"},
      {"{\"Image\":\"b\"} x", "unexpected content after JSON"},
      {"{\"Image\":\"b\",\"Cmd\":[1]}",
       "invalid JSON: json: cannot unmarshal array into Go "
       "struct field CreateRequest.Cmd of type string"},
      {"{\"Image\":\"b\",\"env\":[1]}",
       "invalid JSON: json: cannot unmarshal number into Go "
       "struct field CreateRequest.Env of type string"},
      {"{\"Image\":\"b\",\"HostConfig\":{\"BlkioWeight\":70000}}",
       "invalid JSON: json: cannot unmarshal number 70000 into Go struct field "
       "HostConfig.HostConfig.BlkioWeight of type uint16"},
      {"{\"Image\":\"b\",\"HostConfig\":{\"Mounts\":[{\"BindOptions\":{\"Propagation\":"
       "1}}]}}",
       "invalid JSON: json: cannot unmarshal number into Go struct field BindOptions."
       "HostConfig.Mounts.BindOptions.Propagation of type mount.Propagation"},
      {"{\"Image\":\"b\",\"StopTimeout\":1.5}",
       "invalid JSON: json: cannot unmarshal number 1.5 into Go struct field "
       "CreateRequest.StopTimeout of type int"},
      {"{\"Image\":\"b\",\"StopSignal\":\"NOPE\"}", "Invalid signal: NOPE"},
      {"{\"Image\":\"b\",\"WorkingDir\":\"x\"}",
       "the working directory 'x' is invalid, it needs to be an absolute path"},
      {"{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"x\"}}}",
       "invalid restart policy 'x'"},
      {"{\"Image\":\"b\",\"HostConfig\":{\"Memory\":1}}",
       "Minimum memory limit allowed is 6MB"},
      {"{\"Image\":\"b\",\"HostConfig\":{\"CpusetCpus\":\"1-0\"}}",
       "Invalid value 1-0 for cpuset cpus: invalid format: 1-0"},
      {"{\"Image\":\"b\",\"HostConfig\":{\"LogConfig\":{\"Config\":{\"x\":\"1\"}}}}",
       "unknown log opt 'x' for json-file log driver"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *msg = create_error(cases[i].body);
    if (msg == NULL || strcmp(msg, cases[i].msg) != 0)
      fail_msg("%s: got [%s], want [%s]", cases[i].body, msg ? msg : "(accepted)",
               cases[i].msg);
    free(msg);
  }
}

static void test_keys_take_gos_spelling_and_null_is_nothing(void **state)
{
  const char *body =
      "{\"image\":\"b\",\"cmd\":\"true\",\"hostconfig\":{\"memory\":null},"
      "\"Entrypoint\":[\"\"],\"Unknown\":[1]}";
  skiff_error_t *err = NULL;
  json_t *req = create_request_parse(body, strlen(body), NULL, &err);
  assert_non_null(req);
  assert_string_equal(json_string_value(json_object_get(req, "Image")), "b");
  assert_string_equal(json_string_value(json_object_get(req, "Cmd")), "true");
  assert_non_null(json_object_get(json_object_get(req, "HostConfig"), "Memory"));
  assert_null(json_object_get(req, "image"));
  /* --entrypoint "": the image's entrypoint is reset, its Cmd not taken */
  assert_int_equal(json_array_size(json_object_get(req, "Entrypoint")), 0);
  assert_true(json_is_array(json_object_get(req, "Entrypoint")));
  json_decref(req);
}

static void test_commit_config_may_be_empty(void **state)
{
  skiff_error_t *err = NULL;
  assert_null(create_request_parse_config("  ", 2, &err));
  assert_null(err);
  assert_null(create_request_parse_config("{\"Cmd\":5}", 9, &err));
  assert_non_null(strstr(err->msg, "CreateRequest.Cmd of type string"));
  skiff_error_free(&err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syntax_errors_read_as_gos),
      cmocka_unit_test(test_create_errors_are_dockerds),
      cmocka_unit_test(test_keys_take_gos_spelling_and_null_is_nothing),
      cmocka_unit_test(test_commit_config_may_be_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
