#include <cstdlib>
#include <ctime>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "control.pb.h"
#include "gateway/household/control_server.h"
#include "platform/log.h"
#include "tests/tools/control_fixtures.h"
#include "tools/portierctl/format.h"

#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) {
  // Human output shows local times: pin the zone so expected text is the same everywhere.
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  // Protobuf builds descriptors, reflection and the JSON type resolver on first use and keeps
  // them for the life of the process; build them here so CppUTest's per-test leak check does not
  // count them against the first test that prints JSON.
  // The same goes for the JSON converter's type caches, the reflection the control server uses on
  // answers, and portierctl's own word tables: touch each with every kind of result.
  using namespace portier;
  std::vector<control::Response> all(10);
  *all[0].mutable_status() = tests::status_fixture();
  *all[1].mutable_devices() = tests::devices_fixture();
  *all[2].mutable_purposes() = tests::purposes_fixture();
  *all[3].mutable_report() = tests::report_fixture();
  *all[4].mutable_explain() = tests::explain_fixture();
  *all[5].mutable_erase() = tests::erase_fixture();
  *all[6].mutable_set_consent()->mutable_receipt() =
      tests::receipt_fixture(consent::RECEIPT_GRANTED, consent::SCOPE_HOUSEHOLD, "");
  *all[7].mutable_pause()->mutable_receipt() = all[6].set_consent().receipt();
  all[8].mutable_verify_ledger()->set_ok(true);
  *all[9].mutable_unmatched() = tests::unmatched_fixture();
  for (auto& r : all) {
    gateway::make_strings_utf8(r);
    control::Response back;
    (void)google::protobuf::util::JsonStringToMessage(tools::ctl::to_json(r), &back);
  }
  (void)tools::ctl::format_report(all[3].report());
  control::Request q;
  q.mutable_set_consent()->set_purpose("a");
  q.ParseFromString(q.SerializeAsString());
  (void)control::Response::Code_Name(control::Response::OK);
  platform::log_init(platform::log_level::error, false, "tools_tests");
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
