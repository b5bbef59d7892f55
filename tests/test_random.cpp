#define BOOST_TEST_MODULE random
#include <boost/test/unit_test.hpp>

#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/random.hpp"

using namespace xgrad;

// Expected values printed by numpy 1.24 (Debian python3-numpy):
//   python3 -c "import numpy as np; np.random.seed(S); print(repr(np.random.randn(5).tolist()))"
BOOST_AUTO_TEST_CASE(randn_matches_numpy_bit_for_bit) {
    const std::vector<std::pair<std::uint32_t, std::vector<double>>> cases = {
        {1, {1.6243453636632417, -0.6117564136500754, -0.5281717522634557, -1.0729686221561705,
             0.8654076293246785}},
        {3, {1.7886284734303186, 0.43650985051198943, 0.09649746807200862, -1.8634927033644908,
             -0.27738820251439905}},
        {7, {1.690525703800356, -0.4659373705408328, 0.0328201636785844, 0.40751628299650783,
             -0.7889230286257386}},
    };
    for (const auto& [seed, expected] : cases) {
        NumpyRandom rng(seed);
        for (double e : expected) BOOST_TEST(rng.randn() == e);  // exact
    }
}

// python3 -c "import numpy as np; np.random.seed(3); print(repr(np.random.rand(3).tolist()))"
BOOST_AUTO_TEST_CASE(uniform_matches_numpy) {
    NumpyRandom rng(3);
    BOOST_TEST(rng.uniform() == 0.5507979025745755);
    BOOST_TEST(rng.uniform() == 0.7081478226181048);
    BOOST_TEST(rng.uniform() == 0.2909047389129443);
}

BOOST_AUTO_TEST_CASE(reseeding_forgets_the_kept_gaussian) {
    NumpyRandom rng(3);
    rng.randn();  // keeps the second value of the pair
    rng.seed(3);
    BOOST_TEST(rng.randn() == 1.7886284734303186);
}

BOOST_AUTO_TEST_CASE(randn_matrix_fills_row_major) {
    NumpyRandom a(1), b(1);
    const Matrix<double> m = a.randn(2, 3);
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j) BOOST_TEST(m(i, j) == b.randn());
}

// The seed's initialize_parameters([12288,20,7,5,1]) with seed 3; values printed by
//   np.random.seed(3); for l in 1..4: W = np.random.randn(d[l], d[l-1]) * np.sqrt(2 / d[l-1]);
//   print(repr(W[0,0]), repr(W[-1,-1]))
BOOST_AUTO_TEST_CASE(he_init_matches_the_seed) {
    const MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    const Params<double> p = he_init<double>(spec, 3);
    const double first[] = {0.022818891142278645, -0.13321759045028989, -0.16876055709548715,
                            -0.17589665183041864};
    const double last[] = {-0.007896938450317505, -0.11048035952661264, -0.24522234204261753,
                           0.4020738916186861};
    BOOST_REQUIRE(p.W.size() == 4);
    for (std::size_t l = 0; l < 4; ++l) {
        BOOST_TEST(p.W[l].shape()[0] == spec.dims[l + 1]);
        BOOST_TEST(p.W[l].shape()[1] == spec.dims[l]);
        BOOST_TEST(p.W[l](0, 0) == first[l]);
        BOOST_TEST(p.W[l](p.W[l].shape()[0] - 1, p.W[l].shape()[1] - 1) == last[l]);
        BOOST_TEST(p.b[l].shape()[1] == 1u);
        for (double v : p.b[l]) BOOST_TEST(v == 0.0);
    }
    // float parameters are the double values rounded once
    const Params<float> pf = he_init<float>(spec, 3);
    BOOST_TEST(pf.W[0](0, 0) == float(first[0]));
}
