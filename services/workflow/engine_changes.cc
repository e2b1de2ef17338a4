// The engine's other changes: directory changes, the live feed's events, and writing sealed
// entries.

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "comity/v1/directory.pb.h"
#include "comity/v1/federation.pb.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "common/text.h"
#include "services/auth/policy.h"
#include "services/workflow/action_table.h"
#include "services/workflow/engine.h"
#include "services/workflow/engine_group.h"
#include "services/workflow/errors.h"
#include "storage/keys.h"

namespace comity::workflow {

namespace {

// A peer's signed snapshot (checked by the federation adapter) into `record`: its authorities
// and reservations replace those the peer published before. Returns the node it records, or ""
// when `record` holds this version or a newer one, or the same content.
absl::StatusOr<std::string> ApplyPeerDirectory(const Command& cmd,
                                               storage::v1::DirectoryRecord& record,
                                               v1::AuditEntry& entry) {
  if (!cmd.caller.system) return absl::PermissionDeniedError("only a peer node publishes");
  const auto& signed_snapshot = Body<v1::PublishDirectoryRequest>(cmd);
  v1::DirectorySnapshot snapshot;
  if (!snapshot.ParseFromString(signed_snapshot.snapshot())) {
    return InvalidField("snapshot", "is not a serialized comity.v1.DirectorySnapshot", "MALFORMED");
  }
  auto* peers = record.mutable_config()->mutable_peers();
  auto held = std::find_if(peers->begin(), peers->end(), [&](const v1::DirectorySnapshot& p) {
    return p.node() == snapshot.node();
  });
  for (v1::Authority& a : *snapshot.mutable_authorities()) a.set_node(snapshot.node());
  if (held != peers->end()) {
    if (held->version() >= snapshot.version()) return std::string();
    v1::DirectorySnapshot same = snapshot;
    same.set_version(held->version());
    *same.mutable_issue_time() = held->issue_time();
    if (audit::DeterministicBytes(same) == audit::DeterministicBytes(*held)) return std::string();
  }
  // An authority is homed at one node: never this one's, never another peer's.
  for (const v1::Authority& a : snapshot.authorities()) {
    for (const v1::Authority& local : record.config().authorities()) {
      if (local.name() == a.name()) {
        return absl::PermissionDeniedError(absl::StrCat(
            "node ", snapshot.node(), " may not publish ", a.name(), ": this node homes it"));
      }
    }
    for (const v1::DirectorySnapshot& other : *peers) {
      if (other.node() == snapshot.node()) continue;
      for (const v1::Authority& theirs : other.authorities()) {
        if (theirs.name() == a.name()) {
          return absl::PermissionDeniedError(absl::StrCat("node ", snapshot.node(),
                                                          " may not publish ", a.name(), ": node ",
                                                          other.node(), " homes it"));
        }
      }
    }
  }
  entry.set_reasons(absl::StrCat("node ", snapshot.node(), " version ", snapshot.version(), ": ",
                                 snapshot.authorities_size(), " authorities, ",
                                 snapshot.reservations_size(), " reservations"));
  v1::PeerSnapshotRef* ref = entry.mutable_peer_snapshot();
  ref->set_node(snapshot.node());
  ref->set_version(snapshot.version());
  ref->set_digest(Sha256(signed_snapshot.snapshot()));
  const std::string node = snapshot.node();
  if (held != peers->end()) {
    *held = std::move(snapshot);
  } else {
    *peers->Add() = std::move(snapshot);
  }
  if (absl::Status s = Directory::Check(record.config()); !s.ok()) {
    return InvalidField("snapshot", std::string(s.message()), "DIRECTORY_RULE");
  }
  return node;
}

}  // namespace

absl::StatusOr<v1::Request> Engine::ExecuteDirectory(const Command& cmd, Group& group,
                                                     absl::Time now) {
  absl::StatusOr<storage::v1::DirectoryRecord> current = group.LoadDirectory();
  if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
  storage::v1::DirectoryRecord record = current.ok() ? *current : storage::v1::DirectoryRecord();
  v1::AuditEntry entry;
  if (cmd.action == v1::SEED_DIRECTORY) {
    if (!cmd.caller.system) return absl::PermissionDeniedError("only the node seeds its directory");
    if (current.ok()) return Precondition("DIRECTORY", "directory", "the directory exists already");
    *record.mutable_config() = Body<config::v1::DirectoryConfig>(cmd);
  } else if (cmd.action == v1::PEER_DIRECTORY) {
    absl::StatusOr<std::string> recorded = ApplyPeerDirectory(cmd, record, entry);
    if (!recorded.ok()) return recorded.status();
    if (recorded->empty()) return v1::Request();  // it holds this snapshot, or a newer one
  } else if (cmd.action == v1::PEER_SPLIT_VIEW) {
    if (!cmd.caller.system) return absl::PermissionDeniedError("only the node's witness reports");
    const v1::SplitView& v = Body<v1::RecordSplitViewRequest>(cmd).split_view();
    for (const v1::SplitView& held : record.config().split_views()) {
      if (held.node() == v.node()) return v1::Request();  // recorded already
    }
    *record.mutable_config()->add_split_views() = v;
    *entry.mutable_split_view() = v;
    entry.set_reasons(absl::StrCat("split view of node ", v.node(), ": ", v.reason()));
  } else if (cmd.action == v1::CLEAR_SPLIT_VIEW) {
    if (!current.ok()) {
      return Precondition("DIRECTORY", "directory", "the node has no directory yet");
    }
    if (absl::Status s = auth::AuthorizeDirectoryChange(cmd.caller, nullptr); !s.ok()) return s;
    const auto& m = Body<v1::ClearSplitViewRequest>(cmd);
    auto* views = record.mutable_config()->mutable_split_views();
    auto it = std::find_if(views->begin(), views->end(),
                           [&](const v1::SplitView& v) { return v.node() == m.node(); });
    if (it == views->end()) {
      return absl::NotFoundError(
          absl::StrCat("no split view is recorded against node ", Echo(m.node())));
    }
    entry.mutable_split_view()->set_node(m.node());
    views->erase(it);
    // The next checkpoint the peer shows is cosigned afresh, as the first one was.
    group.DeleteWitnessed(m.node());
    entry.set_reasons(absl::StrCat("split view of node ", m.node(), " cleared: ", m.reason()));
  } else if (cmd.action == v1::SET_RESERVATION) {
    if (!current.ok()) {
      return Precondition("DIRECTORY", "directory", "the node has no directory yet");
    }
    const auto& m = Body<v1::SetReservationRequest>(cmd);
    const v1::Reservation& r = m.reservation();
    std::string caller_country;
    for (const v1::Authority& a : record.config().authorities()) {
      if (a.name() == cmd.caller.authority) caller_country = a.country();
    }
    if (absl::Status s = auth::AuthorizeReservationChange(cmd.caller, caller_country, r.country());
        !s.ok()) {
      return s;
    }
    auto* reservations = record.mutable_config()->mutable_reservations();
    const std::string key = ReservationKey(r.country(), r.instrument(), r.code());
    auto it =
        std::find_if(reservations->begin(), reservations->end(), [&](const v1::Reservation& x) {
          return ReservationKey(x.country(), x.instrument(), x.code()) == key;
        });
    if (m.withdraw()) {
      if (it == reservations->end()) {
        return Precondition("RESERVATION", key, "the directory records no such reservation");
      }
      reservations->erase(it);
    } else if (it != reservations->end()) {
      *it = r;
    } else {
      *reservations->Add() = r;
    }
    if (absl::Status s = Directory::Check(record.config()); !s.ok()) {
      return InvalidField("reservation", std::string(s.message()), "DIRECTORY_RULE");
    }
    entry.set_reasons(absl::StrCat(m.withdraw() ? "withdrawn: " : "recorded: ", key));
  } else {
    if (!current.ok()) {
      return Precondition("DIRECTORY", "directory", "the node has no directory yet");
    }
    const v1::Authority& proposed = Body<v1::UpsertAuthorityRequest>(cmd).authority();
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
  // What the node publishes to its peers: its own authorities and reservations.
  if (cmd.action == v1::SEED_DIRECTORY || cmd.action == v1::UPSERT_AUTHORITY ||
      cmd.action == v1::SET_RESERVATION) {
    record.set_published_version(record.published_version() + 1);
  }
  entry.set_record_digest(Sha256(audit::DeterministicBytes(record.config())));
  audit::Sealer::Sealed sealed = sealer_.Seal(entry);
  record.set_audit_head(Sha256(sealed.bytes));
  WriteSealed(std::move(sealed), storage::AuditKey(storage::kDirectoryTrail, entry.sequence()),
              group);
  record.set_audit_size(entry.sequence());
  group.AddDirectory(std::move(record));
  return v1::Request();
}

void Engine::AddEvent(const std::string& id, const v1::Request& record, v1::AuditEntry entry,
                      Group& group) {
  if (IsReadAction(entry.action())) return;
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
  group.AddEvent({EventOf(cursor, stored, std::move(entry)), stored.submitted()});
}

std::string Engine::SealRecord(const std::string& id, v1::Request& record, v1::AuditEntry& entry,
                               Group& group) {
  std::string record_bytes;
  WriteSealed(sealer_.SealRecord(record, entry, &record_bytes),
              storage::AuditKey(id, entry.sequence()), group);
  return record_bytes;
}

void Engine::WriteSealed(audit::Sealer::Sealed sealed, const std::string& audit_key, Group& group) {
  for (audit::LogAppender::Node& n : sealed.nodes) {
    group.AddTlogNode(storage::TlogNodeKey(n.level, n.index), std::move(n.hash));
  }
  group.SetTlogSize(sealer_.size());
  group.AddAudit(audit_key, sealed.bytes);
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
