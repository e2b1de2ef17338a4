#include "services/workflow/engine.h"

#include <future>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/text.h"
#include "services/audit/chain.h"
#include "services/auth/policy.h"
#include "services/workflow/actions.h"
#include "services/workflow/clocks.h"
#include "services/workflow/engine_group.h"
#include "services/workflow/errors.h"
#include "services/workflow/lifecycle.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "services/workflow/upgrade.h"
#include "services/workflow/validation.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::ActingRole;
using auth::RequestNotFound;
using engine_internal::StartEntry;

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
    absl::StatusOr<v1::Request> loaded = group.TakeRequest(id);
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
                                             Echo(cmd.etag), ", now ", record.etag(),
                                             "); read it again and retry"));
    }
    before = {record.state(), DerivedKeys(id, record), CountedFigures(record)};
    const InstrumentProfile* profile = profiles_->Find(record.instrument());
    if (profile == nullptr) {
      return Precondition("PROFILE", record.instrument(),
                          "the request's instrument profile is not loaded on this node");
    }
    ActionInput input{cmd, side, now, *profile, group, directory_};
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

  if (const size_t bytes = record.ByteSizeLong(); bytes > kMaxRecordBytes) {
    return InvalidField(
        cmd.action == v1::CREATE ? "request" : "name",
        absl::StrCat("the request would take ", bytes, " bytes stored, over the limit of ",
                     kMaxRecordBytes, "; shorten its texts"),
        "RECORD_TOO_LARGE");
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
  std::string record_bytes = SealRecord(id, record, entry, group);

  for (const auto& [key, value] : effect.index_puts) group.AddIndex(key, value);
  const std::set<std::string>& old_keys = before.keys;
  const std::set<std::string> new_keys = DerivedKeys(id, record);
  for (const std::string& k : old_keys) {
    if (new_keys.count(k) == 0) group.DeleteIndex(k);
  }
  for (const std::string& k : new_keys) {
    if (old_keys.count(k) == 0) group.AddIndex(k, "");
  }
  group.AddFigures(FigureDelta(before.figures, CountedFigures(record)));
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
