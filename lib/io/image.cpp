// Reading a user's image for a model: the helper xgrad-read decodes it with stb_image in a process
// of its own (isolate.hpp), stb_image_resize scales it here.
//
// This translation unit holds the library's only copy of stb_image_resize (the helper has the only
// stb_image), compiled `static` (STB_IMAGE_RESIZE_STATIC): libxgrad_io.so exports none of its
// symbols, so a program that links its own stb (models/ does, for stb_image_write) cannot clash
// with ours. Debian's libstb-dev ships the headers under <stb/...>; nothing needs to be linked.

#include "xgrad/io/io.hpp"
#include "isolate.hpp"
#include "xgrad/io/text.hpp"

#include <cstring>
#include <sys/stat.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_STATIC
#include <stb/stb_image_resize.h>

namespace xgrad::io {

namespace {

// A file bigger than this is not a photo for a 64x64 classifier.
constexpr std::size_t kMaxFileBytes = std::size_t(256) << 20;
// The requested size: a model's input image.
constexpr std::size_t kMaxSide = std::size_t(1) << 16;
constexpr std::size_t kMaxOutputBytes = std::size_t(1) << 28;

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
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && std::size_t(st.st_size) > kMaxFileBytes)
        throw DataError(path + ": cannot read as a JPEG, PNG or BMP image (the file has " +
                        std::to_string(st.st_size) + " bytes, more than the " +
                        std::to_string(kMaxFileBytes >> 20) + " MiB an image may have)");
    const isolated::Picture p = isolated::read_image(path, int(channels));
    std::vector<std::uint8_t> out(height * width * channels);
    if (p.width == width && p.height == height) {
        std::memcpy(out.data(), p.pixels.data(), out.size());
    } else if (!stbir_resize_uint8(p.pixels.data(), int(p.width), int(p.height), 0, out.data(), int(width),
                                   int(height), 0, int(channels))) {
        throw DataError(path + ": cannot resize the image from " + std::to_string(p.width) + "x" +
                        std::to_string(p.height) + " to " + std::to_string(width) + "x" + std::to_string(height));
    }
    return out;
}

}  // namespace xgrad::io
