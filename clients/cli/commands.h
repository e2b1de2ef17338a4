#ifndef COMITY_CLIENTS_CLI_COMMANDS_H_
#define COMITY_CLIENTS_CLI_COMMANDS_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "clients/cli/args.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace comity::cli {

// Exit code for a command line that could not be understood (EX_USAGE).
inline constexpr int kUsageError = 64;

struct Context {
  std::shared_ptr<grpc::Channel> channel;
  std::string principal;
  bool json = false;
  bool id_only = false;  // print only the request's ID (for scripts)
  absl::Duration timeout = absl::Seconds(30);

  // A call context carrying the caller's identity and deadline.
  std::unique_ptr<grpc::ClientContext> NewCall() const;
};

// One command: its name, the shape of its arguments for the help, and the table of the options
// it takes, from which its arguments are parsed (any other option is refused before it runs).
struct CommandSpec {
  std::string group;  // "request", "audit", "directory", ...
  std::string verb;
  std::string usage;  // arguments and options, as the help shows them
  std::vector<Option> options;
  int (*run)(Context& ctx, const Args& args);
  // The RequestService method of the action table (services/workflow/action_table.h) it takes,
  // for the verbs that act on a request; a test holds the verbs against the table.
  std::string rpc = "";
};

// The options every lifecycle verb on a request takes, and `more`.
std::vector<Option> VerbOptions(std::vector<Option> more = {});

std::vector<CommandSpec> RequestCommands();
std::vector<CommandSpec> OtherCommands();
std::vector<CommandSpec> InboxCommands();
std::vector<CommandSpec> EvidenceCommands();

// Prints "error: message" for a usage problem and returns kUsageError.
int UsageError(const std::string& message);

}  // namespace comity::cli

#endif  // COMITY_CLIENTS_CLI_COMMANDS_H_
