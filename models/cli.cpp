#include "cli.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <new>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xgrad/core/blas.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/nn/mlp.hpp"

namespace xgrad::cli {

std::string py_float(double v) {
    char buf[64];
    for (int p = 1; p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*g", p, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string s = buf;
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

CLI::Validator number_check(bool (*ok)(double), const char* what) {
    return CLI::Validator(
        [ok, what](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0' || !std::isfinite(v) || !ok(v))
                return std::string("must be ") + what + ", got " + text;
            return {};
        },
        what);
}

CLI::Validator positive() {
    return number_check([](double v) { return v > 0; }, "a number > 0");
}

CLI::Validator layer_size() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            try {
                parse_layer_size(text);
                return {};
            } catch (const UsageError& e) {
                return e.what();
            }
        },
        "SIZE");
}

void ensure_writable(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw UsageError("--out " + dir + ": cannot create the directory (" + ec.message() + ")");
    const std::string probe =
        (std::filesystem::path(dir) / (".xgrad_probe." + std::to_string(::getpid()))).string();
    std::FILE* f = std::fopen(probe.c_str(), "w");
    if (!f) throw UsageError("--out " + dir + ": cannot write there (" + std::strerror(errno) + ")");
    std::fclose(f);
    std::remove(probe.c_str());
}

void remove_stale_temporaries(const std::string& dir) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const auto pos = name.find(".h5.tmp.");
        if (pos == std::string::npos) continue;
        const std::string pid = name.substr(pos + 8);
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        if (!std::filesystem::exists("/proc/" + pid)) std::filesystem::remove(entry.path(), ec);
    }
}

CLI::Option* add_dtype_option(CLI::App& app, std::string& dtype) {
    return app.add_option("--dtype", dtype, "floating point type")
        ->capture_default_str()
        ->check(CLI::IsMember({"f64", "f32"}));
}

OutLock& OutLock::operator=(OutLock&& o) noexcept {
    if (this != &o) {
        this->~OutLock();
        fd_ = o.fd_;
        path_ = std::move(o.path_);
        o.fd_ = -1;
    }
    return *this;
}

OutLock::~OutLock() {
    if (fd_ < 0) return;
    // removed while still held: whoever opens the name afterwards gets a new file (and checks
    // that the name is still its file once it holds the lock: prepare_out)
    ::unlink(path_.c_str());
    ::close(fd_);  // (closing releases the flock)
    fd_ = -1;
}

OutLock prepare_out(const std::string& dir) {
    ensure_writable(dir);
    const std::string file = out_file(dir, ".xgrad.lock");
    OutLock lock;
    for (int attempt = 0;; ++attempt) {
        const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            throw UsageError("--out " + dir + ": cannot open the lock file " + file + " (" + std::strerror(errno) + ")");
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            char pid[32] = {};
            const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
            std::string holder = n > 0 ? std::string(pid, std::size_t(n)) : "";
            holder.erase(std::remove_if(holder.begin(), holder.end(), [](char c) { return c < '0' || c > '9'; }),
                         holder.end());
            ::close(fd);  // not ours: its holder removes it
            if (err == EWOULDBLOCK)
                throw UsageError("--out " + dir + ": another training (pid " + (holder.empty() ? "?" : holder) +
                                 ") is writing there; wait for it to end or choose another --out");
            throw UsageError("--out " + dir + ": cannot lock " + file + " (" + std::strerror(err) + ")");
        }
        // the holder before us may have removed the name after we opened it: then this lock is on
        // a file nobody else will see; take the new one
        struct stat held {}, named {};
        if (::fstat(fd, &held) == 0 && ::stat(file.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
            held.st_dev == named.st_dev) {
            lock = OutLock(fd, file);
            break;
        }
        ::close(fd);
        if (attempt == 20) throw UsageError("--out " + dir + ": cannot hold the lock file " + file);
    }
    const int fd = lock.fd();
    const std::string me = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != ssize_t(me.size()))
        throw UsageError("--out " + dir + ": cannot write the lock file " + file + " (" + std::strerror(errno) + ")");
    remove_stale_temporaries(dir);
    return lock;
}

std::string out_file(const std::string& dir, const std::string& name) {
    return (std::filesystem::path(dir) / name).string();
}

std::string join(const std::vector<std::size_t>& v, const char* sep) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
    return s;
}

std::string exact(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

bool show_progress(bool quiet) { return !quiet && ::isatty(STDOUT_FILENO); }

void check_same_settings(const std::string& file,
                         const std::vector<std::pair<std::string, std::string>>& saved,
                         const std::vector<std::pair<std::string, std::string>>& now) {
    for (const auto& [name, value] : now) {
        auto it = std::find_if(saved.begin(), saved.end(), [&](const auto& kv) { return kv.first == name; });
        const std::string was = it == saved.end() ? "(not recorded)" : it->second;
        if (was != value && name == "dataset")  // not an option: the data the run found
            throw UsageError("--resume " + file + ": it was trained on other data (" + was + "), this run's is " +
                             value + " (resume with the same training set)");
        if (was != value)
            throw UsageError("--resume " + file + ": it was trained with --" + name + " " +
                             (was.empty() ? "(none)" : was) + ", this run has " +
                             (value.empty() ? "(none)" : value) + " (resume with the same options)");
    }
}

void refuse_empty_values(const CLI::App& app) {
    for (const CLI::Option* opt : app.get_options()) {
        if (opt->count() == 0 || opt->get_expected_max() == 0) continue;  // not given, or a flag
        for (const std::string& v : opt->results())
            if (v.empty())
                throw CLI::ValidationError(opt->get_name(), "the value is empty (give a value or leave the option out)");
    }
    for (const CLI::App* sub : app.get_subcommands()) refuse_empty_values(*sub);
}

int run(const char* program, CLI::App& app, int argc, char** argv, const std::function<int()>& body,
        const std::string& memory_hint, const std::function<void(const std::string&)>& report) {
    // A file-size limit (ulimit -f) then fails the write with EFBIG, which the writers report,
    // instead of killing the program half-way through.
    std::signal(SIGXFSZ, SIG_IGN);
    // one line, whatever text from a file the message quotes
    auto say = [&](const std::string& line) {
        if (report) return report(io::printable(line));
        std::fprintf(stderr, "%s\n", io::printable(line).c_str());
    };
    try {
        app.parse(argc, argv);
        refuse_empty_values(app);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        say(std::string(program) + ": " + e.what() + " (see " + program + " --help)");
        return 2;
    }
    try {
        check_environment();
        const int code = body();
        // Results that never reached standard output (a full disk, /dev/full, a closed pipe) are
        // a failure, not a success.
        std::cout.flush();
        if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
            std::fprintf(stderr, "%s: cannot write the results to standard output: %s\n", program,
                         std::strerror(errno));
            return 2;
        }
        return code;
    } catch (const std::bad_alloc&) {
        std::fflush(stdout);
        say(std::string(program) + ": not enough memory for this run" + (memory_hint.empty() ? "" : " " + memory_hint));
        return 2;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        say(std::string(program) + ": " + e.what());
        return 2;
    }
}

}  // namespace xgrad::cli
