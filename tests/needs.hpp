#pragma once
// What a test case needs beyond the build, declared as a Boost precondition and a label:
//
//     BOOST_AUTO_TEST_CASE(trains_on_the_real_data, *test::needs(test::Need::data, have_it, why))
//
// Without it Boost skips the case and reports "Test case ... is skipped because precondition
// failed: needs data: <why>"; ctest runs the cases of each label as an entry of their own
// (<test>_<label>, tests/CMakeLists.txt) and reports that entry as skipped, not passed.
// XGRAD_REQUIRE_DATA=1 (CI) makes a missing dataset or h5py a failure instead: the precondition
// then holds and the case fails on what is missing. AVX2 and tmpfs are never required: a processor
// without AVX2, or a machine where the test may not mount a file system, skips and says so.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <functional>
#include <string>

namespace xgrad::test {

enum class Need { data, digits, h5py, avx2, tmpfs };

inline const char* label_of(Need n) {
    switch (n) {
        case Need::data: return "data";      // the cat/non-cat dataset
        case Need::digits: return "digits";  // the digits dataset
        case Need::h5py: return "h5py";      // /usr/bin/python3 with h5py and numpy
        case Need::avx2: return "avx2";      // the AVX2 + FMA kernels
        case Need::tmpfs: return "tmpfs";    // mounting a small tmpfs (root, a mount namespace)
    }
    return "?";
}

inline bool data_required() {
    const char* r = std::getenv("XGRAD_REQUIRE_DATA");
    return r && std::string(r) == "1";
}

struct Precondition {
    Need need;
    std::function<bool()> available;
    std::string why;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        if (available() || (need != Need::avx2 && need != Need::tmpfs && data_required())) return true;
        boost::test_tools::assertion_result r(false);
        r.message() << "needs " << label_of(need) << ": " << why;
        return r;
    }
};

// The decorator: the label (for ctest's entry) and the precondition.
inline boost::unit_test::decorator::collector_t& needs(Need n, std::function<bool()> available,
                                                        const std::string& why) {
    return *boost::unit_test::label(label_of(n)) *
           boost::unit_test::precondition(Precondition{n, std::move(available), why});
}

inline bool have_h5py() {
    static const bool yes = std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") == 0;
    return yes;
}

inline const char* const kNoH5py = "/usr/bin/python3 cannot import h5py and numpy (apt-get install python3-h5py)";

inline boost::unit_test::decorator::collector_t& needs_h5py() { return needs(Need::h5py, have_h5py, kNoH5py); }

// The precondition alone, for a case that has another label (e.g. data) and needs h5py as well:
// it runs in that label's ctest entry, and Boost reports it skipped without h5py.
inline Precondition h5py_precondition() { return {Need::h5py, have_h5py, kNoH5py}; }

}  // namespace xgrad::test
