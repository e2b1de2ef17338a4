// comity: the command-line client.
//
//   comity [--addr HOST:PORT] [--as PRINCIPAL] [--json] GROUP VERB [ARGS]
//
// Exit status: 0 on success, the gRPC status code on an RPC error (e.g. 5 NOT_FOUND,
// 9 FAILED_PRECONDITION), 64 for a command line that could not be understood.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli/commands.h"
#include "common/files.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace comity::cli {

std::unique_ptr<grpc::ClientContext> Context::NewCall() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!principal.empty()) ctx->AddMetadata("x-comity-principal", principal);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

int UsageError(const std::string& message) {
  std::cerr << "error: " << message << "\n(see comity help)\n";
  return kUsageError;
}

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

void Help(const std::vector<CommandSpec>& commands) {
  std::cout
      << "usage: comity [--addr HOST:PORT] [--cert PEM --key PEM --ca PEM | --as PRINCIPAL]\n"
         "              [--json | --id] [--timeout 30s] COMMAND\n\n"
         "  --cert/--key/--ca ($COMITY_CERT, $COMITY_KEY, $COMITY_CA): mutual TLS; the\n"
         "  certificate names the caller. --as PRINCIPAL alone uses that principal's certificate\n"
         "  from $COMITY_CERTS, ./deploy/dev/certs or ~/.config/comity/certs if there is one,\n"
         "  and otherwise names the caller in development mode (plaintext on loopback).\n"
         "  --insecure ($COMITY_INSECURE=1): development mode even if a certificate exists.\n"
         "  --json prints the response as JSON; --id prints only the request's ID.\n"
         "  --addr defaults to $COMITY_ADDR or 127.0.0.1:7700; --as to $COMITY_PRINCIPAL.\n"
         "  Exit status: 0, the gRPC status code of a failed call, or 64 for bad usage.\n\n"
         "commands:\n";
  for (const CommandSpec& c : commands) {
    std::cout << "  comity " << c.group << (c.verb.empty() ? "" : " ") << c.verb << " " << c.usage
              << "\n";
  }
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<CommandSpec> commands = RequestCommands();
  for (CommandSpec& c : OtherCommands()) commands.push_back(std::move(c));
  for (CommandSpec& c : InboxCommands()) commands.push_back(std::move(c));

  Context ctx;
  std::string addr = Env("COMITY_ADDR", "127.0.0.1:7700");
  ctx.principal = Env("COMITY_PRINCIPAL", "");
  std::string cert = Env("COMITY_CERT", ""), key = Env("COMITY_KEY", ""), ca = Env("COMITY_CA", "");
  bool insecure = std::string(Env("COMITY_INSECURE", "")) == "1";
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json") {
      ctx.json = true;
    } else if (flag == "--insecure") {
      insecure = true;
    } else if (flag == "--id") {
      ctx.id_only = true;
    } else if ((flag == "--addr" || flag == "--as" || flag == "--timeout" || flag == "--cert" ||
                flag == "--key" || flag == "--ca") &&
               i + 1 < argc) {
      const std::string value = argv[++i];
      if (flag == "--addr") addr = value;
      if (flag == "--as") ctx.principal = value;
      if (flag == "--cert") cert = value;
      if (flag == "--key") key = value;
      if (flag == "--ca") ca = value;
      if (flag == "--timeout" && !absl::ParseDuration(value, &ctx.timeout)) {
        return UsageError("--timeout takes a duration such as 30s");
      }
    } else if (flag == "--help" || flag == "-h") {
      Help(commands);
      return 0;
    } else {
      return UsageError(absl::StrCat("unknown option ", flag));
    }
  }
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
      std::cout << "usage: comity [global options] " << c.group << (c.verb.empty() ? "" : " ")
                << c.verb << " " << c.usage << "\n(comity --help lists the global options)\n";
      return 0;
    }
    absl::StatusOr<Args> args =
        Args::Parse(std::vector<std::string>(argv + i, argv + argc), c.switches);
    if (!args.ok()) return UsageError(std::string(args.status().message()));
    if (!insecure && cert.empty() && key.empty() && ca.empty() && !ctx.principal.empty()) {
      FindCertificate(ctx.principal, &cert, &key, &ca);
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        Credentials(cert, key, ca);
    if (!credentials.ok()) return UsageError(std::string(credentials.status().message()));
    if (!cert.empty()) ctx.principal.clear();  // the certificate names the caller
    ctx.channel = grpc::CreateChannel(addr, *credentials);
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
