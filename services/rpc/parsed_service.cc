#include "services/rpc/parsed_service.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "services/rpc/status.h"
#include "services/workflow/errors.h"

namespace comity::rpc {

grpc::Status UnparsableBody(absl::string_view type) {
  return ToGrpcStatus(workflow::InvalidField(
      "",
      absl::StrCat("the request body could not be parsed as ", type,
                   ": it is not the protobuf wire format of that message, or a string field is "
                   "not valid UTF-8"),
      "UNPARSABLE_BODY"));
}

bool Serialize(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  bool own_buffer = false;
  out->Clear();
  return grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(message, out,
                                                                                    &own_buffer)
      .ok();
}

bool Parse(const grpc::ByteBuffer& in, google::protobuf::Message* message) {
  // ByteBuffer copies share the slices: no bytes are copied.
  grpc::ByteBuffer bytes(in);
  grpc::ProtoBufferReader reader(&bytes);
  if (!reader.status().ok()) return false;
  return message->ParseFromZeroCopyStream(&reader);
}

const char* ParsedService::Path(absl::string_view method,
                                const google::protobuf::Descriptor* request,
                                const google::protobuf::Descriptor* reply, bool server_streaming,
                                bool client_streaming) {
  const std::string full = absl::StrCat(service_, ".", method);
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
  if (m == nullptr || m->input_type() != request ||
      (reply != nullptr && m->output_type() != reply) ||
      m->client_streaming() != client_streaming || m->server_streaming() != server_streaming) {
    std::fprintf(stderr, "comity: %s is not served as declared in its .proto\n", full.c_str());
    std::abort();
  }
  paths_.push_back(absl::StrCat("/", service_, "/", method));
  return paths_.back().c_str();
}

}  // namespace comity::rpc
