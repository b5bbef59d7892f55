#include "xgrad/io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "xgrad/io/text.hpp"
#include "xgrad/core/tensor.hpp"

namespace xgrad::io {

namespace {

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

[[noreturn]] void fail(const std::string& path, const std::string& what, const std::string& why) {
    throw DataError(printable(path) + ": cannot write the " + what + ": " + why);
}

// The system's reason for the last failed call.
std::string reason(int err) { return std::strerror(err); }

}  // namespace

const char* file_kind(unsigned mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

void check_output_path(const std::string& path, const std::string& what) {
    if (path.empty()) throw DataError("cannot write the " + what + ": the file name is empty");
    const std::string dir = directory_of(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        fail(path, what, "directory '" + printable(dir) + "' does not exist");
    if (::lstat(path.c_str(), &st) != 0) return;  // a new file
    if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0) return;  // a link to nothing yet
    if (!S_ISREG(st.st_mode)) fail(path, what, std::string("it is ") + file_kind(st.st_mode) + ", not a regular file");
}

void write_file_atomically(const std::string& path, const std::string& what, const void* data, std::size_t n) {
    check_output_path(path, what);
    // Same directory as the target: rename() is atomic only within one file system. The pid keeps
    // two processes writing the same name apart.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str());  // a stale one of an earlier process with this pid
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) fail(path, what, "cannot create " + printable(tmp) + ": " + reason(errno));
    auto give_up = [&](const std::string& why) {
        ::close(fd);
        ::unlink(tmp.c_str());
        fail(path, what, why);
    };
    const char* p = static_cast<const char*>(data);
    for (std::size_t left = n; left > 0;) {
        const ssize_t w = ::write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) give_up(reason(w < 0 ? errno : EIO));
        p += w;
        left -= std::size_t(w);
    }
    if (::fsync(fd) != 0) give_up(reason(errno));  // the bytes are on disk before the name points at them
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail(path, what, reason(err));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail(path, what, "cannot rename " + printable(tmp) + " into place: " + reason(err));
    }
    const int dfd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {  // and the rename itself
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace xgrad::io
