// Only in BLIS builds: make Debian's BLIS 0.9 use its AMD Zen kernels on the AMD processors it
// does not recognise.
//
// BLIS 0.9 picks its kernels from cpuid at its first call; it knows AMD families up to Zen 3 and
// falls back to the portable 'generic' kernels on Zen 4/5 (family 0x19 with AVX-512, 0x1A). Measured
// on this project's machine (AMD family 0x1A), the seed's two big products take 8.6 + 7.6 ms with
// 'generic' and 2.7 + 2.3 ms with 'zen3' (tools/bench.cpp, README). BLIS reads the kernel choice
// from the environment variable BLIS_ARCH_TYPE (a numeric id), once, at its first call; this runs
// when libxgrad is loaded, before main and before any BLIS call, and never overrides a value the
// user has set. It is the library's only process-wide effect and holds no state of its own.
#include <blis.h>
#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool amd_zen4_or_later_with_avx2() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return false;
    char vendor[13] = {};
    std::memcpy(vendor, &ebx, 4);
    std::memcpy(vendor + 4, &edx, 4);
    std::memcpy(vendor + 8, &ecx, 4);
    if (std::strcmp(vendor, "AuthenticAMD") != 0) return false;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const unsigned base_family = (eax >> 8) & 0xf;
    const unsigned family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family;
    const bool fma = ecx & (1u << 12);
    unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return false;
    const bool avx2 = b7 & (1u << 5);
    const bool avx512f = b7 & (1u << 16);
    // Zen 3 (family 0x19 without AVX-512) is recognised by BLIS itself.
    return fma && avx2 && (family > 0x19 || (family == 0x19 && avx512f));
}

__attribute__((constructor)) void xgrad_choose_blis_kernels() {
    if (std::getenv("BLIS_ARCH_TYPE") || !amd_zen4_or_later_with_avx2()) return;
    for (int id = 0; id < BLIS_NUM_ARCHS; ++id) {
        const char* name = bli_arch_string(arch_t(id));
        if (name && std::strcmp(name, "zen3") == 0) {
            setenv("BLIS_ARCH_TYPE", std::to_string(id).c_str(), 0);
            return;
        }
    }
}

}  // namespace
