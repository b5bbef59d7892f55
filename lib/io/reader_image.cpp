// xgrad-read's images (see reader_main.cpp): a JPEG, PNG or BMP decoded by stb_image, its size
// checked against the budget before stb allocates, every refusal saying the format and the reason.

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "reader.hpp"
#include "xgrad/io/text.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
// Only the formats a user's photo comes in: fewer decoders, less attack surface.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
// stb rejects anything wider or taller than this before allocating (its default is 2^24).
#define STBI_MAX_DIMENSIONS (1 << 16)
// Zeroed allocations: stb 2.27 decodes some damaged JPEGs through Huffman tables it allocated and
// never filled (valgrind: uninitialised values used as indices); zeroed, they are empty.
#define STBI_MALLOC(size) std::calloc(1, (size))
#define STBI_REALLOC(p, size) std::realloc((p), (size))
#define STBI_FREE(p) std::free(p)
#include <stb/stb_image.h>

namespace xgrad::io::reader {

namespace {

// stb's reason, control characters escaped (it quotes bytes of the file)
std::string reason() {
    const char* why = stbi_failure_reason();
    return printable(why && *why ? why : "unknown reason");
}

// Decoded pixels (a 67-megapixel photo, 268 MB as RGBA): stb allocates w·h·4 before decoding, so a
// flipped bit in a PNG/JPEG size field must not reach it.
constexpr std::uint64_t kMaxPixels = std::uint64_t(1) << 26;

// The format by its signature ("" when none of those built in), for the messages.
std::string format_of(const std::vector<unsigned char>& b) {
    auto starts = [&](std::initializer_list<unsigned char> sig) {
        return b.size() >= sig.size() && std::equal(sig.begin(), sig.end(), b.begin());
    };
    if (starts({0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) return "PNG";
    if (starts({0xff, 0xd8, 0xff})) return "JPEG";
    if (starts({'B', 'M'})) return "BMP";
    return "";
}

// A PNG's size from its IHDR chunk (the first chunk, at byte 16: width, height, big-endian), for
// the message when stb refuses the header before reporting a size (it calls a PNG too large as
// "unknown image type" when asked for the size only).
bool png_size(const std::vector<unsigned char>& b, std::uint64_t& width, std::uint64_t& height) {
    if (b.size() < 24 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) return false;
    auto be32 = [&](std::size_t at) {
        return std::uint64_t(b[at]) << 24 | std::uint64_t(b[at + 1]) << 16 | std::uint64_t(b[at + 2]) << 8 | b[at + 3];
    };
    width = be32(16), height = be32(20);
    return true;
}

}  // namespace

void read_image(wire::Writer& w, const std::string& file, int channels) {
    std::vector<unsigned char> bytes;
    {
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0) {
            w.u8(wire::kError), w.str("no such file");
            return;
        }
        need(std::uint64_t(st.st_size));
        std::FILE* fp = std::fopen(file.c_str(), "rb");
        if (!fp) {
            w.u8(wire::kError), w.str(std::string("cannot open it (") + std::strerror(errno) + ")");
            return;
        }
        bytes.resize(std::size_t(st.st_size));
        bytes.resize(std::fread(bytes.data(), 1, bytes.size(), fp));
        std::fclose(fp);
    }
    const std::string format = format_of(bytes);
    if (format.empty()) {
        w.u8(wire::kError), w.str("not a JPEG, PNG or BMP image (" +
                                  std::string(bytes.empty() ? "the file is empty" : "none of their signatures") + ")");
        return;
    }
    const std::string fail = "cannot read as a " + format + " image (";
    auto too_many = [&](std::int64_t iw, std::int64_t ih) {
        w.u8(wire::kError), w.str(fail + "its header says " + std::to_string(iw) + "x" + std::to_string(ih) +
                                  " pixels, more than the " + std::to_string(kMaxPixels) + " an image may have)");
    };
    if (bytes.size() > 0x7fffffff) {
        w.u8(wire::kError), w.str(fail + "more than 2 GiB)");
        return;
    }
    const int len = int(bytes.size());
    int iw = 0, ih = 0, in = 0;
    if (!stbi_info_from_memory(bytes.data(), len, &iw, &ih, &in)) {
        std::uint64_t pw = 0, ph = 0;
        if (format == "PNG" && png_size(bytes, pw, ph) && pw * ph > kMaxPixels) return too_many(std::int64_t(pw), std::int64_t(ph));
        // stb's reason when asked for the size only is "unknown image type" whatever the cause;
        // decoding says what it is (it stops at the same header; the limits still apply)
        stbi_uc* img = stbi_load_from_memory(bytes.data(), len, &iw, &ih, &in, channels);
        if (img) stbi_image_free(img);
        if (!img && g_limited && reason() == "outofmem") throw TooBig{0};
        w.u8(wire::kError), w.str(fail + (img ? "its header cannot be read" : reason()) + ")");
        return;
    }
    // a BMP stored top-down says so with a negative height
    if (format == "BMP" && ih < 0 && ih != INT_MIN) ih = -ih;
    if (iw <= 0 || ih <= 0) {
        w.u8(wire::kError), w.str(fail + "its header says " + std::to_string(iw) + "x" + std::to_string(ih) + " pixels)");
        return;
    }
    if (std::uint64_t(iw) * std::uint64_t(ih) > kMaxPixels) return too_many(iw, ih);
    need(std::uint64_t(iw) * std::uint64_t(ih) * 4);
    int dw = 0, dh = 0;
    stbi_uc* img = stbi_load_from_memory(bytes.data(), len, &dw, &dh, &in, channels);
    // stb's "outofmem" is a refused allocation, which a damaged length also causes (a chunk claiming
    // gigabytes): memory only under an inherited limit below ours, else the file's reason
    if (!img && g_limited && reason() == "outofmem") throw TooBig{0};
    if (!img) {
        w.u8(wire::kError), w.str(fail + reason() + ")");
        return;
    }
    if (dw != iw || dh != ih) {
        stbi_image_free(img);
        w.u8(wire::kError), w.str(fail + "the header says " + std::to_string(iw) + "x" + std::to_string(ih) +
                                  ", the data " + std::to_string(dw) + "x" + std::to_string(dh) + ")");
        return;
    }
    const std::uint64_t n = std::uint64_t(dw) * std::uint64_t(dh) * std::uint64_t(channels);
    w.u8(wire::kImage), w.u32(std::uint32_t(dw)), w.u32(std::uint32_t(dh)), w.u32(std::uint32_t(channels));
    w.u64(n);
    w.raw(img, std::size_t(n));
    stbi_image_free(img);
}

}  // namespace xgrad::io::reader
