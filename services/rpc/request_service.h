#ifndef COMITY_SERVICES_RPC_REQUEST_SERVICE_H_
#define COMITY_SERVICES_RPC_REQUEST_SERVICE_H_

#include "comity/v1/requests.pb.h"
#include "services/rpc/identify.h"
#include "services/rpc/parsed_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/engine.h"
#include "services/workflow/events.h"
#include "services/workflow/reader.h"

namespace comity::rpc {

// RequestService on gRPC's callback API: each handler identifies the caller, hands the command to
// the engine and answers the call when the engine reports the durable outcome. No handler blocks
// a gRPC thread on a commit.
class RequestService final : public ParsedService {
 public:
  // `record_reads`: reads are recorded on the request's trail (action ACCESS).
  // `events` feeds WatchEvents.
  RequestService(const Identifier* identifier, workflow::Engine* engine,
                 const workflow::Reader* reader, SecurityLog* log, bool record_reads,
                 workflow::EventHub* events);

  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(grpc::CallbackServerContext* ctx,
                                                          const v1::WatchEventsRequest* req);

  void GetRequest(grpc::CallbackServerContext* ctx, const v1::GetRequestRequest* req,
                  v1::Request* reply, UnaryCall* call);
  void ListRequests(grpc::CallbackServerContext* ctx, const v1::ListRequestsRequest* req,
                    v1::ListRequestsResponse* reply, UnaryCall* call);

#define COMITY_VERB(Method, Message)                                                    \
  void Method(grpc::CallbackServerContext* ctx, const Message* req, v1::Request* reply, \
              UnaryCall* call);
  COMITY_VERB(CreateRequest, v1::CreateRequestRequest)
  COMITY_VERB(UpdateDraft, v1::UpdateDraftRequest)
  COMITY_VERB(SubmitRequest, v1::SubmitRequestRequest)
  COMITY_VERB(SupplementRequest, v1::SupplementRequestRequest)
  COMITY_VERB(AcceptConditions, v1::AcceptConditionsRequest)
  COMITY_VERB(DeclineConditions, v1::DeclineConditionsRequest)
  COMITY_VERB(ConfirmReceipt, v1::ConfirmReceiptRequest)
  COMITY_VERB(ReleasePreservation, v1::ReleasePreservationRequest)
  COMITY_VERB(WithdrawRequest, v1::WithdrawRequestRequest)
  COMITY_VERB(AcknowledgeRequest, v1::AcknowledgeRequestRequest)
  COMITY_VERB(RequestInformation, v1::RequestInformationRequest)
  COMITY_VERB(ConsultRequest, v1::ConsultRequestRequest)
  COMITY_VERB(ProposeConditions, v1::ProposeConditionsRequest)
  COMITY_VERB(AcceptRequest, v1::AcceptRequestRequest)
  COMITY_VERB(PostponeRequest, v1::PostponeRequestRequest)
  COMITY_VERB(ResumeRequest, v1::ResumeRequestRequest)
  COMITY_VERB(RefuseRequest, v1::RefuseRequestRequest)
  COMITY_VERB(DeliverEvidence, v1::DeliverEvidenceRequest)
  COMITY_VERB(ConfirmPreserved, v1::ConfirmPreservedRequest)
  COMITY_VERB(ExtendPreservation, v1::ExtendPreservationRequest)
  COMITY_VERB(AddNote, v1::AddNoteRequest)
#undef COMITY_VERB

 private:
  template <typename Message>
  void Change(grpc::CallbackServerContext* ctx, const char* method, v1::Action action,
              const Message* req, v1::Request* reply, UnaryCall* call);

  const Identifier* identifier_;
  workflow::Engine* engine_;
  const workflow::Reader* reader_;
  SecurityLog* log_;
  const bool record_reads_;
  workflow::EventHub* const events_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_REQUEST_SERVICE_H_
