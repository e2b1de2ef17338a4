// comity: the command-line client.
//
//   comity [--addr HOST:PORT] [--as PRINCIPAL] [--json] GROUP VERB [ARGS] [OPTIONS]
//
// The global options are Abseil flags, parsed up to the command; each command's options come from
// its table (CommandSpec::options), and any other is refused.
//
// Exit status: 0 on success, the gRPC status code on an RPC error (e.g. 5 NOT_FOUND,
// 9 FAILED_PRECONDITION), 64 for a command line that could not be understood.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "common/files.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

// The global options, before the command. Each also has an environment variable; the command line
// wins.
ABSL_FLAG(std::string, addr, "127.0.0.1:7700", "comityd's address ($COMITY_ADDR)");
ABSL_FLAG(std::string, as, "",
          "the caller: with a certificate for it in $COMITY_CERTS, ./deploy/dev/certs or "
          "~/.config/comity/certs, mutual TLS with it; otherwise development mode, naming the "
          "caller in a header ($COMITY_PRINCIPAL)");
ABSL_FLAG(std::string, cert, "", "client certificate, PEM, for mutual TLS ($COMITY_CERT)");
ABSL_FLAG(std::string, key, "", "its private key, PEM ($COMITY_KEY)");
ABSL_FLAG(std::string, ca, "", "the CA the server's certificate chains to, PEM ($COMITY_CA)");
ABSL_FLAG(bool, insecure, false,
          "development mode even if a certificate exists ($COMITY_INSECURE=1)");
ABSL_FLAG(bool, json, false, "print responses as JSON");
ABSL_FLAG(bool, id, false, "print only the request's ID (for scripts)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "how long a call may take");

namespace comity::cli {

namespace {

const char* Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// For --as PRINCIPAL without --cert: the principal's certificate from a certificates folder
// ($COMITY_CERTS, else ./deploy/dev/certs, else ~/.config/comity/certs), named
// <authority id>-<user>.pem / .key beside ca.pem, as deploy/dev/make-certs.sh writes them.
// Leaves the paths empty (development mode) if there is none.
void FindCertificate(const std::string& principal, std::string* cert, std::string* key,
                     std::string* ca) {
  const size_t scheme = principal.find("://");
  if (scheme == std::string::npos) return;
  const size_t slash = principal.find('/', scheme + 3);
  if (slash == std::string::npos) return;
  std::string stem = principal.substr(slash + 1);  // <authority id>/<user>
  std::replace(stem.begin(), stem.end(), '/', '-');
  std::vector<std::string> dirs;
  if (const char* d = std::getenv("COMITY_CERTS"); d != nullptr && *d != '\0') dirs.push_back(d);
  dirs.push_back("deploy/dev/certs");
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    dirs.push_back(absl::StrCat(home, "/.config/comity/certs"));
  }
  for (const std::string& dir : dirs) {
    const std::string c = absl::StrCat(dir, "/", stem, ".pem");
    if (std::filesystem::exists(c) && std::filesystem::exists(dir + "/ca.pem")) {
      *cert = c;
      *key = absl::StrCat(dir, "/", stem, ".key");
      *ca = dir + "/ca.pem";
      return;
    }
  }
}

// Mutual TLS when a certificate is given, plaintext (development mode) otherwise.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const std::string& cert,
                                                                      const std::string& key,
                                                                      const std::string& ca) {
  if (cert.empty() && key.empty() && ca.empty()) return grpc::InsecureChannelCredentials();
  if (cert.empty() || key.empty() || ca.empty()) {
    return absl::InvalidArgumentError("mutual TLS needs all of --cert, --key and --ca");
  }
  grpc::SslCredentialsOptions options;
  for (auto [path, out] :
       {std::pair{&cert, &options.pem_cert_chain}, std::pair{&key, &options.pem_private_key},
        std::pair{&ca, &options.pem_root_certs}}) {
    absl::StatusOr<std::string> pem = ReadFile(*path);
    if (!pem.ok()) return pem.status();
    *out = *std::move(pem);
  }
  return grpc::SslCredentials(options);
}

// The global options, with how their values are shown.
constexpr std::pair<const char*, const char*> kGlobalOptions[] = {
    {"addr", "HOST:PORT"}, {"as", "PRINCIPAL"}, {"cert", "PEM"}, {"key", "PEM"},     {"ca", "PEM"},
    {"insecure", ""},      {"json", ""},        {"id", ""},      {"timeout", "30s"},
};

// "  --name VALUE" padded to `width`, then `help`.
void PrintOption(const std::string& name, const std::string& value, const std::string& help) {
  std::string head = absl::StrCat("  --", name, value.empty() ? "" : " ", value);
  if (head.size() < 28) head.resize(28, ' ');
  std::cout << head << "  " << help << "\n";
}

void Help(const std::vector<CommandSpec>& commands) {
  std::cout << "usage: comity [global options] COMMAND [ARGUMENTS] [OPTIONS]\n\n"
               "global options (before the command):\n";
  for (const auto& [name, value] : kGlobalOptions) {
    PrintOption(name, value, absl::FindCommandLineFlag(name)->Help());
  }
  std::cout
      << "\nExit status: 0, the gRPC status code of a failed call (e.g. 5 NOT_FOUND), or 64 for\n"
         "a command line that could not be understood. comity COMMAND --help shows a "
         "command's options.\n\ncommands:\n";
  for (const CommandSpec& c : commands) {
    std::cout << "  comity " << c.group << (c.verb.empty() ? "" : " ") << c.verb << " " << c.usage
              << "\n";
  }
}

void CommandHelp(const CommandSpec& c) {
  std::cout << "usage: comity [global options] " << c.group << (c.verb.empty() ? "" : " ") << c.verb
            << " " << c.usage << "\n";
  if (!c.options.empty()) std::cout << "\noptions:\n";
  for (const Option& o : c.options) PrintOption(o.name, o.value, o.help);
  std::cout << "\n(comity --help lists the global options)\n";
}

// Parses the global options in argv[1..] up to the command into the flags above; the index of the
// command, or -1 after printing the problem (*exit_code: what to exit with).
int ParseGlobalOptions(int argc, char** argv, const std::vector<CommandSpec>& commands,
                       int* exit_code) {
  for (auto [flag, env] :
       {std::pair{&FLAGS_addr, "COMITY_ADDR"}, std::pair{&FLAGS_as, "COMITY_PRINCIPAL"},
        std::pair{&FLAGS_cert, "COMITY_CERT"}, std::pair{&FLAGS_key, "COMITY_KEY"},
        std::pair{&FLAGS_ca, "COMITY_CA"}}) {
    if (const char* v = Env(env, nullptr); v != nullptr) absl::SetFlag(flag, v);
  }
  if (std::string(Env("COMITY_INSECURE", "")) == "1") absl::SetFlag(&FLAGS_insecure, true);
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Help(commands);
      *exit_code = 0;
      return -1;
    }
    if (!absl::StartsWith(arg, "--")) break;
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const char* value_name = nullptr;
    for (const auto& [n, v] : kGlobalOptions) {
      if (name == n) value_name = v;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (value_name == nullptr || flag == nullptr) {
      *exit_code = UsageError(absl::StrCat("unknown global option --", name));
      return -1;
    }
    if (eq == std::string::npos) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *exit_code = UsageError(absl::StrCat("--", name, " needs a value (", value_name, ")"));
        return -1;
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      *exit_code = UsageError(absl::StrCat("--", name, ": ", error));
      return -1;
    }
  }
  return i;
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<CommandSpec> commands = RequestCommands();
  for (CommandSpec& c : OtherCommands()) commands.push_back(std::move(c));
  for (CommandSpec& c : InboxCommands()) commands.push_back(std::move(c));
  for (CommandSpec& c : EvidenceCommands()) commands.push_back(std::move(c));

  int exit_code = 0;
  int i = ParseGlobalOptions(argc, argv, commands, &exit_code);
  if (i < 0) return exit_code;
  Context ctx;
  const std::string addr = absl::GetFlag(FLAGS_addr);
  ctx.principal = absl::GetFlag(FLAGS_as);
  ctx.json = absl::GetFlag(FLAGS_json);
  ctx.id_only = absl::GetFlag(FLAGS_id);
  ctx.timeout = absl::GetFlag(FLAGS_timeout);
  std::string cert = absl::GetFlag(FLAGS_cert), key = absl::GetFlag(FLAGS_key),
              ca = absl::GetFlag(FLAGS_ca);
  const bool insecure = absl::GetFlag(FLAGS_insecure);
  if (i >= argc || std::string(argv[i]) == "help") {
    Help(commands);
    return i >= argc ? kUsageError : 0;
  }
  const std::string group = argv[i++];
  const std::string verb = i < argc ? argv[i] : "";
  auto asks_help = [argc, argv](int from) {
    for (int k = from; k < argc; ++k) {
      if (std::strcmp(argv[k], "--help") == 0 || std::strcmp(argv[k], "-h") == 0) return true;
    }
    return false;
  };
  for (const CommandSpec& c : commands) {
    if (c.group != group || (!c.verb.empty() && c.verb != verb)) continue;
    if (!c.verb.empty()) ++i;
    if (asks_help(i)) {
      CommandHelp(c);
      return 0;
    }
    absl::StatusOr<Args> args =
        Args::Parse(std::vector<std::string>(argv + i, argv + argc), c.options);
    if (!args.ok()) return UsageError(std::string(args.status().message()));
    if (!insecure && cert.empty() && key.empty() && ca.empty() && !ctx.principal.empty()) {
      FindCertificate(ctx.principal, &cert, &key, &ca);
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        Credentials(cert, key, ca);
    if (!credentials.ok()) return UsageError(std::string(credentials.status().message()));
    if (!cert.empty()) ctx.principal.clear();  // the certificate names the caller
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(8 << 20);  // an evidence chunk and its framing
    ctx.channel = grpc::CreateCustomChannel(addr, *credentials, channel_args);
    return c.run(ctx, *args);
  }
  // A group asked for help without a verb: its commands.
  if (asks_help(i)) {
    bool any = false;
    for (const CommandSpec& c : commands) {
      if (c.group != group) continue;
      std::cout << "  comity " << c.group << " " << c.verb << " " << c.usage << "\n";
      any = true;
    }
    if (any) return 0;
  }
  return UsageError(absl::StrCat("unknown command: ", group, " ", verb));
}

}  // namespace comity::cli

int main(int argc, char** argv) { return comity::cli::Main(argc, argv); }
