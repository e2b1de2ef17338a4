#ifndef COMITY_SERVICES_RPC_SECURITY_LOG_H_
#define COMITY_SERVICES_RPC_SECURITY_LOG_H_

#include <atomic>
#include <memory>
#include <ostream>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/rpc/parsed_service.h"

namespace comity::rpc {

// Records every refused call — UNAUTHENTICATED, PERMISSION_DENIED, and NOT_FOUND (which is also
// what a request of another authority looks like) — as one line on the security log: time, the
// principal as presented, the RPC method, the code and the reason. Never request contents: our
// error messages name fields and rules, not case data. Counts them too. Thread-safe.
class SecurityLog {
 public:
  // `metrics`, if given, gets the counter family comity_denied_calls_total{code}.
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
  prometheus::Counter* unauthenticated_metric_ = nullptr;
  prometheus::Counter* permission_denied_metric_ = nullptr;
  prometheus::Counter* not_found_metric_ = nullptr;
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_SECURITY_LOG_H_
