#pragma once
// What the two parts of the helper xgrad-read share (reader_main.cpp: the limits, HDF5 and the
// stream mode; reader_image.cpp: images through stb_image): the memory budget and its refusal.

#include <cstdint>
#include <string>

#include "wire.hpp"

namespace xgrad::io::reader {

// An allocation the budget refuses (bytes: its size; 0 when the system refused it).
struct TooBig {
    std::uint64_t bytes;
};

// The budget in bytes (the command line's MEMORY_BYTES).
extern std::uint64_t g_limit;
// The address space is an inherited limit below the one this helper was given: an allocation
// refused is then the limit's doing more likely than a damaged size's.
extern bool g_limited;

// Throws TooBig when `bytes` exceed the budget.
void need(std::uint64_t bytes);

// Decodes a JPEG, PNG or BMP to `channels`: a kImage record, or kError with the reason.
void read_image(wire::Writer& w, const std::string& file, int channels);

}  // namespace xgrad::io::reader
