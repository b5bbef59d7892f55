#pragma once
// The processes of a data-parallel job played by threads, for tests of the Trainer's group path
// without MPI.

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "xgrad/nn/train.hpp"

namespace xgrad::test {

// The processes of a data-parallel job played by threads: sum() waits for every rank, adds the
// contributions in rank order (the same sums on every rank) and counts its calls.
class ThreadGroup {
public:
    explicit ThreadGroup(int n) : n_(n), slots_(std::size_t(n)) {}
    int size() const { return n_; }
    int calls() const { return calls_; }

    template <class T>
    void sum(int rank, T* v, std::size_t k) {
        std::vector<double>& mine = slots_[std::size_t(rank)];
        mine.assign(v, v + k);
        arrive();  // every contribution is in
        for (std::size_t i = 0; i < k; ++i) {
            T s = T(0);
            for (const auto& slot : slots_) s += T(slot.at(i));
            v[i] = s;
        }
        if (rank == 0) ++calls_;
        arrive();  // every rank has read the slots
    }

private:
    void arrive() {
        std::unique_lock<std::mutex> lock(mu_);
        const long long gen = generation_;
        if (++waiting_ == n_) {
            waiting_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return generation_ != gen; });
        }
    }
    int n_;
    std::vector<std::vector<double>> slots_;
    std::mutex mu_;
    std::condition_variable cv_;
    int waiting_ = 0;
    long long generation_ = 0;
    int calls_ = 0;
};

template <class T>
class ThreadCollective final : public Collective<T> {
public:
    ThreadCollective(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return g_.size(); }
    void sum(T* values, std::size_t n) override { g_.sum(rank_, values, n); }

private:
    ThreadGroup& g_;
    int rank_;
};

}  // namespace xgrad::test
