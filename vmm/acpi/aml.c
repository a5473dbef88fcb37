/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AML byte-code builder. Encodings follow ACPI 6.3 chapter 20 ("ACPI Machine
 * Language Specification") and, for resource descriptors, 6.4 ("Resource
 * Data Types for ACPI").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"

/* Opcodes (ACPI 6.3, 20.3 "AML Byte Stream Byte Values"). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX_CHAR 0x5e
#define AML_RETURN_OP 0xa4
#define AML_NOTIFY_OP 0x86
#define AML_EXT_DEVICE_OP 0x82

/* Resource descriptor tags (ACPI 6.3, 6.4.2 and 6.4.3). */
#define AML_RES_IRQ_NOFLAGS 0x22  /* small, type 4, length 2 */
#define AML_RES_IO 0x47		  /* small, type 8, length 7 */
#define AML_RES_END_TAG 0x79	  /* small, type 15, length 1 */
#define AML_RES_MEMORY32_FIXED 0x86
#define AML_RES_DWORD_ADDRESS 0x87
#define AML_RES_WORD_ADDRESS 0x88
#define AML_RES_EXT_INTERRUPT 0x89
#define AML_RES_QWORD_ADDRESS 0x8a

/* Address descriptor general flags: producer, _MIF, _MAF, positive decode. */
#define AML_ADDR_GENERAL_FIXED_PRODUCER 0x0c

#define AML_NAME_SEG_SIZE 4
#define AML_INTEGER_MAX_SIZE 9

/* What an open mark on the nesting stack belongs to, so aml_end() pairs up. */
#define AML_OPEN_RESOURCE ((size_t)1 << (sizeof(size_t) * 8 - 1))

static void aml_fail(struct aml *a, int err)
{
	if (a->err == 0)
		a->err = err;
}

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	if (!a)
		return;
	free(a->buf);
	aml_init(a);
}

/* Make room for n more bytes; false (and the builder failed) if not. */
static bool aml_reserve(struct aml *a, size_t n)
{
	size_t cap;
	uint8_t *buf;

	if (a->err)
		return false;
	if (n <= a->cap - a->len)
		return true;
	if (n > AML_PKG_LENGTH_MAX - a->len) {
		/* Nothing this large can be described by a PkgLength anyway. */
		aml_fail(a, -E2BIG);
		return false;
	}
	cap = MAX(a->cap * 2, (size_t)256);
	while (cap - a->len < n)
		cap *= 2;
	buf = realloc(a->buf, cap);
	if (!buf) {
		aml_fail(a, -ENOMEM);
		return false;
	}
	a->buf = buf;
	a->cap = cap;
	return true;
}

void aml_append(struct aml *a, const void *data, size_t len)
{
	if (!aml_reserve(a, len))
		return;
	memcpy(a->buf + a->len, data, len);
	a->len += len;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_append(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_append(a, b, n);
}

/* Insert bytes at pos, for a length only known once the contents are. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *data, size_t len)
{
	if (!aml_reserve(a, len))
		return;
	memmove(a->buf + pos + len, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, data, len);
	a->len += len;
}

int aml_finish(struct aml *a, const uint8_t **ret_data, size_t *ret_len)
{
	if (a->err == 0 && a->depth != 0)
		aml_fail(a, -EINVAL); /* an object was never closed */
	if (a->err)
		return a->err;
	*ret_data = a->buf;
	*ret_len = a->len;
	return 0;
}

/*
 * PkgLength counts its own bytes. One byte holds up to 63; longer lengths
 * put the byte count - 1 in bits 7:6 of the lead byte, the low nibble in
 * bits 3:0, and the rest in up to three following bytes.
 */
size_t aml_pkg_length_size(size_t body_len)
{
	static const uint32_t limit[] = { 0, 1u << 6, 1u << 12, 1u << 20, 1u << 28 };

	for (size_t n = 1; n < ARRAY_SIZE(limit); n++)
		if (body_len < limit[n] - n)
			return n;
	return 0;
}

static size_t aml_pkg_length_encode(size_t body_len, uint8_t out[4])
{
	size_t n = aml_pkg_length_size(body_len);
	size_t total = body_len + n;

	if (n == 1) {
		out[0] = (uint8_t)total;
	} else if (n > 1) {
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	return n;
}

static size_t aml_integer_encode(uint64_t v, uint8_t out[AML_INTEGER_MAX_SIZE])
{
	size_t n;

	if (v == 0) {
		out[0] = AML_ZERO_OP;
		return 1;
	}
	if (v == 1) {
		out[0] = AML_ONE_OP;
		return 1;
	}
	/* OnesOp is avoided: its value depends on the DSDT revision. */
	if (v <= UINT8_MAX) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= UINT16_MAX) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= UINT32_MAX) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[AML_INTEGER_MAX_SIZE];

	aml_append(a, b, aml_integer_encode(v, b));
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x7f) {
			/* AML strings are 7-bit ASCII. */
			aml_fail(a, -EINVAL);
			return;
		}
	aml_byte(a, AML_STRING_PREFIX);
	aml_append(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * EISA ids pack three letters into 5 bits each ('A' = 1) and a 16-bit
 * product number, big-endian; AML stores the result as a little-endian
 * DWord, so the compressed vendor id comes first in memory.
 */
int aml_eisaid_value(const char *id, uint32_t *ret)
{
	uint32_t v = 0;

	if (strlen(id) != 7)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0)
			return -EINVAL;
		v |= (uint32_t)d << (4 * (6 - i));
	}
	*ret = __builtin_bswap32(v);
	return 0;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v;
	int r;

	r = aml_eisaid_value(id, &v);
	if (r < 0) {
		aml_fail(a, r);
		return;
	}
	/* Always a DWord, as iasl's EISAID() does, whatever the value. */
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, v, 4);
}

static bool name_char_ok(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !first && c >= '0' && c <= '9';
}

/* Validate one segment of up to 4 chars and append it, '_'-padded. */
static const char *aml_name_seg(struct aml *a, const char *p)
{
	char seg[AML_NAME_SEG_SIZE] = { '_', '_', '_', '_' };
	size_t n = 0;

	for (; *p && *p != '.'; p++, n++) {
		if (n == AML_NAME_SEG_SIZE || !name_char_ok(*p, n == 0)) {
			aml_fail(a, -EINVAL);
			return NULL;
		}
		seg[n] = *p;
	}
	if (n == 0) {
		aml_fail(a, -EINVAL);
		return NULL;
	}
	aml_append(a, seg, sizeof(seg));
	return p;
}

void aml_namestring(struct aml *a, const char *path)
{
	size_t nr_segs = 1;
	const char *p = path;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		for (; *p == '^'; p++)
			aml_byte(a, AML_PARENT_PREFIX_CHAR);
	}
	if (*p == '\0') {
		aml_byte(a, AML_ZERO_OP); /* NullName: "\" alone is the root */
		return;
	}
	for (const char *q = p; *q; q++)
		nr_segs += *q == '.';
	if (nr_segs > UINT8_MAX) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (nr_segs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nr_segs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nr_segs);
	}
	for (size_t i = 0; i < nr_segs && p; i++) {
		if (i > 0)
			p++; /* the '.' */
		p = aml_name_seg(a, p);
	}
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, path);
}

void aml_name_integer(struct aml *a, const char *path, uint64_t v)
{
	aml_name(a, path);
	aml_integer(a, v);
}

void aml_name_eisaid(struct aml *a, const char *path, const char *id)
{
	aml_name(a, path);
	aml_eisaid(a, id);
}

void aml_name_string(struct aml *a, const char *path, const char *s)
{
	aml_name(a, path);
	aml_string(a, s);
}

/* Remember where the PkgLength of the object just started goes. */
static void aml_open(struct aml *a, size_t kind)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		aml_fail(a, -E2BIG);
		return;
	}
	a->open[a->depth++] = a->len | kind;
}

static bool aml_close(struct aml *a, size_t kind, size_t *ret_mark)
{
	size_t mark;

	if (a->err)
		return false;
	if (a->depth == 0) {
		aml_fail(a, -EINVAL);
		return false;
	}
	mark = a->open[--a->depth];
	if ((mark & AML_OPEN_RESOURCE) != kind) {
		aml_fail(a, -EINVAL); /* aml_end() for a resource template or back */
		return false;
	}
	*ret_mark = mark & ~AML_OPEN_RESOURCE;
	return true;
}

static void aml_insert_pkg_length(struct aml *a, size_t mark)
{
	uint8_t b[4];
	size_t n = aml_pkg_length_encode(a->len - mark, b);

	if (n == 0) {
		aml_fail(a, -E2BIG);
		return;
	}
	aml_insert(a, mark, b, n);
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, 0);
	aml_namestring(a, path);
}

void aml_device_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	aml_open(a, 0);
	aml_namestring(a, path);
}

void aml_method_begin(struct aml *a, const char *path, unsigned int nargs,
		      bool serialized)
{
	if (nargs > 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_METHOD_OP);
	aml_open(a, 0);
	aml_namestring(a, path);
	/* MethodFlags: ArgCount in bits 2:0, SerializeFlag bit 3, SyncLevel 0. */
	aml_byte(a, (uint8_t)(nargs | (serialized ? 0x08 : 0)));
}

void aml_package_begin(struct aml *a, uint8_t nr_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, 0);
	aml_byte(a, nr_elements);
}

void aml_end(struct aml *a)
{
	size_t mark;

	if (aml_close(a, 0, &mark))
		aml_insert_pkg_length(a, mark);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

void aml_notify(struct aml *a, const char *path, uint64_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, path);
	aml_integer(a, value);
}

void aml_resource_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, AML_OPEN_RESOURCE);
}

void aml_resource_end(struct aml *a)
{
	uint8_t size[AML_INTEGER_MAX_SIZE];
	size_t mark;

	/* End tag; checksum 0 means "treat the template as valid". */
	aml_byte(a, AML_RES_END_TAG);
	aml_byte(a, 0);
	if (!aml_close(a, AML_OPEN_RESOURCE, &mark))
		return;
	/* Buffer := BufferOp PkgLength BufferSize ByteList */
	aml_insert(a, mark, size, aml_integer_encode(a->len - mark, size));
	aml_insert_pkg_length(a, mark);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t alignment,
		uint8_t length)
{
	aml_byte(a, AML_RES_IO);
	aml_byte(a, 0x01); /* Decode16: the device decodes all 16 address bits */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_byte(a, alignment);
	aml_byte(a, length);
}

void aml_res_irq_noflags(struct aml *a, unsigned int irq)
{
	if (irq >= 16) {
		aml_fail(a, -EINVAL); /* a 16-bit mask of ISA IRQs */
		return;
	}
	aml_byte(a, AML_RES_IRQ_NOFLAGS);
	aml_le(a, 1u << irq, 2);
}

void aml_res_interrupt(struct aml *a, uint32_t gsi, bool edge, bool active_low)
{
	aml_byte(a, AML_RES_EXT_INTERRUPT);
	aml_le(a, 6, 2);
	/* Consumer (bit 0), edge (bit 1), active low (bit 2), exclusive. */
	aml_byte(a, (uint8_t)(0x01 | (edge ? 0x02 : 0) | (active_low ? 0x04 : 0)));
	aml_byte(a, 1); /* one interrupt in the table */
	aml_le(a, gsi, 4);
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t length)
{
	aml_byte(a, AML_RES_MEMORY32_FIXED);
	aml_le(a, 9, 2);
	aml_byte(a, 0x01); /* read/write */
	aml_le(a, base, 4);
	aml_le(a, length, 4);
}

/*
 * Word/DWord/QWord address space descriptors share one layout with fields of
 * `width` bytes: tag, length, type, general flags, type flags, then
 * granularity, min, max, translation offset, length.
 */
static void aml_res_address(struct aml *a, uint8_t tag, size_t width,
			    const struct aml_addr *w)
{
	uint64_t limit = width == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;
	uint64_t len;

	if (w->min > w->max || w->max > limit || w->translation > limit ||
	    w->max - w->min == UINT64_MAX || w->max - w->min + 1 > limit) {
		aml_fail(a, -ERANGE);
		return;
	}
	len = w->max - w->min + 1;
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2);
	aml_byte(a, (uint8_t)w->type);
	aml_byte(a, AML_ADDR_GENERAL_FIXED_PRODUCER);
	aml_byte(a, w->type_flags);
	aml_le(a, 0, width); /* granularity: fixed windows need none */
	aml_le(a, w->min, width);
	aml_le(a, w->max, width);
	aml_le(a, w->translation, width);
	aml_le(a, len, width);
}

void aml_res_word_address(struct aml *a, const struct aml_addr *w)
{
	aml_res_address(a, AML_RES_WORD_ADDRESS, 2, w);
}

void aml_res_dword_address(struct aml *a, const struct aml_addr *w)
{
	aml_res_address(a, AML_RES_DWORD_ADDRESS, 4, w);
}

void aml_res_qword_address(struct aml *a, const struct aml_addr *w)
{
	aml_res_address(a, AML_RES_QWORD_ADDRESS, 8, w);
}
