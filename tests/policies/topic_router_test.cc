// topic_router: which of several matching filters takes a topic (per topic, level by level from
// the left: literal, then "+"/"{name}", then "{name...}", then "#"), the captures it hands over,
// and the order of equal shapes.
#include "policies/topic_router.h"

#include <deque>
#include <initializer_list>
#include <string>

#include <CppUTest/TestHarness.h>

using portier::policies::topic_filter;
using portier::policies::topic_route;
using portier::policies::topic_router;

namespace {

struct router_fixture {
  std::deque<topic_filter> filters;  // stable addresses
  topic_router router;

  explicit router_fixture(std::initializer_list<const char*> texts) {
    for (const char* t : texts) {
      auto f = topic_filter::parse(t);
      if (!f) FAIL((std::string(t) + ": " + f.error_message()).c_str());
      filters.push_back(std::move(*f));
      router.add({&filters.back(), nullptr, nullptr});
    }
  }

  // Every filter offered for `topic`, in order, each as "text{name=value,...}".
  std::string offered(const char* topic) const {
    std::array<std::string_view, topic_filter::kMaxCaptures> captures{};
    std::string out;
    router.route(topic, captures, [&](const topic_route& r) {
      out += (out.empty() ? "" : " ") + r.filter->text();
      if (!r.filter->capture_names().empty()) {
        out += "{";
        for (std::size_t i = 0; i < r.filter->capture_names().size(); ++i) {
          out += (i ? "," : "") + r.filter->capture_names()[i] + "=" + std::string(captures[i]);
        }
        out += "}";
      }
      return false;
    });
    return out;
  }
  std::string winner(const char* topic) const {
    const std::string all = offered(topic);
    return all.substr(0, all.find(' '));
  }
};

}  // namespace

TEST_GROUP(topic_router){};

TEST(topic_router, a_literal_beats_a_single_level_wildcard_which_beats_hash) {
  router_fixture r{"a/#", "a/+", "a/b", "a/{d}"};
  STRCMP_EQUAL("a/b a/+ a/{d}{d=b} a/#", r.offered("a/b").c_str());
  STRCMP_EQUAL("a/+ a/{d}{d=c} a/#", r.offered("a/c").c_str());
  STRCMP_EQUAL("a/#", r.offered("a").c_str());  // "#" also matches the parent level
  STRCMP_EQUAL("a/#", r.offered("a/b/c").c_str());
}

TEST(topic_router, the_first_level_that_differs_decides) {
  router_fixture r{
      "a/+/c", "a/b/#", "a/+/#", "tele/{device}/STATE", "{device}/status", "zigbee2mqtt/{device}"};
  STRCMP_EQUAL("a/b/#", r.winner("a/b/c").c_str());
  STRCMP_EQUAL("a/+/c", r.winner("a/x/c").c_str());
  STRCMP_EQUAL("tele/{device}/STATE{device=status}", r.winner("tele/status/STATE").c_str());
  STRCMP_EQUAL("zigbee2mqtt/{device}{device=status}", r.winner("zigbee2mqtt/status").c_str());
  STRCMP_EQUAL("{device}/status{device=esp}", r.winner("esp/status").c_str());
}

TEST(topic_router, literal_prefixes_and_suffixes_beat_a_multi_level_capture) {
  router_fixture r{"zigbee2mqtt/{device...}",     "zigbee2mqtt/{device...}/availability",
                   "zigbee2mqtt/{device...}/set", "zigbee2mqtt/{device...}/get",
                   "zigbee2mqtt/bridge/#",        "zigbee2mqtt/bridge/state"};
  STRCMP_EQUAL("zigbee2mqtt/{device...}{device=bedroom/climate_sensor}",
               r.offered("zigbee2mqtt/bedroom/climate_sensor").c_str());
  // A device named "bridge" is impossible to tell from the bridge: the bridge's topics win.
  STRCMP_EQUAL(
      "zigbee2mqtt/bridge/state zigbee2mqtt/bridge/# zigbee2mqtt/{device...}{device=bridge/state}",
      r.offered("zigbee2mqtt/bridge/state").c_str());
  STRCMP_EQUAL("zigbee2mqtt/bridge/#", r.winner("zigbee2mqtt/bridge/devices").c_str());
  STRCMP_EQUAL("zigbee2mqtt/bridge/#", r.winner("zigbee2mqtt/bridge").c_str());
  // ... and "x/set" is a command to device "x", never a device named "x/set".
  STRCMP_EQUAL("zigbee2mqtt/{device...}/set{device=x} zigbee2mqtt/{device...}{device=x/set}",
               r.offered("zigbee2mqtt/x/set").c_str());
  STRCMP_EQUAL("zigbee2mqtt/{device...}/set{device=living/lamp}",
               r.winner("zigbee2mqtt/living/lamp/set").c_str());
  STRCMP_EQUAL("zigbee2mqtt/{device...}/get{device=x}", r.winner("zigbee2mqtt/x/get").c_str());
  STRCMP_EQUAL("zigbee2mqtt/{device...}/availability{device=upstairs/hall/motion}",
               r.winner("zigbee2mqtt/upstairs/hall/motion/availability").c_str());
  // Only what is left of the topic decides: "a/set/b" is device "a/set/b".
  STRCMP_EQUAL("zigbee2mqtt/{device...}{device=a/set/b}", r.winner("zigbee2mqtt/a/set/b").c_str());
  STRCMP_EQUAL("", r.winner("zigbee2mqtt").c_str());
}

TEST(topic_router, a_single_level_wildcard_beats_a_multi_level_capture_which_beats_hash) {
  router_fixture r{"h/{x...}", "h/+", "h/#", "h/{a}/{b...}", "h/{c...}/z"};
  STRCMP_EQUAL("h/+ h/{x...}{x=1} h/#", r.offered("h/1").c_str());
  STRCMP_EQUAL("h/{a}/{b...}{a=1,b=2} h/{x...}{x=1/2} h/#", r.offered("h/1/2").c_str());
  // "h/{a}/{b...}" beats "h/{c...}/z" at level 2 ("+" before "{c...}"), though z is a literal.
  STRCMP_EQUAL("h/{a}/{b...}{a=1,b=2/z} h/{c...}/z{c=1/2} h/{x...}{x=1/2/z} h/#",
               r.offered("h/1/2/z").c_str());
}

TEST(topic_router, equal_shapes_are_offered_in_the_order_added_and_empty_captures_are_skipped) {
  router_fixture r{"o/{user}/{device}", "o/+/+", "o/{u}/{d}"};
  STRCMP_EQUAL("o/{user}/{device}{user=anna,device=phone} o/+/+ o/{u}/{d}{u=anna,d=phone}",
               r.offered("o/anna/phone").c_str());
  // "+" matches an empty level; a capture does not (an empty level identifies nothing).
  STRCMP_EQUAL("o/+/+", r.offered("o//phone").c_str());
}

TEST(topic_router, leading_wildcards_do_not_match_dollar_topics) {
  router_fixture r{"#", "+/x", "{d...}/x", "$SYS/#"};
  STRCMP_EQUAL("$SYS/#", r.offered("$SYS/x").c_str());
  STRCMP_EQUAL("+/x {d...}/x{d=a} #", r.offered("a/x").c_str());
}

TEST(topic_router, an_empty_router_matches_nothing) {
  router_fixture r{};
  STRCMP_EQUAL("", r.offered("a/b").c_str());
}
