/* docker's time values: see timestamp.h. */
#include "timestamp.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"

static int64_t unit_ns(const char *u, size_t n)
{
  static const struct {
    const char *name;
    int64_t ns;
  } units[] = {{"ns", 1},
               {"us", 1000},
               {"µs", 1000},
               {"μs", 1000},
               {"ms", 1000000},
               {"s", 1000000000LL},
               {"m", 60000000000LL},
               {"h", 3600000000000LL}};
  for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
    if (strlen(units[i].name) == n && strncmp(units[i].name, u, n) == 0)
      return units[i].ns;
  return 0;
}

int timestamp_parse_duration(const char *text, int64_t *ns)
{
  const char *p = text;
  bool neg = false;
  if (*p == '-' || *p == '+')
    neg = *p++ == '-';
  if (strcmp(p, "0") == 0) {
    *ns = 0;
    return 0;
  }
  if (*p == '\0')
    return -1;
  double total = 0;
  while (*p) {
    char *end = NULL;
    if (!isdigit((unsigned char)*p) && *p != '.')
      return -1;
    double v = strtod(p, &end);
    if (end == p)
      return -1;
    const char *u = end;
    while (*end && !isdigit((unsigned char)*end) && *end != '.')
      end++;
    int64_t unit = unit_ns(u, (size_t)(end - u));
    if (unit == 0)
      return -1;
    total += v * (double)unit;
    p = end;
  }
  *ns = (int64_t)(neg ? -total : total);
  return 0;
}

/* "YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|±HH:MM]" into seconds and nanoseconds. */
static int parse_date(const char *v, int64_t *sec, long *nsec)
{
  struct tm tm = {0};
  int used = 0;
  if (sscanf(v, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &used) != 3)
    return -1;
  const char *p = v + used;
  *nsec = 0;
  if (*p == 'T') {
    p++;
    if (sscanf(p, "%2d%n", &tm.tm_hour, &used) != 1)
      return -1;
    p += used;
    if (*p == ':' && sscanf(p, ":%2d%n", &tm.tm_min, &used) == 1)
      p += used;
    if (*p == ':' && sscanf(p, ":%2d%n", &tm.tm_sec, &used) == 1)
      p += used;
    if (*p == '.') {
      long scale = 100000000;
      for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
        *nsec += (*p - '0') * scale;
    }
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  if (*p == '\0') {
    tm.tm_isdst = -1;
    *sec = (int64_t)mktime(&tm);
    return 0;
  }
  long off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int h = 0, m = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &h, &m, &used) != 2)
      return -1;
    off = (h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
    p += 1 + used;
  }
  if (*p != '\0')
    return -1;
  *sec = (int64_t)timegm(&tm) - off;
  return 0;
}

int64_t timestamp_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Go's strconv.ParseInt(text[:len], 10, 64): a sign, then decimal digits
 * that fit 64 bits. */
static bool is_go_int(const char *text, size_t len)
{
  size_t i = len > 0 && (text[0] == '+' || text[0] == '-');
  if (i == len || strspn(text + i, "0123456789") < len - i)
    return false;
  cleanup_free char *copy = strndup(text, len);
  errno = 0;
  return copy && (strtoll(copy, NULL, 10), errno == 0);
}

/* docker's parseTimestamp: "SECONDS" or "SECONDS.NANOS", each part an
 * integer as Go parses it ("1e9", ".5" and "5." are refused). */
static bool is_unix_timestamp(const char *value)
{
  const char *dot = strchr(value, '.');
  if (dot == NULL)
    return is_go_int(value, strlen(value));
  return is_go_int(value, (size_t)(dot - value)) && is_go_int(dot + 1, strlen(dot + 1));
}

/* floor(a / b) for b > 0: Go's Time.Unix() rounds down, before 1970 too. */
static int64_t floor_div(int64_t a, int64_t b)
{
  return a / b - (a % b != 0 && a < 0);
}

char *timestamp_from_api(const char *value, int64_t now_ns, skiff_error_t **err)
{
  int64_t ns;
  char *out = NULL;
  if (strcmp(value, "0") != 0 && timestamp_parse_duration(value, &ns) == 0) {
    /* docker sends whole seconds here: now.Add(-d).Unix(). */
    if (asprintf(&out, "%lld", (long long)floor_div(now_ns - ns, 1000000000)) < 0)
      return NULL;
    return out;
  }
  int64_t sec;
  long nsec;
  if (parse_date(value, &sec, &nsec) == 0) {
    if (asprintf(&out, "%lld.%09ld", (long long)sec, nsec) < 0)
      return NULL;
    return out;
  }
  /* Already a unix time stamp, "SECONDS[.NANOS]", passed on as it is. */
  if (strchr(value, '-') || !is_unix_timestamp(value)) {
    skiff_error_invalid(err, "failed to parse value as time or duration: \"%s\"",
                        value);
    return NULL;
  }
  return strdup(value);
}

int timestamp_parse(const char *value, int64_t now_ns, int64_t *ns, skiff_error_t **err)
{
  cleanup_free char *text = timestamp_from_api(value, now_ns, err);
  if (text == NULL)
    return -1;
  char *dot = strchr(text, '.');
  int64_t nanos = 0;
  if (dot) {
    char nine[10] = "000000000";
    size_t n = strspn(dot + 1, "0123456789");
    memcpy(nine, dot + 1, n < 9 ? n : 9);
    nanos = strtoll(nine, NULL, 10);
  }
  *ns = strtoll(text, NULL, 10) * 1000000000LL + (text[0] == '-' ? -nanos : nanos);
  return 0;
}
