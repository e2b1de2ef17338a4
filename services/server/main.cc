// comityd: the Comity node. The composition root: flags, configuration, signals.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "google/protobuf/text_format.h"
#include "services/server/server.h"

ABSL_FLAG(std::string, config, "", "ServerConfig in text format (comityd.textproto)");
ABSL_FLAG(std::string, listen, "", "host:port to listen on (overrides the config)");
ABSL_FLAG(std::string, data_dir, "", "RocksDB data directory (overrides the config)");
ABSL_FLAG(std::string, profiles_dir, "", "instrument profiles directory (overrides the config)");
ABSL_FLAG(std::string, directory, "", "directory file (overrides the config)");
ABSL_FLAG(bool, insecure_dev, false,
          "development mode: plaintext, principal from a header; loopback addresses only");
ABSL_FLAG(std::string, metrics_address, "", "host:port serving /metrics (overrides the config)");
ABSL_FLAG(std::string, tls_cert_file, "",
          "the node's certificate chain, PEM (overrides the config)");
ABSL_FLAG(std::string, tls_key_file, "", "the node's private key, PEM (overrides the config)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "CA bundle client certificates must chain to (overrides the config)");
ABSL_FLAG(std::string, encryption_key_file, "",
          "file with the 64-hex-digit data key (overrides the config)");
ABSL_FLAG(std::string, log_key_file, "",
          "file with the checkpoint signing seed, 64 hex digits (overrides the config)");
ABSL_FLAG(std::string, log_origin, "", "the Merkle log's origin line (overrides the config)");
ABSL_FLAG(int32_t, max_batch, 0, "commands per commit group (overrides the config)");
ABSL_FLAG(int32_t, cache_mb, 0, "the store's memory budget in MiB (overrides the config)");
ABSL_FLAG(int32_t, evidence_reserve_mb, 0,
          "free disk evidence uploads leave, in MiB (overrides the config)");
ABSL_FLAG(int64_t, evidence_quota_mb, 0,
          "evidence each authority may hold, in MiB (overrides the config)");
ABSL_FLAG(int32_t, timer_period_ms, 0, "how often due timers are fired (overrides the config)");
ABSL_FLAG(bool, check_config, false,
          "check the configuration, profiles, directory and key files, open nothing for "
          "writing, and exit: 0 if the node would start, 1 with the problem otherwise");

ABSL_FLAG(bool, print_log_verifier_key, false,
          "print the verifier key of the log key (log_key_file, log_origin) and exit: what this "
          "node's peers list as its log_verifier_key, and what auditors pin");

namespace {

void Log(const std::string& line) {
  std::cerr << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())
            << " comityd " << line << std::endl;
}

// COMITY_ENCRYPTION_KEY, removed from the environment once read.
std::string EnvironmentKey() {
  const char* v = std::getenv("COMITY_ENCRYPTION_KEY");
  std::string key = v != nullptr ? v : "";
  unsetenv("COMITY_ENCRYPTION_KEY");
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  // Flags may be spelled with dashes (--check-config) or underscores (--check_config).
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) != 0) continue;
    for (char* c = argv[i] + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock detection on: a global
  // graph updated on every lock, by this node's own mutexes and gRPC's alike.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  comity::config::v1::ServerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<std::string> text = comity::ReadFile(path);
    if (!text.ok() || !google::protobuf::TextFormat::ParseFromString(*text, &config)) {
      Log(absl::StrCat("level=error msg=\"cannot read config ", path, "\""));
      return 2;
    }
  }
  if (auto v = absl::GetFlag(FLAGS_listen); !v.empty()) config.set_listen_address(v);
  if (auto v = absl::GetFlag(FLAGS_data_dir); !v.empty()) config.set_data_dir(v);
  if (auto v = absl::GetFlag(FLAGS_profiles_dir); !v.empty()) config.set_profiles_dir(v);
  if (auto v = absl::GetFlag(FLAGS_directory); !v.empty()) config.set_directory_file(v);
  if (absl::GetFlag(FLAGS_insecure_dev)) config.set_insecure_dev(true);
  if (auto v = absl::GetFlag(FLAGS_metrics_address); !v.empty()) config.set_metrics_address(v);
  if (auto v = absl::GetFlag(FLAGS_tls_cert_file); !v.empty())
    config.mutable_tls()->set_cert_file(v);
  if (auto v = absl::GetFlag(FLAGS_tls_key_file); !v.empty()) config.mutable_tls()->set_key_file(v);
  if (auto v = absl::GetFlag(FLAGS_tls_client_ca_file); !v.empty()) {
    config.mutable_tls()->set_client_ca_file(v);
  }
  if (auto v = absl::GetFlag(FLAGS_encryption_key_file); !v.empty()) {
    config.set_encryption_key_file(v);
  }
  if (auto v = absl::GetFlag(FLAGS_log_key_file); !v.empty()) config.set_log_key_file(v);
  if (auto v = absl::GetFlag(FLAGS_log_origin); !v.empty()) config.set_log_origin(v);
  if (auto v = absl::GetFlag(FLAGS_max_batch); v > 0) config.set_max_batch(v);
  if (auto v = absl::GetFlag(FLAGS_cache_mb); v != 0) config.set_cache_mb(v);
  if (auto v = absl::GetFlag(FLAGS_evidence_reserve_mb); v != 0) config.set_evidence_reserve_mb(v);
  if (auto v = absl::GetFlag(FLAGS_evidence_quota_mb); v != 0) config.set_evidence_quota_mb(v);
  if (auto v = absl::GetFlag(FLAGS_timer_period_ms); v > 0) config.set_timer_period_ms(v);
  if (absl::GetFlag(FLAGS_print_log_verifier_key)) {
    absl::StatusOr<std::string> key = comity::server::LogVerifierKey(config);
    if (!key.ok()) {
      std::fprintf(stderr, "comityd: %s\n", std::string(key.status().message()).c_str());
      return 1;
    }
    std::printf("%s\n", key->c_str());
    return 0;
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    absl::Status s = comity::server::Server::CheckConfig(config, EnvironmentKey());
    if (!s.ok()) {
      std::fprintf(stderr, "comityd: configuration problem: %s\n",
                   std::string(s.message()).c_str());
      return 1;
    }
    std::printf("configuration OK: %s, %s, %s\n", config.listen_address().c_str(),
                config.profiles_dir().c_str(), config.directory_file().c_str());
    return 0;
  }

  // Signals are taken synchronously by this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  comity::server::Server::Options options;
  options.key_from_environment = EnvironmentKey();
  options.security_log = &std::cerr;
  absl::StatusOr<std::unique_ptr<comity::server::Server>> server =
      comity::server::Server::Start(config, comity::Clock::Real(), options);
  if (!server.ok()) {
    Log(absl::StrCat("level=error msg=\"", server.status().message(), "\""));
    return 1;
  }
  Log(absl::StrCat("level=info msg=serving address=", config.listen_address(),
                   " port=", (*server)->port(), " data_dir=", config.data_dir(),
                   config.insecure_dev() ? " mode=insecure-dev" : ""));
  if (const comity::server::FederationNode* f = (*server)->federation(); f != nullptr) {
    Log(absl::StrCat("level=info msg=federated node=", config.federation().node(),
                     " peers=", f->peers().peers().size(), " federation_port=", f->port()));
  }
  std::printf("listening on port %d\n", (*server)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  Log(absl::StrCat("level=info msg=draining signal=", sig));
  (*server)->Shutdown(absl::Seconds(10));
  server->reset();
  Log("level=info msg=stopped");
  return 0;
}
