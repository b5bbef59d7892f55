// Trains y = sigmoid(w·x + b) on two points through the installed xgrad and prints the gradient of
// the first step, which the run script checks against the closed form (sigmoid(0) - y)·x / m,
// then takes one step with the installed Optimizer, saves the parameters and loads them back.
#include <xgrad/xgrad.hpp>

#include <cstdio>

int main() {
    xgrad::Tape<double> t;
    const auto x = t.constant(xgrad::Matrix<double>{{1.0, 2.0}});
    const auto y = t.constant(xgrad::Matrix<double>{{1.0, 0.0}});
    const auto w = t.parameter(xgrad::Matrix<double>{{0.0}}, "w");
    const auto b = t.parameter(xgrad::Matrix<double>{{0.0}}, "b");
    const auto loss = t.sigmoid_bce(t.add_bias(t.matmul(w, x), b), y);
    t.backward(loss);
    // dW = ((0.5-1)·1 + (0.5-0)·2) / 2 = 0.25
    std::printf("dW=%.6f\n", t.grad(w)(0, 0));
    if (t.grad(w)(0, 0) != 0.25) return 1;
    // one gradient-descent step through the installed Optimizer: w = 0 - 0.1 · 0.25
    xgrad::Optimizer<double> opt(t, {xgrad::OptimizerKind::gd, 0.1});
    opt.step();
    std::printf("w=%.6f\n", t.value(w)(0, 0));
    if (t.value(w)(0, 0) != -0.025) return 1;
    // saved and read back through the installed package: reading goes through the installed
    // helper xgrad-read, which the library finds relative to itself
    xgrad::save("consumer_params.h5", t);
    t.set_value(w, xgrad::Matrix<double>{{7.0}});
    xgrad::load("consumer_params.h5", t);
    std::printf("loaded w=%.6f\n", t.value(w)(0, 0));
    return t.value(w)(0, 0) == -0.025 ? 0 : 1;
}
