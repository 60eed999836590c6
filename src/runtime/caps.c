/* process.capabilities through libcap.
 *
 * Parsing happens in the runtime; the container process only applies the
 * bitmasks (bounding set first, while it still has CAP_SETPCAP; the rest
 * after the user switch), so it reads no files and needs no name tables. */
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"

/* Capability numbers fit a 64-bit mask (the kernel's own limit today is
 * 40; its ABI stores two 32-bit words). */
#define CAPS_MAX 64

struct caps_sets {
  uint64_t bounding;
  uint64_t effective;
  uint64_t inheritable;
  uint64_t permitted;
  uint64_t ambient;
  int last_cap; /* the kernel's CAP_LAST_CAP, read when parsing */
};

/* The names libcap knows, upper-cased ("CAP_CHOWN"), by value; NULL where
 * libcap has none (it then prints the number). */
struct cap_names {
  char *name[CAPS_MAX];
};

static void cap_names_load(struct cap_names *names)
{
  for (int value = 0; value < CAPS_MAX; value++) {
    char *text = cap_to_name(value);
    names->name[value] = NULL;
    if (text && strncmp(text, "cap_", 4) == 0) {
      names->name[value] = strdup(text);
      for (char *p = names->name[value]; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    }
    cap_free(text);
  }
}

static void cap_names_free(struct cap_names *names)
{
  for (int value = 0; value < CAPS_MAX; value++)
    free(names->name[value]);
}
#define cleanup_cap_names __attribute__((cleanup(cap_names_free)))

/* Exact, case-insensitive match. libcap's cap_from_name is not used: it
 * also takes numbers ("12") and stops at a comma ("cap_chown,x"). */
static int cap_names_lookup(const struct cap_names *names, const char *name)
{
  for (int value = 0; value < CAPS_MAX; value++)
    if (names->name[value] && strcasecmp(names->name[value], name) == 0)
      return value;
  return -1;
}

static void cleanup_cap_fn(cap_t *caps)
{
  if (*caps)
    cap_free(*caps);
}
#define cleanup_cap __attribute__((cleanup(cleanup_cap_fn)))

/* The kernel's highest capability number: /proc/sys/kernel/cap_last_cap,
 * or, without /proc, the last number PR_CAPBSET_READ accepts. */
static int kernel_last_cap(void)
{
  cleanup_fclose FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  int last = -1;
  if (f && fscanf(f, "%d", &last) == 1 && last >= 0 && last < CAPS_MAX)
    return last;
  for (last = 0; last + 1 < CAPS_MAX; last++)
    if (prctl(PR_CAPBSET_READ, (unsigned long)last + 1, 0, 0, 0) < 0)
      break;
  return last;
}

/* Append text to the warnings, once. */
static int add_warning(json_t *warnings, const char *text)
{
  size_t i;
  json_t *seen;
  json_array_foreach(warnings, i, seen)
  {
    if (strcmp(json_string_value(seen), text) == 0)
      return 0;
  }
  return json_array_append_new(warnings, json_string(text));
}

static char *join_warnings(json_t *warnings)
{
  size_t len = 0, i;
  json_t *w;
  json_array_foreach(warnings, i, w) len += strlen(json_string_value(w)) + 2;
  if (len == 0)
    return NULL;
  char *text = calloc(1, len + 1);
  if (text == NULL)
    return NULL;
  json_array_foreach(warnings, i, w)
  {
    if (i > 0)
      strcat(text, "; ");
    strcat(text, json_string_value(w));
  }
  return text;
}

static int parse_set(json_t *capabilities, const char *key,
                     const struct cap_names *names, int last_cap, uint64_t *mask,
                     json_t *warnings, skiff_error_t **err)
{
  json_t *list = NULL;
  if (jsonutil_opt_array(capabilities, key, &list, "process.capabilities", err) < 0)
    return -1;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item)
  {
    if (!json_is_string(item))
      return skiff_error_invalid(err,
                                 "process.capabilities.%s[%zu]: expected string, "
                                 "got %s",
                                 key, i, jsonutil_type_name(item));
    const char *name = json_string_value(item);
    int value = cap_names_lookup(names, name);
    char text[256];
    if (value < 0) {
      snprintf(text, sizeof text, "unknown capability %s ignored", name);
      add_warning(warnings, text);
    } else if (value > last_cap) {
      snprintf(text, sizeof text,
               "capability %s is not supported by this kernel (cap_last_cap "
               "%d), ignored",
               names->name[value], last_cap);
      add_warning(warnings, text);
    } else {
      *mask |= UINT64_C(1) << value;
    }
  }
  return 0;
}

int caps_parse(json_t *capabilities, struct caps_sets **out, char **warnings,
               skiff_error_t **err)
{
  *out = NULL;
  if (warnings)
    *warnings = NULL;
  if (capabilities && !json_is_null(capabilities) && !json_is_object(capabilities))
    return skiff_error_invalid(err, "process.capabilities: expected object, got %s",
                               jsonutil_type_name(capabilities));
  cleanup_free struct caps_sets *sets = calloc(1, sizeof(*sets));
  cleanup_json json_t *found = json_array();
  if (sets == NULL || found == NULL)
    return skiff_error_set(err, ENOMEM, "process.capabilities");
  sets->last_cap = kernel_last_cap();

  cleanup_cap_names struct cap_names names;
  cap_names_load(&names);
  struct {
    const char *key;
    uint64_t *mask;
  } fields[] = {
      {"bounding", &sets->bounding},       {"effective", &sets->effective},
      {"inheritable", &sets->inheritable}, {"permitted", &sets->permitted},
      {"ambient", &sets->ambient},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (parse_set(capabilities, fields[i].key, &names, sets->last_cap, fields[i].mask,
                  found, err) < 0)
      return -1;
  if (warnings)
    *warnings = join_warnings(found);
  *out = steal_pointer(&sets);
  return 0;
}

void caps_sets_free(struct caps_sets *sets)
{
  free(sets);
}

/* "CAP_X" for an error message (libcap prints unnamed ones as numbers). */
static void cap_display_name(int value, char *buf, size_t size)
{
  char *text = cap_to_name(value);
  snprintf(buf, size, "%s", text ? text : "?");
  cap_free(text);
  for (char *p = buf; *p; p++)
    *p = (char)toupper((unsigned char)*p);
}

int caps_apply_bounding(const struct caps_sets *sets, skiff_error_t **err)
{
  for (int value = 0; value <= sets->last_cap; value++) {
    if (sets->bounding & (UINT64_C(1) << value))
      continue;
    /* Dropping needs CAP_SETPCAP; asking first lets an already reduced
     * bounding set (a nested runtime, `exec` into a container) pass. */
    int present = prctl(PR_CAPBSET_READ, (unsigned long)value, 0, 0, 0);
    if (present == 0 || (present < 0 && errno == EINVAL))
      continue;
    if (prctl(PR_CAPBSET_DROP, (unsigned long)value, 0, 0, 0) < 0 && errno != EINVAL) {
      char name[64];
      cap_display_name(value, name, sizeof name);
      return skiff_error_errno(err, "drop %s from the bounding set", name);
    }
  }
  return 0;
}

static int set_flag_from_mask(cap_t caps, cap_flag_t flag, uint64_t mask,
                              skiff_error_t **err)
{
  for (cap_value_t value = 0; value < CAPS_MAX; value++) {
    if (!(mask & (UINT64_C(1) << value)))
      continue;
    if (cap_set_flag(caps, flag, 1, &value, CAP_SET) < 0)
      return skiff_error_errno(err, "capability %d", value);
  }
  return 0;
}

/* Raise each ambient capability. The kernel allows it only for one in
 * both permitted and inheritable; others are skipped as runc does (a
 * config asking for them gets what the other sets allow). */
static int raise_ambient(const struct caps_sets *sets, skiff_error_t **err)
{
  /* EINVAL: a kernel before 4.3, without ambient capabilities. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return errno == EINVAL ? 0 : skiff_error_errno(err, "clear ambient capabilities");
  uint64_t possible = sets->ambient & sets->permitted & sets->inheritable;
  for (int value = 0; value <= sets->last_cap; value++) {
    if (!(possible & (UINT64_C(1) << value)))
      continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)value, 0, 0) < 0) {
      char name[64];
      cap_display_name(value, name, sizeof name);
      return skiff_error_errno(err, "raise ambient capability %s", name);
    }
  }
  return 0;
}

int caps_apply(const struct caps_sets *sets, skiff_error_t **err)
{
  cleanup_cap cap_t caps = cap_init();
  if (caps == NULL)
    return skiff_error_errno(err, "cap_init");
  if (set_flag_from_mask(caps, CAP_EFFECTIVE, sets->effective, err) < 0 ||
      set_flag_from_mask(caps, CAP_PERMITTED, sets->permitted, err) < 0 ||
      set_flag_from_mask(caps, CAP_INHERITABLE, sets->inheritable, err) < 0)
    return -1;
  if (cap_set_proc(caps) < 0)
    return skiff_error_errno(err,
                             "set capabilities (effective %#llx, permitted %#llx, "
                             "inheritable %#llx)",
                             (unsigned long long)sets->effective,
                             (unsigned long long)sets->permitted,
                             (unsigned long long)sets->inheritable);
  return raise_ambient(sets, err);
}

json_t *caps_known_names(void)
{
  cleanup_cap_names struct cap_names names;
  cap_names_load(&names);
  json_t *array = json_array();
  for (int value = 0; array && value < CAPS_MAX; value++)
    if (names.name[value])
      json_array_append_new(array, json_string(names.name[value]));
  return array;
}
