#include "driver/metrics.h"

namespace ws::driver {

const char* failure_name(Failure f) {
  switch (f) {
    case Failure::kConnectFailed: return "connect_failed";
    case Failure::kDisconnected: return "disconnected";
    case Failure::kRequestTimeout: return "request_timeout";
    case Failure::kDecodeError: return "decode_error";
    case Failure::kCorrelationMismatch: return "correlation_mismatch";
    case Failure::kMetadataFailed: return "metadata_failed";
    case Failure::kUnsupported: return "unsupported_by_broker";
    case Failure::kResponseTooLarge: return "response_too_large";
    case Failure::kTlsHandshakeFailed: return "tls_handshake_failed";
    case Failure::kCertificateVerifyFailed: return "certificate_verify_failed";
    case Failure::kAuthenticationFailed: return "authentication_failed";
    case Failure::kUnsupportedSaslMechanism: return "unsupported_sasl_mechanism";
    case Failure::kReceiveMemoryExhausted: return "receive_memory_exhausted";
    case Failure::kCount: break;
  }
  return "unknown";
}

void RunCounters::add(const RunCounters& o) {
  messages_sent += o.messages_sent;
  bytes_sent += o.bytes_sent;
  requests_sent += o.requests_sent;
  messages_acked += o.messages_acked;
  requests_acked += o.requests_acked;
  messages_failed += o.messages_failed;
  connections_attempted += o.connections_attempted;
  connections_established += o.connections_established;
  connections_failed += o.connections_failed;
  reconnects += o.reconnects;
  connections_churned += o.connections_churned;
  connections_open += o.connections_open;
  clients_producing += o.clients_producing;
  producers_connected += o.producers_connected;
  consumers_connected += o.consumers_connected;
  clients_connected_late += o.clients_connected_late;
  metadata_refreshes += o.metadata_refreshes;
  leader_changes += o.leader_changes;
  latency_out_of_range += o.latency_out_of_range;
  messages_unsent_due += o.messages_unsent_due;
  loop_busy_ns += o.loop_busy_ns;
  consume_received += o.consume_received;
  consume_bytes += o.consume_bytes;
  consume_fetches += o.consume_fetches;
  consume_duplicates += o.consume_duplicates;
  consume_out_of_order += o.consume_out_of_order;
  consume_corrupt += o.consume_corrupt;
  consume_other_runs += o.consume_other_runs;
  consumers_fetching += o.consumers_fetching;
  producer_ids_assigned += o.producer_ids_assigned;
  producer_id_resets += o.producer_id_resets;
  produce_duplicate_sequences += o.produce_duplicate_sequences;
  for (size_t i = 0; i < failures.size(); ++i) failures[i] += o.failures[i];
  for (const auto& [code, n] : o.errors_by_code) errors_by_code[code] += n;
  for (const auto& [api, n] : o.unanswered_by_api) unanswered_by_api[api] += n;
  for (size_t i = 0; i < o.brokers.size(); ++i) broker(i).add(o.brokers[i]);
  groups.add(o.groups);
}

// Counters of one interval: cumulative values minus the previous tick's; gauges stay as they are.
RunCounters counters_since(const RunCounters& now, const RunCounters& before) {
  RunCounters d = now;
  d.messages_sent -= before.messages_sent;
  d.bytes_sent -= before.bytes_sent;
  d.requests_sent -= before.requests_sent;
  d.messages_acked -= before.messages_acked;
  d.requests_acked -= before.requests_acked;
  d.messages_failed -= before.messages_failed;
  d.connections_attempted -= before.connections_attempted;
  d.connections_established -= before.connections_established;
  d.connections_failed -= before.connections_failed;
  d.reconnects -= before.reconnects;
  d.connections_churned -= before.connections_churned;
  d.producers_connected -= before.producers_connected;
  d.consumers_connected -= before.consumers_connected;
  d.clients_connected_late -= before.clients_connected_late;
  d.metadata_refreshes -= before.metadata_refreshes;
  d.leader_changes -= before.leader_changes;
  d.latency_out_of_range -= before.latency_out_of_range;
  d.messages_unsent_due -= before.messages_unsent_due;
  d.loop_busy_ns -= before.loop_busy_ns;
  d.consume_received -= before.consume_received;
  d.consume_bytes -= before.consume_bytes;
  d.consume_fetches -= before.consume_fetches;
  d.consume_duplicates -= before.consume_duplicates;
  d.consume_out_of_order -= before.consume_out_of_order;
  d.consume_corrupt -= before.consume_corrupt;
  d.consume_other_runs -= before.consume_other_runs;
  d.producer_ids_assigned -= before.producer_ids_assigned;
  d.producer_id_resets -= before.producer_id_resets;
  d.produce_duplicate_sequences -= before.produce_duplicate_sequences;
  for (size_t i = 0; i < d.failures.size(); ++i) d.failures[i] -= before.failures[i];
  for (auto& [code, n] : d.errors_by_code) {
    auto it = before.errors_by_code.find(code);
    if (it != before.errors_by_code.end()) n -= it->second;
  }
  for (auto& [api, n] : d.unanswered_by_api) {
    auto it = before.unanswered_by_api.find(api);
    if (it != before.unanswered_by_api.end()) n -= it->second;
  }
  for (size_t i = 0; i < d.brokers.size() && i < before.brokers.size(); ++i) {
    d.brokers[i].connections_established -= before.brokers[i].connections_established;
    d.brokers[i].connections_failed -= before.brokers[i].connections_failed;
    d.brokers[i].produce_requests -= before.brokers[i].produce_requests;
    d.brokers[i].produce_records_failed -= before.brokers[i].produce_records_failed;
    d.brokers[i].fetch_requests -= before.brokers[i].fetch_requests;
    d.brokers[i].fetch_errors -= before.brokers[i].fetch_errors;
  }
  d.groups.subtract(before.groups);
  return d;
}

}  // namespace ws::driver
