// comity inbox, comity due: what the caller's authority has on its plate, and the live feed.

#include <algorithm>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/cli/commands.h"
#include "clients/cli/format.h"
#include "comity/v1/requests.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace comity::cli {
namespace {

// Every page of `req`.
grpc::Status ListAll(const Context& ctx, v1::ListRequestsRequest req,
                     std::vector<v1::Request>* out) {
  auto stub = v1::RequestService::NewStub(ctx.channel);
  req.set_page_size(1000);
  for (;;) {
    v1::ListRequestsResponse page;
    auto call = ctx.NewCall();
    grpc::Status status = stub->ListRequests(call.get(), req, &page);
    if (!status.ok()) return status;
    out->insert(out->end(), page.requests().begin(), page.requests().end());
    if (page.next_page_token().empty()) return grpc::Status::OK;
    req.set_page_token(page.next_page_token());
  }
}

bool IsTerminal(v1::State s) {
  return s == v1::REFUSED || s == v1::WITHDRAWN || s == v1::CLOSED || s == v1::EXPIRED;
}

// comity due --within 48h: every running clock that falls due within the window (or is overdue).
int Due(Context& ctx, const Args& args) {
  absl::StatusOr<absl::Time> before = ParseWhen(args.Get("within", "48h"), absl::Now());
  if (!before.ok()) {
    return UsageError(absl::StrCat("--within takes a duration such as 48h, 90m or 7d: ",
                                   before.status().message()));
  }
  v1::ListRequestsRequest req;
  *req.mutable_due_before() = ToTimestamp(*before);
  req.set_order_by("next_due_time");
  std::vector<v1::Request> due;
  if (grpc::Status s = ListAll(ctx, req, &due); !s.ok()) return PrintError(s);
  if (ctx.json) {
    v1::ListRequestsResponse all;
    for (const v1::Request& r : due) *all.add_requests() = r;
    PrintJson(all);
  } else {
    PrintDue(due, *before);
  }
  return 0;
}

// The stream ended; returns true if it should be reopened after `*after` (updated from the
// server's resume hint), false (with `*code` set) if not.
bool Resumable(const grpc::Status& status, uint64_t* after, int* code) {
  switch (status.error_code()) {
    case grpc::StatusCode::RESOURCE_EXHAUSTED: {
      google::rpc::Status details;
      google::rpc::ErrorInfo info;
      uint64_t hint = 0;
      if (details.ParseFromString(status.error_details()) && details.details_size() > 0 &&
          details.details(0).UnpackTo(&info) &&
          absl::SimpleAtoi(
              info.metadata().count("resume_after") > 0 ? info.metadata().at("resume_after") : "",
              &hint)) {
        *after = std::max(*after, hint);
      }
      return true;
    }
    case grpc::StatusCode::UNAVAILABLE:
      return true;
    default:
      *code = PrintError(status);
      return false;
  }
}

// comity inbox [--watch] [--after CURSOR]: the authority's live requests by next due time; with
// --watch, then every change as it happens, reconnecting from the last cursor when the stream
// breaks.
int Inbox(Context& ctx, const Args& args) {
  uint64_t after = 0;
  if (args.Has("after") && !absl::SimpleAtoi(args.Get("after"), &after)) {
    return UsageError("--after takes a cursor (a number printed with each event)");
  }
  auto stub = v1::RequestService::NewStub(ctx.channel);
  if (!args.Has("after")) {
    std::vector<v1::Request> all;
    if (grpc::Status s = ListAll(ctx, v1::ListRequestsRequest(), &all); !s.ok()) {
      return PrintError(s);
    }
    all.erase(std::remove_if(all.begin(), all.end(),
                             [](const v1::Request& r) { return IsTerminal(r.state()); }),
              all.end());
    std::stable_sort(all.begin(), all.end(), [](const v1::Request& a, const v1::Request& b) {
      if (a.has_next_due_time() != b.has_next_due_time()) return a.has_next_due_time();
      return a.next_due_time().seconds() < b.next_due_time().seconds();
    });
    v1::ListRequestsResponse list;
    for (const v1::Request& r : all) *list.add_requests() = r;
    if (ctx.json) {
      PrintJson(list);
    } else {
      PrintRequests(list);
    }
  }
  if (!args.Has("watch")) return 0;
  if (!ctx.json) std::cout << "\nwatching (Ctrl-C to stop; resume with --after CURSOR)\n";
  bool from_head = !args.Has("after");
  absl::Duration backoff = absl::Milliseconds(250);
  for (;;) {
    grpc::ClientContext call;  // no deadline: the stream lasts
    if (!ctx.principal.empty()) call.AddMetadata("x-comity-principal", ctx.principal);
    v1::WatchEventsRequest req;
    req.set_after_cursor(after);
    req.set_start_at_head(from_head);
    auto reader = stub->WatchEvents(&call, req);
    v1::WatchEventsResponse msg;
    while (reader->Read(&msg)) {
      backoff = absl::Milliseconds(250);
      from_head = false;
      for (const v1::Event& e : msg.events()) {
        after = e.cursor();
        if (ctx.json) {
          PrintJson(e);
          std::cout << std::endl;
        } else {
          PrintEvent(e);
        }
      }
    }
    int code = 0;
    if (!Resumable(reader->Finish(), &after, &code)) return code;
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

}  // namespace

std::vector<CommandSpec> InboxCommands() {
  return {
      {"inbox",
       "",
       "[--watch] [--after CURSOR]   (live requests by next due time; --watch: then every change)",
       {{"watch", "", "then print every change as it happens"},
        {"after", "CURSOR", "resume a watch after this cursor"}},
       Inbox},
      {"due",
       "",
       "[--within 48h]   (running clocks due within the window, overdue included)",
       {{"within", "DURATION", "the window, e.g. 48h or 3d (default 48h)"}},
       Due},
  };
}

}  // namespace comity::cli
