// Reading Prometheus text back the way a scraper does, for the tests of every writer of it.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>

namespace ws::testing {

// Series ("name{labels}") -> value text, for every sample line.
inline std::map<std::string, std::string> samples_of(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

inline double value_of(const std::map<std::string, std::string>& samples, const std::string& series) {
  auto it = samples.find(series);
  if (it == samples.end()) throw std::runtime_error("no sample " + series);
  return std::stod(it->second);
}

// What a scraper checks: every line is a HELP, TYPE or sample line; TYPE comes once per family,
// before that family's samples, which are contiguous; each series appears once.
inline void expect_well_formed(const std::string& text) {
  static const std::regex kHelp(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([-+]?[0-9.e+-]+|NaN|[+-]Inf))");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::set<std::string> families, series;
  std::string current;  // family whose samples may follow
  std::string current_type;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    std::smatch m;
    if (std::regex_match(line, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(families.insert(m[1]).second) << "second TYPE for " << m[1];
      current = m[1];
      current_type = m[2];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, kSample)) << "not a sample line: " << line;
    const std::string name = m[1];
    bool ok = name == current;
    for (const char* suffix : {"_sum", "_count", "_bucket"}) {
      if ((current_type == "summary" || current_type == "histogram") && name == current + suffix) ok = true;
    }
    EXPECT_TRUE(ok) << line << " is not in family " << current;
    EXPECT_TRUE(series.insert(line.substr(0, line.rfind(' '))).second) << "duplicate series: " << line;
  }
}


}  // namespace ws::testing
