#include "tools/portierctl/cli.h"

#include <grp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ostream>
#include <vector>

#include "gateway/household/control_client.h"
#include "gateway/household/control_protocol.h"
#include "platform/file.h"
#include "tools/portierctl/format.h"

namespace portier::tools::ctl {

const char* const kUsage = R"(usage: portierctl [--socket PATH] [--json] COMMAND [ARGS]

See and decide what your home's gateway shares, with whom, and why.

Commands:
  status                  Is portierd running and connected, is sharing paused; its counters.
  devices                 Devices seen, their kind, when last seen, and what each purpose
                          receives from them.
  purposes                Why data leaves the home: each purpose in plain words, its legal
                          basis, and your decisions.
  grant PURPOSE [--device D | --class C]
                          Let PURPOSE receive data: from the whole home, from one kind of
                          device, or from one device.
  refuse PURPOSE [--device D | --class C]
                          Stop PURPOSE receiving data from there; what waits to be sent to it
                          is destroyed.
  clear PURPOSE [--device D | --class C]
                          Forget your decision there: the wider decision, or the purpose's
                          default, applies again.
  pause                   Stop everything leaving the home, at once.
  resume                  Let data leave again as you decided.
  report [--since TIME]   What left the home: per device and purpose, the fields, messages
                          and bytes. TIME: 30m, 24h, 7d (the default), 2w, or "all".
  explain --device D      D's latest message beside what each purpose received of it.
  export FILE             Write the ledger and your consent receipts to FILE as JSON
                          ("-": standard output).
  erase --device D        Delete what the gateway keeps about D and ask the operator to
                          erase it too.
  verify-ledger           Check that the ledger and your consent receipts are unaltered.
  unmatched [--clear]     Kinds of message no device class takes, as shapes (never names or
                          values), for the operator to cover; --clear forgets them.
  pair                    A one-time code (10 minutes) to open the LAN page from a phone or
                          a computer at home, and the page's address and certificate.
  updates [--limit N]     Policy updates, newest first, with what each changed in what leaves
                          the home; those that let more leave are flagged. N: 1 to 1000 (50).
  help                    This text.

Options:
  --socket PATH           portierd's control socket (default: $PORTIER_SOCKET, else
                          /run/portier/control.sock).
  --json                  Print the answer as JSON, for scripts (export still writes FILE).

Exit status: 0 done; 1 portierd refused or failed (its message says why), or verify-ledger
found damage; 2 wrong usage; 3 portierd cannot be reached; 4 permission denied.
)";

namespace {

using platform::error;

bool takes_option(const std::string& command, const std::string& option) {
  if (option == "--device") {
    return command == "grant" || command == "refuse" || command == "clear" ||
           command == "explain" || command == "erase";
  }
  if (option == "--class") return command == "grant" || command == "refuse" || command == "clear";
  if (option == "--since") return command == "report";
  if (option == "--clear") return command == "unmatched";
  if (option == "--limit") return command == "updates";
  return false;
}

std::size_t positional_count(const std::string& command) {
  if (command == "grant" || command == "refuse" || command == "clear" || command == "export")
    return 1;
  return 0;
}

const char* const kKnown[] = {"status",  "devices", "purposes",      "grant",     "refuse",
                              "clear",   "pause",   "resume",        "report",    "explain",
                              "export",  "erase",   "verify-ledger", "unmatched", "pair",
                              "updates", "help"};

}  // namespace

platform::result<invocation> parse_args(const std::vector<std::string>& args,
                                        const std::string& env_socket, std::int64_t now_ms) {
  invocation inv;
  inv.socket = env_socket.empty() ? gateway::kDefaultControlSocket : env_socket;
  std::vector<std::string> positional;
  std::string device, klass, since, limit;
  bool has_device = false, has_class = false, has_since = false, has_limit = false, clear = false;
  std::vector<std::string> options_seen;
  bool only_positional = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a == "-" || a.empty() || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    if (a == "--json") {
      inv.json = true;
      continue;
    }
    if (a == "--clear") {
      options_seen.push_back(a);
      clear = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      inv.command = "help";
      return inv;
    }
    std::string name = a, value;
    bool has_value = false;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (name != "--socket" && name != "--device" && name != "--class" && name != "--since" &&
        name != "--limit") {
      return error{"unknown option " + name + "; run `portierctl help` to see the options"};
    }
    if (!has_value) {
      if (i + 1 >= args.size())
        return error{name + " needs a value; run `portierctl help` for an example"};
      value = args[++i];
    }
    if (name == "--socket") {
      if (value.empty()) return error{"--socket needs a path"};
      inv.socket = value;
      continue;
    }
    options_seen.push_back(name);
    if (name == "--device") {
      if (has_device) return error{"give --device once"};
      device = value;
      has_device = true;
    } else if (name == "--class") {
      if (has_class) return error{"give --class once"};
      klass = value;
      has_class = true;
    } else if (name == "--limit") {
      if (has_limit) return error{"give --limit once"};
      limit = value;
      has_limit = true;
    } else {
      if (has_since) return error{"give --since once"};
      since = value;
      has_since = true;
    }
  }

  if (positional.empty()) return error{"name a command; run `portierctl help` to see them"};
  inv.command = positional.front();
  positional.erase(positional.begin());
  bool known = false;
  for (const char* k : kKnown) known = known || inv.command == k;
  if (!known)
    return error{"unknown command \"" + safe_text(inv.command) +
                 "\"; run `portierctl help` to see them"};
  if (inv.command == "help") return inv;

  const std::string& cmd = inv.command;
  for (const auto& o : options_seen) {
    if (!takes_option(cmd, o))
      return error{cmd + " takes no " + o + "; run `portierctl help` to see its options"};
  }
  if (positional.size() > positional_count(cmd)) {
    return error{cmd + ": unexpected argument \"" + safe_text(positional[positional_count(cmd)]) +
                 "\" (quote names with spaces); run `portierctl help`"};
  }

  auto& req = inv.request;
  req.set_method("cli");
  if (cmd == "status") {
    req.mutable_status();
  } else if (cmd == "devices") {
    req.mutable_devices();
  } else if (cmd == "purposes") {
    req.mutable_purposes();
  } else if (cmd == "grant" || cmd == "refuse" || cmd == "clear") {
    if (positional.empty()) {
      return error{cmd + ": name the purpose, e.g. `portierctl " + cmd +
                   " analytics`; `portierctl purposes` lists them"};
    }
    if (has_device && has_class) return error{cmd + ": give --device or --class, not both"};
    if ((has_device && device.empty()) || (has_class && klass.empty())) {
      return error{cmd + ": --device and --class need a name; `portierctl devices` lists them"};
    }
    auto* c = req.mutable_set_consent();
    c->set_purpose(positional[0]);
    c->set_decision(cmd == "grant"    ? control::DECISION_GRANT
                    : cmd == "refuse" ? control::DECISION_REFUSE
                                      : control::DECISION_CLEAR);
    if (has_device) {
      c->set_scope(consent::SCOPE_DEVICE);
      c->set_value(device);
    } else if (has_class) {
      c->set_scope(consent::SCOPE_DEVICE_CLASS);
      c->set_value(klass);
    } else {
      c->set_scope(consent::SCOPE_HOUSEHOLD);
    }
  } else if (cmd == "pause") {
    req.mutable_pause();
  } else if (cmd == "resume") {
    req.mutable_resume();
  } else if (cmd == "report") {
    std::int64_t since_ms = now_ms - 7 * 86'400'000LL;
    if (has_since && since == "all") {
      since_ms = 0;
    } else if (has_since) {
      const auto d = parse_duration_ms(since);
      if (!d) {
        return error{
            "report: --since takes a time back from now such as 30m, 24h, 7d or 2w, or \"all\""};
      }
      since_ms = now_ms - *d;
    }
    req.mutable_report()->set_since_ms(since_ms < 0 ? 0 : since_ms);
  } else if (cmd == "explain" || cmd == "erase") {
    if (!has_device || device.empty()) {
      return error{cmd + ": name the device with --device, e.g. `portierctl " + cmd +
                   " --device \"Kitchen plug\"`; `portierctl devices` lists them"};
    }
    if (cmd == "explain") {
      req.mutable_explain()->set_device(device);
    } else {
      req.mutable_erase()->set_device(device);
    }
  } else if (cmd == "export") {
    if (positional.empty())
      return error{"export: name the file to write, e.g. `portierctl export my-data.json`"};
    inv.export_file = positional[0];
    req.mutable_export_ledger();
  } else if (cmd == "verify-ledger") {
    req.mutable_verify_ledger();
  } else if (cmd == "unmatched") {
    req.mutable_unmatched()->set_clear(clear);
  } else if (cmd == "pair") {
    req.mutable_pair();
  } else if (cmd == "updates") {
    std::uint32_t n = 0;
    if (has_limit) {
      const bool digits =
          !limit.empty() && limit.size() <= 4 &&
          std::all_of(limit.begin(), limit.end(), [](char c) { return c >= '0' && c <= '9'; });
      n = digits ? static_cast<std::uint32_t>(std::stoul(limit)) : 0;
      if (n < 1 || n > gateway::kMaxPolicyHistory)
        return error{"updates: --limit takes a number from 1 to 1000, e.g. --limit 10"};
    }
    req.mutable_policy_history()->set_limit(n);
  }
  return inv;
}

namespace {

// What to do about a socket that refused to connect: join the group the socket file belongs to
// (portierd gives it its control.group), or use sudo when that is root's.
std::string who_may_use(const std::string& socket) {
  struct stat st {};
  if (::stat(socket.c_str(), &st) != 0) {
    return "ask an administrator to add you to portierd's control group (control.group in its "
           "configuration), then log in again.";
  }
  if (st.st_gid == 0) return "only root may use it: run the command with sudo.";
  std::string name = std::to_string(st.st_gid);
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  if (::getgrgid_r(st.st_gid, &gr, buf.data(), buf.size(), &found) == 0 && found != nullptr)
    name = found->gr_name;
  return "ask an administrator to add you to the " + name + " group (adduser YOUR-NAME " + name +
         "), then log in again.";
}

}  // namespace

platform::result<control::Response> call_daemon(const std::string& socket,
                                                const control::Request& request,
                                                std::chrono::milliseconds timeout,
                                                call_failure& failure) {
  auto fail = [&](exit_status status, std::string message) {
    failure = {status, message};
    return error{std::move(message)};
  };
  gateway::control_failure why;
  auto response = gateway::call_control(socket, request, timeout, &why);
  if (response) return response;
  using kind = gateway::control_failure::kind;
  switch (why.what) {
    case kind::connect:
      switch (why.error_number) {
        case ENOENT:
          return fail(exit_unreachable,
                      "Cannot reach portierd: there is no control socket at " + socket +
                          "; start portierd (systemctl start portierd) or give its socket with "
                          "--socket.");
        case ECONNREFUSED:
          return fail(exit_unreachable,
                      "Cannot reach portierd: nothing is listening on " + socket +
                          "; start portierd (systemctl start portierd) or give its socket with "
                          "--socket.");
        case EACCES:
        case EPERM:
          return fail(exit_denied,
                      "You may not use the control socket " + socket + "; " + who_may_use(socket));
        default:
          return fail(exit_unreachable,
                      "Cannot reach portierd at " + socket + " (" + why.detail +
                          "); check the path given with --socket or PORTIER_SOCKET.");
      }
    case kind::timed_out: {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
      return fail(exit_unreachable,
                  "portierd did not answer within " + std::to_string(seconds) +
                      (seconds == 1 ? " second" : " seconds") +
                      "; check it with `systemctl status portierd` and try again.");
    }
    case kind::closed:
      return fail(exit_unreachable, "portierd closed the connection without answering" +
                                        (why.detail.empty() ? "" : " (" + why.detail + ")") +
                                        "; check its log with `journalctl -u portierd`.");
    case kind::unreadable:
      break;
  }
  return fail(exit_daemon_error,
              "portierd's answer cannot be read; make sure portierctl and portierd are the same "
              "version.");
}

namespace {

bool result_matches(const control::Request& q, const control::Response& r) {
  return static_cast<int>(q.command_case()) == static_cast<int>(r.result_case());
}

int print_result(const invocation& inv, const control::Response& r, std::ostream& out,
                 std::ostream& err, std::int64_t now_ms) {
  using R = control::Response;
  if (r.result_case() == R::kExportLedger) {
    const auto& x = r.export_ledger();
    if (inv.export_file == "-") {
      out << x.json();
      if (!x.json().empty() && x.json().back() != '\n') out << "\n";
      return exit_ok;
    }
    auto w = platform::write_file_atomic(inv.export_file, x.json(), 0600);
    if (!w) {
      err << "portierctl: cannot write the export: " << safe_text(w.error_message())
          << "; choose a file in a directory you can write.\n";
      return exit_daemon_error;
    }
    if (inv.json) {
      control::ExportResult summary = x;
      summary.clear_json();
      out << to_json(summary);
    } else {
      out << format_export(x, inv.export_file);
    }
    return exit_ok;
  }

  if (inv.json) {
    const google::protobuf::Reflection* refl = r.GetReflection();
    const google::protobuf::FieldDescriptor* field =
        r.GetDescriptor()->FindFieldByNumber(static_cast<int>(r.result_case()));
    out << to_json(refl->GetMessage(r, field));
  } else {
    switch (r.result_case()) {
      case R::kStatus:
        out << format_status(r.status());
        break;
      case R::kDevices:
        out << format_devices(r.devices(), now_ms);
        break;
      case R::kPurposes:
        out << format_purposes(r.purposes());
        break;
      case R::kSetConsent:
        out << format_set_consent(r.set_consent());
        break;
      case R::kPause:
        out << format_pause(r.pause());
        break;
      case R::kResume:
        out << format_pause(r.resume());
        break;
      case R::kReport:
        out << format_report(r.report());
        break;
      case R::kExplain:
        out << format_explain(r.explain());
        break;
      case R::kErase:
        out << format_erase(r.erase());
        break;
      case R::kVerifyLedger:
        out << format_verify_ledger(r.verify_ledger());
        break;
      case R::kUnmatched:
        out << format_unmatched(r.unmatched(), inv.request.unmatched().clear());
        break;
      case R::kPair:
        out << format_pair(r.pair());
        break;
      case R::kPolicyHistory:
        out << format_updates(r.policy_history());
        break;
      default:
        break;
    }
  }
  if (r.result_case() == R::kVerifyLedger &&
      (!r.verify_ledger().ok() || !r.verify_ledger().receipts_ok())) {
    return exit_daemon_error;
  }
  return exit_ok;
}

}  // namespace

int run_portierctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                   const std::string& env_socket, std::int64_t now_ms,
                   std::chrono::milliseconds timeout) {
  if (args.empty()) {
    err << kUsage;
    return exit_usage;
  }
  auto inv = parse_args(args, env_socket, now_ms);
  if (!inv) {
    err << "portierctl: " << inv.error_message() << "\n";
    return exit_usage;
  }
  if (inv->command == "help") {
    out << kUsage;
    return exit_ok;
  }
  call_failure failure{exit_unreachable, ""};
  auto response = call_daemon(inv->socket, inv->request, timeout, failure);
  if (!response) {
    err << "portierctl: " << safe_text(failure.message) << "\n";
    return failure.status;
  }
  const control::Response& r = *response;
  if (r.code() != control::Response::OK) {
    const std::string message =
        r.message().empty()
            ? "portierd refused the request (" + control::Response::Code_Name(r.code()) + ")."
            : r.message();
    err << "portierctl: " << safe_text(message) << "\n";
    if (inv->json) {
      control::Response head;
      head.set_code(r.code());
      head.set_message(r.message());
      out << to_json(head);
    }
    return r.code() == control::Response::PERMISSION_DENIED ? exit_denied : exit_daemon_error;
  }
  if (!result_matches(inv->request, r)) {
    err << "portierctl: portierd's answer does not fit the question; make sure portierctl and "
           "portierd are the "
           "same version.\n";
    return exit_daemon_error;
  }
  return print_result(*inv, r, out, err, now_ms);
}

}  // namespace portier::tools::ctl
