#include "xgrad/gradcheck.hpp"

#include <H5Cpp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "xgrad/random.hpp"
#include "xgrad/reference.hpp"

namespace xgrad::gradcheck {

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
}  // namespace

Gradients tape_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y) {
    // `separate` records bce(sigmoid(Z_L)), so the tape has an A_L node whose gradient is dA_L.
    Mlp<double> net(spec, params, X, Y, LossForm::separate);
    Tape<double>& t = net.tape();
    t.zero_grad();
    t.backward(net.loss());
    const std::size_t L = spec.layers();
    Gradients g = sized(L);
    for (std::size_t l = 1; l <= L; ++l) {
        g.dW[l] = t.grad(net.W(l));
        g.db[l] = t.grad(net.b(l));
        g.dZ[l] = t.grad(net.Z(l));
        g.dA[l] = t.grad(net.A(l));
    }
    return g;
}

Gradients hand_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y) {
    const auto r = reference::propagate(spec, params, X, Y);
    const double m = double(X.shape()[1]);
    const std::size_t L = spec.layers();
    Gradients g = sized(L);
    for (std::size_t l = 1; l <= L; ++l) {
        g.dW[l] = r.dW[l];
        g.db[l] = r.db[l];
        // The seed's dA, dZ are gradients of m·cost; bring them to gradients of cost.
        g.dZ[l] = r.dZ[l] / m;
        g.dA[l] = r.dA[l] / m;
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

// Indices of the entries to perturb: all of them, or `k` distinct ones drawn by a partial
// Fisher-Yates shuffle (sorted, so the walk over the tensor is in memory order).
std::vector<std::size_t> pick_entries(std::size_t n, std::size_t k, NumpyRandom& rng) {
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), std::size_t(0));
    if (k == 0 || k >= n) return idx;
    for (std::size_t i = 0; i < k; ++i) {
        const std::size_t j = i + std::min(n - i - 1, std::size_t(rng.uniform() * double(n - i)));
        std::swap(idx[i], idx[j]);
    }
    idx.resize(k);
    std::sort(idx.begin(), idx.end());
    return idx;
}

// Replays the tape with one parameter entry perturbed, and watches relu inputs for the kink.
class CostProbe {
public:
    CostProbe(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
              const Matrix<double>& Y, double kink_tol)
        : net_(spec, params, X, Y, LossForm::separate), kink_tol_(kink_tol) {
        for (std::size_t l = 1; l <= spec.layers(); ++l)
            if (spec.activations[l - 1] == Activation::relu) {
                relu_z_.push_back(net_.Z(l));
                base_z_.push_back(net_.tape().value(net_.Z(l)));  // the unperturbed point
            }
    }

    Mlp<double>& net() { return net_; }

    // The per-entry losses -(y log p + (1-y) log(1-p)) with `v` replaced by `value`, into `out`;
    // sets `kink` if a relu input that moved crossed zero relative to the unperturbed point, or
    // came within kink_tol of it. Losses rather than the cost: the caller subtracts them entry by
    // entry before summing, so the rounding of a sum of m terms near the cost's size does not
    // land in a difference of order eps (about 100x less noise at m = 209), and the cost is
    // computed independently of the tape's own loss node.
    void losses_at(double& v, double value, std::vector<double>& out, bool& kink) {
        v = value;
        Tape<double>& t = net_.tape();
        t.forward();
        const Matrix<double>& P = t.value(net_.A(net_.layers()));
        const Matrix<double>& Y = t.value(net_.Y());
        out.resize(P.size());
        for (std::size_t i = 0; i < P.size(); ++i) {
            const double p = P.data()[i], y = Y.data()[i];
            out[i] = -(y * std::log(p) + (1 - y) * std::log(1 - p));
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

    // (cost(+) - cost(-)) / 2eps with cost = sum of losses / m, differenced entry by entry.
    double centered(const std::vector<double>& plus, const std::vector<double>& minus,
                    double eps) const {
        double s = 0;
        for (std::size_t i = 0; i < plus.size(); ++i) s += plus[i] - minus[i];
        return s / m_ / (2 * eps);
    }

private:
    Mlp<double> net_;
    double kink_tol_;
    double m_ = double(net_.tape().value(net_.X()).shape()[1]);
    std::vector<NodeId> relu_z_;
    std::vector<Matrix<double>> base_z_;
};

FdTensor fd_tensor(CostProbe& probe, NodeId param, const FdOptions& o, NumpyRandom& rng) {
    Matrix<double>& p = probe.net().tape().leaf_value(param);
    FdTensor t;
    t.grad = Matrix<double>::from_shape(p.shape());
    t.grad.fill(std::numeric_limits<double>::quiet_NaN());
    t.status = Matrix<std::uint8_t>::from_shape(p.shape());
    t.status.fill(std::uint8_t(FdStatus::skipped));
    std::vector<double> plus, minus;
    for (std::size_t i : pick_entries(p.size(), o.sample, rng)) {
        double& v = p.data()[i];
        const double keep = v;
        bool kink = false;
        probe.losses_at(v, keep + o.eps, plus, kink);
        probe.losses_at(v, keep - o.eps, minus, kink);
        v = keep;  // exactly the original bits, so later entries see the unperturbed network
        t.grad.data()[i] = probe.centered(plus, minus, o.eps);
        t.status.data()[i] = std::uint8_t(kink ? FdStatus::kink : FdStatus::compared);
        ++t.evaluated;
        if (kink) ++t.kinks;
    }
    return t;
}

}  // namespace

FdGradients finite_differences(const MlpSpec& spec, const Params<double>& params,
                               const Matrix<double>& X, const Matrix<double>& Y,
                               const FdOptions& options) {
    if (!(options.eps > 0) || !std::isfinite(options.eps))
        throw UsageError("finite differences: eps must be a positive number, got " +
                         std::to_string(options.eps));
    const double kink_tol = options.kink_tol < 0 ? options.eps : options.kink_tol;
    CostProbe probe(spec, params, X, Y, kink_tol);
    NumpyRandom rng(options.sample_seed);
    const std::size_t L = spec.layers();
    FdGradients fd;
    fd.dW.resize(L + 1);
    fd.db.resize(L + 1);
    for (std::size_t l = 1; l <= L; ++l) {
        fd.dW[l] = fd_tensor(probe, probe.net().W(l), options, rng);
        fd.db[l] = fd_tensor(probe, probe.net().b(l), options, rng);
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
        add(Quantity::dA, tape.dA[l], hand.dA[l], nullptr);
    }
    return rep;
}

CheckResult run_check(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                      const Matrix<double>& Y, const CheckOptions& options) {
    CheckResult r;
    r.tape = tape_gradients(spec, params, X, Y);
    r.hand = hand_gradients(spec, params, X, Y);
    r.fd = finite_differences(spec, params, X, Y, options.fd);
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
        write_matrix(grp, "dA" + s, g.dA[l], H5::PredType::NATIVE_DOUBLE);
    }
}

}  // namespace

void write_dump(const std::string& path, const std::vector<std::string>& labels,
                const std::vector<const CheckResult*>& results) {
    if (labels.size() != results.size())
        throw UsageError("gradcheck dump: " + std::to_string(labels.size()) + " labels for " +
                         std::to_string(results.size()) + " results");
    // Same directory as the target, so rename() is atomic: a reader never sees half a file.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        H5::Exception::dontPrint();
        H5::H5File file(tmp, H5F_ACC_TRUNC);
        for (std::size_t k = 0; k < results.size(); ++k) {
            const CheckResult& r = *results[k];
            H5::Group top = file.createGroup(labels[k]);
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
        file.close();
    } catch (const H5::Exception& e) {
        std::remove(tmp.c_str());
        throw DataError("gradcheck dump: cannot write " + path + ": " + e.getDetailMsg());
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw DataError("gradcheck dump: cannot rename " + tmp + " to " + path);
    }
}

}  // namespace xgrad::gradcheck
