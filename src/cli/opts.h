/* Docker-style command-line flags (spf13/pflag's grammar): "--name value",
 * "--name=value", "-n value", "-nvalue", "-n=value", clustered booleans
 * ("-it"), "--bool=false", and "--" ending the flags. Every command also
 * accepts --help, which prints the command's usage. */
#ifndef SKIFF_CLI_OPTS_H
#define SKIFF_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

enum opt_type {
  OPT_BOOL,   /* bool * */
  OPT_STRING, /* const char ** (points into argv) */
  OPT_LIST,   /* struct strlist *, repeatable */
  OPT_INT,    /* long long * */
  OPT_BYTES,  /* const char **: a size docker's RAMInBytes takes ("64m") */
  OPT_FILTER, /* struct strlist *, repeatable: "name=value" */
  OPT_ENV,    /* struct strlist *, repeatable: "NAME[=value]", not "=value" */
};

/* A growable list of borrowed strings (the strings belong to argv). */
struct strlist {
  const char **items;
  size_t n;
};

struct opt {
  const char *name; /* long name, without "--" */
  char shorthand;   /* one letter, or 0 */
  enum opt_type type;
  void *value;
  const char *metavar; /* shown after the flag in --help ("string", "list") */
  const char *help;    /* NULL: a hidden flag, left out of --help */
  bool *given;         /* optional: set when the flag appears */
};

struct command_spec {
  const char *name;    /* "ps", "container ls": shown in messages */
  const char *usage;   /* "[OPTIONS] CONTAINER [CONTAINER...]" */
  const char *summary; /* one line */
  const char *aliases; /* "skiff container ls, skiff ps" or NULL */
  int min_args;
  int max_args;     /* -1: unbounded */
  bool stop_at_arg; /* flags end at the first argument (run IMAGE CMD...) */
};

enum { OPTS_OK = 0, OPTS_HELP = 1 };

/* Parse argv[1..argc) against opts (terminated by an entry with name NULL).
 * The positional arguments are returned in *args (a malloc'ed vector of
 * borrowed argv strings, NULL-terminated; caller frees the vector) and
 * *nargs. Returns OPTS_OK, OPTS_HELP when --help was given (usage printed
 * to stdout), or -1 with *err set and *usage_error true for a bad flag or
 * argument count. The message is docker 28's, usage included: a bad flag's
 * starts with the flag's error, a bad argument count's with "skiff: '". */
int opts_parse(const struct command_spec *spec, const struct opt *opts, int argc,
               char **argv, char ***args, int *nargs, bool *usage_error,
               skiff_error_t **err);

/* Print the usage of a command to stdout (as --help does). */
void opts_print_help(const struct command_spec *spec, const struct opt *opts);

/* Append a string to a list. Returns -1 on allocation failure. */
int strlist_add(struct strlist *l, const char *s);
void strlist_free(struct strlist *l);

/* docker's RAMInBytes: a number with an optional b, k, m, g, t or p (and
 * "b" or "ib" after it), in bytes. -1 with *err "invalid size: 'x'". */
int opts_parse_bytes(const char *text, long long *out, skiff_error_t **err);

/* Parse a boolean the way Go's strconv.ParseBool does ("1", "t", "true",
 * "TRUE", "0", "f", "false", ...). Returns 0/1, or -1 when invalid. */
int opts_parse_bool(const char *text);

#endif
