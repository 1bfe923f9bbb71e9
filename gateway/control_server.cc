#include "gateway/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

#include "gateway/control_protocol.h"
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

bool timed_out(const std::string& error) {
  return error.rfind("timed out", 0) == 0;
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
    case R::kReport:
      if (request.report().since_ms() < 0 || request.report().since_ms() > now_ms + kDayMs) {
        return invalid("The report must start at a time in the past (e.g. --since 7d).");
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

void control_server::emit(control_event e) {
  if (sink_) sink_(e);
}

void control_server::run() {
  for (;;) {
    pollfd fds[2] = {{listener_.fd(), POLLIN, 0}, {wake_read_, POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno != EINTR) {
      platform::log_error("control: poll failed: ", std::strerror(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    auto connection = platform::accept_unix(listener_);
    if (!connection) {
      // The client gave up already, or we are out of descriptors: in the second case the listener
      // stays readable, so pause rather than spin.
      platform::log_debug("control: ", connection.error_message());
      pollfd wake{wake_read_, POLLIN, 0};
      ::poll(&wake, 1, 50);
      continue;
    }
    serve(std::move(*connection));
  }
}

void control_server::serve(platform::unix_socket connection) {
  auto peer = platform::peer_credentials_of(connection);
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
    reply(connection, control_error(control::Response::PERMISSION_DENIED, what));
    return;
  }

  for (;;) {
    auto frame = platform::read_frame(connection, options_.max_request_bytes,
                                      options_.receive_timeout, wake_read_);
    if (!frame) {
      if (timed_out(frame.error_message())) {
        emit(control_event::timed_out);
        platform::log_debug("control: uid ", peer->uid, ": ", frame.error_message());
      } else if (frame.error_message() != "cancelled") {
        platform::log_debug("control: uid ", peer->uid, ": ", frame.error_message());
      }
      return;
    }
    if (frame->what == platform::frame_read::kind::closed) return;
    if (frame->what == platform::frame_read::kind::too_large) {
      emit(control_event::invalid);
      reply(connection,
            control_error(
                control::Response::INVALID_REQUEST,
                "The request is " + std::to_string(frame->length) + " bytes, more than the " +
                    std::to_string(options_.max_request_bytes) +
                    " this portierd accepts; make sure portierctl and portierd are the same "
                    "version."));
      return;  // what follows the length cannot be trusted to start a frame
    }

    control::Request request;
    bool parsed;
    {
      google::protobuf::LogSilencer quiet;  // a hostile frame must not fill the log
      parsed = request.ParseFromString(frame->body);
    }
    std::optional<control::Response> response;
    if (!parsed) {
      response = control_error(
          control::Response::INVALID_REQUEST,
          "The request is not a valid control message; make sure portierctl and portierd "
          "are the same version.");
    } else {
      response = validate_request(request, options_.now_ms());
    }
    if (response) {
      emit(control_event::invalid);
    } else {
      try {
        response = service_.handle(request);
        if (response->code() == control::Response::OK &&
            static_cast<int>(response->result_case()) != static_cast<int>(request.command_case())) {
          platform::log_error("control: the service answered command ",
                              static_cast<int>(request.command_case()), " with result ",
                              static_cast<int>(response->result_case()));
          response = control_error(
              control::Response::INTERNAL,
              "portierd gave an answer that does not fit the question; please report this "
              "bug with the output of `journalctl -u portierd`.");
          emit(control_event::failed);
        } else {
          emit(control_event::served);
        }
      } catch (const std::exception& e) {
        platform::log_error("control: command ", static_cast<int>(request.command_case()),
                            " failed: ", e.what());
        response = control_error(
            control::Response::INTERNAL,
            "portierd failed while handling the request; check `portierctl status`, and "
            "report the problem with the output of `journalctl -u portierd`.");
        emit(control_event::failed);
      } catch (...) {
        platform::log_error("control: command ", static_cast<int>(request.command_case()),
                            " failed");
        response = control_error(
            control::Response::INTERNAL,
            "portierd failed while handling the request; check `portierctl status`, and "
            "report the problem with the output of `journalctl -u portierd`.");
        emit(control_event::failed);
      }
    }
    if (!reply(connection, std::move(*response))) return;
  }
}

bool control_server::reply(const platform::unix_socket& connection, control::Response response) {
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
  auto written = platform::write_frame(connection, bytes, options_.send_timeout);
  if (!written) {
    emit(control_event::failed);
    platform::log_debug("control: ", written.error_message());
    return false;
  }
  return true;
}

}  // namespace portier::gateway
