#pragma once
// Internal: a user's file is read by the helper program xgrad-read (reader_main.cpp) in a process
// of its own, with a memory and a time limit, and its contents come back over a pipe. A crash,
// hang or refused allocation there is one DataError naming the file here; the HDF5 library and
// stb_image never see a damaged file inside the program itself.
//
// The helper is found from the directory of the loaded libxgrad_io.so: XGRAD_READER_RELPATH (set
// by CMake from LIBDIR and LIBEXECDIR, "../libexec/xgrad/xgrad-read" by default) in an installed
// prefix, ../libexec/xgrad/xgrad-read in the build tree; the environment variable XGRAD_READER
// names another one.
//
// Limits (the environment overrides them, for files bigger than these allow):
//   memory  XGRAD_READ_MEMORY_MIB, default 256 MiB + 16 x the file's size, at most half the
//           machine's memory (and never less than 256 MiB): the data a file holds is at most its
//           size unless it is compressed, and 16-fold covers what gzip makes of trained weights
//           and images; a bigger request is refused before anything is allocated
//   time    XGRAD_READ_SECONDS, default 30 s + 1 s per 10 MiB of file (wall-clock; the helper's
//           processor time is limited to the same as a backstop)
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wire.hpp"

namespace xgrad::io::isolated {

// One dataset or attribute as the helper found it.
struct Item {
    std::string name;
    std::string error;  // not empty: it could not be read ("cannot open dataset 'W1': <cause>")
    wire::Class cls = wire::kOther;
    std::uint32_t size = 0;  // bytes per element
    bool is_signed = false;
    std::string type;  // "uint8", "float64", "string", "compound", ...
    bool null_space = false;
    std::vector<std::uint64_t> dims;  // rank 0: a scalar (or nothing, for a null space)
    bool has_data = false;
    std::vector<unsigned char> bytes;  // numbers in native byte order
    std::vector<std::string> strings;

    std::uint64_t count() const;  // elements
    std::vector<double> doubles() const;  // numbers, converted (exactly for all but 64-bit integers)
    std::vector<long long> ints() const;  // integers (unsigned 64-bit values beyond long long saturate)
};

struct Contents {
    std::string file;
    std::map<std::string, Item> datasets, attributes;
    std::vector<std::pair<std::string, int>> links;  // the root group's: name, 0 dataset / 1 group / 2 other
};

struct Request {
    bool attributes = false;     // the root group's attributes
    bool links = false;          // the root group's links
    bool all_datasets = false;   // every dataset at the root
    bool shapes_only = false;    // types and shapes, no values
    std::vector<std::string> datasets;
};

// Reads what `r` asks for from HDF5 file `file`. A missing dataset is simply absent; a file that
// is not one, or not HDF5, or damaged beyond reading, is a DataError "<file>: <why>".
Contents read_h5(const std::string& file, const Request& r);

struct Picture {
    std::size_t width = 0, height = 0, channels = 0;
    std::vector<std::uint8_t> pixels;  // height·width·channels, C order
};
// Decodes a JPEG, PNG or BMP to `channels` (1..4).
Picture read_image(const std::string& file, int channels);

// The limits the helper gets for a file of `file_bytes` (see above).
struct Limits {
    std::uint64_t memory = 0;  // bytes
    unsigned seconds = 0;
};
Limits limits_for(std::uint64_t file_bytes);

// How a failed read ends its message: "the file is damaged" — unless this process runs under an
// address-space limit (ulimit -v) below what the helper may use (it inherits the lower one), when
// the limit, not the file, may be the cause: then the message says that, with both sizes.
std::string failure_cause(const Limits& lim);
// For a read refused for memory: "" normally, else " (the address-space limit of this process,
// ulimit -v, is N MiB: raise it)".
std::string memory_limit_note(const Limits& lim);

// The helper's path; "" when it cannot be found (`why` says where it looked).
std::string reader_path(std::string* why = nullptr);

// For readers of their own (stream.cpp): `file` must be a readable, non-empty regular file (a
// DataError "<file>: ..." otherwise, `what` said for an empty one); returns its limits.
Limits check_file(const std::string& file, const std::string& what);
// Starts the helper with `args` after its limits, its stdin `in_fd` (-1: /dev/null) and its
// stdout `out_fd`; returns its pid (the caller reaps it). A DataError naming `file` when it
// cannot be started.
int start_reader(const std::string& file, const Limits& lim, std::vector<std::string> args, int in_fd, int out_fd);
// "SIGSEGV" for SIGSEGV
std::string signal_name(int sig);

}  // namespace xgrad::io::isolated
