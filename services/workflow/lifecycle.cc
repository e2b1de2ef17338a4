#include "services/workflow/lifecycle.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/workflow/errors.h"

namespace comity::workflow {
namespace {

using v1::Action;
using v1::Side;
using v1::State;

constexpr State kAny = v1::STATE_UNSPECIFIED;   // as `from`: see the gate
constexpr State kSame = v1::STATE_UNSPECIFIED;  // as `to`: unchanged
constexpr Side kReq = v1::REQUESTING;
constexpr Side kRcv = v1::RECEIVING;
constexpr Side kSys = v1::SYSTEM;

// The single source of truth for who may do what, in which state.
constexpr Transition kTransitions[] = {
    {v1::DRAFT, v1::UPDATE_DRAFT, kReq, v1::DRAFT, Gate::kAlways},
    {v1::DRAFT, v1::SUBMIT, kReq, v1::SUBMITTED, Gate::kAlways},
    {v1::SUBMITTED, v1::ACKNOWLEDGE, kRcv, v1::RECEIVED, Gate::kAlways},
    {v1::RECEIVED, v1::REQUEST_INFORMATION, kRcv, v1::AWAITING_INFORMATION, Gate::kAlways},
    {v1::AWAITING_INFORMATION, v1::SUPPLEMENT, kReq, v1::RECEIVED, Gate::kAlways},
    {v1::RECEIVED, v1::ACCEPT, kRcv, v1::IN_EXECUTION, Gate::kAlways},
    {v1::RECEIVED, v1::CONSULT, kRcv, v1::CONSULTATION, Gate::kAlways},
    {v1::IN_EXECUTION, v1::CONSULT, kRcv, v1::CONSULTATION, Gate::kAlways},
    {v1::CONSULTATION, v1::PROPOSE_CONDITIONS, kRcv, v1::CONDITIONS_PROPOSED, Gate::kAlways},
    {v1::CONDITIONS_PROPOSED, v1::ACCEPT_CONDITIONS, kReq, v1::IN_EXECUTION, Gate::kAlways},
    {v1::CONDITIONS_PROPOSED, v1::DECLINE_CONDITIONS, kReq, v1::WITHDRAWN, Gate::kAlways},
    {v1::CONSULTATION, v1::REFUSE, kRcv, v1::REFUSED, Gate::kAlways},
    {v1::RECEIVED, v1::REFUSE, kRcv, v1::REFUSED, Gate::kDirectRefusal},
    {v1::CONSULTATION, v1::POSTPONE, kRcv, v1::POSTPONED, Gate::kAlways},
    {v1::POSTPONED, v1::RESUME, kRcv, v1::IN_EXECUTION, Gate::kAlways},
    {v1::CONSULTATION, v1::ACCEPT, kRcv, v1::IN_EXECUTION, Gate::kAlways},
    {v1::IN_EXECUTION, v1::DELIVER, kRcv, v1::IN_EXECUTION, Gate::kPartial},
    {v1::IN_EXECUTION, v1::DELIVER, kRcv, v1::EXECUTED, Gate::kFinal},
    {v1::EXECUTED, v1::CONFIRM_RECEIPT, kReq, v1::CLOSED, Gate::kAlways},
    {v1::RECEIVED, v1::CONFIRM_PRESERVED, kRcv, v1::PRESERVED, Gate::kPreservation},
    {v1::IN_EXECUTION, v1::CONFIRM_PRESERVED, kRcv, v1::PRESERVED, Gate::kPreservation},
    {v1::PRESERVED, v1::EXTEND_PRESERVATION, kReq, v1::PRESERVED, Gate::kAlways},
    {v1::PRESERVED, v1::EXTEND_PRESERVATION, kRcv, v1::PRESERVED, Gate::kAlways},
    {v1::PRESERVED, v1::RELEASE_PRESERVATION, kReq, v1::CLOSED, Gate::kAlways},
    {v1::PRESERVED, v1::EXPIRE_PRESERVATION, kSys, v1::EXPIRED, Gate::kAlways},
    {kAny, v1::WITHDRAW, kReq, v1::WITHDRAWN, Gate::kLive},
    // Once a request has ended, only reads and the node's own entries join its trail.
    {kAny, v1::ADD_NOTE, kReq, kSame, Gate::kLive},
    {kAny, v1::ADD_NOTE, kRcv, kSame, Gate::kLive},
    // Evidence packages: made and uploaded while the request is executed; erased whenever the
    // package's own rules allow (actions.cc), a closed request's included.
    {v1::IN_EXECUTION, v1::CREATE_PACKAGE, kRcv, kSame, Gate::kAlways},
    {v1::IN_EXECUTION, v1::UPLOAD_ITEM, kRcv, kSame, Gate::kAlways},
    {kAny, v1::ERASE_PACKAGE, kReq, kSame, Gate::kEver},
    {kAny, v1::ERASE_PACKAGE, kRcv, kSame, Gate::kEver},
};

bool Matches(const Transition& t, State from, const StepFacts& facts) {
  switch (t.gate) {
    case Gate::kAlways:
      return t.from == from;
    case Gate::kPreservation:
      return t.from == from && facts.preservation;
    case Gate::kPartial:
      return t.from == from && !facts.final_delivery;
    case Gate::kFinal:
      return t.from == from && facts.final_delivery;
    case Gate::kDirectRefusal:
      return t.from == from && facts.direct_refusal;
    case Gate::kLive:
      return !IsTerminal(from);
    case Gate::kEver:
      return true;
  }
  return false;
}

}  // namespace

bool IsTerminal(State state) {
  return state == v1::REFUSED || state == v1::WITHDRAWN || state == v1::CLOSED ||
         state == v1::EXPIRED;
}

bool IsPreservationType(v1::RequestType type) { return type == v1::PRESERVATION; }

absl::StatusOr<State> NextState(State from, Action action, Side side, const StepFacts& facts) {
  for (const Transition& t : kTransitions) {
    if (t.action == action && t.side == side && Matches(t, from, facts)) {
      return t.to == kSame ? from : t.to;
    }
  }
  std::vector<std::string> allowed;
  for (const Transition& t : kTransitions) {
    if (t.side == side && Matches(t, from, facts) && t.action != v1::ADD_NOTE &&
        t.action != v1::ERASE_PACKAGE) {
      allowed.push_back(v1::Action_Name(t.action));
    }
  }
  std::string description =
      absl::StrCat(v1::Action_Name(action), " is not allowed for the ", v1::Side_Name(side),
                   " side in state ", v1::State_Name(from));
  if (action == v1::REFUSE && from == v1::RECEIVED) {
    absl::StrAppend(&description,
                    ": consult the requesting side first (CONSULT), unless every ground may be "
                    "used without consultation under the instrument");
  } else if (action == v1::CONFIRM_PRESERVED && !facts.preservation) {
    absl::StrAppend(&description, ": only preservation requests are preserved");
  } else {
    absl::StrAppend(&description,
                    "; allowed now: ", allowed.empty() ? "none" : absl::StrJoin(allowed, ", "));
  }
  return Precondition("STATE", v1::State_Name(from), description);
}

}  // namespace comity::workflow
