// libmicrohttpd adapted to web_handler: HTTPS only (GnuTLS inside libmicrohttpd, with the key and
// certificate given in memory), one daemon per listen address, each with its own internal polling
// thread; a mutex makes the handler see one request at a time.
//
// Bounds, on top of the handler's: connections at once (all clients, and per client address),
// an idle connection timeout, and libmicrohttpd's per-connection memory pool, which bounds the
// request line and headers (larger ones get its own 431 or 414, without our headers). Bodies are
// read only after the handler accepted the headers (Content-Length at most kMaxBodyBytes, never
// chunked); whatever comes beyond kMaxBodyBytes + 1 bytes is dropped unread into memory.
// libmicrohttpd's post processor (multipart) is not used.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/web/http/web_handler.h"
#include "platform/result.h"

struct MHD_Daemon;

namespace portier::gateway::web {

struct listen_address {
  std::string address;  // a literal IPv4 or IPv6 address
  unsigned port = 0;    // 0: any free port (tests), see bound_port()
};

struct server_limits {
  unsigned connections = 32;
  unsigned per_client = 8;
  unsigned idle_timeout_seconds = 15;
  std::size_t connection_memory_bytes = 16 * 1024;
};

class web_server {
 public:
  // Starts listening on every address, or fails with none listening. `handler` must outlive the
  // server.
  static platform::result<std::unique_ptr<web_server>> start(
      const std::vector<listen_address>& listen, const std::string& key_pem,
      const std::string& cert_pem, const server_limits& limits, web_handler& handler);
  ~web_server();
  web_server(const web_server&) = delete;
  web_server& operator=(const web_server&) = delete;

  // The port daemon `i` listens on.
  unsigned bound_port(std::size_t i) const;

  // Called by libmicrohttpd's threads.
  http_response serve(const http_request& request, bool headers_only, bool& refused);

 private:
  web_server(web_handler& handler, std::string key_pem, std::string cert_pem)
      : handler_(handler), key_pem_(std::move(key_pem)), cert_pem_(std::move(cert_pem)) {}

  web_handler& handler_;
  std::mutex mutex_;
  // libmicrohttpd keeps pointers to these for the daemons' lives.
  std::string key_pem_;
  std::string cert_pem_;
  std::vector<MHD_Daemon*> daemons_;
};

}  // namespace portier::gateway::web
