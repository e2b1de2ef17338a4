// comity audit ..., comity directory ..., comity whoami, comity health.

#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "clients/cli/commands.h"
#include "clients/cli/format.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "common/files.h"
#include "common/sha256.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/audit/bundle.h"
#include "services/audit/bundle_json.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"
#include "services/audit/note.h"

namespace comity::cli {
namespace {

// The whole trail, page by page: every page shows the trail as the first one did.
grpc::Status FetchTrail(Context& ctx, const std::string& id, v1::Trail* trail, bool local = false) {
  v1::GetTrailRequest req;
  req.set_request(RequestName(id));
  req.set_local(local);
  auto stub = v1::AuditService::NewStub(ctx.channel);
  trail->Clear();
  for (bool first = true;; first = false) {
    auto call = ctx.NewCall();
    v1::Trail page;
    grpc::Status status = stub->GetTrail(call.get(), req, &page);
    if (!status.ok()) return status;
    if (first) {
      *trail = std::move(page);
    } else {
      if (page.size() != trail->size() || page.head() != trail->head()) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "a later page of the trail shows another trail than the first");
      }
      for (v1::TrailEntry& e : *page.mutable_entries()) {
        *trail->add_entries() = std::move(e);
      }
      trail->set_next_page_token(page.next_page_token());
    }
    if (trail->next_page_token().empty()) return grpc::Status::OK;
    req.set_page_token(trail->next_page_token());
  }
}

int Trail(Context& ctx, const Args& args) {
  if (args.positional().size() != 1) return UsageError("expected exactly one request ID");
  v1::Trail trail;
  grpc::Status status = FetchTrail(ctx, args.positional()[0], &trail, args.Has("local"));
  if (!status.ok()) return PrintError(status);
  if (ctx.json) {
    PrintJson(trail);
  } else {
    PrintTrail(trail);
  }
  return 0;
}

// Fetches the trail and checks the hash chain locally: numbering, links and the recorded head.
int VerifyChain(Context& ctx, const Args& args) {
  if (args.positional().size() != 1) return UsageError("expected exactly one request ID");
  v1::Trail trail;
  grpc::Status status = FetchTrail(ctx, args.positional()[0], &trail);
  if (!status.ok()) return PrintError(status);
  std::vector<std::string> entries;
  for (const v1::TrailEntry& e : trail.entries()) entries.push_back(e.data());
  absl::Status verdict = audit::VerifyChain(trail.request(), entries, trail.head(), trail.size());
  if (!verdict.ok()) {
    std::cout << "BROKEN " << trail.request() << ": " << verdict.message() << "\n";
    return static_cast<int>(verdict.code());
  }
  std::cout << "OK " << trail.request() << ": " << trail.size() << " entries chained, head "
            << ToHex(trail.head()) << "\n";
  return 0;
}

// The node's signed checkpoint, as served: pin the verifier key out of band.
int GetCheckpoint(Context& ctx, const Args& args) {
  auto stub = v1::AuditService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  v1::Checkpoint c;
  grpc::Status status = stub->GetCheckpoint(call.get(), v1::GetCheckpointRequest(), &c);
  if (!status.ok()) return PrintError(status);
  if (args.Has("out")) {
    std::ofstream out(args.Get("out"), std::ios::trunc);
    out << c.note();
    if (!out) return UsageError(absl::StrCat("cannot write ", args.Get("out")));
  }
  if (ctx.json) {
    PrintJson(c);
  } else {
    std::cout << c.note() << "verifier key: " << c.verifier_key() << "\n";
  }
  return 0;
}

// Writes the request's trail bundle (protobuf JSON) to --out.
// The tree size of a saved checkpoint note (its second line); 0 if none.
uint64_t CheckpointSize(const std::string& path) {
  absl::StatusOr<std::string> note = ReadFile(path);
  if (!note.ok()) return 0;
  std::vector<std::string> lines = absl::StrSplit(*note, '\n');
  uint64_t size = 0;
  if (lines.size() < 2 || !absl::SimpleAtoi(lines[1], &size)) return 0;
  return size;
}

int Export(Context& ctx, const Args& args) {
  if (args.positional().size() != 1 || args.Get("out").empty()) {
    return UsageError("expected a request ID and --out FILE");
  }
  v1::GetTrailRequest req;
  req.set_request(RequestName(args.positional()[0]));
  if (args.Has("since")) {
    req.set_consistency_from(CheckpointSize(args.Get("since")));
    if (req.consistency_from() == 0) return UsageError("--since takes a saved checkpoint note");
  }
  req.set_witnessed(args.Has("witnessed"));
  req.set_local(args.Has("local"));
  auto stub = v1::AuditService::NewStub(ctx.channel);
  // Part by part; the parts join into one bundle, verified as one.
  std::vector<v1::TrailBundle> parts;
  do {
    auto call = ctx.NewCall();
    v1::TrailBundle part;
    grpc::Status status = stub->ExportTrail(call.get(), req, &part);
    if (!status.ok()) return PrintError(status);
    req.set_page_token(part.trail().next_page_token());
    parts.push_back(std::move(part));
  } while (!req.page_token().empty());
  absl::StatusOr<v1::TrailBundle> joined = audit::JoinBundleParts(std::move(parts));
  if (!joined.ok()) return PrintError(joined.status());
  const v1::TrailBundle& bundle = *joined;
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (auto s = google::protobuf::util::MessageToJsonString(bundle, &json, options); !s.ok()) {
    return PrintError(absl::InternalError(std::string(s.message())));
  }
  std::ofstream out(args.Get("out"), std::ios::trunc);
  out << json;
  if (!out) return UsageError(absl::StrCat("cannot write ", args.Get("out")));
  std::cout << "wrote " << bundle.trail().size() << " entries of " << bundle.trail().request()
            << " (checkpoint size " << bundle.trail().checkpoint().size() << ") to "
            << args.Get("out") << "\n";
  return 0;
}

// Offline: checks a bundle with the node's verifier key alone. Exit 0, or 15 (DATA_LOSS).
int Verify(Context&, const Args& args) {
  std::string old_note;
  if (args.Has("since")) {
    absl::StatusOr<std::string> n = ReadFile(args.Get("since"));
    if (!n.ok()) return UsageError(std::string(n.status().message()));
    old_note = *n;
  }
  if (args.positional().size() != 1 || args.Get("key").empty()) {
    return UsageError("expected a bundle FILE and --key VERIFIER_KEY");
  }
  // Each witness's key, a cosigner key or the verifier key of the node that witnesses.
  std::vector<std::string> witnesses;
  for (absl::string_view k : absl::StrSplit(args.Get("witness"), ',', absl::SkipEmpty())) {
    absl::StatusOr<std::string> cosigner = audit::CosignerKeyOf(k);
    witnesses.push_back(cosigner.ok() ? *cosigner : std::string(k));
  }
  absl::StatusOr<std::string> json = ReadFile(args.positional()[0]);
  if (!json.ok()) return UsageError(std::string(json.status().message()));
  absl::StatusOr<v1::TrailBundle> parsed = audit::ParseBundleJson(*json);
  if (!parsed.ok() && !absl::IsDataLoss(parsed.status())) {
    return UsageError(std::string(parsed.status().message()));
  }
  if (!parsed.ok()) {
    std::cout << "BROKEN " << args.positional()[0] << ": " << parsed.status().message() << "\n";
    return static_cast<int>(absl::StatusCode::kDataLoss);
  }
  const v1::TrailBundle& bundle = *parsed;
  absl::StatusOr<audit::BundleVerdict> v = audit::VerifyBundle(bundle, args.Get("key"), old_note);
  if (!v.ok()) {
    std::cout << "BROKEN " << bundle.trail().request() << ": " << v.status().message() << "\n";
    return static_cast<int>(v.status().code());
  }
  for (const std::string& w : witnesses) {
    absl::StatusOr<int64_t> t = audit::VerifyWitnessed(bundle, w);
    if (absl::IsInvalidArgument(t.status())) {
      return UsageError(absl::StrCat("--witness: ", t.status().message()));
    }
    if (!t.ok()) {
      std::cout << "BROKEN " << bundle.trail().request() << ": " << t.status().message() << "\n";
      return static_cast<int>(t.status().code());
    }
  }
  std::cout << "OK " << v->request << ": " << v->entries
            << " entries, chained and included in the log of " << v->checkpoint.origin
            << " at size " << v->checkpoint.size << ", signed by the given key"
            << (v->receipts == 0 ? ""
                                 : absl::StrCat("; ", v->receipts, " receipt",
                                                v->receipts == 1 ? "" : "s", " signed by the node"))
            << (old_note.empty() ? "" : "; the log extends the old checkpoint")
            << (witnesses.empty() ? ""
                                  : absl::StrCat("; cosigned by ", witnesses.size(), " witness",
                                                 witnesses.size() == 1 ? "" : "es"))
            << "\n";
  return 0;
}

// Checks the node's newest checkpoint against the pinned key and the last one seen (kept in
// --state): a rewritten history or a split view is reported. Repeats every --interval, or
// checks once with --once. Exit 15 (DATA_LOSS) on an inconsistency.
int Watch(Context& ctx, const Args& args) {
  if (args.Get("key").empty() || args.Get("state").empty()) {
    return UsageError("expected --key VERIFIER_KEY and --state FILE");
  }
  absl::Duration interval = absl::Seconds(30);
  if (args.Has("interval") && !absl::ParseDuration(args.Get("interval"), &interval)) {
    return UsageError("--interval takes a duration such as 30s");
  }
  auto stub = v1::AuditService::NewStub(ctx.channel);
  for (;;) {
    auto call = ctx.NewCall();
    v1::Checkpoint c;
    grpc::Status status = stub->GetCheckpoint(call.get(), v1::GetCheckpointRequest(), &c);
    if (!status.ok()) return PrintError(status);
    absl::StatusOr<audit::Checkpoint> now = audit::OpenCheckpoint(c.note(), args.Get("key"));
    if (!now.ok()) {
      std::cout << "BROKEN: " << now.status().message() << "\n";
      return static_cast<int>(now.status().code());
    }
    absl::StatusOr<std::string> previous_note = ReadFile(args.Get("state"));
    if (previous_note.ok()) {
      absl::StatusOr<audit::Checkpoint> before =
          audit::OpenCheckpoint(*previous_note, args.Get("key"));
      if (!before.ok()) return UsageError("the state file holds no checkpoint of this key");
      if (before->size > now->size) {
        std::cout << "BROKEN: the log shrank from " << before->size << " to " << now->size
                  << " entries\n";
        return 15;
      }
      v1::GetConsistencyProofRequest req;
      req.set_from_size(before->size);
      req.set_to_size(now->size);
      v1::ConsistencyProof p;
      auto pcall = ctx.NewCall();
      status = stub->GetConsistencyProof(pcall.get(), req, &p);
      if (!status.ok()) return PrintError(status);
      absl::Status ok = audit::VerifyConsistency(
          before->size, now->size, std::vector<std::string>(p.hashes().begin(), p.hashes().end()),
          before->root_hash, now->root_hash);
      if (!ok.ok()) {
        std::cout << "BROKEN: the log does not extend the checkpoint seen before (size "
                  << before->size << "): " << ok.message() << "\n";
        return 15;
      }
    }
    std::ofstream out(args.Get("state"), std::ios::trunc);
    out << c.note();
    std::cout << "OK " << now->origin << " size " << now->size
              << (previous_note.ok() ? ", consistent with the last checkpoint seen" : "") << "\n";
    std::cout.flush();
    if (args.Has("once")) return 0;
    absl::SleepFor(interval);
  }
}

int Stats(Context& ctx, const Args& args) {
  v1::GetStatisticsRequest req;
  req.set_instrument(args.Get("instrument"));
  auto stub = v1::AuditService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  v1::Statistics stats;
  grpc::Status status = stub->GetStatistics(call.get(), req, &stats);
  if (!status.ok()) return PrintError(status);
  PrintJson(stats);
  return 0;
}

int Authorities(Context& ctx, const Args& args) {
  v1::ListAuthoritiesRequest req;
  req.set_country(args.Get("country"));
  v1::ListAuthoritiesResponse resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->ListAuthorities(call.get(), req, &resp);
  if (!status.ok()) return PrintError(status);
  if (ctx.json) {
    PrintJson(resp);
  } else {
    PrintAuthorities(resp);
  }
  return 0;
}

int Authority(Context& ctx, const Args& args) {
  if (args.positional().size() != 1) return UsageError("expected exactly one authority");
  v1::GetAuthorityRequest req;
  const std::string& a = args.positional()[0];
  req.set_name(a.rfind("authorities/", 0) == 0 ? a : "authorities/" + a);
  v1::Authority resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->GetAuthority(call.get(), req, &resp);
  if (!status.ok()) return PrintError(status);
  PrintJson(resp);
  return 0;
}

// Adds or replaces an authority (admin): the file is a comity.v1.Authority in text format.
int Upsert(Context& ctx, const Args& args) {
  absl::StatusOr<std::string> text = ReadFile(args.Get("file"));
  if (!text.ok()) return UsageError("give the authority as --file FILE.textproto (or -f)");
  v1::UpsertAuthorityRequest req;
  if (!google::protobuf::TextFormat::ParseFromString(*text, req.mutable_authority())) {
    return UsageError("the file is not a comity.v1.Authority in text format");
  }
  req.set_request_id(args.Get("request-id"));
  v1::Authority resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->UpsertAuthority(call.get(), req, &resp);
  if (!status.ok()) return PrintError(status);
  PrintJson(resp);
  return 0;
}

// The Parties' reservations and declarations the directory records.
int Reservations(Context& ctx, const Args& args) {
  v1::ListReservationsRequest req;
  req.set_country(args.Get("country"));
  req.set_instrument(args.Get("instrument"));
  v1::ListReservationsResponse resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->ListReservations(call.get(), req, &resp);
  if (!status.ok()) return PrintError(status);
  if (ctx.json) {
    PrintJson(resp);
    return 0;
  }
  if (resp.reservations().empty()) std::cout << "no reservations or declarations recorded\n";
  for (const v1::Reservation& r : resp.reservations()) {
    std::cout << r.country() << "  " << r.instrument() << "  " << r.code() << "  "
              << v1::ReservationKind_Name(r.kind()) << (r.text().empty() ? "" : "  ") << r.text()
              << "\n";
  }
  return 0;
}

// Records (or with --withdraw removes) a reservation or declaration of the caller's Party.
int Reserve(Context& ctx, const Args& args) {
  if (args.positional().size() != 3) return UsageError("expected COUNTRY INSTRUMENT CODE");
  v1::SetReservationRequest req;
  v1::Reservation* r = req.mutable_reservation();
  r->set_country(args.positional()[0]);
  r->set_instrument(args.positional()[1]);
  r->set_code(args.positional()[2]);
  const std::string kind = args.Has("kind") ? args.Get("kind") : "reservation";
  if (kind == "reservation") {
    r->set_kind(v1::RESERVATION);
  } else if (kind == "declaration") {
    r->set_kind(v1::DECLARATION);
  } else {
    return UsageError("--kind is reservation or declaration");
  }
  r->set_text(args.Get("text"));
  req.set_withdraw(args.Has("withdraw"));
  req.set_request_id(args.Get("request-id"));
  v1::Reservation resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->SetReservation(call.get(), req, &resp);
  if (!status.ok()) return PrintError(status);
  std::cout << (req.withdraw() ? "withdrawn: " : "recorded: ") << r->country() << "/"
            << r->instrument() << "/" << r->code() << "\n";
  return 0;
}

int Peers(Context& ctx, const Args& args) {
  if (!args.positional().empty()) return UsageError("directory peers takes no arguments");
  v1::ListPeersResponse resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->ListPeers(call.get(), v1::ListPeersRequest(), &resp);
  if (!status.ok()) return PrintError(status);
  PrintJson(resp);
  return 0;
}

int ClearSplitView(Context& ctx, const Args& args) {
  if (args.positional().size() != 1 || args.Get("reason").empty()) {
    return UsageError("expected NODE and --reason TEXT");
  }
  v1::ClearSplitViewRequest req;
  req.set_node(args.positional()[0]);
  req.set_reason(args.Get("reason"));
  req.set_request_id(args.Get("request-id"));
  v1::Peer resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->ClearSplitView(call.get(), req, &resp);
  if (!status.ok()) return PrintError(status);
  std::cout << "cleared: the split view of node " << resp.node() << "\n";
  return 0;
}

int WhoAmI(Context& ctx, const Args&) {
  v1::WhoAmIResponse resp;
  auto stub = v1::DirectoryService::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::Status status = stub->WhoAmI(call.get(), v1::WhoAmIRequest(), &resp);
  if (!status.ok()) return PrintError(status);
  PrintJson(resp);
  return 0;
}

int Health(Context& ctx, const Args&) {
  auto stub = grpc::health::v1::Health::NewStub(ctx.channel);
  auto call = ctx.NewCall();
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status status = stub->Check(call.get(), grpc::health::v1::HealthCheckRequest(), &resp);
  if (!status.ok()) return PrintError(status);
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()) << "\n";
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 14;
}

}  // namespace

std::vector<CommandSpec> OtherCommands() {
  return {
      {"audit",
       "trail",
       "ID | directory [--local]",
       {{"local", "",
         "a request another node keeps: this node's own trail of it, not that node's"}},
       Trail},
      {"audit",
       "export",
       "ID --out FILE [--since OLD_CHECKPOINT] [--witnessed] [--local]   (a self-contained bundle)",
       {{"out", "FILE", "where to write it"},
        {"local", "",
         "of a request another node keeps: this node's own trail of it, signed by this node"},
        {"since", "OLD_CHECKPOINT", "a checkpoint note kept from before: prove the log extends it"},
        {"witnessed", "",
         "against the newest checkpoint the node's peers cosigned, with their cosignatures"}},
       Export},
      {"audit",
       "verify",
       "FILE --key VERIFIER_KEY [--since OLD_CHECKPOINT] [--witness KEY[,KEY...]]   (offline)",
       {{"key", "VERIFIER_KEY", "the node's verifier key, pinned out of band"},
        {"since", "OLD_CHECKPOINT", "a checkpoint note kept from before: prove the log extends it"},
        {"witness", "KEY[,KEY...]",
         "witnesses that must have cosigned the checkpoint: each one's verifier or cosigner key"}},
       Verify},
      {"audit",
       "stats",
       "[--instrument ID]   (counts by type, outcome, ground; time to delivery)",
       {{"instrument", "ID", "only this instrument's requests"}},
       Stats},
      {"audit",
       "watch",
       "--key VERIFIER_KEY --state FILE [--interval 30s] [--once]",
       {{"key", "VERIFIER_KEY", "the node's verifier key, pinned out of band"},
        {"state", "FILE", "where the last checkpoint seen is kept"},
        {"interval", "DURATION", "how often to look (default 30s)"},
        {"once", "", "look once and exit"}},
       Watch},
      {"audit",
       "checkpoint",
       "[--out FILE]   (the node's signed Merkle log checkpoint)",
       {{"out", "FILE", "also write the note to this file"}},
       GetCheckpoint},
      {"audit",
       "verify-chain",
       "ID | directory   (checks the hash chain locally)",
       {},
       VerifyChain},
      {"directory",
       "list",
       "[--country CC]",
       {{"country", "CC", "only this country's authorities"}},
       Authorities},
      {"directory", "get", "AUTHORITY", {}, Authority},
      {"directory",
       "upsert",
       "-f AUTHORITY.textproto   (admin: add or replace an authority)",
       {{"file", "FILE", "the authority, a comity.v1.Authority in text format (-f)"},
        {"request-id", "ID", "an idempotency key"}},
       Upsert},
      {"directory",
       "reservations",
       "[--country CC] [--instrument ID]",
       {{"country", "CC", "only this Party's"}, {"instrument", "ID", "only this instrument's"}},
       Reservations},
      {"directory",
       "reserve",
       "COUNTRY INSTRUMENT CODE [--kind reservation|declaration] [--text T] [--withdraw]   (admin "
       "of that Party)",
       {{"kind", "KIND", "reservation (default) or declaration"},
        {"text", "TEXT", "as deposited, or a summary with its reference"},
        {"withdraw", "", "withdraw it instead"},
        {"request-id", "ID", "an idempotency key"}},
       Reserve},
      {"directory",
       "peers",
       "   (admin, auditor: the federation's peers, their directories, split views)",
       {},
       Peers},
      {"directory",
       "clear-split-view",
       "NODE --reason TEXT   (admin: relaying to the peer resumes)",
       {{"reason", "TEXT", "what was settled with the peer's operators"},
        {"request-id", "ID", "an idempotency key"}},
       ClearSplitView},
      {"whoami", "", "", {}, WhoAmI},
      {"health", "", "", {}, Health},
  };
}

}  // namespace comity::cli
