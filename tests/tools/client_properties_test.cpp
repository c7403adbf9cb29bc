// Client properties as users write them (-X key=value, --config=client.properties): what they map
// to, that flags win, that wrong keys and values name themselves, and that secrets stay secret.
#include "tools/client_properties.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "tools/options.h"

namespace ws::tools {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"wirestress"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

std::string write_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("ws_props_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(ClientProperties, AJavaPropertiesFileIsReadAsJavaReadsIt) {
  const std::string path = write_file("java.properties",
                                      "# a comment\n"
                                      "! another\n"
                                      "   \n"
                                      "security.protocol = SASL_SSL\n"
                                      "sasl.mechanism: SCRAM-SHA-512\n"
                                      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n"
                                      "    required username=\"alice\" password=\"p=w\\\\\\\"d\";\n"
                                      "client.id wirestress\\u0041\n"
                                      "ssl.truststore.location=/etc/kafka/trust.p12\r\n");
  std::vector<Property> props;
  std::string error;
  ASSERT_TRUE(read_properties_file(path, props, error)) << error;
  ASSERT_EQ(props.size(), 5u);
  EXPECT_EQ(props[0].key, "security.protocol");
  EXPECT_EQ(props[0].value, "SASL_SSL");
  EXPECT_EQ(props[0].origin, path + ":4");
  EXPECT_EQ(props[1].value, "SCRAM-SHA-512");
  EXPECT_EQ(props[2].origin, path + ":6") << "a continued line is reported where it starts";
  EXPECT_EQ(props[3].key, "client.id");
  EXPECT_EQ(props[3].value, "wirestressA");
  EXPECT_EQ(props[4].value, "/etc/kafka/trust.p12");

  MappedProperties mapped;
  ASSERT_TRUE(map_properties(props, mapped, error)) << error;
  EXPECT_EQ(mapped.security.protocol, driver::SecurityProtocol::kSaslSsl);
  EXPECT_EQ(mapped.security.sasl.mechanism, "SCRAM-SHA-512");
  EXPECT_EQ(mapped.security.sasl.username, "alice");
  EXPECT_EQ(mapped.security.sasl.password, "p=w\"d") << "the JAAS quoting, after the properties escapes";
  EXPECT_EQ(mapped.security.tls.truststore_location, "/etc/kafka/trust.p12");
  std::filesystem::remove(path);
}

TEST(ClientProperties, ProducerPropertiesBecomeFlagsAndExplicitFlagsWin) {
  auto out = parse({"-X", "acks=all", "-Xlinger.ms=5", "-X", "compression.type=LZ4", "-X", "client.id=app",
                    "-X", "request.timeout.ms=1500", "-X", "max.in.flight.requests.per.connection=2",
                    "-X", "bootstrap.servers=10.0.0.1:9092,10.0.0.2:9092", "-X", "auto.offset.reset=earliest"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.acks, -1);
  EXPECT_EQ(r.linger, std::chrono::milliseconds(5));
  EXPECT_EQ(r.compression, protocol::Codec::kLz4);
  EXPECT_EQ(r.client_id_prefix, "app");
  EXPECT_EQ(r.request_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(r.max_in_flight, 2u);
  EXPECT_EQ(r.bootstrap, (std::vector<std::string>{"10.0.0.1:9092", "10.0.0.2:9092"}));
  EXPECT_TRUE(r.consume_from_earliest);

  // A flag on the command line wins over a property, wherever it stands.
  EXPECT_EQ(parse({"--acks=1", "-X", "acks=0"}).options->run.acks, 1);
  EXPECT_EQ(parse({"-X", "acks=0", "--acks=1"}).options->run.acks, 1);
  // batch.size is bytes: records of 100 + 0 bytes fill 16384 bytes with 163 of them.
  EXPECT_EQ(parse({"-X", "batch.size=16384"}).options->run.batch, 163u);
  EXPECT_EQ(parse({"-X", "batch.size=16384", "--batch=7"}).options->run.batch, 7u);
}

TEST(ClientProperties, ConfigFileAndDashXTogetherDashXLater) {
  const std::string path = write_file("client.properties", "acks=0\nsecurity.protocol=SSL\nssl.ca.location=/ca.pem\n");
  const std::string config = "--config=" + path;
  const char* argv[] = {"wirestress", config.c_str(), "-X", "acks=1", "-X", "ssl.endpoint.identification.algorithm="};
  ExpandedCommandLine expanded;
  std::string error;
  ASSERT_TRUE(expand_client_properties(static_cast<int>(std::size(argv)), argv, expanded, error)) << error;
  EXPECT_EQ(expanded.mapped.flag_args, (std::vector<std::string>{"--acks=0", "--acks=1"})) << "the file first";
  EXPECT_EQ(expanded.mapped.security.protocol, driver::SecurityProtocol::kSsl);
  EXPECT_EQ(expanded.mapped.security.tls.ca_location, "/ca.pem");
  EXPECT_FALSE(expanded.mapped.security.tls.verify_hostname);
  std::filesystem::remove(path);
}

TEST(ClientProperties, BadKeysAndValuesNameThemselvesOnOneLineWithExitCode2) {
  const std::pair<std::vector<const char*>, std::string> cases[] = {
      {{"-X", "no.such.key=1"}, "no.such.key (-X): unknown property"},
      {{"-X", "transactional.id=t"}, "known but not supported"},
      {{"-X", "group.id="}, "group.id (-X): '' is not valid"},
      {{"-X", "enable.idempotence=maybe"}, "use true or false"},
      {{"-X", "enable.idempotence=true", "-X", "acks=1"}, "--idempotent needs --acks=all"},
      {{"-X", "sasl.mechanism=GSSAPI"}, "GSSAPI"},
      {{"-X", "ssl.truststore.type=JKS"}, "PKCS12"},
      {{"-X", "security.protocol=TLS"}, "use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
      {{"-X", "sasl.mechanism=DIGEST-MD5"}, "sasl.mechanism"},
      {{"-X", "security.protocol=SASL_SSL"}, "give sasl.username and sasl.password"},
      {{"-X", "acks=7"}, "--acks"},
      {{"-X", "novalue"}, "-X: 'novalue' is not valid"},
      {{"-X"}, "-X"},
      {{"--config=/no/such/file"}, "--config: cannot read '/no/such/file'"},
      {{"-X", "ssl.ca.location=/no/such/ca.pem"}, "ssl.ca.location: cannot read '/no/such/ca.pem'"},
      {{"-X", "enable.ssl.certificate.verification=maybe"}, "use true or false"},
      {{"-X", "sasl.jaas.config=com.example.Krb5LoginModule required;"}, "sasl.jaas.config"},
  };
  for (const auto& [args, expected] : cases) {
    std::vector<const char*> argv{"wirestress"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = parse_options(static_cast<int>(argv.size()), argv.data());
    SCOPED_TRACE(args.size() > 1 ? args[1] : args[0]);
    EXPECT_FALSE(out.options);
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.output.find(expected), std::string::npos) << out.output;
    EXPECT_EQ(out.output.find('\n'), std::string::npos) << out.output;
  }
}

TEST(ClientProperties, EnableIdempotenceMakesIdempotentProducersWithAcksAll) {
  const char* argv[] = {"wirestress", "-X", "enable.idempotence=true"};
  auto out = parse_options(3, argv);
  ASSERT_TRUE(out.options) << out.output;
  EXPECT_TRUE(out.options->run.idempotent);
  EXPECT_EQ(out.options->run.acks, -1) << "acks defaults to all, as in the Java client";
  const char* off[] = {"wirestress", "-X", "enable.idempotence=false"};
  auto plain = parse_options(3, off);
  ASSERT_TRUE(plain.options) << plain.output;
  EXPECT_FALSE(plain.options->run.idempotent);
  EXPECT_EQ(plain.options->run.acks, 1);
}

TEST(ClientProperties, SecretsNeverShowInErrorsOrTheRecordedCommandLine) {
  auto out = parse({"-X", "security.protocol=SASL_SSL", "-X", "sasl.jaas.config=hunter2 required"});
  ASSERT_FALSE(out.options);
  EXPECT_EQ(out.output.find("hunter2"), std::string::npos) << out.output;

  const char* argv[] = {"wirestress", "-X", "sasl.password=hunter2", "-Xssl.key.password=hunter3",
                        "-X", "sasl.username=alice", "-X", "sasl.oauthbearer.token=eyJ0", "--acks=1"};
  const std::string line = masked_command_line(static_cast<int>(std::size(argv)), argv);
  EXPECT_EQ(line,
            "wirestress -X sasl.password=*** -Xssl.key.password=*** -X sasl.username=alice -X "
            "sasl.oauthbearer.token=*** --acks=1");
}

TEST(ClientProperties, SerializersAreAcceptedWithANote) {
  std::vector<Property> props{{"key.serializer", "org.apache.kafka.common.serialization.StringSerializer", "-X"}};
  MappedProperties mapped;
  std::string error;
  ASSERT_TRUE(map_properties(props, mapped, error)) << error;
  ASSERT_EQ(mapped.notes.size(), 1u);
  EXPECT_NE(mapped.notes[0].find("no effect"), std::string::npos);
}

}  // namespace
}  // namespace ws::tools
