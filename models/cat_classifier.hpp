#pragma once
// What the two parts of cat_classifier share: cat_classifier.cpp (options, train, the MPI job)
// and cat_predict.cpp (predict: images or the test accuracy of a saved model).

#include <cstddef>
#include <string>
#include <vector>

#include "xgrad/io/io.hpp"

#ifndef XGRAD_DEFAULT_DATA_DIR
#define XGRAD_DEFAULT_DATA_DIR "../shared/datasets/catvnoncat"
#endif

namespace xgrad::cat {

inline const char* const kProgram = "cat_classifier";

struct PredictOptions {
    std::string model;
    std::vector<std::string> images;
    std::string data;
    int digits = 2;
};

// predict: prints "IMAGE: cat (p(cat)=0.93)" per image and/or the test accuracy; 2 when an
// image could not be read (the others are still classified).
int predict(const PredictOptions& o);

// --data, $XGRAD_DATA, then the build's default.
inline std::string data_dir(const std::string& option) {
    return io::find_data_dir(option, XGRAD_DEFAULT_DATA_DIR);
}

// A network input of n_x values must fit the dataset's images.
template <class T>
void check_input_size(const io::ImageSet<T>& set, std::size_t n_x, const std::string& dir,
                      const char* what) {
    const std::size_t n = set.height * set.width * set.channels;
    if (n != n_x)
        throw ShapeError(std::string(what) + " " + std::to_string(n_x) + " does not fit the images in " +
                         dir + ": " + std::to_string(set.height) + "x" + std::to_string(set.width) +
                         "x" + std::to_string(set.channels) + " = " + std::to_string(n) + " values");
}

}  // namespace xgrad::cat
