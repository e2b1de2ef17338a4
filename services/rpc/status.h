#ifndef COMITY_SERVICES_RPC_STATUS_H_
#define COMITY_SERVICES_RPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace comity::rpc {

// The one conversion from absl::Status to grpc::Status. Codes map one to one; payloads holding
// google.rpc.BadRequest / PreconditionFailure become the details of a google.rpc.Status in the
// binary error details (grpc-status-details-bin).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for clients: code and message, and the details as payloads.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_STATUS_H_
