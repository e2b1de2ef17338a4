#ifndef COMITY_SERVICES_RPC_PARSED_SERVICE_H_
#define COMITY_SERVICES_RPC_PARSED_SERVICE_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "common/tsan.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/impl/codegen/rpc_service_method.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"

namespace comity::rpc {

// A unary call in flight. Its handler fills the reply and ends the call with Answer, once.
class UnaryCall {
 public:
  virtual ~UnaryCall() = default;
  // Sends the reply (when `status` is OK) or `status`.
  virtual void Answer(grpc::Status status) = 0;
  // When the call reached its handler, for its latency.
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// The status for a request body that does not parse as `type`: INVALID_ARGUMENT with a
// google.rpc.BadRequest violation of reason UNPARSABLE_BODY on the whole body (field "").
grpc::Status UnparsableBody(absl::string_view type);

// A gRPC service whose request bodies are parsed here, not by gRPC. gRPC 1.51's callback API
// answers a body it cannot parse (bytes that are not the wire format, invalid UTF-8 in a string
// field) with UNIMPLEMENTED and no message, before any handler runs; registered through this class
// a method answers UnparsableBody instead. The methods are gRPC's raw callback methods: the
// handler gets the bytes, parses them with protobuf as gRPC would, and serializes the reply as
// gRPC would, so a call costs what it did (BENCHMARKS.md, "Parsing request bodies").
//
// Every method is checked against the service's descriptor when it is added: a name or a type
// that does not match the .proto aborts at startup.
class ParsedService : public grpc::Service {
 protected:
  // `service`: the full name, e.g. "comity.v1.RequestService".
  explicit ParsedService(absl::string_view service) : service_(service) {}

  // Serves `method` with `handler`, a member of `self`.
  template <typename Self, typename Request, typename Reply>
  void AddUnary(absl::string_view method, Self* self,
                void (Self::*handler)(grpc::CallbackServerContext*, const Request*, Reply*,
                                      UnaryCall*));

  // Serves `method`, whose request message is `prototype`'s type, with `handler`: it gets the
  // method's path and the parsed body, which it may keep as long as it needs.
  template <typename Reply>
  using SharedHandler =
      std::function<void(grpc::CallbackServerContext*, const char* path,
                         std::shared_ptr<const google::protobuf::Message>, Reply*, UnaryCall*)>;
  template <typename Reply>
  void AddUnaryShared(absl::string_view method, const google::protobuf::Message& prototype,
                      SharedHandler<Reply> handler);

  // Serves the server-streaming `method` with `start`, a member of `self` returning the reactor
  // that writes the stream (each message serialized with Serialize below). The request lives
  // only for the call to `start`.
  template <typename Self, typename Request>
  void AddServerStream(absl::string_view method, Self* self,
                       grpc::ServerWriteReactor<grpc::ByteBuffer>* (Self::*start)(
                           grpc::CallbackServerContext*, const Request*));

  // Serves the bidirectional `method` (requests of type Request) with `start`, a member of
  // `self` returning the reactor, which parses each message it reads with Parse below.
  template <typename Request, typename Self>
  void AddBidiStream(absl::string_view method, Self* self,
                     grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* (Self::*start)(
                         grpc::CallbackServerContext*));

 private:
  // Checks `method` against the descriptor (aborting on a mismatch) and returns the path
  // "/<service>/<method>", kept for the life of the service.
  const char* Path(absl::string_view method, const google::protobuf::Descriptor* request,
                   const google::protobuf::Descriptor* reply, bool server_streaming,
                   bool client_streaming = false);

  const std::string service_;
  std::deque<std::string> paths_;
  int added_ = 0;  // the index of the next method added
};

// `message` as the bytes gRPC sends. False only if protobuf cannot serialize it.
bool Serialize(const google::protobuf::Message& message, grpc::ByteBuffer* out);
// Parses `in` into `message`; false if the bytes are not a valid `message`.
bool Parse(const grpc::ByteBuffer& in, google::protobuf::Message* message);

namespace internal {

// A unary call in flight: its request (a message, or a shared_ptr to one its handler may keep)
// and its reply.
template <typename Request, typename Reply>
class ParsedUnaryCall final : public grpc::ServerUnaryReactor, public UnaryCall {
 public:
  explicit ParsedUnaryCall(grpc::ByteBuffer* out) : out_(out) {}

  void Answer(grpc::Status status) override {
    if (status.ok() && !Serialize(reply, out_)) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, "the reply could not be serialized");
    }
    COMITY_TSAN_RELEASE(this);
    Finish(std::move(status));
  }
  void OnDone() override {
    COMITY_TSAN_ACQUIRE(this);
    delete this;
  }

  Request request;
  Reply reply;

 private:
  grpc::ByteBuffer* const out_;
};

// A stream refused before it starts.
class RefusedStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const grpc::Status& status) {
    COMITY_TSAN_RELEASE(this);
    Finish(status);
  }
  void OnDone() override {
    COMITY_TSAN_ACQUIRE(this);
    delete this;
  }
};

}  // namespace internal

template <typename Self, typename Request, typename Reply>
void ParsedService::AddUnary(absl::string_view method, Self* self,
                             void (Self::*handler)(grpc::CallbackServerContext*, const Request*,
                                                   Reply*, UnaryCall*)) {
  const char* path = Path(method, Request::descriptor(), Reply::descriptor(), false);
  AddMethod(
      new grpc::internal::RpcServiceMethod(path, grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
  MarkMethodRawCallback(
      added_++, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                    [self, handler](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                    grpc::ByteBuffer* out) -> grpc::ServerUnaryReactor* {
                      auto* call = new internal::ParsedUnaryCall<Request, Reply>(out);
                      if (!Parse(*in, &call->request)) {
                        call->Answer(UnparsableBody(Request::descriptor()->full_name()));
                        return call;
                      }
                      (self->*handler)(ctx, &call->request, &call->reply, call);
                      return call;
                    }));
}

template <typename Reply>
void ParsedService::AddUnaryShared(absl::string_view method,
                                   const google::protobuf::Message& prototype,
                                   SharedHandler<Reply> handler) {
  const char* path = Path(method, prototype.GetDescriptor(), Reply::descriptor(), false);
  AddMethod(
      new grpc::internal::RpcServiceMethod(path, grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
  MarkMethodRawCallback(
      added_++,
      new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
          [path, &prototype, handler = std::move(handler)](
              grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
              grpc::ByteBuffer* out) -> grpc::ServerUnaryReactor* {
            auto* call =
                new internal::ParsedUnaryCall<std::shared_ptr<google::protobuf::Message>, Reply>(
                    out);
            call->request.reset(prototype.New());
            if (!Parse(*in, call->request.get())) {
              call->Answer(UnparsableBody(prototype.GetDescriptor()->full_name()));
              return call;
            }
            handler(ctx, path, call->request, &call->reply, call);
            return call;
          }));
}

template <typename Self, typename Request>
void ParsedService::AddServerStream(absl::string_view method, Self* self,
                                    grpc::ServerWriteReactor<grpc::ByteBuffer>* (Self::*start)(
                                        grpc::CallbackServerContext*, const Request*)) {
  const char* path = Path(method, Request::descriptor(), nullptr, true);
  AddMethod(new grpc::internal::RpcServiceMethod(path, grpc::internal::RpcMethod::SERVER_STREAMING,
                                                 nullptr));
  MarkMethodRawCallback(
      added_++,
      new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
          [self, start](grpc::CallbackServerContext* ctx,
                        const grpc::ByteBuffer* in) -> grpc::ServerWriteReactor<grpc::ByteBuffer>* {
            Request request;
            if (!Parse(*in, &request)) {
              return new internal::RefusedStream(
                  UnparsableBody(Request::descriptor()->full_name()));
            }
            return (self->*start)(ctx, &request);
          }));
}

template <typename Request, typename Self>
void ParsedService::AddBidiStream(absl::string_view method, Self* self,
                                  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* (
                                      Self::*start)(grpc::CallbackServerContext*)) {
  const char* path = Path(method, Request::descriptor(), nullptr, true, true);
  AddMethod(new grpc::internal::RpcServiceMethod(path, grpc::internal::RpcMethod::BIDI_STREAMING,
                                                 nullptr));
  MarkMethodRawCallback(
      added_++,
      new grpc::internal::CallbackBidiHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
          [self, start](grpc::CallbackServerContext* ctx) { return (self->*start)(ctx); }));
}

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_PARSED_SERVICE_H_
