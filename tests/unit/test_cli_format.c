/* Docker's output formats: tabwriter tables, go-units durations and sizes,
 * Go quoting, json.Indent, time stamps, and --format handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/format.h"
#include "common/humanize.h"
#include "common/timestamp.h"

static void test_tabwriter_aligns_like_docker_tables(void **state)
{
  /* docker ps's empty table: every header padded to max(len+3, 10). */
  char *out = format_tabwriter(
      "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n", 10, 3);
  assert_string_equal(
      out, "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n");
  free(out);
  out = format_tabwriter("REPOSITORY\tTAG\tIMAGE ID\nbusybox\tlatest\t128cb9259b60\n",
                         10, 3);
  assert_string_equal(out, "REPOSITORY   TAG       IMAGE ID\n"
                           "busybox      latest    128cb9259b60\n");
  free(out);
}

static void test_tabwriter_blocks_end_at_lines_without_cells(void **state)
{
  /* A line with fewer cells ends the column block (Go's tabwriter). */
  char *out = format_tabwriter("a\tb\tc\nlonger-cell\td\nx\ny\tz\n", 1, 1);
  assert_string_equal(out, "a           b c\nlonger-cell d\nx\ny z\n");
  free(out);
  /* Multi-byte characters count as one column each. */
  out = format_tabwriter("é\tx\nab\ty\n", 1, 1);
  assert_string_equal(out, "é  x\nab y\n");
  free(out);
  out = format_tabwriter("no newline\tat end", 1, 1);
  assert_string_equal(out, "no newline at end");
  free(out);
}

static void test_human_duration_matches_go_units(void **state)
{
  const long long s = 1000000000LL, m = 60 * s, h = 60 * m;
  static const struct {
    long long ns;
    const char *want;
  } cases[] = {
      {0, "Less than a second"},
      {999999999LL, "Less than a second"},
      {1000000000LL, "1 second"},
      {2000000000LL, "2 seconds"},
      {59999999999LL, "59 seconds"},
      {60000000000LL, "About a minute"},
      {119000000000LL, "About a minute"},
      {120000000000LL, "2 minutes"},
      {3599000000000LL, "59 minutes"},
      {3600000000000LL, "About an hour"},
      {5399000000000LL, "About an hour"},
      {5400000000000LL, "2 hours"},
      {47 * 3600000000000LL, "47 hours"},
      {48 * 3600000000000LL, "2 days"},
      {14 * 24 * 3600000000000LL, "2 weeks"},
      {60 * 24 * 3600000000000LL, "2 months"},
      {730 * 24 * 3600000000000LL, "2 years"},
  };
  (void)m;
  (void)h;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[64];
    humanize_duration(cases[i].ns, buf, sizeof buf);
    if (strcmp(buf, cases[i].want) != 0)
      fail_msg("%lld ns: got %s, want %s", cases[i].ns, buf, cases[i].want);
  }
}

static void test_human_sizes_match_go_units(void **state)
{
  static const struct {
    double bytes;
    int precision;
    const char *want;
  } cases[] = {
      {0, 3, "0B"},           {999, 3, "999B"},        {1000, 3, "1kB"},
      {1986000, 3, "1.99MB"}, {1986000, 4, "1.986MB"}, {4096, 3, "4.1kB"},
      {999600, 3, "1e+03kB"}, {1e12, 4, "1TB"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[32];
    format_human_size(cases[i].bytes, cases[i].precision, buf, sizeof buf);
    if (strcmp(buf, cases[i].want) != 0)
      fail_msg("%g: got %s, want %s", cases[i].bytes, buf, cases[i].want);
  }
  char buf[32];
  format_bytes_size(25275613184.0, buf, sizeof buf);
  assert_string_equal(buf, "23.54GiB");
}

static void test_go_quote_and_ellipsis(void **state)
{
  static const struct {
    const char *in, *want;
  } quotes[] = {
      {"sleep 100", "\"sleep 100\""},   {"a\"b\\c", "\"a\\\"b\\\\c\""},
      {"tab\tnl\n", "\"tab\\tnl\\n\""}, {"\x01", "\"\\x01\""},
      {"héllo…", "\"héllo…\""},
  };
  for (size_t i = 0; i < sizeof quotes / sizeof quotes[0]; i++) {
    char *q = format_go_quote(quotes[i].in);
    assert_string_equal(q, quotes[i].want);
    free(q);
  }
  char *e = format_ellipsis("sh -c 'echo hi; echo err >&2; exit 3'", 20);
  assert_string_equal(e, "sh -c 'echo hi; ech…");
  free(e);
  e = format_ellipsis("short", 20);
  assert_string_equal(e, "short");
  free(e);
}

static void test_json_indent_matches_go(void **state)
{
  const char raw[] = "[{\"a\":1,\"b\":[],\"c\":{},\"d\":[1,{\"e\":\"x, y: "
                     "[z]\"}],\"f\":\"\\u003c\"}\n]";
  char *out = format_json_indent(raw, strlen(raw), "    ");
  assert_string_equal(out, "[\n"
                           "    {\n"
                           "        \"a\": 1,\n"
                           "        \"b\": [],\n"
                           "        \"c\": {},\n"
                           "        \"d\": [\n"
                           "            1,\n"
                           "            {\n"
                           "                \"e\": \"x, y: [z]\"\n"
                           "            }\n"
                           "        ],\n"
                           "        \"f\": \"\\u003c\"\n"
                           "    }\n"
                           "]");
  free(out);
  assert_null(format_json_indent("[{]", 3, "  "));
}

static void test_durations_and_timestamps(void **state)
{
  int64_t ns;
  assert_int_equal(timestamp_parse_duration("1h30m", &ns), 0);
  assert_true(ns == 5400LL * 1000000000LL);
  assert_int_equal(timestamp_parse_duration("1.5s", &ns), 0);
  assert_true(ns == 1500000000LL);
  assert_int_equal(timestamp_parse_duration("10", &ns), -1);
  assert_int_equal(timestamp_parse_duration("5x", &ns), -1);

  skiff_error_t *err = NULL;
  char *t = timestamp_from_api("10m", 1000000 * 1000000000LL, &err);
  assert_string_equal(t, "999400");
  free(t);
  /* Whole seconds, rounded down from now - d as docker's now.Add(-d).Unix(). */
  t = timestamp_from_api("1.5s", 1000000000300000000LL, &err);
  assert_string_equal(t, "999999998");
  free(t);
  t = timestamp_from_api("2013-01-02T13:23:37Z", 0, &err);
  assert_string_equal(t, "1357133017.000000000");
  free(t);
  t = timestamp_from_api("2013-01-02T13:23:37.5+01:00", 0, &err);
  assert_string_equal(t, "1357129417.500000000");
  free(t);
  t = timestamp_from_api("1357133017.25", 0, &err);
  assert_string_equal(t, "1357133017.25");
  free(t);
  assert_null(timestamp_from_api("yesterday", 0, &err));
  assert_non_null(strstr(err->msg, "failed to parse value as time or duration"));
  skiff_error_free(&err);
  /* Unix times pass as docker's CLI passes them: integers as Go parses them. */
  static const char *const sent_as_is[] = {"1700000000.5", "+5", "0",
                                           "1700000000.1234567891234"};
  for (size_t i = 0; i < sizeof sent_as_is / sizeof *sent_as_is; i++) {
    t = timestamp_from_api(sent_as_is[i], 0, &err);
    assert_string_equal(t, sent_as_is[i]);
    free(t);
  }
  static const char *const refused[] = {"1e9",
                                        ".5",
                                        "1700000000.",
                                        "0x10",
                                        "1700000000.5.5",
                                        " 5",
                                        "99999999999999999999"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    assert_null(timestamp_from_api(refused[i], 0, &err));
    assert_non_null(strstr(err->msg, "failed to parse value as time or duration"));
    skiff_error_free(&err);
  }
}

static void test_time_formats(void **state)
{
  setenv("TZ", "UTC", 1);
  char buf[64];
  format_go_time(1357133017, buf, sizeof buf);
  assert_string_equal(buf, "2013-01-02 13:23:37 +0000 UTC");
  format_rfc3339_nano(1357133017000000042LL, buf, sizeof buf);
  assert_string_equal(buf, "2013-01-02T13:23:37.000000042Z");
}

static char *render(const char *format, json_t *rows, json_t *headers)
{
  struct listfmt lf;
  skiff_error_t *err = NULL;
  assert_int_equal(listfmt_init(&lf, format, "table {{.A}}\\t{{.B}}", &err), 0);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) assert_int_equal(listfmt_row(&lf, row, &err), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(listfmt_flush(&lf, headers, f, &err), 0);
  fclose(f);
  listfmt_clear(&lf);
  return buf;
}

static void test_listfmt_table_json_and_templates(void **state)
{
  json_t *rows = json_pack("[{s:s, s:s}, {s:s, s:s}]", "A", "one", "B", "<x>", "A",
                           "three-long", "B", "y");
  json_t *headers = json_pack("{s:s, s:s}", "A", "COL A", "B", "COL B");
  char *out = render(NULL, rows, headers);
  assert_string_equal(out, "COL A        COL B\none          <x>\nthree-long   y\n");
  free(out);
  out = render("table {{.B}}", rows, headers);
  assert_string_equal(out, "COL B\n<x>\ny\n");
  free(out);
  out = render("{{.A}}:{{.B}}", rows, headers);
  assert_string_equal(out, "one:<x>\nthree-long:y\n");
  free(out);
  out = render("json", rows, headers);
  assert_string_equal(out, "{\"A\":\"one\",\"B\":\"\\u003cx\\u003e\"}\n{\"A\":\"three-"
                           "long\",\"B\":\"y\"}\n");
  free(out);
  out = render("{{.A}}\\t{{.B}}", rows, headers);
  assert_string_equal(out, "one\t<x>\nthree-long\ty\n");
  free(out);
  json_decref(rows);
  json_decref(headers);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tabwriter_aligns_like_docker_tables),
      cmocka_unit_test(test_tabwriter_blocks_end_at_lines_without_cells),
      cmocka_unit_test(test_human_duration_matches_go_units),
      cmocka_unit_test(test_human_sizes_match_go_units),
      cmocka_unit_test(test_go_quote_and_ellipsis),
      cmocka_unit_test(test_json_indent_matches_go),
      cmocka_unit_test(test_durations_and_timestamps),
      cmocka_unit_test(test_time_formats),
      cmocka_unit_test(test_listfmt_table_json_and_templates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
