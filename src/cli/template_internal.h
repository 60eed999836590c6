/* Shared between template.c (parser, evaluator) and template_funcs.c
 * (functions, printing); not part of the module's interface. */
#ifndef SKIFF_CLI_TEMPLATE_INTERNAL_H
#define SKIFF_CLI_TEMPLATE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "format.h"
#include "template.h"

struct pipeline;

struct var {
  const char *name;
  json_t *value; /* owned */
};

/* The state of one execution. */
struct exec {
  struct strbuf out;
  json_t *root;
  unsigned flags;
  struct var vars[64];
  int nvars;
  const struct pipeline *at; /* for error messages */
  skiff_error_t **err;
};

/* Fail the execution with Go's message shape. Returns -1. */
int tmpl_exec_fail(struct exec *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A new reference to v (NULL stays NULL: "no value"). */
json_t *tmpl_ref(json_t *v);
/* Go's truth: false, 0, nil, and empty strings, arrays and maps are false. */
bool tmpl_truth(json_t *v);
/* The JSON type name of v, or "<no value>". */
const char *tmpl_type_name(json_t *v);

/* True when name (of len bytes) is a template function. */
bool tmpl_is_func(const char *name, size_t len);
/* Call a function with n arguments; *out gets a new reference. */
int tmpl_call_func(struct exec *x, const char *name, json_t **args, int n,
                   json_t **out);
/* Append v as fmt's %v prints it. */
void tmpl_print_value(struct strbuf *b, json_t *v);
/* The keys of an object, sorted (a malloc'ed vector of borrowed strings). */
const char **tmpl_sorted_keys(json_t *obj, size_t *n);

#endif
