#include "driver/brokers.h"

#include <arpa/inet.h>

#include <chrono>
#include <map>

#include "protocol/framing.h"

namespace ws::driver {
namespace {

// Versions learnt by earlier runs of this process, by address: a sweep's later steps skip the
// probe (3 s against Kafka 0.9).
std::mutex g_cache_mutex;
std::map<std::string, BrokerVersions>& process_cache() {
  static std::map<std::string, BrokerVersions> cache;
  return cache;
}

bool is_numeric_host(std::string_view host) {
  const std::string h(host);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

std::string join_host_port(std::string_view host, int32_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

}  // namespace

BrokerVersions kafka_0_9_versions() {
  BrokerVersions v;
  v.has_api_versions = false;
  v.api_versions = -1;
  v.metadata = protocol::kafka_0_9_version(protocol::MetadataRequest::kApiKey);
  v.produce = protocol::kafka_0_9_version(protocol::ProduceRequest::kApiKey);
  v.fetch = protocol::kafka_0_9_version(protocol::FetchRequest::kApiKey);
  v.list_offsets = protocol::kafka_0_9_version(protocol::ListOffsetsRequest::kApiKey);
  v.find_coordinator = protocol::kafka_0_9_version(protocol::FindCoordinatorRequest::kApiKey);
  v.join_group = protocol::kafka_0_9_version(protocol::JoinGroupRequest::kApiKey);
  v.sync_group = protocol::kafka_0_9_version(protocol::SyncGroupRequest::kApiKey);
  v.heartbeat = protocol::kafka_0_9_version(protocol::HeartbeatRequest::kApiKey);
  v.leave_group = protocol::kafka_0_9_version(protocol::LeaveGroupRequest::kApiKey);
  v.offset_commit = protocol::kafka_0_9_version(protocol::OffsetCommitRequest::kApiKey);
  v.offset_fetch = protocol::kafka_0_9_version(protocol::OffsetFetchRequest::kApiKey);
  return v;
}

void BrokerRegistry::forget_process_cache() {
  std::lock_guard lock(g_cache_mutex);
  process_cache().clear();
}

uint32_t BrokerRegistry::add_locked(std::string text, int32_t node_id) {
  Entry& e = entries_.emplace_back();
  e.text = std::move(text);
  e.node_id = node_id;
  if (mode_ == BrokerVersion::kV0_9) {
    e.versions_state = Versions::kKnown;
    e.versions = kafka_0_9_versions();
  } else {
    std::lock_guard lock(g_cache_mutex);
    const auto it = process_cache().find(e.text);
    // A cached "no ApiVersions" only holds in auto mode; 0.10+ mode always negotiates.
    if (it != process_cache().end() && (it->second.has_api_versions || mode_ == BrokerVersion::kAuto)) {
      e.versions_state = Versions::kKnown;
      e.versions = it->second;
    }
  }
  return static_cast<uint32_t>(entries_.size() - 1);
}

bool BrokerRegistry::add_bootstrap(const std::vector<std::string>& addresses, std::string& error) {
  std::lock_guard lock(mutex_);
  for (const auto& text : addresses) {
    net::Endpoint ep;
    std::string why;
    if (!net::resolve(text, ep, why)) {
      error = "--bootstrap: cannot use '" + text + "': " + why;
      return false;
    }
    Entry& e = entries_[add_locked(text, kUnknownNode)];
    e.endpoint = std::move(ep);
    e.address_state = Address::kReady;
  }
  bootstrap_count_ = entries_.size();
  if (entries_.empty()) {
    error = "--bootstrap: no broker address given";
    return false;
  }
  return true;
}

uint32_t BrokerRegistry::learn(int32_t node_id, std::string_view host, int32_t port) {
  std::string text = join_host_port(host, port);
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].node_id == node_id && node_id != kUnknownNode) {
      if (entries_[i].text == text) return static_cast<uint32_t>(i);
      // The node moved to another address (a restarted broker): its old entry keeps its counters;
      // the node id now belongs to a new entry.
      entries_[i].node_id = kUnknownNode;
      break;
    }
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].node_id == kUnknownNode && entries_[i].text == text) {
      entries_[i].node_id = node_id;
      return static_cast<uint32_t>(i);
    }
  }
  const uint32_t index = add_locked(text, node_id);
  Entry& e = entries_[index];
  if (mode_ == BrokerVersion::kAuto && e.versions_state == Versions::kUnknown) {
    // A cluster whose brokers so far all lacked ApiVersions is a Kafka 0.9 cluster: its other
    // brokers start as 0.9 too instead of each making clients wait 3 s for the fallback. Safe
    // even in a cluster half-way through an upgrade: a newer broker still speaks 0.9's versions.
    bool any_0_9 = false, any_newer = false;
    for (const auto& other : entries_) {
      if (other.versions_state != Versions::kKnown) continue;
      (other.versions.has_api_versions ? any_newer : any_0_9) = true;
    }
    if (any_0_9 && !any_newer) {
      e.versions_state = Versions::kKnown;
      e.versions = kafka_0_9_versions();
    }
  }
  if (is_numeric_host(host)) {
    // inet_pton said numeric: getaddrinfo does not block for these.
    e.address_state = net::resolve(e.text, e.endpoint, e.error) ? Address::kReady : Address::kFailed;
  } else {
    // A name may take a DNS round trip or a timeout: never on an event loop.
    e.lookup = std::async(std::launch::async, [&e] { return net::resolve(e.text, e.endpoint, e.error); });
  }
  return index;
}

void BrokerRegistry::settle_lookup(Entry& e) {
  if (e.address_state != Address::kResolving || !e.lookup.valid()) return;
  if (e.lookup.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  e.address_state = e.lookup.get() ? Address::kReady : Address::kFailed;
}

size_t BrokerRegistry::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

BrokerRegistry::Address BrokerRegistry::address(uint32_t index, net::Endpoint* out) {
  std::lock_guard lock(mutex_);
  if (index >= entries_.size()) return Address::kFailed;
  Entry& e = entries_[index];
  settle_lookup(e);
  if (e.address_state == Address::kReady && out) *out = e.endpoint;
  return e.address_state;
}

std::string BrokerRegistry::address_text(uint32_t index) const {
  std::lock_guard lock(mutex_);
  return index < entries_.size() ? entries_[index].text : std::string();
}

std::string BrokerRegistry::address_error(uint32_t index) const {
  std::lock_guard lock(mutex_);
  return index < entries_.size() ? entries_[index].error : std::string();
}

int32_t BrokerRegistry::node_id(uint32_t index) const {
  std::lock_guard lock(mutex_);
  return index < entries_.size() ? entries_[index].node_id : kUnknownNode;
}

uint32_t BrokerRegistry::find_node(int32_t node_id) const {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].node_id == node_id) return static_cast<uint32_t>(i);
  }
  return kNone;
}

BrokerRegistry::Versions BrokerRegistry::versions(uint32_t index, BrokerVersions* out) const {
  std::lock_guard lock(mutex_);
  if (index >= entries_.size()) return Versions::kUnknown;
  const Entry& e = entries_[index];
  if (e.versions_state == Versions::kKnown && out) *out = e.versions;
  return e.versions_state;
}

bool BrokerRegistry::claim_probe(uint32_t index) {
  std::lock_guard lock(mutex_);
  if (index >= entries_.size() || entries_[index].versions_state != Versions::kUnknown) return false;
  entries_[index].versions_state = Versions::kProbing;
  return true;
}

void BrokerRegistry::release_probe(uint32_t index) {
  std::lock_guard lock(mutex_);
  if (index < entries_.size() && entries_[index].versions_state == Versions::kProbing) {
    entries_[index].versions_state = Versions::kUnknown;
  }
}

void BrokerRegistry::set_versions(uint32_t index, const BrokerVersions& v) {
  std::lock_guard lock(mutex_);
  if (index >= entries_.size()) return;
  entries_[index].versions_state = Versions::kKnown;
  entries_[index].versions = v;
  std::lock_guard cache_lock(g_cache_mutex);
  process_cache()[entries_[index].text] = v;
}

}  // namespace ws::driver
