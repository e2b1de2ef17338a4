#include "services/workflow/action_table.h"

#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "comity/config/v1/config.pb.h"
#include "comity/v1/audit.pb.h"
#include "comity/v1/directory.pb.h"
#include "comity/v1/evidence.pb.h"
#include "comity/v1/federation.pb.h"
#include "comity/v1/requests.pb.h"
#include "services/workflow/actions.h"
#include "services/workflow/names.h"
#include "services/workflow/validation.h"

namespace comity::workflow {
namespace {

enum Sides { kRequesting = 1, kReceiving = 2, kBoth = 3 };

// The one place a body is read as its message: the row's type, which the edge has checked.
template <typename Msg>
void Check(const google::protobuf::Message& body, const Edge& edge, Checker& c) {
  bodies::CheckBody(static_cast<const Msg&>(body), edge, c);
}

template <typename Msg>
absl::Status Apply(const ActionInput& in, v1::Request& record, Effect& effect) {
  return bodies::ApplyBody(in, static_cast<const Msg&>(*in.command.body), record, effect);
}

template <typename Msg, bool kApplied = true>
ActionRow Row(v1::Action action, Sides sides) {
  ActionRow row;
  row.action = action;
  row.request = &Msg::default_instance();
  std::string name = Msg::descriptor()->name();
  if (absl::EndsWith(name, "Request")) name.resize(name.size() - strlen("Request"));
  row.method = std::move(name);
  // The service of the file that defines the message.
  row.service = Msg::descriptor()->file()->service(0)->full_name();
  row.requesting = (sides & kRequesting) != 0;
  row.receiving = (sides & kReceiving) != 0;
  row.check = &Check<Msg>;
  if constexpr (kApplied) row.apply = &Apply<Msg>;
  return row;
}

}  // namespace

const std::vector<ActionRow>& ActionTable() {
  static const std::vector<ActionRow>* const kTable = new std::vector<ActionRow>{
      Row<v1::CreateRequestRequest, /*kApplied=*/false>(v1::CREATE, kRequesting),
      Row<v1::UpdateDraftRequest>(v1::UPDATE_DRAFT, kRequesting),
      Row<v1::SubmitRequestRequest>(v1::SUBMIT, kRequesting),
      Row<v1::SupplementRequestRequest>(v1::SUPPLEMENT, kRequesting),
      Row<v1::AcceptConditionsRequest>(v1::ACCEPT_CONDITIONS, kRequesting),
      Row<v1::DeclineConditionsRequest>(v1::DECLINE_CONDITIONS, kRequesting),
      Row<v1::ConfirmReceiptRequest>(v1::CONFIRM_RECEIPT, kRequesting),
      Row<v1::ReleasePreservationRequest>(v1::RELEASE_PRESERVATION, kRequesting),
      Row<v1::WithdrawRequestRequest>(v1::WITHDRAW, kRequesting),
      Row<v1::AcknowledgeRequestRequest>(v1::ACKNOWLEDGE, kReceiving),
      Row<v1::RequestInformationRequest>(v1::REQUEST_INFORMATION, kReceiving),
      Row<v1::ConsultRequestRequest>(v1::CONSULT, kReceiving),
      Row<v1::ProposeConditionsRequest>(v1::PROPOSE_CONDITIONS, kReceiving),
      Row<v1::AcceptRequestRequest>(v1::ACCEPT, kReceiving),
      Row<v1::PostponeRequestRequest>(v1::POSTPONE, kReceiving),
      Row<v1::ResumeRequestRequest>(v1::RESUME, kReceiving),
      Row<v1::RefuseRequestRequest>(v1::REFUSE, kReceiving),
      Row<v1::DeliverEvidenceRequest>(v1::DELIVER, kReceiving),
      Row<v1::ConfirmPreservedRequest>(v1::CONFIRM_PRESERVED, kReceiving),
      Row<v1::ExtendPreservationRequest>(v1::EXTEND_PRESERVATION, kBoth),
      Row<v1::AddNoteRequest>(v1::ADD_NOTE, kBoth),
      Row<v1::CreatePackageRequest>(v1::CREATE_PACKAGE, kReceiving),
      Row<v1::ErasePackageRequest>(v1::ERASE_PACKAGE, kBoth),
  };
  return *kTable;
}

const ActionRow* FindAction(v1::Action action) {
  static const std::map<v1::Action, const ActionRow*>* const kByAction = [] {
    auto* m = new std::map<v1::Action, const ActionRow*>;
    for (const ActionRow& row : ActionTable()) (*m)[row.action] = &row;
    return m;
  }();
  auto it = kByAction->find(action);
  return it == kByAction->end() ? nullptr : it->second;
}

const google::protobuf::Message* RequestMessageOf(v1::Action action) {
  if (const ActionRow* row = FindAction(action)) return row->request;
  switch (action) {
    case v1::ACCESS:
      return &v1::RecordAccessRequest::default_instance();
    case v1::CLOCK_WARNING:
    case v1::CLOCK_BREACH:
      return &v1::ClockTimerRequest::default_instance();
    case v1::EXPIRE_PRESERVATION:
      return &v1::ExpirePreservationRequest::default_instance();
    case v1::UPLOAD_ITEM:
      return &v1::RecordUploadRequest::default_instance();
    case v1::DOWNLOAD:
      return &v1::RecordDownloadRequest::default_instance();
    case v1::SEED_DIRECTORY:
      return &config::v1::DirectoryConfig::default_instance();
    case v1::UPSERT_AUTHORITY:
      return &v1::UpsertAuthorityRequest::default_instance();
    case v1::SET_RESERVATION:
      return &v1::SetReservationRequest::default_instance();
    case v1::PEER_DIRECTORY:
      return &v1::PublishDirectoryRequest::default_instance();
    case v1::PEER_SPLIT_VIEW:
      return &v1::RecordSplitViewRequest::default_instance();
    case v1::CLEAR_SPLIT_VIEW:
      return &v1::ClearSplitViewRequest::default_instance();
    case v1::MIRROR:
      return &v1::MirroredTrail::default_instance();
    case v1::RELAY_STATE:
      return &v1::RecordRelayStateRequest::default_instance();
    case v1::FETCH_PACKAGE:
      return &v1::RecordFetchRequest::default_instance();
    default:
      return nullptr;
  }
}

absl::Status ValidateCommand(const Command& cmd, const Directory& directory,
                             const ProfileSet& profiles) {
  const google::protobuf::Message* message = RequestMessageOf(cmd.action);
  if (message == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no command takes the action ", v1::Action_Name(cmd.action)));
  }
  if (cmd.body->GetDescriptor() != message->GetDescriptor()) {
    return absl::InvalidArgumentError(absl::StrCat(
        v1::Action_Name(cmd.action), " takes a ", message->GetDescriptor()->full_name(), ", not a ",
        cmd.body->GetDescriptor()->full_name()));
  }
  Checker c;
  if (IsRelayAction(cmd.action)) {
    if (!cmd.caller.system) return absl::PermissionDeniedError("only the node relays");
    return absl::OkStatus();
  }
  if (IsDirectoryAction(cmd.action)) {
    c.Text("request_id", cmd.request_id, 128, false);
    if (cmd.action == v1::UPSERT_AUTHORITY &&
        !Body<v1::UpsertAuthorityRequest>(cmd).has_authority()) {
      c.Add("authority", "is required", "REQUIRED");
    }
    if (cmd.action == v1::SET_RESERVATION) {
      const auto& m = Body<v1::SetReservationRequest>(cmd);
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
    if (cmd.action == v1::CLEAR_SPLIT_VIEW) {
      const auto& m = Body<v1::ClearSplitViewRequest>(cmd);
      if (!IsNodeId(m.node())) {
        c.Add("node", "must be a node id: 1-32 characters a-z, 0-9, -", "NODE_FORMAT");
      }
      c.Text("reason", m.reason(), 4096, true);
    }
    return c.Status();
  }
  if (cmd.action != v1::CREATE) {
    absl::StatusOr<std::string> id = ParseRequestName(cmd.name, "name");
    if (!id.ok()) c.Add("name", "must be requests/<26-character id>", "NAME_FORMAT");
  }
  c.Text("etag", cmd.etag, 64, false);
  c.Text("request_id", cmd.request_id, 128, false);
  if (const ActionRow* row = FindAction(cmd.action)) {
    row->check(*cmd.body, Edge{cmd.caller, directory, profiles}, c);
  }
  return c.Status();
}

absl::Status ApplyAction(const ActionInput& in, v1::Request& record, Effect& effect) {
  if (in.command.action == v1::EXPIRE_PRESERVATION) {
    return bodies::ApplyExpiry(in, record, effect);
  }
  if (in.command.action == v1::UPLOAD_ITEM) return bodies::ApplyUpload(in, record, effect);
  const ActionRow* row = FindAction(in.command.action);
  if (row == nullptr || row->apply == nullptr) {
    return absl::InternalError(absl::StrCat("the engine was handed ",
                                            v1::Action_Name(in.command.action),
                                            ", which it does not apply to a request"));
  }
  return row->apply(in, record, effect);
}

}  // namespace comity::workflow
