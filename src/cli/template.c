/* A small Go text/template: a recursive-descent parser into a tree of nodes,
 * and an evaluator over jansson values. Values travel as new references; a
 * NULL value means Go's "no value" (a missing map key). */
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "format.h"
#include "template_internal.h"

/* ------------------------------------------------------------ the tree */

enum arg_kind {
  ARG_DOT,
  ARG_FIELD,
  ARG_VAR,
  ARG_STRING,
  ARG_INT,
  ARG_FLOAT,
  ARG_BOOL,
  ARG_NIL,
  ARG_FUNC,
  ARG_PIPE
};

struct pipeline;

struct arg {
  enum arg_kind kind;
  char *name;    /* variable (without '$'), function, or string literal */
  char **fields; /* the field chain after the operand */
  int nfields;
  long long i;
  double f;
  bool b;
  struct pipeline *pipe;
};

struct command {
  struct arg *args;
  int nargs;
};

struct pipeline {
  char *vars[2];
  int nvars;
  bool declare; /* ":=" (else "=" when nvars > 0) */
  struct command *cmds;
  int ncmds;
  int line;
  char *source; /* the action's text, for error messages */
};

enum node_kind { NODE_TEXT, NODE_ACTION, NODE_IF, NODE_RANGE, NODE_WITH };

struct node {
  enum node_kind kind;
  char *text;
  size_t len;
  struct pipeline *pipe;
  struct node *list, *else_list;
  struct node *next;
};

struct template
{
  struct node *root;
};

static void free_pipeline(struct pipeline *p);

static void free_arg(struct arg *a)
{
  free(a->name);
  for (int i = 0; i < a->nfields; i++)
    free(a->fields[i]);
  free(a->fields);
  free_pipeline(a->pipe);
}

static void free_pipeline(struct pipeline *p)
{
  if (p == NULL)
    return;
  for (int i = 0; i < p->ncmds; i++) {
    for (int j = 0; j < p->cmds[i].nargs; j++)
      free_arg(&p->cmds[i].args[j]);
    free(p->cmds[i].args);
  }
  free(p->cmds);
  free(p->vars[0]);
  free(p->vars[1]);
  free(p->source);
  free(p);
}

static void free_nodes(struct node *n)
{
  while (n) {
    struct node *next = n->next;
    free(n->text);
    free_pipeline(n->pipe);
    free_nodes(n->list);
    free_nodes(n->else_list);
    free(n);
    n = next;
  }
}

void template_free(struct template *t)
{
  if (t == NULL)
    return;
  free_nodes(t->root);
  free(t);
}

/* ------------------------------------------------------------ lexer */

enum tok {
  T_EOF,
  T_CLOSE,
  T_DOT,
  T_FIELD,
  T_VAR,
  T_STRING,
  T_RAW,
  T_NUMBER,
  T_IDENT,
  T_PIPE,
  T_LPAREN,
  T_RPAREN,
  T_DECLARE,
  T_ASSIGN,
  T_COMMA,
  T_BAD
};

struct token {
  enum tok type;
  const char *start;
  size_t len;
  bool trim; /* a "-}}" close */
};

struct parser {
  const char *src;
  const char *p;
  int line;
  bool trim_next; /* the previous action ended with "-}}" */
  skiff_error_t **err;
};

static int parse_fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int parse_fail(struct parser *ps, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return skiff_error_invalid(ps->err, "template parsing error: template: :%d: %s",
                             ps->line, msg);
}

static bool ident_char(char c)
{
  return isalnum((unsigned char)c) || c == '_';
}

static void skip_space(struct parser *ps)
{
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n') {
    if (*ps->p == '\n')
      ps->line++;
    ps->p++;
  }
}

/* ".A.B.C" — a chain of field names. */
static const char *scan_chain(const char *p)
{
  while (p[0] == '.' && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
    p++;
    while (ident_char(*p))
      p++;
  }
  return p;
}

static const char *scan_quoted(const char *p, char quote)
{
  for (p++; *p && *p != quote; p++) {
    if (*p == '\\' && quote == '"' && p[1])
      p++;
    if (*p == '\n' && quote == '"')
      return NULL;
  }
  return *p == quote ? p + 1 : NULL;
}

static struct token lex(struct parser *ps)
{
  const char *before = ps->p;
  skip_space(ps);
  const char *s = ps->p;
  struct token t = {.type = T_BAD, .start = s, .len = 1};
  const char *e = s + 1;
  if (*s == '\0') {
    t.type = T_EOF;
    t.len = 0;
    return t;
  }
  if (s[0] == '-' && s[1] == '}' && s[2] == '}' && s > before) {
    t.type = T_CLOSE, t.trim = true, e = s + 3;
  } else if (s[0] == '}' && s[1] == '}') {
    t.type = T_CLOSE, e = s + 2;
  } else if (*s == '|') {
    t.type = T_PIPE;
  } else if (*s == '(') {
    t.type = T_LPAREN;
  } else if (*s == ')') {
    t.type = T_RPAREN;
  } else if (*s == ',') {
    t.type = T_COMMA;
  } else if (s[0] == ':' && s[1] == '=') {
    t.type = T_DECLARE, e = s + 2;
  } else if (*s == '=') {
    t.type = T_ASSIGN;
  } else if (*s == '"' || *s == '`') {
    e = scan_quoted(s, *s);
    t.type = *s == '"' ? T_STRING : T_RAW;
    if (e == NULL)
      t.type = T_BAD, e = s + 1;
  } else if (*s == '.') {
    e = scan_chain(s);
    t.type = e == s ? T_DOT : T_FIELD;
    if (e == s)
      e = s + 1;
  } else if (*s == '$') {
    e = s + 1;
    while (ident_char(*e))
      e++;
    e = scan_chain(e);
    t.type = T_VAR;
  } else if (isdigit((unsigned char)*s) ||
             ((*s == '-' || *s == '+') && isdigit((unsigned char)s[1]))) {
    e = s + 1;
    while (isalnum((unsigned char)*e) || *e == '.' ||
           ((*e == '-' || *e == '+') && (e[-1] == 'e' || e[-1] == 'E')))
      e++;
    t.type = T_NUMBER;
  } else if (isalpha((unsigned char)*s) || *s == '_') {
    while (ident_char(*e))
      e++;
    t.type = T_IDENT;
  }
  t.len = (size_t)(e - s);
  ps->p = e;
  return t;
}

static struct token peek(struct parser *ps)
{
  const char *save = ps->p;
  int line = ps->line;
  struct token t = lex(ps);
  ps->p = save;
  ps->line = line;
  return t;
}

static bool tok_is(const struct token *t, const char *word)
{
  return t->type == T_IDENT && t->len == strlen(word) &&
         strncmp(t->start, word, t->len) == 0;
}

/* ------------------------------------------------------------ parser */

static struct pipeline *parse_pipeline(struct parser *ps, bool allow_decl,
                                       enum tok end);

static int split_chain(const char *s, size_t len, char ***fields, int *n)
{
  for (size_t i = 0; i < len;) {
    size_t j = i + 1;
    while (j < len && s[j] != '.')
      j++;
    char **grown = realloc(*fields, (size_t)(*n + 1) * sizeof(char *));
    if (grown == NULL)
      return -1;
    *fields = grown;
    if ((grown[*n] = strndup(s + i + 1, j - i - 1)) == NULL)
      return -1;
    (*n)++;
    i = j;
  }
  return 0;
}

static char *unquote(struct parser *ps, const struct token *t)
{
  struct strbuf b = {0};
  const char *s = t->start + 1, *end = t->start + t->len - 1;
  for (; s < end; s++) {
    char c = *s;
    if (c == '\\' && t->type == T_STRING) {
      s++;
      switch (*s) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case '\\': c = '\\'; break;
      case '"': c = '"'; break;
      case '\'': c = '\''; break;
      case '0': c = '\0'; break;
      default:
        parse_fail(ps, "invalid syntax: %.*s", (int)t->len, t->start);
        strbuf_free(&b);
        return NULL;
      }
    }
    strbuf_append(&b, &c, 1);
  }
  return strbuf_steal(&b);
}

static int parse_number(struct parser *ps, const struct token *t, struct arg *a)
{
  cleanup_free char *text = strndup(t->start, t->len);
  char *end = NULL;
  errno = 0;
  if (text == NULL)
    return -1;
  if (!strpbrk(text, ".eE") || strncmp(text, "0x", 2) == 0) {
    a->kind = ARG_INT;
    a->i = strtoll(text, &end, 0);
  } else {
    a->kind = ARG_FLOAT;
    a->f = strtod(text, &end);
  }
  if (errno || *end)
    return parse_fail(ps, "bad number syntax: \"%s\"", text);
  return 0;
}

/* A chain written right after ")": "(index .A 0).Name". */
static int parse_paren_chain(struct parser *ps, struct arg *a)
{
  const char *e = scan_chain(ps->p);
  if (e == ps->p)
    return 0;
  int r = split_chain(ps->p, (size_t)(e - ps->p), &a->fields, &a->nfields);
  ps->p = e;
  return r;
}

static int parse_operand(struct parser *ps, struct token t, struct arg *a)
{
  switch (t.type) {
  case T_DOT: a->kind = ARG_DOT; return 0;
  case T_FIELD:
    a->kind = ARG_FIELD;
    return split_chain(t.start, t.len, &a->fields, &a->nfields);
  case T_VAR: {
    const char *dot = memchr(t.start + 1, '.', t.len - 1);
    size_t nlen = dot ? (size_t)(dot - t.start - 1) : t.len - 1;
    a->kind = ARG_VAR;
    a->name = strndup(t.start + 1, nlen);
    if (a->name == NULL)
      return -1;
    return dot ? split_chain(dot, (size_t)(t.start + t.len - dot), &a->fields,
                             &a->nfields)
               : 0;
  }
  case T_STRING:
  case T_RAW:
    a->kind = ARG_STRING;
    a->name = unquote(ps, &t);
    return a->name ? 0 : -1;
  case T_NUMBER: return parse_number(ps, &t, a);
  case T_IDENT:
    if (tok_is(&t, "true") || tok_is(&t, "false")) {
      a->kind = ARG_BOOL;
      a->b = tok_is(&t, "true");
      return 0;
    }
    if (tok_is(&t, "nil")) {
      a->kind = ARG_NIL;
      return 0;
    }
    if (!tmpl_is_func(t.start, t.len))
      return parse_fail(ps, "function \"%.*s\" not defined", (int)t.len, t.start);
    a->kind = ARG_FUNC;
    a->name = strndup(t.start, t.len);
    return a->name ? 0 : -1;
  case T_LPAREN:
    a->kind = ARG_PIPE;
    a->pipe = parse_pipeline(ps, false, T_RPAREN);
    if (a->pipe == NULL)
      return -1;
    return parse_paren_chain(ps, a);
  default: return parse_fail(ps, "unexpected \"%.*s\" in command", (int)t.len, t.start);
  }
}

static int add_arg(struct command *c, struct arg **out)
{
  struct arg *grown = realloc(c->args, (size_t)(c->nargs + 1) * sizeof(*grown));
  if (grown == NULL)
    return -1;
  c->args = grown;
  *out = &grown[c->nargs++];
  memset(*out, 0, sizeof(**out));
  return 0;
}

/* Operands until "|", ")" or "}}" (left for the caller). */
static int parse_command(struct parser *ps, struct command *c, enum tok end)
{
  for (;;) {
    struct token t = peek(ps);
    if (t.type == T_PIPE || t.type == end || t.type == T_CLOSE || t.type == T_RPAREN) {
      if (c->nargs == 0)
        return parse_fail(ps, "missing value for command");
      return 0;
    }
    if (t.type == T_EOF || t.type == T_BAD)
      return parse_fail(
          ps, t.type == T_EOF ? "unclosed action" : "unexpected \"%.*s\" in command",
          (int)t.len, t.start);
    lex(ps);
    struct arg *a;
    if (add_arg(c, &a) < 0 || parse_operand(ps, t, a) < 0)
      return -1;
  }
}

/* "$x :=", "$x =", "$i, $e :=" at the start of a pipeline. */
static int parse_decl(struct parser *ps, struct pipeline *p)
{
  const char *save = ps->p;
  for (int i = 0; i < 2; i++) {
    struct token v = lex(ps);
    if (v.type != T_VAR || memchr(v.start, '.', v.len))
      break;
    struct token next = lex(ps);
    if (next.type == T_DECLARE || next.type == T_ASSIGN ||
        (next.type == T_COMMA && i == 0)) {
      p->vars[p->nvars++] = strndup(v.start + 1, v.len - 1);
      if (next.type == T_COMMA)
        continue;
      p->declare = next.type == T_DECLARE;
      return 0;
    }
    break;
  }
  free(p->vars[0]);
  free(p->vars[1]);
  p->vars[0] = p->vars[1] = NULL;
  p->nvars = 0;
  ps->p = save;
  return 0;
}

static struct pipeline *parse_pipeline(struct parser *ps, bool allow_decl, enum tok end)
{
  struct pipeline *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  p->line = ps->line;
  const char *start = ps->p;
  if (allow_decl)
    parse_decl(ps, p);
  for (;;) {
    struct command *grown = realloc(p->cmds, (size_t)(p->ncmds + 1) * sizeof(*grown));
    if (grown == NULL)
      goto fail;
    p->cmds = grown;
    memset(&p->cmds[p->ncmds], 0, sizeof(*grown));
    if (parse_command(ps, &p->cmds[p->ncmds++], end) < 0)
      goto fail;
    struct token t = lex(ps);
    if (t.type == T_PIPE)
      continue;
    if (t.type != end) {
      parse_fail(ps, "unexpected \"%.*s\" in %s", (int)t.len, t.start,
                 end == T_RPAREN ? "parenthesized pipeline" : "command");
      goto fail;
    }
    if (t.type == T_CLOSE)
      ps->trim_next = t.trim;
    p->source = strndup(start, (size_t)(t.start - start));
    return p;
  }
fail:
  free_pipeline(p);
  return NULL;
}

enum term { TERM_EOF, TERM_END, TERM_ELSE, TERM_ELSE_IF, TERM_ELSE_WITH };

static struct node *new_node(enum node_kind kind)
{
  struct node *n = calloc(1, sizeof(*n));
  if (n)
    n->kind = kind;
  return n;
}

static int expect_close(struct parser *ps)
{
  struct token t = lex(ps);
  if (t.type != T_CLOSE)
    return parse_fail(ps, "unexpected \"%.*s\" in action", (int)t.len, t.start);
  ps->trim_next = t.trim;
  return 0;
}

static int parse_list(struct parser *ps, struct node **head, enum term *term);

/* {{if}}, {{range}}, {{with}}: the pipeline, the body and an else branch. */
static struct node *parse_control(struct parser *ps, enum node_kind kind)
{
  struct node *n = new_node(kind);
  if (n == NULL || (n->pipe = parse_pipeline(ps, true, T_CLOSE)) == NULL)
    goto fail;
  enum term term;
  if (parse_list(ps, &n->list, &term) < 0)
    goto fail;
  if (term == TERM_ELSE_IF || term == TERM_ELSE_WITH) {
    /* "else if" nests an if that ends with this one's {{end}}. */
    n->else_list = parse_control(ps, term == TERM_ELSE_IF ? NODE_IF : NODE_WITH);
    if (n->else_list == NULL)
      goto fail;
    return n;
  }
  if (term == TERM_ELSE && parse_list(ps, &n->else_list, &term) < 0)
    goto fail;
  if (term != TERM_END) {
    parse_fail(ps, "unexpected EOF");
    goto fail;
  }
  return n;
fail:
  free_nodes(n);
  return NULL;
}

static int parse_else(struct parser *ps, enum term *term)
{
  struct token t = peek(ps);
  if (tok_is(&t, "if") || tok_is(&t, "with")) {
    lex(ps);
    *term = tok_is(&t, "if") ? TERM_ELSE_IF : TERM_ELSE_WITH;
    return 0;
  }
  *term = TERM_ELSE;
  return expect_close(ps);
}

/* One "{{...}}" whose opening has been consumed. Sets *node (maybe NULL,
 * for comments and declarations are nodes too) or *term for end/else. */
static int parse_action(struct parser *ps, struct node **node, enum term *term,
                        bool *done)
{
  skip_space(ps);
  if (strncmp(ps->p, "/*", 2) == 0) {
    const char *end = strstr(ps->p + 2, "*/");
    if (end == NULL)
      return parse_fail(ps, "unclosed comment");
    for (const char *c = ps->p; c < end; c++)
      ps->line += *c == '\n';
    ps->p = end + 2;
    return expect_close(ps);
  }
  struct token t = peek(ps);
  if (tok_is(&t, "end") || tok_is(&t, "else")) {
    lex(ps);
    *done = true;
    if (tok_is(&t, "else"))
      return parse_else(ps, term);
    *term = TERM_END;
    return expect_close(ps);
  }
  if (tok_is(&t, "if") || tok_is(&t, "range") || tok_is(&t, "with")) {
    lex(ps);
    *node = parse_control(ps, tok_is(&t, "if")      ? NODE_IF
                              : tok_is(&t, "range") ? NODE_RANGE
                                                    : NODE_WITH);
    return *node ? 0 : -1;
  }
  if (tok_is(&t, "define") || tok_is(&t, "template") || tok_is(&t, "block") ||
      tok_is(&t, "break") || tok_is(&t, "continue"))
    return parse_fail(ps, "\"%.*s\" is not supported", (int)t.len, t.start);
  struct node *n = new_node(NODE_ACTION);
  if (n == NULL || (n->pipe = parse_pipeline(ps, true, T_CLOSE)) == NULL) {
    free_nodes(n);
    return -1;
  }
  *node = n;
  return 0;
}

static int add_text(struct parser *ps, struct node ***tail, const char *s, size_t len,
                    bool trim_right)
{
  if (ps->trim_next)
    while (len && isspace((unsigned char)*s))
      s++, len--;
  ps->trim_next = false;
  if (trim_right)
    while (len && isspace((unsigned char)s[len - 1]))
      len--;
  if (len == 0)
    return 0;
  struct node *n = new_node(NODE_TEXT);
  if (n == NULL || (n->text = strndup(s, len)) == NULL) {
    free(n);
    return -1;
  }
  n->len = len;
  **tail = n;
  *tail = &n->next;
  return 0;
}

static int parse_list(struct parser *ps, struct node **head, enum term *term)
{
  struct node **tail = head;
  for (;;) {
    const char *open = strstr(ps->p, "{{");
    const char *text_end = open ? open : ps->p + strlen(ps->p);
    bool trim = open && open[2] == '-' && isspace((unsigned char)open[3]);
    for (const char *c = ps->p; c < text_end; c++)
      ps->line += *c == '\n';
    if (add_text(ps, &tail, ps->p, (size_t)(text_end - ps->p), trim) < 0)
      return -1;
    if (open == NULL) {
      ps->p = text_end;
      *term = TERM_EOF;
      return 0;
    }
    ps->p = open + 2 + (trim ? 1 : 0);
    struct node *n = NULL;
    bool done = false;
    if (parse_action(ps, &n, term, &done) < 0)
      return -1;
    if (done)
      return 0;
    if (n) {
      *tail = n;
      tail = &n->next;
    }
  }
}

struct template *template_parse(const char *text, skiff_error_t **err)
{
  struct parser ps = {.src = text, .p = text, .line = 1, .err = err};
  struct template *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    skiff_error_errno(err, "template");
    return NULL;
  }
  enum term term;
  if (parse_list(&ps, &t->root, &term) < 0) {
    template_free(t);
    return NULL;
  }
  if (term != TERM_EOF) {
    parse_fail(&ps, "unexpected {{%s}}", term == TERM_END ? "end" : "else");
    template_free(t);
    return NULL;
  }
  return t;
}

/* ------------------------------------------------------------ evaluation */

int tmpl_exec_fail(struct exec *x, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return skiff_error_invalid(x->err, "template: :%d: executing \"\" at <%s>: %s",
                             x->at ? x->at->line : 1,
                             x->at && x->at->source ? x->at->source : "", msg);
}

json_t *tmpl_ref(json_t *v)
{
  return v ? json_incref(v) : NULL;
}

bool tmpl_truth(json_t *v)
{
  if (v == NULL)
    return false;
  switch (json_typeof(v)) {
  case JSON_STRING: return json_string_length(v) > 0;
  case JSON_INTEGER: return json_integer_value(v) != 0;
  case JSON_REAL: return json_real_value(v) != 0;
  case JSON_TRUE: return true;
  case JSON_FALSE:
  case JSON_NULL: return false;
  case JSON_ARRAY: return json_array_size(v) > 0;
  case JSON_OBJECT: return json_object_size(v) > 0;
  }
  return false;
}

const char *tmpl_type_name(json_t *v)
{
  return v == NULL ? "<no value>" : jsonutil_type_name(v);
}

/* Follow .A.B from v (a new reference or NULL). */
static int walk(struct exec *x, json_t *v, char **fields, int n, json_t **out)
{
  json_t *cur = tmpl_ref(v);
  for (int i = 0; i < n; i++) {
    if (cur == NULL || json_is_null(cur)) {
      json_decref(cur);
      cur = (x->flags & TEMPLATE_HEADER) ? json_string("") : NULL;
      break;
    }
    if (!json_is_object(cur)) {
      const char *t = tmpl_type_name(cur);
      json_decref(cur);
      return tmpl_exec_fail(x, "can't evaluate field %s in type %s", fields[i], t);
    }
    json_t *next = json_object_get(cur, fields[i]);
    if (next == NULL && (x->flags & TEMPLATE_HEADER)) {
      json_decref(cur);
      *out = json_string("");
      return 0;
    }
    if (next == NULL && (x->flags & TEMPLATE_STRICT)) {
      json_decref(cur);
      return tmpl_exec_fail(x, "can't evaluate field %s", fields[i]);
    }
    json_incref(next);
    json_decref(cur);
    cur = next;
  }
  *out = cur;
  return 0;
}

static json_t *lookup_var(struct exec *x, const char *name)
{
  if (*name == '\0')
    return x->root;
  for (int i = x->nvars - 1; i >= 0; i--)
    if (strcmp(x->vars[i].name, name) == 0)
      return x->vars[i].value;
  return NULL;
}

static int eval_pipeline(struct exec *x, const struct pipeline *p, json_t *dot,
                         json_t **out);

static int eval_arg(struct exec *x, const struct arg *a, json_t *dot, json_t **out)
{
  json_t *base = NULL;
  *out = NULL;
  switch (a->kind) {
  case ARG_DOT: *out = tmpl_ref(dot); return 0;
  case ARG_FIELD: return walk(x, dot, a->fields, a->nfields, out);
  case ARG_VAR:
    for (int i = x->nvars - 1; a->name[0] && i >= -1; i--)
      if (i == -1)
        return tmpl_exec_fail(x, "undefined variable: $%s", a->name);
      else if (strcmp(x->vars[i].name, a->name) == 0)
        break;
    return walk(x, lookup_var(x, a->name), a->fields, a->nfields, out);
  case ARG_STRING: *out = json_string(a->name); return 0;
  case ARG_INT: *out = json_integer(a->i); return 0;
  case ARG_FLOAT: *out = json_real(a->f); return 0;
  case ARG_BOOL: *out = json_boolean(a->b); return 0;
  case ARG_NIL: *out = json_null(); return 0;
  case ARG_FUNC: return tmpl_call_func(x, a->name, NULL, 0, out);
  case ARG_PIPE:
    if (eval_pipeline(x, a->pipe, dot, &base) < 0)
      return -1;
    int r = walk(x, base, a->fields, a->nfields, out);
    json_decref(base);
    return r;
  }
  return 0;
}

/* {{.Label "key"}}: docker's row contexts have methods taking an argument;
 * skiff's rows keep their data under "Label()". */
static int eval_method(struct exec *x, const struct command *c, json_t *dot,
                       json_t **out)
{
  const struct arg *a = &c->args[0];
  if (a->kind != ARG_FIELD || c->nargs != 2)
    return tmpl_exec_fail(x, "can't give argument to non-function %s",
                          a->nfields ? a->fields[a->nfields - 1] : ".");
  cleanup_json json_t *key = NULL;
  if (eval_arg(x, &c->args[1], dot, &key) < 0)
    return -1;
  if (x->flags & TEMPLATE_HEADER) {
    *out = json_string("");
    return 0;
  }
  cleanup_json json_t *holder = NULL;
  if (walk(x, dot, a->fields, a->nfields - 1, &holder) < 0)
    return -1;
  char name[256];
  snprintf(name, sizeof name, "%s()", a->fields[a->nfields - 1]);
  json_t *map = holder && json_is_object(holder) ? json_object_get(holder, name) : NULL;
  if (map == NULL || !json_is_string(key))
    return tmpl_exec_fail(x, "%s has arguments but cannot be invoked as function",
                          a->fields[a->nfields - 1]);
  json_t *v = json_object_get(map, json_string_value(key));
  *out = v ? json_incref(v) : json_string("");
  return 0;
}

static void decref_all(json_t **v, int n)
{
  for (int i = 0; i < n; i++)
    json_decref(v[i]);
}

static int eval_command(struct exec *x, const struct command *c, json_t *dot,
                        json_t *piped, bool has_piped, json_t **out)
{
  const struct arg *first = &c->args[0];
  if (first->kind != ARG_FUNC) {
    if (c->nargs > 1 || has_piped) {
      if (has_piped)
        return tmpl_exec_fail(x, "can't give argument to non-function");
      return eval_method(x, c, dot, out);
    }
    return eval_arg(x, first, dot, out);
  }
  json_t *args[32];
  int n = 0;
  for (int i = 1; i < c->nargs && n < 31; i++) {
    if (eval_arg(x, &c->args[i], dot, &args[n]) < 0) {
      decref_all(args, n);
      return -1;
    }
    n++;
  }
  if (has_piped)
    args[n++] = tmpl_ref(piped);
  int r = tmpl_call_func(x, first->name, args, n, out);
  decref_all(args, n);
  return r;
}

static int set_var(struct exec *x, const char *name, json_t *value, bool declare)
{
  if (!declare) {
    for (int i = x->nvars - 1; i >= 0; i--)
      if (strcmp(x->vars[i].name, name) == 0) {
        json_decref(x->vars[i].value);
        x->vars[i].value = tmpl_ref(value);
        return 0;
      }
    return tmpl_exec_fail(x, "undefined variable: $%s", name);
  }
  if (x->nvars >= (int)(sizeof(x->vars) / sizeof(*x->vars)))
    return tmpl_exec_fail(x, "too many variables");
  x->vars[x->nvars].name = name;
  x->vars[x->nvars++].value = tmpl_ref(value);
  return 0;
}

static void pop_vars(struct exec *x, int keep)
{
  while (x->nvars > keep)
    json_decref(x->vars[--x->nvars].value);
}

static int eval_pipeline(struct exec *x, const struct pipeline *p, json_t *dot,
                         json_t **out)
{
  const struct pipeline *saved = x->at;
  x->at = p;
  json_t *v = NULL;
  for (int i = 0; i < p->ncmds; i++) {
    json_t *next = NULL;
    if (eval_command(x, &p->cmds[i], dot, v, i > 0, &next) < 0) {
      json_decref(v);
      return -1;
    }
    json_decref(v);
    v = next;
  }
  /* A range declares its variables per element itself. */
  if (p->nvars == 1 || (p->nvars > 0 && !p->declare))
    if (set_var(x, p->vars[0], v, p->declare) < 0) {
      json_decref(v);
      return -1;
    }
  x->at = saved;
  *out = v;
  return 0;
}

/* ------------------------------------------------------------ control */

static int exec_list(struct exec *x, const struct node *n, json_t *dot);

static int exec_range_item(struct exec *x, const struct node *n, json_t *key,
                           json_t *item)
{
  int keep = x->nvars;
  const struct pipeline *p = n->pipe;
  int r = 0;
  if (p->nvars == 1)
    r = set_var(x, p->vars[0], item, true);
  else if (p->nvars == 2)
    r = set_var(x, p->vars[0], key, true) < 0 ? -1 : set_var(x, p->vars[1], item, true);
  if (r == 0)
    r = exec_list(x, n->list, item);
  pop_vars(x, keep);
  return r;
}

static int exec_range(struct exec *x, const struct node *n, json_t *v)
{
  if (v && json_is_array(v) && json_array_size(v) > 0) {
    for (size_t i = 0; i < json_array_size(v); i++) {
      cleanup_json json_t *k = json_integer((json_int_t)i);
      if (exec_range_item(x, n, k, json_array_get(v, i)) < 0)
        return -1;
    }
    return 0;
  }
  if (v && json_is_object(v) && json_object_size(v) > 0) {
    size_t count;
    cleanup_free const char **keys = tmpl_sorted_keys(v, &count);
    for (size_t i = 0; keys && i < count; i++) {
      cleanup_json json_t *k = json_string(keys[i]);
      if (exec_range_item(x, n, k, json_object_get(v, keys[i])) < 0)
        return -1;
    }
    return 0;
  }
  if (v && !json_is_array(v) && !json_is_object(v) && !json_is_null(v))
    return tmpl_exec_fail(x, "range can't iterate over %s", tmpl_type_name(v));
  return 0;
}

/* How Go prints a JSON null depends on the Go type it was decoded into:
 * docker's inspect structs make most nulls nil slices ("[]"), some nil maps
 * ("map[]") and a few nil pointers ("<nil>"). The field name tells which. */
static const char *null_text(const struct pipeline *p)
{
  static const char *const pointers[] = {
      "Health",    "Healthcheck",      "Init", "OomKillDisable",
      "PidsLimit", "MemorySwappiness", "Node", "Error",
      "Platform",  "Descriptor",       NULL};
  static const char *const maps[] = {
      "Labels",     "Volumes", "ExposedPorts", "Tmpfs",        "StorageOpt",
      "Sysctls",    "Options", "Annotations",  "PortBindings", "Ports",
      "Networks",   "Config",  "DriverOpts",   "Data",         "Details",
      "Attributes", NULL};
  const struct command *c = &p->cmds[p->ncmds - 1];
  const struct arg *a = &c->args[0];
  if (c->nargs != 1 || a->nfields == 0 || (a->kind != ARG_FIELD && a->kind != ARG_VAR))
    return "<nil>";
  const char *last = a->fields[a->nfields - 1];
  for (const char *const *k = pointers; *k; k++)
    if (strcmp(*k, last) == 0)
      return "<nil>";
  for (const char *const *k = maps; *k; k++)
    if (strcmp(*k, last) == 0)
      return "map[]";
  return "[]";
}

static int exec_node(struct exec *x, const struct node *n, json_t *dot)
{
  if (n->kind == NODE_TEXT)
    return strbuf_append(&x->out, n->text, n->len);
  int keep = x->nvars;
  cleanup_json json_t *v = NULL;
  /* A range's variables take each element, not the whole value. */
  const struct pipeline *p = n->pipe;
  struct pipeline bare = *p;
  if (n->kind == NODE_RANGE)
    bare.nvars = 0;
  if (eval_pipeline(x, n->kind == NODE_RANGE ? &bare : p, dot, &v) < 0)
    return -1;
  int r = 0;
  switch (n->kind) {
  case NODE_ACTION:
    if (p->nvars == 0 && v && json_is_null(v) && !(x->flags & TEMPLATE_STRICT))
      strbuf_puts(&x->out, null_text(p));
    else if (p->nvars == 0 && v == NULL && strcmp(null_text(p), "<nil>") == 0 &&
             p->cmds[p->ncmds - 1].args[0].nfields > 1)
      strbuf_puts(&x->out, "<nil>"); /* an omitted nil pointer of a typed struct */
    else if (p->nvars == 0)
      tmpl_print_value(&x->out, v);
    return 0; /* a declaration lives until the end of the enclosing block */
  case NODE_IF: r = exec_list(x, tmpl_truth(v) ? n->list : n->else_list, dot); break;
  case NODE_WITH:
    r = exec_list(x, tmpl_truth(v) ? n->list : n->else_list, tmpl_truth(v) ? v : dot);
    break;
  case NODE_RANGE:
    r = tmpl_truth(v) ? exec_range(x, n, v) : exec_list(x, n->else_list, dot);
    break;
  default: break;
  }
  pop_vars(x, keep);
  return r;
}

static int exec_list(struct exec *x, const struct node *n, json_t *dot)
{
  int keep = x->nvars;
  int r = 0;
  for (; n && r == 0; n = n->next)
    r = exec_node(x, n, dot);
  pop_vars(x, keep);
  return r;
}

char *template_execute(const struct template *t, json_t *data, unsigned flags,
                       skiff_error_t **err)
{
  struct exec x = {.root = data, .flags = flags, .err = err};
  strbuf_puts(&x.out, "");
  int r = exec_list(&x, t->root, data);
  pop_vars(&x, 0);
  if (r < 0) {
    strbuf_free(&x.out);
    return NULL;
  }
  return strbuf_steal(&x.out);
}
