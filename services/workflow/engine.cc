#include "services/workflow/engine.h"

#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "services/audit/chain.h"
#include "services/workflow/actions.h"
#include "services/workflow/errors.h"
#include "services/workflow/lifecycle.h"
#include "services/workflow/policy.h"
#include "services/workflow/timeutil.h"
#include "services/workflow/validation.h"
#include "storage/keys.h"

namespace comity::workflow {

using storage::Column;

// The commit group under construction: its writes, and an overlay so that later commands in the
// group see the changes of earlier ones.
class Engine::Group : public View {
 public:
  explicit Group(const storage::Store* store) : store_(store) {}

  absl::StatusOr<v1::Request> LoadRequest(absl::string_view id) const override {
    auto it = records_.find(std::string(id));
    if (it != records_.end()) return it->second;
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
    absl::Status s = store_->Scan(Column::kIndex, prefix, "",
                                  [&](absl::string_view key, absl::string_view) {
                                    out.insert(std::string(key.substr(prefix.size())));
                                    return true;
                                  });
    if (!s.ok()) return s;
    for (const std::string& key : links_) {
      if (absl::StartsWith(key, prefix)) out.insert(key.substr(prefix.size()));
    }
    return std::vector<std::string>(out.begin(), out.end());
  }

  // An earlier answer to (principal, request_id), if any.
  absl::StatusOr<storage::v1::IdempotencyRecord> FindIdempotent(const std::string& key) const {
    storage::v1::IdempotencyRecord rec;
    auto it = idempotent_.find(key);
    if (it != idempotent_.end()) return it->second;
    absl::StatusOr<std::string> bytes = store_->Get(Column::kIdempotency, key);
    if (!bytes.ok()) return bytes.status();
    if (!rec.ParseFromString(*bytes)) return absl::DataLossError("corrupt idempotency record");
    return rec;
  }

  void AddRecord(const std::string& id, v1::Request record) {
    writes_.Put(Column::kRequests, id, audit::DeterministicBytes(record));
    records_[id] = std::move(record);
  }
  void AddIdempotent(const std::string& key, storage::v1::IdempotencyRecord rec) {
    writes_.Put(Column::kIdempotency, key, rec.SerializeAsString());
    idempotent_[key] = std::move(rec);
  }
  void AddIndex(const std::string& key, const std::string& value) {
    writes_.Put(Column::kIndex, key, value);
    if (absl::StartsWith(key, "link/")) links_.insert(key);
  }
  void AddAudit(const std::string& key, const std::string& bytes) {
    writes_.Put(Column::kAudit, key, bytes);
  }

  const storage::WriteSet& writes() const { return writes_; }

 private:
  const storage::Store* store_;
  storage::WriteSet writes_;
  std::map<std::string, v1::Request> records_;
  std::map<std::string, storage::v1::IdempotencyRecord> idempotent_;
  std::set<std::string> links_;
};

namespace {

std::string Fingerprint(const Command& cmd) {
  return Sha256(absl::StrCat(static_cast<int>(cmd.action), ":",
                             audit::DeterministicBytes(*cmd.body)));
}

// SHA-256 of the record without its audit head (which depends on the entry being written).
std::string RecordDigest(v1::Request record) {
  record.clear_audit_head();
  record.clear_audit_size();
  return Sha256(audit::DeterministicBytes(record));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(storage::Store* store, const Clock* clock,
                                                      const ProfileSet* profiles,
                                                      const Directory* directory,
                                                      EngineOptions options) {
  if (store == nullptr || clock == nullptr || profiles == nullptr || directory == nullptr) {
    return absl::InvalidArgumentError("the engine needs a store, a clock, profiles and a directory");
  }
  if (options.max_batch < 1) options.max_batch = 1;
  std::unique_ptr<Engine> engine(new Engine(store, clock, profiles, directory, options));
  engine->sequencer_ = std::thread([e = engine.get()] { e->Run(); });
  return engine;
}

Engine::Engine(storage::Store* store, const Clock* clock, const ProfileSet* profiles,
               const Directory* directory, EngineOptions options)
    : store_(store), clock_(clock), profiles_(profiles), directory_(directory), options_(options) {}

Engine::~Engine() { Stop(); }

void Engine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sequencer_.joinable()) sequencer_.join();
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
  Apply(std::move(command), [&promise](absl::StatusOr<v1::Request> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

void Engine::Run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Engine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
            return !e->queue_.empty() || e->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and drained
      while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Group group(store_);
    std::vector<absl::StatusOr<v1::Request>> results;
    results.reserve(batch.size());
    for (const Pending& p : batch) results.push_back(Execute(p.command, group));
    if (!group.writes().empty()) {
      absl::Status s = store_->Commit(group.writes());
      if (!s.ok()) {
        {
          absl::MutexLock lock(&mu_);
          failed_ = true;
        }
        for (auto& r : results) {
          if (r.ok()) r = absl::UnavailableError("the change could not be made durable");
        }
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
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

  // The record before the change, and who the caller is to it.
  v1::Request record;
  v1::Side side = v1::REQUESTING;
  v1::Request before;
  std::string id;
  Effect effect;
  if (cmd.action == v1::CREATE) {
    if (absl::Status s = CheckMayAct(cmd.caller, v1::REQUESTING); !s.ok()) return s;
    id = NewId(now);
    absl::StatusOr<v1::Request> draft = NewDraft(cmd, id, now, group);
    if (!draft.ok()) return draft.status();
    record = *std::move(draft);
    before.set_state(v1::STATE_UNSPECIFIED);
    effect.index_puts.emplace_back(storage::PartyKey(cmd.caller.authority, id), "q");
  } else {
    absl::StatusOr<std::string> parsed = ParseRequestName(cmd.name, "name");
    if (!parsed.ok()) return parsed.status();
    id = *parsed;
    absl::StatusOr<v1::Request> loaded = group.LoadRequest(id);
    if (absl::IsNotFound(loaded.status())) return RequestNotFound(cmd.name);
    if (!loaded.ok()) return loaded.status();
    record = *std::move(loaded);
    absl::StatusOr<v1::Side> s = SideOf(cmd.caller, record);
    if (!s.ok()) return s.status();
    side = *s;
    if (absl::Status r = CheckMayAct(cmd.caller, side); !r.ok()) return r;
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
    before = record;
    const InstrumentProfile* profile = profiles_->Find(record.instrument());
    if (profile == nullptr) {
      return Precondition("PROFILE", record.instrument(),
                          "the request's instrument profile is not loaded on this node");
    }
    ActionInput input{cmd, side, now, *profile, group};
    if (absl::Status a = ApplyAction(input, record, effect); !a.ok()) return a;
  }

  // The audit entry, chained to the previous one.
  v1::AuditEntry& entry = effect.entry;
  entry.set_request(record.name());
  entry.set_sequence(record.audit_size() + 1);
  entry.set_previous_hash(record.audit_size() == 0 ? audit::GenesisHash() : record.audit_head());
  *entry.mutable_time() = ToProto(now);
  v1::Actor* actor = entry.mutable_actor();
  actor->set_principal(cmd.caller.principal);
  actor->set_authority(cmd.caller.authority);
  actor->set_role(ActingRole(cmd.caller, side));
  actor->set_side(side);
  entry.set_action(cmd.action);
  entry.set_state_before(before.state());
  entry.set_state_after(record.state());
  entry.set_channel(record.channel());
  entry.set_request_id(cmd.request_id);

  record.set_version(record.version() + 1);
  record.set_etag(absl::StrCat(record.version()));
  *record.mutable_update_time() = ToProto(now);
  entry.set_record_digest(RecordDigest(record));
  const std::string entry_bytes = audit::EntryBytes(entry);
  record.set_audit_head(Sha256(entry_bytes));
  record.set_audit_size(entry.sequence());

  group.AddAudit(storage::AuditKey(id, entry.sequence()), entry_bytes);
  for (const auto& [key, value] : effect.index_puts) group.AddIndex(key, value);
  if (!idem_key.empty()) {
    storage::v1::IdempotencyRecord rec;
    rec.set_fingerprint(fingerprint);
    *rec.mutable_response() = record;
    group.AddIdempotent(idem_key, std::move(rec));
  }
  group.AddRecord(id, record);
  return record;
}

}  // namespace comity::workflow
