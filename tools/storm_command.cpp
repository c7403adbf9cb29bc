// `wirestress storm`: opens and closes connections at --rate per second, each through the whole
// handshake its security.protocol needs, and reports per-stage handshake latency and the
// handshakes per second the broker sustained (driver/storm.h).
#include <arpa/inet.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "driver/storm_runner.h"
#include "stats/report/storm_report.h"
#include "tools/client_properties.h"
#include "tools/commands.h"
#include "ws_version.h"

namespace ws::tools {
namespace {

std::atomic<driver::StormRunner*> g_storm{nullptr};
std::atomic<int> g_storm_signals{0};

// First Ctrl-C: start no more connections, let those in progress finish, report. Second: leave.
void on_storm_signal(int) {
  if (++g_storm_signals > 1) _exit(130);
  if (driver::StormRunner* runner = g_storm.load()) runner->request_stop();
}

constexpr const char* kStormDescription =
    "wirestress storm: how many reconnects per second does the broker survive. Opens connections at --rate per "
    "second (open-loop: a slow broker does not slow the offered rate), each doing the whole handshake its "
    "security.protocol needs (TCP connect, TLS for SSL/SASL_SSL, ApiVersions where the broker has it, "
    "SaslHandshake+SaslAuthenticate for SASL_*, Metadata for --topic if given), then closes it. Reports "
    "latency percentiles per stage (tcp, tls, api_versions, sasl, metadata, total), attempted/completed/failed "
    "per stage with the failures by name, and the completed handshakes per second achieved. Security settings "
    "come from -X key=value / --config=FILE as for a run. Exit codes: 0 handshakes completed; 1 runtime error; "
    "2 usage; 3 no handshake completed (or a certificate or credentials were refused before any did).";

int bad(const std::string& flag, const std::string& value, const std::string& accepted) {
  std::cerr << "wirestress storm: " << flag << ": '" << value << "' is not valid; " << accepted << "\n";
  return 2;
}

bool parse_positive_double(const std::string& text, double& out) {
  std::istringstream in(text);
  in >> out;
  return in && in.peek() == std::char_traits<char>::eof() && std::isfinite(out) && out > 0;
}

}  // namespace

int run_storm_command(int argc, const char* const* argv) {
  if (const std::string flag = flag_with_empty_value(argc, argv); !flag.empty()) {
    std::cerr << "wirestress storm: " << flag << ": '' is not valid; give a value (" << flag << "=VALUE)\n";
    return 2;
  }
  // -X / --config: the security settings, and the few keys that map onto storm's own flags.
  std::vector<Property> properties;
  MappedProperties mapped;
  std::string error;
  if (!collect_properties(argc, argv, properties, error) || !map_properties(properties, mapped, error)) {
    std::cerr << "wirestress storm: " << error << "\n";
    return 2;
  }
  const std::set<std::string> storm_flags = {"--bootstrap", "--client-id", "--request-timeout", "--connect-timeout"};
  std::vector<std::string> args{argc > 0 ? argv[0] : "storm"};
  for (const auto& a : mapped.flag_args) {
    const std::string flag = a.substr(0, a.find('='));
    if (storm_flags.contains(flag)) {
      args.push_back(a);
    } else {
      std::cerr << "wirestress storm: note: the property behind " << flag << " has no effect on a storm\n";
    }
  }
  if (!mapped.group_id.empty()) std::cerr << "wirestress storm: note: group.id has no effect on a storm\n";
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  std::vector<const char*> args_argv;
  for (const auto& a : args) args_argv.push_back(a.c_str());

  driver::StormConfig config;
  config.connection.threads = 1;
  std::string bootstrap, rate = "100", duration = "10s", connect_timeout = "10s", request_timeout = "30s",
              drain_timeout = "5s", io = "uring", broker_version = "auto", json_path, topic, config_file,
              source_addresses;
  std::vector<std::string> x_properties;
  bool quiet = false;
  CLI::App app{kStormDescription, "wirestress storm"};
  app.get_formatter()->column_width(30);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the command line wins over -X
  app.add_option("--bootstrap", bootstrap, "Broker(s) to storm, HOST:PORT[,HOST:PORT...] (or bootstrap.servers)");
  app.add_option("--rate", rate, "Connections opened per second, over all threads (paced, open-loop)")
      ->capture_default_str();
  app.add_option("--duration", duration, "How long new connections are opened (500ms, 10s, 2m)")->capture_default_str();
  app.add_option("--max-pending", config.max_pending,
                 "Handshakes in progress at once, over all threads; a connection due while this many are in "
                 "progress is not opened and is counted as dropped")
      ->capture_default_str();
  app.add_option("--topic", topic, "Ask Metadata for this topic after the handshake (a client's first request)");
  app.add_option("--threads", config.connection.threads, "Worker threads, each with its own event loop")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout,
                 "One attempt's limit from the connect to the end of the handshake (TLS, ApiVersions, SASL)")
      ->capture_default_str();
  app.add_option("--request-timeout", request_timeout, "The Metadata request's limit")->capture_default_str();
  app.add_option("--drain-timeout", drain_timeout,
                 "After --duration: how long handshakes in progress may still finish (then: unfinished, failed)")
      ->capture_default_str();
  app.add_option("--io", io, "I/O backend: uring (falls back to asio if unavailable) or asio")->capture_default_str();
  app.add_option("--broker-version", broker_version,
                 "auto (probe ApiVersions once; Kafka 0.9 is recognised after 3 s), 0.9 (no ApiVersions: "
                 "Metadata is the first request) or 0.10 and later")
      ->capture_default_str();
  app.add_option("--client-id", config.connection.client_id_prefix, "client.id prefix (the storm's is PREFIX-storm)")
      ->capture_default_str();
  app.add_option("--source-addresses", source_addresses,
                 "Local IP addresses to connect from, in turn (A,B,...): each has its own ephemeral ports, and "
                 "every closed connection holds one in TIME_WAIT for 60 s");
  app.add_option("--json", json_path, "Write the result as JSON to FILE");
  app.add_flag("--quiet", quiet, "No progress line every second");
  app.add_option("-X", x_properties,
                 "A client property KEY=VALUE, repeatable, as for a run: security.protocol, sasl.*, ssl.*, "
                 "bootstrap.servers, client.id, request.timeout.ms, socket.connection.setup.timeout.ms")
      ->take_all();
  app.add_option("--config", config_file, "A client.properties file with the same keys as -X (read first)");
  try {
    app.parse(static_cast<int>(args_argv.size()), args_argv.data());
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "wirestress storm: " << e.what() << " (see wirestress storm --help)\n";
    return 2;
  }

  auto& c = config.connection;
  c.bootstrap.clear();
  std::stringstream list(bootstrap);
  for (std::string item; std::getline(list, item, ',');) {
    if (!item.empty()) c.bootstrap.push_back(item);
  }
  if (c.bootstrap.empty()) return bad("--bootstrap", bootstrap, "give HOST:PORT (or -X bootstrap.servers=HOST:PORT)");
  if (!parse_positive_double(rate, config.rate) || config.rate > 10'000'000) {
    return bad("--rate", rate, "connections per second, a number > 0 and at most 10000000");
  }
  for (const auto& [flag, text, out] :
       {std::tuple{"--duration", &duration, &config.duration}, std::tuple{"--connect-timeout", &connect_timeout, &c.connect_timeout},
        std::tuple{"--request-timeout", &request_timeout, &c.request_timeout},
        std::tuple{"--drain-timeout", &drain_timeout, &config.drain_timeout}}) {
    if (!driver::parse_duration(*text, *out) || (out->count() <= 0 && std::string(flag) != "--drain-timeout")) {
      return bad(flag, *text, "a duration such as 500ms, 10s, 2m");
    }
  }
  if (io != "uring" && io != "asio") return bad("--io", io, "use uring or asio");
  c.io = io == "uring" ? driver::IoBackend::kUring : driver::IoBackend::kAsio;
  if (broker_version == "auto") {
    c.broker_version = driver::BrokerVersion::kAuto;
  } else if (broker_version == "0.9" || broker_version.starts_with("0.9.")) {
    c.broker_version = driver::BrokerVersion::kV0_9;
  } else {
    int major = -1, minor = -1;
    char dot = 0;
    std::istringstream in(broker_version);
    if (!(in >> major >> dot >> minor) || dot != '.' || (major == 0 && minor < 10) || major < 0) {
      return bad("--broker-version", broker_version, "use auto, 0.9, 0.10, 0.11, 1.0, 2.8, 3.7 ...");
    }
    c.broker_version = driver::BrokerVersion::kV0_10;
  }
  std::stringstream sources(source_addresses);
  for (std::string item; std::getline(sources, item, ',');) {
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, item.c_str(), buf) != 1 && inet_pton(AF_INET6, item.c_str(), buf) != 1) {
      return bad("--source-addresses", item, "use local IP addresses, e.g. 127.0.0.2,127.0.0.3 (no names, no ports)");
    }
    c.source_addresses.push_back(item);
  }
  if (!topic.empty()) {
    c.topic = topic;
    config.metadata = true;
  }
  if (mapped.security_given) c.security = mapped.security;
  if (const auto problem = config.validate()) {
    std::cerr << "wirestress storm: " << problem->message() << "\n";
    return 2;
  }
  if (const std::string problem = check_output_path("--json", json_path); !problem.empty()) {
    std::cerr << "wirestress storm: " << problem << "\n";
    return 2;
  }

  driver::StormRunner runner(config);
  std::string notice;
  if (!runner.prepare(error, notice)) {
    std::cerr << "wirestress storm: " << error << "\n";
    return 1;
  }
  if (!notice.empty()) std::cerr << "wirestress storm: " << notice << "\n";
  g_storm.store(&runner);
  struct sigaction sa {};
  sa.sa_handler = on_storm_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  long peak_threads = 0;
  driver::StormResult result = runner.run([&](const driver::StormProgress& p) {
    peak_threads = std::max(peak_threads, report::current_thread_count());
    if (!quiet) std::cout << report::storm_progress_line(p, config.rate) << std::endl;
  });
  g_storm.store(nullptr);

  report::ProcessFigures process = report::read_process_figures();
  process.threads = std::max(process.threads, peak_threads);
  report::RunContext context;
  context.tool = "wirestress";
  context.broker = bootstrap;
  context.command_line = masked_command_line(argc, argv);
  context.version = WS_VERSION;
  context.verdict = report::judge_storm(result);
  std::cout << report::storm_summary(result, config, context, process) << std::flush;
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << report::storm_json(result, config, context, process).dump(2) << "\n";
    if (!out) {
      std::cerr << "wirestress storm: --json: cannot write " << json_path << "\n";
      return 1;
    }
  }
  return static_cast<int>(context.verdict.status);
}

}  // namespace ws::tools
