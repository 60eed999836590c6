#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

int strlist_add(struct strlist *l, const char *s)
{
  const char **items = realloc(l->items, (l->n + 2) * sizeof(*items));
  if (items == NULL)
    return -1;
  items[l->n++] = s;
  items[l->n] = NULL;
  l->items = items;
  return 0;
}

void strlist_free(struct strlist *l)
{
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

int opts_parse_bool(const char *text)
{
  static const char *yes[] = {"1", "t", "T", "true", "TRUE", "True"};
  static const char *no[] = {"0", "f", "F", "false", "FALSE", "False"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
    if (strcmp(text, yes[i]) == 0)
      return 1;
    if (strcmp(text, no[i]) == 0)
      return 0;
  }
  return -1;
}

/* Go's strconv.ParseFloat on the digits of a size ("1.5", "10"). */
static int parse_number(const char *text, size_t len, double *out)
{
  cleanup_free char *digits = strndup(text, len);
  char *end = NULL;
  if (digits == NULL || *digits == '\0' || isspace((unsigned char)*digits))
    return -1;
  *out = strtod(digits, &end);
  return *end == '\0' ? 0 : -1;
}

int opts_parse_bytes(const char *text, long long *out, skiff_error_t **err)
{
  /* docker's units.RAMInBytes: a number, an optional space, then b, or
   * k/m/g/t/p optionally followed by "b" or "ib", in any case. */
  const char *sep = NULL;
  for (const char *p = text; *p; p++)
    if (strchr("0123456789. ", *p))
      sep = p;
  if (sep == NULL)
    return skiff_error_invalid(err, "invalid size: '%s'", text);
  size_t num_len = (size_t)(sep - text) + (*sep == ' ' ? 0 : 1);
  double v;
  if (parse_number(text, num_len, &v) < 0)
    return skiff_error_invalid(err,
                               "strconv.ParseFloat: parsing \"%.*s\": invalid syntax",
                               (int)num_len, text);
  if (v < 0)
    return skiff_error_invalid(err, "invalid size: '%s'", text);
  char sfx[8] = "";
  const char *suffix = sep + 1;
  if (strlen(suffix) > 3)
    return skiff_error_invalid(err, "invalid suffix: '%s'", suffix);
  for (size_t i = 0; suffix[i]; i++)
    sfx[i] = (char)tolower((unsigned char)suffix[i]);
  static const char units[] = "kmgtp";
  const char *unit = sfx[0] ? strchr(units, sfx[0]) : NULL;
  bool ok = sfx[0] == '\0' || (sfx[0] == 'b' && sfx[1] == '\0') ||
            (unit && (sfx[1] == '\0' || strcmp(sfx + 1, "b") == 0 ||
                      strcmp(sfx + 1, "ib") == 0));
  if (!ok)
    return skiff_error_invalid(err, "invalid suffix: '%s'", sfx);
  for (const char *u = units; unit && u <= unit; u++)
    v *= 1024;
  *out = (long long)v;
  return 0;
}

/* What a value must look like for the types that check it (pflag's Set
 * failing); the message follows "invalid argument ... flag: ". */
static int check_value(const struct opt *o, const char *value, skiff_error_t **err)
{
  long long ignored;
  const char *eq = strchr(value, '=');
  switch (o->type) {
  case OPT_BYTES: return opts_parse_bytes(value, &ignored, err);
  case OPT_FILTER:
    if (eq == NULL)
      return skiff_error_invalid(err, "bad format of filter (expected name=value)");
    return 0;
  case OPT_ENV:
    if (value[0] == '=')
      return skiff_error_invalid(err, "invalid environment variable: %s", value);
    return 0;
  default: return 0;
  }
}

static const struct opt *find_long(const struct opt *opts, const char *name, size_t len)
{
  for (const struct opt *o = opts; o->name; o++)
    if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
      return o;
  return NULL;
}

static const struct opt *find_short(const struct opt *opts, char c)
{
  for (const struct opt *o = opts; o->name; o++)
    if (o->shorthand == c)
      return o;
  return NULL;
}

/* pflag names a flag "-a, --all", or "--init" when it has no shorthand. */
static void shown_name(const struct opt *o, char *buf, size_t len)
{
  if (o->shorthand)
    snprintf(buf, len, "-%c, --%s", o->shorthand, o->name);
  else
    snprintf(buf, len, "--%s", o->name);
}

static int set_value(const struct opt *o, const char *value, const char *shown,
                     skiff_error_t **err)
{
  if (o->given)
    *o->given = true;
  switch (o->type) {
  case OPT_BOOL: {
    int b = value ? opts_parse_bool(value) : 1;
    if (b < 0)
      return skiff_error_invalid(err,
                                 "invalid argument \"%s\" for \"%s\" flag: "
                                 "strconv.ParseBool: parsing \"%s\": invalid syntax",
                                 value, shown, value);
    *(bool *)o->value = b;
    return 0;
  }
  case OPT_STRING:
  case OPT_BYTES:
    if (check_value(o, value, err) < 0)
      return skiff_error_wrap(err, "invalid argument \"%s\" for \"%s\" flag", value,
                              shown);
    *(const char **)o->value = value;
    return 0;
  case OPT_LIST:
  case OPT_FILTER:
  case OPT_ENV:
    if (check_value(o, value, err) < 0)
      return skiff_error_wrap(err, "invalid argument \"%s\" for \"%s\" flag", value,
                              shown);
    if (strlist_add(o->value, value) < 0)
      return skiff_error_errno(err, "flag %s", shown);
    return 0;
  case OPT_INT: {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
      return skiff_error_invalid(err,
                                 "invalid argument \"%s\" for \"%s\" flag: "
                                 "strconv.ParseInt: parsing \"%s\": invalid syntax",
                                 value, shown, value);
    *(long long *)o->value = v;
    return 0;
  }
  }
  return 0;
}

/* One "--name[=value]" at argv[*i]; may consume argv[*i + 1]. */
static int parse_long(const struct opt *opts, int argc, char **argv, int *i, bool *help,
                      skiff_error_t **err)
{
  const char *name = argv[*i] + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  if (len == 4 && strncmp(name, "help", 4) == 0) {
    *help = true;
    return 0;
  }
  const struct opt *o = find_long(opts, name, len);
  if (o == NULL)
    return skiff_error_invalid(err, "unknown flag: --%.*s", (int)len, name);
  char shown[128];
  shown_name(o, shown, sizeof shown);
  if (eq)
    return set_value(o, eq + 1, shown, err);
  if (o->type == OPT_BOOL)
    return set_value(o, NULL, shown, err);
  if (*i + 1 >= argc)
    return skiff_error_invalid(err, "flag needs an argument: --%s", o->name);
  return set_value(o, argv[++*i], shown, err);
}

/* A cluster of shorthands "-abc", "-nVALUE", "-n=VALUE" or "-n VALUE". */
static int parse_short(const struct opt *opts, int argc, char **argv, int *i,
                       bool *help, skiff_error_t **err)
{
  const char *p = argv[*i] + 1;
  for (; *p; p++) {
    if (*p == 'h' && find_short(opts, 'h') == NULL) {
      *help = true;
      return 0;
    }
    const struct opt *o = find_short(opts, *p);
    if (o == NULL)
      return skiff_error_invalid(err, "unknown shorthand flag: '%c' in %s", *p,
                                 argv[*i]);
    char shown[128];
    shown_name(o, shown, sizeof shown);
    if (p[1] == '=')
      return set_value(o, p + 2, shown, err);
    if (o->type == OPT_BOOL) {
      if (set_value(o, NULL, shown, err) < 0)
        return -1;
      continue;
    }
    if (p[1] != '\0')
      return set_value(o, p + 1, shown, err);
    if (*i + 1 >= argc)
      return skiff_error_invalid(err, "flag needs an argument: '%c' in -%c", *p, *p);
    return set_value(o, argv[++*i], shown, err);
  }
  return 0;
}

/* cobra's argument checks as docker 28 words them; a minimum alone says
 * "See", the others "Run". */
static int check_arg_count(const struct command_spec *spec, int n, skiff_error_t **err)
{
  int min = spec->min_args, max = spec->max_args;
  const char *plural_min = min == 1 ? "" : "s", *plural_max = max == 1 ? "" : "s";
  char what[96];
  if (n >= min && (max < 0 || n <= max))
    return 0;
  if (max == 0)
    snprintf(what, sizeof what, "accepts no arguments");
  else if (min == max)
    snprintf(what, sizeof what, "requires %d argument%s", min, plural_min);
  else if (max < 0)
    snprintf(what, sizeof what, "requires at least %d argument%s", min, plural_min);
  else if (min == 0)
    snprintf(what, sizeof what, "requires at most %d argument%s", max, plural_max);
  else
    snprintf(what, sizeof what, "requires at least %d and at most %d argument%s", min,
             max, plural_max);
  return skiff_error_invalid(
      err,
      "skiff: 'skiff %s' %s\n\nUsage:  skiff %s %s\n\n%s 'skiff %s "
      "--help' for more information",
      spec->name, what, spec->name, spec->usage, max < 0 ? "See" : "Run", spec->name);
}

/* A bad flag: pflag's message, then the usage (docker 28). */
static int flag_error(const struct command_spec *spec, skiff_error_t **err)
{
  cleanup_free char *msg = (*err)->msg;
  (*err)->msg = NULL;
  skiff_error_free(err);
  return skiff_error_invalid(
      err,
      "%s\n\nUsage:  skiff %s %s\n\nRun 'skiff %s --help' for more "
      "information",
      msg, spec->name, spec->usage, spec->name);
}

int opts_parse(const struct command_spec *spec, const struct opt *opts, int argc,
               char **argv, char ***args, int *nargs, bool *usage_error,
               skiff_error_t **err)
{
  cleanup_free char **pos = calloc((size_t)argc + 1, sizeof(*pos));
  if (pos == NULL)
    return skiff_error_errno(err, "parse flags");
  int n = 0;
  bool help = false, flags_done = false;
  *usage_error = true;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = 0;
    if (flags_done || a[0] != '-' || a[1] == '\0') {
      pos[n++] = argv[i];
      if (spec->stop_at_arg)
        flags_done = true;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      flags_done = true;
      continue;
    }
    if (a[1] == '-')
      r = parse_long(opts, argc, argv, &i, &help, err);
    else
      r = parse_short(opts, argc, argv, &i, &help, err);
    if (r < 0)
      return flag_error(spec, err);
    if (help) {
      opts_print_help(spec, opts);
      return OPTS_HELP;
    }
  }
  if (check_arg_count(spec, n, err) < 0)
    return -1;
  *usage_error = false;
  *nargs = n;
  *args = steal_pointer(&pos);
  return OPTS_OK;
}

static void print_wrapped(const char *text, int indent)
{
  /* Continuation lines of a help text line up under its first line. */
  for (const char *p = text; *p; p++) {
    putchar(*p);
    if (*p == '\n')
      printf("%*s", indent, "");
  }
}

void opts_print_help(const struct command_spec *spec, const struct opt *opts)
{
  printf("\nUsage:  skiff %s %s\n\n%s\n", spec->name, spec->usage, spec->summary);
  if (spec->aliases)
    printf("\nAliases:\n  %s\n", spec->aliases);
  printf("\nOptions:\n");
  int width = 0;
  char left[128];
  for (int pass = 0; pass < 2; pass++) {
    for (const struct opt *o = opts;; o++) {
      if (o->name && o->help == NULL)
        continue; /* a hidden flag (docker's deprecated aliases) */
      const char *name = o->name ? o->name : "help";
      if (o->shorthand)
        snprintf(left, sizeof left, "  -%c, --%s", o->shorthand, name);
      else
        snprintf(left, sizeof left, "      --%s", name);
      if (o->name && o->type != OPT_BOOL) {
        size_t l = strlen(left);
        snprintf(left + l, sizeof left - l, " %s", o->metavar ? o->metavar : "string");
      }
      int len = (int)strlen(left);
      if (pass == 0 && len > width)
        width = len;
      if (pass == 1) {
        printf("%-*s   ", width, left);
        print_wrapped(o->name ? (o->help ? o->help : "") : "Print usage", width + 3);
        putchar('\n');
      }
      if (o->name == NULL)
        break;
    }
  }
}
