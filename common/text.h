#ifndef COMITY_COMMON_TEXT_H_
#define COMITY_COMMON_TEXT_H_

// Caller input echoed back: in error messages and on log lines it is bounded and made safe, so
// that one echoed value can neither forge a line nor grow a message without limit.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace comity {

// How much of a caller's input an error message or a log line repeats.
inline constexpr size_t kMaxEcho = 128;

// `input` as one printable line: every byte outside printable ASCII (control characters, NUL,
// bytes of multi-byte characters) as \xNN, backslash and double quote escaped with a backslash;
// cut after `max` input bytes with "..." appended.
std::string Echo(absl::string_view input, size_t max = kMaxEcho);

// A log field's value: Echo(value, max) in double quotes.
std::string LogField(absl::string_view value, size_t max = kMaxEcho);

}  // namespace comity

#endif  // COMITY_COMMON_TEXT_H_
