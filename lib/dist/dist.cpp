#include "xgrad/dist/dist.hpp"

#include <mpi.h>

#include <chrono>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>
#include <thread>

#include "xgrad/core/tensor.hpp"

namespace xgrad::dist {

namespace {
// Communicators travel through the header as their Fortran handles (an int in every MPI), so that
// the header needs no <mpi.h>.
std::intptr_t handle(MPI_Comm c) { return std::intptr_t(MPI_Comm_c2f(c)); }
MPI_Comm comm(std::intptr_t h) { return MPI_Comm_f2c(MPI_Fint(h)); }

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(std::string(what) + " failed: " + std::string(text, std::size_t(len)));
}

bool initialized() {
    int on = 0, off = 0;
    MPI_Initialized(&on);
    MPI_Finalized(&off);
    return on && !off;
}

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <>
MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
}  // namespace

bool launched_by_mpirun() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
        if (std::getenv(v)) return true;
    return false;
}

Context::Context(int* argc, char*** argv) {
    int on = 0, off = 0;
    MPI_Initialized(&on);
    MPI_Finalized(&off);
    if (on || off)
        throw UsageError(std::string("dist::Context: MPI was ") + (off ? "finalised" : "initialised") +
                         " already: one Context per process, made once");
    under_mpirun_ = launched_by_mpirun();
    check(MPI_Init(argc, argv), "MPI_Init");
    MPI_Comm w = MPI_COMM_NULL, e = MPI_COMM_NULL, node = MPI_COMM_NULL;
    check(MPI_Comm_dup(MPI_COMM_WORLD, &w), "MPI_Comm_dup");
    check(MPI_Comm_dup(MPI_COMM_WORLD, &e), "MPI_Comm_dup");
    MPI_Comm_rank(w, &rank_);
    MPI_Comm_size(w, &size_);
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
    world_ = handle(w);
    end_ = handle(e);
}

Context::~Context() {
    if (aborted_) return;
    if (listening_) {  // nothing came: the receive is cancelled before MPI_Finalize
        MPI_Request req = MPI_Request_f2c(MPI_Fint(stop_request_));
        MPI_Cancel(&req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
    }
    // Unwinding from an exception in a job of several processes: the others may be waiting in a
    // collective this one will never join, and MPI_Finalize would wait for them. End the job.
    if (size_ > 1 && std::uncaught_exceptions() > 0) MPI_Abort(MPI_COMM_WORLD, 1);
    if (initialized()) MPI_Finalize();  // (unless dist::finalize() did it already)
}

int Context::default_threads() const {
    const unsigned hw = std::thread::hardware_concurrency();
    const int cores = hw == 0 ? 1 : int(hw);
    return std::max(1, cores / std::max(1, local_size_));
}

void Context::abort(int code) const {
    const_cast<Context*>(this)->aborted_ = true;
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // (MPI_Abort does not return)
}

bool Context::finish(double seconds) {
    MPI_Request req;
    check(MPI_Ibarrier(comm(end_), &req), "MPI_Ibarrier");
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done) return true;
        if (seconds >= 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

namespace {
constexpr int kStopTag = 77;
}

void Context::listen_for_stop(char* buffer, std::size_t n) {
    if (listening_ || n < 2) throw UsageError("Context::listen_for_stop: called twice, or a buffer under 2 bytes");
    buffer[0] = 0;
    MPI_Request req;
    check(MPI_Irecv(buffer, int(std::min<std::size_t>(n - 1, INT_MAX)), MPI_CHAR, MPI_ANY_SOURCE, kStopTag, comm(end_),
                    &req),
          "MPI_Irecv");
    stop_request_ = std::intptr_t(MPI_Request_c2f(req));
    listening_ = true;
}

void Context::tell_stop(const std::string& line, double seconds) {
    if (rank_ == 0) return;
    MPI_Request req;
    // the terminating zero travels too
    // at most what rank 0's buffer holds (the program's: 1024 bytes), or its receive would fail
    std::string cut = line.substr(0, std::min<std::size_t>(line.size(), 1000));
    if (MPI_Isend(cut.c_str(), int(cut.size() + 1), MPI_CHAR, 0, kStopTag, comm(end_), &req) != MPI_SUCCESS)
        return;
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done) break;
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // give rank 0's progress engine a moment to copy it (it polls while it waits in a collective)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

void init(int* argc, char*** argv) {
    int on = 0, off = 0;
    MPI_Initialized(&on);
    MPI_Finalized(&off);
    if (off) throw UsageError("dist::init: MPI was finalised already (it cannot be initialised again)");
    if (!on) check(MPI_Init(argc, argv), "MPI_Init");
}

void finalize() {
    if (initialized()) MPI_Finalize();
}

int rank() {
    if (!initialized()) throw UsageError("dist::rank: MPI is not initialised (make a dist::Context first)");
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int size() {
    if (!initialized()) throw UsageError("dist::size: MPI is not initialised (make a dist::Context first)");
    int s = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

template <class T>
MpiCollective<T>::MpiCollective(const Context& context)
    : comm_(context.world()), rank_(context.rank()), size_(context.size()) {}

template <class T>
MpiCollective<T>::MpiCollective() : comm_(handle(MPI_COMM_WORLD)), rank_(dist::rank()), size_(dist::size()) {}

template <class T>
void allreduce_gradients(Tape<T>& tape) {
    MpiCollective<T> world;
    std::vector<T> buffer;
    sum_gradients<T>(world, tape, tape.parameters(), nullptr, 0, buffer);
}

template <class T>
void MpiCollective<T>::sum(T* values, std::size_t n) {
    if (n > std::size_t(INT_MAX))
        throw UsageError("MpiCollective::sum: " + std::to_string(n) + " values, one MPI_Allreduce takes at most " +
                         std::to_string(INT_MAX));
    const auto start = std::chrono::steady_clock::now();
    check(MPI_Allreduce(MPI_IN_PLACE, values, int(n), mpi_type<T>(), MPI_SUM, comm(comm_)), "MPI_Allreduce");
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++calls_;
    bytes_ += n * sizeof(T);
}

template <class T>
ShardedSource<T>::ShardedSource(std::shared_ptr<DataSource<T>> whole, int rank, int size)
    : whole_(std::move(whole)), rank_(rank), size_(size) {
    if (!whole_) throw UsageError("ShardedSource: no source");
    share_of(1, rank, size);  // a bad rank or size is a UsageError here already
}

template <class T>
void ShardedSource<T>::fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) {
    const Share s = share(n);
    if (s.count == 0)
        throw UsageError("ShardedSource::fetch: process " + std::to_string(rank_) + " of " + std::to_string(size_) +
                         " has no column of a batch of " + std::to_string(n));
    whole_->fetch(idx + s.begin, s.count, X, Y);
}

template <class T>
void ShardedSource<T>::prefetch(const std::size_t* idx, std::size_t n) {
    const Share s = share(n);
    if (s.count > 0) whole_->prefetch(idx + s.begin, s.count);
}

template void allreduce_gradients(Tape<float>&);
template void allreduce_gradients(Tape<double>&);
template class MpiCollective<float>;
template class MpiCollective<double>;
template class ShardedSource<float>;
template class ShardedSource<double>;

}  // namespace xgrad::dist
