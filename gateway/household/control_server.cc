#include "gateway/household/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

#include "gateway/household/control_frame.h"
#include "gateway/household/control_protocol.h"
#include "platform/log.h"
#include "policies/json_text.h"

namespace portier::gateway {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr std::int64_t kDayMs = 24 * 60 * 60 * 1000;

bool id_chars(std::string_view s, std::size_t max, bool letter_first, std::string_view extra) {
  if (s.empty() || s.size() > max) return false;
  if (letter_first && !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool valid_purpose_id(std::string_view s) {
  return id_chars(s, 32, true, "-");
}
bool valid_class_id(std::string_view s) {
  return id_chars(s, 48, true, "-");
}
bool valid_method(std::string_view s) {
  return id_chars(s, 32, false, "-_.");
}

bool valid_device_id(std::string_view s) {
  return !s.empty() && s.size() <= kMaxControlIdBytes && s.find('\0') == std::string_view::npos &&
         policies::valid_utf8(s);
}

// An address a terminal and a browser can show as it is: "https://", then printable ASCII.
bool valid_web_url(std::string_view s) {
  if (s.size() > kMaxWebUrlBytes || s.size() <= 8 || s.substr(0, 8) != "https://") return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

// "3f:a1:...": 32 bytes of lower-case hex, ':' between them.
bool valid_fingerprint(std::string_view s) {
  if (s.size() != kWebFingerprintChars) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = i % 3 == 2 ? c == ':' : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!ok) return false;
  }
  return true;
}

std::optional<control::Response> invalid(std::string message) {
  return control_error(control::Response::INVALID_REQUEST, std::move(message));
}

bool has_unknown_fields(const Message& m) {
  const Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) return true;
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (has_unknown_fields(r->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (has_unknown_fields(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

// Length of the well-formed UTF-8 sequence at the start of `s` (Unicode Table 3-7), 0 if none.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  }
  return n;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  while (!s.empty()) {
    const std::size_t n = utf8_sequence(s);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      s.remove_prefix(1);
    } else {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    }
  }
  return out;
}

// The frame of `response` as sent: the rules of step 5 of the contract applied.
std::string answer_frame(control::Response response) {
  if (response.code() != control::Response::OK) response.clear_result();
  make_strings_utf8(response);
  std::string bytes;
  if (!response.SerializeToString(&bytes) || bytes.size() > kMaxControlResponseBytes) {
    platform::log_error("control: the answer (", bytes.size(), " bytes) cannot be sent");
    bytes.clear();
    control_error(control::Response::INTERNAL,
                  "portierd's answer is too large to send; report the problem with the output of "
                  "`journalctl -u portierd`.")
        .SerializeToString(&bytes);
  }
  const auto n = static_cast<std::uint32_t>(bytes.size());
  std::string frame = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  frame += bytes;
  return frame;
}

// Sends a short answer on a connection that is closed right after (refusals): one attempt that
// never blocks. A new connection's send buffer is empty, so the frame fits.
void send_and_forget(const platform::unix_socket& socket, control::Response response) {
  const std::string frame = answer_frame(std::move(response));
  const ssize_t n = ::send(socket.fd(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(frame.size())) {
    platform::log_debug("control: a refusal could not be sent whole");
  }
}

int poll_timeout_ms(std::chrono::steady_clock::duration left) {
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

}  // namespace

std::string_view control_event_name(control_event e) {
  switch (e) {
    case control_event::served:
      return "served";
    case control_event::refused:
      return "refused";
    case control_event::invalid:
      return "invalid";
    case control_event::timed_out:
      return "timed_out";
    case control_event::failed:
      return "failed";
    case control_event::busy:
      return "busy";
  }
  return "unknown";
}

control::Response control_error(control::Response::Code code, std::string message) {
  control::Response r;
  r.set_code(code);
  r.set_message(std::move(message));
  return r;
}

bool control_peer_allowed(const platform::peer_credentials& peer, std::optional<gid_t> group,
                          const std::function<bool(uid_t, gid_t)>& in_group) {
  if (peer.uid == 0) return true;
  if (!group) return false;
  if (peer.gid == *group) return true;
  return in_group && in_group(peer.uid, *group);
}

std::optional<control::Response> validate_request(const control::Request& request,
                                                  std::int64_t now_ms) {
  using R = control::Request;
  if (request.command_case() == R::COMMAND_NOT_SET || has_unknown_fields(request)) {
    return invalid(
        "This portierd does not understand the request; make sure portierctl and portierd are the "
        "same "
        "version.");
  }
  if (!valid_method(request.method())) {
    return invalid(
        "The request's method must be 1 to 32 lower-case letters, digits, '-', '_' or '.' (e.g. "
        "\"cli\"); "
        "fix the client that sent it.");
  }
  const std::string device_rule = "device ids are 1 to " + std::to_string(kMaxControlIdBytes) +
                                  " bytes of text; run `portierctl devices` to see them.";
  switch (request.command_case()) {
    case R::kSetConsent: {
      const auto& c = request.set_consent();
      if (!valid_purpose_id(c.purpose())) {
        return invalid(
            "That is not a purpose id: ids are 1 to 32 lower-case letters, digits or '-', starting "
            "with a "
            "letter; run `portierctl purposes` to see them.");
      }
      if (c.decision() != control::DECISION_GRANT && c.decision() != control::DECISION_REFUSE &&
          c.decision() != control::DECISION_CLEAR) {
        return invalid("The decision must be grant, refuse or clear.");
      }
      switch (c.scope()) {
        case consent::SCOPE_HOUSEHOLD:
          if (!c.value().empty()) {
            return invalid(
                "A decision for the whole home names no device or class; leave the value empty.");
          }
          break;
        case consent::SCOPE_DEVICE_CLASS:
          if (!valid_class_id(c.value())) {
            return invalid(
                "That is not a device class id: ids are 1 to 48 lower-case letters, digits or '-', "
                "starting "
                "with a letter; run `portierctl devices` to see the classes.");
          }
          break;
        case consent::SCOPE_DEVICE:
          if (!valid_device_id(c.value()))
            return invalid("That is not a device id: " + device_rule);
          break;
        default:
          return invalid("The scope must be the whole home, a device class or a device.");
      }
      break;
    }
    case R::kReport: {
      const auto& r = request.report();
      if (r.since_ms() < 0 || r.since_ms() > now_ms + kDayMs) {
        return invalid("The report must start at a time in the past (e.g. --since 7d).");
      }
      if (r.bucket_ms() != 0) {
        if (r.bucket_ms() < kMinBucketMs || r.since_ms() == 0) {
          return invalid(
              "A report in buckets needs a start (since_ms) and buckets of at least a minute "
              "(bucket_ms 60000).");
        }
        if (report_buckets(r.since_ms(), r.bucket_ms(), now_ms) > kMaxReportBuckets) {
          return invalid("A report has at most " + std::to_string(kMaxReportBuckets) +
                         " buckets: ask for longer buckets or a later start.");
        }
      }
      break;
    }
    case R::kRedeemPairing: {
      const std::size_t n = request.redeem_pairing().code().size();
      if (n == 0 || n > kMaxPairingCodeBytes) {
        return invalid("A pairing code is 1 to " + std::to_string(kMaxPairingCodeBytes) +
                       " bytes, e.g. \"K7QM-4XRT\"; run `portierctl pair` for a new one.");
      }
      break;
    }
    case R::kWebAnnounce: {
      const auto& a = request.web_announce();
      if (a.urls_size() > static_cast<int>(kMaxWebUrls)) {
        return invalid("The LAN page may announce at most " + std::to_string(kMaxWebUrls) +
                       " addresses.");
      }
      for (const auto& url : a.urls()) {
        if (!valid_web_url(url)) {
          return invalid("A LAN page address is an https:// URL of at most " +
                         std::to_string(kMaxWebUrlBytes) +
                         " bytes of printable ASCII, without spaces.");
        }
      }
      if (!valid_fingerprint(a.fingerprint_sha256())) {
        return invalid(
            "The certificate fingerprint is SHA-256 in lower-case hex with ':' between bytes "
            "(95 characters, e.g. \"3f:a1:...\").");
      }
      break;
    }
    case R::kPolicyHistory:
      if (request.policy_history().limit() > kMaxPolicyHistory) {
        return invalid("Ask for at most " + std::to_string(kMaxPolicyHistory) +
                       " policy changes (limit).");
      }
      break;
    case R::kExplain:
      if (!valid_device_id(request.explain().device()))
        return invalid("That is not a device id: " + device_rule);
      break;
    case R::kErase:
      if (!valid_device_id(request.erase().device()))
        return invalid("That is not a device id: " + device_rule);
      break;
    default:
      break;
  }
  return std::nullopt;
}

parsed_request parse_request(std::string_view body, std::int64_t now_ms) {
  parsed_request out;
  bool parsed;
  {
    google::protobuf::LogSilencer quiet;  // a hostile frame must not fill the log
    parsed = out.request.ParseFromArray(body.data(), static_cast<int>(body.size()));
  }
  if (!parsed) {
    out.error = control_error(control::Response::INVALID_REQUEST,
                              "The request is not a valid control message; make sure portierctl "
                              "and portierd are the same version.");
  } else {
    out.error = validate_request(out.request, now_ms);
  }
  return out;
}

void make_strings_utf8(Message& message) {
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i) {
          const std::string& s = r->GetRepeatedStringReference(message, f, i, nullptr);
          if (!policies::valid_utf8(s)) r->SetRepeatedString(&message, f, i, to_valid_utf8(s));
        }
      } else {
        std::string scratch;
        const std::string& s = r->GetStringReference(message, f, &scratch);
        if (!policies::valid_utf8(s)) r->SetString(&message, f, to_valid_utf8(s));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i)
          make_strings_utf8(*r->MutableRepeatedMessage(&message, f, i));
      } else {
        make_strings_utf8(*r->MutableMessage(&message, f));
      }
    }
  }
}

platform::result<std::unique_ptr<control_server>> control_server::start(
    control_server_options options, control_service& service, event_sink sink) {
  if (options.path.empty()) return platform::error{"the control socket path is empty"};
  if (options.max_request_bytes == 0 || options.max_request_bytes > kMaxControlResponseBytes) {
    return platform::error{"the control request limit must be 1 byte to 64 MiB"};
  }
  if (options.max_connections == 0) {
    return platform::error{"the control server must allow at least one connection"};
  }
  if (!options.now_ms) {
    options.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!options.in_group) options.in_group = platform::user_in_group;

  std::unique_ptr<control_server> server(
      new control_server(std::move(options), service, std::move(sink)));
  if (!server->options_.group.empty()) {
    auto gid = platform::group_id(server->options_.group);
    if (!gid) return platform::error{"control socket group: " + gid.error_message()};
    server->group_ = *gid;
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    return platform::error{std::string("cannot create the control server's wake-up pipe: ") +
                           std::strerror(errno)};
  }
  server->wake_read_ = wake[0];
  server->wake_write_ = wake[1];

  platform::listen_options lo;
  lo.mode = server->options_.socket_mode;
  lo.group = server->group_;
  auto listener = platform::listen_unix(server->options_.path, lo);
  if (!listener) return platform::error{"control socket: " + listener.error_message()};
  server->listener_ = std::move(*listener);
  struct stat st {};
  if (::lstat(server->options_.path.c_str(), &st) == 0) {
    server->socket_dev_ = st.st_dev;
    server->socket_ino_ = st.st_ino;
  }
  server->thread_ = std::thread([s = server.get()] { s->run(); });
  platform::log_info("control: listening on ", server->options_.path,
                     server->group_ ? " for root and group " + server->options_.group
                                    : std::string(" for root only"));
  return server;
}

control_server::control_server(control_server_options options, control_service& service,
                               event_sink sink)
    : options_(std::move(options)), service_(service), sink_(std::move(sink)) {}

control_server::~control_server() {
  stop();
}

void control_server::stop() {
  if (stopped_.exchange(true)) return;
  if (wake_write_ >= 0) {
    const char x = 'x';
    (void)!::write(wake_write_, &x, 1);
  }
  if (thread_.joinable()) thread_.join();
  if (listener_.valid()) {
    listener_.close();
    struct stat st {};
    if (::lstat(options_.path.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
        st.st_ino == socket_ino_) {
      ::unlink(options_.path.c_str());
    }
  }
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
  wake_read_ = wake_write_ = -1;
}

struct control_server::connection {
  connection(platform::unix_socket s, uid_t u, std::size_t max_request_bytes)
      : socket(std::move(s)), uid(u), reader(max_request_bytes) {}
  platform::unix_socket socket;
  uid_t uid;
  control_frame_reader reader;
  std::string out;       // the answer's frame being sent; empty while reading a request
  std::size_t sent = 0;  // bytes of `out` sent
  bool close_after = false;
  clock::time_point deadline;  // for the request being read, or the answer being sent
};

void control_server::emit(control_event e) {
  if (sink_) sink_(e);
}

void control_server::run() {
  std::vector<pollfd> fds;
  clock::time_point accept_paused_until{};
  for (;;) {
    const auto now = clock::now();
    auto wake_at = clock::time_point::max();
    for (auto& c : connections_) {
      if (now >= c->deadline) {
        expire(*c);
        c.reset();
      } else if (c->deadline < wake_at) {
        wake_at = c->deadline;
      }
    }
    std::erase(connections_, nullptr);
    const bool accepting = now >= accept_paused_until;
    if (!accepting && accept_paused_until < wake_at) wake_at = accept_paused_until;

    fds.clear();
    fds.push_back({wake_read_, POLLIN, 0});
    fds.push_back({listener_.fd(), static_cast<short>(accepting ? POLLIN : 0), 0});
    for (const auto& c : connections_) {
      fds.push_back({c->socket.fd(), static_cast<short>(c->out.empty() ? POLLIN : POLLOUT), 0});
    }
    const int n = ::poll(fds.data(), fds.size(),
                         wake_at == clock::time_point::max() ? -1 : poll_timeout_ms(wake_at - now));
    if (n < 0 && errno != EINTR) {
      platform::log_error("control: poll failed: ", std::strerror(errno));
      break;
    }
    if (n <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) break;
    // Connections first: accepting appends to connections_, whose order fds follows.
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto& c = connections_[i - 2];
      const bool keep = c->out.empty() ? receive(*c) : send_pending(*c);
      if (!keep) c.reset();
    }
    std::erase(connections_, nullptr);
    if ((fds[1].revents & POLLIN) != 0 && !accept_pending()) {
      // Out of descriptors: the listener stays readable, so pause rather than spin.
      accept_paused_until = clock::now() + std::chrono::milliseconds(50);
    }
  }
  connections_.clear();
}

bool control_server::accept_pending() {
  // A small batch, so that a flood of connections cannot starve those already open, and a round
  // cannot fill the cap with connections that have had no chance to send their request yet.
  std::size_t fresh = 0;
  for (int i = 0; i < 8; ++i) {
    int error_number = 0;
    auto socket = platform::accept_unix(listener_, &error_number);
    if (!socket) {
      if (error_number == EAGAIN || error_number == EWOULDBLOCK) return true;
      platform::log_debug("control: ", socket.error_message());
      return error_number != EMFILE && error_number != ENFILE && error_number != ENOBUFS &&
             error_number != ENOMEM;
    }
    admit(std::move(*socket), fresh);
  }
  return true;
}

void control_server::admit(platform::unix_socket socket, std::size_t& fresh) {
  auto peer = platform::peer_credentials_of(socket);
  if (!peer || !control_peer_allowed(*peer, group_, options_.in_group)) {
    emit(control_event::refused);
    if (peer) {
      platform::log_warning("control: refused uid ", peer->uid, " (pid ", peer->pid,
                            "): neither root nor in group ",
                            group_ ? options_.group : std::string("(none: root only)"));
    } else {
      platform::log_warning("control: refused a connection: ", peer.error_message());
    }
    const std::string what =
        group_
            ? "You are not allowed to control portierd; ask an administrator to add you to the " +
                  options_.group + " group (adduser YOUR-NAME " + options_.group +
                  "), then log in again."
            : std::string("Only root may control portierd; run the command with sudo.");
    send_and_forget(socket, control_error(control::Response::PERMISSION_DENIED, what));
    return;
  }
  if (connections_.size() >= options_.max_connections && !evict_idle(fresh)) {
    emit(control_event::busy);
    platform::log_warning("control: refused uid ", peer->uid, ": ", options_.max_connections,
                          " control connections are open already");
    send_and_forget(
        socket, control_error(control::Response::UNAVAILABLE,
                              "portierd is serving " + std::to_string(options_.max_connections) +
                                  " control connections already; try again in a few "
                                  "seconds."));
    return;
  }
  const int flags = ::fcntl(socket.fd(), F_GETFL);
  if (flags < 0 || ::fcntl(socket.fd(), F_SETFL, flags | O_NONBLOCK) != 0) {
    platform::log_error("control: cannot make a connection non-blocking: ", std::strerror(errno));
    return;
  }
  auto c = std::make_unique<connection>(std::move(socket), peer->uid, options_.max_request_bytes);
  c->deadline = clock::now() + options_.receive_timeout;
  connections_.push_back(std::move(c));
  ++fresh;
}

bool control_server::evict_idle(std::size_t fresh) {
  // Waiting for a request: nothing to send and nothing of a frame received. The earliest
  // deadline is the longest wait. Connections of this round have had no chance to send yet.
  std::size_t oldest = connections_.size();
  for (std::size_t i = 0; i + fresh < connections_.size(); ++i) {
    const connection& c = *connections_[i];
    if (!c.out.empty() || c.reader.inside_frame()) continue;
    if (oldest == connections_.size() || c.deadline < connections_[oldest]->deadline) oldest = i;
  }
  if (oldest == connections_.size()) return false;
  emit(control_event::busy);
  platform::log_debug("control: uid ", connections_[oldest]->uid,
                      ": an idle connection closed to make room for another");
  send_and_forget(connections_[oldest]->socket,
                  control_error(control::Response::UNAVAILABLE,
                                "portierd closed this idle connection to serve another; connect "
                                "again when you have a request."));
  connections_.erase(connections_.begin() + static_cast<std::ptrdiff_t>(oldest));
  return true;
}

bool control_server::receive(connection& c) {
  char buf[4096];
  for (;;) {
    const std::size_t want = c.reader.wanted();
    const ssize_t n = ::read(c.socket.fd(), buf, want < sizeof buf ? want : sizeof buf);
    if (n > 0) {
      c.reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      if (c.reader.current() != control_frame_reader::state::partial) return answer(c);
      continue;
    }
    if (n == 0) {
      if (c.reader.inside_frame()) {
        platform::log_debug("control: uid ", c.uid,
                            ": the connection closed in the middle of a frame");
      }
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    platform::log_debug("control: uid ", c.uid, ": read failed: ", std::strerror(errno));
    return false;
  }
}

bool control_server::answer(connection& c) {
  if (c.reader.current() == control_frame_reader::state::too_large) {
    emit(control_event::invalid);
    c.close_after = true;  // what follows the length cannot be trusted to start a frame
    queue(c,
          control_error(control::Response::INVALID_REQUEST,
                        "The request is " + std::to_string(c.reader.length()) +
                            " bytes, more than the " + std::to_string(options_.max_request_bytes) +
                            " this portierd accepts; make sure portierctl and portierd are the "
                            "same version."));
    return send_pending(c);
  }
  const std::string body = c.reader.take();
  parsed_request parsed = parse_request(body, options_.now_ms());
  if (parsed.error) {
    emit(control_event::invalid);
    queue(c, std::move(*parsed.error));
  } else if (pending_answer_bytes() >= options_.max_pending_answer_bytes) {
    emit(control_event::busy);
    platform::log_warning("control: uid ", c.uid,
                          ": request refused while large answers wait for other clients");
    queue(c, control_error(control::Response::UNAVAILABLE,
                           "portierd is still sending large answers to other clients; try again "
                           "in a few seconds."));
  } else {
    queue(c, call_service(parsed.request));
  }
  return send_pending(c);
}

control::Response control_server::call_service(const control::Request& request) {
  try {
    control::Response response = service_.handle(request);
    if (response.code() == control::Response::OK &&
        static_cast<int>(response.result_case()) != static_cast<int>(request.command_case())) {
      platform::log_error("control: the service answered command ",
                          static_cast<int>(request.command_case()), " with result ",
                          static_cast<int>(response.result_case()));
      emit(control_event::failed);
      return control_error(control::Response::INTERNAL,
                           "portierd gave an answer that does not fit the question; please report "
                           "this bug with the output of `journalctl -u portierd`.");
    }
    emit(control_event::served);
    return response;
  } catch (const std::exception& e) {
    platform::log_error("control: command ", static_cast<int>(request.command_case()),
                        " failed: ", e.what());
  } catch (...) {
    platform::log_error("control: command ", static_cast<int>(request.command_case()), " failed");
  }
  emit(control_event::failed);
  return control_error(control::Response::INTERNAL,
                       "portierd failed while handling the request; check `portierctl status`, "
                       "and report the problem with the output of `journalctl -u portierd`.");
}

void control_server::queue(connection& c, control::Response response) {
  c.out = answer_frame(std::move(response));
  c.sent = 0;
  c.deadline = clock::now() + options_.send_timeout;
}

std::size_t control_server::pending_answer_bytes() const {
  std::size_t total = 0;
  for (const auto& c : connections_) {
    if (c) total += c->out.size() - c->sent;
  }
  return total;
}

bool control_server::send_pending(connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.socket.fd(), c.out.data() + c.sent, c.out.size() - c.sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    emit(control_event::failed);
    platform::log_debug("control: uid ", c.uid, ": write failed: ", std::strerror(errno));
    return false;
  }
  std::string().swap(c.out);  // an export's memory goes back now, not at the next answer
  c.sent = 0;
  if (c.close_after) return false;
  c.deadline = clock::now() + options_.receive_timeout;
  return true;
}

void control_server::expire(connection& c) {
  if (c.out.empty()) {
    emit(control_event::timed_out);
    platform::log_debug("control: uid ", c.uid, ": timed out after ",
                        options_.receive_timeout.count(), " ms reading a request");
  } else {
    emit(control_event::failed);
    platform::log_debug("control: uid ", c.uid, ": timed out after ", options_.send_timeout.count(),
                        " ms writing an answer");
  }
}

}  // namespace portier::gateway
