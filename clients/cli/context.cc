#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"

namespace comity::cli {

std::unique_ptr<grpc::ClientContext> Context::NewCall() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!principal.empty()) ctx->AddMetadata("x-comity-principal", principal);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

int UsageError(const std::string& message) {
  std::cerr << "error: " << message << "\n(see comity help)\n";
  return kUsageError;
}

}  // namespace comity::cli
