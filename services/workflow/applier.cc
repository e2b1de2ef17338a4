#include "services/workflow/applier.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/text.h"
#include "services/audit/chain.h"
#include "services/auth/policy.h"
#include "services/workflow/action_table.h"
#include "services/workflow/clocks.h"
#include "services/workflow/errors.h"
#include "services/workflow/lifecycle.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "services/workflow/validation.h"
#include "storage/keys.h"

namespace comity::workflow {
namespace {

// The role a read is recorded in: the first the caller holds, in this order.
v1::Role ReadingRole(const Caller& caller) {
  for (v1::Role r : {v1::SUBMITTER, v1::RESPONDER, v1::AUDITOR, v1::OVERSIGHT_AUDITOR}) {
    if (caller.Has(r)) return r;
  }
  return v1::ROLE_UNSPECIFIED;
}

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
absl::StatusOr<std::string> Expire(const ApplyInput& in, const std::string& id,
                                   const InstrumentProfile& profile, v1::Request& record,
                                   Effect& effect) {
  v1::Clock& clock = *FindClock(record, effect.entry.clock());
  const absl::Time due = FromProto(clock.due_time());
  if ((clock.state() != v1::RUNNING && clock.state() != v1::HELD) || due > in.now) {
    return std::string("the expiry has not come");
  }
  absl::StatusOr<std::string> holder = HoldingFollowUp(in.view, id);
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
  Command expire = in.command;
  expire.action = v1::EXPIRE_PRESERVATION;
  ActionInput input{expire, v1::SYSTEM, in.now, profile, in.view};
  if (absl::Status s = ApplyAction(input, record, effect); !s.ok()) return s;
  entry.set_action(v1::EXPIRE_PRESERVATION);
  entry.set_reasons(absl::StrCat("the preservation expired at ", FormatUtc(due)));
  return std::string();
}

// A clock's timer on `record`: a warning, a breach, a preservation held or expired.
absl::Status FireTimer(const ApplyInput& in, const std::string& id, v1::Request& record,
                       Effect& effect) {
  const Command& cmd = in.command;
  const auto& timer = Body<v1::ClockTimerRequest>(cmd);
  auto stale = [&](absl::string_view why) {
    return Precondition("TIMER", cmd.name, absl::StrCat("clock ", timer.clock(), ": ", why));
  };
  const InstrumentProfile* profile = in.profiles.Find(record.instrument());
  const ClockRule* rule =
      profile != nullptr ? FindClockRule(*profile, timer.clock(), record.type()) : nullptr;
  v1::Clock* clock = FindClock(record, timer.clock());
  if (rule == nullptr || clock == nullptr) return stale("the request has no such clock");
  const v1::State before = record.state();
  v1::AuditEntry& entry = effect.entry;
  entry.set_clock(clock->name());
  *entry.mutable_due_time() = clock->due_time();
  entry.set_legal_basis(rule->article());
  absl::StatusOr<std::string> stale_because = timer.warning() ? Warn(*clock, in.now, entry)
                                              : rule->on_due() == config::v1::EXPIRE
                                                  ? Expire(in, id, *profile, record, effect)
                                                  : Breach(*clock, in.now, entry);
  if (!stale_because.ok()) return stale_because.status();
  if (!stale_because->empty()) return stale(*stale_because);
  UpdateClocks(*profile, before, entry.action(), v1::NOTE_KIND_UNSPECIFIED, in.now, record);
  return absl::OkStatus();
}

// A decided follow-up: a held expiry of the preservation it follows is looked at again now.
absl::Status ReleaseHold(const ApplyInput& in, const v1::Request& follow_up, Effect& effect) {
  // `follows` was checked, and its preservation found, when the follow-up was drafted; anything
  // else now is a corrupt record.
  absl::StatusOr<std::string> id = ParseRequestName(follow_up.follows(), "follows");
  if (!id.ok()) {
    return absl::DataLossError(
        absl::StrCat(follow_up.name(), " names a preservation that is not a request name"));
  }
  absl::StatusOr<v1::Request> preservation = in.view.LoadRequest(*id);
  if (absl::IsNotFound(preservation.status())) {
    return absl::DataLossError(
        absl::StrCat(follow_up.name(), " follows a preservation this node does not hold"));
  }
  if (!preservation.ok()) return preservation.status();
  for (const v1::Clock& c : preservation->clocks()) {
    if (c.state() == v1::HELD) {
      effect.index_puts.emplace_back(
          storage::TimerKey(absl::ToUnixMicros(in.now), *id, c.name(), false), "");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Decision> Authorize(const Command& cmd, const v1::Request* record) {
  if (cmd.action == v1::CREATE) {
    if (absl::Status s = auth::AuthorizeCreate(cmd.caller); !s.ok()) return s;
    return Decision{v1::REQUESTING, auth::ActingRole(cmd.caller, v1::REQUESTING)};
  }
  if (record == nullptr) return absl::InternalError("no request to authorize the action on");
  if (IsTimerAction(cmd.action)) {
    if (!cmd.caller.system) return absl::PermissionDeniedError("only the node fires its timers");
    return Decision{v1::SYSTEM, auth::ActingRole(cmd.caller, v1::SYSTEM)};
  }
  if (IsReadAction(cmd.action)) {
    if (absl::Status s = auth::AuthorizeRead(cmd.caller, *record); !s.ok()) return s;
    const absl::StatusOr<v1::Side> side = auth::SideOf(cmd.caller, *record);
    return Decision{side.ok() ? *side : v1::SIDE_UNSPECIFIED, ReadingRole(cmd.caller)};
  }
  absl::StatusOr<v1::Side> side = auth::AuthorizeAction(cmd.caller, *record);
  if (!side.ok()) return side.status();
  const ActionRow* row = FindAction(cmd.action);
  // Two actions outside the table: a preservation's expiry, by the node, and the record of an
  // item's upload, made for the receiving side's uploader.
  const bool taken = row != nullptr ? row->TakenBy(*side)
                     : cmd.action == v1::EXPIRE_PRESERVATION
                         ? *side == v1::SYSTEM
                         : cmd.action == v1::UPLOAD_ITEM && *side == v1::RECEIVING;
  if (!taken) {
    return absl::PermissionDeniedError(absl::StrCat("the ", v1::Side_Name(*side),
                                                    " side never takes the action ",
                                                    v1::Action_Name(cmd.action)));
  }
  return Decision{*side, auth::ActingRole(cmd.caller, *side)};
}

absl::StatusOr<Change> ApplyChange(const ApplyInput& in, const std::string& id,
                                   std::optional<v1::Request> loaded) {
  const Command& cmd = in.command;
  Change change;
  change.id = id;
  v1::Request& record = change.record;
  Effect effect;
  v1::State state_before = v1::STATE_UNSPECIFIED;
  std::set<std::string> keys_before;
  Figures figures_before;
  if (cmd.action == v1::CREATE) {
    absl::StatusOr<v1::Request> draft = NewDraft(cmd, id, in.now, in.view);
    if (!draft.ok()) return draft.status();
    record = *std::move(draft);
    effect.index_puts.emplace_back(storage::PartyKey(cmd.caller.authority, id), "q");
  } else {
    if (!loaded) return absl::InternalError("no request to apply the action to");
    record = *std::move(loaded);
    state_before = record.state();
    // A submission relayed by the requesting node is born here: its draft's keys never were.
    const bool born_here = cmd.relayed != nullptr && cmd.relayed->has_draft();
    if (born_here) {
      effect.index_puts.emplace_back(storage::PartyKey(record.requesting_authority(), id), "q");
    }
    if (!IsReadAction(cmd.action) && !born_here) {
      keys_before = DerivedKeys(id, record);
      figures_before = CountedFigures(record);
    }
    if (IsTimerAction(cmd.action)) {
      if (absl::Status s = FireTimer(in, id, record, effect); !s.ok()) return s;
    } else if (cmd.action == v1::ACCESS) {
      effect.entry.set_reasons(Body<v1::RecordAccessRequest>(cmd).what());
    } else if (cmd.action == v1::DOWNLOAD) {
      if (absl::Status s = bodies::CheckDownload(Body<v1::RecordDownloadRequest>(cmd),
                                                 in.decision.side, record, effect);
          !s.ok()) {
        return s;
      }
    } else {
      const InstrumentProfile* profile = in.profiles.Find(record.instrument());
      if (profile == nullptr) {
        return Precondition(
            "PROFILE", record.instrument(),
            absl::StrCat("the request's instrument profile, ", Echo(record.instrument()),
                         ", is not loaded on this node (it has: ",
                         absl::StrJoin(in.profiles.Ids(), ", "), ")"));
      }
      ActionInput input{cmd, in.decision.side, in.now, *profile, in.view, in.directory};
      if (absl::Status a = ApplyAction(input, record, effect); !a.ok()) return a;
      UpdateClocks(*profile, state_before, cmd.action, effect.note_kind, in.now, record);
      // A follow-up that is decided no longer holds its preservation: look at its expiry now.
      if (!record.follows().empty() && HoldsPreservation(state_before) &&
          !HoldsPreservation(record.state())) {
        if (absl::Status s = ReleaseHold(in, record, effect); !s.ok()) return s;
      }
    }
  }

  if (!IsReadAction(cmd.action)) {
    if (const size_t bytes = record.ByteSizeLong(); bytes > kMaxRecordBytes) {
      return InvalidField(
          cmd.action == v1::CREATE ? "request" : "name",
          absl::StrCat("the request would take ", bytes, " bytes stored, over the limit of ",
                       kMaxRecordBytes, "; shorten its texts"),
          "RECORD_TOO_LARGE");
    }
  }

  // The audit entry, chained to the previous one.
  change.entry = std::move(effect.entry);
  v1::AuditEntry& entry = change.entry;
  const v1::Action action = entry.action();  // set by a timer; otherwise the command's
  StartEntry(record.name(), record.audit_size(), record.audit_head(), in.now, cmd, in.decision.role,
             in.decision.side, entry);
  if (action != v1::ACTION_UNSPECIFIED) entry.set_action(action);
  entry.set_state_before(state_before);
  entry.set_state_after(record.state());
  if (IsReadAction(cmd.action)) return change;  // a read changes nothing else
  entry.set_channel(record.channel());

  record.set_version(record.version() + 1);
  record.set_etag(absl::StrCat(record.version()));
  *record.mutable_update_time() = ToProto(in.now);

  change.index_puts = std::move(effect.index_puts);
  change.evidence_key_deletes = std::move(effect.evidence_key_deletes);
  const std::set<std::string> keys_after = DerivedKeys(id, record);
  for (const std::string& k : keys_before) {
    if (keys_after.count(k) == 0) change.derived_deletes.push_back(k);
  }
  for (const std::string& k : keys_after) {
    if (keys_before.count(k) == 0) change.derived_puts.push_back(k);
  }
  change.figures = FigureDelta(figures_before, CountedFigures(record));
  return change;
}

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

}  // namespace comity::workflow
