#include "ops/broadcast.hpp"

namespace xgrad::ops {

Shape broadcast_shape(const char* op, Shape a, Shape b) {
    const auto axis = [&](std::size_t x, std::size_t y) -> std::size_t {
        if (x == y || y == 1) return x;
        if (x == 1) return y;
        shape_error(op, "shapes do not broadcast (each axis must match or be 1)", a, b);
    };
    return {axis(a.rows, b.rows), axis(a.cols, b.cols)};
}

}  // namespace xgrad::ops
