/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-remote: the REST API's command-line client, as cloud-hypervisor's
 * ch-remote. One subcommand is one request on one connection; a 2xx answer
 * prints its body (if any) on stdout, anything else prints the server's
 * error message on stderr and exits 1.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "common/macros.h"

#define REMOTE_EXIT_OK 0
#define REMOTE_EXIT_ERROR 1 /* the server refused, or could not be reached */
#define REMOTE_EXIT_USAGE 2

/* The server's own limit on a request body (vm.create). */
#define REMOTE_MAX_BODY (1024 * 1024)
/* A VmInfo is a few KiB; anything past this is not a reply of ours. */
#define REMOTE_MAX_RESPONSE (4 * 1024 * 1024)
/* Default wait for the whole response; vm.boot loads the kernel first. */
#define REMOTE_DEFAULT_TIMEOUT_S 30

struct remote_command {
	const char *name;
	const char *method;
	const char *endpoint;
	bool takes_file; /* create FILE: the VmConfig JSON */
	const char *help;
};

static const struct remote_command commands[] = {
	{ "ping", "GET", "vmm.ping", false, "Ping the VMM (prints its version)" },
	{ "info", "GET", "vm.info", false, "Print the VM's config and state" },
	{ "counters", "GET", "vm.counters", false, "Print the devices' counters" },
	{ "create", "PUT", "vm.create", true, "Create the VM from a VmConfig JSON file ('-': stdin)" },
	{ "boot", "PUT", "vm.boot", false, "Boot the created VM" },
	{ "shutdown", "PUT", "vm.shutdown", false, "Shut the VM down" },
	{ "reboot", "PUT", "vm.reboot", false, "Reboot the VM" },
	{ "pause", "PUT", "vm.pause", false, "Pause the VM" },
	{ "resume", "PUT", "vm.resume", false, "Resume the paused VM" },
	{ "power-button", "PUT", "vm.power-button", false, "Press the VM's ACPI power button" },
	{ "delete", "PUT", "vm.delete", false, "Delete the VM" },
	{ "shutdown-vmm", "PUT", "vmm.shutdown", false, "Stop the VMM process" },
};

_printf_(1, 2) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("nacelle-remote: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return REMOTE_EXIT_ERROR;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: nacelle-remote --api-socket <path> [--timeout <seconds>] <command> [<args>]\n\n"
		     "Drives nacelle-vmm (or cloud-hypervisor) through its REST API.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-14s %s\n",
			commands[i].takes_file ? "create <file>" : commands[i].name, commands[i].help);
	fprintf(out, "\nOptions:\n"
		     "  --api-socket <path>  The VMM's API socket (also --api-socket=<path>)\n"
		     "  --timeout <seconds>  How long to wait for the response [default: %d]\n"
		     "  -h, --help           Print help\n"
		     "  -V, --version        Print version\n\n"
		     "Exit status: 0 success (a 2xx answer), 1 the VMM refused or could not be\n"
		     "reached (its message is printed), 2 bad usage.\n",
		     REMOTE_DEFAULT_TIMEOUT_S);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The whole file (or stdin), at most REMOTE_MAX_BODY bytes. */
static char *read_body(const char *path, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *buf;
	size_t len;

	if (!f) {
		fail("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(REMOTE_MAX_BODY + 1);
	if (!buf) {
		fail("out of memory");
		goto out;
	}
	len = fread(buf, 1, REMOTE_MAX_BODY + 1, f);
	if (ferror(f) || len > REMOTE_MAX_BODY) {
		fail(ferror(f) ? "cannot read %s" : "%s is larger than %d bytes", path,
		     REMOTE_MAX_BODY);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[len] = '\0';
	*ret_len = len;
out:
	if (f != stdin)
		fclose(f);
	return buf;
}

static int connect_api(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fail("API socket path too long: %s", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fail("cannot connect to %s: %s (is nacelle-vmm running with --api-socket %s?)", path,
		     strerror(errno), path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for fd (POLLIN/POLLOUT) until the deadline; false on timeout. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (now >= deadline)
			return false;
		r = poll(&p, 1, (int)MIN(deadline - now, (uint64_t)60000));
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return true; /* let the read or write report it */
	}
}

static bool send_all(int fd, const char *s, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n;

		if (!wait_fd(fd, POLLOUT, deadline))
			return false;
		n = send(fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

struct response {
	int status;
	char *data; /* head and body */
	size_t len;
	const char *body;
	size_t body_len;
};

/*
 * Read until the body is complete (by Content-Length) or the server closes.
 * Returns 0, or -ETIMEDOUT / -EPROTO / -EIO with a message printed.
 */
static int read_response(int fd, const char *path, int timeout_s, struct response *ret)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	size_t cap = 8192, len = 0, want = SIZE_MAX;
	char *buf = malloc(cap + 1), *end;
	int r = -EPROTO;

	if (!buf) {
		fail("out of memory");
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *b;

			if (cap >= REMOTE_MAX_RESPONSE) {
				fail("the response from %s is larger than %d bytes", path,
				     REMOTE_MAX_RESPONSE);
				goto fail;
			}
			b = realloc(buf, cap * 2 + 1);
			if (!b) {
				fail("out of memory");
				r = -ENOMEM;
				goto fail;
			}
			buf = b;
			cap *= 2;
		}
		if (!wait_fd(fd, POLLIN, deadline)) {
			fail("no response from %s within %d s", path, timeout_s);
			r = -ETIMEDOUT;
			goto fail;
		}
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			fail("reading from %s: %s", path, strerror(errno));
			r = -EIO;
			goto fail;
		}
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end && want == SIZE_MAX) {
			const char *cl;
			int status;

			if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1) {
				fail("%s did not answer in HTTP", path);
				goto fail;
			}
			/* An interim 100 Continue: drop it and read on. */
			if (status == 100) {
				len -= (size_t)(end + 4 - buf);
				memmove(buf, end + 4, len + 1);
				continue;
			}
			ret->status = status;
			*end = '\0';
			cl = strcasestr(buf, "\r\nContent-Length:");
			*end = '\r';
			want = cl ? (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10) :
				    (status == 204 ? (size_t)(end + 4 - buf) : SIZE_MAX - 1);
		}
		if ((want != SIZE_MAX && len >= want) || n == 0)
			break;
	}
	end = strstr(buf, "\r\n\r\n");
	if (!end || want == SIZE_MAX) {
		fail("%s closed the connection without a complete response", path);
		goto fail;
	}
	ret->data = buf;
	ret->len = len;
	ret->body = end + 4;
	ret->body_len = len - (size_t)(end + 4 - buf);
	if (want != SIZE_MAX - 1 && ret->body_len > want - (size_t)(end + 4 - buf))
		ret->body_len = want - (size_t)(end + 4 - buf);
	return 0;
fail:
	free(buf);
	return r;
}

/* The server's {"error": "..."} message, or the body itself, on one line. */
static void print_error(const struct response *resp)
{
	static const char *const p_error[] = { "error", NULL };
	char ebuf[64], *copy = strndup(resp->body, resp->body_len);
	const char *msg = NULL;
	yajl_val v = copy ? yajl_tree_parse(copy, ebuf, sizeof(ebuf)) : NULL;
	yajl_val e = v ? yajl_tree_get(v, (const char **)p_error, yajl_t_string) : NULL;

	if (e)
		msg = e->u.string;
	else if (copy && copy[0])
		msg = copy;
	else
		msg = "no message";
	fputs("nacelle-remote: error: ", stderr);
	/* Control characters would let a server rewrite the user's terminal. */
	for (const char *p = msg; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, stderr);
	fprintf(stderr, " (HTTP %d)\n", resp->status);
	yajl_tree_free(v);
	free(copy);
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *file = NULL;
	const struct remote_command *cmd = NULL;
	int timeout_s = REMOTE_DEFAULT_TIMEOUT_S;
	struct response resp = { 0 };
	char *body = NULL, head[512];
	size_t body_len = 0;
	uint64_t deadline;
	int i, fd, n, r;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return REMOTE_EXIT_OK;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("nacelle-remote %s\n", NACELLE_VERSION);
			return REMOTE_EXIT_OK;
		} else if (strncmp(a, "--api-socket=", 13) == 0) {
			socket_path = a + 13;
		} else if (strcmp(a, "--api-socket") == 0 && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strncmp(a, "--timeout", 9) == 0 && (a[9] == '=' || (!a[9] && i + 1 < argc))) {
			const char *v = a[9] == '=' ? a + 10 : argv[++i];
			char *e;
			long t = strtol(v, &e, 10);

			if (!*v || *e || t <= 0 || t > 3600) {
				fprintf(stderr, "nacelle-remote: --timeout takes 1 to 3600 seconds\n");
				return REMOTE_EXIT_USAGE;
			}
			timeout_s = (int)t;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "nacelle-remote: unknown option '%s' (see --help)\n", a);
			return REMOTE_EXIT_USAGE;
		} else {
			break;
		}
	}
	if (!socket_path || !socket_path[0]) {
		fprintf(stderr, "nacelle-remote: --api-socket <path> is required (see --help)\n");
		return REMOTE_EXIT_USAGE;
	}
	if (i == argc) {
		fprintf(stderr, "nacelle-remote: no command given (see --help)\n");
		return REMOTE_EXIT_USAGE;
	}
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		if (strcmp(commands[k].name, argv[i]) == 0)
			cmd = &commands[k];
	if (!cmd) {
		fprintf(stderr, "nacelle-remote: unknown command '%s' (see --help)\n", argv[i]);
		return REMOTE_EXIT_USAGE;
	}
	i++;
	if (cmd->takes_file) {
		if (i == argc) {
			fprintf(stderr, "nacelle-remote: %s needs a file (the VmConfig JSON)\n",
				cmd->name);
			return REMOTE_EXIT_USAGE;
		}
		file = argv[i++];
	}
	if (i != argc) {
		fprintf(stderr, "nacelle-remote: unexpected argument '%s' after %s\n", argv[i],
			cmd->name);
		return REMOTE_EXIT_USAGE;
	}

	if (file) {
		body = read_body(file, &body_len);
		if (!body)
			return REMOTE_EXIT_ERROR;
	}
	fd = connect_api(socket_path);
	if (fd < 0) {
		free(body);
		return REMOTE_EXIT_ERROR;
	}
	n = snprintf(head, sizeof(head),
		     "%s /api/v1/%s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		     "Connection: close\r\n%sContent-Length: %zu\r\n\r\n",
		     cmd->method, cmd->endpoint, body ? "Content-Type: application/json\r\n" : "",
		     body_len);
	deadline = now_ms() + (uint64_t)timeout_s * 1000;
	if (!send_all(fd, head, (size_t)n, deadline) ||
	    (body_len && !send_all(fd, body, body_len, deadline))) {
		fail("sending to %s: %s", socket_path,
		     now_ms() >= deadline ? "timed out" : strerror(errno));
		close(fd);
		free(body);
		return REMOTE_EXIT_ERROR;
	}
	free(body);
	r = read_response(fd, socket_path, timeout_s, &resp);
	close(fd);
	if (r < 0)
		return REMOTE_EXIT_ERROR;
	if (resp.status < 200 || resp.status > 299) {
		print_error(&resp);
		free(resp.data);
		return REMOTE_EXIT_ERROR;
	}
	if (resp.body_len) {
		fwrite(resp.body, 1, resp.body_len, stdout);
		if (resp.body[resp.body_len - 1] != '\n')
			fputc('\n', stdout);
	}
	free(resp.data);
	return fflush(stdout) == 0 ? REMOTE_EXIT_OK : REMOTE_EXIT_ERROR;
}
