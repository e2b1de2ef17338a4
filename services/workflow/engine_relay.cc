// The engine's part in the federation: what a change owes the other node (a forwarded action, a
// mirror of the trail) queued in the outbox in the change's own batch, so that nothing is lost
// or sent twice; and the requesting node's copy of a request another node keeps.

#include <algorithm>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "services/audit/receipt.h"
#include "services/auth/policy.h"
#include "services/workflow/actions.h"
#include "services/workflow/engine.h"
#include "services/workflow/engine_group.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"

namespace comity::workflow {
namespace {

using auth::RequestNotFound;

int Rank(v1::RelayState s) {
  switch (s) {
    case v1::RELAY_QUEUED:
      return 1;
    case v1::RELAY_RELAYED:
      return 2;
    case v1::RELAY_DELIVERED:
    case v1::RELAY_REFUSED:
      return 3;
    default:
      return 0;
  }
}

// The settled relayed actions a record keeps (the oldest go first; every one stays on the
// trails): the record does not grow with the life of the request.
constexpr int kSettledKept = 16;

bool Settled(v1::RelayState s) { return Rank(s) == Rank(v1::RELAY_DELIVERED); }

// Moves the relayed action `key` of `record` on to `state`, never back.
bool Advance(v1::Request& record, const std::string& key, v1::RelayState state,
             const std::string& reason, absl::Time now, int code = 0) {
  for (v1::RelayedAction& a : *record.mutable_relayed()) {
    if (a.key() != key || Rank(state) <= Rank(a.state())) continue;
    a.set_state(state);
    a.set_reason(reason);
    a.set_code(code);
    *a.mutable_update_time() = ToProto(now);
    int settled = 0;
    for (const v1::RelayedAction& r : record.relayed()) settled += Settled(r.state());
    auto* list = record.mutable_relayed();
    for (int i = 0; i < list->size() && settled > kSettledKept;) {
      if (Settled(list->Get(i).state())) {
        list->erase(list->begin() + i);
        --settled;
      } else {
        ++i;
      }
    }
    return true;
  }
  return false;
}

// The derived keys and figures `change` moves from `old` to `next`, the record it writes.
void Rederive(const std::string& id, const v1::Request& old, const v1::Request& next,
              Change& change) {
  const std::set<std::string> was = DerivedKeys(id, old), is = DerivedKeys(id, next);
  for (const std::string& k : was) {
    if (is.count(k) == 0) change.derived_deletes.push_back(k);
  }
  for (const std::string& k : is) {
    if (was.count(k) == 0) change.derived_puts.push_back(k);
  }
  change.figures = FigureDelta(CountedFigures(old), CountedFigures(next));
}

}  // namespace

void Engine::QueueForward(const Command& cmd, const std::string& peer, const v1::Request* draft,
                          absl::Time now, Change& change, Group& group) {
  // The entry this change seals takes the Merkle log's next leaf: the outbox position.
  const uint64_t position = sealer_.size();
  const std::string key = absl::StrCat(options_.node, "/", position);
  v1::RelayedAction* a = change.record.add_relayed();
  a->set_action(cmd.action);
  a->set_key(key);
  a->set_state(v1::RELAY_QUEUED);
  *a->mutable_queue_time() = ToProto(now);
  *a->mutable_update_time() = ToProto(now);
  storage::v1::OutboxMessage m;
  v1::ForwardedAction* f = m.mutable_forward();
  f->set_action(cmd.action);
  f->set_name(change.record.name());
  f->set_body(cmd.body->SerializeAsString());
  *f->mutable_actor() = change.entry.actor();
  for (v1::Role role : cmd.caller.roles) f->add_roles(role);
  *f->mutable_event_time() = ToProto(now);
  if (draft != nullptr) *f->mutable_draft() = *draft;
  group.AddOutbox(storage::OutboxKey(peer, position), m);
  if (options_.receipts != nullptr) {
    *change.entry.add_receipts() =
        audit::MakeReceipt(*options_.receipts, v1::SUBMISSION_ACCEPTANCE, change.entry, key, now);
  }
}

void Engine::QueueRelay(const Command& cmd, const std::optional<v1::Request>& before,
                        Change& change, absl::Time now, Group& group) {
  const v1::Request& r = change.record;
  if (before) {  // a submission to the system of record Execute chose
    QueueForward(cmd, r.system_of_record(), &*before, now, change, group);
    return;
  }
  if (!r.system_of_record().empty() || !r.has_submit_time()) return;
  // This node keeps the request: the requesting authority's node mirrors every entry.
  const std::string peer = directory_->HomeNode(r.requesting_authority());
  if (peer.empty()) return;
  storage::v1::OutboxMessage m;
  m.set_mirror_request(change.id);
  group.AddOutbox(storage::OutboxKey(peer, sealer_.size()), m);
}

absl::StatusOr<v1::Request> Engine::Forward(const Command& cmd, const Decision& decision,
                                            absl::Time now, const std::string& id,
                                            v1::Request record, const std::string& idem_key,
                                            const std::string& fingerprint, Group& group) {
  // Refused here what would be refused there now; what the system of record meanwhile did
  // decides the rest, and its refusal comes back as the relayed action's state.
  absl::StatusOr<Change> trial =
      ApplyChange({cmd, decision, now, *profiles_, group, directory_}, id, record);
  if (!trial.ok()) return trial.status();
  Change queued;
  queued.id = id;
  queued.record = std::move(record);
  const v1::Request& r = queued.record;
  StartEntry(r.name(), r.audit_size(), r.audit_head(), now, cmd, decision.role, decision.side,
             queued.entry);
  queued.entry.set_state_before(r.state());
  queued.entry.set_state_after(r.state());
  const std::string peer = r.system_of_record();
  QueueForward(cmd, peer, nullptr, now, queued, group);
  queued.entry.set_reasons(
      absl::StrCat("relayed to node ", peer, " as ", queued.record.relayed().rbegin()->key()));
  return Write(std::move(queued), idem_key, fingerprint, group);
}

absl::StatusOr<v1::Request> Engine::ExecuteRelay(const Command& cmd, Group& group, absl::Time now) {
  if (!cmd.caller.system) return absl::PermissionDeniedError("only the node relays");
  if (cmd.action == v1::FETCH_PACKAGE) return RecordFetch(cmd, group, now);
  if (cmd.action == v1::RELAY_STATE) {
    const auto& m = Body<v1::RecordRelayStateRequest>(cmd);
    absl::StatusOr<std::string> id = ParseRequestName(m.name(), "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Request> loaded = group.LoadRequest(*id);
    if (!loaded.ok()) return loaded.status();
    const v1::Request& old = *loaded;
    v1::Request next = old;
    if (!Advance(next, m.key(), m.state(), m.reason(), now, m.code())) return next;
    if (m.state() != v1::RELAY_REFUSED) {
      group.AddRecord(*id, next);
      return next;
    }
    // A refusal goes on this node's trail. A refused submission leaves the request here a draft
    // again (the system of record never had it), to be corrected and submitted anew.
    v1::Action refused = v1::ACTION_UNSPECIFIED;
    for (const v1::RelayedAction& a : old.relayed()) {
      if (a.key() == m.key()) refused = a.action();
    }
    Change change;
    change.id = *id;
    const bool redraft =
        refused == v1::SUBMIT && old.state() == v1::SUBMITTED && old.mirror_size() == 0;
    if (redraft) {
      next.set_state(v1::DRAFT);
      next.clear_submit_time();
      next.clear_system_of_record();
      change.derived_deletes.push_back(storage::PartyKey(next.requested_authority(), *id));
      if (!next.follows().empty()) {
        absl::StatusOr<std::string> followed = ParseRequestName(next.follows(), "follows");
        if (followed.ok()) change.derived_deletes.push_back(storage::LinkKey(*followed, *id));
      }
    }
    Rederive(*id, old, next, change);
    change.record = std::move(next);
    StartEntry(change.record.name(), old.audit_size(), old.audit_head(), now, cmd,
               v1::ROLE_UNSPECIFIED, v1::SYSTEM, change.entry);
    change.entry.set_state_before(old.state());
    change.entry.set_state_after(change.record.state());
    change.entry.set_reasons(absl::StrCat(
        "node ", old.system_of_record(), " refused the ", v1::Action_Name(refused), " relayed as ",
        m.key(), ": ", absl::StatusCodeToString(static_cast<absl::StatusCode>(m.code())), ": ",
        m.reason(), redraft ? "; the request is a draft here again" : ""));
    return Write(std::move(change), "", "", group);
  }
  // MIRROR: the system of record's trail and record, checked by the federation adapter against
  // its log key; here, that they extend what this node holds.
  const auto& m = Body<v1::MirroredTrail>(cmd);
  absl::StatusOr<std::string> id = ParseRequestName(m.record().name(), "record.name");
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::Request> loaded = group.LoadRequest(*id);
  if (absl::IsNotFound(loaded.status())) return RequestNotFound(m.record().name());
  if (!loaded.ok()) return loaded.status();
  const v1::Request& old = *loaded;
  if (old.system_of_record() != cmd.caller.node) {
    return absl::PermissionDeniedError(absl::StrCat(
        "node ", cmd.caller.node, " is not the system of record of ", m.record().name()));
  }
  const v1::Trail& trail = m.bundle().trail();
  if (trail.size() < old.mirror_size() ||
      (trail.size() == old.mirror_size() && trail.head() == old.mirror_head())) {
    return old;  // it holds this trail, or a longer one
  }
  if (old.mirror_size() > 0) {
    const uint64_t held = old.mirror_size();
    if (static_cast<uint64_t>(trail.entries_size()) < held ||
        Sha256(trail.entries(static_cast<int>(held - 1)).data()) != old.mirror_head()) {
      return Precondition(
          "MIRROR", m.record().name(),
          absl::StrCat("node ", cmd.caller.node, "'s trail does not extend the one mirrored here (",
                       held, " entries): its history changed"));
    }
  }
  v1::Request next = m.record();
  *next.mutable_fetched() = old.fetched();
  next.set_audit_size(old.audit_size());
  next.set_audit_head(old.audit_head());
  next.set_system_of_record(old.system_of_record());
  *next.mutable_relayed() = old.relayed();
  next.set_mirror_size(trail.size());
  next.set_mirror_head(trail.head());
  for (const v1::TrailEntry& e : trail.entries()) {
    if (!e.entry().request_id().empty()) {
      Advance(next, e.entry().request_id(), v1::RELAY_DELIVERED, "", now);
    }
  }
  group.PutMirror(*id, m);
  // What the system of record did, but for reads there, goes on this node's own trail too (when
  // it learnt of it), and to its live feed.
  bool changed = false;
  for (uint64_t i = old.mirror_size(); i < static_cast<uint64_t>(trail.entries_size()); ++i) {
    changed = changed || !IsReadAction(trail.entries(static_cast<int>(i)).entry().action());
  }
  Change change;
  change.id = *id;
  Rederive(*id, old, next, change);
  change.record = std::move(next);
  if (!changed) {
    for (const std::string& k : change.derived_deletes) group.DeleteIndex(k);
    for (const std::string& k : change.derived_puts) group.AddIndex(k, "");
    group.AddFigures(change.figures);
    group.AddRecord(*id, change.record);
    return change.record;
  }
  StartEntry(change.record.name(), old.audit_size(), old.audit_head(), now, cmd,
             v1::ROLE_UNSPECIFIED, v1::SYSTEM, change.entry);
  change.entry.set_state_before(old.state());
  change.entry.set_state_after(change.record.state());
  change.entry.set_reasons(absl::StrCat("node ", cmd.caller.node, "'s entries ",
                                        old.mirror_size() + 1, "-", trail.size(), " mirrored"));
  return Write(std::move(change), "", "", group);
}

absl::StatusOr<v1::Request> Engine::RecordFetch(const Command& cmd, Group& group, absl::Time now) {
  const auto& m = Body<v1::RecordFetchRequest>(cmd);
  absl::StatusOr<std::string> id = ParseRequestName(m.name(), "name");
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::Request> loaded = group.LoadRequest(*id);
  if (!loaded.ok()) return loaded.status();
  const v1::Request& old = *loaded;
  if (old.system_of_record().empty()) {
    return Precondition("REQUEST", m.name(),
                        absl::StrCat(m.name(), " is kept here: it has nothing to fetch"));
  }
  absl::StatusOr<const v1::EvidencePackage*> package = FindPackage(old, m.package());
  if (!package.ok()) return package.status();
  for (const std::string& p : old.fetched()) {
    if (p == m.package()) return old;  // recorded once
  }
  if ((*package)->state() != v1::DELIVERED) {
    return Precondition(
        "PACKAGE", m.package(),
        absl::StrCat(m.package(), " is ", v1::PackageState_Name((*package)->state()), " at node ",
                     old.system_of_record(), ": it is not fetched"));
  }
  v1::Request next = old;
  next.add_fetched(m.package());
  Change change;
  change.id = *id;
  Rederive(*id, old, next, change);
  change.record = std::move(next);
  StartEntry(change.record.name(), old.audit_size(), old.audit_head(), now, cmd,
             v1::ROLE_UNSPECIFIED, v1::SYSTEM, change.entry);
  change.entry.set_state_before(old.state());
  change.entry.set_state_after(old.state());
  v1::EvidenceRef* ref = change.entry.mutable_evidence();
  ref->set_package(m.package());
  ref->set_sha256((*package)->digest());
  int64_t bytes = 0;
  for (const v1::PackageItem& item : (*package)->items()) bytes += item.size_bytes();
  ref->set_length(bytes);
  const int items = (*package)->items_size();
  change.entry.set_reasons(absl::StrCat("fetched from node ", old.system_of_record(), ": ", items,
                                        items == 1 ? " item, " : " items, ", bytes,
                                        " bytes, each item's SHA-256 checked; held under this "
                                        "node's key"));
  return Write(std::move(change), "", "", group);
}

}  // namespace comity::workflow
