/* Docker's detach keys: the syntax, and the scanner in every split the
 * network makes (dockerd's behaviour, observed against dockerd 20.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/detachkeys.h"

static const struct {
  const char *spec;
  const char *keys; /* NULL: invalid */
  size_t len;
} parse_cases[] = {
    {NULL, "\x10\x11", 2},
    {"", "\x10\x11", 2},
    {"ctrl-p,ctrl-q", "\x10\x11", 2},
    {"CTRL-P,Ctrl-Q", "\x10\x11", 2},
    {"ctrl-a", "\x01", 1},
    {"ctrl-z", "\x1a", 1},
    {"ctrl-@", "\x00", 1},
    {"ctrl-[", "\x1b", 1},
    {"ctrl-\\", "\x1c", 1},
    {"ctrl-]", "\x1d", 1},
    {"ctrl-^", "\x1e", 1},
    {"ctrl-_", "\x1f", 1},
    {"a", "a", 1},
    {"X,y,ctrl-x", "Xy\x18", 3},
    {"@,[", "@[", 2},
    {"foo", NULL, 0},
    {"ctrl-", NULL, 0},
    {"ctrl-1", NULL, 0},
    {"ctrl-pq", NULL, 0},
    {"ctrl-p,", NULL, 0},
    {",", NULL, 0},
    {"a,,b", NULL, 0},
    {"ctrl-p;ctrl-q", NULL, 0},
    {"\xc3\xa9", NULL, 0}, /* one character, two bytes: docker counts bytes */
    {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g", NULL, 0},
};

static void test_parse(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof parse_cases / sizeof *parse_cases; i++) {
    struct detach_keys k;
    skiff_error_t *err = NULL;
    int r = detachkeys_parse(parse_cases[i].spec, &k, &err);
    if (parse_cases[i].keys == NULL) {
      assert_int_equal(r, -1);
      char want[512];
      snprintf(want, sizeof want, "Invalid detach keys (%s) provided",
               parse_cases[i].spec);
      assert_string_equal(err->msg, want);
      skiff_error_free(&err);
      continue;
    }
    assert_int_equal(r, 0);
    assert_int_equal(k.len, parse_cases[i].len);
    assert_memory_equal(k.seq, parse_cases[i].keys, k.len);
  }
}

/* Input as chunks separated by '|'; what is forwarded; whether it detaches. */
static const struct {
  const char *keys;
  const char *chunks;
  const char *forwarded;
  bool detached;
} scan_cases[] = {
    {NULL, "hello", "hello", false},
    {NULL, "\x10\x11", "", true},
    {NULL, "echo hi\n\x10\x11", "echo hi\n", true},
    {NULL, "ab\x10\x11xyz", "ab", true},
    {NULL, "ab\x10|\x11xyz", "ab", true},
    {NULL, "\x10|\x11", "", true},
    {NULL, "\x10|x", "\x10x", false},
    {NULL, "\x10x", "\x10x", false},
    {NULL, "\x10\x10\x11", "\x10\x10\x11",
     false},                           /* dockerd does not restart a match */
    {NULL, "\x11\x10", "\x11", false}, /* \x10 held at the end */
    {"ctrl-x,a", "ls\x18|a", "ls", true},
    {"ctrl-x,a", "ls\x18|b",
     "ls\x18"
     "b",
     false},
    {"q", "abq", "ab", true},
    {"a,b,c", "a|b|d|abc", "abd", true},
    {"a,b,c", "ab|", "", false}, /* held, not yet forwarded */
};

static void test_scan(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof scan_cases / sizeof *scan_cases; i++) {
    struct detach_keys k;
    assert_int_equal(detachkeys_parse(scan_cases[i].keys, &k, NULL), 0);
    struct detach_scanner s;
    detach_scanner_init(&s, &k);
    char got[256];
    size_t got_len = 0;
    bool detached = false;
    const char *chunk = scan_cases[i].chunks;
    while (!detached) {
      size_t len = strcspn(chunk, "|");
      char out[64 + DETACHKEYS_MAX];
      size_t n = detach_scanner_feed(&s, chunk, len, out, &detached);
      memcpy(got + got_len, out, n);
      got_len += n;
      if (chunk[len] == '\0')
        break;
      chunk += len + 1;
    }
    assert_int_equal(detached, scan_cases[i].detached);
    assert_int_equal(got_len, strlen(scan_cases[i].forwarded));
    assert_memory_equal(got, scan_cases[i].forwarded, got_len);
  }
}

static void test_flush_gives_back_held_keys(void **state)
{
  (void)state;
  struct detach_keys k;
  assert_int_equal(detachkeys_parse("a,b,c", &k, NULL), 0);
  struct detach_scanner s;
  detach_scanner_init(&s, &k);
  char out[64];
  bool detached;
  assert_int_equal(detach_scanner_feed(&s, "xab", 3, out, &detached), 1);
  assert_int_equal(detach_scanner_flush(&s, out), 2);
  assert_memory_equal(out, "ab", 2);
  assert_int_equal(detach_scanner_flush(&s, out), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_flush_gives_back_held_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
