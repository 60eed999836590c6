/* docker's time values (pkg/timetypes, Go's time.ParseDuration): what
 * --since, --until and the "until" filters accept, on both sides of the
 * API (the CLI sends since/until as unix times, the daemon parses filter
 * values itself). */
#ifndef SKIFF_COMMON_TIMESTAMP_H
#define SKIFF_COMMON_TIMESTAMP_H

#include <stdint.h>

#include "error.h"

/* Go's time.ParseDuration ("1h30m", "10s", "-2.5m"). Returns -1 if invalid. */
int timestamp_parse_duration(const char *text, int64_t *ns);

/* The wall clock, in nanoseconds since the epoch. */
int64_t timestamp_now_ns(void);

/* docker's timetypes.GetTimestamp: a duration is taken back from now_ns
 * and sent in whole seconds as docker does ("10m" → now-600, rounded
 * down), an RFC 3339 date or date-time is converted to "SECONDS.NANOS"
 * (local time when it has no zone), a unix time "SECONDS[.NANOS]" passes
 * as is. Returns a new string or NULL with *err ("failed to parse value as
 * time or duration: ..."). */
char *timestamp_from_api(const char *value, int64_t now_ns, skiff_error_t **err);

/* timestamp_from_api as nanoseconds since the epoch. */
int timestamp_parse(const char *value, int64_t now_ns, int64_t *ns,
                    skiff_error_t **err);

#endif
