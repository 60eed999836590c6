/* The O_DIRECT writer: every byte lands in order whatever the chunk sizes
 * (aligned blocks direct, the tail plain), on a disk filesystem and on a
 * tmpfs, and the fd is left without O_DIRECT. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/direct_writer.h"

/* Bytes that show any reordering or loss: a counter mixed into each. */
static unsigned char pattern(size_t i)
{
  return (unsigned char)(i * 2654435761u >> 13);
}

/* Write total bytes in chunks cycling through sizes[], then read back. */
static void round_trip(const char *dir, const size_t *sizes, size_t n_sizes,
                       size_t total)
{
  char path[256];
  snprintf(path, sizeof path, "%s/direct-writer-XXXXXX", dir);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  unsigned char *data = malloc(total + 1);
  assert_non_null(data);
  for (size_t i = 0; i < total; i++)
    data[i] = pattern(i);

  struct direct_writer w;
  assert_int_equal(direct_writer_init(&w, fd), 0);
  for (size_t off = 0, k = 0; off < total; k++) {
    size_t n = sizes[k % n_sizes];
    if (n > total - off)
      n = total - off;
    assert_int_equal(direct_writer_write(&w, data + off, n), 0);
    off += n;
  }
  assert_int_equal(direct_writer_finish(&w), 0);
  direct_writer_release(&w);
  assert_false(fcntl(fd, F_GETFL) & O_DIRECT);

  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal(st.st_size, total);
  unsigned char *back = malloc(total + 1);
  assert_non_null(back);
  assert_int_equal(pread(fd, back, total, 0), (ssize_t)total);
  assert_memory_equal(back, data, total);
  free(back);
  free(data);
  close(fd);
}

static const size_t odd_sizes[] = {1, 4095, 7, 65536, 1048579, 4096, 333};

static void test_odd_chunks_on_disk(void **state)
{
  round_trip("/var/tmp", odd_sizes, 7, 5 * 1048576 + 12345);
}

static void test_exact_blocks_on_disk(void **state)
{
  const size_t block[] = {4096};
  round_trip("/var/tmp", block, 1, 2 * 1048576);
}

static void test_short_file_on_disk(void **state)
{
  round_trip("/var/tmp", odd_sizes, 7, 100);
  round_trip("/var/tmp", odd_sizes, 7, 0);
}

static void test_odd_chunks_on_tmpfs(void **state)
{
  round_trip("/dev/shm", odd_sizes, 7, 3 * 1048576 + 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_odd_chunks_on_disk),
      cmocka_unit_test(test_exact_blocks_on_disk),
      cmocka_unit_test(test_short_file_on_disk),
      cmocka_unit_test(test_odd_chunks_on_tmpfs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
