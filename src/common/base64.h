/* Base64 (RFC 4648, standard alphabet), as in the API's
 * X-Docker-Container-Path-Stat header. */
#ifndef SKIFF_COMMON_BASE64_H
#define SKIFF_COMMON_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Decode len characters of in (padding optional) into out, which has room
 * for len * 3 / 4 + 3 bytes. Returns the decoded length, or -1 on a
 * character outside the alphabet or a malformed end. */
ssize_t base64_decode(const char *in, size_t len, unsigned char *out);

/* Encode len bytes, padded, with the standard alphabet or (url) RFC 4648's
 * URL-safe one (X-Registry-Auth). New string, NULL when out of memory. */
char *base64_encode(const void *data, size_t len, bool url);

#endif
