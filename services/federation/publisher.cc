#include "services/federation/publisher.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/text.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/federation/snapshot.h"
#include "services/workflow/timeutil.h"

namespace comity::federation {

std::shared_ptr<grpc::Channel> PeerChannel(const Peer& peer, const NodeCredentials& node,
                                           int max_message_bytes) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = peer.ca_pem;
  tls.pem_cert_chain = node.cert_pem;
  tls.pem_private_key = node.key_pem;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  return grpc::CreateCustomChannel(peer.address, grpc::SslCredentials(tls), args);
}

Publisher::Publisher(const PeerSet* peers, const audit::NoteSigner* signer, NodeCredentials node,
                     std::function<absl::StatusOr<v1::DirectorySnapshot>()> current,
                     Options options)
    : peers_(peers), signer_(signer), current_(std::move(current)), options_(options) {
  {
    absl::MutexLock lock(&mu_);
    for (const Peer& p : peers_->peers()) {
      state_[p.node].stub =
          v1::FederationService::NewStub(PeerChannel(p, node, options_.max_message_bytes));
    }
  }
  thread_ = std::thread([this] { Run(); });
}

Publisher::~Publisher() { Stop(); }

void Publisher::Wake() {
  absl::MutexLock lock(&mu_);
  dirty_ = true;
}

void Publisher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (in_flight_ != nullptr) in_flight_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Publisher::Acknowledged(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  auto it = state_.find(node);
  return it == state_.end() ? 0 : it->second.acked;
}

bool Publisher::Ready() const {
  if (stop_ || dirty_) return true;
  if (!have_) return false;
  const absl::Time now = absl::Now();
  for (const auto& [node, s] : state_) {
    if (!s.acked_current && s.next_try <= now) return true;
  }
  return false;
}

void Publisher::Run() {
  v1::PublishDirectoryRequest published;
  uint64_t version = 0;
  while (true) {
    bool rebuild = false;
    {
      absl::MutexLock lock(&mu_);
      // Until woken, stopped, or the earliest retry of a peer still owed the snapshot.
      absl::Time wake = absl::InfiniteFuture();
      for (const auto& [node, s] : state_) {
        if (have_ && !s.acked_current) wake = std::min(wake, s.next_try);
      }
      mu_.AwaitWithDeadline(absl::Condition(this, &Publisher::Ready), wake);
      if (stop_) return;
      rebuild = dirty_;
      dirty_ = false;
    }
    if (rebuild) {
      absl::StatusOr<v1::DirectorySnapshot> snapshot = current_();
      absl::MutexLock lock(&mu_);
      if (!snapshot.ok()) {
        if (options_.log != nullptr) {
          *options_.log << "federation: cannot read the directory to publish: "
                        << LogField(snapshot.status().ToString(), 256) << "\n";
        }
      } else if (!have_ || snapshot->version() != version) {
        published = SignSnapshot(*snapshot, *signer_);
        version = snapshot->version();
        have_ = true;
        for (auto& [node, s] : state_) {
          s.acked_current = false;
          s.next_try = absl::InfinitePast();
          s.backoff = absl::ZeroDuration();
        }
      }
    }
    std::vector<std::pair<std::string, v1::FederationService::Stub*>> due;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = absl::Now();
      for (auto& [node, s] : state_) {
        if (have_ && !s.acked_current && s.next_try <= now) due.emplace_back(node, s.stub.get());
      }
    }
    for (const auto& [node, stub] : due) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        in_flight_ = &ctx;
      }
      v1::PublishDirectoryResponse response;
      const grpc::Status st = stub->PublishDirectory(&ctx, published, &response);
      absl::MutexLock lock(&mu_);
      in_flight_ = nullptr;
      PeerState& s = state_[node];
      if (st.ok()) {
        s.acked = version;
        s.acked_current = true;
        s.backoff = absl::ZeroDuration();
        if (s.failing && options_.log != nullptr) {
          *options_.log << "federation: peer " << node << " holds directory version " << version
                        << " again\n";
        }
        s.failing = false;
        continue;
      }
      s.backoff = s.backoff == absl::ZeroDuration() ? absl::Seconds(1)
                                                    : std::min(2 * s.backoff, options_.retry_max);
      s.next_try = absl::Now() + s.backoff;
      if (!s.failing && options_.log != nullptr) {
        *options_.log << "federation: publishing the directory to peer " << node
                      << " failed: code=" << st.error_code()
                      << " reason=" << LogField(st.error_message(), 256) << "; retrying\n";
      }
      s.failing = true;
    }
  }
}

}  // namespace comity::federation
