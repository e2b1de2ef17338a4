#ifndef COMITY_SERVICES_WORKFLOW_ENGINE_H_
#define COMITY_SERVICES_WORKFLOW_ENGINE_H_

// The engine: the only writer. It runs on a CommitPipeline: its sequencer applies each command to
// the latest state (including the changes of earlier commands, committed or not) into a commit
// group, which the pipeline makes durable as one synced batch: for each change, the new request
// record, its audit entry, index entries, counters and the idempotency record. While one group
// syncs, the sequencer applies the next; callers hear the outcome once their group is durable. A
// failed write stops the engine: that group and every later one fail with UNAVAILABLE, and
// nothing more is written.

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "comity/v1/resources.pb.h"
#include "common/clock.h"
#include "services/audit/note.h"
#include "services/audit/sealer.h"
#include "services/pipeline/commit_pipeline.h"
#include "services/workflow/actions.h"
#include "services/workflow/applier.h"
#include "services/workflow/command.h"
#include "services/workflow/directory.h"
#include "services/workflow/events.h"
#include "services/workflow/indexes.h"
#include "services/workflow/profiles.h"
#include "storage/store.h"

namespace comity::workflow {

struct EngineOptions {
  // Federation: this node's id. A request whose requested authority a peer homes is relayed to
  // that peer once submitted; a request whose requesting authority a peer homes is mirrored to it
  // after each change. Both through the outbox (storage column kOutbox), in the change's batch.
  std::string node;
  // Told once a group that wrote to the outbox is durable (committer thread; must not block).
  std::function<void()> on_outbox;
  // The log key, when the node has one: it signs the receipts of relayed actions and retrieved
  // evidence (comity.v1.Receipt) on their entries. Must outlive the engine.
  const audit::NoteSigner* receipts = nullptr;
  int max_batch = 512;               // commands per commit group
  size_t max_group_bytes = 1 << 20;  // bytes written per commit group (see CommitPipeline)
  // Told the Merkle log's size and root once durable: at start, then after each group. Runs on
  // the engine's committer thread; must not block.
  std::function<void(uint64_t size, const std::string& root)> on_durable_log;
  // Told each group's events (every change but reads) once durable, in commit order. Runs on
  // the engine's completer thread; must not block.
  std::function<void(std::vector<FeedEvent>)> on_durable_events;
  // Told, once, the status of the write that failed when the engine stops taking changes (its
  // cause is for the operator's log, never for callers). Runs on the committer thread.
  std::function<void(const absl::Status&)> on_storage_failure;
  // For metrics, optional, must not block: each durable commit group's changes, bytes and
  // commit time (committer thread); what is still queued each time the sequencer takes from it.
  std::function<void(size_t changes, size_t bytes, double seconds)> on_group_committed;
  std::function<void(size_t depth)> on_queue_depth;
};

class Engine {
 public:
  using Done = std::function<void(absl::StatusOr<v1::Request>)>;

  // The size of the Merkle log `store` holds (0 for a new store); DATA_LOSS if its record is
  // corrupt. The engine resumes the log there; the live feed's cursors start after it.
  static absl::StatusOr<uint64_t> DurableLogSize(const storage::Store& store);

  // Starts the sequencer. `store`, `clock`, `profiles` and `directory` must outlive the engine.
  // Directory changes are applied to `directory` once durable.
  static absl::StatusOr<std::unique_ptr<Engine>> Start(storage::Store* store, const Clock* clock,
                                                       const ProfileSet* profiles,
                                                       Directory* directory,
                                                       EngineOptions options = {});
  ~Engine();  // Stop()s.

  // Validates `command` on the calling thread (INVALID_ARGUMENT), then queues it. `done` runs
  // exactly once: on the calling thread if the command is refused before queueing, otherwise on
  // the engine's completer thread once the change is durable (or has failed). It must not block.
  // Directory changes (IsDirectoryAction) answer with an empty Request once the directory holds
  // the change. Outcomes: the request after the change; the first answer for a repeated request_id
  // with the same body; ALREADY_EXISTS for a repeated request_id with another body; NOT_FOUND;
  // PERMISSION_DENIED; ABORTED for a stale etag; FAILED_PRECONDITION; INVALID_ARGUMENT;
  // UNAVAILABLE once stopped or after a failed write (fail-stop: no further writes).
  void Apply(Command command, Done done);

  // Apply, waiting for the outcome.
  absl::StatusOr<v1::Request> ApplyAndWait(Command command);

  // Stops accepting commands, applies those already queued, and joins the sequencer.
  void Stop();

 private:
  class Group;

  Engine(storage::Store* store, const Clock* clock, const ProfileSet* profiles,
         Directory* directory, EngineOptions options);
  // The sequencer's hooks around each commit group.
  void OpenGroup(pipeline::Group& group, uint64_t durable);
  void CloseGroup(pipeline::Group& group);
  struct Overlay;
  absl::StatusOr<v1::Request> Execute(const Command& command, Group& group);
  absl::StatusOr<v1::Request> ExecuteDirectory(const Command& command, Group& group,
                                               absl::Time now);
  // MIRROR and RELAY_STATE: the requesting node's copy of a request another node is the system
  // of record of. Nothing is sealed.
  absl::StatusOr<v1::Request> ExecuteRelay(const Command& command, Group& group, absl::Time now);
  // FETCH_PACKAGE: a delivered package of a request another node keeps is held here whole.
  absl::StatusOr<v1::Request> RecordFetch(const Command& command, Group& group, absl::Time now);
  // On the requesting node, an action on a request another node keeps: checked as this node
  // would apply it, then recorded on the local trail as relayed and queued for that node, which
  // applies it in its order. The record changes only in its relayed actions.
  absl::StatusOr<v1::Request> Forward(const Command& command, const Decision& decision,
                                      absl::Time now, const std::string& id, v1::Request record,
                                      const std::string& idem_key, const std::string& fingerprint,
                                      Group& group);
  // The forwarded action of `command` for `peer`, queued at the outbox position of the entry
  // `change` is about to seal; `draft` is the request as submitted, for SUBMIT.
  void QueueForward(const Command& command, const std::string& peer, const v1::Request* draft,
                    absl::Time now, Change& change, Group& group);
  // After a change: queues what the federation owes for it (the forwarded action or the mirror)
  // in the outbox, and notes a forwarded action on the record. `before`: the draft of a
  // submission to a peer's authority, as it stood.
  void QueueRelay(const Command& command, const std::optional<v1::Request>& before, Change& change,
                  absl::Time now, Group& group);
  // The receipts this node issues on `command`'s entry (options_.receipts set): RELAY_ACCEPTANCE
  // and DELIVERY of an action taken from a peer's relay; RETRIEVAL when the last byte of an item
  // is read.
  void AddReceipts(const Command& command, v1::AuditEntry& entry) const;
  // Seals `change`'s entry and writes the change into `group`, with the idempotency record
  // under `idem_key` when there is one. Returns the request after the change.
  v1::Request Write(Change change, const std::string& idem_key, const std::string& fingerprint,
                    Group& group);
  // The live feed's event for `entry` (none for reads).
  static void AddEvent(const std::string& id, const v1::Request& record, v1::AuditEntry entry,
                       Group& group);
  // Seals `entry` for `record` (request `id`) after a change (audit::Sealer::SealRecord) and
  // writes the entry and its tree nodes into `group`. Returns the record's bytes to store.
  std::string SealRecord(const std::string& id, v1::Request& record, v1::AuditEntry& entry,
                         Group& group);
  // Writes a sealed entry at `audit_key`, and the tree nodes it completes, into `group`.
  void WriteSealed(audit::Sealer::Sealed sealed, const std::string& audit_key, Group& group);

  storage::Store* const store_;
  const Clock* const clock_;
  const ProfileSet* const profiles_;
  Directory* const directory_;
  const EngineOptions options_;

  // Changes applied but perhaps not yet durable; the sequencer's alone.
  std::unique_ptr<Overlay> overlay_;
  // The commit group being applied; the sequencer's alone.
  std::unique_ptr<Group> group_;
  // Seals every audit entry into the Merkle log, in commit order; the sequencer's alone.
  audit::Sealer sealer_;

  pipeline::LocalCommitLog commit_log_;
  std::unique_ptr<pipeline::CommitPipeline> pipeline_;  // last: stopped first
};

// At start-up: the directory the store holds replaces `directory` (the configuration file only
// seeds a new node); a store without one is seeded with `directory`'s content, audited.
absl::Status LoadOrSeedDirectory(const storage::Store& store, Engine& engine, Directory& directory);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ENGINE_H_
