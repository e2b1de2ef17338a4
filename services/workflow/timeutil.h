#ifndef COMITY_SERVICES_WORKFLOW_TIMEUTIL_H_
#define COMITY_SERVICES_WORKFLOW_TIMEUTIL_H_

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace comity::workflow {

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& t);

// True for a timestamp between years 1 and 9999 with nanos in [0, 1e9).
bool IsValidTimestamp(const google::protobuf::Timestamp& t);

// RFC 3339 in UTC to the second: "2026-11-25T10:00:00Z".
std::string FormatUtc(absl::Time t);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_TIMEUTIL_H_
