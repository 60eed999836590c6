#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/proc.h"

static void test_parse_signal_accepts_names_numbers_and_realtime(void **state)
{
  /* Not static: SIGRTMIN is a libc call, not a constant. */
  const struct {
    const char *text;
    int want;
  } cases[] = {
      {"KILL", SIGKILL},
      {"SIGTERM", SIGTERM},
      {"sigint", SIGINT},
      {"9", 9},
      {"RTMIN", SIGRTMIN},
      {"RTMIN+3", SIGRTMIN + 3},
      {"SIGRTMAX-1", SIGRTMAX - 1},
      {"WINCH", SIGWINCH},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(proc_parse_signal(cases[i].text), cases[i].want);
}

static void test_parse_signal_rejects_garbage(void **state)
{
  static const char *bad[] = {"", "NOPE", "0", "-1", "65", "9x", "RTMIN+99", "SIG"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(proc_parse_signal(bad[i]), -1);
}

static void test_start_time_of_self_is_known_and_of_nothing_zero(void **state)
{
  assert_true(proc_start_time(getpid()) > 0);
  assert_int_equal(proc_start_time(0), 0);
  assert_int_equal(proc_state(getpid()), 'R');
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_signal_accepts_names_numbers_and_realtime),
      cmocka_unit_test(test_parse_signal_rejects_garbage),
      cmocka_unit_test(test_start_time_of_self_is_known_and_of_nothing_zero),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
