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
// a gRPC thread on a commit. The methods that change a request are those of the action table
// (services/workflow/action_table.h).
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

 private:
  // One of the action table's methods: the body becomes the engine's command.
  void Change(grpc::CallbackServerContext* ctx, const char* method, v1::Action action,
              std::shared_ptr<const google::protobuf::Message> body, v1::Request* reply,
              UnaryCall* call);

  const Identifier* identifier_;
  workflow::Engine* engine_;
  const workflow::Reader* reader_;
  SecurityLog* log_;
  const bool record_reads_;
  workflow::EventHub* const events_;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_REQUEST_SERVICE_H_
