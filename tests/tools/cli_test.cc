#include "tools/portierctl/cli.h"

#include <grp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "gateway/household/control_server.h"
#include "platform/unix_socket.h"
#include "tests/tools/control_fixtures.h"
#include "tools/portierctl/format.h"

#include <CppUTest/TestHarness.h>
// After TestHarness.h, which it needs.
#include <CppUTest/MemoryLeakWarningPlugin.h>

using namespace portier;
using namespace portier::tests;
using namespace portier::tools::ctl;
using namespace std::chrono_literals;

namespace {

invocation parsed(std::vector<std::string> args, const std::string& env = "") {
  auto inv = parse_args(args, env, kNowMs);
  CHECK_TRUE_TEXT(inv.ok(), inv.ok() ? "" : inv.error_message().c_str());
  return std::move(*inv);
}

std::string usage_error(std::vector<std::string> args) {
  auto inv = parse_args(args, "", kNowMs);
  CHECK_FALSE(inv.ok());
  return inv.ok() ? "" : inv.error_message();
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/portierctl-test-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  return dir != nullptr ? dir : "";
}

// Answers every command with the fixtures; records the last request.
class fixture_service : public gateway::control_service {
 public:
  control::Response handle(const control::Request& q) override {
    {
      std::lock_guard lock(mu);
      last = q;
    }
    control::Response r;
    if (!error_message.empty()) {
      r.set_code(error_code);
      r.set_message(error_message);
      return r;
    }
    switch (q.command_case()) {
      case control::Request::kStatus:
        *r.mutable_status() = status_fixture();
        break;
      case control::Request::kDevices:
        *r.mutable_devices() = devices_fixture();
        break;
      case control::Request::kPurposes:
        *r.mutable_purposes() = purposes_fixture();
        break;
      case control::Request::kSetConsent: {
        auto* s = r.mutable_set_consent();
        *s->mutable_receipt() = receipt_fixture(
            q.set_consent().decision() == control::DECISION_GRANT ? consent::RECEIPT_GRANTED
                                                                  : consent::RECEIPT_REFUSED,
            q.set_consent().scope(), q.set_consent().value().c_str());
        break;
      }
      case control::Request::kPause:
        r.mutable_pause()->set_paused(true);
        break;
      case control::Request::kResume:
        r.mutable_resume()->set_changed(true);
        break;
      case control::Request::kReport:
        *r.mutable_report() = report_fixture();
        break;
      case control::Request::kExplain:
        *r.mutable_explain() = explain_fixture();
        break;
      case control::Request::kExportLedger:
        r.mutable_export_ledger()->set_json("{\"ledger\":[],\"receipts\":[]}");
        r.mutable_export_ledger()->set_receipts(2);
        break;
      case control::Request::kErase:
        *r.mutable_erase() = erase_fixture();
        break;
      case control::Request::kVerifyLedger:
        r.mutable_verify_ledger()->set_ok(ledger_ok);
        r.mutable_verify_ledger()->set_receipts_ok(true);
        break;
      case control::Request::kPair:
        *r.mutable_pair() = pair_fixture(true);
        break;
      case control::Request::kPolicyHistory:
        *r.mutable_policy_history() = history_fixture();
        break;
      case control::Request::kUnmatched:
        if (q.unmatched().clear()) {
          r.mutable_unmatched()->set_cleared(2);
        } else {
          *r.mutable_unmatched() = unmatched_fixture();
        }
        break;
      default:
        break;
    }
    return r;
  }
  control::Request last_request() {
    std::lock_guard lock(mu);
    return last;
  }
  std::mutex mu;
  control::Request last;
  control::Response::Code error_code = control::Response::OK;
  std::string error_message;
  bool ledger_ok = true;
};

}  // namespace

TEST_GROUP(portierctl_args){};

TEST(portierctl_args, socket_from_option_environment_or_default) {
  STRCMP_EQUAL("/run/portier/control.sock", parsed({"status"}).socket.c_str());
  STRCMP_EQUAL("/tmp/env.sock", parsed({"status"}, "/tmp/env.sock").socket.c_str());
  STRCMP_EQUAL("/tmp/opt.sock",
               parsed({"--socket", "/tmp/opt.sock", "status"}, "/tmp/env.sock").socket.c_str());
  STRCMP_EQUAL("/tmp/eq.sock", parsed({"status", "--socket=/tmp/eq.sock"}).socket.c_str());
  CHECK_TRUE(parsed({"status", "--json"}).json);
  CHECK_TRUE(parsed({"--json", "status"}).json);
  STRCMP_EQUAL("cli", parsed({"status"}).request.method().c_str());
  CHECK_TRUE(parsed({"status"}).request.has_status());
}

TEST(portierctl_args, consent_commands_and_their_scopes) {
  auto home = parsed({"grant", "analytics"}).request.set_consent();
  STRCMP_EQUAL("analytics", home.purpose().c_str());
  CHECK_EQUAL(control::DECISION_GRANT, home.decision());
  CHECK_EQUAL(consent::SCOPE_HOUSEHOLD, home.scope());
  CHECK_TRUE(home.value().empty());

  auto device = parsed({"refuse", "location", "--device", "Anna bedroom"}).request.set_consent();
  CHECK_EQUAL(control::DECISION_REFUSE, device.decision());
  CHECK_EQUAL(consent::SCOPE_DEVICE, device.scope());
  STRCMP_EQUAL("Anna bedroom", device.value().c_str());

  auto klass = parsed({"clear", "--class=tasmota-plug", "service"}).request.set_consent();
  CHECK_EQUAL(control::DECISION_CLEAR, klass.decision());
  CHECK_EQUAL(consent::SCOPE_DEVICE_CLASS, klass.scope());
  STRCMP_EQUAL("tasmota-plug", klass.value().c_str());

  auto dashed = parsed({"grant", "analytics", "--device=-odd name"}).request.set_consent();
  STRCMP_EQUAL("-odd name", dashed.value().c_str());
}

TEST(portierctl_args, report_since) {
  CHECK_EQUAL(kNowMs - 7 * kDay, parsed({"report"}).request.report().since_ms());
  CHECK_EQUAL(kNowMs - kDay, parsed({"report", "--since", "24h"}).request.report().since_ms());
  CHECK_EQUAL(kNowMs - 30 * kMinute, parsed({"report", "--since=30m"}).request.report().since_ms());
  CHECK_EQUAL(0, parsed({"report", "--since", "all"}).request.report().since_ms());
  CHECK_EQUAL(
      0, parsed({"report", "--since", "36500d"}).request.report().since_ms());  // before 1970: all
}

TEST(portierctl_args, device_commands_export_and_the_rest) {
  STRCMP_EQUAL("Anna bedroom",
               parsed({"explain", "--device", "Anna bedroom"}).request.explain().device().c_str());
  STRCMP_EQUAL("plug", parsed({"erase", "--device", "plug"}).request.erase().device().c_str());
  auto x = parsed({"export", "out.json"});
  CHECK_TRUE(x.request.has_export_ledger());
  STRCMP_EQUAL("out.json", x.export_file.c_str());
  STRCMP_EQUAL("-", parsed({"export", "-"}).export_file.c_str());
  CHECK_TRUE(parsed({"verify-ledger"}).request.has_verify_ledger());
  CHECK_TRUE(parsed({"pause"}).request.has_pause());
  CHECK_TRUE(parsed({"resume"}).request.has_resume());
  CHECK_TRUE(parsed({"devices"}).request.has_devices());
  CHECK_TRUE(parsed({"purposes"}).request.has_purposes());
  CHECK_TRUE(parsed({"unmatched"}).request.has_unmatched());
  CHECK_FALSE(parsed({"unmatched"}).request.unmatched().clear());
  CHECK_TRUE(parsed({"unmatched", "--clear"}).request.unmatched().clear());
  CHECK_TRUE(parsed({"--clear", "--json", "unmatched"}).request.unmatched().clear());
  STRCMP_EQUAL("help", parsed({"status", "--help"}).command.c_str());
  CHECK_TRUE(parsed({"pair"}).request.has_pair());
  CHECK_TRUE(parsed({"updates"}).request.has_policy_history());
  LONGS_EQUAL(0, parsed({"updates"}).request.policy_history().limit());  // portierd's default
  LONGS_EQUAL(5, parsed({"updates", "--limit", "5"}).request.policy_history().limit());
  LONGS_EQUAL(1000, parsed({"updates", "--limit=1000"}).request.policy_history().limit());
}

TEST(portierctl_args, updates_limit_is_a_number_from_1_to_1000) {
  const std::string rule = "updates: --limit takes a number from 1 to 1000, e.g. --limit 10";
  STRCMP_EQUAL(rule.c_str(), usage_error({"updates", "--limit", "0"}).c_str());
  STRCMP_EQUAL(rule.c_str(), usage_error({"updates", "--limit", "1001"}).c_str());
  STRCMP_EQUAL(rule.c_str(), usage_error({"updates", "--limit", "ten"}).c_str());
  STRCMP_EQUAL(rule.c_str(), usage_error({"updates", "--limit", "-3"}).c_str());
  STRCMP_EQUAL(rule.c_str(), usage_error({"updates", "--limit", "99999999999"}).c_str());
  STRCMP_EQUAL("give --limit once",
               usage_error({"updates", "--limit", "1", "--limit", "2"}).c_str());
  STRCMP_EQUAL("pair takes no --limit; run `portierctl help` to see its options",
               usage_error({"pair", "--limit", "2"}).c_str());
}

TEST(portierctl_args, usage_errors_say_what_to_do) {
  STRCMP_EQUAL("name a command; run `portierctl help` to see them",
               usage_error({"--json"}).c_str());
  STRCMP_EQUAL("unknown command \"stauts\"; run `portierctl help` to see them",
               usage_error({"stauts"}).c_str());
  STRCMP_EQUAL("unknown option --force; run `portierctl help` to see the options",
               usage_error({"erase", "--force"}).c_str());
  STRCMP_EQUAL("--device needs a value; run `portierctl help` for an example",
               usage_error({"explain", "--device"}).c_str());
  STRCMP_EQUAL(
      "grant: name the purpose, e.g. `portierctl grant analytics`; `portierctl purposes` lists "
      "them",
      usage_error({"grant"}).c_str());
  STRCMP_EQUAL("grant: give --device or --class, not both",
               usage_error({"grant", "a", "--device", "d", "--class", "c"}).c_str());
  STRCMP_EQUAL("status takes no --device; run `portierctl help` to see its options",
               usage_error({"status", "--device", "x"}).c_str());
  STRCMP_EQUAL("report takes no --device; run `portierctl help` to see its options",
               usage_error({"report", "--device", "x"}).c_str());
  STRCMP_EQUAL(
      "grant: unexpected argument \"bedroom\" (quote names with spaces); run `portierctl help`",
      usage_error({"grant", "analytics", "bedroom"}).c_str());
  STRCMP_EQUAL(
      "explain: name the device with --device, e.g. `portierctl explain --device \"Kitchen "
      "plug\"`; "
      "`portierctl devices` lists them",
      usage_error({"explain"}).c_str());
  STRCMP_EQUAL("report: --since takes a time back from now such as 30m, 24h, 7d or 2w, or \"all\"",
               usage_error({"report", "--since", "7"}).c_str());
  STRCMP_EQUAL("export: name the file to write, e.g. `portierctl export my-data.json`",
               usage_error({"export"}).c_str());
  STRCMP_EQUAL("refuse: --device and --class need a name; `portierctl devices` lists them",
               usage_error({"refuse", "a", "--device="}).c_str());
  STRCMP_EQUAL("status takes no --clear; run `portierctl help` to see its options",
               usage_error({"status", "--clear"}).c_str());
  STRCMP_EQUAL("give --device once",
               usage_error({"erase", "--device", "a", "--device", "b"}).c_str());
}

TEST_GROUP(portierctl) {
  std::string dir;
  std::string path;
  fixture_service service;
  std::unique_ptr<gateway::control_server> server;
  std::ostringstream out, err;

  void setup() override {
    MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
    dir = make_temp_dir();
    path = dir + "/control.sock";
    gateway::control_server_options o;
    o.path = path;
    auto s = gateway::control_server::start(o, service);
    CHECK_TRUE(s.ok());
    server = std::move(*s);
  }
  void teardown() override {
    server.reset();
    ::unlink((dir + "/export.json").c_str());
    ::unlink((dir + "/stale.sock").c_str());
    ::unlink((dir + "/mute.sock").c_str());
    ::rmdir(dir.c_str());
    MemoryLeakWarningPlugin::turnOnDefaultNotThreadSafeNewDeleteOverloads();
  }
  int ctl(std::vector<std::string> args) {
    out.str("");
    err.str("");
    args.insert(args.begin(), {"--socket", path});
    return run_portierctl(args, out, err, "", kNowMs, 5s);
  }
};

TEST(portierctl, status_for_people) {
  LONGS_EQUAL(exit_ok, ctl({"status"}));
  STRCMP_EQUAL(format_status(status_fixture()).c_str(), out.str().c_str());
  STRCMP_EQUAL("", err.str().c_str());
}

TEST(portierctl, every_command_reaches_the_daemon) {
  LONGS_EQUAL(exit_ok, ctl({"devices"}));
  CHECK(out.str().find("Anna bedroom\n") == 0);
  LONGS_EQUAL(exit_ok, ctl({"purposes"}));
  CHECK(out.str().find("Analytics (analytics)\n") == 0);
  LONGS_EQUAL(exit_ok, ctl({"refuse", "analytics", "--device", "Anna bedroom"}));
  STRCMP_EQUAL("Anna bedroom", service.last_request().set_consent().value().c_str());
  CHECK(out.str().find("Refused Analytics (analytics) for device \"Anna bedroom\"") == 0);
  LONGS_EQUAL(exit_ok, ctl({"pause"}));
  LONGS_EQUAL(exit_ok, ctl({"resume"}));
  CHECK(out.str().find("Resumed:") == 0);
  LONGS_EQUAL(exit_ok, ctl({"report", "--since", "24h"}));
  CHECK_EQUAL(kNowMs - kDay, service.last_request().report().since_ms());
  LONGS_EQUAL(exit_ok, ctl({"explain", "--device", "Anna bedroom"}));
  CHECK(out.str().find("The device sent:") != std::string::npos);
  LONGS_EQUAL(exit_ok, ctl({"erase", "--device", "Anna bedroom"}));
  STRCMP_EQUAL("Anna bedroom", service.last_request().erase().device().c_str());
  LONGS_EQUAL(exit_ok, ctl({"verify-ledger"}));
  LONGS_EQUAL(exit_ok, ctl({"unmatched"}));
  CHECK(out.str().find("2 kinds of message no device class takes.") == 0);
  LONGS_EQUAL(exit_ok, ctl({"unmatched", "--clear"}));
  CHECK_TRUE(service.last_request().unmatched().clear());
  STRCMP_EQUAL("Forgot 2 shapes of messages no device class takes.\n", out.str().c_str());
  LONGS_EQUAL(exit_ok, ctl({"pair"}));
  CHECK(out.str().find("Pairing code: K7QM-4XRT\n") == 0);
  LONGS_EQUAL(exit_ok, ctl({"updates", "--limit", "3"}));
  LONGS_EQUAL(3, service.last_request().policy_history().limit());
  CHECK(out.str().find("WIDENS what leaves your home") != std::string::npos);
  LONGS_EQUAL(exit_ok, ctl({"--json", "updates"}));
  control::PolicyHistoryResult back;
  CHECK_TRUE(google::protobuf::util::JsonStringToMessage(out.str(), &back).ok());
  LONGS_EQUAL(3, back.update_size());
  CHECK_TRUE(back.update(0).widens());
}

TEST(portierctl, json_prints_the_result_alone) {
  LONGS_EQUAL(exit_ok, ctl({"--json", "report"}));
  control::ReportResult back;
  CHECK_TRUE(google::protobuf::util::JsonStringToMessage(out.str(), &back).ok());
  LONGS_EQUAL(3, back.row_size());
  CHECK(out.str().find("\"total_messages\": \"1249\"") !=
        std::string::npos);  // 64-bit numbers are strings
}

TEST(portierctl, export_writes_the_file_private) {
  const std::string file = dir + "/export.json";
  LONGS_EQUAL(exit_ok, ctl({"export", file}));
  STRCMP_EQUAL(("Wrote 0 ledger entries and 2 consent receipts to " + file + ".\n").c_str(),
               out.str().c_str());
  std::ifstream in(file);
  std::stringstream content;
  content << in.rdbuf();
  STRCMP_EQUAL("{\"ledger\":[],\"receipts\":[]}", content.str().c_str());
  struct stat st {};
  CHECK_EQUAL(0, ::stat(file.c_str(), &st));
  LONGS_EQUAL(0600, st.st_mode & 0777);

  LONGS_EQUAL(exit_ok, ctl({"export", "-"}));
  STRCMP_EQUAL("{\"ledger\":[],\"receipts\":[]}\n", out.str().c_str());

  LONGS_EQUAL(exit_ok, ctl({"export", file, "--json"}));
  CHECK(out.str().find("\"receipts\": \"2\"") != std::string::npos);
  CHECK(out.str().find("\"json\": \"\"") != std::string::npos);

  LONGS_EQUAL(exit_daemon_error, ctl({"export", dir + "/no/such/dir/x.json"}));
  CHECK(err.str().find("portierctl: cannot write the export: ") == 0);
}

TEST(portierctl, daemon_errors_exit_1_and_permission_4) {
  service.error_code = control::Response::NOT_FOUND;
  service.error_message = "No purpose called \"analitics\"; run `portierctl purposes` to see them.";
  LONGS_EQUAL(exit_daemon_error, ctl({"grant", "analitics"}));
  STRCMP_EQUAL(
      "portierctl: No purpose called \"analitics\"; run `portierctl purposes` to see them.\n",
      err.str().c_str());
  STRCMP_EQUAL("", out.str().c_str());
  LONGS_EQUAL(exit_daemon_error, ctl({"grant", "analitics", "--json"}));
  CHECK(out.str().find("\"code\": \"NOT_FOUND\"") != std::string::npos);

  service.error_code = control::Response::PERMISSION_DENIED;
  service.error_message = "You are not allowed.";
  LONGS_EQUAL(exit_denied, ctl({"status"}));

  service.error_message.clear();
  service.ledger_ok = false;
  LONGS_EQUAL(exit_daemon_error, ctl({"verify-ledger"}));
  CHECK(out.str().find("The ledger is DAMAGED") == 0);
}

TEST(portierctl, invalid_requests_are_refused_by_the_daemon) {
  LONGS_EQUAL(exit_daemon_error, ctl({"grant", "Not A Purpose"}));
  CHECK(err.str().find("portierctl: That is not a purpose id") == 0);
}

TEST(portierctl, usage_errors_exit_2_without_calling) {
  LONGS_EQUAL(exit_usage, ctl({"grant"}));
  CHECK(err.str().find("portierctl: grant: name the purpose") == 0);
  out.str("");
  err.str("");
  LONGS_EQUAL(exit_usage, run_portierctl({}, out, err, "", kNowMs));
  CHECK(err.str().find("usage: portierctl") == 0);
  LONGS_EQUAL(exit_ok, ctl({"help"}));
  CHECK(out.str().find("usage: portierctl") == 0);
}

TEST(portierctl, unreachable_daemon_exits_3_and_says_why) {
  std::ostringstream o, e;
  LONGS_EQUAL(exit_unreachable,
              run_portierctl({"--socket", dir + "/absent.sock", "status"}, o, e, "", kNowMs));
  STRCMP_EQUAL(("portierctl: Cannot reach portierd: there is no control socket at " + dir +
                "/absent.sock; start portierd (systemctl start portierd) or give its socket with "
                "--socket.\n")
                   .c_str(),
               e.str().c_str());

  const std::string stale = dir + "/stale.sock";
  { auto l = platform::listen_unix(stale, {}); }  // left behind, nobody listening
  std::ostringstream o2, e2;
  LONGS_EQUAL(exit_unreachable, run_portierctl({"status"}, o2, e2, stale, kNowMs));
  CHECK(e2.str().find("nothing is listening on " + stale) != std::string::npos);
}

TEST(portierctl, a_daemon_that_does_not_answer_times_out) {
  const std::string mute = dir + "/mute.sock";
  auto listener = platform::listen_unix(mute, {});  // accepts into the backlog, never answers
  CHECK_TRUE(listener.ok());
  std::ostringstream o, e;
  LONGS_EQUAL(exit_unreachable, run_portierctl({"--socket", mute, "status"}, o, e, "", kNowMs, 1s));
  STRCMP_EQUAL(
      "portierctl: portierd did not answer within 1 second; check it with `systemctl status "
      "portierd` and try "
      "again.\n",
      e.str().c_str());
}

// A user the socket's permissions turn away is told the group that may use it: the one portierd
// gave the socket (its control.group), not a fixed name.
TEST_GROUP(portierctl_denied) {
  std::string dir;
  void setup() override { dir = make_temp_dir(); }
  void teardown() override {
    ::unlink((dir + "/control.sock").c_str());
    ::rmdir(dir.c_str());
  }
  // portierctl's error output when run as nobody against a socket of group `gid`, mode 0660.
  std::string refused_message(gid_t gid) {
    CHECK_EQUAL(0, ::chmod(dir.c_str(), 0755));
    const std::string path = dir + "/control.sock";
    platform::listen_options lo;
    lo.group = gid;
    auto listener = platform::listen_unix(path, lo);
    CHECK_TRUE(listener.ok());
    int fds[2];
    CHECK_EQUAL(0, ::pipe(fds));
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(fds[0]);
      int status = 99;
      if (::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0) {
        std::ostringstream o, e;
        status = run_portierctl({"--socket", path, "status"}, o, e, "", kNowMs, 1s);
        const std::string text = e.str();
        if (::write(fds[1], text.data(), text.size()) < 0) status = 98;
      }
      ::_exit(status);
    }
    ::close(fds[1]);
    std::string text;
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK_TRUE(WIFEXITED(status));
    LONGS_EQUAL(exit_denied, WEXITSTATUS(status));
    for (auto p = text.find(dir); p != std::string::npos; p = text.find(dir)) text.replace(p, dir.size(), "DIR");
    return text;
  }
};

TEST(portierctl_denied, the_message_names_the_socket_s_group) {
  if (::geteuid() != 0) {
    UT_PRINT("skipped: needs root to connect as another user");
    return;
  }
  const group* g = ::getgrgid(1);  // "daemon" on Debian: any group that is not "portier"
  CHECK_TRUE(g != nullptr);
  const std::string name = g->gr_name;
  CHECK_TRUE(name != "portier");
  STRCMP_EQUAL(("portierctl: You may not use the control socket DIR/control.sock; ask an "
                "administrator to add you to the " +
                name + " group (adduser YOUR-NAME " + name + "), then log in again.\n")
                   .c_str(),
               refused_message(1).c_str());
  STRCMP_EQUAL(
      "portierctl: You may not use the control socket DIR/control.sock; only root may use it: run "
      "the command with sudo.\n",
      refused_message(0).c_str());
}
