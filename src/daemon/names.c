/* Generated container names, docker style: adjective_surname. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "containers_internal.h"

static const char *const adjectives[] = {
    "admiring",   "brave",    "busy",     "calm",    "clever",   "cool",
    "eager",      "elated",   "focused",  "gallant", "happy",    "hopeful",
    "jolly",      "keen",     "kind",     "loving",  "modest",   "nifty",
    "optimistic", "peaceful", "quirky",   "relaxed", "serene",   "sharp",
    "stoic",      "tender",   "trusting", "vibrant", "wizardly", "zealous"};
static const char *const surnames[] = {
    "archimedes", "babbage",  "bohr",     "curie",   "darwin",  "dijkstra", "einstein",
    "euler",      "fermi",    "galileo",  "hopper",  "hypatia", "kepler",   "knuth",
    "lamarr",     "lovelace", "mccarthy", "meitner", "newton",  "noether",  "pascal",
    "ritchie",    "shannon",  "thompson", "turing",  "wozniak", "yalow",    "zuse"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool name_taken(struct container_store *s, const char *name)
{
  char slashed[256];
  snprintf(slashed, sizeof slashed, "/%s", name);
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(json_string_value(json_object_get(s->items[i]->record, "Name")),
               slashed) == 0)
      return true;
  return false;
}

char *names_generate(struct container_store *s)
{
  for (int attempt = 0;; attempt++) {
    unsigned r[2];
    if (getrandom(r, sizeof r, 0) != sizeof r)
      r[0] = (unsigned)rand(), r[1] = (unsigned)rand();
    char name[128];
    int n = snprintf(name, sizeof name, "%s_%s", adjectives[r[0] % COUNT(adjectives)],
                     surnames[r[1] % COUNT(surnames)]);
    if (attempt > 10) /* docker appends a digit when the pair is taken */
      snprintf(name + n, sizeof name - (size_t)n, "%u", r[0] % 10);
    if (!name_taken(s, name))
      return strdup(name);
  }
}

bool names_valid(const char *name)
{
  if (name[0] == '/')
    name++;
  size_t len = strlen(name);
  if (len < 2) /* docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    bool alnum =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
      return false;
  }
  return true;
}
