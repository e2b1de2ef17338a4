#include "services/workflow/engine_group.h"

#include "services/workflow/timeutil.h"

namespace comity::workflow::engine_internal {

void StartEntry(const std::string& trail, uint64_t size, const std::string& head, absl::Time now,
                const Command& cmd, v1::Role role, v1::Side side, v1::AuditEntry& entry) {
  entry.set_request(trail);
  entry.set_sequence(size + 1);
  entry.set_previous_hash(size == 0 ? audit::GenesisHash() : head);
  *entry.mutable_time() = ToProto(now);
  v1::Actor* actor = entry.mutable_actor();
  actor->set_principal(cmd.caller.principal);
  actor->set_authority(cmd.caller.authority);
  actor->set_role(role);
  actor->set_side(side);
  entry.set_action(cmd.action);
  entry.set_request_id(cmd.request_id);
}

}  // namespace comity::workflow::engine_internal
