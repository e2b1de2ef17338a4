#ifndef COMITY_SERVICES_RPC_READ_H_
#define COMITY_SERVICES_RPC_READ_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "services/rpc/identify.h"
#include "services/rpc/security_log.h"
#include "services/rpc/well_formed.h"
#include "services/workflow/engine.h"

namespace comity::rpc {

// The whole of a read handler: identify the caller, check that `request` is well formed, run
// `read(caller)` (returning absl::StatusOr<Reply>), fill `reply` and finish (refusals go to the
// security log). Then, for a read that joins the trail of each request it shows, `names(reply)` (a
// std::vector<std::string>) are recorded as ACCESS entries (`what`: the RPC) through `engine`,
// and the reply goes out once every entry is durable. If one cannot be recorded the read fails
// with that status: no read goes unaudited. With `engine` null nothing is recorded.
template <typename Reply, typename Read, typename Names>
void AnswerAuditedRead(grpc::CallbackServerContext* ctx, const Identifier& identifier,
                       SecurityLog& log, const char* method,
                       const google::protobuf::Message& request, Reply* reply, UnaryCall* call,
                       workflow::Engine* engine, const char* what, Read&& read, Names&& names) {
  if (absl::Status s = log.Start(); !s.ok()) {
    log.Finish(call, *ctx, method, s);
    return;
  }
  absl::StatusOr<workflow::Caller> caller = identifier.Identify(*ctx);
  if (caller.ok()) {
    if (absl::Status s = CheckWellFormed(request); !s.ok()) caller = s;
  }
  absl::StatusOr<Reply> result =
      caller.ok() ? std::forward<Read>(read)(*caller) : absl::StatusOr<Reply>(caller.status());
  if (!result.ok()) {
    log.Finish(call, *ctx, method, result.status());
    return;
  }
  std::vector<std::string> recorded;
  if (engine != nullptr) recorded = std::forward<Names>(names)(*result);
  if (engine == nullptr || recorded.empty()) {
    *reply = *std::move(result);
    log.Finish(call, *ctx, method, absl::OkStatus());
    return;
  }
  // Shared by the entries' callbacks; the last one to finish answers.
  struct Pending {
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu);
    absl::Status failure ABSL_GUARDED_BY(mu);
  };
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&pending->mu);
    pending->left = recorded.size();
  }
  *reply = *std::move(result);
  for (const std::string& name : recorded) {
    v1::RecordAccessRequest access;
    access.set_name(name);
    access.set_what(what);
    engine->Apply(workflow::MakeCommand(v1::ACCESS, *caller, access),
                  [pending, reply, call, ctx, &log, method](absl::StatusOr<v1::Request> r) {
                    absl::Status status;
                    {
                      absl::MutexLock lock(&pending->mu);
                      if (!r.ok() && pending->failure.ok()) pending->failure = r.status();
                      if (--pending->left > 0) return;
                      status = pending->failure;
                    }
                    if (!status.ok()) reply->Clear();
                    log.Finish(call, *ctx, method, status);
                  });
  }
}

// The whole of a change handler: identify the caller, check that `request` is well formed, hand
// `make(caller)` (a workflow::Command) to `engine`; once the engine reports the durable outcome,
// `done(outcome)` (absl::StatusOr<v1::Request>&, whose value it may take) fills the reply and the call ends with the
// outcome's status (refusals go to the security log).
template <typename Make, typename Done>
void AnswerChange(grpc::CallbackServerContext* ctx, const Identifier& identifier, SecurityLog& log,
                  const char* method, const google::protobuf::Message& request, UnaryCall* call,
                  workflow::Engine& engine, Make&& make, Done done) {
  if (absl::Status s = log.Start(); !s.ok()) {
    log.Finish(call, *ctx, method, s);
    return;
  }
  absl::StatusOr<workflow::Caller> caller = identifier.Identify(*ctx);
  if (!caller.ok()) {
    log.Finish(call, *ctx, method, caller.status());
    return;
  }
  if (absl::Status s = CheckWellFormed(request); !s.ok()) {
    log.Finish(call, *ctx, method, s);
    return;
  }
  engine.Apply(std::forward<Make>(make)(*std::move(caller)),
               [ctx, &log, method, call, done = std::move(done)](absl::StatusOr<v1::Request> r) {
                 done(r);
                 log.Finish(call, *ctx, method, r.status());
               });
}

// A read that is not recorded (statistics, checkpoints, the directory).
template <typename Reply, typename Read>
void AnswerRead(grpc::CallbackServerContext* ctx, const Identifier& identifier, SecurityLog& log,
                const char* method, const google::protobuf::Message& request, Reply* reply,
                UnaryCall* call, Read&& read) {
  AnswerAuditedRead(ctx, identifier, log, method, request, reply, call, nullptr, "",
                    std::forward<Read>(read),
                    [](const Reply&) { return std::vector<std::string>(); });
}

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_READ_H_
