#include "services/rpc/directory_service.h"

#include "absl/strings/str_cat.h"
#include "services/rpc/status.h"

namespace comity::rpc {
namespace {

v1::Authority Visible(const v1::Authority& a, const workflow::Caller& caller) {
  v1::Authority out = a;
  if (a.name() != caller.authority) out.clear_members();
  return out;
}

}  // namespace

grpc::ServerUnaryReactor* DirectoryService::GetAuthority(grpc::CallbackServerContext* ctx,
                                                         const v1::GetAuthorityRequest* req,
                                                         v1::Authority* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  const v1::Authority* a = directory_->FindAuthority(req->name());
  if (a == nullptr) {
    reactor->Finish(ToGrpcStatus(absl::NotFoundError(absl::StrCat(req->name(), " not found"))));
    return reactor;
  }
  *reply = Visible(*a, *caller);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DirectoryService::ListAuthorities(grpc::CallbackServerContext* ctx,
                                                            const v1::ListAuthoritiesRequest* req,
                                                            v1::ListAuthoritiesResponse* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  for (const v1::Authority* a : directory_->Authorities()) {
    if (!req->country().empty() && a->country() != req->country()) continue;
    *reply->add_authorities() = Visible(*a, *caller);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DirectoryService::WhoAmI(grpc::CallbackServerContext* ctx,
                                                   const v1::WhoAmIRequest*,
                                                   v1::WhoAmIResponse* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  if (caller.ok()) {
    reply->set_principal(caller->principal);
    reply->set_authority(caller->authority);
    for (v1::Role r : caller->roles) reply->add_roles(r);
  }
  reactor->Finish(ToGrpcStatus(caller.status()));
  return reactor;
}

}  // namespace comity::rpc
