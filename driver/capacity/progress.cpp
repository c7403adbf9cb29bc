#include "driver/capacity/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace ws::capacity {
namespace {

std::string clock_text(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  }
  return text;
}

}  // namespace

CapacityProgress::CapacityProgress(std::string what, std::optional<size_t> cells, double cell_s, double pause_s,
                                   std::FILE* out)
    : what_(std::move(what)), cells_(cells), cell_s_(cell_s), pause_s_(pause_s), out_(out),
      terminal_(::isatty(::fileno(out)) == 1) {}

void CapacityProgress::begin_cell(size_t index, std::string label) {
  index_ = index;
  label_ = std::move(label);
  cell_started_ = std::chrono::steady_clock::now();
  last_print_ = {};
}

std::string CapacityProgress::line(double cell_elapsed_s, double achieved_per_s, double p99_ms,
                                   double received_per_consumer, const std::string& phase) const {
  const double total_s = std::chrono::duration<double>(cell_started_ - started_).count() + cell_elapsed_s;
  const double cell_s = cell_s_ + (cells_done_ > 0 ? excess_s_ / static_cast<double>(cells_done_) : 0.0);
  char text[256];
  std::string position = cells_ ? std::to_string(index_ + 1) + "/" + std::to_string(*cells_)
                                : std::to_string(index_ + 1);
  std::snprintf(text, sizeof text, "%s: %s %s%s%s, %s%s of %s, %.0f msg/s", what_.c_str(), cells_ ? "cell" : "step",
                position.c_str(), label_.empty() ? "" : " ", label_.c_str(), phase.empty() ? "" : (phase + " ").c_str(),
                clock_text(cell_elapsed_s).c_str(), clock_text(cell_s_).c_str(), achieved_per_s);
  std::string out = text;
  if (received_per_consumer >= 0) {
    std::snprintf(text, sizeof text, ", received %.0f msg/s per consumer", received_per_consumer);
    out += text;
  }
  std::snprintf(text, sizeof text, ", p99 %.2f ms, elapsed %s", p99_ms, clock_text(total_s).c_str());
  out += text;
  if (cells_) {
    // What is left of this cell, then every later one with its pause before it.
    const double left = std::max(0.0, cell_s - cell_elapsed_s) +
                        static_cast<double>(*cells_ - std::min(*cells_, index_ + 1)) * (cell_s + pause_s_);
    out += ", ETA " + clock_text(left);
  }
  return out;
}

void CapacityProgress::record_cell_time(double seconds) {
  excess_s_ += std::max(0.0, seconds - cell_s_);
  ++cells_done_;
}

void CapacityProgress::on_interval(const driver::IntervalReport& r, const driver::RunConfig& cell) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_print_ < std::chrono::milliseconds(900)) return;
  last_print_ = now;
  const double seconds = std::max(r.interval_s, 1e-9);
  const uint64_t delivered = cell.acks == 0 ? r.delta.messages_sent : r.delta.messages_acked;
  const double p99_ms = r.interval ? static_cast<double>(r.interval->latency_us.value_at_percentile(99)) / 1000.0 : 0;
  const double received = cell.consumers > 0 ? static_cast<double>(r.delta.consume_received) / seconds / cell.consumers
                                             : -1;
  const std::string phase = r.phase == driver::Phase::kConnecting ? "connecting"
                            : r.phase == driver::Phase::kWarmUp   ? "warm-up"
                            : r.phase == driver::Phase::kDraining ? "draining"
                                                                  : "";
  const std::string text = line(std::chrono::duration<double>(now - cell_started_).count(),
                                static_cast<double>(delivered) / seconds, p99_ms, received, phase);
  if (terminal_) {
    std::fprintf(out_, "\r%s\033[K", text.c_str());
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
  shown_ = true;
}

void CapacityProgress::end_cell() {
  record_cell_time(std::chrono::duration<double>(std::chrono::steady_clock::now() - cell_started_).count());
  if (terminal_ && shown_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
  shown_ = false;
}

}  // namespace ws::capacity
