#pragma once
// Writing output files so that a failure never costs the previous file: the bytes go to a
// temporary file beside the target, which is flushed to disk and renamed into place. What the
// machine refuses (a full disk, a file-size limit, a quota, an I/O error) is one DataError naming
// the file and the system's reason, the previous file intact and no temporary left behind.
//
// A process whose file-size limit (ulimit -f) is reached gets SIGXFSZ, which by default kills it:
// a program that wants the error instead ignores that signal (the programs in models/ and tools/ do).

#include <cstddef>
#include <string>

namespace xgrad::io {

// What a stat() mode says a path is, for messages: "a regular file", "a directory", "a FIFO",
// "a character device", "a block device", "a socket".
const char* file_kind(unsigned mode);

// Refuses, before anything is written, an output path that exists and is not a regular file (or a
// link to one): a directory, a device, a FIFO, a socket. DataError "<path>: cannot write the
// <what>: it is a character device, not a regular file". Also when its directory does not exist.
void check_output_path(const std::string& path, const std::string& what);

// Writes data[0..n) as `path` atomically (check_output_path first; temporary "<path>.tmp.<pid>",
// fsync, rename, fsync of the directory). Errors: DataError "<path>: cannot write the <what>:
// <reason>" with the system's reason ("No space left on device", "File too large", ...).
void write_file_atomically(const std::string& path, const std::string& what, const void* data, std::size_t n);

}  // namespace xgrad::io
