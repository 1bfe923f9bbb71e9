#include "gateway/session_store.h"

#include <unistd.h>

#include <mqtt/async_client.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "platform/crc32.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

const std::string kSecretValue = "{\"lat\":52.1234567,\"lon\":4.7654321,\"tid\":\"alice\"}";

}  // namespace

TEST_GROUP(session_store) {
  std::string dir;
  std::unique_ptr<platform::key_directory> keys;

  void setup() override {
    char tmpl[] = "/tmp/portier-session-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    keys = platform::key_directory::open(dir + "/keys").value();
  }
  void teardown() override {
    keys.reset();
    const std::string cmd = "rm -rf '" + dir + "'";
    CHECK_EQUAL(0, std::system(cmd.c_str()));
  }
  std::unique_ptr<session_store> opened() {
    auto s = std::make_unique<session_store>(dir + "/mqtt-local", *keys);
    s->open("portierd", "tcp://127.0.0.1:1883");
    return s;
  }
  void put(session_store & s, const std::string& key, const std::string& a, const std::string& b) {
    s.put(key, {mqtt::string_view(a), mqtt::string_view(b)});
  }
};

TEST(session_store, entries_survive_a_restart_and_removed_ones_do_not) {
  {
    auto s = opened();
    put(*s, "r-1", "header", kSecretValue);
    put(*s, "r-2", "header", "two");
    put(*s, "r-3", "header", "three");
    s->remove("r-2");
    s->close();
  }
  auto s = opened();
  CHECK_EQUAL(2u, s->size());
  CHECK_TRUE(s->contains_key("r-1"));
  CHECK_FALSE(s->contains_key("r-2"));
  STRCMP_EQUAL(("header" + kSecretValue).c_str(), s->get("r-1").c_str());
  STRCMP_EQUAL("headerthree", s->get("r-3").c_str());
  CHECK_EQUAL(2u, s->keys().size());
}

TEST(session_store, values_never_reach_the_disk_in_clear) {
  auto s = opened();
  put(*s, "r-7", "", kSecretValue);
  const std::string bytes = slurp(s->log_path());
  CHECK_TRUE(bytes.size() > kSecretValue.size());
  CHECK_EQUAL(std::string::npos, bytes.find("alice"));
  CHECK_EQUAL(std::string::npos, bytes.find("52.1234567"));
  CHECK_EQUAL(std::string::npos, bytes.find("r-7"));  // keys are sealed too
}

TEST(session_store, get_and_remove_of_an_unknown_key_throw_a_persistence_error) {
  auto s = opened();
  CHECK_THROWS(mqtt::persistence_exception, s->get("r-9"));
  CHECK_THROWS(mqtt::persistence_exception, s->remove("r-9"));
}

TEST(session_store, a_torn_tail_is_cut_and_what_came_before_is_kept) {
  std::string path;
  {
    auto s = opened();
    put(*s, "r-1", "", "first");
    put(*s, "r-2", "", "second");
    path = s->log_path();
  }
  std::string bytes = slurp(path);
  spit(path, bytes.substr(0, bytes.size() - 5));  // the last record torn by a crash mid-write
  auto s = opened();
  CHECK_EQUAL(1u, s->size());
  STRCMP_EQUAL("first", s->get("r-1").c_str());
  put(*s, "r-3", "", "third");  // and the log goes on from a clean end
  s.reset();
  auto again = opened();
  CHECK_EQUAL(2u, again->size());
  STRCMP_EQUAL("third", again->get("r-3").c_str());
}

TEST(session_store, a_record_that_fails_its_tag_is_never_restored) {
  std::string path;
  {
    auto s = opened();
    put(*s, "r-1", "", "first");
    path = s->log_path();
  }
  std::string bytes = slurp(path);
  bytes[bytes.size() - 1] ^= 0x01;  // flip a tag bit and fix the CRC: only the tag can tell
  const std::string body = bytes.substr(8);
  const std::uint32_t crc = platform::crc32(body);
  for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  spit(path, bytes);
  auto s = opened();
  CHECK_EQUAL(0u, s->size());
}

TEST(session_store, a_destroyed_key_makes_the_old_log_unreadable_not_fatal) {
  {
    auto s = opened();
    put(*s, "r-1", "", kSecretValue);
  }
  CHECK_TRUE(keys->destroy("mqtt-session"));
  keys = platform::key_directory::open(dir + "/keys").value();
  auto s = opened();
  CHECK_EQUAL(0u, s->size());
  put(*s, "r-2", "", "new");
  CHECK_TRUE(s->contains_key("r-2"));
}

TEST(session_store, the_log_is_truncated_once_nothing_is_live) {
  auto s = opened();
  const std::string value(4000, 'x');
  for (int i = 0; i < 400; ++i) {  // about 1.6 MB of puts and removes
    put(*s, "r-" + std::to_string(i % 60000), "", value);
    s->remove("r-" + std::to_string(i % 60000));
  }
  CHECK_TRUE(s->log_bytes() < (1u << 20));
  put(*s, "r-1", "", "kept");
  s.reset();
  auto again = opened();
  CHECK_EQUAL(1u, again->size());
}

TEST(session_store, a_long_log_with_live_entries_is_rewritten_with_only_those) {
  auto s = opened();
  put(*s, "r-keep", "", "kept");
  const std::string value(64000, 'y');
  for (int i = 0; i < 300; ++i) {  // about 19 MB, one entry live all the time
    put(*s, "r-x", "", value);
    s->remove("r-x");
  }
  CHECK_TRUE(s->log_bytes() < (16u << 20));
  s.reset();
  auto again = opened();
  CHECK_EQUAL(1u, again->size());
  STRCMP_EQUAL("kept", again->get("r-keep").c_str());
}

TEST(session_store, clear_forgets_everything_across_a_restart) {
  {
    auto s = opened();
    put(*s, "r-1", "", "one");
    s->clear();
    put(*s, "r-2", "", "two");
  }
  auto s = opened();
  CHECK_EQUAL(1u, s->size());
  CHECK_TRUE(s->contains_key("r-2"));
}

TEST(session_store, paho_opens_it_when_the_client_is_created) {
  {
    auto s = opened();
    put(*s, "r-1", "", "one");
  }
  session_store store(dir + "/mqtt-local", *keys);
  {
    mqtt::async_client client("tcp://127.0.0.1:1", "portierd-test", &store);
    CHECK_TRUE(store.log_bytes() > 0);  // opened and replayed by Paho's create
  }
}
