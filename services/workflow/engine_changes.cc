// The engine's other changes: directory changes, recorded reads, clock timers, the live feed's
// events, and writing sealed entries.

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "services/auth/policy.h"
#include "services/workflow/actions.h"
#include "services/workflow/clocks.h"
#include "services/workflow/engine.h"
#include "services/workflow/engine_group.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::SideOf;
using engine_internal::StartEntry;

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
  } else if (cmd.action == v1::SET_RESERVATION) {
    if (!current.ok()) {
      return Precondition("DIRECTORY", "directory", "the node has no directory yet");
    }
    const auto& m = static_cast<const v1::SetReservationRequest&>(*cmd.body);
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
  audit::Sealer::Sealed sealed = sealer_.Seal(entry);
  record.set_audit_head(Sha256(sealed.bytes));
  Write(std::move(sealed), storage::AuditKey(storage::kDirectoryTrail, entry.sequence()), group);
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
  std::string bytes = SealRecord(*id, record, entry, group);
  group.AddRecord(*id, record, std::move(bytes));
  return record;
}

namespace {

// What a timer records on `clock` and in `entry`; each returns "" once done, or why the timer is
// stale (no change).
std::string Warn(v1::Clock& clock, absl::Time now, v1::AuditEntry& entry) {
  const absl::Time due = FromProto(clock.due_time());
  if (clock.state() != v1::RUNNING || !clock.has_next_warning_time() ||
      FromProto(clock.next_warning_time()) > now) {
    return "no warning is due";
  }
  if (now >= due) return "the due time itself has passed";
  *clock.mutable_last_warning_time() = clock.next_warning_time();
  entry.set_action(v1::CLOCK_WARNING);
  entry.set_reasons(
      absl::StrCat(clock.name(), " is due in ", HumanDuration(due - now), ", at ", FormatUtc(due)));
  return "";
}

std::string Breach(v1::Clock& clock, absl::Time now, v1::AuditEntry& entry) {
  const absl::Time due = FromProto(clock.due_time());
  if (clock.state() != v1::RUNNING || clock.has_breach_time() || due > now) {
    return "the due time has not come or was recorded already";
  }
  *clock.mutable_breach_time() = ToProto(now);
  entry.set_action(v1::CLOCK_BREACH);
  entry.set_reasons(
      absl::StrCat(clock.name(), " passed its due time ", FormatUtc(due), " without being met"));
  return "";
}

// A preservation's expiry: held while a follow-up is undecided (once recorded), else expired.
absl::StatusOr<std::string> Expire(const Command& cmd, const View& view,
                                   const InstrumentProfile& profile, absl::Time now,
                                   v1::Request& record, Effect& effect) {
  v1::Clock& clock = *FindClock(record, effect.entry.clock());
  const absl::Time due = FromProto(clock.due_time());
  if ((clock.state() != v1::RUNNING && clock.state() != v1::HELD) || due > now) {
    return std::string("the expiry has not come");
  }
  absl::StatusOr<std::string> holder =
      HoldingFollowUp(view, record.name().substr(strlen("requests/")));
  if (!holder.ok()) return holder.status();
  v1::AuditEntry& entry = effect.entry;
  if (!holder->empty()) {
    if (clock.state() == v1::HELD) return std::string("still held");
    clock.set_state(v1::HELD);
    entry.set_action(v1::CLOCK_HELD);
    entry.set_reasons(absl::StrCat("the preservation's expiry ", FormatUtc(due),
                                   " passed; it is held until follow-up ", *holder, " is decided"));
    return std::string();
  }
  Command expire = cmd;
  expire.action = v1::EXPIRE_PRESERVATION;
  ActionInput input{expire, v1::SYSTEM, now, profile, view};
  if (absl::Status s = ApplyAction(input, record, effect); !s.ok()) return s;
  entry.set_action(v1::EXPIRE_PRESERVATION);
  entry.set_reasons(absl::StrCat("the preservation expired at ", FormatUtc(due)));
  return std::string();
}

}  // namespace

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
  before = {record.state(), DerivedKeys(*id, record), CountedFigures(record)};
  v1::AuditEntry& entry = effect.entry;
  entry.set_clock(clock->name());
  *entry.mutable_due_time() = clock->due_time();
  entry.set_legal_basis(rule->article());
  absl::StatusOr<std::string> stale_because =
      timer.warning()                        ? Warn(*clock, now, entry)
      : rule->on_due() == config::v1::EXPIRE ? Expire(cmd, group, *profile, now, record, effect)
                                             : Breach(*clock, now, entry);
  if (!stale_because.ok()) return stale_because.status();
  if (!stale_because->empty()) return stale(*stale_because);
  UpdateClocks(*profile, before.state, entry.action(), v1::NOTE_KIND_UNSPECIFIED, now, record);
  return record;
}

absl::Status Engine::ReleaseHold(const v1::Request& follow_up, Group& group, absl::Time now) {
  // `follows` was checked, and its preservation found, when the follow-up was drafted; anything
  // else now is a corrupt record.
  absl::StatusOr<std::string> id = ParseRequestName(follow_up.follows(), "follows");
  if (!id.ok()) {
    return absl::DataLossError(
        absl::StrCat(follow_up.name(), " names a preservation that is not a request name"));
  }
  absl::StatusOr<v1::Request> preservation = group.LoadRequest(*id);
  if (absl::IsNotFound(preservation.status())) {
    return absl::DataLossError(
        absl::StrCat(follow_up.name(), " follows a preservation this node does not hold"));
  }
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
  group.AddEvent({EventOf(cursor, stored, std::move(entry)), stored.submitted()});
}

std::string Engine::SealRecord(const std::string& id, v1::Request& record, v1::AuditEntry& entry,
                               Group& group) {
  std::string record_bytes;
  Write(sealer_.SealRecord(record, entry, &record_bytes), storage::AuditKey(id, entry.sequence()),
        group);
  return record_bytes;
}

void Engine::Write(audit::Sealer::Sealed sealed, const std::string& audit_key, Group& group) {
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
