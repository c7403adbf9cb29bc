// The librdkafka side of bench/compare_cpu.py: one producer instance (one broker connection)
// sending N messages of S bytes, one message per request, as fast as it can. Prints delivered count.
// Usage: ws_rdkafka_producer BOOTSTRAP TOPIC MESSAGES SIZE ACKS [kafka09]
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
long delivered = 0, failed = 0;
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) { (m->err ? failed : delivered)++; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC MESSAGES SIZE ACKS [kafka09]\n", argv[0]);
    return 2;
  }
  const long messages = std::atol(argv[3]);
  const std::string payload(static_cast<size_t>(std::atol(argv[4])), 'x');
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const char* v) {
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", err);
      std::exit(2);
    }
  };
  set("bootstrap.servers", argv[1]);
  set("acks", argv[5]);
  set("linger.ms", "0");
  set("batch.num.messages", "1");  // one message per request, as wirestress --batch=1
  set("max.in.flight", "5");
  set("queue.buffering.max.messages", "100000");
  if (argc > 6 && std::string(argv[6]) == "kafka09") {
    set("api.version.request", "false");
    set("broker.version.fallback", "0.9.0.1");
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, argv[2], nullptr);
  for (long i = 0; i < messages;) {
    if (rd_kafka_produce(topic, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload.data()), payload.size(),
                         nullptr, 0, nullptr) == 0) {
      ++i;
    } else {
      rd_kafka_poll(rk, 1);  // queue full: serve delivery reports
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60000);
  std::printf("delivered %ld failed %ld\n", delivered, failed);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  return failed ? 1 : 0;
}
