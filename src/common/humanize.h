/* Human-readable durations exactly as Docker prints them (Go's
 * units.HumanDuration): "Less than a second", "About a minute", "3 hours".
 * Shared by skiffd (ps's Status column) and the CLI (CREATED columns). */
#ifndef SKIFF_COMMON_HUMANIZE_H
#define SKIFF_COMMON_HUMANIZE_H

#include <stddef.h>
#include <stdint.h>

/* The text for a duration of ns nanoseconds, into buf (>= 32 bytes). */
void humanize_duration(int64_t ns, char *buf, size_t len);

#endif
