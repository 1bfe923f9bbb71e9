// The data path end to end: evaluate() on a topic and payload, as the gateway calls it. Each case
// is one line: the message in, and the decision as `purpose=payload ... | reason=count ...`
// (test_support.h, summary()).
#include "policies/evaluator.h"

#include <stdexcept>
#include <string>

#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::engine;
using portier::policies::test::summary;
using portier::policies::test::test_identity;

namespace {

void check_summary(engine& e, const std::string& topic, const std::string& payload,
                   const char* expected, const char* file, int line) {
  STRCMP_EQUAL_LOCATION(expected, e.run(topic, payload).c_str(), (topic + " " + payload).c_str(),
                        file, line);
}

// One field of each action, all for purpose "p" (granted by default), on topic home/{device}.
const char* const kActionsPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
device_class {
  id: "sensor"
  topic: "home/{device}"
  field { path: "k" rule { purpose: "p" keep {} } }
  field { path: "d" rule { purpose: "p" drop {} } }
  field { path: "ps" rule { purpose: "p" pseudonymise { length: 8 } } }
  field { path: "r" rule { purpose: "p" round { step: 0.5 } } }
  field { path: "b" rule { purpose: "p" bucket { bound: [10, 100] label: ["low", "mid", "high"] } } }
  field { path: "t" rule { purpose: "p" coarsen_time { to: MINUTE } } }
  field { path: "tr" rule { purpose: "p" truncate { length: 3 } } }
  field { path: "lat" rule { purpose: "p" generalise_location { longitude: "lon" cell_km: 5 } } }
  field { path: "n.v" rule { purpose: "p" keep {} } }
  field { path: "n.m.w" rule { purpose: "p" keep {} } }
  field { path: "items[*].x" rule { purpose: "p" keep {} } }
  field { path: "tags[*]" rule { purpose: "p" keep {} } }
  field { path: "pos[*].lat" rule { purpose: "p" generalise_location { longitude: "lon" cell_km: 5 } } }
  field { path: "\"a.b\"" rule { purpose: "p" keep {} } }
}
)";

struct actions_fixture {
  engine e{kActionsPolicy};
};

#define OUT(payload, expected) check_summary(f.e, "home/dev", payload, expected, __FILE__, __LINE__)
#define DROPPED(payload, reason) \
  check_summary(f.e, "home/dev", payload, "| " reason "=1", __FILE__, __LINE__)

}  // namespace

TEST_GROUP(evaluator_actions) {
  actions_fixture f;
};

TEST(evaluator_actions, keep_sends_scalars_as_the_device_wrote_them) {
  OUT(R"({"k":"x"})", R"(p={"k":"x"} |)");
  OUT(R"({"k":1.50})", R"(p={"k":1.50} |)");
  OUT(R"({"k":1E+2})", R"(p={"k":1E+2} |)");
  OUT(R"({"k":-0.0})", R"(p={"k":-0.0} |)");
  OUT(R"({"k":true})", R"(p={"k":true} |)");
  OUT(R"({"k":false})", R"(p={"k":false} |)");
  OUT(R"({"k":null})", R"(p={"k":null} |)");
  OUT(R"( { "k" : 1 } )", R"(p={"k":1} |)");
  // Strings are re-escaped: the output is always valid JSON.
  OUT(R"({"k":"a\"b\u00e9\n\u0001\/"})", R"(p={"k":"a\"bé\n\u0001/"} |)");
  OUT(R"({"k":"\u0000"})", R"(p={"k":"\u0000"} |)");
  OUT(R"({"k":"\ud83d\ude00"})", R"(p={"k":"😀"} |)");
  OUT(R"({"a.b":1})", R"(p={"a.b":1} |)");
}

TEST(evaluator_actions, the_output_keeps_the_device_member_order) {
  OUT(R"({"tr":"abcd","r":1.2,"k":0})", R"(p={"tr":"abc","r":1.0,"k":0} |)");
  OUT(R"({"k":0,"tr":"abcd","r":1.2})", R"(p={"k":0,"tr":"abc","r":1.0} |)");
}

TEST(evaluator_actions, objects_and_arrays_where_a_value_is_listed_are_type_mismatches) {
  OUT(R"({"k":{"x":1}})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"k":[1,2]})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"k":{}})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"k":[]})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"k":{"x":1},"r":2})", R"(p={"r":2.0} | type_mismatch=1)");
  OUT(R"({"ps":{"a":1}})", "| nothing_permitted=1 type_mismatch=1");
  // A document that is not an object, for a class that lists members.
  OUT(R"([1,2])", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"("text")", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"(42)", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, unlisted_and_dropped_fields_never_leave) {
  OUT(R"({"d":1})", "| nothing_permitted=1 policy_drop=1");
  OUT(R"({"zz":1})", "| nothing_permitted=1 unlisted_field=1");
  OUT(R"({"k":1,"zz":"secret"})", R"(p={"k":1} | unlisted_field=1)");
  // An unlisted object or array counts once, however much is inside.
  OUT(R"({"zz":{"a":[1,2,{"b":3}]},"yy":[{}],"k":1})", R"(p={"k":1} | unlisted_field=2)");
  OUT(R"({"a":{"b":1}})", "| nothing_permitted=1 unlisted_field=1");  // not the quoted key "a.b"
  OUT(R"({"K":1})", "| nothing_permitted=1 unlisted_field=1");        // keys are case-sensitive
}

TEST(evaluator_actions, pseudonymise) {
  OUT(R"({"ps":"Anna"})", R"(p={"ps":"wyg7324t"} |)");
  OUT(R"({"ps":42})", R"(p={"ps":"3tss4c2r"} |)");  // a number's text, as a string
  OUT(R"({"ps":"Anna","k":"Anna"})", R"(p={"ps":"wyg7324t","k":"Anna"} |)");
  OUT(R"({"ps":true})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"ps":null})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, round) {
  OUT(R"({"r":21.53})", R"(p={"r":21.5} |)");
  OUT(R"({"r":21.75})", R"(p={"r":22.0} |)");
  OUT(R"({"r":-0.2})", R"(p={"r":0.0} |)");
  OUT(R"({"r":"21.5"})",
      "| nothing_permitted=1 type_mismatch=1");  // text where a number is expected
  OUT(R"({"r":null})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"r":true})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"r":1e308})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, bucket) {
  OUT(R"({"b":5})", R"(p={"b":"low"} |)");
  OUT(R"({"b":10})", R"(p={"b":"mid"} |)");
  OUT(R"({"b":100})", R"(p={"b":"high"} |)");
  OUT(R"({"b":-1e9})", R"(p={"b":"low"} |)");
  OUT(R"({"b":"5"})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, coarsen_time) {
  OUT(R"({"t":1714551825})", R"(p={"t":1714551780} |)");
  OUT(R"({"t":1714551825123})", R"(p={"t":1714551780000} |)");
  OUT(R"({"t":"2024-05-01T10:23:45+02:00"})", R"(p={"t":"2024-05-01T10:23:00+02:00"} |)");
  OUT(R"({"t":"2024-05-01 10:23:45"})", R"(p={"t":"2024-05-01 10:23:00"} |)");
  OUT(R"({"t":"tomorrow"})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"t":false})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, truncate) {
  OUT(R"({"tr":"Anna's room"})", R"(p={"tr":"Ann"} |)");
  OUT(R"({"tr":"日本語です"})", R"(p={"tr":"日本語"} |)");
  OUT(R"({"tr":"a\"bc"})", R"(p={"tr":"a\"b"} |)");
  OUT(R"({"tr":"ab"})", R"(p={"tr":"ab"} |)");
  OUT(R"({"tr":12345})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, generalise_location_in_either_order) {
  OUT(R"({"lat":52.37403,"lon":4.88969})", R"(p={"lat":52.3599,"lon":4.8620} |)");
  OUT(R"({"lon":4.88969,"lat":52.37403})", R"(p={"lat":52.3599,"lon":4.8620} |)");
  // The pair is written where it completes.
  OUT(R"({"lat":52.37403,"k":1,"lon":4.88969})", R"(p={"k":1,"lat":52.3599,"lon":4.8620} |)");
  OUT(R"({"lat":-33.8688,"lon":151.2093})", R"(p={"lat":-33.8780,"lon":151.2296} |)");
  OUT(R"({"lat":52,"lon":4})", R"(p={"lat":52.0005,"lon":4.0311} |)");
}

TEST(evaluator_actions, generalise_location_needs_both_in_range) {
  OUT(R"({"lat":52.37403})", "| nothing_permitted=1 incomplete_location=1");
  OUT(R"({"lon":4.88969})", "| nothing_permitted=1 incomplete_location=1");
  OUT(R"({"lat":52.37403,"k":1})", R"(p={"k":1} | incomplete_location=1)");
  OUT(R"({"lat":91,"lon":4})", "| nothing_permitted=1 incomplete_location=1");
  OUT(R"({"lat":52,"lon":-180.5})", "| nothing_permitted=1 incomplete_location=1");
  OUT(R"({"lat":"52.3","lon":4.8})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"lat":52.3,"lon":null})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"lat":{"v":1},"lon":4.8})",
      "| nothing_permitted=1 type_mismatch=1 incomplete_location=1");
}

TEST(evaluator_actions, generalise_location_per_array_element) {
  OUT(R"({"pos":[{"lat":52.37403,"lon":4.88969},{"lon":151.2093,"lat":-33.8688},{"lat":1},{"lon":2,"x":3}]})",
      R"(p={"pos":[{"lat":52.3599,"lon":4.8620},{"lat":-33.8780,"lon":151.2296}]} | unlisted_field=1 )"
      R"(incomplete_location=2)");
}

TEST(evaluator_actions, nested_objects_appear_only_with_something_in_them) {
  OUT(R"({"n":{"v":1}})", R"(p={"n":{"v":1}} |)");
  OUT(R"({"n":{"w":1}})", "| nothing_permitted=1 unlisted_field=1");
  OUT(R"({"n":{"m":{"z":1},"v":2}})", R"(p={"n":{"v":2}} | unlisted_field=1)");
  OUT(R"({"n":{"m":{"w":3}}})", R"(p={"n":{"m":{"w":3}}} |)");
  OUT(R"({"n":{"v":1,"m":{"w":2}},"k":3})", R"(p={"n":{"v":1,"m":{"w":2}},"k":3} |)");
  OUT(R"({"n":{"m":{}},"k":3})", R"(p={"k":3} |)");
  OUT(R"({"n":5})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"n":[{"v":1}]})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"n":{"v":{"deep":1}}})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_actions, arrays_of_objects_and_of_values) {
  OUT(R"({"items":[{"x":1,"y":2},{"x":3}]})",
      R"(p={"items":[{"x":1},{"x":3}]} | unlisted_field=1)");
  OUT(R"({"items":[{"y":1}]})", "| nothing_permitted=1 unlisted_field=1");
  OUT(R"({"items":[{"y":1}],"k":0})", R"(p={"k":0} | unlisted_field=1)");
  OUT(R"({"items":[]})", "| nothing_permitted=1");
  OUT(R"({"items":[{},{"x":1},{}]})", R"(p={"items":[{"x":1}]} |)");
  OUT(R"({"items":{"x":1}})", "| nothing_permitted=1 type_mismatch=1");
  OUT(R"({"items":[5,{"x":1}]})", R"(p={"items":[{"x":1}]} | type_mismatch=1)");
  OUT(R"({"tags":["a","b"]})", R"(p={"tags":["a","b"]} |)");
  OUT(R"({"tags":["a",{"x":1},"b",["c"],null]})", R"(p={"tags":["a","b",null]} | type_mismatch=2)");
}

TEST(evaluator_actions, malformed_json_drops_the_whole_message) {
  DROPPED(R"({"k":1)", "invalid_json");
  DROPPED(R"({"k":1} x)", "invalid_json");
  DROPPED(R"({"k":1}{})", "invalid_json");
  DROPPED(R"({"k":1},)", "invalid_json");
  DROPPED("", "invalid_json");
  DROPPED("   ", "invalid_json");
  DROPPED(R"({"k":NaN})", "invalid_json");
  DROPPED(R"({"k":Infinity})", "invalid_json");
  DROPPED(R"({"k":-Infinity})", "invalid_json");
  DROPPED(R"({"k":01})", "invalid_json");
  DROPPED(R"({"k":1,})", "invalid_json");
  DROPPED(R"({'k':1})", "invalid_json");
  DROPPED(R"({"k":"unterminated})", "invalid_json");
  DROPPED(R"({"k":"\x"})", "invalid_json");
  DROPPED(R"({"k":1} /* comment */)", "invalid_json");
  DROPPED("{\"k\":1}\xff", "invalid_json");
  // Field drops seen before the error are not reported: the message is dropped as a whole.
  DROPPED(R"({"zz":1,"d":2,"k":)", "invalid_json");
}

TEST(evaluator_actions, invalid_utf8_drops_the_whole_message) {
  DROPPED("{\"k\":\"\xff\"}", "invalid_utf8");
  DROPPED("{\"zz\":\"\xc3\x28\"}", "invalid_utf8");         // also in a field that would not leave
  DROPPED("{\"\xff\":1,\"k\":1}", "invalid_utf8");          // or in a key
  DROPPED("{\"k\":\"\xc0\xaf\"}", "invalid_utf8");          // overlong '/'
  DROPPED("{\"k\":\"\xed\xa0\x80\"}", "invalid_utf8");      // an encoded surrogate
  DROPPED("{\"k\":\"\xf4\x90\x80\x80\"}", "invalid_utf8");  // above U+10FFFF
  DROPPED("{\"k\":\"caf\xc3\"}", "invalid_utf8");           // cut in the middle of a character
  // Escapes that decode to no character: lone surrogates.
  DROPPED(R"({"k":"\udc00"})", "invalid_utf8");
  DROPPED(R"({"zz":"x\udfff"})", "invalid_utf8");
  DROPPED(R"({"k":"\ud800"})", "invalid_utf8");
  DROPPED(R"({"k":"\ud800\u0041"})", "invalid_utf8");
}

TEST(evaluator_actions, a_listed_key_twice_drops_the_whole_message) {
  DROPPED(R"({"k":1,"k":2})", "duplicate_key");
  DROPPED(R"({"k":1,"r":2,"k":3})", "duplicate_key");
  DROPPED(R"({"k":1,"\u006b":2})", "duplicate_key");  // the same key, escaped
  DROPPED(R"({"d":1,"d":2})", "duplicate_key");       // listed, even if dropped for every purpose
  DROPPED(R"({"n":{"v":1},"n":{"v":2}})", "duplicate_key");
  DROPPED(R"({"n":{"v":1,"v":2}})", "duplicate_key");
  DROPPED(R"({"items":[{"x":1,"x":2}]})", "duplicate_key");
  DROPPED(R"({"lat":52.1,"lon":4.1,"lon":5.2})",
          "duplicate_key");  // the longitude of a pair is listed too
  // Unlisted duplicates are harmless: neither copy leaves.
  OUT(R"({"zz":1,"zz":2,"k":1})", R"(p={"k":1} | unlisted_field=2)");
  OUT(R"({"items":[{"x":1},{"x":2}]})", R"(p={"items":[{"x":1},{"x":2}]} |)");
  OUT(R"({"n":{"v":1},"m":{"v":2}})", R"(p={"n":{"v":1}} | unlisted_field=1)");
}

TEST(evaluator_actions, nesting_deeper_than_the_limit_drops_the_whole_message) {
  // The document's own object is level 1; the default limit is 16.
  OUT(R"({"zz":)" + std::string(15, '[') + std::string(15, ']') + R"(,"k":1})",
      R"(p={"k":1} | unlisted_field=1)");
  DROPPED(R"({"zz":)" + std::string(16, '[') + std::string(16, ']') + R"(,"k":1})", "too_deep");
  DROPPED(R"({"k":1,"zz":)" + std::string(16, '[') + std::string(16, ']') + "}", "too_deep");
  DROPPED(R"({"n":{"m":{"w":)" + std::string(14, '[') + std::string(14, ']') + "}}}", "too_deep");
  DROPPED(std::string(17, '[') + std::string(17, ']'), "too_deep");
}

TEST_GROUP(evaluator_limits){};

TEST(evaluator_limits, payload_size) {
  engine e(kActionsPolicy, test_identity(), {.max_payload_bytes = 16});
  STRCMP_EQUAL(R"(p={"k":"12345678"} |)",
               e.run("home/dev", R"({"k":"12345678"})").c_str());                    // 16 bytes
  STRCMP_EQUAL("| too_large=1", e.run("home/dev", R"({"k":"123456789"})").c_str());  // 17 bytes
  STRCMP_EQUAL("| too_large=1", e.run("nowhere", R"({"k":"123456789"})").c_str());
}

TEST(evaluator_limits, depth_is_configurable_up_to_32) {
  engine shallow(kActionsPolicy, test_identity(), {.max_depth = 2});
  STRCMP_EQUAL(R"(p={"n":{"v":1}} |)", shallow.run("home/dev", R"({"n":{"v":1}})").c_str());
  STRCMP_EQUAL("| too_deep=1", shallow.run("home/dev", R"({"n":{"m":{"w":1}}})").c_str());
  engine deep(kActionsPolicy, test_identity(), {.max_depth = 100});
  STRCMP_EQUAL(
      R"(p={"k":1} | unlisted_field=1)",
      deep.run("home/dev", R"({"zz":)" + std::string(31, '[') + std::string(31, ']') + R"(,"k":1})")
          .c_str());
  STRCMP_EQUAL("| too_deep=1", deep.run("home/dev", R"({"zz":)" + std::string(32, '[') +
                                                        std::string(32, ']') + R"(,"k":1})")
                                   .c_str());
}

TEST(evaluator_limits, topics) {
  engine e(kActionsPolicy);
  STRCMP_EQUAL("| invalid_topic=1", e.run("", R"({"k":1})").c_str());
  STRCMP_EQUAL("| invalid_topic=1", e.run("home/\xff", R"({"k":1})").c_str());
  STRCMP_EQUAL("| invalid_topic=1", e.run(std::string("home/a\0b", 8), R"({"k":1})").c_str());
  STRCMP_EQUAL("| invalid_topic=1",
               e.run("home/" + std::string(1020, 'd'), R"({"k":1})").c_str());  // 1025 bytes
  STRCMP_EQUAL(R"(p={"k":1} |)",
               e.run("home/" + std::string(1019, 'd'), R"({"k":1})").c_str());  // 1024 bytes
  STRCMP_EQUAL("| unmatched_topic=1", e.run("office/dev", R"({"k":1})").c_str());
  STRCMP_EQUAL("| unmatched_topic=1", e.run("home/dev/more", R"({"k":1})").c_str());
  STRCMP_EQUAL("| unmatched_topic=1", e.run("home/", R"({"k":1})").c_str());
}

TEST(evaluator_limits, construction_rejects_a_weak_identity) {
  auto policy = portier::policies::test::compile_ok(kActionsPolicy);
  CHECK_THROWS(std::invalid_argument, evaluator(policy, test_identity("fifteen-bytes!!")));
  CHECK_THROWS(std::invalid_argument, evaluator(policy, {"gw/1", test_identity().secret}));
  CHECK_THROWS(std::invalid_argument, evaluator(policy, {"", test_identity().secret}));
  CHECK_THROWS(std::invalid_argument,
               evaluator(policy, {std::string(65, 'g'), test_identity().secret}));
  evaluator ok(policy, test_identity("sixteen-bytes!!!"));
  STRCMP_EQUAL("gw-test", ok.identity().gateway_id.c_str());
}

// ---------------------------------------------------------------------------------------------
// RAW classes and bare JSON values.

namespace {

const char* const kRawPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "keep" topic: "raw/keep/{device}" format: RAW
  field { path: "$" rule { purpose: "p" keep {} } } }
device_class { id: "round" topic: "raw/round/{device}" format: RAW
  field { path: "$" rule { purpose: "p" round { step: 0.5 } } } }
device_class { id: "bucket" topic: "raw/bucket/{device}" format: RAW
  field { path: "$" rule { purpose: "p" bucket { bound: [-67] label: ["weak", "good"] } } } }
device_class { id: "time" topic: "raw/time/{device}" format: RAW
  field { path: "$" rule { purpose: "p" coarsen_time { to: MINUTE } } } }
device_class { id: "truncate" topic: "raw/truncate/{device}" format: RAW
  field { path: "$" rule { purpose: "p" truncate { length: 2 } } } }
device_class { id: "pseudonym" topic: "raw/pseudonym/{device}" format: RAW
  field { path: "$" rule { purpose: "p" pseudonymise { length: 8 } } } }
device_class { id: "bare-json" topic: "json/{device}"
  field { path: "$" rule { purpose: "p" round { step: 1 } } } }
device_class { id: "bare-json-keep" topic: "json-keep/{device}"
  field { path: "$" rule { purpose: "p" keep {} } } }
)";

}  // namespace

TEST_GROUP(evaluator_raw) {
  engine e{kRawPolicy};
};

#define RAW(topic, payload, expected) check_summary(e, topic, payload, expected, __FILE__, __LINE__)

TEST(evaluator_raw, bare_values_through_every_action) {
  RAW("raw/keep/d", "ON", "p=ON |");
  RAW("raw/keep/d", "caf\xc3\xa9", "p=café |");
  RAW("raw/keep/d", "{\"not\":\"parsed\"}", "p={\"not\":\"parsed\"} |");
  RAW("raw/keep/d", "", "p= |");
  RAW("raw/round/d", "21.43750", "p=21.5 |");
  RAW("raw/round/d", "-0.1", "p=0.0 |");
  RAW("raw/round/d", "1e2", "p=100.0 |");
  RAW("raw/round/d", "warm", "| nothing_permitted=1 type_mismatch=1");
  RAW("raw/round/d", " 21.5", "| nothing_permitted=1 type_mismatch=1");
  RAW("raw/round/d", "NaN", "| nothing_permitted=1 type_mismatch=1");
  RAW("raw/round/d", "inf", "| nothing_permitted=1 type_mismatch=1");
  RAW("raw/bucket/d", "-63", "p=good |");
  RAW("raw/bucket/d", "-80", "p=weak |");
  RAW("raw/bucket/d", "strong", "| nothing_permitted=1 type_mismatch=1");
  RAW("raw/time/d", "1714551825", "p=1714551780 |");
  RAW("raw/time/d", "2024-05-01T10:23:45Z", "p=2024-05-01T10:23:00Z |");
  RAW("raw/time/d", "soon", "| nothing_permitted=1 type_mismatch=1");
  RAW("raw/truncate/d", "héllo", "p=hé |");
  RAW("raw/truncate/d", "12345", "p=12 |");
  RAW("raw/pseudonym/d", "Anna", "p=wyg7324t |");
}

TEST(evaluator_raw, invalid_utf8_drops_a_bare_value) {
  RAW("raw/keep/d", "\xff", "| invalid_utf8=1");
  RAW("raw/keep/d", "caf\xc3", "| invalid_utf8=1");
  RAW("raw/truncate/d", "\xed\xa0\x80xyz", "| invalid_utf8=1");
  RAW("raw/round/d", "21.5\xff", "| invalid_utf8=1");
}

TEST(evaluator_raw, a_json_scalar_document_is_the_field_dollar) {
  RAW("json/d", "21.6", "p=22 |");
  RAW("json/d", " 21.4 ", "p=21 |");
  RAW("json/d", "\"21.6\"", "| nothing_permitted=1 type_mismatch=1");
  RAW("json/d", "{\"v\":21.6}", "| nothing_permitted=1 type_mismatch=1");
  RAW("json/d", "21.6 x", "| invalid_json=1");
  RAW("json/d", "21.6", "p=22 |");
  RAW("json-keep/d", "\"on\"", "p=\"on\" |");
  RAW("json-keep/d", "null", "p=null |");
  RAW("json-keep/d", "[\"on\"]", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_raw, releases_say_whether_the_payload_is_json) {
  CHECK_FALSE(e.eval("raw/keep/d", "ON").releases()[0].payload_is_json);
  CHECK_TRUE(e.eval("json-keep/d", "\"on\"").releases()[0].payload_is_json);
}

// ---------------------------------------------------------------------------------------------
// Times: coarsen_time leaves only what its unit allows, or nothing.

namespace {

const char* const kTimesPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "times" topic: "t/{device}"
  field { path: "auto" rule { purpose: "p" coarsen_time { to: HOUR } } }
  field { path: "s" rule { purpose: "p" coarsen_time { to: HOUR input: EPOCH_SECONDS } } }
  field { path: "ms" rule { purpose: "p" coarsen_time { to: HOUR input: EPOCH_MILLIS } } }
  field { path: "us" rule { purpose: "p" coarsen_time { to: HOUR input: EPOCH_MICROS } } }
  field { path: "ns" rule { purpose: "p" coarsen_time { to: HOUR input: EPOCH_NANOS } } }
  field { path: "iso" rule { purpose: "p" coarsen_time { to: HOUR input: ISO8601 } } } }
device_class { id: "raw-time" topic: "r/{device}" format: RAW
  field { path: "$" rule { purpose: "p" coarsen_time { to: HOUR } } } }
)";

}  // namespace

TEST_GROUP(evaluator_times) {
  engine e{kTimesPolicy};
};

#define TIME(payload, expected) check_summary(e, "t/d", payload, expected, __FILE__, __LINE__)
#define IMPLAUSIBLE(payload) TIME(payload, "| nothing_permitted=1 implausible_time=1")

TEST(evaluator_times, auto_tells_seconds_to_nanoseconds_apart_and_keeps_the_unit) {
  TIME(R"({"auto":1714551825})", R"(p={"auto":1714550400} |)");
  TIME(R"({"auto":1714551825123})", R"(p={"auto":1714550400000} |)");
  TIME(R"({"auto":1714551825123456})", R"(p={"auto":1714550400000000} |)");
  TIME(R"({"auto":1714551825123456789})", R"(p={"auto":1714550400000000000} |)");
  TIME(R"({"auto":1714551825.123456})", R"(p={"auto":1714550400} |)");
  TIME(R"({"auto":1.714551825123456789e18})", R"(p={"auto":1714550400000000000} |)");
  TIME(R"({"auto":"2024-05-01T10:23:45.123456Z"})", R"(p={"auto":"2024-05-01T10:00:00Z"} |)");
}

TEST(evaluator_times, declared_units_take_only_their_own_magnitude) {
  TIME(R"({"s":1714551825})", R"(p={"s":1714550400} |)");
  TIME(R"({"ms":1714551825123})", R"(p={"ms":1714550400000} |)");
  TIME(R"({"us":1714551825123456})", R"(p={"us":1714550400000000} |)");
  TIME(R"({"ns":1714551825123456789})", R"(p={"ns":1714550400000000000} |)");
  IMPLAUSIBLE(R"({"s":1714551825123})");  // milliseconds where seconds are declared
  IMPLAUSIBLE(R"({"s":1714551825123456})");
  IMPLAUSIBLE(R"({"ms":1714551825})");
  IMPLAUSIBLE(R"({"ms":1714551825123456})");
  IMPLAUSIBLE(R"({"us":1714551825123})");
  IMPLAUSIBLE(R"({"us":1714551825123456789})");
  IMPLAUSIBLE(R"({"ns":1714551825123456})");
  TIME(R"({"iso":"2024-05-01T10:23:45Z"})", R"(p={"iso":"2024-05-01T10:00:00Z"} |)");
  TIME(R"({"iso":1714551825})", "| nothing_permitted=1 type_mismatch=1");
  TIME(R"({"s":"2024-05-01T10:23:45Z"})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_times, times_outside_2000_to_2100_are_dropped) {
  TIME(R"({"auto":946684800})", R"(p={"auto":946684800} |)");  // 2000-01-01T00:00:00Z
  IMPLAUSIBLE(R"({"auto":946684799})");
  TIME(R"({"auto":4102444799})", R"(p={"auto":4102441200} |)");  // 2099-12-31T23:59:59Z
  IMPLAUSIBLE(R"({"auto":4102444800})");                         // 2100-01-01T00:00:00Z
  TIME(R"({"auto":946684800000})", R"(p={"auto":946684800000} |)");
  IMPLAUSIBLE(R"({"auto":946684799999})");
  TIME(R"({"auto":4102444799999999999})", R"(p={"auto":4102441200000000000} |)");
  IMPLAUSIBLE(R"({"auto":4102444800000000000})");
  // Between two units' ranges: 17145518251 s is in the year 2513, ms in 1970.
  IMPLAUSIBLE(R"({"auto":17145518251})");
  IMPLAUSIBLE(R"({"auto":17145518251234})");
  IMPLAUSIBLE(R"({"auto":0})");  // a device without a clock
  IMPLAUSIBLE(R"({"auto":-0})");
  IMPLAUSIBLE(R"({"auto":60})");
  IMPLAUSIBLE(R"({"auto":-1714551825})");
  IMPLAUSIBLE(R"({"auto":-1714551825123456})");
  IMPLAUSIBLE(R"({"auto":9223372036854775807})");
  IMPLAUSIBLE(R"({"auto":-9223372036854775808})");
  IMPLAUSIBLE(R"({"auto":12345678901234567890123})");
  IMPLAUSIBLE(R"({"auto":1e20})");
  IMPLAUSIBLE(R"({"auto":1e308})");
  IMPLAUSIBLE(R"({"auto":-1e308})");
  IMPLAUSIBLE(R"({"auto":1e-300})");
  // The JSON reader refuses a number beyond a double's range in any payload.
  TIME(R"({"auto":1e400})", "| invalid_json=1");
  // ISO-8601 by the date as written.
  TIME(R"({"auto":"2000-01-01T00:00:00Z"})", R"(p={"auto":"2000-01-01T00:00:00Z"} |)");
  TIME(R"({"auto":"2099-12-31"})", R"(p={"auto":"2099-12-31"} |)");
  IMPLAUSIBLE(R"({"auto":"1999-12-31T23:59:59Z"})");
  IMPLAUSIBLE(R"({"auto":"1970-01-01T00:12:34"})");  // Tasmota before its clock is set
  IMPLAUSIBLE(R"({"iso":"2100-01-01T00:00:00Z"})");
  IMPLAUSIBLE(R"({"iso":"9999-12-31"})");
  // What is no time at all stays a type mismatch.
  TIME(R"({"auto":"1714551825"})", "| nothing_permitted=1 type_mismatch=1");
  TIME(R"({"auto":true})", "| nothing_permitted=1 type_mismatch=1");
  TIME(R"({"auto":null})", "| nothing_permitted=1 type_mismatch=1");
  TIME(R"({"auto":"1999-02-30"})", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_times, an_implausible_time_drops_only_that_field) {
  TIME(R"({"auto":5,"s":1714551825})", R"(p={"s":1714550400} | implausible_time=1)");
}

TEST(evaluator_times, bare_values) {
  check_summary(e, "r/d", "1714551825123456", "p=1714550400000000 |", __FILE__, __LINE__);
  check_summary(e, "r/d", "2024-05-01T10:23:45Z", "p=2024-05-01T10:00:00Z |", __FILE__, __LINE__);
  check_summary(e, "r/d", "42", "| nothing_permitted=1 implausible_time=1", __FILE__, __LINE__);
  // A bare value is a number only if it reads as a finite one (evaluator_raw): 1e400 is text.
  check_summary(e, "r/d", "1e400", "| nothing_permitted=1 type_mismatch=1", __FILE__, __LINE__);
  check_summary(e, "r/d", "soon", "| nothing_permitted=1 type_mismatch=1", __FILE__, __LINE__);
}

// ---------------------------------------------------------------------------------------------
// keep with a type and a length: free text leaves only as what the policy expects.

namespace {

const char* const kTypedKeepPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "typed" topic: "k/{device}"
  field { path: "name" rule { purpose: "p" keep { type: STRING max_length: 4 } } }
  field { path: "n" rule { purpose: "p" keep { type: NUMBER max_length: 6 } } }
  field { path: "b" rule { purpose: "p" keep { type: BOOL } } }
  field { path: "any" rule { purpose: "p" keep { max_length: 3 } } } }
device_class { id: "raw-typed" topic: "rk/{device}" format: RAW
  field { path: "$" rule { purpose: "p" keep { type: NUMBER max_length: 8 } } } }
device_class { id: "raw-text" topic: "rt/{device}" format: RAW
  field { path: "$" rule { purpose: "p" keep { type: STRING max_length: 3 } } } }
)";

}  // namespace

TEST_GROUP(evaluator_typed_keep) {
  engine e{kTypedKeepPolicy};
};

#define KEEP(payload, expected) check_summary(e, "k/d", payload, expected, __FILE__, __LINE__)
#define UNFIT(payload) KEEP(payload, "| nothing_permitted=1 type_mismatch=1")

TEST(evaluator_typed_keep, values_of_the_declared_type_and_length_leave_as_sent) {
  KEEP(R"({"name":"Anna"})", R"(p={"name":"Anna"} |)");
  KEEP(R"({"name":"日本語で"})", R"(p={"name":"日本語で"} |)");  // characters, not bytes
  KEEP(R"({"name":""})", R"(p={"name":""} |)");
  KEEP(R"({"n":123456})", R"(p={"n":123456} |)");
  KEEP(R"({"n":-1.5e3})", R"(p={"n":-1.5e3} |)");
  KEEP(R"({"b":true})", R"(p={"b":true} |)");
  KEEP(R"({"b":false})", R"(p={"b":false} |)");
  KEEP(R"({"any":"abc"})", R"(p={"any":"abc"} |)");
  KEEP(R"({"any":123})", R"(p={"any":123} |)");
  KEEP(R"({"any":null})", R"(p={"any":null} |)");
  KEEP(R"({"any":false})", R"(p={"any":false} |)");
}

TEST(evaluator_typed_keep, longer_values_are_dropped_whole) {
  UNFIT(R"({"name":"Annas"})");
  UNFIT(R"({"name":"日本語です"})");
  UNFIT(R"({"name":"Année"})");
  UNFIT(R"({"n":1234567})");
  UNFIT(R"({"n":0.12345})");
  UNFIT(R"({"any":"abcd"})");
  UNFIT(R"({"any":1234})");
  KEEP(R"({"name":"Annas","n":1})", R"(p={"n":1} | type_mismatch=1)");
}

TEST(evaluator_typed_keep, values_of_another_type_are_dropped) {
  UNFIT(R"({"name":4})");
  UNFIT(R"({"name":null})");
  UNFIT(R"({"name":true})");
  UNFIT(R"({"n":"12"})");
  UNFIT(R"({"n":null})");
  UNFIT(R"({"b":"true"})");
  UNFIT(R"({"b":1})");
  UNFIT(R"({"b":null})");
}

TEST(evaluator_typed_keep, bare_values) {
  check_summary(e, "rk/d", "21.5", "p=21.5 |", __FILE__, __LINE__);
  check_summary(e, "rk/d", "warm", "| nothing_permitted=1 type_mismatch=1", __FILE__, __LINE__);
  check_summary(e, "rk/d", "123456789", "| nothing_permitted=1 type_mismatch=1", __FILE__,
                __LINE__);
  check_summary(e, "rt/d", "ON", "p=ON |", __FILE__, __LINE__);
  check_summary(e, "rt/d", "21", "| nothing_permitted=1 type_mismatch=1", __FILE__, __LINE__);
  check_summary(e, "rt/d", "OPEN", "| nothing_permitted=1 type_mismatch=1", __FILE__, __LINE__);
}

// ---------------------------------------------------------------------------------------------
// Upstream topics: device names and captures leave only as pseudonyms.

namespace {

const char* const kTopicsPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "q" title: "Q" legal_basis: CONTRACT retention_seconds: 3600 topic_template: "up/{purpose}/{room}/{device}" }
purpose { id: "r" title: "R" legal_basis: CONTRACT retention_seconds: 1 topic_template: "fixed/{gateway}/{class}" }
device_class { id: "room-sensor" topic: "house/{room}/{device}" device_id: "{room}/{device}"
  field { path: "v" rule { purpose: ["p", "q", "r"] keep {} } }
  field { path: "id" rule { purpose: ["p", "q"] pseudonymise {} } } }
device_class { id: "meter" topic: "dsmr/json" device_id: "p1-meter"
  field { path: "v" rule { purpose: "p" keep {} } } }
)";

std::string topics(const decision& d) {
  std::string out;
  for (const auto& r : d.releases()) out += r.topic + "\n";
  return out;
}

}  // namespace

TEST_GROUP(evaluator_topics) {
  engine e{kTopicsPolicy};
};

TEST(evaluator_topics, templates_render_pseudonyms_of_the_device_and_captures) {
  const decision& d = e.eval("house/Anna's room/Thermo 1", R"({"v":1})", 5'000);
  // Known answers: HMAC-SHA256(HMAC-SHA256(secret, "portier/pseudonym/v1/" + purpose), value),
  // base32.
  STRCMP_EQUAL(
      "portier/gw-test/p/room-sensor/ub4mujnri6tojmd6\n"
      "up/q/wcqhfsz2tmayndyr/ao6aevid3iygdued\n"
      "fixed/gw-test/room-sensor\n",
      topics(d).c_str());
  STRCMP_EQUAL("Anna's room/Thermo 1", std::string(d.device_id()).c_str());
  STRCMP_EQUAL("room-sensor", d.device_class()->id.c_str());
  STRCMP_EQUAL("ub4mujnri6tojmd6",
               e.ev.device_pseudonym(e.purpose("p"), "Anna's room/Thermo 1").c_str());
  for (const auto& r : d.releases()) {
    CHECK_TEXT(r.topic.find("Anna") == std::string::npos, r.topic.c_str());
    CHECK_TEXT(r.topic.find("Thermo") == std::string::npos, r.topic.c_str());
  }
}

TEST(evaluator_topics, a_literal_device_id) {
  const decision& d = e.eval("dsmr/json", R"({"v":1})");
  STRCMP_EQUAL("portier/gw-test/p/meter/l4ecs6mcyezqnmuo\n", topics(d).c_str());
  STRCMP_EQUAL("p1-meter", std::string(d.device_id()).c_str());
}

TEST(evaluator_topics, releases_expire_after_the_purpose_retention) {
  const decision& d = e.eval("house/a/b", R"({"v":1})", 5'000);
  LONGS_EQUAL(3, d.releases().size());
  LONGLONGS_EQUAL(65'000, d.releases()[0].expires_at_ms);
  LONGLONGS_EQUAL(3'605'000, d.releases()[1].expires_at_ms);
  LONGLONGS_EQUAL(6'000, d.releases()[2].expires_at_ms);
}

TEST(evaluator_topics,
     pseudonyms_are_stable_per_purpose_and_unlinkable_across_purposes_and_gateways) {
  const std::string first = summary(e.eval("house/hall/lamp", R"({"id":"Anna"})"), *e.policy);
  STRCMP_EQUAL(
      R"(p={"id":"wyg7324tnhqh5qmq"} q={"id":"42qn4kne2ymexay5"} | nothing_permitted=1 policy_drop=1)",
      first.c_str());
  STRCMP_EQUAL(first.c_str(),
               summary(e.eval("house/hall/lamp", R"({"id":"Anna"})"), *e.policy).c_str());
  const std::string p_topic = e.eval("house/hall/lamp", R"({"v":1})").releases()[0].topic;

  engine same_gateway(kTopicsPolicy);
  STRCMP_EQUAL(first.c_str(), summary(same_gateway.eval("house/hall/lamp", R"({"id":"Anna"})"),
                                      *same_gateway.policy)
                                  .c_str());
  STRCMP_EQUAL(p_topic.c_str(),
               same_gateway.eval("house/hall/lamp", R"({"v":1})").releases()[0].topic.c_str());

  engine other_gateway(kTopicsPolicy, test_identity("another-gateway-secret"));
  const decision& d = other_gateway.eval("house/hall/lamp", R"({"id":"Anna","v":1})");
  CHECK_TRUE(d.releases()[0].payload.find("wyg7324tnhqh5qmq") == std::string::npos);
  CHECK_TRUE(d.releases()[1].payload.find("42qn4kne2ymexay5") == std::string::npos);
  CHECK_TRUE(d.releases()[0].topic != p_topic);
  CHECK_TRUE(other_gateway.ev.device_pseudonym(0, "hall/lamp") !=
             e.ev.device_pseudonym(0, "hall/lamp"));
  CHECK_TRUE(e.ev.device_pseudonym(0, "hall/lamp") != e.ev.device_pseudonym(1, "hall/lamp"));
}

TEST(evaluator_topics, each_evaluation_starts_afresh) {
  STRCMP_EQUAL(R"(p={"v":1} q={"v":1} r={"v":1} | unlisted_field=3)",
               e.run("house/a/b", R"({"v":1,"x":2})").c_str());
  STRCMP_EQUAL("| invalid_json=1", e.run("house/a/b", "{").c_str());
  POINTERS_EQUAL(e.policy->find_class("room-sensor"), e.eval("house/a/b", "{").device_class());
  STRCMP_EQUAL("| unmatched_topic=1", e.run("nowhere", "{}").c_str());
  POINTERS_EQUAL(nullptr, e.eval("nowhere", "{}").device_class());
  STRCMP_EQUAL("", std::string(e.eval("nowhere", "{}").device_id()).c_str());
  STRCMP_EQUAL(R"(p={"v":2} |)", e.run("dsmr/json", R"({"v":2})").c_str());
}

TEST(evaluator_topics, releases_list_the_fields_they_carry) {
  const decision& d = e.eval("house/a/b", R"({"id":"x","v":1})");
  LONGS_EQUAL(3, d.releases().size());
  LONGS_EQUAL(2, d.releases()[0].fields.size());
  LONGS_EQUAL(1, d.releases()[0].fields[0]);  // "id" is field 1 of the class
  LONGS_EQUAL(0, d.releases()[0].fields[1]);
  LONGS_EQUAL(1, d.releases()[2].fields.size());
}

// ---------------------------------------------------------------------------------------------
// Consent: defaults by legal basis, the most specific decision wins, pause and suspension.

namespace {

const char* const kConsentPolicy = R"(
purpose { id: "contract" title: "C" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "consent" title: "K" legal_basis: CONSENT retention_seconds: 60 }
purpose { id: "interest" title: "I" legal_basis: LEGITIMATE_INTEREST retention_seconds: 60 }
purpose { id: "law" title: "L" legal_basis: LEGAL_OBLIGATION retention_seconds: 60 }
purpose { id: "health" title: "H" legal_basis: CONTRACT special_category: HEALTH retention_seconds: 60 }
device_class { id: "dev" topic: "d/{device}"
  field { path: "v" rule { purpose: ["contract", "consent", "interest", "law", "health"] keep {} } } }
device_class { id: "other" topic: "o/{device}"
  field { path: "v" rule { purpose: ["contract", "consent", "interest", "law", "health"] keep {} } } }
)";

// The purposes that receive {"v":1} on `topic`, then the drops.
std::string released(engine& e, const char* topic) {
  const decision& d = e.eval(topic, R"({"v":1})");
  std::string out;
  for (const auto& r : d.releases()) out += e.policy->purposes()[r.purpose].id + " ";
  out += "|";
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (d.drops()[i] > 0)
      out +=
          " " + std::string(drop_reason_name(drop_reason(i))) + "=" + std::to_string(d.drops()[i]);
  }
  return out;
}

#define RELEASED(topic, expected) STRCMP_EQUAL(expected, released(e, topic).c_str())

}  // namespace

TEST_GROUP(evaluator_consent) {
  engine e{kConsentPolicy};
  static constexpr consent_decision granted = consent_decision::granted;
  static constexpr consent_decision refused = consent_decision::refused;
  static constexpr consent_decision unset = consent_decision::unset;
};

TEST(evaluator_consent, defaults_follow_the_legal_basis) {
  RELEASED("d/a", "contract interest law | consent_refused=2");
}

TEST(evaluator_consent, household_decisions) {
  e.consent.set_household("consent", granted);
  e.consent.set_household("health", granted);
  RELEASED("d/a", "contract consent interest law health |");
  e.consent.set_household("contract", refused);
  e.consent.set_household("health", unset);
  RELEASED("d/a", "consent interest law | consent_refused=2");
}

TEST(evaluator_consent, a_class_decision_beats_the_household) {
  e.consent.set_household("law", refused);
  e.consent.set_class("dev", "law", granted);
  e.consent.set_class("dev", "consent", granted);
  RELEASED("d/a", "contract consent interest law | consent_refused=1");
  RELEASED("o/a", "contract interest | consent_refused=3");
}

TEST(evaluator_consent, a_device_decision_beats_its_class) {
  e.consent.set_class("dev", "contract", granted);
  e.consent.set_device("a", "contract", refused);
  e.consent.set_device("a", "health", granted);
  RELEASED("d/a", "interest law health | consent_refused=2");
  RELEASED("d/b", "contract interest law | consent_refused=2");
  // A device decision follows the device id, whichever class the message is in.
  RELEASED("o/a", "interest law health | consent_refused=2");
  // Clearing it falls back to the class, then the household.
  e.consent.set_device("a", "contract", unset);
  RELEASED("d/a", "contract interest law health | consent_refused=1");
}

TEST(evaluator_consent, nothing_granted_drops_the_message) {
  e.consent.set_household("contract", refused);
  e.consent.set_household("interest", refused);
  e.consent.set_household("law", refused);
  RELEASED("d/a", "| no_purpose_granted=1 consent_refused=5");
}

TEST(evaluator_consent, a_pause_refuses_everything) {
  e.consent.set_household("consent", granted);
  e.consent.set_device("a", "contract", granted);
  e.consent.set_paused(true);
  RELEASED("d/a", "| paused=1");
  RELEASED("nowhere", "| paused=1");
  CHECK_FALSE(e.ev.granted(e.consent, e.purpose("contract"), "a", "dev"));
  e.consent.set_paused(false);
  RELEASED("d/a", "contract consent interest law | consent_refused=1");
}

TEST(evaluator_consent, granted_applies_the_defaults) {
  CHECK_TRUE(e.ev.granted(e.consent, e.purpose("contract"), "a", "dev"));
  CHECK_FALSE(e.ev.granted(e.consent, e.purpose("consent"), "a", "dev"));
  CHECK_TRUE(e.ev.granted(e.consent, e.purpose("interest"), "a", "dev"));
  CHECK_TRUE(e.ev.granted(e.consent, e.purpose("law"), "a", "dev"));
  CHECK_FALSE(e.ev.granted(e.consent, e.purpose("health"), "a", "dev"));
  e.consent.set_device("a", "health", granted);
  CHECK_TRUE(e.ev.granted(e.consent, e.purpose("health"), "a", "dev"));
  CHECK_FALSE(e.ev.granted(e.consent, e.purpose("health"), "b", "dev"));
}

TEST_GROUP(evaluator_suspended){};

TEST(evaluator_suspended, a_suspended_purpose_sends_nothing_whatever_the_consent) {
  engine e(R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "q" title: "Q" legal_basis: CONSENT retention_seconds: 60 suspended: true }
device_class { id: "c" topic: "c/{device}" field { path: "v" rule { purpose: ["p", "q"] keep {} } } }
device_class { id: "only-q" topic: "q/{device}" field { path: "v" rule { purpose: "q" keep {} } } }
)");
  e.consent.set_household("q", consent_decision::granted);
  e.consent.set_device("a", "q", consent_decision::granted);
  STRCMP_EQUAL(R"(p={"v":1} | purpose_suspended=1)", e.run("c/a", R"({"v":1})").c_str());
  STRCMP_EQUAL("| no_purpose_granted=1 purpose_suspended=1", e.run("q/a", R"({"v":1})").c_str());
  CHECK_FALSE(e.ev.granted(e.consent, 1, "a", "c"));
}

TEST_GROUP(evaluator_purposes){};

TEST(evaluator_purposes, a_release_only_for_purposes_that_receive_something) {
  engine e(R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "q" title: "Q" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "c" topic: "c/{device}"
  field { path: "a" rule { purpose: "p" keep {} } }
  field { path: "b" rule { purpose: "q" keep {} } } }
)");
  STRCMP_EQUAL(R"(p={"a":1} q={"b":2} | policy_drop=2)", e.run("c/x", R"({"a":1,"b":2})").c_str());
  STRCMP_EQUAL(R"(p={"a":1} | nothing_permitted=1 policy_drop=1)",
               e.run("c/x", R"({"a":1})").c_str());
  STRCMP_EQUAL(R"(q={"b":2} | nothing_permitted=1 policy_drop=1)",
               e.run("c/x", R"({"b":2})").c_str());
  STRCMP_EQUAL("| nothing_permitted=2", e.run("c/x", "{}").c_str());
  const decision& d = e.eval("c/x", R"({"b":2})");
  LONGS_EQUAL(1, d.releases()[0].purpose);
}

TEST(evaluator_purposes, exact_output_for_several_purposes) {
  engine e(R"(
purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "analytics" title: "A" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "env" topic: "env/{device}"
  field { path: "id" rule { purpose: "service" pseudonymise {} } }
  field { path: "env.temp" rule { purpose: "analytics" round { step: 0.5 } } }
  field { path: "env.hum" rule { purpose: "analytics" round { step: 1 } } }
  field { path: "env.batt" rule { purpose: "service" keep {} } }
  field { path: "meta.fw" rule { purpose: "service" keep {} } }
  field { path: "readings[*].t" rule { purpose: "analytics" coarsen_time { to: HOUR } } }
  field { path: "readings[*].v" rule { purpose: "analytics" round { step: 10 } } } }
)");
  STRCMP_EQUAL(
      R"(service={"id":"kx7elgx33yoaozyx","env":{"batt":97},"meta":{"fw":"1.2.3"}} )"
      R"(analytics={"env":{"temp":21.5,"hum":49},"readings":[{"t":1714550400,"v":1430},{"t":1714554000,"v":10}]} )"
      R"(| unlisted_field=8 policy_drop=9)",
      e.run(
           "env/x",
           R"({"id":"dev-7","env":{"temp":21.26,"hum":48.6,"batt":97,"raw":[1,2]},)"
           R"("meta":{"fw":"1.2.3","ip":"10.0.0.7"},)"
           R"("readings":[{"t":1714551825,"v":1432.7,"q":1},{"t":1714555425,"v":12}],"name":"Anna"})")
          .c_str());
  // With analytics refused, its fields are not even read for it.
  e.consent.set_household("analytics", consent_decision::refused);
  STRCMP_EQUAL(R"(service={"env":{"batt":97}} | consent_refused=1 policy_drop=1)",
               e.run("env/x", R"({"env":{"temp":21.26,"batt":97}})").c_str());
}

// ---------------------------------------------------------------------------------------------
// Predicates and routing: which class takes a message.

namespace {

const char* const kRoutingPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "loc" topic: "ot/{user}/{device}" device_id: "{user}/{device}"
  when { path: "_type" equals: "location" }
  field { path: "_type" rule { purpose: "p" keep {} } }
  field { path: "lat" rule { purpose: "p" generalise_location { longitude: "lon" cell_km: 5 } } } }
device_class { id: "card" topic: "ot/{user}/{device}" device_id: "{user}/{device}"
  when { path: "_type" equals: "card" }
  field { path: "name" rule { purpose: "p" pseudonymise { length: 8 } } } }
device_class { id: "fallback" topic: "ot/{user}/{device}" device_id: "{user}/{device}"
  field { path: "x" rule { purpose: "p" keep {} } } }
device_class { id: "num" topic: "n/{device}" when { path: "meta.v" equals: "2" }
  field { path: "meta.v" rule { purpose: "p" keep {} } } }
device_class { id: "flag" topic: "f/{device}" when { path: "on" equals: "true" }
  field { path: "on" rule { purpose: "p" keep {} } } }
device_class { id: "kitchen" topic: "home/kitchen/{device}" field { path: "x" rule { purpose: "p" keep {} } } }
device_class { id: "room" topic: "home/{room}/{device}" device_id: "{room}-{device}"
  field { path: "x" rule { purpose: "p" keep {} } } }
device_class { id: "rest" topic: "home/#" device_id: "home" field { path: "x" rule { purpose: "p" keep {} } } }
device_class { id: "status" topic: "{device}/status" field { path: "x" rule { purpose: "p" keep {} } } }
)";

void check_route(engine& e, const char* topic, const std::string& payload,
                 const char* expected_class, const char* expected, const char* file, int line) {
  const decision& d = e.eval(topic, payload);
  const std::string what = std::string(topic) + " " + payload;
  STRCMP_EQUAL_LOCATION(expected_class, d.device_class() ? d.device_class()->id.c_str() : "(none)",
                        what.c_str(), file, line);
  STRCMP_EQUAL_LOCATION(expected, summary(d, *e.policy).c_str(), what.c_str(), file, line);
}

#define ROUTE(topic, payload, expected_class, expected) \
  check_route(e, topic, payload, expected_class, expected, __FILE__, __LINE__)

}  // namespace

TEST_GROUP(evaluator_routing) {
  engine e{kRoutingPolicy};
};

TEST(evaluator_routing, predicates_tell_classes_on_one_topic_apart) {
  ROUTE("ot/anna/phone", R"({"_type":"location","lat":52.37403,"lon":4.88969})", "loc",
        R"(p={"_type":"location","lat":52.3599,"lon":4.8620} |)");
  ROUTE("ot/anna/phone", R"({"lat":1,"lon":2,"_type":"card","name":"Anna"})", "card",
        R"(p={"name":"wyg7324t"} | unlisted_field=3)");
  ROUTE("ot/anna/phone", R"({"_type":"lwt","x":1})", "fallback", R"(p={"x":1} | unlisted_field=1)");
  ROUTE("ot/anna/phone", R"({"x":1})", "fallback", R"(p={"x":1} |)");
  ROUTE("ot/anna/phone", R"({"a":{"_type":"location"},"x":1})", "fallback",
        R"(p={"x":1} | unlisted_field=1)");
  ROUTE("ot/anna/phone", R"({"_type":["location"],"x":1})", "fallback",
        R"(p={"x":1} | unlisted_field=1)");
  ROUTE("ot/anna/phone", R"({"_type":"Location","x":1})", "fallback",
        R"(p={"x":1} | unlisted_field=1)");
  ROUTE("ot/anna/phone", "[1]", "fallback", "| nothing_permitted=1 type_mismatch=1");
}

TEST(evaluator_routing, predicates_on_numbers_booleans_and_nested_members) {
  ROUTE("n/d", R"({"meta":{"v":2}})", "num", R"(p={"meta":{"v":2}} |)");
  ROUTE("n/d", R"({"meta":{"w":{"v":3},"v":"2"}})", "num",
        R"(p={"meta":{"v":"2"}} | unlisted_field=1)");
  ROUTE("n/d", R"({"meta":{"v":2.0}})", "(none)", "| unmatched_topic=1");
  ROUTE("n/d", R"({"v":2})", "(none)", "| unmatched_topic=1");
  ROUTE("n/d", R"({"other":{"meta":{"v":2}}})", "(none)", "| unmatched_topic=1");
  ROUTE("f/d", R"({"on":true})", "flag", R"(p={"on":true} |)");
  ROUTE("f/d", R"({"on":"true"})", "flag", R"(p={"on":"true"} |)");
  ROUTE("f/d", R"({"on":false})", "(none)", "| unmatched_topic=1");
}

TEST(evaluator_routing, a_payload_that_cannot_be_tested_is_dropped) {
  ROUTE("ot/anna/phone", R"({"x":1)", "(none)", "| invalid_json=1");
  ROUTE("ot/anna/phone", "{\"x\":\"\xff\"}", "(none)", "| invalid_utf8=1");
  ROUTE("n/d", R"({"a":)" + std::string(16, '[') + std::string(16, ']') + "}", "(none)",
        "| too_deep=1");
  // Decided by the predicate, then dropped by the rewrite.
  ROUTE("ot/anna/phone", R"({"_type":"location","lat":1)", "loc", "| invalid_json=1");
  ROUTE("ot/anna/phone", R"({"_type":"location","_type":"card"})", "loc", "| duplicate_key=1");
  ROUTE("ot/anna/phone",
        R"({"_type":"card","zz":)" + std::string(16, '[') + std::string(16, ']') + "}", "card",
        "| too_deep=1");
}

TEST(evaluator_routing, a_predicate_path_given_twice_drops_the_message) {
  // Which copy decides the class would be ambiguous, whether or not the class that takes the
  // message lists the member ("card" and "fallback" do not list "_type", "loc" does).
  ROUTE("ot/anna/phone", R"({"_type":"card","_type":"location","name":"Anna"})", "card",
        "| duplicate_key=1");
  ROUTE("ot/anna/phone", R"({"_type":"location","_type":"card","name":"Anna"})", "loc",
        "| duplicate_key=1");
  ROUTE("ot/anna/phone", R"({"_type":"card","name":"Anna","_type":"card"})", "card",
        "| duplicate_key=1");
  ROUTE("ot/anna/phone", R"({"_type":"lwt","x":1,"_type":"card","name":"Anna"})", "fallback",
        "| duplicate_key=1");
  ROUTE("ot/anna/phone", R"({"_type":"card","\u005ftype":"location","name":"Anna"})", "card",
        "| duplicate_key=1");
  ROUTE("ot/anna/phone", R"({"_type":"card","_type":{"x":1},"name":"Anna"})", "card",
        "| duplicate_key=1");
  // A member on the way to a nested predicate path, given twice.
  ROUTE("n/d", R"({"meta":{"v":2},"meta":{"v":3}})", "num", "| duplicate_key=1");
  ROUTE("n/d", R"({"meta":{"v":2},"meta":{}})", "num", "| duplicate_key=1");
  ROUTE("n/d", R"({"meta":{"v":2,"v":2}})", "num", "| duplicate_key=1");
  ROUTE("n/d", R"({"meta":{"w":1},"meta":{"v":2}})", "num", "| duplicate_key=1");
  // Duplicates elsewhere do not decide the class; unlisted ones are dropped as before.
  ROUTE("ot/anna/phone", R"({"_type":"card","zz":1,"zz":2,"name":"Anna"})", "card",
        R"(p={"name":"wyg7324t"} | unlisted_field=3)");
  ROUTE("ot/anna/phone", R"({"a":{"_type":"x"},"a":{"_type":"y"},"x":1})", "fallback",
        R"(p={"x":1} | unlisted_field=2)");
  ROUTE("n/d", R"({"x":{"meta":1},"x":{"meta":2},"meta":{"v":2}})", "num",
        R"(p={"meta":{"v":2}} | unlisted_field=2)");
  ROUTE("n/d", R"({"meta":{"x":{"v":1},"x":{"v":1},"v":2}})", "num",
        R"(p={"meta":{"v":2}} | unlisted_field=2)");
}

TEST(evaluator_routing, the_most_specific_filter_wins) {
  ROUTE("home/kitchen/plug", R"({"x":1})", "kitchen", R"(p={"x":1} |)");
  ROUTE("home/hall/plug", R"({"x":1})", "room", R"(p={"x":1} |)");
  ROUTE("home/x", R"({"x":1})", "rest", R"(p={"x":1} |)");
  ROUTE("home", R"({"x":1})", "rest", R"(p={"x":1} |)");
  ROUTE("home/a/b/c", R"({"x":1})", "rest", R"(p={"x":1} |)");
  ROUTE("home//plug", R"({"x":1})", "rest", R"(p={"x":1} |)");
  ROUTE("plug/status", R"({"x":1})", "status", R"(p={"x":1} |)");
  ROUTE("$SYS/status", R"({"x":1})", "(none)", "| unmatched_topic=1");
  STRCMP_EQUAL("hall-plug", std::string(e.eval("home/hall/plug", "{}").device_id()).c_str());
}

namespace {

// Zigbee2MQTT-style naming: friendly names with '/', bridge topics, commands, and OwnTracks-style
// predicates falling back to an ignore.
const char* const kNamingPolicy = R"(
purpose { id: "p" title: "P" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "z-device" topic: "z/{device...}"
  field { path: "battery" rule { purpose: "p" keep {} } } }
device_class { id: "z-availability" topic: "z/{device...}/availability"
  field { path: "state" rule { purpose: "p" keep {} } } }
device_class { id: "z-bridge" topic: "z/bridge/state" device_id: "bridge"
  field { path: "state" rule { purpose: "p" keep {} } } }
device_class { id: "o-location" topic: "o/{user}/{device}" device_id: "{user}/{device}"
  when { path: "_type" equals: "location" }
  field { path: "batt" rule { purpose: "p" keep {} } } }
ignore { topic: ["z/{device...}/set", "z/{device...}/get", "z/bridge/#"] why: "commands and bridge internals" }
ignore { topic: "o/{user}/{device}" why: "other OwnTracks messages" }
)";

}  // namespace

TEST_GROUP(evaluator_naming) {
  engine e{kNamingPolicy};
};

TEST(evaluator_naming, a_friendly_name_with_slashes_is_one_device_and_never_reaches_a_topic) {
  const decision& d = e.eval("z/bedroom/climate sensor", R"({"battery":97})");
  STRCMP_EQUAL("z-device", d.device_class()->id.c_str());
  STRCMP_EQUAL("bedroom/climate sensor", std::string(d.device_id()).c_str());
  STRCMP_EQUAL(
      ("portier/gw-test/p/z-device/" + e.ev.device_pseudonym(0, "bedroom/climate sensor") + "\n")
          .c_str(),
      topics(d).c_str());
  const decision& a = e.eval("z/bedroom/climate sensor/availability", R"({"state":"online"})");
  STRCMP_EQUAL("z-availability", a.device_class()->id.c_str());
  STRCMP_EQUAL("bedroom/climate sensor", std::string(a.device_id()).c_str());
}

TEST(evaluator_naming, bridge_topics_and_commands_are_never_taken_for_devices) {
  STRCMP_EQUAL("p={\"state\":\"online\"} |",
               e.run("z/bridge/state", R"({"state":"online"})").c_str());
  STRCMP_EQUAL("z-bridge",
               e.eval("z/bridge/state", R"({"state":"online"})").device_class()->id.c_str());
  STRCMP_EQUAL("| ignored_topic=1",
               e.run("z/bridge/devices", R"([{"ieee_address":"0x00158d0001a2b3c4"}])").c_str());
  STRCMP_EQUAL("| ignored_topic=1", e.run("z/kitchen/lamp/set", R"({"battery":1})").c_str());
  STRCMP_EQUAL("| ignored_topic=1", e.run("z/x/get", R"({"battery":""})").c_str());
  STRCMP_EQUAL("| unmatched_topic=1", e.run("z", R"({"battery":1})").c_str());
}

TEST(evaluator_naming, a_predicate_that_does_not_hold_falls_back_to_an_ignore) {
  STRCMP_EQUAL("p={\"batt\":80} | unlisted_field=1",
               e.run("o/anna/phone", R"({"_type":"location","batt":80})").c_str());
  STRCMP_EQUAL("| ignored_topic=1",
               e.run("o/anna/phone", R"({"_type":"card","name":"Anna"})").c_str());
  // Ignored or not, a predicate's member twice is ambiguous.
  STRCMP_EQUAL("| duplicate_key=1",
               e.run("o/anna/phone", R"({"_type":"card","_type":"location"})").c_str());
}

// ---- windowed purposes: samples instead of payloads -------------------------------------------

namespace {

const char* const kWindowPolicy = R"(
purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "analytics" title: "A" legal_basis: CONTRACT retention_seconds: 3600 }
device_class {
  id: "meter"
  topic: "m/{device}"
  field { path: "on" rule { purpose: "service" keep {} } }
  field { path: "power" rule { purpose: "analytics" aggregate { function: MEAN window_seconds: 900 } } }
  field { path: "energy.total" rule { purpose: "analytics" aggregate { function: DELTA window_seconds: 900 } } }
  field { path: "time" rule { purpose: "analytics" drop {} } }
}
device_class {
  id: "raw-power"
  topic: "r/{device}/power"
  format: RAW
  field { path: "$" rule { purpose: "analytics" aggregate { function: MAX window_seconds: 3600 } } }
}
)";

}  // namespace

TEST_GROUP(evaluator_windows) {
  engine e{kWindowPolicy};
};

TEST(evaluator_windows, a_windowed_purpose_gets_the_numbers_and_nothing_per_message) {
  STRCMP_EQUAL(
      "service={\"on\":true} analytics=window{power:412.5,energy.total:1234.25} | policy_drop=5",
      e.run("m/p1", R"({"on":true,"power":412.5,"energy":{"total":1234.25},"time":"10:00"})")
          .c_str());
  const decision& d = e.eval("m/p1", R"({"power":1})");
  CHECK_EQUAL(1u, d.releases().size());
  CHECK_TRUE(d.releases()[0].windowed);
  CHECK_TRUE(d.releases()[0].payload.empty());
  STRCMP_EQUAL(("portier/gw-test/analytics/meter/" + e.ev.device_pseudonym(1, "p1")).c_str(),
               d.releases()[0].topic.c_str());
}

TEST(evaluator_windows, a_value_that_is_not_a_number_is_a_type_mismatch) {
  STRCMP_EQUAL("analytics=window{power:3} | nothing_permitted=1 policy_drop=2 type_mismatch=1",
               e.run("m/p1", R"({"power":3,"energy":{"total":"12 kWh"}})").c_str());
  STRCMP_EQUAL("| nothing_permitted=2 policy_drop=1 type_mismatch=1",
               e.run("m/p1", R"({"power":"high"})").c_str());
  STRCMP_EQUAL("| nothing_permitted=2 policy_drop=1 type_mismatch=1",
               e.run("m/p1", R"({"power":null})").c_str());
}

TEST(evaluator_windows, a_bare_number_is_a_sample_and_text_is_not) {
  STRCMP_EQUAL("analytics=window{$:1437} |", e.run("r/plug/power", "1437").c_str());
  STRCMP_EQUAL("| nothing_permitted=1 type_mismatch=1", e.run("r/plug/power", "ON").c_str());
}

TEST(evaluator_windows, a_field_given_twice_is_ambiguous) {
  STRCMP_EQUAL("| duplicate_key=1", e.run("m/p1", R"({"power":3,"power":4000})").c_str());
}

TEST(evaluator_windows, refused_consent_gives_no_samples) {
  e.consent.set_household("analytics", consent_decision::refused);
  STRCMP_EQUAL("| consent_refused=1 nothing_permitted=1 policy_drop=1",
               e.run("m/p1", R"({"power":3})").c_str());
}
