#include "driver/produce_encoder.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace ws::driver {

std::span<const uint8_t> record_key(std::string& scratch, uint32_t producer, uint64_t sequence, uint32_t key_size) {
  char key[48];
  const int n = std::snprintf(key, sizeof key, "%u-%llu", producer, static_cast<unsigned long long>(sequence));
  scratch.assign(key, static_cast<size_t>(n));
  scratch.resize(key_size, '.');
  return {reinterpret_cast<const uint8_t*>(scratch.data()), scratch.size()};
}

ProduceEncoder::ProduceEncoder(const RunConfig& config, uint32_t run_id, int64_t wall_minus_steady_ns,
                               std::shared_ptr<const PayloadPool> payloads)
    : config_(config),
      run_id_(run_id),
      wall_minus_steady_ns_(wall_minus_steady_ns),
      payloads_(payloads ? std::move(payloads)
                         : std::make_shared<const PayloadPool>(PayloadPool::generate(config, run_id))) {
  request_.topic_data.resize(1);
}

std::span<const uint8_t> ProduceEncoder::next_value(const VerifyStamp& stamp) {
  const size_t index = next_payload_;
  next_payload_ = next_payload_ + 1 == payloads_->size() ? 0 : next_payload_ + 1;
  const std::span<const uint8_t> value = payloads_->value(index);
  if (!config_.verify) return value;
  // The stamp rewrites only the header: the rest still holds the same value's bytes.
  if (value_from_ != index) {
    value_.assign(value.begin(), value.end());
    value_from_ = index;
  }
  stamp_value(std::span<uint8_t>(value_), stamp);
  return value_;
}

void ProduceEncoder::write_set(std::vector<uint8_t>& out, std::span<const PendingRecord> records,
                               uint32_t producer, int8_t magic, int64_t timestamp_ms,
                               const protocol::BatchProducer& batch) {
  writer_.begin(out, {.magic = magic,
                      .codec = config_.compression,
                      .producer_id = batch.id,
                      .producer_epoch = batch.epoch,
                      .base_sequence = batch.base_sequence});
  for (const PendingRecord& r : records) {
    protocol::RecordToWrite record;
    // The writer copies the value at add(): one stamped buffer serves every record.
    record.value = next_value(VerifyStamp{.run = run_id_,
                                          .producer = producer,
                                          .sequence = r.sequence,
                                          .send_time_us = (r.intended_ns + wall_minus_steady_ns_) / 1000});
    record.timestamp_ms = timestamp_ms;
    if (config_.key_size > 0) record.key = record_key(key_, producer, r.sequence, config_.key_size);
    writer_.add(record);
  }
  writer_.finish();
}

std::vector<uint8_t>& ProduceEncoder::rewritable_set(bool keep_bytes) {
  if (repeat_set_.use_count() == 1) return *repeat_set_;
  // A spare that only this list holds is free; else a new buffer (its pages are touched once,
  // and it is kept among the spares when it is let go of).
  std::shared_ptr<std::vector<uint8_t>> next;
  const auto free = std::find_if(spare_sets_.begin(), spare_sets_.end(),
                                 [](const std::shared_ptr<std::vector<uint8_t>>& b) { return b.use_count() == 1; });
  if (free != spare_sets_.end()) {
    next = std::move(*free);
    spare_sets_.erase(free);
  } else {
    next = std::make_shared<std::vector<uint8_t>>();
  }
  if (keep_bytes) next->assign(repeat_set_->begin(), repeat_set_->end());
  bytes_set_aside_ += repeat_set_->size();  // held by sends until they complete
  if (spare_sets_.size() < kSpareSets) spare_sets_.push_back(std::move(repeat_set_));  // free after its send
  repeat_set_ = std::move(next);
  return *repeat_set_;
}

protocol::Bytes ProduceEncoder::repeated_set(std::span<const PendingRecord> records, uint32_t producer,
                                             int64_t timestamp_ms, const protocol::BatchProducer& batch) {
  if (repeat_records_ == records.size() && repeat_first_payload_ == next_payload_) {
    // The same values as encoding would take, in the same order: the pool moves on past them.
    next_payload_ = (next_payload_ + records.size()) % payloads_->size();
    // Within a millisecond (and without idempotence) the set comes out the same: the links send
    // it from one buffer, however many of their sends still read it.
    if (protocol::record_batch_v2_stamped(*repeat_set_, timestamp_ms, batch)) {
      return protocol::Bytes(repeat_set_->data(), repeat_set_->size());
    }
    std::vector<uint8_t>& set = rewritable_set(true);
    protocol::restamp_record_batch_v2(set, timestamp_ms, batch);
    return protocol::Bytes(set.data(), set.size());
  }
  repeat_first_payload_ = next_payload_;
  std::vector<uint8_t>& set = rewritable_set(false);
  set.clear();
  write_set(set, records, producer, 2, timestamp_ms, batch);
  repeat_records_ = records.size();
  return protocol::Bytes(set.data(), set.size());
}

size_t ProduceEncoder::append(ConnectionTable& links, LinkId link, const std::string& topic,
                              std::span<const PendingRecord> records, uint32_t producer, int8_t magic,
                              int16_t version, InFlight meta, ProducerIdentity* identity) {
  // A partition's next batch: its sequences are taken as the request is built, in send order.
  const auto batch_for = [&](int32_t partition, size_t n) {
    if (!identity || magic != 2) return protocol::BatchProducer{};
    return identity->next_batch(partition, static_cast<uint32_t>(n));
  };
  const int64_t timestamp_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto& partitions = request_.topic_data[0].partition_data;
  partitions.clear();
  const std::shared_ptr<std::vector<uint8_t>>* sent_from = nullptr;  // the set's buffer, if links may send from it
  // Records come grouped by partition: equal ends mean one partition.
  if (!records.empty() && records.front().partition == records.back().partition && can_repeat_sets(magic)) {
    partitions.emplace_back();
    partitions.back().index = records.front().partition;
    partitions.back().records =
        repeated_set(records, producer, timestamp_ms, batch_for(records.front().partition, records.size()));
    sent_from = &repeat_set_;
  } else {
    // One record set per run of equal partitions, all in one buffer (views are taken once it no
    // longer grows).
    sets_.clear();
    ranges_.clear();
    for (size_t i = 0; i < records.size();) {
      const int32_t partition = records[i].partition;
      size_t end = i;
      while (end < records.size() && records[end].partition == partition) ++end;
      const size_t start = sets_.size();
      write_set(sets_, records.subspan(i, end - i), producer, magic, timestamp_ms, batch_for(partition, end - i));
      ranges_.emplace_back(start, sets_.size() - start);
      partitions.emplace_back();
      partitions.back().index = partition;
      i = end;
    }
    for (size_t p = 0; p < partitions.size(); ++p) {
      partitions[p].records = protocol::Bytes(sets_.data() + ranges_[p].first, ranges_[p].second);
    }
  }
  request_.topic_data[0].name = topic;
  request_.acks = config_.acks;
  request_.timeout_ms =
      static_cast<int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(config_.request_timeout).count());
  meta.records = static_cast<uint32_t>(records.size());
  meta.expects_response = config_.acks != 0;
  return links.append_produce(link, request_, version, meta, sent_from);
}

std::span<const PendingRecord> PartitionGrouper::group(std::span<const PendingRecord> records) {
  const auto by_partition = [](const PendingRecord& a, const PendingRecord& b) { return a.partition < b.partition; };
  if (std::is_sorted(records.begin(), records.end(), by_partition)) return records;
  const auto [lowest, highest] = std::minmax_element(records.begin(), records.end(), by_partition);
  grouped_.assign(records.begin(), records.end());
  constexpr int32_t kMaxCountedPartition = 1 << 16;  // partition ids beyond: a stable sort instead
  if (lowest->partition < 0 || highest->partition >= kMaxCountedPartition) {
    std::stable_sort(grouped_.begin(), grouped_.end(), by_partition);
    return grouped_;
  }
  // Count each partition's records, turn the counts into start positions, then place each record.
  starts_.assign(static_cast<size_t>(highest->partition) + 2, 0);
  for (const PendingRecord& r : records) ++starts_[static_cast<size_t>(r.partition) + 1];
  for (size_t p = 1; p < starts_.size(); ++p) starts_[p] += starts_[p - 1];
  for (const PendingRecord& r : records) grouped_[starts_[static_cast<size_t>(r.partition)]++] = r;
  return grouped_;
}

}  // namespace ws::driver
