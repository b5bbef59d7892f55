// H5StreamSource (xgrad/io/stream.hpp): the reader process (xgrad-read stream), one background
// thread that talks to it, and a handshake of one job at a time with fetch/prefetch.
//
// The reader sends a batch already transposed (feature-major bytes), the background thread receives
// it and checks its labels, and fetch converts it straight into the caller's X in one sequential
// pass. That pass costs the main thread what copying a spare matrix converted in the background
// would, without the spare (X of T: 8x the bytes) and without a second pass over it on a machine
// whose two cores the training already uses (measured: converting in the background and copying
// was slower, README "Streaming from HDF5").
//
// Threads: only the background thread uses the socket and the buffers while a job is queued or
// running; fetch/prefetch touch them only when it is idle or done (under the mutex). Nothing here
// calls HDF5: the reader does.
#include "xgrad/io/stream.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

#include "isolate.hpp"
#include "text.hpp"
#include "wire.hpp"

namespace xgrad::io {

namespace {
using Clock = std::chrono::steady_clock;
}

template <class T>
struct H5StreamSource<T>::Impl {
    std::string file;
    StreamOptions opt;
    isolated::Limits lim;
    long seconds = 0;  // the time limit of what is being read now (the opening's, then each request's)
    pid_t pid = -1;
    int fd = -1;
    std::size_t m = 0, features = 0;
    std::vector<std::size_t> shape;
    T lut[256];

    // the handshake
    enum State { idle, queued, running, done };
    std::mutex mu;
    std::condition_variable cv;
    State state = idle;
    bool stop = false;
    std::vector<std::size_t> job;  // the indices of the queued / running / done job
    std::exception_ptr error;      // the done job's failure
    std::vector<unsigned char> raw;  // the done job's examples, feature-major bytes
    std::vector<long long> labels;   // and labels
    // the background thread's own
    std::vector<unsigned char> request;
    std::string dead;  // why the reader is gone: every later job fails with it
    std::thread worker;

    [[noreturn]] void fail(const std::string& why) {
        if (dead.empty()) dead = file + ": " + why;
        if (pid > 0) ::kill(pid, SIGKILL);
        throw DataError(dead);
    }

    // Why the reader ended (it closed the socket): reaps it.
    [[noreturn]] void ended() {
        int status = 0;
        const auto deadline = Clock::now() + std::chrono::seconds(2);
        pid_t r = 0;
        while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (r == 0) {
            ::kill(pid, SIGKILL);
            r = ::waitpid(pid, &status, 0);
        }
        pid = -1;
        if (r > 0 && WIFSIGNALED(status)) {
            const int sig = WTERMSIG(status);
            if (sig == SIGXCPU) fail("the reader ran out of processor time (XGRAD_READ_SECONDS)");
            fail("the HDF5 library crashed reading it (" + isolated::signal_name(sig) + "): " + isolated::failure_cause(lim));
        }
        fail("the reader stopped without an answer (exit status " +
             std::to_string(r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "): " + isolated::failure_cause(lim));
    }

    // n bytes from the reader within the deadline
    void recv_all(void* p, std::size_t n, Clock::time_point deadline) {
        auto* c = static_cast<unsigned char*>(p);
        while (n > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0)
                fail("reading did not finish in " + std::to_string(seconds) +
                     " s (XGRAD_READ_SECONDS): the file is damaged or too big");
            pollfd pf{fd, POLLIN, 0};
            const int r = ::poll(&pf, 1, int(std::min<long long>(left, 1000)));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) continue;
            const ssize_t k = ::recv(fd, c, n, 0);
            if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (k <= 0) ended();
            c += k, n -= std::size_t(k);
        }
    }
    template <class V>
    V recv_value(Clock::time_point deadline) {
        V v;
        recv_all(&v, sizeof v, deadline);
        return v;
    }
    // kError / kMemory / anything else: a DataError (the reader is gone for the last two)
    [[noreturn]] void refused(std::uint8_t tag, Clock::time_point deadline) {
        if (tag == wire::kError) {
            const std::uint32_t len = recv_value<std::uint32_t>(deadline);
            if (len > (1u << 16)) fail("the reader's answer is malformed");
            std::string text(len, '\0');
            recv_all(text.data(), len, deadline);
            throw DataError(file + ": " + printable(text));
        }
        if (tag == wire::kMemory) {
            recv_value<std::uint64_t>(deadline);
            fail("reading a batch needs more than the " + std::to_string(lim.memory >> 20) +
                 " MiB limit (XGRAD_READ_MEMORY_MIB)" + isolated::memory_limit_note(lim));
        }
        fail("the reader's answer is malformed (a mismatched xgrad-read?)");
    }

    void start() {
        lim = isolated::check_file(file, "not an HDF5 file");
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            throw DataError(file + ": cannot read it: no socket (" + std::strerror(errno) + ")");
        try {
            pid = isolated::start_reader(file, lim, {"stream", file, opt.x_name, opt.y_name}, sv[1], sv[1]);
        } catch (...) {
            ::close(sv[0]);
            ::close(sv[1]);
            throw;
        }
        ::close(sv[1]);
        fd = sv[0];
        seconds = lim.seconds;
        const auto deadline = Clock::now() + std::chrono::seconds(seconds);
        const std::uint8_t tag = recv_value<std::uint8_t>(deadline);
        if (tag != wire::kHeader) refused(tag, deadline);
        m = std::size_t(recv_value<std::uint64_t>(deadline));
        features = std::size_t(recv_value<std::uint64_t>(deadline));
        const std::uint32_t rank = recv_value<std::uint32_t>(deadline);
        if (rank == 0 || rank > 32) fail("the reader's answer is malformed");
        for (std::uint32_t k = 0; k < rank; ++k) shape.push_back(std::size_t(recv_value<std::uint64_t>(deadline)));
        for (int v = 0; v < 256; ++v) lut[v] = T(double(v) / 255.0);  // as load_image_set converts
    }

    void send_all(const unsigned char* p, std::size_t n, Clock::time_point deadline) {
        while (n > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) fail("the reader did not take a request in " + std::to_string(seconds) + " s");
            pollfd pf{fd, POLLOUT, 0};
            const int r = ::poll(&pf, 1, int(std::min<long long>(left, 1000)));
            if (r <= 0) continue;
            const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);  // a dead reader: EPIPE, not SIGPIPE
            if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (k <= 0) ended();
            p += k, n -= std::size_t(k);
        }
    }

    // The job: the reader's bytes and labels for `job`, the labels checked.
    void run_job() {
        if (!dead.empty()) throw DataError(dead);
        const std::size_t n = job.size();
        // A request reads one batch, not the file: its time limit follows its own size (30 s + 1 s
        // per 10 MiB), so that a stalled reader stops the training within seconds, not hours;
        // XGRAD_READ_SECONDS, when set, holds for each request as for every read.
        seconds = std::getenv("XGRAD_READ_SECONDS") ? lim.seconds : 30 + long((n * features) >> 20) / 10;
        const auto deadline = Clock::now() + std::chrono::seconds(seconds);
        request.resize(8 * (n + 1));
        const std::uint64_t count = n;
        std::memcpy(request.data(), &count, 8);
        for (std::size_t j = 0; j < n; ++j) {
            const std::uint64_t i = job[j];
            std::memcpy(request.data() + 8 * (j + 1), &i, 8);
        }
        send_all(request.data(), request.size(), deadline);
        const std::uint8_t tag = recv_value<std::uint8_t>(deadline);
        if (tag != wire::kBatch) refused(tag, deadline);
        if (recv_value<std::uint64_t>(deadline) != count) fail("the reader's answer is malformed");
        raw.resize(n * features);
        recv_all(raw.data(), raw.size(), deadline);
        labels.resize(n);
        recv_all(labels.data(), n * sizeof(long long), deadline);
        for (std::size_t j = 0; j < n; ++j)
            if (labels[j] != 0 && labels[j] != 1)
                throw DataError(file + ": dataset '" + printable(opt.y_name) + "': example " + std::to_string(job[j]) +
                                " has label " + std::to_string(labels[j]) + ", expected 0 or 1");
    }

    void loop() {
        std::unique_lock<std::mutex> lk(mu);
        for (;;) {
            cv.wait(lk, [&] { return stop || state == queued; });
            if (stop) return;
            state = running;
            lk.unlock();
            std::exception_ptr e;
            try {
                run_job();
            } catch (...) {
                e = std::current_exception();
            }
            lk.lock();
            error = e;
            state = done;
            cv.notify_all();
        }
    }

    // Queues `idx` unless it is the job queued, running or done; then waits until it is done.
    // Called with `lk` held.
    void queue(const std::size_t* idx, std::size_t n, std::unique_lock<std::mutex>& lk) {
        const bool same = state != idle && job.size() == n && std::equal(idx, idx + n, job.begin());
        if (same) return;
        cv.wait(lk, [&] { return state != running; });  // a request in flight cannot be recalled
        job.assign(idx, idx + n);
        error = nullptr;
        state = queued;
        cv.notify_all();
    }

    void shutdown() {
        {
            std::lock_guard<std::mutex> lk(mu);
            stop = true;
        }
        cv.notify_all();
        if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // a request in flight ends now
        if (worker.joinable()) worker.join();
        if (fd >= 0) ::close(fd), fd = -1;
        if (pid > 0) {  // it ends at the end of its input; a hung one is killed
            int status = 0;
            const auto deadline = Clock::now() + std::chrono::seconds(2);
            pid_t r = 0;
            while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            if (r == 0) {
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
            }
            pid = -1;
        }
    }
};

template <class T>
H5StreamSource<T>::H5StreamSource(const std::string& file, StreamOptions options) : impl_(std::make_unique<Impl>()) {
    if (options.chunk_columns == 0) throw UsageError("H5StreamSource: chunk_columns must be at least 1");
    impl_->file = file;
    impl_->opt = std::move(options);
    try {
        impl_->start();
        try {
            impl_->worker = std::thread([this] { impl_->loop(); });
        } catch (const std::system_error& e) {
            throw Error(file + ": cannot start the thread that reads ahead (" + e.code().message() +
                        "): the limits on memory, processes or stack size (ulimit -v, -u, -s) leave too little");
        }
    } catch (...) {
        impl_->shutdown();
        throw;
    }
}

template <class T>
H5StreamSource<T>::~H5StreamSource() {
    impl_->shutdown();
}

template <class T>
std::size_t H5StreamSource<T>::examples() const {
    return impl_->m;
}
template <class T>
std::size_t H5StreamSource<T>::features() const {
    return impl_->features;
}
template <class T>
std::size_t H5StreamSource<T>::chunk_columns() const {
    return impl_->opt.chunk_columns;
}
template <class T>
const std::string& H5StreamSource<T>::file() const {
    return impl_->file;
}
template <class T>
const std::vector<std::size_t>& H5StreamSource<T>::example_shape() const {
    return impl_->shape;
}

template <class T>
void H5StreamSource<T>::prefetch(const std::size_t* idx, std::size_t n) {
    Impl& s = *impl_;
    if (n == 0 || std::any_of(idx, idx + n, [&](std::size_t i) { return i >= s.m; })) return;  // fetch says it
    std::unique_lock<std::mutex> lk(s.mu);
    s.queue(idx, n, lk);
}

template <class T>
void H5StreamSource<T>::fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) {
    Impl& s = *impl_;
    if (n == 0) throw UsageError("H5StreamSource::fetch: no examples asked for");
    for (std::size_t j = 0; j < n; ++j)
        if (idx[j] >= s.m)
            throw UsageError("H5StreamSource::fetch: example " + std::to_string(idx[j]) + " of " + std::to_string(s.m) +
                             " in " + s.file);
    std::unique_lock<std::mutex> lk(s.mu);
    s.queue(idx, n, lk);
    s.cv.wait(lk, [&] { return s.state == Impl::done; });
    s.state = Impl::idle;
    if (s.error) {
        std::exception_ptr e = s.error;
        s.error = nullptr;
        std::rethrow_exception(e);
    }
    if (X.shape()[0] != s.features || X.shape()[1] != n) X.resize({s.features, n});
    if (Y.shape()[0] != 1 || Y.shape()[1] != n) Y.resize({std::size_t(1), n});
    T* x = X.data();
    const unsigned char* r = s.raw.data();
    const std::size_t total = s.features * n;
    for (std::size_t k = 0; k < total; ++k) x[k] = s.lut[r[k]];
    for (std::size_t j = 0; j < n; ++j) Y(0, j) = T(s.labels[j]);
}

template class H5StreamSource<float>;
template class H5StreamSource<double>;

}  // namespace xgrad::io
