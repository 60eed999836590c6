/* The Go text/template subset of --format, table-driven: each case is a
 * template, a JSON document and the output Go's text/template gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/template.h"
#include "common/error.h"

static const char data_json[] =
    "{\"Name\":\"/"
    "web\",\"Id\":\"abc\",\"Count\":3,\"Ratio\":0.5,\"Big\":1e21,\"On\":true,"
    "\"Off\":false,\"Nil\":null,\"Empty\":\"\",\"List\":[\"a\",\"b\",\"c\"],\"None\":[]"
    ","
    "\"Labels\":{\"zeta\":\"1\",\"alpha\":\"2\",\"com.example\":\"x\"},"
    "\"State\":{\"Running\":true,\"Pid\":42,\"Health\":null},"
    "\"Ports\":[{\"Port\":80,\"Type\":\"tcp\"},{\"Port\":53,\"Type\":\"udp\"}],"
    "\"Html\":\"<a&b>\"}";

struct tcase {
  const char *tmpl;
  const char *want;
};

static const struct tcase cases[] = {
    /* fields and printing */
    {"{{.Name}}", "/web"},
    {"{{.State.Pid}}", "42"},
    {"{{.State.Running}} {{.Off}}", "true false"},
    {"{{.Ratio}} {{.Big}}", "0.5 1e+21"},
    {"{{.List}}", "[a b c]"},
    {"{{.None}}", "[]"},
    {"{{.Labels}}", "map[alpha:2 com.example:x zeta:1]"},
    {"{{.Missing}}", "<no value>"},
    {"{{.Nil}}", "[]"},
    {"{{.State.Health}}", "<nil>"},
    {"plain text", "plain text"},
    {"a{{/* a comment */}}b", "ab"},
    /* functions */
    {"{{json .List}}", "[\"a\",\"b\",\"c\"]"},
    {"{{json .Name}}", "\"/web\""},
    {"{{json .State}}", "{\"Running\":true,\"Pid\":42,\"Health\":null}"},
    {"{{json .Html}}", "\"<a&b>\""},
    {"{{json .Missing}}", "null"},
    {"{{index .Labels \"alpha\"}}", "2"},
    {"{{index .Labels \"com.example\"}}", "x"},
    {"{{index .Labels \"nope\"}}", ""},
    {"{{index .List 1}}", "b"},
    {"{{join .List \",\"}}", "a,b,c"},
    {"{{join .List \", \"}}", "a, b, c"},
    {"{{split \"a:b:c\" \":\"}}", "[a b c]"},
    {"{{upper .Name}} {{lower \"ABC\"}} {{title \"hello world\"}}",
     "/WEB abc Hello World"},
    {"{{len .List}} {{len .Labels}} {{len .Name}}", "3 3 4"},
    {"[{{pad .Id 1 2}}]", "[ abc  ]"},
    {"{{truncate .Name 2}}", "/w"},
    {"{{printf \"%s-%d-%5s|%-4d|\" .Id .Count \"x\" 7}}", "abc-3-    x|7   |"},
    {"{{printf \"%q\" .Name}}", "\"/web\""},
    {"{{println .Id .Count}}", "abc 3\n"},
    {"{{print .Count .Count}}", "3 3"},
    {"{{print .Id .Id}}", "abcabc"},
    /* pipelines */
    {"{{.Name | upper}}", "/WEB"},
    {"{{\"x\" | printf \"%s!\"}}", "x!"},
    {"{{(index .Ports 0).Port}}", "80"},
    /* control */
    {"{{if .On}}yes{{end}}", "yes"},
    {"{{if .Off}}yes{{else}}no{{end}}", "no"},
    {"{{if .Empty}}a{{else if .Count}}b{{else}}c{{end}}", "b"},
    {"{{if .None}}a{{else if .Nil}}b{{else}}c{{end}}", "c"},
    {"{{if eq .Count 3}}three{{end}}", "three"},
    {"{{if ne .Id \"abc\"}}x{{else}}y{{end}}", "y"},
    {"{{if and .On .Count}}both{{end}}", "both"},
    {"{{if or .Off .Empty}}x{{else}}neither{{end}}", "neither"},
    {"{{if not .Off}}ok{{end}}", "ok"},
    {"{{if lt .Count 5}}lt{{end}}{{if ge .Count 3}}ge{{end}}", "ltge"},
    {"{{if eq .Id \"x\" \"abc\"}}any{{end}}", "any"},
    {"{{range .List}}<{{.}}>{{end}}", "<a><b><c>"},
    {"{{range $i, $e := .List}}{{$i}}={{$e}} {{end}}", "0=a 1=b 2=c "},
    {"{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}",
     "alpha:2;com.example:x;zeta:1;"},
    {"{{range .None}}x{{else}}empty{{end}}", "empty"},
    {"{{range .Ports}}{{.Port}}/{{.Type}} {{end}}", "80/tcp 53/udp "},
    {"{{range .Ports}}{{$.Id}}{{end}}", "abcabc"},
    {"{{with .State}}{{.Pid}}{{end}}", "42"},
    {"{{with .Missing}}x{{else}}none{{end}}", "none"},
    {"{{$x := .Id}}{{$x}}{{$x = \"new\"}}{{$x}}", "abcnew"},
    {"{{$n := .Name}}{{range .List}}{{$n}}{{end}}", "/web/web/web"},
    /* whitespace trimming */
    {"a  {{- .Id -}}  b", "aabcb"},
    {"{{range .List -}}\n  {{.}}\n{{- end}}", "abc"},
    {"x\n{{- /* c */ -}}\ny", "xy"},
};

static json_t *load_data(void)
{
  json_error_t jerr;
  json_t *d = json_loads(data_json, 0, &jerr);
  assert_non_null(d);
  return d;
}

static void test_template_cases_render_as_go_does(void **state)
{
  json_t *data = load_data();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    skiff_error_t *err = NULL;
    struct template *t = template_parse(cases[i].tmpl, &err);
    if (t == NULL)
      fail_msg("parse %s: %s", cases[i].tmpl, err->msg);
    char *out = template_execute(t, data, 0, &err);
    if (out == NULL)
      fail_msg("execute %s: %s", cases[i].tmpl, err->msg);
    if (strcmp(out, cases[i].want) != 0)
      fail_msg("%s: got [%s], want [%s]", cases[i].tmpl, out, cases[i].want);
    free(out);
    template_free(t);
  }
  json_decref(data);
}

static void test_template_parse_errors_name_the_problem(void **state)
{
  static const struct {
    const char *tmpl;
    const char *needle;
  } bad[] = {
      {"{{.Name", "unclosed action"},
      {"{{nosuch .Name}}", "function \"nosuch\" not defined"},
      {"{{if .On}}x", "unexpected EOF"},
      {"{{end}}", "unexpected {{end}}"},
      {"{{.Name | }}", "missing value for command"},
      {"{{\"open}}", "unexpected"},
      {"{{/* open", "unclosed comment"},
      {"{{define \"x\"}}{{end}}", "not supported"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    skiff_error_t *err = NULL;
    struct template *t = template_parse(bad[i].tmpl, &err);
    if (t != NULL)
      fail_msg("%s parsed", bad[i].tmpl);
    if (strstr(err->msg, bad[i].needle) == NULL ||
        strncmp(err->msg, "template parsing error: ", 24))
      fail_msg("%s: error [%s] lacks [%s]", bad[i].tmpl, err->msg, bad[i].needle);
    skiff_error_free(&err);
  }
}

static char *run(const char *tmpl, json_t *data, unsigned flags, skiff_error_t **err)
{
  struct template *t = template_parse(tmpl, err);
  assert_non_null(t);
  char *out = template_execute(t, data, flags, err);
  template_free(t);
  return out;
}

static void test_template_strict_rejects_unknown_fields(void **state)
{
  json_t *data = load_data();
  skiff_error_t *err = NULL;
  char *out = run("{{.Nope}}", data, TEMPLATE_STRICT, &err);
  assert_null(out);
  assert_non_null(strstr(err->msg, "can't evaluate field Nope"));
  skiff_error_free(&err);
  out = run("{{.Name.Sub}}", data, 0, &err);
  assert_null(out);
  assert_non_null(strstr(err->msg, "can't evaluate field Sub in type string"));
  skiff_error_free(&err);
  json_decref(data);
}

static void test_template_header_mode_keeps_titles(void **state)
{
  json_t *hdr = json_pack("{s:s, s:s}", "ID", "CONTAINER ID", "Names", "NAMES");
  skiff_error_t *err = NULL;
  char *out = run("{{.ID}}\t{{json .Names}}\t{{upper .Names}}\t{{.Other}}|", hdr,
                  TEMPLATE_HEADER, &err);
  assert_string_equal(out, "CONTAINER ID\tNAMES\tNAMES\t|");
  free(out);
  json_decref(hdr);
}

static void test_template_row_methods_and_json_escaping(void **state)
{
  json_t *row = json_pack("{s:s, s:{s:s}}", "Command", "\"a<b\"", "Label()", "k", "v");
  skiff_error_t *err = NULL;
  char *out = run("{{.Label \"k\"}}|{{.Label \"none\"}}|{{json .}}|{{json .Command}}",
                  row, TEMPLATE_STRICT, &err);
  assert_non_null(out);
  /* {{json .}} of a row is docker's MarshalJSON: HTML escaped, no methods. */
  assert_string_equal(out, "v||{\"Command\":\"\\\"a\\u003cb\\\"\"}|\"\\\"a<b\\\"\"");
  free(out);
  json_decref(row);
}

static void test_template_print_value_matches_fmt(void **state)
{
  json_t *v = json_pack("[i, s, b, n, {s:[i,i]}]", 1, "x", 1, "k", 2, 3);
  char *s = template_print_value(v);
  assert_string_equal(s, "[1 x true <nil> map[k:[2 3]]]");
  free(s);
  json_decref(v);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_template_cases_render_as_go_does),
      cmocka_unit_test(test_template_parse_errors_name_the_problem),
      cmocka_unit_test(test_template_strict_rejects_unknown_fields),
      cmocka_unit_test(test_template_header_mode_keeps_titles),
      cmocka_unit_test(test_template_row_methods_and_json_escaping),
      cmocka_unit_test(test_template_print_value_matches_fmt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
