#include "services/rpc/identify.h"

#include <string>
#include <vector>

#include "grpc/grpc_security_constants.h"

namespace comity::rpc {
namespace {

class DevHeaderIdentifier : public Identifier {
 public:
  explicit DevHeaderIdentifier(const workflow::Directory* directory) : directory_(directory) {}

  absl::StatusOr<workflow::Caller> Identify(const grpc::ServerContextBase& context) const override {
    const auto& metadata = context.client_metadata();
    auto it = metadata.find(kDevPrincipalHeader);
    if (it == metadata.end() || it->second.empty()) {
      return absl::UnauthenticatedError(
          "no principal: in development mode send the x-comity-principal header "
          "(the CLI's --as flag)");
    }
    if (metadata.count(kDevPrincipalHeader) > 1) {
      return absl::UnauthenticatedError(
          "more than one x-comity-principal header: send exactly one principal");
    }
    return directory_->CallerFor(absl::string_view(it->second.data(), it->second.size()));
  }

 private:
  const workflow::Directory* directory_;
};

class TlsPeerIdentifier : public Identifier {
 public:
  explicit TlsPeerIdentifier(const workflow::Directory* directory) : directory_(directory) {}

  absl::StatusOr<workflow::Caller> Identify(const grpc::ServerContextBase& context) const override {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth == nullptr || !auth->IsPeerAuthenticated()) {
      return absl::UnauthenticatedError("a client certificate is required");
    }
    std::vector<grpc::string_ref> ids = auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
    if (ids.size() != 1) {
      return absl::UnauthenticatedError(
          "the client certificate must carry exactly one spiffe:// URI subject alternative name "
          "naming the principal");
    }
    return directory_->CallerFor(absl::string_view(ids[0].data(), ids[0].size()));
  }

 private:
  const workflow::Directory* directory_;
};

}  // namespace

std::unique_ptr<Identifier> NewTlsPeerIdentifier(const workflow::Directory* directory) {
  return std::make_unique<TlsPeerIdentifier>(directory);
}

std::unique_ptr<Identifier> NewDevHeaderIdentifier(const workflow::Directory* directory) {
  return std::make_unique<DevHeaderIdentifier>(directory);
}

}  // namespace comity::rpc
