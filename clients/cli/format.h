#ifndef COMITY_CLIENTS_CLI_FORMAT_H_
#define COMITY_CLIENTS_CLI_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "comity/v1/audit.pb.h"
#include "comity/v1/directory.pb.h"
#include "comity/v1/requests.pb.h"
#include "grpcpp/support/status.h"

namespace comity::cli {

// Output for people (tables) or scripts (--json: one JSON object per call).
void PrintJson(const google::protobuf::Message& message);
void PrintRequest(const v1::Request& r);
void PrintRequests(const v1::ListRequestsResponse& list);
void PrintTrail(const v1::Trail& trail);
// Each running clock of `requests` due before `before`, one per line.
void PrintDue(const std::vector<v1::Request>& requests, absl::Time before);
// One line per event of the live feed, flushed.
void PrintEvent(const v1::Event& event);
void PrintAuthorities(const v1::ListAuthoritiesResponse& list);

// Prints the error and its field violations to stderr; returns the exit code (the gRPC code).
int PrintError(const grpc::Status& status);
// The same for a local failure.
int PrintError(const absl::Status& status);

}  // namespace comity::cli

#endif  // COMITY_CLIENTS_CLI_FORMAT_H_
