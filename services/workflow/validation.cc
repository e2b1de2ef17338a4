#include "services/workflow/validation.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "services/auth/policy.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"

namespace comity::workflow {

using auth::ActingRole;
using auth::RequestNotFound;
using auth::SideOf;
namespace {

using google::protobuf::RepeatedPtrField;
using google::protobuf::Timestamp;

bool IsLanguageTag(absl::string_view tag) {
  // BCP 47, the common shape: 2-3 lower-case letters, optionally "-" and a region or script.
  size_t i = 0;
  while (i < tag.size() && tag[i] >= 'a' && tag[i] <= 'z') ++i;
  if (i < 2 || i > 3) return false;
  if (i == tag.size()) return true;
  if (tag[i] != '-' || tag.size() - i - 1 < 2 || tag.size() - i - 1 > 8) return false;
  for (size_t j = i + 1; j < tag.size(); ++j) {
    if (!std::isalnum(static_cast<unsigned char>(tag[j]))) return false;
  }
  return true;
}

void CheckContent(const v1::Request& r, const Caller& caller, const Directory& directory,
                  const ProfileSet& profiles, Checker& c) {
  const InstrumentProfile* profile = profiles.Find(r.instrument());
  if (r.instrument().empty()) {
    c.Add("instrument", "is required (one of the node's instrument profiles)", "REQUIRED");
  } else if (profile == nullptr) {
    c.Add("instrument", absl::StrCat("names no instrument profile on this node"),
          "UNKNOWN_INSTRUMENT");
  }
  c.Enum("type", r.type(), v1::RequestType_IsValid, true);
  if (profile != nullptr && r.type() != 0 && v1::RequestType_IsValid(r.type()) &&
      FindTypeRule(*profile, r.type()) == nullptr) {
    c.Add("type",
          absl::StrCat(v1::RequestType_Name(r.type()), " is not covered by instrument ",
                       r.instrument()),
          "TYPE_NOT_IN_INSTRUMENT");
  }
  c.Enum("priority", r.priority(), v1::Priority_IsValid, true);
  c.Enum("channel", r.channel(), v1::Channel_IsValid, false);
  std::optional<v1::Authority> requested;
  if (r.requested_authority().empty()) {
    c.Add("requested_authority", "is required", "REQUIRED");
  } else if (!IsAuthorityName(r.requested_authority())) {
    c.Add("requested_authority", "must be authorities/<ID>", "NAME_FORMAT");
  } else if (!(requested = directory.FindAuthority(r.requested_authority()))) {
    c.Add("requested_authority", "is not in this node's directory", "UNKNOWN_AUTHORITY");
  } else if (r.requested_authority() == caller.authority) {
    c.Add("requested_authority", "is your own authority", "SELF_REQUEST");
  }
  if (!r.language().empty()) {
    if (!IsLanguageTag(r.language())) {
      c.Add("language", "must be a language tag such as en or fr", "LANGUAGE_FORMAT");
    } else if (requested && !requested->languages().empty() &&
               std::find(requested->languages().begin(), requested->languages().end(),
                         r.language()) == requested->languages().end()) {
      c.Add("language", "is not a language the requested authority accepts",
            "LANGUAGE_NOT_ACCEPTED");
    }
  }
  const v1::CaseInfo& k = r.case_info();
  c.Text("case_info.reference", k.reference(), kMaxShortText, false);
  c.Text("case_info.investigating_authority", k.investigating_authority(), kMaxShortText, false);
  c.Text("case_info.nature_of_proceedings", k.nature_of_proceedings(), kMaxLongText, false);
  c.Texts("case_info.offences", k.offences(), kMaxShortText);
  c.Texts("case_info.legal_provisions", k.legal_provisions(), kMaxShortText);
  c.Text("case_info.summary_of_facts", k.summary_of_facts(), kMaxLongText, false);
  c.Text("case_info.persons_concerned", k.persons_concerned(), kMaxLongText, false);
  if (k.max_penalty_months() < 0 || k.max_penalty_months() > 12 * 200) {
    c.Add("case_info.max_penalty_months", "must be between 0 and 2400 (use 2400 for life)",
          "OUT_OF_RANGE");
  }
  const v1::DataSought& d = r.data_sought();
  if (d.categories_size() > 3) c.Add("data_sought.categories", "at most 3 entries", "TOO_MANY");
  for (int i = 0; i < d.categories_size(); ++i) {
    c.Enum(absl::StrCat("data_sought.categories[", i, "]"), d.categories(i),
           v1::DataCategory_IsValid, true);
  }
  c.Texts("data_sought.identifiers", d.identifiers(), kMaxShortText);
  c.Text("data_sought.service_provider", d.service_provider(), kMaxShortText, false);
  c.Text("data_sought.system_location", d.system_location(), kMaxShortText, false);
  c.Text("data_sought.relation_to_offence", d.relation_to_offence(), kMaxLongText, false);
  c.Text("data_sought.procedure_wished", d.procedure_wished(), kMaxLongText, false);
  if (d.has_time_range()) {
    const auto& tr = d.time_range();
    c.Time("data_sought.time_range.start_time", tr.start_time(), tr.has_start_time(), false);
    c.Time("data_sought.time_range.end_time", tr.end_time(), tr.has_end_time(), false);
    if (tr.has_start_time() && tr.has_end_time() &&
        FromProto(tr.end_time()) < FromProto(tr.start_time())) {
      c.Add("data_sought.time_range", "ends before it starts", "TIME_RANGE_ORDER");
    }
  }
  c.Text("purpose", r.purpose(), kMaxLongText, false);
  c.Text("necessity", r.necessity(), kMaxLongText, false);
  c.Text("emergency_facts", r.emergency_facts(), kMaxLongText, false);
  c.Texts("confidentiality.use_limitations", r.confidentiality().use_limitations(), kMaxLongText);
  if (!r.follows().empty()) {
    absl::StatusOr<std::string> id = ParseRequestName(r.follows(), "follows");
    if (!id.ok()) c.Add("follows", "must be requests/<id> of a preservation", "NAME_FORMAT");
  }
  c.Time("requested_by_time", r.requested_by_time(), r.has_requested_by_time(), false);
  c.Text("deadline_reasons", r.deadline_reasons(), kMaxLongText, false);
}

void CheckDelivery(const v1::Delivery& d, bool present, Checker& c) {
  if (!present || (d.items_size() == 0 && d.packages_size() == 0)) {
    c.Add("delivery.items", "a delivery lists at least one item or package", "REQUIRED");
    return;
  }
  if (d.packages_size() > kMaxRepeated) {
    c.Add("delivery.packages", absl::StrCat("at most ", kMaxRepeated, " packages"), "TOO_MANY");
  }
  std::set<std::string> packages;
  for (int i = 0; i < d.packages_size() && i < kMaxRepeated; ++i) {
    const std::string f = absl::StrCat("delivery.packages[", i, "]");
    if (!ParsePackageName(d.packages(i), f).ok()) {
      c.Add(f, "must be requests/<id>/packages/<n>", "PACKAGE_NAME_FORMAT");
    } else if (!packages.insert(d.packages(i)).second) {
      c.Add(f, "names a package twice", "DUPLICATE");
    }
  }
  if (d.items_size() > 10000) c.Add("delivery.items", "at most 10000 items", "TOO_MANY");
  for (int i = 0; i < d.items_size() && i < 10000; ++i) {
    const v1::DeliveredItem& item = d.items(i);
    std::string f = absl::StrCat("delivery.items[", i, "]");
    c.Text(absl::StrCat(f, ".name"), item.name(), kMaxShortText, true);
    if (!IsSha256Hex(item.sha256())) {
      c.Add(absl::StrCat(f, ".sha256"), "must be 64 lower-case hex characters", "DIGEST_FORMAT");
    }
    c.Enum(absl::StrCat(f, ".category"), item.category(), v1::DataCategory_IsValid, true);
    if (item.size_bytes() < 0) c.Add(absl::StrCat(f, ".size_bytes"), "negative", "OUT_OF_RANGE");
  }
  c.Text("delivery.transfer_conditions", d.transfer_conditions(), kMaxLongText, false);
}

}  // namespace

namespace bodies {

void CheckBody(const v1::CreateRequestRequest& m, const Edge& edge, Checker& c) {
  Checker content("request.");
  CheckContent(m.request(), edge.caller, edge.directory, edge.profiles, content);
  c.Merge(content);
}

void CheckBody(const v1::UpdateDraftRequest& m, const Edge& edge, Checker& c) {
  Checker content("request.");
  CheckContent(m.request(), edge.caller, edge.directory, edge.profiles, content);
  c.Merge(content);
}

void CheckBody(const v1::SubmitRequestRequest&, const Edge&, Checker&) {}
void CheckBody(const v1::AcceptConditionsRequest&, const Edge&, Checker&) {}
void CheckBody(const v1::ConfirmReceiptRequest&, const Edge&, Checker&) {}
void CheckBody(const v1::AcknowledgeRequestRequest&, const Edge&, Checker&) {}
void CheckBody(const v1::AcceptRequestRequest&, const Edge&, Checker&) {}
void CheckBody(const v1::ResumeRequestRequest&, const Edge&, Checker&) {}

void CheckBody(const v1::RequestInformationRequest& m, const Edge&, Checker& c) {
  c.Text("questions", m.questions(), kMaxLongText, true);
}

void CheckBody(const v1::SupplementRequestRequest& m, const Edge&, Checker& c) {
  c.Text("information", m.information(), kMaxLongText, true);
}

void CheckBody(const v1::ConsultRequestRequest& m, const Edge&, Checker& c) {
  if (m.intended_grounds().empty() && !m.postponement()) {
    c.Add("intended_grounds", "name the intended refusal grounds, or set postponement", "REQUIRED");
  }
  c.Texts("intended_grounds", m.intended_grounds(), kMaxShortText);
  c.Text("reasons", m.reasons(), kMaxLongText, true);
}

void CheckBody(const v1::ProposeConditionsRequest& m, const Edge&, Checker& c) {
  if (m.conditions().empty()) c.Add("conditions", "propose at least one", "REQUIRED");
  if (m.conditions_size() > kMaxRepeated) c.Add("conditions", "at most 100", "TOO_MANY");
  for (int i = 0; i < m.conditions_size(); ++i) {
    std::string f = absl::StrCat("conditions[", i, "]");
    c.Enum(absl::StrCat(f, ".kind"), m.conditions(i).kind(), v1::ConditionKind_IsValid, true);
    c.Text(absl::StrCat(f, ".text"), m.conditions(i).text(), kMaxLongText, true);
  }
}

void CheckBody(const v1::DeclineConditionsRequest& m, const Edge&, Checker& c) {
  c.Text("reason", m.reason(), kMaxLongText, true);
}

void CheckBody(const v1::PostponeRequestRequest& m, const Edge&, Checker& c) {
  c.Text("ground", m.ground(), kMaxShortText, true);
  c.Text("reasons", m.reasons(), kMaxLongText, true);
  c.Time("until_time", m.until_time(), m.has_until_time(), true);
}

void CheckBody(const v1::RefuseRequestRequest& m, const Edge&, Checker& c) {
  if (m.grounds().empty()) c.Add("grounds", "name at least one ground", "REQUIRED");
  c.Texts("grounds", m.grounds(), kMaxShortText);
  c.Text("reasons", m.reasons(), kMaxLongText, true);  // UNTOC 18(23): reasons are owed
}

void CheckBody(const v1::DeliverEvidenceRequest& m, const Edge&, Checker& c) {
  CheckDelivery(m.delivery(), m.has_delivery(), c);
}

void CheckBody(const v1::CreatePackageRequest& m, const Edge&, Checker& c) {
  if (!ParseRequestName(m.parent(), "parent").ok()) {
    c.Add("parent", "must be requests/<26-character id>", "NAME_FORMAT");
  }
  if (m.items().empty()) c.Add("items", "a package declares at least one item", "REQUIRED");
  if (m.items_size() > kMaxPackageItems) {
    c.Add("items", absl::StrCat("has ", m.items_size(), " items; at most ", kMaxPackageItems),
          "TOO_MANY");
  }
  std::set<std::string> names;
  for (int i = 0; i < m.items_size() && i < kMaxPackageItems; ++i) {
    const v1::PackageItem& item = m.items(i);
    const std::string f = absl::StrCat("items[", i, "]");
    c.Text(absl::StrCat(f, ".name"), item.name(), kMaxShortText, true);
    if (item.name().find('/') != std::string::npos || item.name() == "." || item.name() == "..") {
      c.Add(absl::StrCat(f, ".name"), "is a file name: no '/', not . or ..", "ITEM_NAME_FORMAT");
    } else if (!item.name().empty() && !names.insert(item.name()).second) {
      c.Add(absl::StrCat(f, ".name"), "is the name of an earlier item", "DUPLICATE");
    }
    if (!IsSha256Hex(item.sha256())) {
      c.Add(absl::StrCat(f, ".sha256"), "must be 64 lower-case hex characters", "DIGEST_FORMAT");
    }
    c.Enum(absl::StrCat(f, ".category"), item.category(), v1::DataCategory_IsValid, true);
    if (item.size_bytes() <= 0) {
      c.Add(absl::StrCat(f, ".size_bytes"), "must be at least 1 byte", "OUT_OF_RANGE");
    }
  }
}

void CheckBody(const v1::ErasePackageRequest& m, const Edge&, Checker& c) {
  if (!ParsePackageName(m.name(), "name").ok()) {
    c.Add("name", "must be requests/<id>/packages/<n>", "PACKAGE_NAME_FORMAT");
  }
  c.Text("reasons", m.reasons(), kMaxLongText, true);
}

void CheckBody(const v1::ConfirmPreservedRequest& m, const Edge&, Checker& c) {
  c.Time("expire_time", m.expire_time(), m.has_expire_time(), true);
}

void CheckBody(const v1::ExtendPreservationRequest& m, const Edge&, Checker& c) {
  c.Time("expire_time", m.expire_time(), m.has_expire_time(), true);
  c.Text("reasons", m.reasons(), kMaxLongText, false);
}

void CheckBody(const v1::ReleasePreservationRequest& m, const Edge&, Checker& c) {
  c.Text("reason", m.reason(), kMaxLongText, false);
}

void CheckBody(const v1::WithdrawRequestRequest& m, const Edge&, Checker& c) {
  c.Text("reason", m.reason(), kMaxLongText, true);
}

void CheckBody(const v1::AddNoteRequest& m, const Edge&, Checker& c) {
  c.Enum("kind", m.kind(), v1::NoteKind_IsValid, true);
  c.Text("text", m.text(), kMaxLongText, true);
  c.Time("new_estimate_time", m.new_estimate_time(), m.has_new_estimate_time(),
         m.kind() == v1::DELAY_NOTICE);
}

}  // namespace bodies

}  // namespace comity::workflow
