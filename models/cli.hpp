#pragma once
// What the programs in models/ share: their conventions for options, numbers and errors.
//
// Every error ends a program with one line "<program>: <message>" on stderr and exit code 2:
// run() parses the command line (CLI11's own errors included) and catches what the program throws.

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace xgrad::cli {

// Python's str(float): the shortest text that reads back as the same double, "1.0" not "1".
std::string py_float(double v);

// A check of a number option whose message reads well ("--lambd: must be >= 0, got -1"); CLI11's
// own NonNegativeNumber prints the range up to DBL_MAX.
CLI::Validator number_check(bool (*ok)(double), const char* what);
CLI::Validator positive();  // a finite number > 0
// each entry of a layer-size list: a positive integer (CLI11 alone would wrap "-3" to 2^64 - 3)
CLI::Validator layer_size();

// The --dtype option (f64 or f32, default f64) of a training program.
CLI::Option* add_dtype_option(CLI::App& app, std::string& dtype);

// Fails (UsageError naming --out) before any work when `dir` cannot be created or written.
void ensure_writable(const std::string& dir);

// A run killed while writing leaves its temporary file (<name>.h5.tmp.<pid>) behind; the files
// themselves are never partial. Removes those of processes that no longer exist.
void remove_stale_temporaries(const std::string& dir);

// A training's hold on its output directory: the lock file DIR/.xgrad.lock, flock()ed for the
// life of this object (the kernel releases it when the process ends however it ends, so a lock
// of a dead process is simply taken over) and holding the holder's pid for the message. Removed
// when the object goes (a run that ends normally leaves only its outputs).
class OutLock {
public:
    OutLock() = default;
    OutLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    OutLock(OutLock&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
    OutLock& operator=(OutLock&& o) noexcept;
    OutLock(const OutLock&) = delete;
    OutLock& operator=(const OutLock&) = delete;
    ~OutLock();
    int fd() const { return fd_; }

private:
    int fd_ = -1;
    std::string path_;
};

// The output directory of a training run, before any work: ensure_writable, then the lock
// (UsageError "--out DIR: another training (pid N) is writing there; ..." when a live process
// holds it), then remove_stale_temporaries. Keep the lock until the run's files are written.
OutLock prepare_out(const std::string& dir);
// dir/name
std::string out_file(const std::string& dir, const std::string& name);

// "12288-20-7-5-1" of {12288, 20, 7, 5, 1} with sep "-"
std::string join(const std::vector<std::size_t>& v, const char* sep);
// %.17g: a double as text that reads back as the same double (settings a resume compares)
std::string exact(double v);

// A live progress line is wanted: not --quiet, and stdout is a terminal.
bool show_progress(bool quiet);

// Resuming: the settings saved with a checkpoint must be the run's. Throws UsageError
// "--resume FILE: it was trained with --NAME X, this run has Y (resume with the same options)"
// for the first that differs.
void check_same_settings(const std::string& file,
                         const std::vector<std::pair<std::string, std::string>>& saved,
                         const std::vector<std::pair<std::string, std::string>>& now);

// An option given an empty value (--data "", --seed "", an empty positional): a ValidationError
// naming it. No option of these programs takes an empty text: an empty path would otherwise mean
// "the default" (--data, --resume: silently not resuming) or the current directory, an empty
// number whatever the option's parser makes of it. run() applies it to every subcommand.
void refuse_empty_values(const CLI::App& app);

// Parses the command line and runs `body`: --help prints and exits 0; a parse error, an empty
// value (refuse_empty_values), a std::exception
// or a bad_alloc (with `memory_hint` after "not enough memory for this run") prints one line
// "<program>: ..." on stderr and returns 2; otherwise body's return value.
// `report` (when given) receives that line (without its newline) instead of stderr: a process of
// a data-parallel job decides after the others whether it prints it (one line per job, not per
// process).
int run(const char* program, CLI::App& app, int argc, char** argv, const std::function<int()>& body,
        const std::string& memory_hint = "", const std::function<void(const std::string&)>& report = {});

}  // namespace xgrad::cli
