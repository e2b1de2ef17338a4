#ifndef COMITY_SERVICES_WORKFLOW_CHECKER_H_
#define COMITY_SERVICES_WORKFLOW_CHECKER_H_

// The edge's checks of a command's own fields: every violation collected, then reported at once.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/auth/caller.h"
#include "services/workflow/directory.h"
#include "services/workflow/errors.h"
#include "services/workflow/profiles.h"
#include "services/workflow/timeutil.h"

namespace comity::workflow {

using auth::Caller;

// What the edge's checks may consult besides a command's body.
struct Edge {
  const Caller& caller;
  const Directory& directory;
  const ProfileSet& profiles;
};

inline constexpr size_t kMaxShortText = 256;   // names, codes, references, identifiers
inline constexpr size_t kMaxLongText = 32768;  // facts, reasons, notes
inline constexpr int kMaxRepeated = 100;

// Collects violations; field paths are relative to `prefix`.
class Checker {
 public:
  explicit Checker(std::string prefix = "") : prefix_(std::move(prefix)) {}

  void Add(absl::string_view field, std::string description, std::string reason) {
    out_.push_back({absl::StrCat(prefix_, field), std::move(description), std::move(reason)});
  }

  void Text(absl::string_view field, const std::string& value, size_t max, bool required) {
    if (value.empty()) {
      if (required) Add(field, "is required", "REQUIRED");
      return;
    }
    if (value.size() > max) {
      Add(field, absl::StrCat("is ", value.size(), " bytes; at most ", max), "TOO_LONG");
    }
    for (unsigned char c : value) {
      if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
        Add(field, "contains control characters", "CONTROL_CHARACTERS");
        break;
      }
    }
  }

  void Texts(absl::string_view field, const google::protobuf::RepeatedPtrField<std::string>& values,
             size_t max) {
    if (values.size() > kMaxRepeated) {
      Add(field, absl::StrCat("has ", values.size(), " entries; at most ", kMaxRepeated),
          "TOO_MANY");
    }
    for (int i = 0; i < values.size(); ++i) {
      Text(absl::StrCat(field, "[", i, "]"), values[i], max, true);
    }
  }

  void Time(absl::string_view field, const google::protobuf::Timestamp& t, bool present,
            bool required) {
    if (!present) {
      if (required) Add(field, "is required", "REQUIRED");
      return;
    }
    if (!IsValidTimestamp(t)) Add(field, "is not a valid time", "INVALID_TIME");
  }

  template <typename IsValid>
  void Enum(absl::string_view field, int value, IsValid is_valid, bool required) {
    if (value == 0) {
      if (required) Add(field, "must be specified", "REQUIRED");
    } else if (!is_valid(value)) {
      Add(field, absl::StrCat("has unknown value ", value), "UNKNOWN_ENUM_VALUE");
    }
  }

  void Merge(Checker& other) { out_.insert(out_.end(), other.out_.begin(), other.out_.end()); }
  bool ok() const { return out_.empty(); }
  absl::Status Status() const { return out_.empty() ? absl::OkStatus() : InvalidFields(out_); }

 private:
  std::string prefix_;
  std::vector<FieldViolation> out_;
};

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_CHECKER_H_
