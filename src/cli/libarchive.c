#include "libarchive.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

struct libarchive_table libarchive;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256]; /* why it did not load */

static void load(void)
{
  void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(load_error, sizeof load_error, "cannot load libarchive: %s", dlerror());
    return;
  }
#define LIBARCHIVE_RESOLVE(f)                                                          \
  if ((libarchive.f = (__typeof__(f) *)dlsym(h, #f)) == NULL) {                        \
    snprintf(load_error, sizeof load_error, "libarchive has no %s", #f);               \
    dlclose(h);                                                                        \
    return;                                                                            \
  }
  LIBARCHIVE_FUNCTIONS(LIBARCHIVE_RESOLVE)
#undef LIBARCHIVE_RESOLVE
  loaded = true;
}

int libarchive_load(skiff_error_t **err)
{
  pthread_once(&load_once, load);
  if (!loaded)
    return skiff_error_status(err, ENOENT, "%s", load_error);
  return 0;
}
