/* Demultiplexing docker's stdcopy frames, in every split the network makes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/stream.h"

struct capture {
  char out[256], err[256];
  size_t out_len, err_len;
};

static int sink(int stream, const char *buf, size_t len, void *arg)
{
  struct capture *c = arg;
  if (stream == STDCOPY_STDERR) {
    memcpy(c->err + c->err_len, buf, len);
    c->err_len += len;
  } else {
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
  }
  return 0;
}

/* Append one frame to buf. */
static size_t frame(unsigned char *buf, int stream, const char *payload)
{
  size_t n = strlen(payload);
  unsigned char h[8] = {(unsigned char)stream,
                        0,
                        0,
                        0,
                        (unsigned char)(n >> 24),
                        (unsigned char)(n >> 16),
                        (unsigned char)(n >> 8),
                        (unsigned char)n};
  memcpy(buf, h, 8);
  memcpy(buf + 8, payload, n);
  return 8 + n;
}

static size_t sample(unsigned char *buf)
{
  size_t n = frame(buf, STDCOPY_STDOUT, "hello\n");
  n += frame(buf + n, STDCOPY_STDERR, "oops\n");
  n += frame(buf + n, STDCOPY_STDOUT, "");
  n += frame(buf + n, STDCOPY_STDIN, "echo\n");
  return n;
}

static void check(const struct capture *c)
{
  assert_int_equal(c->out_len, strlen("hello\necho\n"));
  assert_memory_equal(c->out, "hello\necho\n", c->out_len);
  assert_int_equal(c->err_len, strlen("oops\n"));
  assert_memory_equal(c->err, "oops\n", c->err_len);
}

static void test_stdcopy_splits_stdout_and_stderr_in_any_chunking(void **state)
{
  unsigned char buf[256];
  size_t n = sample(buf);
  /* Every chunk size from 1 byte to the whole stream at once. */
  for (size_t chunk = 1; chunk <= n; chunk++) {
    struct capture c = {0};
    struct stdcopy d;
    stdcopy_init(&d, sink, &c);
    skiff_error_t *err = NULL;
    for (size_t at = 0; at < n; at += chunk) {
      size_t len = at + chunk > n ? n - at : chunk;
      assert_int_equal(stdcopy_feed(&d, (const char *)buf + at, len, &err), 0);
    }
    assert_false(stdcopy_truncated(&d));
    check(&c);
    stdcopy_clear(&d);
  }
}

static void test_stdcopy_reports_truncated_frames(void **state)
{
  unsigned char buf[64];
  size_t n = frame(buf, STDCOPY_STDOUT, "abcdef");
  struct capture c = {0};
  struct stdcopy d;
  stdcopy_init(&d, sink, &c);
  skiff_error_t *err = NULL;
  assert_int_equal(stdcopy_feed(&d, (const char *)buf, n - 2, &err), 0);
  assert_true(stdcopy_truncated(&d));
  stdcopy_clear(&d);
}

static void test_stdcopy_rejects_unknown_streams_and_reports_errors(void **state)
{
  unsigned char buf[64];
  size_t n = frame(buf, 7, "x");
  struct capture c = {0};
  struct stdcopy d;
  stdcopy_init(&d, sink, &c);
  skiff_error_t *err = NULL;
  assert_int_equal(stdcopy_feed(&d, (const char *)buf, n, &err), -1);
  assert_string_equal(err->msg, "Unrecognized input header: 7");
  skiff_error_free(&err);
  stdcopy_clear(&d);

  n = frame(buf, STDCOPY_SYSERR, "container gone");
  stdcopy_init(&d, sink, &c);
  assert_int_equal(stdcopy_feed(&d, (const char *)buf, 10, &err), 0);
  assert_int_equal(stdcopy_feed(&d, (const char *)buf + 10, n - 10, &err), -1);
  assert_string_equal(err->msg, "container gone");
  skiff_error_free(&err);
  stdcopy_clear(&d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stdcopy_splits_stdout_and_stderr_in_any_chunking),
      cmocka_unit_test(test_stdcopy_reports_truncated_frames),
      cmocka_unit_test(test_stdcopy_rejects_unknown_streams_and_reports_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
