#include "xgrad/check/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <ostream>

#include "xgrad/check/mlp_check.hpp"  // compare(): the same metric and rules as the MLP's check
#include "xgrad/nn/random.hpp"

namespace xgrad {

namespace {

// ---- defaults per type ------------------------------------------------------------------------

template <class T>
struct Defaults;
template <>
struct Defaults<double> {
    static constexpr double eps = 1e-6, tolerance = 1e-6, kink_tol = 1e-2;
    static constexpr const char* name = "double";
};
template <>
struct Defaults<float> {
    static constexpr double eps = 1e-3, tolerance = 2e-2, kink_tol = 0.1;
    static constexpr const char* name = "float";
};

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string sci(double v) {
    if (std::isnan(v)) return "nan";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", v);
    return buf;
}

// Resolves 0 to the type's default; UsageError for a negative or non-finite value.
double option(double v, double fallback, const char* what) {
    if (!(v >= 0) || !std::isfinite(v))
        throw UsageError(std::string("gradcheck: ") + what + " must be a non-negative number (0: " +
                         "the default " + num(fallback) + "), got " + num(v));
    return v == 0 ? fallback : v;
}


template <class T>
std::vector<NodeId> resolve_params(const Tape<T>& tape, const std::vector<NodeId>& given) {
    std::vector<NodeId> params = given.empty() ? tape.parameters() : given;
    if (params.empty()) throw UsageError("gradcheck: the tape has no parameters to check");
    std::vector<NodeId> seen;
    for (NodeId p : params) {
        const Node<T>& n = tape.node(p);  // UsageError for an id not on the tape
        if (n.op != OpKind::parameter)
            throw UsageError("gradcheck: node " + std::to_string(p) + " (" + op_name(n.op) +
                             (n.name.empty() ? "" : " \"" + n.name + "\"") +
                             ") is not a parameter");
        if (std::find(seen.begin(), seen.end(), p) != seen.end())
            throw UsageError("gradcheck: parameter " + std::to_string(p) + " is listed twice");
        seen.push_back(p);
    }
    return params;
}

template <class T>
Matrix<double> as_double(const Matrix<T>& m) {
    Matrix<double> d = Matrix<double>::from_shape(m.shape());
    for (std::size_t i = 0; i < m.size(); ++i) d.data()[i] = double(m.data()[i]);
    return d;
}

// Puts the tape back on every way out: the parameters' gradients, anomaly detection and (with a
// last forward pass) every value. The entries perturbed are put back by the loop itself.
template <class T>
class Restore {
public:
    explicit Restore(Tape<T>& t) : t_(t), check_finite_(t.check_finite()) {
        for (NodeId p : t.parameters()) grads_.push_back(t.grad(p));
        t.set_check_finite(false);
    }
    Restore(const Restore&) = delete;
    Restore& operator=(const Restore&) = delete;
    void grads() {
        const std::vector<NodeId>& ps = t_.parameters();
        for (std::size_t k = 0; k < ps.size(); ++k) {
            Matrix<T>& g = t_.param_grad(ps[k]);
            std::copy(grads_[k].begin(), grads_[k].end(), g.begin());
        }
    }
    // The normal way out: may throw (from forward).
    void finish() {
        done_ = true;
        grads();
        t_.set_check_finite(check_finite_);  // before forward: restored even if it throws
        t_.forward();
    }
    ~Restore() {
        if (done_) return;
        try {
            grads();
            t_.forward();
        } catch (...) {
        }
        t_.set_check_finite(check_finite_);
    }

private:
    Tape<T>& t_;
    bool check_finite_;
    bool done_ = false;
    std::vector<Matrix<T>> grads_;
};

template <class T>
double loss_of(const Tape<T>& t, NodeId loss) {
    return double(t.value(loss).data()[0]);
}

// The loss around one entry p: the central difference and the two one-sided slopes.
struct Probe {
    double central = 0;  // (f+ − f−) / (h+ + h−)
    double gap = 0;      // |s+ − s−|, s+ = (f+ − f0)/h+, s− = (f0 − f−)/h−
    double slopes = 0;   // |s+| + |s−|
    double noise = 0;    // what rounding of the loss values can put into a slope
    // The slopes differ by more than kink_tol of their size, and by more than the noise.
    bool kink_candidate(double kink_tol) const {
        return std::isfinite(gap) && gap > kink_tol * slopes && gap > noise;
    }
};

// f+ and f− at p ± step rounded to T (at least one unit in the last place: the steps actually
// taken are used, never 0).
template <class T, class F>
Probe probe(T p, double step, double f0, double macheps, F loss_at) {
    T up = T(double(p) + step), down = T(double(p) - step);
    if (!(up > p)) up = std::nextafter(p, std::numeric_limits<T>::infinity());
    if (!(down < p)) down = std::nextafter(p, -std::numeric_limits<T>::infinity());
    const double hp = double(up) - double(p), hm = double(p) - double(down);
    const double fp = loss_at(up), fm = loss_at(down);
    Probe r;
    r.central = (fp - fm) / (hp + hm);
    const double sp = (fp - f0) / hp, sm = (f0 - fm) / hm;
    r.gap = std::abs(sp - sm);
    r.slopes = std::abs(sp) + std::abs(sm);
    r.noise = 16 * macheps * std::max({std::abs(f0), std::abs(fp), std::abs(fm)}) / std::min(hp, hm);
    return r;
}

template <class T>
GradcheckReport run_check(Tape<T>& tape, NodeId loss, const std::vector<NodeId>& given_params,
                          const std::vector<Matrix<double>>* given, const GradcheckOptions& o) {
    GradcheckReport rep;
    rep.dtype = Defaults<T>::name;
    rep.eps = option(o.eps, Defaults<T>::eps, "eps");
    rep.tolerance = option(o.tolerance, Defaults<T>::tolerance, "tolerance");
    rep.kink_tol = option(o.kink_tol, Defaults<T>::kink_tol, "kink_tol");
    rep.max_entries = o.max_entries;
    rep.seed = o.seed;
    rep.allow_zero = o.allow_zero;

    const Node<T>& ln = tape.node(loss);  // UsageError for an id not on the tape
    if (ln.shape != Shape{1, 1})
        throw UsageError("gradcheck: the loss must be a scalar [1,1], node " + std::to_string(loss) +
                         " (" + op_name(ln.op) + ") is " + to_string(ln.shape));
    const std::vector<NodeId> params = resolve_params(tape, given_params);
    if (given) {
        if (given->size() != params.size())
            throw UsageError("gradcheck: " + std::to_string(given->size()) + " gradients for " +
                             std::to_string(params.size()) + " parameters");
        for (std::size_t k = 0; k < params.size(); ++k)
            if (shape_of((*given)[k]) != tape.shape(params[k]))
                throw ShapeError("gradcheck: the gradient given for parameter " +
                                 std::to_string(params[k]) + " is " +
                                 to_string(shape_of((*given)[k])) + ", the parameter is " +
                                 to_string(tape.shape(params[k])));
    }

    Restore<T> restore(tape);
    tape.forward();
    const double f0 = loss_of(tape, loss);

    // The analytic gradients: the tape's from zero (the caller's are put back just after), or given.
    std::vector<Matrix<double>> grads;
    if (given) {
        grads = *given;
    } else {
        tape.zero_grad();
        if (tape.requires_grad(loss)) tape.backward(loss);  // else: nothing reaches it, all zero
        for (NodeId p : params) grads.push_back(as_double(tape.grad(p)));
        restore.grads();
    }

    NumpyRandom rng(o.seed);
    const double eps = rep.eps;
    const double macheps = double(std::numeric_limits<T>::epsilon());
    for (std::size_t k = 0; k < params.size(); ++k) {
        const NodeId p = params[k];
        Matrix<T>& value = tape.leaf_value(p);
        ParamReport r;
        r.id = p;
        r.name = tape.node(p).name;
        r.shape = shape_of(value);
        r.entries = value.size();
        r.analytic = std::move(grads[k]);
        r.numeric = Matrix<double>::from_shape(value.shape());
        r.numeric.fill(std::numeric_limits<double>::quiet_NaN());
        Matrix<std::uint8_t> mask = Matrix<std::uint8_t>::from_shape(value.shape());
        mask.fill(0);

        for (std::size_t i : rng.sample(value.size(), o.max_entries)) {
            T& v = value.data()[i];
            const T keep = v;
            // The loss with the entry at `at`; the entry is put back whatever happens.
            const auto loss_at = [&](T at) {
                v = at;
                try {
                    tape.forward();
                } catch (...) {
                    v = keep;
                    throw;
                }
                v = keep;  // exactly the original bits
                return loss_of(tape, loss);
            };
            const Probe pr = probe(keep, eps, f0, macheps, loss_at);
            ++r.checked;
            r.numeric.data()[i] = pr.central;
            bool kink = pr.kink_candidate(rep.kink_tol);
            if (kink) {
                // Confirm with half the step. Along a smooth function (a stationary point, where
                // the slope itself is about 0) the gap of the one-sided slopes halves and the
                // central difference stays; at a kink the gap stays, or the central difference
                // moves (the kink was inside the wider step only).
                const Probe half = probe(keep, eps / 2, f0, macheps, loss_at);
                const double noise = std::max(pr.noise, half.noise);
                const bool smooth = half.gap <= 0.75 * pr.gap + noise &&
                                    std::abs(pr.central - half.central) <= 0.1 * pr.gap + noise;
                kink = !smooth;
            }
            if (kink) {
                ++r.kinks;
                r.kink_at.push_back(i);
            } else {
                mask.data()[i] = 1;
            }
        }
        r.compared = r.checked - r.kinks;

        const mlp_check::Comparison c =
            mlp_check::compare(r.analytic, r.numeric, mask, rep.tolerance, o.allow_zero);
        r.rel_err = c.rel_err;
        r.max_abs = c.max_abs;
        r.all_zero = c.both_zero;
        r.finite = c.finite;
        r.pass = c.pass;
        double worst = -1;  // the first NaN counts as the largest difference
        for (std::size_t i = 0; i < mask.size(); ++i) {
            if (!mask.data()[i]) continue;
            const double d = std::abs(r.analytic.data()[i] - r.numeric.data()[i]);
            const double key = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
            if (key > worst) {
                worst = key;
                r.worst = i;
            }
        }
        rep.params.push_back(std::move(r));
    }
    restore.finish();
    return rep;
}

}  // namespace

// ---- reports ----------------------------------------------------------------------------------

std::string ParamReport::verdict() const {
    if (!finite) return "FAIL(nan)";
    if (compared == 0) return "FAIL(none)";
    if (all_zero) return pass ? "ZERO(ok)" : "FAIL(zero)";
    return pass ? "PASS" : "FAIL";
}

std::string ParamReport::label() const {
    return "%" + std::to_string(id) + (name.empty() ? "" : " " + name);
}

bool GradcheckReport::pass() const {
    if (params.empty()) return false;
    for (const ParamReport& p : params)
        if (!p.pass) return false;
    return true;
}

double GradcheckReport::max_rel_err() const {
    double m = 0;
    for (const ParamReport& p : params) {
        if (std::isnan(p.rel_err)) return std::numeric_limits<double>::quiet_NaN();
        m = std::max(m, p.rel_err);
    }
    return m;
}

std::size_t GradcheckReport::kinks() const {
    std::size_t n = 0;
    for (const ParamReport& p : params) n += p.kinks;
    return n;
}

std::size_t GradcheckReport::checked() const {
    std::size_t n = 0;
    for (const ParamReport& p : params) n += p.checked;
    return n;
}

std::size_t GradcheckReport::compared() const {
    std::size_t n = 0;
    for (const ParamReport& p : params) n += p.compared;
    return n;
}

void GradcheckReport::print(std::ostream& os) const {
    char buf[256];
    const std::string sample =
        max_entries == 0 ? std::string("every entry")
                         : "up to " + std::to_string(max_entries) + " entries per parameter (seed " +
                               std::to_string(seed) + ")";
    os << "gradcheck (" << dtype << "): central differences, eps " << num(eps) << ", " << sample
       << "; tolerance " << num(tolerance) << ", kink threshold " << num(kink_tol)
       << (allow_zero ? ", all-zero gradients allowed" : "") << "\n";
    std::size_t w = 9;  // "parameter"
    for (const ParamReport& p : params) w = std::max(w, p.label().size());
    std::snprintf(buf, sizeof buf, "   %-*s %10s %8s %8s %6s %10s %10s  %s\n", int(w), "parameter",
                  "shape", "entries", "checked", "kinks", "max abs", "rel err", "result");
    os << buf;
    for (const ParamReport& p : params) {
        std::snprintf(buf, sizeof buf, "   %-*s %10s %8zu %8zu %6zu %10s %10s  %s\n", int(w),
                      p.label().c_str(), to_string(p.shape).c_str(), p.entries, p.checked, p.kinks,
                      sci(p.max_abs).c_str(), sci(p.rel_err).c_str(), p.verdict().c_str());
        os << buf;
        if (!p.kink_at.empty()) {
            os << "      kinks at";
            const std::size_t shown = std::min<std::size_t>(p.kink_at.size(), 8);
            for (std::size_t k = 0; k < shown; ++k)
                os << " (" << p.kink_at[k] / p.shape.cols << "," << p.kink_at[k] % p.shape.cols << ")";
            if (shown < p.kink_at.size()) os << " and " << p.kink_at.size() - shown << " more";
            os << "\n";
        }
        if (!p.pass && p.compared > 0 && p.finite && !p.all_zero) {
            const std::size_t i = p.worst;
            std::snprintf(buf, sizeof buf,
                          "      largest difference at (%zu,%zu): analytic %.12g, finite "
                          "differences %.12g\n",
                          i / p.shape.cols, i % p.shape.cols, p.analytic.data()[i],
                          p.numeric.data()[i]);
            os << buf;
        }
    }
    std::size_t failed = 0;
    std::string names;
    for (const ParamReport& p : params)
        if (!p.pass) ++failed, names += (names.empty() ? "" : ", ") + p.label();
    if (pass())
        os << "   result: PASS (" << params.size() << " parameter" << (params.size() == 1 ? "" : "s")
           << ", " << compared() << " entries compared, " << kinks()
           << " kinks, largest relative error " << sci(max_rel_err()) << ")\n";
    else if (params.empty())
        os << "   result: FAIL (no parameters)\n";
    else
        os << "   result: FAIL (" << failed << " of " << params.size() << " parameters: " << names
           << ")\n";
}

// ---- the checks -------------------------------------------------------------------------------

template <class T>
GradcheckReport gradcheck(Tape<T>& tape, NodeId loss, const std::vector<NodeId>& params,
                          const GradcheckOptions& options) {
    return run_check(tape, loss, params, nullptr, options);
}

template <class T>
GradcheckReport gradcheck_given(Tape<T>& tape, NodeId loss, const std::vector<NodeId>& params,
                                const std::vector<Matrix<double>>& gradients,
                                const GradcheckOptions& options) {
    return run_check(tape, loss, params, &gradients, options);
}

// ---- every op ---------------------------------------------------------------------------------

namespace {

OpCaseInput in(Shape s, OpInput kind = OpInput::normal, bool parameter = true) {
    return {s, kind, parameter};
}

Attr scalar(double c) {
    Attr a;
    a.scalar = c;
    return a;
}
Attr axis(int ax) {
    Attr a;
    a.axis = ax;
    return a;
}
Attr range(int ax, std::size_t begin, std::size_t end) {
    Attr a;
    a.axis = ax;
    a.begin = begin;
    a.end = end;
    return a;
}

std::string sh(Shape s) { return to_string(s); }

std::vector<OpCase> make_cases() {
    std::vector<OpCase> v;
    auto add = [&](OpKind op, std::string label, std::vector<OpCaseInput> inputs, Attr attr = {},
                   bool kinks = false) {
        OpCase c;
        c.op = op;
        c.label = std::move(label);
        c.inputs = std::move(inputs);
        c.attr = attr;
        c.seed = std::uint32_t(v.size() + 1);
        c.kinks = kinks;
        v.push_back(std::move(c));
    };
    const Shape s34{3, 4}, s11{1, 1}, s31{3, 1}, s14{1, 4};

    using Pair = std::pair<Shape, Shape>;
    const Pair products[] = {{{3, 4}, {4, 5}}, {{1, 4}, {4, 1}}, {{5, 1}, {1, 3}}, {{2, 3}, {3, 1}}};
    for (auto [a, b] : products) add(OpKind::matmul, "matmul " + sh(a) + "." + sh(b), {in(a), in(b)});
    const Pair biases[] = {{{3, 4}, {3, 1}}, {{1, 5}, {1, 1}}, {{4, 1}, {4, 1}}};
    for (auto [a, b] : biases) add(OpKind::add_bias, "add_bias " + sh(a) + "+" + sh(b), {in(a), in(b)});

    // Every broadcast pair, on either side.
    const Pair pairs[] = {{s34, s34}, {s34, s11}, {s11, s34}, {s34, s31},
                                             {s31, s34}, {s34, s14}, {s14, s34}, {s31, s14},
                                             {s14, s31}, {s11, s11}};
    const std::pair<OpKind, const char*> binary[] = {
        {OpKind::add, "+"}, {OpKind::sub, "-"}, {OpKind::mul, "*"}, {OpKind::div, "/"}};
    for (auto [op, sym] : binary)
        for (auto [a, b] : pairs)
            add(op, std::string(op_name(op)) + " " + sh(a) + sym + sh(b),
                {in(a), in(b, op == OpKind::div ? OpInput::positive : OpInput::normal)});

    add(OpKind::scale, "scale 2.5*[3,4]", {in(s34)}, scalar(2.5));
    add(OpKind::scale, "scale -0.5*[1,1]", {in(s11)}, scalar(-0.5));
    add(OpKind::add_scalar, "add_scalar [3,4]+1.5", {in(s34)}, scalar(1.5));
    add(OpKind::add_scalar, "add_scalar [2,1]-3", {in({2, 1})}, scalar(-3));

    // Integer exponents on inputs of either sign; negative and non-integer ones on positive inputs.
    add(OpKind::pow, "pow [3,4]^2", {in(s34)}, scalar(2));
    add(OpKind::pow, "pow [2,5]^3", {in({2, 5})}, scalar(3));
    add(OpKind::pow, "pow [3,4]^-1 (positive)", {in(s34, OpInput::positive)}, scalar(-1));
    add(OpKind::pow, "pow [3,4]^0.5 (positive)", {in(s34, OpInput::positive)}, scalar(0.5));
    add(OpKind::pow, "pow [2,3]^1.7 (positive)", {in({2, 3}, OpInput::positive)}, scalar(1.7));
    add(OpKind::pow, "pow [3,1]^-2.5 (positive)", {in(s31, OpInput::positive)}, scalar(-2.5));

    const std::pair<OpKind, OpInput> unary[] = {
        {OpKind::exp, OpInput::normal},     {OpKind::log, OpInput::positive},
        {OpKind::sqrt, OpInput::positive},  {OpKind::square, OpInput::normal},
        {OpKind::abs, OpInput::normal},     {OpKind::relu, OpInput::normal},
        {OpKind::sigmoid, OpInput::normal}, {OpKind::tanh, OpInput::normal}};
    for (auto [op, kind] : unary) {
        const char* k = kind == OpInput::positive ? " (positive)" : "";
        add(op, std::string(op_name(op)) + " [3,4]" + k, {in(s34, kind)});
        // relu needs some positive entries: a row of 5 rather than a single one
        const Shape small = op == OpKind::relu ? Shape{1, 5} : op == OpKind::abs ? Shape{4, 1} : s11;
        add(op, std::string(op_name(op)) + " " + sh(small) + k, {in(small, kind)});
    }
    add(OpKind::abs, "abs [3,4] with zeros (kinks)", {in(s34, OpInput::zeros)}, {}, true);
    add(OpKind::relu, "relu [4,3] with zeros (kinks)", {in({4, 3}, OpInput::zeros)}, {}, true);

    for (OpKind op : {OpKind::softmax, OpKind::log_softmax})
        for (Shape s : {Shape{4, 3}, Shape{2, 5}, Shape{5, 1}})
            add(op, std::string(op_name(op)) + " " + sh(s), {in(s)});
    add(OpKind::transpose, "transpose [3,4]", {in(s34)});
    add(OpKind::transpose, "transpose [1,5]", {in({1, 5})});

    for (OpKind op : {OpKind::sum, OpKind::mean}) {
        for (int ax : {-1, 0, 1})
            add(op, std::string(op_name(op)) + " [3,4] axis " + std::to_string(ax), {in(s34)}, axis(ax));
        add(op, std::string(op_name(op)) + " [1,5] axis 1", {in({1, 5})}, axis(1));
    }
    for (int ax : {-1, 0, 1})
        add(OpKind::max, "max [3,4] axis " + std::to_string(ax), {in(s34, OpInput::distinct)}, axis(ax));
    add(OpKind::max, "max [1,5] axis 0", {in({1, 5}, OpInput::distinct)}, axis(0));
    add(OpKind::max, "max [4,5] axis 0 with ties (kinks)", {in({4, 5}, OpInput::ties)}, axis(0), true);
    add(OpKind::max, "max [3,4] axis 1 with ties (kinks)", {in(s34, OpInput::ties)}, axis(1), true);
    add(OpKind::sq_norm, "sq_norm [3,4]", {in(s34)});
    add(OpKind::sq_norm, "sq_norm [1,1]", {in(s11)});

    add(OpKind::concat, "concat [2,4];[3,4] axis 0", {in({2, 4}), in(s34)}, axis(0));
    add(OpKind::concat, "concat [1,1];[1,1] axis 0", {in(s11), in(s11)}, axis(0));
    add(OpKind::concat, "concat [3,2],[3,3] axis 1", {in({3, 2}), in({3, 3})}, axis(1));
    add(OpKind::concat, "concat [1,3],[1,2] axis 1", {in({1, 3}), in({1, 2})}, axis(1));
    add(OpKind::slice, "slice rows [1,3) of [4,3]", {in({4, 3})}, range(0, 1, 3));
    add(OpKind::slice, "slice rows [0,1) of [1,4]", {in(s14)}, range(0, 0, 1));
    add(OpKind::slice, "slice cols [2,5) of [3,5]", {in({3, 5})}, range(1, 2, 5));
    add(OpKind::slice, "slice cols [0,1) of [3,2]", {in({3, 2})}, range(1, 0, 1));

    add(OpKind::bce, "bce [1,5], 0/1 labels", {in({1, 5}, OpInput::probability),
                                               in({1, 5}, OpInput::binary, false)});
    add(OpKind::bce, "bce [3,4], 0/1 labels", {in(s34, OpInput::probability),
                                               in(s34, OpInput::binary, false)});
    add(OpKind::bce, "bce [2,3], soft labels (parameters)",
        {in({2, 3}, OpInput::probability), in({2, 3}, OpInput::probability)});
    add(OpKind::sigmoid_bce, "sigmoid_bce [1,5], 0/1 labels",
        {in({1, 5}), in({1, 5}, OpInput::binary, false)});
    add(OpKind::sigmoid_bce, "sigmoid_bce [3,4], 0/1 labels",
        {in(s34), in(s34, OpInput::binary, false)});
    add(OpKind::sigmoid_bce, "sigmoid_bce [2,3], soft labels (parameters)",
        {in({2, 3}), in({2, 3}, OpInput::probability)});
    add(OpKind::softmax_ce, "softmax_ce [4,5], one-hot labels",
        {in({4, 5}), in({4, 5}, OpInput::one_hot, false)});
    add(OpKind::softmax_ce, "softmax_ce [4,5], index labels [1,5]",
        {in({4, 5}), in({1, 5}, OpInput::class_index, false)});
    add(OpKind::softmax_ce, "softmax_ce [2,6], index labels [1,6]",
        {in({2, 6}), in({1, 6}, OpInput::class_index, false)});
    add(OpKind::softmax_ce, "softmax_ce [3,4], soft labels (parameters)",
        {in(s34), in(s34, OpInput::probability)});
    add(OpKind::mse, "mse [3,4], constant targets", {in(s34), in(s34, OpInput::normal, false)});
    add(OpKind::mse, "mse [1,5], targets as parameters", {in({1, 5}), in({1, 5})});
    return v;
}

// Rounded to float, so that a float tape and a double tape of a case hold the same values.
double f32(double v) { return double(float(v)); }

// The entries of each group that max reduces, in row-major order (axis -1: one group).
std::vector<std::vector<std::size_t>> groups(Shape s, int ax) {
    std::vector<std::vector<std::size_t>> g;
    if (ax == 0) {
        g.resize(s.cols);
        for (std::size_t i = 0; i < s.rows; ++i)
            for (std::size_t j = 0; j < s.cols; ++j) g[j].push_back(i * s.cols + j);
    } else if (ax == 1) {
        g.resize(s.rows);
        for (std::size_t i = 0; i < s.rows; ++i)
            for (std::size_t j = 0; j < s.cols; ++j) g[i].push_back(i * s.cols + j);
    } else {
        g.resize(1);
        for (std::size_t k = 0; k < s.rows * s.cols; ++k) g[0].push_back(k);
    }
    return g;
}

Matrix<double> draw(const OpCaseInput& x, const OpCase& c, NumpyRandom& rng) {
    Matrix<double> m = Matrix<double>::from_shape({x.shape.rows, x.shape.cols});
    const std::size_t n = m.size();
    auto normal = [&] {
        const double u = rng.randn();
        return u >= 0 ? u + 0.1 : u - 0.1;
    };
    switch (x.kind) {
        case OpInput::normal:
            for (auto& v : m) v = normal();
            break;
        case OpInput::positive:
            for (auto& v : m) v = 0.5 + 1.5 * rng.uniform();
            break;
        case OpInput::zeros:
            for (std::size_t i = 0; i < n; ++i) {
                const double v = normal();
                m.data()[i] = i % 3 == 0 ? 0.0 : v;
            }
            break;
        case OpInput::distinct:
        case OpInput::ties: {
            const std::vector<std::size_t> perm = rng.permutation(n);
            for (std::size_t i = 0; i < n; ++i)
                m.data()[i] = (double(perm[i]) - double(n) / 2) * 0.3 + 0.1 * rng.uniform();
            if (x.kind == OpInput::ties) {
                const auto gs = groups(x.shape, c.attr.axis);
                for (std::size_t g = 0; g < gs.size(); g += 2) {
                    if (gs[g].size() < 2) continue;
                    std::size_t top = gs[g][0];
                    for (std::size_t k : gs[g])
                        if (m.data()[k] > m.data()[top]) top = k;
                    const std::size_t other = gs[g][0] == top ? gs[g][1] : gs[g][0];
                    m.data()[other] = f32(m.data()[top]);
                    m.data()[top] = f32(m.data()[top]);
                }
            }
            break;
        }
        case OpInput::probability:
            for (auto& v : m) v = 0.1 + 0.8 * rng.uniform();
            break;
        case OpInput::binary:
            for (auto& v : m) v = rng.uniform() < 0.5 ? 0.0 : 1.0;
            break;
        case OpInput::one_hot: {
            m.fill(0);
            for (std::size_t j = 0; j < x.shape.cols; ++j) {
                const std::size_t k =
                    std::min(x.shape.rows - 1, std::size_t(rng.uniform() * double(x.shape.rows)));
                m(k, j) = 1;
            }
            break;
        }
        case OpInput::class_index: {
            const std::size_t K = c.inputs.front().shape.rows;
            for (auto& v : m) v = double(std::min(K - 1, std::size_t(rng.uniform() * double(K))));
            break;
        }
    }
    for (auto& v : m) v = f32(v);
    return m;
}

template <class T>
Matrix<T> as(const Matrix<double>& m) {
    Matrix<T> t = Matrix<T>::from_shape(m.shape());
    for (std::size_t i = 0; i < m.size(); ++i) t.data()[i] = T(m.data()[i]);
    return t;
}

}  // namespace

const std::vector<OpCase>& op_cases() {
    static const std::vector<OpCase> cases = make_cases();
    return cases;
}

template <class T>
OpCaseTape<T> record_op_case(Tape<T>& tape, const OpCase& c) {
    if (c.inputs.empty() || c.inputs.size() > 2)
        throw UsageError("op case '" + c.label + "': " + std::to_string(c.inputs.size()) +
                         " inputs (an op takes one or two)");
    NumpyRandom rng(c.seed);
    OpCaseTape<T> r;
    const char* names[] = {"a", "b"};
    for (std::size_t k = 0; k < c.inputs.size(); ++k) {
        Matrix<T> m = as<T>(draw(c.inputs[k], c, rng));
        r.inputs.push_back(c.inputs[k].parameter ? tape.parameter(std::move(m), names[k])
                                                 : tape.constant(std::move(m), names[k]));
        if (c.inputs[k].parameter) r.params.push_back(r.inputs.back());
    }
    r.out = r.inputs.size() == 1 ? tape.record(c.op, r.inputs[0], c.attr)
                                 : tape.record(c.op, r.inputs[0], r.inputs[1], c.attr);
    const Shape so = r.out.shape();
    Matrix<double> g = Matrix<double>::from_shape({so.rows, so.cols});
    for (auto& v : g) v = f32((rng.uniform() < 0.5 ? -1.0 : 1.0) * (0.5 + rng.uniform()));
    r.weights = tape.constant(as<T>(g), "G");
    Attr all;
    all.axis = -1;
    r.loss = tape.record(OpKind::sum, tape.record(OpKind::mul, r.out, r.weights), all);
    return r;
}

template <class T>
OpCheckRow check_op(const OpCase& c, const GradcheckOptions& options) {
    Tape<T> tape;
    const OpCaseTape<T> rec = record_op_case(tape, c);
    OpCheckRow row;
    row.op = c.op;
    row.label = c.label;
    row.expect_kinks = c.kinks;
    row.report = gradcheck(tape, rec.loss, rec.params, options);
    return row;
}

#define XGRAD_GRADCHECK_INSTANTIATE(T)                                                          \
    template GradcheckReport gradcheck<T>(Tape<T>&, NodeId, const std::vector<NodeId>&,         \
                                          const GradcheckOptions&);                             \
    template GradcheckReport gradcheck_given<T>(Tape<T>&, NodeId, const std::vector<NodeId>&,   \
                                                const std::vector<Matrix<double>>&,             \
                                                const GradcheckOptions&);                       \
    template OpCaseTape<T> record_op_case<T>(Tape<T>&, const OpCase&);                          \
    template OpCheckRow check_op<T>(const OpCase&, const GradcheckOptions&);
XGRAD_GRADCHECK_INSTANTIATE(float)
XGRAD_GRADCHECK_INSTANTIATE(double)
#undef XGRAD_GRADCHECK_INSTANTIATE

}  // namespace xgrad
