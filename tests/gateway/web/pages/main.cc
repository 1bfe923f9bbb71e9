#include <google/protobuf/text_format.h>

#include "control.pb.h"
#include "fake_daemon.h"
#include "gateway/web/app.h"

#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) {
  // Protobuf builds descriptor pools and parsers on first use, the C library loads the time zone
  // on the first localtime_r, and the pages keep their word tables in function statics: all live
  // as long as the process. Build them here, by showing every page once, so CppUTest's per-test
  // leak check does not count them against the first test.
  using namespace portier::gateway::web;
  {
    testing::fake_daemon daemon;
    daemon.fill_household();
    google::protobuf::LogSilencer quiet;
    portier::control::Response r;
    google::protobuf::TextFormat::ParseFromString("unknown: 1", &r);
    for (const char* target : {"/", "/purposes", "/devices", "/device?id=a", "/receipts",
                               "/updates", "/export", "/nope"}) {
      (void)handle_app(testing::get(target, language::en), daemon.call());
      (void)handle_app(testing::get(target, language::fr), daemon.call());
    }
  }
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
