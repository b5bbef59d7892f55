// Reading a user's image for a model: stb_image decodes, stb_image_resize scales.
//
// This translation unit holds the library's only copy of stb_image and stb_image_resize. Both are
// compiled `static` (STB_IMAGE_STATIC, STB_IMAGE_RESIZE_STATIC): libxgrad.so exports none of their
// symbols, so a program that links its own stb (models/ does, for stb_image_write) cannot clash
// with ours. Debian's libstb-dev ships the headers under <stb/...>, in the default include path;
// nothing needs to be linked (its libstb.a is not used).

#include "xgrad/io/io.hpp"
#include "text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_STATIC
// Only the formats a user's photo comes in: fewer decoders, less attack surface.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
// Reading goes through our own buffer (see load_image): stb needs no stdio.
#define STBI_NO_STDIO
// stb rejects anything wider or taller than this before allocating (its default is 2^24).
#define STBI_MAX_DIMENSIONS (1 << 16)
// Zeroed allocations: with some damaged JPEGs (a scan naming a Huffman table that was never
// defined) stb 2.27 decodes through tables it allocated and never filled; valgrind reported
// "use of uninitialised value of size 8" (used as an index) in stbi__jpeg_decode_block on 5 of
// 180 bit-flipped progressive/baseline JPEGs. Zeroed memory makes those tables empty, not random.
#define STBI_MALLOC(size) std::calloc(1, (size))
#define STBI_REALLOC(p, size) std::realloc((p), (size))
#define STBI_FREE(p) std::free(p)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace xgrad::io {

namespace {

// Limits that turn a damaged or hostile header into an error instead of a huge allocation.
// A file bigger than this is not a photo for a 64x64 classifier.
constexpr std::size_t kMaxFileBytes = std::size_t(256) << 20;
// Decoded pixels (a 67-megapixel photo, 268 MB as RGBA): stb allocates w·h·4 before decoding, so
// a flipped bit in a PNG/JPEG size field must not reach it.
constexpr std::size_t kMaxPixels = std::size_t(1) << 26;
// The requested size: a model's input image.
constexpr std::size_t kMaxSide = std::size_t(1) << 16;
constexpr std::size_t kMaxOutputBytes = std::size_t(1) << 28;

// stb keeps its failure reason in a global, and its decoders are not documented as re-entrant.
std::mutex& stb_mutex() {
    static std::mutex m;
    return m;
}

std::vector<unsigned char> read_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw DataError(path + ": no such file");
    if (!S_ISREG(st.st_mode)) throw DataError(path + ": not a regular file");
    if (::access(path.c_str(), R_OK) != 0) throw DataError(path + ": not readable (permission)");
    if (st.st_size == 0) throw DataError(path + ": cannot read as a JPEG or PNG image (empty file)");
    if (std::size_t(st.st_size) > kMaxFileBytes)
        throw DataError(path + ": cannot read as a JPEG or PNG image (the file has " +
                        std::to_string(st.st_size) + " bytes, more than the " +
                        std::to_string(kMaxFileBytes >> 20) + " MiB an image may have)");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw DataError(path + ": cannot open: " + std::strerror(errno));
    std::vector<unsigned char> bytes(std::size_t(st.st_size));
    const std::size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    // A file that shrank between stat and read is read as what is there (stb reports truncation).
    bytes.resize(got);
    if (bytes.empty()) throw DataError(path + ": cannot read as a JPEG or PNG image (empty file)");
    return bytes;
}

// Debian's stb_image 2.27 trusts the code counts of a JPEG Huffman table (a DHT segment): more
// than 256 codes overflow its tables (UBSan in the sanitizer build, on bit-flipped and zero-filled
// JPEGs: "index 257 out of bounds for type 'unsigned char [257]'" in stbi__build_huffman, and the
// code values that follow are written past the table as well). stb 2.28 rejects such a table; here
// every DHT segment stb would read is checked first, walking the segments as stb does: a header
// segment by its length, entropy-coded data up to the next marker, tables read on past a
// segment's end (zeros past the end of the file) as stb reads them. "" when nothing is wrong.
std::string jpeg_huffman_problem(const std::vector<unsigned char>& b) {
    const std::size_t n = b.size();
    auto at = [&](std::size_t i) -> unsigned { return i < n ? b[i] : 0; };
    if (n < 2 || b[0] != 0xFF || b[1] != 0xD8) return "";  // not a JPEG: stb decides
    std::size_t i = 2;
    while (i + 1 < n) {
        if (b[i] != 0xFF) {  // entropy-coded data or junk: on to the next marker
            ++i;
            continue;
        }
        const unsigned m = b[i + 1];
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // stuffed 0xFF, TEM, RSTn, SOI
            i += 2;
            continue;
        }
        if (m == 0xD9) break;  // end of image
        const std::size_t len = (at(i + 2) << 8) | at(i + 3);
        if (m == 0xC4) {
            long left = long(len) - 2;
            std::size_t p = i + 4;
            while (left > 0) {
                unsigned codes = 0;
                for (std::size_t k = 1; k <= 16; ++k) codes += at(p + k);
                if (codes > 256)
                    return "a Huffman table of " + std::to_string(codes) + " codes, more than 256";
                p += 17 + codes;
                left -= long(17 + codes);
            }
            if (left != 0) break;  // stb stops at a table that does not fill its segment exactly
        }
        i += 2 + len;
    }
    return "";
}

// A PNG whose first IDAT chunks are empty: stb 2.27 then copies 0 bytes into its not yet
// allocated buffer, memcpy(NULL, ..., 0), which UBSan reports (nonnull-attribute; seen on
// zero-filled PNGs). Empty IDAT chunks add nothing to the image data, so they are dropped.
void drop_leading_empty_idat(std::vector<unsigned char>& b) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (b.size() < 8 || std::memcmp(b.data(), sig, 8) != 0) return;
    std::size_t p = 8;
    while (p + 12 <= b.size()) {
        const std::size_t len = (std::size_t(b[p]) << 24) | (std::size_t(b[p + 1]) << 16) |
                                (std::size_t(b[p + 2]) << 8) | b[p + 3];
        const bool idat = std::memcmp(&b[p + 4], "IDAT", 4) == 0;
        if (idat && len == 0) {
            b.erase(b.begin() + long(p), b.begin() + long(p + 12));
            continue;
        }
        if (idat || std::memcmp(&b[p + 4], "IEND", 4) == 0 || len > b.size() - p - 12) return;
        p += 12 + len;
    }
}

// stb's reason, control characters escaped: for an unknown PNG chunk it quotes the chunk's four
// bytes from the file, a '\n' among them once broke the one-line message.
std::string reason() {
    const char* why = stbi_failure_reason();
    return printable(why && *why ? why : "unknown reason");
}

}  // namespace

std::vector<std::uint8_t> load_image(const std::string& path, std::size_t height,
                                     std::size_t width, std::size_t channels) {
    if (channels < 1 || channels > 4)
        throw UsageError(path + ": images can be read with 1 to 4 channels, not " +
                         std::to_string(channels));
    if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide ||
        height * width * channels > kMaxOutputBytes)
        throw UsageError(path + ": cannot resize an image to " + std::to_string(width) + "x" +
                         std::to_string(height) + "x" + std::to_string(channels));
    std::vector<unsigned char> bytes = read_file(path);
    drop_leading_empty_idat(bytes);
    const int len = int(bytes.size());  // <= kMaxFileBytes < INT_MAX

    std::vector<std::uint8_t> out(height * width * channels);
    if (const std::string why = jpeg_huffman_problem(bytes); !why.empty())
        throw DataError(path + ": cannot read as a JPEG or PNG image (corrupt JPEG: " + why + ")");
    const std::lock_guard<std::mutex> lock(stb_mutex());
    // The header first: its size decides whether decoding may allocate at all.
    int iw = 0, ih = 0, in = 0;
    if (!stbi_info_from_memory(bytes.data(), len, &iw, &ih, &in))
        throw DataError(path + ": cannot read as a JPEG or PNG image (" + reason() + ")");
    if (iw <= 0 || ih <= 0 || std::size_t(iw) * std::size_t(ih) > kMaxPixels)
        throw DataError(path + ": cannot read as a JPEG or PNG image (its header says " +
                        std::to_string(iw) + "x" + std::to_string(ih) + " pixels, more than " +
                        std::to_string(kMaxPixels) + ")");
    const int c = int(channels);
    int dw = 0, dh = 0;
    stbi_uc* img = stbi_load_from_memory(bytes.data(), len, &dw, &dh, &in, c);
    if (!img) throw DataError(path + ": cannot read as a JPEG or PNG image (" + reason() + ")");
    if (dw != iw || dh != ih) {
        stbi_image_free(img);
        throw DataError(path + ": cannot read as a JPEG or PNG image (the header says " +
                        std::to_string(iw) + "x" + std::to_string(ih) + ", the data " +
                        std::to_string(dw) + "x" + std::to_string(dh) + ")");
    }
    bool ok = true;
    if (std::size_t(dw) == width && std::size_t(dh) == height)
        std::memcpy(out.data(), img, out.size());
    else
        ok = stbir_resize_uint8(img, dw, dh, 0, out.data(), int(width), int(height), 0, c) != 0;
    stbi_image_free(img);
    if (!ok)
        throw DataError(path + ": cannot resize the image from " + std::to_string(dw) + "x" +
                        std::to_string(dh) + " to " + std::to_string(width) + "x" +
                        std::to_string(height));
    return out;
}

}  // namespace xgrad::io
