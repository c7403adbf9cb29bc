// `wirestress report`: the command line of stats/report/report_html.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "stats/report/report_html.h"
#include "tools/commands.h"

namespace ws::tools {

using report::Json;
using report::ResultKind;
using report::render_svg;
using report::report_charts;
using report::report_html;
using report::result_kind;
using report::program_exists;
using report::run_program;

int run_report(int argc, const char* const* argv) {
  CLI::App app{
      "wirestress report: make a self-contained HTML page (inline SVG charts, nothing fetched when viewed) from a\n"
      "sweep, ceiling or single-run result JSON, and optionally the same charts as SVG and PNG files for slides.",
      "wirestress report"};
  std::string input, output, svg_dir, png_dir;
  app.add_option("RESULT", input, "Result JSON written by wirestress, wirestress sweep or wirestress ceiling")
      ->required();
  app.add_option("-o,--output", output, "HTML file to write (default: RESULT with .html instead of .json)");
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
  std::ifstream in(input);
  if (!in) {
    std::cerr << "wirestress report: RESULT: cannot read '" << input << "'\n";
    return 2;
  }
  Json j;
  try {
    j = Json::parse(in);
  } catch (const std::exception& e) {
    std::cerr << "wirestress report: RESULT: '" << input << "' is not JSON (" << e.what() << ")\n";
    return 2;
  }
  if (result_kind(j) == ResultKind::kUnknown) {
    std::cerr << "wirestress report: RESULT: '" << input
              << "' is not a wirestress result; give the --json of a run, a sweep or a ceiling\n";
    return 2;
  }
  if (!png_dir.empty() && !program_exists("rsvg-convert")) {
    std::cerr << "wirestress report: --png-dir: needs rsvg-convert (Debian package librsvg2-bin)\n";
    return 1;
  }
  if (output.empty()) {
    output = input.size() > 5 && input.ends_with(".json") ? input.substr(0, input.size() - 5) + ".html"
                                                          : input + ".html";
  }
  const std::string source = input.substr(input.find_last_of('/') == std::string::npos ? 0 : input.find_last_of('/') + 1);
  {
    std::ofstream out(output);
    out << report_html(j, source);
    if (!out) {
      std::cerr << "wirestress report: -o: cannot write " << output << "\n";
      return 1;
    }
  }
  const auto charts = report_charts(j);
  for (const std::string* dir : {&svg_dir, &png_dir}) {
    if (dir->empty()) continue;
    ::mkdir(dir->c_str(), 0777);
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
