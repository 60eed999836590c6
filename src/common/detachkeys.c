#include "detachkeys.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* ctrl-<c> is the control code of c: @ is 0, a-z are 1-26, then [ \ ] ^ _. */
static int ctrl_code(const char *key, size_t len)
{
  static const char prefix[] = "ctrl-";
  size_t plen = sizeof prefix - 1;
  if (len != plen + 1 || strncasecmp(key, prefix, plen) != 0)
    return -1;
  int c = tolower((unsigned char)key[plen]);
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 1;
  const char *specials = "@[\\]^_";
  const char *at = strchr(specials, c);
  if (c == '\0' || at == NULL)
    return -1;
  return at == specials ? 0 : 'z' - 'a' + 1 + (int)(at - specials);
}

int detachkeys_parse(const char *spec, struct detach_keys *keys, skiff_error_t **err)
{
  if (spec == NULL || *spec == '\0') {
    *keys = (struct detach_keys){.seq = {16, 17}, .len = 2}; /* ctrl-p, ctrl-q */
    return 0;
  }
  keys->len = 0;
  for (const char *key = spec;;) {
    size_t len = strcspn(key, ",");
    int code = len == 1 ? (unsigned char)key[0] : ctrl_code(key, len);
    if (code < 0 || keys->len == DETACHKEYS_MAX)
      return skiff_error_invalid(err, "Invalid detach keys (%s) provided", spec);
    keys->seq[keys->len++] = (unsigned char)code;
    if (key[len] == '\0')
      return 0;
    key += len + 1;
  }
}

void detach_scanner_init(struct detach_scanner *s, const struct detach_keys *keys)
{
  s->keys = keys;
  s->matched = 0;
}

size_t detach_scanner_feed(struct detach_scanner *s, const char *in, size_t len,
                           char *out, bool *detached)
{
  size_t n = 0;
  *detached = false;
  for (size_t i = 0; i < len; i++) {
    unsigned char b = (unsigned char)in[i];
    if (b == s->keys->seq[s->matched]) {
      if (++s->matched == s->keys->len) {
        s->matched = 0;
        *detached = true;
        return n;
      }
      continue;
    }
    n += detach_scanner_flush(s, out + n);
    out[n++] = (char)b;
  }
  return n;
}

size_t detach_scanner_flush(struct detach_scanner *s, char *out)
{
  size_t n = s->matched;
  memcpy(out, s->keys->seq, n);
  s->matched = 0;
  return n;
}
