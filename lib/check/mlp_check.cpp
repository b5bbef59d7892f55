#include "xgrad/check/mlp_check.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "xgrad/nn/random.hpp"
#include "xgrad/check/reference.hpp"
#include "h5.hpp"  // lib/io: the atomic HDF5 writer

namespace xgrad::mlp_check {

// ---- comparison -------------------------------------------------------------------------------

namespace {

// One pass over the entries: norms of g1, g2, g1-g2 and the largest |g1-g2|. `mask` may be null.
Comparison compare_impl(const Matrix<double>& g1, const Matrix<double>& g2,
                        const Matrix<std::uint8_t>* mask, double threshold, bool allow_zero) {
    if (shape_of(g1) != shape_of(g2))
        throw ShapeError("gradcheck compare: the gradients differ in shape: " +
                         to_string(shape_of(g1)) + " and " + to_string(shape_of(g2)));
    if (mask && shape_of(*mask) != shape_of(g1))
        throw ShapeError("gradcheck compare: the mask is " + to_string(shape_of(*mask)) +
                         ", the gradients are " + to_string(shape_of(g1)));
    Comparison c;
    double s1 = 0, s2 = 0, sd = 0;
    bool nonzero = false;
    for (std::size_t i = 0, n = g1.size(); i < n; ++i) {
        if (mask && mask->data()[i] == 0) continue;
        const double a = g1.data()[i], b = g2.data()[i];
        ++c.compared;
        if (!std::isfinite(a) || !std::isfinite(b)) {
            c.finite = false;
            continue;
        }
        nonzero = nonzero || a != 0 || b != 0;
        const double d = a - b;
        s1 += a * a;
        s2 += b * b;
        sd += d * d;
        c.max_abs = std::max(c.max_abs, std::abs(d));
    }
    if (!c.finite) {
        c.max_abs = c.rel_err = std::numeric_limits<double>::quiet_NaN();
        return c;  // pass stays false
    }
    c.both_zero = c.compared > 0 && !nonzero;
    const double den = std::sqrt(s1) + std::sqrt(s2);
    c.rel_err = den == 0 ? 0.0 : std::sqrt(sd) / den;
    // Comparing nothing proves nothing, and neither do two zero vectors unless asked.
    c.pass = c.compared > 0 && (!c.both_zero || allow_zero) && c.rel_err <= threshold;
    return c;
}

}  // namespace

Comparison compare(const Matrix<double>& g1, const Matrix<double>& g2, double threshold,
                   bool allow_zero) {
    return compare_impl(g1, g2, nullptr, threshold, allow_zero);
}

Comparison compare(const Matrix<double>& g1, const Matrix<double>& g2,
                   const Matrix<std::uint8_t>& mask, double threshold, bool allow_zero) {
    return compare_impl(g1, g2, &mask, threshold, allow_zero);
}

// ---- tape and hand ----------------------------------------------------------------------------

namespace {
Gradients sized(std::size_t L) {
    Gradients g;
    g.dW.resize(L + 1);
    g.db.resize(L + 1);
    g.dZ.resize(L + 1);
    g.dA.resize(L + 1);
    return g;
}

// `separate` records bce(sigmoid(Z_L)), so the tape has an A_L node whose gradient is dA_L; a
// softmax output only exists fused (softmax_ce on Z_L).
LossForm loss_form(const MlpSpec& spec) {
    return spec.softmax_output() ? LossForm::fused : LossForm::separate;
}

// The network as the check records it: the regime's L2 and dropout, its masks in the mask nodes,
// and a forward pass so every value reflects them (recording ran with all-one masks).
Mlp<double> recorded(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                     const Matrix<double>& Y, const Regime& regime) {
    check_regime(spec, regime, X.shape()[1]);
    Mlp<double> net(spec, params, X, Y, regime.reg, loss_form(spec));
    if (regime.dropout()) {
        for (std::size_t l = 1; l < spec.layers(); ++l)
            if (regime.masks[l].size() != 0) net.tape().set_value(net.mask(l), regime.masks[l]);
        net.tape().forward();
    }
    return net;
}

}  // namespace

// ---- regime -----------------------------------------------------------------------------------

bool Regime::dropout() const {
    for (const auto& d : masks)
        if (d.size() != 0) return true;
    return false;
}

std::vector<double> keep_probs(const MlpSpec& spec, const Regularization& reg) {
    const std::size_t hidden = spec.layers() - 1;
    if (!(reg.lambd >= 0) || !std::isfinite(reg.lambd))
        throw UsageError("the L2 factor lambd must be >= 0, got " + std::to_string(reg.lambd));
    std::vector<double> k = reg.keep_prob;
    if (k.empty()) return std::vector<double>(hidden, 1.0);
    if (hidden == 0)
        throw UsageError("keep_prob: the network has no hidden layer to drop out");
    if (k.size() == 1) k.assign(hidden, k[0]);
    if (k.size() != hidden)
        throw UsageError("keep_prob needs one value or one per hidden layer (" +
                         std::to_string(hidden) + "), got " + std::to_string(k.size()));
    for (double v : k)
        if (!(v > 0 && v <= 1))
            throw UsageError("keep_prob must be in (0, 1], got " + std::to_string(v));
    return k;
}

void check_regime(const MlpSpec& spec, const Regime& regime, std::size_t m) {
    const std::vector<double> keep = keep_probs(spec, regime.reg);
    const std::size_t L = spec.layers();
    const bool any_dropout = std::any_of(keep.begin(), keep.end(), [](double k) { return k < 1; });
    if (regime.masks.empty()) {
        if (any_dropout)
            throw UsageError("gradcheck: dropout (keep_prob < 1) needs its fixed masks; "
                             "make_regime draws them");
        return;
    }
    if (regime.masks.size() != L + 1)
        throw UsageError("gradcheck: the masks are indexed by layer 0.." + std::to_string(L) +
                         " and need " + std::to_string(L + 1) + " entries, got " +
                         std::to_string(regime.masks.size()));
    for (std::size_t l = 0; l <= L; ++l) {
        const bool has = regime.masks[l].size() != 0;
        const bool wants = l >= 1 && l < L && keep[l - 1] < 1;
        if (has != wants)
            throw UsageError("gradcheck: layer " + std::to_string(l) +
                             (wants ? " has dropout (keep_prob " + std::to_string(keep[l - 1]) +
                                          ") but no mask"
                                    : " has no dropout but a mask"));
        if (!has) continue;
        const Shape want{spec.dims[l], m};
        if (shape_of(regime.masks[l]) != want)
            throw ShapeError("gradcheck: the dropout mask of layer " + std::to_string(l) + " is " +
                             to_string(shape_of(regime.masks[l])) + ", expected " +
                             to_string(want));
        for (double v : regime.masks[l])
            if (!std::isfinite(v))
                throw UsageError("gradcheck: the dropout mask of layer " + std::to_string(l) +
                                 " holds a non-finite value");
    }
}

Regime make_regime(const MlpSpec& spec, const Regularization& reg, std::size_t m,
                   std::uint32_t mask_seed) {
    const std::vector<double> keep = keep_probs(spec, reg);
    if (m == 0) throw UsageError("make_regime: m must be at least 1");
    Regime r;
    r.reg = reg;
    if (std::none_of(keep.begin(), keep.end(), [](double k) { return k < 1; })) return r;
    // The masks exactly as Mlp draws them: a network of the same shape (its weights and data do
    // not enter the draw) and draw_masks on a fresh NumpyRandom(mask_seed).
    const Matrix<double> X = xt::zeros<double>({spec.dims[0], m});
    const Matrix<double> Y =
        xt::zeros<double>({spec.softmax_output() ? std::size_t(1) : spec.dims.back(), m});
    Mlp<double> net(spec, init_params<double>(spec, Init::zeros, 0), X, Y, reg, loss_form(spec));
    NumpyRandom rng(mask_seed);
    net.draw_masks(rng);
    const std::size_t L = spec.layers();
    r.masks.resize(L + 1);
    for (std::size_t l = 1; l < L; ++l)
        if (net.mask(l) >= 0) r.masks[l] = net.tape().value(net.mask(l));
    r.mask_seed = mask_seed;
    return r;
}

// ---- tape and hand ----------------------------------------------------------------------------

Gradients tape_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y, const Regime& regime) {
    Mlp<double> net = recorded(spec, params, X, Y, regime);
    Tape<double>& t = net.tape();
    t.zero_grad();
    t.backward(net.loss());
    const std::size_t L = spec.layers();
    Gradients g = sized(L);
    for (std::size_t l = 1; l <= L; ++l) {
        g.dW[l] = t.grad(net.W(l));
        g.db[l] = t.grad(net.b(l));
        g.dZ[l] = t.grad(net.Z(l));
        // Softmax: A_L is not on the path to the loss (softmax_ce reads Z_L); no dA_L.
        if (l < L || !spec.softmax_output()) g.dA[l] = t.grad(net.A(l));
    }
    return g;
}

Gradients hand_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y, const Regime& regime) {
    check_regime(spec, regime, X.shape()[1]);
    const auto r = reference::propagate(spec, params, X, Y, regime.reg.lambd, regime.masks);
    const double m = double(X.shape()[1]);
    const std::size_t L = spec.layers();
    Gradients g = sized(L);
    for (std::size_t l = 1; l <= L; ++l) {
        g.dW[l] = r.dW[l];
        g.db[l] = r.db[l];
        // The seed's dA, dZ are gradients of m·cost; bring them to gradients of cost.
        g.dZ[l] = r.dZ[l] / m;
        if (l < L || !spec.softmax_output()) g.dA[l] = r.dA[l] / m;
    }
    return g;
}

// ---- finite differences -----------------------------------------------------------------------

Matrix<std::uint8_t> FdTensor::mask() const {
    Matrix<std::uint8_t> m = Matrix<std::uint8_t>::from_shape(status.shape());
    for (std::size_t i = 0; i < m.size(); ++i)
        m.data()[i] = status.data()[i] == std::uint8_t(FdStatus::compared) ? 1 : 0;
    return m;
}

namespace {


// Replays the tape with one parameter entry perturbed, and watches relu inputs for the kink.
class CostProbe {
public:
    CostProbe(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
              const Matrix<double>& Y, const Regime& regime, double kink_tol)
        : net_(recorded(spec, params, X, Y, regime)),
          kink_tol_(kink_tol),
          softmax_(spec.softmax_output()),
          m_(double(X.shape()[1])),
          l2_(regime.reg.lambd / (2.0 * m_)) {
        for (std::size_t l = 1; l <= spec.layers(); ++l)
            if (spec.activations[l - 1] == Activation::relu) {
                relu_z_.push_back(net_.Z(l));
                // the unperturbed point (after the masks went in)
                base_z_.push_back(net_.tape().value(net_.Z(l)));
            }
    }

    Mlp<double>& net() { return net_; }
    // lambd/(2m): the L2 penalty per unit of Σ‖W‖².
    double l2_factor() const { return l2_; }

    // The per-example cross-entropy terms with `v` replaced by `value`, into `out`: sigmoid
    // outputs -(y log p + (1-y) log(1-p)) per entry of A_L, softmax outputs -Σ_k y_k log p_k per
    // column (class-index labels: -log p_label). Sets `kink` if a relu input that moved crossed
    // zero relative to the unperturbed point, or came within kink_tol of it. Terms rather than the
    // cost: the caller subtracts them entry by entry before summing, so the rounding of a sum of m
    // terms near the cost's size does not land in a difference of order eps (about 100x less noise
    // at m = 209), and the cost is computed independently of the tape's own loss node.
    void losses_at(double& v, double value, std::vector<double>& out, bool& kink) {
        v = value;
        Tape<double>& t = net_.tape();
        t.forward();
        // The terms from the logits Z_L, the same function computed so that a confident network
        // keeps its digits: for sigmoid outputs -(y log p + (1-y) log(1-p)) = max(z,0) - y·z +
        // log1p(exp(-|z|)); from p = sigmoid(z) instead, a term of size 1 - p ~ 5e-3 carries an
        // absolute rounding error of ~1e-16, which the difference over 2·eps = 2e-7 turns into
        // ~5e-10 — a relative error of 2e-7 in a gradient that is itself of order 1 - p (found
        // with one or two examples of a trained model, where nothing averages it out). Softmax:
        // -log p_label = (max - z_label) + log1p(Σ_{k≠argmax} exp(z_k - max)).
        const Matrix<double>& Z = t.value(net_.Z(net_.layers()));
        const Matrix<double>& Y = t.value(net_.Y());
        if (softmax_) {
            const std::size_t K = Z.shape()[0], m = Z.shape()[1];
            const bool indices = Y.shape()[0] == 1;
            out.assign(m, 0.0);
            for (std::size_t j = 0; j < m; ++j) {
                std::size_t top = 0;
                for (std::size_t k = 1; k < K; ++k)
                    if (Z(k, j) > Z(top, j)) top = k;
                double rest = 0;
                for (std::size_t k = 0; k < K; ++k)
                    if (k != top) rest += std::exp(Z(k, j) - Z(top, j));
                const double log_sum = std::log1p(rest);  // log Σ exp(z - max)
                auto minus_log_p = [&](std::size_t k) { return (Z(top, j) - Z(k, j)) + log_sum; };
                if (indices) {
                    out[j] = minus_log_p(std::size_t(Y(0, j)));
                } else {
                    for (std::size_t k = 0; k < K; ++k)
                        if (Y(k, j) != 0) out[j] += Y(k, j) * minus_log_p(k);
                }
            }
        } else {
            out.resize(Z.size());
            for (std::size_t i = 0; i < Z.size(); ++i) {
                const double z = Z.data()[i], y = Y.data()[i];
                out[i] = (std::max(z, 0.0) - y * z) + std::log1p(std::exp(-std::abs(z)));
            }
        }
        for (std::size_t k = 0; k < relu_z_.size() && !kink; ++k) {
            const Matrix<double>& z = t.value(relu_z_[k]);
            const Matrix<double>& z0 = base_z_[k];
            for (std::size_t i = 0, n = z.size(); i < n; ++i) {
                const double a = z.data()[i], b = z0.data()[i];
                if (a == b) continue;  // not reached by this perturbation
                if ((a > 0) != (b > 0) || std::abs(a) < kink_tol_ || std::abs(b) < kink_tol_) {
                    kink = true;
                    break;
                }
            }
        }
    }

    // (cost(+) - cost(-)) / 2eps with cost = sum of terms / m + penalty, the terms differenced
    // entry by entry; `penalty_diff` is penalty(+) - penalty(-).
    double centered(const std::vector<double>& plus, const std::vector<double>& minus,
                    double penalty_diff, double eps) const {
        double s = 0;
        for (std::size_t i = 0; i < plus.size(); ++i) s += plus[i] - minus[i];
        return (s / m_ + penalty_diff) / (2 * eps);
    }

private:
    Mlp<double> net_;
    double kink_tol_;
    bool softmax_;
    double m_;
    double l2_;
    std::vector<NodeId> relu_z_;
    std::vector<Matrix<double>> base_z_;
};

// `weight`: the tensor is some W_l, so the L2 penalty moves with it.
FdTensor fd_tensor(CostProbe& probe, NodeId param, bool weight, const FdOptions& o,
                   NumpyRandom& rng) {
    Matrix<double>& p = probe.net().tape().leaf_value(param);
    FdTensor t;
    t.grad = Matrix<double>::from_shape(p.shape());
    t.grad.fill(std::numeric_limits<double>::quiet_NaN());
    t.status = Matrix<std::uint8_t>::from_shape(p.shape());
    t.status.fill(std::uint8_t(FdStatus::skipped));
    std::vector<double> plus, minus;
    const double l2 = weight ? probe.l2_factor() : 0.0;
    for (std::size_t i : rng.sample(p.size(), o.sample)) {
        double& v = p.data()[i];
        const double keep = v;
        const double up = keep + o.eps, down = keep - o.eps;
        bool kink = false;
        probe.losses_at(v, up, plus, kink);
        probe.losses_at(v, down, minus, kink);
        v = keep;  // exactly the original bits, so later entries see the unperturbed network
        // lambd/(2m)·(‖W(+)‖² − ‖W(−)‖²): every other entry's square is the same at both points
        // and cancels exactly, which leaves the perturbed entry's.
        const double penalty_diff = l2 == 0 ? 0.0 : l2 * (up * up - down * down);
        t.grad.data()[i] = probe.centered(plus, minus, penalty_diff, o.eps);
        t.status.data()[i] = std::uint8_t(kink ? FdStatus::kink : FdStatus::compared);
        ++t.evaluated;
        if (kink) ++t.kinks;
    }
    return t;
}

}  // namespace

FdGradients finite_differences(const MlpSpec& spec, const Params<double>& params,
                               const Matrix<double>& X, const Matrix<double>& Y,
                               const FdOptions& options, const Regime& regime) {
    if (!(options.eps > 0) || !std::isfinite(options.eps))
        throw UsageError("finite differences: eps must be a positive number, got " +
                         std::to_string(options.eps));
    const double kink_tol = options.kink_tol < 0 ? options.eps : options.kink_tol;
    CostProbe probe(spec, params, X, Y, regime, kink_tol);
    NumpyRandom rng(options.sample_seed);
    const std::size_t L = spec.layers();
    FdGradients fd;
    fd.dW.resize(L + 1);
    fd.db.resize(L + 1);
    for (std::size_t l = 1; l <= L; ++l) {
        fd.dW[l] = fd_tensor(probe, probe.net().W(l), true, options, rng);
        fd.db[l] = fd_tensor(probe, probe.net().b(l), false, options, rng);
    }
    return fd;
}

// ---- the whole check --------------------------------------------------------------------------

const char* quantity_name(Quantity q) {
    switch (q) {
        case Quantity::dW: return "dW";
        case Quantity::db: return "db";
        case Quantity::dZ: return "dZ";
        case Quantity::dA: return "dA";
    }
    return "?";
}

std::string Row::name() const { return quantity_name(quantity) + std::to_string(layer); }

bool Report::pass() const {
    if (rows.empty()) return false;
    for (const Row& r : rows)
        if (!r.pass()) return false;
    return true;
}

std::size_t Report::fd_evaluated() const {
    std::size_t n = 0;
    for (const Row& r : rows) n += r.fd_evaluated;
    return n;
}

std::size_t Report::fd_kinks() const {
    std::size_t n = 0;
    for (const Row& r : rows) n += r.fd_kinks;
    return n;
}

namespace {
// NaN-aware maximum: a NaN error is the worst error there is.
double worse(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
}  // namespace

double Report::max_rel_hand() const {
    double m = 0;
    for (const Row& r : rows) m = worse(m, r.hand.rel_err);
    return m;
}

double Report::max_rel_fd() const {
    double m = 0;
    for (const Row& r : rows)
        if (r.has_fd) m = worse(m, r.fd.rel_err);
    return m;
}

Report compare_all(const Gradients& tape, const Gradients& hand, const FdGradients& fd,
                   const CheckOptions& o) {
    const std::size_t L = tape.dW.empty() ? 0 : tape.dW.size() - 1;
    auto need = [&](std::size_t n, const char* what) {
        if (n != L + 1)
            throw ShapeError(std::string("gradcheck: ") + what + " has " + std::to_string(n) +
                             " entries, the tape's gradients have " + std::to_string(L + 1));
    };
    need(tape.db.size(), "tape db");
    need(tape.dZ.size(), "tape dZ");
    need(tape.dA.size(), "tape dA");
    need(hand.dW.size(), "hand dW");
    need(hand.db.size(), "hand db");
    need(hand.dZ.size(), "hand dZ");
    need(hand.dA.size(), "hand dA");
    need(fd.dW.size(), "finite-difference dW");
    need(fd.db.size(), "finite-difference db");

    Report rep;
    for (std::size_t l = 1; l <= L; ++l) {
        auto add = [&](Quantity q, const Matrix<double>& t, const Matrix<double>& h,
                       const FdTensor* f) {
            Row r;
            r.quantity = q;
            r.layer = l;
            r.entries = t.size();
            r.hand = compare(t, h, o.tol_hand, o.allow_zero);
            if (f) {
                r.has_fd = true;
                r.fd = compare(t, f->grad, f->mask(), o.tol_fd, o.allow_zero);
                r.fd_evaluated = f->evaluated;
                r.fd_kinks = f->kinks;
            }
            rep.rows.push_back(r);
        };
        add(Quantity::dW, tape.dW[l], hand.dW[l], &fd.dW[l]);
        add(Quantity::db, tape.db[l], hand.db[l], &fd.db[l]);
        add(Quantity::dZ, tape.dZ[l], hand.dZ[l], nullptr);
        // A softmax output has no dA_L on the tape (softmax_ce reads Z_L): no row when neither
        // set has one. One empty and the other not is a shape mismatch, as anywhere else.
        if (l == L && tape.dA[l].size() == 0 && hand.dA[l].size() == 0) continue;
        add(Quantity::dA, tape.dA[l], hand.dA[l], nullptr);
    }
    return rep;
}

CheckResult run_check(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                      const Matrix<double>& Y, const CheckOptions& options,
                      const Regime& regime) {
    check_regime(spec, regime, X.shape()[1]);
    CheckResult r;
    r.regime = regime;
    r.tape = tape_gradients(spec, params, X, Y, regime);
    r.hand = hand_gradients(spec, params, X, Y, regime);
    r.fd = finite_differences(spec, params, X, Y, options.fd, regime);
    r.report = compare_all(r.tape, r.hand, r.fd, options);
    return r;
}

// ---- HDF5 dump --------------------------------------------------------------------------------

namespace {

template <class T>
void write_matrix(H5::Group& g, const std::string& name, const Matrix<T>& m,
                  const H5::PredType& type) {
    const hsize_t dims[2] = {m.shape()[0], m.shape()[1]};
    H5::DataSpace space(2, dims);
    H5::DataSet d = g.createDataSet(name, type, space);
    d.write(m.data(), type);
}

void write_set(H5::Group& parent, const std::string& name, const Gradients& g) {
    H5::Group grp = parent.createGroup(name);
    for (std::size_t l = 1; l < g.dW.size(); ++l) {
        const std::string s = std::to_string(l);
        write_matrix(grp, "dW" + s, g.dW[l], H5::PredType::NATIVE_DOUBLE);
        write_matrix(grp, "db" + s, g.db[l], H5::PredType::NATIVE_DOUBLE);
        write_matrix(grp, "dZ" + s, g.dZ[l], H5::PredType::NATIVE_DOUBLE);
        if (g.dA[l].size() != 0)  // no dA_L for a softmax output
            write_matrix(grp, "dA" + s, g.dA[l], H5::PredType::NATIVE_DOUBLE);
    }
}

std::size_t layers_of(const CheckResult& r) { return r.tape.dW.empty() ? 0 : r.tape.dW.size() - 1; }

// keep_prob per hidden layer, expanded as Mlp expands it; 1 where there is no dropout.
std::vector<double> keep_per_layer(const Regime& r, std::size_t layers) {
    std::vector<double> keep(layers > 0 ? layers - 1 : 0, 1.0);
    const std::vector<double>& given = r.reg.keep_prob;
    if (given.size() == 1 && !keep.empty())
        keep.assign(keep.size(), given[0]);
    else if (given.size() == keep.size())
        keep = given;
    else if (!given.empty())
        throw UsageError("gradcheck dump: keep_prob has " + std::to_string(given.size()) +
                         " values for " + std::to_string(keep.size()) + " hidden layers");
    return keep;
}

// lambd, keep_prob per hidden layer and the mask seed as attributes of the check's group, the
// masks as datasets masks/D<l>.
void write_regime(H5::Group& top, const Regime& r, std::size_t layers) {
    const H5::DataSpace scalar(H5S_SCALAR);
    top.createAttribute("lambd", H5::PredType::NATIVE_DOUBLE, scalar)
        .write(H5::PredType::NATIVE_DOUBLE, &r.reg.lambd);
    if (layers > 1) {
        const std::vector<double> keep = keep_per_layer(r, layers);
        const hsize_t n = keep.size();
        top.createAttribute("keep_prob", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, &n))
            .write(H5::PredType::NATIVE_DOUBLE, keep.data());
    }
    if (r.mask_seed >= 0)
        top.createAttribute("mask_seed", H5::PredType::NATIVE_INT64, scalar)
            .write(H5::PredType::NATIVE_INT64, &r.mask_seed);
    if (r.dropout()) {
        H5::Group g = top.createGroup("masks");
        for (std::size_t l = 0; l < r.masks.size(); ++l)
            if (r.masks[l].size() != 0)
                write_matrix(g, "D" + std::to_string(l), r.masks[l], H5::PredType::NATIVE_DOUBLE);
    }
}

}  // namespace

void write_dump(const std::string& path, const std::vector<std::string>& labels,
                const std::vector<const CheckResult*>& results) {
    if (labels.size() != results.size())
        throw UsageError("gradcheck dump: " + std::to_string(labels.size()) + " labels for " +
                         std::to_string(results.size()) + " results");
    for (const CheckResult* r : results) keep_per_layer(r->regime, layers_of(*r));  // throws early
    // io's atomic writer: a temporary file beside the target, fsynced, renamed into place, the
    // directory fsynced; a reader (or a crash) sees the old complete dump or the new complete one.
    io::h5::write_atomically(path, "gradient dump", [&](H5::H5File& file) {
        for (std::size_t k = 0; k < results.size(); ++k) {
            const CheckResult& r = *results[k];
            H5::Group top = file.createGroup(labels[k]);
            write_regime(top, r.regime, layers_of(r));
            write_set(top, "tape", r.tape);
            write_set(top, "hand", r.hand);
            H5::Group fd = top.createGroup("fd");
            H5::Group st = top.createGroup("fd_status");
            for (std::size_t l = 1; l < r.fd.dW.size(); ++l) {
                const std::string s = std::to_string(l);
                write_matrix(fd, "dW" + s, r.fd.dW[l].grad, H5::PredType::NATIVE_DOUBLE);
                write_matrix(fd, "db" + s, r.fd.db[l].grad, H5::PredType::NATIVE_DOUBLE);
                write_matrix(st, "dW" + s, r.fd.dW[l].status, H5::PredType::NATIVE_UINT8);
                write_matrix(st, "db" + s, r.fd.db[l].status, H5::PredType::NATIVE_UINT8);
            }
        }
    });
}

}  // namespace xgrad::mlp_check
