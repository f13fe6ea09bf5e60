#include "wire.h"

void cut_wire_header_put(uint8_t *out, int32_t schema_id)
{
    uint32_t id = (uint32_t)schema_id;
    out[0] = CUT_WIRE_MAGIC;
    out[1] = (uint8_t)(id >> 24);
    out[2] = (uint8_t)(id >> 16);
    out[3] = (uint8_t)(id >> 8);
    out[4] = (uint8_t)id;
}

int cut_wire_header_get(const void *buf, size_t len, int32_t *schema_id, const uint8_t **payload,
                        struct cut_err *err)
{
    const uint8_t *p = buf;
    if (len < CUT_WIRE_HEADER_SIZE) {
        return cut_err_set(err, CUT_EINVAL,
                           "value of %zu bytes is shorter than the 5-byte wire format header", len);
    }
    if (p[0] != CUT_WIRE_MAGIC) {
        return cut_err_set(err, CUT_EINVAL, "wire format magic byte is %u, expected 0",
                           (unsigned)p[0]);
    }
    *schema_id = (int32_t)(((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) |
                           (uint32_t)p[4]);
    *payload = p + CUT_WIRE_HEADER_SIZE;
    return CUT_OK;
}
