/* config.json as Go's json.MarshalIndent(configFile, "", "\t") writes
 * docker's ConfigFile (cli/config/configfile/file.go): a struct, so its
 * fields in declaration order, each left out when empty ("omitempty") but
 * "auths"; maps (auths, HttpHeaders, credHelpers, ...) with their keys
 * sorted; tabs; ", " nowhere, ": " between key and value; and Go's string
 * escapes, which are HTML-safe ("<" ">" "&" as \u003c \u003e \u0026). */
#include "configfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"

enum kind {
  PLAIN,   /* written as it is, maps sorted */
  AUTHS,   /* never left out; each entry a login (AuthConfig) */
  PROXIES, /* each entry a ProxyConfig */
};

struct field {
  const char *name;
  enum kind kind;
};

/* docker 28's ConfigFile, in its order */
static const struct field config_fields[] = {
    {"auths", AUTHS},
    {"HttpHeaders", PLAIN},
    {"psFormat", PLAIN},
    {"imagesFormat", PLAIN},
    {"networksFormat", PLAIN},
    {"pluginsFormat", PLAIN},
    {"volumesFormat", PLAIN},
    {"statsFormat", PLAIN},
    {"detachKeys", PLAIN},
    {"credsStore", PLAIN},
    {"credHelpers", PLAIN},
    {"serviceInspectFormat", PLAIN},
    {"servicesFormat", PLAIN},
    {"tasksFormat", PLAIN},
    {"secretFormat", PLAIN},
    {"configFormat", PLAIN},
    {"nodesFormat", PLAIN},
    {"pruneFilters", PLAIN},
    {"proxies", PROXIES},
    {"currentContext", PLAIN},
    {"cliPluginsExtraDirs", PLAIN},
    {"plugins", PLAIN},
    {"aliases", PLAIN},
    {"features", PLAIN},
    {"experimental", PLAIN},
    {NULL, PLAIN},
};

/* AuthConfig as SaveToWriter leaves it: username, password and
 * serveraddress blanked (the first two folded into auth). */
static const struct field auth_fields[] = {
    {"auth", PLAIN},          {"email", PLAIN}, {"identitytoken", PLAIN},
    {"registrytoken", PLAIN}, {NULL, PLAIN},
};

static const struct field proxy_fields[] = {
    {"httpProxy", PLAIN}, {"httpsProxy", PLAIN}, {"noProxy", PLAIN},
    {"ftpProxy", PLAIN},  {"allProxy", PLAIN},   {NULL, PLAIN},
};

/* Go's encodeState.string with HTML escaping on (Go 1.22 and later). */
static void put_string(FILE *f, const char *s, size_t n)
{
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                                  : NULL;
    if (esc)
      fputs(esc, f);
    else if (c < 0x20 || c == '<' || c == '>' || c == '&')
      fprintf(f, "\\u%04x", c);
    else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
             ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
      /* U+2028 and U+2029, which JavaScript reads as line ends */
      fprintf(f, "\\u202%c", (unsigned char)s[i + 2] == 0xa8 ? '8' : '9');
      i += 2;
    } else {
      fputc(c, f);
    }
  }
  fputc('"', f);
}

static void put_indent(FILE *f, int depth)
{
  for (int i = 0; i < depth; i++)
    fputc('\t', f);
}

/* The start of a member of an object at depth: after "{" or ",". */
static void put_key(FILE *f, bool *first, int depth, const char *key)
{
  fputs(*first ? "\n" : ",\n", f);
  *first = false;
  put_indent(f, depth);
  put_string(f, key, strlen(key));
  fputs(": ", f);
}

static void put_close(FILE *f, bool first, int depth, char close)
{
  if (!first) {
    fputc('\n', f);
    put_indent(f, depth);
  }
  fputc(close, f);
}

static int compare_keys(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* obj's keys in Go's map order, those in skip (a field list) left out.
 * New array of borrowed keys, NULL-ended; NULL when out of memory. */
static const char **sorted_keys(json_t *obj, const struct field *skip)
{
  const char **keys = calloc(json_object_size(obj) + 1, sizeof *keys);
  size_t n = 0;
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    bool skipped = false;
    for (const struct field *s = skip; s && s->name && !skipped; s++)
      skipped = strcmp(s->name, key) == 0;
    if (keys && !skipped)
      keys[n++] = key;
  }
  if (keys)
    qsort(keys, n, sizeof *keys, compare_keys);
  return keys;
}

static void put_value(FILE *f, json_t *v, int depth);
static void put_struct(FILE *f, json_t *obj, const struct field *fields, int depth);

static void put_map(FILE *f, json_t *map, enum kind entries, int depth)
{
  cleanup_free const char **keys = sorted_keys(map, NULL);
  bool first = true;
  fputc('{', f);
  for (size_t i = 0; keys && keys[i]; i++) {
    json_t *v = json_object_get(map, keys[i]);
    put_key(f, &first, depth + 1, keys[i]);
    if (entries == AUTHS && json_is_object(v))
      put_struct(f, v, auth_fields, depth + 1);
    else if (entries == PROXIES && json_is_object(v))
      put_struct(f, v, proxy_fields, depth + 1);
    else
      put_value(f, v, depth + 1);
  }
  put_close(f, first, depth, '}');
}

static void put_value(FILE *f, json_t *v, int depth)
{
  if (json_is_object(v)) {
    put_map(f, v, PLAIN, depth);
  } else if (json_is_array(v)) {
    bool first = true;
    fputc('[', f);
    for (size_t i = 0; i < json_array_size(v); i++) {
      fputs(first ? "\n" : ",\n", f);
      first = false;
      put_indent(f, depth + 1);
      put_value(f, json_array_get(v, i), depth + 1);
    }
    put_close(f, first, depth, ']');
  } else if (json_is_string(v)) {
    put_string(f, json_string_value(v), json_string_length(v));
  } else {
    cleanup_free char *text = json_dumps(v, JSON_ENCODE_ANY);
    fputs(text ? text : "null", f);
  }
}

/* Go's omitempty: "", an empty map or list, nothing. */
static bool empty(json_t *v)
{
  return v == NULL || json_is_null(v) ||
         (json_is_string(v) && !*json_string_value(v)) ||
         (json_is_object(v) && json_object_size(v) == 0) ||
         (json_is_array(v) && json_array_size(v) == 0);
}

/* A struct: fields in order, the empty ones left out, then what docker
 * does not know. */
static void put_struct(FILE *f, json_t *obj, const struct field *fields, int depth)
{
  bool first = true;
  fputc('{', f);
  for (const struct field *fl = fields; fl->name; fl++) {
    json_t *v = json_object_get(obj, fl->name);
    if (fl->kind != AUTHS && empty(v))
      continue;
    put_key(f, &first, depth + 1, fl->name);
    if (v == NULL) /* "auths" is made before the file is read */
      fputs("{}", f);
    else if (fl->kind == PLAIN || !json_is_object(v))
      put_value(f, v, depth + 1);
    else
      put_map(f, v, fl->kind, depth + 1);
  }
  cleanup_free const char **rest = sorted_keys(obj, fields);
  for (size_t i = 0; rest && rest[i]; i++) {
    put_key(f, &first, depth + 1, rest[i]);
    put_value(f, json_object_get(obj, rest[i]), depth + 1);
  }
  put_close(f, first, depth, '}');
}

/* A login as docker saves it: "auth" from "username" and "password" when
 * it has none, those two and "serveraddress" gone. */
static int normalize_login(json_t *entry)
{
  const char *auth = json_string_value(json_object_get(entry, "auth"));
  const char *user = json_string_value(json_object_get(entry, "username"));
  const char *password = json_string_value(json_object_get(entry, "password"));
  if ((auth == NULL || !*auth) && ((user && *user) || (password && *password))) {
    cleanup_free char *pair = NULL;
    if (asprintf(&pair, "%s:%s", user ? user : "", password ? password : "") < 0)
      return -1;
    char *b64 = base64_encode(pair, strlen(pair), false);
    if (b64 == NULL || json_object_set_new(entry, "auth", json_string(b64)) < 0) {
      free(b64);
      return -1;
    }
    free(b64);
  }
  json_object_del(entry, "username");
  json_object_del(entry, "password");
  json_object_del(entry, "serveraddress");
  return 0;
}

/* What SaveToWriter changes before marshalling: the logins, and HttpHeaders
 * without User-Agent (set on every request, never stored). */
static int normalize(json_t *doc)
{
  json_t *auths = json_object_get(doc, "auths"), *headers;
  const char *key;
  json_t *entry;
  void *tmp;
  json_object_foreach(auths, key, entry)
  {
    if (json_is_object(entry) && normalize_login(entry) < 0)
      return -1;
  }
  headers = json_object_get(doc, "HttpHeaders");
  json_object_foreach_safe(headers, tmp, key, entry)
  {
    if (strcasecmp(key, "User-Agent") == 0)
      json_object_del(headers, key);
  }
  return 0;
}

char *configfile_text(json_t *doc)
{
  cleanup_json json_t *copy = json_is_object(doc) ? json_deep_copy(doc) : json_object();
  if (copy == NULL || normalize(copy) < 0)
    return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return NULL;
  put_struct(f, copy, config_fields, 0);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
