/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "shim/task.h"

static bool alnum_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int shim_id_validate(const char *id, struct error *err)
{
	size_t n;
	bool after_sep = true; /* the first character must be alphanumeric */

	if (!id || !id[0])
		return error_set(err, -EINVAL, "identifier must not be empty: invalid argument");
	n = strlen(id);
	if (n > SHIM_ID_LENGTH_MAX)
		return error_set(err, -EINVAL,
				 "identifier \"%.80s\" greater than maximum length (%d characters): "
				 "invalid argument",
				 id, SHIM_ID_LENGTH_MAX);
	for (size_t i = 0; i < n; i++) {
		if (alnum_ascii(id[i])) {
			after_sep = false;
		} else if ((id[i] == '.' || id[i] == '_' || id[i] == '-') && !after_sep) {
			after_sep = true;
		} else {
			after_sep = true;
			break;
		}
	}
	if (after_sep)
		return error_set(err, -EINVAL,
				 "identifier \"%s\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: "
				 "invalid argument",
				 id);
	return 0;
}
