#include "tools/brokers/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace ws::brokers {

MockCluster::~MockCluster() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_) rd_kafka_destroy(handle_);
}

bool MockCluster::start(int brokers, std::string& error) {
  if (handle_) {
    error = "the mock cluster is running already";
    return false;
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the mock's threads; keep its "no bootstrap.servers" warning quiet.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!handle_) {
    error = std::string("cannot start librdkafka's mock cluster: rd_kafka_new: ") + err;
    return false;
  }
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  brokers_ = brokers;
  if (!cluster_) {
    error = "cannot start librdkafka's mock cluster: rd_kafka_mock_cluster_new failed";
    return false;
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  return true;
}

bool MockCluster::create_topic(const std::string& name, int partitions, std::string& error) {
  if (!cluster_) {
    error = "mock cluster: not started";
    return false;
  }
  const rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "mock cluster: cannot create topic " + name + ": " + rd_kafka_err2str(e);
    return false;
  }
  // The mock picks leaders at random (and may leave a broker leading nothing): spread them in
  // turn, partition p on broker p % N + 1, as kafka-topics.sh does.
  for (int p = 0; brokers_ > 1 && p < partitions; ++p) {
    rd_kafka_mock_partition_set_leader(cluster_, name.c_str(), p, p % brokers_ + 1);
  }
  return true;
}

bool MockCluster::start(int brokers, const std::string& topic, int partitions, std::string& error) {
  return start(brokers, error) && (topic.empty() || create_topic(topic, partitions, error));
}

}  // namespace ws::brokers
