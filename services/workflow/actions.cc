#include "services/workflow/actions.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "services/auth/policy.h"
#include "services/workflow/errors.h"
#include "services/workflow/lifecycle.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::ActingRole;
using auth::RequestNotFound;
using auth::SideOf;
namespace {

constexpr int kFirstOutputField = 30;

absl::Status Step(const ActionInput& in, v1::Request& record, const StepFacts& facts) {
  absl::StatusOr<v1::State> next = NextState(record.state(), in.command.action, in.side, facts);
  if (!next.ok()) return next.status();
  record.set_state(*next);
  return absl::OkStatus();
}

absl::Status Step(const ActionInput& in, v1::Request& record) {
  StepFacts facts;
  facts.preservation = IsPreservationType(record.type());
  return Step(in, record, facts);
}

const TypeRule& RuleOf(const ActionInput& in, const v1::Request& record) {
  static const TypeRule* const kEmpty = new TypeRule;
  const TypeRule* rule = FindTypeRule(in.profile, record.type());
  return rule != nullptr ? *rule : *kEmpty;
}

// Every ground must be one the profile allows for this request type.
absl::Status CheckGrounds(const ActionInput& in, const v1::Request& record,
                          const google::protobuf::RepeatedPtrField<std::string>& grounds,
                          absl::string_view field) {
  const TypeRule& rule = RuleOf(in, record);
  std::vector<std::string> allowed(rule.allowed_grounds().begin(), rule.allowed_grounds().end());
  std::vector<FieldViolation> bad;
  for (int i = 0; i < grounds.size(); ++i) {
    if (std::find(allowed.begin(), allowed.end(), grounds[i]) == allowed.end()) {
      bad.push_back({absl::StrCat(field, "[", i, "]"),
                     absl::StrCat(grounds[i], " is not a ground ", in.profile.id(), " allows for ",
                                  v1::RequestType_Name(record.type()),
                                  " requests; allowed: ", absl::StrJoin(allowed, ", ")),
                     "GROUND_NOT_ALLOWED"});
    }
  }
  if (!bad.empty()) return InvalidFields(bad);
  // A reserved ground: only a requested Party that made the reservation may invoke it.
  for (const config::v1::ReservedGround& r : rule.reserved_grounds()) {
    if (std::find(grounds.begin(), grounds.end(), r.ground()) == grounds.end()) continue;
    std::optional<v1::Authority> requested =
        in.directory == nullptr ? std::nullopt
                                : in.directory->FindAuthority(record.requested_authority());
    const std::string country = requested ? requested->country() : "";
    if (!country.empty() &&
        in.directory->HasReservation(country, in.profile.id(), r.reservation())) {
      continue;
    }
    const config::v1::ReservationRule* reservation =
        FindReservationRule(in.profile, r.reservation());
    return Precondition(
        "RESERVATION", ReservationKey(country, in.profile.id(), r.reservation()),
        absl::StrCat(r.ground(), " may be invoked for ", v1::RequestType_Name(record.type()),
                     " requests under ", in.profile.id(), " only by a Party that made reservation ",
                     r.reservation(),
                     reservation != nullptr ? absl::StrCat(" (", reservation->article(), ")") : "",
                     "; the directory records none for ",
                     country.empty() ? "the requested Party" : country));
  }
  return absl::OkStatus();
}

bool AllIn(const google::protobuf::RepeatedPtrField<std::string>& codes,
           const google::protobuf::RepeatedPtrField<std::string>& set) {
  for (const std::string& c : codes) {
    if (std::find(set.begin(), set.end(), c) == set.end()) return false;
  }
  return !codes.empty();
}

absl::StatusOr<v1::Request> LoadFollowed(const Command& cmd, const v1::Request& follow_up,
                                         const View& view) {
  absl::StatusOr<std::string> id = ParseRequestName(follow_up.follows(), "request.follows");
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::Request> followed = view.LoadRequest(*id);
  if (absl::IsNotFound(followed.status())) return RequestNotFound(follow_up.follows());
  if (!followed.ok()) return followed.status();
  absl::StatusOr<v1::Side> side = SideOf(cmd.caller, *followed);
  if (!side.ok() || *side != v1::REQUESTING) return RequestNotFound(follow_up.follows());
  if (!IsPreservationType(followed->type())) {
    return InvalidField("request.follows", "a follow-up request follows a preservation request",
                        "FOLLOWS_NOT_PRESERVATION");
  }
  if (followed->requested_authority() != follow_up.requested_authority()) {
    return InvalidField("request.follows",
                        "the preservation was addressed to another authority; address the "
                        "follow-up to the same one",
                        "FOLLOWS_OTHER_AUTHORITY");
  }
  return followed;
}

absl::Status SettleConditions(const ActionInput& in, v1::Request& record, Effect& effect,
                              v1::ConditionStatus status) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  for (v1::Condition& c : *record.mutable_conditions()) {
    if (c.status() != v1::PROPOSED) continue;
    c.set_status(status);
    *effect.entry.add_conditions() = c;
  }
  return absl::OkStatus();
}

absl::Status Expire(const ActionInput& in, v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  if (in.now < FromProto(record.preservation().expire_time())) {
    return Precondition("DEADLINE", record.name(), "the preservation has not reached its expiry");
  }
  absl::StatusOr<std::string> holder =
      HoldingFollowUp(in.view, record.name().substr(strlen("requests/")));
  if (!holder.ok()) return holder.status();
  if (!holder->empty()) {
    return Precondition("HOLD", *holder,
                        absl::StrCat("held by follow-up ", *holder, " until it is decided (",
                                     in.profile.preservation_article(), ")"));
  }
  effect.entry.set_legal_basis(in.profile.preservation_article());
  return absl::OkStatus();
}

}  // namespace

std::string ManifestDigest(const v1::EvidencePackage& package) {
  std::string manifest;
  for (const v1::PackageItem& item : package.items()) {
    absl::StrAppend(&manifest, item.sha256(), "  ", item.name(), "\n");
  }
  return ToHex(Sha256(manifest));
}

absl::StatusOr<v1::EvidencePackage*> FindPackage(v1::Request& record, absl::string_view name) {
  for (v1::EvidencePackage& p : *record.mutable_packages()) {
    if (p.name() == name) return &p;
  }
  return absl::NotFoundError(absl::StrCat("package ", name, " not found"));
}

absl::StatusOr<const v1::EvidencePackage*> FindPackage(const v1::Request& record,
                                                       absl::string_view name) {
  for (const v1::EvidencePackage& p : record.packages()) {
    if (p.name() == name) return &p;
  }
  return absl::NotFoundError(absl::StrCat("package ", name, " not found"));
}

absl::StatusOr<int> FindItem(const v1::EvidencePackage& package, absl::string_view name) {
  for (int i = 0; i < package.items_size(); ++i) {
    if (package.items(i).name() == name) return i;
  }
  return absl::NotFoundError(absl::StrCat("item ", name, " is not in ", package.name()));
}

namespace bodies {

absl::Status ApplyBody(const ActionInput& in, const v1::SubmitRequestRequest&, v1::Request& record,
                       Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  const TypeRule& rule = RuleOf(in, record);
  std::vector<FieldViolation> missing;
  for (const std::string& path :
       MissingFields(record, RequiredFields(in.profile, rule, record.priority()))) {
    missing.push_back({absl::StrCat("request.", path),
                       absl::StrCat("is required by ", in.profile.id(), " for ",
                                    v1::RequestType_Name(record.type()),
                                    record.priority() == v1::EMERGENCY ? " (emergency)" : "",
                                    " requests (", rule.article(), ")"),
                       "REQUIRED_BY_PROFILE"});
  }
  if (!missing.empty()) return InvalidFields(missing);
  const std::string id = record.name().substr(strlen("requests/"));
  if (!record.follows().empty()) {
    absl::StatusOr<v1::Request> followed = LoadFollowed(in.command, record, in.view);
    if (!followed.ok()) return followed.status();
    if (IsTerminal(followed->state())) {
      return Precondition(
          "LINK", record.follows(),
          absl::StrCat("the preservation it follows is ", v1::State_Name(followed->state()),
                       "; nothing is held any more"));
    }
    effect.index_puts.emplace_back(
        storage::LinkKey(followed->name().substr(strlen("requests/")), id), "");
  }
  effect.index_puts.emplace_back(storage::PartyKey(record.requested_authority(), id), "r");
  *record.mutable_submit_time() = ToProto(in.now);
  effect.entry.set_legal_basis(rule.article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::RefuseRequestRequest& m,
                       v1::Request& record, Effect& effect) {
  StepFacts facts;
  facts.preservation = IsPreservationType(record.type());
  facts.direct_refusal = AllIn(m.grounds(), in.profile.refusal_without_consultation());
  if (absl::Status s = Step(in, record, facts); !s.ok()) return s;
  if (absl::Status s = CheckGrounds(in, record, m.grounds(), "grounds"); !s.ok()) return s;
  if (AllIn(m.grounds(), in.profile.never_sole_grounds())) {
    return InvalidField(
        "grounds",
        absl::StrCat(absl::StrJoin(m.grounds(), ", "),
                     " may never be the sole ground of a refusal under ", in.profile.id()),
        "NEVER_SOLE_GROUND");
  }
  v1::Decision* d = record.mutable_refusal();
  *d->mutable_grounds() = m.grounds();
  d->set_reasons(m.reasons());
  *effect.entry.mutable_grounds() = m.grounds();
  effect.entry.set_reasons(m.reasons());
  effect.entry.set_legal_basis(in.profile.refusal_article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::ConsultRequestRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  if (absl::Status s = CheckGrounds(in, record, m.intended_grounds(), "intended_grounds");
      !s.ok()) {
    return s;
  }
  v1::Decision* d = record.mutable_consultation();
  *d->mutable_grounds() = m.intended_grounds();
  d->set_reasons(m.reasons());
  d->set_postponement(m.postponement());
  *effect.entry.mutable_grounds() = m.intended_grounds();
  effect.entry.set_reasons(m.reasons());
  effect.entry.set_legal_basis(in.profile.consultation_article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::PostponeRequestRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  const auto& allowed = in.profile.postponement_grounds();
  if (std::find(allowed.begin(), allowed.end(), m.ground()) == allowed.end()) {
    return InvalidField("ground",
                        absl::StrCat(m.ground(), " is not a postponement ground under ",
                                     in.profile.id(), "; allowed: ", absl::StrJoin(allowed, ", ")),
                        "GROUND_NOT_ALLOWED");
  }
  if (FromProto(m.until_time()) <= in.now) {
    return InvalidField("until_time", "must be in the future", "TIME_IN_PAST");
  }
  v1::Decision* d = record.mutable_postponement();
  d->clear_grounds();
  d->add_grounds(m.ground());
  d->set_reasons(m.reasons());
  *d->mutable_until_time() = m.until_time();
  effect.entry.add_grounds(m.ground());
  effect.entry.set_reasons(m.reasons());
  effect.entry.set_legal_basis(in.profile.postponement_article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::ProposeConditionsRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  for (v1::Condition c : m.conditions()) {
    c.set_status(v1::PROPOSED);
    *record.add_conditions() = c;
    *effect.entry.add_conditions() = c;
  }
  effect.entry.set_legal_basis(in.profile.consultation_article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::DeliverEvidenceRequest& m,
                       v1::Request& record, Effect& effect) {
  StepFacts facts;
  facts.preservation = IsPreservationType(record.type());
  facts.final_delivery = m.delivery().final();
  if (absl::Status s = Step(in, record, facts); !s.ok()) return s;
  v1::Delivery* d = record.add_deliveries();
  *d = m.delivery();
  d->set_number(record.deliveries_size());
  *d->mutable_delivered_time() = ToProto(in.now);
  for (int i = 0; i < d->packages_size(); ++i) {
    absl::StatusOr<v1::EvidencePackage*> found = FindPackage(record, d->packages(i));
    if (!found.ok()) {
      return InvalidField(absl::StrCat("delivery.packages[", i, "]"),
                          absl::StrCat(d->packages(i), " is not a package of ", record.name()),
                          "UNKNOWN_PACKAGE");
    }
    v1::EvidencePackage& package = **found;
    if (package.state() != v1::COMPLETE) {
      std::string why = absl::StrCat("is ", v1::PackageState_Name(package.state()));
      if (package.state() == v1::UPLOADING) {
        for (const v1::PackageItem& item : package.items()) {
          if (!item.complete()) {
            absl::StrAppend(&why, ": item ", item.name(), " is not uploaded yet");
            break;
          }
        }
      } else if (package.state() == v1::DELIVERED) {
        absl::StrAppend(&why, " by delivery ", package.delivery());
      }
      return Precondition(
          "PACKAGE", package.name(),
          absl::StrCat("only a COMPLETE package is delivered; ", package.name(), " ", why));
    }
    package.set_state(v1::DELIVERED);
    package.set_delivery(d->number());
    effect.entry.add_packages(package.name());
    for (const v1::PackageItem& item : package.items()) {
      v1::DeliveredItem* delivered = d->add_items();
      delivered->set_name(item.name());
      delivered->set_sha256(item.sha256());
      delivered->set_category(item.category());
      delivered->set_size_bytes(item.size_bytes());
    }
  }
  for (const v1::DeliveredItem& item : d->items()) effect.entry.add_attachments(item.sha256());
  effect.entry.set_reasons(d->transfer_conditions());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::ConfirmPreservedRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  // Counted in whole UTC days, as a person counts them: any time on the day N days after today
  // meets an N-day minimum, so "today + N days" from any clock of that day is accepted, and the
  // earliest expiry the message names (that day's 00:00:00Z) is too.
  const absl::Time today =
      absl::FromCivil(absl::ToCivilDay(in.now, absl::UTCTimeZone()), absl::UTCTimeZone());
  const absl::Time earliest = today + absl::Hours(24) * in.profile.min_preservation_days();
  if (FromProto(m.expire_time()) < earliest) {
    return InvalidField(
        "expire_time",
        absl::StrCat("preservation lasts at least ", in.profile.min_preservation_days(),
                     " days under ", in.profile.id(), " (", in.profile.preservation_article(),
                     "); the earliest expiry is ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", earliest, absl::UTCTimeZone())),
        "PRESERVATION_TOO_SHORT");
  }
  *record.mutable_preservation()->mutable_expire_time() = m.expire_time();
  effect.entry.set_legal_basis(in.profile.preservation_article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::ExtendPreservationRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  v1::Preservation* p = record.mutable_preservation();
  const int max = in.profile.max_preservation_extensions();
  if (max > 0 && p->extensions() >= max) {
    return Precondition("PROFILE", record.name(),
                        absl::StrCat(in.profile.id(), " allows ", max, " extension",
                                     max == 1 ? "" : "s", "; it has been extended already"));
  }
  const absl::Time current = FromProto(p->expire_time());
  const absl::Time wanted = FromProto(m.expire_time());
  if (wanted <= current) {
    return InvalidField("expire_time", "must be later than the current expiry", "NOT_LATER");
  }
  const int days = in.profile.extension_days();
  if (days > 0 && wanted > current + absl::Hours(24) * days) {
    return InvalidField(
        "expire_time",
        absl::StrCat("an extension under ", in.profile.id(), " is at most ", days, " days"),
        "EXTENSION_TOO_LONG");
  }
  *p->mutable_expire_time() = m.expire_time();
  p->set_extensions(p->extensions() + 1);
  effect.entry.set_reasons(m.reasons());
  effect.entry.set_legal_basis(in.profile.preservation_article());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::AddNoteRequest& m, v1::Request& record,
                       Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  v1::Side allowed = v1::SIDE_UNSPECIFIED;  // either
  switch (m.kind()) {
    case v1::STATUS_ENQUIRY:
      allowed = v1::REQUESTING;
      break;
    case v1::STATUS_REPLY:
    case v1::DELAY_NOTICE:
    case v1::RISK_NOTICE:
    case v1::CONFIDENTIALITY_NOTICE:
      allowed = v1::RECEIVING;
      break;
    default:
      break;
  }
  if (allowed != v1::SIDE_UNSPECIFIED && allowed != in.side) {
    return InvalidField("kind",
                        absl::StrCat(v1::NoteKind_Name(m.kind()), " notes come from the ",
                                     v1::Side_Name(allowed), " side"),
                        "NOTE_KIND_SIDE");
  }
  effect.entry.set_note_kind(m.kind());
  effect.note_kind = m.kind();
  effect.entry.set_reasons(m.text());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::UpdateDraftRequest& m, v1::Request& record,
                       Effect&) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  v1::Request content = m.request();
  if (!content.follows().empty()) {
    absl::StatusOr<v1::Request> followed = LoadFollowed(in.command, content, in.view);
    if (!followed.ok()) return followed.status();
  }
  if (content.instrument() != record.instrument()) {
    return InvalidField("request.instrument", "a draft's instrument cannot change", "IMMUTABLE");
  }
  // Keep the output-only fields, replace the content.
  const auto* desc = v1::Request::descriptor();
  const auto* refl = v1::Request::GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const auto* f = desc->field(i);
    if (f->number() >= kFirstOutputField || f->name() == "name" ||
        f->name() == "requesting_authority") {
      continue;
    }
    refl->ClearField(&record, f);
  }
  content.set_name(record.name());
  content.set_requesting_authority(record.requesting_authority());
  for (int i = 0; i < desc->field_count(); ++i) {
    const auto* f = desc->field(i);
    if (f->number() >= kFirstOutputField) refl->ClearField(&content, f);
  }
  record.MergeFrom(content);
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::AcknowledgeRequestRequest&,
                       v1::Request& record, Effect&) {
  return Step(in, record);
}

absl::Status ApplyBody(const ActionInput& in, const v1::AcceptRequestRequest&, v1::Request& record,
                       Effect&) {
  return Step(in, record);
}

absl::Status ApplyBody(const ActionInput& in, const v1::ResumeRequestRequest&, v1::Request& record,
                       Effect&) {
  return Step(in, record);
}

absl::Status ApplyBody(const ActionInput& in, const v1::ConfirmReceiptRequest&, v1::Request& record,
                       Effect&) {
  return Step(in, record);
}

absl::Status ApplyBody(const ActionInput& in, const v1::RequestInformationRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  record.add_information_requested(m.questions());
  effect.entry.set_reasons(m.questions());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::SupplementRequestRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  record.add_supplements(m.information());
  effect.entry.set_reasons(m.information());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::AcceptConditionsRequest&,
                       v1::Request& record, Effect& effect) {
  return SettleConditions(in, record, effect, v1::ACCEPTED);
}

absl::Status ApplyBody(const ActionInput& in, const v1::DeclineConditionsRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = SettleConditions(in, record, effect, v1::DECLINED); !s.ok()) return s;
  record.set_withdrawal_reason(m.reason());
  effect.entry.set_reasons(m.reason());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::ReleasePreservationRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  effect.entry.set_reasons(m.reason());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::WithdrawRequestRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  record.set_withdrawal_reason(m.reason());
  effect.entry.set_reasons(m.reason());
  return absl::OkStatus();
}

absl::Status ApplyExpiry(const ActionInput& in, v1::Request& record, Effect& effect) {
  return Expire(in, record, effect);
}

absl::Status ApplyBody(const ActionInput& in, const v1::CreatePackageRequest& m,
                       v1::Request& record, Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  if (record.packages_size() >= kMaxPackages) {
    return Precondition("PACKAGES", record.name(),
                        absl::StrCat("a request holds at most ", kMaxPackages,
                                     " evidence packages; deliver more items per package"));
  }
  absl::StatusOr<std::string> id = ParseRequestName(record.name(), "parent");
  if (!id.ok()) return id.status();
  v1::EvidencePackage* package = record.add_packages();
  package->set_name(MakePackageName(*id, record.packages_size()));
  for (const v1::PackageItem& item : m.items()) {
    v1::PackageItem* declared = package->add_items();
    *declared = item;
    declared->set_complete(false);
  }
  package->set_state(v1::UPLOADING);
  *package->mutable_create_time() = ToProto(in.now);
  package->set_creator(in.command.caller.principal);
  package->set_digest(ManifestDigest(*package));
  v1::EvidenceRef* ref = effect.entry.mutable_evidence();
  ref->set_package(package->name());
  ref->set_sha256(package->digest());
  return absl::OkStatus();
}

absl::Status ApplyBody(const ActionInput& in, const v1::ErasePackageRequest& m, v1::Request& record,
                       Effect& effect) {
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  absl::StatusOr<v1::EvidencePackage*> found = FindPackage(record, m.name());
  if (!found.ok()) return found.status();
  v1::EvidencePackage& package = **found;
  if (package.state() == v1::ERASED) {
    return Precondition("PACKAGE", package.name(),
                        absl::StrCat(package.name(), " is already erased"));
  }
  const bool delivered = package.state() == v1::DELIVERED;
  if (in.side == v1::RECEIVING && delivered) {
    return Precondition(
        "PACKAGE", package.name(),
        absl::StrCat(package.name(), " was delivered (delivery ", package.delivery(),
                     "): only the requesting side may erase it now"));
  }
  if (in.side == v1::REQUESTING && !delivered) {
    return Precondition("PACKAGE", package.name(),
                        absl::StrCat(package.name(), " is ", v1::PackageState_Name(package.state()),
                                     ": the requesting side erases only delivered packages"));
  }
  const absl::StatusOr<PackageName> parsed = ParsePackageName(package.name(), "name");
  if (!parsed.ok()) return absl::DataLossError(absl::StrCat("bad stored name ", package.name()));
  package.set_state(v1::ERASED);
  *package.mutable_erase_time() = ToProto(in.now);
  effect.evidence_key_deletes.push_back(storage::PackageKeyKey(parsed->request_id, parsed->number));
  v1::EvidenceRef* ref = effect.entry.mutable_evidence();
  ref->set_package(package.name());
  ref->set_sha256(package.digest());
  effect.entry.set_reasons(m.reasons());
  return absl::OkStatus();
}

absl::Status ApplyUpload(const ActionInput& in, v1::Request& record, Effect& effect) {
  const auto& m = Body<v1::RecordUploadRequest>(in.command);
  if (absl::Status s = Step(in, record); !s.ok()) return s;
  absl::StatusOr<v1::EvidencePackage*> found = FindPackage(record, m.package());
  if (!found.ok()) return found.status();
  v1::EvidencePackage& package = **found;
  if (package.state() != v1::UPLOADING) {
    return Precondition("PACKAGE", package.name(),
                        absl::StrCat(package.name(), " is ", v1::PackageState_Name(package.state()),
                                     ": nothing more is uploaded to it"));
  }
  absl::StatusOr<int> index = FindItem(package, m.item());
  if (!index.ok()) return index.status();
  v1::PackageItem& item = *package.mutable_items(*index);
  if (item.complete()) {
    return Precondition("ITEM", item.name(), absl::StrCat(item.name(), " is already complete"));
  }
  item.set_complete(true);
  bool all = true;
  for (const v1::PackageItem& each : package.items()) all = all && each.complete();
  if (all) package.set_state(v1::COMPLETE);
  v1::EvidenceRef* ref = effect.entry.mutable_evidence();
  ref->set_package(package.name());
  ref->set_item(item.name());
  ref->set_sha256(item.sha256());
  ref->set_length(item.size_bytes());
  ref->set_complete(true);
  return absl::OkStatus();
}

absl::Status CheckDownload(const v1::RecordDownloadRequest& m, v1::Side side,
                           const v1::Request& record, Effect& effect) {
  if (side != v1::REQUESTING) {
    return absl::PermissionDeniedError("only the requesting side downloads evidence");
  }
  absl::StatusOr<const v1::EvidencePackage*> found = FindPackage(record, m.package());
  if (!found.ok()) return found.status();
  const v1::EvidencePackage& package = **found;
  if (package.state() != v1::DELIVERED) {
    return Precondition("PACKAGE", package.name(),
                        absl::StrCat(package.name(), " is ", v1::PackageState_Name(package.state()),
                                     ": only a delivered package is downloaded"));
  }
  absl::StatusOr<int> index = FindItem(package, m.item());
  if (!index.ok()) return index.status();
  const v1::PackageItem& item = package.items(*index);
  if (m.offset() < 0 || m.offset() > item.size_bytes() || m.length() < 0 ||
      m.length() > item.size_bytes() - m.offset()) {
    return InvalidField("offset",
                        absl::StrCat("must be within the item's ", item.size_bytes(), " bytes"),
                        "OUT_OF_RANGE");
  }
  v1::EvidenceRef* ref = effect.entry.mutable_evidence();
  ref->set_package(package.name());
  ref->set_item(item.name());
  ref->set_sha256(item.sha256());
  ref->set_offset(m.offset());
  ref->set_length(m.length());
  ref->set_complete(m.offset() + m.length() == item.size_bytes());
  return absl::OkStatus();
}

}  // namespace bodies

bool HoldsPreservation(v1::State state) {
  return state != v1::DRAFT && state != v1::EXECUTED && !IsTerminal(state);
}

absl::StatusOr<std::string> HoldingFollowUp(const View& view, absl::string_view id) {
  absl::StatusOr<std::vector<std::string>> follow_ups = view.FollowUps(id);
  if (!follow_ups.ok()) return follow_ups.status();
  for (const std::string& f : *follow_ups) {
    absl::StatusOr<v1::Request> follow_up = view.LoadRequest(f);
    if (!follow_up.ok()) return follow_up.status();
    if (HoldsPreservation(follow_up->state())) return follow_up->name();
  }
  return std::string();
}

absl::StatusOr<v1::Request> NewDraft(const Command& command, const std::string& id, absl::Time now,
                                     const View& view) {
  v1::Request r = Body<v1::CreateRequestRequest>(command).request();
  const auto* desc = v1::Request::descriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    if (desc->field(i)->number() >= kFirstOutputField) {
      v1::Request::GetReflection()->ClearField(&r, desc->field(i));
    }
  }
  r.set_name(RequestName(id));
  r.set_requesting_authority(command.caller.authority);
  r.set_state(v1::DRAFT);
  *r.mutable_create_time() = ToProto(now);
  if (!r.follows().empty()) {
    absl::StatusOr<v1::Request> followed = LoadFollowed(command, r, view);
    if (!followed.ok()) return followed.status();
  }
  return r;
}

}  // namespace comity::workflow
