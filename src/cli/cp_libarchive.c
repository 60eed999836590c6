#include "cp_libarchive.h"

#include <dlfcn.h>
#include <errno.h>

struct cp_libarchive cp_libarchive;

int cp_libarchive_load(skiff_error_t **err)
{
  static void *handle;
  if (handle)
    return 0;
  void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    return skiff_error_status(err, ENOENT, "cannot load libarchive: %s", dlerror());
#define CP_LIBARCHIVE_RESOLVE(f)                                                     \
  if ((cp_libarchive.f = (__typeof__(f) *)dlsym(h, #f)) == NULL) {                   \
    dlclose(h);                                                                      \
    return skiff_error_status(err, ENOENT, "libarchive has no %s", #f);              \
  }
  CP_LIBARCHIVE_FUNCTIONS(CP_LIBARCHIVE_RESOLVE)
#undef CP_LIBARCHIVE_RESOLVE
  handle = h;
  return 0;
}
