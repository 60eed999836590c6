/* Daemon addresses with docker's -H / DOCKER_HOST rules, API versions,
 * escaping, and the command-line flag grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/client.h"
#include "cli/opts.h"

static void test_parse_host_accepts_docker_forms(void **state)
{
  static const struct {
    const char *in, *canonical, *socket, *base;
  } cases[] = {
      {"", "unix:///run/skiff/skiff.sock", "/run/skiff/skiff.sock", "http://localhost"},
      {"  ", "unix:///run/skiff/skiff.sock", "/run/skiff/skiff.sock",
       "http://localhost"},
      {"unix://", "unix:///run/skiff/skiff.sock", "/run/skiff/skiff.sock",
       "http://localhost"},
      {"unix:///tmp/d.sock", "unix:///tmp/d.sock", "/tmp/d.sock", "http://localhost"},
      {"unix://relative.sock", "unix://relative.sock", "relative.sock",
       "http://localhost"},
      {"tcp://", "tcp://localhost:2375", NULL, "http://localhost:2375"},
      {"tcp://1.2.3.4", "tcp://1.2.3.4:2375", NULL, "http://1.2.3.4:2375"},
      {"tcp://:7777", "tcp://localhost:7777", NULL, "http://localhost:7777"},
      {"tcp://host:2376/", "tcp://host:2376/", NULL, "http://host:2376"},
      {"tcp://host:2376/prefix", "tcp://host:2376/prefix", NULL,
       "http://host:2376/prefix"},
      {"tcp://[::1]:99", "tcp://[::1]:99", NULL, "http://[::1]:99"},
      {"tcp://[::1]", "tcp://[::1]:2375", NULL, "http://[::1]:2375"},
      {"127.0.0.1:1234", "tcp://127.0.0.1:1234", NULL, "http://127.0.0.1:1234"},
      {"somehost", "tcp://somehost:2375", NULL, "http://somehost:2375"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct client_host h;
    skiff_error_t *err = NULL;
    if (client_parse_host(cases[i].in, &h, &err) < 0)
      fail_msg("%s: %s", cases[i].in, err->msg);
    assert_string_equal(h.canonical, cases[i].canonical);
    if (cases[i].socket)
      assert_string_equal(h.socket, cases[i].socket);
    else
      assert_null(h.socket);
    assert_string_equal(h.base_url, cases[i].base);
    client_host_clear(&h);
  }
}

static void test_parse_host_rejects_bad_addresses(void **state)
{
  static const char *bad[] = {
      "ssh://user@host",  "npipe:////./pipe/x", "udp://1.2.3.4", "tcp://host:notaport",
      "tcp://host:70000", "unix://tcp://x",     "tcp://a:b:c",   "fd://"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct client_host h;
    skiff_error_t *err = NULL;
    if (client_parse_host(bad[i], &h, &err) == 0)
      fail_msg("%s was accepted", bad[i]);
    assert_non_null(err->msg);
    skiff_error_free(&err);
  }
}

static void test_pick_host_prefers_flag_then_skiff_then_docker(void **state)
{
  unsetenv("SKIFF_HOST");
  unsetenv("DOCKER_HOST");
  assert_string_equal(client_pick_host(NULL), CLIENT_DEFAULT_HOST);
  setenv("DOCKER_HOST", "unix:///d.sock", 1);
  assert_string_equal(client_pick_host(NULL), "unix:///d.sock");
  setenv("SKIFF_HOST", "unix:///s.sock", 1);
  assert_string_equal(client_pick_host(""), "unix:///s.sock");
  assert_string_equal(client_pick_host("tcp://x:1"), "tcp://x:1");
  unsetenv("SKIFF_HOST");
  unsetenv("DOCKER_HOST");
}

static void test_version_compare_is_numeric(void **state)
{
  assert_true(client_version_cmp("1.9", "1.41") < 0);
  assert_true(client_version_cmp("1.41", "1.41") == 0);
  assert_true(client_version_cmp("1.43", "1.41") > 0);
  assert_true(client_version_cmp("2.0", "1.99") > 0);
}

static void test_escape_and_query(void **state)
{
  char *e = client_escape("a b/c:d@e", false);
  assert_string_equal(e, "a%20b%2Fc%3Ad%40e");
  free(e);
  e = client_escape("reg:5000/ns/img:tag", true);
  assert_string_equal(e, "reg:5000/ns/img:tag");
  free(e);
  char *q = NULL;
  assert_int_equal(client_query_add(&q, "filters", "{\"a\":{\"b\":true}}"), 0);
  assert_int_equal(client_query_add(&q, "all", "1"), 0);
  assert_string_equal(q, "?filters=%7B%22a%22%3A%7B%22b%22%3Atrue%7D%7D&all=1");
  free(q);
}

/* ------------------------------------------------------------ flags */

struct parsed {
  bool detach, interactive, tty;
  const char *name;
  long long timeout;
  struct strlist env;
};

static int parse(struct parsed *p, bool stop_at_arg, int argc, char **argv,
                 char ***args, int *nargs, skiff_error_t **err)
{
  struct opt opts[] = {{"detach", 'd', OPT_BOOL, &p->detach, NULL, "", NULL},
                       {"interactive", 'i', OPT_BOOL, &p->interactive, NULL, "", NULL},
                       {"tty", 't', OPT_BOOL, &p->tty, NULL, "", NULL},
                       {"name", 0, OPT_STRING, &p->name, "string", "", NULL},
                       {"time", 'T', OPT_INT, &p->timeout, "int", "", NULL},
                       {"env", 'e', OPT_LIST, &p->env, "list", "", NULL},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.name = "run",
                              .usage = "",
                              .summary = "",
                              .min_args = 0,
                              .max_args = -1,
                              .stop_at_arg = stop_at_arg};
  bool usage = false;
  return opts_parse(&spec, opts, argc, argv, args, nargs, &usage, err);
}

static void test_flags_follow_pflag_grammar(void **state)
{
  char *argv[] = {"run",     "-it",   "--name=web", "-e",      "A=1",
                  "-eB=2",   "--env", "C",          "-T=5",    "--detach=false",
                  "busybox", "sh",    "-c",         "echo -x", NULL};
  struct parsed p = {.detach = true};
  char **args = NULL;
  int nargs = 0;
  skiff_error_t *err = NULL;
  assert_int_equal(parse(&p, true, 14, argv, &args, &nargs, &err), OPTS_OK);
  assert_true(p.interactive && p.tty && !p.detach);
  assert_string_equal(p.name, "web");
  assert_int_equal(p.timeout, 5);
  assert_int_equal(p.env.n, 3);
  assert_string_equal(p.env.items[1], "B=2");
  /* After the image, flags belong to the container's command. */
  assert_int_equal(nargs, 4);
  assert_string_equal(args[2], "-c");
  free(args);
  strlist_free(&p.env);
}

static void
test_flags_are_interspersed_unless_stopped_and_dashdash_ends_them(void **state)
{
  char *argv[] = {"ps", "one", "-d", "--", "-i", NULL};
  struct parsed p = {0};
  char **args = NULL;
  int nargs = 0;
  skiff_error_t *err = NULL;
  assert_int_equal(parse(&p, false, 5, argv, &args, &nargs, &err), OPTS_OK);
  assert_true(p.detach);
  assert_false(p.interactive);
  assert_int_equal(nargs, 2);
  assert_string_equal(args[1], "-i");
  free(args);
}

static void test_flag_errors_are_usage_errors(void **state)
{
  struct {
    int argc;
    char *argv[4];
    const char *msg;
  } bad[] = {
      {2, {"run", "--nope"}, "unknown flag: --nope"},
      {2, {"run", "-x"}, "unknown shorthand flag: 'x' in -x"},
      {2, {"run", "--name"}, "flag needs an argument: --name"},
      {2, {"run", "-T=abc"}, "invalid argument \"abc\" for \"-T, --time\" flag"},
      {2,
       {"run", "--detach=maybe"},
       "invalid argument \"maybe\" for \"-d, --detach\" flag"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct parsed p = {0};
    char **args = NULL;
    int nargs = 0;
    skiff_error_t *err = NULL;
    assert_int_equal(parse(&p, false, bad[i].argc, bad[i].argv, &args, &nargs, &err),
                     -1);
    if (strncmp(err->msg, bad[i].msg, strlen(bad[i].msg)) != 0 ||
        strstr(err->msg, "\n\nUsage:  skiff ") == NULL ||
        strstr(err->msg, " --help' for more information") == NULL)
      fail_msg("got [%s], want [%s] and the usage", err->msg, bad[i].msg);
    skiff_error_free(&err);
    strlist_free(&p.env);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_host_accepts_docker_forms),
      cmocka_unit_test(test_parse_host_rejects_bad_addresses),
      cmocka_unit_test(test_pick_host_prefers_flag_then_skiff_then_docker),
      cmocka_unit_test(test_version_compare_is_numeric),
      cmocka_unit_test(test_escape_and_query),
      cmocka_unit_test(test_flags_follow_pflag_grammar),
      cmocka_unit_test(
          test_flags_are_interspersed_unless_stopped_and_dashdash_ends_them),
      cmocka_unit_test(test_flag_errors_are_usage_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
