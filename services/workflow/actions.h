#ifndef COMITY_SERVICES_WORKFLOW_ACTIONS_H_
#define COMITY_SERVICES_WORKFLOW_ACTIONS_H_

// What each action does to a request: the lifecycle step, the instrument profile's rules, and the
// changed fields. Pure apart from reads through a View; the engine writes the result.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "comity/v1/evidence.pb.h"
#include "comity/v1/requests.pb.h"
#include "comity/v1/resources.pb.h"
#include "services/workflow/command.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace comity::workflow {

// Reads as the sequencer sees the store: committed data plus this commit group's changes.
class View {
 public:
  virtual ~View() = default;
  // The request with id `id`, or NOT_FOUND.
  virtual absl::StatusOr<v1::Request> LoadRequest(absl::string_view id) const = 0;
  // Ids of the submitted follow-up requests linked to a preservation.
  virtual absl::StatusOr<std::vector<std::string>> FollowUps(absl::string_view id) const = 0;
};

// What an action records beyond the new record.
struct Effect {
  v1::AuditEntry entry;  // the action's own details: grounds, reasons, note, conditions, basis
  std::vector<std::pair<std::string, std::string>> index_puts;  // kIndex key -> value
  v1::NoteKind note_kind = v1::NOTE_KIND_UNSPECIFIED;           // a note's kind, for the clocks
  std::vector<std::string> evidence_key_deletes;  // kEvidenceKeys: an erased package's data key
};

// A request holds at most this many evidence packages.
inline constexpr int kMaxPackages = 100;

// An evidence package's digest: SHA-256 (hex) of its manifest, one line per item in order,
// "<sha256 hex>  <name>\n" (the sha256sum format).
std::string ManifestDigest(const v1::EvidencePackage& package);

// The package `name` of `record`, or NOT_FOUND naming it.
absl::StatusOr<v1::EvidencePackage*> FindPackage(v1::Request& record, absl::string_view name);
absl::StatusOr<const v1::EvidencePackage*> FindPackage(const v1::Request& record,
                                                       absl::string_view name);
// The item `name` of `package` and its index, or NOT_FOUND naming it.
absl::StatusOr<int> FindItem(const v1::EvidencePackage& package, absl::string_view name);

struct ActionInput {
  const Command& command;
  v1::Side side;
  absl::Time now;
  const InstrumentProfile& profile;
  const View& view;
  // The Parties' reservations (for grounds a profile reserves); null for the node's own actions.
  const Directory* directory = nullptr;
};

// Builds a new draft from a CreateRequest command (output-only fields cleared), checking a
// follow-up link against the view.
absl::StatusOr<v1::Request> NewDraft(const Command& command, const std::string& id, absl::Time now,
                                     const View& view);

// True while a follow-up in `state` holds the preservation it follows: from submission until
// the data are delivered (EXECUTED) or the follow-up ends.
bool HoldsPreservation(v1::State state);

// The name of a follow-up of preservation `id` that holds it, or "" if none does.
absl::StatusOr<std::string> HoldingFollowUp(const View& view, absl::string_view id);

// What each action of the action table (action_table.h) does to a request, its body read as its
// own message; the table calls them.
namespace bodies {

absl::Status ApplyBody(const ActionInput& in, const v1::UpdateDraftRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::SubmitRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::SupplementRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::AcceptConditionsRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::DeclineConditionsRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ConfirmReceiptRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ReleasePreservationRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::WithdrawRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::AcknowledgeRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::RequestInformationRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ConsultRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ProposeConditionsRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::AcceptRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::PostponeRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ResumeRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::RefuseRequestRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::DeliverEvidenceRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ConfirmPreservedRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ExtendPreservationRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::AddNoteRequest& body, v1::Request& record,
                       Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::CreatePackageRequest& body,
                       v1::Request& record, Effect& effect);
absl::Status ApplyBody(const ActionInput& in, const v1::ErasePackageRequest& body,
                       v1::Request& record, Effect& effect);

// The node's record of an item's completed upload, made for the uploader (UPLOAD_ITEM).
absl::Status ApplyUpload(const ActionInput& in, v1::Request& record, Effect& effect);
// The entry of a download, before its first byte (DOWNLOAD); the record does not change.
absl::Status CheckDownload(const v1::RecordDownloadRequest& body, v1::Side side,
                           const v1::Request& record, Effect& effect);

// The node's own action on a request outside the table: a preservation's expiry.
absl::Status ApplyExpiry(const ActionInput& in, v1::Request& record, Effect& effect);

}  // namespace bodies
}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_ACTIONS_H_
