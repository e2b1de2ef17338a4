#include "services/server/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/text.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server_builder.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "services/evidence/crypto.h"

namespace comity::server {

bool IsLoopbackAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

// The storage engine's figures and the data directory's size, read at each scrape of /metrics.
class StoreMetrics : public prometheus::Collectable {
 public:
  StoreMetrics(const storage::Store* store, std::string data_dir)
      : store_(store), data_dir_(std::move(data_dir)) {}

  // From now on a scrape reads nothing of the store (it is about to close).
  void Close() {
    absl::MutexLock lock(&mu_);
    store_ = nullptr;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    if (store_ == nullptr) return {};
    const storage::StoreStats stats = store_->Stats();
    std::error_code ec;
    uint64_t bytes = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(data_dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code size_ec;
      if (it->is_regular_file(size_ec)) {
        const uintmax_t size = it->file_size(size_ec);
        if (!size_ec) bytes += size;
      }
    }
    auto one = [](const char* name, const char* help, prometheus::MetricType type, double value) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = type;
      prometheus::ClientMetric m;
      if (type == prometheus::MetricType::Counter) {
        m.counter.value = value;
      } else {
        m.gauge.value = value;
      }
      f.metric.push_back(std::move(m));
      return f;
    };
    return {
        one("comity_store_pending_compaction_bytes",
            "RocksDB's estimate of the bytes compaction still has to rewrite",
            prometheus::MetricType::Gauge, static_cast<double>(stats.pending_compaction_bytes)),
        one("comity_store_write_stalls_total",
            "Writes RocksDB slowed down or stopped since the node started",
            prometheus::MetricType::Counter, static_cast<double>(stats.write_stalls)),
        one("comity_store_writes_stopped", "1 while RocksDB has writes stopped",
            prometheus::MetricType::Gauge, stats.writes_stopped ? 1 : 0),
        one("comity_data_dir_bytes", "Bytes of the files in the data directory",
            prometheus::MetricType::Gauge, static_cast<double>(bytes)),
        one("comity_store_background_jobs",
            "RocksDB flushes due or running, and compactions running",
            prometheus::MetricType::Gauge, static_cast<double>(stats.background_jobs)),
        one("comity_store_cache_capacity_bytes",
            "The store's memory budget (cache_mb): block cache with the memtables charged to it",
            prometheus::MetricType::Gauge, static_cast<double>(stats.cache_capacity_bytes)),
        one("comity_store_cache_usage_bytes",
            "Bytes charged to the budget now: data, index and filter blocks and memtables",
            prometheus::MetricType::Gauge, static_cast<double>(stats.cache_usage_bytes)),
        one("comity_store_memtable_bytes", "The memtables' share of the budget's usage",
            prometheus::MetricType::Gauge, static_cast<double>(stats.memtable_bytes)),
        one("comity_store_table_reader_bytes",
            "Memory RocksDB's open tables hold outside the budget", prometheus::MetricType::Gauge,
            static_cast<double>(stats.table_reader_bytes)),
    };
  }

 private:
  mutable absl::Mutex mu_;
  const storage::Store* store_ ABSL_GUARDED_BY(mu_);
  const std::string data_dir_;
};

namespace {

// Plaintext in development mode; otherwise mutual TLS with certificates re-read from their files
// (rotation without restart) and client certificates required and verified.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const config::v1::ServerConfig& config) {
  if (config.insecure_dev()) return grpc::InsecureServerCredentials();
  const config::v1::TlsConfig& tls = config.tls();
  for (const auto& [field, path] :
       {std::pair<const char*, const std::string*>{"tls.cert_file", &tls.cert_file()},
        {"tls.key_file", &tls.key_file()},
        {"tls.client_ca_file", &tls.client_ca_file()}}) {
    if (path->empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          field,
          " is not set: the node serves only over mutual TLS (or, for development on a "
          "loopback address, with insecure_dev)"));
    }
    if (absl::Status readable = ReadFile(*path).status(); !readable.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(field, ": ", readable.message()));
    }
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.client_ca_file(),
      tls.refresh_seconds() > 0 ? tls.refresh_seconds() : 60);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::string> LoadEncryptionKey(const config::v1::ServerConfig& config,
                                              const std::string& key_from_environment) {
  std::string hex = key_from_environment;
  const std::string& path = config.encryption_key_file();
  if (hex.empty() && !path.empty()) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("encryption_key_file ", path, " not found"));
    }
    if ((st.st_mode & 077) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("encryption_key_file ", path, " is readable by others; chmod 600 it"));
    }
    std::error_code ec;
    const auto key_path = std::filesystem::weakly_canonical(path, ec);
    const auto data_path = std::filesystem::weakly_canonical(config.data_dir(), ec);
    if (absl::StartsWith(key_path.string(), data_path.string() + "/")) {
      return absl::FailedPreconditionError(
          "encryption_key_file must not be inside the data directory");
    }
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) return text.status();
    hex = std::string(absl::StripAsciiWhitespace(*text));
  }
  if (hex.empty()) return std::string();
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return absl::InvalidArgumentError("the encryption key must be 64 hex digits (AES-256)");
  }
  return absl::HexStringToBytes(hex);
}

constexpr int kMaxMessageBytes = (4 << 20) + (64 << 10);
constexpr char kEvidenceKeyLabel[] = "comity evidence key wrap v1";
constexpr char kEvidenceKeyMeta[] = "evidence_key";

// The key that wraps evidence packages' data keys: derived from the encryption key when the data
// are encrypted at rest; otherwise a random one kept in the store (evidence is then as safe as
// the disk, like the rest of the data, and erasure still destroys each package's own key).
absl::StatusOr<std::string> EvidenceKey(storage::Store& store, const std::string& encryption_key) {
  if (!encryption_key.empty()) return evidence::DeriveKey(encryption_key, kEvidenceKeyLabel);
  absl::StatusOr<std::string> kept = store.Get(storage::Column::kMeta, kEvidenceKeyMeta);
  if (kept.ok()) return kept;
  if (!absl::IsNotFound(kept.status())) return kept.status();
  absl::StatusOr<std::string> key = evidence::NewKey();
  if (!key.ok()) return key.status();
  storage::WriteSet w;
  w.Put(storage::Column::kMeta, kEvidenceKeyMeta, *key);
  if (absl::Status s = store.Commit(w); !s.ok()) return s;
  return key;
}

// The Ed25519 key signing the log's checkpoints, named by the log's origin; null if none is set.
static absl::StatusOr<std::unique_ptr<audit::NoteSigner>> LoadLogSigner(
    const config::v1::ServerConfig& config) {
  if (config.log_key_file().empty()) return std::unique_ptr<audit::NoteSigner>();
  struct stat st;
  if (stat(config.log_key_file().c_str(), &st) != 0 || (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "log_key_file ", config.log_key_file(), " is missing or readable by others (chmod 600)"));
  }
  absl::StatusOr<std::string> text = ReadFile(config.log_key_file());
  if (!text.ok()) return text.status();
  const std::string hex(absl::StripAsciiWhitespace(*text));
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return absl::InvalidArgumentError("log_key_file must hold 64 hex digits (an Ed25519 seed)");
  }
  if (config.log_origin().empty()) {
    return absl::InvalidArgumentError("log_origin is required with log_key_file");
  }
  return audit::NoteSigner::FromSeed(config.log_origin(), absl::HexStringToBytes(hex));
}

absl::StatusOr<std::string> LogVerifierKey(const config::v1::ServerConfig& config) {
  absl::StatusOr<std::unique_ptr<audit::NoteSigner>> signer = LoadLogSigner(config);
  if (!signer.ok()) return signer.status();
  if (*signer == nullptr) return absl::FailedPreconditionError("log_key_file is not set");
  return (*signer)->VerifierKey();
}

// What every start needs of the configuration itself, before any file is read.
static absl::Status CheckSettings(const config::v1::ServerConfig& config) {
  if (config.listen_address().empty() || config.data_dir().empty() ||
      config.profiles_dir().empty() || config.directory_file().empty()) {
    return absl::FailedPreconditionError(
        "the configuration needs listen_address, data_dir, profiles_dir and directory_file");
  }
  if (config.insecure_dev() && !IsLoopbackAddress(config.listen_address())) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to serve without TLS on ", config.listen_address(),
                     ": development mode is allowed only on a loopback address such as 127.0.0.1"));
  }
  if (config.evidence_reserve_mb() < 0 || config.evidence_quota_mb() < 0) {
    return absl::InvalidArgumentError(
        "evidence_reserve_mb and evidence_quota_mb are sizes in MiB: 0 or more");
  }
  if (config.cache_mb() != 0 && config.cache_mb() < 16) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cache_mb is ", config.cache_mb(), "; the store's memory budget must be at least 16 MiB"));
  }
  return absl::OkStatus();
}

absl::Status Server::CheckConfig(const config::v1::ServerConfig& config,
                                 const std::string& key_from_environment) {
  if (absl::Status s = CheckSettings(config); !s.ok()) return s;
  if (absl::Status s = Credentials(config).status(); !s.ok()) return s;
  if (absl::Status s = workflow::ProfileSet::LoadDir(config.profiles_dir()).status(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("profiles_dir: ", s.message()));
  }
  absl::StatusOr<std::unique_ptr<workflow::Directory>> directory =
      workflow::Directory::LoadFile(config.directory_file());
  if (!directory.ok()) {
    return absl::Status(directory.status().code(),
                        absl::StrCat("directory_file: ", directory.status().message()));
  }
  if (absl::Status s = LoadEncryptionKey(config, key_from_environment).status(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<audit::NoteSigner>> signer = LoadLogSigner(config);
  if (!signer.ok()) return signer.status();
  if (config.has_federation()) {
    if (absl::Status s =
            FederationNode::Check(config, (*directory)->trust_domain(), *signer != nullptr);
        !s.ok()) {
      return s;
    }
  }
  // The data directory: absent (it will be made) or a directory this process may write.
  std::error_code ec;
  if (std::filesystem::exists(config.data_dir(), ec)) {
    if (!std::filesystem::is_directory(config.data_dir(), ec) ||
        access(config.data_dir().c_str(), W_OK | X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data_dir ", config.data_dir(), " is not a directory this process may write"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const config::v1::ServerConfig& config,
                                                      const Clock* clock,
                                                      const Options& server_options) {
  if (absl::Status s = CheckSettings(config); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials(config);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<Server> s(new Server);
  absl::StatusOr<std::unique_ptr<workflow::ProfileSet>> profiles =
      workflow::ProfileSet::LoadDir(config.profiles_dir());
  if (!profiles.ok()) return profiles.status();
  s->profiles_ = *std::move(profiles);
  absl::StatusOr<std::unique_ptr<workflow::Directory>> directory =
      workflow::Directory::LoadFile(config.directory_file());
  if (!directory.ok()) return directory.status();
  s->directory_ = *std::move(directory);
  absl::StatusOr<std::string> key = LoadEncryptionKey(config, server_options.key_from_environment);
  if (!key.ok()) return key.status();
  storage::RocksDbOptions store_options;
  store_options.encryption_key = *std::move(key);
  store_options.faults = server_options.faults;
  store_options.cache_bytes = static_cast<uint64_t>(config.cache_mb()) << 20;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenRocksDbStore(config.data_dir(), store_options);
  if (!store.ok()) return store.status();
  s->store_ = *std::move(store);
  absl::StatusOr<std::unique_ptr<audit::NoteSigner>> signer = LoadLogSigner(config);
  if (!signer.ok()) return signer.status();
  s->checkpoints_ = std::make_unique<audit::Checkpointer>(config.log_origin(), *std::move(signer));
  absl::StatusOr<uint64_t> log_size = workflow::Engine::DurableLogSize(*s->store_);
  if (!log_size.ok()) return log_size.status();
  s->events_ = std::make_unique<workflow::EventHub>(
      s->store_.get(), *log_size,
      config.watch_buffer_events() > 0 ? config.watch_buffer_events() : 8192);
  if (!config.metrics_address().empty()) s->metrics_ = std::make_shared<prometheus::Registry>();
  // Timed entries by kind, and open WatchEvents streams.
  std::map<v1::Action, prometheus::Counter*> timed;
  if (s->metrics_ != nullptr) {
    auto& family = prometheus::BuildCounter()
                       .Name("comity_timed_entries_total")
                       .Help("Entries the node recorded for its clocks, by action")
                       .Register(*s->metrics_);
    for (v1::Action a :
         {v1::CLOCK_WARNING, v1::CLOCK_BREACH, v1::CLOCK_HELD, v1::EXPIRE_PRESERVATION}) {
      timed[a] = &family.Add({{"action", v1::Action_Name(a)}});
    }
    prometheus::Gauge* streams = &prometheus::BuildGauge()
                                      .Name("comity_watch_streams")
                                      .Help("Open WatchEvents streams")
                                      .Register(*s->metrics_)
                                      .Add({});
    s->events_->OnStreamsChanged([streams](size_t n) { streams->Set(static_cast<double>(n)); });
  }
  workflow::EngineOptions options;
  if (s->metrics_ != nullptr) {
    // The write pipeline: how large its groups are, how long a commit takes, what waits.
    std::vector<double> counts;
    for (double b = 1; b <= 512; b *= 2) counts.push_back(b);
    std::vector<double> bytes;
    for (double b = 1024; b <= 4 << 20; b *= 4) bytes.push_back(b);
    const std::vector<double> seconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   1};
    prometheus::Histogram* group_changes = &prometheus::BuildHistogram()
                                                .Name("comity_commit_group_changes")
                                                .Help("Changes per durable commit group")
                                                .Register(*s->metrics_)
                                                .Add({}, counts);
    prometheus::Histogram* group_bytes = &prometheus::BuildHistogram()
                                              .Name("comity_commit_group_bytes")
                                              .Help("Bytes written per durable commit group")
                                              .Register(*s->metrics_)
                                              .Add({}, bytes);
    prometheus::Histogram* commit_seconds =
        &prometheus::BuildHistogram()
             .Name("comity_commit_seconds")
             .Help("Time to make one commit group durable (the synced batch)")
             .Register(*s->metrics_)
             .Add({}, seconds);
    options.on_group_committed = [group_changes, group_bytes, commit_seconds](
                                     size_t changes, size_t written, double took) {
      group_changes->Observe(static_cast<double>(changes));
      group_bytes->Observe(static_cast<double>(written));
      commit_seconds->Observe(took);
    };
    prometheus::Gauge* depth =
        &prometheus::BuildGauge()
             .Name("comity_engine_queue_depth")
             .Help("Commands still queued after the sequencer last took a group's worth")
             .Register(*s->metrics_)
             .Add({});
    options.on_queue_depth = [depth](size_t n) { depth->Set(static_cast<double>(n)); };
  }
  options.on_durable_events = [hub = s->events_.get(),
                               timed](std::vector<workflow::FeedEvent> events) {
    for (const workflow::FeedEvent& e : events) {
      if (e.event.entry().actor().side() != v1::SYSTEM) continue;
      auto counter = timed.find(e.event.entry().action());
      if (counter != timed.end()) counter->second->Increment();
    }
    hub->Publish(std::move(events));
  };
  options.on_durable_log = [cp = s->checkpoints_.get()](uint64_t size, const std::string& root) {
    cp->Update(size, root);
  };
  options.on_storage_failure = [out = server_options.security_log](const absl::Status& s) {
    if (out == nullptr) return;
    *out << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())
         << " comityd level=error event=storage_failure cause=" << LogField(s.ToString(), 512)
         << " action=\"the node takes no more changes; check the disk, then restart it\"\n"
         << std::flush;
  };
  if (config.max_batch() > 0) options.max_batch = config.max_batch();
  options.receipts = s->checkpoints_->signer();
  if (config.has_federation()) {
    options.node = config.federation().node();
    s->outbox_bell_ = std::make_unique<federation::OutboxBell>();
    options.on_outbox = [bell = s->outbox_bell_.get()] { bell->Ring(); };
  }
  absl::StatusOr<std::unique_ptr<workflow::Engine>> engine = workflow::Engine::Start(
      s->store_.get(), clock, s->profiles_.get(), s->directory_.get(), options);
  if (!engine.ok()) return engine.status();
  s->engine_ = *std::move(engine);
  if (absl::Status d = workflow::LoadOrSeedDirectory(*s->store_, *s->engine_, *s->directory_);
      !d.ok()) {
    return d;
  }
  // Timers that fell due while the node was down fire before it takes calls.
  s->scheduler_ = std::make_unique<workflow::Scheduler>(s->store_.get(), s->engine_.get(), clock);
  if (absl::StatusOr<int> fired = s->scheduler_->RunDue(); !fired.ok()) {
    s->engine_->Stop();
    return fired.status();
  } else if (*fired > 0 && server_options.security_log != nullptr) {
    *server_options.security_log << "scheduler: " << *fired
                                 << " timed change(s) recorded at start-up\n";
  }
  s->reader_ = std::make_unique<workflow::Reader>(s->store_.get());
  s->identifier_ = config.insecure_dev() ? rpc::NewDevHeaderIdentifier(s->directory_.get())
                                         : rpc::NewTlsPeerIdentifier(s->directory_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  if (!config.metrics_address().empty()) {
    try {  // civetweb reports a port it cannot bind by throwing; nothing else here throws
      s->exposer_ = std::make_unique<prometheus::Exposer>(config.metrics_address());
    } catch (const std::exception&) {
      s->engine_->Stop();
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on ", config.metrics_address()));
    }
    s->exposer_->RegisterCollectable(s->metrics_);
    s->store_metrics_ = std::make_shared<StoreMetrics>(s->store_.get(), config.data_dir());
    s->exposer_->RegisterCollectable(s->store_metrics_);
  }
  s->security_log_ =
      std::make_unique<rpc::SecurityLog>(server_options.security_log, s->metrics_.get());
  rpc::SecurityLog* log = s->security_log_.get();
  const bool record_reads = !config.skip_read_entries();
  s->requests_ =
      std::make_unique<rpc::RequestService>(s->identifier_.get(), s->engine_.get(),
                                            s->reader_.get(), log, record_reads, s->events_.get());
  std::vector<std::string> peers;
  for (const config::v1::PeerConfig& p : config.federation().peers()) peers.push_back(p.node());
  s->directory_service_ = std::make_unique<rpc::DirectoryService>(
      s->identifier_.get(), s->directory_.get(), s->engine_.get(), log, std::move(peers));
  s->audit_ = std::make_unique<rpc::AuditService>(s->identifier_.get(), s->reader_.get(), log,
                                                  s->checkpoints_.get(),
                                                  record_reads ? s->engine_.get() : nullptr);
  absl::StatusOr<std::string> evidence_key = EvidenceKey(*s->store_, store_options.encryption_key);
  if (!evidence_key.ok()) {
    s->engine_->Stop();
    return evidence_key.status();
  }
  evidence::ChunkStoreOptions chunk_options;
  chunk_options.dir = config.data_dir() + "/evidence";
  chunk_options.node_key = *std::move(evidence_key);
  chunk_options.reserve_bytes =
      static_cast<uint64_t>(config.evidence_reserve_mb() > 0 ? config.evidence_reserve_mb() : 1024)
      << 20;
  chunk_options.free_bytes = server_options.free_bytes
                                 ? server_options.free_bytes
                                 : [dir = config.data_dir()] { return evidence::FreeBytes(dir); };
  s->chunks_ = std::make_unique<evidence::ChunkStore>(s->store_.get(), std::move(chunk_options));
  s->evidence_ = std::make_unique<rpc::EvidenceService>(
      s->identifier_.get(), s->engine_.get(), s->reader_.get(), s->chunks_.get(), log, record_reads,
      config.evidence_quota_mb() << 20, s->metrics_.get());
  // Erasures the node stopped in the middle of end before it takes calls.
  if (absl::Status purged = s->evidence_->PurgeErased(*s->store_); !purged.ok()) {
    s->engine_->Stop();
    return purged;
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), *credentials, &s->port_);
  // An evidence chunk (up to 4 MiB) and its framing fit in one message.
  builder.SetMaxReceiveMessageSize(config.max_message_bytes() > 0 ? config.max_message_bytes()
                                                                  : kMaxMessageBytes);
  // Long-lived WatchEvents streams: ping idle connections every minute so that a client gone
  // without a word (a dropped network) is noticed and its stream let go.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.RegisterService(s->requests_.get());
  builder.RegisterService(s->directory_service_.get());
  builder.RegisterService(s->audit_.get());
  builder.RegisterService(s->evidence_.get());
  s->grpc_ = builder.BuildAndStart();
  if (s->grpc_ == nullptr || s->port_ == 0) {
    s->engine_->Stop();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen_address()));
  }
  if (config.has_federation()) {
    prometheus::Counter* split_views = nullptr;
    if (s->metrics_ != nullptr) {
      split_views = &prometheus::BuildCounter()
                         .Name("comity_federation_split_views_total")
                         .Help(
                             "Checkpoints of a peer found not to extend the one this node "
                             "cosigned for it (split views)")
                         .Register(*s->metrics_)
                         .Add({});
    }
    absl::StatusOr<std::unique_ptr<FederationNode>> federation = FederationNode::Start(
        config, {s->store_.get(), s->directory_.get(), s->engine_.get(), s->security_log_.get(),
                 s->checkpoints_->signer(), clock, server_options.security_log, s->reader_.get(),
                 s->checkpoints_.get(), s->outbox_bell_.get(), split_views, s->chunks_.get(),
                 s->evidence_.get()});
    if (!federation.ok()) {
      s->grpc_->Shutdown(std::chrono::system_clock::now());
      s->engine_->Stop();
      return federation.status();
    }
    s->federation_ = *std::move(federation);
  }
  if (config.timer_period_ms() >= 0) {
    std::ostream* out = server_options.security_log;
    s->scheduler_->Start(
        absl::Milliseconds(config.timer_period_ms() > 0 ? config.timer_period_ms() : 1000),
        [out](const std::string& line) {
          if (out != nullptr) *out << line << "\n";
        });
  }
  return s;
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  // Start() may have failed part-way: stop only what was started.
  if (scheduler_ != nullptr) scheduler_->Stop();
  if (federation_ != nullptr) federation_->Shutdown();
  if (events_ != nullptr) events_->Close();  // ends WatchEvents streams: clients resume later
  if (grpc_ != nullptr) {
    // New calls are refused (UNAVAILABLE) while those in flight finish, for up to `grace`; then
    // gRPC stops at once. Waiting in gRPC's own Shutdown would also wait, to the deadline, for
    // clients that are connected but idle.
    const absl::Time until = absl::Now() + grace;
    if (security_log_ != nullptr) {
      security_log_->Drain();
      while (security_log_->in_flight() > 0 && absl::Now() < until) {
        absl::SleepFor(absl::Milliseconds(2));
      }
    }
    grpc_->Shutdown(std::chrono::system_clock::now());
    grpc_->Wait();
  }
  if (evidence_ != nullptr) evidence_->StopWorkers();
  if (engine_ != nullptr) engine_->Stop();
  if (store_metrics_ != nullptr) store_metrics_->Close();
  store_.reset();
}

int Server::metrics_port() const {
  if (exposer_ == nullptr) return 0;
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

Server::~Server() { Shutdown(absl::Seconds(1)); }

}  // namespace comity::server
