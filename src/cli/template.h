/* The subset of Go's text/template that docker's --format users write,
 * evaluated over jansson values:
 *   {{.Field.Sub}} {{.}} {{$}} {{$var.Field}} {{(pipeline).Field}}
 *   {{json .X}} {{index .Map "key"}} {{join .List ","}} {{split .S ","}}
 *   {{upper .S}} {{lower .S}} {{title .S}} {{pad .S 1 2}} {{truncate .S 3}}
 *   {{len .X}} {{print ...}} {{printf "%s" ...}} {{println ...}}
 *   {{eq a b}} {{ne}} {{lt}} {{le}} {{gt}} {{ge}} {{and}} {{or}} {{not}}
 *   pipelines {{.X | upper}}, {{if}}/{{else if}}/{{else}}/{{end}},
 *   {{range}} (with {{$i, $e := ...}} and {{else}}), {{with}}, {{$x := ...}},
 *   comments ("{{" "/" "*" ... "*" "/" "}}") and the {{- -}} whitespace trimming.
 * Values print as Go's fmt does: arrays "[a b]", objects "map[k:v]" with
 * sorted keys, null "<nil>", a missing key "<no value>". */
#ifndef SKIFF_CLI_TEMPLATE_H
#define SKIFF_CLI_TEMPLATE_H

#include <jansson.h>

#include "common/error.h"

struct template;

enum template_flags {
  /* A missing field is an error ("can't evaluate field X"), as with docker's
   * typed row contexts; otherwise it prints "<no value>" (inspect). */
  TEMPLATE_STRICT = 1 << 0,
  /* Rendering a table header: the string functions (json, join, split,
   * upper, lower, title, pad, truncate) return their first argument and a
   * missing field is empty, as docker's HeaderFunctions. */
  TEMPLATE_HEADER = 1 << 1,
};

/* Parse template text. Returns NULL with *err ("template parsing error:
 * template: :LINE: ...") on a syntax error. */
struct template *template_parse(const char *text, skiff_error_t **err);
void template_free(struct template *t);

/* Execute against data. Returns the output (new string), or NULL with *err
 * ("template: :LINE: executing ... : reason"). */
char *template_execute(const struct template *t, json_t *data, unsigned flags,
                       skiff_error_t **err);

/* Print a value as Go's fmt %v does ("[a b]", "map[k:v]", "<nil>").
 * Returns a new string. */
char *template_print_value(json_t *value);

#endif
