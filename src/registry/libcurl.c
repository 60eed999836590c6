#include "libcurl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

struct libcurl_table libcurl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256]; /* why it did not load */

static void load(void)
{
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(load_error, sizeof load_error, "cannot load libcurl: %s", dlerror());
    return;
  }
#define LIBCURL_RESOLVE(f)                                                             \
  if ((libcurl.f = (__typeof__(f) *)dlsym(h, #f)) == NULL) {                           \
    snprintf(load_error, sizeof load_error, "libcurl has no %s", #f);                  \
    dlclose(h);                                                                        \
    return;                                                                            \
  }
  LIBCURL_FUNCTIONS(LIBCURL_RESOLVE)
#undef LIBCURL_RESOLVE
  CURLcode r = libcurl.curl_global_init(CURL_GLOBAL_DEFAULT);
  if (r != CURLE_OK) {
    snprintf(load_error, sizeof load_error, "libcurl: %s",
             libcurl.curl_easy_strerror(r));
    return;
  }
  loaded = true;
}

int libcurl_load(skiff_error_t **err)
{
  pthread_once(&load_once, load);
  if (!loaded)
    return skiff_error_status(err, ENOENT, "%s", load_error);
  return 0;
}
