// Reading a user's file in the helper xgrad-read (see isolate.hpp): spawn it, collect its answer
// within the limits, reap it, decode the answer.
#include "isolate.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "xgrad/io/files.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/core/tensor.hpp"

extern char** environ;

#ifndef XGRAD_READER_RELPATH
#define XGRAD_READER_RELPATH "xgrad-read"
#endif
#ifndef XGRAD_READER_BUILD_RELPATH
#define XGRAD_READER_BUILD_RELPATH "xgrad-read"
#endif

namespace xgrad::io::isolated {

namespace {

using Clock = std::chrono::steady_clock;

// A positive whole number of at most `max` from the environment; 0 when the variable is unset.
std::uint64_t env_number(const char* name, std::uint64_t max) {
    const char* v = std::getenv(name);
    if (!v || !*v) return 0;
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v, &end, 10);
    // strtoull would take "-1" (as 2^64 - 1), " 5" and "+5": only digits are a number here
    if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE || n == 0 || n > max)
        throw UsageError(std::string(name) + " must be a whole number from 1 to " + std::to_string(max) +
                         ", not '" + printable(v) + "'");
    return n;
}

// The helper's stderr goes nowhere unless XGRAD_READER_STDERR is set (for debugging it): a damaged
// file must give one line, not HDF5's or a sanitizer's pages.
bool keep_stderr() {
    const char* v = std::getenv("XGRAD_READER_STDERR");
    return v && *v && std::strcmp(v, "0") != 0;
}

struct Spawned {
    pid_t pid = -1;
    int fd = -1;
};

// Reaps the child: waits until `deadline`, then kills it. True when it had exited on its own.
bool reap(pid_t pid, Clock::time_point deadline, int& status) {
    for (auto pause = std::chrono::microseconds(200);;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) return status = 0, true;  // not ours to reap (SIGCHLD ignored)
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return false;
}

}  // namespace

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

Limits check_file(const std::string& file, const std::string& what) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
        throw DataError(file + ": " + (errno == ENOENT ? std::string("no such file") : std::strerror(errno)));
    // (a FIFO or device would block or stream: the readers need a file they can seek in)
    if (!S_ISREG(st.st_mode)) throw DataError(file + ": " + file_kind(st.st_mode) + ", not a regular file");
    if (::access(file.c_str(), R_OK) != 0) throw DataError(file + ": not readable (permission)");
    if (st.st_size == 0) throw DataError(file + ": " + what + " (the file is empty)");
    return limits_for(std::uint64_t(st.st_size));
}

int start_reader(const std::string& file, const Limits& lim, std::vector<std::string> args, int in_fd,
                   int out_fd) {
    std::string why;
    const std::string helper = reader_path(&why);
    if (helper.empty()) throw DataError(file + ": cannot read it: " + why);

    args.insert(args.begin(), {helper, std::to_string(lim.memory), std::to_string(lim.seconds)});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_store;
    std::vector<char*> envp;
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, "ASAN_OPTIONS=", 13) != 0) envp.push_back(*e);
#if defined(__SANITIZE_ADDRESS__)
    // under ASan RLIMIT_AS cannot work (reader_main.cpp): its allocator enforces the limit
    {
        const char* a = std::getenv("ASAN_OPTIONS");
        env_store.push_back(std::string("ASAN_OPTIONS=") + (a ? a : "") + (a && *a ? ":" : "") +
                            "allocator_may_return_null=1:detect_leaks=0:max_allocation_size_mb=" +
                            std::to_string(std::max<std::uint64_t>(1, lim.memory >> 20)));
    }
#else
    if (const char* a = std::getenv("ASAN_OPTIONS")) env_store.push_back(std::string("ASAN_OPTIONS=") + a);
#endif
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!keep_stderr()) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    // the child starts with default signal handling and nothing blocked, whatever the program set
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, helper.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw DataError(file + ": cannot read it: cannot start " + helper + " (" + std::strerror(rc) + ")");
    return pid;
}

namespace {

std::vector<unsigned char> run_reader(const std::string& file, const std::string& what,
                                      std::vector<std::string> args) {
    const Limits lim = check_file(file, what);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw DataError(file + ": cannot read it: no pipe (" + std::strerror(errno) + ")");
    pid_t pid = -1;
    try {
        pid = start_reader(file, lim, args, -1, fds[1]);
    } catch (...) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw;
    }
    ::close(fds[1]);
    const std::string helper = reader_path();

    // Whatever ends this function early (bad_alloc while collecting the answer) must not leave the
    // child blocked on a full pipe forever, nor its pipe open.
    struct Child {
        pid_t pid;
        int fd;
        ~Child() {
            if (fd >= 0) ::close(fd);
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                int st = 0;
                while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
                }
            }
        }
    } child{pid, fds[0]};
    // Collect the answer until the deadline; more than the memory limit is not taken.
    const auto deadline = Clock::now() + std::chrono::seconds(lim.seconds);
    const std::size_t cap = std::size_t(lim.memory) + (std::size_t(1) << 20);
    std::vector<unsigned char> out;
    enum { done, late, big, broken } how = done;
    std::vector<unsigned char> chunk(std::size_t(1) << 16);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            how = late;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int r = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            how = broken;
            break;
        }
        if (r == 0) continue;
        const ssize_t n = ::read(fds[0], chunk.data(), chunk.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;  // end of the answer (or an error: judged by the exit status below)
        if (out.size() + std::size_t(n) > cap) {
            how = big;
            break;
        }
        out.insert(out.end(), chunk.data(), chunk.data() + n);
    }
    ::close(fds[0]);
    child.fd = -1;
    int status = 0;
    // a child that closed its output exits right away; one still running when we stop reading is killed
    const bool exited = reap(pid, how == done ? deadline : Clock::now(), status);
    child.pid = -1;
    const std::string limit_mib = std::to_string(lim.memory >> 20) + " MiB";
    if (how == big)
        throw DataError(file + ": reading it needs more than the " + limit_mib + " limit (XGRAD_READ_MEMORY_MIB)" +
                        memory_limit_note(lim));
    if (how == late || !exited)
        throw DataError(file + ": reading did not finish in " + std::to_string(lim.seconds) +
                        " s (XGRAD_READ_SECONDS): the file is damaged or too big");
    const bool image = !args.empty() && args[0] == "image";
    const std::string reader = image ? "the image decoder" : "the HDF5 library";
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        if (sig == SIGXCPU || sig == SIGKILL)
            throw DataError(file + ": reading did not finish in " + std::to_string(lim.seconds) +
                            " s of processor time (XGRAD_READ_SECONDS): the file is damaged or too big");
        throw DataError(file + ": " + reader + " crashed reading it (" + signal_name(sig) + "): " + failure_cause(lim));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || how == broken)
        throw DataError(file + ": " + reader + " failed reading it (" + helper + " exit status " +
                        std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "): " + failure_cause(lim));
    if (out.empty() || out.back() != wire::kEnd)
        throw DataError(file + ": " + reader + " stopped reading it without an answer: " + failure_cause(lim));
    return out;
}

[[noreturn]] void malformed(const std::string& file) {
    throw DataError(file + ": the reader's answer is malformed (a mismatched " XGRAD_READER_RELPATH "?)");
}

// the records every answer may hold: a file-level error or a refused allocation
void common(const std::string& file, std::uint8_t tag, wire::Reader& r, const Limits& lim) {
    if (tag == wire::kError) throw DataError(file + ": " + printable(r.str()));
    if (tag == wire::kMemory) {
        const std::uint64_t bytes = r.u64();
        const std::string note = memory_limit_note(lim);
        // a refusal below the helper's own limit was the process's limit
        if (!bytes && !note.empty()) throw DataError(file + ": reading it ran out of memory" + note);
        throw DataError(file + ": reading it needs more than the " + std::to_string(lim.memory >> 20) + " MiB limit" +
                        (bytes ? " (" + std::to_string(bytes) + " bytes for one array)" : std::string()) +
                        " (XGRAD_READ_MEMORY_MIB)" + note);
    }
    malformed(file);
}

std::uint64_t file_size(const std::string& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? std::uint64_t(st.st_size) : 0;
}

template <class T>
T at(const std::vector<unsigned char>& b, std::size_t i) {
    T v;
    std::memcpy(&v, b.data() + i * sizeof(T), sizeof(T));
    return v;
}

}  // namespace

std::uint64_t Item::count() const {
    if (null_space) return 0;
    std::uint64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
}

std::vector<double> Item::doubles() const {
    if (cls == wire::kInteger) {
        const auto v = ints();
        return std::vector<double>(v.begin(), v.end());
    }
    const std::size_t n = size ? bytes.size() / size : 0;
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = size == 4 ? double(at<float>(bytes, i)) : at<double>(bytes, i);
    return v;
}

std::vector<long long> Item::ints() const {
    const std::size_t n = size ? bytes.size() / size : 0;
    std::vector<long long> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        switch (size * 2 + (is_signed ? 1 : 0)) {
            case 2: v[i] = at<std::uint8_t>(bytes, i); break;
            case 3: v[i] = at<std::int8_t>(bytes, i); break;
            case 4: v[i] = at<std::uint16_t>(bytes, i); break;
            case 5: v[i] = at<std::int16_t>(bytes, i); break;
            case 8: v[i] = at<std::uint32_t>(bytes, i); break;
            case 9: v[i] = at<std::int32_t>(bytes, i); break;
            case 16: v[i] = (long long)std::min<std::uint64_t>(at<std::uint64_t>(bytes, i), (1ULL << 63) - 1); break;
            default: v[i] = at<std::int64_t>(bytes, i); break;
        }
    }
    return v;
}

Limits limits_for(std::uint64_t file_bytes) {
    Limits l;
    if (const std::uint64_t mib = env_number("XGRAD_READ_MEMORY_MIB", std::uint64_t(1) << 24)) {  // 16 TiB
        l.memory = mib << 20;
    } else {
        const std::uint64_t floor = std::uint64_t(256) << 20;
        const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
        const std::uint64_t half = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) / 2 : floor;
        const std::uint64_t want = floor + 16 * std::min<std::uint64_t>(file_bytes, std::uint64_t(1) << 40);
        l.memory = std::max(floor, std::min(want, half));
    }
    if (const std::uint64_t s = env_number("XGRAD_READ_SECONDS", std::uint64_t(1) << 20))  // 12 days
        l.seconds = unsigned(s);
    else
        l.seconds = unsigned(30 + std::min<std::uint64_t>(file_bytes / (std::uint64_t(10) << 20), 1u << 20));
    return l;
}

namespace {
// CAP_SYS_RESOURCE in this process's effective set: the helper may then raise its hard limits
bool may_raise_hard_limits() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return false;
    char line[256];
    unsigned long long caps = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f)) found = std::sscanf(line, "CapEff: %llx", &caps) == 1;
    std::fclose(f);
    return found && (caps >> 24 & 1ull);  // CAP_SYS_RESOURCE is capability 24
}

// This process's address-space limit in bytes when the helper, which inherits it, cannot raise
// itself to what it may use (reader_main sets soft and hard to memory + 256 MiB: a soft limit
// below that it raises, a hard one only with CAP_SYS_RESOURCE); else 0.
std::uint64_t tight_address_space(const Limits& lim) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_max == RLIM_INFINITY) return 0;
    const std::uint64_t helper = lim.memory + (std::uint64_t(256) << 20);
    if (std::uint64_t(rl.rlim_max) >= helper || may_raise_hard_limits()) return 0;
    return std::uint64_t(rl.rlim_max);
}
}  // namespace

std::string failure_cause(const Limits& lim) {
    const std::uint64_t as = tight_address_space(lim);
    if (!as) return "the file is damaged";
    return "the address-space limit of this process (ulimit -v: " + std::to_string(as >> 20) +
           " MiB, below the " + std::to_string((lim.memory >> 20) + 256) +
           " MiB the reader may use) may be the cause rather than the file: raise it";
}

std::string memory_limit_note(const Limits& lim) {
    const std::uint64_t as = tight_address_space(lim);
    return as ? " (the address-space limit of this process, ulimit -v, is " + std::to_string(as >> 20) +
                    " MiB: raise it)"
              : "";
}

std::string reader_path(std::string* why) {
    std::string path;
    if (const char* e = std::getenv("XGRAD_READER"); e && *e) {
        path = e;
    } else {
        Dl_info info{};
        if (!::dladdr(reinterpret_cast<void*>(&reader_path), &info) || !info.dli_fname) {
            if (why) *why = "cannot locate libxgrad_io.so to find its helper " XGRAD_READER_RELPATH;
            return "";
        }
        const std::string lib = info.dli_fname;
        const auto slash = lib.find_last_of('/');
        const std::string dir = slash == std::string::npos ? std::string(".") : lib.substr(0, slash);
        path = dir + "/" XGRAD_READER_RELPATH;  // installed
        if (::access(path.c_str(), X_OK) != 0 && ::access((dir + "/" XGRAD_READER_BUILD_RELPATH).c_str(), X_OK) == 0)
            path = dir + "/" XGRAD_READER_BUILD_RELPATH;  // the build tree
    }
    if (::access(path.c_str(), X_OK) != 0) {
        if (why) *why = "its reader helper " + path + " is missing or not executable (install xgrad completely, or set XGRAD_READER)";
        return "";
    }
    return path;
}

Contents read_h5(const std::string& file, const Request& req) {
    std::vector<std::string> args = {"h5", file};
    if (req.attributes) args.push_back("-a");
    if (req.links) args.push_back("-l");
    if (req.all_datasets) args.push_back("-D");
    if (req.shapes_only) args.push_back("-S");
    for (const auto& d : req.datasets) args.insert(args.end(), {"-d", d});
    const std::vector<unsigned char> out = run_reader(file, "not an HDF5 file", args);
    const Limits limit = limits_for(file_size(file));
    Contents c;
    c.file = file;
    wire::Reader r(out.data(), out.size());
    for (;;) {
        const std::uint8_t tag = r.u8();
        if (!r.ok()) malformed(file);
        if (tag == wire::kEnd) break;
        if (tag == wire::kName) {
            std::string name = r.str();
            const int kind = r.u8();
            c.links.emplace_back(std::move(name), kind);
            continue;
        }
        if (tag != wire::kItem) common(file, tag, r, limit);
        Item it;
        const bool attribute = r.u8() == 1;
        it.name = r.str();
        it.error = r.str();
        if (it.error.empty()) {
            it.cls = wire::Class(r.u8());
            it.size = r.u32();
            it.is_signed = r.u8() != 0;
            it.type = r.str();
            it.null_space = r.u8() != 0;
            const std::uint32_t rank = r.u32();
            if (!r.ok() || rank > 64 || it.cls > wire::kOther) malformed(file);
            for (std::uint32_t k = 0; k < rank; ++k) it.dims.push_back(r.u64());
            it.has_data = r.u8() != 0;
            // dimensions whose product does not fit 64 bits (a damaged or hostile header: the
            // helper cannot have read them) are refused before anything multiplies them
            std::uint64_t n = 1;
            for (std::uint64_t d : it.dims)
                if (d != 0 && n > ~std::uint64_t(0) / d)
                    throw DataError(file + ": " + (attribute ? "attribute '" : "dataset '") + printable(it.name) +
                                    "': its dimensions multiply past 2^64 (the file is damaged)");
                else
                    n *= d;
            // numbers and strings asked for with their values come with them
            if (!req.shapes_only && !it.has_data && it.cls != wire::kOther && it.count() > 0) malformed(file);
            if (it.has_data && it.cls == wire::kString) {
                const std::uint64_t n = r.u64();
                if (!r.ok() || n > r.left() / 4) malformed(file);  // each string has a 4-byte length
                it.strings.reserve(std::size_t(n));
                for (std::uint64_t k = 0; k < n && r.ok(); ++k) it.strings.push_back(r.str());
            } else if (it.has_data) {
                const std::uint64_t n = r.u64();
                if (!r.bytes(n, it.bytes)) malformed(file);
            }
            // what was announced is what was sent
            if (it.has_data && (it.cls == wire::kString ? it.strings.size() : (it.size ? it.bytes.size() / it.size : 0)) != it.count())
                malformed(file);
        }
        if (!r.ok()) malformed(file);
        (attribute ? c.attributes : c.datasets)[it.name] = std::move(it);
    }
    return c;
}

Picture read_image(const std::string& file, int channels) {
    const std::vector<unsigned char> out =
        run_reader(file, "cannot read as a JPEG, PNG or BMP image", {"image", file, std::to_string(channels)});
    wire::Reader r(out.data(), out.size());
    const std::uint8_t tag = r.u8();
    if (tag != wire::kImage) common(file, tag, r, limits_for(file_size(file)));
    Picture p;
    p.width = r.u32();
    p.height = r.u32();
    p.channels = r.u32();
    const std::uint64_t n = r.u64();
    std::vector<unsigned char> px;
    if (!r.ok() || p.channels != std::size_t(channels) || n != std::uint64_t(p.width) * p.height * p.channels ||
        !r.bytes(n, px))
        malformed(file);
    p.pixels.assign(px.begin(), px.end());
    return p;
}

}  // namespace xgrad::io::isolated
