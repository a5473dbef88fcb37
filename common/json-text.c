/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <string.h>

#include "common/json-text.h"

enum json_text_problem json_text_prescan(const char *text, size_t len, int max_depth)
{
	bool in_string = false, escaped = false;
	int depth = 0;

	if (memchr(text, '\0', len))
		return JSON_TEXT_NUL;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (in_string) {
			if (escaped) {
				escaped = false;
				if (ch == 'u' && len - i > 4 && memcmp(text + i + 1, "0000", 4) == 0)
					return JSON_TEXT_U0000;
			} else if (ch == '\\') {
				escaped = true;
			} else if (ch == '"') {
				in_string = false;
			}
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max_depth)
				return JSON_TEXT_TOO_DEEP;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return JSON_TEXT_OK;
}

void json_text_one_line(char *msg)
{
	char *out = msg;
	bool space = false;

	for (char *p = msg; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f) {
			space = out != msg;
			continue;
		}
		if (space && ch != ' ')
			*out++ = ' ';
		space = false;
		*out++ = (char)ch;
	}
	while (out > msg && out[-1] == ' ')
		out--;
	*out = '\0';
}
