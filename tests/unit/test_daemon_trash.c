/* The trash of removed containers' directories: a put moves the directory
 * away at once and its thread deletes it; what a crash left is deleted when
 * the trash opens; close deletes what is left; a failed put leaves the path
 * as it was. On a real disk directory (/var/tmp). */
#include <setjmp.h>
#include <stdbool.h>
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "daemon/trash.h"

struct place {
  char top[64];
  char trash[96];
};

static int setup(void **state)
{
  struct place *p = calloc(1, sizeof *p);
  if (p == NULL)
    return -1;
  snprintf(p->top, sizeof p->top, "/var/tmp/trash-test-XXXXXX");
  if (mkdtemp(p->top) == NULL) {
    free(p);
    return -1;
  }
  snprintf(p->trash, sizeof p->trash, "%s/trash", p->top);
  *state = p;
  return 0;
}

static int teardown(void **state)
{
  struct place *p = *state;
  fs_remove_tree(p->top, NULL);
  free(p);
  return 0;
}

/* A directory with files and a subdirectory, like a container's. */
static void make_tree(const char *dir)
{
  char path[256];
  assert_int_equal(fs_mkdir_p(dir, 0700, NULL), 0);
  snprintf(path, sizeof path, "%s/sub/deeper", dir);
  assert_int_equal(fs_mkdir_p(path, 0700, NULL), 0);
  snprintf(path, sizeof path, "%s/sub/file", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("data", f);
  fclose(f);
}

static int entries(const char *dir)
{
  int n = 0;
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  return n;
}

static bool empty_soon(const char *dir)
{
  for (int i = 0; i < 500; i++) {
    if (entries(dir) == 0)
      return true;
    usleep(10000);
  }
  return false;
}

static void test_put_moves_at_once_and_deletes(void **state)
{
  struct place *p = *state;
  struct trash *t = trash_open(p->trash, NULL);
  assert_non_null(t);
  char dir[128];
  for (int i = 0; i < 3; i++) {
    snprintf(dir, sizeof dir, "%s/c%d", p->top, i);
    make_tree(dir);
    assert_int_equal(trash_put(t, dir, NULL), 0);
    assert_int_equal(access(dir, F_OK), -1);
  }
  assert_true(empty_soon(p->trash));
  trash_close(t);
}

static void test_leftovers_are_deleted_at_open(void **state)
{
  struct place *p = *state;
  char dir[160];
  snprintf(dir, sizeof dir, "%s/7-left-by-a-crash", p->trash);
  make_tree(dir);
  struct trash *t = trash_open(p->trash, NULL);
  assert_non_null(t);
  assert_true(empty_soon(p->trash));
  trash_close(t);
}

static void test_close_deletes_what_is_left(void **state)
{
  struct place *p = *state;
  struct trash *t = trash_open(p->trash, NULL);
  assert_non_null(t);
  char dir[128];
  snprintf(dir, sizeof dir, "%s/last", p->top);
  make_tree(dir);
  assert_int_equal(trash_put(t, dir, NULL), 0);
  trash_close(t);
  assert_int_equal(entries(p->trash), 0);
}

static void test_failed_put_says_why(void **state)
{
  struct place *p = *state;
  struct trash *t = trash_open(p->trash, NULL);
  assert_non_null(t);
  char dir[128];
  snprintf(dir, sizeof dir, "%s/never-made", p->top);
  skiff_error_t *err = NULL;
  assert_int_equal(trash_put(t, dir, &err), -1);
  assert_non_null(err);
  assert_non_null(strstr(err->msg, "never-made"));
  skiff_error_free(&err);
  trash_close(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_moves_at_once_and_deletes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_leftovers_are_deleted_at_open, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_close_deletes_what_is_left, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_put_says_why, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
