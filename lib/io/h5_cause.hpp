#pragma once
// Internal: HDF5's innermost error text, shared by the library's writer (h5.cpp) and the reader
// helper (reader_main.cpp).
#include <H5Cpp.h>

#include <string>

#include "xgrad/io/text.hpp"

namespace xgrad::io::h5 {

// The innermost message of HDF5's error stack ("truncated file: eof = ...") says far more than the
// C++ wrapper's "H5Fopen failed"; it must be read before any other HDF5 call clears the stack.
inline std::string hdf5_cause(const H5::Exception& e) {
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

}  // namespace xgrad::io::h5
