#include "services/workflow/command.h"

#include <utility>

#include "google/protobuf/descriptor.h"
#include "services/workflow/names.h"

namespace comity::workflow {
namespace {

// The string field `name` of `body`, or "" if it has none.
std::string StringField(const google::protobuf::Message& body, const char* name) {
  const google::protobuf::FieldDescriptor* f = body.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      f->is_repeated()) {
    return "";
  }
  return body.GetReflection()->GetString(body, f);
}

}  // namespace

Command MakeCommand(v1::Action action, Caller caller,
                    std::shared_ptr<const google::protobuf::Message> body) {
  Command c;
  c.action = action;
  c.caller = std::move(caller);
  c.name = RequestOfName(StringField(*body, "name"));
  c.etag = StringField(*body, "etag");
  c.request_id = StringField(*body, "request_id");
  c.body = std::move(body);
  return c;
}

}  // namespace comity::workflow
