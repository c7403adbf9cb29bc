// Record checksums: CRC-32C (Castagnoli) for RecordBatch v2, CRC-32 (IEEE, as in zlib and gzip) for
// MessageSet v0/v1. Writers and readers call crc32c() and crc32_ieee().
//
// Every function takes a previous result as `crc`, so a checksum can be built over pieces:
// crc32c(b, nb, crc32c(a, na)) == crc32c(a followed by b). Start with 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ws::protocol {

// ISA-L's crc32_gzip_refl and crc32_iscsi, except CRC-32C below 256 bytes, where the built-in
// SSE4.2 code is faster (bench/crc_bench.cpp). 10x zlib's CRC-32 on a 100-byte record.
// Built with -DWS_PORTABLE_CRC=ON: crc32c_builtin() and crc32_zlib().
uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc = 0);
uint32_t crc32_ieee(const uint8_t* data, size_t n, uint32_t crc = 0);

// The CRC-32C of a message after `n` of its bytes changed from `before` to `after`, given the
// message's CRC-32C `crc` before the change and the number of bytes that follow the changed ones.
// Costs a few dozen nanoseconds whatever the message's length: a CRC is linear, so the new CRC is
// the old one plus the CRC of the difference moved past `bytes_following` zero bytes. That is what
// restamping a 110 KB RecordBatch (16 bytes of timestamps) needs instead of 2 µs of checksumming.
uint32_t crc32c_patch(uint32_t crc, const uint8_t* before, const uint8_t* after, size_t n,
                      size_t bytes_following);

// Which code crc32c() and crc32_ieee() run, for reports.
const char* crc_implementation();

// ---- The portable implementations, built in every configuration ----------------------------------
// They are the -DWS_PORTABLE_CRC=ON path, and the tests run the same vectors through them and
// through crc32c()/crc32_ieee() in one run.

// The SSE4.2 code when the CPU has it (checked once, then cached), otherwise the table code.
uint32_t crc32c_builtin(const uint8_t* data, size_t n, uint32_t crc = 0);

// Table-driven slicing-by-8; runs anywhere.
uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc = 0);

// SSE4.2 crc32 instruction, three lanes. Call only if crc32c_hardware_available(); on non-x86
// builds it is the table code.
uint32_t crc32c_hardware(const uint8_t* data, size_t n, uint32_t crc = 0);
bool crc32c_hardware_available();

// zlib's crc32_z.
uint32_t crc32_zlib(const uint8_t* data, size_t n, uint32_t crc = 0);

}  // namespace ws::protocol
