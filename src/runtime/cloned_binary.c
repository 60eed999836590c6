/* CVE-2019-5736: a process of the runtime that is visible inside the
 * container (the init before its execve, an exec'd process before its own)
 * exposes the runtime's binary as /proc/PID/exe. A root process in the
 * container can open it and, once the runtime has exited, write through
 * that fd -- replacing the host's runtime binary. So, like runc and crun,
 * we first re-execute ourselves from a sealed in-memory copy: /proc/PID/exe
 * then names a memfd that nobody can write. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime.h"

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static bool running_from_sealed_copy(void)
{
  cleanup_close int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  int seals = fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

static int copy_all(int from, int to, off_t size)
{
  off_t offset = 0;
  while (offset < size) {
    ssize_t n = sendfile(to, from, &offset, (size_t)(size - offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
  }
  return 0;
}

int runtime_sealed_copy(const char *path, const char *name, skiff_error_t **err)
{
  cleanup_close int exe = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (exe < 0 || fstat(exe, &st) < 0)
    return skiff_error_errno(err, "open %s", path);
  cleanup_close int copy = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0)
    return skiff_error_errno(err, "memfd_create for a sealed copy of %s", path);
  if (copy_all(exe, copy, st.st_size) < 0)
    return skiff_error_errno(err, "copy %s into memory", path);
  if (fcntl(copy, F_ADD_SEALS, REQUIRED_SEALS) < 0)
    return skiff_error_errno(err, "seal the copy of %s", path);
  return steal_fd(&copy);
}

int runtime_ensure_cloned_binary(char **argv, skiff_error_t **err)
{
  if (running_from_sealed_copy())
    return 0;
  cleanup_close int copy = runtime_sealed_copy("/proc/self/exe", "skiff-oci", err);
  if (copy < 0)
    return -1;
  fexecve(copy, argv, environ);
  return skiff_error_errno(err, "re-execute the runtime from its sealed copy");
}
