#include "services/rpc/request_service.h"

#include "absl/strings/str_cat.h"
#include "common/tsan.h"
#include "google/rpc/error_details.pb.h"
#include "services/auth/policy.h"
#include "services/rpc/read.h"
#include "services/rpc/status.h"
#include "services/rpc/well_formed.h"
#include "services/workflow/action_table.h"

namespace comity::rpc {

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
  for (const workflow::ActionRow& row : workflow::ActionTable()) {
    if (row.service != "comity.v1.RequestService") continue;
    AddUnaryShared<v1::Request>(
        row.method, *row.request,
        [this, action = row.action](grpc::CallbackServerContext* ctx, const char* path,
                                    std::shared_ptr<const google::protobuf::Message> body,
                                    v1::Request* reply, UnaryCall* call) {
          Change(ctx, path, action, std::move(body), reply, call);
        });
  }
  AddUnary("GetRequest", this, &RequestService::GetRequest);
  AddUnary("ListRequests", this, &RequestService::ListRequests);
  AddServerStream("WatchEvents", this, &RequestService::WatchEvents);
}

void RequestService::Change(grpc::CallbackServerContext* ctx, const char* method, v1::Action action,
                            std::shared_ptr<const google::protobuf::Message> body,
                            v1::Request* reply, UnaryCall* call) {
  const google::protobuf::Message& request = *body;
  AnswerChange(
      ctx, *identifier_, *log_, method, request, call, *engine_,
      [action, body = std::move(body)](workflow::Caller caller) mutable {
        return workflow::MakeCommand(action, std::move(caller), std::move(body));
      },
      [reply](absl::StatusOr<v1::Request>& r) {
        if (r.ok()) *reply = *std::move(r);
      });
}

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
