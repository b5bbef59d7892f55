// A consumer of the engine alone: linked to xgrad::core only (tests/consumer/CMakeLists.txt), it
// includes nothing above core and uses only the tape and its Vars. run_consumer.cmake checks that
// neither it nor anything it loads is HDF5 or another xgrad layer, and the value it prints.
#include <xgrad/core/tape.hpp>

#include <cstdio>

int main() {
    using xgrad::Matrix;
    xgrad::Tape<double> t;
    auto W = t.parameter(Matrix<double>{{1.0, 2.0}}, "W");                        // [1,2]
    auto x = t.constant(Matrix<double>{{1.0, 0.0, 1.0}, {0.0, 1.0, 1.0}});        // [2,3]
    auto loss = sum(square(matmul(W, x)));  // W·x = [1,2,3]: loss = 1 + 4 + 9 = 14
    t.backward(loss);
    // dL/dW = 2 (W·x) xᵀ = 2 [1+3, 2+3] = [8, 10]
    const double l = loss.value()(0, 0), g0 = W.grad()(0, 0), g1 = W.grad()(0, 1);
    std::printf("core only: loss=%g dW=[%g,%g]\n", l, g0, g1);
    return l == 14.0 && g0 == 8.0 && g1 == 10.0 ? 0 : 1;
}
