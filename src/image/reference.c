/* Image references with docker's rules (distribution/reference): the
 * grammar, the normalisation to "domain/path:tag", and the familiar short
 * form. Pure string code, no store access.
 *
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *   domain    := host [":" port]   (a first component is a domain only when
 *                it has "." or ":", is "localhost", or has upper case)
 *   path-component := [a-z0-9]+ (("." | "_" | "__" | "-"+) [a-z0-9]+)*
 *   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest    := algorithm ":" hex{32,}   (sha256: exactly 64 lowercase) */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "image_internal.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define NAME_TOTAL_MAX 255

static bool is_lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex_lower(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

/* One path component of length n: alnum runs joined by ".", "_", "__"
 * or any number of "-". */
static bool valid_path_component(const char *s, size_t n)
{
  size_t i = 0;
  if (n == 0 || !is_lower_alnum(s[0]))
    return false;
  while (i < n) {
    while (i < n && is_lower_alnum(s[i]))
      i++;
    if (i == n)
      return true;
    size_t sep = i;
    if (s[i] == '.')
      i++;
    else if (s[i] == '_')
      i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
    else
      while (i < n && s[i] == '-')
        i++;
    if (i == sep || i == n || !is_lower_alnum(s[i]))
      return false;
  }
  return true;
}

static bool valid_domain_label(const char *s, size_t n)
{
  if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-')
      return false;
  return true;
}

static bool valid_port(const char *s, size_t n)
{
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

/* host[:port] where host is dotted labels or a bracketed IPv6 address. */
static bool valid_domain(const char *s, size_t n)
{
  size_t host_end = n;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || close == s + 1)
      return false;
    for (const char *p = s + 1; p < close; p++)
      if (!isxdigit((unsigned char)*p) && *p != ':')
        return false;
    host_end = (size_t)(close - s) + 1;
    if (host_end == n)
      return true;
    return s[host_end] == ':' && valid_port(s + host_end + 1, n - host_end - 1);
  }
  const char *colon = memchr(s, ':', n);
  if (colon) {
    host_end = (size_t)(colon - s);
    if (!valid_port(colon + 1, n - host_end - 1))
      return false;
  }
  size_t start = 0;
  for (size_t i = 0; i <= host_end; i++) {
    if (i == host_end || s[i] == '.') {
      if (!valid_domain_label(s + start, i - start))
        return false;
      start = i + 1;
    }
  }
  return true;
}

static bool valid_tag(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 128)
    return false;
  for (size_t i = 0; i < n; i++) {
    bool word = isalnum((unsigned char)s[i]) || s[i] == '_';
    if (!word && (i == 0 || (s[i] != '.' && s[i] != '-')))
      return false;
  }
  return true;
}

static bool valid_digest(const char *s)
{
  const char *colon = strchr(s, ':');
  if (colon == NULL || colon == s)
    return false;
  if (strncmp(s, "sha256:", 7) == 0)
    return strlen(colon + 1) == DIGEST_HEX_LEN &&
           is_hex_lower(colon + 1, DIGEST_HEX_LEN);
  for (const char *p = s; p < colon; p++)
    if (!isalnum((unsigned char)*p) && !strchr("+.-_", *p))
      return false;
  size_t hex = strlen(colon + 1);
  if (hex < 32)
    return false;
  for (const char *p = colon + 1; *p; p++)
    if (!isxdigit((unsigned char)*p))
      return false;
  return isalpha((unsigned char)s[0]);
}

static int invalid_format(skiff_error_t **err, const char *ref)
{
  return skiff_error_invalid(err, "invalid reference format: \"%s\"", ref);
}

/* Split off "@digest" and ":tag" (a ':' after the last '/'). */
static int split_tag_digest(char *s, char **tag, char **digest)
{
  *tag = *digest = NULL;
  char *at = strchr(s, '@');
  if (at) {
    *at = '\0';
    *digest = at + 1;
  }
  char *slash = strrchr(s, '/');
  char *colon = strrchr(slash ? slash : s, ':');
  if (colon) {
    *colon = '\0';
    *tag = colon + 1;
  }
  return 0;
}

/* Split "domain/remainder" as docker does; returns the domain (new string)
 * and points *rest into name. */
static char *split_domain(const char *name, const char **rest)
{
  const char *slash = strchr(name, '/');
  bool has_domain = false;
  if (slash) {
    size_t n = (size_t)(slash - name);
    bool dotted = memchr(name, '.', n) || memchr(name, ':', n);
    bool upper = false;
    for (size_t i = 0; i < n; i++)
      upper |= isupper((unsigned char)name[i]) != 0;
    has_domain = dotted || upper || (n == 9 && strncmp(name, "localhost", 9) == 0);
  }
  if (!has_domain) {
    *rest = name;
    return strdup(DEFAULT_DOMAIN);
  }
  *rest = slash + 1;
  char *domain = strndup(name, (size_t)(slash - name));
  if (domain && strcmp(domain, LEGACY_DOMAIN) == 0) {
    free(domain);
    domain = strdup(DEFAULT_DOMAIN);
  }
  return domain;
}

static bool valid_path(const char *path)
{
  const char *p = path;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (!valid_path_component(p, n))
      return false;
    if (slash == NULL)
      return true;
    p = slash + 1;
  }
}

static int check_remote_name(const char *ref, const char *domain, const char *path,
                             skiff_error_t **err)
{
  for (const char *p = path; *p; p++)
    if (isupper((unsigned char)*p))
      return skiff_error_invalid(err,
                                 "invalid reference format: repository name (%.*s) "
                                 "must be lowercase",
                                 (int)strcspn(path, ":"), path);
  if (!valid_domain(domain, strlen(domain)) || !valid_path(path))
    return invalid_format(err, ref);
  if (strlen(domain) + 1 + strlen(path) > NAME_TOTAL_MAX)
    return skiff_error_invalid(err,
                               "invalid reference format: repository name must "
                               "not be more than %d characters",
                               NAME_TOTAL_MAX);
  return 0;
}

char *image_reference_normalize(const char *ref, skiff_error_t **err)
{
  if (ref == NULL || *ref == '\0') {
    invalid_format(err, ref ? ref : "");
    return NULL;
  }
  if (strlen(ref) == DIGEST_HEX_LEN && is_hex_lower(ref, DIGEST_HEX_LEN)) {
    skiff_error_invalid(err,
                        "invalid repository name (%s), cannot specify 64-byte "
                        "hexadecimal strings",
                        ref);
    return NULL;
  }
  cleanup_free char *copy = strdup(ref);
  if (copy == NULL) {
    skiff_error_set(err, ENOMEM, "normalize %s", ref);
    return NULL;
  }
  char *tag, *digest;
  split_tag_digest(copy, &tag, &digest);
  const char *path;
  cleanup_free char *domain = split_domain(copy, &path);
  if (domain == NULL)
    return NULL;
  bool official = strcmp(domain, DEFAULT_DOMAIN) == 0 && strchr(path, '/') == NULL;
  cleanup_free char *full_path = NULL;
  if (asprintf(&full_path, "%s%s", official ? OFFICIAL_PREFIX : "", path) < 0) {
    skiff_error_set(err, ENOMEM, "normalize %s", ref);
    return NULL;
  }
  if (check_remote_name(ref, domain, full_path, err) < 0)
    return NULL;
  if ((tag && !valid_tag(tag)) || (digest && !valid_digest(digest))) {
    invalid_format(err, ref);
    return NULL;
  }
  char *out = NULL;
  if (asprintf(&out, "%s/%s%s%s%s%s", domain, full_path, tag || !digest ? ":" : "",
               tag ? tag : (digest ? "" : "latest"), digest ? "@" : "",
               digest ? digest : "") < 0)
    return NULL;
  return out;
}

char *image_reference_familiar(const char *normalized)
{
  const char *p = normalized;
  if (strncmp(p, DEFAULT_DOMAIN "/", strlen(DEFAULT_DOMAIN) + 1) == 0) {
    p += strlen(DEFAULT_DOMAIN) + 1;
    size_t plen = strlen(OFFICIAL_PREFIX);
    if (strncmp(p, OFFICIAL_PREFIX, plen) == 0) {
      /* Only "library/x", not "library/x/y", loses its prefix. */
      const char *rest = p + plen;
      size_t name_len = strcspn(rest, ":@");
      if (memchr(rest, '/', name_len) == NULL)
        p = rest;
    }
  }
  return strdup(p);
}

void reference_split(const char *normalized, char **name, char **tag, char **digest)
{
  cleanup_free char *copy = strdup(normalized);
  *name = *tag = *digest = NULL;
  if (copy == NULL)
    return;
  char *t, *d;
  split_tag_digest(copy, &t, &d);
  *name = strdup(copy);
  *tag = t ? strdup(t) : NULL;
  *digest = d ? strdup(d) : NULL;
}

bool reference_is_id_prefix(const char *s)
{
  if (strncmp(s, "sha256:", 7) == 0)
    s += 7;
  size_t n = strlen(s);
  return n > 0 && n <= DIGEST_HEX_LEN && is_hex_lower(s, n);
}
