#define BOOST_TEST_MODULE files
#include <boost/test/unit_test.hpp>

// Writing output files when the machine says no: a file-size limit, a full disk, a path that is
// not a regular file. Each is one DataError naming the file and the system's reason; the previous
// file stays as it was and no temporary is left behind.

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "needs.hpp"
#include "test_util.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/files.hpp"
#include "xgrad/io/io.hpp"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/xgrad_files_XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

// A model of the seed's size (about 2 MB on disk).
void save_big_model(const std::string& path, double fill) {
    const MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    Params<double> p = he_init<double>(spec, 3);
    p.W[0].fill(fill);
    io::save_model(path, spec, p, 0.0075, 1, 3, 0.5);
}

// Runs f in a child process and returns what it wrote to its pipe (the error text) and its
// exit status: the limits set there do not reach the test.
std::pair<std::string, int> in_child(const std::function<void()>& setup, const std::function<void()>& f) {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        setup();
        int code = 0;
        std::string msg = "no error";
        try {
            f();
        } catch (const DataError& e) {
            msg = e.what();
            code = 1;
        } catch (const std::exception& e) {
            msg = std::string("other exception: ") + e.what();
            code = 3;
        }
        if (::write(fds[1], msg.data(), msg.size()) < 0) code = 4;
        ::_exit(code);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, std::size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return {out, status};
}

bool can_mount_tmpfs() {
    static const bool yes = [] {
        TempDir d;
        if (::mount("tmpfs", d.path.c_str(), "tmpfs", 0, "size=64k") != 0) return false;
        ::umount(d.path.c_str());
        return true;
    }();
    return yes;
}

boost::unit_test::decorator::collector_t& needs_tmpfs() {
    return test::needs(test::Need::tmpfs, can_mount_tmpfs,
                       "cannot mount a tmpfs here (not root, or no mount permission)");
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_file_size_limit_is_one_error_and_the_old_file_stays) {
    TempDir d;
    const std::string path = (d.path / "model.h5").string();
    save_big_model(path, 0.5);
    const std::string before = test::slurp(path);
    BOOST_REQUIRE(before.size() > 1000000);
    for (bool through_hdf5 : {true, false}) {
        const auto [msg, status] = in_child(
            [] {
                std::signal(SIGXFSZ, SIG_IGN);  // as the programs do
                const rlimit lim{1 << 16, 1 << 16};
                ::setrlimit(RLIMIT_FSIZE, &lim);
            },
            [&] {
                if (through_hdf5) {
                    save_big_model(path, 0.25);
                } else {
                    const std::vector<char> bytes(1 << 20, 'x');
                    io::write_file_atomically(path, "test file", bytes.data(), bytes.size());
                }
            });
        BOOST_TEST_CONTEXT(msg) {
            BOOST_TEST(WIFEXITED(status));
            BOOST_TEST(WEXITSTATUS(status) == 1);  // a DataError, not a signal
            BOOST_TEST(msg.find(path + ": cannot write the ") == 0u);
            BOOST_TEST(msg.find(std::strerror(EFBIG)) != std::string::npos);
            BOOST_TEST(msg.find('\n') == std::string::npos);
        }
        BOOST_TEST(test::slurp(path) == before);
        BOOST_TEST(names_in(d.path) == std::vector<std::string>{"model.h5"});
    }
}

BOOST_AUTO_TEST_CASE(a_full_disk_is_one_error_and_the_old_file_stays,
                     needs_tmpfs()) {
    TempDir d;
    BOOST_REQUIRE(::mount("tmpfs", d.path.c_str(), "tmpfs", 0, "size=3m") == 0);
    const std::string path = (d.path / "model.h5").string();
    save_big_model(path, 0.5);  // ~2 MB: the new one does not fit beside it
    const std::string before = test::slurp(path);
    for (const char* what : {"model", "checkpoint", "bytes"}) {
        BOOST_TEST_CONTEXT(what) {
            std::string msg;
            try {
                if (std::string(what) == "model") save_big_model(path, 0.25);
                if (std::string(what) == "checkpoint") {
                    const MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
                    io::Checkpoint<double> c;
                    c.state.params = he_init<double>(spec, 3);
                    c.state.dropout_rng = NumpyRandom(1).state();
                    io::save_checkpoint(path, c);
                }
                if (std::string(what) == "bytes") {
                    const std::vector<char> bytes(2 << 20, 'x');
                    io::write_file_atomically(path, "test file", bytes.data(), bytes.size());
                }
            } catch (const DataError& e) {
                msg = e.what();
            }
            BOOST_TEST(msg.find(path + ": cannot write the ") == 0u);
            BOOST_TEST(msg.find(std::strerror(ENOSPC)) != std::string::npos);
            BOOST_TEST(test::slurp(path) == before);
            BOOST_TEST(names_in(d.path) == std::vector<std::string>{"model.h5"});
        }
    }
    BOOST_TEST(::umount(d.path.c_str()) == 0);
}

BOOST_AUTO_TEST_CASE(paths_that_are_not_regular_files_are_refused_untouched) {
    TempDir d;
    const fs::path dir = d.path / "a_dir", fifo = d.path / "a_fifo", sock = d.path / "a_socket";
    fs::create_directory(dir);
    BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
    BOOST_REQUIRE(::bind(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    // a character device of our own (a copy of /dev/null's numbers; only root may make one): were
    // the check broken, the test would not replace the machine's /dev/null
    const fs::path dev = d.path / "a_device", link_to_dev = d.path / "link_to_device";
    const bool have_dev = ::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
    fs::create_symlink(have_dev ? dev : fifo, link_to_dev);
    std::vector<std::pair<fs::path, std::string>> cases = {
        {dir, "a directory"}, {fifo, "a FIFO"}, {sock, "a socket"},
        {link_to_dev, have_dev ? "a character device" : "a FIFO"}};
    if (have_dev) cases.push_back({dev, "a character device"});
    else BOOST_TEST_MESSAGE("not root: no character device of its own, that case is not run");
    for (const auto& [path, kind] : cases) {
        BOOST_TEST_CONTEXT(path) {
            struct stat before {};
            BOOST_REQUIRE(::lstat(path.c_str(), &before) == 0);
            std::string msg;
            try {
                save_big_model(path.string(), 0.5);
            } catch (const DataError& e) {
                msg = e.what();
            }
            BOOST_TEST(msg == path.string() + ": cannot write the model: it is " + kind + ", not a regular file");
            struct stat after {};
            BOOST_REQUIRE(::lstat(path.c_str(), &after) == 0);
            BOOST_TEST(after.st_mode == before.st_mode);  // still what it was
            BOOST_TEST(after.st_ino == before.st_ino);
        }
    }
    ::close(s);
    std::vector<std::string> left = {"a_dir", "a_fifo", "a_socket", "link_to_device"};
    if (have_dev) left.insert(left.begin(), "a_device");
    BOOST_TEST(names_in(d.path) == left);
    // a missing directory
    std::string msg;
    try {
        save_big_model((d.path / "nowhere" / "model.h5").string(), 0.5);
    } catch (const DataError& e) {
        msg = e.what();
    }
    BOOST_TEST(msg.find("directory '" + (d.path / "nowhere").string() + "' does not exist") != std::string::npos);
}
