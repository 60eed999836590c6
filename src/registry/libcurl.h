/* libcurl, loaded by the first registry client: linked, it and what it
 * pulls in (OpenSSL's libssl, Kerberos, LDAP, libssh2, nghttp2, ...) cost
 * skiffd about 1.5 MB of resident memory from start-up on, though most
 * daemons never talk to a registry. Call the functions through the table:
 * libcurl.curl_easy_init(). Internal to src/registry. */
#ifndef SKIFF_REGISTRY_LIBCURL_H
#define SKIFF_REGISTRY_LIBCURL_H

/* curl.h's type-checking wrappers are macros named like the functions; they
 * would expand inside libcurl.curl_easy_setopt(...). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "common/error.h"

#define LIBCURL_FUNCTIONS(X)                                                           \
  X(curl_easy_cleanup)                                                                 \
  X(curl_easy_escape)                                                                  \
  X(curl_easy_getinfo)                                                                 \
  X(curl_easy_init)                                                                    \
  X(curl_easy_perform)                                                                 \
  X(curl_easy_setopt)                                                                  \
  X(curl_easy_strerror)                                                                \
  X(curl_free)                                                                         \
  X(curl_global_init)                                                                  \
  X(curl_share_init)                                                                   \
  X(curl_share_setopt)                                                                 \
  X(curl_slist_append)                                                                 \
  X(curl_slist_free_all)                                                               \
  X(curl_version_info)

struct libcurl_table {
#define LIBCURL_POINTER(f) __typeof__(f) *f;
  LIBCURL_FUNCTIONS(LIBCURL_POINTER)
#undef LIBCURL_POINTER
};

extern struct libcurl_table libcurl;

/* Load it and run curl_global_init, once (thread-safe). Returns -1 with
 * *err when it is missing. */
int libcurl_load(skiff_error_t **err);

#endif
