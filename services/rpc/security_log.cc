#include "services/rpc/security_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "grpc/grpc_security_constants.h"
#include "services/rpc/identify.h"

namespace comity::rpc {
namespace {

// The principal the call presented: the certificate's SPIFFE ID, or the development header.
std::string PresentedPrincipal(grpc::ServerContextBase* ctx) {
  if (ctx == nullptr) return "-";
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& id : auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME)) {
      return std::string(id.data(), id.size());
    }
  }
  auto it = ctx->client_metadata().find(kDevPrincipalHeader);
  if (it != ctx->client_metadata().end()) return std::string(it->second.data(), it->second.size());
  return "-";
}

class Interceptor : public grpc::experimental::Interceptor {
 public:
  Interceptor(SecurityLog* log, grpc::experimental::ServerRpcInfo* info) : log_(log), info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (!status.ok()) {
        log_->Record(PresentedPrincipal(info_->server_context()), info_->method(), status);
      }
    }
    methods->Proceed();
  }

 private:
  SecurityLog* log_;
  grpc::experimental::ServerRpcInfo* info_;
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(SecurityLog* log) : log_(log) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new Interceptor(log_, info);
  }

 private:
  SecurityLog* log_;
};

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

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> SecurityLog::Interceptor(
    SecurityLog* log) {
  return std::make_unique<Factory>(log);
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
  const std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      " comityd level=warn event=denied principal=", principal, " method=", method, " code=", code,
      " reason=\"", absl::StrReplaceAll(s.error_message(), {{"\"", "'"}}), "\"\n");
  absl::MutexLock lock(&mu_);
  *out_ << line << std::flush;
}

}  // namespace comity::rpc
