// Topic filters: MQTT matching with named and multi-level captures, the `$` rule, parse errors,
// normalised and subscription forms. Precedence between filters: topic_router_test.cc.
#include "policies/topic_filter.h"

#include <array>
#include <string>

#include <CppUTest/TestHarness.h>

using portier::policies::topic_filter;

namespace {

topic_filter parsed(const char* text, const char* file, int line) {
  auto f = topic_filter::parse(text);
  if (!f)
    FAIL_LOCATION((std::string("\"") + text + "\" does not parse: " + f.error_message()).c_str(),
                  file, line);
  return *f;
}

// `captures` is "name=value,..." in capture order; "" for a filter without captures.
void check_match(const char* filter, const char* topic, const char* captures, const char* file,
                 int line) {
  const topic_filter f = parsed(filter, file, line);
  std::array<std::string_view, topic_filter::kMaxCaptures> got{};
  const std::string what = std::string("\"") + filter + "\" on \"" + topic + "\"";
  CHECK_TRUE_LOCATION(f.match(topic, got), "MATCH", "match()", (what + " should match").c_str(),
                      file, line);
  std::string text;
  for (std::size_t i = 0; i < f.capture_names().size(); ++i) {
    text += (i ? "," : "") + f.capture_names()[i] + "=" + std::string(got[i]);
  }
  STRCMP_EQUAL_LOCATION(captures, text.c_str(), what.c_str(), file, line);
}

void check_no_match(const char* filter, const char* topic, const char* file, int line) {
  const topic_filter f = parsed(filter, file, line);
  std::array<std::string_view, topic_filter::kMaxCaptures> got{};
  const std::string what = std::string("\"") + filter + "\" should not match \"" + topic + "\"";
  CHECK_FALSE_LOCATION(f.match(topic, got), "NO_MATCH", "match()", what.c_str(), file, line);
}

void check_parse_error(const std::string& filter, const char* message, const char* file, int line) {
  auto f = topic_filter::parse(filter);
  CHECK_FALSE_LOCATION(f.ok(), "PARSE_ERROR", "parse()",
                       ("\"" + filter + "\" should not parse").c_str(), file, line);
  STRCMP_EQUAL_LOCATION(message, f.error_message().c_str(), filter.c_str(), file, line);
}

#define MATCH(filter, topic, captures) check_match(filter, topic, captures, __FILE__, __LINE__)
#define NO_MATCH(filter, topic) check_no_match(filter, topic, __FILE__, __LINE__)
#define PARSE_ERROR(filter, message) check_parse_error(filter, message, __FILE__, __LINE__)

}  // namespace

TEST_GROUP(topic_filter){};

TEST(topic_filter, literal_levels_match_exactly) {
  MATCH("dsmr/json", "dsmr/json", "");
  NO_MATCH("dsmr/json", "dsmr/json/x");
  NO_MATCH("dsmr/json", "dsmr");
  NO_MATCH("dsmr/json", "dsmr/JSON");
  NO_MATCH("dsmr/json", "dsmr/jso");
  NO_MATCH("dsmr/json", "dsmr/json/");
  MATCH("a//b", "a//b", "");
  NO_MATCH("a//b", "a/b");
}

TEST(topic_filter, plus_matches_exactly_one_level_even_an_empty_one) {
  MATCH("tele/+/STATE", "tele/tasmota_1A2B3C/STATE", "");
  MATCH("tele/+/STATE", "tele//STATE", "");
  MATCH("+/+", "/finance", "");
  MATCH("a/+", "a/", "");
  NO_MATCH("a/+", "a");
  NO_MATCH("a/+", "a/b/c");
  NO_MATCH("tele/+/STATE", "tele/a/b/STATE");
}

TEST(topic_filter, hash_matches_the_rest_including_the_parent_level) {
  MATCH("dsmr/#", "dsmr/json", "");
  MATCH("dsmr/#", "dsmr/a/b/c", "");
  MATCH("dsmr/#", "dsmr", "");
  MATCH("dsmr/#", "dsmr/", "");
  MATCH("#", "anything/at/all", "");
  MATCH("#", "/", "");
  NO_MATCH("dsmr/#", "dsmrx/json");
  NO_MATCH("dsmr/#", "x/dsmr/json");
}

TEST(topic_filter, captures_remember_their_level) {
  MATCH("zigbee2mqtt/{device}", "zigbee2mqtt/Anna bedroom sensor", "device=Anna bedroom sensor");
  MATCH("owntracks/{user}/{device}", "owntracks/anna/iphone", "user=anna,device=iphone");
  MATCH("shellies/{device}/relay/{channel}", "shellies/shelly1pm-A1B2C3/relay/0",
        "device=shelly1pm-A1B2C3,channel=0");
  MATCH("{device}/status/switch:0", "shellyplus1pm-a8032ab12345/status/switch:0",
        "device=shellyplus1pm-a8032ab12345");
  MATCH("a/{d}/#", "a/b", "d=b");
  MATCH("a/{d}/#", "a/b/c/d", "d=b");
  MATCH("+/{x}/+", "p/q/r", "x=q");
  MATCH("{_a1}", "v", "_a1=v");
  NO_MATCH("zigbee2mqtt/{device}", "zigbee2mqtt/Anna/availability");
  NO_MATCH("owntracks/{user}/{device}", "owntracks/anna");
}

TEST(topic_filter, a_capture_never_matches_an_empty_level) {
  NO_MATCH("zigbee2mqtt/{device}", "zigbee2mqtt/");
  NO_MATCH("x/{a}/y", "x//y");
  NO_MATCH("{device}/status", "/status");
  MATCH("x/+/y", "x//y", "");
}

TEST(topic_filter, dollar_topics_are_not_matched_by_a_leading_wildcard) {
  NO_MATCH("#", "$SYS/broker/uptime");
  NO_MATCH("+/broker/uptime", "$SYS/broker/uptime");
  NO_MATCH("{device}/status", "$SYS/status");
  NO_MATCH("+", "$SYS");
  MATCH("$SYS/#", "$SYS/broker/uptime", "");
  MATCH("$SYS/{what}", "$SYS/load", "what=load");
  // Only the first level is special.
  MATCH("a/+", "a/$x", "");
  MATCH("a/{d}", "a/$x", "d=$x");
  MATCH("a/#", "a/$x/y", "");
}

TEST(topic_filter, parse_errors) {
  PARSE_ERROR("", "topic filter is empty");
  PARSE_ERROR(std::string(513, 'a'), "topic filter longer than 512 bytes");
  PARSE_ERROR("a/#/b", "\"#\" must be the last level of \"a/#/b\"");
  PARSE_ERROR("#/a", "\"#\" must be the last level of \"#/a\"");
  PARSE_ERROR("a/{dev", "capture level \"{dev\" must be a whole level \"{name}\"");
  PARSE_ERROR("a/{dev}x", "capture level \"{dev}x\" must be a whole level \"{name}\"");
  PARSE_ERROR("a/x{dev}", "level \"x{dev}\" mixes text with a wildcard or brace");
  PARSE_ERROR("a/b+", "level \"b+\" mixes text with a wildcard or brace");
  PARSE_ERROR("a/b#", "level \"b#\" mixes text with a wildcard or brace");
  PARSE_ERROR("a/b}", "level \"b}\" mixes text with a wildcard or brace");
  PARSE_ERROR("a/{Device}", "capture name \"Device\" must be lower-case letters, digits or '_'");
  PARSE_ERROR("a/{}", "capture name \"\" must be lower-case letters, digits or '_'");
  PARSE_ERROR("a/{1st}", "capture name \"1st\" must be lower-case letters, digits or '_'");
  PARSE_ERROR("a/{my-dev}", "capture name \"my-dev\" must be lower-case letters, digits or '_'");
  PARSE_ERROR("a/{" + std::string(33, 'x') + "}", ("capture name \"" + std::string(33, 'x') +
                                                   "\" must be lower-case letters, digits or '_'")
                                                      .c_str());
  PARSE_ERROR("{a}/{a}", "capture {a} appears twice in \"{a}/{a}\"");
  PARSE_ERROR("{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
              "more than 8 captures in \"{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}\"");
}

TEST(topic_filter, limits_that_still_parse) {
  CHECK_TRUE(topic_filter::parse(std::string(512, 'a')).ok());
  CHECK_TRUE(topic_filter::parse("{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}").ok());
  CHECK_TRUE(topic_filter::parse("a/{" + std::string(32, 'x') + "}").ok());
}

TEST(topic_filter, normalised_form_and_capture_names) {
  auto f = topic_filter::parse("owntracks/{user}/{device}/#");
  CHECK_TRUE(f.ok());
  STRCMP_EQUAL("owntracks/+/+/#", f->normalised().c_str());
  STRCMP_EQUAL("owntracks/{user}/{device}/#", f->text().c_str());
  LONGS_EQUAL(2, f->capture_names().size());
  LONGS_EQUAL(0, f->capture_index("user"));
  LONGS_EQUAL(1, f->capture_index("device"));
  LONGS_EQUAL(-1, f->capture_index("channel"));
}

TEST(topic_filter, a_multi_level_capture_takes_one_or_more_non_empty_levels) {
  MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt/kitchen", "device=kitchen");
  MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt/bedroom/climate_sensor",
        "device=bedroom/climate_sensor");
  MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt/a/b/c/d", "device=a/b/c/d");
  NO_MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt");
  NO_MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt/");
  NO_MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt/a//b");
  NO_MATCH("zigbee2mqtt/{device...}", "zigbee2mqtt/a/");
  // Levels after it: it takes as few as the rest allows.
  MATCH("zigbee2mqtt/{device...}/availability", "zigbee2mqtt/bedroom/climate/availability",
        "device=bedroom/climate");
  MATCH("zigbee2mqtt/{device...}/availability", "zigbee2mqtt/a/availability/availability",
        "device=a/availability");
  NO_MATCH("zigbee2mqtt/{device...}/availability", "zigbee2mqtt/availability");
  MATCH("{base...}/{node}/status", "home/esp/living/status", "base=home/esp,node=living");
  MATCH("a/{x...}/+/b", "a/1/2/3/b", "x=1/2");
  // A leading multi-level capture follows the '$' rule like any wildcard.
  NO_MATCH("{x...}/state", "$SYS/state");
}

TEST(topic_filter, multi_level_capture_parse_errors_and_shapes) {
  PARSE_ERROR("a/{x...}/{y...}",
              "more than one {name...} capture in \"a/{x...}/{y...}\": how to split the levels "
              "would be ambiguous");
  PARSE_ERROR("a/{x...}/#",
              "\"#\" after a {name...} capture in \"a/{x...}/#\": which levels it takes would be "
              "ambiguous");
  PARSE_ERROR("a/{x..}", "capture name \"x..\" must be lower-case letters, digits or '_'");
  PARSE_ERROR("a/{...}", "capture name \"\" must be lower-case letters, digits or '_'");
  std::string deep = "a";
  for (int i = 0; i < 32; ++i) deep += "/a";
  PARSE_ERROR(deep, ("more than 32 levels in \"" + deep + "\"").c_str());
  auto f = topic_filter::parse("zigbee2mqtt/{device...}/availability");
  CHECK_TRUE(f.ok());
  STRCMP_EQUAL("zigbee2mqtt/+.../availability", f->normalised().c_str());
  STRCMP_EQUAL("zigbee2mqtt/#", f->subscription().c_str());
  STRCMP_EQUAL("shellies/+/relay/+",
               topic_filter::parse("shellies/{device}/relay/+")->subscription().c_str());
  STRCMP_EQUAL("dsmr/#", topic_filter::parse("dsmr/#")->subscription().c_str());
  LONGS_EQUAL(0, f->capture_index("device"));
}
