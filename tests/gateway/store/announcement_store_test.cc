// The announcement table portierd keeps (gateway/store/announcement_store.h): what it remembers,
// across a restart too, how it stays bounded, and when it writes its file.
#include "gateway/store/announcement_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "announcements.pb.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;
using policies::announced_meaning;
using policies::announcement;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

announcement discovery(const std::string& topic, const std::string& device_class,
                       const std::string& unit) {
  announcement a;
  a.state_topic = topic;
  a.sets_device_class = a.sets_unit = true;
  a.meaning = {device_class, unit, false};
  return a;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_GROUP(announcement_store) {
  std::string dir;
  std::string path;
  std::atomic<std::uint64_t> evicted{0};

  void setup() override {
    char tmpl[] = "/tmp/portier-announcements-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/announcements.pb";
  }
  void teardown() override {
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  std::unique_ptr<announcement_store> open(std::size_t max_entries = 64) {
    auto r = announcement_store::open(path, max_entries, &evicted);
    CHECK_TEXT(r.ok(), r.ok() ? "" : r.error_message().c_str());
    return std::move(*r);
  }
  // What the table says of a topic: "device class|unit", "opaque" or "-".
  static std::string meaning(announcement_store & s, const std::string& topic,
                             std::int64_t now = kT0) {
    announced_meaning m;
    if (!s.find(topic, now, m)) return "-";
    return m.opaque ? "opaque" : m.device_class + "|" + m.unit;
  }
};

TEST(announcement_store, remembers_merges_and_replaces) {
  auto s = open();
  STRCMP_EQUAL("-", meaning(*s, "n/sensor/t/state").c_str());
  s->record(discovery("n/sensor/t/state", "temperature", "°C"), kT0);
  STRCMP_EQUAL("temperature|°C", meaning(*s, "n/sensor/t/state").c_str());
  // A Statestream attribute sets one member and keeps the other.
  announcement unit;
  unit.state_topic = "n/sensor/t/state";
  unit.sets_unit = true;
  unit.meaning.unit = "°F";
  s->record(unit, kT0);
  STRCMP_EQUAL("temperature|°F", meaning(*s, "n/sensor/t/state").c_str());
  // A discovery message replaces both.
  s->record(discovery("n/sensor/t/state", "", "W"), kT0);
  STRCMP_EQUAL("|W", meaning(*s, "n/sensor/t/state").c_str());
  LONGS_EQUAL(1, s->size());
}

TEST(announcement_store, survives_a_restart) {
  {
    auto s = open();
    s->record(discovery("n/sensor/t/state", "temperature", "°C"), kT0);
    announcement templated = discovery("z/Anna", "temperature", "°C");
    templated.meaning.opaque = true;
    s->record(templated, kT0);
    CHECK(s->save().ok());
  }
  auto s = open();
  LONGS_EQUAL(2, s->size());
  STRCMP_EQUAL("temperature|°C", meaning(*s, "n/sensor/t/state").c_str());
  STRCMP_EQUAL("opaque", meaning(*s, "z/Anna").c_str());
  CHECK_FALSE(s->dirty());
  struct stat st {};
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  LONGS_EQUAL(0600, st.st_mode & 0777);
}

TEST(announcement_store, writes_only_what_changed) {
  auto s = open();
  CHECK_FALSE(s->dirty());
  CHECK(s->save().ok());
  CHECK(::access(path.c_str(), F_OK) != 0);  // nothing to write: no file
  s->record(discovery("n/sensor/t/state", "temperature", "°C"), kT0);
  CHECK(s->dirty());
  CHECK(s->save().ok());
  CHECK_FALSE(s->dirty());
  const std::string written = slurp(path);
  // Look-ups, and the same announcement again (ESPHome re-announces on every reconnect), are no
  // change: a busy sensor does not rewrite the file.
  for (int i = 0; i < 100; ++i) meaning(*s, "n/sensor/t/state", kT0 + i * 1000);
  s->record(discovery("n/sensor/t/state", "temperature", "°C"), kT0 + 200'000);
  CHECK_FALSE(s->dirty());
  s->record(discovery("n/sensor/t/state", "temperature", "°F"), kT0 + 200'000);
  CHECK(s->dirty());
  CHECK(s->save().ok());
  CHECK(slurp(path) != written);
}

TEST(announcement_store, a_flood_of_made_up_announcements_evicts_its_own_first) {
  auto s = open(16);
  for (int i = 0; i < 4; ++i)
    s->record(discovery("home/sensor/" + std::to_string(i) + "/state", "power", "W"), kT0);
  // Used a minute later: established.
  for (int i = 0; i < 4; ++i)
    meaning(*s, "home/sensor/" + std::to_string(i) + "/state", kT0 + 61'000);
  for (int i = 0; i < 1000; ++i) {
    s->record(discovery("flood/sensor/" + std::to_string(i) + "/state", "power", "W"),
              kT0 + 62'000 + i);
  }
  LONGS_EQUAL(16, s->size());
  LONGS_EQUAL(1000 + 4 - 16, evicted.load());
  LONGS_EQUAL(evicted.load(), s->evicted());
  for (int i = 0; i < 4; ++i) {
    STRCMP_EQUAL("power|W",
                 meaning(*s, "home/sensor/" + std::to_string(i) + "/state", kT0 + 70'000).c_str());
  }
  STRCMP_EQUAL("-", meaning(*s, "flood/sensor/0/state").c_str());
  STRCMP_EQUAL("power|W", meaning(*s, "flood/sensor/999/state").c_str());
}

TEST(announcement_store, a_lower_bound_keeps_the_last_to_be_evicted) {
  {
    auto s = open(64);
    for (int i = 0; i < 40; ++i)
      s->record(discovery("t/" + std::to_string(i), "power", "W"), kT0 + i);
    CHECK(s->save().ok());
  }
  auto s = open(16);
  LONGS_EQUAL(16, s->size());
  STRCMP_EQUAL("-", meaning(*s, "t/0").c_str());
  STRCMP_EQUAL("-", meaning(*s, "t/23").c_str());
  STRCMP_EQUAL("power|W", meaning(*s, "t/24").c_str());
  STRCMP_EQUAL("power|W", meaning(*s, "t/39").c_str());
  CHECK(s->dirty());  // the file still holds 40
}

TEST(announcement_store, a_file_it_cannot_read_is_set_aside) {
  {
    std::ofstream out(path, std::ios::binary);
    out << "not a protobuf \xff\xff\xff";
  }
  auto s = open();
  STRCMP_CONTAINS("cannot be decoded", s->problem().c_str());
  LONGS_EQUAL(0, s->size());
  CHECK(s->save().ok());  // replaced by an empty, readable table
  auto again = open();
  STRCMP_EQUAL("", again->problem().c_str());
  // Entries that no discovery message could have announced are skipped.
  {
    ::portier::announcements::Announcements file;
    file.set_format("portier.announcements.v1");
    file.add_entries()->set_state_topic("");
    auto* long_class = file.add_entries();
    long_class->set_state_topic("a/b");
    long_class->set_device_class(std::string(65, 'x'));
    auto* ok = file.add_entries();
    ok->set_state_topic("c/d");
    ok->set_device_class("motion");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << file.SerializeAsString();
  }
  auto filtered = open();
  LONGS_EQUAL(1, filtered->size());
  STRCMP_EQUAL("motion|", meaning(*filtered, "c/d").c_str());
}

TEST(announcement_store, a_failed_write_keeps_the_changes_for_the_next) {
  auto s = open();
  s->record(discovery("n/sensor/t/state", "temperature", "°C"), kT0);
  CHECK_EQUAL(0, std::system(("chmod 500 " + dir).c_str()));
  const bool root = ::geteuid() == 0;  // root writes anyway
  if (!root) CHECK_FALSE(s->save().ok());
  CHECK_EQUAL(0, std::system(("chmod 700 " + dir).c_str()));
  if (!root) CHECK(s->dirty());
  CHECK(s->save().ok());
  CHECK_FALSE(s->dirty());
  auto again = open();
  STRCMP_EQUAL("temperature|°C", meaning(*again, "n/sensor/t/state").c_str());
}
