/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AML encodings checked against hand-assembled bytes, then the tables built
 * into fake guest memory and parsed back the way a guest would: RSDP ->
 * XSDT -> FADT -> DSDT, and the MADT. Table fields are read at the spec's
 * raw offsets rather than through acpi-internal.h's structs, so a layout
 * mistake there cannot hide itself. If iasl (acpica-tools) is installed,
 * every table is also disassembled by it and the DSDT recompiled.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aml.h"
#include "common/guest-mem.h"
#include "devices/power.h"
#include "vmm/acpi.h"
#include "vmm/layout.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
			return 1;                                              \
		}                                                              \
	} while (0)

#define TEST_MEM_SIZE (2 * MiB)

static unsigned int nr_checks_iasl; /* tables iasl looked at */
static bool iasl_skipped;

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const uint8_t *find_bytes(const uint8_t *hay, size_t hay_len,
				 const void *needle, size_t len)
{
	return memmem(hay, hay_len, needle, len);
}

/* Run `build` on a fresh builder and compare the result with `want`. */
#define CHECK_AML(want, ...)                                                   \
	do {                                                                   \
		static const uint8_t _want[] = want;                           \
		struct aml _a;                                                 \
		const uint8_t *_d;                                             \
		size_t _n;                                                     \
		int _r;                                                        \
		aml_init(&_a);                                                 \
		__VA_ARGS__;                                                   \
		_r = aml_finish(&_a, &_d, &_n);                                \
		if (_r < 0 || _n != sizeof(_want) ||                           \
		    memcmp(_d, _want, _n) != 0) {                              \
			fprintf(stderr, "%s:%d: AML mismatch (r=%d len=%zu)\n", \
				__FILE__, __LINE__, _r, _r < 0 ? 0 : _n);      \
			aml_free(&_a);                                         \
			return 1;                                              \
		}                                                              \
		aml_free(&_a);                                                 \
	} while (0)

#define CHECK_AML_ERROR(err, ...)                                              \
	do {                                                                   \
		struct aml _a;                                                 \
		const uint8_t *_d;                                             \
		size_t _n;                                                     \
		aml_init(&_a);                                                 \
		__VA_ARGS__;                                                   \
		if (aml_finish(&_a, &_d, &_n) != (err)) {                      \
			fprintf(stderr, "%s:%d: expected error %d\n",          \
				__FILE__, __LINE__, (err));                    \
			aml_free(&_a);                                         \
			return 1;                                              \
		}                                                              \
		aml_free(&_a);                                                 \
	} while (0)

#define B(...) { __VA_ARGS__ }

/*
 * Package (0) with body_len - 1 filler bytes after NumElements: check the
 * PkgLength that follows PackageOp.
 */
static int check_pkg_length(size_t body_len, const uint8_t *want, size_t want_len)
{
	struct aml a;
	const uint8_t *d;
	size_t n;
	uint8_t *filler;
	int ok;

	filler = calloc(1, body_len);
	if (!filler)
		return 1;
	aml_init(&a);
	aml_package_begin(&a, 0);
	aml_append(&a, filler, body_len - 1);
	aml_end(&a);
	ok = aml_finish(&a, &d, &n) == 0 && n == 1 + want_len + body_len &&
	     d[0] == 0x12 && memcmp(d + 1, want, want_len) == 0 &&
	     aml_pkg_length_size(body_len) == want_len;
	aml_free(&a);
	free(filler);
	if (!ok)
		fprintf(stderr, "PkgLength for a body of %zu bytes is wrong\n", body_len);
	return !ok;
}

static int test_pkg_length(void)
{
	/* total = body + size of PkgLength itself */
	CHECK(check_pkg_length(62, (const uint8_t[]){ 0x3f }, 1) == 0);
	CHECK(check_pkg_length(63, (const uint8_t[]){ 0x41, 0x04 }, 2) == 0);
	CHECK(check_pkg_length(4093, (const uint8_t[]){ 0x4f, 0xff }, 2) == 0);
	CHECK(check_pkg_length(4094, (const uint8_t[]){ 0x81, 0x00, 0x01 }, 3) == 0);
	CHECK(check_pkg_length(1048572, (const uint8_t[]){ 0x8f, 0xff, 0xff }, 3) == 0);
	CHECK(check_pkg_length(1048573,
			       (const uint8_t[]){ 0xc1, 0x00, 0x00, 0x01 }, 4) == 0);
	CHECK(aml_pkg_length_size(AML_PKG_LENGTH_MAX - 4) == 4);
	CHECK(aml_pkg_length_size(AML_PKG_LENGTH_MAX - 3) == 0);
	return 0;
}

static int test_integers(void)
{
	CHECK_AML(B(0x00), aml_integer(&_a, 0));
	CHECK_AML(B(0x01), aml_integer(&_a, 1));
	CHECK_AML(B(0x0a, 0x02), aml_integer(&_a, 2));
	CHECK_AML(B(0x0a, 0xff), aml_integer(&_a, 0xff));
	CHECK_AML(B(0x0b, 0x00, 0x01), aml_integer(&_a, 0x100));
	CHECK_AML(B(0x0b, 0xff, 0xff), aml_integer(&_a, 0xffff));
	CHECK_AML(B(0x0c, 0x00, 0x00, 0x01, 0x00), aml_integer(&_a, 0x10000));
	CHECK_AML(B(0x0c, 0xff, 0xff, 0xff, 0xff), aml_integer(&_a, 0xffffffff));
	CHECK_AML(B(0x0e, 0, 0, 0, 0, 1, 0, 0, 0), aml_integer(&_a, 0x100000000));
	CHECK_AML(B(0x0d, 'a', 'b', 0), aml_string(&_a, "ab"));
	CHECK_AML_ERROR(-EINVAL, aml_string(&_a, "\xc3\xa9"));
	return 0;
}

static int test_names(void)
{
	CHECK_AML(B('C', 'O', 'M', '1'), aml_namestring(&_a, "COM1"));
	CHECK_AML(B('R', 'T', 'C', '_'), aml_namestring(&_a, "RTC"));
	CHECK_AML(B(0x5c, '_', 'S', '5', '_'), aml_namestring(&_a, "\\_S5_"));
	CHECK_AML(B(0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'),
		  aml_namestring(&_a, "_SB_.COM1"));
	CHECK_AML(B(0x5c, 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'),
		  aml_namestring(&_a, "\\_SB.COM1"));
	CHECK_AML(B(0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S',
		    '0', '8', '_'),
		  aml_namestring(&_a, "\\_SB.PCI0.S08"));
	CHECK_AML(B(0x5e, 0x5e, 'F', 'O', 'O', '_'), aml_namestring(&_a, "^^FOO"));
	CHECK_AML(B(0x5c, 0x00), aml_namestring(&_a, "\\"));
	CHECK_AML_ERROR(-EINVAL, aml_namestring(&_a, "com1"));
	CHECK_AML_ERROR(-EINVAL, aml_namestring(&_a, "TOOLONG"));
	CHECK_AML_ERROR(-EINVAL, aml_namestring(&_a, "1ABC"));
	CHECK_AML_ERROR(-EINVAL, aml_namestring(&_a, "_SB_..COM1"));
	CHECK_AML_ERROR(-EINVAL, aml_namestring(&_a, "_SB_."));
	return 0;
}

static int test_eisaid(void)
{
	uint32_t v;

	CHECK(aml_eisaid_value("PNP0501", &v) == 0 && v == 0x0105D041);
	CHECK(aml_eisaid_value("PNP0B00", &v) == 0 && v == 0x000BD041);
	CHECK(aml_eisaid_value("PNP0A08", &v) == 0 && v == 0x080AD041);
	CHECK(aml_eisaid_value("PNP0C0C", &v) == 0 && v == 0x0C0CD041);
	CHECK(aml_eisaid_value("pnp0501", &v) == -EINVAL);
	CHECK(aml_eisaid_value("PNP05G1", &v) == -EINVAL);
	CHECK(aml_eisaid_value("PNP050", &v) == -EINVAL);
	CHECK(aml_eisaid_value("PNP05011", &v) == -EINVAL);
	/* Always a DWord, even when the value would fit a Word. */
	CHECK_AML(B(0x0c, 0x41, 0xd0, 0x0b, 0x00), aml_eisaid(&_a, "PNP0B00"));
	CHECK_AML_ERROR(-EINVAL, aml_eisaid(&_a, "PNP"));
	return 0;
}

static int test_objects(void)
{
	/* Name (_S5, Package (0x02) { 0x05, Zero }) */
	CHECK_AML(B(0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00),
		  aml_name(&_a, "_S5_"); aml_package_begin(&_a, 2);
		  aml_integer(&_a, 5); aml_integer(&_a, 0); aml_end(&_a));
	/* Device (COM1) { Name (_UID, Zero) } */
	CHECK_AML(B(0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I',
		    'D', 0x00),
		  aml_device_begin(&_a, "COM1"); aml_name_integer(&_a, "_UID", 0);
		  aml_end(&_a));
	/* Scope (\_SB) { } */
	CHECK_AML(B(0x10, 0x06, 0x5c, '_', 'S', 'B', '_'),
		  aml_scope_begin(&_a, "\\_SB"); aml_end(&_a));
	/* Method (_STA, 0, NotSerialized) { Return (0x0F) } */
	CHECK_AML(B(0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f),
		  aml_method_begin(&_a, "_STA", 0, false); aml_return(&_a);
		  aml_integer(&_a, 0x0f); aml_end(&_a));
	/* Method (M1, 2, Serialized) { Return (One) } */
	CHECK_AML(B(0x14, 0x08, 'M', '1', '_', '_', 0x0a, 0xa4, 0x01),
		  aml_method_begin(&_a, "M1", 2, true); aml_return(&_a);
		  aml_integer(&_a, 1); aml_end(&_a));
	/* Name (_HID, "ACPI0007") */
	CHECK_AML(B(0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0',
		    '0', '7', 0x00),
		  aml_name_string(&_a, "_HID", "ACPI0007"));

	/* Nesting mistakes are reported, not silently encoded. */
	CHECK_AML_ERROR(-EINVAL, aml_end(&_a));
	CHECK_AML_ERROR(-EINVAL, aml_device_begin(&_a, "DEV0"));
	CHECK_AML_ERROR(-EINVAL, aml_resource_begin(&_a); aml_end(&_a));
	CHECK_AML_ERROR(-EINVAL, aml_package_begin(&_a, 0); aml_resource_end(&_a));
	CHECK_AML_ERROR(-EINVAL, aml_method_begin(&_a, "M8", 8, false));
	/* and stick: later calls do not clear the first error */
	CHECK_AML_ERROR(-EINVAL, aml_namestring(&_a, "bad"); aml_integer(&_a, 1));
	return 0;
}

static int test_resources(void)
{
	const struct aml_addr bus = { .type = AML_ADDR_BUS, .min = 0, .max = 0xff };
	const struct aml_addr io = {
		.type = AML_ADDR_IO, .type_flags = AML_IO_RANGE_ENTIRE,
		.min = 0x1000, .max = 0xffff,
	};
	const struct aml_addr mem32 = {
		.type = AML_ADDR_MEMORY,
		.type_flags = AML_MEM_READ_WRITE | AML_MEM_CACHEABLE,
		.min = 0xc0000000, .max = 0xfebfffff,
	};
	const struct aml_addr mem64 = {
		.type = AML_ADDR_MEMORY,
		.type_flags = AML_MEM_READ_WRITE | AML_MEM_PREFETCHABLE,
		.min = 0x100000000, .max = 0x1ffffffff,
	};
	const struct aml_addr bad = { .type = AML_ADDR_MEMORY, .min = 2, .max = 1 };
	const struct aml_addr word_full = { .type = AML_ADDR_IO, .max = 0xffff };

	/* ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 0, 8) IRQNoFlags () {4} } */
	CHECK_AML(B(0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03,
		    0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00),
		  aml_resource_begin(&_a); aml_res_io(&_a, 0x3f8, 0x3f8, 0, 8);
		  aml_res_irq_noflags(&_a, 4); aml_resource_end(&_a));
	/* Memory32Fixed (ReadWrite, 0xFEC00000, 0x1000) */
	CHECK_AML(B(0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xc0, 0xfe, 0x00, 0x10,
		    0x00, 0x00),
		  aml_res_memory32_fixed(&_a, 0xfec00000, 0x1000));
	/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 5 } */
	CHECK_AML(B(0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00),
		  aml_res_interrupt(&_a, 5, true, false));
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100) */
	CHECK_AML(B(0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
		    0xff, 0x00, 0x00, 0x00, 0x00, 0x01),
		  aml_res_word_address(&_a, &bus));
	/* DWordIO (..., EntireRange, 0, 0x1000, 0xFFFF, 0, 0xF000) */
	CHECK_AML(B(0x87, 0x17, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0, 0, 0x00, 0x10,
		    0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x00, 0xf0, 0, 0),
		  aml_res_dword_address(&_a, &io));
	/* DWordMemory (..., Cacheable, ReadWrite, 0, 0xC0000000, 0xFEBFFFFF, 0, 0x3EC00000) */
	CHECK_AML(B(0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, 0, 0, 0, 0, 0x00, 0x00,
		    0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe, 0, 0, 0, 0, 0x00, 0x00,
		    0xc0, 0x3e),
		  aml_res_dword_address(&_a, &mem32));
	/* QWordMemory (..., Prefetchable, ReadWrite, 0, 4G, 8G - 1, 0, 4G) */
	CHECK_AML(B(0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0,
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0),
		  aml_res_qword_address(&_a, &mem64));
	CHECK_AML_ERROR(-ERANGE, aml_res_qword_address(&_a, &bad));
	CHECK_AML_ERROR(-ERANGE, aml_res_dword_address(&_a, &mem64));
	CHECK_AML_ERROR(-ERANGE, aml_res_word_address(&_a, &word_full));
	CHECK_AML_ERROR(-EINVAL, aml_res_irq_noflags(&_a, 16));
	return 0;
}

/* A table as the guest finds it: in the ACPI window, whole, summing to 0. */
static const uint8_t *get_table(const struct guest_mem *mem, uint64_t gpa,
				const char *signature)
{
	const uint8_t *h = guest_mem_ptr(mem, gpa, 36);
	uint32_t len;

	if (!h || memcmp(h, signature, 4) != 0 || !IS_ALIGNED(gpa, 8))
		return NULL;
	len = le32(h + 4);
	if (len < 36 || gpa < LAYOUT_ACPI_START || gpa + len > LAYOUT_ACPI_END)
		return NULL;
	h = guest_mem_ptr(mem, gpa, len);
	if (!h || acpi_checksum(h, len) != 0 || memcmp(h + 10, "NACELL", 6) != 0 ||
	    memcmp(h + 16, "NACVMM  ", 8) != 0 || le32(h + 24) != 1 ||
	    memcmp(h + 28, "NACL", 4) != 0 || le32(h + 32) != 1)
		return NULL;
	return h;
}

/* Generic Address Structure: system I/O, one byte at `port`. */
static bool gas_is_io_byte(const uint8_t *g, uint16_t port)
{
	return g[0] == 1 && g[1] == 8 && g[2] == 0 && g[3] == 1 && le64(g + 4) == port;
}

static int check_fadt(const struct guest_mem *mem, const uint8_t *f,
		      const uint8_t **ret_dsdt)
{
	uint32_t flags = le32(f + 112);
	uint16_t boot_arch = le16(f + 109);

	CHECK(le32(f + 4) == 276 && f[8] == 6 && f[131] == 3);
	CHECK(flags & (1u << 20));	/* HW_REDUCED_ACPI */
	CHECK(flags & (1u << 10));	/* RESET_REG_SUP */
	CHECK(!(boot_arch & (1u << 1))); /* no 8042: Linux skips the probe */
	CHECK(!(boot_arch & (1u << 3))); /* MSI allowed */
	CHECK(!(boot_arch & (1u << 5))); /* the CMOS RTC is there */
	CHECK(gas_is_io_byte(f + 116, POWER_PORT) && f[128] == POWER_RESET_VALUE);
	CHECK(gas_is_io_byte(f + 244, POWER_PORT)); /* sleep control */
	CHECK(gas_is_io_byte(f + 256, POWER_PORT)); /* sleep status */
	CHECK(le64(f + 140) == le32(f + 40));
	*ret_dsdt = get_table(mem, le64(f + 140), "DSDT");
	CHECK(*ret_dsdt != NULL);
	return 0;
}

static int check_madt(const uint8_t *m, uint32_t nr_vcpus)
{
	uint32_t len = le32(m + 4), nr_lapic = 0, nr_ioapic = 0, off;

	CHECK(m[8] == 5 && le32(m + 36) == LAYOUT_LAPIC_START && le32(m + 40) == 0);
	for (off = 44; off + 2 <= len; off += m[off + 1]) {
		const uint8_t *e = m + off;

		CHECK(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0: /* Processor Local APIC */
			CHECK(e[1] == 8 && e[2] == nr_lapic && e[3] == nr_lapic);
			CHECK(le32(e + 4) & 1);
			nr_lapic++;
			break;
		case 1: /* I/O APIC */
			CHECK(e[1] == 12 && le32(e + 4) == LAYOUT_IOAPIC_START);
			CHECK(le32(e + 8) == 0);
			nr_ioapic++;
			break;
		case 4: /* Local APIC NMI */
			CHECK(e[1] == 6 && e[2] == 0xff && e[5] == 1);
			break;
		default:
			CHECK(!"unexpected MADT entry");
		}
	}
	CHECK(off == len);
	CHECK(nr_lapic == nr_vcpus && nr_ioapic == 1);
	return 0;
}

static int check_mcfg(const uint8_t *m, const struct acpi_config *cfg)
{
	CHECK(le32(m + 4) == 60 && m[8] == 1);
	CHECK(le64(m + 36) == 0);		/* reserved */
	CHECK(le64(m + 44) == cfg->pci_ecam_base);
	CHECK(le16(m + 52) == 0);		/* segment */
	CHECK(m[54] == 0 && m[55] == 0);	/* buses 0-0 */
	CHECK(le32(m + 56) == 0);
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Hand-assembled address descriptor: producer, MinFixed, MaxFixed, PosDecode. */
static size_t addr_desc(uint8_t *p, uint8_t tag, size_t width, uint8_t type, uint8_t tflags,
			uint64_t min, uint64_t max)
{
	p[0] = tag;
	put_le(p + 1, 3 + 5 * width, 2);
	p[3] = type;
	p[4] = 0x0c;
	p[5] = tflags;
	put_le(p + 6, 0, width);
	put_le(p + 6 + width, min, width);
	put_le(p + 6 + 2 * width, max, width);
	put_le(p + 6 + 3 * width, 0, width);
	put_le(p + 6 + 4 * width, max - min + 1, width);
	return 6 + 5 * width;
}

/* \_SB.PCI0 with its _CRS, \_SB.MRES reserving the ECAM; or neither. */
static int check_dsdt_pci(const uint8_t *d, const struct acpi_config *cfg)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t cid[] = { 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t seg[] = { 0x08, '_', 'S', 'E', 'G', 0x00 };
	static const uint8_t bbn[] = { 0x08, '_', 'B', 'B', 'N', 0x00 };
	static const uint8_t adr[] = { 0x08, '_', 'A', 'D', 'R', 0x00 };
	static const uint8_t mres_hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	static const uint8_t cf8_io[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	uint32_t len = le32(d + 4);
	uint8_t crs[160], ecam[12] = { 0x86, 0x09, 0x00, 0x01 };
	const uint8_t *pci0, *mres;
	size_t n = 0;

	pci0 = find_bytes(d, len, "PCI0", 4);
	mres = find_bytes(d, len, "MRES", 4);
	if (!cfg->pci) {
		CHECK(!pci0 && !mres && !find_bytes(d, len, hid, sizeof(hid)));
		return 0;
	}
	CHECK(pci0 && mres && pci0[-1] != 0x5c);
	CHECK(find_bytes(pci0, len - (size_t)(pci0 - d), hid, sizeof(hid)));
	CHECK(find_bytes(pci0, len - (size_t)(pci0 - d), cid, sizeof(cid)));
	CHECK(find_bytes(pci0, len - (size_t)(pci0 - d), seg, sizeof(seg)));
	CHECK(find_bytes(pci0, len - (size_t)(pci0 - d), bbn, sizeof(bbn)));
	CHECK(!find_bytes(d, len, adr, sizeof(adr))); /* _HID, so no _ADR */
	CHECK(!find_bytes(d, len, "_PRT", 4)); /* MSI-X only */

	/* the _CRS descriptors, in order, contiguous */
	n += addr_desc(crs + n, 0x88, 2, 2, 0, 0, 0);		   /* WordBusNumber 0-0 */
	memcpy(crs + n, cf8_io, sizeof(cf8_io));		   /* IO 0xcf8, 8 */
	n += sizeof(cf8_io);
	n += addr_desc(crs + n, 0x88, 2, 1, 3, 0, 0xcf7);	   /* WordIO */
	n += addr_desc(crs + n, 0x88, 2, 1, 3, 0xd00, 0xffff);	   /* WordIO */
	n += addr_desc(crs + n, 0x87, 4, 0, 0x03, cfg->pci_mmio32_base,
		       cfg->pci_mmio32_base + cfg->pci_mmio32_size - 1); /* DWordMemory */
	n += addr_desc(crs + n, 0x8a, 8, 0, 0x03, cfg->pci_mmio64_base,
		       cfg->pci_mmio64_base + cfg->pci_mmio64_size - 1); /* QWordMemory */
	crs[n++] = 0x79;
	crs[n++] = 0x00;
	CHECK(n <= sizeof(crs));
	CHECK(find_bytes(pci0, (size_t)(mres - pci0), crs, n));

	put_le(ecam + 4, cfg->pci_ecam_base, 4);
	put_le(ecam + 8, cfg->pci_ecam_size, 4);
	CHECK(find_bytes(mres, len - (size_t)(mres - d), mres_hid, sizeof(mres_hid)));
	CHECK(find_bytes(mres, len - (size_t)(mres - d), ecam, sizeof(ecam)));
	return 0;
}

static int check_dsdt(const uint8_t *d)
{
	static const uint8_t s5[] = { '_', 'S', '5', '_', 0x12 };
	static const uint8_t com1_hid[] = { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t rtc_hid[] = { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00 };
	static const uint8_t com1_io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08,
					   0x22, 0x10, 0x00, 0x79, 0x00 };
	static const uint8_t rtc_io[] = { 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x00, 0x02,
					  0x79, 0x00 };
	uint32_t len = le32(d + 4);
	const uint8_t *p;

	CHECK(d[8] >= 2); /* 64-bit integers */
	/* Name (\_S5, Package (2) { 5, 0 }): PkgLength, NumElements, 5, 0 */
	p = find_bytes(d + 36, len - 36, s5, sizeof(s5));
	CHECK(p && p + 10 <= d + len);
	CHECK(p[-1] == 0x5c && p[-2] == 0x08);
	CHECK(p[5] == 5 && p[6] == 2 && p[7] == 0x0a && p[8] == POWER_SLP_TYP_S5 &&
	      p[9] == 0x00);
	CHECK(find_bytes(d, len, "COM1", 4));
	CHECK(find_bytes(d, len, "RTC_", 4));
	CHECK(find_bytes(d, len, com1_hid, sizeof(com1_hid)));
	CHECK(find_bytes(d, len, rtc_hid, sizeof(rtc_hid)));
	CHECK(find_bytes(d, len, com1_io, sizeof(com1_io)));
	CHECK(find_bytes(d, len, rtc_io, sizeof(rtc_io)));
	{
		/* power button: PNP0C0C, a GED (ACPI0013) with an edge interrupt on
		 * POWER_GED_GSI, and Notify (\_SB.PWRB, 0x80) in its _EVT */
		static const uint8_t pwrb_hid[] = { 0x0c, 0x41, 0xd0, 0x0c, 0x0c };
		static const uint8_t ged_irq[] = { 0x89, 0x06, 0x00, 0x03, 0x01,
						   POWER_GED_GSI, 0x00, 0x00, 0x00 };
		static const uint8_t notify[] = { 0x86, 0x5c, 0x2e, '_', 'S', 'B', '_',
						  'P', 'W', 'R', 'B', 0x0a, 0x80 };

		CHECK(find_bytes(d, len, pwrb_hid, sizeof(pwrb_hid)));
		CHECK(find_bytes(d, len, "ACPI0013", 8));
		CHECK(find_bytes(d, len, "_EVT", 4));
		CHECK(find_bytes(d, len, ged_irq, sizeof(ged_irq)));
		CHECK(find_bytes(d, len, notify, sizeof(notify)));
	}
	return 0;
}

/* Where iasl lives, or NULL: the check is optional (acpica-tools). */
static char *find_iasl(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (!path)
		return NULL;
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *exe;

		if (asprintf(&exe, "%s/iasl", dir) < 0)
			break;
		if (access(exe, X_OK) == 0)
			found = exe;
		else
			free(exe);
	}
	free(copy);
	return found;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return 1;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) != 0 || !ok;
}

static char *read_file(const char *dir, const char *name, size_t *ret_len)
{
	char path[512], *buf = NULL;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && (buf = malloc((size_t)st.st_size + 1))) {
		*ret_len = fread(buf, 1, (size_t)st.st_size, f);
		buf[*ret_len] = '\0';
	}
	fclose(f);
	return buf;
}

static void dump_log(const char *dir)
{
	size_t len;
	char *log = read_file(dir, "iasl.log", &len);

	if (log)
		fputs(log, stderr);
	free(log);
}

/* Lines iasl uses to report trouble, in its log or in its output. */
static bool iasl_complains(const char *dir, const char *name)
{
	static const char *const markers[] = { "Error", "Warning", "Invalid", "Incorrect" };
	char path[512], line[1024];
	bool bad = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return true;
	while (!bad && fgets(line, sizeof(line), f)) {
		if (strstr(line, "Compilation successful")) /* "0 Errors, ..." */
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(markers); i++)
			bad |= strstr(line, markers[i]) != NULL;
	}
	fclose(f);
	return bad;
}

/*
 * Run iasl in dir (output in dir/iasl.log); true if it exited 0 and neither
 * its log nor the file it produced (`out`) reports a problem.
 */
static bool iasl_ok(const char *iasl, const char *dir, char *const argv[],
		    const char *out, bool quiet)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd;

		if (chdir(dir) < 0)
			_exit(126);
		fd = open("iasl.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		execv(iasl, argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return false;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    !iasl_complains(dir, "iasl.log") && !iasl_complains(dir, out))
		return true;
	if (!quiet)
		dump_log(dir);
	return false;
}

static bool iasl_disassemble_ok(const char *iasl, const char *dir, const char *name,
				const uint8_t *table, bool quiet)
{
	char dat[32], dsl[32];
	char *argv[] = { (char *)iasl, (char *)"-d", dat, NULL };

	snprintf(dat, sizeof(dat), "%s.dat", name);
	snprintf(dsl, sizeof(dsl), "%s.dsl", name);
	if (write_file(dir, dat, table, le32(table + 4)))
		return false;
	return iasl_ok(iasl, dir, argv, dsl, quiet);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/*
 * Disassemble each table with iasl (which checks lengths, checksums and
 * decodes every field and AML opcode), then recompile the DSDT's source and
 * require the same AML back: an independent encoder agreeing byte for byte.
 */
static int iasl_check(const uint8_t *const tables[], const char *const names[],
		      size_t nr, const uint8_t *dsdt)
{
	static bool self_tested;
	char dir[] = "/tmp/acpi-test-XXXXXX";
	char *argv[] = { NULL, (char *)"-oa", (char *)"dsdt.dsl", NULL };
	char *iasl, *aml = NULL;
	size_t aml_len = 0;
	int failed = 1;

	iasl = find_iasl();
	if (!iasl) {
		iasl_skipped = true;
		return 0;
	}
	if (!mkdtemp(dir)) {
		free(iasl);
		return 1;
	}
	if (!self_tested) {
		/* A table with a wrong checksum must be caught, or this proves nothing. */
		uint8_t bad[36];

		memcpy(bad, tables[0], sizeof(bad));
		bad[4] = sizeof(bad);
		bad[9]++;
		if (iasl_disassemble_ok(iasl, dir, "bad", bad, true)) {
			fprintf(stderr, "iasl did not notice a bad checksum\n");
			goto out;
		}
		self_tested = true;
	}
	for (size_t i = 0; i < nr; i++) {
		if (!iasl_disassemble_ok(iasl, dir, names[i], tables[i], false)) {
			fprintf(stderr, "iasl -d %s.dat failed\n", names[i]);
			goto out;
		}
		nr_checks_iasl++;
	}
	/* -oa: no optimisation, so iasl keeps our name paths as written. */
	argv[0] = iasl;
	if (!iasl_ok(iasl, dir, argv, "dsdt.aml", false)) {
		fprintf(stderr, "iasl could not recompile the DSDT\n");
		goto out;
	}
	aml = read_file(dir, "dsdt.aml", &aml_len);
	if (!aml || aml_len != le32(dsdt + 4) ||
	    memcmp(aml + 36, dsdt + 36, aml_len - 36) != 0) {
		fprintf(stderr, "recompiled DSDT differs from ours\n");
		goto out;
	}
	failed = 0;
out:
	if (getenv("ACPI_TEST_KEEP"))
		fprintf(stderr, "iasl files kept in %s\n", dir);
	else
		nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(aml);
	free(iasl);
	return failed;
}

/* The PCI part of the configuration as the VMM fills it from layout.h. */
static void pci_config(struct acpi_config *cfg, uint64_t ram_size)
{
	cfg->pci = true;
	cfg->pci_ecam_base = LAYOUT_PCI_ECAM_START;
	cfg->pci_ecam_size = LAYOUT_PCI_ECAM_SIZE;
	cfg->pci_mmio32_base = LAYOUT_PCI_MMIO32_START;
	cfg->pci_mmio32_size = LAYOUT_PCI_MMIO32_SIZE;
	layout_pci_mmio64(ram_size, &cfg->pci_mmio64_base, &cfg->pci_mmio64_size);
}

static int test_tables(uint32_t nr_vcpus, bool with_iasl, bool pci)
{
	struct acpi_config cfg = { .nr_vcpus = nr_vcpus };
	const uint8_t *rsdp, *xsdt, *fadt = NULL, *madt = NULL, *dsdt = NULL, *mcfg = NULL;
	struct guest_mem mem;
	uint64_t rsdp_gpa = 0;
	uint32_t xsdt_len;
	int r;

	if (pci)
		pci_config(&cfg, 8 * GiB);
	guest_mem_init(&mem, false);
	CHECK(guest_mem_add_region(&mem, 0, TEST_MEM_SIZE) == 0);
	r = acpi_build_tables(&mem, &cfg, &rsdp_gpa);
	if (r < 0) {
		fprintf(stderr, "acpi_build_tables(%u vCPUs): %s\n", nr_vcpus, strerror(-r));
		guest_mem_destroy(&mem);
		return 1;
	}
	CHECK(rsdp_gpa == LAYOUT_ACPI_START);

	rsdp = guest_mem_ptr(&mem, rsdp_gpa, 36);
	CHECK(rsdp && memcmp(rsdp, "RSD PTR ", 8) == 0);
	CHECK(acpi_checksum(rsdp, 20) == 0 && acpi_checksum(rsdp, 36) == 0);
	CHECK(rsdp[15] == 2 && le32(rsdp + 20) == 36 && memcmp(rsdp + 9, "NACELL", 6) == 0);

	xsdt = get_table(&mem, le64(rsdp + 24), "XSDT");
	CHECK(xsdt);
	xsdt_len = le32(xsdt + 4);
	CHECK((xsdt_len - 36) % 8 == 0);
	for (uint32_t off = 36; off < xsdt_len; off += 8) {
		uint64_t gpa = le64(xsdt + off);
		const uint8_t *t = guest_mem_ptr(&mem, gpa, 4);

		CHECK(t);
		if (memcmp(t, "FACP", 4) == 0)
			fadt = get_table(&mem, gpa, "FACP");
		else if (memcmp(t, "APIC", 4) == 0)
			madt = get_table(&mem, gpa, "APIC");
		else if (memcmp(t, "MCFG", 4) == 0)
			CHECK((mcfg = get_table(&mem, gpa, "MCFG")) != NULL);
		else
			CHECK(!"unexpected table in the XSDT");
	}
	CHECK(fadt && madt);
	CHECK(pci == (mcfg != NULL));
	CHECK(xsdt_len == 36 + 8 * (pci ? 3u : 2u));
	CHECK(check_fadt(&mem, fadt, &dsdt) == 0);
	CHECK(check_madt(madt, nr_vcpus) == 0);
	CHECK(check_dsdt(dsdt) == 0);
	CHECK(check_dsdt_pci(dsdt, &cfg) == 0);
	if (mcfg)
		CHECK(check_mcfg(mcfg, &cfg) == 0);
	if (with_iasl) {
		const uint8_t *const tables[] = { xsdt, fadt, madt, dsdt, mcfg };
		const char *const names[] = { "xsdt", "facp", "apic", "dsdt", "mcfg" };

		CHECK(iasl_check(tables, names, ARRAY_SIZE(tables) - !pci, dsdt) == 0);
	}
	guest_mem_destroy(&mem);
	return 0;
}

static int test_errors(void)
{
	struct acpi_config cfg = { .nr_vcpus = 0 };
	struct guest_mem mem;
	uint64_t rsdp = 0;

	guest_mem_init(&mem, false);
	CHECK(guest_mem_add_region(&mem, 0, TEST_MEM_SIZE) == 0);
	CHECK(acpi_build_tables(&mem, &cfg, &rsdp) == -EINVAL);
	cfg.nr_vcpus = 256; /* beyond the 8-bit xAPIC ids */
	CHECK(acpi_build_tables(&mem, &cfg, &rsdp) == -EINVAL);
	cfg.nr_vcpus = 255;
	CHECK(acpi_build_tables(&mem, &cfg, &rsdp) == 0 && rsdp == LAYOUT_ACPI_START);
	guest_mem_destroy(&mem);

	/* PCI settings the tables cannot describe */
	{
		static const struct {
			uint64_t ecam_base, ecam_size, m32_base, m32_size, m64_base, m64_size;
		} bad[] = {
			{ 0xe0000000, 0, 0xc0000000, 0x20000000, 0, 0 },	  /* no bus */
			{ 0xe0000000, 0x180000, 0xc0000000, 0x20000000, 0, 0 },  /* 1.5 buses */
			{ 0xe0080000, 0x100000, 0xc0000000, 0x20000000, 0, 0 },  /* misaligned */
			{ 0x100000000, 0x100000, 0xc0000000, 0x20000000, 0, 0 }, /* above 4G */
			{ 0xe0000000, 0x20000000, 0xc0000000, 0x20000000, 0, 0 },/* 512 buses */
			{ 0xe0000000, 0x100000, 0xc0000000, 0, 0, 0 },		  /* no window */
			{ 0xe0000000, 0x100000, 0xf0000000, 0x20000000, 0, 0 },  /* past 4G */
			{ 0xe0000000, 0x100000, 0xc0000000, 0x20000000, UINT64_MAX, 2 },
		};

		guest_mem_init(&mem, false);
		CHECK(guest_mem_add_region(&mem, 0, TEST_MEM_SIZE) == 0);
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			struct acpi_config c = {
				.nr_vcpus = 1, .pci = true,
				.pci_ecam_base = bad[i].ecam_base, .pci_ecam_size = bad[i].ecam_size,
				.pci_mmio32_base = bad[i].m32_base, .pci_mmio32_size = bad[i].m32_size,
				.pci_mmio64_base = bad[i].m64_base, .pci_mmio64_size = bad[i].m64_size,
			};

			if (acpi_build_tables(&mem, &c, &rsdp) != -EINVAL) {
				fprintf(stderr, "bad PCI config %zu accepted\n", i);
				return 1;
			}
		}
		guest_mem_destroy(&mem);
	}

	/* No RAM under the ACPI window: the write fails, nothing is returned. */
	guest_mem_init(&mem, false);
	CHECK(guest_mem_add_region(&mem, 0, 512 * KiB) == 0);
	rsdp = 0;
	cfg.nr_vcpus = 1;
	CHECK(acpi_build_tables(&mem, &cfg, &rsdp) == -EFAULT && rsdp == 0);
	guest_mem_destroy(&mem);
	return 0;
}

/* The 64-bit PCI window: above 4 GiB, above RAM, 1 GiB aligned. */
static int test_layout_pci(void)
{
	uint64_t start, size;

	layout_pci_mmio64(512 * MiB, &start, &size);
	CHECK(start == 4 * GiB && size == 64 * GiB);
	layout_pci_mmio64(3 * GiB, &start, &size);
	CHECK(start == 4 * GiB);
	layout_pci_mmio64(3 * GiB + 1, &start, &size);
	CHECK(start == 5 * GiB);
	layout_pci_mmio64(8 * GiB, &start, &size);
	CHECK(start == 9 * GiB);
	layout_pci_mmio64(8 * GiB + 4096, &start, &size);
	CHECK(start == 10 * GiB);
	CHECK(LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE == LAYOUT_PCI_ECAM_START);
	return 0;
}

int main(void)
{
	CHECK(test_pkg_length() == 0);
	CHECK(test_integers() == 0);
	CHECK(test_names() == 0);
	CHECK(test_eisaid() == 0);
	CHECK(test_objects() == 0);
	CHECK(test_resources() == 0);
	CHECK(test_layout_pci() == 0);
	CHECK(test_tables(1, true, false) == 0);
	CHECK(test_tables(1, true, true) == 0);
	CHECK(test_tables(4, true, true) == 0);
	CHECK(test_tables(254, true, true) == 0);
	CHECK(test_errors() == 0);
	if (iasl_skipped)
		printf("acpi-test: ok (iasl not found, disassembly check skipped)\n");
	else
		printf("acpi-test: ok (%u tables checked by iasl)\n", nr_checks_iasl);
	return 0;
}
