#include "picture.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

#include "xgrad/core/tensor.hpp"
#include "xgrad/io/files.hpp"

namespace xgrad::picture {

namespace {

const Rgb kBlack{0, 0, 0};
const Rgb kGrid{225, 225, 225};
const Rgb kAxis{60, 60, 60};
const Rgb kCurve{31, 119, 180};  // matplotlib's first colour, as in the seed's plot
const Rgb kMark{214, 39, 40};

// The quads stb_easy_font makes for `s` at the origin, in font units (one unit = one pixel at
// scale 1). Each quad is an axis-aligned rectangle: four vertices of x, y, z floats and 4 colour bytes.
struct Quad {
    float x0, y0, x1, y1;
};
std::vector<Quad> font_quads(const std::string& s) {
    std::vector<char> text(s.begin(), s.end());
    text.push_back('\0');
    std::vector<char> buffer(s.size() * 400 + 1000);  // about 270 bytes per glyph at most
    unsigned char color[4] = {0, 0, 0, 255};
    const int n = stb_easy_font_print(0, 0, text.data(), color, buffer.data(), int(buffer.size()));
    std::vector<Quad> quads;
    for (int q = 0; q < n; ++q) {
        const float* v = reinterpret_cast<const float*>(buffer.data() + q * 64);
        Quad r{v[0], v[1], v[0], v[1]};
        for (int k = 1; k < 4; ++k) {
            const float* p = reinterpret_cast<const float*>(buffer.data() + q * 64 + k * 16);
            r.x0 = std::min(r.x0, p[0]);
            r.y0 = std::min(r.y0, p[1]);
            r.x1 = std::max(r.x1, p[0]);
            r.y1 = std::max(r.y1, p[1]);
        }
        quads.push_back(r);
    }
    return quads;
}

// A round step for about `target` intervals over `range`: 1, 2 or 5 times a power of ten.
double nice_step(double range, int target) {
    if (!(range > 0)) return 1;
    const double raw = range / target;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

std::string tick_label(double v, double step) {
    const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::abs(v) < step * 1e-6 ? 0.0 : v);
    return buf;
}

}  // namespace

Canvas::Canvas(int width, int height, Rgb bg)
    : width_(width), height_(height), rgb_(std::size_t(width) * height * 3) {
    fill_rect(0, 0, width, height, bg);
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
    x0 = std::max(x0, 0);
    y0 = std::max(y0, 0);
    x1 = std::min(x1, width_);
    y1 = std::min(y1, height_);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
            std::uint8_t* p = &rgb_[(std::size_t(y) * width_ + x) * 3];
            p[0] = c.r;
            p[1] = c.g;
            p[2] = c.b;
        }
}

void Canvas::dot(double cx, double cy, double radius, Rgb c) {
    const int x0 = int(std::floor(cx - radius)), x1 = int(std::ceil(cx + radius));
    const int y0 = int(std::floor(cy - radius)), y1 = int(std::ceil(cy + radius));
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x)
            if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= radius * radius)
                fill_rect(x, y, x + 1, y + 1, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, double thickness) {
    // Stamping discs every half pixel gives an even stroke at any slope.
    const double len = std::hypot(x1 - x0, y1 - y0);
    const int steps = std::max(1, int(std::ceil(len * 2)));
    for (int i = 0; i <= steps; ++i) {
        const double t = double(i) / steps;
        dot(x0 + t * (x1 - x0), y0 + t * (y1 - y0), thickness / 2, c);
    }
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale, bool vertical) {
    for (const Quad& q : font_quads(s)) {
        const int u0 = int(std::lround(q.x0 * scale)), u1 = int(std::lround(q.x1 * scale));
        const int v0 = int(std::lround(q.y0 * scale)), v1 = int(std::lround(q.y1 * scale));
        if (!vertical)
            fill_rect(x + u0, y + v0, x + u1, y + v1, c);
        else  // rotated 90° counter-clockwise: along the text is up the page
            fill_rect(x + v0, y - u1, x + v1, y - u0, c);
    }
}

int Canvas::text_width(const std::string& s, int scale) {
    std::vector<char> text(s.begin(), s.end());
    text.push_back('\0');
    return stb_easy_font_width(text.data()) * scale;
}

int Canvas::text_height(int scale) { return 7 * scale; }

void Canvas::blit(const std::uint8_t* pixels, int w, int h, int channels, int x, int y, int zoom) {
    for (int r = 0; r < h; ++r)
        for (int col = 0; col < w; ++col) {
            const std::uint8_t* p = pixels + (std::size_t(r) * w + col) * channels;
            const Rgb c = channels >= 3 ? Rgb{p[0], p[1], p[2]} : Rgb{p[0], p[0], p[0]};
            fill_rect(x + col * zoom, y + r * zoom, x + (col + 1) * zoom, y + (r + 1) * zoom, c);
        }
}

void Canvas::save_png(const std::string& path) const {
    // encoded in memory, then written as any output file is (atomically, errors with their reason)
    io::check_output_path(path, "PNG picture");
    std::vector<unsigned char> png;
    const auto append = [](void* out, void* bytes, int n) {
        auto* v = static_cast<std::vector<unsigned char>*>(out);
        v->insert(v->end(), static_cast<unsigned char*>(bytes), static_cast<unsigned char*>(bytes) + n);
    };
    if (!stbi_write_png_to_func(append, &png, width_, height_, 3, rgb_.data(), width_ * 3))
        throw DataError(path + ": cannot write the PNG picture: the encoder failed");
    io::write_file_atomically(path, "PNG picture", png.data(), png.size());
}

void plot_cost_curve(const std::string& path, const std::vector<double>& costs, int mark_every,
                     const std::string& title, const std::string& subtitle, const std::string& x_label,
                     const std::string& y_label) {
    const int W = 1000, H = 620;
    const int left = 120, right = 40, top = 100, bottom = 90;
    Canvas cv(W, H, Rgb{255, 255, 255});
    const int px0 = left, px1 = W - right, py0 = top, py1 = H - bottom;

    double ymax = 0;
    for (double c : costs)
        if (std::isfinite(c)) ymax = std::max(ymax, c);
    const double ystep = nice_step(ymax > 0 ? ymax : 1, 6);
    ymax = std::max(ystep, std::ceil(ymax / ystep - 1e-9) * ystep);
    const double xmax = std::max<double>(1, double(costs.size() > 1 ? costs.size() - 1 : 1));
    const double xstep = nice_step(xmax, 8);
    auto X = [&](double i) { return px0 + (px1 - px0) * i / xmax; };
    auto Y = [&](double c) { return py1 - (py1 - py0) * c / ymax; };

    // grid and ticks
    const int tick_scale = 2;
    for (double v = 0; v <= ymax * (1 + 1e-9); v += ystep) {
        const int y = int(std::lround(Y(v)));
        cv.fill_rect(px0, y, px1, y + 1, kGrid);
        cv.fill_rect(px0 - 8, y, px0, y + 2, kAxis);
        const std::string s = tick_label(v, ystep);
        cv.text(px0 - 14 - Canvas::text_width(s, tick_scale), y - Canvas::text_height(tick_scale) / 2,
                s, kBlack, tick_scale);
    }
    for (double v = 0; v <= xmax * (1 + 1e-9); v += xstep) {
        const int x = int(std::lround(X(v)));
        cv.fill_rect(x, py0, x + 1, py1, kGrid);
        cv.fill_rect(x, py1, x + 2, py1 + 8, kAxis);
        const std::string s = tick_label(v, std::max(1.0, xstep));
        cv.text(x - Canvas::text_width(s, tick_scale) / 2, py1 + 16, s, kBlack, tick_scale);
    }
    // axes
    cv.fill_rect(px0 - 1, py0, px0 + 1, py1 + 1, kAxis);
    cv.fill_rect(px0 - 1, py1, px1, py1 + 2, kAxis);

    // the curve: every iteration's cost; a gap where the cost is not finite
    for (std::size_t i = 1; i < costs.size(); ++i)
        if (std::isfinite(costs[i - 1]) && std::isfinite(costs[i]))
            cv.line(X(double(i - 1)), Y(costs[i - 1]), X(double(i)), Y(costs[i]), kCurve, 2.5);
    if (costs.size() == 1 && std::isfinite(costs[0])) cv.dot(X(0), Y(costs[0]), 4, kCurve);
    if (mark_every > 0)
        for (std::size_t i = 0; i < costs.size(); i += std::size_t(mark_every))
            if (std::isfinite(costs[i])) cv.dot(X(double(i)), Y(costs[i]), 4, kMark);

    // labels
    cv.text((px0 + px1 - Canvas::text_width(x_label, 2)) / 2, H - 38, x_label, kBlack, 2);
    // a label longer than the axis is drawn at the font's own size
    const int ys = Canvas::text_width(y_label, 2) <= py1 - py0 ? 2 : 1;
    cv.text(24, (py0 + py1 + Canvas::text_width(y_label, ys)) / 2, y_label, kBlack, ys, true);
    cv.text((W - Canvas::text_width(title, 3)) / 2, 22, title, kBlack, 3);
    const int ss = Canvas::text_width(subtitle, 2) <= W - 20 ? 2 : 1;
    cv.text((W - Canvas::text_width(subtitle, ss)) / 2, 62, subtitle, kAxis, ss);
    if (mark_every > 0) {
        const std::string legend = "dots: every " + std::to_string(mark_every) + " " + x_label + "s";
        const int lx = px1 - Canvas::text_width(legend, 2) - 36, ly = py0 + 14;
        cv.dot(lx + 10, ly + 7, 4, kMark);
        cv.text(lx + 24, ly, legend, kBlack, 2);
    }
    cv.save_png(path);
}

void image_grid(const std::string& path, const std::string& title, const std::vector<Tile>& tiles,
                int zoom, int columns) {
    const int pad = 24, cap_scale = 2, line_h = Canvas::text_height(cap_scale) + 8;
    int tile_w = 0, tile_h = 0;
    std::size_t lines = 0;
    for (const Tile& t : tiles) {
        tile_w = std::max(tile_w, t.width * zoom);
        tile_h = std::max(tile_h, t.height * zoom);
        lines = std::max(lines, t.caption.size());
        for (const auto& s : t.caption) tile_w = std::max(tile_w, Canvas::text_width(s, cap_scale));
    }
    const int n = int(tiles.size());
    columns = std::max(1, std::min(columns, std::max(n, 1)));
    const int rows = (n + columns - 1) / columns;
    const int cell_w = tile_w + pad, cell_h = tile_h + int(lines) * line_h + pad;
    const int head = 70;
    const int W = std::max(columns * cell_w + pad, Canvas::text_width(title, 3) + 2 * pad);
    const int H = head + std::max(rows, 1) * cell_h + pad;
    Canvas cv(W, H, Rgb{255, 255, 255});
    cv.text((W - Canvas::text_width(title, 3)) / 2, 22, title, kBlack, 3);
    if (tiles.empty())
        cv.text(pad, head + 10, "(none)", kAxis, 2);
    for (int k = 0; k < n; ++k) {
        const Tile& t = tiles[std::size_t(k)];
        const int x = pad + (k % columns) * cell_w + (tile_w - t.width * zoom) / 2;
        const int y = head + (k / columns) * cell_h;
        cv.fill_rect(x - 4, y - 4, x + t.width * zoom + 4, y + t.height * zoom + 4, t.frame);
        cv.blit(t.pixels, t.width, t.height, t.channels, x, y, zoom);
        int ty = y + t.height * zoom + 12;
        for (const auto& s : t.caption) {
            cv.text(pad + (k % columns) * cell_w + (tile_w - Canvas::text_width(s, cap_scale)) / 2,
                    ty, s, kBlack, cap_scale);
            ty += line_h;
        }
    }
    cv.save_png(path);
}

void confusion_matrix(const std::string& path, const std::string& title, const std::string& subtitle,
                      const std::vector<std::string>& classes,
                      const std::vector<std::vector<std::size_t>>& counts) {
    const int K = int(classes.size());
    if (K == 0 || counts.size() != classes.size())
        throw ShapeError("confusion_matrix: " + std::to_string(counts.size()) + " rows of counts for " +
                         std::to_string(K) + " classes");
    int name_w = 0;
    for (const auto& c : classes) name_w = std::max(name_w, Canvas::text_width(c, 2));
    const int cell = 56, left = 110 + name_w, top = 170, right = 150, bottom = 40;
    const int W = std::max(left + K * cell + right, Canvas::text_width(title, 3) + 40);
    const int H = top + K * cell + bottom;
    Canvas cv(W, H, Rgb{255, 255, 255});
    cv.text((W - Canvas::text_width(title, 3)) / 2, 20, title, kBlack, 3);
    cv.text((W - Canvas::text_width(subtitle, 2)) / 2, 60, subtitle, kAxis, 2);
    const std::string top_label = "predicted";
    cv.text(left + (K * cell - Canvas::text_width(top_label, 2)) / 2, top - 62, top_label, kBlack, 2);
    const std::string side_label = "true";
    cv.text(24, top + (K * cell + Canvas::text_width(side_label, 2)) / 2, side_label, kBlack, 2, true);
    const std::string recall = "recall";
    cv.text(left + K * cell + 20, top - 30, recall, kBlack, 2);
    // shade from white to full colour as the share of the row grows
    auto shade = [](Rgb full, double share) {
        auto mix = [&](std::uint8_t c) { return std::uint8_t(std::lround(255 - (255 - c) * share)); };
        return Rgb{mix(full.r), mix(full.g), mix(full.b)};
    };
    for (int t = 0; t < K; ++t) {
        const auto& row = counts[std::size_t(t)];
        if (int(row.size()) != K)
            throw ShapeError("confusion_matrix: row " + std::to_string(t) + " has " + std::to_string(row.size()) +
                             " counts for " + std::to_string(K) + " classes");
        std::size_t total = 0;
        for (std::size_t v : row) total += v;
        const int y = top + t * cell;
        cv.text(left - 14 - Canvas::text_width(classes[std::size_t(t)], 2), y + (cell - Canvas::text_height(2)) / 2,
                classes[std::size_t(t)], kBlack, 2);
        if (t == 0)
            for (int p = 0; p < K; ++p)
                cv.text(left + p * cell + (cell - Canvas::text_width(classes[std::size_t(p)], 2)) / 2, top - 26,
                        classes[std::size_t(p)], kBlack, 2);
        for (int p = 0; p < K; ++p) {
            const std::size_t v = row[std::size_t(p)];
            const double share = total ? double(v) / double(total) : 0.0;
            const Rgb fill = v == 0 ? Rgb{255, 255, 255} : shade(t == p ? kCurve : kMark, 0.15 + 0.85 * share);
            const int x = left + p * cell;
            cv.fill_rect(x, y, x + cell, y + cell, fill);
            const std::string s = std::to_string(v);
            const Rgb ink = share > 0.5 ? Rgb{255, 255, 255} : v == 0 ? kGrid : kBlack;
            cv.text(x + (cell - Canvas::text_width(s, 2)) / 2, y + (cell - Canvas::text_height(2)) / 2, s, ink, 2);
        }
        char r[32];
        std::snprintf(r, sizeof r, "%.3f", total ? double(row[std::size_t(t)]) / double(total) : 0.0);
        cv.text(left + K * cell + 20, y + (cell - Canvas::text_height(2)) / 2, r, kAxis, 2);
    }
    // grid lines over the cells
    for (int i = 0; i <= K; ++i) {
        cv.fill_rect(left + i * cell, top, left + i * cell + 1, top + K * cell + 1, kGrid);
        cv.fill_rect(left, top + i * cell, left + K * cell + 1, top + i * cell + 1, kGrid);
    }
    cv.save_png(path);
}

}  // namespace xgrad::picture
