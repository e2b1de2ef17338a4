#ifndef COMITY_SERVICES_AUDIT_BUNDLE_JSON_H_
#define COMITY_SERVICES_AUDIT_BUNDLE_JSON_H_

// A trail bundle as a file: protobuf's canonical JSON mapping (docs/audit-format.md §5).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "comity/v1/audit.pb.h"

namespace comity::audit {

// Parses `json` as a TrailBundle. INVALID_ARGUMENT if it is not JSON or names a field the bundle
// does not have; DATA_LOSS if an object has the same key twice (parsers differ on which copy they
// keep, so a verifier must not pick one).
absl::StatusOr<v1::TrailBundle> ParseBundleJson(absl::string_view json);

// OK unless some object in `json` has a key twice (compared after decoding its escapes).
// INVALID_ARGUMENT naming the key; also for JSON it cannot scan.
absl::Status CheckUniqueKeys(absl::string_view json);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_BUNDLE_JSON_H_
