#pragma once
// What the programs in models/ share: their conventions for options, numbers and errors.
//
// Every error ends a program with one line "<program>: <message>" on stderr and exit code 2:
// run() parses the command line (CLI11's own errors included) and catches what the program throws.

#include <functional>
#include <string>

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

// Fails (UsageError naming --out) before any work when `dir` cannot be created or written.
void ensure_writable(const std::string& dir);

// A run killed while writing leaves its temporary file (<name>.h5.tmp.<pid>) behind; the files
// themselves are never partial. Removes those of processes that no longer exist.
void remove_stale_temporaries(const std::string& dir);

// Parses the command line and runs `body`: --help prints and exits 0; a parse error, a std::exception
// or a bad_alloc (with `memory_hint` after "not enough memory for this run") prints one line
// "<program>: ..." on stderr and returns 2; otherwise body's return value.
int run(const char* program, CLI::App& app, int argc, char** argv, const std::function<int()>& body,
        const std::string& memory_hint = "");

}  // namespace xgrad::cli
