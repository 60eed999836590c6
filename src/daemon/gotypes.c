/* encoding/json's type checks over a jansson tree: see gotypes.h. */
#include "gotypes.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"

const struct gotype gotype_string = {.kind = GOTYPE_STRING, .name = "string"};
const struct gotype gotype_bool = {.kind = GOTYPE_BOOL, .name = "bool"};
const struct gotype gotype_int = {
    .kind = GOTYPE_INT, .name = "int", .min = INT64_MIN, .max = INT64_MAX};
const struct gotype gotype_int64 = {
    .kind = GOTYPE_INT, .name = "int64", .min = INT64_MIN, .max = INT64_MAX};
const struct gotype gotype_uint16 = {
    .kind = GOTYPE_INT, .name = "uint16", .min = 0, .max = UINT16_MAX};
const struct gotype gotype_uint32 = {
    .kind = GOTYPE_INT, .name = "uint32", .min = 0, .max = UINT32_MAX};
/* jansson holds integers as int64: a larger uint64 already fails to parse. */
const struct gotype gotype_uint64 = {
    .kind = GOTYPE_INT, .name = "uint64", .min = 0, .max = INT64_MAX};
const struct gotype gotype_strings = {
    .kind = GOTYPE_LIST, .name = "[]string", .elem = &gotype_string};
const struct gotype gotype_string_map = {
    .kind = GOTYPE_MAP, .name = "map[string]string", .elem = &gotype_string};
/* StrSlice's UnmarshalJSON tries []string, then string: a failure reports
 * the second attempt, so its type is "string". */
const struct gotype gotype_strslice = {.kind = GOTYPE_STRSLICE, .name = "string"};
const struct gotype gotype_any = {.kind = GOTYPE_ANY, .name = "interface {}"};

struct walk {
  const char *struct_name; /* the innermost struct being decoded (Go's Struct) */
  char path[512];          /* the field names from the root, dot-separated */
  skiff_error_t **err;
};

static int check(json_t *v, const struct gotype *t, struct walk *w);

static const char *kind_of(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER:
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "bool";
  default: return "null";
  }
}

/* Go's Struct names the type without its package ("RestartPolicy"). */
static const char *short_name(const char *name)
{
  const char *dot = strrchr(name, '.');
  return dot && strchr(name, ' ') == NULL ? dot + 1 : name;
}

static int mismatch(struct walk *w, const char *what, const struct gotype *t)
{
  if (w->path[0] == '\0')
    return skiff_error_invalid(
        w->err, "json: cannot unmarshal %s into Go value of type %s", what, t->name);
  return skiff_error_invalid(w->err,
                             "json: cannot unmarshal %s into Go struct field %s.%s of "
                             "type %s",
                             what, w->struct_name, w->path, t->name);
}

/* An integer field given a fraction or a number out of its range: Go
 * quotes the number ("number 1.5", "number -1" for a uint16). */
static int check_int(json_t *v, const struct gotype *t, struct walk *w)
{
  if (!json_is_number(v))
    return mismatch(w, kind_of(v), t);
  if (json_is_integer(v) && json_integer_value(v) >= t->min &&
      json_integer_value(v) <= t->max)
    return 0;
  cleanup_free char *text = json_dumps(v, JSON_ENCODE_ANY);
  char what[96];
  snprintf(what, sizeof what, "number %s", text ? text : "");
  return mismatch(w, what, t);
}

static int check_strslice(json_t *v, struct walk *w)
{
  if (json_is_string(v))
    return 0;
  bool all_strings = json_is_array(v);
  size_t i;
  json_t *item;
  json_array_foreach(v, i, item) all_strings &=
      json_is_string(item) || json_is_null(item);
  return all_strings ? 0 : mismatch(w, kind_of(v), &gotype_strslice);
}

static int check_items(json_t *v, const struct gotype *t, struct walk *w)
{
  size_t i;
  json_t *item;
  if (json_is_array(v)) {
    json_array_foreach(v, i, item) if (check(item, t->elem, w) < 0) return -1;
    return 0;
  }
  const char *key;
  json_object_foreach(v, key, item) if (check(item, t->elem, w) < 0) return -1;
  return 0;
}

/* Go prefers the field spelled exactly as the key, then one that matches
 * it in another case. */
static const struct gofield *find_field(const struct gotype *t, const char *key)
{
  for (const struct gofield *f = t->fields; f && f->key; f++)
    if (strcmp(f->key, key) == 0)
      return f;
  for (const struct gofield *f = t->fields; f && f->key; f++)
    if (strcasecmp(f->key, key) == 0)
      return f;
  return NULL;
}

static void rename_keys(json_t *obj, json_t *renames)
{
  size_t i;
  json_t *pair;
  json_array_foreach(renames, i, pair)
  {
    const char *from = json_string_value(json_array_get(pair, 0));
    const char *to = json_string_value(json_array_get(pair, 1));
    json_object_set(obj, to, json_object_get(obj, from));
    json_object_del(obj, from);
  }
}

static int check_struct(json_t *obj, const struct gotype *t, struct walk *w)
{
  const char *outer = w->struct_name;
  size_t len = strlen(w->path);
  cleanup_json json_t *renames = json_array();
  const char *key;
  json_t *v;
  w->struct_name = short_name(t->name);
  json_object_foreach(obj, key, v)
  {
    const struct gofield *f = find_field(t, key);
    if (f == NULL)
      continue; /* unknown keys are ignored */
    snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "." : "", f->key);
    if (check(v, f->type, w) < 0)
      return -1;
    w->path[len] = '\0';
    if (strcmp(key, f->key) != 0)
      json_array_append_new(renames, json_pack("[s,s]", key, f->key));
  }
  w->struct_name = outer;
  rename_keys(obj, renames);
  return 0;
}

static int check(json_t *v, const struct gotype *t, struct walk *w)
{
  if (json_is_null(v))
    return 0; /* null leaves the zero value */
  switch (t->kind) {
  case GOTYPE_STRING: return json_is_string(v) ? 0 : mismatch(w, kind_of(v), t);
  case GOTYPE_BOOL: return json_is_boolean(v) ? 0 : mismatch(w, kind_of(v), t);
  case GOTYPE_INT: return check_int(v, t, w);
  case GOTYPE_STRSLICE: return check_strslice(v, w);
  case GOTYPE_LIST:
    return json_is_array(v) ? check_items(v, t, w) : mismatch(w, kind_of(v), t);
  case GOTYPE_MAP:
    return json_is_object(v) ? check_items(v, t, w) : mismatch(w, kind_of(v), t);
  case GOTYPE_STRUCT:
    return json_is_object(v) ? check_struct(v, t, w) : mismatch(w, kind_of(v), t);
  case GOTYPE_ANY: return 0;
  }
  return 0;
}

int gotypes_check(json_t *value, const struct gotype *type, skiff_error_t **err)
{
  struct walk w = {.struct_name = short_name(type->name), .err = err};
  if (json_is_null(value))
    return 0;
  return check(value, type, &w);
}

int gotypes_has_field(json_t *obj, const struct gotype *type)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) if (find_field(type, key)) return 1;
  return 0;
}
