#ifndef COMITY_SERVICES_WORKFLOW_VALIDATION_H_
#define COMITY_SERVICES_WORKFLOW_VALIDATION_H_

// Validation at the edge: the limits, and the pure checks of each message's own fields
// (bodies::CheckBody in validation.cc), which ValidateCommand (action_table.h) runs through the
// action table on the caller's thread before a command reaches the sequencer.

#include "absl/status/status.h"
#include "comity/v1/evidence.pb.h"
#include "comity/v1/requests.pb.h"
#include "services/workflow/checker.h"
#include "services/workflow/command.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace comity::workflow {

// A stored request record, whatever its history: a change that would make it larger is refused
// (INVALID_ARGUMENT, reason RECORD_TOO_LARGE). A page of a listing is cut to stay under the
// gRPC message limit however large its records are.
inline constexpr size_t kMaxRecordBytes = 1 << 20;
inline constexpr int kMaxPackageItems = 1000;

// The checks of each message's own fields, for the action table (action_table.h).
namespace bodies {

void CheckBody(const v1::CreateRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::UpdateDraftRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::SubmitRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::SupplementRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::AcceptConditionsRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::DeclineConditionsRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ConfirmReceiptRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ReleasePreservationRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::WithdrawRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::AcknowledgeRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::RequestInformationRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ConsultRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ProposeConditionsRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::AcceptRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::PostponeRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ResumeRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::RefuseRequestRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::DeliverEvidenceRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::CreatePackageRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ErasePackageRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ConfirmPreservedRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::ExtendPreservationRequest& body, const Edge& edge, Checker& c);
void CheckBody(const v1::AddNoteRequest& body, const Edge& edge, Checker& c);

}  // namespace bodies
}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_VALIDATION_H_
