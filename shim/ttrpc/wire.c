/* SPDX-License-Identifier: Apache-2.0 */
#include "ttrpc/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE])
{
	put_be32(out, h->length);
	put_be32(out + 4, h->stream_id);
	out[8] = h->type;
	out[9] = h->flags;
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], struct ttrpc_header *ret)
{
	ret->length = get_be32(in);
	ret->stream_id = get_be32(in + 4);
	ret->type = in[8];
	ret->flags = in[9];
}

void ttrpc_reader_init(struct ttrpc_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->state = TTRPC_READER_HEADER;
}

void ttrpc_reader_destroy(struct ttrpc_reader *r)
{
	free(r->payload);
	ttrpc_reader_init(r);
}

int ttrpc_reader_feed(struct ttrpc_reader *r, const uint8_t *data, size_t len, size_t *consumed,
		      struct ttrpc_header *ret_hdr, uint8_t **ret_payload)
{
	size_t off = 0, n;

	while (off < len) {
		switch (r->state) {
		case TTRPC_READER_HEADER:
			n = MIN(len - off, TTRPC_HEADER_SIZE - r->have);
			memcpy(r->hdr_buf + r->have, data + off, n);
			r->have += n;
			off += n;
			if (r->have < TTRPC_HEADER_SIZE)
				break;
			ttrpc_header_decode(r->hdr_buf, &r->hdr);
			r->have = 0;
			if (r->hdr.length > TTRPC_MESSAGE_LENGTH_MAX) {
				r->discard_left = r->hdr.length;
				r->state = TTRPC_READER_DISCARD;
				*ret_hdr = r->hdr;
				*consumed = off;
				return TTRPC_READ_OVERSIZE;
			}
			if (r->hdr.length == 0) {
				*ret_hdr = r->hdr;
				*ret_payload = NULL;
				*consumed = off;
				return TTRPC_READ_FRAME;
			}
			r->payload = malloc(r->hdr.length);
			if (!r->payload)
				return -ENOMEM;
			r->state = TTRPC_READER_PAYLOAD;
			break;
		case TTRPC_READER_PAYLOAD:
			n = MIN(len - off, r->hdr.length - r->have);
			memcpy(r->payload + r->have, data + off, n);
			r->have += n;
			off += n;
			if (r->have < r->hdr.length)
				break;
			*ret_hdr = r->hdr;
			*ret_payload = TAKE_PTR(r->payload);
			r->have = 0;
			r->state = TTRPC_READER_HEADER;
			*consumed = off;
			return TTRPC_READ_FRAME;
		case TTRPC_READER_DISCARD:
			n = MIN(len - off, (size_t)r->discard_left);
			r->discard_left -= n;
			off += n;
			if (r->discard_left == 0)
				r->state = TTRPC_READER_HEADER;
			break;
		}
	}
	*consumed = off;
	return TTRPC_READ_MORE;
}

static int frame_alloc(uint32_t stream_id, enum ttrpc_msg_type type, size_t payload_len,
		       uint8_t **ret)
{
	struct ttrpc_header h = {
		.length = (uint32_t)payload_len,
		.stream_id = stream_id,
		.type = type,
	};
	uint8_t *buf;

	if (payload_len > TTRPC_MESSAGE_LENGTH_MAX)
		return -EMSGSIZE;
	buf = malloc(TTRPC_HEADER_SIZE + payload_len);
	if (!buf)
		return -ENOMEM;
	ttrpc_header_encode(&h, buf);
	*ret = buf;
	return 0;
}

int ttrpc_frame_pack(uint32_t stream_id, enum ttrpc_msg_type type, const ProtobufCMessage *msg,
		     uint8_t **ret, size_t *ret_len)
{
	size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	uint8_t *buf;
	int r;

	r = frame_alloc(stream_id, type, n, &buf);
	if (r < 0)
		return r;
	if (msg)
		protobuf_c_message_pack(msg, buf + TTRPC_HEADER_SIZE);
	*ret = buf;
	*ret_len = TTRPC_HEADER_SIZE + n;
	return 0;
}

int ttrpc_request_decode(const uint8_t *data, size_t len, Ttrpc__Request **ret,
			 struct error *err)
{
	Ttrpc__Request *req;

	req = ttrpc__request__unpack(NULL, len, data);
	if (!req)
		return error_set(err, -EINVAL, "unmarshal request error: invalid protobuf");
	if (!req->service || !req->service[0] || !req->method || !req->method[0]) {
		ttrpc__request__free_unpacked(req, NULL);
		return error_set(err, -EINVAL, "unmarshal request error: no service or method");
	}
	*ret = req;
	return 0;
}

const char *ttrpc_request_metadata(const Ttrpc__Request *req, const char *key)
{
	for (size_t i = 0; i < req->n_metadata; i++) {
		const Ttrpc__KeyValue *kv = req->metadata[i];

		if (kv && kv->key && strcasecmp(kv->key, key) == 0)
			return kv->value;
	}
	return NULL;
}

int ttrpc_response_pack(uint32_t stream_id, enum ttrpc_code code, const char *message,
			const uint8_t *payload, size_t payload_len, uint8_t **ret,
			size_t *ret_len)
{
	Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;

	/* ttrpc-go always sets the status, OK included. */
	status.code = code;
	status.message = (char *)(message ? message : "");
	resp.status = &status;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = payload ? payload_len : 0;
	return ttrpc_frame_pack(stream_id, TTRPC_MSG_RESPONSE, &resp.base, ret, ret_len);
}

enum ttrpc_code ttrpc_code_from_errno(int e)
{
	switch (e) {
	case 0:
		return TTRPC_OK;
	case -EINVAL:
		return TTRPC_INVALID_ARGUMENT;
	case -ENOENT:
	case -ESRCH:
		return TTRPC_NOT_FOUND;
	case -EEXIST:
		return TTRPC_ALREADY_EXISTS;
	case -EBUSY:
	case -EALREADY:
		return TTRPC_FAILED_PRECONDITION;
	case -ENOSYS:
	case -EOPNOTSUPP:
		return TTRPC_UNIMPLEMENTED;
	case -ETIMEDOUT:
		return TTRPC_DEADLINE_EXCEEDED;
	case -EIO:
		return TTRPC_INTERNAL;
	case -EMSGSIZE:
		return TTRPC_RESOURCE_EXHAUSTED;
	case -EPERM:
	case -EACCES:
		return TTRPC_PERMISSION_DENIED;
	case -ECANCELED:
		return TTRPC_CANCELLED;
	case -ENOTCONN:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EPIPE:
	case -ESHUTDOWN:
		return TTRPC_UNAVAILABLE;
	default:
		return TTRPC_UNKNOWN;
	}
}

int ttrpc_code_to_errno(enum ttrpc_code code)
{
	switch (code) {
	case TTRPC_OK:
		return 0;
	case TTRPC_CANCELLED:
		return -ECANCELED;
	case TTRPC_INVALID_ARGUMENT:
	case TTRPC_OUT_OF_RANGE:
		return -EINVAL;
	case TTRPC_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case TTRPC_NOT_FOUND:
		return -ENOENT;
	case TTRPC_ALREADY_EXISTS:
		return -EEXIST;
	case TTRPC_PERMISSION_DENIED:
	case TTRPC_UNAUTHENTICATED:
		return -EPERM;
	case TTRPC_RESOURCE_EXHAUSTED:
		return -EMSGSIZE;
	case TTRPC_FAILED_PRECONDITION:
	case TTRPC_ABORTED:
		return -EBUSY;
	case TTRPC_UNIMPLEMENTED:
		return -EOPNOTSUPP;
	case TTRPC_UNAVAILABLE:
		return -ENOTCONN;
	case TTRPC_UNKNOWN:
	case TTRPC_INTERNAL:
	case TTRPC_DATA_LOSS:
	default:
		return -EIO;
	}
}

static const char *const code_names[] = {
	[TTRPC_OK] = "OK",
	[TTRPC_CANCELLED] = "CANCELLED",
	[TTRPC_UNKNOWN] = "UNKNOWN",
	[TTRPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[TTRPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[TTRPC_NOT_FOUND] = "NOT_FOUND",
	[TTRPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[TTRPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[TTRPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[TTRPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[TTRPC_ABORTED] = "ABORTED",
	[TTRPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[TTRPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[TTRPC_INTERNAL] = "INTERNAL",
	[TTRPC_UNAVAILABLE] = "UNAVAILABLE",
	[TTRPC_DATA_LOSS] = "DATA_LOSS",
	[TTRPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *ttrpc_code_to_string(enum ttrpc_code code)
{
	if ((unsigned)code >= ARRAY_SIZE(code_names))
		return "CODE_UNKNOWN";
	return code_names[code];
}

int ttrpc_address_parse(const char *address, struct sockaddr_un *ret, socklen_t *ret_len)
{
	const char *path = address;
	bool abstract = false;
	size_t n;

	if (!address || !address[0])
		return -EINVAL;
	if (strncmp(address, "unix://", 7) == 0)
		path = address + 7;
	else if (address[0] != '/')
		abstract = true;
	n = strlen(path);
	/* Room for the NUL of a path, or the leading NUL of an abstract name. */
	if (n == 0 || n + 1 > sizeof(ret->sun_path))
		return -ENAMETOOLONG;
	memset(ret, 0, sizeof(*ret));
	ret->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(ret->sun_path + 1, path, n);
		*ret_len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	} else {
		memcpy(ret->sun_path, path, n);
		*ret_len = offsetof(struct sockaddr_un, sun_path) + n + 1;
	}
	return 0;
}
