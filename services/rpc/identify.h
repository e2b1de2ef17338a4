#ifndef COMITY_SERVICES_RPC_IDENTIFY_H_
#define COMITY_SERVICES_RPC_IDENTIFY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "services/auth/caller.h"
#include "services/workflow/directory.h"

namespace comity::rpc {

// The metadata key naming the principal in development mode.
inline constexpr char kDevPrincipalHeader[] = "x-comity-principal";

// The one seam through which every RPC learns who is calling. Thread-safe.
class Identifier {
 public:
  virtual ~Identifier() = default;
  // The caller, UNAUTHENTICATED if no identity was presented, PERMISSION_DENIED if the principal
  // is not in the directory.
  virtual absl::StatusOr<workflow::Caller> Identify(
      const grpc::ServerContextBase& context) const = 0;
};

// Mutual TLS: the principal is the client certificate's SPIFFE ID (its one spiffe:// URI SAN),
// checked by gRPC during the handshake against the configured CA bundle. UNAUTHENTICATED if the
// certificate carries no SPIFFE ID.
std::unique_ptr<Identifier> NewTlsPeerIdentifier(const workflow::Directory* directory);

// Development only (plaintext on loopback): the principal is taken from the x-comity-principal
// request header, unverified.
std::unique_ptr<Identifier> NewDevHeaderIdentifier(const workflow::Directory* directory);

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_IDENTIFY_H_
