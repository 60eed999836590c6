/* Output formatting as docker's CLI does it: text/tabwriter tables, the
 * --format handling of list commands ("table", "json", templates), human
 * durations and sizes (docker/go-units), Go's quoting, time stamps and
 * json.Indent. Pure functions, unit-tested in tests/unit/test_cli_format.c. */
#ifndef SKIFF_CLI_FORMAT_H
#define SKIFF_CLI_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/error.h"

/* A growing string. All functions return -1 on allocation failure. */
struct strbuf {
  char *s; /* NUL-terminated once anything was appended */
  size_t len, cap;
};
int strbuf_append(struct strbuf *b, const char *s, size_t n);
int strbuf_puts(struct strbuf *b, const char *s);
int strbuf_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The string (never NULL: "" when empty), ownership to the caller. */
char *strbuf_steal(struct strbuf *b);
void strbuf_free(struct strbuf *b);

/* Go's text/tabwriter over the whole text (cells end with '\t', lines with
 * '\n'), padding with spaces: a column is as wide as its widest cell plus
 * padding, at least minwidth. Docker's tables use minwidth 10, padding 3.
 * Returns a new string. */
char *format_tabwriter(const char *text, int minwidth, int padding);

/* HumanDuration(now - unix_seconds) + " ago", as docker's CREATED columns. */
void format_since(int64_t unix_seconds, char *buf, size_t len);

/* units.HumanSizeWithPrecision (powers of 1000: "1.99MB", "0B", "4.1kB"). */
void format_human_size(double bytes, int precision, char *buf, size_t len);

/* units.BytesSize (powers of 1024: "7.756GiB"). */
void format_bytes_size(double bytes, char *buf, size_t len);

/* Go's strconv.Quote. Returns a new string. */
char *format_go_quote(const char *s);

/* docker's formatter.Ellipsis: at most max characters, the last one "…"
 * when cut. Returns a new string. */
char *format_ellipsis(const char *s, int max);

/* Go's json.Indent(prefix "", indent): whitespace outside strings dropped,
 * each element on its own line, empty [] and {} kept, the original token
 * text (escapes, numbers) untouched. Returns a new string or NULL when the
 * input is not balanced. */
char *format_json_indent(const char *raw, size_t len, const char *indent);

/* Go's Time.String() in local time: "2024-01-02 15:04:05 +0000 UTC". */
void format_go_time(int64_t unix_seconds, char *buf, size_t len);

/* Go's RFC3339NanoFixed in local time: "2024-01-02T15:04:05.000000000Z". */
void format_rfc3339_nano(int64_t unix_ns, char *buf, size_t len);

/* A parsed --format for a list command (ps, images, ...). */
struct template;
struct listfmt {
  struct template *tmpl;
  bool table;
  struct strbuf rows;
};

/* Prepare a --format value as docker does: NULL or "" or "table" uses
 * default_table ("table {{.ID}}\t..."), "json" means "{{json .}}", a leading
 * "table" means a table with headers, "\t" and "\n" written literally stand
 * for tab and newline. Returns -1 with *err on a template syntax error. */
int listfmt_init(struct listfmt *f, const char *format, const char *default_table,
                 skiff_error_t **err);

/* Render one row (an object of the command's fields). Keys ending in "()"
 * take an argument: {{.Label "k"}} indexes the object under "Label()".
 * Missing fields are an error, as for docker's typed contexts. */
int listfmt_row(struct listfmt *f, json_t *row, skiff_error_t **err);

/* Write everything to out; for a table, first the header row rendered from
 * headers (field name -> column title). Returns -1 on error. */
int listfmt_flush(struct listfmt *f, json_t *headers, FILE *out, skiff_error_t **err);
void listfmt_clear(struct listfmt *f);

/* docker checks a --format template before it asks the daemon anything:
 * for inspect, version, info and events a template that does not parse is
 * exit status 64 (cli.StatusError). Returns -1 with *err and sets
 * *status to 64 then; 0 for a good template or none. */
int format_check_template(const char *format, int *status, skiff_error_t **err);

/* Render data with a template for a one-off output (inspect, version, info)
 * without headers, appending "\n" when add_newline. Returns -1 with *err. */
int format_template_print(const char *format, json_t *data, bool add_newline, FILE *out,
                          skiff_error_t **err);

#endif
