#include "services/rpc/request_service.h"

#include "absl/strings/str_cat.h"
#include "common/tsan.h"
#include "google/rpc/error_details.pb.h"
#include "services/auth/policy.h"
#include "services/rpc/read.h"
#include "services/rpc/status.h"
#include "services/rpc/well_formed.h"

namespace comity::rpc {

// The methods in the order of requests.proto.
#define COMITY_VERBS(X)                                                            \
  X(CreateRequest, v1::CreateRequestRequest, v1::CREATE)                           \
  X(UpdateDraft, v1::UpdateDraftRequest, v1::UPDATE_DRAFT)                         \
  X(SubmitRequest, v1::SubmitRequestRequest, v1::SUBMIT)                           \
  X(SupplementRequest, v1::SupplementRequestRequest, v1::SUPPLEMENT)               \
  X(AcceptConditions, v1::AcceptConditionsRequest, v1::ACCEPT_CONDITIONS)          \
  X(DeclineConditions, v1::DeclineConditionsRequest, v1::DECLINE_CONDITIONS)       \
  X(ConfirmReceipt, v1::ConfirmReceiptRequest, v1::CONFIRM_RECEIPT)                \
  X(ReleasePreservation, v1::ReleasePreservationRequest, v1::RELEASE_PRESERVATION) \
  X(WithdrawRequest, v1::WithdrawRequestRequest, v1::WITHDRAW)                     \
  X(AcknowledgeRequest, v1::AcknowledgeRequestRequest, v1::ACKNOWLEDGE)            \
  X(RequestInformation, v1::RequestInformationRequest, v1::REQUEST_INFORMATION)    \
  X(ConsultRequest, v1::ConsultRequestRequest, v1::CONSULT)                        \
  X(ProposeConditions, v1::ProposeConditionsRequest, v1::PROPOSE_CONDITIONS)       \
  X(AcceptRequest, v1::AcceptRequestRequest, v1::ACCEPT)                           \
  X(PostponeRequest, v1::PostponeRequestRequest, v1::POSTPONE)                     \
  X(ResumeRequest, v1::ResumeRequestRequest, v1::RESUME)                           \
  X(RefuseRequest, v1::RefuseRequestRequest, v1::REFUSE)                           \
  X(DeliverEvidence, v1::DeliverEvidenceRequest, v1::DELIVER)                      \
  X(ConfirmPreserved, v1::ConfirmPreservedRequest, v1::CONFIRM_PRESERVED)          \
  X(ExtendPreservation, v1::ExtendPreservationRequest, v1::EXTEND_PRESERVATION)    \
  X(AddNote, v1::AddNoteRequest, v1::ADD_NOTE)

RequestService::RequestService(const Identifier* identifier, workflow::Engine* engine,
                               const workflow::Reader* reader, SecurityLog* log, bool record_reads,
                               workflow::EventHub* events)
    : ParsedService("comity.v1.RequestService"),
      identifier_(identifier),
      engine_(engine),
      reader_(reader),
      log_(log),
      record_reads_(record_reads),
      events_(events) {
#define COMITY_ADD(Method, Message, Action) AddUnary(#Method, this, &RequestService::Method);
  COMITY_VERBS(COMITY_ADD)
#undef COMITY_ADD
  AddUnary("GetRequest", this, &RequestService::GetRequest);
  AddUnary("ListRequests", this, &RequestService::ListRequests);
  AddServerStream("WatchEvents", this, &RequestService::WatchEvents);
}

template <typename Message>
void RequestService::Change(grpc::CallbackServerContext* ctx, const char* method, v1::Action action,
                            const Message* req, v1::Request* reply, UnaryCall* call) {
  AnswerChange(
      ctx, *identifier_, *log_, method, *req, call, *engine_,
      [action, req](workflow::Caller caller) {
        return workflow::MakeCommand(action, std::move(caller), *req);
      },
      [reply](absl::StatusOr<v1::Request>& r) {
        if (r.ok()) *reply = *std::move(r);
      });
}

#define COMITY_VERB(Method, Message, Action)                                        \
  void RequestService::Method(grpc::CallbackServerContext* ctx, const Message* req, \
                              v1::Request* reply, UnaryCall* call) {                \
    Change(ctx, "/comity.v1.RequestService/" #Method, Action, req, reply, call);    \
  }
COMITY_VERBS(COMITY_VERB)
#undef COMITY_VERB
#undef COMITY_VERBS

void RequestService::GetRequest(grpc::CallbackServerContext* ctx, const v1::GetRequestRequest* req,
                                v1::Request* reply, UnaryCall* call) {
  AnswerAuditedRead(
      ctx, *identifier_, *log_, "/comity.v1.RequestService/GetRequest", *req, reply, call,
      record_reads_ ? engine_ : nullptr, "GetRequest",
      [&](const workflow::Caller& caller) { return reader_->Get(caller, req->name()); },
      [](const v1::Request& r) { return std::vector<std::string>{r.name()}; });
}

void RequestService::ListRequests(grpc::CallbackServerContext* ctx,
                                  const v1::ListRequestsRequest* req,
                                  v1::ListRequestsResponse* reply, UnaryCall* call) {
  AnswerAuditedRead(
      ctx, *identifier_, *log_, "/comity.v1.RequestService/ListRequests", *req, reply, call,
      record_reads_ ? engine_ : nullptr, "ListRequests",
      [&](const workflow::Caller& caller) { return reader_->List(caller, *req); },
      [](const v1::ListRequestsResponse& list) {
        std::vector<std::string> names;
        for (const v1::Request& each : list.requests()) names.push_back(each.name());
        return names;
      });
}

namespace {

constexpr int kEventsPerMessage = 64;

// One WatchEvents stream. It sends one message at a time: after each write (and whenever the
// hub publishes while it is idle) it takes the next batch, from the store while catching up and
// from the hub's ring once live. It never makes the engine wait.
class WatchReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  WatchReactor(workflow::EventHub* hub, workflow::Caller caller, uint64_t after)
      : hub_(hub), caller_(std::move(caller)), after_(after) {}

  void Begin() {
    subscription_ = hub_->Subscribe([this] { Wake(); });
    absl::MutexLock lock(&mu_);
    Pump();
  }

  void OnWriteDone(bool ok) override {
    COMITY_TSAN_ACQUIRE(this);
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    COMITY_TSAN_ACQUIRE(this);
    hub_->Unsubscribe(subscription_);
    delete this;
  }

 private:
  void Wake() {
    absl::MutexLock lock(&mu_);
    Pump();
  }

  // Sends the next batch unless a write is in flight (one at a time) or the stream is over.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    workflow::EventHub::Batch batch;
    // Catching up, a read may find nothing the caller may see in a stretch of others' events:
    // read on until there is something to send, or nothing more.
    for (;;) {
      batch = workflow::EventHub::Batch();
      absl::Status s = hub_->Next(caller_, after_, kEventsPerMessage, live_, &batch);
      if (!s.ok()) {
        FinishOnce(ToGrpcStatus(s));
        return;
      }
      if (batch.lagging || batch.from_ring || !batch.events.empty() || batch.examined == after_) {
        break;
      }
      after_ = batch.examined;
    }
    if (batch.lagging) {
      absl::Status lag = absl::ResourceExhaustedError(absl::StrCat(
          "this stream fell too far behind the node; reconnect with after_cursor ", after_));
      google::rpc::ErrorInfo info;
      info.set_reason("WATCH_LAGGING");
      info.set_domain("comity");
      (*info.mutable_metadata())["resume_after"] = absl::StrCat(after_);
      lag.SetPayload("type.googleapis.com/google.rpc.ErrorInfo",
                     absl::Cord(info.SerializeAsString()));
      FinishOnce(ToGrpcStatus(lag));
      return;
    }
    live_ = live_ || batch.from_ring;
    after_ = batch.examined;
    if (batch.events.empty()) return;  // caught up: the next Publish wakes us
    response_.Clear();
    for (v1::Event& e : batch.events) *response_.add_events() = std::move(e);
    response_.set_head_cursor(hub_->Head());
    if (!Serialize(response_, &bytes_)) {
      FinishOnce(grpc::Status(grpc::StatusCode::INTERNAL, "an event could not be serialized"));
      return;
    }
    writing_ = true;
    COMITY_TSAN_RELEASE(this);
    StartWrite(&bytes_);
  }

  void FinishOnce(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    COMITY_TSAN_RELEASE(this);
    Finish(status);
  }

  workflow::EventHub* const hub_;
  const workflow::Caller caller_;
  std::shared_ptr<workflow::EventHub::Subscription> subscription_;
  absl::Mutex mu_;
  uint64_t after_ ABSL_GUARDED_BY(mu_);
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  v1::WatchEventsResponse response_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer bytes_ ABSL_GUARDED_BY(mu_);  // response_ as sent, until the write is done
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* RequestService::WatchEvents(
    grpc::CallbackServerContext* ctx, const v1::WatchEventsRequest* req) {
  constexpr char kMethod[] = "/comity.v1.RequestService/WatchEvents";
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  absl::Status refused = caller.status();
  if (refused.ok()) refused = auth::AuthorizeList(*caller);
  if (refused.ok()) refused = CheckWellFormed(*req);
  if (refused.ok() && events_ == nullptr) {
    refused = absl::UnimplementedError("this node has no event feed");
  }
  if (!refused.ok()) {
    const grpc::Status status = ToGrpcStatus(refused);
    log_->Record(caller.ok() ? caller->principal : "", kMethod, status);
    return new internal::RefusedStream(status);
  }
  auto* reactor = new WatchReactor(events_, *std::move(caller),
                                   req->start_at_head() ? events_->Head() : req->after_cursor());
  reactor->Begin();
  return reactor;
}

}  // namespace comity::rpc
