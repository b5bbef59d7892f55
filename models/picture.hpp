#pragma once
// Small raster pictures for the programs: an RGB canvas with filled rectangles, thick lines and
// bitmap text (stb_easy_font), written as PNG (stb_image_write). Enough for a cost curve and an image
// grid without pulling in a plotting library.

#include <cstdint>
#include <string>
#include <vector>

namespace xgrad::picture {

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
};

class Canvas {
public:
    Canvas(int width, int height, Rgb background);

    int width() const { return width_; }
    int height() const { return height_; }

    // Pixels [x0, x1) x [y0, y1), clipped to the canvas.
    void fill_rect(int x0, int y0, int x1, int y1, Rgb c);
    void line(double x0, double y0, double x1, double y1, Rgb c, double thickness);
    void dot(double x, double y, double radius, Rgb c);
    // Text with its top-left corner at (x, y); `scale` multiplies the 7-pixel-high font.
    // Vertical text reads bottom to top and has its bottom-left corner at (x, y).
    void text(int x, int y, const std::string& s, Rgb c, int scale, bool vertical = false);
    static int text_width(const std::string& s, int scale);
    static int text_height(int scale);
    // An RGB/gray image (h·w·channels bytes, row-major) drawn at (x, y), each pixel a zoom×zoom block.
    void blit(const std::uint8_t* pixels, int w, int h, int channels, int x, int y, int zoom);

    // Throws xgrad::DataError when the file cannot be written.
    void save_png(const std::string& path) const;

private:
    int width_, height_;
    std::vector<std::uint8_t> rgb_;
};

// The cost per iteration as a line chart with axes, ticks, labels and a title; dots every
// `mark_every` iterations (the seed's printed costs). `x_label` names one step of the curve
// ("iteration", "epoch"), `y_label` the quantity plotted: say what `costs` holds.
void plot_cost_curve(const std::string& path, const std::vector<double>& costs, int mark_every,
                     const std::string& title, const std::string& subtitle, const std::string& x_label,
                     const std::string& y_label);

struct Tile {
    const std::uint8_t* pixels;  // h·w·c bytes
    int height, width, channels;
    std::vector<std::string> caption;  // one line each, drawn under the image
    Rgb frame;
};

// Images enlarged `zoom` times in a grid of `columns`, each with its caption, under a title.
void image_grid(const std::string& path, const std::string& title, const std::vector<Tile>& tiles,
                int zoom, int columns);

// A confusion matrix: counts[t][p] examples of true class t predicted as p, one cell each with its
// count, shaded by the count relative to the row's total (the diagonal blue, mistakes red); true
// classes down the side, predicted classes along the top, each row's recall at its end.
void confusion_matrix(const std::string& path, const std::string& title, const std::string& subtitle,
                      const std::vector<std::string>& classes,
                      const std::vector<std::vector<std::size_t>>& counts);

}  // namespace xgrad::picture
