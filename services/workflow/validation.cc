#include "services/workflow/validation.h"

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

// Collects violations; field paths are relative to `prefix`.
class Checker {
 public:
  explicit Checker(std::string prefix = "") : prefix_(std::move(prefix)) {}

  void Add(absl::string_view field, std::string description, std::string reason) {
    out_.push_back({absl::StrCat(prefix_, field), std::move(description), std::move(reason)});
  }

  void Text(absl::string_view field, const std::string& value, size_t max, bool required) {
    if (value.empty()) {
      if (required) Add(field, "is required", "REQUIRED");
      return;
    }
    if (value.size() > max) {
      Add(field, absl::StrCat("is ", value.size(), " bytes; at most ", max), "TOO_LONG");
    }
    for (unsigned char c : value) {
      if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
        Add(field, "contains control characters", "CONTROL_CHARACTERS");
        break;
      }
    }
  }

  void Texts(absl::string_view field, const RepeatedPtrField<std::string>& values, size_t max) {
    if (values.size() > kMaxRepeated) {
      Add(field, absl::StrCat("has ", values.size(), " entries; at most ", kMaxRepeated),
          "TOO_MANY");
    }
    for (int i = 0; i < values.size(); ++i) {
      Text(absl::StrCat(field, "[", i, "]"), values[i], max, true);
    }
  }

  void Time(absl::string_view field, const Timestamp& t, bool present, bool required) {
    if (!present) {
      if (required) Add(field, "is required", "REQUIRED");
      return;
    }
    if (!IsValidTimestamp(t)) Add(field, "is not a valid time", "INVALID_TIME");
  }

  template <typename IsValid>
  void Enum(absl::string_view field, int value, IsValid is_valid, bool required) {
    if (value == 0) {
      if (required) Add(field, "must be specified", "REQUIRED");
    } else if (!is_valid(value)) {
      Add(field, absl::StrCat("has unknown value ", value), "UNKNOWN_ENUM_VALUE");
    }
  }

  void Merge(Checker& other) { out_.insert(out_.end(), other.out_.begin(), other.out_.end()); }
  bool ok() const { return out_.empty(); }
  absl::Status Status() const { return out_.empty() ? absl::OkStatus() : InvalidFields(out_); }

 private:
  std::string prefix_;
  std::vector<FieldViolation> out_;
};

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
  if (!present || d.items_size() == 0) {
    c.Add("delivery.items", "a delivery lists at least one item", "REQUIRED");
    return;
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

void CheckVerb(const Command& cmd, Checker& c) {
  const google::protobuf::Message& body = *cmd.body;
  switch (cmd.action) {
    case v1::REQUEST_INFORMATION:
      c.Text("questions", static_cast<const v1::RequestInformationRequest&>(body).questions(),
             kMaxLongText, true);
      break;
    case v1::SUPPLEMENT:
      c.Text("information", static_cast<const v1::SupplementRequestRequest&>(body).information(),
             kMaxLongText, true);
      break;
    case v1::CONSULT: {
      const auto& m = static_cast<const v1::ConsultRequestRequest&>(body);
      if (m.intended_grounds().empty() && !m.postponement()) {
        c.Add("intended_grounds", "name the intended refusal grounds, or set postponement",
              "REQUIRED");
      }
      c.Texts("intended_grounds", m.intended_grounds(), kMaxShortText);
      c.Text("reasons", m.reasons(), kMaxLongText, true);
      break;
    }
    case v1::PROPOSE_CONDITIONS: {
      const auto& m = static_cast<const v1::ProposeConditionsRequest&>(body);
      if (m.conditions().empty()) c.Add("conditions", "propose at least one", "REQUIRED");
      if (m.conditions_size() > kMaxRepeated) c.Add("conditions", "at most 100", "TOO_MANY");
      for (int i = 0; i < m.conditions_size(); ++i) {
        std::string f = absl::StrCat("conditions[", i, "]");
        c.Enum(absl::StrCat(f, ".kind"), m.conditions(i).kind(), v1::ConditionKind_IsValid, true);
        c.Text(absl::StrCat(f, ".text"), m.conditions(i).text(), kMaxLongText, true);
      }
      break;
    }
    case v1::DECLINE_CONDITIONS:
      c.Text("reason", static_cast<const v1::DeclineConditionsRequest&>(body).reason(),
             kMaxLongText, true);
      break;
    case v1::POSTPONE: {
      const auto& m = static_cast<const v1::PostponeRequestRequest&>(body);
      c.Text("ground", m.ground(), kMaxShortText, true);
      c.Text("reasons", m.reasons(), kMaxLongText, true);
      c.Time("until_time", m.until_time(), m.has_until_time(), true);
      break;
    }
    case v1::REFUSE: {
      const auto& m = static_cast<const v1::RefuseRequestRequest&>(body);
      if (m.grounds().empty()) c.Add("grounds", "name at least one ground", "REQUIRED");
      c.Texts("grounds", m.grounds(), kMaxShortText);
      c.Text("reasons", m.reasons(), kMaxLongText, true);  // UNTOC 18(23): reasons are owed
      break;
    }
    case v1::DELIVER: {
      const auto& m = static_cast<const v1::DeliverEvidenceRequest&>(body);
      CheckDelivery(m.delivery(), m.has_delivery(), c);
      break;
    }
    case v1::CONFIRM_PRESERVED: {
      const auto& m = static_cast<const v1::ConfirmPreservedRequest&>(body);
      c.Time("expire_time", m.expire_time(), m.has_expire_time(), true);
      break;
    }
    case v1::EXTEND_PRESERVATION: {
      const auto& m = static_cast<const v1::ExtendPreservationRequest&>(body);
      c.Time("expire_time", m.expire_time(), m.has_expire_time(), true);
      c.Text("reasons", m.reasons(), kMaxLongText, false);
      break;
    }
    case v1::RELEASE_PRESERVATION:
      c.Text("reason", static_cast<const v1::ReleasePreservationRequest&>(body).reason(),
             kMaxLongText, false);
      break;
    case v1::WITHDRAW:
      c.Text("reason", static_cast<const v1::WithdrawRequestRequest&>(body).reason(), kMaxLongText,
             true);
      break;
    case v1::ADD_NOTE: {
      const auto& m = static_cast<const v1::AddNoteRequest&>(body);
      c.Enum("kind", m.kind(), v1::NoteKind_IsValid, true);
      c.Text("text", m.text(), kMaxLongText, true);
      c.Time("new_estimate_time", m.new_estimate_time(), m.has_new_estimate_time(),
             m.kind() == v1::DELAY_NOTICE);
      break;
    }
    default:
      break;
  }
}

}  // namespace

absl::Status ValidateCommand(const Command& cmd, const Directory& directory,
                             const ProfileSet& profiles) {
  Checker c;
  if (IsDirectoryAction(cmd.action)) {
    c.Text("request_id", cmd.request_id, 128, false);
    if (cmd.action == v1::UPSERT_AUTHORITY &&
        !static_cast<const v1::UpsertAuthorityRequest&>(*cmd.body).has_authority()) {
      c.Add("authority", "is required", "REQUIRED");
    }
    if (cmd.action == v1::SET_RESERVATION) {
      const auto& m = static_cast<const v1::SetReservationRequest&>(*cmd.body);
      const v1::Reservation& r = m.reservation();
      if (!IsCountryCode(r.country())) {
        c.Add("reservation.country", "must be an ISO 3166-1 alpha-2 code such as DE",
              "COUNTRY_FORMAT");
      }
      if (profiles.Find(r.instrument()) == nullptr) {
        c.Add("reservation.instrument",
              absl::StrCat("must be a loaded profile: ", absl::StrJoin(profiles.Ids(), ", ")),
              "UNKNOWN_INSTRUMENT");
      } else if (FindReservationRule(*profiles.Find(r.instrument()), r.code()) == nullptr) {
        c.Add("reservation.code",
              absl::StrCat("is not a reservation or declaration the ", r.instrument(),
                           " profile defines"),
              "UNKNOWN_RESERVATION");
      }
      if (!m.withdraw() && r.kind() != v1::RESERVATION && r.kind() != v1::DECLARATION) {
        c.Add("reservation.kind", "must be RESERVATION or DECLARATION", "REQUIRED");
      }
      c.Text("reservation.text", r.text(), 4096, false);
    }
    return c.Status();
  }
  if (cmd.action != v1::CREATE) {
    absl::StatusOr<std::string> id = ParseRequestName(cmd.name, "name");
    if (!id.ok()) c.Add("name", "must be requests/<26-character id>", "NAME_FORMAT");
  }
  c.Text("etag", cmd.etag, 64, false);
  c.Text("request_id", cmd.request_id, 128, false);
  if (cmd.action == v1::CREATE || cmd.action == v1::UPDATE_DRAFT) {
    const v1::Request& r = cmd.action == v1::CREATE
                               ? static_cast<const v1::CreateRequestRequest&>(*cmd.body).request()
                               : static_cast<const v1::UpdateDraftRequest&>(*cmd.body).request();
    Checker content("request.");
    CheckContent(r, cmd.caller, directory, profiles, content);
    c.Merge(content);
  } else {
    CheckVerb(cmd, c);
  }
  return c.Status();
}

}  // namespace comity::workflow
