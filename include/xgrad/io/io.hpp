#pragma once
// Reading the image datasets and reading/writing trained models (HDF5, C++ API).
// Every failure is a DataError (or ShapeError) naming the file, the dataset and expected vs found.
//
// What the loaders trust: nothing in the file. They read it in a separate process (the helper
// xgrad-read, installed beside the library) under a memory and a time limit, so a file that crashes,
// hangs or exhausts the HDF5 library or the image decoder is one DataError naming it
// ("<file>: the HDF5 library crashed reading it (SIGSEGV): the file is damaged", "<file>: reading
// did not finish in 30 s ...", "<file>: reading it needs more than the 300 MiB limit ..."); the
// limits grow with the file's size and XGRAD_READ_MEMORY_MIB / XGRAD_READ_SECONDS raise them.
// What they check is what the contents mean: names, types, shapes, values, sizes.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/nn/mlp.hpp"

namespace xgrad::io {

// A dataset the programs look for: what it is called in messages, the environment variable that
// may say where it is, the files its directory must hold, and where they come from.
struct DatasetPlace {
    std::string what;                // "cat/non-cat dataset"
    std::string env;                 // "XGRAD_DATA"
    std::vector<std::string> files;  // every one must be a regular file in the directory
    std::string origin;              // said when the dataset is not found
};
// Where dataset `place` is: `option` (the program's --data) if not empty, else $<place.env> if
// set, else `fallback`. When a file is missing there, a DataError says every place it looked, which
// files are missing and where they come from.
std::string find_dataset_dir(const std::string& option, const std::string& fallback,
                             const DatasetPlace& place);

// The cat/non-cat dataset: --data, $XGRAD_DATA, then `fallback`; train_catvnoncat.h5 and
// test_catvnoncat.h5.
std::string find_data_dir(const std::string& option, const std::string& fallback);
// The handwritten digits: --data, $XGRAD_DIGITS_DATA, then `fallback`; train_digits.h5 and
// test_digits.h5.
std::string find_digits_dir(const std::string& option, const std::string& fallback);

// One split of an image dataset: images [m,h,w,c] uint8 flattened in C order and divided by 255 into
// X [h·w·c, m] (a column per example, as the seed), labels 0/1 into Y [1, m].
template <class T>
struct ImageSet {
    Matrix<T> X;
    Matrix<T> Y;
    std::size_t height = 0, width = 0, channels = 0;
    std::vector<std::string> classes;  // list_classes, e.g. {"non-cat", "cat"}
    std::vector<std::uint8_t> pixels;  // the raw images, m·h·w·c bytes (for pictures)
};

// Reads datasets `x_name`, `y_name` and `list_classes` of `file` (isolated, see above) and checks
// them: uint8 images [m,h,w,c] with m, h, w, c > 0, integer labels 0/1 of shape [m] or [1,m], 2 or
// more class names.
template <class T>
ImageSet<T> load_image_set(const std::string& file, const std::string& x_name,
                           const std::string& y_name);

template <class T>
struct CatData {
    ImageSet<T> train, test;
};
// train_catvnoncat.h5 (train_set_x/_y) and test_catvnoncat.h5 (test_set_x/_y) of `dir`, each read
// and checked as load_image_set does; the test images must have the training images' size.
template <class T>
CatData<T> load_catvnoncat(const std::string& dir);

// One split of a grey-level image dataset with K classes (the digits): images [m,h,w] uint8 with
// levels 0..`levels` (16 for the digits, 16 = darkest ink), flattened in C order and divided by
// `levels` into X [h·w, m] (a column per example); labels, integers 0..K-1 with K the number of
// names in list_classes, into Y [1, m] as class indices (what softmax_ce takes).
template <class T>
struct LabeledSet {
    Matrix<T> X;
    Matrix<T> Y;
    std::size_t height = 0, width = 0;
    std::vector<std::string> classes;  // list_classes, e.g. {"0", ..., "9"}
    std::vector<std::uint8_t> pixels;  // the raw images, m·h·w bytes (for pictures)
};

// Reads datasets `x_name`, `y_name` and `list_classes` of `file` (isolated, see above) and checks
// them: every problem is a DataError "<file>: dataset '<name>': expected ..., found ..." (a pixel above
// `levels`, a label outside 0..K-1, a wrong type, rank or count).
template <class T>
LabeledSet<T> load_digits_set(const std::string& file, const std::string& x_name,
                              const std::string& y_name, unsigned levels = 16);

template <class T>
struct DigitsData {
    LabeledSet<T> train, test;
};
// train_digits.h5 (train_set_x/_y) and test_digits.h5 (test_set_x/_y) of `dir`; the test images
// must have the training images' size and the same class names.
template <class T>
DigitsData<T> load_digits(const std::string& dir);

// The parameters a file written by xgrad::save holds, without their values: the root attribute
// dtype ("f32"/"f64") and each dataset's name and 2-D shape, in the file's (alphabetical) order.
// For programs that rebuild a model from its file. Reads shapes only (isolated, see above); checks
// the dtype and that every object at the root is a non-empty 2-D dataset. A file that is not such a
// file, or is damaged, is a DataError naming it.
struct SavedParameters {
    std::string dtype;
    std::vector<std::pair<std::string, Shape>> shapes;
};
SavedParameters inspect_parameters(const std::string& path);

// A trained model as stored in model.h5: W1..WL, b1..bL (seed shapes) and attributes.
struct ModelFile {
    MlpSpec spec;
    Params<double> params;  // stored values, widened to double (exact for f32 models)
    std::string dtype;      // "f64" or "f32": the type the datasets are stored in
    double learning_rate = 0;
    long long iterations = 0;
    std::uint32_t seed = 0;
    double final_cost = 0;
    // Optional attributes (empty when the file lacks them): the images the model was trained on,
    // {h, w, c} with h·w·c = spec.dims[0], and the class names that labels 0/1 stand for.
    std::vector<std::size_t> image_shape;
    std::vector<std::string> classes;
};

// What a model file records beyond the weights, for programs that predict from images.
struct ModelInfo {
    std::vector<std::size_t> image_shape;  // {h, w, c}; not written when empty
    std::vector<std::string> classes;      // not written when empty
    // Further training settings, written as attributes of the same names (numbers as float64,
    // texts as UTF-8 strings), e.g. optimizer, lambd, keep_prob.
    std::vector<std::pair<std::string, double>> numbers;
    std::vector<std::pair<std::string, std::string>> texts;
};

// Writes atomically: a temporary file in the same directory, then rename.
template <class T>
void save_model(const std::string& path, const MlpSpec& spec, const Params<T>& params,
                double learning_rate, long long iterations, std::uint32_t seed, double final_cost);
template <class T>
void save_model(const std::string& path, const MlpSpec& spec, const Params<T>& params,
                double learning_rate, long long iterations, std::uint32_t seed, double final_cost,
                const ModelInfo& info);
// Reads a model written by save_model (or by xgrad before it wrote fixed-length strings), isolated
// (see above). Checks every attribute's type and value, the weights' types and shapes against
// layers_dims and dtype, and that every weight is finite: every damage is a DataError naming the
// file (and the dataset or attribute).
ModelFile load_model(const std::string& path);

// ================================== images (lib/io/image.cpp, stb_image) ==========================
// Reads a JPEG, PNG or BMP image, converts it to `channels` (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)
// and resizes it to height x width (stb_image_resize's default filter; an image that already has
// that size is used as is). Returns height·width·channels bytes in C order (row, column, channel),
// the layout of one image of an ImageSet. stb_image decodes it in the isolated reader (see above);
// checked here: the file's size (at most 256 MiB) and, there, the header's pixel count (at most
// 2^26) before decoding. A missing, unreadable, damaged or absurdly large image is a DataError
// naming the file and stb_image's reason; a bad requested size is a UsageError. Thread-safe.
std::vector<std::uint8_t> load_image(const std::string& path, std::size_t height,
                                     std::size_t width, std::size_t channels);

}  // namespace xgrad::io
