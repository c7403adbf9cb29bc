#include "stats/prometheus.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace ws::stats {
namespace {

const char* type_name(int type) {
  static constexpr const char* kNames[] = {"counter", "gauge", "summary", "histogram"};
  return kNames[type];
}

bool name_start(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}
bool name_char(char c, bool colon_ok) { return name_start(c, colon_ok) || (c >= '0' && c <= '9'); }

bool valid_name(std::string_view name, bool colon_ok) {
  if (name.empty() || !name_start(name[0], colon_ok)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return name_char(c, colon_ok); });
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// name<suffix>{labels,extra} value\n, with the braces left out when there are no labels.
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::string_view extra, SampleValue value) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) out += ',';
    out += extra;
    out += '}';
  }
  out += ' ';
  out += value.text();
  out += '\n';
}

// le="0.0001", not le="1e-04": the bounds spelt as Prometheus's Go client spells them (%g style,
// shortest round trip), so the series of every exporter and load host match.
std::string quoted_label(std::string_view name, double value) {
  char digits[32];
  const auto end = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::general).ptr;
  std::string s(name);
  s += "=\"";
  s.append(digits, end);
  s += '"';
  return s;
}

bool valid_scale(double scale) { return std::isfinite(scale) && scale > 0; }

// value * scale, but dividing when scale is 1/N for a whole N (1e-6: microseconds to seconds), so
// that 17503 us is written 0.017503 rather than 0.017502999999999998.
double scaled(double value, double scale) {
  const double inverse = 1 / scale;
  const double whole = std::round(inverse);
  if (whole >= 1 && std::abs(inverse - whole) <= whole * 1e-12) return value / whole;
  return value * scale;
}

}  // namespace

SampleValue::SampleValue(double value) noexcept {
  std::string_view special;
  if (std::isnan(value)) {
    special = "NaN";
  } else if (std::isinf(value)) {
    special = value > 0 ? "+Inf" : "-Inf";
  }
  if (!special.empty()) {
    len_ = static_cast<uint8_t>(special.copy(buf_, sizeof buf_));
    return;
  }
  len_ = static_cast<uint8_t>(std::to_chars(buf_, buf_ + sizeof buf_, value).ptr - buf_);
}

bool PrometheusText::valid_metric_name(std::string_view name) noexcept {
  return valid_name(name, /*colon_ok=*/true);
}

bool PrometheusText::valid_label_name(std::string_view name) noexcept {
  return valid_name(name, /*colon_ok=*/false) && !name.starts_with("__");
}

void PrometheusText::counter(std::string_view name, std::string_view help, SampleValue value,
                             const Labels& labels) {
  scalar(Type::kCounter, name, help, value, labels);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, SampleValue value,
                           const Labels& labels) {
  scalar(Type::kGauge, name, help, value, labels);
}

void PrometheusText::scalar(Type type, std::string_view name, std::string_view help,
                            SampleValue value, const Labels& labels) {
  std::string label_text;
  if (!render_labels(name, labels, {}, label_text)) return;
  Family* f = family(name, help, type);
  if (f == nullptr || !claim_series(*f, label_text)) return;
  append_sample(f->samples, name, {}, label_text, {}, value);
  text_stale_ = true;
}

void PrometheusText::summary(std::string_view name, std::string_view help, const HdrHistogram& h,
                             double scale, const Labels& labels) {
  summary(name, help, h, h, scale, labels);
}

void PrometheusText::summary(std::string_view name, std::string_view help,
                             const HdrHistogram& recent, const HdrHistogram& lifetime, double scale,
                             const Labels& labels) {
  if (!valid_scale(scale)) {
    error(std::string(name) + ": scale must be a positive finite number");
    return;
  }
  std::string label_text;
  if (!render_labels(name, labels, "quantile", label_text)) return;
  Family* f = family(name, help, Type::kSummary);
  if (f == nullptr || !claim_series(*f, label_text)) return;

  std::array<double, kSummaryQuantiles.size()> percentiles{};
  std::array<int64_t, kSummaryQuantiles.size()> values{};
  for (size_t i = 0; i < percentiles.size(); ++i) percentiles[i] = kSummaryQuantiles[i] * 100;
  recent.value_at_percentiles(percentiles, values);
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = recent.total_count() == 0 ? std::numeric_limits<double>::quiet_NaN()
                                               : scaled(static_cast<double>(values[i]), scale);
    append_sample(f->samples, name, {}, label_text, quoted_label("quantile", kSummaryQuantiles[i]), v);
  }
  const double sum = scaled(lifetime.mean() * static_cast<double>(lifetime.total_count()), scale);
  append_sample(f->samples, name, "_sum", label_text, {}, sum);
  append_sample(f->samples, name, "_count", label_text, {}, lifetime.total_count());
  text_stale_ = true;
}

void PrometheusText::histogram(std::string_view name, std::string_view help, const HdrHistogram& h,
                               double scale, std::span<const double> upper_bounds,
                               const Labels& labels) {
  if (!valid_scale(scale)) {
    error(std::string(name) + ": scale must be a positive finite number");
    return;
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      error(std::string(name) + ": bucket bounds must be finite and strictly ascending");
      return;
    }
  }
  std::string label_text;
  if (!render_labels(name, labels, "le", label_text)) return;
  Family* f = family(name, help, Type::kHistogram);
  if (f == nullptr || !claim_series(*f, label_text)) return;

  // counts[i]: values in (bound[i-1], bound[i]]; the last slot is above every bound.
  std::vector<int64_t> counts(upper_bounds.size() + 1, 0);
  h.for_each_recorded([&](int64_t value, int64_t count) {
    const double top = scaled(static_cast<double>(h.highest_equivalent_value(value)), scale);
    const auto bucket = std::lower_bound(upper_bounds.begin(), upper_bounds.end(), top) - upper_bounds.begin();
    counts[static_cast<size_t>(bucket)] += count;
  });
  int64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += counts[i];
    append_sample(f->samples, name, "_bucket", label_text, quoted_label("le", upper_bounds[i]), cumulative);
  }
  append_sample(f->samples, name, "_bucket", label_text, "le=\"+Inf\"", h.total_count());
  append_sample(f->samples, name, "_sum", label_text, {},
                scaled(h.mean() * static_cast<double>(h.total_count()), scale));
  append_sample(f->samples, name, "_count", label_text, {}, h.total_count());
  text_stale_ = true;
}

const std::string& PrometheusText::text() const {
  if (!text_stale_) return text_;
  text_.clear();
  for (const Family& f : families_) {
    if (!f.help.empty()) {
      text_ += "# HELP ";
      text_ += f.name;
      text_ += ' ';
      append_escaped(text_, f.help, /*escape_quote=*/false);
      text_ += '\n';
    }
    text_ += "# TYPE ";
    text_ += f.name;
    text_ += ' ';
    text_ += type_name(static_cast<int>(f.type));
    text_ += '\n';
    text_ += f.samples;
  }
  text_stale_ = false;
  return text_;
}

void PrometheusText::clear() {
  families_.clear();
  names_.clear();
  errors_.clear();
  text_.clear();
  text_stale_ = false;
}

PrometheusText::Family* PrometheusText::family(std::string_view name, std::string_view help,
                                               Type type) {
  if (!valid_metric_name(name)) {
    error("invalid metric name \"" + std::string(name) + "\"");
    return nullptr;
  }
  if (auto it = names_.find(std::string(name)); it != names_.end()) {
    Family& f = families_[it->second];
    if (f.name == name && f.type == type) return &f;
    error(std::string(name) + " is already used by " + type_name(static_cast<int>(f.type)) + " " + f.name);
    return nullptr;
  }
  // A summary or histogram also owns its _sum, _count (and _bucket) series names.
  std::vector<std::string> owned{std::string(name)};
  if (type == Type::kSummary || type == Type::kHistogram) {
    owned.push_back(std::string(name) + "_sum");
    owned.push_back(std::string(name) + "_count");
  }
  if (type == Type::kHistogram) owned.push_back(std::string(name) + "_bucket");
  for (const std::string& n : owned) {
    if (auto it = names_.find(n); it != names_.end()) {
      error(std::string(name) + " clashes with " + n + " of " + families_[it->second].name);
      return nullptr;
    }
  }
  for (std::string& n : owned) names_.emplace(std::move(n), families_.size());
  families_.push_back(Family{std::string(name), std::string(help), type, {}, {}});
  text_stale_ = true;
  return &families_.back();
}

bool PrometheusText::render_labels(std::string_view metric, const Labels& labels,
                                   std::string_view reserved, std::string& out) {
  // Sorted by name, as Prometheus client libraries write them, so one label set has one spelling.
  std::vector<const Label*> sorted;
  sorted.reserve(labels.size());
  for (const Label& l : labels) sorted.push_back(&l);
  std::sort(sorted.begin(), sorted.end(), [](const Label* a, const Label* b) { return a->name < b->name; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const std::string& label = sorted[i]->name;
    if (!valid_label_name(label)) {
      error(std::string(metric) + ": invalid label name \"" + label + "\"");
      return false;
    }
    if (!reserved.empty() && label == reserved) {
      error(std::string(metric) + ": label \"" + label + "\" is set by the metric type");
      return false;
    }
    if (i > 0 && label == sorted[i - 1]->name) {
      error(std::string(metric) + ": label \"" + label + "\" given twice");
      return false;
    }
    if (i > 0) out += ',';
    out += label;
    out += "=\"";
    append_escaped(out, sorted[i]->value, /*escape_quote=*/true);
    out += '"';
  }
  return true;
}

bool PrometheusText::claim_series(Family& f, const std::string& label_text) {
  if (f.series.insert(label_text).second) return true;
  error("duplicate series " + f.name + "{" + label_text + "}");
  return false;
}

void PrometheusText::error(std::string message) { errors_.push_back(std::move(message)); }

}  // namespace ws::stats
