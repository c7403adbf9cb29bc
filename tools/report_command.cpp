// `wirestress report`: the command line of stats/report/report_html.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "stats/report/report_html.h"
#include "tools/commands.h"

namespace ws::tools {

using report::Json;
using report::LabelledRun;
using report::overlay_charts;
using report::overlay_html;
using report::ResultKind;
using report::render_svg;
using report::report_charts;
using report::report_html;
using report::result_kind;
using report::program_exists;
using report::run_program;

namespace {

std::string file_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string without_json(const std::string& path) {
  return path.size() > 5 && path.ends_with(".json") ? path.substr(0, path.size() - 5) : path;
}

// Reads one result; false after one line on stderr naming the file.
bool read_result(const std::string& path, Json& j) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "wirestress report: RESULT: cannot read '" << path << "'\n";
    return false;
  }
  try {
    j = Json::parse(in);
  } catch (const std::exception& e) {
    std::cerr << "wirestress report: RESULT: '" << path << "' is not JSON (" << e.what() << ")\n";
    return false;
  }
  if (result_kind(j) == ResultKind::kUnknown) {
    std::cerr << "wirestress report: RESULT: '" << path
              << "' is not a wirestress result; give the --json of a run, a sweep or a ceiling\n";
    return false;
  }
  return true;
}

// The runs' names: --label in order, then the file names without .json; where two files share a
// name, their paths as given.
std::vector<std::string> run_labels(const std::vector<std::string>& inputs, const std::vector<std::string>& labels) {
  std::vector<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i < labels.size()) {
      names.push_back(labels[i]);
      continue;
    }
    size_t same = 0;
    for (const auto& other : inputs) same += file_name(other) == file_name(inputs[i]) ? 1 : 0;
    names.push_back(without_json(same > 1 ? inputs[i] : file_name(inputs[i])));
  }
  // The same file twice: still one series each.
  for (size_t i = 0; i < names.size(); ++i) {
    size_t n = 1;
    for (size_t k = 0; k < i; ++k) n += names[k] == names[i] ? 1 : 0;
    if (n > 1) names[i] += " #" + std::to_string(n);
  }
  return names;
}

}  // namespace

int run_report(int argc, const char* const* argv) {
  CLI::App app{
      "wirestress report: make a self-contained HTML page (inline SVG charts, nothing fetched when viewed) from a\n"
      "sweep, ceiling or single-run result JSON, and optionally the same charts as SVG and PNG files for slides.\n"
      "With several single-run results, one page compares them: a row per run and a series per run in every\n"
      "chart, from each run's measured start.",
      "wirestress report"};
  std::vector<std::string> inputs, labels;
  std::string output, svg_dir, png_dir;
  app.add_option("RESULT", inputs,
                 "Result JSON written by wirestress, wirestress sweep or wirestress ceiling; several single-run "
                 "results (wirestress or rdkafka-baseline) to compare them")
      ->required();
  app.add_option("--label", labels, "Name of the next RESULT in the comparison, in order (default: its file name "
                                    "without .json); repeat per run")
      ->allow_extra_args(false);
  app.add_option("-o,--output", output, "HTML file to write (default: RESULT with .html instead of .json; "
                                        "comparing: the first RESULT's name with -compare.html)");
  app.add_option("--svg-dir", svg_dir, "Also write every chart as DIR/<chart>.svg");
  app.add_option("--png-dir", png_dir, "Also write every chart as DIR/<chart>.png (needs rsvg-convert, Debian "
                                       "package librsvg2-bin)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "wirestress report: " << e.what() << " (see wirestress report --help)\n";
    return 2;
  }
  if (labels.size() > inputs.size()) {
    std::cerr << "wirestress report: --label: " << labels.size() << " labels for " << inputs.size()
              << (inputs.size() == 1 ? " result" : " results") << "\n";
    return 2;
  }
  std::vector<LabelledRun> runs;
  const auto names = run_labels(inputs, labels);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Json j;
    if (!read_result(inputs[i], j)) return 2;
    if (inputs.size() > 1 && result_kind(j) != ResultKind::kRun) {
      std::cerr << "wirestress report: RESULT: '" << inputs[i] << "' is a "
                << (result_kind(j) == ResultKind::kSweep ? "sweep" : "ceiling")
                << " result; only single-run results can be compared on one page\n";
      return 2;
    }
    runs.push_back({names[i], std::move(j)});
  }
  if (!png_dir.empty() && !program_exists("rsvg-convert")) {
    std::cerr << "wirestress report: --png-dir: needs rsvg-convert (Debian package librsvg2-bin)\n";
    return 1;
  }
  const bool compare = runs.size() > 1;
  if (output.empty()) output = without_json(inputs.front()) + (compare ? "-compare.html" : ".html");
  {
    std::ofstream out(output);
    out << (compare ? overlay_html(runs) : report_html(runs.front().result, labels.empty() ? file_name(inputs.front())
                                                                                            : labels.front()));
    if (!out) {
      std::cerr << "wirestress report: -o: cannot write " << output << "\n";
      return 1;
    }
  }
  const auto charts = compare ? overlay_charts(runs) : report_charts(runs.front().result);
  for (const std::string* dir : {&svg_dir, &png_dir}) {
    if (dir->empty()) continue;
    std::error_code ignored;  // a failure shows as the first file that cannot be written
    std::filesystem::create_directories(*dir, ignored);
    for (const auto& c : charts) {
      const std::string svg_path = *dir + "/" + c.id + ".svg";
      std::ofstream svg(svg_path);
      svg << render_svg(c);
      svg.close();
      if (!svg) {
        std::cerr << "wirestress report: cannot write " << svg_path << "\n";
        return 1;
      }
      if (dir != &png_dir) continue;
      const std::string png_path = *dir + "/" + c.id + ".png";
      // Twice the SVG's size: sharp on slides.
      const bool ok = run_program({"rsvg-convert", "--zoom=2", "--background-color=white", "-o", png_path, svg_path});
      if (svg_dir != png_dir) ::unlink(svg_path.c_str());
      if (!ok) {
        std::cerr << "wirestress report: rsvg-convert could not make " << png_path << "\n";
        return 1;
      }
    }
  }
  std::cout << "wrote " << output << " (" << charts.size() << " charts)";
  if (!svg_dir.empty()) std::cout << ", SVG files in " << svg_dir;
  if (!png_dir.empty()) std::cout << ", PNG files in " << png_dir;
  std::cout << "\n";
  return 0;
}

}  // namespace ws::tools
