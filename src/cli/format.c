#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/humanize.h"
#include "common/cleanup.h"
#include "template.h"

/* ------------------------------------------------------------ strbuf */

int strbuf_append(struct strbuf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->s, cap);
    if (grown == NULL)
      return -1;
    b->s = grown;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
  return 0;
}

int strbuf_puts(struct strbuf *b, const char *s)
{
  return strbuf_append(b, s, strlen(s));
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  cleanup_free char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  return strbuf_append(b, s, (size_t)n);
}

char *strbuf_steal(struct strbuf *b)
{
  char *s = b->s ? b->s : strdup("");
  memset(b, 0, sizeof(*b));
  return s;
}

void strbuf_free(struct strbuf *b)
{
  free(b->s);
  memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------ tabwriter */

struct tw_cell {
  const char *text;
  size_t size;
  int width; /* in runes */
};

struct tw_line {
  struct tw_cell *cells;
  int n;
};

struct tabwriter {
  struct tw_line *lines;
  int nlines;
  int widths[64];
  int nwidths;
  int minwidth, padding;
  struct strbuf out;
};

static int rune_count(const char *s, size_t n)
{
  int count = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80)
      count++;
  return count;
}

static int split_cells(struct tw_line *line, const char *s, size_t n)
{
  line->n = 1;
  for (size_t i = 0; i < n; i++)
    line->n += s[i] == '\t';
  line->cells = calloc((size_t)line->n, sizeof(*line->cells));
  if (line->cells == NULL)
    return -1;
  int c = 0;
  const char *start = s;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '\t') {
      line->cells[c].text = start;
      line->cells[c].size = (size_t)(s + i - start);
      line->cells[c].width = rune_count(start, line->cells[c].size);
      c++;
      start = s + i + 1;
    }
  }
  return 0;
}

static void tw_write_lines(struct tabwriter *tw, int line0, int line1)
{
  for (int i = line0; i < line1; i++) {
    const struct tw_line *l = &tw->lines[i];
    for (int j = 0; j < l->n; j++) {
      const struct tw_cell *c = &l->cells[j];
      strbuf_append(&tw->out, c->text, c->size);
      if (j < tw->nwidths)
        for (int k = c->width; k < tw->widths[j]; k++)
          strbuf_append(&tw->out, " ", 1);
    }
    if (i + 1 < tw->nlines)
      strbuf_append(&tw->out, "\n", 1);
  }
}

/* Go's tabwriter.format: a column block is a run of consecutive lines that
 * have a cell in this column; its width is fixed before the columns to the
 * right are laid out, recursively. */
static void tw_format(struct tabwriter *tw, int line0, int line1)
{
  int column = tw->nwidths;
  for (int this = line0; this < line1; this ++) {
    if (column >= tw->lines[this].n - 1)
      continue;
    tw_write_lines(tw, line0, this);
    line0 = this;
    int width = tw->minwidth;
    for (; this < line1; this ++) {
      const struct tw_line *l = &tw->lines[this];
      if (column >= l->n - 1)
        break;
      if (l->cells[column].width + tw->padding > width)
        width = l->cells[column].width + tw->padding;
    }
    if (tw->nwidths < 64) {
      tw->widths[tw->nwidths++] = width;
      tw_format(tw, line0, this);
      tw->nwidths--;
    }
    line0 = this;
  }
  tw_write_lines(tw, line0, line1);
}

char *format_tabwriter(const char *text, int minwidth, int padding)
{
  struct tabwriter tw = {.minwidth = minwidth, .padding = padding};
  tw.nlines = 1;
  for (const char *p = text; *p; p++)
    tw.nlines += *p == '\n';
  tw.lines = calloc((size_t)tw.nlines, sizeof(*tw.lines));
  if (tw.lines == NULL)
    return NULL;
  const char *start = text;
  for (int i = 0; i < tw.nlines; i++) {
    const char *nl = strchr(start, '\n');
    size_t n = nl ? (size_t)(nl - start) : strlen(start);
    split_cells(&tw.lines[i], start, n);
    start += n + 1;
  }
  strbuf_puts(&tw.out, "");
  tw_format(&tw, 0, tw.nlines);
  for (int i = 0; i < tw.nlines; i++)
    free(tw.lines[i].cells);
  free(tw.lines);
  return strbuf_steal(&tw.out);
}

/* ------------------------------------------------------------ units */

void format_since(int64_t unix_seconds, char *buf, size_t len)
{
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t ns = ((int64_t)now.tv_sec - unix_seconds) * 1000000000LL + now.tv_nsec;
  char d[64];
  humanize_duration(ns, d, sizeof d);
  snprintf(buf, len, "%s ago", d);
}

static void custom_size(double size, double base, const char *const *units, int nunits,
                        int precision, char *buf, size_t len)
{
  int i = 0;
  while (size >= base && i < nunits - 1) {
    size /= base;
    i++;
  }
  snprintf(buf, len, "%.*g%s", precision, size, units[i]);
}

void format_human_size(double bytes, int precision, char *buf, size_t len)
{
  static const char *const units[] = {"B",  "kB", "MB", "GB", "TB",
                                      "PB", "EB", "ZB", "YB"};
  custom_size(bytes, 1000.0, units, 9, precision, buf, len);
}

void format_bytes_size(double bytes, char *buf, size_t len)
{
  static const char *const units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                      "PiB", "EiB", "ZiB", "YiB"};
  custom_size(bytes, 1024.0, units, 9, 4, buf, len);
}

/* ------------------------------------------------------------ strings */

/* The length of a valid UTF-8 sequence at s, or 0. */
static int utf8_len(const unsigned char *s)
{
  int n = s[0] >= 0xF0 && s[0] < 0xF8 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

char *format_go_quote(const char *s)
{
  struct strbuf b = {0};
  strbuf_puts(&b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    const char *esc = NULL;
    switch (*p) {
    case '\a': esc = "\\a"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\v': esc = "\\v"; break;
    case '\\': esc = "\\\\"; break;
    case '"': esc = "\\\""; break;
    }
    if (esc) {
      strbuf_puts(&b, esc);
    } else if (*p < 0x20 || *p == 0x7F) {
      strbuf_printf(&b, "\\x%02x", *p);
    } else if (*p < 0x80) {
      strbuf_append(&b, (const char *)p, 1);
    } else {
      int n = utf8_len(p);
      if (n == 0) {
        strbuf_printf(&b, "\\x%02x", *p);
      } else {
        strbuf_append(&b, (const char *)p, (size_t)n);
        p += n - 1;
      }
    }
  }
  strbuf_puts(&b, "\"");
  return strbuf_steal(&b);
}

char *format_ellipsis(const char *s, int max)
{
  if (max <= 0)
    return strdup("");
  int runes = rune_count(s, strlen(s));
  if (runes <= max)
    return strdup(s);
  /* Keep max-1 characters, then the ellipsis. */
  const char *p = s;
  for (int kept = 0; *p && kept < max - 1; kept++) {
    p++;
    while ((*p & 0xC0) == 0x80)
      p++;
  }
  char *out = NULL;
  if (asprintf(&out, "%.*s…", (int)(p - s), s) < 0)
    return NULL;
  return out;
}

static void indent_newline(struct strbuf *b, const char *indent, int depth)
{
  strbuf_puts(b, "\n");
  for (int i = 0; i < depth; i++)
    strbuf_puts(b, indent);
}

char *format_json_indent(const char *raw, size_t len, const char *indent)
{
  struct strbuf b = {0};
  int depth = 0;
  bool need_indent = false, in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = raw[i];
    if (in_string) {
      strbuf_append(&b, &c, 1);
      if (c == '\\' && i + 1 < len)
        strbuf_append(&b, &raw[++i], 1);
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      continue;
    if (need_indent && c != ']' && c != '}') {
      need_indent = false;
      indent_newline(&b, indent, ++depth);
    }
    if (c == '"') {
      in_string = true;
      strbuf_append(&b, &c, 1);
    } else if (c == '{' || c == '[') {
      need_indent = true;
      strbuf_append(&b, &c, 1);
    } else if (c == ',') {
      strbuf_puts(&b, ",");
      indent_newline(&b, indent, depth);
    } else if (c == ':') {
      strbuf_puts(&b, ": ");
    } else if (c == '}' || c == ']') {
      if (need_indent)
        need_indent = false; /* an empty object or array stays "{}" */
      else if (depth-- <= 0)
        goto bad;
      else
        indent_newline(&b, indent, depth);
      strbuf_append(&b, &c, 1);
    } else {
      strbuf_append(&b, &c, 1);
    }
  }
  if (depth == 0 && !in_string && !need_indent)
    return strbuf_steal(&b);
bad:
  strbuf_free(&b);
  return NULL;
}

/* ------------------------------------------------------------ times */

void format_go_time(int64_t unix_seconds, char *buf, size_t len)
{
  time_t t = (time_t)unix_seconds;
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}

void format_rfc3339_nano(int64_t unix_ns, char *buf, size_t len)
{
  time_t t = (time_t)(unix_ns / 1000000000LL);
  long frac = (long)(unix_ns % 1000000000LL);
  struct tm tm;
  localtime_r(&t, &tm);
  char date[64], zone[48];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  long off = tm.tm_gmtoff;
  if (off == 0)
    snprintf(zone, sizeof zone, "Z");
  else
    snprintf(zone, sizeof zone, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
             labs(off) % 3600 / 60);
  snprintf(buf, len, "%s.%09ld%s", date, frac, zone);
}

/* ------------------------------------------------------------ --format */

static char *prepare_format(const char *format, const char *default_table, bool *table)
{
  if (format == NULL || *format == '\0' || strcmp(format, "table") == 0)
    format = default_table;
  else if (strcmp(format, "json") == 0)
    format = "{{json .}}";
  *table = strncmp(format, "table", 5) == 0;
  if (*table)
    format += 5;
  while (*format == ' ')
    format++;
  struct strbuf b = {0};
  strbuf_puts(&b, "");
  for (const char *p = format; *p; p++) {
    /* docker: a literal backslash-t or backslash-n means tab or newline. */
    if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
      strbuf_puts(&b, p[1] == 't' ? "\t" : "\n");
      p++;
    } else {
      strbuf_append(&b, p, 1);
    }
  }
  while (b.len && b.s[b.len - 1] == ' ')
    b.s[--b.len] = '\0';
  return strbuf_steal(&b);
}

int listfmt_init(struct listfmt *f, const char *format, const char *default_table,
                 skiff_error_t **err)
{
  memset(f, 0, sizeof(*f));
  cleanup_free char *text = prepare_format(format, default_table, &f->table);
  if (text == NULL)
    return skiff_error_errno(err, "format");
  f->tmpl = template_parse(text, err);
  if (f->tmpl == NULL)
    return -1;
  strbuf_puts(&f->rows, "");
  return 0;
}

int listfmt_row(struct listfmt *f, json_t *row, skiff_error_t **err)
{
  cleanup_free char *line = template_execute(f->tmpl, row, TEMPLATE_STRICT, err);
  if (line == NULL)
    return -1;
  strbuf_puts(&f->rows, line);
  strbuf_puts(&f->rows, "\n");
  return 0;
}

int listfmt_flush(struct listfmt *f, json_t *headers, FILE *out, skiff_error_t **err)
{
  if (!f->table) {
    fputs(f->rows.s ? f->rows.s : "", out);
    return 0;
  }
  cleanup_free char *head = template_execute(f->tmpl, headers, TEMPLATE_HEADER, err);
  if (head == NULL)
    return -1;
  struct strbuf all = {0};
  strbuf_printf(&all, "%s\n%s", head, f->rows.s ? f->rows.s : "");
  cleanup_free char *text = strbuf_steal(&all);
  cleanup_free char *table = format_tabwriter(text, 10, 3);
  fputs(table ? table : text, out);
  return 0;
}

void listfmt_clear(struct listfmt *f)
{
  template_free(f->tmpl);
  strbuf_free(&f->rows);
  memset(f, 0, sizeof(*f));
}

int format_check_template(const char *format, int *status, skiff_error_t **err)
{
  if (format == NULL || *format == '\0' || strcmp(format, "json") == 0)
    return 0;
  struct template *t = template_parse(format, err);
  if (t == NULL) {
    *status = 64;
    return -1;
  }
  template_free(t);
  return 0;
}

int format_template_print(const char *format, json_t *data, bool add_newline, FILE *out,
                          skiff_error_t **err)
{
  /* inspect, version and info parse the text as given: no "table", and a
   * backslash-t stays as written (docker's templates.Parse). */
  struct template *t = template_parse(format, err);
  if (t == NULL)
    return -1;
  cleanup_free char *s = template_execute(t, data, 0, err);
  template_free(t);
  if (s == NULL)
    return -1;
  fputs(s, out);
  if (add_newline)
    fputc('\n', out);
  return 0;
}
