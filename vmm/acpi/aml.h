/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small AML (ACPI Machine Language) byte-code builder, enough for the DSDT
 * of a microVM: names, integers, strings, packages, scopes, devices, simple
 * methods and resource templates. Modelled on Cloud Hypervisor's
 * acpi_tables::aml, but as a byte stream written front to back.
 *
 * Errors are sticky: every call on a builder that has failed (out of memory,
 * an invalid name, unbalanced nesting) does nothing, and aml_finish() reports
 * the first error. That keeps the DSDT code a straight list of calls.
 *
 * Objects whose encoding starts with their own length (Scope, Device, Method,
 * Package, Buffer) are opened with *_begin(), which returns a mark, filled
 * with their contents, and closed with aml_end() (or aml_resource_end() for
 * a resource template), which inserts the PkgLength once the size is known.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"

/* The largest PkgLength: 28 bits (4-byte encoding). */
#define AML_PKG_LENGTH_MAX 0x0fffffffu
/* Nesting depth of open objects; a DSDT needs a handful. */
#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err;			  /* first error (negative errno), sticky */
	unsigned int depth;		  /* currently open objects */
	size_t open[AML_MAX_DEPTH];	  /* where each one's PkgLength goes */
};

/* Address space resource types (ACPI 6.3, 6.4.3.5, "Resource Type"). */
enum aml_addr_type {
	AML_ADDR_MEMORY = 0,
	AML_ADDR_IO = 1,
	AML_ADDR_BUS = 2,
};

/* Type-specific flags for AML_ADDR_MEMORY (_RW bit 0, _MEM bits 2:1). */
#define AML_MEM_READ_WRITE 0x01
#define AML_MEM_CACHEABLE (1 << 1)
#define AML_MEM_PREFETCHABLE (3 << 1)
/* Type-specific flags for AML_ADDR_IO: _RNG = whole range. */
#define AML_IO_RANGE_ENTIRE 0x03

/* A window a bridge decodes: [min, max] on the parent side, + translation. */
struct aml_addr {
	enum aml_addr_type type;
	uint8_t type_flags;
	uint64_t min;
	uint64_t max;
	uint64_t translation;
};

void aml_init(struct aml *a);
/* Frees the buffer; accepts a builder that failed. */
void aml_free(struct aml *a);
/*
 * Checks the builder is complete (nothing left open) and returns 0 with the
 * bytes in *ret_data / *ret_len (still owned by the builder), or the first
 * error.
 */
int aml_finish(struct aml *a, const uint8_t **ret_data, size_t *ret_len) _wur_;

/* Raw bytes and single opcodes, for what has no helper yet. */
void aml_append(struct aml *a, const void *data, size_t len);
void aml_byte(struct aml *a, uint8_t b);

/* Data objects. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);
/* "\\_SB_.PCI0", "_S5_", "^FOO"; segments shorter than 4 are '_'-padded. */
void aml_namestring(struct aml *a, const char *path);

/* Name (path, <next object>): the caller appends the value. */
void aml_name(struct aml *a, const char *path);
void aml_name_integer(struct aml *a, const char *path, uint64_t v);
void aml_name_eisaid(struct aml *a, const char *path, const char *id);
void aml_name_string(struct aml *a, const char *path, const char *s);

/* Containers, closed by aml_end(). */
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *path);
/* Method (path, nargs, NotSerialized/Serialized) { ... } */
void aml_method_begin(struct aml *a, const char *path, unsigned int nargs,
		      bool serialized);
/* Package (nr_elements) { ... }: the caller appends nr_elements objects. */
void aml_package_begin(struct aml *a, uint8_t nr_elements);
void aml_end(struct aml *a);

/* Return (<next object>) */
void aml_return(struct aml *a);
/* Notify (path, value) */
void aml_notify(struct aml *a, const char *path, uint64_t value);

/*
 * ResourceTemplate () { ... }: a Buffer of resource descriptors. Close it
 * with aml_resource_end(), which adds the end tag and the buffer size.
 */
void aml_resource_begin(struct aml *a);
void aml_resource_end(struct aml *a);
/* IO (Decode16, min, max, alignment, length) */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t alignment,
		uint8_t length);
/* IRQNoFlags () { irq }: ISA IRQ 0-15, edge triggered, active high. */
void aml_res_irq_noflags(struct aml *a, unsigned int irq);
/* Interrupt (ResourceConsumer, Edge|Level, ActiveHigh|Low, Exclusive) { gsi } */
void aml_res_interrupt(struct aml *a, uint32_t gsi, bool edge, bool active_low);
/* Memory32Fixed (ReadWrite, base, length) */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t length);
/*
 * WordAddress/DWordAddress/QWordAddress descriptors: a window a bridge
 * produces (ResourceProducer, MinFixed, MaxFixed, PosDecode), as a PCI host
 * bridge's _CRS lists them. Length is max - min + 1.
 */
void aml_res_word_address(struct aml *a, const struct aml_addr *w);
void aml_res_dword_address(struct aml *a, const struct aml_addr *w);
void aml_res_qword_address(struct aml *a, const struct aml_addr *w);

/* Encodings exposed for the unit test. */
/* Bytes of PkgLength for a body of body_len bytes (0 if too large). */
size_t aml_pkg_length_size(size_t body_len);
/* EISA id "PNP0501" -> 0x0105D041 as stored; -EINVAL if malformed. */
int aml_eisaid_value(const char *id, uint32_t *ret) _wur_;
