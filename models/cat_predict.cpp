// cat_classifier predict: a saved model's verdict on images of any size (resized to its input), or
// its test accuracy on the dataset.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cat_classifier.hpp"
#include "cli.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/nn/mlp.hpp"

namespace xgrad::cat {

namespace {

// The model's input image {h, w, c}: stored by `train`; for older files, a square RGB or gray image.
std::vector<std::size_t> model_image_shape(const io::ModelFile& mf, const std::string& path) {
    if (!mf.image_shape.empty()) return mf.image_shape;
    const std::size_t n = mf.spec.dims[0];
    for (std::size_t c : {std::size_t(3), std::size_t(1)}) {
        if (n % c) continue;
        const auto s = std::size_t(std::lround(std::sqrt(double(n / c))));
        if (s * s * c == n) return {s, s, c};
    }
    throw DataError(path + ": no 'image_shape' attribute, and the input size " + std::to_string(n) +
                    " is not a square RGB or gray image");
}

// Pixels of `file` converted to the model's channels and resized to h x w (io::load_image), flattened
// as the loader flattens the dataset (C order, /255). An image that already has the size is used as is.
std::vector<double> image_column(const std::string& file, const std::vector<std::size_t>& shape) {
    const std::vector<std::uint8_t> px = io::load_image(file, shape[0], shape[1], shape[2]);
    std::vector<double> col(px.size());
    for (std::size_t i = 0; i < px.size(); ++i) col[i] = double(px[i]) / 255.0;
    return col;
}

}  // namespace

int predict(const PredictOptions& o) {
    const io::ModelFile mf = io::load_model(o.model);
    if (mf.spec.dims.back() != 1)
        throw DataError(o.model + ": the output layer has size " + std::to_string(mf.spec.dims.back()) +
                        ", a cat/non-cat model has 1");
    const std::size_t n_x = mf.spec.dims[0];
    std::vector<std::string> classes = mf.classes;
    if (classes.size() < 2) classes = {"non-cat", "cat"};
    int status = 0;

    if (!o.images.empty()) {
        const auto shape = model_image_shape(mf, o.model);
        // Read every image first: one unreadable file is reported without hiding the others.
        std::vector<std::string> names;
        std::vector<std::vector<double>> cols;
        for (const auto& f : o.images) {
            try {
                cols.push_back(image_column(f, shape));
                names.push_back(f);
            } catch (const Error& e) {
                std::fprintf(stderr, "%s: %s\n", kProgram, io::printable(e.what()).c_str());
                status = 2;
            }
        }
        if (!cols.empty()) {
            Matrix<double> X = Matrix<double>::from_shape({n_x, cols.size()});
            for (std::size_t j = 0; j < cols.size(); ++j)
                for (std::size_t i = 0; i < n_x; ++i) X(i, j) = cols[j][i];
            const Matrix<double> Y = xt::zeros<double>({std::size_t(1), cols.size()});
            Mlp<double> mlp(mf.spec, mf.params, std::move(X), Y);
            mlp.evaluate();
            const Matrix<double>& p = mlp.tape().value(mlp.A(mlp.layers()));
            for (std::size_t j = 0; j < cols.size(); ++j)
                // a file name or a class name with a newline or an escape code cannot forge a line
                std::printf("%s: %s (p(cat)=%.*f)\n", io::printable(names[j]).c_str(),
                            io::printable(classes[p(0, j) > 0.5 ? 1 : 0]).c_str(), o.digits, p(0, j));
        }
    }
    if (o.images.empty() || !o.data.empty()) {
        const std::string dir = data_dir(o.data);
        io::CatData<double> data = io::load_catvnoncat<double>(dir);
        check_input_size(data.test, n_x, dir, (o.model + ": the model's input size").c_str());
        Mlp<double> mlp(mf.spec, mf.params, std::move(data.test.X), std::move(data.test.Y));
        std::printf("test accuracy: %s\n", cli::py_float(mlp.accuracy()).c_str());
    }
    std::fflush(stdout);
    return status;
}

}  // namespace xgrad::cat
