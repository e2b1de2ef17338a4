#include "services/workflow/engine.h"

#include <deque>
#include <future>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"
#include "services/auth/policy.h"
#include "services/workflow/actions.h"
#include "services/workflow/clocks.h"
#include "services/workflow/errors.h"
#include "services/workflow/lifecycle.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "services/workflow/validation.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::ActingRole;
using auth::RequestNotFound;
using auth::SideOf;

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
  Group(const storage::Store* store, Overlay* overlay, uint64_t number)
      : store_(store), overlay_(overlay), number_(number) {}

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

  absl::StatusOr<std::vector<std::string>> FollowUps(absl::string_view id) const override {
    const std::string prefix = storage::LinkPrefix(id);
    std::set<std::string> out;
    absl::Status s =
        store_->Scan(Column::kIndex, prefix, "", [&](absl::string_view key, absl::string_view) {
          out.insert(std::string(key.substr(prefix.size())));
          return true;
        });
    if (!s.ok()) return s;
    for (auto it = overlay_->links.lower_bound(prefix);
         it != overlay_->links.end() && absl::StartsWith(it->first, prefix); ++it) {
      out.insert(it->first.substr(prefix.size()));
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

  storage::WriteSet TakeWrites() {
    if (tlog_size_) writes_.Put(Column::kMeta, storage::kTlogSizeKey, absl::StrCat(*tlog_size_));
    return std::move(writes_);
  }

 private:
  const storage::Store* store_;
  Overlay* overlay_;
  const uint64_t number_;
  storage::WriteSet writes_;
  std::optional<config::v1::DirectoryConfig> changed_directory_;
  std::optional<uint64_t> tlog_size_;
  std::vector<FeedEvent> events_;
};

namespace {

std::string Fingerprint(const Command& cmd) {
  return Sha256(
      absl::StrCat(static_cast<int>(cmd.action), ":", audit::DeterministicBytes(*cmd.body)));
}

// SHA-256 of the record without its audit head (which depends on the entry being written).
// Starts `entry` as the next entry of `trail`, whose size and head are `size` and `head`: its
// place in the chain, its time, who acted in which role for which side, and the action.
void StartEntry(const std::string& trail, uint64_t size, const std::string& head, absl::Time now,
                const Command& cmd, v1::Role role, v1::Side side, v1::AuditEntry& entry) {
  entry.set_request(trail);
  entry.set_sequence(size + 1);
  entry.set_previous_hash(size == 0 ? audit::GenesisHash() : head);
  *entry.mutable_time() = ToProto(now);
  v1::Actor* actor = entry.mutable_actor();
  actor->set_principal(cmd.caller.principal);
  actor->set_authority(cmd.caller.authority);
  actor->set_role(role);
  actor->set_side(side);
  entry.set_action(cmd.action);
  entry.set_request_id(cmd.request_id);
}

// The index entries that follow from a record: its clocks' timers and its next due time.
std::set<std::string> DerivedKeys(const std::string& id, const v1::Request& record) {
  std::set<std::string> keys;
  if (record.name().empty()) return keys;
  for (const Timer& t : TimersOf(record)) {
    keys.insert(storage::TimerKey(absl::ToUnixMicros(t.time), id, t.clock, t.warning));
  }
  if (record.has_next_due_time()) {
    const int64_t due = absl::ToUnixMicros(FromProto(record.next_due_time()));
    keys.insert(storage::DueKey(record.requesting_authority(), due, id));
    if (record.state() != v1::DRAFT) {
      keys.insert(storage::DueKey(record.requested_authority(), due, id));
      keys.insert(storage::DueKey(storage::kEveryAuthority, due, id));
    }
  }
  return keys;
}

// The record's deterministic bytes without its audit head and size (which depend on the entry
// being written), in `*bytes`; returns their SHA-256.
std::string RecordDigest(v1::Request& record, std::string* bytes) {
  std::string head;
  record.mutable_audit_head()->swap(head);
  const uint64_t size = record.audit_size();
  record.clear_audit_size();
  *bytes = audit::DeterministicBytes(record);
  record.mutable_audit_head()->swap(head);
  record.set_audit_size(size);
  return Sha256(*bytes);
}

std::string RecordDigest(v1::Request& record) {
  std::string bytes;
  return RecordDigest(record, &bytes);
}

// Appends the record's audit size and head to its bytes without them: protobuf merges fields in
// any order, so the result parses to the whole record without serializing it again.
void AppendAuditFields(const v1::Request& record, std::string* bytes) {
  v1::Request tail;
  tail.set_audit_size(record.audit_size());
  tail.set_audit_head(record.audit_head());
  tail.AppendToString(bytes);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(storage::Store* store, const Clock* clock,
                                                      const ProfileSet* profiles,
                                                      Directory* directory, EngineOptions options) {
  if (store == nullptr || clock == nullptr || profiles == nullptr || directory == nullptr) {
    return absl::InvalidArgumentError(
        "the engine needs a store, a clock, profiles and a directory");
  }
  if (options.max_batch < 1) options.max_batch = 1;
  std::unique_ptr<Engine> engine(new Engine(store, clock, profiles, directory, options));
  uint64_t size = 0;
  absl::StatusOr<std::string> stored_size = store->Get(Column::kMeta, storage::kTlogSizeKey);
  if (stored_size.ok() && !absl::SimpleAtoi(*stored_size, &size)) {
    return absl::DataLossError("the Merkle log's size record is corrupt");
  }
  if (!stored_size.ok() && !absl::IsNotFound(stored_size.status())) return stored_size.status();
  absl::StatusOr<audit::LogAppender> log =
      audit::LogAppender::Resume(size, [store](int level, uint64_t index) {
        return store->Get(Column::kTlog, storage::TlogNodeKey(level, index));
      });
  if (!log.ok()) {
    return absl::DataLossError(
        absl::StrCat("the Merkle log cannot be resumed: ", log.status().message()));
  }
  engine->log_ = *std::move(log);
  if (engine->options_.on_durable_log) {
    engine->options_.on_durable_log(engine->log_.size(), engine->log_.Root());
  }
  engine->sequencer_ = std::thread([e = engine.get()] { e->Run(); });
  engine->committer_ = std::thread([e = engine.get()] { e->CommitGroups(); });
  engine->completer_ = std::thread([e = engine.get()] { e->Complete(); });
  return engine;
}

Engine::Engine(storage::Store* store, const Clock* clock, const ProfileSet* profiles,
               Directory* directory, EngineOptions options)
    : store_(store),
      clock_(clock),
      profiles_(profiles),
      directory_(directory),
      options_(options),
      overlay_(std::make_unique<Overlay>()) {}

Engine::~Engine() { Stop(); }

void Engine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sequencer_.joinable()) sequencer_.join();
  if (committer_.joinable()) committer_.join();
  if (completer_.joinable()) completer_.join();
}

void Engine::Apply(Command command, Done done) {
  if (command.body == nullptr) {
    done(absl::InvalidArgumentError("empty command"));
    return;
  }
  if (absl::Status s = ValidateCommand(command, *directory_, *profiles_); !s.ok()) {
    done(s);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (failed_) {
    done(absl::UnavailableError(
        "the node stopped accepting changes after a storage failure; it needs an operator"));
    return;
  }
  if (stopping_) {
    done(absl::UnavailableError("the node is shutting down; retry with the same request_id"));
    return;
  }
  queue_.push_back({std::move(command), std::move(done)});
}

absl::StatusOr<v1::Request> Engine::ApplyAndWait(Command command) {
  std::promise<absl::StatusOr<v1::Request>> promise;
  auto future = promise.get_future();
  Apply(std::move(command),
        [&promise](absl::StatusOr<v1::Request> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Engine::Run() {
  for (uint64_t number = 1;; ++number) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Engine* e)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return !e->queue_.empty() || e->stopping_; },
          this));
      if (queue_.empty()) break;  // stopping, and drained
      while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    {
      absl::MutexLock lock(&commit_mu_);
      overlay_->Prune(committed_);
    }
    Group group(store_, overlay_.get(), number);
    Finished f;
    f.number = number;
    f.results.reserve(batch.size());
    for (const Pending& p : batch) f.results.push_back(Execute(p.command, group));
    f.writes = group.TakeWrites();
    f.events = group.TakeEvents();
    f.directory = group.TakeDirectory();
    f.log_size = log_.size();
    f.log_root = log_.Root();
    f.batch = std::move(batch);
    absl::MutexLock lock(&commit_mu_);
    // While a group syncs, what is applied meanwhile joins the one group waiting behind it, so
    // a change waits for at most the sync under way and its own. Past max_batch commands the
    // waiting group is full and the sequencer waits for the committer to take it.
    commit_mu_.Await(absl::Condition(
        +[](Engine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->commit_mu_) {
          return e->to_commit_.empty() ||
                 static_cast<int>(e->to_commit_.back().batch.size()) < e->options_.max_batch;
        },
        this));
    if (to_commit_.empty()) {
      to_commit_.push_back(std::move(f));
    } else {
      to_commit_.back().Absorb(std::move(f));
    }
  }
  absl::MutexLock lock(&commit_mu_);
  sequencer_done_ = true;
}

void Engine::CommitGroups() {
  bool failed = false;
  for (;;) {
    Finished f;
    {
      absl::MutexLock lock(&commit_mu_);
      commit_mu_.Await(absl::Condition(
          +[](Engine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->commit_mu_) {
            return !e->to_commit_.empty() || e->sequencer_done_;
          },
          this));
      if (to_commit_.empty()) break;
      f = std::move(to_commit_.front());
      to_commit_.pop_front();
    }
    // After a failed write nothing more is written: later groups were applied on top of it.
    if (!failed && !f.writes.empty()) failed = !store_->Commit(f.writes).ok();
    if (failed) {
      {
        absl::MutexLock lock(&mu_);
        failed_ = true;
      }
      for (auto& r : f.results) {
        if (r.ok()) r = absl::UnavailableError("the change could not be made durable");
      }
      f.events.clear();  // nothing happened
    } else {
      // Callers hear of a directory change only once the directory holds it.
      if (f.directory) directory_->Replace(*f.directory);
      if (options_.on_durable_log) options_.on_durable_log(f.log_size, f.log_root);
      absl::MutexLock lock(&commit_mu_);
      committed_ = f.number;
    }
    absl::MutexLock lock(&done_mu_);
    finished_.push_back(std::move(f));
  }
  absl::MutexLock lock(&done_mu_);
  committer_done_ = true;
}

void Engine::Complete() {
  for (;;) {
    Finished f;
    {
      absl::MutexLock lock(&done_mu_);
      done_mu_.Await(absl::Condition(
          +[](Engine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->done_mu_) {
            return !e->finished_.empty() || e->committer_done_;
          },
          this));
      if (finished_.empty()) return;
      f = std::move(finished_.front());
      finished_.pop_front();
    }
    if (options_.on_durable_events && !f.events.empty()) {
      options_.on_durable_events(std::move(f.events));
    }
    for (size_t i = 0; i < f.batch.size(); ++i) f.batch[i].done(std::move(f.results[i]));
  }
}

absl::StatusOr<v1::Request> Engine::Execute(const Command& cmd, Group& group) {
  const absl::Time now = clock_->Now();
  std::string idem_key;
  std::string fingerprint;
  if (!cmd.request_id.empty()) {
    idem_key = storage::IdempotencyKey(cmd.caller.principal, cmd.request_id);
    fingerprint = Fingerprint(cmd);
    absl::StatusOr<storage::v1::IdempotencyRecord> earlier = group.FindIdempotent(idem_key);
    if (earlier.ok()) {
      if (earlier->fingerprint() == fingerprint) return earlier->response();
      return absl::AlreadyExistsError(
          "request_id was already used for a different call; choose a new request_id");
    }
    if (!absl::IsNotFound(earlier.status())) return earlier.status();
  }

  if (cmd.action == v1::ACCESS) return ExecuteAccess(cmd, group, now);
  if (IsDirectoryAction(cmd.action)) {
    absl::StatusOr<v1::Request> done = ExecuteDirectory(cmd, group, now);
    if (done.ok() && !idem_key.empty()) {
      storage::v1::IdempotencyRecord rec;
      rec.set_fingerprint(fingerprint);
      group.AddIdempotent(idem_key, std::move(rec));
    }
    return done;
  }

  // The record before the change, and who the caller is to it.
  v1::Request record;
  v1::Side side = v1::REQUESTING;
  Before before;  // what the change must undo in the index, and the state it leaves
  std::string id;
  Effect effect;
  if (cmd.action == v1::CREATE) {
    if (absl::Status s = auth::AuthorizeCreate(cmd.caller); !s.ok()) return s;
    id = NewId(now);
    absl::StatusOr<v1::Request> draft = NewDraft(cmd, id, now, group);
    if (!draft.ok()) return draft.status();
    record = *std::move(draft);
    effect.index_puts.emplace_back(storage::PartyKey(cmd.caller.authority, id), "q");
  } else if (IsTimerAction(cmd.action)) {
    absl::StatusOr<v1::Request> fired = FireTimer(cmd, group, now, before, effect);
    if (!fired.ok()) return fired.status();
    record = *std::move(fired);
    id = record.name().substr(strlen("requests/"));
    side = v1::SYSTEM;
  } else {
    absl::StatusOr<std::string> parsed = ParseRequestName(cmd.name, "name");
    if (!parsed.ok()) return parsed.status();
    id = *parsed;
    absl::StatusOr<v1::Request> loaded = group.LoadRequest(id);
    if (absl::IsNotFound(loaded.status())) return RequestNotFound(cmd.name);
    if (!loaded.ok()) return loaded.status();
    record = *std::move(loaded);
    absl::StatusOr<v1::Side> s = auth::AuthorizeAction(cmd.caller, record);
    if (!s.ok()) return s.status();
    side = *s;
    if (!SideMayTake(cmd.action, side)) {
      return absl::PermissionDeniedError(absl::StrCat("the ", v1::Side_Name(side),
                                                      " side never takes the action ",
                                                      v1::Action_Name(cmd.action)));
    }
    if (!cmd.etag.empty() && cmd.etag != record.etag()) {
      return absl::AbortedError(absl::StrCat("the request changed since you read it (etag ",
                                             cmd.etag, ", now ", record.etag(),
                                             "); read it again and retry"));
    }
    before = {record.state(), DerivedKeys(id, record)};
    const InstrumentProfile* profile = profiles_->Find(record.instrument());
    if (profile == nullptr) {
      return Precondition("PROFILE", record.instrument(),
                          "the request's instrument profile is not loaded on this node");
    }
    ActionInput input{cmd, side, now, *profile, group};
    if (absl::Status a = ApplyAction(input, record, effect); !a.ok()) return a;
    const v1::NoteKind note = cmd.action == v1::ADD_NOTE
                                  ? static_cast<const v1::AddNoteRequest&>(*cmd.body).kind()
                                  : v1::NOTE_KIND_UNSPECIFIED;
    UpdateClocks(*profile, before.state, cmd.action, note, now, record);
    // A follow-up that is decided no longer holds its preservation: look at its expiry now.
    if (!record.follows().empty() && HoldsPreservation(before.state) &&
        !HoldsPreservation(record.state())) {
      if (absl::Status s = ReleaseHold(record, group, now); !s.ok()) return s;
    }
  }

  // The audit entry, chained to the previous one.
  v1::AuditEntry& entry = effect.entry;
  const v1::Action action = entry.action();  // set by a timer; otherwise the command's
  StartEntry(record.name(), record.audit_size(), record.audit_head(), now, cmd,
             ActingRole(cmd.caller, side), side, entry);
  if (action != v1::ACTION_UNSPECIFIED) entry.set_action(action);
  entry.set_state_before(before.state);
  entry.set_state_after(record.state());
  entry.set_channel(record.channel());

  record.set_version(record.version() + 1);
  record.set_etag(absl::StrCat(record.version()));
  *record.mutable_update_time() = ToProto(now);
  std::string record_bytes;
  entry.set_record_digest(RecordDigest(record, &record_bytes));
  const std::string entry_bytes = Seal(entry, storage::AuditKey(id, entry.sequence()), group);
  record.set_audit_head(Sha256(entry_bytes));
  record.set_audit_size(entry.sequence());
  AppendAuditFields(record, &record_bytes);

  for (const auto& [key, value] : effect.index_puts) group.AddIndex(key, value);
  const std::set<std::string>& old_keys = before.keys;
  const std::set<std::string> new_keys = DerivedKeys(id, record);
  for (const std::string& k : old_keys) {
    if (new_keys.count(k) == 0) group.DeleteIndex(k);
  }
  for (const std::string& k : new_keys) {
    if (old_keys.count(k) == 0) group.AddIndex(k, "");
  }
  AddEvent(id, record, std::move(entry), group);  // the entry's last use
  if (!idem_key.empty()) {
    storage::v1::IdempotencyRecord rec;
    rec.set_fingerprint(fingerprint);
    *rec.mutable_response() = record;
    group.AddIdempotent(idem_key, std::move(rec));
  }
  group.AddRecord(id, record, std::move(record_bytes));
  return record;
}

}  // namespace comity::workflow

namespace comity::workflow {

absl::StatusOr<v1::Request> Engine::ExecuteDirectory(const Command& cmd, Group& group,
                                                     absl::Time now) {
  absl::StatusOr<storage::v1::DirectoryRecord> current = group.LoadDirectory();
  if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
  storage::v1::DirectoryRecord record = current.ok() ? *current : storage::v1::DirectoryRecord();
  v1::AuditEntry entry;
  if (cmd.action == v1::SEED_DIRECTORY) {
    if (!cmd.caller.system) return absl::PermissionDeniedError("only the node seeds its directory");
    if (current.ok()) return Precondition("DIRECTORY", "directory", "the directory exists already");
    *record.mutable_config() = static_cast<const config::v1::DirectoryConfig&>(*cmd.body);
  } else {
    if (!current.ok()) {
      return Precondition("DIRECTORY", "directory", "the node has no directory yet");
    }
    const v1::Authority& proposed =
        static_cast<const v1::UpsertAuthorityRequest&>(*cmd.body).authority();
    auto* authorities = record.mutable_config()->mutable_authorities();
    auto it = std::find_if(authorities->begin(), authorities->end(),
                           [&](const v1::Authority& a) { return a.name() == proposed.name(); });
    const bool exists = it != authorities->end();
    if (absl::Status s = auth::AuthorizeDirectoryChange(cmd.caller, exists ? &*it : nullptr);
        !s.ok()) {
      return s;
    }
    if (exists) {
      *it = proposed;
    } else {
      *authorities->Add() = proposed;
    }
    if (absl::Status s = Directory::Check(record.config()); !s.ok()) {
      return InvalidField("authority", std::string(s.message()), "DIRECTORY_RULE");
    }
    entry.set_reasons(proposed.name());
  }
  StartEntry(storage::kDirectoryTrail, record.audit_size(), record.audit_head(), now, cmd,
             cmd.caller.system ? v1::ROLE_UNSPECIFIED : v1::ADMIN,
             cmd.caller.system ? v1::SYSTEM : v1::SIDE_UNSPECIFIED, entry);
  record.set_version(record.version() + 1);
  entry.set_record_digest(Sha256(audit::DeterministicBytes(record.config())));
  const std::string bytes =
      Seal(entry, storage::AuditKey(storage::kDirectoryTrail, entry.sequence()), group);
  record.set_audit_head(Sha256(bytes));
  record.set_audit_size(entry.sequence());
  group.AddDirectory(std::move(record));
  return v1::Request();
}

// A read, on the request's trail: the chain and the log grow, the record's content, version and
// etag do not.
absl::StatusOr<v1::Request> Engine::ExecuteAccess(const Command& cmd, Group& group,
                                                  absl::Time now) {
  absl::StatusOr<std::string> id = ParseRequestName(cmd.name, "name");
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::Request> loaded = group.LoadRequest(*id);
  if (!loaded.ok()) return loaded.status();
  v1::Request record = *std::move(loaded);
  if (absl::Status s = auth::AuthorizeRead(cmd.caller, record); !s.ok()) return s;
  const absl::StatusOr<v1::Side> side = SideOf(cmd.caller, record);
  v1::AuditEntry entry;
  v1::Role role = v1::ROLE_UNSPECIFIED;  // the role it reads in
  for (v1::Role r : {v1::SUBMITTER, v1::RESPONDER, v1::AUDITOR, v1::OVERSIGHT_AUDITOR}) {
    if (cmd.caller.Has(r)) {
      role = r;
      break;
    }
  }
  StartEntry(record.name(), record.audit_size(), record.audit_head(), now, cmd, role,
             side.ok() ? *side : v1::SIDE_UNSPECIFIED, entry);
  entry.set_state_before(record.state());
  entry.set_state_after(record.state());
  entry.set_reasons(static_cast<const v1::RecordAccessRequest&>(*cmd.body).what());
  entry.set_record_digest(RecordDigest(record));
  const std::string bytes = Seal(entry, storage::AuditKey(*id, entry.sequence()), group);
  record.set_audit_head(Sha256(bytes));
  record.set_audit_size(entry.sequence());
  group.AddRecord(*id, record);
  return record;
}

absl::StatusOr<v1::Request> Engine::FireTimer(const Command& cmd, Group& group, absl::Time now,
                                              Before& before, Effect& effect) {
  if (!cmd.caller.system) return absl::PermissionDeniedError("only the node fires its timers");
  const auto& timer = static_cast<const v1::ClockTimerRequest&>(*cmd.body);
  absl::StatusOr<std::string> id = ParseRequestName(cmd.name, "name");
  if (!id.ok()) return id.status();
  // The timer is used up whatever comes of it; one the record no longer needs goes quietly.
  group.DeleteIndex(storage::TimerKey(absl::ToUnixMicros(FromProto(timer.time())), *id,
                                      timer.clock(), timer.warning()));
  auto stale = [&](absl::string_view why) {
    return Precondition("TIMER", cmd.name, absl::StrCat("clock ", timer.clock(), ": ", why));
  };
  absl::StatusOr<v1::Request> loaded = group.LoadRequest(*id);
  if (!loaded.ok()) return loaded.status();
  v1::Request record = *std::move(loaded);
  const InstrumentProfile* profile = profiles_->Find(record.instrument());
  const ClockRule* rule =
      profile != nullptr ? FindClockRule(*profile, timer.clock(), record.type()) : nullptr;
  v1::Clock* clock = FindClock(record, timer.clock());
  if (rule == nullptr || clock == nullptr) return stale("the request has no such clock");
  before = {record.state(), DerivedKeys(*id, record)};
  const absl::Time due = FromProto(clock->due_time());
  v1::AuditEntry& entry = effect.entry;
  entry.set_clock(clock->name());
  *entry.mutable_due_time() = clock->due_time();
  entry.set_legal_basis(rule->article());
  if (timer.warning()) {
    if (clock->state() != v1::RUNNING || !clock->has_next_warning_time() ||
        FromProto(clock->next_warning_time()) > now) {
      return stale("no warning is due");
    }
    if (now >= due) return stale("the due time itself has passed");
    *clock->mutable_last_warning_time() = clock->next_warning_time();
    entry.set_action(v1::CLOCK_WARNING);
    entry.set_reasons(absl::StrCat(clock->name(), " is due in ", HumanDuration(due - now), ", at ",
                                   FormatUtc(due)));
  } else if (rule->on_due() == config::v1::EXPIRE) {
    if ((clock->state() != v1::RUNNING && clock->state() != v1::HELD) || due > now) {
      return stale("the expiry has not come");
    }
    absl::StatusOr<std::string> holder = HoldingFollowUp(group, *id);
    if (!holder.ok()) return holder.status();
    if (!holder->empty()) {
      if (clock->state() == v1::HELD) return stale("still held");
      clock->set_state(v1::HELD);
      entry.set_action(v1::CLOCK_HELD);
      entry.set_reasons(absl::StrCat("the preservation's expiry ", FormatUtc(due),
                                     " passed; it is held until follow-up ", *holder,
                                     " is decided"));
    } else {
      Command expire = cmd;
      expire.action = v1::EXPIRE_PRESERVATION;
      ActionInput input{expire, v1::SYSTEM, now, *profile, group};
      if (absl::Status s = ApplyAction(input, record, effect); !s.ok()) return s;
      entry.set_action(v1::EXPIRE_PRESERVATION);
      entry.set_reasons(absl::StrCat("the preservation expired at ", FormatUtc(due)));
    }
  } else {
    if (clock->state() != v1::RUNNING || clock->has_breach_time() || due > now) {
      return stale("the due time has not come or was recorded already");
    }
    *clock->mutable_breach_time() = ToProto(now);
    entry.set_action(v1::CLOCK_BREACH);
    entry.set_reasons(
        absl::StrCat(clock->name(), " passed its due time ", FormatUtc(due), " without being met"));
  }
  UpdateClocks(*profile, before.state, entry.action(), v1::NOTE_KIND_UNSPECIFIED, now, record);
  return record;
}

absl::Status Engine::ReleaseHold(const v1::Request& follow_up, Group& group, absl::Time now) {
  absl::StatusOr<std::string> id = ParseRequestName(follow_up.follows(), "follows");
  if (!id.ok()) return absl::OkStatus();
  absl::StatusOr<v1::Request> preservation = group.LoadRequest(*id);
  if (absl::IsNotFound(preservation.status())) return absl::OkStatus();
  if (!preservation.ok()) return preservation.status();
  for (const v1::Clock& c : preservation->clocks()) {
    if (c.state() == v1::HELD) {
      group.AddIndex(storage::TimerKey(absl::ToUnixMicros(now), *id, c.name(), false), "");
    }
  }
  return absl::OkStatus();
}

void Engine::AddEvent(const std::string& id, const v1::Request& record, v1::AuditEntry entry,
                      Group& group) {
  if (entry.action() == v1::ACCESS) return;
  const uint64_t cursor = entry.leaf_index() + 1;
  storage::v1::EventRecord stored;
  stored.set_request_id(id);
  stored.set_sequence(entry.sequence());
  stored.set_type(record.type());
  stored.set_priority(record.priority());
  stored.set_requesting_authority(record.requesting_authority());
  stored.set_requested_authority(record.requested_authority());
  stored.set_submitted(record.has_submit_time());
  group.AddIndex(storage::EventKey(cursor), stored.SerializeAsString());
  v1::Event event;
  event.set_cursor(cursor);
  event.set_request(record.name());
  *event.mutable_entry() = std::move(entry);
  event.set_type(record.type());
  event.set_priority(record.priority());
  event.set_requesting_authority(record.requesting_authority());
  event.set_requested_authority(record.requested_authority());
  group.AddEvent({std::move(event), stored.submitted()});
}

std::string Engine::Seal(v1::AuditEntry& entry, const std::string& audit_key, Group& group) {
  entry.set_leaf_index(log_.size());
  std::string bytes = audit::EntryBytes(entry);
  for (audit::LogAppender::Node& n : log_.Append(audit::LeafHash(bytes))) {
    group.AddTlogNode(storage::TlogNodeKey(n.level, n.index), std::move(n.hash));
  }
  group.SetTlogSize(log_.size());
  group.AddAudit(audit_key, bytes);
  return bytes;
}

absl::Status LoadOrSeedDirectory(const storage::Store& store, Engine& engine,
                                 Directory& directory) {
  absl::StatusOr<std::string> bytes = store.Get(Column::kMeta, storage::kDirectoryKey);
  if (absl::IsNotFound(bytes.status())) {
    return engine.ApplyAndWait(MakeSeedDirectoryCommand(directory.Config())).status();
  }
  if (!bytes.ok()) return bytes.status();
  storage::v1::DirectoryRecord record;
  if (!record.ParseFromString(*bytes)) return absl::DataLossError("corrupt directory record");
  directory.Replace(record.config());
  return absl::OkStatus();
}

}  // namespace comity::workflow
