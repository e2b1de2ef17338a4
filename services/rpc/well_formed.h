#ifndef COMITY_SERVICES_RPC_WELL_FORMED_H_
#define COMITY_SERVICES_RPC_WELL_FORMED_H_

// The first check every request message meets at the edge, before anything reads its values:
// nothing in it that this node's protos do not define.

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace comity::rpc {

// OK, or INVALID_ARGUMENT (BadRequest details, one violation per problem, at most 20) when
// `message` or any message inside it carries
//  - a field this node does not know (reason UNKNOWN_FIELD, naming the field number): such a
//    field would be stored and served back unseen by every check;
//  - an enum value its enum does not define (reason UNKNOWN_ENUM_VALUE).
// Field paths are written as in the proto ("request.case_info.offences[2]").
absl::Status CheckWellFormed(const google::protobuf::Message& message);

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_WELL_FORMED_H_
