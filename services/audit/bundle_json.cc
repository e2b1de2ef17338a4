#include "services/audit/bundle_json.h"

#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/text.h"
#include "google/protobuf/util/json_util.h"

namespace comity::audit {
namespace {

absl::Status Malformed(size_t at) {
  return absl::InvalidArgumentError(
      absl::StrCat("the bundle is not valid JSON (at byte ", at, ")"));
}

// Reads the string starting at json[*i] == '"' into `out` (escapes decoded; \uXXXX kept as its
// code units in UTF-8 for the BMP) and moves *i past it.
bool ReadString(absl::string_view json, size_t* i, std::string* out) {
  ++*i;
  while (*i < json.size()) {
    const char c = json[(*i)++];
    if (c == '"') return true;
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (*i >= json.size()) return false;
    const char e = json[(*i)++];
    switch (e) {
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'u': {
        uint32_t cp = 0;
        if (*i + 4 > json.size() || !absl::SimpleHexAtoi(json.substr(*i, 4), &cp)) return false;
        *i += 4;
        if (cp < 0x80) {
          out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
          out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
        break;
      }
      default:
        out->push_back(e);
        break;  // \" \\ \/
    }
  }
  return false;
}

}  // namespace

absl::Status CheckUniqueKeys(absl::string_view json) {
  struct Frame {
    bool object;
    bool expect_key;
    std::set<std::string> keys;
  };
  std::vector<Frame> stack;
  for (size_t i = 0; i < json.size();) {
    const char c = json[i];
    if (c == '{' || c == '[') {
      stack.push_back({c == '{', c == '{', {}});
      ++i;
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back().object != (c == '}')) return Malformed(i);
      stack.pop_back();
      ++i;
    } else if (c == ',') {
      if (!stack.empty() && stack.back().object) stack.back().expect_key = true;
      ++i;
    } else if (c == '"') {
      const size_t start = i;
      std::string s;
      if (!ReadString(json, &i, &s)) return Malformed(start);
      if (!stack.empty() && stack.back().object && stack.back().expect_key) {
        if (!stack.back().keys.insert(s).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("the bundle has the key \"", Echo(s), "\" twice in one object"));
        }
        stack.back().expect_key = false;
      }
    } else {
      ++i;  // ':', numbers, literals and white space
    }
  }
  if (!stack.empty()) return Malformed(json.size());
  return absl::OkStatus();
}

absl::StatusOr<v1::TrailBundle> ParseBundleJson(absl::string_view json) {
  if (absl::Status s = CheckUniqueKeys(json); !s.ok()) {
    // A repeated key is a way to show two readers two bundles: treated as tampering.
    if (absl::StrContains(s.message(), "twice")) return absl::DataLossError(s.message());
    return s;
  }
  v1::TrailBundle bundle;
  google::protobuf::util::Status s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &bundle);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the file is not a trail bundle: ", Echo(std::string(s.message()), 200)));
  }
  return bundle;
}

}  // namespace comity::audit
