// Prometheus text exposition format 0.0.4: counters, gauges, and HdrHistograms as summaries or
// histograms. Samples are grouped by metric family, so HELP and TYPE appear once per family however
// many label sets are added, in the order families were first seen (HELP from the first call).
// Labels are written sorted by name, so one label set always has one spelling.
//
// A malformed call (bad metric or label name, a family re-declared with another type, a label set
// added twice) drops that sample and is listed in errors(): a scrape always gets text Prometheus
// can parse, and a programming mistake shows up in tests rather than as a rejected scrape.
#pragma once

#include <array>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "stats/histogram.h"

namespace ws::stats {

struct Label {
  std::string name;
  std::string value;  // any UTF-8; escaped on output
};
using Labels = std::vector<Label>;

// A sample value as the format spells it: integers exactly (a uint64 counter above 2^53 keeps
// every digit), doubles in the shortest form that reads back to the same double, and NaN, +Inf,
// -Inf as Prometheus writes them.
class SampleValue {
 public:
  // Implicit, so call sites pass plain numbers.
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  SampleValue(T value) noexcept {
    len_ = static_cast<uint8_t>(std::to_chars(buf_, buf_ + sizeof buf_, value).ptr - buf_);
  }
  SampleValue(double value) noexcept;

  std::string_view text() const noexcept { return {buf_, len_}; }

 private:
  char buf_[32];  // the longest double ("-1.7976931348623157e+308") is 24 characters
  uint8_t len_ = 0;
};

class PrometheusText {
 public:
  // The quantiles summary() reports.
  static constexpr std::array<double, 5> kSummaryQuantiles{0.5, 0.9, 0.95, 0.99, 0.999};

  void counter(std::string_view name, std::string_view help, SampleValue value,
               const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, SampleValue value,
             const Labels& labels = {});

  // name{quantile="0.5"} ... for kSummaryQuantiles, then name_sum and name_count. Histogram values
  // are multiplied by `scale` (1e-6 turns microseconds into seconds, Prometheus's base unit).
  // Quantiles are HdrHistogram's value_at_percentile (highest equivalent value of the slot, so
  // within the histogram's precision and never below the true value); NaN when h is empty, as
  // Prometheus client libraries write them. _sum is mean() * total_count(): the histogram keeps no
  // exact sum, so it is as precise as the histogram.
  void summary(std::string_view name, std::string_view help, const HdrHistogram& h, double scale,
               const Labels& labels = {});
  // As above, but quantiles from `recent` (e.g. the last report interval) and _sum/_count from
  // `lifetime` (everything since the start). Prometheus treats _sum and _count as counters, so
  // rate(name_count[1m]) only means something when they never go down.
  void summary(std::string_view name, std::string_view help, const HdrHistogram& recent,
               const HdrHistogram& lifetime, double scale, const Labels& labels = {});

  // Cumulative buckets name_bucket{le="b"} for each of `upper_bounds` (already scaled, strictly
  // ascending, finite) plus le="+Inf", then name_sum and name_count. A histogram slot is counted
  // in the first bucket at or above the slot's highest equivalent value, so a bucket never claims
  // a value might be lower than it was. Prometheus expects bucket counts to only grow: pass a
  // histogram that accumulates since the start, not one that is reset every interval.
  void histogram(std::string_view name, std::string_view help, const HdrHistogram& h, double scale,
                 std::span<const double> upper_bounds, const Labels& labels = {});

  // The exposition text, every family with its HELP and TYPE lines followed by its samples.
  // Not safe to call concurrently with itself or with the adders (it caches the text).
  const std::string& text() const;

  // One line per dropped sample, in call order.
  const std::vector<std::string>& errors() const noexcept { return errors_; }

  // Forgets every family, sample and error.
  void clear();

  // [a-zA-Z_:][a-zA-Z0-9_:]*
  static bool valid_metric_name(std::string_view name) noexcept;
  // [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved for Prometheus's own labels).
  static bool valid_label_name(std::string_view name) noexcept;

 private:
  enum class Type : uint8_t { kCounter, kGauge, kSummary, kHistogram };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::string samples;                     // the sample lines, in call order
    std::unordered_set<std::string> series;  // label sets already present
  };

  void scalar(Type type, std::string_view name, std::string_view help, SampleValue value,
              const Labels& labels);
  // The family for `name`, created on first use; nullptr (with an error) if the name is invalid
  // or already used by a family of another type or by a summary's or histogram's _sum, _count,
  // _bucket series.
  Family* family(std::string_view name, std::string_view help, Type type);
  // Renders labels as `a="x",b="y"` (no braces) into out; false (with an error) on a bad or
  // repeated label name, or on `reserved` ("quantile", "le") that the family adds itself.
  bool render_labels(std::string_view metric, const Labels& labels, std::string_view reserved,
                     std::string& out);
  // Claims the label set in f; false (with an error) if it is already there.
  bool claim_series(Family& f, const std::string& label_text);
  void error(std::string message);

  std::vector<Family> families_;
  // Every name a family occupies (its own, plus _sum/_count/_bucket) -> index in families_.
  std::unordered_map<std::string, size_t> names_;
  std::vector<std::string> errors_;
  mutable std::string text_;
  mutable bool text_stale_ = false;
};

}  // namespace ws::stats
