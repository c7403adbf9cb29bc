#include "tools/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace ws::tools {

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_) rd_kafka_destroy(handle_);
}

bool EmbeddedBroker::start(int brokers, const std::string& topic, int partitions, std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the mock's threads; keep its "no bootstrap.servers" warning quiet.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!handle_) {
    error = std::string("cannot start the embedded broker: ") + err;
    return false;
  }
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (!cluster_) {
    error = "cannot start the embedded broker: rd_kafka_mock_cluster_new failed";
    return false;
  }
  if (!topic.empty()) {
    const rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error = "embedded broker: cannot create topic " + topic + ": " + rd_kafka_err2str(e);
      return false;
    }
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  return true;
}

}  // namespace ws::tools
