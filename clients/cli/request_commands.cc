// comity request ...: one subcommand per RequestService RPC.

#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/cli/commands.h"
#include "clients/cli/format.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/sha256.h"
#include "google/protobuf/text_format.h"

namespace comity::cli {
namespace {

using Stub = v1::RequestService::Stub;
using google::protobuf::Timestamp;

// Applies the verb-specific options to `req`; returns an error message or "".
template <typename Req>
using Fill = std::function<std::string(const Args&, Req&)>;

int Finish(const Context& ctx, const grpc::Status& status, const v1::Request& reply) {
  if (!status.ok()) return PrintError(status);
  if (ctx.id_only) {
    std::cout << reply.name().substr(reply.name().find('/') + 1) << "\n";
  } else if (ctx.json) {
    PrintJson(reply);
  } else {
    PrintRequest(reply);
  }
  return 0;
}

// The common shape of every lifecycle verb: ID, --etag, --request-id (VerbOptions), then its own
// options.
template <typename Req>
int Verb(Context& ctx, const Args& args,
         grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, v1::Request*),
         const Fill<Req>& fill) {
  if (args.positional().size() != 1) return UsageError("expected exactly one request ID");
  Req req;
  req.set_name(RequestName(args.positional()[0]));
  req.set_etag(args.Get("etag"));
  req.set_request_id(args.Get("request-id"));
  if (std::string err = fill ? fill(args, req) : ""; !err.empty()) return UsageError(err);
  auto stub = v1::RequestService::NewStub(ctx.channel);
  v1::Request reply;
  auto call = ctx.NewCall();
  grpc::Status status = ((*stub).*method)(call.get(), req, &reply);
  return Finish(ctx, status, reply);
}

std::string ReadRequestFile(const Args& args, v1::Request* out) {
  const std::string path = args.Get("file");
  if (path.empty()) return "give the request as --file FILE.textproto (or -f)";
  std::ifstream in(path);
  if (!in) return absl::StrCat("cannot read ", path);
  std::stringstream text;
  text << in.rdbuf();
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), out)) {
    return absl::StrCat(path, " is not a comity.v1.Request in text format");
  }
  return "";
}

std::string When(const Args& args, const std::string& option, Timestamp* out) {
  if (!args.Has(option)) return absl::StrCat("--", option, " is required");
  absl::StatusOr<absl::Time> t = ParseWhen(args.Get(option), absl::Now());
  if (!t.ok()) return absl::StrCat("--", option, ": ", t.status().message());
  *out = ToTimestamp(*t);
  return "";
}

int Create(Context& ctx, const Args& args, bool submit) {
  v1::CreateRequestRequest create;
  if (std::string err = ReadRequestFile(args, create.mutable_request()); !err.empty()) {
    return UsageError(err);
  }
  if (args.Has("follows")) create.mutable_request()->set_follows(RequestName(args.Get("follows")));
  const std::string id = args.Get("request-id");
  create.set_request_id(id.empty() ? "" : absl::StrCat(id, "/create"));
  auto stub = v1::RequestService::NewStub(ctx.channel);
  v1::Request draft;
  auto call = ctx.NewCall();
  grpc::Status status = stub->CreateRequest(call.get(), create, &draft);
  if (!status.ok() || !submit) return Finish(ctx, status, draft);
  v1::SubmitRequestRequest req;
  req.set_name(draft.name());
  req.set_request_id(id.empty() ? "" : absl::StrCat(id, "/submit"));
  v1::Request submitted;
  auto call2 = ctx.NewCall();
  status = stub->SubmitRequest(call2.get(), req, &submitted);
  if (!status.ok()) std::cerr << "the draft " << draft.name() << " was kept\n";
  return Finish(ctx, status, submitted);
}

int Submit(Context& ctx, const Args& args) {
  if (args.Has("file")) return Create(ctx, args, true);
  return Verb<v1::SubmitRequestRequest>(ctx, args, &Stub::SubmitRequest, nullptr);
}

int Get(Context& ctx, const Args& args) {
  if (args.positional().size() != 1) return UsageError("expected exactly one request ID");
  v1::GetRequestRequest req;
  req.set_name(RequestName(args.positional()[0]));
  auto stub = v1::RequestService::NewStub(ctx.channel);
  v1::Request reply;
  auto call = ctx.NewCall();
  return Finish(ctx, stub->GetRequest(call.get(), req, &reply), reply);
}

int List(Context& ctx, const Args& args) {
  v1::ListRequestsRequest req;
  const auto set_state = [](v1::ListRequestsRequest* r, int v) { r->set_state(v1::State(v)); };
  const auto set_type = [](v1::ListRequestsRequest* r, int v) { r->set_type(v1::RequestType(v)); };
  const auto set_priority = [](v1::ListRequestsRequest* r, int v) {
    r->set_priority(v1::Priority(v));
  };
  const auto set_side = [](v1::ListRequestsRequest* r, int v) { r->set_side(v1::Side(v)); };
  const std::vector<std::tuple<const char*, const google::protobuf::EnumDescriptor*,
                               std::function<void(v1::ListRequestsRequest*, int)>>>
      enums = {{"state", v1::State_descriptor(), set_state},
               {"type", v1::RequestType_descriptor(), set_type},
               {"priority", v1::Priority_descriptor(), set_priority},
               {"side", v1::Side_descriptor(), set_side}};
  for (const auto& [name, type, set] : enums) {
    if (!args.Has(name)) continue;
    absl::StatusOr<int> v = ParseEnum(type, args.Get(name));
    if (!v.ok()) return UsageError(absl::StrCat("--", name, ": ", v.status().message()));
    set(&req, *v);
  }
  if (args.Has("counterpart")) {
    std::string c = args.Get("counterpart");
    req.set_counterpart(c.rfind("authorities/", 0) == 0 ? c : "authorities/" + c);
  }
  req.set_instrument(args.Get("instrument"));
  if (args.Has("by-due")) req.set_order_by("next_due_time");
  if (args.Has("due-before")) {
    absl::StatusOr<absl::Time> before = ParseWhen(args.Get("due-before"), absl::Now());
    if (!before.ok()) return UsageError(absl::StrCat("--due-before: ", before.status().message()));
    *req.mutable_due_before() = ToTimestamp(*before);
  }
  int size = 0;
  if (args.Has("page-size") && !absl::SimpleAtoi(args.Get("page-size"), &size)) {
    return UsageError("--page-size takes a number");
  }
  req.set_page_size(size);
  req.set_page_token(args.Get("page-token"));
  auto stub = v1::RequestService::NewStub(ctx.channel);
  v1::ListRequestsResponse all;
  for (;;) {
    v1::ListRequestsResponse page;
    auto call = ctx.NewCall();
    grpc::Status status = stub->ListRequests(call.get(), req, &page);
    if (!status.ok()) return PrintError(status);
    all.mutable_requests()->MergeFrom(page.requests());
    all.set_next_page_token(page.next_page_token());
    if (!args.Has("all") || page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  if (ctx.json) {
    PrintJson(all);
  } else {
    PrintRequests(all);
  }
  return 0;
}

int Update(Context& ctx, const Args& args) {
  return Verb<v1::UpdateDraftRequest>(ctx, args, &Stub::UpdateDraft,
                                      [](const Args& a, v1::UpdateDraftRequest& r) {
                                        return ReadRequestFile(a, r.mutable_request());
                                      });
}

std::string Required(const Args& a, const std::string& option, std::string* out) {
  *out = a.Get(option);
  return out->empty() ? absl::StrCat("--", option, " is required") : "";
}

int Refuse(Context& ctx, const Args& args) {
  return Verb<v1::RefuseRequestRequest>(
      ctx, args, &Stub::RefuseRequest,
      [](const Args& a, v1::RefuseRequestRequest& r) -> std::string {
        for (const std::string& g : a.GetAll("ground")) r.add_grounds(g);
        if (r.grounds().empty()) return "name at least one --ground";
        return Required(a, "reason", r.mutable_reasons());
      });
}

int Consult(Context& ctx, const Args& args) {
  return Verb<v1::ConsultRequestRequest>(
      ctx, args, &Stub::ConsultRequest,
      [](const Args& a, v1::ConsultRequestRequest& r) -> std::string {
        for (const std::string& g : a.GetAll("ground")) r.add_intended_grounds(g);
        r.set_postponement(a.Has("postpone"));
        return Required(a, "reason", r.mutable_reasons());
      });
}

int Postpone(Context& ctx, const Args& args) {
  return Verb<v1::PostponeRequestRequest>(
      ctx, args, &Stub::PostponeRequest,
      [](const Args& a, v1::PostponeRequestRequest& r) -> std::string {
        if (std::string e = Required(a, "ground", r.mutable_ground()); !e.empty()) return e;
        if (std::string e = Required(a, "reason", r.mutable_reasons()); !e.empty()) return e;
        return When(a, "until", r.mutable_until_time());
      });
}

int ProposeConditions(Context& ctx, const Args& args) {
  return Verb<v1::ProposeConditionsRequest>(
      ctx, args, &Stub::ProposeConditions,
      [](const Args& a, v1::ProposeConditionsRequest& r) -> std::string {
        for (const std::string& c : a.GetAll("condition")) {
          std::vector<std::string> parts = absl::StrSplit(c, absl::MaxSplits(':', 1));
          if (parts.size() != 2) return "--condition takes KIND:TEXT, e.g. use-limitation:...";
          absl::StatusOr<int> kind = ParseEnum(v1::ConditionKind_descriptor(), parts[0]);
          if (!kind.ok()) return std::string(kind.status().message());
          auto* cond = r.add_conditions();
          cond->set_kind(v1::ConditionKind(*kind));
          cond->set_text(parts[1]);
        }
        return r.conditions().empty() ? "give at least one --condition KIND:TEXT" : "";
      });
}

// --item NAME:SHA256:CATEGORY[:SIZE] or --item-file PATH:CATEGORY (the digest is computed here).
std::string AddItems(const Args& a, v1::Delivery* d) {
  for (const std::string& spec : a.GetAll("item")) {
    std::vector<std::string> p = absl::StrSplit(spec, ':');
    if (p.size() < 3 || p.size() > 4) return "--item takes NAME:SHA256:CATEGORY[:SIZE]";
    absl::StatusOr<int> cat = ParseEnum(v1::DataCategory_descriptor(), p[2]);
    if (!cat.ok()) return std::string(cat.status().message());
    auto* item = d->add_items();
    item->set_name(p[0]);
    item->set_sha256(p[1]);
    item->set_category(v1::DataCategory(*cat));
    int64_t size = 0;
    if (p.size() == 4 && !absl::SimpleAtoi(p[3], &size)) return "SIZE must be a number";
    item->set_size_bytes(size);
  }
  for (const std::string& spec : a.GetAll("item-file")) {
    const size_t colon = spec.rfind(':');
    if (colon == std::string::npos) return "--item-file takes PATH:CATEGORY";
    absl::StatusOr<int> cat = ParseEnum(v1::DataCategory_descriptor(), spec.substr(colon + 1));
    if (!cat.ok()) return std::string(cat.status().message());
    const std::string path = spec.substr(0, colon);
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::StrCat("cannot read ", path);
    std::stringstream bytes;
    bytes << in.rdbuf();
    auto* item = d->add_items();
    item->set_name(path.substr(path.rfind('/') + 1));
    item->set_sha256(ToHex(Sha256(bytes.str())));
    item->set_category(v1::DataCategory(*cat));
    item->set_size_bytes(static_cast<int64_t>(bytes.str().size()));
  }
  for (const std::string& package : a.GetAll("package")) {
    d->add_packages(package.find('/') != std::string::npos
                        ? package
                        : absl::StrCat(RequestName(a.positional()[0]), "/packages/", package));
  }
  return d->items().empty() && d->packages().empty()
             ? "give at least one --package, --item or --item-file"
             : "";
}

int Deliver(Context& ctx, const Args& args) {
  return Verb<v1::DeliverEvidenceRequest>(
      ctx, args, &Stub::DeliverEvidence,
      [](const Args& a, v1::DeliverEvidenceRequest& r) -> std::string {
        v1::Delivery* d = r.mutable_delivery();
        d->set_final(a.Has("final"));
        d->set_transfer_conditions(a.Get("transfer-conditions"));
        return AddItems(a, d);
      });
}

int Note(Context& ctx, const Args& args) {
  return Verb<v1::AddNoteRequest>(
      ctx, args, &Stub::AddNote, [](const Args& a, v1::AddNoteRequest& r) -> std::string {
        absl::StatusOr<int> kind = ParseEnum(v1::NoteKind_descriptor(), a.Get("kind", "comment"));
        if (!kind.ok()) return absl::StrCat("--kind: ", kind.status().message());
        r.set_kind(v1::NoteKind(*kind));
        if (std::string e = Required(a, "text", r.mutable_text()); !e.empty()) return e;
        return a.Has("estimate") ? When(a, "estimate", r.mutable_new_estimate_time()) : "";
      });
}

template <typename Req>
int Plain(Context& ctx, const Args& args,
          grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, v1::Request*)) {
  return Verb<Req>(ctx, args, method, nullptr);
}

// For verbs whose only extra is one text option.
template <typename Req>
int WithText(Context& ctx, const Args& args,
             grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, v1::Request*),
             const std::string& option, std::string* (Req::*field)(), bool required) {
  return Verb<Req>(
      ctx, args, method, [option, field, required](const Args& a, Req& r) -> std::string {
        *((r.*field)()) = a.Get(option);
        return required && a.Get(option).empty() ? absl::StrCat("--", option, " is required") : "";
      });
}

}  // namespace

std::vector<Option> VerbOptions(std::vector<Option> more) {
  more.push_back({"etag", "ETAG", "act only if the request is still at this version"});
  more.push_back(
      {"request-id", "ID", "an idempotency key: a retry with it is answered, not repeated"});
  return more;
}

std::vector<CommandSpec> RequestCommands() {
  return {
      {"request",
       "create",
       "-f REQUEST.textproto [--follows ID] [--request-id ID]   (makes a draft)",
       {{"file", "FILE", "the request, a comity.v1.Request in text format (-f)"},
        {"follows", "ID", "the preservation this request follows up"},
        {"request-id", "ID", "an idempotency key: a retry with it is answered, not repeated"}},
       [](Context& c, const Args& a) { return Create(c, a, false); },
       "CreateRequest"},
      {"request",
       "submit",
       "-f REQUEST.textproto [--follows ID] | ID   (create and submit, or submit a draft)",
       {{"file", "FILE", "the request, a comity.v1.Request in text format (-f)"},
        {"follows", "ID", "the preservation this request follows up"},
        {"request-id", "ID", "an idempotency key: a retry with it is answered, not repeated"},
        {"etag", "ETAG", "act only if the request is still at this version"}},
       Submit,
       "SubmitRequest"},
      {"request", "update", "ID -f REQUEST.textproto   (replace a draft's content)",
       VerbOptions({{"file", "FILE", "the request, a comity.v1.Request in text format (-f)"}}),
       Update, "UpdateDraft"},
      {"request", "get", "ID", {}, Get},
      {"request",
       "list",
       "[--state S] [--type T] [--priority P] [--side requesting|receiving] [--counterpart A] "
       "[--instrument I] [--by-due] [--due-before 48h|TIME] [--page-size N] [--page-token T] "
       "[--all]",
       {{"state", "S", "a state, e.g. submitted"},
        {"type", "T", "a request type, e.g. preservation"},
        {"priority", "P", "routine, urgent or emergency"},
        {"side", "SIDE", "requesting or receiving"},
        {"counterpart", "AUTHORITY", "the other side's authority"},
        {"instrument", "ID", "a profile id, e.g. uncc"},
        {"by-due", "", "order by next due time"},
        {"due-before", "TIME|DURATION", "only those due before"},
        {"page-size", "N", "1-1000"},
        {"page-token", "T", "from the previous page"},
        {"all", "", "every page"}},
       List},
      {"request", "acknowledge", "ID", VerbOptions(),
       [](Context& c, const Args& a) {
         return Plain<v1::AcknowledgeRequestRequest>(c, a, &Stub::AcknowledgeRequest);
       },
       "AcknowledgeRequest"},
      {"request", "ask", "ID --questions TEXT   (request more information)",
       VerbOptions({{"questions", "TEXT", "what the requesting side must answer"}}),
       [](Context& c, const Args& a) {
         return WithText<v1::RequestInformationRequest>(
             c, a, &Stub::RequestInformation, "questions",
             &v1::RequestInformationRequest::mutable_questions, true);
       },
       "RequestInformation"},
      {"request", "supplement", "ID --information TEXT",
       VerbOptions({{"information", "TEXT", "the information asked for"}}),
       [](Context& c, const Args& a) {
         return WithText<v1::SupplementRequestRequest>(
             c, a, &Stub::SupplementRequest, "information",
             &v1::SupplementRequestRequest::mutable_information, true);
       },
       "SupplementRequest"},
      {"request", "consult", "ID (--ground G ... | --postpone) --reason TEXT",
       VerbOptions({{"ground", "G", "a ground of the instrument (repeat for several)"},
                    {"postpone", "", "consult on postponing instead"},
                    {"reason", "TEXT", "the reasons, for the trail"}}),
       Consult, "ConsultRequest"},
      {"request", "propose-conditions", "ID --condition KIND:TEXT ...",
       VerbOptions({{"condition", "KIND:TEXT", "a condition (repeat for several)"}}),
       ProposeConditions, "ProposeConditions"},
      {"request", "accept-conditions", "ID", VerbOptions(),
       [](Context& c, const Args& a) {
         return Plain<v1::AcceptConditionsRequest>(c, a, &Stub::AcceptConditions);
       },
       "AcceptConditions"},
      {"request", "decline-conditions", "ID --reason TEXT",
       VerbOptions({{"reason", "TEXT", "the reasons, for the trail"}}),
       [](Context& c, const Args& a) {
         return WithText<v1::DeclineConditionsRequest>(
             c, a, &Stub::DeclineConditions, "reason",
             &v1::DeclineConditionsRequest::mutable_reason, true);
       },
       "DeclineConditions"},
      {"request", "accept", "ID", VerbOptions(),
       [](Context& c, const Args& a) {
         return Plain<v1::AcceptRequestRequest>(c, a, &Stub::AcceptRequest);
       },
       "AcceptRequest"},
      {"request", "postpone", "ID --ground G --reason TEXT --until TIME|90d",
       VerbOptions(
           {{"ground", "G", "the postponement ground"},
            {"reason", "TEXT", "the reasons, for the trail"},
            {"until", "TIME|DURATION", "an RFC 3339 time or a duration from now, e.g. 90d"}}),
       Postpone, "PostponeRequest"},
      {"request", "resume", "ID", VerbOptions(),
       [](Context& c, const Args& a) {
         return Plain<v1::ResumeRequestRequest>(c, a, &Stub::ResumeRequest);
       },
       "ResumeRequest"},
      {"request", "refuse", "ID --ground G [--ground G ...] --reason TEXT",
       VerbOptions({{"ground", "G", "a ground of the instrument (repeat for several)"},
                    {"reason", "TEXT", "the reasons, for the trail"}}),
       Refuse, "RefuseRequest"},
      {"request", "deliver",
       "ID (--package PACKAGE | --item NAME:SHA256:CATEGORY[:SIZE] | --item-file PATH:CATEGORY) "
       "... [--final] "
       "[--transfer-conditions TEXT]",
       VerbOptions({{"package", "PACKAGE", "a complete evidence package delivered (repeat)"},
                    {"item", "NAME:SHA256:CATEGORY[:SIZE]", "an item delivered (repeat)"},
                    {"item-file", "PATH:CATEGORY",
                     "an item read from a file, its digest computed here (repeat)"},
                    {"final", "", "the last delivery"},
                    {"transfer-conditions", "TEXT", "conditions on the transfer"}}),
       Deliver, "DeliverEvidence"},
      {"request", "confirm-receipt", "ID", VerbOptions(),
       [](Context& c, const Args& a) {
         return Plain<v1::ConfirmReceiptRequest>(c, a, &Stub::ConfirmReceipt);
       },
       "ConfirmReceipt"},
      {"request", "confirm-preserved", "ID --until TIME|60d",
       VerbOptions(
           {{"until", "TIME|DURATION", "an RFC 3339 time or a duration from now, e.g. 90d"}}),
       [](Context& c, const Args& a) {
         return Verb<v1::ConfirmPreservedRequest>(
             c, a, &Stub::ConfirmPreserved, [](const Args& args, v1::ConfirmPreservedRequest& r) {
               return When(args, "until", r.mutable_expire_time());
             });
       },
       "ConfirmPreserved"},
      {"request", "extend", "ID --until TIME|90d [--reason TEXT]",
       VerbOptions({{"until", "TIME|DURATION", "an RFC 3339 time or a duration from now, e.g. 90d"},
                    {"reason", "TEXT", "why the preservation is extended"}}),
       [](Context& c, const Args& a) {
         return Verb<v1::ExtendPreservationRequest>(
             c, a, &Stub::ExtendPreservation,
             [](const Args& args, v1::ExtendPreservationRequest& r) {
               r.set_reasons(args.Get("reason"));
               return When(args, "until", r.mutable_expire_time());
             });
       },
       "ExtendPreservation"},
      {"request", "release", "ID [--reason TEXT]",
       VerbOptions({{"reason", "TEXT", "why it is released"}}),
       [](Context& c, const Args& a) {
         return WithText<v1::ReleasePreservationRequest>(
             c, a, &Stub::ReleasePreservation, "reason",
             &v1::ReleasePreservationRequest::mutable_reason, false);
       },
       "ReleasePreservation"},
      {"request", "withdraw", "ID --reason TEXT",
       VerbOptions({{"reason", "TEXT", "the reasons, for the trail"}}),
       [](Context& c, const Args& a) {
         return WithText<v1::WithdrawRequestRequest>(c, a, &Stub::WithdrawRequest, "reason",
                                                     &v1::WithdrawRequestRequest::mutable_reason,
                                                     true);
       },
       "WithdrawRequest"},
      {"request", "note",
       "ID --kind status-enquiry|status-reply|delay-notice|risk-notice|confidentiality-notice|"
       "comment --text TEXT [--estimate TIME]",
       VerbOptions({{"kind", "KIND",
                     "status-enquiry, status-reply, delay-notice, risk-notice, "
                     "confidentiality-notice or comment"},
                    {"text", "TEXT", "the note"},
                    {"estimate", "TIME|DURATION", "a delay notice's new estimate"}}),
       Note, "AddNote"},
  };
}

}  // namespace comity::cli
