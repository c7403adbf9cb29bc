#include "driver/produce_encoder.h"

#include <chrono>
#include <cstdio>

#include "driver/verify.h"

namespace ws::driver {

ProduceEncoder::ProduceEncoder(const RunConfig& config, uint32_t run_id, int64_t wall_minus_steady_ns)
    : config_(config), run_id_(run_id), wall_minus_steady_ns_(wall_minus_steady_ns) {
  payload_.resize(config.message_size);
  for (size_t i = 0; i < payload_.size(); ++i) payload_[i] = static_cast<uint8_t>('a' + i % 26);
  request_.topic_data.resize(1);
  request_.topic_data[0].partition_data.resize(1);
}

void ProduceEncoder::stamp_values(const ProduceBatch& batch) {
  // One stamped copy of the payload per record: the record writer takes views until finish().
  const size_t size = payload_.size();
  if (values_.size() < batch.records * size) {
    const size_t old = values_.size() / size;
    values_.resize(batch.records * size);
    for (size_t i = old; i < batch.records; ++i) std::copy(payload_.begin(), payload_.end(), values_.begin() + i * size);
  }
  for (uint32_t i = 0; i < batch.records; ++i) {
    const int64_t intended = batch.first_intended_ns + static_cast<int64_t>(i) * batch.interval_ns;
    stamp_value(std::span<uint8_t>(values_.data() + i * size, size),
                VerifyStamp{.run = run_id_,
                            .producer = batch.producer,
                            .sequence = batch.first_sequence + i,
                            .send_time_us = (intended + wall_minus_steady_ns_) / 1000});
  }
}

size_t ProduceEncoder::append(ConnectionTable& links, LinkId link, const ProduceBatch& batch, InFlight meta) {
  record_set_.clear();
  writer_.begin(record_set_, {.magic = batch.magic, .codec = config_.compression});
  const int64_t timestamp_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (config_.verify) stamp_values(batch);
  for (uint32_t i = 0; i < batch.records; ++i) {
    protocol::RecordToWrite record;
    record.value = config_.verify ? protocol::Bytes(values_.data() + i * payload_.size(), payload_.size())
                                  : protocol::Bytes(payload_);
    record.timestamp_ms = timestamp_ms;
    if (config_.key_size > 0) {
      // Keys differ per producer and record: "<producer>-<sequence>", padded or cut to --key-size.
      char key[48];
      const int n = std::snprintf(key, sizeof key, "%u-%llu", batch.producer,
                                  static_cast<unsigned long long>(batch.first_sequence + i));
      key_.assign(key, static_cast<size_t>(n));
      key_.resize(config_.key_size, '.');
      record.key = protocol::Bytes(reinterpret_cast<const uint8_t*>(key_.data()), key_.size());
    }
    writer_.add(record);
  }
  writer_.finish();

  auto& topic = request_.topic_data[0];
  topic.name = config_.topic;
  topic.partition_data[0].index = batch.partition;
  topic.partition_data[0].records = protocol::Bytes(record_set_);
  request_.acks = config_.acks;
  request_.timeout_ms =
      static_cast<int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(config_.request_timeout).count());
  meta.records = batch.records;
  meta.expects_response = config_.acks != 0;
  return links.append(link, request_, batch.version, meta);
}

}  // namespace ws::driver
