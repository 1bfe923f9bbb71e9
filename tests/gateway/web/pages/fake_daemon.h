// A stand-in for portierd behind the control socket: canned answers per command, written as
// text-format Responses, and every request it was sent, to check what the page asked.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "control.pb.h"
#include "gateway/web/app.h"

namespace portier::gateway::web::testing {

struct fake_daemon {
  // Answers by command (Request::kStatus, ...); a command without one gets UNAVAILABLE.
  std::map<int, control::Response> answers;
  std::vector<control::Request> requests;

  // Sets the answer to `command` from a text-format Response (an OK one unless it says otherwise).
  void answer(control::Request::CommandCase command, const std::string& text);
  // A household with two devices (one named like markup), three purposes, a report with 24
  // buckets, an explanation, receipts and policy updates: every page has something to show.
  void fill_household();

  control_call call();
  // How many requests carried `command`.
  int count(control::Request::CommandCase command) const;
};

// The request a browser makes: `target` is a path with an optional query ("/?span=week");
// `form` are the fields of a POST.
app_request get(const std::string& target, language lang = language::en);
app_request post(const std::string& path,
                 std::vector<std::pair<std::string, std::string>> form = {},
                 language lang = language::en);

inline constexpr const char* kCsrf = "csrf-token-0123456789";
// 2026-12-05 12:00:00 UTC.
inline constexpr std::int64_t kNowMs = 1796472000000;

// How many times `needle` occurs in `hay`.
int occurrences(const std::string& hay, const std::string& needle);

}  // namespace portier::gateway::web::testing
