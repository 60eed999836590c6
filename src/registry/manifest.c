/* References split for the registry, platforms ("linux/arm/v7") and what a
 * manifest or an index must hold before anything is fetched through it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "image/image.h"
#include "registry_internal.h"

/* ---- references ---- */

void registry_ref_clear(struct registry_ref *r)
{
  free(r->host);
  free(r->path);
  free(r->tag);
  free(r->digest);
  free(r->name);
  memset(r, 0, sizeof *r);
}

int registry_ref_parse(const char *text, struct registry_ref *out, skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  cleanup_free char *norm = image_reference_normalize(text, err);
  if (norm == NULL)
    return -1;
  char *at = strchr(norm, '@');
  if (at) {
    *at = '\0';
    out->digest = strdup(at + 1);
  }
  char *slash = strchr(norm, '/');
  char *colon = strrchr(slash, ':');
  if (colon) {
    *colon = '\0';
    out->tag = strdup(colon + 1);
  }
  out->name = strdup(norm);
  out->host = strndup(norm, (size_t)(slash - norm));
  out->path = strdup(slash + 1);
  if (out->name == NULL || out->host == NULL || out->path == NULL) {
    registry_ref_clear(out);
    return skiff_error_set(err, ENOMEM, "reference %s", text);
  }
  return 0;
}

char *registry_ref_familiar_name(const struct registry_ref *r)
{
  return image_reference_familiar(r->name);
}

/* ---- platforms ---- */

void registry_platform_clear(struct registry_platform *p)
{
  free(p->os);
  free(p->arch);
  free(p->variant);
  memset(p, 0, sizeof *p);
}

/* containerd's normalisation of architecture names and their variants. */
static void normalize_arch(struct registry_platform *p)
{
  static const char *const aliases[][3] = {
      {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
      {"i386", "386", NULL},     {"armhf", "arm", "v7"},    {"armel", "arm", "v6"},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++) {
    if (strcmp(p->arch, aliases[i][0]) == 0) {
      free(p->arch);
      p->arch = strdup(aliases[i][1]);
      if (aliases[i][2] && p->variant == NULL)
        p->variant = strdup(aliases[i][2]);
    }
  }
  /* arm64 is v8 unless said otherwise, so "" and "v8" are one variant. */
  if (p->variant && strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0) {
    free(p->variant);
    p->variant = NULL;
  }
}

static bool known_os(const char *s)
{
  static const char *const oses[] = {"linux", "windows", "darwin", "freebsd", NULL};
  for (size_t i = 0; oses[i]; i++)
    if (strcmp(s, oses[i]) == 0)
      return true;
  return false;
}

int registry_platform_parse(const char *text, struct registry_platform *out,
                            skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  if (text == NULL || *text == '\0') {
    out->os = strdup("linux");
    out->arch = strdup(image_host_arch());
  } else {
    cleanup_free char *copy = strdup(text);
    for (char *c = copy; c && *c; c++)
      *c = (char)tolower((unsigned char)*c);
    char *parts[4] = {0};
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok && n < 4;
         tok = strtok_r(NULL, "/", &save))
      parts[n++] = tok;
    if (n == 0 || n > 3 ||
        (n == 1 && known_os(parts[0]) == false && !isalnum(*parts[0])))
      return skiff_error_invalid(
          err, "invalid platform \"%s\": use os[/arch[/variant]]", text);
    if (n == 1 && !known_os(parts[0])) {
      out->os = strdup("linux");
      out->arch = strdup(parts[0]);
    } else {
      out->os = strdup(parts[0]);
      out->arch = strdup(n > 1 ? parts[1] : image_host_arch());
      out->variant = n > 2 ? strdup(parts[2]) : NULL;
    }
  }
  if (out->os == NULL || out->arch == NULL)
    return skiff_error_set(err, ENOMEM, "platform");
  normalize_arch(out);
  return 0;
}

char *registry_platform_format(const struct registry_platform *p)
{
  char *text = NULL;
  if (asprintf(&text, "%s/%s%s%s", p->os, p->arch, p->variant ? "/" : "",
               p->variant ? p->variant : "") < 0)
    return NULL;
  return text;
}

static bool platform_matches(json_t *desc, const struct registry_platform *want,
                             bool *exact)
{
  json_t *plat = json_object_get(desc, "platform");
  const char *os = json_string_value(json_object_get(plat, "os"));
  const char *arch = json_string_value(json_object_get(plat, "architecture"));
  const char *variant = json_string_value(json_object_get(plat, "variant"));
  if (os == NULL || arch == NULL)
    return false;
  struct registry_platform have = {.os = strdup(os),
                                   .arch = strdup(arch),
                                   .variant =
                                       variant && *variant ? strdup(variant) : NULL};
  if (have.os == NULL || have.arch == NULL) {
    registry_platform_clear(&have);
    return false;
  }
  normalize_arch(&have);
  bool same_variant =
      (have.variant == NULL && want->variant == NULL) ||
      (have.variant && want->variant && strcmp(have.variant, want->variant) == 0);
  bool match = strcmp(have.os, want->os) == 0 && strcmp(have.arch, want->arch) == 0 &&
               (same_variant || want->variant == NULL);
  *exact = match && same_variant;
  registry_platform_clear(&have);
  return match;
}

bool registry_is_index(const char *media_type, json_t *doc)
{
  if (media_type && (strcmp(media_type, MEDIA_DOCKER_LIST) == 0 ||
                     strcmp(media_type, MEDIA_OCI_INDEX) == 0))
    return true;
  const char *inner = json_string_value(json_object_get(doc, "mediaType"));
  if (inner)
    return strcmp(inner, MEDIA_DOCKER_LIST) == 0 || strcmp(inner, MEDIA_OCI_INDEX) == 0;
  return json_is_array(json_object_get(doc, "manifests")) &&
         json_object_get(doc, "config") == NULL;
}

json_t *registry_index_select(json_t *index, const struct registry_platform *want,
                              skiff_error_t **err)
{
  json_t *list = json_object_get(index, "manifests"), *desc, *loose = NULL;
  size_t i;
  json_array_foreach(list, i, desc)
  {
    bool exact = false;
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    if (digest == NULL || !platform_matches(desc, want, &exact))
      continue;
    if (exact)
      return desc;
    if (loose == NULL)
      loose = desc;
  }
  if (loose)
    return loose;
  cleanup_free char *text = registry_platform_format(want);
  skiff_error_status(err, ENOENT,
                     "no matching manifest for %s in the manifest list entries",
                     text ? text : "this platform");
  return NULL;
}

static bool descriptor_ok(json_t *desc)
{
  const char *digest = json_string_value(json_object_get(desc, "digest"));
  return json_is_object(desc) && digest && strncmp(digest, "sha256:", 7) == 0 &&
         strlen(digest) == 71 && strspn(digest + 7, "0123456789abcdef") == 64;
}

int registry_manifest_check(json_t *manifest, const char *media_type,
                            skiff_error_t **err)
{
  json_int_t version = json_integer_value(json_object_get(manifest, "schemaVersion"));
  if (version == 1)
    return skiff_error_invalid(err,
                               "unsupported manifest format: Docker Image manifest "
                               "version 2, schema 1 is not supported");
  const char *inner = json_string_value(json_object_get(manifest, "mediaType"));
  const char *type = inner ? inner : media_type;
  if (type && strcmp(type, MEDIA_DOCKER_MANIFEST) && strcmp(type, MEDIA_OCI_MANIFEST) &&
      inner)
    return skiff_error_invalid(err, "unsupported manifest media type %s", type);
  if (version != 2 || !descriptor_ok(json_object_get(manifest, "config")))
    return skiff_error_invalid(err, "invalid manifest: no valid config descriptor");
  json_t *layers = json_object_get(manifest, "layers"), *layer;
  if (!json_is_array(layers))
    return skiff_error_invalid(err, "invalid manifest: no layers");
  size_t i;
  json_array_foreach(layers, i, layer)
  {
    if (!descriptor_ok(layer))
      return skiff_error_invalid(err, "invalid manifest: layer %zu has no valid digest",
                                 i);
    const char *lt = json_string_value(json_object_get(layer, "mediaType"));
    if (lt && strstr(lt, "nondistributable") && json_object_get(layer, "urls"))
      return skiff_error_invalid(err,
                                 "unsupported manifest: layer %zu is a foreign layer "
                                 "(%s)",
                                 i, lt);
  }
  return 0;
}
