#ifndef COMITY_SERVICES_WORKFLOW_ACTION_BODIES_H_
#define COMITY_SERVICES_WORKFLOW_ACTION_BODIES_H_

// The action table's insides: for each request message, the edge's checks of its fields
// (CheckBody, in validation.cc) and what its action does to a request (ApplyBody, in actions.cc).
// The table (action_table.cc) calls them with the body as its own type. Not part of the
// workflow's interface.

#include "absl/status/status.h"
#include "comity/v1/requests.pb.h"
#include "services/workflow/action_table.h"

namespace comity::workflow::bodies {

#define COMITY_ACTION_BODY(Msg)                                                           \
  void CheckBody(const v1::Msg& body, const Edge& edge, Checker& c);                      \
  absl::Status ApplyBody(const ActionInput& in, const v1::Msg& body, v1::Request& record, \
                         Effect& effect);
COMITY_ACTION_BODY(UpdateDraftRequest)
COMITY_ACTION_BODY(SubmitRequestRequest)
COMITY_ACTION_BODY(SupplementRequestRequest)
COMITY_ACTION_BODY(AcceptConditionsRequest)
COMITY_ACTION_BODY(DeclineConditionsRequest)
COMITY_ACTION_BODY(ConfirmReceiptRequest)
COMITY_ACTION_BODY(ReleasePreservationRequest)
COMITY_ACTION_BODY(WithdrawRequestRequest)
COMITY_ACTION_BODY(AcknowledgeRequestRequest)
COMITY_ACTION_BODY(RequestInformationRequest)
COMITY_ACTION_BODY(ConsultRequestRequest)
COMITY_ACTION_BODY(ProposeConditionsRequest)
COMITY_ACTION_BODY(AcceptRequestRequest)
COMITY_ACTION_BODY(PostponeRequestRequest)
COMITY_ACTION_BODY(ResumeRequestRequest)
COMITY_ACTION_BODY(RefuseRequestRequest)
COMITY_ACTION_BODY(DeliverEvidenceRequest)
COMITY_ACTION_BODY(ConfirmPreservedRequest)
COMITY_ACTION_BODY(ExtendPreservationRequest)
COMITY_ACTION_BODY(AddNoteRequest)
#undef COMITY_ACTION_BODY

// A draft's content is checked, never applied through the table.
void CheckBody(const v1::CreateRequestRequest& body, const Edge& edge, Checker& c);

}  // namespace comity::workflow::bodies

#endif  // COMITY_SERVICES_WORKFLOW_ACTION_BODIES_H_
