// Record checksums: CRC-32C (Castagnoli) for RecordBatch v2, CRC-32 (IEEE) for MessageSet v0/v1.
//
// Every function takes a previous result as `crc`, so a checksum can be built over pieces:
// crc32c(b, nb, crc32c(a, na)) == crc32c(a followed by b). Start with 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ws::protocol {

// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once, then cached), otherwise
// the portable table-driven code. This is the one to call.
uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc = 0);

// Table-driven slicing-by-8; runs anywhere.
uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc = 0);

// SSE4.2 crc32 instruction. Call only if crc32c_hardware_available(); on non-x86 builds it is the
// portable code.
uint32_t crc32c_hardware(const uint8_t* data, size_t n, uint32_t crc = 0);
bool crc32c_hardware_available();

// CRC-32 (IEEE 802.3, as in zlib and gzip), used by MessageSet v0/v1.
uint32_t crc32_ieee(const uint8_t* data, size_t n, uint32_t crc = 0);

}  // namespace ws::protocol
