// Fuzzes every RPC request message through the edge: parse (as gRPC's bytes would arrive), the
// well-formedness walk (unknown fields, undefined enums), and for a change the command's
// validation against the shipped profiles and the demo directory. The first byte picks the
// message type.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "comity/v1/audit.pb.h"
#include "comity/v1/directory.pb.h"
#include "comity/v1/requests.pb.h"
#include "services/rpc/well_formed.h"
#include "services/workflow/action_table.h"
#include "services/workflow/command.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

struct Kind {
  const google::protobuf::Message* prototype;
  // Null for a read.
  std::function<workflow::Command(workflow::Caller, const google::protobuf::Message&)> command;
};

template <typename Msg>
Kind Change(v1::Action action) {
  return {&Msg::default_instance(),
          [action](workflow::Caller caller, const google::protobuf::Message& m) {
            return workflow::MakeCommand(action, std::move(caller), static_cast<const Msg&>(m));
          }};
}
template <typename Msg>
Kind Read() {
  return {&Msg::default_instance(), nullptr};
}

struct Env {
  std::unique_ptr<workflow::ProfileSet> profiles = testing::ShippedProfiles();
  std::unique_ptr<workflow::Directory> directory = testing::DemoDirectory();
  std::vector<workflow::Caller> callers = {
      testing::As(*directory, testing::kAlice), testing::As(*directory, testing::kGreta),
      testing::As(*directory, "spiffe://comity.dev/FR-CA/admin")};
  // The action table's changes, in its order, then the directory's and the reads.
  std::vector<Kind> kinds = Kinds({
      Change<v1::UpsertAuthorityRequest>(v1::UPSERT_AUTHORITY),
      Change<v1::SetReservationRequest>(v1::SET_RESERVATION),
      Read<v1::GetRequestRequest>(),
      Read<v1::ListRequestsRequest>(),
      Read<v1::WatchEventsRequest>(),
      Read<v1::GetTrailRequest>(),
      Read<v1::GetStatisticsRequest>(),
      Read<v1::GetConsistencyProofRequest>(),
      Read<v1::GetCheckpointRequest>(),
      Read<v1::GetAuthorityRequest>(),
      Read<v1::ListAuthoritiesRequest>(),
      Read<v1::WhoAmIRequest>(),
      Read<v1::ListReservationsRequest>(),
  });

  static std::vector<Kind> Kinds(std::vector<Kind> others) {
    std::vector<Kind> kinds;
    for (const workflow::ActionRow& row : workflow::ActionTable()) {
      kinds.push_back({row.request, [action = row.action](workflow::Caller caller,
                                                          const google::protobuf::Message& m) {
                         std::shared_ptr<google::protobuf::Message> body(m.New());
                         body->CopyFrom(m);
                         return workflow::MakeCommand(
                             action, std::move(caller),
                             std::shared_ptr<const google::protobuf::Message>(std::move(body)));
                       }});
    }
    kinds.insert(kinds.end(), others.begin(), others.end());
    return kinds;
  }
};

}  // namespace
}  // namespace comity

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const comity::Env* env = new comity::Env;
  if (size < 2) return 0;
  const comity::Kind& kind = env->kinds[data[0] % env->kinds.size()];
  const comity::workflow::Caller& caller = env->callers[data[1] % env->callers.size()];
  std::unique_ptr<google::protobuf::Message> m(kind.prototype->New());
  if (!m->ParseFromArray(data + 2, static_cast<int>(size - 2))) return 0;
  // Refusals are the expected outcome of most inputs: what is fuzzed is that none crashes.
  comity::rpc::CheckWellFormed(*m).IgnoreError();
  if (kind.command) {
    comity::workflow::ValidateCommand(kind.command(caller, *m), *env->directory, *env->profiles)
        .IgnoreError();
  }
  return 0;
}
