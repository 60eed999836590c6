/* The functions and value printing of the template engine (template.c):
 * docker's template functions, Go's builtins, and fmt's %v. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "format.h"
#include "template_internal.h"

static const char *const func_names[] = {
    "and",      "eq",    "ge",    "getDetailsOrder", "gt",      "index", "join",
    "json",     "le",    "len",   "lower",           "lt",      "ne",    "not",
    "or",       "pad",   "print", "printf",          "println", "split", "title",
    "truncate", "upper", NULL};

bool tmpl_is_func(const char *name, size_t len)
{
  for (const char *const *f = func_names; *f; f++)
    if (strlen(*f) == len && strncmp(*f, name, len) == 0)
      return true;
  return false;
}

/* ------------------------------------------------------------ printing */

static void print_float(struct strbuf *b, double f)
{
  if (isinf(f)) {
    strbuf_puts(b, f > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (isnan(f)) {
    strbuf_puts(b, "NaN");
    return;
  }
  /* Go's %v: the shortest representation that reads back, in %e form only
   * for exponents < -4 or >= 21. */
  char digits[64];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(digits, sizeof digits, "%.*e", prec - 1, f);
    if (strtod(digits, NULL) == f)
      break;
  }
  snprintf(digits, sizeof digits, "%.*e", prec - 1, f);
  int exp = atoi(strchr(digits, 'e') + 1);
  if (exp < -4 || exp >= 21) {
    char *e = strchr(digits, 'e');
    *e = '\0';
    strbuf_printf(b, "%se%c%02d", digits, exp < 0 ? '-' : '+', abs(exp));
    return;
  }
  int decimals = prec - 1 - exp;
  strbuf_printf(b, "%.*f", decimals > 0 ? decimals : 0, f);
}

static int cmp_keys(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **tmpl_sorted_keys(json_t *obj, size_t *n)
{
  *n = json_object_size(obj);
  const char **keys = calloc(*n + 1, sizeof(*keys));
  if (keys == NULL)
    return NULL;
  size_t i = 0;
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) keys[i++] = k;
  qsort(keys, *n, sizeof(*keys), cmp_keys);
  return keys;
}

void tmpl_print_value(struct strbuf *b, json_t *v)
{
  if (v == NULL) {
    strbuf_puts(b, "<no value>");
    return;
  }
  switch (json_typeof(v)) {
  case JSON_STRING:
    strbuf_append(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER: strbuf_printf(b, "%lld", (long long)json_integer_value(v)); break;
  case JSON_REAL: print_float(b, json_real_value(v)); break;
  case JSON_TRUE:
  case JSON_FALSE: strbuf_puts(b, json_is_true(v) ? "true" : "false"); break;
  case JSON_NULL: strbuf_puts(b, "<nil>"); break;
  case JSON_ARRAY: {
    strbuf_puts(b, "[");
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i)
        strbuf_puts(b, " ");
      tmpl_print_value(b, json_array_get(v, i));
    }
    strbuf_puts(b, "]");
    break;
  }
  case JSON_OBJECT: {
    size_t n;
    cleanup_free const char **keys = tmpl_sorted_keys(v, &n);
    strbuf_puts(b, "map[");
    for (size_t i = 0; keys && i < n; i++) {
      strbuf_printf(b, "%s%s:", i ? " " : "", keys[i]);
      tmpl_print_value(b, json_object_get(v, keys[i]));
    }
    strbuf_puts(b, "]");
    break;
  }
  }
}

char *template_print_value(json_t *value)
{
  struct strbuf b = {0};
  tmpl_print_value(&b, value);
  return strbuf_steal(&b);
}

/* ------------------------------------------------------------ functions */

static const char *str_arg(json_t *v)
{
  return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static int want_args(struct exec *x, const char *name, int n, int min, int max)
{
  if (n < min || (max >= 0 && n > max))
    return tmpl_exec_fail(x, "wrong number of args for %s: want %d got %d", name, min,
                          n);
  return 0;
}

/* docker's CLI marshals Go values: a struct keeps its field order, a map's
 * keys come sorted. Here both are JSON objects; one with a key that is not
 * an exported Go field name (capitalised) is taken for a map (labels, log
 * options, event attributes). Returns a new reference. */
static json_t *go_order(json_t *v)
{
  if (json_is_array(v)) {
    json_t *copy = json_array();
    for (size_t i = 0; i < json_array_size(v); i++)
      json_array_append_new(copy, go_order(json_array_get(v, i)));
    return copy;
  }
  if (!json_is_object(v))
    return json_incref(v);
  bool map = false;
  const char *k;
  json_t *item;
  json_object_foreach(v, k, item) map |= !(k[0] >= 'A' && k[0] <= 'Z');
  json_t *copy = json_object();
  size_t n = 0;
  cleanup_free const char **keys = map ? tmpl_sorted_keys(v, &n) : NULL;
  for (size_t i = 0; i < n; i++)
    json_object_set_new(copy, keys[i], go_order(json_object_get(v, keys[i])));
  if (!map)
    json_object_foreach(v, k, item) json_object_set_new(copy, k, go_order(item));
  return copy;
}

static int fn_json(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "json", n, 1, 1) < 0)
    return -1;
  if (a[0] == NULL) {
    *out = json_string("null");
    return 0;
  }
  /* Row objects hide their argument-taking methods ("Label()"). */
  cleanup_json json_t *shown = json_is_object(a[0]) ? json_object() : json_incref(a[0]);
  if (json_is_object(a[0])) {
    const char *k;
    json_t *v;
    json_object_foreach(a[0], k, v)
    {
      size_t l = strlen(k);
      if (l < 2 || strcmp(k + l - 2, "()") != 0)
        json_object_set(shown, k, v);
    }
  }
  cleanup_json json_t *ordered = go_order(shown);
  cleanup_free char *text = json_dumps(ordered, JSON_COMPACT | JSON_ENCODE_ANY);
  /* A whole row goes through docker's MarshalJSON, i.e. Go's json.Marshal,
   * which escapes <, > and & (the template's own json function does not). */
  if (text && (x->flags & TEMPLATE_STRICT) && a[0] == x->root) {
    struct strbuf b = {0};
    strbuf_puts(&b, "");
    for (const char *p = text; *p; p++) {
      if (*p == '<' || *p == '>' || *p == '&')
        strbuf_printf(&b, "\\u%04x", *p);
      else
        strbuf_append(&b, p, 1);
    }
    cleanup_free char *escaped = strbuf_steal(&b);
    *out = json_string(escaped);
    return 0;
  }
  *out = json_string(text ? text : "");
  return 0;
}

static int fn_join(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "join", n, 2, 2) < 0)
    return -1;
  if (!json_is_array(a[0]) || !str_arg(a[1]))
    return tmpl_exec_fail(x, "wrong type for value; expected []string; got %s",
                          tmpl_type_name(a[0]));
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  for (size_t i = 0; i < json_array_size(a[0]); i++) {
    if (i)
      strbuf_puts(&b, str_arg(a[1]));
    tmpl_print_value(&b, json_array_get(a[0], i));
  }
  cleanup_free char *s = strbuf_steal(&b);
  *out = json_string(s);
  return 0;
}

static int fn_split(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "split", n, 2, 2) < 0)
    return -1;
  const char *s = str_arg(a[0]), *sep = str_arg(a[1]);
  if (!s || !sep)
    return tmpl_exec_fail(x, "wrong type for value; expected string");
  *out = json_array();
  size_t seplen = strlen(sep);
  if (seplen == 0) {
    for (const char *p = s; *p; p++)
      json_array_append_new(*out, json_stringn(p, 1));
    return 0;
  }
  for (const char *p = s;;) {
    const char *hit = strstr(p, sep);
    json_array_append_new(*out, json_stringn(p, hit ? (size_t)(hit - p) : strlen(p)));
    if (hit == NULL)
      break;
    p = hit + seplen;
  }
  return 0;
}

static int fn_case(struct exec *x, const char *name, json_t **a, int n, json_t **out)
{
  if (want_args(x, name, n, 1, 1) < 0)
    return -1;
  cleanup_free char *s = template_print_value(a[0]);
  bool start = true;
  for (char *p = s; p && *p; p++) {
    if (name[0] == 'u')
      *p = (char)toupper((unsigned char)*p);
    else if (name[0] == 'l')
      *p = (char)tolower((unsigned char)*p);
    else {
      if (start && isalpha((unsigned char)*p))
        *p = (char)toupper((unsigned char)*p);
      start = !isalnum((unsigned char)*p) && *p != '_' && *p != '\'';
    }
  }
  *out = json_string(s ? s : "");
  return 0;
}

static long long int_arg(json_t *v)
{
  return json_is_integer(v) ? json_integer_value(v) : (long long)json_number_value(v);
}

static int fn_pad(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "pad", n, 3, 3) < 0)
    return -1;
  cleanup_free char *s = template_print_value(a[0]);
  struct strbuf b = {0};
  strbuf_printf(&b, "%*s%s%*s", (int)int_arg(a[1]), "", s ? s : "", (int)int_arg(a[2]),
                "");
  cleanup_free char *r = strbuf_steal(&b);
  *out = json_string(r);
  return 0;
}

static int fn_truncate(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "truncate", n, 2, 2) < 0)
    return -1;
  cleanup_free char *s = template_print_value(a[0]);
  long long l = int_arg(a[1]);
  if (s && l >= 0 && (size_t)l < strlen(s))
    s[l] = '\0';
  *out = json_string(s ? s : "");
  return 0;
}

static int fn_len(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "len", n, 1, 1) < 0)
    return -1;
  json_t *v = a[0];
  if (v && json_is_string(v))
    *out = json_integer((json_int_t)json_string_length(v));
  else if (v && json_is_array(v))
    *out = json_integer((json_int_t)json_array_size(v));
  else if (v && json_is_object(v))
    *out = json_integer((json_int_t)json_object_size(v));
  else
    return tmpl_exec_fail(x, "error calling len: len of type %s", tmpl_type_name(v));
  return 0;
}

static int fn_index(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "index", n, 1, -1) < 0)
    return -1;
  json_t *cur = a[0];
  for (int i = 1; i < n; i++) {
    if (cur && json_is_object(cur) && str_arg(a[i])) {
      cur = json_object_get(cur, str_arg(a[i]));
      if (cur == NULL) {
        /* Like a Go map[string]string: a missing key is the empty string. */
        *out = json_string("");
        return 0;
      }
    } else if (cur && json_is_array(cur) && json_is_integer(a[i])) {
      json_int_t k = json_integer_value(a[i]);
      if (k < 0 || (size_t)k >= json_array_size(cur))
        return tmpl_exec_fail(x, "error calling index: index out of range: %lld",
                              (long long)k);
      cur = json_array_get(cur, (size_t)k);
    } else if (cur == NULL || json_is_null(cur)) {
      *out = NULL;
      return 0;
    } else {
      return tmpl_exec_fail(
          x, "error calling index: cannot index slice/array with type %s",
          tmpl_type_name(a[i]));
    }
  }
  *out = tmpl_ref(cur);
  return 0;
}

/* -1, 0, 1, or 2 when the values cannot be ordered. */
static int compare(json_t *a, json_t *b)
{
  if (a && b && json_is_number(a) && json_is_number(b)) {
    double x = json_number_value(a), y = json_number_value(b);
    if (json_is_integer(a) && json_is_integer(b))
      return json_integer_value(a) < json_integer_value(b)   ? -1
             : json_integer_value(a) > json_integer_value(b) ? 1
                                                             : 0;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a && b && json_is_string(a) && json_is_string(b)) {
    int c = strcmp(json_string_value(a), json_string_value(b));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a && b && json_is_boolean(a) && json_is_boolean(b))
    return json_is_true(a) == json_is_true(b) ? 0 : 2;
  if ((a == NULL || json_is_null(a)) && (b == NULL || json_is_null(b)))
    return 0;
  return 2;
}

static int fn_compare(struct exec *x, const char *name, json_t **a, int n, json_t **out)
{
  if (want_args(x, name, n, 2, strcmp(name, "eq") == 0 ? -1 : 2) < 0)
    return -1;
  bool r = false;
  if (strcmp(name, "eq") == 0) {
    for (int i = 1; i < n && !r; i++)
      r = compare(a[0], a[i]) == 0;
  } else {
    int c = compare(a[0], a[1]);
    if (c == 2 && strcmp(name, "ne") != 0)
      return tmpl_exec_fail(x, "error calling %s: incompatible types for comparison",
                            name);
    r = strcmp(name, "ne") == 0   ? c != 0
        : strcmp(name, "lt") == 0 ? c < 0
        : strcmp(name, "le") == 0 ? c <= 0
        : strcmp(name, "gt") == 0 ? c > 0
                                  : c >= 0;
  }
  *out = json_boolean(r);
  return 0;
}

static int fn_logic(struct exec *x, const char *name, json_t **a, int n, json_t **out)
{
  if (strcmp(name, "not") == 0) {
    if (want_args(x, name, n, 1, 1) < 0)
      return -1;
    *out = json_boolean(!tmpl_truth(a[0]));
    return 0;
  }
  if (want_args(x, name, n, 1, -1) < 0)
    return -1;
  bool want = strcmp(name, "or") == 0;
  for (int i = 0; i < n - 1; i++)
    if (tmpl_truth(a[i]) == want) {
      *out = tmpl_ref(a[i]);
      return 0;
    }
  *out = tmpl_ref(a[n - 1]);
  return 0;
}

static int fn_print(struct exec *x, const char *name, json_t **a, int n, json_t **out)
{
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  bool ln = strcmp(name, "println") == 0;
  for (int i = 0; i < n; i++) {
    /* Sprint separates operands when neither is a string; Sprintln always. */
    if (i && (ln || (!str_arg(a[i - 1]) && !str_arg(a[i]))))
      strbuf_puts(&b, " ");
    tmpl_print_value(&b, a[i]);
  }
  if (ln)
    strbuf_puts(&b, "\n");
  cleanup_free char *s = strbuf_steal(&b);
  *out = json_string(s);
  return 0;
}

/* One printf verb with its flags and width, applied to v. */
static void printf_verb(struct strbuf *b, const char *spec, size_t speclen, char verb,
                        json_t *v)
{
  char fmt[32];
  snprintf(fmt, sizeof fmt, "%%%.*s", (int)speclen, spec);
  size_t fl = strlen(fmt);
  cleanup_free char *text = NULL;
  if ((verb == 'd' || verb == 'x' || verb == 'X' || verb == 'o') && v &&
      json_is_integer(v)) {
    snprintf(fmt + fl, sizeof fmt - fl, "ll%c", verb);
    strbuf_printf(b, fmt, (long long)json_integer_value(v));
    return;
  }
  if ((verb == 'f' || verb == 'g' || verb == 'e') && v && json_is_number(v)) {
    snprintf(fmt + fl, sizeof fmt - fl, "%c", verb);
    strbuf_printf(b, fmt, json_number_value(v));
    return;
  }
  text = verb == 'q' ? format_go_quote(str_arg(v) ? str_arg(v) : "")
                     : template_print_value(v);
  snprintf(fmt + fl, sizeof fmt - fl, "s");
  strbuf_printf(b, fmt, text ? text : "");
}

static int fn_printf(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "printf", n, 1, -1) < 0)
    return -1;
  const char *f = str_arg(a[0]);
  if (f == NULL)
    return tmpl_exec_fail(x, "printf: format must be a string");
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  int next = 1;
  for (const char *p = f; *p; p++) {
    if (*p != '%') {
      strbuf_append(&b, p, 1);
      continue;
    }
    const char *spec = ++p;
    while (*p && strchr("-+# 0123456789.", *p))
      p++;
    if (*p == '\0')
      break;
    if (*p == '%') {
      strbuf_puts(&b, "%");
      continue;
    }
    if (next >= n) {
      strbuf_printf(&b, "%%!%c(MISSING)", *p);
      continue;
    }
    printf_verb(&b, spec, (size_t)(p - spec), *p, a[next++]);
  }
  cleanup_free char *s = strbuf_steal(&b);
  *out = json_string(s);
  return 0;
}

/* docker version's template lists a component's details in sorted order. */
static int fn_details_order(struct exec *x, json_t **a, int n, json_t **out)
{
  if (want_args(x, "getDetailsOrder", n, 1, 1) < 0)
    return -1;
  json_t *details =
      a[0] && json_is_object(a[0]) ? json_object_get(a[0], "Details") : NULL;
  *out = json_array();
  if (!json_is_object(details))
    return 0;
  size_t count;
  cleanup_free const char **keys = tmpl_sorted_keys(details, &count);
  for (size_t i = 0; keys && i < count; i++)
    json_array_append_new(*out, json_string(keys[i]));
  return 0;
}

static bool header_identity(const char *name)
{
  static const char *const names[] = {"json",  "split", "join",     "title", "lower",
                                      "upper", "pad",   "truncate", NULL};
  for (const char *const *p = names; *p; p++)
    if (strcmp(*p, name) == 0)
      return true;
  return false;
}

int tmpl_call_func(struct exec *x, const char *name, json_t **a, int n, json_t **out)
{
  *out = NULL;
  if ((x->flags & TEMPLATE_HEADER) && header_identity(name)) {
    *out = n > 0 ? tmpl_ref(a[0]) : json_string("");
    return 0;
  }
  if (strcmp(name, "json") == 0)
    return fn_json(x, a, n, out);
  if (strcmp(name, "join") == 0)
    return fn_join(x, a, n, out);
  if (strcmp(name, "split") == 0)
    return fn_split(x, a, n, out);
  if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0 ||
      strcmp(name, "title") == 0)
    return fn_case(x, name, a, n, out);
  if (strcmp(name, "pad") == 0)
    return fn_pad(x, a, n, out);
  if (strcmp(name, "truncate") == 0)
    return fn_truncate(x, a, n, out);
  if (strcmp(name, "len") == 0)
    return fn_len(x, a, n, out);
  if (strcmp(name, "index") == 0)
    return fn_index(x, a, n, out);
  if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0 || strcmp(name, "not") == 0)
    return fn_logic(x, name, a, n, out);
  if (strcmp(name, "print") == 0 || strcmp(name, "println") == 0)
    return fn_print(x, name, a, n, out);
  if (strcmp(name, "printf") == 0)
    return fn_printf(x, a, n, out);
  if (strcmp(name, "getDetailsOrder") == 0)
    return fn_details_order(x, a, n, out);
  return fn_compare(x, name, a, n, out);
}
