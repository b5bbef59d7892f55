#pragma once
// Internal: the records the reader helper (reader_main.cpp, xgrad-read) sends its parent
// (isolate.cpp) over a pipe. Both ends are built from this tree for this machine, so numbers go
// in native byte order. A stream is a sequence of records, each a tag byte and its fields, ending
// with kEnd:
//   kItem      dataset or attribute: u8 where (0 dataset, 1 attribute), str name, str error;
//              no error: u8 class, u32 element size, u8 signed, str type text, u8 null space,
//              u32 rank, u64 dims[rank], u8 has data; with data: u64 count + str each (strings)
//              or u64 bytes + the raw values (numbers, native order)
//   kName      a link of the root group: str name, u8 kind (0 dataset, 1 group, 2 other)
//   kError     the file as a whole could not be read: str text ("cannot open as HDF5: ...")
//   kMemory    u64 bytes: reading needs more memory than the limit allows
//   kImage     u32 width, u32 height, u32 channels, u64 bytes, the pixels
//   kHeader    (stream mode) u64 examples, u64 features, u32 rank, u64 dims[rank] of one example
//   kBatch     (stream mode) u64 n, n·features bytes (feature-major: byte i·n + j is value i of the
//              j-th example asked for), n int64 labels
// In stream mode the parent's requests are u64 n + n u64 example indices; each is answered by one
// kBatch, kError or kMemory record (no kEnd).
// (str = u32 length + bytes). The reader of a stream trusts no length: every one is checked
// against what was received.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace xgrad::io::wire {

enum Tag : std::uint8_t { kItem = 'I', kName = 'N', kError = 'E', kMemory = 'M', kImage = 'P', kHeader = 'H', kBatch = 'B', kEnd = 'Z' };
enum Class : std::uint8_t { kInteger = 0, kFloat = 1, kString = 2, kOther = 3 };

class Writer {
public:
    std::vector<unsigned char> buf;
    void raw(const void* p, std::size_t n) {
        const auto* c = static_cast<const unsigned char*>(p);
        buf.insert(buf.end(), c, c + n);
    }
    void u8(std::uint8_t v) { buf.push_back(v); }
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void u64(std::uint64_t v) { raw(&v, sizeof v); }
    void str(const std::string& s) {
        u32(std::uint32_t(s.size()));
        raw(s.data(), s.size());
    }
    // n bytes at the end of the buffer, to be filled in place (a dataset read straight into it)
    unsigned char* grow(std::size_t n) {
        buf.resize(buf.size() + n);
        return buf.data() + buf.size() - n;
    }
};

class Reader {
public:
    Reader(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}
    bool ok() const { return ok_; }
    bool done() const { return at_ == n_; }
    std::uint8_t u8() {
        std::uint8_t v = 0;
        take(&v, 1);
        return v;
    }
    std::uint32_t u32() {
        std::uint32_t v = 0;
        take(&v, sizeof v);
        return v;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        take(&v, sizeof v);
        return v;
    }
    std::string str() {
        const std::uint32_t len = u32();
        if (!ok_ || len > n_ - at_) return fail(), std::string();
        std::string s(reinterpret_cast<const char*>(p_ + at_), len);
        at_ += len;
        return s;
    }
    // `len` bytes as received, or false (nothing allocated) when fewer are left
    bool bytes(std::uint64_t len, std::vector<unsigned char>& out) {
        if (!ok_ || len > n_ - at_) return fail(), false;
        out.assign(p_ + at_, p_ + at_ + len);
        at_ += std::size_t(len);
        return true;
    }
    std::size_t left() const { return n_ - at_; }

private:
    void fail() { ok_ = false; }
    void take(void* v, std::size_t len) {
        if (!ok_ || len > n_ - at_) return fail();
        std::memcpy(v, p_ + at_, len);
        at_ += len;
    }
    const unsigned char* p_;
    std::size_t n_, at_ = 0;
    bool ok_ = true;
};

}  // namespace xgrad::io::wire
