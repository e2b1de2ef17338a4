#ifndef COMITY_SERVICES_WORKFLOW_ENGINE_GROUP_H_
#define COMITY_SERVICES_WORKFLOW_ENGINE_GROUP_H_

// The engine's insides, shared by engine.cc (the pipeline and the lifecycle actions) and
// engine_changes.cc (directory changes, the feed): the overlay of changes not yet
// durable and the commit group under construction. Not part of the engine's interface.

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "comity/storage/v1/records.pb.h"
#include "services/audit/chain.h"
#include "services/workflow/engine.h"
#include "services/workflow/indexes.h"
#include "storage/keys.h"

namespace comity::workflow {

using storage::Column;

// What the sequencer has applied, tagged with the group that wrote it, until that group is
// durable: later commands read through it, so they see changes still on their way to disk.
struct Engine::Overlay {
  template <typename T>
  struct Tagged {
    uint64_t group;
    T value;
  };
  std::map<std::string, Tagged<v1::Request>> records;
  // Records whose groups are durable, most recent last: commands on a request usually follow
  // each other closely, and this spares them a read and a parse. Only the sequencer writes
  // records, so an entry is never stale; one evicted is read from the store.
  std::unordered_map<std::string, v1::Request> recent;
  std::deque<std::string> recent_order;
  static constexpr size_t kRecentRecords = 8192;
  std::map<std::string, Tagged<storage::v1::IdempotencyRecord>> idempotent;
  std::map<std::string, uint64_t> links;
  std::optional<Tagged<storage::v1::DirectoryRecord>> directory;

  // Drops what groups up to `committed` wrote and no later group changed: the store has it.
  void Prune(uint64_t committed) {
    auto prune = [committed](auto& map, auto group_of) {
      for (auto it = map.begin(); it != map.end();) {
        it = group_of(it->second) <= committed ? map.erase(it) : std::next(it);
      }
    };
    for (auto it = records.begin(); it != records.end();) {
      if (it->second.group > committed) {
        ++it;
        continue;
      }
      recent[it->first] = std::move(it->second.value);
      recent_order.push_back(it->first);
      it = records.erase(it);
    }
    while (recent_order.size() > kRecentRecords) {
      recent.erase(recent_order.front());
      recent_order.pop_front();
    }
    prune(idempotent, [](const auto& t) { return t.group; });
    prune(links, [](uint64_t g) { return g; });
    if (directory && directory->group <= committed) directory.reset();
  }
};

// The commit group under construction: its writes, recorded in the overlay as they are made.
class Engine::Group : public View {
 public:
  // Writes into `writes`, the pipeline's group numbered `number`.
  Group(const storage::Store* store, Overlay* overlay, uint64_t number, storage::WriteSet* writes)
      : store_(store), overlay_(overlay), number_(number), writes_(*writes) {}

  absl::StatusOr<v1::Request> LoadRequest(absl::string_view id) const override {
    const std::string key(id);
    auto it = overlay_->records.find(key);
    if (it != overlay_->records.end()) return it->second.value;
    auto recent = overlay_->recent.find(key);
    if (recent != overlay_->recent.end()) return recent->second;
    absl::StatusOr<std::string> bytes = store_->Get(Column::kRequests, id);
    if (!bytes.ok()) return bytes.status();
    v1::Request r;
    if (!r.ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat("the stored record of requests/", id, " is corrupt"));
    }
    return r;
  }

  // LoadRequest for the record a command is about to rewrite: a durable record kept in memory
  // is moved out rather than copied. Should the command fail, the record is read from the store
  // next time; should it succeed, AddRecord puts the new one in its place.
  absl::StatusOr<v1::Request> TakeRequest(absl::string_view id) {
    const std::string key(id);
    if (overlay_->records.count(key) != 0) return LoadRequest(id);  // newer than `recent`
    auto recent = overlay_->recent.find(key);
    if (recent == overlay_->recent.end()) return LoadRequest(id);
    v1::Request r = std::move(recent->second);
    overlay_->recent.erase(recent);
    return r;
  }

  absl::StatusOr<std::vector<std::string>> FollowUps(absl::string_view id) const override {
    const std::string prefix = storage::LinkPrefix(id);
    std::set<std::string> out;
    absl::Status corrupt;
    absl::Status s =
        store_->Scan(Column::kIndex, prefix, "", [&](absl::string_view key, absl::string_view) {
          std::string follow_up;
          if (!storage::ParseIdAfter(key, prefix, &follow_up)) {
            corrupt =
                absl::DataLossError(absl::StrCat("malformed link key ", key.size(), " bytes"));
            return false;
          }
          out.insert(std::move(follow_up));
          return true;
        });
    if (!s.ok()) return s;
    if (!corrupt.ok()) return corrupt;
    for (auto it = overlay_->links.lower_bound(prefix);
         it != overlay_->links.end() && absl::StartsWith(it->first, prefix); ++it) {
      std::string follow_up;
      if (storage::ParseIdAfter(it->first, prefix, &follow_up)) out.insert(std::move(follow_up));
    }
    return std::vector<std::string>(out.begin(), out.end());
  }

  // An earlier answer to (principal, request_id), if any.
  absl::StatusOr<storage::v1::IdempotencyRecord> FindIdempotent(const std::string& key) const {
    auto it = overlay_->idempotent.find(key);
    if (it != overlay_->idempotent.end()) return it->second.value;
    absl::StatusOr<std::string> bytes = store_->Get(Column::kIdempotency, key);
    if (!bytes.ok()) return bytes.status();
    storage::v1::IdempotencyRecord rec;
    if (!rec.ParseFromString(*bytes)) return absl::DataLossError("corrupt idempotency record");
    return rec;
  }

  void AddRecord(const std::string& id, v1::Request record) {
    std::string bytes = audit::DeterministicBytes(record);
    AddRecord(id, std::move(record), std::move(bytes));
  }
  // `bytes` is a serialization of `record`.
  void AddRecord(const std::string& id, v1::Request record, std::string bytes) {
    writes_.Put(Column::kRequests, id, std::move(bytes));
    overlay_->records[id] = {number_, std::move(record)};
  }
  void AddIdempotent(const std::string& key, storage::v1::IdempotencyRecord rec) {
    writes_.Put(Column::kIdempotency, key, rec.SerializeAsString());
    overlay_->idempotent[key] = {number_, std::move(rec)};
  }
  void AddIndex(const std::string& key, const std::string& value) {
    writes_.Put(Column::kIndex, key, value);
    if (absl::StartsWith(key, "link/")) overlay_->links[key] = number_;
  }
  // Only for derived keys that no command reads back through the overlay (timers, due times).
  void DeleteIndex(const std::string& key) { writes_.Delete(Column::kIndex, key); }
  void DeleteEvidenceKey(const std::string& key) { writes_.Delete(Column::kEvidenceKeys, key); }
  // The witness's state for a peer's log (storage::WitnessKey), which no command reads back.
  void DeleteWitnessed(const std::string& node) {
    writes_.Delete(Column::kMeta, storage::WitnessKey(node));
  }
  void AddOutbox(const std::string& key, const storage::v1::OutboxMessage& message) {
    writes_.Put(Column::kOutbox, key, message.SerializeAsString());
    wrote_outbox_ = true;
  }
  bool wrote_outbox() const { return wrote_outbox_; }
  void PutMirror(const std::string& id, const v1::MirroredTrail& mirror) {
    writes_.Put(Column::kMirror, id, mirror.SerializeAsString());
  }
  // Counter deltas are summed over the group and written once per counter when it closes: the
  // same few counters change with nearly every change.
  void AddFigures(const Figures& delta) {
    for (const auto& [key, amount] : delta) figures_[key] += amount;
  }
  void AddEvent(FeedEvent event) { events_.push_back(std::move(event)); }
  std::vector<FeedEvent> TakeEvents() { return std::move(events_); }
  absl::StatusOr<storage::v1::DirectoryRecord> LoadDirectory() const {
    if (overlay_->directory) return overlay_->directory->value;
    absl::StatusOr<std::string> bytes = store_->Get(Column::kMeta, storage::kDirectoryKey);
    if (!bytes.ok()) return bytes.status();
    storage::v1::DirectoryRecord record;
    if (!record.ParseFromString(*bytes)) return absl::DataLossError("corrupt directory record");
    return record;
  }
  void AddDirectory(storage::v1::DirectoryRecord record) {
    writes_.Put(Column::kMeta, storage::kDirectoryKey, audit::DeterministicBytes(record));
    changed_directory_ = record.config();
    overlay_->directory = Overlay::Tagged<storage::v1::DirectoryRecord>{number_, std::move(record)};
  }
  std::optional<config::v1::DirectoryConfig> TakeDirectory() {
    return std::move(changed_directory_);
  }

  void AddTlogNode(std::string key, std::string hash) {
    writes_.Put(Column::kTlog, std::move(key), std::move(hash));
  }
  void SetTlogSize(uint64_t size) { tlog_size_ = size; }

  void AddAudit(const std::string& key, const std::string& bytes) {
    writes_.Put(Column::kAudit, key, bytes);
  }

  // The group's last writes: its counters' sums, and the Merkle log's size if it grew.
  void Close() {
    for (auto& [key, amount] : figures_) {
      if (amount != 0) writes_.Add(key, amount);
    }
    figures_.clear();
    if (tlog_size_) writes_.Put(Column::kMeta, storage::kTlogSizeKey, absl::StrCat(*tlog_size_));
    tlog_size_.reset();
  }

 private:
  const storage::Store* store_;
  Overlay* overlay_;
  const uint64_t number_;
  storage::WriteSet& writes_;
  std::optional<config::v1::DirectoryConfig> changed_directory_;
  std::optional<uint64_t> tlog_size_;
  bool wrote_outbox_ = false;
  Figures figures_;
  std::vector<FeedEvent> events_;
};

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ENGINE_GROUP_H_
