#pragma once
// A small persistent pool owned by one tape: run(fn, ctx) calls fn(ctx, i) for i = 0..size-1,
// part 0 on the calling thread, and returns when every part is done. No allocation per run
// (a function pointer and a context, not std::function), so replayed iterations stay allocation-free.

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace xgrad::detail {

class ThreadPool {
public:
    explicit ThreadPool(int size);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return size_; }
    void run(void (*fn)(void*, int), void* ctx);

    // Convenience: f(i) for i = 0..size-1; f lives on the caller's stack.
    template <class F>
    void for_each(F& f) {
        run([](void* c, int i) { (*static_cast<F*>(c))(i); }, &f);
    }

private:
    void worker(int index);
    void stop();  // joins every started thread

    int size_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    void (*fn_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    unsigned long generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

}  // namespace xgrad::detail
