// Guarded reading and writing of HDF5 files (see h5.hpp). The guards below run before HDF5 1.10
// acts on what a damaged file says; each names the crash or hang it prevents.
#include "h5.hpp"
#include "text.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace xgrad::io::h5 {

// The switch is per thread in a thread-safe HDF5 build (Debian's is): each thread turns it off.
void silence_hdf5() {
    thread_local const bool once = [] {
        H5::Exception::dontPrint();
        return true;
    }();
    (void)once;
}


// The innermost message of HDF5's error stack ("truncated file: eof = ...") says far more than the
// C++ wrapper's "H5Fopen failed"; it must be read before any other HDF5 call clears the stack.
std::string hdf5_cause(const H5::Exception& e) {
    std::string inner;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
            if (n == 0 && err && err->desc) *static_cast<std::string*>(out) = err->desc;
            return 0;
        },
        &inner);
    if (!inner.empty()) return printable(inner);
    return printable(e.getDetailMsg());
}

std::string shape_text(const std::vector<hsize_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
    return s + "]";
}

// HDF5 1.10 cannot convert every number type a damaged file can describe: an int64 attribute
// whose stored precision a bit flip had set to 0 crashed the loader with SIGBUS in
//   H5Aread -> H5T_convert -> H5T__conv_i_f -> H5T__bit_get_d -> H5T__bit_copy
// (tests/test_damaged.cpp, a fuzzing run of 15000 files). Numbers are therefore read only from
// the standard types (8-64 bit two's complement integers, IEEE floats, either byte order), which
// HDF5 compares property by property without converting anything.
bool standard_number(const H5::DataType& t) {
    const hid_t id = t.getId();
    const hid_t standard[] = {
        H5T_STD_I8LE,  H5T_STD_I8BE,  H5T_STD_U8LE,  H5T_STD_U8BE,  H5T_STD_I16LE, H5T_STD_I16BE,
        H5T_STD_U16LE, H5T_STD_U16BE, H5T_STD_I32LE, H5T_STD_I32BE, H5T_STD_U32LE, H5T_STD_U32BE,
        H5T_STD_I64LE, H5T_STD_I64BE, H5T_STD_U64LE, H5T_STD_U64BE, H5T_IEEE_F32LE, H5T_IEEE_F32BE,
        H5T_IEEE_F64LE, H5T_IEEE_F64BE};
    for (hid_t s : standard)
        if (H5Tequal(id, s) > 0) return true;
    return false;
}

// A readable name for an HDF5 element type: "uint8", "int64", "float32", "string".
std::string type_text(const H5::DataType& t) {
    const std::size_t bits = t.getSize() * 8;
    const char* odd = standard_number(t) ? "" : " of a non-standard bit layout (damaged?)";
    switch (t.getClass()) {
        case H5T_INTEGER: {
            const H5::IntType it(t.getId());
            return std::string(it.getSign() == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits) + odd;
        }
        case H5T_FLOAT: return "float" + std::to_string(bits) + odd;
        case H5T_STRING: return "string";
        case H5T_COMPOUND: return "compound";
        case H5T_ENUM: return "enum";
        case H5T_ARRAY: return "array";
        default: return "a non-numeric type";
    }
}

H5::H5File open_for_reading(const std::string& file) {
    silence_hdf5();
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) throw DataError(file + ": no such file");
    // (a FIFO or device would block or stream: HDF5 needs a file it can seek in)
    if (!S_ISREG(st.st_mode)) throw DataError(file + ": not a regular file");
    if (::access(file.c_str(), R_OK) != 0) throw DataError(file + ": not readable (permission)");
    if (st.st_size == 0) throw DataError(file + ": not an HDF5 file (the file is empty)");
    const bool hdf5 = h5_step(file, "cannot check the file type",
                              [&] { return H5::H5File::isHdf5(file.c_str()); });
    if (!hdf5) throw DataError(file + ": not an HDF5 file (no HDF5 signature)");
    return h5_step(file, "cannot open as HDF5",
                   [&] { return H5::H5File(file.c_str(), H5F_ACC_RDONLY); });
}

// Validation messages name the file, the dataset and what was expected vs found.
[[noreturn]] void bad(const std::string& file, const std::string& dataset,
                      const std::string& expected, const std::string& found) {
    throw DataError(file + ": dataset '" + dataset + "': expected " + expected + ", found " +
                    found);
}

H5::Group open_root(const H5::H5File& f, const std::string& file) {
    const H5::Group root = h5_step(file, "cannot open the root group", [&] { return f.openGroup("/"); });
    H5O_info_t info{};
    if (H5Oget_info2(root.getId(), &info, H5O_INFO_BASIC) >= 0)
        precheck_header(file, "the root group", info.addr);
    return root;
}

H5::DataSet open_dataset(const H5::H5File& f, const std::string& file, const std::string& name) {
    const bool exists = h5_step(file, "cannot look up dataset '" + name + "'",
                                [&] { return f.nameExists(name); });
    if (!exists) bad(file, name, "a dataset of that name", "none (missing)");
    // its object header is checked before HDF5 decodes it (a lookup that fails here fails in
    // openDataSet too, with HDF5's reason)
    H5O_info_t info{};
    if (H5Oget_info_by_name2(f.getId(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
        info.type == H5O_TYPE_DATASET)
        precheck_header(file, "dataset '" + name + "'", info.addr);
    return h5_step(file, "cannot open dataset '" + name + "'",
                   [&] { return f.openDataSet(name); });
}

std::vector<hsize_t> dims_of(const H5::DataSpace& sp) {
    const int rank = sp.getSimpleExtentNdims();
    std::vector<hsize_t> d(rank > 0 ? std::size_t(rank) : 0);
    if (rank > 0) sp.getSimpleExtentDims(d.data());
    return d;
}

// ---- guards against damage before HDF5 or the loader acts on a stored size ---------------------

// The dimensions of a dataset or attribute. A dimension beyond the stored maximum is damage that
// HDF5 1.10 does not notice: one flipped bit made a [5,6,5,3] chunked dataset [5,6,5,1048579]
// (maximum still 3), and H5Dread then walked 1.7 million chunk selections for minutes.
std::vector<hsize_t> dims_in(const std::string& file, const std::string& what, const H5::DataSpace& sp) {
    const int rank = sp.getSimpleExtentNdims();
    std::vector<hsize_t> d(rank > 0 ? std::size_t(rank) : 0), max(d.size());
    if (rank > 0) sp.getSimpleExtentDims(d.data(), max.data());
    for (std::size_t i = 0; i < d.size(); ++i)
        if (max[i] != H5S_UNLIMITED && d[i] > max[i])
            throw DataError(file + ": " + what + ": dimension " + std::to_string(i) + " is " +
                            std::to_string(d[i]) + ", more than its stored maximum " +
                            std::to_string(max[i]) + " (damaged)");
    return d;
}

// a·b, or an error when a damaged size makes it overflow
std::size_t times(const std::string& file, const std::string& name, std::size_t a, std::size_t b) {
    if (b != 0 && a > std::numeric_limits<std::size_t>::max() / b)
        bad(file, name, "a size that fits in memory", std::to_string(a) + " x " + std::to_string(b));
    return a * b;
}

std::size_t checked_product(const std::string& file, const std::string& name,
                            const std::vector<hsize_t>& d) {
    std::size_t n = 1;
    for (hsize_t v : d) n = times(file, name, n, std::size_t(v));
    return n;
}

namespace {

// contiguous, chunked or compact (H5D_LAYOUT_ERROR when HDF5 cannot tell)
H5D_layout_t layout_of(hid_t dataset) {
    H5D_layout_t layout = H5D_LAYOUT_ERROR;
    if (const hid_t pl = H5Dget_create_plist(dataset); pl >= 0) {
        layout = H5Pget_layout(pl);
        H5Pclose(pl);
    }
    return layout;
}

std::uint64_t file_size(const std::string& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? std::uint64_t(st.st_size) : 0;
}

// Data of a chunked (compressed) or compact dataset may legitimately expand beyond the file's
// size; past this many bytes it is taken for a damaged size, not allocated.
constexpr std::uint64_t kMaxExpandedBytes = std::uint64_t(1) << 30;

// ---- reading a file's bytes directly, for checks before HDF5 reads them ---------------------------

class RawFile {
public:
    explicit RawFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY)) {
        struct stat st {};
        if (fd_ >= 0 && ::fstat(fd_, &st) == 0) size_ = std::uint64_t(st.st_size);
    }
    ~RawFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawFile(const RawFile&) = delete;
    RawFile& operator=(const RawFile&) = delete;
    bool ok() const { return fd_ >= 0; }
    std::uint64_t size() const { return size_; }
    // `len` bytes at `off`, or false when they are not all in the file
    bool read(std::uint64_t off, void* buf, std::size_t len) const {
        if (off > size_ || len > size_ - off) return false;
        auto* p = static_cast<unsigned char*>(buf);
        while (len > 0) {
            const ssize_t n = ::pread(fd_, p, len, off_t(off));
            if (n <= 0) return false;
            p += n, off += std::uint64_t(n), len -= std::size_t(n);
        }
        return true;
    }
    std::vector<unsigned char> bytes(std::uint64_t off, std::size_t len) const {
        std::vector<unsigned char> b(len);
        if (!read(off, b.data(), len)) b.clear();
        return b;
    }

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

std::uint64_t le(const unsigned char* p, unsigned n) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= std::uint64_t(p[i]) << (8 * i);
    return v;
}

struct Superblock {
    std::uint64_t base = 0;  // where the superblock is: file addresses count from here
    unsigned addr_size = 8, len_size = 8;
};

bool find_superblock(const RawFile& f, Superblock& sb) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (std::uint64_t at = 0; at + 16 <= f.size(); at = at ? at * 2 : 512) {
        unsigned char h[16];
        if (!f.read(at, h, sizeof h)) return false;
        if (std::memcmp(h, sig, 8) != 0) continue;
        sb.base = at;
        const bool v01 = h[8] <= 1;
        sb.addr_size = v01 ? h[13] : h[9];
        sb.len_size = v01 ? h[14] : h[10];
        auto valid = [](unsigned n) { return n == 2 || n == 4 || n == 8; };
        return valid(sb.addr_size) && valid(sb.len_size);
    }
    return false;
}

// ---- the size a deflate (zlib) stream inflates to, without inflating it ---------------------------
// HDF5 1.10 trusts a compressed chunk to inflate to exactly its nominal size: one that inflates to
// less (a damaged chunk dimension, within the dataset's bounds) is copied out as if it were whole,
// reading past the inflated buffer (valgrind: invalid reads in H5D__select_read -> H5VM_memcpyvv;
// large chunks crash). Counting the inflated bytes needs only the codes, not the data.
class InflateCounter {
public:
    InflateCounter(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}

    // The inflated size of a zlib stream (RFC 1950/1951); -1 when it is not one, -2 when it
    // inflates to more than `limit`.
    long long size(std::uint64_t limit) {
        if (n_ < 2 || (p_[0] & 0x0F) != 8 || ((p_[0] << 8) | p_[1]) % 31 != 0 || (p_[1] & 0x20))
            return -1;
        pos_ = 2;
        std::uint64_t out = 0;
        for (bool last = false; !last;) {
            int v = bits(1);
            if (v < 0) return -1;
            last = v == 1;
            const int type = bits(2);
            if (type == 0) {  // stored: byte-aligned LEN, NLEN, LEN bytes
                bitcnt_ = 0, bitbuf_ = 0;
                if (n_ - pos_ < 4) return -1;
                const unsigned len = p_[pos_] | (p_[pos_ + 1] << 8);
                const unsigned nlen = p_[pos_ + 2] | (p_[pos_ + 3] << 8);
                if ((len ^ 0xFFFFu) != nlen || n_ - pos_ - 4 < len) return -1;
                pos_ += 4 + len;
                out += len;
            } else if (type == 1 || type == 2) {
                Code lit, dist;
                if (type == 1 ? !fixed(lit, dist) : !dynamic(lit, dist)) return -1;
                if (!codes(lit, dist, out, limit)) return out > limit ? -2 : -1;
            } else {
                return -1;
            }
            if (out > limit) return -2;
        }
        return (long long)out;
    }

private:
    struct Code {  // canonical Huffman code: how many codes of each length, symbols in code order
        std::uint16_t count[16] = {};
        std::vector<std::uint16_t> symbol;
    };

    int bits(int need) {
        while (bitcnt_ < need) {
            if (pos_ >= n_) return -1;
            bitbuf_ |= std::uint32_t(p_[pos_++]) << bitcnt_;
            bitcnt_ += 8;
        }
        const int v = int(bitbuf_ & ((1u << need) - 1));
        bitbuf_ >>= need;
        bitcnt_ -= need;
        return v;
    }

    // The next symbol of `h` (codes are stored most significant bit first), or -1.
    int decode(const Code& h) {
        int code = 0, first = 0, index = 0;
        for (int len = 1; len <= 15; ++len) {
            const int b = bits(1);
            if (b < 0) return -1;
            code |= b;
            const int count = h.count[len];
            if (code - count < first) return h.symbol[std::size_t(index + (code - first))];
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        return -1;
    }

    // Builds `h` from code lengths; false for an over-subscribed set.
    static bool build(Code& h, const std::uint8_t* length, int n) {
        for (int i = 0; i < n; ++i) ++h.count[length[i]];
        h.count[0] = 0;
        int left = 1;
        for (int len = 1; len <= 15; ++len) {
            left = (left << 1) - h.count[len];
            if (left < 0) return false;
        }
        std::uint16_t offs[16] = {};
        for (int len = 1; len < 15; ++len) offs[len + 1] = std::uint16_t(offs[len] + h.count[len]);
        h.symbol.assign(std::size_t(n), 0);
        for (int i = 0; i < n; ++i)
            if (length[i]) h.symbol[offs[length[i]]++] = std::uint16_t(i);
        return true;
    }

    static bool fixed(Code& lit, Code& dist) {
        std::uint8_t l[288];
        for (int i = 0; i < 288; ++i) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
        std::uint8_t d[30];
        std::fill(d, d + 30, 5);
        return build(lit, l, 288) && build(dist, d, 30);
    }

    bool dynamic(Code& lit, Code& dist) {
        const int nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
        if (nlen < 257 || ndist < 1 || ncode < 4 || nlen > 286 || ndist > 30) return false;
        static const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
        std::uint8_t l[320] = {};
        for (int i = 0; i < ncode; ++i) {
            const int v = bits(3);
            if (v < 0) return false;
            l[order[i]] = std::uint8_t(v);
        }
        Code lencode;
        if (!build(lencode, l, 19)) return false;
        std::fill(l, l + 320, 0);
        for (int i = 0; i < nlen + ndist;) {
            const int sym = decode(lencode);
            if (sym < 0) return false;
            if (sym < 16) {
                l[i++] = std::uint8_t(sym);
                continue;
            }
            int rep = 0, val = 0;
            if (sym == 16) {
                if (i == 0) return false;
                val = l[i - 1];
                rep = 3 + bits(2);
            } else {
                rep = (sym == 17 ? 3 + bits(3) : 11 + bits(7));
            }
            if (rep < 3 || i + rep > nlen + ndist) return false;
            while (rep--) l[i++] = std::uint8_t(val);
        }
        if (l[256] == 0) return false;  // no end-of-block code
        return build(lit, l, nlen) && build(dist, l + nlen, ndist);
    }

    bool codes(const Code& lit, const Code& dist, std::uint64_t& out, std::uint64_t limit) {
        static const std::uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
                                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
        static const std::uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
        static const std::uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                                    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                                    4097, 6145, 8193, 12289, 16385, 24577};
        static const std::uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
        for (;;) {
            const int sym = decode(lit);
            if (sym < 0) return false;
            if (sym < 256) {
                ++out;
            } else if (sym == 256) {
                return true;
            } else {
                const int li = sym - 257;
                if (li >= 29) return false;
                const int le_ = bits(len_extra[li]);
                const int ds = decode(dist);
                if (le_ < 0 || ds < 0 || ds >= 30) return false;
                const int de = bits(dist_extra[ds]);
                if (de < 0 || std::uint64_t(dist_base[ds] + de) > out) return false;  // too far back
                out += std::uint64_t(len_base[li] + le_);
            }
            if (out > limit) return false;
        }
    }

    const unsigned char* p_;
    std::size_t n_, pos_ = 0;
    std::uint32_t bitbuf_ = 0;
    int bitcnt_ = 0;
};

// Each stored chunk of a chunked dataset, unfiltered or through shuffle/deflate/fletcher32 (what
// h5py and HDF5's tools write), must come back at exactly the nominal chunk size.
void check_chunks(const std::string& file, const std::string& name, const H5::DataSet& ds,
                  const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk) {
    const hid_t id = ds.getId();
    std::vector<H5Z_filter_t> filters;
    if (const hid_t pl = H5Dget_create_plist(id); pl >= 0) {
        const int n = H5Pget_nfilters(pl);
        for (int i = 0; i < n; ++i) {
            unsigned flags = 0, cd[8];
            std::size_t ncd = 8;
            char fname[64];
            unsigned config = 0;
            filters.push_back(H5Pget_filter2(pl, unsigned(i), &flags, &ncd, cd, sizeof fname, fname, &config));
        }
        H5Pclose(pl);
    }
    int deflates = 0;
    for (H5Z_filter_t f : filters) {
        if (f != H5Z_FILTER_DEFLATE && f != H5Z_FILTER_SHUFFLE && f != H5Z_FILTER_FLETCHER32)
            bad(file, name, "no filters or deflate/shuffle/fletcher32 (which the loader can check)",
                "filter " + std::to_string(f));
        deflates += f == H5Z_FILTER_DEFLATE;
    }
    if (deflates > 1) bad(file, name, "deflate applied once", std::to_string(deflates) + " times");
    const std::size_t elem = ds.getDataType().getSize();
    std::uint64_t nominal = elem, count = 1;
    std::vector<hsize_t> grid(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i) {
        nominal *= chunk[i];
        grid[i] = (dims[i] + chunk[i] - 1) / chunk[i];
        count *= grid[i];
    }
    if (count > (std::uint64_t(1) << 20))
        bad(file, name, "at most 2^20 chunks", std::to_string(count) + " (a damaged layout?)");
    // The raw chunks are read here, from where the chunk index says they are: H5Dread_chunk copies
    // the index's size into the caller's buffer, which for a damaged file was more than
    // H5Dget_chunk_storage_size had reported (AddressSanitizer: 101 bytes into 90).
    RawFile raw_file(file);
    Superblock sb;
    if (!raw_file.ok() || !find_superblock(raw_file, sb))
        bad(file, name, "a readable HDF5 superblock", "none");
    std::vector<hsize_t> at(dims.size(), 0), offset(dims.size());
    std::vector<unsigned char> raw;
    for (std::uint64_t c = 0; c < count; ++c) {
        for (std::size_t i = 0; i < dims.size(); ++i) offset[i] = at[i] * chunk[i];
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t stored = 0;
        if (H5Dget_chunk_info_by_coord(id, offset.data(), &mask, &addr, &stored) >= 0 &&
            addr != HADDR_UNDEF && stored > 0) {
            raw.resize(std::size_t(std::min<hsize_t>(stored, raw_file.size())));
            if (stored > raw_file.size() || addr > raw_file.size() - sb.base ||
                !raw_file.read(sb.base + addr, raw.data(), std::size_t(stored)))
                bad(file, name, "chunks inside the file",
                    "chunk " + shape_text(offset) + " of " + std::to_string(stored) + " bytes at " +
                        std::to_string(addr) + " in a file of " + std::to_string(raw_file.size()));
            // undo the filters in reverse order, keeping track of the size only
            // (a checksum is 4 bytes at the end; deflate's input is the raw prefix left by then)
            long long size = (long long)stored;
            for (std::size_t k = filters.size(); k-- > 0 && size >= 0;) {
                if (mask & (1u << k)) continue;  // this filter was skipped for this chunk
                if (filters[k] == H5Z_FILTER_FLETCHER32)
                    size = size >= 4 ? size - 4 : -1;
                else if (filters[k] == H5Z_FILTER_DEFLATE)
                    size = InflateCounter(raw.data(), std::size_t(size)).size(nominal + 1);
            }
            if (size < 0 || std::uint64_t(size) != nominal)
                bad(file, name, "chunks of " + std::to_string(nominal) + " bytes",
                    "chunk " + shape_text(offset) +
                        (size == -2  ? " inflating to more"
                         : size < 0 ? " that is not valid deflate data"
                                    : " of " + std::to_string(size) + " bytes") +
                        " (damaged)");
        }
        for (std::size_t i = dims.size(); i-- > 0;) {  // next chunk, last dimension fastest
            if (++at[i] < grid[i]) break;
            at[i] = 0;
        }
    }
}
}  // namespace


// Before a dataset's `bytes` are allocated and read: the data must be stored, and a contiguous
// dataset (h5py's and save_model's layout) must lie inside the file. A bit flip in a dimension
// otherwise has the loader allocate gigabytes (seen: std::bad_alloc, and 9 s / 5.8 GB for a
// 6 KB file) before HDF5 notices that the data is not there.
void check_stored(const std::string& file, const std::string& name, const H5::DataSet& ds,
                  std::uint64_t bytes) {
    const hid_t id = ds.getId();
    const H5D_layout_t layout = layout_of(id);
    if (bytes == 0) return;
    const std::uint64_t size = file_size(file);
    if (layout == H5D_CONTIGUOUS) {
        const haddr_t off = H5Dget_offset(id);  // from the start of the file
        if (off == HADDR_UNDEF)
            bad(file, name, std::to_string(bytes) + " bytes of data", "none stored (never written)");
        if (off > size || bytes > size - off)
            bad(file, name, std::to_string(bytes) + " bytes of data from byte " + std::to_string(off),
                "a file of " + std::to_string(size) + " bytes (truncated, or a damaged size)");
        return;
    }
    const hsize_t stored = H5Dget_storage_size(id);
    if (stored == 0)
        bad(file, name, std::to_string(bytes) + " bytes of data", "none stored (never written)");
    if (bytes > kMaxExpandedBytes)
        bad(file, name, "at most " + std::to_string(kMaxExpandedBytes) + " bytes of data",
            std::to_string(bytes) + " (a damaged size?)");
    if (layout == H5D_COMPACT && stored != bytes)  // the data inside the object header
        bad(file, name, std::to_string(bytes) + " bytes of data in its header",
            std::to_string(stored) + " (damaged)");
    if (layout != H5D_CHUNKED) return;
    // A chunk dimension beyond the dataset's maximum is damage HDF5 1.10 reads through: chunk
    // dimensions of 8388613 (for 5) and 67108867 (for 3) crashed H5Dread with SIGSEGV in
    // H5D__select_read -> H5VM_memcpyvv (copying a whole nominal chunk out of the smaller one
    // that was stored).
    const H5::DataSpace sp = ds.getSpace();
    const int rank = sp.getSimpleExtentNdims();
    std::vector<hsize_t> d(rank > 0 ? std::size_t(rank) : 0), max(d.size()), chunk(d.size());
    if (rank > 0) sp.getSimpleExtentDims(d.data(), max.data());
    int nfilters = 0;
    if (const hid_t pl = H5Dget_create_plist(id); pl >= 0) {
        if (H5Pget_chunk(pl, rank, chunk.data()) != rank) chunk.clear();
        nfilters = H5Pget_nfilters(pl);
        H5Pclose(pl);
    }
    if (chunk.size() != d.size())
        bad(file, name, "chunk dimensions of its rank", "others (damaged layout)");
    for (std::size_t i = 0; i < d.size(); ++i)
        if (chunk[i] == 0 || (max[i] != H5S_UNLIMITED && chunk[i] > max[i]))
            bad(file, name, "chunk dimensions within the dataset's " + shape_text(max),
                "chunks of " + shape_text(chunk) + " (damaged layout)");
    // Every chunk of an image set or model is written: uncompressed, the stored bytes cover the
    // data; deflate expands at most 1032-fold.
    const std::uint64_t limit = (nfilters > 0 ? std::uint64_t(1032) : 1) * stored;
    if (bytes > limit + (std::uint64_t(1) << 16))
        bad(file, name, "data that its " + std::to_string(stored) + " stored bytes can hold",
            std::to_string(bytes) + " bytes (a damaged size?)");
    check_chunks(file, name, ds, d, chunk);
}

// ---- HDF5 1.10 cannot survive damaged variable-length strings: checked before it reads them -----
//
// Evidence (tests/test_damaged.cpp, HDF5 1.10.8 as Debian ships it, backtraces with gdb):
//  * two damaged models (8 bit flips; a zero-filled range) hung forever in
//      H5Aread -> H5T__conv_vlen -> H5HG_read -> H5HG__protect -> H5C_protect
namespace {

//    the deserialiser of a global heap collection (H5HG__cache_heap_deserialize) walks the
//    objects by their stored sizes and steps by the size of a free-space object (index 0): a
//    size of 0 never advances;
//  * with a damaged string length, H5T__conv_vlen allocated 1.9 GB and 1 GB (5.8 GB resident, 9 s)
//    from the length stored with the string before finding the heap object wrong;
//  * H5HG_read copies the heap object's stored size into the buffer allocated from the string's
//    stored length, and only asserts (compiled out in release builds) that the object index
//    exists: a damaged index or length reads or writes outside the buffers.
// So before HDF5 converts any variable-length string, the loader reads the stored string records
// itself (16 bytes each: length, heap collection address, object index) and walks the heap
// collection each one names as HDF5 will: every collection must lie in the file and walk to its
// end, every record must name an object that exists and has exactly the record's length.
// The records of an attribute are found by walking its object header (version 1, the layout
// save_model and h5py write by default; version 2 headers carry checksums that HDF5 verifies, so
// their records cannot be damaged unnoticed; their heap collections are still checked).

// Reads the parts of a file HDF5 1.10 trusts (object header messages, variable-length string
// records, global heap collections) and throws a DataError for damage before HDF5 acts on it.
class Precheck {
public:
    enum Problem { strings, header };
    Precheck(std::string file, std::string what, Problem problem = strings)
        : file_(std::move(file)), what_(std::move(what)), problem_(problem), f_(file_) {
        if (!f_.ok() || !find_superblock(f_, sb_)) fail("cannot read the file's superblock");
    }

    // Every message of the version-1 object header at `addr` that HDF5 decodes when it opens a
    // dataset or looks up an attribute (dataspace, datatype, fill value, layout, filters,
    // attributes) must lie inside its message. HDF5 1.10's decoders read without bounds: AddressSanitizer
    // caught H5Aexists -> H5O__msg_iterate_real -> (attribute decode) -> H5MM_xstrdup reading past
    // the header's buffer for a damaged attribute name that was not terminated (tests/test_damaged.cpp).
    void check_header(std::uint64_t addr) {
        header_messages(addr, [&](unsigned type, unsigned flags, const unsigned char* m,
                                  std::size_t size) {
            if (flags & 0x02) return false;  // a shared message: stored (and checked) elsewhere
            std::string why;
            switch (type) {
                case 0x01: why = dataspace_problem(m, size, nullptr); break;
                case 0x03: why = datatype_problem(m, size, 0); break;
                case 0x04: why = size >= 4 && le(m, 4) <= size - 4 ? "" : "a fill value past its message"; break;
                case 0x05: why = fill_problem(m, size); break;
                case 0x08: why = layout_problem(m, size); break;
                case 0x0B: why = pipeline_problem(m, size); break;
                case 0x0C: why = attribute_problem(m, size); break;
                default: break;
            }
            if (!why.empty()) fail(why);
            return false;
        });
    }

    std::size_t record_size() const { return 4 + sb_.addr_size + 4; }

    // Calls `on(type, flags, data, size)` for each message of the version-1 object header at
    // `addr`, following continuation chunks; false (and no calls) for a version-2 header.
    template <class F>
    bool header_messages(std::uint64_t addr, F&& on) {
        const std::uint64_t at = phys(addr);
        unsigned char prefix[16];
        if (!f_.read(at, prefix, sizeof prefix)) fail("its object header lies outside the file");
        if (std::memcmp(prefix, "OHDR", 4) == 0) return false;
        if (prefix[0] != 1) fail("unknown object header version " + std::to_string(prefix[0]));
        std::vector<std::pair<std::uint64_t, std::uint64_t>> chunks{{at + 16, le(prefix + 8, 4)}};
        std::set<std::uint64_t> seen;
        for (std::size_t c = 0; c < chunks.size(); ++c) {
            const auto [start, len] = chunks[c];
            if (chunks.size() > 256 || !seen.insert(start).second || len > (std::uint64_t(1) << 24))
                fail("its object header's continuation chunks are damaged");
            const std::vector<unsigned char> b = f_.bytes(start, std::size_t(len));
            if (b.size() != len) fail("its object header runs past the end of the file");
            for (std::size_t q = 0; q + 8 <= b.size();) {
                const unsigned type = unsigned(le(&b[q], 2));
                const std::size_t size = std::size_t(le(&b[q + 2], 2));
                const std::size_t d = q + 8;
                if (size > b.size() - d) fail("a message of its object header runs past its chunk");
                if (type == 0x10) {  // continuation: another chunk of messages
                    if (size < sb_.addr_size + sb_.len_size) fail("a damaged continuation message");
                    chunks.emplace_back(phys(le(&b[d], sb_.addr_size)),
                                        le(&b[d + sb_.addr_size], sb_.len_size));
                } else if (on(type, unsigned(b[q + 4]), &b[d], size)) {
                    return true;
                }
                q = d + size;
            }
        }
        return true;
    }

    // The `n` stored records of variable-length string attribute `name` of the object whose header
    // is at `addr` (its stored type checked too); empty for a version-2 (checksummed) header.
    std::vector<unsigned char> attribute_records(std::uint64_t addr, const std::string& name,
                                                 std::size_t n) {
        std::vector<unsigned char> recs;
        bool found = false;
        const bool v1 = header_messages(addr, [&](unsigned type, unsigned flags,
                                                  const unsigned char* m, std::size_t size) {
            if (type != 0x0C) return false;
            auto r = attribute_value(m, size, flags, name, n * record_size());
            if (!r.second) return false;
            recs = std::move(r.first);
            return found = true;
        });
        if (v1 && !found) fail("not found in its object header");
        return recs;
    }

    // The stored datatype of the dataset whose header is at `addr` must be a variable-length
    // string as HDF5 1.10 writes it (no check for a version-2, checksummed header).
    void check_dataset_type(std::uint64_t addr) {
        bool found = false;
        const bool v1 = header_messages(addr, [&](unsigned type, unsigned flags,
                                                  const unsigned char* m, std::size_t size) {
            if (type != 0x03) return false;
            if (flags & 0x02) fail("its datatype is a shared message, which the loader does not read");
            check_string_type(m, size);
            return found = true;
        });
        if (v1 && !found) fail("no datatype in its object header");
    }

    // Every record: a null one (address 0) reads nothing; any other names an existing object of
    // its heap collection whose size is exactly the string's length.
    void check_records(const std::vector<unsigned char>& recs, std::size_t n) {
        if (recs.size() < n * record_size()) fail("its strings are not all stored");
        for (std::size_t i = 0; i < n; ++i) {
            const unsigned char* r = recs.data() + i * record_size();
            const std::uint64_t len = le(r, 4);
            const std::uint64_t addr = le(r + 4, sb_.addr_size);
            const std::uint64_t idx = le(r + 4 + sb_.addr_size, 4);
            if (addr == 0) continue;
            const auto& objects = collection(addr);
            const auto it = objects.find(idx);
            if (idx == 0 || it == objects.end())
                fail("string " + std::to_string(i) + " names object " + std::to_string(idx) +
                     " of the global heap collection at " + std::to_string(addr) +
                     ", which has no such object");
            if (it->second != len)
                fail("string " + std::to_string(i) + " has the stored length " + std::to_string(len) +
                     " but its heap object " + std::to_string(it->second) + " bytes");
        }
    }

    // Without records (version 2 headers): every collection whose signature is in the file.
    void check_all_collections() {
        const std::uint64_t size = f_.size();
        const std::size_t block = std::size_t(1) << 20;
        std::vector<unsigned char> b;
        for (std::uint64_t at = 0; at < size; at += block) {
            b = f_.bytes(at, std::size_t(std::min<std::uint64_t>(block + 7, size - at)));
            for (std::size_t i = 0; i + 8 <= b.size() && i < block; ++i)
                if (std::memcmp(&b[i], "GCOL\x01\0\0\0", 8) == 0 && at + i >= sb_.base)
                    collection(at + i - sb_.base);
        }
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        if (problem_ == header)
            throw DataError(file_ + ": " + what_ + ": damaged object header (" + why +
                            "); HDF5 1.10 would read past it");
        throw DataError(file_ + ": " + what_ + ": damaged variable-length strings (" + why +
                        "); HDF5 1.10 would hang or crash reading them");
    }

    // ---- one message each; "" when it fits ----
    // Dataspace: its dimensions (and maxima) inside the message; `points` gets the element count.
    std::string dataspace_problem(const unsigned char* m, std::size_t size, std::uint64_t* points) const {
        if (size < 4) return "a dataspace message too short";
        const unsigned version = m[0], rank = m[1], flags = m[2];
        if (version != 1 && version != 2) return "dataspace version " + std::to_string(version);
        if (rank > 32) return "a dataspace of rank " + std::to_string(rank);
        const std::size_t hdr = version == 1 ? 8 : 4;
        const std::size_t need = hdr + std::size_t(rank) * sb_.len_size * ((flags & 1) ? 2 : 1);
        if (need > size) return "dataspace dimensions past the message";
        if (points) {
            std::uint64_t n = 1;
            for (unsigned i = 0; i < rank; ++i) {
                const std::uint64_t d = le(m + hdr + i * sb_.len_size, sb_.len_size);
                n = (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) ? std::numeric_limits<std::uint64_t>::max() : n * d;
            }
            if (version == 2 && m[3] == 2) n = 0;  // null dataspace
            *points = n;
        }
        return "";
    }

    // Datatype: the classes the loaders read (integers, floats, strings, variable-length strings),
    // each with its properties inside the message.
    std::string datatype_problem(const unsigned char* m, std::size_t size, int depth) const {
        if (size < 8) return "a datatype message too short";
        const unsigned cls = m[0] & 0x0F, version = m[0] >> 4;
        if (version < 1 || version > 4) return "datatype version " + std::to_string(version);
        switch (cls) {
            case 0: return size >= 12 ? "" : "integer type properties past the message";
            case 1: return size >= 20 ? "" : "float type properties past the message";
            case 3: return "";
            case 9:
                if (depth > 0) return "a nested variable-length type";
                return datatype_problem(m + 8, size - 8, depth + 1);
            default:
                return "a type of class " + std::to_string(cls) +
                       " (not an integer, float or string, which the loader reads)";
        }
    }

    std::string fill_problem(const unsigned char* m, std::size_t size) const {
        if (size < 2) return "a fill value message too short";
        const unsigned version = m[0];
        std::size_t at = 0;
        if (version == 1 || version == 2) {
            if (size < 4) return "a fill value message too short";
            if (version == 2 && !m[3]) return "";
            at = 4;
        } else if (version == 3) {
            if (!(m[1] & 0x20)) return "";
            at = 2;
        } else {
            return "fill value version " + std::to_string(version);
        }
        if (size < at + 4 || le(m + at, 4) > size - at - 4) return "a fill value past its message";
        return "";
    }

    std::string layout_problem(const unsigned char* m, std::size_t size) const {
        if (size < 2 || m[0] != 3)
            return "layout version " + std::to_string(size ? m[0] : 0) +
                   " (the loader reads version 3, written since HDF5 1.6)";
        const std::size_t a = sb_.addr_size, l = sb_.len_size;
        switch (m[1]) {
            case 0: return size >= 4 && le(m + 2, 2) <= size - 4 ? "" : "compact data past its message";
            case 1: return size >= 2 + a + l ? "" : "a contiguous layout message too short";
            case 2: {
                if (size < 3) return "a chunked layout message too short";
                const unsigned dims = m[2];
                if (dims < 2 || dims > 33) return "chunks of rank " + std::to_string(int(dims) - 1);
                return size >= 3 + a + 4 * std::size_t(dims) ? "" : "chunk dimensions past the message";
            }
            default: return "layout class " + std::to_string(m[1]);
        }
    }

    std::string pipeline_problem(const unsigned char* m, std::size_t size) const {
        if (size < 2) return "a filter message too short";
        const unsigned version = m[0], n = m[1];
        if (version != 1 && version != 2) return "filter message version " + std::to_string(version);
        if (n > 32) return std::to_string(n) + " filters";
        std::size_t p = version == 1 ? 8 : 2;
        for (unsigned i = 0; i < n; ++i) {
            if (p + 2 > size) return "a filter past its message";
            const unsigned id = unsigned(le(m + p, 2));
            p += 2;
            std::size_t name_len = 0;
            if (version == 1 || id >= 256) {
                if (p + 2 > size) return "a filter past its message";
                name_len = std::size_t(le(m + p, 2));
                p += 2;
            }
            if (p + 4 > size) return "a filter past its message";
            const std::size_t ncd = std::size_t(le(m + p + 2, 2));
            p += 4;
            if (name_len) {
                const std::size_t padded = version == 1 ? (name_len + 7) / 8 * 8 : name_len;
                if (padded > size - p || !std::memchr(m + p, 0, name_len)) return "a filter name past its message";
                p += padded;
            }
            const std::size_t cd = 4 * ncd + ((version == 1 && (ncd & 1)) ? 4 : 0);
            if (cd > size - p) return "filter parameters past the message";
            p += cd;
        }
        return "";
    }

    std::string attribute_problem(const unsigned char* m, std::size_t size) const {
        if (size < 8) return "an attribute message too short";
        const unsigned version = m[0];
        if (version < 1 || version > 3) return "attribute message version " + std::to_string(version);
        const std::size_t name_size = std::size_t(le(m + 2, 2)), dt_size = std::size_t(le(m + 4, 2)),
                          ds_size = std::size_t(le(m + 6, 2));
        auto pad = [&](std::size_t v) { return version == 1 ? (v + 7) / 8 * 8 : v; };
        std::size_t off = version == 3 ? 9 : 8;
        if (off > size || pad(name_size) > size - off || name_size == 0 || !std::memchr(m + off, 0, name_size))
            return "an attribute name past its message";
        const std::string name(reinterpret_cast<const char*>(m + off));
        off += pad(name_size);
        if (pad(dt_size) > size - off) return "attribute '" + printable(name) + "': its type past its message";
        std::string why = (version >= 2 && (m[1] & 0x01)) ? "" : datatype_problem(m + off, dt_size, 0);
        if (!why.empty()) return "attribute '" + printable(name) + "': " + why;
        const std::uint64_t element = dt_size >= 8 ? le(m + off + 4, 4) : 0;
        off += pad(dt_size);
        if (pad(ds_size) > size - off) return "attribute '" + printable(name) + "': its dataspace past its message";
        std::uint64_t points = 0;
        why = (version >= 2 && (m[1] & 0x02)) ? "" : dataspace_problem(m + off, ds_size, &points);
        if (!why.empty()) return "attribute '" + printable(name) + "': " + why;
        off += pad(ds_size);
        if (element && points > (size - off) / element)
            return "attribute '" + printable(name) + "': its value past its message";
        return "";
    }

    std::uint64_t phys(std::uint64_t addr) const {
        if (addr > f_.size() || sb_.base > f_.size() - addr) fail("an address outside the file");
        return sb_.base + addr;
    }

    // One attribute message: {its value bytes, true} when it is attribute `name`.
    std::pair<std::vector<unsigned char>, bool> attribute_value(const unsigned char* m, std::size_t size,
                                                                unsigned msg_flags, const std::string& name,
                                                                std::size_t want) const {
        if (size < 8) return {{}, false};
        const unsigned version = m[0];
        if (version < 1 || version > 3) return {{}, false};
        const std::size_t name_size = std::size_t(le(m + 2, 2)), dt_size = std::size_t(le(m + 4, 2)),
                          ds_size = std::size_t(le(m + 6, 2));
        auto pad = [&](std::size_t v) { return version == 1 ? (v + 7) / 8 * 8 : v; };
        std::size_t off = version == 3 ? 9 : 8;
        if (off + pad(name_size) > size) return {{}, false};
        const char* n = reinterpret_cast<const char*>(m + off);
        if (std::string(n, strnlen(n, name_size)) != name) return {{}, false};
        if ((msg_flags & 0x02) || (version >= 2 && (m[1] & 0x01)))
            fail("stored as a shared message, which the loader does not read");
        off += pad(name_size);
        if (off + pad(dt_size) > size || dt_size < 8) fail("a damaged attribute message");
        check_string_type(m + off, dt_size);
        off += pad(dt_size) + pad(ds_size);
        if (off > size || want > size - off) fail("its value is shorter than its strings");
        return {std::vector<unsigned char>(m + off, m + off + want), true};
    }

    // A variable-length string type: 16-byte records of 1-byte characters. HDF5 allocates a
    // string's length times the stored character size (seen: 268435457 after one bit flip, 1 GB).
    void check_string_type(const unsigned char* dt, std::size_t size) const {
        if (size < 16 || (dt[0] & 0x0F) != 9 || (dt[1] & 0x0F) != 1)
            fail("its stored type is not a variable-length string");
        if (le(dt + 4, 4) != record_size()) fail("its stored type has a damaged size");
        if (le(dt + 12, 4) != 1)
            fail("its stored characters are " + std::to_string(le(dt + 12, 4)) + " bytes, not 1");
    }

    // The objects {index: size} of the global heap collection at `addr`, walked as
    // H5HG__cache_heap_deserialize walks them.
    const std::map<std::uint64_t, std::uint64_t>& collection(std::uint64_t addr) {
        if (const auto it = heaps_.find(addr); it != heaps_.end()) return it->second;
        const std::string where = "the global heap collection at " + std::to_string(addr);
        const std::size_t hdr = 8 + sb_.len_size, obj_hdr = 8 + sb_.len_size;
        const std::uint64_t at = phys(addr);
        const std::vector<unsigned char> h = f_.bytes(at, hdr);
        if (h.size() != hdr) fail(where + " lies outside the file");
        if (std::memcmp(h.data(), "GCOL", 4) != 0 || h[4] != 1) fail(where + " has no valid signature");
        const std::uint64_t size = le(&h[8], sb_.len_size);
        if (size < hdr || size > f_.size() - at) fail(where + " runs past the end of the file");
        if (size > (std::uint64_t(1) << 28)) fail(where + " is implausibly large");
        const std::vector<unsigned char> b = f_.bytes(at, std::size_t(size));
        std::map<std::uint64_t, std::uint64_t> objects;
        for (std::size_t p = hdr; p < b.size();) {
            if (b.size() - p < obj_hdr) break;  // a tail too small for an object: free space
            const std::uint64_t idx = le(&b[p], 2);
            const std::uint64_t osize = le(&b[p + 8], sb_.len_size);
            const std::uint64_t room = b.size() - p;
            if (idx == 0) {  // free space: its size includes its header
                if (osize == 0) fail(where + " has a free-space entry of size 0 (HDF5 would loop forever)");
                if (osize > room) fail(where + " has free space running past its end");
                p += std::size_t(osize);
            } else {
                if (osize > room - obj_hdr) fail(where + ": object " + std::to_string(idx) + " runs past its end");
                objects[idx] = osize;
                p += std::size_t(std::min<std::uint64_t>(room, obj_hdr + (osize + 7) / 8 * 8));
            }
        }
        return heaps_.emplace(addr, std::move(objects)).first->second;
    }

    std::string file_, what_;
    Problem problem_ = strings;
    RawFile f_;
    Superblock sb_;
    std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> heaps_;
};

}  // namespace

void precheck_header(const std::string& file, const std::string& what, std::uint64_t addr) {
    Precheck(file, what, Precheck::header).check_header(addr);
}

namespace {

// Before HDF5 reads variable-length string attribute `name` (n strings) of `obj`.
void guard_vlen_attribute(const std::string& file, hid_t obj, const std::string& name, std::size_t n) {
    H5O_info_t info{};
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0)
        throw DataError(file + ": attribute '" + name + "': cannot locate its object header");
    Precheck g(file, "attribute '" + name + "'");
    const std::vector<unsigned char> recs = g.attribute_records(info.addr, name, n);
    if (recs.empty() && n > 0)
        g.check_all_collections();
    else
        g.check_records(recs, n);
}

}  // namespace

// Before HDF5 reads a variable-length string dataset: its records are its contiguous data.
void guard_vlen_dataset(const std::string& file, const H5::DataSet& ds, const std::string& name,
                        std::size_t n) {
    const hid_t id = ds.getId();
    const H5D_layout_t layout = layout_of(id);
    if (layout != H5D_CONTIGUOUS)
        bad(file, name, "variable-length strings stored contiguously (the loader checks them "
                        "before HDF5 reads them)", "another layout");
    Precheck g(file, "dataset '" + name + "'");
    H5O_info_t info{};
    if (H5Oget_info2(id, &info, H5O_INFO_BASIC) < 0)
        throw DataError(file + ": dataset '" + name + "': cannot locate its object header");
    g.check_dataset_type(info.addr);
    const haddr_t off = H5Dget_offset(id);
    if (off == HADDR_UNDEF) bad(file, name, "stored strings", "none (never written)");
    RawFile f(file);
    std::vector<unsigned char> recs(n * g.record_size());
    if (!f.read(off, recs.data(), recs.size()))
        bad(file, name, std::to_string(n) + " strings", "data past the end of the file");
    g.check_records(recs, n);
}

namespace {

// DataSet::read and Attribute::read take their arguments in opposite orders.
void read_raw(const H5::DataSet& d, const H5::DataType& t, void* buf) { d.read(buf, t); }
void read_raw(const H5::Attribute& a, const H5::DataType& t, void* buf) { a.read(t, buf); }

// Strings of a 1-D dataset or attribute, fixed-length or variable-length.
template <class Obj>
std::vector<std::string> strings_of(const Obj& obj, std::size_t n) {
    const H5::StrType type = obj.getStrType();
    std::vector<std::string> out;
    if (type.isVariableStr()) {
        std::vector<char*> buf(n, nullptr);
        read_raw(obj, type, buf.data());
        for (char* p : buf) out.emplace_back(p ? p : "");
        H5Dvlen_reclaim(type.getId(), obj.getSpace().getId(), H5P_DEFAULT, buf.data());
    } else {
        const std::size_t size = type.getSize();
        std::vector<char> buf(n * size, '\0');
        read_raw(obj, type, buf.data());
        for (std::size_t i = 0; i < n; ++i) {
            std::string s(buf.data() + i * size, size);
            s.erase(s.find_last_not_of(std::string(1, '\0') + " ") + 1);  // null/space padding
            out.push_back(s);
        }
    }
    return out;
}

H5::Attribute open_attr(const H5::Group& g, const std::string& file, const char* name,
                        const std::string& missing) {
    const bool exists = h5_step(file, std::string("cannot look up attribute '") + name + "'",
                                [&] { return g.attrExists(name); });
    if (!exists) throw DataError(file + ": attribute '" + name + "' missing (" + missing + ")");
    return h5_step(file, std::string("cannot open attribute '") + name + "'",
                   [&] { return g.openAttribute(name); });
}

// Attributes of a model or checkpoint are short lists; a longer one is a damaged size.
constexpr std::size_t kMaxAttrValues = 4096;

std::size_t attr_count(const H5::Attribute& a, const std::string& file, const char* name) {
    const auto d = dims_in(file, std::string("attribute '") + name + "'", a.getSpace());
    std::size_t n = 1;
    for (hsize_t v : d) {
        if (v > kMaxAttrValues || n * std::size_t(v) > kMaxAttrValues)
            throw DataError(file + ": attribute '" + name + "': expected at most " +
                            std::to_string(kMaxAttrValues) + " values, found " + shape_text(d));
        n *= std::size_t(v);
    }
    return n;
}

// Where a value is NaN or Inf: "NaN at [3,17]".
template <class T>
std::string first_nonfinite(const Matrix<T>& v) {
    for (std::size_t i = 0; i < v.shape()[0]; ++i)
        for (std::size_t j = 0; j < v.shape()[1]; ++j) {
            const T x = v(i, j);
            if (!std::isfinite(x))
                return std::string(std::isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf") + " at [" +
                       std::to_string(i) + "," + std::to_string(j) + "]";
        }
    return "";
}

H5::StrType utf8_string() {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
}

template <class V>
void write_attr_scalar(H5::H5Object& o, const char* name, const H5::PredType& file_t,
                       const H5::PredType& mem_t, V v) {
    o.createAttribute(name, file_t, H5::DataSpace(H5S_SCALAR)).write(mem_t, &v);
}

// Pushes a file's (or a directory's) state to disk; best effort, as a rename is.
void sync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::vector<std::string> read_strings(const H5::DataSet& ds, std::size_t n) { return strings_of(ds, n); }

std::vector<long long> read_attr_ints(const H5::Group& g, const std::string& file, const char* name,
                                      const std::string& missing) {
    const H5::Attribute a = open_attr(g, file, name, missing);
    if (a.getTypeClass() != H5T_INTEGER || !standard_number(a.getDataType()))
        throw DataError(file + ": attribute '" + name + "': expected integers, found " +
                        type_text(a.getDataType()));
    std::vector<long long> v(attr_count(a, file, name));
    if (!v.empty())
        h5_step(file, std::string("cannot read attribute '") + name + "'",
                [&] { a.read(H5::PredType::NATIVE_LLONG, v.data()); });
    return v;
}

std::vector<std::string> read_attr_strings(const H5::Group& g, const std::string& file,
                                           const char* name, const std::string& missing) {
    const H5::Attribute a = open_attr(g, file, name, missing);
    if (a.getTypeClass() != H5T_STRING)
        throw DataError(file + ": attribute '" + name + "': expected strings, found " +
                        type_text(a.getDataType()));
    const std::size_t n = attr_count(a, file, name);
    if (a.getStrType().isVariableStr())
        guard_vlen_attribute(file, g.getId(), name, n);
    else if (a.getDataType().getSize() > (std::size_t(1) << 16))
        throw DataError(file + ": attribute '" + name + "': strings of " +
                        std::to_string(a.getDataType().getSize()) + " bytes (a damaged size?)");
    if (n == 0) return {};
    return h5_step(file, std::string("cannot read attribute '") + name + "'",
                   [&] { return strings_of(a, n); });
}

double read_attr_double(const H5::Group& g, const std::string& file, const char* name,
                        const std::string& missing) {
    const H5::Attribute a = open_attr(g, file, name, missing);
    const H5T_class_t c = a.getTypeClass();
    if ((c != H5T_FLOAT && c != H5T_INTEGER) || !standard_number(a.getDataType()))
        throw DataError(file + ": attribute '" + name + "': expected a number, found " +
                        type_text(a.getDataType()));
    if (attr_count(a, file, name) != 1)
        throw DataError(file + ": attribute '" + name + "': expected one number, found " +
                        shape_text(dims_of(a.getSpace())));
    double v = 0;
    h5_step(file, std::string("cannot read attribute '") + name + "'",
            [&] { a.read(H5::PredType::NATIVE_DOUBLE, &v); });
    return v;
}

// (a damaged count outside [lo, hi] would overflow the caller's cast)
double read_attr_whole(const H5::Group& g, const std::string& file, const char* name, double lo,
                       double hi, const std::string& missing) {
    const double v = read_attr_double(g, file, name, missing);
    if (!(v >= lo && v <= hi && v == std::floor(v))) {
        std::ostringstream s;
        s << file << ": attribute '" << name << "': expected a whole number in [" << lo << ", "
          << hi << "], found " << v;
        throw DataError(s.str());
    }
    return v;
}

template <class T>
Matrix<T> read_matrix(const H5::H5File& f, const std::string& file, const std::string& name,
                      const std::vector<hsize_t>& want, std::size_t elem, const std::string& why) {
    const H5::DataSet ds = open_dataset(f, file, name);
    const auto got = dims_in(file, "dataset '" + name + "'", ds.getSpace());
    bool fits = got.size() == 2 && want.size() == 2;
    for (std::size_t i = 0; fits && i < 2; ++i)
        fits = got[i] > 0 && (want[i] == 0 || got[i] == want[i]);
    if (!fits) {
        std::string w = "[";
        for (std::size_t i = 0; i < want.size(); ++i)
            w += (i ? "," : "") + (want[i] ? std::to_string(want[i]) : std::string("any"));
        bad(file, name, w + "]" + (why.empty() ? "" : " (" + why + ")"), shape_text(got));
    }
    const H5::DataType t = ds.getDataType();
    if (t.getClass() != H5T_FLOAT || t.getSize() != elem || !standard_number(t))
        bad(file, name, std::string(elem == 4 ? "float32" : "float64") + (why.empty() ? "" : " (" + why + ")"),
            type_text(t));
    const std::size_t count = checked_product(file, name, got);
    check_stored(file, name, ds, times(file, name, count, elem));
    Matrix<T> v = Matrix<T>::from_shape({std::size_t(got[0]), std::size_t(got[1])});
    h5_step(file, "cannot read dataset '" + name + "'", [&] { ds.read(v.data(), Stored<T>::mem()); });
    if (const std::string where = first_nonfinite(v); !where.empty()) bad(file, name, "finite values", where);
    return v;
}

std::vector<double> read_numbers(const H5::H5File& f, const std::string& file, const std::string& name) {
    const H5::DataSet ds = open_dataset(f, file, name);
    const auto got = dims_in(file, "dataset '" + name + "'", ds.getSpace());
    if (got.size() != 1) bad(file, name, "a list of numbers [n]", shape_text(got));
    const H5::DataType t = ds.getDataType();
    if (t.getClass() != H5T_FLOAT || !standard_number(t)) bad(file, name, "floating-point numbers", type_text(t));
    check_stored(file, name, ds, times(file, name, std::size_t(got[0]), t.getSize()));
    std::vector<double> v(static_cast<std::size_t>(got[0]));
    if (!v.empty())
        h5_step(file, "cannot read dataset '" + name + "'",
                [&] { ds.read(v.data(), H5::PredType::NATIVE_DOUBLE); });
    return v;
}

template Matrix<float> read_matrix<float>(const H5::H5File&, const std::string&, const std::string&,
                                          const std::vector<hsize_t>&, std::size_t, const std::string&);
template Matrix<double> read_matrix<double>(const H5::H5File&, const std::string&, const std::string&,
                                            const std::vector<hsize_t>&, std::size_t, const std::string&);

// ---- writing ---------------------------------------------------------------------------------------

void write_attr_strings(H5::H5Object& o, const char* name, const std::vector<std::string>& v) {
    const hsize_t n = v.size();
    const H5::StrType t = utf8_string();
    std::vector<const char*> ptrs;
    for (const auto& s : v) ptrs.push_back(s.c_str());
    o.createAttribute(name, t, H5::DataSpace(1, &n)).write(t, ptrs.data());
}

void write_attr_string(H5::H5Object& o, const char* name, const std::string& v) {
    const H5::StrType t = utf8_string();
    const char* p = v.c_str();
    o.createAttribute(name, t, H5::DataSpace(H5S_SCALAR)).write(t, &p);
}

void write_attr_ints(H5::H5Object& o, const char* name, const std::vector<long long>& v) {
    const hsize_t n = v.size();
    o.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(1, &n))
        .write(H5::PredType::NATIVE_LLONG, v.data());
}

void write_attr_int(H5::H5Object& o, const char* name, long long v) {
    write_attr_scalar(o, name, H5::PredType::STD_I64LE, H5::PredType::NATIVE_LLONG, v);
}
void write_attr_double(H5::H5Object& o, const char* name, double v) {
    write_attr_scalar(o, name, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, v);
}
void write_attr_uint32(H5::H5Object& o, const char* name, std::uint32_t v) {
    write_attr_scalar(o, name, H5::PredType::STD_U32LE, H5::PredType::NATIVE_UINT32, v);
}

void write_numbers(H5::H5File& f, const std::string& name, const std::vector<double>& v) {
    const hsize_t n = v.size();
    f.createDataSet(name, H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n))
        .write(v.data(), H5::PredType::NATIVE_DOUBLE);
}

void write_atomically(const std::string& path, const std::string& what,
                      const std::function<void(H5::H5File&)>& fill) {
    silence_hdf5();
    const std::string dir = directory_of(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw DataError(path + ": cannot write the " + what + ": directory '" + dir + "' does not exist");
    // Same directory as the target: rename() is atomic only within one file system. The pid keeps
    // two processes writing the same name apart.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        {
            H5::H5File f(tmp.c_str(), H5F_ACC_TRUNC);
            fill(f);
            f.close();
        }
        sync_path(tmp, O_RDONLY);  // the bytes are on disk before the name points at them
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw DataError(path + ": cannot rename the temporary " + what + " file " + tmp + " into place");
        sync_path(dir, O_RDONLY | O_DIRECTORY);  // and the rename itself
    } catch (const H5::Exception& e) {
        const std::string cause = hdf5_cause(e);
        std::remove(tmp.c_str());
        throw DataError(path + ": cannot write the " + what + ": " + cause);
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

}  // namespace xgrad::io::h5
