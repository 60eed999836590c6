#include "jsonutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "cleanup.h"
#include "fs.h"

json_t *jsonutil_load_file(const char *path, skiff_error_t **err)
{
  json_error_t jerr;
  json_t *json = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (json == NULL) {
    int saved = access(path, R_OK) < 0 ? errno : 0;
    if (saved)
      skiff_error_set(err, saved, "open %s", path);
    else
      skiff_error_invalid(err, "parse %s: line %d column %d: %s", path, jerr.line,
                          jerr.column, jerr.text);
  }
  return json;
}

int jsonutil_save_file(const char *path, json_t *json, unsigned flags,
                       skiff_error_t **err)
{
  cleanup_free char *text = json_dumps(json, JSON_COMPACT);
  if (text == NULL)
    return skiff_error_set(err, ENOMEM, "serialize %s", path);
  return fs_write_file_atomic(path, text, strlen(text), 0600, flags, err);
}

const char *jsonutil_type_name(const json_t *value)
{
  switch (json_typeof(value)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

static json_t *lookup(json_t *obj, const char *key)
{
  if (obj == NULL || !json_is_object(obj))
    return NULL;
  json_t *v = json_object_get(obj, key);
  return json_is_null(v) ? NULL : v;
}

static int wrong_type(const char *where, const char *key, const char *want, json_t *got,
                      skiff_error_t **err)
{
  return skiff_error_invalid(err, "%s%s%s: expected %s, got %s", where ? where : "",
                             where && *where ? "." : "", key, want,
                             jsonutil_type_name(got));
}

int jsonutil_opt_string(json_t *obj, const char *key, const char **out,
                        const char *where, skiff_error_t **err)
{
  json_t *v = lookup(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_string(v))
    return wrong_type(where, key, "string", v, err);
  *out = json_string_value(v);
  return 0;
}

int jsonutil_req_string(json_t *obj, const char *key, const char **out,
                        const char *where, skiff_error_t **err)
{
  if (lookup(obj, key) == NULL)
    return skiff_error_invalid(err, "%s%s%s: missing", where ? where : "",
                               where && *where ? "." : "", key);
  return jsonutil_opt_string(obj, key, out, where, err);
}

int jsonutil_opt_bool(json_t *obj, const char *key, bool *out, const char *where,
                      skiff_error_t **err)
{
  json_t *v = lookup(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_boolean(v))
    return wrong_type(where, key, "boolean", v, err);
  *out = json_is_true(v);
  return 0;
}

int jsonutil_opt_int64(json_t *obj, const char *key, int64_t *out, const char *where,
                       skiff_error_t **err)
{
  json_t *v = lookup(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_integer(v))
    return wrong_type(where, key, "integer", v, err);
  *out = json_integer_value(v);
  return 0;
}

int jsonutil_opt_uint64(json_t *obj, const char *key, uint64_t *out, const char *where,
                        skiff_error_t **err)
{
  int64_t value = 0;
  json_t *v = lookup(obj, key);
  if (v == NULL)
    return 0;
  if (jsonutil_opt_int64(obj, key, &value, where, err) < 0)
    return -1;
  if (value < 0)
    return skiff_error_invalid(err, "%s%s%s: must not be negative", where ? where : "",
                               where && *where ? "." : "", key);
  *out = (uint64_t)value;
  return 0;
}

int jsonutil_opt_object(json_t *obj, const char *key, json_t **out, const char *where,
                        skiff_error_t **err)
{
  json_t *v = lookup(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_object(v))
    return wrong_type(where, key, "object", v, err);
  *out = v;
  return 0;
}

int jsonutil_opt_array(json_t *obj, const char *key, json_t **out, const char *where,
                       skiff_error_t **err)
{
  json_t *v = lookup(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_array(v))
    return wrong_type(where, key, "array", v, err);
  *out = v;
  return 0;
}

int jsonutil_opt_strv(json_t *obj, const char *key, char ***out, const char *where,
                      skiff_error_t **err)
{
  json_t *array = NULL;
  if (jsonutil_opt_array(obj, key, &array, where, err) < 0)
    return -1;
  size_t n = array ? json_array_size(array) : 0;
  char **v = calloc(n + 1, sizeof(char *));
  if (v == NULL)
    return skiff_error_set(err, ENOMEM, "%s.%s", where, key);
  for (size_t i = 0; i < n; i++) {
    json_t *item = json_array_get(array, i);
    if (!json_is_string(item)) {
      cleanup_strv char **drop = v;
      return skiff_error_invalid(err, "%s%s%s[%zu]: expected string, got %s",
                                 where ? where : "", where && *where ? "." : "", key, i,
                                 jsonutil_type_name(item));
    }
    v[i] = strdup(json_string_value(item));
  }
  *out = v;
  return 0;
}
