#include "gateway/web/http/mhd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include <microhttpd.h>

#include "platform/wall_clock.h"

namespace portier::gateway::web {

namespace {

// What libmicrohttpd keeps for one request between calls of the access handler.
struct request_state {
  http_request request;
  bool headers_seen = false;
};

// The client's address as the login limiter counts it: an IPv4 address, or the /64 of an IPv6
// one (a single host is given a whole /64 to pick addresses from).
std::string client_key(const sockaddr* addr) {
  if (addr == nullptr) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return text;
  }
  if (addr->sa_family == AF_INET6) {
    in6_addr prefix = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    std::memset(prefix.s6_addr + 8, 0, 8);
    ::inet_ntop(AF_INET6, &prefix, text, sizeof text);
    return std::string(text) + "/64";
  }
  return "";
}

MHD_Result collect_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<header_list*>(cls);
  headers->emplace_back(key != nullptr ? key : "", value != nullptr ? value : "");
  return MHD_YES;
}

void* on_uri(void*, const char* uri, MHD_Connection*) {
  auto* state = new request_state;
  state->request.target = uri != nullptr ? uri : "";
  return state;
}

void on_completed(void*, MHD_Connection*, void** req_cls, MHD_RequestTerminationCode) {
  delete static_cast<request_state*>(*req_cls);
  *req_cls = nullptr;
}

MHD_Result send(MHD_Connection* connection, const http_response& r) {
  MHD_Response* response = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  if (!r.body.empty() || r.status != 303)
    MHD_add_response_header(response, "Content-Type", r.content_type.c_str());
  for (const auto& [name, value] : r.headers)
    MHD_add_response_header(response, name.c_str(), value.c_str());
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return queued;
}

MHD_Result on_request(void* cls, MHD_Connection* connection, const char*, const char* method,
                      const char*, const char* upload_data, size_t* upload_data_size,
                      void** req_cls) {
  auto* server = static_cast<web_server*>(cls);
  auto* state = static_cast<request_state*>(*req_cls);
  if (state == nullptr) return MHD_NO;
  http_request& request = state->request;
  if (!state->headers_seen) {
    state->headers_seen = true;
    request.method = method != nullptr ? method : "";
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header, &request.headers);
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    request.peer = client_key(info != nullptr ? info->client_addr : nullptr);
    request.now_ms = platform::wall_ms();
    bool refused = false;
    const http_response early = server->serve(request, true, refused);
    if (refused) return send(connection, early);
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    const std::size_t room = kMaxBodyBytes + 1 - std::min(request.body.size(), kMaxBodyBytes + 1);
    request.body.append(upload_data, std::min(room, *upload_data_size));
    *upload_data_size = 0;
    return MHD_YES;
  }
  request.now_ms = platform::wall_ms();
  bool refused = false;
  return send(connection, server->serve(request, false, refused));
}

}  // namespace

http_response web_server::serve(const http_request& request, bool headers_only, bool& refused) {
  std::lock_guard lock(mutex_);
  if (headers_only) {
    auto early = handler_.refuse_early(request);
    refused = early.has_value();
    return early ? std::move(*early) : http_response{};
  }
  refused = false;
  return handler_.handle(request);
}

platform::result<std::unique_ptr<web_server>> web_server::start(
    const std::vector<listen_address>& listen, const std::string& key_pem,
    const std::string& cert_pem, const server_limits& limits, web_handler& handler) {
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
    return platform::error{"this libmicrohttpd was built without TLS"};
  std::unique_ptr<web_server> server(new web_server(handler, key_pem, cert_pem));
  for (const auto& l : listen) {
    sockaddr_storage storage{};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_TLS;
    if (inet_pton(AF_INET, l.address.c_str(),
                  &reinterpret_cast<sockaddr_in*>(&storage)->sin_addr) == 1) {
      auto* in = reinterpret_cast<sockaddr_in*>(&storage);
      in->sin_family = AF_INET;
      in->sin_port = htons(static_cast<std::uint16_t>(l.port));
    } else if (inet_pton(AF_INET6, l.address.c_str(),
                         &reinterpret_cast<sockaddr_in6*>(&storage)->sin6_addr) == 1) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<std::uint16_t>(l.port));
      flags |= MHD_USE_IPv6;
    } else {
      return platform::error{"\"" + l.address + "\" is not an IP address"};
    }
    MHD_Daemon* d = MHD_start_daemon(
        flags, static_cast<std::uint16_t>(l.port), nullptr, nullptr, &on_request, server.get(),
        MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&storage), MHD_OPTION_HTTPS_MEM_KEY,
        server->key_pem_.c_str(), MHD_OPTION_HTTPS_MEM_CERT, server->cert_pem_.c_str(),
        MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
        MHD_OPTION_CONNECTION_LIMIT, limits.connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        limits.per_client, MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_seconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.connection_memory_bytes,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK, &on_uri, nullptr,
        MHD_OPTION_NOTIFY_COMPLETED, &on_completed, nullptr, MHD_OPTION_END);
    if (d == nullptr) {
      return platform::error{"cannot listen on " + l.address + " port " + std::to_string(l.port) +
                             " (in use, or not an address of this box?)"};
    }
    server->daemons_.push_back(d);
  }
  return server;
}

unsigned web_server::bound_port(std::size_t i) const {
  if (i >= daemons_.size()) return 0;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemons_[i], MHD_DAEMON_INFO_BIND_PORT);
  return info != nullptr ? info->port : 0;
}

web_server::~web_server() {
  for (MHD_Daemon* d : daemons_) MHD_stop_daemon(d);
}

}  // namespace portier::gateway::web
