// Line charts as standalone SVG: axes with round ticks (linear or log), one polyline and point
// markers per series, reference lines, shaded x ranges, a legend. Every point carries data-x/data-y (and a <title>
// tooltip), so a test can read the plotted values back from the page a browser rendered.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ws::report {

struct ChartPoint {
  ChartPoint(double x_, double y_, std::string label_ = {}) : x(x_), y(y_), label(std::move(label_)) {}
  double x = 0;
  double y = 0;
  std::string label;  // tooltip; empty: "x, y"
};

struct ChartSeries {
  explicit ChartSeries(std::string name_, std::string color_ = {}, bool dashed_ = false, bool line_ = true,
                       bool markers_ = true)
      : name(std::move(name_)), color(std::move(color_)), dashed(dashed_), line(line_), markers(markers_) {}
  std::string name;
  std::vector<ChartPoint> points;  // a point with NaN y breaks the line (e.g. between sweep cells)
  std::string color;               // empty: the next palette color
  bool dashed = false;
  bool line = true;                // false: markers only
  bool markers = true;
};

// A horizontal (y = value) or vertical (x = value) reference line with a label.
struct ChartRule {
  ChartRule(bool vertical_, double value_, std::string label_, std::string color_)
      : vertical(vertical_), value(value_), label(std::move(label_)), color(std::move(color_)) {}
  bool vertical = false;
  double value = 0;
  std::string label;
  std::string color = "#555555";
};

// A shaded x range drawn behind the series (a run's connecting and warm-up time), with data-from
// and data-to; one legend entry per distinct label.
struct ChartBand {
  ChartBand(double from_, double to_, std::string label_) : from(from_), to(to_), label(std::move(label_)) {}
  double from = 0;
  double to = 0;
  std::string label;
};

// A tick at `value` labelled `label` (e.g. "99.9%" at 1000 on a 1/(1-p) axis).
struct ChartTick {
  ChartTick(double value_, std::string label_) : value(value_), label(std::move(label_)) {}
  double value = 0;
  std::string label;
};

struct Chart {
  Chart(std::string id_, std::string title_, std::string x_label_, std::string y_label_)
      : id(std::move(id_)), title(std::move(title_)), x_label(std::move(x_label_)), y_label(std::move(y_label_)) {}
  std::string id;  // file name stem and data-chart attribute, e.g. "achieved"
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;
  bool log_y = false;
  bool x_from_zero = true;  // a linear x axis starts at 0; false: near the data (a ceiling's steps)
  std::vector<ChartSeries> series;
  std::vector<ChartRule> rules;
  std::vector<ChartBand> bands;
  std::vector<ChartTick> x_ticks;  // empty: round ticks; else these, where they fall on the axis
};

inline constexpr double kBreak = NAN;

// A complete SVG document (with xmlns), width x height pixels.
std::string render_svg(const Chart& chart, int width = 820, int height = 440);

// The i-th colour of the palette series take when they name none (wraps around).
const char* palette_color(size_t i);

// "1.5k", "20k", "1.2M", "0.25" for axis ticks and short labels.
std::string compact_number(double v);

// Escapes &, <, >, " for XML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace ws::report
