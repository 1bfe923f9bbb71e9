// The HTTP layer's view of one request and its answer, without a socket: mhd_server.cc fills an
// http_request from libmicrohttpd and sends the http_response back; web_handler decides. Tests
// and the fuzzer build these structs directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace portier::gateway::web {

// Largest request body read (application/x-www-form-urlencoded only).
inline constexpr std::size_t kMaxBodyBytes = 8 * 1024;
// Largest request target (path and query) accepted.
inline constexpr std::size_t kMaxTargetBytes = 2048;
// Most fields in a query or a form.
inline constexpr std::size_t kMaxFields = 64;

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method;   // as sent: "GET", "POST", ...
  std::string target;   // the raw request target: "/path?query", not decoded
  header_list headers;  // in order; names in any case (compared case-insensitively)
  // The body, at most kMaxBodyBytes + 1 bytes: one more than allowed says it was larger.
  std::string body;
  std::string peer;         // the client's address (its /64 for IPv6): the key of login rate limits
  std::int64_t now_ms = 0;  // Unix milliseconds
};

struct http_response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  header_list headers;  // Set-Cookie may repeat
};

}  // namespace portier::gateway::web
