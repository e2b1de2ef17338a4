#ifndef COMITY_SERVICES_RPC_SECURITY_LOG_H_
#define COMITY_SERVICES_RPC_SECURITY_LOG_H_

#include <array>
#include <atomic>
#include <memory>
#include <ostream>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/rpc/parsed_service.h"

namespace comity::rpc {

// Records every refused call — UNAUTHENTICATED, PERMISSION_DENIED, and NOT_FOUND (which is also
// what a request of another authority looks like) — as one line on the security log: time, the
// principal as presented, the RPC method, the code and the reason. Never request contents: our
// error messages name fields and rules, not case data. Counts them too. Thread-safe.
class SecurityLog {
 public:
  // `metrics`, if given, gets the counter family comity_denied_calls_total{code}, and for every
  // unary call grpc_server_handled_total{grpc_service,grpc_method,grpc_code} and the histogram
  // grpc_server_handling_seconds{grpc_service,grpc_method} (the names gRPC's Prometheus
  // interceptors use).
  SecurityLog(std::ostream* out, prometheus::Registry* metrics);

  // Every unary handler starts here and ends in Finish; the calls in between are in flight.
  // UNAVAILABLE once the node drains (the handler finishes with it at once).
  absl::Status Start() {
    ++in_flight_;
    if (draining_.load()) {
      return absl::UnavailableError("the node is shutting down; retry with the same request_id");
    }
    return absl::OkStatus();
  }
  // From now on Start refuses new calls.
  void Drain() { draining_ = true; }
  int64_t in_flight() const { return in_flight_.load(); }

  // Finishes a call with `status`, first recording it if it is a refusal. Every handler ends
  // here; successful calls cost nothing extra.
  void Finish(UnaryCall* call, const grpc::ServerContextBase& ctx, const char* method,
              const absl::Status& status);

  void Record(const std::string& principal, const std::string& method, const grpc::Status& s);

  int64_t unauthenticated() const { return unauthenticated_.load(); }
  int64_t permission_denied() const { return permission_denied_.load(); }
  int64_t not_found() const { return not_found_.load(); }

 private:
  absl::Mutex mu_;
  std::ostream* out_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> unauthenticated_{0}, permission_denied_{0}, not_found_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  // One method's call metrics, made on its first call.
  struct MethodMetrics {
    std::string service, method;  // the label values
    prometheus::Histogram* seconds = nullptr;
    std::array<prometheus::Counter*, 17> by_code{};  // by grpc::StatusCode, made on first use
  };
  MethodMetrics* MetricsOf(const char* method, grpc::StatusCode code);

  prometheus::Family<prometheus::Histogram>* handling_seconds_ = nullptr;
  prometheus::Family<prometheus::Counter>* handled_ = nullptr;
  absl::Mutex methods_mu_;
  // By the method's path, whose pointer every call of the method passes.
  std::unordered_map<const char*, std::unique_ptr<MethodMetrics>> methods_
      ABSL_GUARDED_BY(methods_mu_);
  prometheus::Counter* unauthenticated_metric_ = nullptr;
  prometheus::Counter* permission_denied_metric_ = nullptr;
  prometheus::Counter* not_found_metric_ = nullptr;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_SECURITY_LOG_H_
