/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-vmm's command line. It takes cloud-hypervisor's option names and
 * value syntax so that whatever drives cloud-hypervisor (Kata, shims, scripts)
 * can start nacelle-vmm instead. Every option cloud-hypervisor has is in the
 * table below; the ones nacelle does not have yet carry no handler, so that
 * they fail with "not implemented yet" rather than "unknown option", and
 * adding one is adding its handler.
 */
#include "vmm/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-devices.h"
#include "config-check.h"
#include "kv.h"

/* What nacelle-vmm's main() returns; documented in --help. */
#define VMM_EXIT_OK 0     /* guest powered off, or SIGTERM/SIGINT and clean teardown */
#define VMM_EXIT_ERROR 1  /* anything that went wrong */
#define VMM_EXIT_REBOOT 3 /* guest asked for a reboot; the supervisor restarts us */

enum cli_option_flags {
	CLI_REPEATABLE = 1 << 0, /* may be given more than once (-v) */
	/* Parsing stops here and the rest is not read, as clap does for --help. */
	CLI_STOPS = 1 << 1,
	/*
	 * clap's num_args(1..): "--disk A B" gives the handler A, then B, up to
	 * the next argument that starts with '-'. An attached "--disk=A" is one
	 * value, as clap 4 ends the occurrence there.
	 */
	CLI_MULTIPLE_VALUES = 1 << 2,
	/* clap's num_args(0..=1): a bare "--rng" gets the value "". */
	CLI_OPTIONAL_VALUE = 1 << 3,
	/*
	 * Part of the VM's config: meaningless without --kernel, as the VM then
	 * comes whole from the REST API's vm.create.
	 */
	CLI_VM = 1 << 4,
};

struct cli_option {
	const char *name;       /* "--memory"; NULL for a short-only option */
	char short_name;        /* 'v', or 0 */
	const char *value_name; /* "<memory>" in --help; NULL if it takes no value */
	unsigned int flags;     /* enum cli_option_flags */
	/* NULL: cloud-hypervisor has it, nacelle does not yet (-ENOSYS). */
	int (*parse)(struct vmm_config *cfg, const char *opt, const char *value,
		     struct error *err);
	const char *help;
	const char *default_value; /* shown as [default: ...] */
};

/* --kernel, --initramfs, --log-file: a path we only check is non-empty. */
static int cli_set_path(char **field, const char *opt, const char *value, struct error *err)
{
	char *copy;

	if (value[0] == '\0')
		return error_set(err, -EINVAL, "%s: empty path", opt);
	copy = strdup(value);
	if (!copy)
		return error_set(err, -ENOMEM, "%s: out of memory", opt);
	free(*field);
	*field = copy;
	return 0;
}

static int cli_parse_kernel(struct vmm_config *cfg, const char *opt, const char *value,
			    struct error *err)
{
	return cli_set_path(&cfg->kernel, opt, value, err);
}

static int cli_parse_initramfs(struct vmm_config *cfg, const char *opt, const char *value,
			       struct error *err)
{
	return cli_set_path(&cfg->initramfs, opt, value, err);
}

static int cli_parse_log_file(struct vmm_config *cfg, const char *opt, const char *value,
			      struct error *err)
{
	return cli_set_path(&cfg->log_file, opt, value, err);
}

static int cli_parse_cmdline(struct vmm_config *cfg, const char *opt, const char *value,
			     struct error *err)
{
	char *copy;
	int r;

	r = vmm_check_cmdline(opt, value, err);
	if (r < 0)
		return r;
	copy = strdup(value);
	if (!copy)
		return error_set(err, -ENOMEM, "%s: out of memory", opt);
	free(cfg->cmdline);
	cfg->cmdline = copy;
	return 0;
}

static const struct kv_key cpus_keys[] = {
	{ "boot", 0 },
	{ "max", 0 },
	{ "topology", KV_UNSUPPORTED },
	{ "kvm_hyperv", KV_UNSUPPORTED },
	{ "max_phys_bits", KV_UNSUPPORTED },
	{ "affinity", KV_UNSUPPORTED },
	{ "features", KV_UNSUPPORTED },
	{ "nested", KV_UNSUPPORTED },
	{ "core_scheduling", KV_UNSUPPORTED },
};

static int cli_parse_vcpu_count(const struct kv *kv, const char *key, uint32_t *ret,
				struct error *err)
{
	const char *v = kv_get(kv, key);
	uint64_t n;
	int r;

	if (!v)
		return 0;
	/* Junk reads as 0, which the check refuses with the same message. */
	if (kv_parse_uint(v, UINT64_MAX, &n) < 0)
		n = 0;
	r = vmm_check_vcpu_count(kv->option, key, n, v, err);
	if (r < 0)
		return r;
	*ret = (uint32_t)n;
	return 0;
}

static int cli_parse_cpus(struct vmm_config *cfg, const char *opt, const char *value,
			  struct error *err)
{
	uint32_t boot = cfg->boot_vcpus, max = 0;
	char echo[KV_ECHO_MAX];
	uint64_t dummy;
	struct kv kv;
	int r;

	/* Other VMMs take "--cpus 2"; say what cloud-hypervisor wants instead. */
	if (kv_parse_uint(value, UINT64_MAX, &dummy) == 0)
		return error_set(err, -EINVAL, "%s: write boot=%s, not a bare number", opt,
				 kv_echo(value, echo));

	r = kv_parse(opt, value, cpus_keys, ARRAY_SIZE(cpus_keys), &kv, err);
	if (r < 0)
		return r;
	r = cli_parse_vcpu_count(&kv, "boot", &boot, err);
	if (r >= 0)
		r = cli_parse_vcpu_count(&kv, "max", &max, err);
	kv_free(&kv);
	if (r < 0)
		return r;

	if (max == 0)
		max = boot;
	r = vmm_check_vcpus(opt, boot, max, err);
	if (r < 0)
		return r;
	cfg->boot_vcpus = boot;
	cfg->max_vcpus = max;
	return 0;
}

static const struct kv_key memory_keys[] = {
	{ "size", 0 },
	{ "shared", 0 },
	{ "file", KV_UNSUPPORTED },
	{ "mergeable", KV_UNSUPPORTED },
	{ "hotplug_method", KV_UNSUPPORTED },
	{ "hotplug_size", KV_UNSUPPORTED },
	{ "hotplugged_size", KV_UNSUPPORTED },
	{ "hugepages", KV_UNSUPPORTED },
	{ "hugepage_size", KV_UNSUPPORTED },
	{ "prefault", KV_UNSUPPORTED },
	{ "reserve", KV_UNSUPPORTED },
	{ "thp", KV_UNSUPPORTED },
};

static int cli_parse_memory(struct vmm_config *cfg, const char *opt, const char *value,
			    struct error *err)
{
	uint64_t size = cfg->memory_size, bare;
	bool shared = cfg->memory_shared;
	char echo[KV_ECHO_MAX];
	const char *v;
	struct kv kv;
	int r;

	/* "--memory 1G" is the obvious guess; cloud-hypervisor wants size=1G. */
	if (vmm_parse_size(value, &bare) == 0)
		return error_set(err, -EINVAL, "%s: write size=%s, not a bare size", opt,
				 kv_echo(value, echo));

	r = kv_parse(opt, value, memory_keys, ARRAY_SIZE(memory_keys), &kv, err);
	if (r < 0)
		return r;
	r = kv_get_toggle(&kv, "shared", &shared, err);
	if (r < 0)
		goto free_kv;

	v = kv_get(&kv, "size");
	if (!v)
		goto free_kv;
	if (vmm_parse_size(v, &size) < 0) {
		r = error_set(err, -EINVAL,
			      "%s: invalid size '%s' (expected a positive number with an optional K, M or G suffix)",
			      opt, kv_echo(v, echo));
		goto free_kv;
	}
	r = vmm_check_memory_size(opt, size, v, err);
free_kv:
	kv_free(&kv);
	if (r < 0)
		return r;
	cfg->memory_size = size;
	cfg->memory_shared = shared;
	return 0;
}

/*
 * --serial and --console share cloud-hypervisor's syntax: one mode word, or
 * file=/socket= with a path. "iommu" only exists for the virtio console.
 */
static const struct kv_key serial_keys[] = {
	{ "off", KV_VALUELESS }, { "null", KV_VALUELESS }, { "tty", KV_VALUELESS },
	{ "pty", KV_VALUELESS }, { "file", 0 },		   { "socket", 0 },
};

static const struct kv_key console_keys[] = {
	{ "off", KV_VALUELESS }, { "null", KV_VALUELESS }, { "tty", KV_VALUELESS },
	{ "pty", KV_VALUELESS }, { "file", 0 },		   { "socket", 0 },
	{ "iommu", 0 }, /* off only */
};

static const struct {
	const char *key;
	enum vmm_output_mode mode;
} output_modes[] = {
	{ "off", VMM_OUTPUT_OFF },   { "null", VMM_OUTPUT_NULL }, { "tty", VMM_OUTPUT_TTY },
	{ "pty", VMM_OUTPUT_PTY },   { "file", VMM_OUTPUT_FILE }, { "socket", VMM_OUTPUT_SOCKET },
};

static int cli_parse_output(const char *opt, const char *value, const struct kv_key *keys,
			    size_t n_keys, struct vmm_output *ret, struct error *err)
{
	struct vmm_output out = { .mode = VMM_OUTPUT_OFF };
	const char *path = NULL;
	size_t n_modes = 0;
	struct kv kv;
	int r;

	r = kv_parse(opt, value, keys, n_keys, &kv, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(output_modes); i++) {
		const char *v = kv_get(&kv, output_modes[i].key);

		if (!v)
			continue;
		n_modes++;
		out.mode = output_modes[i].mode;
		path = v;
	}
	if (n_modes != 1) {
		r = error_set(err, -EINVAL,
			      "%s: give exactly one of off, null, tty, pty, file=PATH, socket=PATH",
			      opt);
		goto free_kv;
	}
	if (out.mode == VMM_OUTPUT_FILE || out.mode == VMM_OUTPUT_SOCKET) {
		if (path[0] == '\0') {
			r = error_set(err, -EINVAL, "%s: %s= needs a path", opt,
				      out.mode == VMM_OUTPUT_FILE ? "file" : "socket");
			goto free_kv;
		}
		out.file = strdup(path);
		if (!out.file) {
			r = error_set(err, -ENOMEM, "%s: out of memory", opt);
			goto free_kv;
		}
	}
	*ret = out;
free_kv:
	kv_free(&kv);
	return r;
}

static void cli_set_output(struct vmm_output *field, struct vmm_output *out)
{
	free(field->file);
	*field = *out;
	out->file = NULL;
}

static int cli_parse_serial(struct vmm_config *cfg, const char *opt, const char *value,
			    struct error *err)
{
	struct vmm_output out;
	int r;

	r = cli_parse_output(opt, value, serial_keys, ARRAY_SIZE(serial_keys), &out, err);
	if (r < 0)
		return r;
	r = vmm_check_serial_mode(opt, out.mode, err);
	if (r < 0) {
		free(out.file);
		return r;
	}
	cli_set_output(&cfg->serial, &out);
	return 0;
}

static int cli_parse_console(struct vmm_config *cfg, const char *opt, const char *value,
			     struct error *err)
{
	struct vmm_output out;
	struct kv kv;
	int r;

	/* iommu=off is cloud-hypervisor's default, and generated command lines say it. */
	r = kv_parse(opt, value, console_keys, ARRAY_SIZE(console_keys), &kv, err);
	if (r < 0)
		return r;
	r = kv_check_toggle(&kv, "iommu", false, err);
	kv_free(&kv);
	if (r < 0)
		return r;

	r = cli_parse_output(opt, value, console_keys, ARRAY_SIZE(console_keys), &out, err);
	if (r < 0)
		return r;
	r = vmm_check_console_mode(opt, out.mode, err);
	if (r < 0) {
		free(out.file);
		return r;
	}
	cli_set_output(&cfg->console, &out);
	return 0;
}

/* cloud-hypervisor's --api-socket: "path=PATH", "fd=N", or a bare path. */
static const struct kv_key api_socket_keys[] = {
	{ "path", 0 },
	{ "fd", KV_UNSUPPORTED },
};

static int cli_parse_api_socket(struct vmm_config *cfg, const char *opt, const char *value,
				struct error *err)
{
	const char *path = value;
	struct kv kv = { 0 };
	int r;

	/* A bare value is the path, as cloud-hypervisor takes it. */
	if (strchr(value, '=')) {
		r = kv_parse(opt, value, api_socket_keys, ARRAY_SIZE(api_socket_keys), &kv, err);
		if (r < 0)
			return r;
		path = kv_get(&kv, "path");
		if (!path)
			path = "";
	}
	r = cli_set_path(&cfg->api_socket, opt, path, err);
	kv_free(&kv);
	return r;
}

static int cli_parse_verbose(struct vmm_config *cfg, const char *opt, const char *value,
			     struct error *err)
{
	cfg->verbosity++;
	return 0;
}

static int cli_parse_help(struct vmm_config *cfg, const char *opt, const char *value,
			  struct error *err)
{
	cfg->show_help = true;
	return 0;
}

static int cli_parse_version(struct vmm_config *cfg, const char *opt, const char *value,
			     struct error *err)
{
	cfg->show_version = true;
	return 0;
}

/* Implemented options first (alphabetical, as cloud-hypervisor's --help), then the rest. */
static const struct cli_option cli_options[] = {
	{ "--api-socket", 0, "<api-socket>", 0, cli_parse_api_socket,
	  "HTTP API socket (UNIX domain socket): path=</path/to/a/file> or a bare path. Without --kernel, the VM is created through the API (vm.create)",
	  NULL },
	{ "--cmdline", 0, "<cmdline>", CLI_VM, cli_parse_cmdline, "Kernel command line", NULL },
	{ "--console", 0, "<console>", CLI_VM, cli_parse_console,
	  "Control (virtio) console: off|null|pty|tty|file=</path/to/a/file> (cloud-hypervisor's default is tty; nacelle's is off so that it never competes with --serial tty)",
	  "off" },
	{ "--cpus", 0, "<cpus>", CLI_VM, cli_parse_cpus,
	  "boot=<boot_vcpus>,max=<max_vcpus> (max must equal boot: no CPU hotplug yet)",
	  "boot=1" },
	{ "--disk", 0, "<disk>...", CLI_REPEATABLE | CLI_MULTIPLE_VALUES | CLI_VM, cli_parse_disk,
	  "Disk parameters \"path=<disk_image_path>,readonly=on|off,direct=on|off,num_queues=<number_of_queues>,queue_size=<size_of_each_queue>,id=<device_id>,serial=<serial_number>\" (up to 16 disks; num_queues 1-16, default 1; queue_size a power of two up to 32768, default 128; serial up to 20 bytes)",
	  NULL },
	{ "--fs", 0, "<fs>...", CLI_REPEATABLE | CLI_MULTIPLE_VALUES | CLI_VM, cli_parse_fs,
	  "virtio-fs parameters \"tag=<tag_name>,socket=<socket_path>,num_queues=<number_of_queues>,queue_size=<size_of_each_queue>,id=<device_id>\" (a vhost-user backend such as virtiofsd; up to 8; tag up to 36 bytes; num_queues 1; queue_size a power of two, default 1024; needs --memory shared=on)",
	  NULL },
	{ "--help", 'h', NULL, CLI_REPEATABLE | CLI_STOPS, cli_parse_help, "Print help", NULL },
	{ "--initramfs", 0, "<initramfs>", CLI_VM, cli_parse_initramfs, "Path to initramfs image",
	  NULL },
	{ "--kernel", 0, "<kernel>", 0, cli_parse_kernel,
	  "Path to kernel to load: a vmlinux with a PVH entry point, or a bzImage", NULL },
	{ "--log-file", 0, "<log-file>", 0, cli_parse_log_file,
	  "Log file. Standard error is used if not specified", NULL },
	{ "--memory", 0, "<memory>", CLI_VM, cli_parse_memory,
	  "Memory parameters \"size=<guest_memory_size>,shared=on|off\" (32M to 1024G, a multiple of 4K)",
	  "size=512M" },
	{ "--net", 0, "<net>...", CLI_REPEATABLE | CLI_MULTIPLE_VALUES | CLI_VM, cli_parse_net,
	  "Network parameters \"tap=<if_name>,ip=<ip_addr>,mask=<net_mask>,mac=<mac_addr>,num_queues=<number_of_queues>,queue_size=<size_of_each_queue>,id=<device_id>\" (up to 8; tap: the kernel names one if absent; mac: random if absent; ip: the host side gets no address if absent, mask defaults to 255.255.255.0; num_queues even, 2-16, default 2; queue_size a power of two up to 32768, default 256)",
	  NULL },
	{ "--rng", 0, "[<rng>]", CLI_OPTIONAL_VALUE | CLI_VM, cli_parse_rng,
	  "Random number generator parameters \"src=<entropy_source_path>\" (no rng device unless given; a bare --rng uses src=/dev/urandom)",
	  NULL },
	{ "--serial", 0, "<serial>", CLI_VM, cli_parse_serial,
	  "Control serial port: off|null|tty|file=</path/to/a/file>", "null" },
	{ NULL, 'v', NULL, CLI_REPEATABLE, cli_parse_verbose,
	  "Sets the level of debugging output (-v, -vv, -vvv)", NULL },
	{ "--version", 'V', NULL, CLI_REPEATABLE | CLI_STOPS, cli_parse_version, "Print version",
	  NULL },
	{ "--vsock", 0, "<vsock>", CLI_VM, cli_parse_vsock,
	  "Virtio VSOCK parameters \"cid=<context_id>,socket=<socket_path>,id=<device_id>\" (hybrid vsock: cid 3 to 4294967294; guest connections to port P go to <socket_path>_P)",
	  NULL },

	/* cloud-hypervisor options nacelle does not implement yet. */
	{ "--balloon", 0, "<balloon>", 0, NULL, NULL, NULL },
	{ "--dbus-object-path", 0, "<dbus-object-path>", 0, NULL, NULL, NULL },
	{ "--dbus-service-name", 0, "<dbus-service-name>", 0, NULL, NULL, NULL },
	{ "--dbus-system-bus", 0, NULL, 0, NULL, NULL, NULL },
	{ "--debug-console", 0, "<debug-console>", 0, NULL, NULL, NULL },
	{ "--device", 0, "<device>", 0, NULL, NULL, NULL },
	{ "--event-monitor", 0, "<event-monitor>", 0, NULL, NULL, NULL },
	{ "--firmware", 0, "<firmware>", 0, NULL, NULL, NULL },
	{ "--fw-cfg-config", 0, "<fw-cfg-config>", 0, NULL, NULL, NULL },
	{ "--gdb", 0, "<gdb>", 0, NULL, NULL, NULL },
	{ "--generic-vhost-user", 0, "<generic-vhost-user>", 0, NULL, NULL, NULL },
	{ "--host-data", 0, "<host-data>", 0, NULL, NULL, NULL },
	{ "--igvm", 0, "<igvm>", 0, NULL, NULL, NULL },
	{ "--ivshmem", 0, "<ivshmem>", 0, NULL, NULL, NULL },
	{ "--landlock", 0, NULL, 0, NULL, NULL, NULL },
	{ "--landlock-rules", 0, "<landlock-rules>", 0, NULL, NULL, NULL },
	{ "--memory-zone", 0, "<memory-zone>", 0, NULL, NULL, NULL },
	{ "--no-shutdown", 0, NULL, 0, NULL, NULL, NULL },
	{ "--numa", 0, "<numa>", 0, NULL, NULL, NULL },
	{ "--pci-segment", 0, "<pci-segment>", 0, NULL, NULL, NULL },
	{ "--platform", 0, "<platform>", 0, NULL, NULL, NULL },
	{ "--pmem", 0, "<pmem>", 0, NULL, NULL, NULL },
	{ "--pvmemcontrol", 0, NULL, 0, NULL, NULL, NULL },
	{ "--pvpanic", 0, NULL, 0, NULL, NULL, NULL },
	{ "--rate-limit-group", 0, "<rate-limit-group>", 0, NULL, NULL, NULL },
	{ "--restore", 0, "<restore>", 0, NULL, NULL, NULL },
	{ "--seccomp", 0, "<seccomp>", 0, NULL, NULL, NULL },
	{ "--sgx-epc", 0, "<sgx-epc>", 0, NULL, NULL, NULL },
	{ "--tpm", 0, "<tpm>", 0, NULL, NULL, NULL },
	{ "--user-device", 0, "<user-device>", 0, NULL, NULL, NULL },
	{ "--vdpa", 0, "<vdpa>", 0, NULL, NULL, NULL },
	{ "--watchdog", 0, NULL, 0, NULL, NULL, NULL },
};

static const struct cli_option *cli_find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(cli_options); i++) {
		const char *n = cli_options[i].name;

		if (n && strlen(n) == len && strncmp(n, name, len) == 0)
			return &cli_options[i];
	}
	return NULL;
}

static const struct cli_option *cli_find_short(char c)
{
	for (size_t i = 0; i < ARRAY_SIZE(cli_options); i++)
		if (cli_options[i].short_name == c)
			return &cli_options[i];
	return NULL;
}

/* clap's rule: a separate argument starting with '-' is an option, not a value. */
static bool cli_is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0';
}

/*
 * Run one option: `inline_value` is what followed '=', or NULL; a value may
 * otherwise come from the next argument (*i is advanced past it).
 */
static int cli_apply(const struct cli_option *opt, const char *display, const char *inline_value,
		     int argc, char *const argv[], int *i, struct vmm_config *cfg, bool *seen,
		     struct error *err)
{
	const char *value = inline_value;
	int r;

	/* Before looking for a value: "--fs x" and "--fs" both get the same answer. */
	if (!opt->parse)
		return error_set(err, -ENOSYS, "%s is not implemented yet", display);

	if (opt->value_name && !value) {
		bool next_is_value = *i + 1 < argc && !cli_is_option(argv[*i + 1]);

		if (next_is_value)
			value = argv[++*i];
		else if (opt->flags & CLI_OPTIONAL_VALUE)
			value = "";
		else if (*i + 1 >= argc)
			return error_set(err, -EINVAL, "%s needs a value", display);
		else
			return error_set(err, -EINVAL,
					 "%s needs a value (write %s=VALUE if it starts with '-')",
					 display, display);
	} else if (!opt->value_name && value) {
		return error_set(err, -EINVAL, "%s takes no value", display);
	}

	if (seen[opt - cli_options] && !(opt->flags & CLI_REPEATABLE))
		return error_set(err, -EINVAL, "%s given more than once", display);
	seen[opt - cli_options] = true;
	r = opt->parse(cfg, display, value, err);
	if (!(opt->flags & CLI_MULTIPLE_VALUES) || inline_value)
		return r;
	while (r >= 0 && *i + 1 < argc && !cli_is_option(argv[*i + 1]))
		r = opt->parse(cfg, display, argv[++*i], err);
	return r;
}

/* Checks across options, once all are read. */
static int cli_validate(const struct vmm_config *cfg, const bool *seen, struct error *err)
{
	/*
	 * Without a payload there is nothing to boot, unless the VM is to come
	 * from the REST API's vm.create (as cloud-hypervisor does). The VM's
	 * options then have nowhere to go: say so rather than drop them.
	 */
	if (!cfg->kernel && !cfg->api_socket)
		return error_set(err, -EINVAL,
				 "--kernel is required (or --api-socket, to create the VM through the REST API)");
	if (!cfg->kernel) {
		for (size_t i = 0; i < ARRAY_SIZE(cli_options); i++)
			if (seen[i] && (cli_options[i].flags & CLI_VM))
				return error_set(err, -EINVAL,
						 "%s needs --kernel (without one, the VM comes whole from the REST API's vm.create)",
						 cli_options[i].name);
	}
	return vmm_check_config(cfg, VMM_SOURCE_CLI, err);
}

int vmm_cli_parse(int argc, char *const argv[], struct vmm_config *cfg, struct error *err)
{
	bool seen[ARRAY_SIZE(cli_options)] = { false };
	char echo[KV_ECHO_MAX];
	struct vmm_config new;
	int r = 0;

	vmm_config_init(&new);
	for (int i = 1; i < argc && r >= 0; i++) {
		const char *arg = argv[i];
		const struct cli_option *opt;

		if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
			const char *eq = strchr(arg, '=');
			size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
			char display[KV_ECHO_MAX];

			snprintf(display, sizeof(display), "%.*s", (int)MIN(len, sizeof(display) - 1),
				 arg);
			opt = cli_find_long(arg, len);
			if (!opt) {
				r = error_set(err, -EINVAL, "unknown option '%s' (see --help)",
					      kv_echo(display, echo));
				break;
			}
			r = cli_apply(opt, display, eq ? eq + 1 : NULL, argc, argv, &i, &new, seen,
				      err);
		} else if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-') {
			/* -v, -vv, -vvv; -h; -V. */
			size_t n = strspn(arg + 1, "v");
			char display[3] = { '-', arg[1], '\0' };

			opt = NULL;
			if (arg[1 + n] == '\0' || arg[2] == '\0')
				opt = cli_find_short(arg[1]);
			if (!opt) {
				r = error_set(err, -EINVAL, "unknown option '%s' (see --help)",
					      kv_echo(arg, echo));
				break;
			}
			for (size_t k = 0; k < MAX(n, (size_t)1) && r >= 0; k++)
				r = cli_apply(opt, display, NULL, argc, argv, &i, &new, seen, err);
		} else {
			r = error_set(err, -EINVAL,
				      "unexpected argument '%s' (nacelle-vmm takes only options; see --help)",
				      kv_echo(arg, echo));
			break;
		}
		if (r >= 0 && (opt->flags & CLI_STOPS))
			break;
	}
	if (r >= 0 && !new.show_help && !new.show_version)
		r = cli_validate(&new, seen, err);
	if (r < 0) {
		vmm_config_free(&new);
		return r;
	}
	*cfg = new;
	return 0;
}

/* "  -h, --help" or "      --kernel <kernel>", as clap lays them out. */
static int cli_format_left(const struct cli_option *opt, char *buf, size_t size)
{
	char s[8] = "";

	if (opt->short_name)
		snprintf(s, sizeof(s), "-%c%s", opt->short_name, opt->name ? ", " : "");
	return snprintf(buf, size, "  %-4s%s%s%s", s, opt->name ? opt->name : "",
			opt->value_name ? " " : "", opt->value_name ? opt->value_name : "");
}

void vmm_cli_usage(FILE *out)
{
	const size_t wrap = 80;
	char left[64];
	int width = 0;
	size_t col;

	for (size_t i = 0; i < ARRAY_SIZE(cli_options); i++)
		if (cli_options[i].parse)
			width = MAX(width, cli_format_left(&cli_options[i], left, sizeof(left)));

	fprintf(out, "Launch a nacelle VMM (command-line compatible with cloud-hypervisor).\n\n"
		     "Usage: nacelle-vmm --kernel <kernel> [OPTIONS]\n"
		     "       nacelle-vmm --api-socket <api-socket> [--log-file <log-file>] [-v]...\n\n"
		     "Options:\n");
	for (size_t i = 0; i < ARRAY_SIZE(cli_options); i++) {
		const struct cli_option *opt = &cli_options[i];

		if (!opt->parse)
			continue;
		cli_format_left(opt, left, sizeof(left));
		fprintf(out, "%-*s  %s", width, left, opt->help);
		if (opt->default_value)
			fprintf(out, " [default: %s]", opt->default_value);
		fputc('\n', out);
	}

	fprintf(out, "\nAccepted from cloud-hypervisor's command line but not implemented yet\n"
		     "(nacelle-vmm stops with an error if given one):\n ");
	col = 1;
	for (size_t i = 0; i < ARRAY_SIZE(cli_options); i++) {
		const char *name = cli_options[i].name;

		if (cli_options[i].parse)
			continue;
		if (col + strlen(name) + 2 > wrap) {
			fputs("\n ", out);
			col = 1;
		}
		col += (size_t)fprintf(out, " %s", name);
	}

	fprintf(out,
		"\n\nExit status:\n"
		"  %d  the guest powered off; or SIGTERM/SIGINT, after a clean teardown; or --help/--version\n"
		"  %d  error: bad command line, the VM could not start, or it failed while running\n"
		"  %d  the guest asked for a reboot: nacelle-vmm exits and its supervisor restarts it\n",
		VMM_EXIT_OK, VMM_EXIT_ERROR, VMM_EXIT_REBOOT);
}
