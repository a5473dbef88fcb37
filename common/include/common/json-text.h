/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks on JSON text before it reaches yajl_tree_parse(), which recurses per
 * nesting level and stops at a NUL (so "\u0000" or a raw NUL would cut a
 * string short without notice), and a tidier yajl error message. Shared by
 * every JSON reader (the VMM's API, the agent's OCI parser, the shim's config
 * and specs); each names its own input in its messages.
 */
#pragma once

#include <stddef.h>

enum json_text_problem {
	JSON_TEXT_OK,
	JSON_TEXT_NUL,		/* a NUL byte in the text */
	JSON_TEXT_U0000,	/* a \u0000 escape in a string */
	JSON_TEXT_TOO_DEEP,	/* objects/arrays nested deeper than max_depth */
};

/* One pass over the text; strings and escapes are skipped as JSON defines them. */
enum json_text_problem json_text_prescan(const char *text, size_t len, int max_depth);

/* yajl's verbose message spans lines with a caret under the input: make it one line, in place. */
void json_text_one_line(char *msg);
