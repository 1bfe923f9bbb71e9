// unmatched_shapes: the bounded, persisted record of messages no class takes, as shapes only.
#include "gateway/store/unmatched_shapes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "policies/policy_compiler.h"
#include "policies/policy_source.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::shared_ptr<const policies::compiled_policy> policy_with(const std::string& filter) {
  auto src = policies::parse_policy_source("p.textproto", R"(
    purpose { id: "service" title: "Service" legal_basis: CONTRACT retention_seconds: 60 }
    device_class { id: "c" topic: ")" + filter + R"(" field { path: "x" } })");
  std::vector<policies::policy_source> sources;
  sources.push_back(std::move(*src));
  auto r = policies::compile_policy(sources);
  if (!r.errors.empty()) FAIL(r.errors.front().c_str());
  return r.policy;
}

std::string paths_of(const unmatched::Shape& s) {
  std::string out;
  for (const auto& p : s.path()) {
    out += (out.empty() ? "" : " ") + p.path() + ":";
    for (int i = 0; i < p.types_size(); ++i) out += (i ? "," : "") + p.types(i);
  }
  return out;
}

}  // namespace

TEST_GROUP(unmatched_shapes) {
  std::string dir;
  std::string file;
  std::atomic<std::uint64_t> evicted{0};
  std::unique_ptr<unmatched_shapes> shapes;
  std::shared_ptr<const policies::compiled_policy> policy;

  void setup() override {
    char tmpl[] = "/tmp/portier-unmatched-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    file = dir + "/unmatched.pb";
    policy = policy_with("acme/{device}/frob");
  }
  void teardown() override {
    shapes.reset();
    policy.reset();
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  std::string open(std::size_t max_shapes = 256) {
    std::string problem;
    shapes.reset();
    shapes = unmatched_shapes::open({file, max_shapes, std::chrono::milliseconds(60'000), &evicted},
                                    problem);
    return problem;
  }
};

TEST(unmatched_shapes, keeps_shapes_and_counts_never_names_or_values) {
  STRCMP_EQUAL("", open().c_str());
  shapes->record(policy, "acme/Anna bedroom/frob", R"({"owner":"Anna","temp":21.5})", kT0);
  shapes->record(policy, "acme/Bob's office/frob", R"({"owner":"Bob","temp":19,"on":true})",
                 kT0 + 1000);
  shapes->record(policy, "acme/Anna bedroom/state", "ON", kT0 + 2000);
  const auto list = shapes->list();
  LONGS_EQUAL(2, list.size());
  STRCMP_EQUAL("acme/+/frob", list[0].topic().c_str());  // "frob" is a word of the policy
  LONGS_EQUAL(2, list[0].messages());
  CHECK_EQUAL(kT0, list[0].first_seen_ms());
  CHECK_EQUAL(kT0 + 1000, list[0].last_seen_ms());
  STRCMP_EQUAL("on:boolean owner:string temp:number", paths_of(list[0]).c_str());
  LONGS_EQUAL(1, list[0].formats_size());
  STRCMP_EQUAL("json", list[0].formats(0).c_str());
  STRCMP_EQUAL("acme/+/state", list[1].topic().c_str());
  STRCMP_EQUAL("$:string", paths_of(list[1]).c_str());
  STRCMP_EQUAL("text", list[1].formats(0).c_str());
  LONGS_EQUAL(2, shapes->size());

  CHECK_TRUE(shapes->save());
  const std::string bytes = slurp(file);
  for (const char* secret : {"Anna", "Bob", "bedroom", "office", "21.5", "ON"}) {
    CHECK_FALSE_TEXT(bytes.find(secret) != std::string::npos, secret);
  }
  struct stat st {};
  CHECK_EQUAL(0, ::stat(file.c_str(), &st));
  LONGS_EQUAL(0600, st.st_mode & 0777);
}

TEST(unmatched_shapes, a_new_policy_brings_its_words) {
  open();
  shapes->record(policy, "other/x/frob", "{}", kT0);
  auto other = policy_with("other/{device}/frob");
  shapes->record(other, "other/x/frob", "{}", kT0);
  const auto list = shapes->list();
  LONGS_EQUAL(2, list.size());
  STRCMP_EQUAL("+/+/frob", list[0].topic().c_str());  // "other" is no word of the first
  STRCMP_EQUAL("other/+/frob", list[1].topic().c_str());
}

TEST(unmatched_shapes, a_replaced_policy_is_not_kept_alive) {
  open();
  const std::weak_ptr<const policies::compiled_policy> old = policy;
  shapes->record(policy, "other/x/frob", "{}", kT0);
  policy = policy_with("other/{device}/frob");  // a reload: the pipeline drops the old policy
  CHECK_TRUE(old.expired());
  shapes->record(policy, "other/x/frob", "{}", kT0);
  LONGS_EQUAL(2, shapes->list().size());
}

TEST(unmatched_shapes, survive_a_restart) {
  open();
  shapes->record(policy, "acme/a/frob", R"({"temp":1})", kT0);
  shapes->record(policy, "acme/b/frob", R"({"hum":2})", kT0 + 120'000);
  shapes->record(policy, "x/y", "1", kT0 + 5);
  CHECK_TRUE(shapes->save());
  STRCMP_EQUAL("", open().c_str());
  const auto list = shapes->list();
  LONGS_EQUAL(2, list.size());
  STRCMP_EQUAL("acme/+/frob", list[0].topic().c_str());
  LONGS_EQUAL(2, list[0].messages());
  CHECK_EQUAL(kT0, list[0].first_seen_ms());
  CHECK_EQUAL(kT0 + 120'000, list[0].last_seen_ms());
  CHECK_TRUE(list[0].established());  // seen again two minutes later
  STRCMP_EQUAL("hum:number temp:number", paths_of(list[0]).c_str());
  STRCMP_EQUAL("+/+", list[1].topic().c_str());
  CHECK_FALSE(list[1].established());
  // More of the same after the restart merges into the restored shape.
  shapes->record(policy, "acme/c/frob", R"({"temp":"warm"})", kT0 + 200'000);
  STRCMP_EQUAL("hum:number temp:string,number", paths_of(shapes->list()[0]).c_str());
}

TEST(unmatched_shapes, bounded_and_shapes_seen_once_go_first) {
  open(3);
  shapes->record(policy, "a", "1", kT0);
  shapes->record(policy, "a", "1", kT0 + 61'000);  // established
  shapes->record(policy, "a/b", "1", kT0 + 62'000);
  shapes->record(policy, "a/b/c", "1", kT0 + 63'000);
  shapes->record(policy, "a/b/c/d", "1", kT0 + 64'000);  // evicts "+/+", the oldest seen once
  LONGS_EQUAL(3, shapes->size());
  LONGS_EQUAL(1, shapes->evicted());
  LONGS_EQUAL(1, evicted.load());
  const auto list = shapes->list();
  STRCMP_EQUAL("+", list[0].topic().c_str());
  STRCMP_EQUAL("+/+/+", list[1].topic().c_str());
  STRCMP_EQUAL("+/+/+/+", list[2].topic().c_str());
  // Reopened with a lower bound, the last to be evicted are kept.
  CHECK_TRUE(shapes->save());
  open(2);
  LONGS_EQUAL(2, shapes->size());
  CHECK_EQUAL(std::string("+"), shapes->list()[0].topic());
}

TEST(unmatched_shapes, clear_forgets_everything_on_disk_too) {
  open();
  shapes->record(policy, "acme/a/frob", "{}", kT0);
  shapes->record(policy, "b", "{}", kT0);
  CHECK_TRUE(shapes->save());
  CHECK_TRUE(exists(file));
  auto cleared = shapes->clear();
  CHECK_TRUE(cleared);
  LONGS_EQUAL(2, *cleared);
  LONGS_EQUAL(0, shapes->size());
  CHECK_FALSE(exists(file));
  open();
  LONGS_EQUAL(0, shapes->size());
}

TEST(unmatched_shapes, a_file_that_cannot_be_read_is_reported_and_replaced) {
  {
    std::ofstream out(file, std::ios::binary);
    out << "not a shapes file";
  }
  const std::string problem = open();
  CHECK_TRUE(problem.find("cannot be decoded") != std::string::npos);
  LONGS_EQUAL(0, shapes->size());
  shapes->record(policy, "b", "{}", kT0);
  CHECK_TRUE(shapes->save());
  STRCMP_EQUAL("", open().c_str());
  LONGS_EQUAL(1, shapes->size());
}

TEST(unmatched_shapes, saves_at_most_once_per_interval_and_only_changes) {
  open();
  const auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CHECK_TRUE(shapes->save_if_due(t));
  CHECK_FALSE(exists(file));  // nothing to write
  shapes->record(policy, "b", "{}", kT0);
  CHECK_TRUE(shapes->save_if_due(t));
  CHECK_TRUE(exists(file));
  shapes->record(policy, "c/d", "{}", kT0);
  CHECK_TRUE(shapes->save_if_due(t + std::chrono::seconds(30)));
  open();
  LONGS_EQUAL(1, shapes->size());  // the second was not written yet
  shapes->record(policy, "c/d", "{}", kT0);
  CHECK_TRUE(shapes->save_if_due(t));
  shapes->record(policy, "e/f/g", "{}", kT0);
  CHECK_TRUE(shapes->save_if_due(t + std::chrono::seconds(61)));
  open();
  LONGS_EQUAL(3, shapes->size());
}
