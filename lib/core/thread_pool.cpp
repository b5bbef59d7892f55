#include "thread_pool.hpp"

#include <string>
#include <system_error>

#include "xgrad/core/tensor.hpp"

namespace xgrad::detail {

ThreadPool::ThreadPool(int size) : size_(size < 1 ? 1 : size) {
    threads_.reserve(std::size_t(size_ - 1));
    // The system may refuse a thread (a limit on memory, processes or stack size): the threads
    // already started must be joined here (a joinable std::thread destroyed is std::terminate), and
    // the reason said as what it is, not as the bare "Resource temporarily unavailable".
    try {
        for (int i = 1; i < size_; ++i) threads_.emplace_back([this, i] { worker(i); });
    } catch (const std::system_error& e) {
        const std::size_t started = threads_.size() + 1;  // with the calling thread
        stop();
        throw Error("cannot start thread " + std::to_string(started + 1) + " of " + std::to_string(size_) + " (" +
                    e.code().message() +
                    "): the limits on memory, processes or stack size (ulimit -v, -u, -s) leave too little");
    } catch (...) {
        stop();
        throw;
    }
}

void ThreadPool::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::run(void (*fn)(void*, int), void* ctx) {
    if (size_ == 1) {
        fn(ctx, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        fn_ = fn;
        ctx_ = ctx;
        pending_ = size_ - 1;
        ++generation_;
    }
    start_cv_.notify_all();
    fn(ctx, 0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::worker(int index) {
    unsigned long seen = 0;
    for (;;) {
        void (*fn)(void*, int);
        void* ctx;
        {
            std::unique_lock<std::mutex> lock(mu_);
            start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            fn = fn_;
            ctx = ctx_;
        }
        fn(ctx, index);
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (--pending_ == 0) done_cv_.notify_one();
        }
    }
}

}  // namespace xgrad::detail
