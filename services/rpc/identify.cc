#include "services/rpc/identify.h"

#include <string>

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
    return directory_->CallerFor(absl::string_view(it->second.data(), it->second.size()));
  }

 private:
  const workflow::Directory* directory_;
};

}  // namespace

std::unique_ptr<Identifier> NewDevHeaderIdentifier(const workflow::Directory* directory) {
  return std::make_unique<DevHeaderIdentifier>(directory);
}

}  // namespace comity::rpc
