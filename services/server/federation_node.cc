#include "services/server/federation_node.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "comity/storage/v1/records.pb.h"
#include "common/files.h"
#include "common/text.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "services/audit/bundle.h"
#include "services/federation/snapshot.h"
#include "services/workflow/names.h"
#include "storage/keys.h"

namespace comity::server {
namespace {

absl::StatusOr<federation::NodeCredentials> ReadNodeCredentials(
    const config::v1::FederationConfig& f) {
  federation::NodeCredentials out;
  for (const auto& [field, path, into] :
       {std::tuple<const char*, const std::string*, std::string*>{"federation.cert_file",
                                                                  &f.cert_file(), &out.cert_pem},
        {"federation.key_file", &f.key_file(), &out.key_pem}}) {
    if (path->empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, " is required: peers know this node by its node certificate"));
    }
    absl::StatusOr<std::string> pem = ReadFile(*path);
    if (!pem.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(field, ": ", pem.status().message()));
    }
    *into = *std::move(pem);
  }
  return out;
}

// Request `id`'s trail as a bundle the requesting node verifies against this node's log key (as
// ExportTrail makes it), with the record its last entry names. UNAVAILABLE while the signed
// checkpoint does not yet cover the latest entry.
absl::StatusOr<v1::MirroredTrail> BuildMirror(const storage::Store& store,
                                              const workflow::Reader& reader,
                                              audit::Checkpointer& checkpoints,
                                              const std::string& id) {
  const workflow::Caller system = workflow::Caller::System();
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<std::string> bytes = store.Get(storage::Column::kRequests, id);
    if (!bytes.ok()) return bytes.status();
    v1::MirroredTrail m;
    if (!m.mutable_record()->ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat("the stored record of requests/", id, " is corrupt"));
    }
    v1::GetTrailRequest query;
    query.set_request(absl::StrCat("requests/", id));
    query.set_page_size(1000);
    absl::StatusOr<v1::Checkpoint> checkpoint;
    auto proof_size = [&]() -> absl::StatusOr<uint64_t> {
      checkpoint = checkpoints.Latest();
      if (!checkpoint.ok()) return checkpoint.status();
      return checkpoint->size();
    };
    absl::StatusOr<v1::Trail> trail = reader.TrailPage(
        system, query, workflow::Reader::TrailKind::kExport, proof_size, /*covered_only=*/true);
    if (!trail.ok()) return trail.status();
    while (!trail->next_page_token().empty()) {
      query.set_page_token(trail->next_page_token());
      absl::StatusOr<v1::Trail> page =
          reader.TrailPage(system, query, workflow::Reader::TrailKind::kExport, proof_size, true);
      if (!page.ok()) return page.status();
      for (v1::TrailEntry& e : *page->mutable_entries()) *trail->add_entries() = std::move(e);
      trail->set_next_page_token(page->next_page_token());
    }
    if (trail->size() != m.record().audit_size() || trail->head() != m.record().audit_head() ||
        static_cast<uint64_t>(trail->entries_size()) != trail->size()) {
      continue;  // the request moved on meanwhile, or the checkpoint is catching up
    }
    absl::StatusOr<std::string> note =
        checkpoints.Sign(audit::TrailNoteText(*trail, checkpoint->size()));
    if (!note.ok()) return note.status();
    *trail->mutable_checkpoint() = *std::move(checkpoint);
    // The peer reads each entry from its bytes: the parsed copies would only double the message.
    for (v1::TrailEntry& e : *trail->mutable_entries()) e.clear_entry();
    *m.mutable_bundle()->mutable_trail() = *std::move(trail);
    m.mutable_bundle()->set_trail_note(*std::move(note));
    return m;
  }
  return absl::UnavailableError("the trail is not yet covered by a signed checkpoint");
}

// What Check and Start ask of the settings themselves, before any file is read.
absl::Status CheckSettings(const config::v1::FederationConfig& f, bool has_log_key) {
  if (!has_log_key) {
    return absl::FailedPreconditionError(
        "federation needs log_key_file: the node signs what it publishes to its peers");
  }
  if (f.listen_address().empty()) {
    return absl::FailedPreconditionError(
        "federation.listen_address is required: the host:port where peers reach this node");
  }
  if (f.peers().empty()) {
    return absl::FailedPreconditionError("federation.peers: a federated node lists its peers");
  }
  if (f.max_message_mb() < 0 || f.max_message_mb() > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("federation.max_message_mb is ",
                                                   f.max_message_mb(),
                                                   ": from 1 to 1024 (MiB), or 0 for 64"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FederationNode::Check(const config::v1::ServerConfig& config,
                                   absl::string_view trust_domain, bool has_log_key) {
  const config::v1::FederationConfig& f = config.federation();
  if (absl::Status s = CheckSettings(f, has_log_key); !s.ok()) return s;
  if (absl::Status s = ReadNodeCredentials(f).status(); !s.ok()) return s;
  return federation::PeerSet::Load(f, trust_domain).status();
}

absl::StatusOr<std::unique_ptr<FederationNode>> FederationNode::Start(
    const config::v1::ServerConfig& config, Parts parts) {
  const config::v1::FederationConfig& f = config.federation();
  if (absl::Status s = CheckSettings(f, parts.signer != nullptr); !s.ok()) return s;
  std::unique_ptr<FederationNode> n(new FederationNode);
  const int max_message_bytes = (f.max_message_mb() > 0 ? f.max_message_mb() : 64) << 20;
  absl::StatusOr<std::unique_ptr<federation::PeerSet>> peers =
      federation::PeerSet::Load(f, parts.directory->trust_domain());
  if (!peers.ok()) return peers.status();
  n->peers_ = *std::move(peers);
  absl::StatusOr<federation::NodeCredentials> node = ReadNodeCredentials(f);
  if (!node.ok()) return node.status();

  // Peers only: their CAs are the roots, each call then checked against its own peer's CA.
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = n->peers_->AllCaPem();
  tls.pem_key_cert_pairs.push_back({node->key_pem, node->cert_pem});
  federation::Witness::Parts witness;
  witness.store = parts.store;
  witness.engine = parts.engine;
  witness.directory = parts.directory;
  witness.signer = parts.signer;
  witness.clock = parts.clock;
  witness.log = parts.log;
  witness.split_views = parts.split_views;
  n->witness_ = std::make_unique<federation::Witness>(witness);
  // Evidence delivered to this node's authorities, fetched from the system of record.
  federation::Fetcher::Hooks fetch;
  const workflow::Reader* reader = parts.reader;
  workflow::Engine* engine = parts.engine;
  fetch.record = [reader](const std::string& id) {
    return reader->Get(workflow::Caller::System(), workflow::RequestName(id));
  };
  fetch.fetched = [engine](const std::string& request, const std::string& package) {
    v1::RecordFetchRequest body;
    body.set_name(request);
    body.set_package(package);
    return engine
        ->ApplyAndWait(workflow::MakeCommand(v1::FETCH_PACKAGE, workflow::Caller::System(), body))
        .status();
  };
  federation::Fetcher::Options fetch_options;
  if (f.retry_max_seconds() > 0) fetch_options.retry_max = absl::Seconds(f.retry_max_seconds());
  fetch_options.log = parts.log;
  fetch_options.bytes = parts.evidence->fetched_bytes();
  n->fetcher_ =
      std::make_unique<federation::Fetcher>(parts.store, n->peers_.get(), *node, parts.chunks,
                                            std::move(fetch), std::move(fetch_options));
  n->service_ = std::make_unique<rpc::FederationService>(
      n->peers_.get(), parts.directory, parts.engine, parts.security_log, n->witness_.get(),
      parts.reader, parts.evidence,
      [fetcher = n->fetcher_.get()](const v1::Request& record) { fetcher->Mirrored(record); });
  grpc::ServerBuilder builder;
  builder.AddListeningPort(f.listen_address(), grpc::SslServerCredentials(tls), &n->port_);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.RegisterService(n->service_.get());
  n->grpc_ = builder.BuildAndStart();
  if (n->grpc_ == nullptr || n->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for peers on federation.listen_address ", f.listen_address()));
  }

  federation::Publisher::Options options;
  if (f.retry_max_seconds() > 0) options.retry_max = absl::Seconds(f.retry_max_seconds());
  options.max_message_bytes = max_message_bytes;
  options.log = parts.log;
  storage::Store* store = parts.store;
  const Clock* clock = parts.clock;
  const std::string self = f.node();
  n->publisher_ = std::make_unique<federation::Publisher>(
      n->peers_.get(), parts.signer, *node,
      [store, clock, self]() -> absl::StatusOr<v1::DirectorySnapshot> {
        absl::StatusOr<std::string> bytes =
            store->Get(storage::Column::kMeta, storage::kDirectoryKey);
        if (!bytes.ok()) return bytes.status();
        storage::v1::DirectoryRecord record;
        if (!record.ParseFromString(*bytes)) return absl::DataLossError("corrupt directory record");
        return federation::LocalSnapshot(record.config(), self, record.published_version(),
                                         clock->Now());
      },
      options);
  // The outbox, to each peer: forwarded actions as queued, mirrors built when sent.
  federation::Relay::Hooks hooks;
  audit::Checkpointer* checkpoints = parts.checkpoints;
  hooks.mirror = [store, reader, checkpoints](const std::string& id) {
    return BuildMirror(*store, *reader, *checkpoints, id);
  };
  std::ostream* log = parts.log;
  hooks.relay_state = [engine, log](const std::string& request, const std::string& key,
                                    v1::RelayState state, int code, const std::string& reason) {
    v1::RecordRelayStateRequest body;
    body.set_name(request);
    body.set_key(key);
    body.set_state(state);
    body.set_code(code);
    body.set_reason(reason);
    workflow::Command cmd =
        workflow::MakeCommand(v1::RELAY_STATE, workflow::Caller::System(),
                              std::make_shared<v1::RecordRelayStateRequest>(std::move(body)));
    engine->Apply(std::move(cmd), [log, key](const absl::StatusOr<v1::Request>& done) {
      if (!done.ok() && log != nullptr) {
        *log << "federation: the state of relayed action " << key
             << " is not recorded: " << LogField(done.status().ToString(), 256) << "\n";
      }
    });
  };
  federation::Relay::Options relay_options;
  relay_options.retry_max = options.retry_max;
  relay_options.max_message_bytes = max_message_bytes;
  relay_options.log = parts.log;
  const workflow::Directory* directory = parts.directory;
  hooks.paused = [directory](const std::string& peer) {
    return directory->SplitViewOf(peer).has_value();
  };
  n->relay_ = std::make_unique<federation::Relay>(store, n->peers_.get(), *node, std::move(hooks),
                                                  relay_options);
  federation::Cosigners::Options cosign;
  if (f.witness_interval_ms() > 0) cosign.interval = absl::Milliseconds(f.witness_interval_ms());
  cosign.max_message_bytes = max_message_bytes;
  cosign.log = parts.log;
  n->cosigners_ =
      std::make_unique<federation::Cosigners>(n->peers_.get(), *node, checkpoints, reader, cosign);
  n->bell_ = parts.bell;
  if (n->bell_ != nullptr) n->bell_->Attach(n->relay_.get());
  n->directory_ = parts.directory;
  // A new directory is published; a cleared split view lets the relay go on.
  n->directory_->OnReplace([p = n->publisher_.get(), r = n->relay_.get()] {
    p->Wake();
    r->Wake();
  });
  return n;
}

void FederationNode::Shutdown() {
  if (directory_ != nullptr) directory_->OnReplace(nullptr);
  if (bell_ != nullptr) bell_->Attach(nullptr);
  if (cosigners_ != nullptr) cosigners_->Stop();
  if (relay_ != nullptr) relay_->Stop();
  if (fetcher_ != nullptr) fetcher_->Stop();
  if (publisher_ != nullptr) publisher_->Stop();
  if (grpc_ != nullptr) {
    grpc_->Shutdown(std::chrono::system_clock::now());
    grpc_->Wait();
    grpc_.reset();
  }
}

FederationNode::~FederationNode() { Shutdown(); }

}  // namespace comity::server
