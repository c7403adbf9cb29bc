// librdkafka's mock cluster, in-process: a real Kafka protocol peer for demos and tests when no
// broker is given. Its broker threads live inside an rd_kafka_t handle that does nothing else.
// Used in-process by wirestress (no --bootstrap) and as the ws_mock_cluster binary.
#pragma once

#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace ws::brokers {

class MockCluster {
 public:
  MockCluster() = default;
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;
  ~MockCluster();

  // Starts `brokers` mock brokers on 127.0.0.1. The mock speaks the protocol versions of the
  // librdkafka it is linked to (2.0.2: ApiVersions v0-3, Produce up to v7, Fetch up to v11,
  // Metadata up to v9).
  bool start(int brokers, std::string& error);
  // Creates a topic with replication factor 1 (the mock lists every broker as a replica), its
  // leaders spread over the brokers in turn.
  bool create_topic(const std::string& name, int partitions, std::string& error);
  // Both at once: starts, then creates `topic` (if non-empty).
  bool start(int brokers, const std::string& topic, int partitions, std::string& error);

  // "127.0.0.1:p1,127.0.0.1:p2,..." once started.
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  int brokers_ = 0;
  std::string bootstrap_;
};

}  // namespace ws::brokers
