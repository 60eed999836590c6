#include "humanize.h"

#include <stdio.h>

void humanize_duration(int64_t ns, char *buf, size_t len)
{
  const int64_t second = 1000000000LL, minute = 60 * second, hour = 60 * minute;
  int64_t seconds = ns / second, minutes = ns / minute;
  int64_t hours = (ns + hour / 2) / hour; /* Duration.Round(time.Hour) */
  if (seconds < 1)
    snprintf(buf, len, "Less than a second");
  else if (seconds == 1)
    snprintf(buf, len, "1 second");
  else if (seconds < 60)
    snprintf(buf, len, "%lld seconds", (long long)seconds);
  else if (minutes == 1)
    snprintf(buf, len, "About a minute");
  else if (minutes < 60)
    snprintf(buf, len, "%lld minutes", (long long)minutes);
  else if (hours == 1)
    snprintf(buf, len, "About an hour");
  else if (hours < 48)
    snprintf(buf, len, "%lld hours", (long long)hours);
  else if (hours < 24 * 7 * 2)
    snprintf(buf, len, "%lld days", (long long)(hours / 24));
  else if (hours < 24 * 30 * 2)
    snprintf(buf, len, "%lld weeks", (long long)(hours / 24 / 7));
  else if (hours < 24 * 365 * 2)
    snprintf(buf, len, "%lld months", (long long)(hours / 24 / 30));
  else
    snprintf(buf, len, "%lld years", (long long)(ns / hour / 24 / 365));
}
