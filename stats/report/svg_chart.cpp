#include "stats/report/svg_chart.h"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace ws::report {
namespace {

// Ten colours that stay apart from each other on screen and in print (Tableau 10).
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}
std::string exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// One axis: its data range, mapped onto [pixel_lo, pixel_hi], with round ticks.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  double pixel_lo = 0, pixel_hi = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;  // one per tick

  void fit(double data_lo, double data_hi, bool from_zero) {
    if (!(data_lo <= data_hi)) data_lo = 0, data_hi = 1;
    if (log) {
      lo = std::pow(10.0, std::floor(std::log10(data_lo)));
      hi = std::pow(10.0, std::ceil(std::log10(data_hi)));
      if (hi <= lo) hi = lo * 10;
      const bool few_decades = hi / lo <= 1000;
      for (double decade = lo; decade <= hi * 1.0001; decade *= 10) {
        for (double m : {1.0, 2.0, 5.0}) {
          if (m > 1 && !few_decades) continue;
          if (decade * m <= hi * 1.0001) ticks.push_back(decade * m);
        }
      }
      label_ticks();
      return;
    }
    if (from_zero) data_lo = std::min(0.0, data_lo);
    if (data_hi <= data_lo) data_hi = data_lo + (data_lo == 0 ? 1 : std::abs(data_lo) * 0.1);
    const double raw = (data_hi - data_lo) / 5;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double norm = raw / magnitude;
    const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
    lo = std::floor(data_lo / step + 1e-9) * step;
    hi = std::ceil(data_hi / step - 1e-9) * step;
    if (hi <= lo) hi = lo + step;
    for (double t = lo; t <= hi + step * 1e-6; t += step) ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
    label_ticks();
  }
  void label_ticks() {
    labels.clear();
    for (double t : ticks) labels.push_back(compact_number(t));
  }
  // The chart's own ticks instead of round ones, those within the fitted range.
  void use_ticks(const std::vector<ChartTick>& chosen) {
    if (chosen.empty()) return;
    ticks.clear();
    labels.clear();
    for (const auto& t : chosen) {
      if (t.value < lo * 0.9999 || t.value > hi * 1.0001) continue;
      ticks.push_back(t.value);
      labels.push_back(t.label);
    }
  }
  double map(double v) const {
    double f = log ? (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                   : (v - lo) / (hi - lo);
    f = std::clamp(f, -0.02, 1.02);
    return pixel_lo + f * (pixel_hi - pixel_lo);
  }
  bool shows(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

constexpr const char* kBandFill = "#8c8c8c";

}  // namespace

const char* palette_color(size_t i) { return kPalette[i % std::size(kPalette)]; }

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string compact_number(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
  } else if (a >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  } else if (a >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

std::string render_svg(const Chart& chart, int width, int height) {
  constexpr double kLeft = 72, kTop = 44, kBottom = 58;
  // The legend is as wide as its longest name needs (about 7 px a character at 12 px, plus the
  // sample line), so no name is cut at the edge; the plot gives up the room, to half the width.
  size_t longest = 0;
  for (const auto& s : chart.series) longest = std::max(longest, s.name.size());
  for (const auto& b : chart.bands) longest = std::max(longest, b.label.size());
  const double kLegendWidth = std::clamp(40.0 + 7.0 * static_cast<double>(longest), 160.0, width / 2.0);
  Axis x, y;
  x.log = chart.log_x;
  y.log = chart.log_y;
  x.pixel_lo = kLeft;
  x.pixel_hi = width - kLegendWidth - 10;
  y.pixel_lo = height - kBottom;
  y.pixel_hi = kTop;

  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : chart.series) {
    for (const auto& p : s.points) {
      if (!x.shows(p.x) || !y.shows(p.y)) continue;
      x_lo = std::min(x_lo, p.x), x_hi = std::max(x_hi, p.x);
      y_lo = std::min(y_lo, p.y), y_hi = std::max(y_hi, p.y);
    }
  }
  for (const auto& r : chart.rules) {
    if (r.vertical && x.shows(r.value)) x_lo = std::min(x_lo, r.value), x_hi = std::max(x_hi, r.value);
    if (!r.vertical && y.shows(r.value)) y_lo = std::min(y_lo, r.value), y_hi = std::max(y_hi, r.value);
  }
  for (const auto& b : chart.bands) {
    for (double v : {b.from, b.to}) {
      if (x.shows(v) && x_lo <= x_hi) x_lo = std::min(x_lo, v), x_hi = std::max(x_hi, v);
    }
  }
  const bool empty = !(x_lo <= x_hi);
  if (empty) x_lo = y_lo = x.log ? 1 : 0, x_hi = y_hi = x.log ? 10 : 1;
  x.fit(x_lo, x_hi, !x.log && chart.x_from_zero);
  y.fit(y_lo, y_hi, !y.log);
  x.use_ticks(chart.x_ticks);

  std::string svg;
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" data-chart=\"" +
         xml_escape(chart.id) + "\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += "<text x=\"" + fmt(kLeft) + "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" + xml_escape(chart.title) +
         "</text>\n";

  // Grid and tick labels.
  svg += "<g class=\"grid\" stroke=\"#e2e2e2\" stroke-width=\"1\">\n";
  for (double t : x.ticks) {
    svg += "<line x1=\"" + fmt(x.map(t)) + "\" y1=\"" + fmt(y.pixel_hi) + "\" x2=\"" + fmt(x.map(t)) + "\" y2=\"" +
           fmt(y.pixel_lo) + "\"/>\n";
  }
  for (double t : y.ticks) {
    svg += "<line x1=\"" + fmt(x.pixel_lo) + "\" y1=\"" + fmt(y.map(t)) + "\" x2=\"" + fmt(x.pixel_hi) + "\" y2=\"" +
           fmt(y.map(t)) + "\"/>\n";
  }
  svg += "</g>\n<g class=\"ticks\" fill=\"#333333\">\n";
  for (size_t i = 0; i < x.ticks.size(); ++i) {
    svg += "<text x=\"" + fmt(x.map(x.ticks[i])) + "\" y=\"" + fmt(y.pixel_lo + 16) + "\" text-anchor=\"middle\">" +
           xml_escape(x.labels[i]) + "</text>\n";
  }
  for (size_t i = 0; i < y.ticks.size(); ++i) {
    svg += "<text x=\"" + fmt(x.pixel_lo - 6) + "\" y=\"" + fmt(y.map(y.ticks[i]) + 4) + "\" text-anchor=\"end\">" +
           xml_escape(y.labels[i]) + "</text>\n";
  }
  svg += "</g>\n";
  // Shaded ranges sit under the frame, the rules and the series.
  for (const auto& b : chart.bands) {
    if (!x.shows(b.from) || !x.shows(b.to) || !(b.from < b.to)) continue;
    svg += "<rect class=\"band\" data-from=\"" + exact(b.from) + "\" data-to=\"" + exact(b.to) + "\" x=\"" +
           fmt(x.map(b.from)) + "\" y=\"" + fmt(y.pixel_hi) + "\" width=\"" + fmt(x.map(b.to) - x.map(b.from)) +
           "\" height=\"" + fmt(y.pixel_lo - y.pixel_hi) + "\" fill=\"" + kBandFill + "\" fill-opacity=\"0.18\"><title>" +
           xml_escape(b.label) + "</title></rect>\n";
  }
  svg += "<rect x=\"" + fmt(x.pixel_lo) + "\" y=\"" + fmt(y.pixel_hi) + "\" width=\"" + fmt(x.pixel_hi - x.pixel_lo) +
         "\" height=\"" + fmt(y.pixel_lo - y.pixel_hi) + "\" fill=\"none\" stroke=\"#888888\"/>\n";
  svg += "<text x=\"" + fmt((x.pixel_lo + x.pixel_hi) / 2) + "\" y=\"" + fmt(height - 14.0) +
         "\" text-anchor=\"middle\">" + xml_escape(chart.x_label) + (x.log ? " (log scale)" : "") + "</text>\n";
  svg += "<text transform=\"translate(16," + fmt((y.pixel_lo + y.pixel_hi) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(chart.y_label) + (y.log ? " (log scale)" : "") +
         "</text>\n";
  if (empty) {
    svg += "<text x=\"" + fmt((x.pixel_lo + x.pixel_hi) / 2) + "\" y=\"" + fmt((y.pixel_lo + y.pixel_hi) / 2) +
           "\" text-anchor=\"middle\" fill=\"#888888\">no data</text>\n";
  }

  for (const auto& r : chart.rules) {
    if (!(r.vertical ? x : y).shows(r.value)) continue;
    const double at = r.vertical ? x.map(r.value) : y.map(r.value);
    svg += "<g class=\"rule\" data-value=\"" + exact(r.value) + "\">";
    if (r.vertical) {
      svg += "<line x1=\"" + fmt(at) + "\" y1=\"" + fmt(y.pixel_hi) + "\" x2=\"" + fmt(at) + "\" y2=\"" +
             fmt(y.pixel_lo) + "\" stroke=\"" + r.color + "\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>";
      svg += "<text x=\"" + fmt(at + 3) + "\" y=\"" + fmt(y.pixel_hi + 12) + "\" font-size=\"11\" fill=\"" + r.color +
             "\">" + xml_escape(r.label) + "</text>";
    } else {
      svg += "<line x1=\"" + fmt(x.pixel_lo) + "\" y1=\"" + fmt(at) + "\" x2=\"" + fmt(x.pixel_hi) + "\" y2=\"" +
             fmt(at) + "\" stroke=\"" + r.color + "\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>";
      svg += "<text x=\"" + fmt(x.pixel_hi - 4) + "\" y=\"" + fmt(at - 4) + "\" font-size=\"11\" text-anchor=\"end\" fill=\"" +
             r.color + "\">" + xml_escape(r.label) + "</text>";
    }
    svg += "</g>\n";
  }

  size_t palette_index = 0;
  double legend_y = kTop + 8;
  for (const auto& s : chart.series) {
    const std::string color = s.color.empty() ? kPalette[palette_index++ % std::size(kPalette)] : s.color;
    svg += "<g class=\"series\" data-series=\"" + xml_escape(s.name) + "\">\n";
    const std::string dash = s.dashed ? " stroke-dasharray=\"7 4\"" : "";
    if (s.line) {
      std::string points;
      auto flush = [&] {
        if (points.find(' ') != std::string::npos) {  // two points or more
          svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" + dash + " points=\"" + points +
                 "\"/>\n";
        }
        points.clear();
      };
      for (const auto& p : s.points) {
        if (!x.shows(p.x) || !y.shows(p.y)) {
          if (std::isnan(p.y)) flush();
          continue;
        }
        points += (points.empty() ? "" : " ") + fmt(x.map(p.x)) + "," + fmt(y.map(p.y));
      }
      flush();
    }
    if (s.markers) {
      for (const auto& p : s.points) {
        if (!x.shows(p.x) || !y.shows(p.y)) continue;
        const std::string label = p.label.empty() ? compact_number(p.x) + ", " + compact_number(p.y) : p.label;
        svg += "<circle class=\"point\" cx=\"" + fmt(x.map(p.x)) + "\" cy=\"" + fmt(y.map(p.y)) + "\" r=\"3.5\" fill=\"" +
               color + "\" data-x=\"" + exact(p.x) + "\" data-y=\"" + exact(p.y) + "\"><title>" +
               xml_escape(s.name + ": " + label) + "</title></circle>\n";
      }
    }
    svg += "</g>\n";
    // Legend entry.
    const double lx = width - kLegendWidth + 4;
    svg += "<g class=\"legend\">";
    if (s.line) {
      svg += "<line x1=\"" + fmt(lx) + "\" y1=\"" + fmt(legend_y) + "\" x2=\"" + fmt(lx + 24) + "\" y2=\"" +
             fmt(legend_y) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" + dash + "/>";
    }
    if (s.markers) svg += "<circle cx=\"" + fmt(lx + 12) + "\" cy=\"" + fmt(legend_y) + "\" r=\"3.5\" fill=\"" + color + "\"/>";
    svg += "<text x=\"" + fmt(lx + 30) + "\" y=\"" + fmt(legend_y + 4) + "\">" + xml_escape(s.name) + "</text></g>\n";
    legend_y += 20;
  }
  std::vector<std::string> band_labels;
  for (const auto& b : chart.bands) {
    if (b.label.empty() || std::find(band_labels.begin(), band_labels.end(), b.label) != band_labels.end()) continue;
    band_labels.push_back(b.label);
    const double lx = width - kLegendWidth + 4;
    svg += "<g class=\"legend\"><rect x=\"" + fmt(lx) + "\" y=\"" + fmt(legend_y - 6) + "\" width=\"24\" height=\"12\" fill=\"" +
           kBandFill + "\" fill-opacity=\"0.35\"/><text x=\"" + fmt(lx + 30) + "\" y=\"" + fmt(legend_y + 4) + "\">" +
           xml_escape(b.label) + "</text></g>\n";
    legend_y += 20;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace ws::report
