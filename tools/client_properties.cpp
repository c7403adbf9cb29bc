#include "tools/client_properties.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace ws::tools {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

bool is_secret_key(const std::string& key) {
  return key.find("password") != std::string::npos || key == "sasl.jaas.config" ||
         (key.starts_with("sasl.oauthbearer.token") && !key.ends_with(".file"));
}

// Java properties escapes in a logical line (continuations already joined).
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    if (c == 't') out += '\t';
    else if (c == 'n') out += '\n';
    else if (c == 'r') out += '\r';
    else if (c == 'f') out += '\f';
    else if (c == 'u' && i + 4 < s.size()) {
      unsigned code = 0;
      const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 5, code, 16);
      if (ec == std::errc() && p == s.data() + i + 5) {
        // UTF-8 of a BMP code point (property files are Latin-1 or escaped; keys here are ASCII).
        if (code < 0x80) {
          out += static_cast<char>(code);
        } else if (code < 0x800) {
          out += static_cast<char>(0xC0 | (code >> 6));
          out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
          out += static_cast<char>(0xE0 | (code >> 12));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (code & 0x3F));
        }
        i += 4;
      } else {
        out += 'u';
      }
    } else {
      out += c;  // \\ \= \: \# \! and any other: the character itself
    }
  }
  return out;
}

// Splits "key=value" / "key: value" / "key value" at the first unescaped separator.
void split_key_value(const std::string& line, std::string& key, std::string& value) {
  size_t i = 0;
  for (; i < line.size(); ++i) {
    if (line[i] == '\\') {
      ++i;
      continue;
    }
    if (line[i] == '=' || line[i] == ':' || std::isspace(static_cast<unsigned char>(line[i]))) break;
  }
  key = unescape(line.substr(0, i));
  size_t j = i;
  while (j < line.size() && std::isspace(static_cast<unsigned char>(line[j]))) ++j;
  if (j < line.size() && (line[j] == '=' || line[j] == ':')) ++j;
  while (j < line.size() && std::isspace(static_cast<unsigned char>(line[j]))) ++j;
  value = unescape(line.substr(j));
}

bool parse_bool(const std::string& v, bool& out) {
  const std::string l = lower(v);
  if (l == "true") return out = true, true;
  if (l == "false") return out = false, true;
  return false;
}

bool parse_uint(const std::string& v, uint64_t& out) {
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty();
}

// sasl.jaas.config: `<LoginModule class> required username="..." password="...";`
bool parse_jaas(const std::string& text, driver::SaslSettings& sasl, std::string& why) {
  std::istringstream in(text);
  std::string module;
  in >> module;
  if (module.find("PlainLoginModule") == std::string::npos && module.find("ScramLoginModule") == std::string::npos) {
    why = "only PlainLoginModule and ScramLoginModule with username=\"...\" password=\"...\" are supported";
    return false;
  }
  const std::string rest = text.substr(std::min(text.size(), text.find(module) + module.size()));
  for (size_t i = 0; i < rest.size();) {
    const size_t eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    std::string name = trim(rest.substr(i, eq - i));
    if (const size_t space = name.find_last_of(" \t"); space != std::string::npos) name = name.substr(space + 1);
    size_t j = eq + 1;
    std::string value;
    if (j < rest.size() && rest[j] == '"') {
      for (++j; j < rest.size() && rest[j] != '"'; ++j) {
        if (rest[j] == '\\' && j + 1 < rest.size()) ++j;
        value += rest[j];
      }
      if (j >= rest.size()) {
        why = "an unterminated quoted value";
        return false;
      }
      ++j;
    } else {
      while (j < rest.size() && !std::isspace(static_cast<unsigned char>(rest[j])) && rest[j] != ';') value += rest[j++];
    }
    if (name == "username") sasl.username = value;
    if (name == "password") sasl.password = value;
    i = j;
  }
  if (sasl.username.empty()) {
    why = "no username=\"...\" in it";
    return false;
  }
  return true;
}

// Keys that map straight onto a flag, with the unit suffix a duration flag needs.
struct FlagKey {
  const char* flag;
  const char* suffix;  // appended to the value ("ms"), or ""
};
const std::map<std::string, FlagKey>& flag_keys() {
  static const std::map<std::string, FlagKey> keys = {
      {"bootstrap.servers", {"--bootstrap", ""}},
      {"client.id", {"--client-id", ""}},
      {"acks", {"--acks", ""}},
      {"request.required.acks", {"--acks", ""}},  // librdkafka's name
      {"linger.ms", {"--linger", "ms"}},
      {"queue.buffering.max.ms", {"--linger", "ms"}},  // librdkafka's name
      {"compression.type", {"--compression", ""}},
      {"compression.codec", {"--compression", ""}},  // librdkafka's name
      {"request.timeout.ms", {"--request-timeout", "ms"}},
      {"max.in.flight.requests.per.connection", {"--max-in-flight", ""}},
      {"max.in.flight", {"--max-in-flight", ""}},
      {"reconnect.backoff.ms", {"--reconnect-backoff", "ms"}},
      {"reconnect.backoff.max.ms", {"--reconnect-backoff-max", "ms"}},
      {"socket.connection.setup.timeout.ms", {"--connect-timeout", "ms"}},
      {"fetch.max.wait.ms", {"--fetch-max-wait", "ms"}},
      {"fetch.wait.max.ms", {"--fetch-max-wait", "ms"}},  // librdkafka's name
      {"fetch.min.bytes", {"--fetch-min-bytes", ""}},
      {"fetch.max.bytes", {"--fetch-max-bytes", ""}},
  };
  return keys;
}

// Keys a Java client.properties often carries that change nothing on the wire.
bool is_inert_key(const std::string& key) {
  return key == "key.serializer" || key == "value.serializer" || key == "key.deserializer" ||
         key == "value.deserializer" || key == "ssl.truststore.type" || key == "ssl.keystore.type" ||
         key == "api.version.request" || key == "broker.version.fallback";
}

// Keys wirestress knows but does not support (yet): say so rather than call them unknown.
const char* unsupported_reason(const std::string& key, const std::string& value) {
  if (key == "transactional.id") return "transactions are not supported";
  if (key.starts_with("sasl.kerberos.")) return "GSSAPI (Kerberos) is not supported";
  if (key == "sasl.login.callback.handler.class" || key == "sasl.oauthbearer.token.endpoint.url") {
    return "OAUTHBEARER takes a static token only (sasl.oauthbearer.token or sasl.oauthbearer.token.file)";
  }
  if ((key == "ssl.truststore.type" || key == "ssl.keystore.type") && upper(value) != "PKCS12") {
    return "only PKCS12 stores are supported (convert a JKS store with keytool -importkeystore -deststoretype PKCS12)";
  }
  if (key == "partitioner.class") return "use --partitioner=sticky|round-robin|murmur2|fixed";
  if (key == "retries" || key == "delivery.timeout.ms" || key == "message.timeout.ms") {
    return "wirestress counts failed records instead of retrying them";
  }
  return nullptr;
}

}  // namespace

bool read_properties_file(const std::string& path, std::vector<Property>& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "--config: cannot read '" + path + "'";
    return false;
  }
  std::string raw, logical;
  int line_no = 0, logical_start = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string line = logical.empty() ? trim(raw) : raw.substr(std::min(raw.size(), raw.find_first_not_of(" \t")));
    if (logical.empty()) {
      if (line.empty() || line[0] == '#' || line[0] == '!') continue;
      logical_start = line_no;
    }
    // An odd number of trailing backslashes continues the line.
    size_t backslashes = 0;
    while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) {
      logical += line.substr(0, line.size() - 1);
      continue;
    }
    logical += line;
    Property p;
    split_key_value(logical, p.key, p.value);
    p.origin = path + ":" + std::to_string(logical_start);
    out.push_back(std::move(p));
    logical.clear();
  }
  if (!logical.empty()) {
    Property p;
    split_key_value(logical, p.key, p.value);
    p.origin = path + ":" + std::to_string(logical_start);
    out.push_back(std::move(p));
  }
  return true;
}

bool collect_properties(int argc, const char* const* argv, std::vector<Property>& out, std::string& error) {
  std::vector<Property> from_x;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::string x;
    if (a == "-X" || a == "--config") {
      if (i + 1 >= argc) {
        error = a + ": give a value (" + (a == "-X" ? "-X key=value" : "--config=FILE") + ")";
        return false;
      }
      (a == "-X" ? x : files.emplace_back()) = argv[++i];
      if (a == "--config") continue;
    } else if (a.starts_with("--config=")) {
      files.push_back(a.substr(9));
      continue;
    } else if (a.starts_with("-X") && a.size() > 2) {
      x = a.substr(2);
    } else {
      continue;
    }
    const size_t eq = x.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "-X: '" + x + "' is not valid; use -X key=value (for example -X security.protocol=SASL_SSL)";
      return false;
    }
    from_x.push_back(Property{trim(x.substr(0, eq)), x.substr(eq + 1), "-X"});
  }
  for (const auto& f : files) {
    if (!read_properties_file(f, out, error)) return false;
  }
  out.insert(out.end(), from_x.begin(), from_x.end());
  return true;
}

bool map_properties(const std::vector<Property>& properties, MappedProperties& out, std::string& error) {
  auto bad = [&](const Property& p, const std::string& accepted) {
    const std::string shown = is_secret_key(p.key) ? "***" : p.value;
    error = p.key + " (" + p.origin + "): '" + shown + "' is not valid; " + accepted;
    return false;
  };
  driver::SecuritySettings& sec = out.security;
  driver::TlsSettings& tls = sec.tls;
  std::string token_file;
  for (const auto& p : properties) {
    const std::string& k = p.key;
    const std::string& v = p.value;
    if (const char* why = unsupported_reason(k, v)) {
      error = k + " (" + p.origin + "): known but not supported: " + why;
      return false;
    }
    if (const auto it = flag_keys().find(k); it != flag_keys().end()) {
      std::string value = v;
      if (it->second.flag == std::string("--compression")) value = lower(value) == "producer" ? "none" : lower(value);
      out.flag_args.push_back(std::string(it->second.flag) + "=" + value + it->second.suffix);
      continue;
    }
    if (is_inert_key(k)) {
      out.notes.push_back(k + " has no effect on the wire; ignored");
      continue;
    }
    if (k == "enable.idempotence") {
      const std::string l = lower(v);
      if (l == "true") out.flag_args.push_back("--idempotent");
      else if (l != "false") return bad(p, "use true or false");
      continue;
    }
    if (k == "group.id") {
      // What a librdkafka user means: every consumer in the one group named exactly this.
      if (trim(v).empty()) return bad(p, "give a group id, e.g. -X group.id=my-group");
      out.group_id = v;
      continue;
    }
    if (k == "auto.offset.reset") {
      const std::string l = lower(v);
      if (l == "earliest" || l == "smallest" || l == "beginning") out.flag_args.push_back("--consume-from=earliest");
      else if (l == "latest" || l == "largest" || l == "end") out.flag_args.push_back("--consume-from=latest");
      else return bad(p, "use earliest or latest");
      continue;
    }
    if (k == "partitioner") {  // librdkafka's partitioner names
      const std::string l = lower(v);
      if (l == "murmur2" || l == "murmur2_random") out.flag_args.push_back("--partitioner=murmur2");
      else if (l == "random") out.flag_args.push_back("--partitioner=sticky");
      else return bad(p, "use murmur2_random or murmur2 (or --partitioner)");
      continue;
    }
    if (k == "batch.size") {
      uint64_t bytes = 0;
      if (!parse_uint(v, bytes) || bytes == 0) return bad(p, "use a size in bytes, e.g. 16384");
      out.batch_bytes = bytes;
      continue;
    }
    out.security_given = true;
    if (k == "security.protocol") {
      const std::string u = upper(v);
      if (u == "PLAINTEXT") sec.protocol = driver::SecurityProtocol::kPlaintext;
      else if (u == "SSL") sec.protocol = driver::SecurityProtocol::kSsl;
      else if (u == "SASL_PLAINTEXT") sec.protocol = driver::SecurityProtocol::kSaslPlaintext;
      else if (u == "SASL_SSL") sec.protocol = driver::SecurityProtocol::kSaslSsl;
      else return bad(p, "use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
    } else if (k == "sasl.mechanism" || k == "sasl.mechanisms") {
      const std::string u = upper(trim(v));
      if (u == "GSSAPI") {
        error = k + " (" + p.origin + "): known but not supported: GSSAPI (Kerberos)";
        return false;
      }
      if (u != "PLAIN" && u != "SCRAM-SHA-256" && u != "SCRAM-SHA-512" && u != "OAUTHBEARER") {
        return bad(p, "use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER");
      }
      sec.sasl.mechanism = u;
    } else if (k == "sasl.username") {
      sec.sasl.username = v;
    } else if (k == "sasl.password") {
      sec.sasl.password = v;
    } else if (k == "sasl.jaas.config") {
      std::string why;
      if (!parse_jaas(v, sec.sasl, why)) return bad(p, why);
    } else if (k == "sasl.oauthbearer.token") {
      sec.sasl.token = v;
    } else if (k == "sasl.oauthbearer.token.file") {
      token_file = v;
    } else if (k == "ssl.ca.location") {
      tls.ca_location = v;
    } else if (k == "ssl.truststore.location") {
      tls.truststore_location = v;
    } else if (k == "ssl.truststore.password") {
      tls.truststore_password = v;
    } else if (k == "ssl.certificate.location") {
      tls.certificate_location = v;
    } else if (k == "ssl.key.location") {
      tls.key_location = v;
    } else if (k == "ssl.key.password") {
      tls.key_password = v;
    } else if (k == "ssl.keystore.location") {
      tls.keystore_location = v;
    } else if (k == "ssl.keystore.password") {
      tls.keystore_password = v;
    } else if (k == "ssl.endpoint.identification.algorithm") {
      const std::string l = lower(v);
      if (l == "https") tls.verify_hostname = true;
      else if (l.empty() || l == "none") tls.verify_hostname = false;
      else return bad(p, "use https or none (empty)");
    } else if (k == "enable.ssl.certificate.verification") {
      if (!parse_bool(v, tls.verify_certificate)) return bad(p, "use true or false");
    } else if (k == "ssl.cipher.suites") {
      tls.cipher_suites = v;
    } else if (k == "ssl.enabled.protocols" || k == "ssl.protocol") {
      // The lowest protocol listed is the floor.
      const std::string u = upper(v);
      if (u.find("TLSV1.2") != std::string::npos) tls.min_protocol = "TLSv1.2";
      else if (u.find("TLSV1.3") != std::string::npos) tls.min_protocol = "TLSv1.3";
      else if (u == "TLS") tls.min_protocol = "";
      else return bad(p, "use TLSv1.2 and/or TLSv1.3");
    } else {
      error = k + " (" + p.origin + "): unknown property; see wirestress --help for the supported ones";
      return false;
    }
  }
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::stringstream text;
    if (!in || !(text << in.rdbuf())) {
      error = "sasl.oauthbearer.token.file: cannot read '" + token_file + "'";
      return false;
    }
    sec.sasl.token = trim(text.str());
  }
  if (sec.uses_sasl()) {
    if (sec.sasl.mechanism == "OAUTHBEARER" ? sec.sasl.token.empty() : sec.sasl.username.empty()) {
      error = "security.protocol=" + std::string(driver::security_protocol_name(sec.protocol)) + ": " +
              (sec.sasl.mechanism == "OAUTHBEARER" ? "give sasl.oauthbearer.token (or sasl.oauthbearer.token.file)"
                                                   : "give sasl.username and sasl.password (or sasl.jaas.config)");
      return false;
    }
  }
  return true;
}

std::string masked_command_line(int argc, const char* const* argv) {
  std::string line;
  bool next_is_property = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    std::string* property = nullptr;
    std::string body;
    if (next_is_property) {
      body = a;
      property = &body;
    } else if (a.starts_with("-X") && a.size() > 2) {
      body = a.substr(2);
      property = &body;
    }
    if (property) {
      const size_t eq = body.find('=');
      if (eq != std::string::npos && is_secret_key(trim(body.substr(0, eq)))) {
        a = (next_is_property ? "" : "-X") + body.substr(0, eq + 1) + "***";
      }
    }
    next_is_property = a == "-X";
    line += (i ? " " : "") + a;
  }
  return line;
}

}  // namespace ws::tools
