/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VmConfig JSON: a full config survives config -> JSON -> config (from JSON
 * and from the command line), cloud-hypervisor's defaults for what nacelle
 * lacks are accepted, and every refusal has its code and names its field.
 * Also the reply bodies (ping, info, counters, error).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "common/test.h"
#include "vmm/api.h"

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || streq(a, b);
}

/* Field by field; prints the first difference. */
static bool config_equal(const struct vmm_config *a, const struct vmm_config *b)
{
#define SAME(cond)                                                             \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  differs: %s\n", #cond);             \
			return false;                                          \
		}                                                              \
	} while (0)
	SAME(str_same(a->kernel, b->kernel) && str_same(a->initramfs, b->initramfs));
	SAME(str_same(a->cmdline, b->cmdline));
	SAME(a->boot_vcpus == b->boot_vcpus && a->max_vcpus == b->max_vcpus);
	SAME(a->memory_size == b->memory_size && a->memory_shared == b->memory_shared);
	SAME(a->serial.mode == b->serial.mode && str_same(a->serial.file, b->serial.file));
	SAME(a->console.mode == b->console.mode && str_same(a->console.file, b->console.file));
	SAME(a->nr_disks == b->nr_disks);
	for (unsigned int i = 0; i < a->nr_disks; i++) {
		const struct vmm_disk_config *x = &a->disks[i], *y = &b->disks[i];

		SAME(str_same(x->path, y->path) && x->readonly == y->readonly);
		SAME(x->direct == y->direct && x->num_queues == y->num_queues);
		SAME(x->queue_size == y->queue_size && str_same(x->id, y->id));
		SAME(str_same(x->serial, y->serial));
	}
	SAME(a->nr_nets == b->nr_nets);
	for (unsigned int i = 0; i < a->nr_nets; i++) {
		const struct vmm_net_config *x = &a->nets[i], *y = &b->nets[i];

		SAME(str_same(x->tap, y->tap) && x->mac_set == y->mac_set);
		SAME(!x->mac_set || memcmp(x->mac, y->mac, 6) == 0);
		SAME(str_same(x->ip, y->ip) && str_same(x->mask, y->mask));
		SAME(x->num_queues == y->num_queues && x->queue_size == y->queue_size);
		SAME(str_same(x->id, y->id));
	}
	SAME(a->rng.enabled == b->rng.enabled && str_same(a->rng.src, b->rng.src));
	SAME(a->nr_fs == b->nr_fs);
	for (unsigned int i = 0; i < a->nr_fs; i++) {
		const struct vmm_fs_config *x = &a->fs[i], *y = &b->fs[i];

		SAME(str_same(x->tag, y->tag) && str_same(x->socket, y->socket));
		SAME(x->num_queues == y->num_queues && x->queue_size == y->queue_size);
		SAME(str_same(x->id, y->id));
	}
	SAME(a->vsock.enabled == b->vsock.enabled && a->vsock.cid == b->vsock.cid);
	SAME(str_same(a->vsock.socket, b->vsock.socket) && str_same(a->vsock.id, b->vsock.id));
	return true;
#undef SAME
}

static int parse(const char *json, struct vmm_config *cfg, struct error *err)
{
	error_clear(err);
	return vmm_config_from_json(json, strlen(json), cfg, err);
}

static const char full_json[] =
	"{\"payload\": {\"kernel\": \"/boot/vmlinuz\", \"initramfs\": \"/boot/initrd\","
	" \"cmdline\": \"console=ttyS0 quiet\"},"
	" \"cpus\": {\"boot_vcpus\": 4, \"max_vcpus\": 4},"
	" \"memory\": {\"size\": 2147483648, \"shared\": true},"
	" \"disks\": [{\"path\": \"/img/root.raw\", \"readonly\": true, \"direct\": true,"
	"   \"num_queues\": 4, \"queue_size\": 256, \"id\": \"root\", \"serial\": \"SN-1\"},"
	"  {\"path\": \"/img/data.raw\"}],"
	" \"net\": [{\"tap\": \"tap0\", \"mac\": \"52:54:00:12:34:56\", \"ip\": \"192.168.249.1\","
	"   \"mask\": \"255.255.255.0\", \"num_queues\": 4, \"queue_size\": 1024, \"id\": \"net0\"},"
	"  {}],"
	" \"rng\": {\"src\": \"/dev/hwrng\"},"
	" \"serial\": {\"mode\": \"File\", \"file\": \"/tmp/serial.log\"},"
	" \"console\": {\"mode\": \"Off\"},"
	" \"fs\": [{\"tag\": \"rootfs\", \"socket\": \"/run/fs.sock\", \"num_queues\": 1,"
	"   \"queue_size\": 512, \"id\": \"fs0\"}],"
	" \"vsock\": {\"cid\": 3, \"socket\": \"/run/vsock.sock\", \"id\": \"vsock0\"}}";

static void test_full(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct vmm_config a, b, c;
	struct error err;
	char *json, *json2;

	if (parse(full_json, &a, &err) != 0) {
		CHECK(!"full config parses");
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK(streq(a.kernel, "/boot/vmlinuz") && streq(a.initramfs, "/boot/initrd"));
	CHECK(streq(a.cmdline, "console=ttyS0 quiet"));
	CHECK(a.boot_vcpus == 4 && a.max_vcpus == 4);
	CHECK(a.memory_size == 2 * GiB && a.memory_shared);
	CHECK(a.nr_disks == 2 && streq(a.disks[0].path, "/img/root.raw"));
	CHECK(a.disks[0].readonly && a.disks[0].direct && a.disks[0].num_queues == 4);
	CHECK(a.disks[0].queue_size == 256 && streq(a.disks[0].id, "root"));
	CHECK(streq(a.disks[0].serial, "SN-1"));
	CHECK(!a.disks[1].readonly && a.disks[1].num_queues == 1 && a.disks[1].queue_size == 128);
	CHECK(!a.disks[1].id && !a.disks[1].serial);
	CHECK(a.nr_nets == 2 && streq(a.nets[0].tap, "tap0"));
	CHECK(a.nets[0].mac_set && memcmp(a.nets[0].mac, mac, 6) == 0);
	CHECK(streq(a.nets[0].ip, "192.168.249.1") && streq(a.nets[0].mask, "255.255.255.0"));
	CHECK(a.nets[0].num_queues == 4 && a.nets[0].queue_size == 1024);
	CHECK(!a.nets[1].tap && !a.nets[1].mac_set && !a.nets[1].ip && a.nets[1].num_queues == 2);
	CHECK(a.nets[1].queue_size == 256);
	CHECK(a.rng.enabled && streq(a.rng.src, "/dev/hwrng"));
	CHECK(a.serial.mode == VMM_OUTPUT_FILE && streq(a.serial.file, "/tmp/serial.log"));
	CHECK(a.console.mode == VMM_OUTPUT_OFF && !a.console.file);
	CHECK(a.nr_fs == 1 && streq(a.fs[0].tag, "rootfs") && streq(a.fs[0].socket, "/run/fs.sock"));
	CHECK(a.fs[0].num_queues == 1 && a.fs[0].queue_size == 512 && streq(a.fs[0].id, "fs0"));
	CHECK(a.vsock.enabled && a.vsock.cid == 3 && streq(a.vsock.socket, "/run/vsock.sock"));
	CHECK(streq(a.vsock.id, "vsock0"));

	/* config -> JSON -> config, twice: the same config and the same text. */
	json = vmm_config_to_json(&a);
	CHECK(json != NULL);
	if (!json)
		goto free_a;
	if (parse(json, &b, &err) != 0) {
		CHECK(!"generated JSON parses");
		fprintf(stderr, "  %s\n  %s\n", err.msg, json);
		free(json);
		goto free_a;
	}
	CHECK(config_equal(&a, &b));
	json2 = vmm_config_to_json(&b);
	CHECK(json2 && streq(json, json2));
	if (getenv("JSON_TEST_VERBOSE"))
		printf("%s\n", json);
	free(json2);
	free(json);

	/* The command line's config of the same VM round-trips as well. */
	{
		const char *argv[] = {
			"nacelle-vmm", "--kernel", "/boot/vmlinuz", "--initramfs", "/boot/initrd",
			"--cmdline", "console=ttyS0 quiet", "--cpus", "boot=4", "--memory",
			"size=2G,shared=on", "--disk",
			"path=/img/root.raw,readonly=on,direct=on,num_queues=4,queue_size=256,id=root,serial=SN-1",
			"path=/img/data.raw", "--net",
			"tap=tap0,mac=52:54:00:12:34:56,ip=192.168.249.1,num_queues=4,queue_size=1024,id=net0",
			"", "--rng", "src=/dev/hwrng", "--serial", "file=/tmp/serial.log", "--fs",
			"tag=rootfs,socket=/run/fs.sock,queue_size=512,id=fs0", "--vsock",
			"cid=3,socket=/run/vsock.sock,id=vsock0", "--console", "off", NULL,
		};
		int argc = (int)ARRAY_SIZE(argv) - 1;

		vmm_config_init(&c);
		if (vmm_cli_parse(argc, (char *const *)argv, &c, &err) != 0) {
			CHECK(!"cli parses");
			fprintf(stderr, "  %s\n", err.msg);
		} else {
			CHECK(config_equal(&a, &c));
			json = vmm_config_to_json(&c);
			vmm_config_free(&c);
			CHECK(json && parse(json, &c, &err) == 0 && config_equal(&a, &c));
			vmm_config_free(&c);
			free(json);
		}
	}
	vmm_config_free(&b);
free_a:
	vmm_config_free(&a);
}

static void test_minimal(void)
{
	struct vmm_config c;
	struct error err;
	char *json;

	if (parse("{\"payload\":{\"kernel\":\"/k\"}}", &c, &err) != 0) {
		CHECK(!"minimal parses");
		return;
	}
	CHECK(streq(c.kernel, "/k") && !c.initramfs && !c.cmdline);
	CHECK(c.boot_vcpus == 1 && c.max_vcpus == 1 && c.memory_size == 512 * MiB);
	CHECK(!c.memory_shared && c.serial.mode == VMM_OUTPUT_NULL);
	CHECK(c.console.mode == VMM_OUTPUT_OFF && c.nr_disks == 0 && c.nr_nets == 0);
	CHECK(!c.rng.enabled && c.nr_fs == 0 && !c.vsock.enabled && !c.api_socket);
	json = vmm_config_to_json(&c);
	CHECK(json && strstr(json, "\"size\":536870912") && strstr(json, "\"mode\":\"Null\""));
	free(json);
	vmm_config_free(&c);

	/* null is absent; max defaults to boot; an empty rng object is /dev/urandom. */
	if (parse("{\"payload\":{\"kernel\":\"/k\",\"initramfs\":null},\"cpus\":{\"boot_vcpus\":3},"
		  "\"memory\":null,\"disks\":null,\"rng\":{},\"net\":[{\"tap\":\"\"}]}",
		  &c, &err) == 0) {
		CHECK(c.boot_vcpus == 3 && c.max_vcpus == 3 && !c.initramfs);
		CHECK(c.rng.enabled && streq(c.rng.src, "/dev/urandom"));
		CHECK(c.nr_nets == 1 && !c.nets[0].tap);
		vmm_config_free(&c);
	} else {
		CHECK(!"nulls parse");
		fprintf(stderr, "  %s\n", err.msg);
	}
}

/* A config as cloud-hypervisor's vm.info shows it: every default spelled out. */
static void test_cloud_hypervisor_defaults(void)
{
	static const char json[] =
		"{\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1,\"topology\":null,\"kvm_hyperv\":false,"
		"\"max_phys_bits\":46,\"affinity\":null,\"features\":{\"amx\":false},\"nested\":true},"
		"\"memory\":{\"size\":536870912,\"mergeable\":false,\"hotplug_method\":\"Acpi\","
		"\"hotplug_size\":null,\"hotplugged_size\":null,\"shared\":false,\"hugepages\":false,"
		"\"hugepage_size\":null,\"prefault\":false,\"zones\":null,\"thp\":true},"
		"\"payload\":{\"firmware\":null,\"kernel\":\"/k\",\"cmdline\":\"console=ttyS0\","
		"\"initramfs\":null},"
		"\"rate_limit_groups\":null,"
		"\"disks\":[{\"path\":\"/d\",\"readonly\":false,\"direct\":false,\"iommu\":false,"
		"\"num_queues\":1,\"queue_size\":128,\"vhost_user\":false,\"vhost_socket\":null,"
		"\"rate_limit_group\":null,\"rate_limiter_config\":null,\"id\":\"_disk0\","
		"\"disable_io_uring\":false,\"disable_aio\":false,\"pci_segment\":0,\"serial\":null,"
		"\"queue_affinity\":null}],"
		"\"net\":[{\"tap\":null,\"ip\":\"192.168.249.1\",\"mask\":\"255.255.255.0\","
		"\"mac\":\"12:34:56:78:90:ab\",\"host_mac\":null,\"mtu\":null,\"iommu\":false,"
		"\"num_queues\":2,\"queue_size\":256,\"vhost_user\":false,\"vhost_socket\":null,"
		"\"vhost_mode\":\"Client\",\"id\":null,\"fds\":null,\"rate_limiter_config\":null,"
		"\"pci_segment\":0,\"offload_tso\":true,\"offload_ufo\":true,\"offload_csum\":true}],"
		"\"rng\":{\"src\":\"/dev/urandom\",\"iommu\":false},\"balloon\":null,\"fs\":null,"
		"\"pmem\":null,\"serial\":{\"file\":null,\"mode\":\"Null\",\"iommu\":null,"
		"\"socket\":null},"
		"\"console\":{\"file\":null,\"mode\":\"Tty\",\"iommu\":false,\"socket\":null},"
		"\"debug_console\":{\"file\":null,\"mode\":\"Off\",\"iobase\":233},"
		"\"devices\":null,\"user_devices\":null,\"vdpa\":null,\"vsock\":null,"
		"\"pvpanic\":false,\"iommu\":false,\"sgx_epc\":null,\"numa\":null,\"watchdog\":false,"
		"\"platform\":null,\"tpm\":null,\"preserved_fds\":null,\"landlock_enable\":false,"
		"\"landlock_rules\":null}";
	static const char iommu[] = "\"iommu\":null,";
	struct vmm_config c;
	struct error err;
	char *fixed, *p;
	int r;

	/* Ids starting with '_' are the VMM's own, here as on the command line. */
	r = parse(json, &c, &err);
	CHECK_EQ(r, -EINVAL);
	CHECK(strstr(err.msg, "disks[0]: id '_disk0' is reserved") != NULL);
	fixed = strdup(json);
	p = fixed ? strstr(fixed, "\"_disk0\"") : NULL;
	if (!p) {
		free(fixed);
		return;
	}
	memcpy(p, "\"xdisk0\"", 8);
	/* serial.iommu does not exist in cloud-hypervisor's SerialConfig: refused by name. */
	r = parse(fixed, &c, &err);
	CHECK_EQ(r, -EINVAL);
	CHECK(strstr(err.msg, "serial: unknown field 'iommu'") != NULL);
	p = strstr(fixed, iommu);
	if (p)
		memmove(p, p + strlen(iommu), strlen(p + strlen(iommu)) + 1);
	r = parse(fixed, &c, &err);
	CHECK_EQ(r, 0);
	if (r != 0) {
		fprintf(stderr, "  %s\n", err.msg);
	} else {
		CHECK(c.console.mode == VMM_OUTPUT_TTY && c.serial.mode == VMM_OUTPUT_NULL);
		CHECK(c.nr_nets == 1 && c.nets[0].mac_set && streq(c.nets[0].ip, "192.168.249.1"));
		CHECK(c.nr_disks == 1 && streq(c.disks[0].id, "xdisk0") && c.rng.enabled);
		CHECK(streq(c.cmdline, "console=ttyS0") && c.memory_size == 512 * MiB);
		vmm_config_free(&c);
	}
	free(fixed);
}

static void test_errors(void)
{
#define K "\"payload\":{\"kernel\":\"/k\"}"
	static const struct {
		const char *json;
		int code;
		const char *msg;
	} cases[] = {
		/* syntax */
		{ "", -EINVAL, "empty body" },
		{ "{", -EINVAL, "invalid JSON" },
		{ "{\"payload\":{\"kernel\":\"/k\"}} x", -EINVAL, "invalid JSON" },
		{ "{\"payload\":{\"kernel\":\"/k\"}}{}", -EINVAL, "invalid JSON" },
		{ "{'payload':1}", -EINVAL, "invalid JSON" },
		{ "{\"a\":\"\xff\"}", -EINVAL, "invalid JSON" },
		{ "{\"a\":\"x\ty\"}", -EINVAL, "invalid JSON" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		  -EINVAL, "nested deeper than 16" },
		{ "{\"payload\":{\"kernel\":\"/k\\u0000x\"}}", -EINVAL, "\\u0000" },
		{ "[]", -EINVAL, "VmConfig: expected an object" },
		{ "null", -EINVAL, "VmConfig: expected an object" },
		{ "\"x\"", -EINVAL, "VmConfig: expected an object" },
		{ "{}", -EINVAL, "payload.kernel is required" },
		/* unknown and repeated fields */
		{ "{" K ",\"bogus\":1}", -EINVAL, "VmConfig: unknown field 'bogus'" },
		{ "{" K ",\"cpus\":{\"boot_vcpu\":2}}", -EINVAL, "cpus: unknown field 'boot_vcpu'" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"pth\":1}]}", -EINVAL,
		  "disks[0]: unknown field 'pth'" },
		{ "{" K "," K "}", -EINVAL, "field 'payload' given more than once" },
		{ "{\"payload\":{\"kernel\":\"/k\",\"kernel\":\"/j\"}}", -EINVAL,
		  "payload: field 'kernel' given more than once" },
		/* types */
		{ "{\"payload\":{\"kernel\":1}}", -EINVAL, "payload.kernel: expected a string" },
		{ "{\"payload\":{\"kernel\":\"\"}}", -EINVAL, "payload.kernel: must not be empty" },
		{ "{\"payload\":{\"kernel\":\"/k\",\"initramfs\":\"\"}}", -EINVAL,
		  "payload.initramfs: must not be empty" },
		{ "{\"payload\":[]}", -EINVAL, "payload: expected an object" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":\"2\"}}", -EINVAL,
		  "cpus.boot_vcpus: expected a non-negative integer" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":2.0}}", -EINVAL, "non-negative integer" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":-1}}", -EINVAL, "non-negative integer" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":99999999999999999999}}", -EINVAL,
		  "non-negative integer" },
		{ "{" K ",\"memory\":{\"shared\":1}}", -EINVAL, "memory.shared: expected true or false" },
		{ "{" K ",\"disks\":{}}", -EINVAL, "disks: expected an array" },
		{ "{" K ",\"disks\":[1]}", -EINVAL, "disks[0]: expected an object" },
		/* cpus and memory: the command line's rules */
		{ "{" K ",\"cpus\":{\"boot_vcpus\":0}}", -EINVAL, "cpus: boot_vcpus must be between 1 and 254 (got '0')" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":255}}", -EINVAL, "between 1 and 254" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":4,\"max_vcpus\":2}}", -EINVAL,
		  "cpus: max (2) must not be less than boot (4)" },
		{ "{" K ",\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":4}}", -ENOSYS, "cpu hotplug" },
		{ "{" K ",\"memory\":{\"size\":16777216}}", -EINVAL, "memory: size '16777216' is out of range" },
		{ "{" K ",\"memory\":{\"size\":1099511631872}}", -EINVAL, "out of range" },
		{ "{" K ",\"memory\":{\"size\":33554433}}", -EINVAL, "not a multiple of 4K" },
		{ "{" K ",\"memory\":{\"size\":0}}", -EINVAL, "out of range" },
		{ "{\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"" /* 4096 bytes follow */, 0, NULL },
		/* lacking features: defaults fine (elsewhere), others named */
		{ "{" K ",\"iommu\":true}", -ENOSYS,
		  "iommu is not supported by nacelle yet (only the default, false, is accepted)" },
		{ "{" K ",\"balloon\":{\"size\":0}}", -ENOSYS, "balloon is not supported" },
		{ "{" K ",\"pmem\":[{\"file\":\"/p\"}]}", -ENOSYS, "pmem is not supported" },
		{ "{" K ",\"payload2\":1}", -EINVAL, "unknown field 'payload2'" },
		{ "{\"payload\":{\"kernel\":\"/k\",\"firmware\":\"/fw\"}}", -ENOSYS,
		  "payload.firmware is not supported" },
		{ "{" K ",\"memory\":{\"hugepages\":true}}", -ENOSYS, "memory.hugepages" },
		{ "{" K ",\"memory\":{\"hotplug_method\":\"VirtioMem\"}}", -ENOSYS,
		  "only the default, \"Acpi\"" },
		{ "{" K ",\"cpus\":{\"max_phys_bits\":40}}", -ENOSYS, "only the default, 46" },
		{ "{" K ",\"cpus\":{\"features\":{\"amx\":true}}}", -ENOSYS, "cpus.features.amx" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"iommu\":true}]}", -ENOSYS, "disks[0].iommu" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"pci_segment\":1}]}", -ENOSYS,
		  "disks[0].pci_segment" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"image_type\":\"Qcow2\"}]}", -ENOSYS,
		  "disks[0].image_type" },
		{ "{" K ",\"net\":[{\"vhost_user\":true}]}", -ENOSYS, "net[0].vhost_user" },
		{ "{" K ",\"net\":[{\"mtu\":9000}]}", -ENOSYS, "net[0].mtu" },
		{ "{" K ",\"devices\":[{\"path\":\"/sys/x\"}]}", -ENOSYS, "devices" },
		{ "{" K ",\"debug_console\":{\"mode\":\"Tty\"}}", -ENOSYS, "debug_console.mode" },
		{ "{" K ",\"rng\":{\"id\":\"r\"}}", -ENOSYS, "rng.id" },
		/* disks */
		{ "{" K ",\"disks\":[{}]}", -EINVAL, "disks[0]: path is required" },
		{ "{" K ",\"disks\":[{\"path\":\"\"}]}", -EINVAL, "disks[0].path: must not be empty" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"queue_size\":100}]}", -EINVAL,
		  "disks[0]: queue_size must be a power of two between 2 and 32768 (got '100')" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"queue_size\":65536}]}", -EINVAL, "queue_size" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"num_queues\":0}]}", -EINVAL,
		  "disks[0]: num_queues must be between 1 and 16" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"num_queues\":65537}]}", -EINVAL, "num_queues" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"serial\":\"ABCDEFGHIJKLMNOPQRSTU\"}]}", -EINVAL,
		  "disks[0]: serial must be 1 to 20 bytes" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"id\":\"\"}]}", -EINVAL, "id= needs a value" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"id\":\"x\"},{\"path\":\"/e\",\"id\":\"x\"}]}",
		  -EINVAL, "disks[1]: id 'x' is already used by disks[0]" },
		{ "{" K ",\"disks\":[{\"path\":\"/d\",\"id\":\"x\"}],\"net\":[{\"id\":\"x\"}]}", -EINVAL,
		  "net[0]: id 'x' is already used by disks[0]" },
		{ "{" K ",\"net\":[{\"id\":\"x\"}],\"vsock\":{\"cid\":3,\"socket\":\"/v\",\"id\":\"x\"}}",
		  -EINVAL, "vsock: id 'x' is already used by net[0]" },
		{ "{" K ",\"disks\":[{\"path\":\"/1\"},{\"path\":\"/2\"},{\"path\":\"/3\"},{\"path\":\"/4\"},"
		  "{\"path\":\"/5\"},{\"path\":\"/6\"},{\"path\":\"/7\"},{\"path\":\"/8\"},{\"path\":\"/9\"},"
		  "{\"path\":\"/10\"},{\"path\":\"/11\"},{\"path\":\"/12\"},{\"path\":\"/13\"},"
		  "{\"path\":\"/14\"},{\"path\":\"/15\"},{\"path\":\"/16\"},{\"path\":\"/17\"}]}",
		  -EINVAL, "disks: too many disks (17; at most 16)" },
		/* net */
		{ "{" K ",\"net\":[{\"mac\":\"zz:54:00:12:34:56\"}]}", -EINVAL,
		  "net[0]: invalid MAC 'zz:54:00:12:34:56'" },
		{ "{" K ",\"net\":[{\"mac\":\"01:00:5e:00:00:01\"}]}", -EINVAL, "multicast" },
		{ "{" K ",\"net\":[{\"ip\":\"300.1.1.1\"}]}", -EINVAL, "net[0]: invalid ip '300.1.1.1'" },
		{ "{" K ",\"net\":[{\"ip\":\"fd00::1\"}]}", -ENOSYS, "IPv6" },
		{ "{" K ",\"net\":[{\"mask\":\"255.255.255.0\"}]}", -EINVAL, "mask= needs ip=" },
		{ "{" K ",\"net\":[{\"ip\":\"10.0.0.1\",\"mask\":\"255.0.255.0\"}]}", -EINVAL,
		  "invalid mask" },
		{ "{" K ",\"net\":[{\"tap\":\"a/b\"}]}", -EINVAL, "net[0]: invalid tap name" },
		{ "{" K ",\"net\":[{\"tap\":\"abcdefghijklmnop\"}]}", -EINVAL, "too long" },
		{ "{" K ",\"net\":[{\"tap\":\"t0\"},{\"tap\":\"t0\"}]}", -EINVAL,
		  "net[1]: tap 't0' is already used by net[0]" },
		{ "{" K ",\"net\":[{\"num_queues\":3}]}", -EINVAL, "net[0]: num_queues must be an even number" },
		{ "{" K ",\"net\":[{\"queue_size\":3}]}", -EINVAL, "net[0]: queue_size" },
		{ "{" K ",\"net\":[{},{},{},{},{},{},{},{},{}]}", -EINVAL, "too many network devices" },
		/* rng, serial, console */
		{ "{" K ",\"rng\":{\"src\":\"\"}}", -EINVAL, "rng.src: must not be empty" },
		{ "{" K ",\"serial\":{}}", -EINVAL, "serial: mode is required" },
		{ "{" K ",\"serial\":{\"mode\":\"tty\"}}", -EINVAL, "serial: invalid mode 'tty'" },
		{ "{" K ",\"serial\":{\"mode\":\"File\"}}", -EINVAL, "serial: mode File needs a file" },
		{ "{" K ",\"serial\":{\"mode\":\"Tty\",\"file\":\"/f\"}}", -EINVAL,
		  "file is only used with mode File" },
		{ "{" K ",\"serial\":{\"mode\":\"File\",\"file\":\"\"}}", -EINVAL, "must not be empty" },
		{ "{" K ",\"serial\":{\"mode\":\"Pty\"}}", -ENOSYS, "serial: pty is not supported yet" },
		{ "{" K ",\"serial\":{\"mode\":\"Socket\",\"socket\":\"/s\"}}", -ENOSYS, "socket" },
		{ "{" K ",\"console\":{\"mode\":\"Socket\",\"socket\":\"/s\"}}", -ENOSYS,
		  "console: socket is not supported yet" },
		{ "{" K ",\"console\":{\"mode\":\"Off\",\"iommu\":true}}", -ENOSYS, "console.iommu" },
		{ "{" K ",\"serial\":{\"mode\":\"Tty\"},\"console\":{\"mode\":\"Tty\"}}", -EINVAL,
		  "cannot both be in mode Tty" },
		/* fs */
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"socket\":\"/s\"}]}", -EINVAL,
		  "fs[0]: tag= is required" },
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"tag\":\"t\"}]}", -EINVAL,
		  "fs[0]: socket= is required" },
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"tag\":\"abcdefghijklmnopqrstuvwxyz01234567890\",\"socket\":\"/s\"}]}",
		  -EINVAL, "too long" },
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\",\"num_queues\":2}]}",
		  -ENOSYS, "fs[0]: num_queues=2 is not supported yet" },
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\",\"num_queues\":0}]}",
		  -EINVAL, "num_queues must be 1" },
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\",\"queue_size\":70000}]}",
		  -EINVAL, "queue_size" },
		{ "{" K ",\"memory\":{\"shared\":true},\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\"},{\"tag\":\"t\",\"socket\":\"/s\"}]}",
		  -EINVAL, "tag 't' is already used" },
		{ "{" K ",\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\"}]}", -EINVAL,
		  "fs needs memory.shared = true" },
		/* vsock */
		{ "{" K ",\"vsock\":{\"socket\":\"/v\"}}", -EINVAL, "vsock: cid is required" },
		{ "{" K ",\"vsock\":{\"cid\":2,\"socket\":\"/v\"}}", -EINVAL,
		  "vsock: cid must be between 3 and 4294967294" },
		{ "{" K ",\"vsock\":{\"cid\":4294967295,\"socket\":\"/v\"}}", -EINVAL, "cid must be" },
		{ "{" K ",\"vsock\":{\"cid\":3}}", -EINVAL, "vsock: socket= is required" },
		{ "{" K ",\"vsock\":{\"cid\":3,\"socket\":\"/v\",\"iommu\":true}}", -ENOSYS,
		  "vsock.iommu" },
	};
#undef K
	struct vmm_config c;
	struct error err;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		if (!cases[i].msg)
			continue;
		vmm_config_init(&c);
		c.kernel = (char *)"untouched";
		r = parse(cases[i].json, &c, &err);
		CHECK_EQ(r, cases[i].code);
		CHECK_EQ(err.code, cases[i].code);
		CHECK(strstr(err.msg, cases[i].msg) != NULL);
		CHECK(strchr(err.msg, '\n') == NULL);
		/* Written only on success. */
		CHECK(streq(c.kernel, "untouched"));
		if (r != cases[i].code || !strstr(err.msg, cases[i].msg))
			fprintf(stderr, "  case %zu: got %d '%s', expected %d '%s'\n", i, r, err.msg,
				cases[i].code, cases[i].msg);
		if (getenv("JSON_TEST_VERBOSE"))
			printf("%3zu %d %s\n", i, r, err.msg);
		if (r == 0) {
			c.kernel = NULL;
			vmm_config_free(&c);
		}
	}

	/* The command line's cmdline limit, and a NUL byte in the body. */
	{
		char json[VMM_MAX_CMDLINE + 64];
		int n = snprintf(json, sizeof(json), "{\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"");

		memset(json + n, 'x', VMM_MAX_CMDLINE);
		strcpy(json + n + VMM_MAX_CMDLINE, "\"}}");
		CHECK_EQ(parse(json, &c, &err), -EINVAL);
		CHECK(strstr(err.msg, "payload.cmdline: too long") != NULL);
		strcpy(json + n + VMM_MAX_CMDLINE - 1, "\"}}");
		CHECK_EQ(parse(json, &c, &err), 0);
		vmm_config_free(&c);
		CHECK_EQ(vmm_config_from_json("{\"payload\":{\"kernel\":\"/k\"}}\0", 28, &c, &err),
			 -EINVAL);
		CHECK(strstr(err.msg, "NUL byte") != NULL);
		/* len is what counts, not a terminator. */
		CHECK_EQ(vmm_config_from_json("{\"payload\":{\"kernel\":\"/k\"}}garbage", 27, &c, &err), 0);
		vmm_config_free(&c);
	}
}

/* Parse a reply body back; NULL if it is not JSON. */
static yajl_val reparse(const char *json)
{
	char ebuf[128];

	return json ? yajl_tree_parse(json, ebuf, sizeof(ebuf)) : NULL;
}

static void test_replies(void)
{
	static const char *const p_version[] = { "version", NULL };
	static const char *const p_pid[] = { "pid", NULL };
	static const char *const p_features[] = { "features", NULL };
	static const char *const p_state[] = { "state", NULL };
	static const char *const p_kernel[] = { "config", "payload", "kernel", NULL };
	static const char *const p_mem[] = { "memory_actual_size", NULL };
	static const char *const p_err[] = { "error", NULL };
	static const char *const p_blk_reads[] = { "_disk0", "read_ops", NULL };
	static const char *const p_blk_bytes[] = { "_disk0", "read_bytes", NULL };
	static const char *const p_net_rx[] = { "_net0", "rx_bytes", NULL };
	static const struct vmm_counter counters[] = {
		{ "_disk0", "read_ops", 7 },
		{ "_net0", "rx_bytes", UINT64_MAX },
		{ "_disk0", "read_bytes", 4096 },
		{ "_disk0", "read_ops", 99 }, /* repeated: the first wins */
	};
	struct vmm_config cfg;
	char *s;
	yajl_val v, x;

	s = vmm_api_json_ping();
	v = reparse(s);
	CHECK(v != NULL);
	x = yajl_tree_get(v, (const char **)p_version, yajl_t_string);
	CHECK(x && streq(x->u.string, NACELLE_VERSION));
	x = yajl_tree_get(v, (const char **)p_pid, yajl_t_number);
	CHECK(x && YAJL_GET_INTEGER(x) == getpid());
	x = yajl_tree_get(v, (const char **)p_features, yajl_t_array);
	CHECK(x && x->u.array.len == 0);
	CHECK(s && strstr(s, "\"build_version\":"));
	yajl_tree_free(v);
	free(s);

	vmm_config_init(&cfg);
	cfg.kernel = strdup("/boot/vmlinuz");
	s = vmm_api_json_info(VMM_VM_RUNNING, &cfg, 512 * MiB);
	v = reparse(s);
	CHECK(v != NULL);
	x = yajl_tree_get(v, (const char **)p_state, yajl_t_string);
	CHECK(x && streq(x->u.string, "Running"));
	x = yajl_tree_get(v, (const char **)p_kernel, yajl_t_string);
	CHECK(x && streq(x->u.string, "/boot/vmlinuz"));
	x = yajl_tree_get(v, (const char **)p_mem, yajl_t_number);
	CHECK(x && YAJL_GET_INTEGER(x) == (long long)(512 * MiB));
	yajl_tree_free(v);
	free(s);
	CHECK(vmm_api_json_info((enum vmm_vm_state)42, &cfg, 0) == NULL);
	CHECK(vmm_api_json_info(VMM_VM_CREATED, NULL, 0) == NULL);
	/* Bytes that are not UTF-8 (a path from the command line) still make valid JSON. */
	free(cfg.kernel);
	cfg.kernel = strdup("/boot/\xff\xfe-\xc3\xa9");
	s = vmm_api_json_info(VMM_VM_CREATED, &cfg, 0);
	v = reparse(s);
	x = yajl_tree_get(v, (const char **)p_kernel, yajl_t_string);
	CHECK(x && streq(x->u.string, "/boot/\xef\xbf\xbd\xef\xbf\xbd-\xc3\xa9"));
	yajl_tree_free(v);
	free(s);
	vmm_config_free(&cfg);

	for (int st = VMM_VM_NOT_CREATED; st <= VMM_VM_BREAKPOINT; st++)
		CHECK(vmm_vm_state_to_string((enum vmm_vm_state)st) != NULL);
	CHECK(streq(vmm_vm_state_to_string(VMM_VM_CREATED), "Created"));
	CHECK(streq(vmm_vm_state_to_string(VMM_VM_PAUSED), "Paused"));
	CHECK(streq(vmm_vm_state_to_string(VMM_VM_BREAKPOINT), "BreakPoint"));
	CHECK(vmm_vm_state_to_string((enum vmm_vm_state)99) == NULL);
	CHECK(streq(vmm_api_action_to_string(VMM_API_VM_POWER_BUTTON), "vm.power-button"));
	CHECK(streq(vmm_api_action_to_string(VMM_API_SHUTDOWN_VMM), "vmm.shutdown"));
	CHECK(vmm_api_action_to_string(VMM_API__MAX) == NULL);

	s = vmm_api_json_counters(counters, ARRAY_SIZE(counters));
	v = reparse(s);
	CHECK(v != NULL);
	x = yajl_tree_get(v, (const char **)p_blk_reads, yajl_t_number);
	CHECK(x && YAJL_GET_INTEGER(x) == 7);
	x = yajl_tree_get(v, (const char **)p_blk_bytes, yajl_t_number);
	CHECK(x && YAJL_GET_INTEGER(x) == 4096);
	CHECK(s && strstr(s, "\"rx_bytes\":18446744073709551615"));
	CHECK(s && streq(s, "{\"_disk0\":{\"read_ops\":7,\"read_bytes\":4096},"
			    "\"_net0\":{\"rx_bytes\":18446744073709551615}}"));
	(void)p_net_rx;
	yajl_tree_free(v);
	free(s);
	s = vmm_api_json_counters(NULL, 0);
	CHECK(s && streq(s, "{}"));
	free(s);

	s = vmm_api_json_error("VM is not created \"yet\"\n");
	v = reparse(s);
	x = yajl_tree_get(v, (const char **)p_err, yajl_t_string);
	CHECK(x && streq(x->u.string, "VM is not created \"yet\"\n"));
	yajl_tree_free(v);
	free(s);
}

int main(void)
{
	test_full();
	test_minimal();
	test_cloud_hypervisor_defaults();
	test_errors();
	test_replies();
	printf("json-config-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
