#include "services/rpc/security_log.h"

#include <chrono>
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
  handled_ = &prometheus::BuildCounter()
                  .Name("grpc_server_handled_total")
                  .Help("Unary calls completed, by method and status code")
                  .Register(*metrics);
  handling_seconds_ = &prometheus::BuildHistogram()
                           .Name("grpc_server_handling_seconds")
                           .Help("Time from a unary call's arrival to its answer, by method")
                           .Register(*metrics);
}

SecurityLog::MethodMetrics* SecurityLog::MetricsOf(const char* method, grpc::StatusCode code) {
  absl::MutexLock lock(&methods_mu_);
  std::unique_ptr<MethodMetrics>& m = methods_[method];
  if (m == nullptr) {
    m = std::make_unique<MethodMetrics>();
    // "/comity.v1.RequestService/SubmitRequest": the service, then the method.
    const absl::string_view path(method);
    const size_t slash = path.rfind('/');
    m->service = std::string(path.substr(1, slash == absl::string_view::npos ? 0 : slash - 1));
    m->method = std::string(path.substr(slash == absl::string_view::npos ? 0 : slash + 1));
    m->seconds = &handling_seconds_->Add(
        {{"grpc_service", m->service}, {"grpc_method", m->method}},
        prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  }
  const int c = static_cast<int>(code);
  if (c >= 0 && c < static_cast<int>(m->by_code.size()) && m->by_code[c] == nullptr) {
    // gRPC's codes are absl's, number for number.
    m->by_code[c] =
        &handled_->Add({{"grpc_service", m->service},
                        {"grpc_method", m->method},
                        {"grpc_code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}});
  }
  return m.get();
}

void SecurityLog::Finish(UnaryCall* call, const grpc::ServerContextBase& ctx, const char* method,
                         const absl::Status& status) {
  grpc::Status s = ToGrpcStatus(status);
  const grpc::StatusCode code = s.error_code();
  if (code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
      code == grpc::StatusCode::NOT_FOUND) {
    Record(PresentedPrincipal(ctx), method, s);
  }
  if (handled_ != nullptr) {
    MethodMetrics* m = MetricsOf(method, code);
    m->seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - call->started()).count());
    const int c = static_cast<int>(code);
    if (c >= 0 && c < static_cast<int>(m->by_code.size())) m->by_code[c]->Increment();
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
