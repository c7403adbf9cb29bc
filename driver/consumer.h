// One simulated consumer: a small plain state machine, driven by its worker. It reads every
// partition of its topic on its own, as if alone in its consumer group (no coordinator).
//
//   WaitingMetadata -> Connecting -> Positioning -> Fetching -> Done
//                                                              any state -> Failed
//
// Like the Java consumer, it keeps one connection to each leader of its partitions, with one
// ListOffsets or Fetch in flight per connection covering only that leader's partitions. When a
// leader moves, only the partitions it led move to the new leader's connection. Positioning asks
// ListOffsets where to start (--consume-from); a consumer with every partition positioned is
// ready, and the producers start only once every consumer is (so nothing the run writes is
// missed). Every record set goes to its RecordIntake (offsets, --verify checks, end-to-end
// latency). It stops when it has read its --messages, or when every producer is done and it holds
// everything they had acknowledged (or reached the log end on every connection).
//
// With --group-mode it is a member of a consumer group (its GroupMember, over a coordinator
// connection of its own): it reads only the partitions assigned to it, from the group's committed
// offsets, is ready once assigned and positioned (a member assigned nothing is ready at once), stops
// reading when a rebalance takes its assignment, and stays in the group after it has read all it
// will until every consumer of the run has, then leaves (only then is it settled for its worker).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/client_context.h"
#include "driver/connections.h"
#include "driver/group_member.h"
#include "driver/record_intake.h"

namespace ws::driver {

class Consumer {
 public:
  enum class State : uint8_t {
    kWaitingMetadata,
    kJoiningGroup,  // a group member without an assignment (joining, or rebalancing)
    kConnecting,   // a leader's connection is not ready yet
    kPositioning,  // some partition has no start offset yet
    kFetching,
    kDone,
    kFailed,
  };

  // `index`: in the worker (its links' owner id); `global_index`: among the run's consumers.
  Consumer(const RunConfig& config, uint32_t index, uint32_t global_index, std::optional<uint64_t> quota);

  void start(ClientContext& ctx, int64_t now);
  void on_metadata(ClientContext& ctx, int64_t now);
  void on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void on_timer(ClientContext& ctx, int64_t now);  // held-back requests' retries
  // Every producer is done: a consumer that already holds everything stops now.
  void on_producers_done(ClientContext& ctx, int64_t now);
  // The run is over for consumers: settle as it is ("behind" if it still expected records).
  void stop(ClientContext& ctx, int64_t now);
  // Fails with `why` (the brokers are unreachable: the run says so).
  void give_up(ClientContext& ctx, const char* why, int64_t now);

  State state() const { return state_; }
  bool settled() const { return state_ == State::kDone || state_ == State::kFailed; }
  bool ever_ready() const { return ever_ready_; }
  bool fetching() const { return state_ == State::kFetching; }
  RecordIntake& intake() { return intake_; }
  const RecordIntake& intake() const { return intake_; }
  size_t connections() const { return links_.size(); }
  uint32_t topic() const { return topic_; }
  LinkId link() const { return links_.empty() ? UINT32_MAX : links_.front().link; }
  const GroupMember* group() const { return group_.get(); }  // null without --group-mode

 private:
  // The connection to one leader and the partitions (cursors) it leads.
  struct FetchLink {
    uint32_t broker = 0;
    LinkId link = UINT32_MAX;
    bool ready = false;
    bool in_flight = false;       // a ListOffsets or Fetch awaits its answer
    bool stale = false;           // a leader error: wait for fresher metadata
    bool catch_up_answered = false;  // its last answered fetch was sent after every producer was done
    bool catch_up_in_flight = false;
    int16_t fetch_version = -1;
    int16_t list_offsets_version = -1;
    int64_t retry_at_ns = 0;      // a request held back after an error, until then
    std::vector<int32_t> partitions;  // sorted
  };

  FetchLink* find(LinkId link);
  void assign_partitions(ClientContext& ctx, int64_t now);
  void next_request(ClientContext& ctx, FetchLink& l, int64_t now);  // ListOffsets, Fetch, or nothing
  bool positioned(const FetchLink& l);
  void send_list_offsets(ClientContext& ctx, FetchLink& l, int64_t now);
  void send_fetch(ClientContext& ctx, FetchLink& l, int64_t now);
  void handle_list_offsets(ClientContext& ctx, FetchLink& l, const LinkEvent& e, int64_t now);
  void handle_fetch(ClientContext& ctx, FetchLink& l, const LinkEvent& e, int64_t now);
  void retry_later(ClientContext& ctx, FetchLink& l, int64_t now);
  void update_state(ClientContext& ctx, int64_t now);
  bool finished(const ClientContext& ctx) const;
  bool has_everything(const ClientContext& ctx) const;
  void mark_failing(const char* why);  // the first failure is the one reported
  void settle(ClientContext& ctx, State final_state, int64_t now);
  // Group members (see GroupMember): the group's answers turned into what the consumer reads.
  void on_group_metadata(ClientContext& ctx, int64_t now);
  void on_group_change(ClientContext& ctx, GroupMember::Change change, int64_t now);
  void take_assignment(ClientContext& ctx, int64_t now);
  void drop_assignment(ClientContext& ctx, int64_t now);
  void release(ClientContext& ctx, int64_t now);  // out of the group: settled for the worker
  int64_t read_mark(int32_t partition) const;

  uint32_t index_;
  uint32_t topic_;
  State state_ = State::kWaitingMetadata;
  bool ever_ready_ = false;
  std::vector<FetchLink> links_;
  std::string client_id_;
  RecordIntake intake_;
  std::unique_ptr<GroupMember> group_;
  bool released_ = false;
  // The cursors of its last assignment and that assignment's generation: a partition it keeps
  // in the very next generation goes on from where it stopped (nobody else read it in between).
  std::vector<PartitionCursor> previous_cursors_;
  int32_t previous_generation_ = -1;
  // Per partition (sorted), the offset up to which it ever read: records below it read again
  // after a rebalance moved its position back are rebalance duplicates.
  std::vector<std::pair<int32_t, int64_t>> read_marks_;
};

}  // namespace ws::driver
