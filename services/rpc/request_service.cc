#include "services/rpc/request_service.h"

#include "services/rpc/read.h"
#include "services/rpc/status.h"

namespace comity::rpc {

template <typename Message>
grpc::ServerUnaryReactor* RequestService::Change(grpc::CallbackServerContext* ctx,
                                                 const char* method, v1::Action action,
                                                 const Message* req, v1::Request* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  if (!caller.ok()) {
    log_->Finish(reactor, *ctx, method, caller.status());
    return reactor;
  }
  engine_->Apply(workflow::MakeCommand(action, *std::move(caller), *req),
                 [this, ctx, method, reply, reactor](absl::StatusOr<v1::Request> r) {
                   if (r.ok()) *reply = *std::move(r);
                   log_->Finish(reactor, *ctx, method, r.status());
                 });
  return reactor;
}

#define COMITY_VERB(Method, Message, Action)                                                 \
  grpc::ServerUnaryReactor* RequestService::Method(grpc::CallbackServerContext* ctx,         \
                                                   const Message* req, v1::Request* reply) { \
    return Change(ctx, "/comity.v1.RequestService/" #Method, Action, req, reply);            \
  }
COMITY_VERB(CreateRequest, v1::CreateRequestRequest, v1::CREATE)
COMITY_VERB(UpdateDraft, v1::UpdateDraftRequest, v1::UPDATE_DRAFT)
COMITY_VERB(SubmitRequest, v1::SubmitRequestRequest, v1::SUBMIT)
COMITY_VERB(SupplementRequest, v1::SupplementRequestRequest, v1::SUPPLEMENT)
COMITY_VERB(AcceptConditions, v1::AcceptConditionsRequest, v1::ACCEPT_CONDITIONS)
COMITY_VERB(DeclineConditions, v1::DeclineConditionsRequest, v1::DECLINE_CONDITIONS)
COMITY_VERB(ConfirmReceipt, v1::ConfirmReceiptRequest, v1::CONFIRM_RECEIPT)
COMITY_VERB(ReleasePreservation, v1::ReleasePreservationRequest, v1::RELEASE_PRESERVATION)
COMITY_VERB(WithdrawRequest, v1::WithdrawRequestRequest, v1::WITHDRAW)
COMITY_VERB(AcknowledgeRequest, v1::AcknowledgeRequestRequest, v1::ACKNOWLEDGE)
COMITY_VERB(RequestInformation, v1::RequestInformationRequest, v1::REQUEST_INFORMATION)
COMITY_VERB(ConsultRequest, v1::ConsultRequestRequest, v1::CONSULT)
COMITY_VERB(ProposeConditions, v1::ProposeConditionsRequest, v1::PROPOSE_CONDITIONS)
COMITY_VERB(AcceptRequest, v1::AcceptRequestRequest, v1::ACCEPT)
COMITY_VERB(PostponeRequest, v1::PostponeRequestRequest, v1::POSTPONE)
COMITY_VERB(ResumeRequest, v1::ResumeRequestRequest, v1::RESUME)
COMITY_VERB(RefuseRequest, v1::RefuseRequestRequest, v1::REFUSE)
COMITY_VERB(DeliverEvidence, v1::DeliverEvidenceRequest, v1::DELIVER)
COMITY_VERB(ConfirmPreserved, v1::ConfirmPreservedRequest, v1::CONFIRM_PRESERVED)
COMITY_VERB(ExtendPreservation, v1::ExtendPreservationRequest, v1::EXTEND_PRESERVATION)
COMITY_VERB(AddNote, v1::AddNoteRequest, v1::ADD_NOTE)
#undef COMITY_VERB

grpc::ServerUnaryReactor* RequestService::GetRequest(grpc::CallbackServerContext* ctx,
                                                     const v1::GetRequestRequest* req,
                                                     v1::Request* reply) {
  return AnswerRead(ctx, *identifier_, *log_, "/comity.v1.RequestService/GetRequest", reply,
                    [&](const workflow::Caller& caller) {
                      absl::StatusOr<v1::Request> r = reader_->Get(caller, req->name());
                      if (r.ok() && record_reads_) {
                        RecordRead(engine_, caller, r->name(), "GetRequest");
                      }
                      return r;
                    });
}

grpc::ServerUnaryReactor* RequestService::ListRequests(grpc::CallbackServerContext* ctx,
                                                       const v1::ListRequestsRequest* req,
                                                       v1::ListRequestsResponse* reply) {
  return AnswerRead(ctx, *identifier_, *log_, "/comity.v1.RequestService/ListRequests", reply,
                    [&](const workflow::Caller& caller) {
                      absl::StatusOr<v1::ListRequestsResponse> r = reader_->List(caller, *req);
                      if (r.ok() && record_reads_) {
                        for (const v1::Request& each : r->requests()) {
                          RecordRead(engine_, caller, each.name(), "ListRequests");
                        }
                      }
                      return r;
                    });
}

}  // namespace comity::rpc
