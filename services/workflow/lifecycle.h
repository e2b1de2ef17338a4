#ifndef COMITY_SERVICES_WORKFLOW_LIFECYCLE_H_
#define COMITY_SERVICES_WORKFLOW_LIFECYCLE_H_

// The request lifecycle (DESIGN.md §4) as one table. Pure: no storage, no clock.

#include "absl/status/statusor.h"
#include "comity/v1/resources.pb.h"

namespace comity::workflow {

// What else a row needs to apply.
enum class Gate {
  kAlways,
  kPreservation,   // only preservation requests
  kPartial,        // a partial delivery
  kFinal,          // a final delivery
  kDirectRefusal,  // a refusal on grounds the profile allows without consultation
  kLive,           // any non-terminal state (`from` is STATE_UNSPECIFIED); `to` unspecified:
                   // unchanged
  kEver,           // any state, terminal ones too (`from` is STATE_UNSPECIFIED)
};

struct Transition {
  v1::State from;
  v1::Action action;
  v1::Side side;
  v1::State to;  // STATE_UNSPECIFIED: the state does not change
  Gate gate;
};

// The facts about a command that decide which row applies.
struct StepFacts {
  bool preservation = false;    // the request is of a preservation type
  bool final_delivery = false;  // DELIVER: the delivery is final
  bool direct_refusal = false;  // REFUSE: every ground may be used without consultation
};

// True for REFUSED, WITHDRAWN, CLOSED and EXPIRED.
bool IsTerminal(v1::State state);

// True for request types that are preservations.
bool IsPreservationType(v1::RequestType type);

// Returns the state after `action` taken by `side` in `from`, or FAILED_PRECONDITION saying
// which actions that side may take in that state.
absl::StatusOr<v1::State> NextState(v1::State from, v1::Action action, v1::Side side,
                                    const StepFacts& facts);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_LIFECYCLE_H_
