// Client properties as users write them for the Java client or librdkafka: `-X key=value`
// (repeatable) and `--config=FILE` (a client.properties file). Each known key maps onto a
// wirestress flag (acks -> --acks, linger.ms -> --linger, ...) or onto the security settings
// (security.protocol, sasl.*, ssl.*); group.id=G puts every consumer in one shared group named G.
// An unknown key is an error naming it; a key wirestress knows but does not support
// (transactional.id, GSSAPI, JKS stores) is an error saying so.
//
// Precedence: the file, then -X in the order given, then wirestress's own flags, which always win.
#pragma once

#include <string>
#include <vector>

#include "driver/config.h"

namespace ws::tools {

struct Property {
  std::string key;
  std::string value;
  std::string origin;  // "-X" or "FILE:LINE", for messages
};

// A Java .properties file: key=value or key: value, # and ! comments, a trailing backslash
// continues the line, \t \n \\ \= \: \uXXXX escapes. False with a one-line message.
bool read_properties_file(const std::string& path, std::vector<Property>& out, std::string& error);

// Scans argv for --config=FILE / --config FILE and -X key=value / -X key=value / -Xkey=value, in
// order. False with a one-line message (an unreadable file, "-X" without "=").
bool collect_properties(int argc, const char* const* argv, std::vector<Property>& out, std::string& error);

// What the properties say, split in two: flags (as "--flag=value" arguments to parse before the
// command line's own, so those win) and settings with no flag (security, batch.size in bytes).
struct MappedProperties {
  std::vector<std::string> flag_args;
  driver::SecuritySettings security;
  bool security_given = false;
  uint64_t batch_bytes = 0;      // batch.size: records per batch = batch_bytes / record size
  std::string group_id;          // group.id: one shared group of every consumer, named this
  std::vector<std::string> notes;  // keys taken but without effect on the wire (serializers)
};
// False with a one-line message naming the key (and where it came from) and what is accepted.
bool map_properties(const std::vector<Property>& properties, MappedProperties& out, std::string& error);

// The command line with the values of secret properties (passwords, tokens, JAAS config) masked,
// for the JSON's run.command_line.
std::string masked_command_line(int argc, const char* const* argv);

}  // namespace ws::tools
