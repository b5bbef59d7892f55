#pragma once
// Data-parallel training with MPI (layer xgrad::dist, built when CMake finds MPI).
//
// Every process of a job (mpirun -np N) holds the whole network, computes the gradients of its
// share of each batch's columns (share_of, xgrad/nn/data.hpp) and sums them with the others' in
// one MPI_Allreduce over one contiguous buffer (all gradients + a few extra numbers such as the
// cost): Horovod's tensor fusion without its overlap. Every process then takes the same step.
//
//   dist::Context mpi(&argc, &argv);           // MPI_Init .. MPI_Finalize
//   dist::MpiCollective<double> group(mpi);     // Trainer(..., &group) needs nothing else
//   dist::ShardedSource<double> mine(source, mpi.rank(), mpi.size());  // a loop of one's own
//   dist::allreduce_gradients(group, tape, params, buffer);
//
// MPI is private to the library: this header does not include <mpi.h>, so a program needs no MPI
// include path, and only libxgrad_dist.so links libmpi.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/nn/data.hpp"
#include "xgrad/nn/train.hpp"

namespace xgrad::dist {

// True when the process was started by an MPI launcher (mpirun, mpiexec, srun with PMIx): one
// of OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK is set. A program can initialise MPI only then,
// so that plain runs (and valgrind) never touch it.
bool launched_by_mpirun();

// The MPI library of the process, from MPI_Init to MPI_Finalize (RAII). One per process: MPI can
// be initialised once only, so a second Context (while one lives, or after one was destroyed) is
// a UsageError; the state asked is MPI's own (MPI_Initialized / MPI_Finalized), not a global of
// ours. Without mpirun it is a job of one process (MPI's singleton mode).
class Context {
public:
    explicit Context(int* argc = nullptr, char*** argv = nullptr);
    ~Context();  // MPI_Finalize (after a collective end: see finish)
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    // Processes of this job on this machine, and this one's index among them.
    int local_size() const { return local_size_; }
    int local_rank() const { return local_rank_; }
    bool under_mpirun() const { return under_mpirun_; }
    // Threads a process should compute with so that the processes on this machine share its
    // cores: max(1, cores / local_size()).
    int default_threads() const;

    // Ends the job from this process: MPI_Abort(MPI_COMM_WORLD, code), which makes mpirun stop
    // every process (without a hang in a collective the others wait in). Never returns.
    [[noreturn]] void abort(int code) const;

    // How a process ends a job with exit code `code`. When every process of the job reaches
    // finish within `seconds` (the job ended as one, e.g. every process saw the same error), it
    // returns true and the destructor finalises normally. Otherwise (another process is still in
    // a collective, or gone) it returns false and the caller should report and abort(code).
    // `seconds` < 0 waits for ever (a process that finished normally waits for the others).
    bool finish(double seconds);

    // One line about a failed job, from the process that failed to the process of rank 0, whose
    // mpirun is about to stop it: rank 0 calls listen_for_stop(buffer) once (an MPI_Irecv into
    // `buffer`, which must outlive the Context; MPI fills it while rank 0 waits in a collective,
    // so a SIGTERM handler can print it); a failing process calls tell_stop(line) before abort()
    // (waits at most `seconds` for the send). The buffer stays "" when nothing came.
    void listen_for_stop(char* buffer, std::size_t n);
    void tell_stop(const std::string& line, double seconds = 1.0);  // (the first 1000 bytes of it)

    // The communicator's handle (an MPI_Comm converted to an integer: MPI is private here) for
    // the collectives of this library.
    std::intptr_t world() const { return world_; }

private:
    int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
    bool under_mpirun_ = false;
    bool aborted_ = false;
    std::intptr_t world_ = 0;  // a duplicate of MPI_COMM_WORLD for the training collectives
    std::intptr_t end_ = 0;    // another, for finish(): never mixed with the training's collectives
    std::intptr_t stop_request_ = 0;  // listen_for_stop's MPI_Irecv (its Fortran handle)
    bool listening_ = false;
};

// The plain calls, for a program that manages MPI's lifetime itself instead of with a Context:
// init is MPI_Init unless MPI is initialised already (a UsageError once it was finalised);
// finalize is MPI_Finalize unless it is not initialised or finalised already. Between them,
// MpiCollective() and allreduce_gradients(tape) work on MPI_COMM_WORLD.
//   dist::init(&argc, &argv); ... dist::allreduce_gradients(tape); ... dist::finalize();
void init(int* argc = nullptr, char*** argv = nullptr);
void finalize();

// rank() and size() of MPI_COMM_WORLD; a UsageError before MPI_Init or after MPI_Finalize.
int rank();
int size();

// Collective<T> over MPI: sum() is exactly one MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE
// (or MPI_FLOAT), MPI_SUM, comm). It counts its calls, the bytes reduced and the seconds spent
// inside MPI_Allreduce (waiting for the slowest process included), for benchmarks.
template <class T>
class MpiCollective final : public Collective<T> {
public:
    explicit MpiCollective(const Context& context);
    // Over MPI_COMM_WORLD (MPI initialised by dist::init or a Context; else a UsageError).
    MpiCollective();
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    // n > INT_MAX (2^31 - 1 values, 16 GiB of doubles) is a UsageError: one call cannot carry it.
    void sum(T* values, std::size_t n) override;

    long long calls() const { return calls_; }
    std::size_t bytes() const { return bytes_; }  // total over the calls, per process
    double seconds() const { return seconds_; }
    void reset_counters() {
        calls_ = 0;
        bytes_ = 0;
        seconds_ = 0;
    }

private:
    std::intptr_t comm_;
    int rank_, size_;
    long long calls_ = 0;
    std::size_t bytes_ = 0;
    double seconds_ = 0;
};

// For a training loop of one's own: after backward, sums the gradients of `params` (and the
// values extra[0..k), e.g. the part's cost) over the group in one call over one contiguous buffer
// (sum_gradients, xgrad/nn/train.hpp). With each process's backward seeded with its columns /
// the batch's columns (ShardedSource::weight), the summed gradient is the whole batch's.
template <class T>
void allreduce_gradients(Collective<T>& group, Tape<T>& tape, const std::vector<NodeId>& params,
                         std::vector<T>& buffer, T* extra = nullptr, std::size_t k = 0) {
    sum_gradients(group, tape, params, extra, k, buffer);
}

// The simplest form: the gradients of every parameter of `tape` summed over MPI_COMM_WORLD in one
// MPI_Allreduce (a buffer of their size allocated for the call). Seed each process's backward with
// its columns / the batch's (ShardedSource::weight) and the sum is the whole batch's gradient.
template <class T>
void allreduce_gradients(Tape<T>& tape);

// For a loop of one's own only: its fetch gives count(n) columns, not n, so it is not a source for
// a Trainer (which shards by itself when given a group) or for minibatch_epoch.
// This process's part of every batch of another source: fetch(idx, n) of a batch of n examples
// fetches only the columns share_of(n, rank, size) of it (possibly none: count() == 0 when n <
// size), and weight(n) is the factor to seed backward with, count / n. examples(), features(),
// label_rows() are the whole source's, so that every process draws the same batches.
template <class T>
class ShardedSource final : public DataSource<T> {
public:
    ShardedSource(std::shared_ptr<DataSource<T>> whole, int rank, int size);

    std::size_t examples() const override { return whole_->examples(); }
    std::size_t features() const override { return whole_->features(); }
    std::size_t label_rows() const override { return whole_->label_rows(); }
    // X, Y := this process's columns of the batch idx[0..n). A UsageError when its share is empty
    // (ask count(n) first).
    void fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) override;
    void prefetch(const std::size_t* idx, std::size_t n) override;
    bool streams() const override { return whole_->streams(); }
    std::size_t chunk_columns() const override { return whole_->chunk_columns(); }

    Share share(std::size_t n) const { return share_of(n, rank_, size_); }
    std::size_t count(std::size_t n) const { return share(n).count; }
    double weight(std::size_t n) const { return n == 0 ? 0.0 : double(count(n)) / double(n); }

private:
    std::shared_ptr<DataSource<T>> whole_;
    int rank_, size_;
};

extern template class MpiCollective<float>;
extern template class MpiCollective<double>;
extern template class ShardedSource<float>;
extern template class ShardedSource<double>;

}  // namespace xgrad::dist
