#include "services/workflow/engine.h"

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/text.h"
#include "services/audit/chain.h"
#include "services/audit/receipt.h"
#include "services/auth/policy.h"
#include "services/workflow/action_table.h"
#include "services/workflow/applier.h"
#include "services/workflow/engine_group.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "services/workflow/upgrade.h"
#include "services/workflow/validation.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::RequestNotFound;

namespace {

std::string Fingerprint(const Command& cmd) {
  return Sha256(
      absl::StrCat(static_cast<int>(cmd.action), ":", audit::DeterministicBytes(*cmd.body)));
}

}  // namespace

absl::StatusOr<uint64_t> Engine::DurableLogSize(const storage::Store& store) {
  absl::StatusOr<std::string> stored = store.Get(Column::kMeta, storage::kTlogSizeKey);
  if (absl::IsNotFound(stored.status())) return 0;
  if (!stored.ok()) return stored.status();
  uint64_t size = 0;
  if (!absl::SimpleAtoi(*stored, &size)) {
    return absl::DataLossError("the Merkle log's size record is corrupt");
  }
  return size;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(storage::Store* store, const Clock* clock,
                                                      const ProfileSet* profiles,
                                                      Directory* directory, EngineOptions options) {
  if (store == nullptr || clock == nullptr || profiles == nullptr || directory == nullptr) {
    return absl::InvalidArgumentError(
        "the engine needs a store, a clock, profiles and a directory");
  }
  if (options.max_batch < 1) options.max_batch = 1;
  if (absl::Status s = UpgradeStore(*store); !s.ok()) return s;
  std::unique_ptr<Engine> engine(new Engine(store, clock, profiles, directory, options));
  absl::StatusOr<uint64_t> size = DurableLogSize(*store);
  if (!size.ok()) return size.status();
  absl::StatusOr<audit::LogAppender> log =
      audit::LogAppender::Resume(*size, [store](int level, uint64_t index) {
        return store->Get(Column::kTlog, storage::TlogNodeKey(level, index));
      });
  if (!log.ok()) {
    return absl::DataLossError(
        absl::StrCat("the Merkle log cannot be resumed: ", log.status().message()));
  }
  engine->sealer_ = audit::Sealer(*std::move(log));
  if (engine->options_.on_durable_log) {
    engine->options_.on_durable_log(engine->sealer_.size(), engine->sealer_.Root());
  }
  Engine* e = engine.get();
  pipeline::CommitPipeline::Stages stages;
  stages.open = [e](pipeline::Group& group, uint64_t durable) { e->OpenGroup(group, durable); };
  stages.close = [e](pipeline::Group& group) { e->CloseGroup(group); };
  stages.on_failure = e->options_.on_storage_failure;
  if (e->options_.on_group_committed) {
    stages.on_appended = [e](const pipeline::Group& group, double seconds) {
      e->options_.on_group_committed(group.items, group.writes.ByteSize(), seconds);
    };
  }
  stages.on_queue_depth = e->options_.on_queue_depth;
  pipeline::PipelineOptions pipeline_options;
  pipeline_options.max_items = static_cast<size_t>(e->options_.max_batch);
  pipeline_options.max_bytes = e->options_.max_group_bytes;
  e->pipeline_ =
      std::make_unique<pipeline::CommitPipeline>(&e->commit_log_, stages, pipeline_options);
  return engine;
}

Engine::Engine(storage::Store* store, const Clock* clock, const ProfileSet* profiles,
               Directory* directory, EngineOptions options)
    : store_(store),
      clock_(clock),
      profiles_(profiles),
      directory_(directory),
      options_(options),
      overlay_(std::make_unique<Overlay>()),
      commit_log_(store) {}

Engine::~Engine() { Stop(); }

void Engine::Stop() {
  if (pipeline_) pipeline_->Stop();
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
  // The command is applied on the sequencer thread; its caller hears on the completer thread
  // once the group is durable, or UNAVAILABLE if it failed.
  auto work = [this, command = std::move(command), done](pipeline::Group& group) {
    absl::StatusOr<v1::Request> result = Execute(command, *group_);
    group.replies.push_back([done, result = std::move(result)](bool durable) mutable {
      if (!durable && result.ok()) {
        result = absl::UnavailableError("the change could not be made durable");
      }
      done(std::move(result));
    });
  };
  if (absl::Status s = pipeline_->Submit(std::move(work)); !s.ok()) done(s);
}

absl::StatusOr<v1::Request> Engine::ApplyAndWait(Command command) {
  std::promise<absl::StatusOr<v1::Request>> promise;
  auto future = promise.get_future();
  Apply(std::move(command),
        [&promise](absl::StatusOr<v1::Request> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Engine::OpenGroup(pipeline::Group& group, uint64_t durable) {
  overlay_->Prune(durable);
  group_ = std::make_unique<Group>(store_, overlay_.get(), group.number, &group.writes);
}

void Engine::CloseGroup(pipeline::Group& group) {
  group_->Close();
  if (group_->wrote_outbox() && options_.on_outbox) group.on_durable.push_back(options_.on_outbox);
  // Callers hear of a directory change only once the directory holds it.
  if (std::optional<config::v1::DirectoryConfig> changed = group_->TakeDirectory()) {
    group.on_durable.push_back(
        [this, changed = *std::move(changed)] { directory_->Replace(changed); });
  }
  if (options_.on_durable_log) {
    group.on_durable.push_back([this, size = sealer_.size(), root = sealer_.Root()] {
      options_.on_durable_log(size, root);
    });
  }
  std::vector<FeedEvent> events = group_->TakeEvents();
  if (options_.on_durable_events && !events.empty()) {
    // The feed hears before the group's callers.
    group.replies.insert(group.replies.begin(),
                         [this, events = std::move(events)](bool durable) mutable {
                           if (durable) options_.on_durable_events(std::move(events));
                         });
  }
  group_.reset();
}

absl::StatusOr<v1::Request> Engine::Execute(const Command& cmd, Group& group) {
  // A forwarded action is taken when it was taken on its node: the instrument's clocks run from
  // the event, never from the relay.
  absl::Time now = cmd.relayed != nullptr ? FromProto(cmd.relayed->event_time()) : clock_->Now();
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

  if (IsRelayAction(cmd.action)) return ExecuteRelay(cmd, group, now);
  if (IsDirectoryAction(cmd.action)) {
    absl::StatusOr<v1::Request> done = ExecuteDirectory(cmd, group, now);
    if (done.ok() && !idem_key.empty()) {
      storage::v1::IdempotencyRecord rec;
      rec.set_fingerprint(fingerprint);
      group.AddIdempotent(idem_key, std::move(rec));
    }
    return done;
  }

  // Load the request the command names, then decide once who the caller is to it.
  std::string id;
  std::optional<v1::Request> record;
  if (cmd.action == v1::CREATE) {
    id = NewId(now);
  } else {
    absl::StatusOr<std::string> parsed = ParseRequestName(cmd.name, "name");
    if (!parsed.ok()) return parsed.status();
    id = *std::move(parsed);
    const bool timer = IsTimerAction(cmd.action);
    if (cmd.relayed != nullptr && cmd.relayed->has_draft()) {
      // A submission relayed by the requesting node: the request is born here as submitted.
      if (group.LoadRequest(id).ok()) {
        return Precondition("REQUEST", cmd.name, "a request of this name exists here already");
      }
      v1::Request draft = cmd.relayed->draft();
      // Its trail starts here; the requesting node's bookkeeping stays there.
      draft.clear_audit_size();
      draft.clear_audit_head();
      draft.clear_system_of_record();
      draft.clear_relayed();
      draft.clear_mirror_size();
      draft.clear_mirror_head();
      record = std::move(draft);
    }
    if (timer) {
      // The timer is used up whatever comes of it; one the record no longer needs goes quietly.
      const auto& t = Body<v1::ClockTimerRequest>(cmd);
      group.DeleteIndex(
          storage::TimerKey(absl::ToUnixMicros(FromProto(t.time())), id, t.clock(), t.warning()));
    }
    // A read leaves the record as it is; a change rewrites it, so the cached copy is moved out.
    if (!record) {
      absl::StatusOr<v1::Request> loaded =
          IsReadAction(cmd.action) || timer ? group.LoadRequest(id) : group.TakeRequest(id);
      if (absl::IsNotFound(loaded.status()) && !timer) return RequestNotFound(cmd.name);
      if (!loaded.ok()) return loaded.status();
      record = *std::move(loaded);
    }
  }
  absl::StatusOr<Decision> decision = Authorize(cmd, record ? &*record : nullptr);
  if (!decision.ok()) return decision.status();
  if (record && !cmd.etag.empty() && cmd.etag != record->etag()) {
    return absl::AbortedError(absl::StrCat("the request changed since you read it (etag ",
                                           Echo(cmd.etag), ", now ", record->etag(),
                                           "); read it again and retry"));
  }
  if (record && !record->system_of_record().empty() && !IsReadAction(cmd.action)) {
    return Forward(cmd, *decision, now, id, *std::move(record), idem_key, fingerprint, group);
  }
  // A later forwarded action follows what the system of record did before it took it.
  if (cmd.relayed != nullptr && record && record->has_update_time()) {
    now = std::max(now, FromProto(record->update_time()));
  }
  // Submitted to an authority a peer homes: that peer's node becomes the system of record (its
  // clocks run there, so none here), and the draft as it stood is relayed.
  std::optional<v1::Request> before;
  if (cmd.action == v1::SUBMIT && !options_.node.empty() && cmd.relayed == nullptr) {
    if (std::string peer = directory_->HomeNode(record->requested_authority()); !peer.empty()) {
      before = record;
      record->set_system_of_record(std::move(peer));
    }
  }
  absl::StatusOr<Change> change =
      ApplyChange({cmd, *decision, now, *profiles_, group, directory_}, id, std::move(record));
  if (!change.ok()) return change.status();
  if (options_.receipts != nullptr) AddReceipts(cmd, change->entry);
  if (!options_.node.empty()) QueueRelay(cmd, before, *change, now, group);
  return Write(*std::move(change), idem_key, fingerprint, group);
}

void Engine::AddReceipts(const Command& cmd, v1::AuditEntry& entry) const {
  const absl::Time now = clock_->Now();
  if (cmd.relayed != nullptr) {
    for (v1::ReceiptKind kind : {v1::RELAY_ACCEPTANCE, v1::DELIVERY}) {
      *entry.add_receipts() =
          audit::MakeReceipt(*options_.receipts, kind, entry, entry.request_id(), now);
    }
  } else if (entry.action() == v1::DOWNLOAD && entry.evidence().complete()) {
    *entry.add_receipts() = audit::MakeReceipt(
        *options_.receipts, v1::RETRIEVAL, entry,
        absl::StrCat(entry.evidence().package(), "/", entry.evidence().sha256()), now);
  }
}

v1::Request Engine::Write(Change change, const std::string& idem_key,
                          const std::string& fingerprint, Group& group) {
  const std::string& id = change.id;
  v1::Request& record = change.record;
  std::string record_bytes = SealRecord(id, record, change.entry, group);
  for (const auto& [key, value] : change.index_puts) group.AddIndex(key, value);
  for (const std::string& key : change.derived_deletes) group.DeleteIndex(key);
  for (const std::string& key : change.derived_puts) group.AddIndex(key, "");
  for (const std::string& key : change.evidence_key_deletes) group.DeleteEvidenceKey(key);
  group.AddFigures(change.figures);
  AddEvent(id, record, std::move(change.entry), group);  // the entry's last use
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
