// message_shape: what portierd may keep of a message no class takes. Topic levels that may name
// a person or a room become "+", keys that may be names become "*", values are never kept.
#include "policies/message_shape.h"

#include <string>

#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::compile_ok;

namespace {

// A payload's shape in one line: "formats | path:type,type path:type ... [truncated]".
std::string shape_line(std::string_view payload) {
  const payload_shape s = payload_shape_of(payload);
  std::string out;
  for (const auto& f : shape_format_names(s.formats)) out += (out.empty() ? "" : ",") + f;
  out += " |";
  for (const auto& p : s.paths) {
    out += " " + p.path + ":";
    std::string types;
    for (const auto& t : shape_type_names(p.types)) types += (types.empty() ? "" : ",") + t;
    out += types;
  }
  if (s.truncated) out += " truncated";
  return out;
}

const char* const kPolicy = R"(
purpose { id: "service" title: "Service" legal_basis: CONTRACT retention_seconds: 60 }
device_class {
  id: "z2m" topic: "zigbee2mqtt/{device...}" topic: "zigbee2mqtt/{device...}/availability"
  field { path: "battery" rule { purpose: "service" keep {} } }
}
device_class {
  id: "esp" topic: "esphome/{device}/sensor/{object}/state" device_id: "{device}/{object}"
  field { path: "$" rule { purpose: "service" keep {} } }
}
ignore { topic: "acme/{device}/secret_sauce/#" why: "internals" }
ignore { topic: "zigbee2mqtt/{device...}/frob" why: "commands" }
)";

}  // namespace

TEST_GROUP(message_shape){};

TEST(message_shape, levels_that_are_not_vocabulary_words_become_plus) {
  const shape_vocabulary builtin;
  STRCMP_EQUAL("tele/+/SENSOR", topic_shape("tele/Anna_plug/SENSOR", builtin).c_str());
  STRCMP_EQUAL("+/+/events/rpc",
               topic_shape("acme/shellyplus1-a8032ab12345/events/rpc", builtin).c_str());
  STRCMP_EQUAL("+/+/+", topic_shape("house/Kitchen/Fridge Door", builtin).c_str());
  STRCMP_EQUAL("rtl_433/+/+/temperature",
               topic_shape("rtl_433/bob-laptop/Acurite-Tower/temperature", builtin).c_str());
  // Words are ASCII letters, digits, '_', '-', ':' and at most 24 bytes; case matters.
  STRCMP_EQUAL("+/+", topic_shape("Status/sensör", builtin).c_str());
  STRCMP_EQUAL("status/+", topic_shape("status/status_status_status_status", builtin).c_str());
  STRCMP_EQUAL("home/+/0/power", topic_shape("home/livingroom/0/power", builtin).c_str());
  // An empty level names nothing and stays empty.
  STRCMP_EQUAL("home//+/", topic_shape("home//Anna/", builtin).c_str());
}

TEST(message_shape, the_policy_adds_its_literal_levels_at_their_position) {
  const auto policy = compile_ok(kPolicy);
  const shape_vocabulary v(*policy);
  CHECK_TRUE(v.keeps("secret_sauce", 2));
  CHECK_FALSE(v.keeps("secret_sauce", 1));  // only where the policy has it
  CHECK_FALSE(shape_vocabulary().keeps("secret_sauce", 2));
  STRCMP_EQUAL("acme/+/secret_sauce/+", topic_shape("acme/anna/secret_sauce/x", v).c_str());
  STRCMP_EQUAL("+/+", topic_shape("anna/secret_sauce", v).c_str());
  // After a {name...} a literal may come at its position or later.
  STRCMP_EQUAL("zigbee2mqtt/+/+/frob", topic_shape("zigbee2mqtt/hall/lamp/frob", v).c_str());
  STRCMP_EQUAL("zigbee2mqtt/+/frob", topic_shape("zigbee2mqtt/hall/frob", v).c_str());
  STRCMP_EQUAL("+/+", topic_shape("x/frob", v).c_str());
  STRCMP_EQUAL("+/availability", topic_shape("x/availability", v).c_str());  // built in
}

TEST(message_shape, very_long_topics_end_in_hash) {
  std::string topic = "tele";
  for (int i = 0; i < 40; ++i) topic += "/x";
  const std::string s = topic_shape(topic, shape_vocabulary());
  std::string expected = "tele";
  for (int i = 0; i < 30; ++i) expected += "/+";
  expected += "/#";
  STRCMP_EQUAL(expected.c_str(), s.c_str());
}

TEST(message_shape, keys_that_may_be_names_or_identifiers_become_star) {
  STRCMP_EQUAL("temperature", std::string(key_shape("temperature")).c_str());
  STRCMP_EQUAL("switch:0", std::string(key_shape("switch:0")).c_str());
  STRCMP_EQUAL("pm2_5", std::string(key_shape("pm2_5")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("Anna bedroom")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("a4:c1:38:12:34:56")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("0x00158d0001a2b3c4")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("192.168.1.20")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("Zoë")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("")).c_str());
  STRCMP_EQUAL("*", std::string(key_shape("a_very_long_key_of_more_than_32_bytes")).c_str());
}

TEST(message_shape, payload_paths_and_types_never_values) {
  STRCMP_EQUAL("json | battery:number humidity:number temperature:number",
               shape_line(R"({"temperature":21.5,"humidity":48,"battery":97})").c_str());
  STRCMP_EQUAL(
      "json | ENERGY.Power:number ENERGY.Total:number Time:string",
      shape_line(R"({"Time":"2024-05-01T10:00:00","ENERGY":{"Total":1.5,"Power":42}})").c_str());
  STRCMP_EQUAL(
      "json | *.rssi:number *.seen:boolean,null",
      shape_line(
          R"({"Anna phone":{"rssi":-60,"seen":true},"a4:c1:38:12:34:56":{"rssi":-70,"seen":null}})")
          .c_str());
  STRCMP_EQUAL(
      "json | [*].friendly_name:string [*].ieee_address:string",
      shape_line(R"([{"ieee_address":"0x1","friendly_name":"Anna"},{"ieee_address":"0x2"}])")
          .c_str());
  STRCMP_EQUAL("json | items[*]:string,number tags:array x:object",
               shape_line(R"({"items":[1,"a",2],"tags":[],"x":{}})").c_str());
  STRCMP_EQUAL("json | $:string", shape_line(R"("Anna is home")").c_str());
  STRCMP_EQUAL("json | $:number", shape_line("21.5").c_str());
}

TEST(message_shape, payloads_that_are_not_json_are_text_or_binary) {
  STRCMP_EQUAL("text | $:string", shape_line("ON").c_str());
  STRCMP_EQUAL("text | $:string", shape_line("").c_str());
  STRCMP_EQUAL("text | $:string", shape_line(R"({"temperature": 21.5)").c_str());  // cut short
  STRCMP_EQUAL("binary |", shape_line("\xff\xfe\x01").c_str());
  STRCMP_EQUAL("binary |", shape_line("{\"a\":\"\xff\"}").c_str());
}

TEST(message_shape, depth_and_path_count_are_bounded) {
  STRCMP_EQUAL(
      "json | a.b.c.d.e.f.g.h:object",
      shape_line(R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}})").c_str());
  STRCMP_EQUAL("json | [*][*][*][*][*][*][*][*]:array",
               shape_line("[[[[[[[[[[1]]]]]]]]]]").c_str());
  std::string many = "{";
  for (int i = 0; i < 100; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  many += "}";
  const payload_shape s = payload_shape_of(many);
  LONGS_EQUAL(kMaxShapePaths, s.paths.size());
  CHECK_TRUE(s.truncated);
  // Deeply nested input is read without recursion (and without keeping what it skips).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  STRCMP_EQUAL("json | [*][*][*][*][*][*][*][*]:array", shape_line(deep).c_str());
}

TEST(message_shape, merging_unions_formats_paths_and_types_within_the_bound) {
  payload_shape a = payload_shape_of(R"({"a":1,"c":"x"})");
  merge_payload_shape(a, payload_shape_of(R"({"b":true,"a":"text"})"));
  merge_payload_shape(a, payload_shape_of("offline"));
  LONGS_EQUAL(format_json | format_text, a.formats);
  LONGS_EQUAL(4, a.paths.size());
  STRCMP_EQUAL("$", a.paths[0].path.c_str());
  STRCMP_EQUAL("a", a.paths[1].path.c_str());
  LONGS_EQUAL(shape_number | shape_string, a.paths[1].types);
  STRCMP_EQUAL("b", a.paths[2].path.c_str());
  STRCMP_EQUAL("c", a.paths[3].path.c_str());
  CHECK_FALSE(a.truncated);

  std::string many = "{";
  for (int i = 0; i < 70; ++i) many += (i ? ",\"z" : "\"z") + std::to_string(i) + "\":1";
  many += "}";
  merge_payload_shape(a, payload_shape_of(many));
  LONGS_EQUAL(kMaxShapePaths, a.paths.size());
  CHECK_TRUE(a.truncated);
}

TEST(message_shape, type_and_format_names_round_trip) {
  for (std::uint8_t bit = 1; bit <= shape_array; bit <<= 1) {
    const auto names = shape_type_names(bit);
    LONGS_EQUAL(1, names.size());
    LONGS_EQUAL(bit, shape_type_bit(names[0]));
  }
  LONGS_EQUAL(format_binary, shape_format_bit("binary"));
  LONGS_EQUAL(0, shape_type_bit("integer"));
}
