#include "services/rpc/security_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/text.h"
#include "grpc/grpc_security_constants.h"
#include "services/rpc/identify.h"
#include "services/rpc/status.h"

namespace comity::rpc {
namespace {

// The principal the call presented: the certificate's SPIFFE ID, or the development header.
std::string PresentedPrincipal(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& id : auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME)) {
      return std::string(id.data(), id.size());
    }
  }
  auto it = ctx.client_metadata().find(kDevPrincipalHeader);
  if (it != ctx.client_metadata().end()) return std::string(it->second.data(), it->second.size());
  return "-";
}

}  // namespace

SecurityLog::SecurityLog(std::ostream* out, prometheus::Registry* metrics) : out_(out) {
  if (metrics == nullptr) return;
  auto& family = prometheus::BuildCounter()
                     .Name("comity_denied_calls_total")
                     .Help("Calls refused: unauthenticated, permission denied, or not found")
                     .Register(*metrics);
  unauthenticated_metric_ = &family.Add({{"code", "UNAUTHENTICATED"}});
  permission_denied_metric_ = &family.Add({{"code", "PERMISSION_DENIED"}});
  not_found_metric_ = &family.Add({{"code", "NOT_FOUND"}});
}

void SecurityLog::Finish(UnaryCall* call, const grpc::ServerContextBase& ctx, const char* method,
                         const absl::Status& status) {
  grpc::Status s = ToGrpcStatus(status);
  const grpc::StatusCode code = s.error_code();
  if (code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
      code == grpc::StatusCode::NOT_FOUND) {
    Record(PresentedPrincipal(ctx), method, s);
  }
  call->Answer(std::move(s));
  --in_flight_;
}

void SecurityLog::Record(const std::string& principal, const std::string& method,
                         const grpc::Status& s) {
  const char* code = nullptr;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      ++unauthenticated_;
      if (unauthenticated_metric_ != nullptr) unauthenticated_metric_->Increment();
      code = "UNAUTHENTICATED";
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      ++permission_denied_;
      if (permission_denied_metric_ != nullptr) permission_denied_metric_->Increment();
      code = "PERMISSION_DENIED";
      break;
    case grpc::StatusCode::NOT_FOUND:
      ++not_found_;
      if (not_found_metric_ != nullptr) not_found_metric_->Increment();
      code = "NOT_FOUND";
      break;
    default:
      return;
  }
  // One event per line: every field that carries caller input is quoted, escaped and bounded.
  const std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                   " comityd level=warn event=denied principal=", LogField(principal),
                   " method=", LogField(method), " code=", code,
                   " reason=", LogField(s.error_message(), 512), "\n");
  absl::MutexLock lock(&mu_);
  *out_ << line << std::flush;
}

}  // namespace comity::rpc
