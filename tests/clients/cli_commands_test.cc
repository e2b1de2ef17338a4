// The CLI's lifecycle verbs against the server's action table: each action a caller takes on a
// request has exactly one verb, and every verb that names an RPC names one of the table's.

#include <map>
#include <string>

#include "clients/cli/commands.h"
#include "gtest/gtest.h"
#include "services/workflow/action_table.h"

namespace comity::cli {
namespace {

TEST(CliCommandsTest, EveryActionOfTheTableHasOneVerb) {
  std::map<std::string, int> verbs;  // RPC -> verbs taking it
  for (const auto& commands : {RequestCommands(), OtherCommands(), InboxCommands()}) {
    for (const CommandSpec& c : commands) {
      if (!c.rpc.empty()) ++verbs[c.rpc];
    }
  }
  std::map<std::string, int> table;
  for (const workflow::ActionRow& row : workflow::ActionTable()) {
    if (row.service == "comity.v1.RequestService") table[row.method] = 1;
  }
  EXPECT_EQ(verbs, table);
}

}  // namespace
}  // namespace comity::cli
