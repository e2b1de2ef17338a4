#include "common/text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace comity {

std::string Echo(absl::string_view input, size_t max) {
  std::string out;
  const absl::string_view kept = input.substr(0, max);
  out.reserve(kept.size() + 8);
  for (unsigned char c : kept) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (input.size() > max) out += "...";
  return out;
}

std::string LogField(absl::string_view value, size_t max) {
  return absl::StrCat("\"", Echo(value, max), "\"");
}

}  // namespace comity
