// make_dataset: writes a training set of any size in the cat/non-cat layout, for streaming
// (xgrad/io/stream.hpp) and its tests and benchmark:
//
//   make_dataset --out DIR --examples N [--test-examples K] [--seed S] [--data DIR] [--random]
//
// DIR/train_catvnoncat.h5: train_set_x (N, h, w, c) uint8 chunked by example, train_set_y (N,)
// int64 0/1, list_classes; DIR/test_catvnoncat.h5 the same with test_set_x/_y and K examples, so
// that `cat_classifier train --data DIR` trains on it. Each example is a copy of an image of the
// real set (--data, $XGRAD_DATA, then the default, as the programs look) flipped left-right half
// of the time, shifted by up to 4 pixels (edges repeated) and with noise of up to +-8 levels, its
// label the original's; the test set's from the real test images. --random needs no dataset:
// uniformly random pixels and labels (64x64x3 unless --height/--width/--channels say otherwise).
// Deterministic for a given --seed. Memory is bounded (256 examples at a time); each file is written
// atomically (a temporary beside it, then rename). Errors: one line "make_dataset: ...", exit 2.
#include <H5Cpp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "h5.hpp"
#include "xgrad/io/io.hpp"

#ifndef XGRAD_DEFAULT_DATA_DIR
#define XGRAD_DEFAULT_DATA_DIR "../shared/datasets/catvnoncat"
#endif

namespace {

using namespace xgrad;

struct Options {
    std::string out, data;
    long long examples = 0, test_examples = 50;
    std::uint64_t seed = 1;
    bool random = false;
    long long height = 64, width = 64, channels = 3;
};

// The images copies are made of (empty for --random).
struct Base {
    std::vector<std::uint8_t> pixels;
    std::vector<long long> labels;
    std::vector<std::string> classes{"non-cat", "cat"};
};

Base base_of(const io::ImageSet<double>& s) {
    Base b;
    b.pixels = s.pixels;
    for (std::size_t j = 0; j < s.Y.shape()[1]; ++j) b.labels.push_back((long long)s.Y(0, j));
    b.classes = s.classes;
    return b;
}

// The next example: pixels into `px` (h·w·c), its label returned. Every draw takes whole 64-bit
// outputs of mt19937_64 (its sequence is fixed by the standard; distributions are not).
long long make_example(const Base& b, std::size_t h, std::size_t w, std::size_t c, std::mt19937_64& rng,
                       std::uint8_t* px) {
    const std::size_t n = h * w * c;
    if (b.labels.empty()) {
        for (std::size_t i = 0; i < n; ++i) px[i] = std::uint8_t(rng() >> 56);
        return (long long)(rng() >> 63);
    }
    const std::size_t k = std::size_t(rng() % b.labels.size());
    const bool flip = (rng() >> 63) != 0;
    const long dy = long(rng() % 9) - 4, dx = long(rng() % 9) - 4;
    const std::uint8_t* src = b.pixels.data() + k * n;
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x) {
            const long sy = std::clamp(long(y) + dy, 0L, long(h) - 1);
            long sx = std::clamp(long(x) + dx, 0L, long(w) - 1);
            if (flip) sx = long(w) - 1 - sx;
            for (std::size_t ch = 0; ch < c; ++ch) {
                const long noise = long(rng() % 17) - 8;
                const long v = long(src[(std::size_t(sy) * w + std::size_t(sx)) * c + ch]) + noise;
                px[(y * w + x) * c + ch] = std::uint8_t(std::clamp(v, 0L, 255L));
            }
        }
    return b.labels[k];
}

void write_set(const std::string& path, const std::string& split, std::size_t m, const Base& b, std::size_t h,
               std::size_t w, std::size_t c, std::uint64_t seed) {
    io::h5::write_atomically(path, "dataset", [&](H5::H5File& f) {
        const hsize_t dims[4] = {m, h, w, c}, chunk[4] = {1, h, w, c};
        H5::DSetCreatPropList cp;
        cp.setChunk(4, chunk);
        H5::DataSpace xs(4, dims);
        H5::DataSet x = f.createDataSet(split + "_set_x", H5::PredType::STD_U8LE, xs, cp);
        const hsize_t ym = m;
        H5::DataSet y = f.createDataSet(split + "_set_y", H5::PredType::STD_I64LE, H5::DataSpace(1, &ym));
        std::mt19937_64 rng(seed);
        const std::size_t n = h * w * c, block = 256;
        std::vector<std::uint8_t> px(block * n);
        std::vector<long long> labels(block);
        for (std::size_t start = 0; start < m; start += block) {
            const std::size_t k = std::min(block, m - start);
            for (std::size_t j = 0; j < k; ++j) labels[j] = make_example(b, h, w, c, rng, px.data() + j * n);
            const hsize_t at[4] = {start, 0, 0, 0}, cnt[4] = {k, h, w, c};
            H5::DataSpace fs = x.getSpace();
            fs.selectHyperslab(H5S_SELECT_SET, cnt, at);
            x.write(px.data(), H5::PredType::NATIVE_UINT8, H5::DataSpace(4, cnt), fs);
            const hsize_t yat = start, ycnt = k;
            H5::DataSpace yfs = y.getSpace();
            yfs.selectHyperslab(H5S_SELECT_SET, &ycnt, &yat);
            y.write(labels.data(), H5::PredType::NATIVE_LLONG, H5::DataSpace(1, &ycnt), yfs);
        }
        std::size_t len = 1;
        for (const auto& s : b.classes) len = std::max(len, s.size());
        std::vector<char> text(b.classes.size() * len, '\0');
        for (std::size_t i = 0; i < b.classes.size(); ++i) std::copy(b.classes[i].begin(), b.classes[i].end(), text.begin() + std::ptrdiff_t(i * len));
        H5::StrType st(H5::PredType::C_S1, len);
        st.setStrpad(H5T_STR_NULLPAD);
        const hsize_t nc = b.classes.size();
        f.createDataSet("list_classes", st, H5::DataSpace(1, &nc)).write(text.data(), st);
    });
}

int run(const Options& o) {
    io::h5::silence_hdf5();
    Base train, test;
    std::size_t h = std::size_t(o.height), w = std::size_t(o.width), c = std::size_t(o.channels);
    if (!o.random) {
        const std::string dir = io::find_data_dir(o.data, XGRAD_DEFAULT_DATA_DIR);
        const io::CatData<double> d = io::load_catvnoncat<double>(dir);
        train = base_of(d.train);
        test = base_of(d.test);
        h = d.train.height, w = d.train.width, c = d.train.channels;
    }
    write_set(o.out + "/train_catvnoncat.h5", "train", std::size_t(o.examples), train, h, w, c, o.seed);
    write_set(o.out + "/test_catvnoncat.h5", "test", std::size_t(o.test_examples), test, h, w, c, o.seed + 1);
    std::printf("%s/train_catvnoncat.h5: %lld examples of %zux%zux%zu (%.1f MiB); test_catvnoncat.h5: %lld\n",
                o.out.c_str(), o.examples, h, w, c, double(o.examples) * double(h * w * c) / 1048576.0,
                o.test_examples);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Writes a cat/non-cat-style training set of N examples (augmented copies, or random)"};
    Options o;
    app.add_option("--out", o.out, "directory for train_catvnoncat.h5 and test_catvnoncat.h5")
        ->required()
        ->check(CLI::ExistingDirectory);
    app.add_option("--examples", o.examples, "training examples")->required()->check(CLI::Range(1LL, 1LL << 40));
    app.add_option("--test-examples", o.test_examples, "test examples")
        ->capture_default_str()
        ->check(CLI::Range(1LL, 1LL << 40));
    app.add_option("--seed", o.seed, "random seed")->capture_default_str();
    app.add_option("--data", o.data, "the real dataset (default: $XGRAD_DATA, then " XGRAD_DEFAULT_DATA_DIR ")");
    app.add_flag("--random", o.random, "random images and labels; no dataset needed");
    app.add_option("--height", o.height, "--random: image height")->capture_default_str()->check(CLI::Range(1LL, 4096LL));
    app.add_option("--width", o.width, "--random: image width")->capture_default_str()->check(CLI::Range(1LL, 4096LL));
    app.add_option("--channels", o.channels, "--random: channels")->capture_default_str()->check(CLI::Range(1LL, 4LL));
    return cli::run("make_dataset", app, argc, argv, [&] {
        try {
            return run(o);
        } catch (const H5::Exception& e) {
            throw DataError(o.out + ": HDF5: " + e.getDetailMsg());
        }
    });
}
