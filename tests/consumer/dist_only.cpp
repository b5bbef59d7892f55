// The installed dist layer alone (xgrad::dist, when the package has it): no MPI include path or
// library is given to this program, yet it compiles against xgrad/dist/dist.hpp and links. It does
// not initialise MPI: it splits a batch with ShardedSource and checks the columns it gets.
#include <xgrad/dist/dist.hpp>

#include <cstdio>
#include <memory>

int main() {
    using namespace xgrad;
    Matrix<double> X = {{0, 1, 2, 3, 4}}, Y = {{0, 1, 0, 1, 0}};
    auto all = std::make_shared<MemorySource<double>>(X, Y);
    dist::ShardedSource<double> second(all, 1, 2);  // process 1 of 2
    const std::size_t batch[] = {4, 3, 2, 1, 0};
    Matrix<double> x, y;
    second.fetch(batch, 5, x, y);  // shares 3 and 2: process 1 gets batch[3..5) = examples 1, 0
    std::printf("dist only: %zu columns, first %g, weight %.1f, under mpirun %d\n", x.shape()[1], x(0, 0),
                second.weight(5), int(dist::launched_by_mpirun()));
    return x.shape()[1] == 2 && x(0, 0) == 1 && x(0, 1) == 0 && second.weight(5) == 0.4 ? 0 : 1;
}
