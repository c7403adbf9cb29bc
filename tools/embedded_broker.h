// librdkafka's mock cluster, in-process: a real Kafka protocol peer for demos and tests when no
// broker is given. It hosts its broker threads inside an rd_kafka_t handle that does nothing else.
#pragma once

#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace ws::tools {

class EmbeddedBroker {
 public:
  EmbeddedBroker() = default;
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;
  ~EmbeddedBroker();

  // Starts `brokers` mock brokers on 127.0.0.1 and creates `topic` with `partitions` (if non-empty).
  bool start(int brokers, const std::string& topic, int partitions, std::string& error);
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace ws::tools
