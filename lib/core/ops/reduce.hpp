#pragma once
// What the reductions along an axis (sum, mean, max) share: the axis attribute (-1 every entry,
// 0 along the rows, 1 along the columns, numpy's keepdims=True) and the output entry each input
// entry falls into.
#include <string>

#include "ops/ops.hpp"

namespace xgrad::ops {

// [m,n] -> [1,1] (axis -1), [1,n] (axis 0), [m,1] (axis 1); any other axis is a UsageError.
inline Shape reduce_shape(const char* op, Shape a, const Attr& attr) {
    switch (attr.axis) {
        case -1: return {1, 1};
        case 0: return {1, a.cols};
        case 1: return {a.rows, 1};
        default:
            throw UsageError(std::string(op) + ": axis " + std::to_string(attr.axis) +
                             " is not -1 (every entry), 0 (along the rows) or 1 (along the columns)");
    }
}

// The flat index in the output of input entry (i, j).
struct ReduceIndex {
    int axis;
    std::size_t at(std::size_t i, std::size_t j) const { return axis < 0 ? 0 : axis == 0 ? j : i; }
};

// How many input entries each output entry reduces.
inline std::size_t reduce_count(Shape a, int axis) { return axis < 0 ? a.rows * a.cols : axis == 0 ? a.rows : a.cols; }

}  // namespace xgrad::ops
