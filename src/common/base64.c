#include "base64.h"

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
