/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel modules without kmod: modules.dep (written by depmod) names, for
 * every module, the file and the files it needs. The agent loads the
 * modules it is asked for with finit_module(2), each after its dependencies,
 * each once. modules.dep is read by PID 1, so its parser bounds everything:
 * the file size, the number of modules and dependencies, name lengths, the
 * dependency depth, and it refuses paths that climb out of the directory.
 */
#include "init-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/log.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* Linux 5.17, <linux/module.h> */
#endif

static const char *const compressed_suffixes[] = { ".xz", ".zst", ".gz" };

/* Where ".ko" starts in `base` if it ends in .ko or .ko.<compression>, else NULL. */
static const char *ko_suffix(const char *base, bool *ret_compressed)
{
	const char *p = base, *ko;
	size_t i;

	while ((ko = strstr(p, ".ko"))) {
		const char *rest = ko + 3;

		if (*rest == '\0') {
			*ret_compressed = false;
			return ko;
		}
		for (i = 0; i < ARRAY_SIZE(compressed_suffixes); i++)
			if (strcmp(rest, compressed_suffixes[i]) == 0) {
				*ret_compressed = true;
				return ko;
			}
		p = ko + 1;
	}
	return NULL;
}

static bool path_is_compressed(const char *path)
{
	const char *base = strrchr(path, '/');
	bool compressed = false;

	return ko_suffix(base ? base + 1 : path, &compressed) && compressed;
}

int agent_module_name(const char *s, char ret_name[AGENT_MODULE_NAME_MAX])
{
	const char *base = strrchr(s, '/'), *end;
	bool compressed;
	size_t len, i;

	base = base ? base + 1 : s;
	end = ko_suffix(base, &compressed);
	len = end ? (size_t)(end - base) : strlen(base);
	if (len == 0 || len >= AGENT_MODULE_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = base[i];

		if (c == '-')
			c = '_';
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return -EINVAL;
		ret_name[i] = c;
	}
	ret_name[len] = '\0';
	return 0;
}

/* A module path must stay inside the modules directory: no "..", no empty name. */
static bool path_ok(const char *path)
{
	const char *p = path;

	if (!*path || strlen(path) >= PATH_MAX)
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		if (!slash)
			break;
		p = slash + 1;
	}
	return true;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct agent_moddep_entry *)a)->name,
		      ((const struct agent_moddep_entry *)b)->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int grow(void *arrayp, size_t *cap, size_t need, size_t elem)
{
	void **array = arrayp;
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	n = reallocarray(*array, ncap, elem);
	if (!n)
		return -ENOMEM;
	*array = n;
	*cap = ncap;
	return 0;
}

static char *skip_blank(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Cut `line` at its end-of-line, trailing blanks and '\r' off; returns the next line. */
static char *cut_line(char *line, char *end)
{
	char *nl = memchr(line, '\n', (size_t)(end - line));
	char *e = nl ? nl : end;

	while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return nl ? nl + 1 : end;
}

int agent_moddep_parse_take(struct agent_moddep *dep, char *text, size_t len, struct error *err)
{
	size_t cap_entries = 0, cap_deps = 0, lineno = 0;
	char *p = text, *end = text + len;
	int r;

	dep->text = text;
	if (memchr(text, '\0', len))
		return error_set(err, -EINVAL, "modules.dep: NUL byte");
	while (p < end) {
		struct agent_moddep_entry *e;
		char *line = p, *colon, *tok;

		p = cut_line(line, end);
		lineno++;
		line = skip_blank(line);
		if (*line == '\0' || *line == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon)
			return error_set(err, -EINVAL, "modules.dep line %zu: no ':'", lineno);
		*colon = '\0';
		if (!path_ok(line))
			return error_set(err, -EINVAL, "modules.dep line %zu: bad path '%.64s'", lineno,
					 line);
		if (dep->nr_entries >= AGENT_MODDEP_MAX_MODULES)
			return error_set(err, -E2BIG, "modules.dep: more than %d modules",
					 AGENT_MODDEP_MAX_MODULES);
		r = grow(&dep->entries, &cap_entries, dep->nr_entries + 1, sizeof(*dep->entries));
		if (r < 0)
			return error_set(err, r, "modules.dep: out of memory");
		e = &dep->entries[dep->nr_entries];
		if (agent_module_name(line, e->name) < 0)
			return error_set(err, -EINVAL, "modules.dep line %zu: bad module name '%.64s'",
					 lineno, line);
		e->path = line;
		e->first_dep = dep->nr_deps;
		e->nr_deps = 0;
		tok = colon + 1;
		for (;;) {
			char *t = skip_blank(tok);

			if (*t == '\0')
				break;
			tok = t + strcspn(t, " \t");
			if (*tok)
				*tok++ = '\0';
			if (!path_ok(t))
				return error_set(err, -EINVAL, "modules.dep line %zu: bad path '%.64s'",
						 lineno, t);
			if (e->nr_deps >= AGENT_MODDEP_MAX_DEPS)
				return error_set(err, -E2BIG,
						 "modules.dep line %zu: more than %d dependencies",
						 lineno, AGENT_MODDEP_MAX_DEPS);
			r = grow(&dep->deps, &cap_deps, dep->nr_deps + 1, sizeof(*dep->deps));
			if (r < 0)
				return error_set(err, r, "modules.dep: out of memory");
			dep->deps[dep->nr_deps++] = t;
			e->nr_deps++;
		}
		dep->nr_entries++;
	}
	if (dep->nr_entries)
		qsort(dep->entries, dep->nr_entries, sizeof(*dep->entries), entry_cmp);
	for (size_t i = 1; i < dep->nr_entries; i++)
		if (strcmp(dep->entries[i - 1].name, dep->entries[i].name) == 0)
			return error_set(err, -EINVAL, "modules.dep: module %s listed twice",
					 dep->entries[i].name);
	return 0;
}

int agent_moddep_parse_builtin_take(struct agent_moddep *dep, char *text, size_t len,
				    struct error *err)
{
	char *p = text, *end = text + len;
	size_t cap = 0;
	int r;

	dep->builtin_text = text;
	if (memchr(text, '\0', len))
		return error_set(err, -EINVAL, "modules.builtin: NUL byte");
	while (p < end) {
		char name[AGENT_MODULE_NAME_MAX];
		char *line = p;

		p = cut_line(line, end);
		line = skip_blank(line);
		if (*line == '\0' || *line == '#')
			continue;
		/* A bad line only costs that module its "built in" status. */
		if (agent_module_name(line, name) < 0)
			continue;
		if (dep->nr_builtin >= AGENT_MODDEP_MAX_MODULES)
			return error_set(err, -E2BIG, "modules.builtin: more than %d modules",
					 AGENT_MODDEP_MAX_MODULES);
		r = grow(&dep->builtin, &cap, dep->nr_builtin + 1, sizeof(*dep->builtin));
		if (r < 0)
			return error_set(err, r, "modules.builtin: out of memory");
		/* The name is never longer than the line: store it in place. */
		strcpy(line, name);
		dep->builtin[dep->nr_builtin++] = line;
	}
	if (dep->nr_builtin)
		qsort(dep->builtin, dep->nr_builtin, sizeof(*dep->builtin), str_cmp);
	return 0;
}

void agent_moddep_free(struct agent_moddep *dep)
{
	if (!dep)
		return;
	free(dep->text);
	free(dep->entries);
	free(dep->deps);
	free(dep->builtin_text);
	free(dep->builtin);
	*dep = (struct agent_moddep){ 0 };
}

int agent_moddep_load(const char *moddir, struct agent_moddep *ret_dep, struct error *err)
{
	struct agent_moddep dep = { 0 };
	char path[PATH_MAX];
	char *text;
	size_t len;
	int r;

	if (snprintf(path, sizeof(path), "%s/modules.dep", moddir) >= (int)sizeof(path))
		return error_set(err, -ENAMETOOLONG, "%s: path too long", moddir);
	r = agent_init_read_file(path, AGENT_INIT_FILE_MAX, &text, &len);
	if (r < 0)
		return error_set(err, r, "reading %s: %s", path, strerror(-r));
	r = agent_moddep_parse_take(&dep, text, len, err);
	if (r < 0)
		goto fail;

	snprintf(path, sizeof(path), "%s/modules.builtin", moddir);
	r = agent_init_read_file(path, AGENT_INIT_FILE_MAX, &text, &len);
	if (r == 0) {
		r = agent_moddep_parse_builtin_take(&dep, text, len, err);
		if (r < 0)
			goto fail;
	} else if (r != -ENOENT) {
		error_set(err, r, "reading %s: %s", path, strerror(-r));
		goto fail;
	}
	*ret_dep = dep;
	return 0;
fail:
	agent_moddep_free(&dep);
	return r;
}

const struct agent_moddep_entry *agent_moddep_find(const struct agent_moddep *dep, const char *name)
{
	struct agent_moddep_entry key;

	if (!dep->nr_entries || strlen(name) >= sizeof(key.name))
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, dep->entries, dep->nr_entries, sizeof(key), entry_cmp);
}

bool agent_moddep_is_builtin(const struct agent_moddep *dep, const char *name)
{
	return dep->nr_builtin &&
	       bsearch(&name, dep->builtin, dep->nr_builtin, sizeof(*dep->builtin), str_cmp);
}

enum visit_state { UNSEEN, VISITING, DONE };

struct plan {
	const struct agent_moddep *dep;
	unsigned char *state; /* enum visit_state per entry */
	const struct agent_moddep_entry **out;
	size_t n;
	struct error *err;
};

static int plan_visit(struct plan *pl, const char *name_or_path, const char *needed_by,
		      unsigned int depth)
{
	const struct agent_moddep_entry *e;
	char name[AGENT_MODULE_NAME_MAX];
	size_t idx, i;
	int r;

	if (agent_module_name(name_or_path, name) < 0)
		return error_set(pl->err, -EINVAL, "bad module name '%.64s'", name_or_path);
	e = agent_moddep_find(pl->dep, name);
	if (!e) {
		if (agent_moddep_is_builtin(pl->dep, name))
			return 0;
		if (needed_by)
			return error_set(pl->err, -ENOENT,
					 "module %s (needed by %s) is neither in modules.dep nor built in",
					 name, needed_by);
		return error_set(pl->err, -ENOENT, "module %s is neither in modules.dep nor built in",
				 name);
	}
	idx = (size_t)(e - pl->dep->entries);
	if (pl->state[idx] == DONE)
		return 0;
	if (pl->state[idx] == VISITING)
		return error_set(pl->err, -ELOOP, "modules.dep: dependency cycle through %s and %s",
				 name, needed_by ? needed_by : "?");
	if (depth >= AGENT_MODULES_DEPTH_MAX)
		return error_set(pl->err, -E2BIG, "modules.dep: dependency chain of %s deeper than %d",
				 name, AGENT_MODULES_DEPTH_MAX);
	pl->state[idx] = VISITING;
	for (i = 0; i < e->nr_deps; i++) {
		r = plan_visit(pl, pl->dep->deps[e->first_dep + i], e->name, depth + 1);
		if (r < 0)
			return r;
	}
	pl->state[idx] = DONE;
	if (pl->n >= AGENT_MODULES_PLAN_MAX)
		return error_set(pl->err, -E2BIG, "more than %d modules to load",
				 AGENT_MODULES_PLAN_MAX);
	pl->out[pl->n++] = e;
	return 0;
}

int agent_moddep_plan(const struct agent_moddep *dep, const char *const *names,
		      const struct agent_moddep_entry ***ret_plan, size_t *ret_n, struct error *err)
{
	struct plan pl = { .dep = dep, .err = err };
	int r = 0;

	/* Each entry is planned at most once, so nr_entries bounds the plan. */
	pl.state = calloc(dep->nr_entries + 1, 1);
	pl.out = calloc(dep->nr_entries + 1, sizeof(*pl.out));
	if (!pl.state || !pl.out) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (; names && *names; names++) {
		r = plan_visit(&pl, *names, NULL, 0);
		if (r < 0)
			goto out;
	}
	*ret_plan = TAKE_PTR(pl.out);
	*ret_n = pl.n;
out:
	free(pl.state);
	free(pl.out);
	return r;
}

static bool module_live(const char *name)
{
	char path[PATH_MAX];

	/* initstate exists for loaded modules only (built-in ones with parameters have the dir). */
	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return access(path, F_OK) == 0;
}

static int load_one(const char *moddir, const struct agent_moddep_entry *e, struct error *err)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	unsigned int flags = 0;
	int n;

	if (module_live(e->name)) {
		log_debug("module %s already loaded", e->name);
		return 0;
	}
	if (e->path[0] == '/')
		n = snprintf(path, sizeof(path), "%s", e->path);
	else
		n = snprintf(path, sizeof(path), "%s/%s", moddir, e->path);
	if (n < 0 || (size_t)n >= sizeof(path))
		return error_set(err, -ENAMETOOLONG, "module %s: path too long", e->name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return error_set(err, -errno, "module %s: opening %s: %m", e->name, path);
	if (path_is_compressed(path))
		flags |= MODULE_INIT_COMPRESSED_FILE;
	if (syscall(SYS_finit_module, fd, "", flags) < 0) {
		int r = -errno;

		if (r == -EEXIST) /* loaded meanwhile, or built in under this name */
			return 0;
		if (flags && (r == -EINVAL || r == -EOPNOTSUPP))
			return error_set(err, -EOPNOTSUPP,
					 "module %s: %s is compressed and this kernel cannot decompress "
					 "modules (needs Linux 5.17+ with CONFIG_MODULE_DECOMPRESS and "
					 "that algorithm); store the modules uncompressed",
					 e->name, path);
		return error_set(err, r, "module %s: loading %s: %s", e->name, path, strerror(-r));
	}
	log_debug("module %s loaded", e->name);
	return 0;
}

int agent_init_modules_at(const char *moddir, const char *const *names, struct error *err)
{
	const struct agent_moddep_entry **plan = NULL;
	struct agent_moddep dep = { 0 };
	size_t n = 0, i;
	int r;

	if (!names || !*names)
		return 0;
	r = agent_moddep_load(moddir, &dep, err);
	if (r < 0)
		return r;
	r = agent_moddep_plan(&dep, names, &plan, &n, err);
	for (i = 0; r >= 0 && i < n; i++)
		r = load_one(moddir, plan[i], err);
	if (r >= 0)
		log_debug("%zu modules loaded or present", n);
	free(plan);
	agent_moddep_free(&dep);
	return r;
}

int agent_init_modules(const char *const *names, struct error *err)
{
	char moddir[PATH_MAX];
	struct utsname u;

	if (uname(&u) < 0)
		return error_set(err, -errno, "uname: %m");
	snprintf(moddir, sizeof(moddir), "%s/%s", AGENT_INIT_MODULES_ROOT, u.release);
	return agent_init_modules_at(moddir, names, err);
}

int agent_init_modules_from_list(const char *list_path, struct error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ const char **names = NULL;
	size_t n = 0, len;
	char *p, *end;
	int r;

	r = agent_init_read_file(list_path, 64 * 1024, &text, &len);
	if (r < 0)
		return error_set(err, r, "reading %s: %s", list_path, strerror(-r));
	names = calloc(AGENT_MODULES_PLAN_MAX + 1, sizeof(*names));
	if (!names)
		return error_set(err, -ENOMEM, "out of memory");
	for (p = text, end = text + len; p < end;) {
		char *line = p, *hash;

		p = cut_line(line, end);
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line = skip_blank(line);
		line[strcspn(line, " \t\r")] = '\0';
		if (*line == '\0')
			continue;
		if (n >= AGENT_MODULES_PLAN_MAX)
			return error_set(err, -E2BIG, "%s: more than %d modules", list_path,
					 AGENT_MODULES_PLAN_MAX);
		names[n++] = line;
	}
	r = agent_init_modules(names, err);
	if (r < 0 && err)
		error_wrap(err, "%s", list_path);
	return r < 0 ? r : 0;
}
