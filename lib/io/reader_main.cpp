// xgrad-read: reads one user file for the library (lib/io/isolate.cpp) in a process of its own,
// so that a damaged file which crashes, hangs or exhausts the HDF5 library or stb_image ends
// this process, not the program. It sets its own limits first, reads what it is asked for and
// writes it to standard output as the records of wire.hpp.
//
//   xgrad-read MEMORY_BYTES SECONDS h5 FILE [-a] [-l] [-D] [-S] [-d NAME]...
//       -a the root group's attributes, -l the root group's links, -d NAME dataset NAME,
//       -D every dataset at the root, -S shapes and types only (no values)
//   xgrad-read MEMORY_BYTES SECONDS image FILE CHANNELS
//       a JPEG, PNG or BMP decoded by stb_image to CHANNELS (1..4) (reader_image.cpp)
//   xgrad-read MEMORY_BYTES SECONDS stream FILE X_NAME Y_NAME
//       a persistent reader of examples (H5StreamSource, stream.cpp): opens the file once, answers
//       kHeader (or kError) and then, for every request on standard input, the examples asked for
//       (kBatch) or kError; it ends at the end of its input. No processor-time limit in this mode
//       (it lives as long as the training): the parent has a wall-clock deadline per request.
//
// It checks nothing about what the data means (the library does), only that an allocation
// fits the memory limit and that a dataset's data can be in the file, before reading it.
#include <H5Cpp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "h5_cause.hpp"
#include "reader.hpp"
#include "wire.hpp"


#if defined(__SANITIZE_ADDRESS__)
// The sanitizer build: RLIMIT_AS cannot work under ASan, whose shadow memory is mapped up front.
// Its allocator refuses single allocations above the limit instead (the parent appends
// max_allocation_size_mb to ASAN_OPTIONS), and returns NULL for them as glibc's malloc does, which
// HDF5 handles as an error.
extern "C" const char* __asan_default_options() {
    return "allocator_may_return_null=1:detect_leaks=0";
}
#endif

namespace xgrad::io::reader {

std::uint64_t g_limit = 0;
bool g_limited = false;

void need(std::uint64_t bytes) {
    if (bytes > g_limit) throw TooBig{bytes};
}

}  // namespace xgrad::io::reader

namespace {

using namespace xgrad::io;
using namespace xgrad::io::reader;
using wire::Writer;

std::string with_cause(const std::string& what, const H5::Exception& e) {
    const std::string cause = h5::hdf5_cause(e);
    const bool truncated = cause.find("truncated") != std::string::npos;
    return what + (truncated ? " (the file is truncated)" : "") + ": " + cause;
}

// The standard integer and IEEE float types, the only ones numbers are read from: HDF5 compares
// them property by property, and converts them to the native types it was built for.
bool standard_number(hid_t id) {
    const hid_t standard[] = {
        H5T_STD_I8LE,  H5T_STD_I8BE,  H5T_STD_U8LE,  H5T_STD_U8BE,  H5T_STD_I16LE, H5T_STD_I16BE,
        H5T_STD_U16LE, H5T_STD_U16BE, H5T_STD_I32LE, H5T_STD_I32BE, H5T_STD_U32LE, H5T_STD_U32BE,
        H5T_STD_I64LE, H5T_STD_I64BE, H5T_STD_U64LE, H5T_STD_U64BE, H5T_IEEE_F32LE, H5T_IEEE_F32BE,
        H5T_IEEE_F64LE, H5T_IEEE_F64BE};
    for (hid_t s : standard)
        if (H5Tequal(id, s) > 0) return true;
    return false;
}

struct TypeInfo {
    wire::Class cls = wire::kOther;
    std::uint32_t size = 0;
    bool is_signed = false;
    std::string text;
    hid_t mem = -1;  // the native type numbers are read as
};

TypeInfo describe(const H5::DataType& t) {
    TypeInfo ti;
    ti.size = std::uint32_t(t.getSize());
    const std::string bits = std::to_string(ti.size * 8);
    const bool standard = standard_number(t.getId());
    switch (t.getClass()) {
        case H5T_INTEGER: {
            ti.is_signed = H5::IntType(t.getId()).getSign() != H5T_SGN_NONE;
            ti.text = (ti.is_signed ? "int" : "uint") + bits;
            const hid_t s[4] = {H5T_NATIVE_INT8, H5T_NATIVE_INT16, H5T_NATIVE_INT32, H5T_NATIVE_INT64};
            const hid_t u[4] = {H5T_NATIVE_UINT8, H5T_NATIVE_UINT16, H5T_NATIVE_UINT32, H5T_NATIVE_UINT64};
            const int k = ti.size == 1 ? 0 : ti.size == 2 ? 1 : ti.size == 4 ? 2 : 3;
            if (standard) ti.cls = wire::kInteger, ti.mem = ti.is_signed ? s[k] : u[k];
            break;
        }
        case H5T_FLOAT:
            ti.text = "float" + bits;
            if (standard) ti.cls = wire::kFloat, ti.mem = ti.size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
            ti.is_signed = true;
            break;
        case H5T_STRING: ti.text = "string", ti.cls = wire::kString; break;
        case H5T_COMPOUND: ti.text = "compound"; break;
        case H5T_ENUM: ti.text = "enum"; break;
        case H5T_ARRAY: ti.text = "array"; break;
        default: ti.text = "a non-numeric type"; break;
    }
    if (!standard && (ti.cls == wire::kOther) && (t.getClass() == H5T_INTEGER || t.getClass() == H5T_FLOAT))
        ti.text += " of a non-standard bit layout (damaged?)";
    return ti;
}

void read_raw(const H5::DataSet& d, const H5::DataType& t, void* buf) { d.read(buf, t); }
void read_raw(const H5::Attribute& a, const H5::DataType& t, void* buf) { a.read(t, buf); }

// n strings of a dataset or attribute, fixed- or variable-length, written as str records
template <class Obj>
void put_strings(Writer& w, const Obj& obj, std::size_t n) {
    const H5::StrType type = obj.getStrType();
    w.u64(n);
    if (type.isVariableStr()) {
        need(std::uint64_t(n) * sizeof(char*));
        std::vector<char*> buf(n, nullptr);
        read_raw(obj, type, buf.data());
        for (char* p : buf) w.str(p ? p : "");
        H5Dvlen_reclaim(type.getId(), obj.getSpace().getId(), H5P_DEFAULT, buf.data());
    } else {
        const std::size_t size = type.getSize();
        const H5T_str_t pad = type.getStrpad();
        need(std::uint64_t(n) * size);
        std::vector<char> buf(n * size, '\0');
        read_raw(obj, type, buf.data());
        for (std::size_t i = 0; i < n; ++i) {
            std::string s(buf.data() + i * size, size);
            if (pad == H5T_STR_NULLTERM)
                s.resize(std::min(s.find('\0'), s.size()));
            else  // the padding: NULs (h5py's, xgrad's) or spaces
                s.erase(s.find_last_not_of(pad == H5T_STR_SPACEPAD ? ' ' : '\0') + 1);
            w.str(s);
        }
    }
}

// Before a dataset's bytes are allocated: its data must be stored, and fit in the file when it is
// stored contiguously (a damaged dimension otherwise has gigabytes allocated for nothing).
std::string stored_problem(const std::string& file, const H5::DataSet& ds, std::uint64_t bytes) {
    if (bytes == 0) return "";
    const hid_t id = ds.getId();
    H5D_layout_t layout = H5D_LAYOUT_ERROR;
    if (const hid_t pl = H5Dget_create_plist(id); pl >= 0) {
        layout = H5Pget_layout(pl);
        H5Pclose(pl);
    }
    struct stat st {};
    const std::uint64_t size = ::stat(file.c_str(), &st) == 0 ? std::uint64_t(st.st_size) : 0;
    const std::string want = "expected " + std::to_string(bytes) + " bytes of data";
    if (layout == H5D_CONTIGUOUS) {
        const haddr_t off = H5Dget_offset(id);
        if (off == HADDR_UNDEF) return want + ", found none stored (never written)";
        if (off > size || bytes > size - off)
            return want + " from byte " + std::to_string(off) + ", found a file of " + std::to_string(size) +
                   " bytes (truncated, or a damaged size)";
        return "";
    }
    if (H5Dget_storage_size(id) == 0) return want + ", found none stored (never written)";
    return "";
}

// One dataset or attribute: its type, shape and (unless shapes_only) values.
template <class Obj>
void put_item(Writer& w, const std::string& file, std::uint8_t where, const std::string& name, const Obj& obj,
              bool shapes_only, const H5::DataSet* ds) {
    const std::size_t start = w.buf.size();
    const H5::DataType t = obj.getDataType();
    const TypeInfo ti = describe(t);
    const H5::DataSpace sp = obj.getSpace();
    const bool null_space = sp.getSimpleExtentType() == H5S_NULL;
    const int rank = null_space ? 0 : sp.getSimpleExtentNdims();
    std::vector<hsize_t> dims(rank > 0 ? std::size_t(rank) : 0);
    if (rank > 0) sp.getSimpleExtentDims(dims.data());
    std::uint64_t n = null_space ? 0 : 1;
    bool overflow = false;
    for (hsize_t d : dims) {
        if (d != 0 && n > ~std::uint64_t(0) / d) overflow = true;
        n *= d;
    }
    const std::uint64_t bytes = overflow || (ti.size && n > ~std::uint64_t(0) / ti.size) ? ~std::uint64_t(0) : n * ti.size;
    std::string problem;
    const bool read = !shapes_only && ti.cls != wire::kOther && (n > 0 || overflow);
    if (read && ds) {
        problem = stored_problem(file, *ds, bytes);
        if (!problem.empty()) problem = "dataset '" + name + "': " + problem;
    }
    if (read && problem.empty()) need(bytes);
    w.u8(wire::kItem);
    w.u8(where);
    w.str(name);
    w.str(problem);
    if (!problem.empty()) return;
    w.u8(ti.cls);
    w.u32(ti.size);
    w.u8(ti.is_signed);
    w.str(ti.text);
    w.u8(null_space);
    w.u32(std::uint32_t(dims.size()));
    for (hsize_t d : dims) w.u64(d);
    w.u8(read);
    if (!read) return;
    try {
        errno = 0;
        if (ti.cls == wire::kString) {
            put_strings(w, obj, std::size_t(n));
        } else {
            w.u64(bytes);
            read_raw(obj, H5::DataType(H5Tcopy(ti.mem)), w.grow(std::size_t(bytes)));
        }
    } catch (const H5::Exception& e) {
        // an allocation inside HDF5 refused by RLIMIT_AS (a 300 MB variable-length string needs
        // over 1 GB there): say so, rather than HDF5's "H5Dread failed"
        if (errno == ENOMEM) throw TooBig{0};
        const std::string msg = with_cause(std::string("cannot read ") + (where ? "attribute '" : "dataset '") + name + "'", e);
        w.buf.resize(start);
        w.u8(wire::kItem);
        w.u8(where);
        w.str(name);
        w.str(msg);
    }
}

void error_item(Writer& w, std::uint8_t where, const std::string& name, const std::string& msg) {
    w.u8(wire::kItem);
    w.u8(where);
    w.str(name);
    w.str(msg);
}

void read_h5(Writer& w, const std::string& file, int argc, char** argv) {
    bool attrs = false, links = false, all = false, shapes_only = false;
    std::vector<std::string> names;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-a") attrs = true;
        else if (a == "-l") links = true;
        else if (a == "-D") all = true;
        else if (a == "-S") shapes_only = true;
        else if (a == "-d" && i + 1 < argc) names.emplace_back(argv[++i]);
    }
    bool hdf5 = false;
    try {
        hdf5 = H5::H5File::isHdf5(file.c_str());
    } catch (const H5::Exception& e) {
        w.u8(wire::kError), w.str(with_cause("cannot check the file type", e));
        return;
    }
    if (!hdf5) {
        w.u8(wire::kError), w.str("not an HDF5 file (no HDF5 signature)");
        return;
    }
    H5::H5File f;
    H5::Group root;
    try {
        f.openFile(file.c_str(), H5F_ACC_RDONLY);
        root = f.openGroup("/");
    } catch (const H5::Exception& e) {
        w.u8(wire::kError), w.str(with_cause("cannot open as HDF5", e));
        return;
    }
    if (attrs) {
        int n = 0;
        try {
            n = root.getNumAttrs();
        } catch (const H5::Exception& e) {
            w.u8(wire::kError), w.str(with_cause("cannot read the root group's attributes", e));
            return;
        }
        for (int i = 0; i < n; ++i) {
            std::string name;
            try {
                const H5::Attribute a = root.openAttribute(unsigned(i));
                name = a.getName();
                put_item(w, file, 1, name, a, false, nullptr);  // (-S is for datasets)
            } catch (const H5::Exception& e) {
                if (name.empty()) {
                    w.u8(wire::kError), w.str(with_cause("cannot read the root group's attributes", e));
                    return;
                }
                error_item(w, 1, name, with_cause("cannot read attribute '" + name + "'", e));
            }
        }
    }
    if (links || all) {
        try {
            const hsize_t n = root.getNumObjs();
            for (hsize_t i = 0; i < n; ++i) {
                const std::string name = root.getObjnameByIdx(i);
                H5O_type_t type = H5O_TYPE_UNKNOWN;
                try {
                    type = root.childObjType(name);
                } catch (const H5::Exception&) {
                }
                if (links) w.u8(wire::kName), w.str(name), w.u8(type == H5O_TYPE_DATASET ? 0 : type == H5O_TYPE_GROUP ? 1 : 2);
                if (all && type == H5O_TYPE_DATASET) names.push_back(name);
            }
        } catch (const H5::Exception& e) {
            w.u8(wire::kError), w.str(with_cause("cannot list the root group", e));
            return;
        }
    }
    for (const std::string& name : names) {
        try {
            if (!f.nameExists(name)) continue;  // missing: the library says which one it wanted
        } catch (const H5::Exception& e) {
            error_item(w, 0, name, with_cause("cannot look up dataset '" + name + "'", e));
            continue;
        }
        try {
            const H5::DataSet ds = f.openDataSet(name);
            put_item(w, file, 0, name, ds, shapes_only, &ds);
        } catch (const H5::Exception& e) {
            error_item(w, 0, name, with_cause("cannot open dataset '" + name + "'", e));
        }
    }
}

bool write_all(int fd, const unsigned char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t k = ::write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k, n -= std::size_t(k);
    }
    return true;
}


// ---- stream mode ---------------------------------------------------------------------------------

bool read_all(int fd, void* p, std::size_t n) {
    auto* c = static_cast<unsigned char*>(p);
    while (n > 0) {
        const ssize_t k = ::read(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c += k, n -= std::size_t(k);
    }
    return true;
}


struct StreamFile {
    H5::H5File f;
    H5::DataSet x, y;
    std::vector<hsize_t> xdims, ydims;
    std::uint64_t m = 0, features = 0;
};

// Opens the file and checks what the examples' layout needs (the values are checked per batch by
// the library): "" or why not.
std::string open_stream(StreamFile& s, const std::string& file, const std::string& xn, const std::string& yn) {
    try {
        if (!H5::H5File::isHdf5(file.c_str())) return "not an HDF5 file (no HDF5 signature)";
        s.f.openFile(file.c_str(), H5F_ACC_RDONLY);
    } catch (const H5::Exception& e) {
        return with_cause("cannot open as HDF5", e);
    }
    for (const auto* name : {&xn, &yn})
        try {
            if (!s.f.nameExists(*name)) return "no dataset '" + *name + "'";
        } catch (const H5::Exception& e) {
            return with_cause("cannot look up dataset '" + *name + "'", e);
        }
    try {
        s.x = s.f.openDataSet(xn);
        s.y = s.f.openDataSet(yn);
        const H5::DataType xt = s.x.getDataType(), yt = s.y.getDataType();
        const TypeInfo xi = describe(xt), yi = describe(yt);
        if (xi.cls != wire::kInteger || xi.size != 1 || xi.is_signed)
            return "dataset '" + xn + "': expected uint8 images, found " + xi.text;
        if (yi.cls != wire::kInteger) return "dataset '" + yn + "': expected integer labels, found " + yi.text;
        const H5::DataSpace xs = s.x.getSpace(), ys = s.y.getSpace();
        const int xr = xs.getSimpleExtentNdims(), yr = ys.getSimpleExtentNdims();
        if (xr < 2) return "dataset '" + xn + "': expected rank 2 or more (m, ...), found rank " + std::to_string(xr);
        s.xdims.resize(std::size_t(xr));
        xs.getSimpleExtentDims(s.xdims.data());
        if (yr < 1 || yr > 2) return "dataset '" + yn + "': expected shape (m) or (1, m), found rank " + std::to_string(yr);
        s.ydims.resize(std::size_t(yr));
        ys.getSimpleExtentDims(s.ydims.data());
        s.m = s.xdims[0];
        s.features = 1;
        for (std::size_t k = 1; k < s.xdims.size(); ++k) {
            if (s.xdims[k] == 0 || s.features > (std::uint64_t(1) << 40) / s.xdims[k])
                return "dataset '" + xn + "': example dimensions of 0 or past 2^40 values";
            s.features *= s.xdims[k];
        }
        const std::uint64_t ym = yr == 1 ? s.ydims[0] : s.ydims[1];
        if ((yr == 2 && s.ydims[0] != 1) || ym != s.m)
            return "dataset '" + yn + "': expected shape (" + std::to_string(s.m) + ") or (1, " + std::to_string(s.m) +
                   ") for the " + std::to_string(s.m) + " images";
        if (s.m == 0) return "dataset '" + xn + "': no examples";
        const std::string px = stored_problem(file, s.x, s.m * s.features);
        if (!px.empty()) return "dataset '" + xn + "': " + px;
        const std::string py = stored_problem(file, s.y, s.m * yi.size);
        if (!py.empty()) return "dataset '" + yn + "': " + py;
    } catch (const H5::Exception& e) {
        return with_cause("cannot read datasets '" + xn + "' and '" + yn + "'", e);
    }
    return "";
}

// The examples idx[0..n) in request order: n·features bytes, then n labels as int64. Runs of
// consecutive indices (after sorting) are one hyperslab each; XGRAD_STREAM_SELECTION=union makes
// them one selection (the union of the runs) and one read (measured slower, README).
void answer(Writer& w, StreamFile& s, const std::string& xn, const std::string& yn,
            const std::vector<std::uint64_t>& idx, bool union_selection, std::vector<unsigned char>& sorted_x) {
    const std::size_t n = idx.size();
    const std::uint64_t F = s.features;
    for (std::uint64_t i : idx)
        if (i >= s.m) {
            w.u8(wire::kError), w.str("example " + std::to_string(i) + " asked for, the file has " + std::to_string(s.m));
            return;
        }
    need(std::uint64_t(n) * F * 2);
    std::vector<std::uint64_t> u(idx);
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    sorted_x.resize(std::size_t(u.size() * F));
    std::vector<long long> labels(u.size());
    const std::size_t rank = s.xdims.size();
    std::vector<hsize_t> start(rank, 0), count(s.xdims);
    try {
        H5::DataSpace fs = s.x.getSpace();
        std::size_t done = 0;
        fs.selectNone();
        for (std::size_t a = 0; a < u.size();) {
            std::size_t b = a + 1;
            while (b < u.size() && u[b] == u[b - 1] + 1) ++b;
            start[0] = u[a];
            count[0] = b - a;
            if (union_selection) {
                fs.selectHyperslab(H5S_SELECT_OR, count.data(), start.data());
            } else {
                fs.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
                // the memory space of the selection's own shape: with a flat one HDF5 walks the
                // selection element by element (measured 30x slower)
                H5::DataSpace ms(int(rank), count.data());
                s.x.read(sorted_x.data() + done * F, H5::PredType::NATIVE_UINT8, ms, fs);
            }
            done += b - a;
            a = b;
        }
        if (union_selection) {
            std::vector<hsize_t> all(s.xdims);
            all[0] = u.size();
            H5::DataSpace ms(int(rank), all.data());
            s.x.read(sorted_x.data(), H5::PredType::NATIVE_UINT8, ms, fs);
        }
        // the labels: one point per example
        H5::DataSpace ys = s.y.getSpace();
        std::vector<hsize_t> coords;
        for (std::uint64_t i : u) {
            if (s.ydims.size() == 2) coords.push_back(0);
            coords.push_back(i);
        }
        ys.selectElements(H5S_SELECT_SET, u.size(), coords.data());
        const hsize_t ln = u.size();
        H5::DataSpace lm(1, &ln);
        s.y.read(labels.data(), H5::PredType::NATIVE_LLONG, lm, ys);
    } catch (const H5::Exception& e) {
        if (errno == ENOMEM) throw TooBig{0};
        w.u8(wire::kError), w.str(with_cause("cannot read examples of datasets '" + xn + "' and '" + yn + "'", e));
        return;
    }
    w.u8(wire::kBatch);
    w.u64(n);
    // feature-major, as the columns of X [features, n]: the transpose is done here, in the
    // reader's process, so that the library's conversion to T is one sequential pass. In tiles of
    // 64 examples x 256 features, which the cache holds.
    unsigned char* out = w.grow(std::size_t(n * F));
    std::vector<long long> lab(n);
    std::vector<std::size_t> at(n);
    for (std::size_t j = 0; j < n; ++j) {
        at[j] = std::size_t(std::lower_bound(u.begin(), u.end(), idx[j]) - u.begin());
        lab[j] = labels[at[j]];
    }
    for (std::size_t j0 = 0; j0 < n; j0 += 64) {
        const std::size_t j1 = std::min<std::size_t>(n, j0 + 64);
        for (std::size_t i0 = 0; i0 < F; i0 += 256) {
            const std::size_t i1 = std::min<std::size_t>(F, i0 + 256);
            for (std::size_t j = j0; j < j1; ++j) {
                const unsigned char* src = sorted_x.data() + at[j] * F;
                for (std::size_t i = i0; i < i1; ++i) out[i * n + j] = src[i];
            }
        }
    }
    w.raw(lab.data(), n * sizeof(long long));
}

int run_stream(const std::string& file, const std::string& xn, const std::string& yn) {
    StreamFile s;
    const char* sel = std::getenv("XGRAD_STREAM_SELECTION");
    const bool union_selection = sel && std::string(sel) == "union";
    Writer w;
    if (sel && *sel && std::string(sel) != "union" && std::string(sel) != "runs") {
        w.u8(wire::kError), w.str("environment variable XGRAD_STREAM_SELECTION=" + printable(sel) +
                                  ": expected 'runs' (the default) or 'union'");
        w.u8(wire::kEnd);
        return write_all(1, w.buf.data(), w.buf.size()) ? 0 : 3;
    }
    const std::string problem = open_stream(s, file, xn, yn);
    if (!problem.empty()) {
        w.u8(wire::kError), w.str(problem), w.u8(wire::kEnd);
        return write_all(1, w.buf.data(), w.buf.size()) ? 0 : 3;
    }
    w.u8(wire::kHeader), w.u64(s.m), w.u64(s.features), w.u32(std::uint32_t(s.xdims.size() - 1));
    for (std::size_t k = 1; k < s.xdims.size(); ++k) w.u64(s.xdims[k]);
    if (!write_all(1, w.buf.data(), w.buf.size())) return 3;
    std::vector<std::uint64_t> idx;
    std::vector<unsigned char> sorted_x;
    for (;;) {
        std::uint64_t n = 0;
        if (!read_all(0, &n, sizeof n)) return 0;  // the parent is done
        if (n == 0 || n > s.m * 4) return 4;      // not a request of the library's
        idx.resize(std::size_t(n));
        if (!read_all(0, idx.data(), std::size_t(n) * sizeof(std::uint64_t))) return 0;
        w.buf.clear();
        try {
            answer(w, s, xn, yn, idx, union_selection, sorted_x);
        } catch (const TooBig& t) {
            w.buf.clear();
            w.u8(wire::kMemory), w.u64(t.bytes);
        } catch (const std::bad_alloc&) {
            w.buf.clear();
            w.u8(wire::kMemory), w.u64(0);
        }
        if (!write_all(1, w.buf.data(), w.buf.size())) return 3;
    }
}
}  // namespace

int main(int argc, char** argv) {
    // The parent may stop reading at any time: a write then fails instead of killing us quietly.
    std::signal(SIGPIPE, SIG_IGN);
    if (argc < 5) {
        const char usage[] = "usage: xgrad-read MEMORY_BYTES SECONDS h5|image FILE ...\n"
                             "(a helper of the xgrad library; it writes binary records to standard output)\n";
        (void)!::write(2, usage, sizeof usage - 1);
        return 64;
    }
    g_limit = std::strtoull(argv[1], nullptr, 10);
    const unsigned long seconds = std::strtoul(argv[2], nullptr, 10);
#if !defined(__SANITIZE_ADDRESS__)
    // the address space: the data plus what the program and its libraries need
    const rlimit as{rlim_t(g_limit + (std::uint64_t(256) << 20)), rlim_t(g_limit + (std::uint64_t(256) << 20))};
    if (::setrlimit(RLIMIT_AS, &as) != 0) {
        // a hard limit below ours, inherited and not ours to raise: the soft one up to it
        rlimit inherited{};
        if (::getrlimit(RLIMIT_AS, &inherited) == 0 && inherited.rlim_max != RLIM_INFINITY) {
            inherited.rlim_cur = inherited.rlim_max;
            ::setrlimit(RLIMIT_AS, &inherited);
            g_limited = true;
        }
    }
#endif
    // processor time, a backstop: the parent's deadline (wall-clock) comes first
    const std::string mode = argv[3], file = argv[4];
    if (mode != "stream") {
        const rlimit cpu{rlim_t(seconds + 1), rlim_t(seconds + 2)};
        ::setrlimit(RLIMIT_CPU, &cpu);
    }
    H5::Exception::dontPrint();
    if (mode == "stream") {
        if (argc != 7) return 64;
        const std::string xn = argv[5], yn = argv[6];
        ::_exit(run_stream(file, xn, yn));
    }
    Writer w;
    try {
        if (mode == "h5") {
            read_h5(w, file, argc - 5, argv + 5);
        } else if (mode == "image" && argc == 6) {
            read_image(w, file, std::atoi(argv[5]));
        } else {
            w.u8(wire::kError), w.str("xgrad-read: unknown request '" + mode + "'");
        }
    } catch (const TooBig& t) {
        w.buf.clear();
        w.buf.shrink_to_fit();
        w.u8(wire::kMemory), w.u64(t.bytes);
    } catch (const std::bad_alloc&) {
        w.buf.clear();
        w.buf.shrink_to_fit();
        w.u8(wire::kMemory), w.u64(0);
    } catch (const H5::Exception& e) {
        w.u8(wire::kError), w.str(with_cause("cannot read the file", e));
    }
    w.u8(wire::kEnd);
    // _exit: no destructors of HDF5's globals (a damaged file may have left them inconsistent)
    ::_exit(write_all(1, w.buf.data(), w.buf.size()) ? 0 : 3);
}
