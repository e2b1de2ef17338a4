#include "services/workflow/lifecycle.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/workflow/action_table.h"

namespace comity::workflow {
namespace {

using v1::Action;
using v1::Side;
using v1::State;

// The expectation, written independently of the table: DESIGN.md §4 as prose-like rules.
// Returns the next state, or STATE_UNSPECIFIED when the step must be refused.
State Expected(State s, Action a, Side side, const StepFacts& f) {
  const bool terminal =
      s == v1::REFUSED || s == v1::WITHDRAWN || s == v1::CLOSED || s == v1::EXPIRED;
  if (a == v1::ADD_NOTE)
    return (side == v1::REQUESTING || side == v1::RECEIVING) && !terminal ? s
                                                                          : v1::STATE_UNSPECIFIED;
  // Evidence: packages are made and filled while the request is executed, and erased in any
  // state by the side the package belongs to (actions.cc checks which).
  if (a == v1::CREATE_PACKAGE || a == v1::UPLOAD_ITEM)
    return side == v1::RECEIVING && s == v1::IN_EXECUTION ? s : v1::STATE_UNSPECIFIED;
  if (a == v1::ERASE_PACKAGE)
    return side == v1::REQUESTING || side == v1::RECEIVING ? s : v1::STATE_UNSPECIFIED;
  if (a == v1::WITHDRAW)
    return (side == v1::REQUESTING && !terminal) ? v1::WITHDRAWN : v1::STATE_UNSPECIFIED;
  if (side == v1::REQUESTING) {
    if (s == v1::DRAFT && a == v1::UPDATE_DRAFT) return v1::DRAFT;
    if (s == v1::DRAFT && a == v1::SUBMIT) return v1::SUBMITTED;
    if (s == v1::AWAITING_INFORMATION && a == v1::SUPPLEMENT) return v1::RECEIVED;
    if (s == v1::CONDITIONS_PROPOSED && a == v1::ACCEPT_CONDITIONS) return v1::IN_EXECUTION;
    if (s == v1::CONDITIONS_PROPOSED && a == v1::DECLINE_CONDITIONS) return v1::WITHDRAWN;
    if (s == v1::EXECUTED && a == v1::CONFIRM_RECEIPT) return v1::CLOSED;
    if (s == v1::PRESERVED && a == v1::RELEASE_PRESERVATION) return v1::CLOSED;
    if (s == v1::PRESERVED && a == v1::EXTEND_PRESERVATION) return v1::PRESERVED;
    return v1::STATE_UNSPECIFIED;
  }
  if (side == v1::RECEIVING) {
    switch (a) {
      case v1::ACKNOWLEDGE:
        return s == v1::SUBMITTED ? v1::RECEIVED : v1::STATE_UNSPECIFIED;
      case v1::REQUEST_INFORMATION:
        return s == v1::RECEIVED ? v1::AWAITING_INFORMATION : v1::STATE_UNSPECIFIED;
      case v1::ACCEPT:
        return (s == v1::RECEIVED || s == v1::CONSULTATION) ? v1::IN_EXECUTION
                                                            : v1::STATE_UNSPECIFIED;
      case v1::CONSULT:
        return (s == v1::RECEIVED || s == v1::IN_EXECUTION) ? v1::CONSULTATION
                                                            : v1::STATE_UNSPECIFIED;
      case v1::PROPOSE_CONDITIONS:
        return s == v1::CONSULTATION ? v1::CONDITIONS_PROPOSED : v1::STATE_UNSPECIFIED;
      case v1::REFUSE:
        if (s == v1::CONSULTATION) return v1::REFUSED;
        return (s == v1::RECEIVED && f.direct_refusal) ? v1::REFUSED : v1::STATE_UNSPECIFIED;
      case v1::POSTPONE:
        return s == v1::CONSULTATION ? v1::POSTPONED : v1::STATE_UNSPECIFIED;
      case v1::RESUME:
        return s == v1::POSTPONED ? v1::IN_EXECUTION : v1::STATE_UNSPECIFIED;
      case v1::DELIVER:
        if (s != v1::IN_EXECUTION) return v1::STATE_UNSPECIFIED;
        return f.final_delivery ? v1::EXECUTED : v1::IN_EXECUTION;
      case v1::CONFIRM_PRESERVED:
        return ((s == v1::RECEIVED || s == v1::IN_EXECUTION) && f.preservation)
                   ? v1::PRESERVED
                   : v1::STATE_UNSPECIFIED;
      case v1::EXTEND_PRESERVATION:
        return s == v1::PRESERVED ? v1::PRESERVED : v1::STATE_UNSPECIFIED;
      default:
        return v1::STATE_UNSPECIFIED;
    }
  }
  if (side == v1::SYSTEM && a == v1::EXPIRE_PRESERVATION && s == v1::PRESERVED) return v1::EXPIRED;
  return v1::STATE_UNSPECIFIED;
}

TEST(LifecycleTest, EveryCellMatchesTheIndependentExpectation) {
  int allowed = 0, cells = 0;
  for (int s = v1::State_MIN; s <= v1::State_MAX; ++s) {
    for (int a = v1::Action_MIN; a <= v1::Action_MAX; ++a) {
      for (int side = v1::Side_MIN; side <= v1::Side_MAX; ++side) {
        for (int bits = 0; bits < 8; ++bits) {
          StepFacts f{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
          const State state = static_cast<State>(s);
          const State want =
              state == v1::STATE_UNSPECIFIED
                  ? v1::STATE_UNSPECIFIED
                  : Expected(state, static_cast<Action>(a), static_cast<Side>(side), f);
          absl::StatusOr<State> got =
              NextState(state, static_cast<Action>(a), static_cast<Side>(side), f);
          const std::string cell = absl::StrCat(v1::State_Name(state), " ", v1::Action_Name(a), " ",
                                                v1::Side_Name(side), " facts=", bits);
          ++cells;
          if (state == v1::STATE_UNSPECIFIED) continue;  // no request is ever in it
          if (want == v1::STATE_UNSPECIFIED) {
            EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition) << cell;
          } else {
            ++allowed;
            ASSERT_TRUE(got.ok()) << cell << ": " << got.status();
            EXPECT_EQ(*got, want) << cell;
          }
        }
      }
    }
  }
  EXPECT_GT(allowed, 100);
  EXPECT_EQ(cells, (v1::State_MAX + 1) * (v1::Action_MAX + 1) * (v1::Side_MAX + 1) * 8);
}

// The action table says which sides take each action; the lifecycle lets exactly those take it,
// in some state.
TEST(LifecycleTest, TheSidesOfTheActionTableAreTheLifecycles) {
  ASSERT_EQ(ActionTable().size(), 23u);
  for (const ActionRow& row : ActionTable()) {
    if (row.action == v1::CREATE) continue;  // a draft is made, not stepped
    for (Side side : {v1::REQUESTING, v1::RECEIVING}) {
      bool somewhere = false;
      for (int s = v1::State_MIN; s <= v1::State_MAX; ++s) {
        for (int bits = 0; bits < 8; ++bits) {
          StepFacts f{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
          somewhere = somewhere || NextState(static_cast<State>(s), row.action, side, f).ok();
        }
      }
      EXPECT_EQ(somewhere, row.TakenBy(side))
          << v1::Action_Name(row.action) << " " << v1::Side_Name(side);
    }
  }
}

TEST(LifecycleTest, RefusalMessageSaysToConsultFirst) {
  auto got = NextState(v1::RECEIVED, v1::REFUSE, v1::RECEIVING, StepFacts{});
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(got.status().message().find("CONSULT"), std::string::npos) << got.status();
}

TEST(LifecycleTest, TerminalStates) {
  for (State s : {v1::REFUSED, v1::WITHDRAWN, v1::CLOSED, v1::EXPIRED}) EXPECT_TRUE(IsTerminal(s));
  for (State s : {v1::DRAFT, v1::EXECUTED, v1::PRESERVED, v1::POSTPONED})
    EXPECT_FALSE(IsTerminal(s));
}

}  // namespace
}  // namespace comity::workflow
