#include "services/rpc/well_formed.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "services/workflow/errors.h"

namespace comity::rpc {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxViolations = 20;

std::string Join(const std::string& path, absl::string_view field) {
  return path.empty() ? std::string(field) : absl::StrCat(path, ".", field);
}

void CheckEnum(const FieldDescriptor& f, int value, const std::string& path,
               std::vector<workflow::FieldViolation>& out) {
  if (f.enum_type()->FindValueByNumber(value) != nullptr) return;
  out.push_back({path,
                 absl::StrCat(value, " is not a value of ", f.enum_type()->full_name(),
                              "; use one of the names the proto defines"),
                 "UNKNOWN_ENUM_VALUE"});
}

void Walk(const Message& m, const std::string& path, std::vector<workflow::FieldViolation>& out) {
  const Reflection& r = *m.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = r.GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count() && out.size() < kMaxViolations; ++i) {
    out.push_back({Join(path, absl::StrCat("<field ", unknown.field(i).number(), ">")),
                   absl::StrCat("field number ", unknown.field(i).number(), " is not defined in ",
                                m.GetDescriptor()->full_name(),
                                "; remove it (the client may be newer than this node)"),
                   "UNKNOWN_FIELD"});
  }
  std::vector<const FieldDescriptor*> fields;
  r.ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (out.size() >= kMaxViolations) return;
    const std::string name = Join(path, f->name());
    if (f->is_repeated()) {
      const int n = r.FieldSize(m, f);
      for (int i = 0; i < n && out.size() < kMaxViolations; ++i) {
        const std::string at = f->is_map() ? name : absl::StrCat(name, "[", i, "]");
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          Walk(r.GetRepeatedMessage(m, f, i), at, out);
        } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
          CheckEnum(*f, r.GetRepeatedEnumValue(m, f, i), at, out);
        }
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Walk(r.GetMessage(m, f), name, out);
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      CheckEnum(*f, r.GetEnumValue(m, f), name, out);
    }
  }
}

}  // namespace

absl::Status CheckWellFormed(const Message& message) {
  std::vector<workflow::FieldViolation> violations;
  Walk(message, "", violations);
  if (violations.empty()) return absl::OkStatus();
  return workflow::InvalidFields(violations);
}

}  // namespace comity::rpc
