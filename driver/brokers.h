// What a run knows about each broker, shared by every worker: its address (host names resolved
// off the event loops), its node id, and the API versions negotiated with it. Versions are
// learnt once per broker per process: the first connection probes (ApiVersions, or the 3 s
// Kafka 0.9 fallback), every later connection of any worker, and of later runs in the same
// process (sweep and ceiling steps), starts from what it found.
//
// Touched when a connection opens or Metadata names a broker, never per request: one mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "driver/config.h"
#include "net/event_loop.h"

namespace ws::driver {

// The versions a client uses with one broker; -1 where the broker lacks the API.
struct BrokerVersions {
  bool has_api_versions = true;  // false: Kafka before 0.10, no ApiVersions request
  int16_t api_versions = -1;
  int16_t metadata = -1;
  int16_t produce = -1;
  int16_t fetch = -1;
  int16_t list_offsets = -1;
  int16_t sasl_handshake = -1;
  int16_t sasl_authenticate = -1;  // -1 with a SaslHandshake: Kafka 0.10's bare token frames
  // Consumer groups (driver/group_member.h).
  int16_t find_coordinator = -1;
  int16_t join_group = -1;
  int16_t sync_group = -1;
  int16_t heartbeat = -1;
  int16_t leave_group = -1;
  int16_t offset_commit = -1;
  int16_t offset_fetch = -1;
  int16_t init_producer_id = -1;  // --idempotent (Kafka 0.11+)
  bool operator==(const BrokerVersions&) const = default;
};
// Kafka 0.9's versions (it cannot tell them): Produce v1, Fetch v1, ListOffsets v0, Metadata v0.
BrokerVersions kafka_0_9_versions();

class BrokerRegistry {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr int32_t kUnknownNode = -1;

  enum class Address : uint8_t { kResolving, kReady, kFailed };
  enum class Versions : uint8_t { kUnknown, kProbing, kKnown };

  explicit BrokerRegistry(BrokerVersion mode = BrokerVersion::kAuto) : mode_(mode) {}

  // The bootstrap list, resolved now (blocking is fine before the run). False with a message.
  bool add_bootstrap(const std::vector<std::string>& addresses, std::string& error);
  size_t bootstrap_count() const { return bootstrap_count_; }  // indices [0, bootstrap_count)

  // A broker Metadata names. Returns its index: the one already known with this node id, or with
  // this address and no node id yet (a bootstrap address), or a new one. A host name that is not
  // numeric is resolved on a background thread (address() says kResolving until then). In auto
  // mode a new broker of a cluster whose known brokers are all Kafka 0.9 is taken for 0.9 too.
  uint32_t learn(int32_t node_id, std::string_view host, int32_t port);

  size_t size() const;
  Address address(uint32_t index, net::Endpoint* out = nullptr);
  std::string address_text(uint32_t index) const;
  std::string address_error(uint32_t index) const;
  int32_t node_id(uint32_t index) const;
  uint32_t find_node(int32_t node_id) const;  // kNone if unknown

  // Versions. With --broker-version=0.9 every broker is known to be 0.9 from the start.
  Versions versions(uint32_t index, BrokerVersions* out = nullptr) const;
  // One connection claims the probe (kUnknown -> kProbing); the others wait for its result.
  bool claim_probe(uint32_t index);
  // The probe could not even connect: let the next connection try.
  void release_probe(uint32_t index);
  void set_versions(uint32_t index, const BrokerVersions& v);
  BrokerVersion mode() const { return mode_; }

  // Forgets every broker's versions learnt by earlier runs of this process (tests).
  static void forget_process_cache();

 private:
  struct Entry {
    std::string text;  // host:port
    int32_t node_id = kUnknownNode;
    Address address_state = Address::kResolving;
    net::Endpoint endpoint;
    std::string error;
    std::future<bool> lookup;  // a host name being resolved
    Versions versions_state = Versions::kUnknown;
    BrokerVersions versions;
  };
  uint32_t add_locked(std::string text, int32_t node_id);
  void settle_lookup(Entry& e);

  BrokerVersion mode_;
  mutable std::mutex mutex_;
  std::deque<Entry> entries_;  // a deque: entries never move (lookups write into them)
  size_t bootstrap_count_ = 0;
};

}  // namespace ws::driver
