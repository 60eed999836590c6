#include "base64.h"

#include <stdlib.h>
#include <string.h>

static int value_of(char c)
{
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *at = c ? strchr(alphabet, c) : NULL;
  return at ? (int)(at - alphabet) : -1;
}

ssize_t base64_decode(const char *in, size_t len, unsigned char *out)
{
  while (len > 0 && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return -1;
  size_t n = 0;
  unsigned bits = 0, acc = 0;
  for (size_t i = 0; i < len; i++) {
    int v = value_of(in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return (ssize_t)n;
}

char *base64_encode(const void *data, size_t len, bool url)
{
  const char *tbl =
      url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *in = data;
  char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
  for (size_t i = 0; out && i < len; i += 3) {
    unsigned v = (unsigned)in[i] << 16;
    v |= i + 1 < len ? (unsigned)in[i + 1] << 8 : 0;
    v |= i + 2 < len ? in[i + 2] : 0;
    *o++ = tbl[(v >> 18) & 63];
    *o++ = tbl[(v >> 12) & 63];
    *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
    *o++ = i + 2 < len ? tbl[v & 63] : '=';
  }
  if (out)
    *o = '\0';
  return out;
}
