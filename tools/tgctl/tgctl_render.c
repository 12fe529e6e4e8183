/* SPDX-License-Identifier: BSD-3-Clause */
/* The human form of a result (see tgctl_render.h). */
#include "tgctl_render.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INDENT 2
#define GAP 2 /* spaces between table columns */

static void put_escaped(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			fprintf(f, "\\u%04x", (unsigned char)s[++i]); /* C1 controls */
		else
			fputc(c, f);
	}
}

/* At most two decimals, no trailing zeros: rates and averages, not measurements */
static void put_real(FILE *f, double d)
{
	char buf[400];
	char *e;

	snprintf(buf, sizeof(buf), "%.2f", d);
	e = buf + strlen(buf) - 1;
	while (*e == '0')
		*e-- = '\0';
	if (*e == '.')
		*e = '\0';
	fputs(strcmp(buf, "-0") == 0 ? "0" : buf, f);
}

/* A scalar as text (null: "-"); an array or object as compact JSON */
static void put_scalar(FILE *f, const json_t *v)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		put_escaped(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		put_real(f, json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_NULL:
		fputs("-", f);
		break;
	default:
		s = json_dumps(v, JSON_COMPACT);
		if (s)
			put_escaped(f, s, strlen(s));
		free(s);
		break;
	}
}

/* What put_scalar() (or put_escaped() for key) prints, malloc'd; "" for neither */
static char *text_of(const json_t *v, const char *key)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (v)
		put_scalar(f, v);
	else if (key)
		put_escaped(f, key, strlen(key));
	fclose(f);
	return buf;
}

/* Columns on a terminal: UTF-8 characters (escaping has removed the controls) */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

static bool all_objects(const json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) if (!json_is_object(v)) return false;
	return json_array_size(a) > 0;
}

struct table {
	size_t nr, nc;
	const char **cols;
	char **heads; /* the column names as printed */
	char **cells; /* nr x nc */
	size_t *w;
	bool *right; /* numbers only: right-aligned */
};

static bool table_fill(struct table *t, const json_t *rows)
{
	size_t i, cap = 0;
	const char *key;
	json_t *row, *v;

	json_array_foreach(rows, i, row)
	{
		json_object_foreach((json_t *)row, key, v)
		{
			size_t c;

			for (c = 0; c < t->nc && strcmp(t->cols[c], key) != 0; c++)
				;
			if (c < t->nc)
				continue;
			if (t->nc == cap) {
				const char **p = realloc(t->cols, (cap ? cap * 2 : 8) * sizeof(*p));

				if (!p)
					return false;
				t->cols = p;
				cap = cap ? cap * 2 : 8;
			}
			t->cols[t->nc++] = key;
		}
	}
	t->nr = json_array_size(rows);
	t->heads = calloc(t->nc + 1, sizeof(*t->heads));
	t->cells = calloc(t->nr * t->nc + 1, sizeof(*t->cells));
	t->w = calloc(t->nc + 1, sizeof(*t->w));
	t->right = calloc(t->nc + 1, sizeof(*t->right));
	if (!t->heads || !t->cells || !t->w || !t->right)
		return false;
	for (size_t c = 0; c < t->nc; c++) {
		t->heads[c] = text_of(NULL, t->cols[c]);
		if (!t->heads[c])
			return false;
		t->w[c] = width(t->heads[c]);
		t->right[c] = true;
	}
	json_array_foreach(rows, i, row)
	{
		for (size_t c = 0; c < t->nc; c++) {
			char **cell = &t->cells[i * t->nc + c];

			v = json_object_get(row, t->cols[c]);
			*cell = text_of(v, NULL);
			if (!*cell)
				return false;
			if (v && !json_is_number(v))
				t->right[c] = false;
			if (width(*cell) > t->w[c])
				t->w[c] = width(*cell);
		}
	}
	return true;
}

static void put_cell(FILE *out, const struct table *t, size_t c, const char *s, bool upper)
{
	size_t sw = width(s), fill = t->w[c] - sw;
	bool last = c + 1 == t->nc;

	if (t->right[c])
		pad(out, fill);
	for (const char *p = s; *p; p++)
		fputc(upper && *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, out);
	if (!last)
		pad(out, (t->right[c] ? 0 : fill) + GAP);
}

/* One table line (row < 0: the header), without the spaces an empty last cell leaves */
static void put_row(FILE *out, const struct table *t, long row, int indent)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		return;
	pad(f, (size_t)indent);
	for (size_t c = 0; c < t->nc; c++)
		put_cell(f, t, c, row < 0 ? t->heads[c] : t->cells[(size_t)row * t->nc + c],
			row < 0);
	fclose(f);
	while (len && line[len - 1] == ' ')
		len--;
	fprintf(out, "%.*s\n", (int)len, line);
	free(line);
}

static void put_table(FILE *out, const json_t *rows, int indent)
{
	struct table t = {0};

	if (table_fill(&t, rows)) {
		for (long r = -1; r < (long)t.nr; r++)
			put_row(out, &t, r, indent);
	} else {
		fputs("(out of memory)\n", out);
	}
	for (size_t i = 0; t.cells && i < t.nr * t.nc; i++)
		free(t.cells[i]);
	for (size_t c = 0; t.heads && c < t.nc; c++)
		free(t.heads[c]);
	free(t.heads);
	free(t.cells);
	free(t.cols);
	free(t.w);
	free(t.right);
}

/* On the key's own line: all but a non-empty object and a non-empty array of objects */
static bool inline_value(const json_t *v)
{
	return !(json_is_object(v) && json_object_size(v)) && !(json_is_array(v) && all_objects(v));
}

static void put_inline(FILE *out, const json_t *v)
{
	size_t i;
	json_t *e;

	if ((json_is_array(v) && !json_array_size(v)) ||
		(json_is_object(v) && !json_object_size(v))) {
		fputs("(none)", out);
		return;
	}
	if (!json_is_array(v)) {
		put_scalar(out, v);
		return;
	}
	json_array_foreach(v, i, e)
	{
		if (i)
			fputs(", ", out);
		put_scalar(out, e);
	}
}

static void put_object(FILE *out, const json_t *o, int indent)
{
	const char *key;
	size_t kw = 0;
	json_t *v;

	json_object_foreach((json_t *)o, key, v) if (inline_value(v) && width(key) > kw) kw =
		width(key);
	json_object_foreach((json_t *)o, key, v)
	{
		pad(out, (size_t)indent);
		put_escaped(out, key, strlen(key));
		fputc(':', out);
		if (inline_value(v)) {
			pad(out, kw - width(key) + 1);
			put_inline(out, v);
			fputc('\n', out);
		} else if (json_is_object(v)) {
			fputc('\n', out);
			put_object(out, v, indent + INDENT);
		} else {
			fputc('\n', out);
			put_table(out, v, indent + INDENT);
		}
	}
}

void tgctl_render(const json_t *result, FILE *out)
{
	size_t i;
	json_t *e;

	if (json_is_object(result)) {
		put_object(out, result, 0);
	} else if (json_is_array(result)) {
		if (!json_array_size(result)) {
			fputs("(none)\n", out);
		} else if (all_objects(result)) {
			put_table(out, result, 0);
		} else {
			json_array_foreach(result, i, e)
			{
				put_scalar(out, e);
				fputc('\n', out);
			}
		}
	} else if (result && !json_is_null(result)) {
		put_scalar(out, result);
		fputc('\n', out);
	}
}

void tgctl_render_event(const json_t *line, FILE *out)
{
	const json_t *call = json_object_get(line, "call");
	bool first = true;
	const char *key;
	json_t *v;

	if (json_is_integer(json_object_get(line, "dropped"))) {
		fprintf(out,
			"-- %" JSON_INTEGER_FORMAT
			" events lost (this client or the appliance's queue fell behind)\n",
			json_integer_value(json_object_get(line, "dropped")));
		return;
	}
	if (json_is_true(json_object_get(line, "end"))) {
		fputs("-- end of the stream", out);
		if (json_is_string(json_object_get(line, "reason"))) {
			fputs(": ", out);
			put_scalar(out, json_object_get(line, "reason"));
		}
		fputc('\n', out);
		return;
	}
	put_scalar(out, json_object_get(line, "time"));
	fputs("  call ", out);
	put_scalar(out, call);
	fputs("  ", out);
	put_scalar(out, json_object_get(line, "kind"));
	json_object_foreach((json_t *)line, key, v)
	{
		if (!strcmp(key, "time") || !strcmp(key, "call") || !strcmp(key, "kind"))
			continue;
		fputs(first ? "  " : " ", out);
		first = false;
		put_escaped(out, key, strlen(key));
		fputc('=', out);
		put_scalar(out, v);
	}
	fputc('\n', out);
}
